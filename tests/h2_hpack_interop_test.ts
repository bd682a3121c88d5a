/**
 * HPACK against a real HTTP/2 implementation: nghttp (nghttp2's client) talks to a minimal
 * h2c peer written here on a raw 127.0.0.1 socket — just enough framing (preface, SETTINGS,
 * HEADERS/CONTINUATION, DATA) to carry header blocks. Our HpackDecoder reads nghttp2's
 * request blocks (Huffman, dynamic table references across requests, its table size update)
 * and nghttp2 decodes our HpackEncoder's response blocks, including after it limits our table
 * with SETTINGS_HEADER_TABLE_SIZE. The transport itself is tested with the h2 connection.
 */
import assert from "node:assert/strict";
import { HpackDecoder, HpackEncoder } from "../lib/http/h2/hpack.ts";
import { commandExists } from "./helpers.ts";

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const DATA = 0x0;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

function frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length << 8);
  out[3] = type;
  out[4] = flags;
  view.setUint32(5, stream);
  out.set(payload, 9);
  return out;
}

/** A request as our decoder read it, and the response fields we sent back. */
interface Exchange {
  stream: number;
  request: [string, string][];
  response: [string, string][];
}

/**
 * Serves one h2c connection: every request gets `respond(stream, request)` as its header
 * block and a 5-byte body. Resolves with the exchanges once the client closes.
 */
async function serveOnce(
  listener: Deno.Listener,
  respond: (stream: number, request: [string, string][]) => [string, string][],
): Promise<{ exchanges: Exchange[]; tableSizes: number[] }> {
  const conn = await listener.accept();
  const decoder = new HpackDecoder();
  const encoder = new HpackEncoder();
  const exchanges: Exchange[] = [];
  const tableSizes: number[] = [];
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  const need = async (n: number): Promise<boolean> => {
    while (buffer.length < n) {
      const read = await conn.read(chunk).catch(() => null);
      if (read === null) return false;
      const next = new Uint8Array(buffer.length + read);
      next.set(buffer);
      next.set(chunk.subarray(0, read), buffer.length);
      buffer = next;
    }
    return true;
  };
  const take = (n: number) => {
    const out = buffer.slice(0, n);
    buffer = buffer.slice(n);
    return out;
  };
  try {
    assert.ok(await need(PREFACE.length));
    assert.equal(new TextDecoder().decode(take(PREFACE.length)), PREFACE);
    await conn.write(frame(SETTINGS, 0, 0, new Uint8Array(0)));
    let block: number[] = [];
    let blockStream = 0;
    while (await need(9)) {
      const head = take(9);
      const length = (head[0] << 16) | (head[1] << 8) | head[2];
      const [type, flags] = [head[3], head[4]];
      const stream = new DataView(head.buffer).getUint32(5) & 0x7fffffff;
      if (!(await need(length))) break;
      let payload = take(length);
      if (type === SETTINGS && !(flags & 1)) {
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const view = new DataView(payload.buffer, payload.byteOffset + i);
          if (view.getUint16(0) === SETTINGS_HEADER_TABLE_SIZE) {
            encoder.setMaxTableSize(view.getUint32(2));
          }
        }
        await conn.write(frame(SETTINGS, 1, 0, new Uint8Array(0)));
      } else if (type === HEADERS || type === CONTINUATION) {
        if (type === HEADERS) {
          const pad = flags & PADDED ? payload[0] : 0;
          payload = payload.subarray(flags & PADDED ? 1 : 0, payload.length - pad);
          if (flags & PRIORITY) payload = payload.subarray(5);
          block = [];
          blockStream = stream;
        }
        block.push(...payload);
        if (!(flags & END_HEADERS)) continue;
        const request = decoder.decode(Uint8Array.from(block));
        tableSizes.push(decoder.tableSize);
        const response = respond(blockStream, request);
        exchanges.push({ stream: blockStream, request, response });
        await conn.write(frame(HEADERS, END_HEADERS, blockStream, encoder.encode(response)));
        const body = new TextEncoder().encode("hello");
        await conn.write(frame(DATA, END_STREAM, blockStream, body));
      }
    }
  } finally {
    conn.close();
  }
  return { exchanges, tableSizes };
}

async function nghttp(args: string[]): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command("nghttp", { args, stdin: "null" }).output();
  const stdout = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, stdout };
}

/**
 * The header fields nghttp printed as received on `stream` (`recv (stream_id=N) a: b`), and
 * the names it marked `sensitive` (sent never-indexed, RFC 7541 §6.2.3).
 */
function received(
  stdout: string,
  stream: number,
): { fields: [string, string][]; sensitive: string[] } {
  const fields: [string, string][] = [];
  const sensitive: string[] = [];
  const pattern = new RegExp(`recv \\(stream_id=${stream}(, sensitive)?\\) (:?[^:]+): (.*)$`);
  for (const line of stdout.split("\n")) {
    const m = pattern.exec(line);
    if (!m) continue;
    fields.push([m[2], m[3]]);
    if (m[1]) sensitive.push(m[2]);
  }
  return { fields, sensitive };
}

const hasNghttp = await commandExists("nghttp");

function responseFor(stream: number, request: [string, string][]): [string, string][] {
  const path = request.find(([n]) => n === ":path")?.[1] ?? "?";
  return [
    [":status", path === "/missing" ? "404" : "200"],
    ["content-type", "text/plain; charset=utf-8"],
    ["content-length", "5"],
    ["date", "Fri, 27 Nov 2026 14:00:00 GMT"],
    ["etag", `"etag-${path}"`],
    ["last-modified", "Thu, 26 Nov 2026 10:00:00 GMT"],
    ["server", "sockit"],
    ["set-cookie", `session=${stream}; HttpOnly`],
    ["x-long", "x".repeat(300)],
    ["x-stream", `${stream}`],
  ];
}

Deno.test({
  name: "hpack interop: nghttp2's request blocks decode, ours decode in nghttp2 (default table)",
  ignore: !hasNghttp,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    const base = `http://127.0.0.1:${port}`;
    const paths = ["/a", "/b", "/missing", "/c"];
    const served = serveOnce(listener, responseFor);
    const client = await nghttp([
      "-nv",
      "--no-dep",
      "-H",
      "x-custom: the same on every request",
      ...paths.map((p) => base + p),
    ]);
    const { exchanges, tableSizes } = await served;
    listener.close();
    assert.equal(client.code, 0, client.stdout);
    assert.equal(exchanges.length, paths.length);
    for (const { stream, request, response } of exchanges) {
      const get = (name: string) => request.find(([n]) => n === name)?.[1];
      assert.equal(get(":method"), "GET");
      assert.equal(get(":scheme"), "http");
      assert.equal(get(":authority"), `127.0.0.1:${port}`);
      assert.ok(paths.includes(get(":path")!), `${get(":path")}`);
      assert.equal(get("x-custom"), "the same on every request");
      assert.match(get("user-agent") ?? "", /^nghttp2\//);
      const got = received(client.stdout, stream);
      assert.deepEqual(got.fields, response, `stream ${stream}`);
      assert.deepEqual(got.sensitive, ["set-cookie"], "set-cookie went never-indexed");
    }
    // nghttp2 indexed its headers on the first request; the later ones only referenced them
    // (their :authority, user-agent and x-custom above came out of our dynamic table).
    assert.ok(tableSizes[0] > 0);
    assert.deepEqual(tableSizes, paths.map(() => tableSizes[0]));
  },
});

Deno.test({
  name: "hpack interop: a peer's smaller tables both ways (nghttp -c 256, encoder table 512)",
  ignore: !hasNghttp,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    const base = `http://127.0.0.1:${port}`;
    const paths = Array.from({ length: 8 }, (_, i) => `/file-${i}`);
    const served = serveOnce(listener, responseFor);
    const client = await nghttp([
      "-nv",
      "--no-dep",
      "-c",
      "256", // our encoder must fit its table in 256 octets (SETTINGS_HEADER_TABLE_SIZE)
      "--encoder-header-table-size=512", // nghttp2 signals a 512-octet table to our decoder
      "-H",
      `x-big: ${"b".repeat(200)}`,
      ...paths.map((p) => base + p),
    ]);
    const { exchanges, tableSizes } = await served;
    listener.close();
    assert.equal(client.code, 0, client.stdout);
    assert.equal(exchanges.length, paths.length);
    for (const { stream, request, response } of exchanges) {
      assert.equal(request.find(([n]) => n === "x-big")?.[1], "b".repeat(200));
      assert.deepEqual(received(client.stdout, stream).fields, response, `stream ${stream}`);
    }
    assert.ok(tableSizes.every((size) => size <= 512), `${tableSizes}`);
  },
});
