/**
 * Tests for lib/http/h1/connection.ts: chunk-size parsing (pure) and the connection loop
 * driven over real loopback sockets with small handlers, which is how later features
 * (uploads, streaming, errors) plug in — served by the real server in this process
 * (`inProcessServer`), or by `serveConnection` and a `ConnectionTracker` alone where
 * their own callbacks and shutdown are what is tested.
 */
import assert from "node:assert/strict";
import { BufferedReader, CRLFCRLF } from "../lib/framing.ts";
import { type AccessLogEntry, serveConnection } from "../lib/http/h1/connection.ts";
import { compose, type Handler, type Middleware } from "../lib/http/handler.ts";
import { ConnectionTracker } from "../lib/http/h1/timeouts.ts";
import {
  MAX_CHUNK_LINE_BYTES,
  MAX_TRAILER_BYTES,
  parseChunkSizeLine,
} from "../lib/http/h1/chunked.ts";
import { HttpError } from "../lib/http/errors.ts";
import { exchange, inProcessServer } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("parseChunkSizeLine: hex sizes, extensions, strict CRLF", () => {
  assert.equal(parseChunkSizeLine(enc.encode("0\r\n")), 0);
  assert.equal(parseChunkSizeLine(enc.encode("1a\r\n")), 26);
  assert.equal(parseChunkSizeLine(enc.encode("FF;name=value\r\n")), 255);
  assert.equal(parseChunkSizeLine(enc.encode("10 ;x\r\n")), 16);
  for (
    const bad of [
      "\r\n",
      "x\r\n",
      "1a\n",
      "-1\r\n",
      " 1\r\n",
      "1 2\r\n",
      "0x10\r\n",
      "1000000000000\r\n",
    ]
  ) {
    assert.throws(
      () => parseChunkSizeLine(enc.encode(bad)),
      (e: unknown) =>
        e instanceof HttpError && e.status === 400 && e.code === "BAD_CHUNK" && e.close,
      bad,
    );
  }
});

Deno.test("a handler can read the body (length and chunked); 100 Continue on first read", async () => {
  const echo: Handler = async (_req, ctx) => {
    const parts: string[] = [];
    for (let c = await ctx.body.read(); c !== null; c = await ctx.body.read()) {
      parts.push(dec.decode(c));
    }
    return { status: 200, body: `got ${parts.join("")} (${ctx.body.received})` };
  };
  await using server = await inProcessServer(echo);
  const { port } = server;
  const a = await exchange(port, "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
  assert.ok(a.endsWith("\r\n\r\ngot hello (5)"), a);
  const b = await exchange(
    port,
    "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
  );
  assert.ok(b.endsWith("\r\n\r\ngot abcde (5)"), b);

  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const reader = new BufferedReader(conn);
    await conn.write(enc.encode(
      "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    ));
    assert.equal(
      dec.decode((await reader.readUntil(CRLFCRLF))!),
      "HTTP/1.1 100 Continue\r\n\r\n",
    );
    await conn.write(enc.encode("ok"));
    const head = dec.decode((await reader.readUntil(CRLFCRLF))!);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(dec.decode(await reader.readExact(8)), "got ok (");
  } finally {
    conn.close();
  }
});

Deno.test("a chunked body over the limit → 413 and close, even when the handler reads it", async () => {
  const reading: Handler = async (_req, ctx) => {
    await ctx.body.discard();
    return { status: 200, body: "read all" };
  };
  await using server = await inProcessServer({ handler: reading, flags: { maxBody: 10 } });
  const { port } = server;
  const answer = await exchange(
    port,
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
  );
  assert.match(answer, /^HTTP\/1\.1 413 Content Too Large\r\n[^]*Connection: close\r\n/);
});

Deno.test("chunk extensions are capped per body (MAX_CHUNK_EXTENSION_BYTES)", async () => {
  const ok: Handler = () => ({ status: 200, body: "ok" });
  await using server = await inProcessServer(ok);
  const { port } = server;
  const ext = ";" + "e".repeat(3000);
  const fine = await exchange(
    port,
    "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `1${ext}\r\na\r\n`.repeat(5) + "0\r\n\r\n",
  );
  assert.match(fine, /^HTTP\/1\.1 200 /);
  const flood = await exchange(
    port,
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `1${ext}\r\na\r\n`.repeat(6) + "0\r\n\r\n",
  );
  assert.match(flood, /^HTTP\/1\.1 400 Bad Request\r\n[^]*too many chunk extensions/);
});

Deno.test("chunk-size and trailer lines are capped (MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES)", async () => {
  const ok: Handler = () => ({ status: 200, body: "ok" });
  const head =
    "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
  await using server = await inProcessServer(ok);
  const { port } = server;
  // A chunk extension makes the size line long (one line stays under the per-body
  // extension cap); exactly at the limit, CRLF included, it is still fine.
  const sizeLine = (bytes: number) => `1;${"e".repeat(bytes - 4)}\r\n`;
  const atLimit = sizeLine(MAX_CHUNK_LINE_BYTES);
  assert.match(await exchange(port, head + atLimit + "a\r\n0\r\n\r\n"), /^HTTP\/1\.1 200 /);
  const overLimit = sizeLine(MAX_CHUNK_LINE_BYTES + 1);
  assert.match(
    await exchange(port, head + overLimit + "a\r\n0\r\n\r\n"),
    /^HTTP\/1\.1 400 Bad Request\r\n[^]*chunk-size line too long/,
  );
  const trailer = (bytes: number) => `X-T: ${"t".repeat(bytes - 7)}\r\n`; // one line of `bytes`
  const fewTrailers = trailer(1000).repeat(Math.floor(MAX_TRAILER_BYTES / 1000));
  assert.match(
    await exchange(port, head + "1\r\na\r\n0\r\n" + fewTrailers + "\r\n"),
    /^HTTP\/1\.1 200 /,
  );
  const manyTrailers = fewTrailers + trailer(1000);
  assert.match(
    await exchange(port, head + "1\r\na\r\n0\r\n" + manyTrailers + "\r\n"),
    /^HTTP\/1\.1 400 Bad Request\r\n[^]*trailer section too large/,
  );
  assert.match(
    await exchange(port, head + "1\r\na\r\n0\r\n" + trailer(MAX_CHUNK_LINE_BYTES + 1) + "\r\n"),
    /^HTTP\/1\.1 400 Bad Request\r\n[^]*trailer line too long/,
  );
});

Deno.test("stream bodies: chunked for 1.1, close-delimited for 1.0, exact length when known", async () => {
  const streaming: Handler = (req) => ({
    status: 200,
    body: {
      stream: (async function* () {
        yield enc.encode("ab");
        yield enc.encode("");
        yield enc.encode("cde");
      })(),
      length: req.path === "/known" ? 5 : null,
    },
  });
  await using server = await inProcessServer(streaming);
  const { port } = server;
  const chunked = await exchange(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  assert.match(chunked, /\r\nTransfer-Encoding: chunked\r\n/);
  assert.ok(chunked.endsWith("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"), chunked);
  const old = await exchange(port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert.match(old, /\r\nConnection: close\r\n\r\nabcde$/);
  const known = await exchange(port, "GET /known HTTP/1.0\r\n\r\n");
  assert.match(known, /\r\nContent-Length: 5\r\n[^]*\r\n\r\nabcde$/);
});

Deno.test("file bodies: offset and length, HEAD sends none; the file is closed", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "0123456789");
    const opened: Deno.FsFile[] = [];
    const region: Handler = async () => {
      const file = await Deno.open(path);
      opened.push(file);
      return { status: 206, body: { file, offset: 3, length: 4 } };
    };
    {
      await using server = await inProcessServer(region);
      const get = await exchange(server.port, "GET / HTTP/1.0\r\n\r\n");
      assert.match(
        get,
        /^HTTP\/1\.1 206 Partial Content\r\n[^]*Content-Length: 4\r\n[^]*\r\n\r\n3456$/,
      );
      const head = await exchange(server.port, "HEAD / HTTP/1.0\r\n\r\n");
      assert.match(head, /Content-Length: 4\r\n[^]*\r\n\r\n$/);
    } // shut down: every connection has finished
    for (const file of opened) assert.throws(() => file.statSync(), Deno.errors.BadResource);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("handler errors: HttpError keeps the connection, anything else → 500 and close", async () => {
  const failing: Handler = (req) => {
    if (req.path === "/teapot") {
      throw new HttpError(404, "NOT_FOUND", "no teapot", { headers: [["X-Why", "test"]] });
    }
    throw new Error("secret internal detail");
  };
  await using server = await inProcessServer(failing);
  const { port } = server;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(
      "GET /teapot HTTP/1.1\r\nHost: h\r\n\r\nGET /boom HTTP/1.1\r\nHost: h\r\n\r\n",
    ));
    const reader = new BufferedReader(conn);
    const first = dec.decode((await reader.readUntil(CRLFCRLF))!);
    assert.match(
      first,
      /^HTTP\/1\.1 404 Not Found\r\n[^]*X-Why: test\r\n[^]*Connection: keep-alive/,
    );
    const length = Number(/Content-Length: (\d+)/.exec(first)![1]);
    assert.equal(dec.decode(await reader.readExact(length)), "404 Not Found: no teapot\n");
    // Same connection: the next pipelined request was still served.
    const second = dec.decode((await reader.readUntil(CRLFCRLF))!);
    assert.match(second, /^HTTP\/1\.1 500 /);
  } finally {
    conn.close();
  }
  const boom = await exchange(port, "GET /boom HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(boom, /^HTTP\/1\.1 500 Internal Server Error\r\n[^]*Connection: close\r\n/);
  assert.ok(!boom.includes("secret internal detail"));
  // The error itself reaches the server's report (onInternalError), just not the client.
  assert.ok(
    server.warnings.includes("sockit: internal error on GET /boom: secret internal detail"),
    server.warnings.join("\n"),
  );
});

Deno.test("tracker.shutdown closes idle keep-alive connections at once", async () => {
  const ok: Handler = () => ({ status: 200, body: "ok" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tracker = new ConnectionTracker({ keepAliveTimeoutMs: 0 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const serverSide = await listener.accept();
  const serving = serveConnection(serverSide, ok, { tracker });
  try {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    const reader = new BufferedReader(conn);
    assert.match(dec.decode((await reader.readUntil(CRLFCRLF))!), /keep-alive/);
    await reader.readExact(2);
    assert.equal(tracker.size, 1);
    const t0 = Date.now();
    assert.equal(await tracker.shutdown(5_000), true);
    assert.ok(Date.now() - t0 < 1_000);
    assert.equal(await conn.read(new Uint8Array(10)), null);
    await serving;
  } finally {
    conn.close();
    listener.close();
  }
});

Deno.test("compose: the first middleware sees the request first and the response last", async () => {
  const seen: string[] = [];
  const tag = (name: string): Middleware => (next) => async (req, ctx) => {
    seen.push(`${name}>`);
    const res = await next(req, ctx);
    seen.push(`<${name}`);
    return { ...res, headers: [...(res.headers ?? []), ["X-By", name]] };
  };
  const deny: Middleware = (next) => (req, ctx) =>
    req.path === "/secret" ? { status: 401, body: "no" } : next(req, ctx);
  const handler = compose([tag("outer"), tag("inner"), deny], () => ({ status: 200, body: "ok" }));
  await using server = await inProcessServer(handler);
  const { port } = server;
  const ok = await exchange(port, "GET / HTTP/1.0\r\n\r\n");
  assert.match(ok, /X-By: inner\r\nX-By: outer\r\n[^]*\r\n\r\nok$/);
  assert.deepEqual(seen, ["outer>", "inner>", "<inner", "<outer"]);
  const denied = await exchange(port, "GET /secret HTTP/1.0\r\n\r\n");
  assert.match(denied, /^HTTP\/1\.1 401 Unauthorized\r\n/);
});

Deno.test("a refusal before reading the body: no 100 Continue, no discarding, answer and close", async () => {
  const received: number[] = [];
  const refuse: Handler = (req, ctx) => {
    received.push(ctx.body.received);
    if (req.path === "/locked") {
      return { status: 401, headers: [["WWW-Authenticate", "Basic"]], body: "no", close: true };
    }
    if (req.path === "/taken") return { status: 409, body: "exists", close: true };
    return { status: 405, body: "no PUT here" }; // not asking to close
  };
  const bigLength = 20 * 1024 * 1024;
  await using server = await inProcessServer({
    handler: refuse,
    flags: { maxBody: 64 * 1024 * 1024 },
  });
  const { port } = server;
  for (const path of ["/locked", "/elsewhere"]) {
    // The client waits for 100 Continue before sending any of its 20 MB.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(enc.encode(
        `PUT ${path} HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n` +
          `Content-Length: ${bigLength}\r\n\r\n`,
      ));
      const reader = new BufferedReader(conn);
      const head = dec.decode((await reader.readUntil(CRLFCRLF))!);
      assert.match(head, path === "/locked" ? /^HTTP\/1\.1 401 / : /^HTTP\/1\.1 405 /, path);
      assert.match(head, /\r\nConnection: close\r\n/);
      assert.ok(!head.includes("100 Continue"));
      // The server half-closes after the answer: the body is all that is left.
      const rest = dec.decode(await reader.readExact(path === "/locked" ? 2 : 11));
      assert.equal(rest, path === "/locked" ? "no" : "no PUT here");
      assert.equal(await reader.readChunk(1), null);
    } finally {
      conn.close();
    }
  }
  // No Expect: the client starts sending at once; the 409 arrives after only part of the
  // body and the server does not wait for (or read) the remaining megabytes.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(
      `PUT /taken HTTP/1.1\r\nHost: h\r\nContent-Length: ${bigLength}\r\n\r\n`,
    ));
    await conn.write(new Uint8Array(64 * 1024));
    const t0 = Date.now();
    const reader = new BufferedReader(conn);
    const head = dec.decode((await reader.readUntil(CRLFCRLF))!);
    assert.match(head, /^HTTP\/1\.1 409 [^]*\r\nConnection: close\r\n/);
    assert.equal(dec.decode(await reader.readExact(6)), "exists");
    assert.equal(await reader.readChunk(1), null, "write side closed after the answer");
    assert.ok(Date.now() - t0 < 1_000, "answered without waiting for the body");
  } finally {
    conn.close();
  }
  assert.deepEqual(received, [0, 0, 0], "the handlers saw no body bytes");
});

Deno.test("connection clocks: 408 for a slow head or a stalled body the handler never sees; write timeout closes and reports", async () => {
  const bodies: string[] = [];
  const timeouts: string[] = [];
  const aborts: string[] = [];
  const logged: AccessLogEntry[] = [];
  const handler: Handler = async (req, ctx) => {
    if (req.path === "/big") {
      // Bigger than the socket buffers: a client that does not read blocks the writes.
      return {
        status: 200,
        body: {
          stream: (async function* () {
            for (let i = 0; i < 4096; i++) yield new Uint8Array(64 * 1024);
          })(),
          length: 4096 * 64 * 1024,
        },
      };
    }
    const parts: string[] = [];
    for (let c = await ctx.body.read(); c !== null; c = await ctx.body.read()) {
      parts.push(dec.decode(c));
    }
    bodies.push(parts.join(""));
    return { status: 200, body: "ok" };
  };
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const tracker = new ConnectionTracker({
    keepAliveTimeoutMs: 0,
    headerTimeoutMs: 300,
    bodyTimeoutMs: 300,
    writeTimeoutMs: 300,
    onTimeout: (_conn, kind) => timeouts.push(kind),
  });
  const running: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      running.push(serveConnection(conn, handler, {
        tracker,
        onAbort: (_client, req, reason) => aborts.push(`${req?.path} ${reason}`),
        onRequest: (entry) => logged.push(entry),
      }));
    }
  })();
  const exchangeHead = async (request: string, after?: string) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(enc.encode(request));
      const reader = new BufferedReader(conn);
      const head = dec.decode((await reader.readUntil(CRLFCRLF))!);
      // Too late: the answer is already out, the handler must not get these bytes.
      if (after !== undefined) await conn.write(enc.encode(after)).catch(() => {});
      while ((await reader.readChunk()) !== null) { /* to the close */ }
      return head;
    } finally {
      conn.close();
    }
  };
  try {
    const slowHead = await exchangeHead("GET / HTTP/1.1\r\nHost: h\r\n", "\r\n");
    assert.match(slowHead, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
    const stalled = await exchangeHead(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
      "defghij",
    );
    assert.match(stalled, /^HTTP\/1\.1 408 /);
    assert.deepEqual(bodies, [], "the handler never returned a timed-out body");
    assert.deepEqual(timeouts, ["header", "body"]);

    const reader = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await reader.write(enc.encode("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")); // and never read
      const t0 = Date.now();
      while (aborts.length === 0 && Date.now() - t0 < 3_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(timeouts, ["header", "body", "write"]);
      assert.match(aborts[0] ?? "", /^\/big write timeout: the client read nothing for 0\.3 s/);
      // The cut response is still in the access log, with the bytes that did go out.
      const big = logged.find((e) => e.target === "/big");
      assert.ok(big !== undefined && big.status === 200, JSON.stringify(logged));
      assert.ok(big.bytes > 0 && big.bytes < 4096 * 64 * 1024, `${big.bytes} bytes logged`);
    } finally {
      reader.close();
    }
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await tracker.shutdown(1_000);
    await Promise.all(running);
  }
});
