/**
 * Unit tests for lib/http/encoding.ts: Accept-Encoding parsing and negotiation, the
 * candidate list the file server walks, compressible types, and the streaming gzip helper
 * (checked by a real round trip through DecompressionStream).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseQValue } from "../lib/http/semantics/negotiation.ts";
import {
  acceptableCodings,
  encodingCandidates,
  isCompressibleType,
  parseAcceptEncoding,
} from "../lib/http/semantics/encoding.ts";

Deno.test("parseQValue: the RFC grammar, anything else is 0", () => {
  assert.equal(parseQValue("1"), 1);
  assert.equal(parseQValue("1.000"), 1);
  assert.equal(parseQValue("0"), 0);
  assert.equal(parseQValue("0.5"), 0.5);
  assert.equal(parseQValue("0.125"), 0.125);
  assert.equal(parseQValue("0."), 0);
  for (const bad of ["", "2", "1.5", "0.1234", "-0.5", ".5", "1e0", "abc", "1.001"]) {
    assert.equal(parseQValue(bad), 0, bad);
  }
});

Deno.test("parseAcceptEncoding: names, q-values, whitespace, x-gzip, duplicates", () => {
  assert.deepEqual(
    parseAcceptEncoding("gzip, deflate, br;q=0.9, *;q=0"),
    new Map([["gzip", 1], ["deflate", 1], ["br", 0.9], ["*", 0]]),
  );
  assert.deepEqual(
    parseAcceptEncoding(" GZIP ; Q=0.5 ,, BR\t"),
    new Map([["gzip", 0.5], ["br", 1]]),
  );
  assert.deepEqual(parseAcceptEncoding("x-gzip"), new Map([["gzip", 1]]));
  assert.deepEqual(parseAcceptEncoding("gzip;q=0.2, gzip;q=1"), new Map([["gzip", 0.2]]));
  // Other parameters are ignored; a broken q makes the coding unacceptable.
  assert.deepEqual(parseAcceptEncoding("br;level=5;q=0.3"), new Map([["br", 0.3]]));
  assert.deepEqual(parseAcceptEncoding("br;q=high, gzip;q"), new Map([["br", 0], ["gzip", 0]]));
  assert.deepEqual(parseAcceptEncoding(""), new Map());
});

Deno.test("acceptableCodings: no header → identity only", () => {
  assert.deepEqual(acceptableCodings(null), ["identity"]);
  assert.deepEqual(acceptableCodings(undefined), ["identity"]);
});

Deno.test("acceptableCodings: an empty header → identity only (§12.5.3)", () => {
  assert.deepEqual(acceptableCodings(""), ["identity"]);
});

Deno.test("acceptableCodings: browsers' headers prefer br, then zstd, then gzip", () => {
  assert.deepEqual(acceptableCodings("gzip, deflate, br, zstd"), [
    "br",
    "zstd",
    "gzip",
    "identity",
  ]);
  assert.deepEqual(acceptableCodings("gzip, deflate"), ["gzip", "identity"]);
  assert.deepEqual(acceptableCodings("deflate"), ["identity"]);
});

Deno.test("acceptableCodings: q-values order and exclude", () => {
  assert.deepEqual(acceptableCodings("br;q=0.5, gzip"), ["gzip", "br", "identity"]);
  assert.deepEqual(acceptableCodings("br;q=0, gzip"), ["gzip", "identity"]);
  // identity named with a higher q beats a coding.
  assert.deepEqual(acceptableCodings("gzip;q=0.5, identity"), ["identity", "gzip"]);
  assert.deepEqual(acceptableCodings("gzip, identity;q=0"), ["gzip"]);
});

Deno.test("acceptableCodings: * covers what is not named", () => {
  assert.deepEqual(acceptableCodings("*"), ["br", "zstd", "gzip", "identity"]);
  assert.deepEqual(acceptableCodings("gzip;q=0.5, *;q=0.8"), ["br", "zstd", "identity", "gzip"]);
  assert.deepEqual(acceptableCodings("*;q=0"), []);
  assert.deepEqual(acceptableCodings("identity, *;q=0"), ["identity"]);
  // Chromium's header for <video> range requests.
  assert.deepEqual(acceptableCodings("identity;q=1, *;q=0"), ["identity"]);
});

Deno.test("encodingCandidates: siblings br then gz, then identity", () => {
  assert.deepEqual(encodingCandidates("gzip, br"), [
    { source: "sibling", coding: "br", suffix: ".br" },
    { source: "sibling", coding: "gzip", suffix: ".gz" },
    { source: "identity", coding: "identity" },
  ]);
  assert.deepEqual(encodingCandidates(null), [{ source: "identity", coding: "identity" }]);
});

Deno.test("encodingCandidates: codings ranked below identity are never tried", () => {
  assert.deepEqual(encodingCandidates("identity, gzip;q=0.5"), [
    { source: "identity", coding: "identity" },
  ]);
});

Deno.test("encodingCandidates: identity is the fallback even when excluded", () => {
  assert.deepEqual(encodingCandidates("*;q=0"), [{ source: "identity", coding: "identity" }]);
  assert.deepEqual(encodingCandidates("br, identity;q=0"), [
    { source: "sibling", coding: "br", suffix: ".br" },
    { source: "identity", coding: "identity" },
  ]);
});

Deno.test("isCompressibleType: text, JSON, JS, SVG, XML, wasm yes; media and archives no", () => {
  for (
    const type of [
      "text/html; charset=utf-8",
      "text/css",
      "text/plain",
      "TEXT/CSV",
      "application/json",
      "application/manifest+json",
      "application/javascript; charset=utf-8",
      "application/xml",
      "application/atom+xml",
      "image/svg+xml",
      "application/wasm",
      "font/ttf",
      "font/otf",
      "image/x-icon",
    ]
  ) {
    assert.equal(isCompressibleType(type), true, type);
  }
  for (
    const type of [
      null,
      undefined,
      "",
      "image/png",
      "image/jpeg",
      "image/webp",
      "video/mp4",
      "audio/mpeg",
      "application/zip",
      "application/gzip",
      "application/octet-stream",
      "application/pdf",
      "font/woff2",
      "font/woff",
    ]
  ) {
    assert.equal(isCompressibleType(type), false, String(type));
  }
});
