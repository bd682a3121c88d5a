import assert from "node:assert/strict";
import { cleanUrlCandidate } from "../lib/http/files/clean_urls.ts";

Deno.test("cleanUrlCandidate: extensionless paths get .html", () => {
  assert.equal(cleanUrlCandidate("/about"), "/about.html");
  assert.equal(cleanUrlCandidate("/docs/getting-started"), "/docs/getting-started.html");
  assert.equal(cleanUrlCandidate("/v1.2/notes"), "/v1.2/notes.html");
  assert.equal(cleanUrlCandidate("/ünïcode"), "/ünïcode.html");
});

Deno.test("cleanUrlCandidate: directories, extensions and dotfiles get none", () => {
  for (const path of ["", "/", "/docs/", "/logo.png", "/about.html", "/.env", "/a/..", "/a/."]) {
    assert.equal(cleanUrlCandidate(path), null, path);
  }
});
