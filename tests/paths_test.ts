/** Unit tests for lib/paths.ts, checked against node:path's POSIX answers. */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { baseName, dirName, joinPath } from "../lib/paths.ts";

const SAMPLES = [
  "/srv/share/build.iso",
  "/srv/share/",
  "/srv",
  "/",
  "a",
  "a/b",
  "a/b//",
  "",
  "./x",
  "../y/z",
];

Deno.test("baseName and dirName answer as node:path does (POSIX)", () => {
  if (Deno.build.os === "windows") return;
  for (const path of SAMPLES) {
    if (path === "") continue;
    assert.equal(baseName(path), posix.basename(path), `basename(${path})`);
    assert.equal(dirName(path), posix.dirname(path), `dirname(${path})`);
  }
});

Deno.test("joinPath answers as node:path's join does (POSIX)", () => {
  if (Deno.build.os === "windows") return;
  const cases = [
    ["/srv", "share", "a.txt"],
    ["/srv/", "share"],
    ["/a/b/c", "..", "..", "..", "static"],
    ["/a", "..", "..", "x"],
    ["a", "..", "..", "b"],
    ["a", ".", "b//c/"],
    ["", "x"],
    [],
    ["a", ".."],
  ];
  for (const parts of cases) {
    assert.equal(joinPath(...parts), posix.join(...parts), parts.join(","));
  }
});
