/**
 * Unit tests for lib/framing.ts: a fake source hands out the bytes in chosen chunk sizes
 * (one byte at a time, random splits, everything coalesced) so every message boundary is
 * exercised against every read boundary.
 */
import assert from "node:assert/strict";
import {
  BufferedReader,
  type ByteSink,
  type ByteSource,
  CRLFCRLF,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LINE_BYTES,
  encodeFrame,
  FRAME_PREFIX_BYTES,
  FrameTooLargeError,
  FramingError,
  LineTooLongError,
  MAX_RETAINED_BUFFER_BYTES,
  stripLineEnding,
  UnexpectedEofError,
  writeAll,
} from "../lib/framing.ts";
import { concatBytes, mulberry32 } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Serves `data` in chunks whose sizes come from `nextSize` (capped by the caller's buffer). */
class FakeSource implements ByteSource {
  #data: Uint8Array;
  #off = 0;
  #nextSize: () => number;
  reads = 0;
  constructor(data: Uint8Array | string, nextSize: () => number = () => Infinity) {
    this.#data = typeof data === "string" ? enc.encode(data) : data;
    this.#nextSize = nextSize;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    if (this.#off >= this.#data.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.#nextSize(), this.#data.length - this.#off);
    p.set(this.#data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
}

/** The chunkings every framing test runs under. */
function chunkings(): [string, () => () => number][] {
  return [
    ["1 byte at a time", () => () => 1],
    ["2 bytes at a time", () => () => 2],
    ["3 bytes at a time", () => () => 3],
    ["random splits", () => {
      const r = mulberry32(42);
      return () => 1 + Math.floor(r() * 7);
    }],
    ["coalesced", () => () => Infinity],
  ];
}

async function readAllLines(reader: BufferedReader, maxBytes?: number): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const line = await reader.readLine({ maxBytes });
    if (line === null) return out;
    out.push(dec.decode(line));
  }
}

for (const [name, make] of chunkings()) {
  Deno.test(`readLine: lines split and coalesced across reads (${name})`, async () => {
    const text = "alpha\nbeta\r\n\n\r\ngamma delta\n";
    const reader = new BufferedReader(new FakeSource(text, make()), { initialBufferBytes: 4 });
    assert.deepEqual(await readAllLines(reader), [
      "alpha\n",
      "beta\r\n",
      "\n",
      "\r\n",
      "gamma delta\n",
    ]);
    assert.equal(reader.bytesRead, enc.encode(text).length);
  });

  Deno.test(`readUntil CRLFCRLF split across reads (${name})`, async () => {
    const head = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const reader = new BufferedReader(new FakeSource(head + "BODY\r\n\r\n", make()), {
      initialBufferBytes: 4,
    });
    assert.equal(dec.decode((await reader.readUntil(CRLFCRLF))!), head);
    // What follows the delimiter stays buffered for the next call.
    assert.equal(dec.decode((await reader.readUntil(CRLFCRLF))!), "BODY\r\n\r\n");
    assert.equal(await reader.readUntil(CRLFCRLF), null);
  });

  Deno.test(`readFrame: prefix split across reads, 0-length frame (${name})`, async () => {
    const payloads = ["hello", "", "x".repeat(1000), "\x00\n\r"].map((s) => enc.encode(s));
    const wire = concatBytes(payloads.map(encodeFrame));
    const reader = new BufferedReader(new FakeSource(wire, make()), { initialBufferBytes: 4 });
    for (const p of payloads) assert.deepEqual(await reader.readFrame(), p);
    assert.equal(await reader.readFrame(), null);
  });

  Deno.test(`readExact across reads (${name})`, async () => {
    const reader = new BufferedReader(new FakeSource("0123456789abcdef", make()), {
      initialBufferBytes: 4,
    });
    assert.equal(dec.decode(await reader.readExact(0)), "");
    assert.equal(dec.decode(await reader.readExact(3)), "012");
    assert.equal(dec.decode(await reader.readExact(10)), "3456789abc");
    await assert.rejects(reader.readExact(5), (err: unknown) => {
      assert.ok(err instanceof UnexpectedEofError);
      assert.equal(err.code, "UNEXPECTED_EOF");
      assert.equal(err.received, 3);
      return true;
    });
  });
}

Deno.test("readLine: CR at the end of one read, LF at the start of the next", async () => {
  const sizes = [4, 1, 3];
  const source = new FakeSource("abc\r\nde\n", () => sizes.shift() ?? Infinity);
  const reader = new BufferedReader(source);
  assert.equal(dec.decode((await reader.readLine())!), "abc\r\n");
  assert.equal(dec.decode((await reader.readLine())!), "de\n");
});

Deno.test("readLine: a line of exactly maxBytes passes, one byte more is LineTooLongError", async () => {
  const max = 16;
  const exact = "a".repeat(max - 1) + "\n";
  const ok = new BufferedReader(new FakeSource(exact, () => 1), { initialBufferBytes: 4 });
  assert.equal(dec.decode((await ok.readLine({ maxBytes: max }))!), exact);

  const over = "a".repeat(max) + "\n";
  for (const [, make] of chunkings()) {
    const reader = new BufferedReader(new FakeSource(over, make()), { initialBufferBytes: 4 });
    await assert.rejects(reader.readLine({ maxBytes: max }), (err: unknown) => {
      assert.ok(err instanceof LineTooLongError);
      assert.ok(err instanceof FramingError);
      assert.equal(err.code, "LINE_TOO_LONG");
      assert.equal(err.limit, max);
      return true;
    });
  }
});

Deno.test("readLine: over the limit without reading the whole line (memory bounded)", async () => {
  // 10 MiB without a newline: the reader must give up after maxBytes, not buffer it all.
  const source = new FakeSource(new Uint8Array(10 * 1024 * 1024).fill(0x61), () => 1024);
  const reader = new BufferedReader(source, { initialBufferBytes: 1024 });
  await assert.rejects(reader.readLine({ maxBytes: 4096 }), LineTooLongError);
  assert.ok(reader.bytesRead <= 8192, `read ${reader.bytesRead} bytes`);
});

Deno.test("readLine: default limit is DEFAULT_MAX_LINE_BYTES", async () => {
  const fits = "b".repeat(DEFAULT_MAX_LINE_BYTES - 1) + "\n";
  const reader = new BufferedReader(new FakeSource(fits + "c".repeat(DEFAULT_MAX_LINE_BYTES + 1)));
  assert.equal((await reader.readLine())!.length, DEFAULT_MAX_LINE_BYTES);
  await assert.rejects(reader.readLine(), LineTooLongError);
});

Deno.test("readUntil: limit counts the delimiter; exactly at the boundary passes", async () => {
  const head = "abcdef\r\n\r\n"; // 10 bytes
  const ok = new BufferedReader(new FakeSource(head, () => 1));
  assert.equal(dec.decode((await ok.readUntil(CRLFCRLF, { maxBytes: 10 }))!), head);
  const tooLong = new BufferedReader(new FakeSource(head, () => 1));
  await assert.rejects(tooLong.readUntil(CRLFCRLF, { maxBytes: 9 }), LineTooLongError);
});

Deno.test("readUntil: partial delimiter matches do not confuse the search", async () => {
  const text = "a\r\nb\r\r\n\r\n";
  for (const [, make] of chunkings()) {
    const reader = new BufferedReader(new FakeSource(text, make()), { initialBufferBytes: 4 });
    assert.equal(dec.decode((await reader.readUntil(CRLFCRLF))!), text);
  }
});

Deno.test("EOF: clean EOF is null; mid-line, mid-prefix, mid-frame are UnexpectedEofError", async () => {
  assert.equal(await new BufferedReader(new FakeSource("")).readLine(), null);
  assert.equal(await new BufferedReader(new FakeSource("")).readFrame(), null);
  assert.equal(await new BufferedReader(new FakeSource("")).readUntil(CRLFCRLF), null);
  assert.equal(await new BufferedReader(new FakeSource("")).readChunk(), null);

  const cases: [string, (r: BufferedReader) => Promise<unknown>, Uint8Array, number][] = [
    ["mid-line", (r) => r.readLine(), enc.encode("no newline"), 10],
    ["mid-head", (r) => r.readUntil(CRLFCRLF), enc.encode("GET / HTTP/1.1\r\n"), 16],
    ["mid-prefix", (r) => r.readFrame(), new Uint8Array([0, 0]), 2],
    [
      "mid-frame",
      (r) => r.readFrame(),
      concatBytes([new Uint8Array([0, 0, 0, 9]), enc.encode("abc")]),
      3,
    ],
  ];
  for (const [label, read, data, received] of cases) {
    for (const [, make] of chunkings()) {
      const reader = new BufferedReader(new FakeSource(data, make()));
      await assert.rejects(read(reader), (err: unknown) => {
        assert.ok(err instanceof UnexpectedEofError, label);
        assert.equal(err.code, "UNEXPECTED_EOF");
        assert.equal(err.received, received, label);
        return true;
      });
    }
  }
});

Deno.test("EOF: reads after EOF keep answering null", async () => {
  const reader = new BufferedReader(new FakeSource("x\n"));
  assert.equal(dec.decode((await reader.readLine())!), "x\n");
  assert.equal(await reader.readLine(), null);
  assert.equal(await reader.readLine(), null);
  assert.ok(reader.eof);
});

Deno.test("readFrame: FrameTooLargeError from the prefix alone, before reading the payload", async () => {
  const prefix = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
  const reader = new BufferedReader(new FakeSource(prefix));
  await assert.rejects(reader.readFrame({ maxBytes: 1024 }), (err: unknown) => {
    assert.ok(err instanceof FrameTooLargeError);
    assert.equal(err.code, "FRAME_TOO_LARGE");
    assert.equal(err.size, 0xffff_ffff);
    assert.equal(err.limit, 1024);
    return true;
  });
  // Exactly at the limit passes; one more fails.
  const atLimit = encodeFrame(new Uint8Array(1024));
  assert.equal(
    (await new BufferedReader(new FakeSource(atLimit)).readFrame({ maxBytes: 1024 }))!
      .length,
    1024,
  );
  const over = encodeFrame(new Uint8Array(1025));
  await assert.rejects(
    new BufferedReader(new FakeSource(over)).readFrame({ maxBytes: 1024 }),
    FrameTooLargeError,
  );
  // The default limit.
  const big = new Uint8Array(FRAME_PREFIX_BYTES);
  new DataView(big.buffer).setUint32(0, DEFAULT_MAX_FRAME_BYTES + 1);
  await assert.rejects(new BufferedReader(new FakeSource(big)).readFrame(), FrameTooLargeError);
});

Deno.test("readChunk / takeBuffered / peekBuffered stream what arrives", async () => {
  const sizes = [5, 3, 100];
  const reader = new BufferedReader(
    new FakeSource("line\nrest-of-stream", () => sizes.shift() ?? Infinity),
  );
  assert.equal(dec.decode((await reader.readLine())!), "line\n");
  assert.equal(reader.buffered, 0);
  assert.equal(dec.decode((await reader.readChunk())!), "res");
  assert.equal(dec.decode((await reader.readChunk(4))!), "t-of");
  assert.equal(reader.buffered, 7);
  assert.equal(dec.decode(reader.peekBuffered()), "-stream");
  assert.equal(dec.decode(reader.takeBuffered()), "-stream");
  assert.equal(reader.takeBuffered().length, 0);
  assert.equal(await reader.readChunk(), null);
});

Deno.test("readChunk hands back whole reads without copying per byte", async () => {
  const data = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const source = new FakeSource(data);
  const reader = new BufferedReader(source, { initialBufferBytes: 64 * 1024 });
  let total = 0;
  for (;;) {
    const chunk = await reader.readChunk();
    if (chunk === null) break;
    assert.deepEqual(chunk, data.subarray(total, total + chunk.length));
    total += chunk.length;
  }
  assert.equal(total, data.length);
  // One read per 64 KiB buffer plus the EOF read.
  assert.equal(source.reads, data.length / (64 * 1024) + 1);
});

Deno.test("discard skips exactly n bytes; EOF inside is UnexpectedEofError", async () => {
  const reader = new BufferedReader(new FakeSource("0123456789tail\n", () => 3), {
    initialBufferBytes: 4,
  });
  await reader.discard(10);
  assert.equal(dec.decode((await reader.readLine())!), "tail\n");
  const short = new BufferedReader(new FakeSource("abc"));
  await assert.rejects(short.discard(5, "a body"), (err: unknown) => {
    assert.ok(err instanceof UnexpectedEofError);
    assert.equal(err.what, "a body");
    assert.equal(err.received, 3);
    return true;
  });
});

Deno.test("random messages under random splits round-trip (lines and frames)", async () => {
  const r = mulberry32(7);
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    lines.push("x".repeat(Math.floor(r() * 300)) + (r() < 0.5 ? "\r\n" : "\n"));
  }
  const reader = new BufferedReader(
    new FakeSource(lines.join(""), () => 1 + Math.floor(r() * 500)),
    { initialBufferBytes: 16 },
  );
  assert.deepEqual(await readAllLines(reader, 400), lines);

  const frames = Array.from(
    { length: 200 },
    () => new Uint8Array(Math.floor(r() * 2000)).map(() => r() * 256),
  );
  const frameReader = new BufferedReader(
    new FakeSource(concatBytes(frames.map(encodeFrame)), () => 1 + Math.floor(r() * 700)),
    { initialBufferBytes: 16 },
  );
  for (const f of frames) assert.deepEqual(await frameReader.readFrame(), f);
  assert.equal(await frameReader.readFrame(), null);
});

Deno.test("a big message does not pin a big buffer: the reader shrinks back after it", async () => {
  // Each read returns at most one segment; `freeSpace` records the room the reader offered.
  const segments = [encodeFrame(new Uint8Array(4 * 1024 * 1024)), enc.encode("small\n")];
  let offset = 0;
  const freeSpace: number[] = [];
  const source: ByteSource = {
    read(p) {
      freeSpace.push(p.length);
      const seg = segments[0];
      if (!seg) return Promise.resolve(null);
      const n = Math.min(p.length, seg.length - offset);
      p.set(seg.subarray(offset, offset + n));
      offset += n;
      if (offset === seg.length) {
        segments.shift();
        offset = 0;
      }
      return Promise.resolve(n);
    },
  };
  const reader = new BufferedReader(source, { initialBufferBytes: 1024 });
  assert.equal((await reader.readFrame())!.length, 4 * 1024 * 1024);
  assert.ok(Math.max(...freeSpace) >= 4 * 1024 * 1024 - 1024, "grew for the big frame");
  freeSpace.length = 0;
  assert.equal(dec.decode((await reader.readLine())!), "small\n");
  assert.ok(
    freeSpace[0] <= MAX_RETAINED_BUFFER_BYTES,
    `after the big frame the reader still offered ${freeSpace[0]} bytes`,
  );
});

Deno.test("shrink drops a grown buffer only when nothing is buffered", async () => {
  // Each read returns at most one segment; `offered` records the room the reader offered.
  const segments = [enc.encode("x".repeat(10_000) + "\n"), enc.encode("abc\n"), enc.encode("tail")];
  const offered: number[] = [];
  const source: ByteSource = {
    read(p) {
      offered.push(p.length);
      const seg = segments.shift();
      if (!seg) return Promise.resolve(null);
      const n = Math.min(p.length, seg.length);
      p.set(seg.subarray(0, n));
      if (n < seg.length) segments.unshift(seg.subarray(n));
      return Promise.resolve(n);
    },
  };
  const reader = new BufferedReader(source, { initialBufferBytes: 64 });
  assert.equal((await reader.readLine())!.length, 10_001);
  assert.ok(Math.max(...offered) > 64);
  reader.shrink(); // nothing buffered: the grown buffer goes
  offered.length = 0;
  assert.equal(dec.decode((await reader.readLine())!), "abc\n");
  assert.equal(offered[0], 64, "a fresh initial-size buffer after shrink");
  assert.equal(dec.decode(await reader.readExact(1)), "t");
  reader.shrink(); // bytes still buffered: they must survive
  assert.equal(dec.decode(reader.takeBuffered()), "ail");
});

Deno.test("stripLineEnding removes LF or CRLF only", () => {
  assert.equal(dec.decode(stripLineEnding(enc.encode("a\r\n"))), "a");
  assert.equal(dec.decode(stripLineEnding(enc.encode("a\n"))), "a");
  assert.equal(dec.decode(stripLineEnding(enc.encode("a\r"))), "a");
  assert.equal(dec.decode(stripLineEnding(enc.encode("a"))), "a");
  assert.equal(dec.decode(stripLineEnding(enc.encode("\n"))), "");
});

Deno.test("writeAll loops over partial writes", async () => {
  for (const perWrite of [1, 3, 1000]) {
    const received: number[] = [];
    let calls = 0;
    const sink: ByteSink = {
      write(p) {
        calls++;
        const n = Math.min(perWrite, p.length);
        received.push(...p.subarray(0, n));
        return Promise.resolve(n);
      },
    };
    const data = new Uint8Array(2500).map((_, i) => i);
    await writeAll(sink, data);
    assert.deepEqual(new Uint8Array(received), data);
    assert.equal(calls, Math.ceil(2500 / perWrite));
  }
  let called = false;
  await writeAll({
    write() {
      called = true;
      return Promise.resolve(0);
    },
  }, new Uint8Array(0));
  assert.equal(called, false, "nothing to write: no write call");
});

Deno.test("encodeFrame: 4-byte big-endian length, then the payload", () => {
  assert.deepEqual(encodeFrame(new Uint8Array(0)), new Uint8Array([0, 0, 0, 0]));
  assert.deepEqual(encodeFrame(enc.encode("hi")), new Uint8Array([0, 0, 0, 2, 0x68, 0x69]));
  const frame = encodeFrame(new Uint8Array(0x010203));
  assert.deepEqual(frame.subarray(0, 4), new Uint8Array([0, 1, 2, 3]));
  assert.equal(frame.length, 4 + 0x010203);
});

Deno.test("reserve makes the next reads big and keeps what is buffered; shrink undoes it", async () => {
  const offered: number[] = [];
  const segments = [enc.encode("head\n"), new Uint8Array(100_000).fill(7)];
  const source: ByteSource = {
    read(p) {
      offered.push(p.length);
      const seg = segments.shift();
      if (!seg) return Promise.resolve(null);
      const n = Math.min(p.length, seg.length);
      p.set(seg.subarray(0, n));
      if (n < seg.length) segments.unshift(seg.subarray(n));
      return Promise.resolve(n);
    },
  };
  const reader = new BufferedReader(source, { initialBufferBytes: 64 });
  assert.equal(await reader.fill(), true);
  assert.equal(offered[0], 64);
  assert.equal(dec.decode(await reader.readExact(2)), "he");
  reader.reserve(64 * 1024); // a body is coming
  assert.equal(dec.decode((await reader.readLine())!), "ad\n", "buffered bytes survive the move");
  const chunk = await reader.readChunk();
  assert.ok(offered[1] >= 64 * 1024 - 8, `second read offered ${offered[1]} bytes`);
  assert.equal(chunk!.length, offered[1]);
  await reader.discard(100_000 - chunk!.length);
  reader.shrink();
  offered.length = 0;
  assert.equal(await reader.fill(), false);
  assert.equal(offered[0], 64, "idle again: back to the initial size");
});

Deno.test("readFrame: a prefix is refused from its first byte when no size it can still announce fits", async () => {
  // 'G' of "GET / HTTP/1.1" sent to a length-framed port: 0x47xxxxxx > 16 MiB, whatever follows.
  const junk = new TextEncoder().encode("GET / HTTP/1.1\r\n");
  const reader = new BufferedReader(new FakeSource(junk, () => 1));
  await assert.rejects(reader.readFrame({ maxBytes: 16 * 1024 * 1024 }), (err: unknown) => {
    assert.ok(err instanceof FrameTooLargeError);
    assert.equal(err.size, 0x4700_0000, "the smallest size the prefix can still announce");
    return true;
  });
  assert.equal(reader.bytesRead, 1, "refused after one byte, not after four");
  // At the limit: 0x01 ff ff ff = 32 MiB - 1 is still possible after one 0x01 byte when the
  // limit is 32 MiB - 1, so the reader waits for the whole prefix and then the payload.
  const limit = 0x01ff_ffff;
  const ok = new BufferedReader(new FakeSource(new Uint8Array([0x01, 0xff, 0xff, 0xff]), () => 1));
  await assert.rejects(ok.readFrame({ maxBytes: limit }), UnexpectedEofError);
  assert.equal(ok.bytesRead, 4);
  // One past it: a first byte of 0x02 can only announce 32 MiB or more.
  const past = new BufferedReader(new FakeSource(new Uint8Array([0x02, 0, 0, 0]), () => 1));
  await assert.rejects(past.readFrame({ maxBytes: limit }), FrameTooLargeError);
  assert.equal(past.bytesRead, 1);
});
