/**
 * HTTP/2 end to end: the real CLI (`sockit http-serve` subprocess) and real clients —
 * curl over h2c with prior knowledge and over TLS with ALPN (`--tls-cert auto`, `-k`),
 * nghttp, h2load — on the features handlers already had: files, Range 206, 304, listings,
 * Basic auth 401, uploads with a body, HEAD; plus `--no-http2`, the `Upgrade: h2c` that is
 * answered as HTTP/1.1, and `--workers`.
 *
 * ```sh
 * deno test -A --unstable-net tests/h2_e2e_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { commandExists, serveHttp, sha256, tempTree } from "./helpers.ts";

const HAVE_CURL = await commandExists("curl");
const HAVE_NGHTTP = await commandExists("nghttp");
const HAVE_H2LOAD = await commandExists("h2load");

interface Curl {
  status: number;
  version: string;
  headers: string;
  body: string;
}

/** curl with `args`; reports status, the HTTP version used, headers and body. */
async function curl(args: string[]): Promise<Curl> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "-m", "20", "-D", "/dev/stderr", "-w", "\n%{http_code} %{http_version}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const headers = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `curl ${args.join(" ")}: ${headers}`);
  const cut = text.lastIndexOf("\n");
  const [status, version] = text.slice(cut + 1).split(" ");
  return { status: Number(status), version, headers, body: text.slice(0, cut) };
}

const AUTH = ["-u", "alice:s3cret"];

/** The same checks over a given way of reaching the server (h2c or TLS). */
async function featuresOverH2(base: string, protocol: string[], root: string): Promise<void> {
  const get = (path: string, ...more: string[]) =>
    curl([...protocol, ...AUTH, ...more, `${base}${path}`]);
  const file = await get("/a.txt");
  assert.deepEqual([file.status, file.version, file.body], [200, "2", "hello world\n"]);
  assert.match(file.headers, /^content-length: 12\r$/m);
  assert.doesNotMatch(file.headers, /^(connection|keep-alive|transfer-encoding):/im);

  const range = await get("/a.txt", "-r", "0-4");
  assert.deepEqual([range.status, range.body], [206, "hello"]);
  assert.match(range.headers, /^content-range: bytes 0-4\/12\r$/m);

  const etag = /^etag: (.+)\r$/m.exec(file.headers)![1];
  const notModified = await get("/a.txt", "-H", `If-None-Match: ${etag}`);
  assert.deepEqual([notModified.status, notModified.body], [304, ""]);

  const listing = await get("/");
  assert.equal(listing.status, 200);
  assert.match(listing.body, /a\.txt/);

  const denied = await curl([...protocol, `${base}/a.txt`]);
  assert.equal(denied.status, 401);
  assert.match(denied.headers, /^www-authenticate: Basic/im);

  const head = await get("/big.bin", "-I");
  assert.equal(head.status, 200);
  assert.match(head.headers, /^content-length: 1048576\r$/m);

  const bigOut = join(root, "..", `big-${crypto.randomUUID()}.out`);
  const big = await get("/big.bin", "-o", bigOut);
  assert.equal(big.status, 200);
  const sent = await Deno.readFile(join(root, "big.bin"));
  assert.equal(
    await sha256(await Deno.readFile(bigOut)),
    await sha256(sent),
    "1 MiB through both windows",
  );
  await Deno.remove(bigOut);

  const name = `up-${crypto.randomUUID()}.bin`;
  const upload = await get(`/${name}`, "-T", join(root, "big.bin"));
  assert.equal(upload.status, 201, upload.body);
  assert.equal(await sha256(await Deno.readFile(join(root, name))), await sha256(sent));
}

async function siteTree() {
  return await tempTree({
    "a.txt": "hello world\n",
    "big.bin": new Uint8Array(1024 * 1024).map((_, i) => (i * 7919 + (i >> 11)) & 0xff),
  });
}

Deno.test({
  name: "h2 e2e: curl --http2-prior-knowledge (h2c): files, Range, 304, listing, 401, HEAD, upload",
  ignore: !HAVE_CURL,
  async fn() {
    await using tree = await siteTree();
    await using server = await serveHttp(tree.path, "--upload", "--auth", "alice:s3cret");
    await featuresOverH2(server.url, ["--http2-prior-knowledge"], tree.path);
    await server.waitForLine(/"GET \/a\.txt HTTP\/2" 200 12/);
  },
});

Deno.test({
  name: "h2 e2e: curl --http2 over TLS (ALPN h2, --tls-cert auto): the same features",
  ignore: !HAVE_CURL,
  async fn() {
    await using tree = await siteTree();
    await using server = await serveHttp(
      tree.path,
      "--upload",
      "--auth",
      "alice:s3cret",
      "--tls-cert",
      "auto",
    );
    const base = `https://127.0.0.1:${server.port}`;
    await featuresOverH2(base, ["--http2", "-k"], tree.path);
    // ALPN falls back: a client offering only http/1.1 gets HTTP/1.1 on the same port.
    const h1 = await curl(["--http1.1", "-k", ...AUTH, `${base}/a.txt`]);
    assert.deepEqual([h1.status, h1.version], [200, "1.1"]);
  },
});

Deno.test({
  name:
    "h2 e2e: --no-http2 keeps TLS on HTTP/1.1; Upgrade: h2c on the plain port is answered as HTTP/1.1",
  ignore: !HAVE_CURL,
  async fn() {
    await using tree = await siteTree();
    await using tls = await serveHttp(tree.path, "--tls-cert", "auto", "--no-http2");
    const over = await curl(["--http2", "-k", `https://127.0.0.1:${tls.port}/a.txt`]);
    assert.deepEqual([over.status, over.version], [200, "1.1"], "no h2 in ALPN");
    await using plain = await serveHttp(tree.path);
    const upgrade = await curl(["--http2", `${plain.url}/a.txt`]);
    assert.deepEqual([upgrade.status, upgrade.version, upgrade.body], [
      200,
      "1.1",
      "hello world\n",
    ]);
  },
});

Deno.test({
  name: "h2 e2e: nghttp -nv gets the listing over h2c, frame by frame",
  ignore: !HAVE_NGHTTP,
  async fn() {
    await using tree = await siteTree();
    await using server = await serveHttp(tree.path);
    const out = await new Deno.Command("nghttp", {
      args: ["-nv", "-t", "20", `${server.url}/`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
    assert.match(text, /recv SETTINGS frame/);
    assert.match(text, /:status: 200/);
    assert.match(text, /recv DATA frame <length=\d+, flags=0x01, stream_id=\d+>/);
    assert.match(text, /send GOAWAY frame/);
  },
});

Deno.test({
  name: "h2 e2e: h2load -n 1000 -c 10 -m 10 — every request 2xx, over h2c and over TLS",
  ignore: !HAVE_H2LOAD,
  async fn() {
    await using tree = await siteTree();
    await using server = await serveHttp(tree.path, "--quiet");
    await using tls = await serveHttp(tree.path, "--quiet", "--tls-cert", "auto");
    for (const url of [`${server.url}/a.txt`, `https://127.0.0.1:${tls.port}/a.txt`]) {
      const out = await new Deno.Command("h2load", {
        args: ["-n", "1000", "-c", "10", "-m", "10", url],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text);
      assert.match(
        text,
        /requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed/,
        text,
      );
      assert.match(text, /status codes: 1000 2xx, 0 3xx, 0 4xx, 0 5xx/, text);
    }
  },
});

Deno.test({
  name: "h2 e2e: --workers 2 serve h2c too (each worker builds the same server)",
  ignore: !HAVE_CURL || Deno.build.os !== "linux",
  async fn() {
    await using tree = await siteTree();
    await using server = await serveHttp(tree.path, "--workers", "2", "--quiet");
    for (let i = 0; i < 4; i++) {
      const res = await curl(["--http2-prior-knowledge", `${server.url}/a.txt`]);
      assert.deepEqual([res.status, res.version, res.body], [200, "2", "hello world\n"]);
    }
  },
});
