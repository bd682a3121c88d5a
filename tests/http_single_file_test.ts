/**
 * `http-serve FILE`: one file shared on its own, through the real CLI with curl — the page
 * at `/`, the file at `/NAME` with ranges and resume, nothing else of its folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { curlResponse, runCli, serveHttp, tempTree } from "./helpers.ts";

const BIG = new Uint8Array(200 * 1024).map((_, i) => (i * 7) % 251); // streamed, not cached

Deno.test("single file: a page at /, the file at /NAME, every other path 404", async () => {
  await using tree = await tempTree({
    "build.iso": BIG,
    "build.iso.gz": "not this",
    "secret.txt": "not shared",
  });
  await using server = await serveHttp(join(tree.path, "build.iso"));
  assert.match(server.lines[0], /\(serving the file .*build\.iso\)$/);

  const page = await curlResponse([`${server.url}/`]);
  assert.equal(page.status, 200);
  assert.match(page.headers, /content-type: text\/html/i);
  assert.match(page.body, /<a href="build\.iso">(<svg[^]*?<\/svg>)?build\.iso<\/a>/);
  assert.match(page.body, /200 KiB/);

  const whole = await fetch(`${server.url}/build.iso`, { headers: { "accept-encoding": "gzip" } });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get("content-encoding"), null, "no sibling .gz instead");
  assert.ok(whole.headers.get("etag"));
  assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), BIG);

  for (const path of ["/secret.txt", "/build.iso.gz", "/build.iso/", "/x/../secret.txt"]) {
    const res = await curlResponse(["--path-as-is", `${server.url}${path}`]);
    assert.equal(res.status, 404, path);
  }
});

Deno.test("single file: curl -r and curl -C - resume", async () => {
  await using tree = await tempTree({ "build.iso": BIG });
  await using server = await serveHttp(join(tree.path, "build.iso"), "--quiet");
  const url = `${server.url}/build.iso`;

  const range = await curlResponse(["-r", "0-9", url]);
  assert.equal(range.status, 206);
  assert.match(range.headers, new RegExp(`content-range: bytes 0-9/${BIG.length}`, "i"));
  assert.deepEqual(new TextEncoder().encode(range.body), BIG.subarray(0, 10));

  // A download cut after 1000 bytes, resumed with -C -, ends byte-identical.
  const out = join(tree.path, "download.iso");
  await Deno.writeFile(out, BIG.subarray(0, 1000));
  const resumed = await curlResponse(["-C", "-", url], { output: out });
  assert.equal(resumed.status, 206);
  assert.deepEqual(await Deno.readFile(out), BIG);

  const unchanged = await curlResponse([
    "-H",
    `If-None-Match: ${(await fetch(url, { method: "HEAD" })).headers.get("etag")}`,
    url,
  ]);
  assert.equal(unchanged.status, 304);
});

Deno.test("single file: the page escapes the name and links it encoded", async () => {
  await using tree = await tempTree({ "r&d <1>.bin": "x" });
  await using server = await serveHttp(join(tree.path, "r&d <1>.bin"));
  const page = await (await fetch(`${server.url}/`)).text();
  assert.ok(page.includes("r&amp;d &lt;1&gt;.bin"), page);
  assert.ok(!page.includes("<1>"));
  assert.ok(page.includes('href="r%26d%20%3C1%3E.bin"'), page);
  assert.equal(await (await fetch(`${server.url}/r%26d%20%3C1%3E.bin`)).text(), "x");
});

Deno.test("single file: a symlink is shared under its own name; a dotfile too", async () => {
  await using tree = await tempTree({
    "releases/app-1.2.bin": "v1.2\n",
    "latest.bin": { symlink: "releases/app-1.2.bin" },
    ".env": "A=1\n",
  });
  await using server = await serveHttp(join(tree.path, "latest.bin"));
  assert.equal(await (await fetch(`${server.url}/latest.bin`)).text(), "v1.2\n");
  assert.equal((await curlResponse([`${server.url}/app-1.2.bin`])).status, 404);

  await using dot = await serveHttp(join(tree.path, ".env"));
  assert.equal(await (await fetch(`${dot.url}/.env`)).text(), "A=1\n");
});

Deno.test("single file: --upload (and other folder flags) is a one-line usage error", async () => {
  await using tree = await tempTree({ "build.iso": "x" });
  for (const flag of ["--upload", "--watch", "--spa", "--clean-urls"]) {
    const { code, stderr } = await runCli(["http-serve", join(tree.path, "build.iso"), flag]);
    assert.equal(code, 2, flag);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, new RegExp(`${flag} needs a DIR; .* is a single file`));
  }
});
