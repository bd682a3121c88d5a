/** Unit tests for lib/http/listing.ts: escaping, ordering, breadcrumb, icons, formatting. */
import assert from "node:assert/strict";
import {
  escapeHtml,
  formatSize,
  type ListingEntry,
  listingIcon,
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
      { name: `<b>&"'.txt`, isDirectory: false, size: 4, modified: null },
    ],
  });
  assert.ok(!html.includes("<script>"));
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  assert.ok(html.includes(`href="%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E"`));
  assert.match(html, /href="a%20b%23c%3F\.txt"><svg[^>]*><use[^>]*\/><\/svg>a b#c\?\.txt<\/a>/);
  assert.match(
    html,
    /href="it&#39;s%26dir\/"><svg[^>]*><use[^>]*\/><\/svg>it&#39;s&amp;dir\/<\/a>/,
  );
  assert.match(
    html,
    /href="%3Cb%3E%26%22&#39;.txt"><svg[^>]*>.*<\/svg>&lt;b&gt;&amp;&quot;&#39;.txt<\/a>/,
  );
  // A scheme-looking name stays a relative link.
  assert.ok(html.includes(`href="javascript%3Aalert(1)"`));
  assert.ok(html.includes("<title>Index of /&lt;b&gt;&amp;/</title>"));
  assert.match(html, /<a href="\.\.\/"><svg class="i i-up"[^>]*>.*<\/svg>\.\.\/<\/a>/);
});

Deno.test("phone-friendly page: viewport meta, charset, no parent link at the root", () => {
  const html = renderListing({ path: "/", showParent: false, entries: [] });
  assert.ok(html.includes(`<meta name="viewport" content="width=device-width, initial-scale=1">`));
  assert.ok(html.includes(`<meta charset="utf-8">`));
  assert.ok(!html.includes(`href="../"`));
  assert.ok(html.includes("0 entries"));
});

Deno.test("directories first, then names in natural order; sizes and times shown", () => {
  const entries: ListingEntry[] = [
    { name: "report-10.txt", isDirectory: false, size: 1, modified: when },
    { name: "b.txt", isDirectory: false, size: 2048, modified: when },
    { name: "z", isDirectory: true, size: null, modified: when },
    { name: "report-2.txt", isDirectory: false, size: 1, modified: when },
    { name: "a.txt", isDirectory: false, size: 10, modified: when },
    { name: "A", isDirectory: true, size: null, modified: when },
    { name: "B.txt", isDirectory: false, size: 1, modified: when },
  ];
  const html = renderListing({ path: "/", showParent: false, entries });
  const order = ["A/", "z/", "a.txt", "B.txt", "b.txt", "report-2.txt", "report-10.txt"]
    .map((n) => html.indexOf(`>${n}</a>`));
  assert.ok(!order.includes(-1));
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
  assert.ok(html.includes(`</h1>\n${actions}<ul>`));
  assert.ok(renderListing({ path: "/d/", showParent: true, entries: [] }).includes("</h1>\n<ul>"));
});

/** Names of the rows in page order (the header row and "../" have no size/time meta). */
function rowNames(html: string): string[] {
  return [...html.matchAll(/<li><a href="[^"]*"><svg[^>]*><use[^>]*\/><\/svg>([^<]*)<\/a>/g)]
    .map((m) => m[1])
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

/** The breadcrumb's links: [href, text, current?] per crumb. */
function crumbs(html: string): [string, string, boolean][] {
  const h1 = /<h1>(.*)<\/h1>/.exec(html)![1];
  return [...h1.matchAll(/<a href="([^"]*)"( aria-current="page")?>([^<]*)<\/a>/g)]
    .map((m) => [m[1], m[3], m[2] !== undefined]);
}

Deno.test("breadcrumb: the root and every folder a link, encoded hrefs, escaped names", () => {
  const html = renderListing({
    path: `/photos & notes/<b>&"'/2026/`,
    showParent: true,
    entries: [],
  });
  assert.deepEqual(crumbs(html), [
    ["/", "/", false],
    ["/photos%20%26%20notes/", "photos &amp; notes", false],
    ["/photos%20%26%20notes/%3Cb%3E%26%22&#39;/", "&lt;b&gt;&amp;&quot;&#39;", false],
    ["/photos%20%26%20notes/%3Cb%3E%26%22&#39;/2026/", "2026", true],
  ]);
  // It reads as the path: "Index of /photos & notes/<b>&"'/2026/".
  const text = /<h1>(.*)<\/h1>/.exec(html)![1].replace(/<[^>]*>/g, "");
  assert.equal(text, "Index of /photos &amp; notes/&lt;b&gt;&amp;&quot;&#39;/2026/");
  assert.ok(!html.includes("<b>"));
  // The root alone is the current page; "//" in a request path makes no empty crumb.
  assert.deepEqual(crumbs(renderListing({ path: "/", showParent: false, entries: [] })), [
    ["/", "/", true],
  ]);
  assert.deepEqual(crumbs(renderListing({ path: "//a//", showParent: true, entries: [] })), [
    ["/", "/", false],
    ["/a/", "a", true],
  ]);
});

Deno.test("icons by type: from the extension, case-insensitive; folders by kind", () => {
  const cases: [string, boolean, string][] = [
    ["photos", true, "dir"],
    ["photos.jpg", true, "dir"],
    ["IMG_0001.JPG", false, "image"],
    ["logo.svg", false, "image"],
    ["clip.mp4", false, "video"],
    ["talk.webm", false, "video"],
    ["song.mp3", false, "audio"],
    ["take.FLAC", false, "audio"],
    ["src.tar.gz", false, "archive"],
    ["bundle.zip", false, "archive"],
    ["notes.md", false, "text"],
    ["main.ts", false, "text"],
    ["data.json", false, "text"],
    ["paper.pdf", false, "pdf"],
    ["data.bin", false, "file"],
    ["Makefile", false, "file"],
    [".bashrc", false, "file"],
    ["trailing.", false, "file"],
  ];
  for (const [name, isDirectory, icon] of cases) {
    assert.equal(listingIcon(name, isDirectory), icon, name);
  }
  const html = renderListing({
    path: "/",
    showParent: false,
    entries: cases.map(([name, isDirectory]) => ({ name, isDirectory, size: 1, modified: null })),
  });
  for (const [name, isDirectory, icon] of cases) {
    const row = new RegExp(
      `<svg class="i i-${icon}" aria-hidden="true"><use href="#i-${icon}"/></svg>${
        name.replace(/[.]/g, "\\.")
      }${isDirectory ? "/" : ""}</a>`,
    );
    assert.match(html, row, name);
  }
  // Each symbol used is defined once; unused ones ("up" at the root) are left out.
  for (const icon of ["dir", "image", "video", "audio", "archive", "text", "pdf", "file"]) {
    assert.equal(html.split(`<symbol id="i-${icon}"`).length, 2, icon);
  }
  assert.ok(!html.includes(`id="i-up"`));
});

Deno.test("self-contained and small: no external resource, no script, no font", () => {
  const html = renderListing({
    path: "/d/",
    showParent: true,
    entries: [
      { name: "a.png", isDirectory: false, size: 1, modified: when },
      { name: "sub", isDirectory: true, size: null, modified: when },
    ],
  });
  assert.ok(!/https?:|url\(|@import|@font-face|<script|<link|<img/i.test(html));
  assert.match(html, /prefers-color-scheme:dark/);
  assert.match(html, /@media \(max-width:30rem\)/);
  assert.ok(html.length < 6_000, `${html.length} bytes`);
});
