/** Unit tests for lib/http/safe_path.ts: every traversal form is refused as "not found". */
import assert from "node:assert/strict";
import {
  canonicalRoot,
  isInsideRoot,
  resolveSafePath,
  safePathSegments,
} from "../lib/http/files/safe_path.ts";
import { tempTree } from "./helpers.ts";

Deno.test("safePathSegments: plain paths split and decoded once", () => {
  assert.deepEqual(safePathSegments("/"), []);
  assert.deepEqual(safePathSegments("/a/b.txt"), ["a", "b.txt"]);
  assert.deepEqual(safePathSegments("//a///b/"), ["a", "b"]);
  assert.deepEqual(safePathSegments("/a%20b/caf%C3%A9"), ["a b", "café"]);
  // Double encoding is decoded once only: the name is literally "%2e%2e".
  assert.deepEqual(safePathSegments("/%252e%252e/x"), ["%2e%2e", "x"]);
  assert.deepEqual(safePathSegments("/%252f"), ["%2f"]);
});

Deno.test("safePathSegments: every traversal and separator trick is refused", () => {
  for (
    const raw of [
      "/..",
      "/../etc/passwd",
      "/a/../../etc/passwd",
      "/a/./b",
      "/%2e%2e/etc/passwd",
      "/%2E%2E/etc/passwd",
      "/.%2e/x",
      "/a%2f..%2f..%2fetc%2fpasswd", // encoded slash
      "/a%2Fb",
      "/..%5c..%5cwindows", // encoded backslash
      "/a%5Cb",
      "/a\\b", // raw backslash
      "/a%00.txt", // NUL
      "/%00",
      "/%zz", // invalid encoding
      "relative/path",
      "", // not a path
      "*",
    ]
  ) assert.equal(safePathSegments(raw), null, raw);
});

Deno.test("safePathSegments: dotfiles refused unless allowed", () => {
  assert.equal(safePathSegments("/.env"), null);
  assert.equal(safePathSegments("/.git/config"), null);
  assert.equal(safePathSegments("/a/.hidden/b"), null);
  assert.equal(safePathSegments("/%2eenv"), null);
  assert.deepEqual(safePathSegments("/.env", { dotfiles: true }), [".env"]);
  // Still no traversal with dotfiles on.
  assert.equal(safePathSegments("/..", { dotfiles: true }), null);
  assert.deepEqual(safePathSegments("/a.b/c."), ["a.b", "c."]);
});

Deno.test("isInsideRoot compares whole path components", () => {
  assert.ok(isInsideRoot("/srv/www", "/srv/www"));
  assert.ok(isInsideRoot("/srv/www", "/srv/www/a"));
  assert.ok(!isInsideRoot("/srv/www", "/srv/www2/a"));
  assert.ok(!isInsideRoot("/srv/www", "/srv"));
  assert.ok(isInsideRoot("/", "/etc"));
});

Deno.test("resolveSafePath on a real tree: files, symlinks in and out of root, dotfiles", async () => {
  await using tree = await tempTree({
    "root/sub/in.txt": "inside",
    "root/.secret": "hidden",
    "outside.txt": "outside",
    "root/link-out.txt": { symlink: "outside.txt", absolute: true },
    "root/dir-out": { symlink: "", absolute: true },
    "root/link-in.txt": { symlink: "root/sub/in.txt", absolute: true },
    "root/to-secret": { symlink: "root/.secret", absolute: true },
    "root/dangling": { symlink: "root/missing", absolute: true },
  });
  const canonical = await canonicalRoot(`${tree.path}/root`);

  const inFile = await resolveSafePath(canonical, "/sub/in.txt");
  assert.ok(inFile !== null);
  assert.equal(inFile.path, `${canonical}/sub/in.txt`);
  assert.ok(inFile.info.isFile);
  assert.equal(inFile.trailingSlash, false);

  const rootDir = await resolveSafePath(canonical, "/");
  assert.ok(rootDir?.info.isDirectory);
  assert.deepEqual(rootDir?.segments, []);
  assert.equal((await resolveSafePath(canonical, "/sub/"))?.trailingSlash, true);

  const linkIn = await resolveSafePath(canonical, "/link-in.txt");
  assert.equal(linkIn?.path, `${canonical}/sub/in.txt`);

  for (
    const raw of [
      "/link-out.txt", // symlink to a file outside the root
      "/dir-out/outside.txt", // through a symlinked directory outside the root
      "/dir-out/root/sub/in.txt", // leaves the root and re-enters it: judged by real path
      "/.secret",
      "/to-secret", // a non-dot name whose target is a dotfile
      "/dangling",
      "/missing.txt",
      "/../outside.txt",
      "/sub/..%2f..%2foutside.txt",
    ]
  ) {
    const found = await resolveSafePath(canonical, raw);
    if (raw === "/dir-out/root/sub/in.txt") {
      // Its real path is inside the root, so it is the same file as /sub/in.txt.
      assert.equal(found?.path, `${canonical}/sub/in.txt`);
    } else {
      assert.equal(found, null, raw);
    }
  }
  assert.equal((await resolveSafePath(canonical, "/.secret", { dotfiles: true }))?.info.size, 6);
  assert.ok((await resolveSafePath(canonical, "/to-secret", { dotfiles: true })) !== null);
  assert.equal(await resolveSafePath(canonical, "/link-out.txt", { dotfiles: true }), null);
});

Deno.test("uploads in progress (.sockit-upload-*) are refused even with dotfiles", async () => {
  await using tree = await tempTree({
    ".sockit-upload-0123abcd": "half",
    ".env": "x",
    ".link": { symlink: ".sockit-upload-0123abcd", absolute: true },
  });
  const root = await canonicalRoot(tree.path);
  assert.equal(safePathSegments("/.sockit-upload-0123abcd", { dotfiles: true }), null);
  assert.equal(safePathSegments("/%2Esockit-upload-0123abcd", { dotfiles: true }), null);
  assert.equal(await resolveSafePath(root, "/.sockit-upload-0123abcd", { dotfiles: true }), null);
  assert.equal(await resolveSafePath(root, "/.link", { dotfiles: true }), null, "via a symlink");
  assert.notEqual(await resolveSafePath(root, "/.env", { dotfiles: true }), null);
});
