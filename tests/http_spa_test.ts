/**
 * Unit tests for lib/http/spa.ts: which missing paths fall back to /index.html.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SPA_FALLBACK_PATH, spaFallbackPath } from "../lib/http/files/spa.ts";

Deno.test("spaFallbackPath: extensionless routes fall back for GET and HEAD", () => {
  for (const path of ["/users/42", "/settings/", "/a/b/c", "/", "/v1.2/x"]) {
    assert.equal(spaFallbackPath("GET", path), SPA_FALLBACK_PATH, path);
  }
  assert.equal(spaFallbackPath("HEAD", "/users/42"), "/index.html");
});

Deno.test("spaFallbackPath: missing assets stay 404", () => {
  for (const path of ["/app.js", "/img/logo.png", "/users/42.json", "/archive.tar.gz"]) {
    assert.equal(spaFallbackPath("GET", path), null, path);
  }
});

Deno.test("spaFallbackPath: dot segments and dotfiles never route", () => {
  for (const path of ["/.env", "/.well-known/acme-challenge/x", "/a/.git/config", "/a/../b"]) {
    assert.equal(spaFallbackPath("GET", path), null, path);
  }
});

Deno.test("spaFallbackPath: other methods get their normal answer", () => {
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    assert.equal(spaFallbackPath(method, "/users/42"), null, method);
  }
});
