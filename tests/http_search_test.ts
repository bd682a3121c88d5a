/**
 * Find a file (lib/http/files/search.ts): `GET /dir/?q=term` through the real CLI — HTML and
 * JSON answers, recursion, hidden-file rules, symlinks out of the root never followed, the
 * query length limit, the filter box on listings — and the walker's limits, injected small,
 * at the limit and one past it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serveHttp, tempTree } from "./helpers.ts";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";
import { canonicalRoot } from "../lib/http/files/safe_path.ts";
import {
  compareSearchPaths,
  MAX_CONCURRENT_SEARCHES,
  MAX_SEARCH_QUERY_CHARS,
  SearchGate,
  searchJson,
  searchNames,
} from "../lib/http/files/search.ts";
import { renderSearchResults } from "../lib/http/files/listing.ts";

interface Found {
  path: string;
  query: string;
  results: { name: string; path: string; type: string; size: number | null; modified: string }[];
  truncated: boolean;
}

async function searchTree() {
  const outside = await tempTree({ "report-outside.txt": "secret", "dir/report-deep.txt": "x" });
  const tree = await tempTree({
    "top report.txt": "1",
    "docs/report-10.txt": "10",
    "docs/Report-2.txt": "2",
    "docs/deep/Ünïcode report.md": "unicode",
    "docs/deep/<b>report&.txt": "angle",
    "docs/.hidden-report": "dot",
    "docs/.sockit-upload-report": "half an upload",
    ".secret/report.txt": "hidden folder",
    "other.txt": "no match",
    "docs/out-report.txt": { symlink: join(outside.path, "report-outside.txt") },
    "docs/outdir": { symlink: join(outside.path, "dir") },
    "docs/loop": { symlink: ".." },
    "docs/in-report-link": { symlink: "report-10.txt" },
  });
  return {
    path: tree.path,
    async [Symbol.asyncDispose]() {
      await tree[Symbol.asyncDispose]();
      await outside[Symbol.asyncDispose]();
    },
  };
}

Deno.test("search: JSON results recursive, natural order, hidden rules, no symlink out", async () => {
  await using tree = await searchTree();
  await using server = await serveHttp(tree.path, "--quiet");
  const res = await fetch(`${server.url}/?q=REPORT&format=json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const body: Found = await res.json();
  assert.equal(body.path, "/");
  assert.equal(body.query, "REPORT");
  assert.equal(body.truncated, false);
  assert.deepEqual(body.results.map((r) => r.path), [
    "docs/deep/<b>report&.txt",
    "docs/deep/Ünïcode report.md",
    "docs/in-report-link",
    "docs/Report-2.txt",
    "docs/report-10.txt",
    "top report.txt",
  ]);
  const link = body.results.find((r) => r.name === "in-report-link")!;
  assert.equal(link.type, "symlink");
  const two = body.results.find((r) => r.name === "Report-2.txt")!;
  assert.equal(two.type, "file");
  assert.equal(two.size, 1);
  assert.ok(!Number.isNaN(Date.parse(two.modified)));

  // Below a folder: paths relative to it; folders match too; Accept negotiates JSON.
  const sub = await fetch(`${server.url}/docs/?q=dee`, { headers: { accept: "application/json" } });
  const subBody: Found = await sub.json();
  assert.equal(subBody.path, "/docs/");
  assert.deepEqual(subBody.results.map((r) => [r.path, r.type]), [["deep", "dir"]]);

  // Unicode, case-insensitive.
  const uni: Found = await (await fetch(`${server.url}/?q=%C3%BCN%C3%AF&format=json`)).json();
  assert.deepEqual(uni.results.map((r) => r.name), ["Ünïcode report.md"]);

  // Nothing outside the root, through a file or a folder link; the loop is not walked.
  const out: Found = await (await fetch(`${server.url}/?q=outside&format=json`)).json();
  assert.deepEqual(out.results, []);
  const deep: Found = await (await fetch(`${server.url}/?q=report-deep&format=json`)).json();
  assert.deepEqual(deep.results, []);
  const loop: Found = await (await fetch(`${server.url}/?q=report-10&format=json`)).json();
  assert.deepEqual(loop.results.map((r) => r.path), ["docs/report-10.txt"]);
});

Deno.test("search: dotfiles only with --dotfiles, upload temps never", async () => {
  await using tree = await searchTree();
  await using server = await serveHttp(tree.path, "--quiet", "--dotfiles");
  const body: Found = await (await fetch(`${server.url}/?q=report&format=json`)).json();
  const paths = body.results.map((r) => r.path);
  assert.ok(paths.includes("docs/.hidden-report"), paths.join());
  assert.ok(paths.includes(".secret/report.txt"), paths.join());
  assert.ok(!paths.some((p) => p.includes(".sockit-upload-")), paths.join());
  const hidden = await fetch(`${server.url}/?q=secret&format=json`);
  assert.deepEqual((await hidden.json() as Found).results.map((r) => r.path), [".secret"]);
});

Deno.test("search: HTML results escaped and linked, the filter box on listings", async () => {
  await using tree = await searchTree();
  await using server = await serveHttp(tree.path, "--quiet");
  const res = await fetch(`${server.url}/docs/?q=report`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/html/);
  const html = await res.text();
  assert.ok(!html.includes("<b>report"), "names escaped");
  assert.match(html, /href="deep\/%3Cb%3Ereport%26\.txt">.*deep\/&lt;b&gt;report&amp;\.txt<\/a>/);
  assert.match(html, /href="deep\/%C3%9Cn%C3%AFcode%20report\.md"/);
  assert.match(html, /value="report"/);
  assert.match(html, /5 matches/);
  assert.ok(!html.includes("hidden-report") && !html.includes("outside"));
  assert.ok(!/https?:|<script|<link|<img/i.test(html), "self-contained");
  // Every link resolves to the file through the normal path rules.
  const linked = await fetch(`${server.url}/docs/deep/%3Cb%3Ereport%26.txt`);
  assert.equal(await linked.text(), "angle");

  // The listing carries the filter box: a GET form (no JS needed) plus an inline filter.
  const listing = await (await fetch(`${server.url}/docs/`)).text();
  assert.match(listing, /<form class="find" method="get"[^>]*><input name="q" type="search"/);
  assert.match(listing, /oninput="/);
  // An empty q is the plain listing.
  const empty = await (await fetch(`${server.url}/docs/?q=`)).text();
  assert.match(empty, /Index of/);
  assert.match(empty, /report-10\.txt/);
});

Deno.test("search: q up to the limit is searched, one past is 400", async () => {
  await using tree = await tempTree({ "a.txt": "a" });
  await using server = await serveHttp(tree.path, "--quiet");
  const at = await fetch(`${server.url}/?format=json&q=${"x".repeat(MAX_SEARCH_QUERY_CHARS)}`);
  assert.equal(at.status, 200);
  assert.deepEqual((await at.json() as Found).results, []);
  const past = await fetch(`${server.url}/?q=${"x".repeat(MAX_SEARCH_QUERY_CHARS + 1)}`);
  assert.equal(past.status, 400);
  await past.body?.cancel();
});

Deno.test("searchNames: result limit at the limit and one past", async () => {
  await using tree = await tempTree({ "a/m1": "", "a/m2": "", "b/m3": "", "n": "" });
  const root = await canonicalRoot(tree.path);
  const at = await searchNames({ root, dir: root, query: "m", maxResults: 3 });
  assert.deepEqual(at.hits.map((h) => h.path), ["a/m1", "a/m2", "b/m3"]);
  assert.equal(at.truncated, false);
  const past = await searchNames({ root, dir: root, query: "m", maxResults: 2 });
  assert.equal(past.hits.length, 2);
  assert.equal(past.truncated, true);
  assert.equal(searchJson("/", "m", past).truncated, true);
  const page = renderSearchResults({ path: "/", query: "m", ...past });
  assert.match(page, /stopped at a limit/);
});

Deno.test("searchNames: visited-entries limit at the limit and one past", async () => {
  // 5 entries in all: "a", "b", "a/x1", "a/x2", "b/x3".
  await using tree = await tempTree({ "a/x1": "", "a/x2": "", "b/x3": "" });
  const root = await canonicalRoot(tree.path);
  const at = await searchNames({ root, dir: root, query: "x", maxVisited: 5 });
  assert.equal(at.hits.length, 3);
  assert.equal(at.truncated, false);
  const past = await searchNames({ root, dir: root, query: "x", maxVisited: 4 });
  assert.equal(past.truncated, true);
  assert.ok(past.hits.length < 3);
});

Deno.test("searchNames: time limit stops the walk", async () => {
  await using tree = await tempTree({ "a/x1": "", "b/x2": "" });
  const root = await canonicalRoot(tree.path);
  let clock = 0;
  const now = () => clock++; // one tick per look at the clock
  const at = await searchNames({ root, dir: root, query: "x", maxMs: 100, now });
  assert.equal(at.truncated, false);
  clock = 0;
  const past = await searchNames({ root, dir: root, query: "x", maxMs: 2, now });
  assert.equal(past.truncated, true);
});

Deno.test("compareSearchPaths: natural, case-insensitive, total", () => {
  const paths = ["b/report-10", "a/Z", "b/report-2", "a/a", "A/a"];
  assert.deepEqual(paths.sort(compareSearchPaths), [
    "A/a",
    "a/a",
    "a/Z",
    "b/report-2",
    "b/report-10",
  ]);
});

Deno.test("the filter box's inline handler is valid JavaScript after HTML decoding", async () => {
  const { renderListing } = await import("../lib/http/files/listing.ts");
  const html = renderListing({ path: "/", showParent: false, entries: [] });
  const attribute = html.match(/oninput="([^"]*)"/)![1];
  const js = attribute.replaceAll("&#39;", "'").replaceAll("&quot;", '"').replaceAll("&gt;", ">")
    .replaceAll("&lt;", "<").replaceAll("&amp;", "&");
  assert.match(
    js,
    /querySelectorAll\('li:not\(\.head\)>a:not\(\[href="\.\.\/"\],\[href="\.\/"\]\)'\)/,
  );
  new Function(js); // throws SyntaxError if the quoting is wrong
});

await chromiumTest(
  "http_search_test",
  "browser: typing in the filter box hides the rows that do not match",
  async (chromium) => {
    await using tree = await tempTree({ "report-2.txt": "", "Report-10.md": "", "photo.jpg": "" });
    await using server = await serveHttp(tree.path, "--quiet");
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.navigate(sessionId, `${server.url}/`);
      const visible = await devtools.evaluate<string[]>(
        sessionId,
        `(() => {
          const input = document.querySelector("input[name=q]");
          input.value = "REPORT";
          input.dispatchEvent(new Event("input"));
          return [...document.querySelectorAll("li:not(.head) > a")]
            .filter((a) => a.getBoundingClientRect().height > 0).map((a) => a.textContent);
        })()`,
      );
      assert.deepEqual(visible, ["report-2.txt", "Report-10.md"]);
    } finally {
      await devtools.close();
    }
  },
);

Deno.test("SearchGate: MAX_CONCURRENT_SEARCHES at once; one more is refused until one ends", () => {
  const gate = new SearchGate();
  for (let i = 0; i < MAX_CONCURRENT_SEARCHES; i++) assert.ok(gate.tryEnter(), `search ${i + 1}`);
  assert.equal(gate.tryEnter(), false, "one past the limit");
  gate.leave();
  assert.ok(gate.tryEnter(), "room again after one ended");
});
