/**
 * Pure HTML rendering of a directory listing: directories first, then files, each with
 * size and modification time, in a page that reads well on a phone (viewport meta, one
 * column, large tap targets). Names are HTML-escaped for display and URL-encoded in
 * links, so a file called `<script>` or `a b#c?.txt` is shown and linked correctly.
 * Order follows `?sort=name|size|time&order=asc|desc` exactly as the JSON listing does
 * (`listing_json.ts`), and the column headers link to the other orders.
 *
 * ```ts
 * import { renderListing } from "./listing.ts";
 * import { parseListingSort } from "./listing_json.ts";
 * const html = renderListing({
 *   path: "/docs/",
 *   showParent: true,
 *   entries: [{ name: "a&b.txt", isDirectory: false, size: 12, modified: new Date() }],
 *   sort: parseListingSort(new URLSearchParams("sort=size&order=desc")),
 * });
 * console.log(html.length);
 * ```
 *
 * @module
 */
import {
  DEFAULT_LISTING_SORT,
  type ListingSort,
  type ListingSortKey,
  sortLinkQuery,
  sortListingEntries,
} from "./listing_json.ts";

/** One row of a listing. */
export interface ListingEntry {
  name: string;
  isDirectory: boolean;
  /** Bytes (files only; null for directories or when unknown). */
  size: number | null;
  modified: Date | null;
}

/** What {@link renderListing} shows. */
export interface ListingPage {
  /** Decoded URL path of the directory, ending in "/". */
  path: string;
  entries: ListingEntry[];
  /** Show a "../" link (false at the root). */
  showParent: boolean;
  /**
   * Order of the rows (directories always first) and which column header is marked as
   * sorted. Default: name ascending.
   */
  sort?: ListingSort;
  /**
   * Trusted HTML placed right after the heading (the tar link and upload form of
   * `sharing.ts` `listingActionsHtml`); never built from request data.
   */
  actionsHtml?: string;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes the five HTML-significant characters. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Human-readable size: "512 B", "1.5 KiB", "3.2 MiB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** "2026-11-25 09:05" in UTC: sortable, short enough for a phone. */
function formatModified(date: Date): string {
  return date.toISOString().slice(0, 16).replace("T", " ");
}

/** Column headers of the listing, in the order they appear. */
const SORT_COLUMNS: readonly { key: ListingSortKey; label: string }[] = [
  { key: "name", label: "Name" },
  { key: "size", label: "Size" },
  { key: "time", label: "Modified" },
];

/**
 * The header row: one link per column; the sorted column carries an arrow and its link
 * flips the order (`sortLinkQuery`), so the page needs no script.
 */
function renderSortHeader(sort: ListingSort): string {
  const links = SORT_COLUMNS.map(({ key, label }) => {
    const arrow = key === sort.by ? (sort.order === "asc" ? " ▲" : " ▼") : "";
    return `<a href="${escapeHtml(sortLinkQuery(sort, key))}">${label}${arrow}</a>`;
  });
  return `<li class="head">${links[0]}<span class="meta">${links[1]} · ${links[2]}</span></li>\n`;
}

const STYLE =
  `body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:1rem;color:#222}
h1{font-size:1.2rem;word-break:break-all}
ul{list-style:none;padding:0;margin:0}
li{display:flex;gap:.75rem;align-items:baseline;border-bottom:1px solid #eee}
li a{flex:1;padding:.6rem 0;word-break:break-all;text-decoration:none;color:#0645ad}
li a:hover{text-decoration:underline}
.meta{color:#666;font-size:.85rem;white-space:nowrap;text-align:right}
.head a{color:#888;font-size:.85rem;padding:.4rem 0}
.head .meta a{padding:0}
footer{margin-top:1rem;color:#888;font-size:.8rem}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}li{border-color:#333}li a{color:#8ab4f8}}`;

/** The whole listing page. */
export function renderListing(page: ListingPage): string {
  const title = `Index of ${escapeHtml(page.path)}`;
  const sort = page.sort ?? DEFAULT_LISTING_SORT;
  let rows = renderSortHeader(sort);
  if (page.showParent) {
    rows += `<li><a href="../">../</a><span class="meta">parent directory</span></li>\n`;
  }
  for (const entry of sortListingEntries(page.entries, sort)) {
    const slash = entry.isDirectory ? "/" : "";
    const href = escapeHtml(encodeURIComponent(entry.name)) + slash;
    const meta = [
      entry.isDirectory || entry.size === null ? "" : formatSize(entry.size),
      entry.modified === null ? "" : formatModified(entry.modified),
    ].filter((s) => s !== "").join(" · ");
    rows += `<li><a href="${href}">${escapeHtml(entry.name)}${slash}</a><span class="meta">${
      escapeHtml(meta)
    }</span></li>\n`;
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${title}</h1>
${page.actionsHtml ?? ""}<ul>
${rows}</ul>
<footer>${page.entries.length} ${
    page.entries.length === 1 ? "entry" : "entries"
  } · served by sockit</footer>
</body>
</html>
`;
}
