/**
 * Tests for lib/http/cors.ts: the --cors header sets, preflight detection and answer,
 * --header parsing with its one-line usage errors (unit), and the two handler wrappers in
 * the real middleware stack (`--cors`, `--header`, `--auth` through buildHandler) on an
 * in-process server, with fetch.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import {
  CORS_ALLOW_METHODS,
  CORS_MAX_AGE_SECONDS,
  CORS_RESPONSE_HEADERS,
  isPreflightRequest,
  parseHeaderFlag,
  preflightHeaders,
  RESERVED_HEADER_NAMES,
} from "../lib/http/middleware/cors.ts";
import { inProcessServer, tempTree } from "./helpers.ts";

const h = (fields: Record<string, string>) => new Headers(fields);

Deno.test("CORS_RESPONSE_HEADERS: any origin, range/caching headers exposed", () => {
  const map = new Map(CORS_RESPONSE_HEADERS);
  assert.equal(map.get("Access-Control-Allow-Origin"), "*");
  const exposed = map.get("Access-Control-Expose-Headers")!.split(", ");
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
    ["Access-Control-Allow-Origin", "*"],
    ["Access-Control-Allow-Methods", CORS_ALLOW_METHODS],
    ["Access-Control-Max-Age", String(CORS_MAX_AGE_SECONDS)],
    ["Vary", "Access-Control-Request-Headers"],
  ]);
  const upload = new Map(preflightHeaders(h({}), "GET, HEAD, OPTIONS, PUT, POST"));
  assert.equal(upload.get("Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS, PUT, POST");
});

Deno.test("preflightHeaders: echoes the requested headers, normalised", () => {
  const headers = new Map(
    preflightHeaders(h({ "access-control-request-headers": " range ,x-token,, if-none-match" })),
  );
  assert.equal(headers.get("Access-Control-Allow-Headers"), "range, x-token, if-none-match");
});

Deno.test("preflightHeaders: an invalid requested-headers list is not echoed", () => {
  for (const value of ["x token", "a,(b)", ",", "é"]) {
    const headers = new Map(preflightHeaders(new Map([["access-control-request-headers", value]])));
    assert.equal(headers.has("Access-Control-Allow-Headers"), false, value);
  }
});

Deno.test("parseHeaderFlag: name kept as written, value trimmed, empty value allowed", () => {
  assert.deepEqual(parseHeaderFlag("X-Frame-Options: DENY"), ["X-Frame-Options", "DENY"]);
  assert.deepEqual(parseHeaderFlag("cache-control:\tmax-age=60 \t"), [
    "cache-control",
    "max-age=60",
  ]);
  assert.deepEqual(parseHeaderFlag("X-Empty:"), ["X-Empty", ""]);
  // Only the first colon separates; the value may contain more.
  assert.deepEqual(parseHeaderFlag("Link: <https://a.test:8443/x>; rel=preload"), [
    "Link",
    "<https://a.test:8443/x>; rel=preload",
  ]);
  assert.deepEqual(parseHeaderFlag("x-odd!#$%&'*+-.^_`|~: v"), ["x-odd!#$%&'*+-.^_`|~", "v"]);
});

/** Asserts parseHeaderFlag(flag) throws a one-line ConfigError whose message matches. */
function rejects(flag: string, pattern: RegExp): void {
  assert.throws(() => parseHeaderFlag(flag), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
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

// --- The wrappers, in the real middleware stack on a real socket ------------------------

/**
 * Deno 2.9 no longer checks tests for leaked resources and pending ops by default; the
 * socket tests below ask for the checks explicitly.
 */
const SANITIZE = { sanitizeResources: true, sanitizeOps: true } as const;

/** The folder the socket tests serve. */
const SITE = { "data.json": '{"ok":true}\n' };

Deno.test(
  { name: "withCors: files, 404s and preflights over a real socket", ...SANITIZE },
  async () => {
    await using site = await tempTree(SITE);
    await using server = await inProcessServer({ root: site.path, flags: { cors: true } });
    const client = Deno.createHttpClient({});
    try {
      const ok = await fetch(`${server.url}/data.json`, { client });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("access-control-allow-origin"), "*");
      assert.match(ok.headers.get("access-control-expose-headers")!, /Content-Range/);
      assert.equal(await ok.text(), '{"ok":true}\n');

      const missing = await fetch(`${server.url}/nope.txt`, { client });
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get("access-control-allow-origin"), "*");
      await missing.body?.cancel();

      // A preflight answers 204 even where no file is.
      const preflight = await fetch(`${server.url}/api/anything`, {
        client,
        method: "OPTIONS",
        headers: {
          origin: "http://page.test",
          "access-control-request-method": "GET",
          "access-control-request-headers": "range, x-token",
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
      assert.equal(preflight.headers.get("access-control-allow-methods"), CORS_ALLOW_METHODS);
      assert.equal(preflight.headers.get("access-control-allow-headers"), "range, x-token");
      assert.equal(preflight.headers.get("access-control-max-age"), String(CORS_MAX_AGE_SECONDS));
      await preflight.body?.cancel();

      // A plain OPTIONS (no Origin) still reaches the file handler.
      const options = await fetch(`${server.url}/data.json`, { client, method: "OPTIONS" });
      assert.equal(options.status, 204);
      assert.equal(options.headers.get("allow"), "GET, HEAD, OPTIONS");
      await options.body?.cancel();
    } finally {
      client.close();
    }
  },
);

Deno.test(
  { name: "withResponseHeaders: added everywhere, replacing same-named ones", ...SANITIZE },
  async () => {
    await using site = await tempTree(SITE);
    const extra = [
      parseHeaderFlag("X-Frame-Options: DENY"),
      parseHeaderFlag("content-type: application/x-custom"),
      parseHeaderFlag("X-Twice: 1"),
      parseHeaderFlag("X-Twice: 2"),
    ];
    await using server = await inProcessServer({ root: site.path, flags: { header: extra } });
    const client = Deno.createHttpClient({});
    try {
      const ok = await fetch(`${server.url}/data.json`, { client });
      assert.equal(ok.headers.get("x-frame-options"), "DENY");
      assert.equal(ok.headers.get("content-type"), "application/x-custom"); // replaced, not doubled
      assert.equal(ok.headers.get("x-twice"), "1, 2");
      assert.equal(await ok.text(), '{"ok":true}\n');

      const missing = await fetch(`${server.url}/nope.txt`, { client });
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get("x-frame-options"), "DENY");
      await missing.body?.cancel();
    } finally {
      client.close();
    }
  },
);

Deno.test(
  { name: "withCors outside withBasicAuth: preflights pass, a 401 is readable", ...SANITIZE },
  async () => {
    await using site = await tempTree(SITE);
    await using server = await inProcessServer({
      root: site.path,
      flags: { cors: true, auth: ["alice:secret"] },
    });
    const client = Deno.createHttpClient({});
    try {
      // Browsers send no credentials on a preflight.
      const preflight = await fetch(`${server.url}/data.json`, {
        client,
        method: "OPTIONS",
        headers: { origin: "http://page.test", "access-control-request-method": "GET" },
      });
      assert.equal(preflight.status, 204);
      await preflight.body?.cancel();

      const denied = await fetch(`${server.url}/data.json`, { client });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get("access-control-allow-origin"), "*");
      await denied.body?.cancel();

      const allowed = await fetch(`${server.url}/data.json`, {
        client,
        headers: { authorization: `Basic ${btoa("alice:secret")}` },
      });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers.get("access-control-allow-origin"), "*");
      assert.equal(await allowed.text(), '{"ok":true}\n');
    } finally {
      client.close();
    }
  },
);
