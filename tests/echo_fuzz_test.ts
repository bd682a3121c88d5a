/**
 * Fuzzing the echo server's line and length modes: thousands of generated messages — random
 * bytes, NULs, CR/LF soup, missing terminators, over-limit lines, huge and truncated length
 * prefixes, byte-level mutations — over many connections, some of them dropped abruptly.
 *
 * A reference parser predicts the exact echo of every stream. A stream that stays within the
 * limits must come back byte for byte; one that breaks them must come back as a prefix of the
 * prediction (the server closes there, and the kernel may reset the rest). Afterwards the
 * server must still be running and serve a normal client. Seeds are fixed (reproducible) unless
 * ECHO_FUZZ_SEED is set.
 */
import assert from "node:assert/strict";
import { encodeFrame, writeAll } from "../lib/framing.ts";
import { concatBytes, mulberry32, type Rand, readAll, runCli, startServer } from "./helpers.ts";
import { expectedEcho } from "./fuzz_lib.ts";

const HOST = "127.0.0.1";
const LINE_LIMIT = 4096;
const FRAME_LIMIT = 64 * 1024;
const CONNECTIONS = 120;
const CONCURRENCY = 24;
const SEED = Number(Deno.env.get("ECHO_FUZZ_SEED") ?? 20261125);

const int = (r: Rand, n: number) => Math.floor(r() * n);
const bytes = (r: Rand, n: number) => new Uint8Array(n).map(() => int(r, 256));
const printable = (r: Rand, n: number) => new Uint8Array(n).map(() => 0x20 + int(r, 95));

// The one reference parser (also used by `deno task fuzz`); `broke` = a limit was hit.
const expectedLineEcho = (input: Uint8Array, max: number) => expectedEcho("line", input, max);
const expectedFrameEcho = (input: Uint8Array, max: number) => expectedEcho("length", input, max);

function lineMessage(r: Rand): Uint8Array {
  const end = r() < 0.3 ? [0x0d, 0x0a] : [0x0a];
  switch (int(r, 7)) {
    case 0:
      return concatBytes([printable(r, int(r, 80)), new Uint8Array(end)]);
    case 1: // random bytes, NULs and stray LFs included
      return concatBytes([bytes(r, int(r, 200)), new Uint8Array([0x0a])]);
    case 2:
      return new Uint8Array(end);
    case 3:
      return new Uint8Array([0x0d, 0x0d, 0x00, 0x0d, 0x0a]);
    case 4: // just under / at the limit
      return concatBytes([printable(r, LINE_LIMIT - 1 - int(r, 3)), new Uint8Array([0x0a])]);
    case 5:
      return concatBytes([new Uint8Array(int(r, 50)), new Uint8Array([0x0a])]);
    default:
      return concatBytes([
        printable(r, int(r, 10)),
        new Uint8Array([0x09, 0x1b, 0x7f, 0xff, 0x0a]),
      ]);
  }
}

function lineTail(r: Rand): Uint8Array {
  switch (int(r, 5)) {
    case 0: // over the limit, no LF in sight
      return printable(r, LINE_LIMIT + 1 + int(r, 10_000));
    case 1: // missing terminator
      return printable(r, 1 + int(r, 100));
    case 2: // over the limit, then a LF
      return concatBytes([printable(r, LINE_LIMIT + int(r, 10)), new Uint8Array([0x0a])]);
    case 3:
      return bytes(r, int(r, 3000));
    default:
      return new Uint8Array(0);
  }
}

function frameMessage(r: Rand): Uint8Array {
  switch (int(r, 5)) {
    case 0:
      return encodeFrame(new Uint8Array(0));
    case 1:
      return encodeFrame(bytes(r, int(r, 2000)));
    case 2:
      return encodeFrame(new Uint8Array(int(r, 100))); // NULs
    case 3:
      return encodeFrame(bytes(r, FRAME_LIMIT - int(r, 2))); // at the limit
    default:
      return encodeFrame(printable(r, int(r, 40)));
  }
}

function frameTail(r: Rand): Uint8Array {
  const prefix = (n: number) => {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, n);
    return p;
  };
  switch (int(r, 6)) {
    case 0:
      return prefix(0xffff_ffff);
    case 1:
      return concatBytes([prefix(FRAME_LIMIT + 1 + int(r, 1000)), bytes(r, int(r, 100))]);
    case 2: // truncated payload
      return concatBytes([prefix(500), bytes(r, int(r, 500))]);
    case 3: // truncated prefix
      return bytes(r, 1 + int(r, 3));
    case 4:
      return bytes(r, int(r, 5000));
    default:
      return new Uint8Array(0);
  }
}

/** Flips, inserts or deletes a few random bytes. */
function mutate(r: Rand, input: Uint8Array): Uint8Array {
  const out = [...input];
  for (let k = 1 + int(r, 4); k > 0 && out.length > 0; k--) {
    const at = int(r, out.length);
    const op = int(r, 3);
    if (op === 0) out[at] ^= 1 << int(r, 8);
    else if (op === 1) out.splice(at, 0, int(r, 256));
    else out.splice(at, 1);
  }
  return new Uint8Array(out);
}

interface Stream {
  input: Uint8Array;
  messages: number;
  abrupt: boolean;
}

function makeStreams(
  r: Rand,
  message: (r: Rand) => Uint8Array,
  tail: (r: Rand) => Uint8Array,
): Stream[] {
  return Array.from({ length: CONNECTIONS }, () => {
    const count = 10 + int(r, 50);
    const parts = Array.from({ length: count }, () => message(r));
    if (r() < 0.6) parts.push(tail(r));
    let input = concatBytes(parts);
    if (r() < 0.25) input = mutate(r, input);
    return { input, messages: count, abrupt: r() < 0.1 };
  });
}

async function exchange(port: number, stream: Stream): Promise<Uint8Array | null> {
  using conn = await Deno.connect({ hostname: HOST, port });
  if (stream.abrupt) {
    // Write some of it and vanish without reading: the server must just clean up.
    await conn.write(stream.input.subarray(0, stream.input.length >> 1)).catch(() => 0);
    return null;
  }
  const writing = (async () => {
    try {
      await writeAll(conn, stream.input);
      await conn.closeWrite();
    } catch { /* the server closed early: expected after a broken limit */ }
  })();
  const echoed = await readAll(conn, 15_000);
  await writing;
  return echoed;
}

async function fuzz(
  mode: "line" | "length",
  limit: number,
  streams: Stream[],
  expected: (input: Uint8Array, max: number) => { out: Uint8Array; broke: boolean },
): Promise<void> {
  await using server = await startServer([
    "echo-server",
    "--host",
    HOST,
    "--port",
    "0",
    "--quiet",
    "--mode",
    mode,
    "--max-frame",
    String(limit),
  ]);
  let exact = 0;
  for (let i = 0; i < streams.length; i += CONCURRENCY) {
    const batch = streams.slice(i, i + CONCURRENCY);
    const results = await Promise.all(batch.map((s) => exchange(server.port, s)));
    results.forEach((got, k) => {
      if (got === null) return;
      const want = expected(batch[k].input, limit);
      const label = `${mode} stream ${i + k} (seed ${SEED})`;
      if (want.broke) {
        assert.ok(got.length <= want.out.length, `${label}: more bytes than predicted`);
        assert.deepEqual(got, want.out.subarray(0, got.length), `${label}: not a prefix`);
      } else {
        assert.equal(got.length, want.out.length, `${label}: length`);
        assert.deepEqual(got, want.out, label);
        exact++;
      }
    });
  }
  assert.ok(exact > streams.length / 4, `only ${exact} streams stayed within the limits`);
  // Still alive, still serving a normal client.
  const client = await runCli([
    "echo-client",
    String(server.port),
    "--mode",
    mode,
    "still alive",
    "--expect",
    "still alive",
  ]);
  assert.equal(client.code, 0, client.stderr + server.stderr());
  assert.equal(server.stderr(), "", "the server printed errors");
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0, "the server exits cleanly after the fuzzing");
}

Deno.test("reference parsers agree with hand-made cases", () => {
  const enc = new TextEncoder();
  assert.deepEqual(expectedLineEcho(enc.encode("a\nbb\nccc"), 3), {
    out: enc.encode("a\nbb\n"),
    broke: true,
  });
  assert.deepEqual(expectedLineEcho(enc.encode("a\nb"), 3), {
    out: enc.encode("a\n"),
    broke: false,
  });
  assert.deepEqual(expectedLineEcho(enc.encode("abcd\n"), 4).broke, true);
  const f = encodeFrame(enc.encode("hey"));
  assert.deepEqual(expectedFrameEcho(concatBytes([f, f.subarray(0, 5)]), 10), {
    out: f,
    broke: false,
  });
  assert.deepEqual(expectedFrameEcho(concatBytes([f, encodeFrame(new Uint8Array(11))]), 10), {
    out: f,
    broke: true,
  });
});

Deno.test("fuzz: line mode survives thousands of random and malformed lines", async () => {
  const streams = makeStreams(mulberry32(SEED), lineMessage, lineTail);
  const total = streams.reduce((n, s) => n + s.messages, 0);
  assert.ok(total >= 3000, `only ${total} messages`);
  await fuzz("line", LINE_LIMIT, streams, expectedLineEcho);
});

Deno.test("fuzz: length mode survives thousands of random, huge and truncated frames", async () => {
  const streams = makeStreams(mulberry32(SEED + 1), frameMessage, frameTail);
  const total = streams.reduce((n, s) => n + s.messages, 0);
  assert.ok(total >= 3000, `only ${total} messages`);
  await fuzz("length", FRAME_LIMIT, streams, expectedFrameEcho);
});
