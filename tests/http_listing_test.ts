/** Unit tests for lib/http/listing.ts: escaping, ordering, formatting. */
import assert from "node:assert/strict";
import {
  escapeHtml,
  formatSize,
  type ListingEntry,
  renderListing,
  sortEntries,
} from "../lib/http/listing.ts";

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
  assert.deepEqual(sortEntries(entries).map((e) => e.name), ["A", "z", "a.txt", "b.txt"]);
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
