/** Unit tests for lib/http/request.ts: every refusal status, framing, target decoding. */
import assert from "node:assert/strict";
import { HttpError } from "../lib/http/errors.ts";
import { compose, type RequestContext } from "../lib/http/handler.ts";
import { withKnownMethods } from "../lib/http/methods.ts";
import {
  checkRequestLinePrefix,
  decodeTarget,
  DEFAULT_REQUEST_LIMITS,
  MAX_HEADER_BYTES,
  MAX_HEADER_FIELDS,
  MAX_REQUEST_LINE_BYTES,
  parseRequestHead,
} from "../lib/http/h1/request.ts";
import { percentDecode } from "../lib/http/semantics/target.ts";

const enc = new TextEncoder();
const parse = (text: string, limits = DEFAULT_REQUEST_LIMITS) =>
  parseRequestHead(enc.encode(text), limits);

function refuses(text: string, status: number, code: string, close = true): void {
  assert.throws(() => parse(text), (err: unknown) => {
    assert.ok(err instanceof HttpError, `expected HttpError, got ${err}`);
    assert.equal(err.status, status, `${JSON.stringify(text)}: ${err.message}`);
    assert.equal(err.code, code);
    assert.equal(err.close, close);
    return true;
  });
}

Deno.test("parses a simple GET with lowercase header names and keep-alive default", () => {
  const head = parse("GET /a%20b?x=1&y HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n");
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/a%20b?x=1&y");
  assert.equal(head.rawPath, "/a%20b");
  assert.equal(head.path, "/a b");
  assert.equal(head.query, "x=1&y");
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.host, "example");
  assert.equal(head.headers.get("user-agent"), "t");
  assert.equal(head.keepAlive, true);
  assert.deepEqual(head.body, { kind: "none" });
  assert.equal(head.expectContinue, false);
});

Deno.test("keep-alive rules: 1.0 closes unless asked, Connection: close honoured", () => {
  assert.equal(parse("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
  assert.equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive, true);
  assert.equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keepAlive, false);
  assert.equal(
    parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, CLOSE\r\n\r\n").keepAlive,
    false,
  );
});

Deno.test("header values: OWS trimmed, duplicates joined, obs-text kept", () => {
  const head = parse("GET / HTTP/1.1\r\nHost: h\r\nAccept:  a \t\r\nAccept: b\r\n\r\n");
  assert.equal(head.headers.get("accept"), "a, b");
  const bytes = new Uint8Array([
    ...enc.encode("GET / HTTP/1.1\r\nHost: h\r\nX: caf"),
    0xe9,
    ...enc.encode("\r\n\r\n"),
  ]);
  assert.equal(parseRequestHead(bytes).headers.get("x")?.length, 4); // one char per byte
});

Deno.test("leading empty lines before the request line are ignored (RFC 9112 §2.2)", () => {
  assert.equal(parse("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n").path, "/x");
});

Deno.test("body framing: none, Content-Length, chunked, identical duplicate CL", () => {
  assert.deepEqual(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").body, {
    kind: "none",
  });
  assert.deepEqual(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n").body, {
    kind: "length",
    length: 12,
  });
  assert.deepEqual(
    parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n").body,
    { kind: "length", length: 7 },
  );
  assert.deepEqual(
    parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n").body,
    { kind: "chunked" },
  );
});

Deno.test("Expect: 100-continue only with a body on 1.1; other expectations → 417", () => {
  const head = parse(
    "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
  );
  assert.equal(head.expectContinue, true);
  assert.equal(parse("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expectContinue, false);
  refuses("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417, "EXPECTATION_FAILED");
});

Deno.test("400: malformed request lines", () => {
  for (
    const line of [
      "GET /",
      "GET  / HTTP/1.1",
      "GET / HTTP/1.1 ",
      " GET / HTTP/1.1",
      "GET / HTTP/1.1 extra",
      "GET / HTTX/1.1",
      "GET / HTTP/1",
      "GET / HTTP/11.1",
      "GET / http/1.1",
      "G(T / HTTP/1.1",
      "GET\t/ HTTP/1.1",
    ]
  ) refuses(`${line}\r\nHost: h\r\n\r\n`, 400, "BAD_REQUEST_LINE");
  refuses("\r\n\r\n", 400, "BAD_REQUEST_LINE");
});

Deno.test("400: invalid request targets", () => {
  refuses("GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  refuses("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_PERCENT_ENCODING");
  refuses("GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_PERCENT_ENCODING");
  refuses("GET /%ff%fe HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_PERCENT_ENCODING");
});

Deno.test("400: Host missing on 1.1, duplicated, or invalid; fine on 1.0", () => {
  refuses("GET / HTTP/1.1\r\n\r\n", 400, "MISSING_HOST");
  refuses("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "DUPLICATE_HOST");
  refuses("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "BAD_HEADER");
  refuses("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "BAD_HEADER");
  assert.equal(parse("GET / HTTP/1.0\r\n\r\n").host, null);
});

Deno.test("400 + close: header-line smuggling vectors", () => {
  refuses("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "HEADER_NAME_WHITESPACE");
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX-A\t: 1\r\n\r\n", 400, "HEADER_NAME_WHITESPACE");
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n", 400, "OBS_FOLD");
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfolded\r\n\r\n", 400, "OBS_FOLD");
  refuses("GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n", 400, "BAD_HEADER");
  refuses("GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n", 400, "BAD_HEADER");
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX(: 1\r\n\r\n", 400, "BAD_HEADER");
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX: a\nY: b\r\n\r\n", 400, "BAD_HEADER"); // bare LF
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX: a\rY: b\r\n\r\n", 400, "BAD_HEADER"); // bare CR
  refuses("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400, "BAD_HEADER");
});

Deno.test("400 + close: ambiguous body framing", () => {
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
    "CONTENT_LENGTH_AND_TRANSFER_ENCODING",
  );
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    400,
    "CONTENT_LENGTH_AND_TRANSFER_ENCODING",
  );
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    400,
    "DUPLICATE_CONTENT_LENGTH",
  );
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n",
    400,
    "DUPLICATE_CONTENT_LENGTH",
  );
  for (const bad of ["abc", "-1", "+5", "5 5", "0x10", "1e3", "", "1234567890123456"]) {
    refuses(
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${bad}\r\n\r\n`,
      400,
      "BAD_CONTENT_LENGTH",
    );
  }
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
    400,
    "BAD_TRANSFER_ENCODING",
  );
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    400,
    "BAD_TRANSFER_ENCODING",
  );
  refuses("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "BAD_TRANSFER_ENCODING");
  refuses(
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    501,
    "TRANSFER_CODING_NOT_IMPLEMENTED",
  );
});

Deno.test("414: request line over MAX_REQUEST_LINE_BYTES", () => {
  const path = "/" + "a".repeat(MAX_REQUEST_LINE_BYTES);
  refuses(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`, 414, "URI_TOO_LONG");
  // Exactly at the limit is fine.
  const fits = "/" + "a".repeat(MAX_REQUEST_LINE_BYTES - "GET  HTTP/1.1".length - 1);
  assert.equal(parse(`GET ${fits} HTTP/1.1\r\nHost: h\r\n\r\n`).rawPath, fits);
});

Deno.test("431: header block over MAX_HEADER_BYTES or MAX_HEADER_FIELDS", () => {
  refuses(
    `GET / HTTP/1.1\r\nHost: h\r\nX: ${"v".repeat(MAX_HEADER_BYTES)}\r\n\r\n`,
    431,
    "HEADERS_TOO_LARGE",
  );
  let many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (let i = 0; i < MAX_HEADER_FIELDS; i++) many += `X-${i}: ${i}\r\n`;
  refuses(many + "\r\n", 431, "TOO_MANY_HEADERS");
  // One fewer (Host + 99) fits.
  let fits = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (let i = 0; i < MAX_HEADER_FIELDS - 1; i++) fits += `X-${i}: ${i}\r\n`;
  assert.equal(parse(fits + "\r\n").headers.size, MAX_HEADER_FIELDS);
});

Deno.test("501: unknown or unsupported methods; methods are case-sensitive", async () => {
  // The parser accepts any method token; the method policy (lib/http/methods.ts, in the
  // handler layer) answers 501 and close for one no handler implements.
  const policy = compose([withKnownMethods()], () => ({ status: 200, body: "ok" }));
  const answer = async (text: string) => await policy(parse(text), {} as unknown as RequestContext);
  for (const text of ["BREW /pot", "get /", "CONNECT h:443"]) {
    const res = await answer(`${text} HTTP/1.1\r\nHost: h\r\n\r\n`);
    assert.equal(res.status, 501, text);
    assert.equal(res.close, true, text);
    assert.match(String(res.body), /^501 Not Implemented: method \S+ is not implemented\n$/);
  }
  assert.equal(parse("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n").host, "h:443");
  refuses("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "BAD_TARGET");
  for (const m of ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"]) {
    assert.equal(parse(`${m} / HTTP/1.1\r\nHost: h\r\n\r\n`).method, m);
    assert.equal((await answer(`${m} / HTTP/1.1\r\nHost: h\r\n\r\n`)).status, 200);
  }
});

Deno.test("checkRequestLinePrefix: bytes that cannot start a request line are refused at once", () => {
  const enc = new TextEncoder();
  const refusesPrefix = (bytes: Uint8Array, code: string) =>
    assert.throws(() => checkRequestLinePrefix(bytes), (err: unknown) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 400);
      assert.equal(err.code, code);
      assert.equal(err.close, true);
      return true;
    });
  // A TLS ClientHello's first byte, named as such.
  refusesPrefix(new Uint8Array([0x16, 0x03, 0x01]), "BAD_REQUEST_LINE");
  assert.throws(() => checkRequestLinePrefix(new Uint8Array([0x16])), /TLS handshake/);
  refusesPrefix(new Uint8Array([0x00]), "BAD_REQUEST_LINE");
  refusesPrefix(enc.encode(" GET"), "BAD_REQUEST_LINE");
  refusesPrefix(enc.encode("GE(T"), "BAD_REQUEST_LINE");
  refusesPrefix(enc.encode("GET /a\x01"), "BAD_TARGET");
  refusesPrefix(enc.encode("GET / HTTQ"), "BAD_REQUEST_LINE");
  // Every prefix of a valid request may still complete: no throw.
  const valid = enc.encode("\r\nGET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\n");
  for (let n = 0; n <= valid.length; n++) checkRequestLinePrefix(valid.subarray(0, n));
  checkRequestLinePrefix(enc.encode("BREW /pot HTTP/1.1\r\n"));
});

Deno.test("505: well-formed but unsupported versions", () => {
  for (const v of ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"]) {
    refuses(`GET / ${v}\r\nHost: h\r\n\r\n`, 505, "VERSION_NOT_SUPPORTED");
  }
});

Deno.test("absolute-form: authority wins over Host, path and query split", () => {
  const head = parse("GET HTTP://Example.org:8080/x%2Fy?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  assert.equal(head.host, "Example.org:8080");
  assert.equal(head.rawPath, "/x%2Fy");
  assert.equal(head.path, "/x/y");
  assert.equal(head.query, "q=1");
  assert.deepEqual(decodeTarget("http://h?q", "GET"), {
    rawPath: "/",
    path: "/",
    query: "q",
    authority: "h",
  });
  assert.deepEqual(decodeTarget("http://h", "GET"), {
    rawPath: "/",
    path: "/",
    query: "",
    authority: "h",
  });
  assert.equal(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").rawPath, "*");
});

Deno.test("percent-decoding happens exactly once; UTF-8 required", () => {
  assert.equal(percentDecode("/a%252e%252e"), "/a%2e%2e");
  assert.equal(percentDecode("/%2e%2E/x"), "/../x"); // decoded; safe_path refuses it later
  assert.equal(percentDecode("/caf%C3%A9"), "/café");
  assert.equal(percentDecode("/%00"), "/\0");
  assert.equal(percentDecode("/plain"), "/plain");
  for (const bad of ["/%", "/%2", "/%g0", "/%c3", "/%c3%28", "/%ed%a0%80"]) {
    assert.throws(
      () => percentDecode(bad),
      (e: unknown) =>
        e instanceof HttpError && e.status === 400 && e.code === "BAD_PERCENT_ENCODING",
    );
  }
});

Deno.test("custom limits are honoured", () => {
  const limits = { ...DEFAULT_REQUEST_LIMITS, maxRequestLineBytes: 20, maxHeaderFields: 1 };
  assert.throws(() => parse("GET /0123456789abcdef HTTP/1.1\r\nHost: h\r\n\r\n", limits), {
    status: 414,
  });
  assert.throws(() => parse("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n", limits), {
    status: 431,
  });
});

Deno.test("mutated heads either parse or throw HttpError, never anything else", () => {
  // Deterministic xorshift PRNG: the same 5000 mutants every run.
  let state = 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const seed = enc.encode(
    "POST http://h/a%20b?q HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
  );
  const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x25, 0x2c, 0x2f, 0x3a, 0x7f, 0x80, 0xff];
  let parsed = 0;
  for (let i = 0; i < 5000; i++) {
    const bytes = seed.slice();
    const edits = 1 + Math.floor(next() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * (bytes.length - 4)); // keep the final CRLFCRLF
      bytes[at] = next() < 0.5
        ? interesting[Math.floor(next() * interesting.length)]
        : Math.floor(next() * 256);
    }
    try {
      const head = parseRequestHead(bytes);
      parsed++;
      assert.ok(head.version === "HTTP/1.1" || head.version === "HTTP/1.0");
      assert.ok(head.path.startsWith("/") || head.path === "*");
    } catch (err) {
      assert.ok(err instanceof HttpError, `mutant ${i} threw ${err}`);
      assert.ok([400, 414, 417, 431, 501, 505].includes(err.status), `status ${err.status}`);
    }
  }
  assert.ok(parsed > 0, "some mutants should still be valid");
});
