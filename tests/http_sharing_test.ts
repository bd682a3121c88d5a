/**
 * The sharing flags (`--auth`, `--upload`, the tar download, `--metrics`, `--clean-urls`)
 * in the handler buildHandler makes, served in-process by the real HttpServer, exercised
 * with curl and tar as a user would.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { HttpServeFlags } from "../lib/http/server/config.ts";
import { METRICS_PATH } from "../lib/http/sharing/metrics.ts";
import { listingActionsHtml } from "../lib/http/sharing/middleware.ts";
import {
  curlResponse,
  type CurlResult,
  entryNames,
  inProcessServer,
  runTool,
  tempTree,
} from "./helpers.ts";

/**
 * Serves `root` in this process with the handler http-serve builds for `flags` (always with
 * `--metrics`) until disposed.
 */
function serve(root: string, flags: HttpServeFlags = {}) {
  return inProcessServer({ root, flags: { metrics: true, ...flags } });
}

/** Runs curl (exit 0 required); the final status, response headers and body text. */
function curl(args: string[], output?: string): Promise<CurlResult> {
  return curlResponse(args, { output });
}

/** The folder each test serves; removed on dispose. */
function makeSite() {
  return tempTree({
    "up/": null,
    "index.html": "<h1>home</h1>\n",
    "about.html": "<h1>about</h1>\n",
    "share/a.txt": "alpha\n",
    "share/sub/b.txt": "beta\n",
    "share/.secret": "hidden\n",
  });
}

Deno.test("sharing --auth: nothing gets through without the right credentials", async () => {
  await using site = await makeSite();
  const root = site.path;
  const hex = createHash("sha256").update("hunter2").digest("hex");
  await using server = await serve(root, { auth: ["alice:s3cret", `bob:sha256:${hex}`] });
  const u = server.url;
  const denied = [
    [`${u}/`],
    [`${u}/share/a.txt`],
    ["-I", `${u}/share/a.txt`],
    ["-X", "OPTIONS", `${u}/share/a.txt`],
    ["-X", "OPTIONS", "--request-target", "*", `${u}/`],
    ["--path-as-is", `${u}/share/%2e%2e/index.html`],
    [`${u}/share/%61.txt`],
    [`${u}${METRICS_PATH}`],
    ["-u", "alice:wrong", `${u}/`],
    ["-u", "bob:s3cret", `${u}/`],
    ["-u", "carol:s3cret", `${u}/`],
    ["-H", "Authorization: Basic !!!", `${u}/`],
    ["-H", "Authorization: Bearer abc", `${u}/`],
  ];
  for (const args of denied) {
    const r = await curl(args);
    assert.equal(r.status, 401, args.join(" "));
    assert.match(r.headers, /^WWW-Authenticate: Basic realm="sockit", charset="UTF-8"\r?$/m);
    assert.ok(!r.body.includes("alpha") && !r.body.includes("home"), args.join(" "));
  }
  const alice = await curl(["-u", "alice:s3cret", `${u}/share/a.txt`]);
  assert.equal(alice.status, 200);
  assert.equal(alice.body, "alpha\n");
  const bob = await curl(["-u", "bob:hunter2", `${u}/`]);
  assert.equal(bob.status, 200);
  assert.match(bob.body, /home/);
});

Deno.test("sharing tar: a folder downloads as a tar that extracts to the tree", async () => {
  await using site = await makeSite();
  const root = site.path;
  await using server = await serve(root);
  const tarPath = `${root}/../sockit-sharing-${crypto.randomUUID()}.tar`;
  try {
    const head = await curl([`${server.url}/share/?download=tar`], tarPath);
    assert.equal(head.status, 200);
    assert.match(head.headers, /^Content-Type: application\/x-tar\r?$/m);
    assert.match(head.headers, /^Content-Disposition: attachment; filename="share\.tar"/m);
    // Laid out before streaming: the exact length is known (archive_download.ts).
    assert.match(head.headers, /^Content-Length: \d+\r?$/m);
    const listing = (await runTool("tar", ["-tf", tarPath])).trim().split("\n").sort();
    assert.deepEqual(listing, [
      "share/",
      "share/a.txt",
      "share/sub/",
      "share/sub/b.txt",
    ]);
    // HEAD: same headers, no archive built; a file with the query is just the file.
    const onlyHead = await curl(["-I", `${server.url}/share/?download=tar`]);
    assert.equal(onlyHead.status, 200);
    const file = await curl([`${server.url}/share/a.txt?download=tar`]);
    assert.equal(file.body, "alpha\n");
    const hidden = await curl([`${server.url}/share/.secret/?download=tar`]);
    assert.equal(hidden.status, 404);
  } finally {
    await Deno.remove(tarPath).catch(() => {});
  }
});

Deno.test("sharing --upload: PUT stores, refuses conflicts, limits and traversal", async () => {
  await using site = await makeSite();
  const root = site.path;
  const payload = new Uint8Array(200_000).map((_, i) => (i * 13) & 0xff);
  const local = `${root}/../sockit-payload-${crypto.randomUUID()}`;
  await Deno.writeFile(local, payload);
  try {
    await using server = await serve(root, { upload: true, maxUpload: 300_000 });
    const u = server.url;
    const created = await curl(["-T", local, `${u}/up/data.bin`]);
    assert.equal(created.status, 201, created.body);
    assert.deepEqual(await Deno.readFile(`${root}/up/data.bin`), payload);
    assert.equal((await curl(["-T", local, `${u}/up/data.bin`])).status, 409);
    assert.equal((await curl([`${u}/up/data.bin`])).status, 200);

    const big = `${local}.big`;
    await Deno.writeFile(big, new Uint8Array(300_001));
    try {
      assert.equal((await curl(["-T", big, `${u}/up/big.bin`])).status, 413);
      // Chunked (no Content-Length): refused while streaming, nothing left behind.
      const chunked = await curl([
        "-T",
        big,
        "-H",
        "Transfer-Encoding: chunked",
        `${u}/up/big2.bin`,
      ]);
      assert.equal(chunked.status, 413);
    } finally {
      await Deno.remove(big);
    }
    for (
      const [path, status] of [
        ["/up/../escape.txt", 400],
        ["/up/%2e%2e/escape.txt", 400],
        ["/up/..%2fescape.txt", 400],
        ["/up/.hidden", 400],
        ["/missing/x.txt", 409],
        ["/up/", 400],
      ] as const
    ) {
      // Not -T: curl appends the local name to a URL ending in "/".
      const r = await curl(["--path-as-is", "-X", "PUT", "--data-binary", `@${local}`, u + path]);
      assert.equal(r.status, status, path);
    }
    assert.deepEqual(await entryNames(`${root}/up`), ["data.bin"], "no temp files, nothing else");
    assert.ok(!(await entryNames(root)).includes("escape.txt"));
    const options = await curl(["-X", "OPTIONS", `${u}/up/`]);
    assert.match(options.headers, /^Allow: GET, HEAD, OPTIONS, PUT, POST, DELETE\r?$/m);
  } finally {
    await Deno.remove(local);
  }
});

Deno.test("sharing --upload --overwrite: PUT replaces (204)", async () => {
  await using site = await makeSite();
  const root = site.path;
  await using server = await serve(root, { upload: true, overwrite: true });
  const r = await curl(["--data-binary", "new alpha", "-X", "PUT", `${server.url}/share/a.txt`]);
  assert.equal(r.status, 204);
  assert.equal(await Deno.readTextFile(`${root}/share/a.txt`), "new alpha");
});

Deno.test("sharing --upload: curl -F stores each file of the form", async () => {
  await using site = await makeSite();
  const root = site.path;
  const one = `${root}/../sockit-one-${crypto.randomUUID()}.txt`;
  await Deno.writeTextFile(one, "first\n");
  try {
    await using server = await serve(root, { upload: true });
    const u = server.url;
    const r = await curl([
      "-F",
      `file=@${one};filename=one.txt`,
      "-F",
      `file=@${one};filename=two.txt`,
      "-F",
      "note=hello",
      `${u}/up/`,
    ]);
    assert.equal(r.status, 201, r.body);
    assert.equal(r.body, "stored one.txt\nstored two.txt\n");
    assert.deepEqual(await entryNames(`${root}/up`), ["one.txt", "two.txt"]);
    const browser = await curl([
      "-H",
      "Accept: text/html",
      "-F",
      `file=@${one};filename=three.txt`,
      `${u}/up/`,
    ]);
    assert.equal(browser.status, 303);
    assert.match(browser.headers, /^Location: \/up\/\r?$/m);
    const traversal = await curl(["-F", `file=@${one};filename=../../x.txt`, `${u}/up/`]);
    assert.equal(traversal.status, 201, "stored under its base name only");
    assert.deepEqual(await entryNames(`${root}/up`), [
      "one.txt",
      "three.txt",
      "two.txt",
      "x.txt",
    ]);
    const dot = await curl(["-F", `file=@${one};filename=.bashrc`, `${u}/up/`]);
    assert.equal(dot.status, 400);
    const notForm = await curl(["--data", "x=1", `${u}/up/`]);
    assert.equal(notForm.status, 400);
  } finally {
    await Deno.remove(one);
  }
});

Deno.test("sharing --metrics and --clean-urls", async () => {
  await using site = await makeSite();
  const root = site.path;
  await using server = await serve(root, { cleanUrls: true });
  const u = server.url;
  const about = await curl([`${u}/about`]);
  assert.equal(about.status, 200);
  assert.equal(about.body, "<h1>about</h1>\n");
  assert.equal((await curl([`${u}/about.html`])).status, 200);
  assert.equal((await curl([`${u}/nope`])).status, 404);
  assert.equal((await curl([`${u}/share/.secret`])).status, 404);

  // Earlier curls have exited, but the server may not have seen their connections
  // close yet: wait for that, so the gauge below is exactly this request's connection.
  for (let i = 0; server.metrics!.openConnections > 0; i++) {
    assert.ok(i < 500, "earlier connections never closed");
    await new Promise((r) => setTimeout(r, 10));
  }
  const metrics = await curl([`${u}${METRICS_PATH}`]);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers, /^Content-Type: text\/plain; version=0\.0\.4/m);
  assert.match(metrics.body, /^sockit_http_requests_total\{class="2xx"\} 2$/m);
  assert.match(metrics.body, /^sockit_http_requests_total\{class="4xx"\} 2$/m);
  assert.match(metrics.body, /^sockit_http_open_connections 1$/m);
  assert.equal((await curl(["-X", "POST", `${u}${METRICS_PATH}`])).status, 405);
});

Deno.test("listingActionsHtml: the tar link and the upload form", () => {
  const html = listingActionsHtml({ tar: true, upload: true });
  assert.match(html, /href="\?download=tar"/);
  assert.match(html, /<form[^>]+method="post"[^>]+enctype="multipart\/form-data"/);
  assert.match(html, /<input type="file" name="file" multiple/);
  assert.equal(listingActionsHtml({ tar: false, upload: false }), "");
});
