/** Unit tests for lib/http/listing.ts: escaping, ordering, formatting. */
import assert from "node:assert/strict";
import {
  escapeHtml,
  formatSize,
  type ListingEntry,
  renderListing,
} from "../lib/http/files/listing.ts";
import { parseListingSort } from "../lib/http/files/listing_json.ts";

const when = new Date("2026-11-25T09:05:00Z");

Deno.test("names are HTML-escaped in text and URL-encoded in links", () => {
  const html = renderListing({
    path: "/<b>&/",
    showParent: true,
    entries: [
      { name: `<script>alert("x")</script>`, isDirectory: false, size: 1, modified: when },
      { name: "a b#c?.txt", isDirectory: false, size: 2, modified: when },
      { name: "it's&dir", isDirectory: true, size: null, modified: when },
      { name: "javascript:alert(1)", isDirectory: false, size: 3, modified: null },
    ],
  });
  assert.ok(!html.includes("<script>"));
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  assert.ok(html.includes(`href="%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E"`));
  assert.ok(html.includes(`href="a%20b%23c%3F.txt">a b#c?.txt</a>`));
  assert.ok(html.includes(`href="it&#39;s%26dir/">it&#39;s&amp;dir/</a>`));
  // A scheme-looking name stays a relative link.
  assert.ok(html.includes(`href="javascript%3Aalert(1)"`));
  assert.ok(html.includes("<title>Index of /&lt;b&gt;&amp;/</title>"));
  assert.ok(html.includes(`<a href="../">../</a>`));
});

Deno.test("phone-friendly page: viewport meta, charset, no parent link at the root", () => {
  const html = renderListing({ path: "/", showParent: false, entries: [] });
  assert.ok(html.includes(`<meta name="viewport" content="width=device-width, initial-scale=1">`));
  assert.ok(html.includes(`<meta charset="utf-8">`));
  assert.ok(!html.includes(`href="../"`));
  assert.ok(html.includes("0 entries"));
});

Deno.test("directories first, then names in code-point order; sizes and times shown", () => {
  const entries: ListingEntry[] = [
    { name: "b.txt", isDirectory: false, size: 2048, modified: when },
    { name: "z", isDirectory: true, size: null, modified: when },
    { name: "a.txt", isDirectory: false, size: 10, modified: when },
    { name: "A", isDirectory: true, size: null, modified: when },
  ];
  const html = renderListing({ path: "/", showParent: false, entries });
  const order = ["A/", "z/", "a.txt", "b.txt"].map((n) => html.indexOf(`>${n}</a>`));
  assert.deepEqual([...order].sort((x, y) => x - y), order);
  assert.ok(html.includes("2.0 KiB · 2026-11-25 09:05"));
  assert.ok(html.includes("10 B · 2026-11-25 09:05"));
});

Deno.test("formatSize and escapeHtml", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(1023), "1023 B");
  assert.equal(formatSize(1536), "1.5 KiB");
  assert.equal(formatSize(200 * 1024 * 1024), "200 MiB");
  assert.equal(formatSize(3 * 1024 ** 3), "3.0 GiB");
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});

Deno.test("actionsHtml goes right after the heading, and only when given", () => {
  const actions = `<p class="actions"><a href="?download=tar">tar</a></p>\n`;
  const html = renderListing({ path: "/d/", showParent: true, entries: [], actionsHtml: actions });
  assert.ok(html.includes(`<h1>Index of /d/</h1>\n${actions}<ul>`));
  assert.ok(renderListing({ path: "/d/", showParent: true, entries: [] }).includes("</h1>\n<ul>"));
});

/** Names of the rows in page order (the header row and "../" have no size/time meta). */
function rowNames(html: string): string[] {
  return [...html.matchAll(/<li><a href="[^"]*">([^<]*)<\/a>/g)].map((m) => m[1])
    .filter((name) => name !== "../");
}

/** The header row's links: [href, text] per column. */
function headerLinks(html: string): [string, string][] {
  const row = /<li class="head">(.*)<\/li>/.exec(html)![1];
  return [...row.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [m[1], m[2]]);
}

Deno.test("sort option orders rows as ?sort=&order= asks, directories always first", () => {
  const entries: ListingEntry[] = [
    { name: "mid.bin", isDirectory: false, size: 500, modified: new Date("2026-01-02Z") },
    { name: "docs", isDirectory: true, size: null, modified: new Date("2026-01-09Z") },
    { name: "big.iso", isDirectory: false, size: 9_000, modified: new Date("2026-01-01Z") },
    { name: "a.txt", isDirectory: false, size: 3, modified: new Date("2026-01-03Z") },
    { name: "assets", isDirectory: true, size: null, modified: new Date("2026-01-05Z") },
  ];
  const page = (query: string) =>
    renderListing({
      path: "/",
      showParent: true,
      entries,
      sort: parseListingSort(new URLSearchParams(query)),
    });
  assert.deepEqual(rowNames(page("")), ["assets/", "docs/", "a.txt", "big.iso", "mid.bin"]);
  assert.deepEqual(rowNames(page("sort=name&order=desc")), [
    "docs/",
    "assets/",
    "mid.bin",
    "big.iso",
    "a.txt",
  ]);
  assert.deepEqual(rowNames(page("sort=size&order=desc")), [
    "assets/",
    "docs/",
    "big.iso",
    "mid.bin",
    "a.txt",
  ]);
  assert.deepEqual(rowNames(page("sort=size")), [
    "assets/",
    "docs/",
    "a.txt",
    "mid.bin",
    "big.iso",
  ]);
  assert.deepEqual(rowNames(page("sort=time&order=desc")), [
    "docs/",
    "assets/",
    "a.txt",
    "mid.bin",
    "big.iso",
  ]);
  // No sort option at all: name ascending, as before.
  assert.deepEqual(
    rowNames(renderListing({ path: "/", showParent: false, entries })),
    ["assets/", "docs/", "a.txt", "big.iso", "mid.bin"],
  );
});

Deno.test("column headers link to the other orders; the sorted one flips and has an arrow", () => {
  const page = (query: string) =>
    renderListing({
      path: "/",
      showParent: false,
      entries: [],
      sort: parseListingSort(new URLSearchParams(query)),
    });
  assert.deepEqual(headerLinks(page("")), [
    ["?sort=name&amp;order=desc", "Name ▲"],
    ["?sort=size&amp;order=asc", "Size"],
    ["?sort=time&amp;order=asc", "Modified"],
  ]);
  assert.deepEqual(headerLinks(page("sort=size&order=desc")), [
    ["?sort=name&amp;order=asc", "Name"],
    ["?sort=size&amp;order=asc", "Size ▼"],
    ["?sort=time&amp;order=asc", "Modified"],
  ]);
  assert.deepEqual(headerLinks(page("sort=time"))[2], ["?sort=time&amp;order=desc", "Modified ▲"]);
  // The header row comes before "../" and the entries.
  const html = renderListing({ path: "/d/", showParent: true, entries: [] });
  assert.ok(html.indexOf(`class="head"`) < html.indexOf(`href="../"`));
});
