/** Unit tests for lib/http/files.ts pure parts and the handler called in-process. */
import assert from "node:assert/strict";
import { contentTypeTable } from "../scripts/gen_content_types.ts";
import type { RequestContext } from "../lib/http/handler.ts";
import { HttpError } from "../lib/http/errors.ts";
import {
  contentTypeFor,
  DEFAULT_CONTENT_TYPE,
  directoryRedirectLocation,
  staticFiles,
} from "../lib/http/files/files.ts";
import { FILE_CACHE_VALID_MS, SmallFileCache } from "../lib/http/files/file_cache.ts";
import { parseRequestHead } from "../lib/http/h1/request.ts";
import { canonicalRoot } from "../lib/http/files/safe_path.ts";
import { tempTree } from "./helpers.ts";

Deno.test("contentTypeFor: the generated table answers as mime-types does, for every extension", () => {
  const expected = contentTypeTable();
  assert.ok(Object.keys(expected).length > 1000, "mime-types knows its usual ~1200 extensions");
  const wrong = Object.entries(expected).filter(([ext, type]) =>
    contentTypeFor(`f.${ext}`) !== type
  );
  assert.deepEqual(
    wrong,
    [],
    "lib/http/files/content_types.json is stale: run deno run -A scripts/gen_content_types.ts",
  );
});

Deno.test("contentTypeFor: mime-types, charset on text, octet-stream when unknown", () => {
  assert.equal(contentTypeFor("/x/index.HTML"), "text/html; charset=utf-8");
  assert.equal(contentTypeFor("a.css"), "text/css; charset=utf-8");
  assert.equal(contentTypeFor("a.js"), "text/javascript; charset=utf-8");
  assert.equal(contentTypeFor("a.jpg"), "image/jpeg");
  assert.equal(contentTypeFor("a.png"), "image/png");
  assert.equal(contentTypeFor("Makefile"), DEFAULT_CONTENT_TYPE);
  assert.equal(contentTypeFor("a.nosuchext"), DEFAULT_CONTENT_TYPE);
});

Deno.test("directoryRedirectLocation keeps the query and never starts with //", () => {
  assert.equal(directoryRedirectLocation("/docs", ""), "/docs/");
  assert.equal(directoryRedirectLocation("/docs", "a=1&b"), "/docs/?a=1&b");
  assert.equal(directoryRedirectLocation("//evil.example/x", ""), "/evil.example/x/");
  assert.equal(directoryRedirectLocation("/a%20b", ""), "/a%20b/");
});

Deno.test("the cache serves changes once FILE_CACHE_VALID_MS has passed", async () => {
  await using tree = await tempTree({ "a.txt": "one" });
  const dir = tree.path;
  let clock = Date.now(); // the cache's clock, stepped instead of slept through
  const fileCache = new SmallFileCache({ now: () => clock });
  const handler = staticFiles({ root: await canonicalRoot(dir), fileCache });
  const ctx = {} as RequestContext; // the file handler never reads a GET body
  const get = async () => {
    const req = parseRequestHead(new TextEncoder().encode("GET /a.txt HTTP/1.0\r\n\r\n"));
    const res = await handler(req, ctx);
    return new TextDecoder().decode(res.body as Uint8Array);
  };
  assert.equal(await get(), "one");
  await Deno.writeTextFile(`${dir}/a.txt`, "two!");
  clock += FILE_CACHE_VALID_MS - 1;
  assert.equal(await get(), "one", "not re-checked before FILE_CACHE_VALID_MS");
  clock += 51;
  assert.equal(await get(), "two!");
  await Deno.remove(`${dir}/a.txt`);
  clock += FILE_CACHE_VALID_MS + 50;
  await assert.rejects(get, (e: unknown) => e instanceof HttpError && e.status === 404);
});

Deno.test("listing: actions HTML after the heading; uploads in progress never listed", async () => {
  await using tree = await tempTree({ "a.txt": "a", ".sockit-upload-99ff": "half" });
  const handler = staticFiles({
    root: await canonicalRoot(tree.path),
    dotfiles: true,
    listingActionsHtml: `<p id="actions"></p>\n`,
  });
  const req = parseRequestHead(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
  const res = await handler(req, {} as RequestContext);
  const html = res.body as string;
  assert.match(html, /<\/h1>\n<p id="actions"><\/p>\n<ul>/);
  assert.match(html, /a\.txt/);
  assert.ok(!html.includes("sockit-upload"));
});

Deno.test("SmallFileCache.forgetFile: a replaced file is served new at once", async () => {
  await using tree = await tempTree({ "a.txt": "one" });
  const root = await canonicalRoot(tree.path);
  const fileCache = new SmallFileCache();
  const handler = staticFiles({ root, fileCache });
  const get = async (path: string) => {
    const req = parseRequestHead(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\n\r\n`));
    const res = await handler(req, {} as RequestContext);
    return new TextDecoder().decode(res.body as Uint8Array);
  };
  assert.equal(await get("/a.txt"), "one");
  assert.equal(await get("/%61.txt"), "one");
  await Deno.writeTextFile(`${tree.path}/a.txt`, "two"); // same size: only the 1 s check sees it
  assert.equal(await get("/a.txt"), "one", "still fresh in memory");
  fileCache.forgetFile(`${root}/a.txt`);
  assert.equal(await get("/a.txt"), "two");
  assert.equal(await get("/%61.txt"), "two", "under every URL");
});

Deno.test("a cached small file's plain 200 has the general path's headers, frozen", async () => {
  await using tree = await tempTree({ "a.txt": "one" });
  const handler = staticFiles({ root: await canonicalRoot(tree.path), cacheSeconds: 60 });
  const ctx = {} as RequestContext;
  const get = async (extra = "") =>
    await handler(
      parseRequestHead(
        new TextEncoder().encode(`GET /a.txt HTTP/1.1\r\nHost: x\r\n${extra}\r\n`),
      ),
      ctx,
    );
  const first = await get(); // read from disk and cached
  const plain = await get(); // from memory: the plain-200 fast path
  assert.equal(plain.status, 200);
  assert.deepEqual(plain.headers, first.headers);
  assert.ok(Object.isFrozen(plain.headers), "frozen: the encoded head can be reused");
  assert.equal((await get()).headers, plain.headers, "planned once, reused");
  // A conditional or a range still goes through planning.
  const etag = plain.headers!.find(([name]) => name === "ETag")![1];
  assert.equal((await get(`If-None-Match: ${etag}\r\n`)).status, 304);
  const partial = await get("Range: bytes=0-0\r\n");
  assert.equal(partial.status, 206);
  assert.deepEqual(partial.body, new TextEncoder().encode("o"));
  assert.ok(!Object.isFrozen(partial.headers));
});
