/**
 * Pure HTML rendering of a directory listing: a breadcrumb heading (each folder of the path
 * a link), then directories and files in natural order, each with an icon by type, size and
 * modification time, in one self-contained page (inline CSS and SVG, no external request;
 * no script element, only the filter box's `oninput`) that reads well on a phone: viewport meta, rows 44 px tall to tap, and below 30rem
 * the size/date line moves under the name so nothing overflows a 375 px screen. Names are
 * HTML-escaped for display and URL-encoded in links, so a file called `<script>` or
 * `a b#c?.txt` is shown and linked correctly. Order follows `?sort=name|size|time&order=…`
 * exactly as the JSON listing does (`listing_json.ts`), and the column headers link to the
 * other orders.
 *
 * ```ts
 * import { renderListing } from "./listing.ts";
 * import { parseListingSort } from "./listing_json.ts";
import type { SearchHit } from "./search.ts";
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
import type { SearchHit } from "./search.ts";

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

/** The icon a row gets; "up" is the parent link's. */
export type ListingIcon =
  | "dir"
  | "image"
  | "video"
  | "audio"
  | "archive"
  | "text"
  | "pdf"
  | "file"
  | "up";

/** Extensions (lower case, after the last dot) per icon; anything else is "file". */
const ICON_BY_EXTENSION: ReadonlyMap<string, ListingIcon> = new Map(
  ([
    ["image", "png jpg jpeg gif webp avif svg bmp ico tif tiff heic heif jxl"],
    ["video", "mp4 m4v mkv webm mov avi wmv flv mpg mpeg 3gp ogv"],
    ["audio", "mp3 m4a aac flac wav ogg oga opus wma aif aiff mid midi"],
    ["archive", "zip tar gz tgz bz2 tbz2 xz txz zst 7z rar iso img dmg deb rpm apk jar whl"],
    ["pdf", "pdf"],
    [
      "text",
      "txt md markdown rst adoc csv tsv log json jsonc yaml yml toml ini conf cfg env xml " +
      "html htm css scss js mjs cjs ts mts tsx jsx py rb go rs c h cc cpp hpp java kt swift " +
      "sh bash zsh fish ps1 bat sql php pl lua r vue svelte diff patch tex srt vtt",
    ],
  ] as const).flatMap(([icon, list]) => list.split(" ").map((ext) => [ext, icon] as const)),
);

/**
 * The icon for an entry, from its extension alone: the listing never opens files to sniff
 * them, and a name is all a reader sees too. A leading dot (`.bashrc`) is not an extension.
 */
export function listingIcon(name: string, isDirectory: boolean): ListingIcon {
  if (isDirectory) return "dir";
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "file";
  return ICON_BY_EXTENSION.get(name.slice(dot + 1).toLowerCase()) ?? "file";
}

/** A page outline with a folded corner, shared by the file-like icons. */
const PAGE = `<path d="M6 2h8l5 5v15H6zM14 2v5h5"/>`;

/**
 * 24×24 line drawings, defined once per page as `<symbol>`s and drawn with `<use>`: a row
 * costs ~70 bytes, and the page needs no icon font or image request.
 */
const ICON_SYMBOLS: Record<ListingIcon, string> = {
  dir: `<path d="M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z" ` +
    `fill="currentColor" fill-opacity=".3"/>`,
  image: `<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/>` +
    `<path d="M3 18l6-5 4 3 3-2 5 4"/>`,
  video: `<rect x="3" y="5" width="18" height="14" rx="2"/>` +
    `<path d="M10 9v6l5-3z" fill="currentColor"/>`,
  audio: `<path d="M9 18V5l11-2v13"/><circle cx="6" cy="18" r="3"/><circle cx="17" cy="16" r="3"/>`,
  archive: `<rect x="3" y="3" width="18" height="18" rx="2"/><path d="M12 3v2m0 3v2m0 3v2"/>` +
    `<rect x="10" y="15" width="4" height="4"/>`,
  text: `${PAGE}<path d="M9 12h6M9 15h6M9 18h4"/>`,
  pdf: `${PAGE}<path d="M6 14h13v5H6z" fill="currentColor"/>`,
  file: PAGE,
  up: `<path d="M12 20V5M6 11l6-6 6 6"/>`,
};

/** One icon, drawn from the page's symbols. */
function iconHtml(icon: ListingIcon): string {
  return `<svg class="i i-${icon}" aria-hidden="true"><use href="#i-${icon}"/></svg>`;
}

/** The hidden `<svg>` defining the symbols the page uses, and only those. */
function iconSprite(used: ReadonlySet<ListingIcon>): string {
  const symbols = [...used].map((icon) =>
    `<symbol id="i-${icon}" viewBox="0 0 24 24">${ICON_SYMBOLS[icon]}</symbol>`
  );
  return `<svg class="sprite" aria-hidden="true">${symbols.join("")}</svg>\n`;
}

/**
 * The heading: "Index of /a/b c/" with the root "/" and every folder a link. Hrefs are
 * absolute, built from the decoded segments, each percent-encoded: right even when the
 * request had "//" (merged by the path rules) where relative "../" chains would not be.
 */
function renderBreadcrumb(path: string): string {
  const segments = path.split("/").filter((segment) => segment !== "");
  let href = "/";
  let html = `<a href="/"${segments.length === 0 ? ` aria-current="page"` : ""}>/</a>`;
  segments.forEach((segment, i) => {
    href += `${encodeURIComponent(segment)}/`;
    const current = i === segments.length - 1 ? ` aria-current="page"` : "";
    html += `<a href="${escapeHtml(href)}"${current}>${escapeHtml(segment)}</a>/`;
  });
  return `<h1>Index of <span class="crumbs">${html}</span></h1>`;
}

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

// Rows are a two-column grid (name | size · date); under 30rem the meta line drops below
// the name, indented past the icon, so a 375 px phone never scrolls sideways.
const STYLE = `:root{color-scheme:light dark}
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:.5rem 1rem 1rem;color:#222;background:#fff}
h1{font-size:1.2rem;font-weight:600;overflow-wrap:anywhere;margin:.5rem 0}
.crumbs a{display:inline-block;min-width:1.5rem;padding:.5rem .15rem;text-align:center;color:#0645ad;text-underline-offset:.2em}
.crumbs a[aria-current]{text-decoration:none;color:inherit}
.sprite{position:absolute;width:0;height:0}
ul{list-style:none;padding:0;margin:0}
li{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:0 .75rem;align-items:center;border-bottom:1px solid #eee}
li>a{position:relative;display:block;padding:.65rem 0 .65rem 2rem;min-height:1.5rem;overflow-wrap:anywhere;text-decoration:none;color:#0645ad}
li>a:hover{text-decoration:underline}
.i{width:1.3rem;height:1.3rem;fill:none;stroke:currentColor;stroke-width:1.7;stroke-linecap:round;stroke-linejoin:round}
li>a .i{position:absolute;left:0;top:.75rem}
.i-dir{color:#d49b00}.i-image{color:#2e9a4b}.i-video{color:#8a4fd0}.i-audio{color:#d0457a}.i-archive{color:#9a6a3a}.i-text{color:#4a7bb7}.i-pdf{color:#d23c2f}.i-file,.i-up{color:#888}
.meta{color:#666;font-size:.85rem;white-space:nowrap;text-align:right}
.head a{color:#888;font-size:.85rem;display:inline-block;padding:.6rem 0;text-decoration:none}
.head>a{padding-left:2rem}
.actions a{display:inline-block;padding:.5rem 0}
.upload{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:0 0 .75rem}
.upload input{max-width:100%}
li[hidden]{display:none}
li.find{display:block;border:0}
.find input{box-sizing:border-box;width:100%;font:inherit;padding:.5rem;margin:.25rem 0}
footer{margin-top:1rem;color:#888;font-size:.8rem}
@media (max-width:30rem){li:not(.head){grid-template-columns:minmax(0,1fr)}li:not(.head) .meta{text-align:left;padding:0 0 .5rem 2rem;margin-top:-.4rem}}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}li{border-color:#333}li>a,.crumbs a,.actions a{color:#8ab4f8}.meta{color:#aaa}}`;

/**
 * The filter box (a first row of the listing, so actions stay right after the heading): a
 * plain GET form, so Enter searches this folder and below on the server
 * (`?q=`, search.ts) without JavaScript; as one types, an inline handler hides the rows of
 * this page whose names do not match (no request). A handler attribute rather than a
 * `<script>` element keeps the page script-free for anything that does not type in the box.
 */
function renderFindForm(query: string): string {
  const filter = `const t=this.value.toLowerCase();` +
    `for(const a of document.querySelectorAll('li:not(.head)>a:not([href="../"],[href="./"])'))` +
    `a.parentNode.hidden=!a.textContent.toLowerCase().includes(t)`;
  return `<form class="find" method="get" role="search"><input name="q" type="search" ` +
    `value="${escapeHtml(query)}" placeholder="Find a file" aria-label="Find a file" ` +
    `oninput="${escapeHtml(filter)}"></form>`;
}

/** What {@link renderSearchResults} shows. */
export interface SearchPage {
  /** Decoded URL path of the searched folder, ending in "/". */
  path: string;
  query: string;
  /** Matches in the order shown; paths relative to the folder. */
  hits: readonly SearchHit[];
  /** A limit stopped the search. */
  truncated: boolean;
}

/** The page answering `?q=`: matches below the folder, linked relative to it. */
export function renderSearchResults(page: SearchPage): string {
  const used = new Set<ListingIcon>(["up"]);
  let rows = `<li><a href="./">${iconHtml("up")}./</a>` +
    `<span class="meta">back to the listing</span></li>\n`;
  for (const hit of page.hits) {
    const slash = hit.isDirectory ? "/" : "";
    const href = hit.path.split("/").map((segment) => encodeURIComponent(segment)).join("/");
    const icon = listingIcon(hit.name, hit.isDirectory);
    used.add(icon);
    rows += `<li><a href="${escapeHtml(href)}${slash}">${iconHtml(icon)}${
      escapeHtml(hit.path)
    }${slash}</a><span class="meta">${escapeHtml(rowMeta(hit))}</span></li>\n`;
  }
  const count = `${page.hits.length} ${page.hits.length === 1 ? "match" : "matches"}`;
  const note = page.truncated
    ? `<p class="truncated">Search stopped at a limit: there may be more matches.</p>\n`
    : "";
  return pageHtml(
    `Find “${escapeHtml(page.query)}” in ${escapeHtml(page.path)}`,
    used,
    `${renderBreadcrumb(page.path)}\n${renderFindForm(page.query)}\n${note}<ul>\n${rows}</ul>\n` +
      `<footer>${count} · served by sockit</footer>`,
  );
}

function rowMeta(entry: { isDirectory: boolean; size: number | null; modified: Date | null }) {
  return [
    entry.isDirectory || entry.size === null ? "" : formatSize(entry.size),
    entry.modified === null ? "" : formatModified(entry.modified),
  ].filter((s) => s !== "").join(" · ");
}

function pageHtml(title: string, used: ReadonlySet<ListingIcon>, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
${iconSprite(used)}${body}
</body>
</html>
`;
}

/** The whole listing page. */
export function renderListing(page: ListingPage): string {
  const title = `Index of ${escapeHtml(page.path)}`;
  const sort = page.sort ?? DEFAULT_LISTING_SORT;
  const used = new Set<ListingIcon>();
  let rows = renderSortHeader(sort);
  if (page.showParent) {
    used.add("up");
    rows += `<li><a href="../">${
      iconHtml("up")
    }../</a><span class="meta">parent directory</span></li>\n`;
  }
  for (const entry of sortListingEntries(page.entries, sort)) {
    const slash = entry.isDirectory ? "/" : "";
    const href = escapeHtml(encodeURIComponent(entry.name)) + slash;
    const icon = listingIcon(entry.name, entry.isDirectory);
    used.add(icon);
    const meta = rowMeta(entry);
    rows += `<li><a href="${href}">${iconHtml(icon)}${
      escapeHtml(entry.name)
    }${slash}</a><span class="meta">${escapeHtml(meta)}</span></li>\n`;
  }
  const count = `${page.entries.length} ${page.entries.length === 1 ? "entry" : "entries"}`;
  return pageHtml(
    title,
    used,
    `${renderBreadcrumb(page.path)}\n${page.actionsHtml ?? ""}<ul>\n` +
      `<li class="find">${renderFindForm("")}</li>\n${rows}` +
      `</ul>\n<footer>${count} · served by sockit</footer>`,
  );
}
