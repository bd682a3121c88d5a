/**
 * HTTP/2 connections against the real server (`HttpServer` in this process, 127.0.0.1
 * port 0) with a raw client writing hand-made frames: streams served concurrently, both
 * flow-control windows, protocol errors answered with the right RST_STREAM / GOAWAY code,
 * and every counted defence at its limit and one past it — rapid reset, CONTINUATION
 * flood, HPACK bomb, SETTINGS/PING floods, empty DATA floods, too many streams, window
 * overflow, a zero-window stall — with a second client still served meanwhile.
 *
 * ```sh
 * deno test -A --unstable-net tests/h2_connection_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Handler } from "../lib/http/handler.ts";
import {
  encodeData,
  encodeFrame,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FrameType,
  MAX_WINDOW_SIZE,
} from "../lib/http/h2/frames.ts";
import {
  MAX_CLIENT_RESETS_PER_WINDOW,
  MAX_CONTINUATION_FRAMES,
  MAX_CONTROL_FRAMES_PER_WINDOW,
  MAX_EMPTY_FRAMES_PER_WINDOW,
  MAX_HEADER_BLOCK_BYTES,
  MAX_PENDING_CONTROL_FRAMES,
} from "../lib/http/h2/guard.ts";
import {
  MAX_CONCURRENT_STREAMS,
  SettingId,
  STREAM_RECEIVE_WINDOW,
} from "../lib/http/h2/settings.ts";
import { FrameWriter } from "../lib/http/h2/writer.ts";
import { H2TestClient } from "./h2_client.ts";
import { inProcessServer } from "./helpers.ts";

const echoPath: Handler = (req) => ({
  status: 200,
  headers: [["Content-Type", "text/plain"], ["Connection", "keep-alive"]],
  body: `${req.method} ${req.path} ${req.version}\n`,
});

/** A second client gets a normal answer: the misbehaving one did not cost it service. */
async function otherClientServed(port: number): Promise<void> {
  await using other = await H2TestClient.connect(port);
  await other.request(1, "GET", "/other");
  const res = await other.response(1);
  assert.equal(res.status, 200);
  assert.equal(new TextDecoder().decode(res.body), "GET /other HTTP/2\n");
}

Deno.test("h2 connection: streams are answered concurrently, each with its own response", async () => {
  const gate = Promise.withResolvers<void>();
  await using server = await inProcessServer(async (req) => {
    if (req.path === "/slow") await gate.promise;
    return { status: 200, body: req.path };
  });
  await using client = await H2TestClient.connect(server.port);
  await client.request(1, "GET", "/slow");
  await client.request(3, "GET", "/fast");
  const fast = await client.response(3);
  assert.equal(new TextDecoder().decode(fast.body), "/fast", "stream 3 did not wait for stream 1");
  gate.resolve();
  const slow = await client.response(1);
  assert.equal(new TextDecoder().decode(slow.body), "/slow");
  assert.equal(slow.headers.get("content-length"), "5");
  assert.equal(slow.headers.has("connection"), false, "no connection-specific fields over h2");
  await client.request(5, "HEAD", "/head");
  const head = await client.response(5);
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers.get("content-length"), "5");
  await new Promise((r) => setTimeout(r, 10)); // the access log is written in batches
  assert.ok(
    server.lines.some((l) => l.includes('"GET /fast HTTP/2" 200 5')),
    server.lines.join("\n"),
  );
});

Deno.test("h2 connection: DATA never exceeds the stream window or the connection window", async () => {
  const size = 100_000;
  await using server = await inProcessServer(() => ({ status: 200, body: new Uint8Array(size) }));
  // Stream windows start at 0: nothing may be sent until the client opens them.
  await using client = await H2TestClient.connect(server.port, [[
    SettingId.INITIAL_WINDOW_SIZE,
    0,
  ]]);
  await client.request(1, "GET", "/");
  const headers = await client.until((f) => f.streamId === 1);
  assert.equal(headers?.type, FrameType.HEADERS);
  assert.ok(await client.ping(), "no DATA sent into a zero window (the PING ACK came first)");
  await client.send(encodeWindowUpdate(1, 1000));
  const first = await client.until((f) => f.type === FrameType.DATA);
  assert.equal(first?.length, 1000, "exactly the stream window");
  assert.ok(await client.ping());
  assert.equal(client.backlog.some((f) => f.type === FrameType.DATA), false, "nothing past it");
  // The connection window (65 535) is the bound now: open the stream wide.
  await client.send(encodeWindowUpdate(1, MAX_WINDOW_SIZE - 1000));
  let received = 1000;
  for (;;) {
    const f = await client.until((x) => x.type === FrameType.DATA);
    received += f!.length;
    assert.ok(f!.length <= 16_384, "frames within SETTINGS_MAX_FRAME_SIZE");
    if (received === 65_535) break;
    assert.ok(received < 65_535, "never past the connection window");
  }
  await client.send(encodeWindowUpdate(0, size));
  const rest = await client.response(1);
  assert.equal(received + rest.body.length, size);
});

Deno.test("h2 connection: a request body arrives whole; credit returns as the handler reads", async () => {
  const size = 300_000; // several stream windows: the upload stalls unless credit returns
  await using server = await inProcessServer(async (_req, ctx) => {
    let n = 0;
    for (let c = await ctx.body.read(); c !== null; c = await ctx.body.read()) n += c.length;
    return { status: 200, body: String(n) };
  });
  await using client = await H2TestClient.connect(server.port);
  await client.request(1, "PUT", "/up", [["content-length", String(size)]], false);
  let sent = 0;
  let streamWindow = STREAM_RECEIVE_WINDOW;
  let connWindow = 65_535 + (1024 * 1024 - 65_535);
  while (sent < size) {
    while (streamWindow === 0 || connWindow === 0) {
      const f = await client.until((x) => x.type === FrameType.WINDOW_UPDATE);
      const inc = new DataView(f!.payload.buffer).getUint32(0);
      if (f!.streamId === 0) connWindow += inc;
      else streamWindow += inc;
    }
    const n = Math.min(16_384, size - sent, streamWindow, connWindow);
    await client.send(encodeData(1, new Uint8Array(n), sent + n === size));
    sent += n;
    streamWindow -= n;
    connWindow -= n;
  }
  const res = await client.response(1);
  assert.equal(new TextDecoder().decode(res.body), String(size));
});

Deno.test("h2 connection: protocol errors end the stream or the connection with the right code", async () => {
  await using server = await inProcessServer(echoPath);
  const cases: [string, Uint8Array, string][] = [
    ["DATA on stream 0", encodeData(0, new Uint8Array(1), false), "PROTOCOL_ERROR"],
    [
      "frame over 16 KiB",
      encodeFrame(FrameType.PING, 0, 0, new Uint8Array(16_385)),
      "FRAME_SIZE_ERROR",
    ],
    ["PING of 7 bytes", encodeFrame(FrameType.PING, 0, 0, new Uint8Array(7)), "FRAME_SIZE_ERROR"],
    [
      "HEADERS on an even stream",
      encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 2),
      "PROTOCOL_ERROR",
    ],
    ["WINDOW_UPDATE of 0", encodeWindowUpdate(0, 0), "PROTOCOL_ERROR"],
    ["connection window past 2^31-1", encodeWindowUpdate(0, MAX_WINDOW_SIZE), "FLOW_CONTROL_ERROR"],
    ["RST_STREAM on an idle stream", encodeRstStream(9, "CANCEL"), "PROTOCOL_ERROR"],
    ["WINDOW_UPDATE on an idle stream", encodeWindowUpdate(5, 1), "PROTOCOL_ERROR"],
    [
      "PUSH_PROMISE from a client",
      encodeFrame(FrameType.PUSH_PROMISE, 0, 1, new Uint8Array(4)),
      "PROTOCOL_ERROR",
    ],
    [
      "INITIAL_WINDOW_SIZE past 2^31-1",
      encodeSettings([[SettingId.INITIAL_WINDOW_SIZE, 2 ** 31]]),
      "FLOW_CONTROL_ERROR",
    ],
    [
      "a bad HPACK block",
      encodeFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, new Uint8Array([0x80])),
      "COMPRESSION_ERROR",
    ],
  ];
  for (const [what, frame, code] of cases) {
    await using client = await H2TestClient.connect(server.port);
    await client.send(frame);
    const goaway = await client.awaitGoaway();
    assert.equal(goaway?.code, code, what);
    assert.ok(await client.closed(), what);
  }
  // At the window limit exactly: fine.
  await using client = await H2TestClient.connect(server.port);
  await client.send(encodeWindowUpdate(0, MAX_WINDOW_SIZE - 65_535));
  await client.request(1, "GET", "/ok");
  assert.equal((await client.response(1)).status, 200);
  // A stream error resets only that stream.
  // An uppercase field name, as a raw literal (an encoder would lowercase it): malformed.
  const upper = new Uint8Array([0x00, 8, ...new TextEncoder().encode("Bad-Case"), 1, 0x31]);
  const pseudo = client.encoder.encode([
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/x"],
    [":authority", "a"],
  ]);
  await client.send(
    encodeFrame(
      FrameType.HEADERS,
      Flag.END_HEADERS | Flag.END_STREAM,
      3,
      new Uint8Array([...pseudo, ...upper]),
    ),
  );
  assert.equal((await client.response(3)).reset, "PROTOCOL_ERROR");
  await client.request(7, "GET", "/still");
  assert.equal((await client.response(7)).status, 200, "stream errors left the connection up");
});

Deno.test("h2 defence: rapid reset — the budget of client resets holds at its limit, one more is GOAWAY", async () => {
  await using server = await inProcessServer(echoPath);
  const burst = async (client: H2TestClient, count: number, firstId: number) => {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const id = firstId + 2 * i;
      frames.push(client.headersFrame(id, [
        [":method", "GET"],
        [":scheme", "http"],
        [":path", "/r"],
        [":authority", "a"],
      ], true));
      frames.push(encodeRstStream(id, "CANCEL"));
    }
    await client.send(...frames);
  };
  await using atLimit = await H2TestClient.connect(server.port);
  await burst(atLimit, MAX_CLIENT_RESETS_PER_WINDOW, 1);
  assert.ok(await atLimit.ping(), "still served at the limit");
  assert.equal(atLimit.goaway, null);

  await using past = await H2TestClient.connect(server.port);
  await burst(past, MAX_CLIENT_RESETS_PER_WINDOW + 1, 1);
  const goaway = await past.awaitGoaway();
  assert.equal(goaway?.code, "ENHANCE_YOUR_CALM");
  assert.ok(await past.closed());
  await otherClientServed(server.port);
});

Deno.test("h2 defence: more concurrent streams than the limit → REFUSED_STREAM for the one past it", async () => {
  const gate = Promise.withResolvers<void>();
  let started = 0;
  await using server = await inProcessServer(async () => {
    started++;
    await gate.promise;
    return { status: 204 };
  });
  await using client = await H2TestClient.connect(server.port);
  const frames: Uint8Array[] = [];
  for (let i = 0; i <= MAX_CONCURRENT_STREAMS; i++) {
    frames.push(client.headersFrame(1 + 2 * i, [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "a"],
    ], true));
  }
  await client.send(...frames);
  const refused = await client.response(1 + 2 * MAX_CONCURRENT_STREAMS);
  assert.equal(refused.reset, "REFUSED_STREAM");
  assert.equal(started, MAX_CONCURRENT_STREAMS, "exactly the limit's handlers ran");
  gate.resolve();
  assert.equal((await client.response(1 + 2 * (MAX_CONCURRENT_STREAMS - 1))).status, 204);
});

/** An HPACK integer with a 7-bit prefix (RFC 7541 §5.1), H bit clear: a raw string length. */
function stringLength(n: number): number[] {
  if (n < 127) return [n];
  const out = [127];
  for (n -= 127; n >= 128; n >>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

/** A header block of exactly `size` bytes: a GET plus one literal field padding it out. */
function blockOfSize(client: H2TestClient, size: number): Uint8Array {
  const base = client.encoder.encode([
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/big"],
    [":authority", "a"],
  ]);
  const name = new TextEncoder().encode("x-pad");
  for (let valueLength = size; valueLength > 0; valueLength--) {
    const lengthPrefix = stringLength(valueLength);
    const total = base.length + 2 + name.length + lengthPrefix.length + valueLength;
    if (total !== size) continue;
    const out = new Uint8Array(size);
    out.set(base);
    let at = base.length;
    out[at++] = 0x00; // literal without indexing, new name (RFC 7541 §6.2.2)
    out[at++] = name.length;
    out.set(name, at);
    at += name.length;
    out.set(lengthPrefix, at);
    at += lengthPrefix.length;
    out.fill(0x61, at);
    return out;
  }
  throw new Error("no block of that size");
}

/** HEADERS + CONTINUATIONs carrying `block` in pieces of `piece` bytes. */
function fragmented(streamId: number, block: Uint8Array, piece: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let at = 0; at < block.length; at += piece) {
    const last = at + piece >= block.length;
    frames.push(encodeFrame(
      at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION,
      (last ? Flag.END_HEADERS : 0) | (at === 0 ? Flag.END_STREAM : 0),
      streamId,
      block.subarray(at, at + piece),
    ));
  }
  return frames;
}

Deno.test("h2 defence: CONTINUATION flood — a header block at the byte limit is decoded (431), one byte more is GOAWAY", async () => {
  await using server = await inProcessServer(echoPath);
  await using atLimit = await H2TestClient.connect(server.port);
  await atLimit.send(...fragmented(1, blockOfSize(atLimit, MAX_HEADER_BLOCK_BYTES), 16_384));
  assert.equal((await atLimit.response(1)).status, 431, "over the header list size, but read");
  await atLimit.request(3, "GET", "/after");
  assert.equal((await atLimit.response(3)).status, 200, "HPACK still in step");

  await using past = await H2TestClient.connect(server.port);
  await past.send(...fragmented(1, blockOfSize(past, MAX_HEADER_BLOCK_BYTES + 1), 16_384));
  assert.equal((await past.awaitGoaway())?.code, "ENHANCE_YOUR_CALM");
  assert.ok(await past.closed());

  // Counted in frames too: MAX_CONTINUATION_FRAMES small pieces pass, one more does not.
  for (
    const [continuations, ok] of [[MAX_CONTINUATION_FRAMES, true], [
      MAX_CONTINUATION_FRAMES + 1,
      false,
    ]] as const
  ) {
    await using client = await H2TestClient.connect(server.port);
    const block = client.encoder.encode([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", `/${"a".repeat(200)}`],
      [":authority", "a"],
    ]);
    // The first piece, then one byte per CONTINUATION.
    const frames = [
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_STREAM,
        1,
        block.subarray(0, block.length - continuations),
      ),
    ];
    for (let i = continuations; i > 0; i--) {
      const at = block.length - i;
      frames.push(
        encodeFrame(
          FrameType.CONTINUATION,
          i === 1 ? Flag.END_HEADERS : 0,
          1,
          block.subarray(at, at + 1),
        ),
      );
    }
    await client.send(...frames);
    if (ok) assert.equal((await client.response(1)).status, 200);
    else assert.equal((await client.awaitGoaway())?.code, "ENHANCE_YOUR_CALM");
  }
  await otherClientServed(server.port);
});

Deno.test("h2 defence: HPACK bomb — a small block that decodes past the header list size is 431, the connection goes on", async () => {
  await using server = await inProcessServer(echoPath);
  await using client = await H2TestClient.connect(server.port);
  // One 4 KiB field into the dynamic table, then referenced by a one-byte index, many times.
  // Literal with incremental indexing, new name (RFC 7541 §6.2.1): 0x40, "x-big", 4000 × "b".
  const big = new Uint8Array([
    0x40,
    5,
    ...new TextEncoder().encode("x-big"),
    ...stringLength(4000),
    ...new Uint8Array(4000).fill(0x62),
  ]);
  const refs = new Uint8Array(100).fill(0x80 | 62); // index 62: the newest dynamic entry
  const pseudo = client.encoder.encode([
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/bomb"],
    [":authority", "a"],
  ]);
  const block = new Uint8Array(pseudo.length + big.length + refs.length);
  block.set(pseudo);
  block.set(big, pseudo.length);
  block.set(refs, pseudo.length + big.length);
  assert.ok(block.length < 5000, "a few KiB on the wire, 400 KiB decoded");
  await client.send(...fragmented(1, block, 16_384));
  assert.equal((await client.response(1)).status, 431);
  await client.request(3, "GET", "/next");
  assert.equal((await client.response(3)).status, 200);
});

Deno.test("h2 defence: PING and SETTINGS floods — the control-frame budget holds at its limit, one more is GOAWAY", async () => {
  await using server = await inProcessServer(echoPath);
  // The client's own SETTINGS and its ACK of the server's count too: 2 of the budget.
  const pings = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8).fill(i & 0xff)),
    );
  await using atLimit = await H2TestClient.connect(server.port);
  await atLimit.until((f) => f.type === FrameType.SETTINGS); // our ACK goes out now
  await atLimit.send(...pings(MAX_CONTROL_FRAMES_PER_WINDOW - 3));
  assert.ok(await atLimit.ping(), "the last PING of the budget is answered");
  assert.equal(atLimit.goaway, null);

  await using past = await H2TestClient.connect(server.port);
  await past.until((f) => f.type === FrameType.SETTINGS);
  await past.send(...pings(MAX_CONTROL_FRAMES_PER_WINDOW - 2), encodeSettings([]));
  assert.equal((await past.awaitGoaway())?.code, "ENHANCE_YOUR_CALM");
  await otherClientServed(server.port);
});

Deno.test("h2 defence: empty DATA frames — the budget holds at its limit, one more is GOAWAY", async () => {
  await using server = await inProcessServer(async (_req, ctx) => {
    await ctx.body.discard();
    return { status: 200, body: "read" };
  });
  for (
    const [count, ok] of [[MAX_EMPTY_FRAMES_PER_WINDOW, true], [
      MAX_EMPTY_FRAMES_PER_WINDOW + 1,
      false,
    ]] as const
  ) {
    await using client = await H2TestClient.connect(server.port);
    await client.request(1, "POST", "/", [], false);
    const empties = Array.from({ length: count }, () => encodeData(1, new Uint8Array(0), false));
    await client.send(...empties, encodeData(1, new Uint8Array(0), true));
    if (ok) assert.equal((await client.response(1)).status, 200);
    else assert.equal((await client.awaitGoaway())?.code, "ENHANCE_YOUR_CALM");
  }
});

Deno.test("h2 defence: control frames queued for a peer that does not read are bounded", () => {
  const never = { write: () => new Promise<number>(() => {}) };
  const writer = new FrameWriter(never);
  const ack = encodeFrame(FrameType.PING, Flag.ACK, 0, new Uint8Array(8));
  // The first one is taken by the (stuck) write; MAX_PENDING_CONTROL_FRAMES more may wait.
  for (let i = 0; i <= MAX_PENDING_CONTROL_FRAMES; i++) {
    assert.equal(writer.control(ack), true, `#${i}`);
  }
  assert.equal(writer.control(ack), false, "one past the bound: the connection is dropped");
});

Deno.test("h2 defence: a client that never opens its window is dropped after the write timeout", async () => {
  await using server = await inProcessServer({
    handler: (req, ctx) =>
      req.path === "/other" ? echoPath(req, ctx) : { status: 200, body: new Uint8Array(200_000) },
    flags: { writeTimeout: 1 },
  });
  await using client = await H2TestClient.connect(server.port, [[
    SettingId.INITIAL_WINDOW_SIZE,
    0,
  ]]);
  await client.request(1, "GET", "/");
  assert.ok(await client.closed(), "closed by the server, not held forever");
  assert.ok(server.warnings.some((w) => /write timeout/.test(w)), server.warnings.join("\n"));
  await otherClientServed(server.port);
});

Deno.test("h2 connection: shutdown sends GOAWAY and lets the stream in flight finish", async () => {
  const gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const server = await inProcessServer(async () => {
    entered.resolve();
    await gate.promise;
    return { status: 200, body: "finished" };
  });
  await using client = await H2TestClient.connect(server.port);
  await client.request(1, "GET", "/");
  await entered.promise;
  const stopping = server[Symbol.asyncDispose]();
  const goaway = await client.awaitGoaway();
  assert.deepEqual([goaway?.code, goaway?.lastStreamId], ["NO_ERROR", 1]);
  gate.resolve();
  const res = await client.response(1);
  assert.equal(new TextDecoder().decode(res.body), "finished");
  assert.ok(await client.closed());
  client.close();
  await stopping;
});

Deno.test("h2 connection: a request body that stops arriving ends with GOAWAY after the body timeout", async () => {
  await using server = await inProcessServer({
    handler: async (_req, ctx) => {
      await ctx.body.discard();
      return { status: 200 };
    },
    flags: { bodyTimeout: 1 },
  });
  await using client = await H2TestClient.connect(server.port);
  await client.request(1, "PUT", "/", [["content-length", "10"]], false);
  await client.send(encodeData(1, new Uint8Array(3), false));
  assert.equal((await client.awaitGoaway())?.code, "NO_ERROR");
  assert.ok(await client.closed());
});

Deno.test("h2 connection: over --max-connections an HTTP/2 client gets GOAWAY(REFUSED_STREAM), not an HTTP/1.1 503", async () => {
  await using server = await inProcessServer({ handler: echoPath, flags: { maxConnections: 1 } });
  await using first = await H2TestClient.connect(server.port);
  assert.ok(await first.ping(), "the one allowed connection is served");
  await using second = await H2TestClient.connect(server.port);
  const goaway = await second.awaitGoaway();
  assert.deepEqual([goaway?.code, goaway?.lastStreamId], ["REFUSED_STREAM", 0]);
  assert.match(goaway!.debug, /too many connections/);
  assert.ok(await first.ping(), "the served connection is unaffected");
});

Deno.test("h2 connection: an idle connection gets GOAWAY(NO_ERROR) at the keep-alive timeout, then the close", async () => {
  await using server = await inProcessServer({ handler: echoPath, flags: { keepAliveTimeout: 1 } });
  await using client = await H2TestClient.connect(server.port);
  await client.request(1, "GET", "/a");
  assert.equal((await client.response(1)).status, 200);
  const goaway = await client.awaitGoaway();
  assert.deepEqual([goaway?.code, goaway?.lastStreamId, goaway?.debug], [
    "NO_ERROR",
    1,
    "keep-alive timeout",
  ]);
  assert.ok(await client.closed());
});

Deno.test("h2 connection: a stream reset while its handler runs — late DATA is dropped quietly, not answered per frame", async () => {
  const gate = Promise.withResolvers<void>();
  await using server = await inProcessServer(async () => {
    await gate.promise;
    return { status: 200 };
  });
  await using client = await H2TestClient.connect(server.port);
  await client.request(1, "PUT", "/x", [["content-length", "5"]], false);
  await client.send(encodeData(1, new Uint8Array(10), false)); // past content-length
  const rst = await client.until((f) => f.type === FrameType.RST_STREAM);
  assert.deepEqual([rst?.streamId, rst?.payload[3]], [1, 1], "RST_STREAM(PROTOCOL_ERROR)");
  await client.send(...Array.from({ length: 3 }, () => encodeData(1, new Uint8Array(10), false)));
  assert.ok(await client.ping());
  const resets = client.backlog.filter((f) => f.type === FrameType.RST_STREAM);
  assert.deepEqual(resets, [], "no RST_STREAM per late DATA frame");
  gate.resolve();
  await client.request(3, "GET", "/after");
  assert.equal((await client.response(3)).status, 200);
});
