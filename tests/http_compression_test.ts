/**
 * `--compress` / `--gzip` (lib/http/middleware/compression.ts): the flag parsing and
 * negotiation as pure functions, then the real CLI with real clients — `curl --compressed`
 * (br/gzip), `zstd -d` and `brotli -d` on raw bodies — over files, listings and JSON:
 * ranges, images, small bodies and q=0 refusals left alone, precompressed siblings first,
 * Vary and per-coding weak ETags, 304 on revalidation with that tag, HEAD's headers.
 *
 * ```sh
 * deno test -A --unstable-net tests/http_compression_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import {
  codingEtag,
  DEFAULT_COMPRESSION_LEVELS,
  MIN_COMPRESS_BYTES,
  negotiateCoding,
  parseCompressSpec,
} from "../lib/http/middleware/compression.ts";
import { encodingCandidates } from "../lib/http/semantics/encoding.ts";
import { loadHttpConfig, resolveHttpConfig } from "../lib/http/server/config.ts";
import { buildHandler } from "../lib/http/server/build_handler.ts";
import { parseRequestHead } from "../lib/http/h1/request.ts";
import type { StreamBody } from "../lib/http/handler.ts";
import { ConfigError } from "../lib/errors.ts";
import {
  commandExists,
  curlResponse,
  inProcessServer,
  runCli,
  serveHttp,
  tempTree,
} from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// --- pure -------------------------------------------------------------------------------

Deno.test("parseCompressSpec: bare/on = all three at default levels; lists pick and set", () => {
  assert.deepEqual(parseCompressSpec(true).levels, DEFAULT_COMPRESSION_LEVELS);
  assert.deepEqual(parseCompressSpec("on").levels, DEFAULT_COMPRESSION_LEVELS);
  assert.equal(parseCompressSpec(true).minBytes, MIN_COMPRESS_BYTES);
  assert.deepEqual(parseCompressSpec("br=5,gzip").levels, { br: 5, gzip: 6 });
  assert.deepEqual(parseCompressSpec(" ZSTD = 19 ").levels, { zstd: 19 });
  assert.throws(() => parseCompressSpec("deflate"), ConfigError);
  assert.throws(() => parseCompressSpec("br=12"), /br level must be 0\.\.11/);
  assert.throws(() => parseCompressSpec("gzip=0"), /gzip level must be 1\.\.9/);
  assert.throws(() => parseCompressSpec("gzip=fast"), ConfigError);
});

Deno.test("negotiateCoding: q-values, ties br > zstd > gzip, q=0 and identity first", () => {
  const all = DEFAULT_COMPRESSION_LEVELS;
  assert.equal(negotiateCoding("gzip, deflate, br, zstd", all), "br");
  assert.equal(negotiateCoding("gzip, zstd", all), "zstd");
  assert.equal(negotiateCoding("br;q=0.5, gzip", all), "gzip");
  assert.equal(negotiateCoding("br;q=0, gzip", all), "gzip");
  assert.equal(negotiateCoding("gzip;q=0", all), null);
  assert.equal(negotiateCoding("identity;q=1, *;q=0", all), null);
  assert.equal(negotiateCoding("identity, gzip;q=0.5", all), null);
  assert.equal(negotiateCoding(null, all), null);
  assert.equal(negotiateCoding("br, gzip", { gzip: 6 }), "gzip"); // --gzip only
  assert.equal(negotiateCoding("br", { gzip: 6 }), null);
});

Deno.test("codingEtag: strong or weak → weak with the coding suffix", () => {
  assert.equal(codingEtag('"1a-2b"', "br"), 'W/"1a-2b-br"');
  assert.equal(codingEtag('W/"1a-2b"', "zstd"), 'W/"1a-2b-zstd"');
});

Deno.test("encodingCandidates: a .zst sibling between .br and .gz", () => {
  assert.deepEqual(encodingCandidates("gzip, zstd, br").map((c) => c.source + c.coding), [
    "siblingbr",
    "siblingzstd",
    "siblinggzip",
    "identityidentity",
  ]);
});

Deno.test("resolveHttpConfig: --gzip is --compress gzip; both merge; off; --compress-min", () => {
  const cfg = (flags: Parameters<typeof resolveHttpConfig>[1]) =>
    resolveHttpConfig(undefined, flags).compression;
  assert.equal(cfg({}), undefined);
  assert.deepEqual(cfg({ gzip: true }), { levels: { gzip: 6 }, minBytes: MIN_COMPRESS_BYTES });
  assert.deepEqual(cfg({ compress: true })?.levels, DEFAULT_COMPRESSION_LEVELS);
  assert.deepEqual(cfg({ gzip: true, compress: "br=7" })?.levels, { gzip: 6, br: 7 });
  assert.equal(cfg({ compress: "off", gzip: true }), undefined);
  assert.equal(cfg({ compress: true, compressMin: 10 })?.minBytes, 10);
  assert.throws(() => cfg({ compressMin: 10 }), /--compress-min needs --compress or --gzip/);
});

Deno.test("CLI: a bad --compress is one line on stderr and exit 2", async () => {
  await using site = await tempTree({ "a.txt": "a" });
  const bad = await runCli(["http-serve", site.path, "--compress", "lzma"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^sockit: invalid --compress 'lzma'/);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
});

// --- end to end -------------------------------------------------------------------------

/** 1 MiB or so of JSON, as an API or a data dump would be. */
function bigJson(): string {
  const rows = Array.from({ length: 12_000 }, (_, i) => ({
    id: i,
    name: `item ${i}`,
    tags: ["alpha", "beta", i % 7 === 0 ? "gamma" : "delta"],
    price: (i * 1.37) % 1000,
  }));
  return JSON.stringify(rows);
}

async function makeSite() {
  const json = bigJson();
  const page = `<!doctype html><title>t</title>\n${"<p>compress me, please</p>\n".repeat(300)}`;
  const css = "p { color: teal; }\n".repeat(200); // ~3.8 KB: small, cached, compressed at once
  const files: Record<string, string | Uint8Array | null> = {
    "big.json": json,
    "page.html": page,
    "style.css": css,
    "tiny.css": "p { color: red; }\n".repeat(20), // 360 B: under the minimum
    "photo.png": new Uint8Array(20_000).map((_, i) => (i * 7) & 255),
    "bundle.zip": new Uint8Array(20_000).map((_, i) => (i * 13) & 255),
    "pre.txt": "plain text, precompressed\n".repeat(100),
    "pre.txt.zst": "ZSTD-SIBLING",
    "pre.txt.br": "BR-SIBLING",
    "pre.txt.gz": "GZ-SIBLING",
  };
  for (let i = 0; i < 40; i++) files[`dir/file-with-a-longish-name-${i}.txt`] = `${i}\n`;
  const tree = await tempTree(files);
  return { ...tree, json, page, css };
}

type Headers = Map<string, string>;

/** curl with `args`; headers (lower-case names) and the raw body bytes. */
async function fetchRaw(
  ...args: string[]
): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  await using out = await tempTree({});
  const file = `${out.path}/body`;
  const res = await curlResponse(args, { output: file });
  const headers: Headers = new Map();
  for (const line of res.headers.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  // curl creates no file for an empty body (304, HEAD).
  const body = await Deno.readFile(file).catch(() => new Uint8Array(0));
  return { status: res.status, headers, body };
}

/** Decodes `body` with the command-line tool `tool` (`zstd`, `brotli`). */
async function decodeWith(tool: string, body: Uint8Array): Promise<string> {
  const child = new Deno.Command(tool, {
    args: ["-d", "-c"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const [out] = await Promise.all([
    child.output(),
    writer.write(body).then(() => writer.close()),
  ]);
  assert.equal(out.code, 0, `${tool} -d: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

Deno.test("--compress: curl --compressed gets br, gzip on request; bodies round-trip", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  for (const path of ["/big.json", "/page.html", "/style.css"]) {
    const full = await fetchRaw("--compressed", `${server.url}${path}`);
    assert.equal(full.headers.get("content-encoding"), "br", path);
    const expected = path === "/big.json"
      ? site.json
      : path === "/page.html"
      ? site.page
      : site.css;
    assert.equal(dec.decode(full.body), expected, path); // curl decoded it
    const gz = await fetchRaw("-H", "Accept-Encoding: gzip", `${server.url}${path}`);
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    assert.equal(dec.decode(gunzipSync(gz.body)), expected);
    assert.ok(gz.body.length < expected.length / 3, `${path}: ${gz.body.length} bytes`);
  }
  // Big files stream (chunked); small ones are compressed at once and keep a length.
  const big = await fetchRaw("-H", "Accept-Encoding: br", `${server.url}/big.json`);
  assert.equal(big.headers.get("transfer-encoding"), "chunked");
  assert.equal(dec.decode(brotliDecompressSync(big.body)), site.json);
  const small = await fetchRaw("-H", "Accept-Encoding: br", `${server.url}/style.css`);
  assert.equal(small.headers.get("content-length"), String(small.body.length));
});

Deno.test("--compress: zstd -d and brotli -d decode what was sent", async (t) => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  for (const [tool, coding] of [["zstd", "zstd"], ["brotli", "br"]]) {
    await t.step(tool, async () => {
      if (!(await commandExists(tool))) {
        console.log(`skipped: '${tool}' is not installed (apt-get install ${tool})`);
        return;
      }
      for (const path of ["/big.json", "/page.html"]) {
        const res = await fetchRaw("-H", `Accept-Encoding: ${coding}`, `${server.url}${path}`);
        assert.equal(res.headers.get("content-encoding"), coding);
        const expected = path === "/big.json" ? site.json : site.page;
        assert.equal(await decodeWith(tool, res.body), expected);
      }
    });
  }
});

Deno.test("--compress: listings, HTML and ?format=json, are compressed", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  const html = await fetchRaw("-H", "Accept-Encoding: gzip", `${server.url}/dir/`);
  assert.equal(html.headers.get("content-encoding"), "gzip");
  assert.equal(html.headers.get("vary"), "Accept, Accept-Encoding");
  assert.match(dec.decode(gunzipSync(html.body)), /file-with-a-longish-name-39\.txt/);
  const json = await fetchRaw("-H", "Accept-Encoding: zstd", `${server.url}/dir/?format=json`);
  assert.equal(json.headers.get("content-encoding"), "zstd");
  assert.equal(json.headers.get("content-type"), "application/json; charset=utf-8");
  if (await commandExists("zstd")) {
    const doc = JSON.parse(await decodeWith("zstd", json.body));
    assert.equal(doc.entries.length, 40);
  }
});

Deno.test("--compress: never ranges, images, archives, small bodies or refused codings", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  const ae = ["-H", "Accept-Encoding: br, zstd, gzip"];
  const ranged = await fetchRaw(...ae, "-r", "0-9", `${server.url}/big.json`);
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.has("content-encoding"), false);
  assert.equal(dec.decode(ranged.body), site.json.slice(0, 10));
  for (const path of ["/photo.png", "/bundle.zip", "/tiny.css"]) {
    const res = await fetchRaw(...ae, `${server.url}${path}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.has("content-encoding"), false, path);
    assert.equal(res.headers.get("content-length"), String(res.body.length));
  }
  // q=0 refusals are honoured.
  const noBr = await fetchRaw("-H", "Accept-Encoding: br;q=0, gzip", `${server.url}/page.html`);
  assert.equal(noBr.headers.get("content-encoding"), "gzip");
  const none = await fetchRaw("-H", "Accept-Encoding: gzip;q=0", `${server.url}/page.html`);
  assert.equal(none.headers.has("content-encoding"), false);
  assert.equal(none.headers.get("vary"), "Accept-Encoding");
  const identity = await fetchRaw(
    "-H",
    "Accept-Encoding: identity;q=1, *;q=0",
    `${server.url}/page.html`,
  );
  assert.equal(identity.headers.has("content-encoding"), false);
  assert.equal(dec.decode(identity.body), site.page);
  // No Accept-Encoding at all: as is.
  const plain = await fetchRaw(`${server.url}/big.json`);
  assert.equal(plain.headers.has("content-encoding"), false);
  assert.equal(plain.body.length, site.json.length);
});

Deno.test("--compress: precompressed .br/.zst/.gz siblings still win, with strong ETags", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  for (
    const [coding, text] of [["br", "BR-SIBLING"], ["zstd", "ZSTD-SIBLING"], ["gzip", "GZ-SIBLING"]]
  ) {
    const res = await fetchRaw("-H", `Accept-Encoding: ${coding}`, `${server.url}/pre.txt`);
    assert.equal(res.headers.get("content-encoding"), coding);
    assert.equal(dec.decode(res.body), text);
    assert.match(res.headers.get("etag")!, new RegExp(`^"[0-9a-f]+-[0-9a-f]+-${coding}"$`));
    assert.equal(res.headers.get("vary"), "Accept-Encoding");
  }
});

Deno.test("--compress: Vary, weak per-coding ETag, 304 when revalidated with it", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  for (const path of ["/big.json", "/style.css"]) {
    const plain = await fetchRaw(`${server.url}${path}`);
    const strong = plain.headers.get("etag")!;
    assert.match(strong, /^"/);
    for (const coding of ["br", "zstd", "gzip"]) {
      const res = await fetchRaw("-H", `Accept-Encoding: ${coding}`, `${server.url}${path}`);
      const etag = res.headers.get("etag")!;
      assert.equal(etag, `W/${strong.slice(0, -1)}-${coding}"`);
      assert.equal(res.headers.get("vary"), "Accept-Encoding");
      assert.equal(res.headers.has("accept-ranges"), false);
      const again = await fetchRaw(
        "-H",
        `Accept-Encoding: ${coding}`,
        "-H",
        `If-None-Match: ${etag}`,
        `${server.url}${path}`,
      );
      assert.equal(again.status, 304, `${path} ${coding}`);
      assert.equal(again.headers.get("etag"), etag);
      assert.equal(again.headers.get("vary"), "Accept-Encoding");
      assert.equal(again.body.length, 0);
    }
    // The identity tag still revalidates an identity copy.
    const identity = await fetchRaw("-H", `If-None-Match: ${strong}`, `${server.url}${path}`);
    assert.equal(identity.status, 304);
    assert.equal(identity.headers.get("etag"), strong);
    // A changed file's old tag does not match.
    const stale = await fetchRaw(
      "-H",
      "Accept-Encoding: br",
      "-H",
      'If-None-Match: W/"1-2-br"',
      `${server.url}${path}`,
    );
    assert.equal(stale.status, 200);
  }
});

Deno.test("--compress: HEAD gets GET's headers", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--compress");
  for (const path of ["/big.json", "/style.css"]) {
    const args = ["-H", "Accept-Encoding: zstd", `${server.url}${path}`];
    const get = await fetchRaw(...args);
    const head = await fetchRaw("-I", ...args);
    assert.equal(head.status, 200);
    for (
      const name of [
        "content-encoding",
        "etag",
        "vary",
        "content-type",
        "content-length",
        "transfer-encoding",
      ]
    ) {
      assert.equal(head.headers.get(name), get.headers.get(name), `${path} ${name}`);
    }
  }
});

Deno.test("--gzip alone: gzip only; --compress br=5: br only", async () => {
  await using site = await makeSite();
  {
    await using server = await serveHttp(site.path, "--gzip");
    const br = await fetchRaw("-H", "Accept-Encoding: br, zstd", `${server.url}/page.html`);
    assert.equal(br.headers.has("content-encoding"), false);
    const gz = await fetchRaw("--compressed", `${server.url}/page.html`);
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    assert.equal(dec.decode(gz.body), site.page);
  }
  {
    await using server = await serveHttp(site.path, "--compress", "br=5", "--compress-min", "100");
    const res = await fetchRaw("--compressed", `${server.url}/tiny.css`);
    assert.equal(res.headers.get("content-encoding"), "br");
    const gz = await fetchRaw("-H", "Accept-Encoding: gzip", `${server.url}/page.html`);
    assert.equal(gz.headers.has("content-encoding"), false);
  }
});

Deno.test("--compress in process: HEAD and an abandoned download leave no file open", async () => {
  await using site = await makeSite();
  await using server = await inProcessServer({ root: site.path, flags: { compress: true } });
  const head = await fetch(`${server.url}/big.json`, {
    method: "HEAD",
    headers: { "accept-encoding": "br" },
  });
  assert.equal(head.headers.get("content-encoding"), "br");
  await head.body?.cancel();
  // fetch decodes br itself: the whole document arrives intact.
  const res = await fetch(`${server.url}/big.json`, { headers: { "accept-encoding": "br" } });
  assert.equal(await res.text(), site.json);
  const cut = await fetch(`${server.url}/big.json`, { headers: { "accept-encoding": "gzip" } });
  const reader = cut.body!.getReader();
  await reader.read();
  await reader.cancel();
  await new Promise((resolve) => setTimeout(resolve, 100));
});

Deno.test("a compressed file's stream ended before its first pull closes the file", async () => {
  // What the transport does with a body it will not send (HEAD, a client gone before the
  // head went out): `return()` on the stream. The resource sanitizer sees any file left open.
  await using site = await makeSite();
  const config = await loadHttpConfig(resolveHttpConfig(site.path, { compress: true }));
  const { handler } = buildHandler(config);
  const req = parseRequestHead(
    enc.encode("GET /big.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd\r\n\r\n"),
  );
  const res = await handler(req, {} as Parameters<typeof handler>[1]);
  assert.equal(new Map(res.headers).get("Content-Encoding"), "zstd");
  const body = res.body as StreamBody;
  await body.stream[Symbol.asyncIterator]().return?.();
});
