/**
 * The custom 404 page (`404.html`, `--not-found`, `--no-not-found`) and the health endpoint,
 * through the real CLI.
 */
import assert from "node:assert/strict";
import { HEALTH_PATH, METRICS_PATH } from "../lib/http/sharing/metrics.ts";
import { curlResponse, runCli, serveHttp, tempTree } from "./helpers.ts";

const PAGE = "<!doctype html><title>Lost</title><p>Nothing here.</p>\n";

Deno.test("404 page: 404.html at the root is the body of every 404, with status 404", async () => {
  await using tree = await tempTree({ "404.html": PAGE, "sub/a.txt": "a" });
  await using server = await serveHttp(tree.path, "--no-listing");
  for (const path of ["/missing", "/sub/missing.txt", "/sub/"]) {
    const res = await curlResponse([`${server.url}${path}`]);
    assert.equal(res.status, 404, path);
    assert.equal(res.body, PAGE, path);
    assert.match(res.headers, /content-type: text\/html/i);
  }
  const head = await curlResponse(["-I", `${server.url}/missing`]);
  assert.equal(head.status, 404);
  assert.match(head.headers, new RegExp(`content-length: ${PAGE.length}`, "i"));
  assert.equal(head.body, "");
  // The page itself is a plain file; other methods keep the plain 404.
  assert.equal((await curlResponse([`${server.url}/404.html`])).status, 200);
  const del = await curlResponse(["-X", "DELETE", `${server.url}/missing`]);
  assert.equal(del.status, 404);
  assert.notEqual(del.body, PAGE);
});

Deno.test("404 page: --not-found FILE, --no-not-found, dotfile rules", async () => {
  await using tree = await tempTree({
    "404.html": PAGE,
    "errors/missing.html": "<p>custom</p>\n",
    ".hidden/404.html": "<p>hidden</p>\n",
  });
  await using custom = await serveHttp(tree.path, "--not-found", "errors/missing.html");
  const res = await curlResponse([`${custom.url}/nope`]);
  assert.equal(res.status, 404);
  assert.equal(res.body, "<p>custom</p>\n");

  await using plain = await serveHttp(tree.path, "--no-not-found");
  const off = await curlResponse([`${plain.url}/nope`]);
  assert.equal(off.status, 404);
  assert.match(off.headers, /content-type: text\/plain/i);

  const hidden = await runCli(["http-serve", tree.path, "--not-found", ".hidden/404.html"]);
  assert.equal(hidden.code, 2);
  assert.match(hidden.stderr, /--dotfiles/);
  await using dot = await serveHttp(tree.path, "--dotfiles", "--not-found", ".hidden/404.html");
  assert.equal((await curlResponse([`${dot.url}/nope`])).body, "<p>hidden</p>\n");
});

Deno.test("404 page: a missing --not-found page is a usage error at start-up", async () => {
  await using tree = await tempTree({ "a.txt": "a" });
  for (const page of ["nope.html", "../a.txt"]) {
    const { code, stderr } = await runCli(["http-serve", tree.path, "--not-found", page]);
    assert.equal(code, 2, page);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, /--not-found '.*': no such file under/);
  }
  // Without the flag, a missing 404.html is simply not used.
  await using server = await serveHttp(tree.path);
  const res = await curlResponse([`${server.url}/nope`]);
  assert.equal(res.status, 404);
  assert.match(res.headers, /content-type: text\/plain/i);
});

Deno.test("health: 200 ok, no-store, before --auth, not logged, not counted", async () => {
  await using tree = await tempTree({ "a.txt": "a" });
  await using server = await serveHttp(tree.path, "--metrics", "--auth", "u:p");
  const scrape = async () => {
    const res = await curlResponse(["-u", "u:p", `${server.url}${METRICS_PATH}`]);
    return /sockit_http_requests_total\{class="2xx"\} (\d+)/.exec(res.body)![1];
  };
  const before = await scrape();
  for (let i = 0; i < 3; i++) {
    const res = await curlResponse([`${server.url}${HEALTH_PATH}`]);
    assert.equal(res.status, 200);
    assert.equal(res.body, "ok\n");
    assert.match(res.headers, /content-type: text\/plain/i);
    assert.match(res.headers, /cache-control: no-store/i);
  }
  assert.equal((await curlResponse(["-I", `${server.url}${HEALTH_PATH}`])).status, 200);
  // Only the first scrape itself was counted since.
  assert.equal(Number(await scrape()), Number(before) + 1);
  await server.waitForLine(/GET \/\.well-known\/sockit\/metrics .* 200 /);
  assert.ok(!server.lines.some((l) => l.includes("health")), server.lines.join("\n"));
  // Anything else still needs the password.
  assert.equal((await curlResponse([`${server.url}/a.txt`])).status, 401);
});
