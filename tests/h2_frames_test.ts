/**
 * The HTTP/2 pieces that need no socket: frame headers and payloads (parsed, serialized,
 * read through the framing module under every way of splitting the input), SETTINGS
 * validation, send windows, the flood guard's budgets at and past their limits, request
 * heads from header lists (RFC 9113 §8.2-8.3), request bodies against content-length, and
 * the preface sniff that picks HTTP/2 on the plain port.
 *
 * ```sh
 * deno test -A tests/h2_frames_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { BufferedReader, type ByteSource } from "../lib/framing.ts";
import { HttpError } from "../lib/http/errors.ts";
import { H2RequestBody } from "../lib/http/h2/body.ts";
import { SendWindow } from "../lib/http/h2/flow.ts";
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  encodeData,
  encodeFrame,
  encodeGoaway,
  encodeHeaderBlock,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  H2ConnectionError,
  H2StreamError,
  MAX_WINDOW_SIZE,
  parseDataPayload,
  parseFrameHeader,
  parseGoawayPayload,
  parseHeadersPayload,
  parseRstStreamPayload,
  parseSettingsPayload,
  parseWindowUpdatePayload,
  readFrame,
} from "../lib/http/h2/frames.ts";
import {
  FLOOD_WINDOW_MS,
  FloodGuard,
  MAX_CLIENT_RESETS_PER_WINDOW,
  MAX_CONTROL_FRAMES_PER_WINDOW,
  MAX_EMPTY_FRAMES_PER_WINDOW,
} from "../lib/http/h2/guard.ts";
import { requestHeadFromFields } from "../lib/http/h2/request.ts";
import { dataFrames, responseFields } from "../lib/http/h2/response.ts";
import { applySettings, DEFAULT_PEER_SETTINGS, SettingId } from "../lib/http/h2/settings.ts";
import { startsWithH2Preface } from "../lib/http/server/dispatch.ts";

/** Hands out `data` in pieces of `step` bytes. */
function source(data: Uint8Array, step: number): ByteSource {
  let at = 0;
  return {
    read(p) {
      if (at >= data.length) return Promise.resolve(null);
      const n = Math.min(step, p.length, data.length - at);
      p.set(data.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("h2 frames: header round trip, reserved bit ignored, 31-bit stream id", () => {
  const frame = encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 0x7fff_ffff, new Uint8Array(3));
  assert.equal(frame.length, FRAME_HEADER_BYTES + 3);
  assert.deepEqual(parseFrameHeader(frame), {
    length: 3,
    type: FrameType.HEADERS,
    flags: Flag.END_HEADERS,
    streamId: 0x7fff_ffff,
  });
  frame[5] |= 0x80; // the reserved bit must be ignored on receipt (§4.1)
  assert.equal(parseFrameHeader(frame).streamId, 0x7fff_ffff);
});

Deno.test("h2 frames: readFrame under every split; a frame at the size limit passes, one past fails", async () => {
  const atLimit = encodeData(1, new Uint8Array(DEFAULT_MAX_FRAME_SIZE).fill(7), true);
  const ping = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8).fill(1));
  const wire = concat(atLimit, ping);
  for (const step of [1, 2, 8, 9, 10, 4096, wire.length]) {
    const reader = new BufferedReader(source(wire, step));
    const first = await readFrame(reader, DEFAULT_MAX_FRAME_SIZE);
    assert.equal(first?.length, DEFAULT_MAX_FRAME_SIZE);
    assert.equal(first?.payload[DEFAULT_MAX_FRAME_SIZE - 1], 7);
    const second = await readFrame(reader, DEFAULT_MAX_FRAME_SIZE);
    assert.equal(second?.type, FrameType.PING);
    assert.equal(await readFrame(reader, DEFAULT_MAX_FRAME_SIZE), null, `step ${step}`);
  }
  const past = encodeData(1, new Uint8Array(DEFAULT_MAX_FRAME_SIZE + 1), true);
  const reader = new BufferedReader(source(past, 9));
  await assert.rejects(
    readFrame(reader, DEFAULT_MAX_FRAME_SIZE),
    (e) => e instanceof H2ConnectionError && e.code === "FRAME_SIZE_ERROR",
  );
  assert.equal(reader.bytesRead, FRAME_HEADER_BYTES, "refused before reading the payload");
});

Deno.test("h2 frames: padding stripped; padding past the payload is a PROTOCOL_ERROR", () => {
  const padded = encodeFrame(FrameType.DATA, Flag.PADDED, 1, new Uint8Array([2, 9, 9, 0, 0]));
  assert.deepEqual([
    ...parseDataPayload({ ...parseFrameHeader(padded), payload: padded.subarray(9) }),
  ], [
    9,
    9,
  ]);
  const bad = new Uint8Array([5, 1, 2]);
  assert.throws(
    () => parseDataPayload({ length: 3, type: 0, flags: Flag.PADDED, streamId: 1, payload: bad }),
    (e) => e instanceof H2ConnectionError && e.code === "PROTOCOL_ERROR",
  );
  const withPriority = new Uint8Array([0, 0, 0, 3, 16, 0x82]); // depends on 3, weight 16
  const fragment = parseHeadersPayload({
    length: 6,
    type: FrameType.HEADERS,
    flags: Flag.PRIORITY,
    streamId: 1,
    payload: withPriority,
  });
  assert.deepEqual([...fragment], [0x82]);
  assert.throws(
    () =>
      parseHeadersPayload({
        length: 5,
        type: FrameType.HEADERS,
        flags: Flag.PRIORITY,
        streamId: 3,
        payload: new Uint8Array([0, 0, 0, 3, 16]),
      }),
    (e) => e instanceof H2StreamError && e.code === "PROTOCOL_ERROR",
  );
});

Deno.test("h2 frames: control payloads round trip and wrong sizes are FRAME_SIZE_ERRORs", () => {
  const settings = encodeSettings([[SettingId.MAX_FRAME_SIZE, 20_000], [0x99, 1]]);
  assert.deepEqual(parseSettingsPayload(settings.subarray(9)), [[5, 20_000], [0x99, 1]]);
  assert.equal(encodeSettings([], true).length, 9);
  assert.throws(() => parseSettingsPayload(new Uint8Array(7)), /multiple of 6/);
  assert.equal(
    parseWindowUpdatePayload(encodeWindowUpdate(1, MAX_WINDOW_SIZE).subarray(9)),
    MAX_WINDOW_SIZE,
  );
  assert.throws(() => parseWindowUpdatePayload(new Uint8Array(5)), H2ConnectionError);
  assert.equal(parseRstStreamPayload(encodeRstStream(3, "CANCEL").subarray(9)), 8);
  assert.throws(() => parseRstStreamPayload(new Uint8Array(3)), H2ConnectionError);
  const goaway = parseGoawayPayload(encodeGoaway(7, "ENHANCE_YOUR_CALM", "why").subarray(9));
  assert.deepEqual(
    [goaway.lastStreamId, goaway.errorCode, new TextDecoder().decode(goaway.debug)],
    [
      7,
      0xb,
      "why",
    ],
  );
});

Deno.test("h2 frames: a header block splits into HEADERS + CONTINUATIONs; DATA into max-size frames", () => {
  const block = new Uint8Array(DEFAULT_MAX_FRAME_SIZE * 2 + 1).fill(1);
  const wire = encodeHeaderBlock(5, block, true, DEFAULT_MAX_FRAME_SIZE);
  const heads = [];
  for (let at = 0; at < wire.length;) {
    const h = parseFrameHeader(wire, at);
    heads.push([h.type, h.flags, h.length]);
    at += 9 + h.length;
  }
  assert.deepEqual(heads, [
    [FrameType.HEADERS, Flag.END_STREAM, DEFAULT_MAX_FRAME_SIZE],
    [FrameType.CONTINUATION, 0, DEFAULT_MAX_FRAME_SIZE],
    [FrameType.CONTINUATION, Flag.END_HEADERS, 1],
  ]);
  const payload = new Uint8Array(40_000);
  const data = concat(...dataFrames(1, payload, DEFAULT_MAX_FRAME_SIZE, true));
  assert.equal(data.length, 40_000 + 3 * 9);
  assert.equal(parseFrameHeader(data, 2 * (9 + DEFAULT_MAX_FRAME_SIZE)).flags, Flag.END_STREAM);
  const parts = dataFrames(1, payload, DEFAULT_MAX_FRAME_SIZE, true);
  assert.equal(parts[1].buffer, payload.buffer, "payloads are views, not copies");
});

Deno.test("h2 settings: each value checked; unknown ids ignored", () => {
  const s = applySettings(DEFAULT_PEER_SETTINGS, [
    [SettingId.INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE],
    [SettingId.MAX_FRAME_SIZE, 16_777_215],
    [0x42, 9],
  ]);
  assert.equal(s.initialWindowSize, MAX_WINDOW_SIZE);
  assert.equal(s.maxFrameSize, 16_777_215);
  const code = (pairs: [number, number][]) => {
    try {
      applySettings(DEFAULT_PEER_SETTINGS, pairs);
      return "ok";
    } catch (e) {
      return (e as H2ConnectionError).code;
    }
  };
  assert.equal(code([[SettingId.INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE + 1]]), "FLOW_CONTROL_ERROR");
  assert.equal(code([[SettingId.MAX_FRAME_SIZE, 16_383]]), "PROTOCOL_ERROR");
  assert.equal(code([[SettingId.MAX_FRAME_SIZE, 16_777_216]]), "PROTOCOL_ERROR");
  assert.equal(code([[SettingId.ENABLE_PUSH, 2]]), "PROTOCOL_ERROR");
});

Deno.test("h2 flow: a window grows to 2^31-1 and no further; a writer waits until it opens", async () => {
  const w = new SendWindow(10);
  assert.equal(w.grow(MAX_WINDOW_SIZE - 10), true);
  assert.equal(w.size, MAX_WINDOW_SIZE);
  assert.equal(w.grow(1), false, "one past 2^31-1");
  w.consume(MAX_WINDOW_SIZE);
  let opened = false;
  const waiting = w.whenOpen().then(() => opened = true);
  await Promise.resolve();
  assert.equal(opened, false);
  w.grow(5);
  await waiting;
  assert.equal(opened, true);
});

Deno.test("h2 guard: each budget holds at its limit and trips one past it", () => {
  const cases: [Parameters<FloodGuard["count"]>[0], number][] = [
    ["reset", MAX_CLIENT_RESETS_PER_WINDOW],
    ["control", MAX_CONTROL_FRAMES_PER_WINDOW],
    ["empty", MAX_EMPTY_FRAMES_PER_WINDOW],
  ];
  for (const [kind, limit] of cases) {
    const guard = new FloodGuard(0);
    for (let i = 0; i < limit; i++) guard.count(kind, 1);
    assert.throws(
      () => guard.count(kind, 2),
      (e) => e instanceof H2ConnectionError && e.code === "ENHANCE_YOUR_CALM",
    );
    const later = new FloodGuard(0);
    for (let i = 0; i < limit; i++) later.count(kind, 1);
    later.count(kind, FLOOD_WINDOW_MS); // a new window starts over
  }
});

const BASE: [string, string][] = [[":method", "GET"], [":scheme", "https"], [
  ":path",
  "/a%20b?q=1",
]];

Deno.test("h2 request: pseudo-headers make the head handlers already know", () => {
  const head = requestHeadFromFields(
    [...BASE, [":authority", "example.test"], ["cookie", "a=1"], ["cookie", "b=2"], [
      "accept",
      "x",
    ]],
    1,
    true,
  );
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/a%20b?q=1");
  assert.equal(head.path, "/a b");
  assert.equal(head.query, "q=1");
  assert.equal(head.host, "example.test");
  assert.equal(head.version, "HTTP/2");
  assert.equal(head.headers.get("cookie"), "a=1; b=2");
  assert.deepEqual(head.body, { kind: "none" });
  const put = requestHeadFromFields([...BASE, ["content-length", "5"]], 3, false);
  assert.deepEqual(put.body, { kind: "length", length: 5 });
  assert.deepEqual(requestHeadFromFields(BASE, 3, false).body, { kind: "chunked" });
});

Deno.test("h2 request: malformed requests are PROTOCOL_ERROR stream errors (§8.1.1)", () => {
  const bad: [string, [string, string][], boolean][] = [
    ["uppercase name", [...BASE, ["Accept", "x"]], true],
    ["connection field", [...BASE, ["connection", "close"]], true],
    ["transfer-encoding", [...BASE, ["transfer-encoding", "chunked"]], false],
    ["te gzip", [...BASE, ["te", "gzip"]], true],
    [
      "pseudo after regular",
      [[":method", "GET"], ["a", "b"], [":path", "/"], [":scheme", "h"]],
      true,
    ],
    ["repeated :path", [...BASE, [":path", "/"]], true],
    ["unknown pseudo", [...BASE, [":status", "200"]], true],
    ["no :path", [[":method", "GET"], [":scheme", "https"]], true],
    ["relative :path", [[":method", "GET"], [":scheme", "https"], [":path", "a"]], true],
    ["bad content-length", [...BASE, ["content-length", "1x"]], false],
    ["content-length without DATA", [...BASE, ["content-length", "3"]], true],
    ["newline in a value", [...BASE, ["x", "a\nb"]], true],
  ];
  for (const [what, fields, end] of bad) {
    assert.throws(
      () => requestHeadFromFields(fields, 5, end),
      (e) => e instanceof H2StreamError && e.code === "PROTOCOL_ERROR" && e.streamId === 5,
      what,
    );
  }
  assert.throws(
    () => requestHeadFromFields([[":method", "GET"], [":scheme", "h"], [":path", "/%zz"]], 1, true),
    (e) => e instanceof HttpError && e.status === 400,
  );
});

Deno.test("h2 response: fields lowercased, connection-specific ones dropped, length added", () => {
  const fields = responseFields({
    status: 200,
    headers: [["Content-Type", "text/plain"], ["Connection", "close"], [
      "Transfer-Encoding",
      "chunked",
    ]],
  }, 3);
  assert.deepEqual(fields.map(([n]) => n), [
    ":status",
    "server",
    "date",
    "content-type",
    "content-length",
  ]);
  assert.equal(responseFields({ status: 304 }, 3).some(([n]) => n === "content-length"), false);
});

Deno.test("h2 body: content-length must match the DATA; credit goes back as the handler reads", async () => {
  let credit = 0;
  const body = new H2RequestBody({
    streamId: 1,
    maxBytes: 100,
    expectedLength: 4,
    returnCredit: (n) => credit += n,
  });
  body.push(new Uint8Array(3));
  assert.equal(body.buffered, 3);
  assert.equal(credit, 0, "no credit before the handler reads");
  assert.equal((await body.read())?.length, 3);
  assert.equal(credit, 3);
  assert.throws(() => body.end(), (e) => e instanceof H2StreamError, "1 byte short");
  assert.throws(() => body.push(new Uint8Array(2)), (e) => e instanceof H2StreamError, "1 past");
  const limited = new H2RequestBody({
    streamId: 3,
    maxBytes: 4,
    expectedLength: null,
    returnCredit: () => {},
  });
  assert.equal(limited.push(new Uint8Array(4)), 0, "at --max-body: kept");
  assert.equal(limited.push(new Uint8Array(1)), 1, "one past: handed back unread");
  await assert.rejects(limited.read(), (e) => e instanceof HttpError && e.status === 413);
});

Deno.test("h2 dispatch: the preface is recognised under any split; other bytes are not held", async () => {
  const wire = concat(CLIENT_PREFACE, encodeSettings([]));
  for (const step of [1, 3, 24, wire.length]) {
    const reader = new BufferedReader(source(wire, step));
    assert.equal(await startsWithH2Preface(reader), true, `step ${step}`);
    assert.equal(reader.bytesRead < wire.length || step === wire.length, true);
  }
  const h1 = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
  const reader = new BufferedReader(source(h1, 1));
  assert.equal(await startsWithH2Preface(reader), false);
  assert.equal(reader.bytesRead, 1, "decided at the first byte that differs");
  const pri = new TextEncoder().encode("PRI * HTTP/1.1\r\n");
  assert.equal(await startsWithH2Preface(new BufferedReader(source(pri, 1))), false);
  assert.equal(
    await startsWithH2Preface(new BufferedReader(source(CLIENT_PREFACE.subarray(0, 5), 1))),
    false,
  );
});
