/**
 * The machine-readable side of directory listings: the JSON shape (`?format=json` or
 * `Accept: application/json`), the `?sort=name|size|time&order=asc|desc` query both the
 * JSON and the HTML listing honour, and the negotiation between the two. Pure: the caller
 * reads the directory and passes entries in (the same entries `listing.ts` renders).
 *
 * ```ts
 * import { listingJson, parseListingSort, wantsJson } from "./listing_json.ts";
 * const url = new URL("http://localhost/docs/?sort=size");
 * const sort = parseListingSort(url.searchParams);
 * if (wantsJson(url.searchParams, "application/json")) {
 *   // Content-Type: application/json; charset=utf-8, and Vary: Accept
 *   console.log(JSON.stringify(listingJson("/docs/", [], sort)));
 * } // else renderListing (listing.ts): the same order, as HTML
 * ```
 *
 * @module
 */
import { matchAccept } from "../semantics/negotiation.ts";

/** What a listing can be sorted by. */
export type ListingSortKey = "name" | "size" | "time";
/** Sort direction. */
export type ListingSortOrder = "asc" | "desc";

/** A parsed `?sort=…&order=…`. */
export interface ListingSort {
  by: ListingSortKey;
  order: ListingSortOrder;
}

/** Name ascending: what a listing shows without a query. */
export const DEFAULT_LISTING_SORT: Readonly<ListingSort> = { by: "name", order: "asc" };

/**
 * An entry as the directory reader produces it; `listing.ts`'s `ListingEntry` fits as is.
 * `isSymlink` is optional because a reader that follows links may not know.
 */
export interface ListingSourceEntry {
  name: string;
  isDirectory: boolean;
  isSymlink?: boolean;
  /** Bytes; null for directories or when unknown. */
  size: number | null;
  modified: Date | null;
}

/** Kind of a listed entry. */
export type ListingEntryType = "file" | "dir" | "symlink";

/** One entry of the JSON listing. */
export interface ListingJsonEntry {
  name: string;
  type: ListingEntryType;
  /** Bytes for files, null for directories or when unknown. */
  size: number | null;
  /** ISO 8601 UTC (`2026-11-25T09:05:00.000Z`), or null when unknown. */
  mtime: string | null;
}

/** The JSON document served for a directory. */
export interface ListingJson {
  /** Decoded URL path of the directory, ending in "/". */
  path: string;
  sort: ListingSortKey;
  order: ListingSortOrder;
  entries: ListingJsonEntry[];
}

const SORT_KEYS: readonly ListingSortKey[] = ["name", "size", "time"];

/**
 * Reads `sort` and `order` from the query. Unknown or missing values fall back to the
 * default rather than failing: a listing is a convenience, and a stale bookmark with an old
 * sort key should still show the folder. `order` defaults to asc.
 */
export function parseListingSort(query: URLSearchParams): ListingSort {
  const by = query.get("sort")?.toLowerCase();
  const order = query.get("order")?.toLowerCase();
  return {
    by: SORT_KEYS.includes(by as ListingSortKey) ? by as ListingSortKey : DEFAULT_LISTING_SORT.by,
    order: order === "desc" ? "desc" : "asc",
  };
}

/**
 * Natural order for names: digit runs compare as numbers (`report-2` before `report-10`) and
 * case and accents are ignored (`apple`, `Banana`, `cherry`), as file managers sort. The
 * locale is fixed ("en": CLDR root order for Latin, no tailoring) rather than the host's, so
 * the JSON order is the same on every server whatever its `LANG`. One collator, built by
 * the first sort (constructing one per comparison costs more than the sort; building it at
 * start-up loaded ICU's collation data into every server: ~8 ms and ~3.4 MiB).
 */
let nameCollator: Intl.Collator | undefined;

/**
 * Natural order (the collator above), then code points for names it calls equal
 * (`A.txt`/`a.txt`, `report-02`/`report-2`), so the order is total and never depends on
 * the input order. Listings and search results sort with it.
 */
export function compareNames(a: string, b: string): number {
  nameCollator ??= new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  return nameCollator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Compares by one key; unknown sizes/times sort before known ones in ascending order. */
function compareBy(a: ListingSourceEntry, b: ListingSourceEntry, by: ListingSortKey): number {
  if (by === "name") return compareNames(a.name, b.name);
  // A directory's own size (a block count) means nothing to a reader: sort it as unknown.
  const x = by === "size" ? (a.isDirectory ? null : a.size) : a.modified?.getTime() ?? null;
  const y = by === "size" ? (b.isDirectory ? null : b.size) : b.modified?.getTime() ?? null;
  if (x === y) return 0;
  if (x === null) return -1;
  if (y === null) return 1;
  return x - y;
}

/**
 * Sorts entries: directories first in every order, descending included (subfolders are what
 * one navigates by, and flipping the order should not push them below a long list of files
 * on a phone), then by the key in the requested order (names in natural order,
 * {@link compareNames}), ties broken by name ascending so the order is total and stable.
 * Returns a new array.
 */
export function sortListingEntries<T extends ListingSourceEntry>(
  entries: readonly T[],
  sort: ListingSort = DEFAULT_LISTING_SORT,
): T[] {
  const direction = sort.order === "desc" ? -1 : 1;
  return [...entries].sort((a, b) => {
    if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
    return direction * compareBy(a, b, sort.by) || compareNames(a.name, b.name);
  });
}

/** The type an entry is reported as: a symlink stays a symlink even if it points at a dir. */
export function entryType(entry: ListingSourceEntry): ListingEntryType {
  if (entry.isSymlink) return "symlink";
  return entry.isDirectory ? "dir" : "file";
}

/** Builds the JSON listing document, sorted as asked. */
export function listingJson(
  path: string,
  entries: readonly ListingSourceEntry[],
  sort: ListingSort = DEFAULT_LISTING_SORT,
): ListingJson {
  return {
    path,
    sort: sort.by,
    order: sort.order,
    entries: sortListingEntries(entries, sort).map((entry) => ({
      name: entry.name,
      type: entryType(entry),
      size: entry.isDirectory ? null : entry.size,
      mtime: entry.modified === null ? null : entry.modified.toISOString(),
    })),
  };
}

/**
 * The query string for a sortable column header in the HTML listing: clicking the column
 * that is already sorted flips its order; another column starts ascending. Other query
 * parameters are dropped (a listing has none worth keeping).
 */
export function sortLinkQuery(current: ListingSort, column: ListingSortKey): string {
  const order: ListingSortOrder = current.by === column && current.order === "asc" ? "desc" : "asc";
  return `?sort=${column}&order=${order}`;
}

/**
 * Whether a directory request wants JSON: `?format=json` (or `html`) decides outright;
 * otherwise `Accept` must rank `application/json` above `text/html`, or equal but named more
 * specifically (`application/json, text/plain, *\/*` from fetch libraries). Otherwise HTML:
 * browsers (`text/html,…,*\/*;q=0.8`) and curl (`*\/*`) get the page.
 */
export function wantsJson(query: URLSearchParams, accept: string | null | undefined): boolean {
  const format = query.get("format")?.toLowerCase();
  if (format === "json") return true;
  if (format === "html") return false;
  if (!accept) return false;
  const json = matchAccept(accept, "application/json");
  const html = matchAccept(accept, "text/html");
  if (json.q <= 0) return false;
  return json.q > html.q || (json.q === html.q && json.specificity > html.specificity);
}
