/**
 * Unit tests for lib/http/cors.ts: the --cors header sets, preflight detection and answer,
 * and --header parsing with its one-line usage errors.
 *
 * @module
 */
import assert from "node:assert/strict";
import { UsageError } from "../lib/cli.ts";
import {
  CORS_ALLOW_METHODS,
  CORS_MAX_AGE_SECONDS,
  CORS_RESPONSE_HEADERS,
  isPreflightRequest,
  parseHeaderFlag,
  preflightHeaders,
  RESERVED_HEADER_NAMES,
} from "../lib/http/cors.ts";

const h = (fields: Record<string, string>) => new Headers(fields);

Deno.test("CORS_RESPONSE_HEADERS: any origin, range/caching headers exposed", () => {
  const map = new Map(CORS_RESPONSE_HEADERS);
  assert.equal(map.get("access-control-allow-origin"), "*");
  const exposed = map.get("access-control-expose-headers")!.split(", ");
  for (const name of ["Content-Range", "ETag", "Accept-Ranges", "Content-Encoding"]) {
    assert.ok(exposed.includes(name), name);
  }
});

Deno.test("isPreflightRequest: OPTIONS with Origin and Access-Control-Request-Method only", () => {
  const preflight = {
    origin: "http://example.test",
    "access-control-request-method": "GET",
  };
  assert.equal(isPreflightRequest("OPTIONS", h(preflight)), true);
  assert.equal(isPreflightRequest("GET", h(preflight)), false);
  assert.equal(isPreflightRequest("OPTIONS", h({ origin: "http://example.test" })), false);
  assert.equal(isPreflightRequest("OPTIONS", h({ "access-control-request-method": "GET" })), false);
  assert.equal(isPreflightRequest("OPTIONS", h({})), false);
  assert.equal(isPreflightRequest("OPTIONS", new Map(Object.entries(preflight))), true);
});

Deno.test("preflightHeaders: methods, max-age, Vary; no Allow-Headers when none requested", () => {
  assert.deepEqual(preflightHeaders(h({ "access-control-request-method": "GET" })), [
    ["access-control-allow-origin", "*"],
    ["access-control-allow-methods", CORS_ALLOW_METHODS],
    ["access-control-max-age", String(CORS_MAX_AGE_SECONDS)],
    ["vary", "Access-Control-Request-Headers"],
  ]);
});

Deno.test("preflightHeaders: echoes the requested headers, normalised", () => {
  const headers = new Map(
    preflightHeaders(h({ "access-control-request-headers": " range ,x-token,, if-none-match" })),
  );
  assert.equal(headers.get("access-control-allow-headers"), "range, x-token, if-none-match");
});

Deno.test("preflightHeaders: an invalid requested-headers list is not echoed", () => {
  for (const value of ["x token", "a,(b)", ",", "é"]) {
    const headers = new Map(preflightHeaders(new Map([["access-control-request-headers", value]])));
    assert.equal(headers.has("access-control-allow-headers"), false, value);
  }
});

Deno.test("parseHeaderFlag: name lower-cased, value trimmed, empty value allowed", () => {
  assert.deepEqual(parseHeaderFlag("X-Frame-Options: DENY"), ["x-frame-options", "DENY"]);
  assert.deepEqual(parseHeaderFlag("Cache-Control:\tmax-age=60 \t"), [
    "cache-control",
    "max-age=60",
  ]);
  assert.deepEqual(parseHeaderFlag("X-Empty:"), ["x-empty", ""]);
  // Only the first colon separates; the value may contain more.
  assert.deepEqual(parseHeaderFlag("Link: <https://a.test:8443/x>; rel=preload"), [
    "link",
    "<https://a.test:8443/x>; rel=preload",
  ]);
  assert.deepEqual(parseHeaderFlag("x-odd!#$%&'*+-.^_`|~: v"), ["x-odd!#$%&'*+-.^_`|~", "v"]);
});

/** Asserts parseHeaderFlag(flag) throws a one-line UsageError whose message matches. */
function rejects(flag: string, pattern: RegExp): void {
  assert.throws(() => parseHeaderFlag(flag), (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.equal(err.code, "USAGE");
    assert.match(err.message, /^invalid --header "/);
    assert.match(err.message, pattern);
    assert.ok(!/[\r\n]/.test(err.message), "one line");
    return true;
  }, flag);
}

Deno.test("parseHeaderFlag: missing colon", () => {
  rejects("X-Frame-Options DENY", /expected 'Name: value'/);
  rejects("", /expected 'Name: value'/);
});

Deno.test("parseHeaderFlag: invalid names", () => {
  for (const flag of [": v", "X Frame: v", " X: v", "X : v", "X(y): v", "Ä: v", "X\r\nY: v"]) {
    rejects(flag, /header name must be/);
  }
});

Deno.test("parseHeaderFlag: framing headers are reserved", () => {
  for (const name of ["Content-Length", "TRANSFER-ENCODING", "connection"]) {
    rejects(`${name}: 5`, /is set by the server and cannot be overridden/);
  }
  assert.ok(RESERVED_HEADER_NAMES.has("transfer-encoding"));
});

Deno.test("parseHeaderFlag: control characters and non-ASCII in values", () => {
  rejects("X-A: a\r\nSet-Cookie: evil=1", /control characters/);
  rejects("X-A: a\nb", /control characters/);
  rejects("X-A: a\0b", /control characters/);
  rejects("X-A: a\x7fb", /control characters/);
  rejects("X-A: café", /must be ASCII/);
  // The CRLF shows escaped in the message.
  assert.throws(() => parseHeaderFlag("X-A: a\r\nb"), /"X-A: a\\r\\nb"/);
});
