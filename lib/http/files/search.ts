/**
 * Find a file: a bounded, recursive, case-insensitive search of names below one folder of
 * the served root (`GET /dir/?q=term`), under the same hidden-file rules as listings. The
 * walk reads directories only (never file contents) and stops at the first of
 * {@link MAX_SEARCH_RESULTS} matches, {@link MAX_SEARCH_VISITED} entries looked at, or
 * {@link MAX_SEARCH_MS}, reporting `truncated` so the reader knows the answer is partial.
 *
 * ```ts
 * import { searchNames } from "./search.ts";
 * import { canonicalRoot } from "./safe_path.ts";
 * const root = await canonicalRoot(".");
 * const found = await searchNames({ root, dir: root, query: "readme", dotfiles: false });
 * console.log(found.hits.map((hit) => hit.path), found.truncated);
 * ```
 *
 * Security decisions, explicit:
 * - Names starting with "." are neither matched nor descended into unless `dotfiles`;
 *   in-progress uploads (`.sockit-upload-…`) never appear, even with `dotfiles`.
 * - A symlink is reported only when its real path is inside the root (and, without
 *   `dotfiles`, has no hidden segment), so every result resolves through `safe_path.ts`.
 *   Symlinked folders are never descended into: that can neither leave the root nor loop,
 *   and what they point at inside the root is found under its real path anyway.
 *
 * @module
 */
import { compareNames } from "./listing_json.ts";
import { isInsideRoot, isUploadTempName } from "./safe_path.ts";

/** Longest `q` accepted, in UTF-16 code units; longer is answered 400. */
export const MAX_SEARCH_QUERY_CHARS = 200;
/** Matches returned at most; one more sets `truncated`. */
export const MAX_SEARCH_RESULTS = 1000;
/** Directory entries looked at, at most, per search; one more sets `truncated`. */
export const MAX_SEARCH_VISITED = 100_000;
/** Wall-clock budget of one search; past it the walk stops with `truncated`. */
export const MAX_SEARCH_MS = 2000;
/**
 * Searches running at once in one process (or one `--workers` worker); one more is answered
 * 503 + Retry-After at once, so many clients searching a big tree cannot take every read.
 */
export const MAX_CONCURRENT_SEARCHES = 4;

/** Counts searches in flight against {@link MAX_CONCURRENT_SEARCHES}. */
export class SearchGate {
  #running = 0;
  constructor(readonly limit: number = MAX_CONCURRENT_SEARCHES) {}

  /** True (and counted) when one more search may start; call {@link leave} when it ends. */
  tryEnter(): boolean {
    if (this.#running >= this.limit) return false;
    this.#running++;
    return true;
  }

  leave(): void {
    this.#running--;
  }
}

/** The searches of this isolate. */
export const searchGate: SearchGate = new SearchGate();

/** Options for {@link searchNames}. */
export interface SearchOptions {
  /** Canonical root (see `canonicalRoot`). */
  root: string;
  /** Real path of the folder searched, inside `root`. */
  dir: string;
  /** The term; matched case-insensitively as a substring of each name. */
  query: string;
  /** Match and descend into names starting with "." (default false). */
  dotfiles?: boolean;
  /** Default {@link MAX_SEARCH_RESULTS}. */
  maxResults?: number;
  /** Default {@link MAX_SEARCH_VISITED}. */
  maxVisited?: number;
  /** Default {@link MAX_SEARCH_MS}. */
  maxMs?: number;
  /** Clock in ms (default `performance.now`); injectable for tests. */
  now?: () => number;
  /**
   * Whether the client may see a real path (access rules); an unreadable folder is not
   * entered. Default: everything.
   */
  readable?: (real: string) => boolean;
}

/** One match. */
export interface SearchHit {
  /** Its name. */
  name: string;
  /** Path relative to the searched folder, "/"-separated, no leading or trailing "/". */
  path: string;
  isDirectory: boolean;
  isSymlink: boolean;
  /** Bytes for files; null for folders. */
  size: number | null;
  modified: Date | null;
}

/** What {@link searchNames} found. */
export interface SearchResult {
  /** Matches in natural order of their paths. */
  hits: SearchHit[];
  /** A limit stopped the walk: there may be more matches. */
  truncated: boolean;
}

/** The JSON answer to `?q=…&format=json`. */
export interface SearchJson {
  /** Decoded URL path of the searched folder, ending in "/". */
  path: string;
  query: string;
  results: {
    name: string;
    path: string;
    type: "file" | "dir" | "symlink";
    size: number | null;
    /** ISO 8601 UTC, or null when unknown. */
    modified: string | null;
  }[];
  truncated: boolean;
}

/** Folded form used for matching: NFC (so composed and decomposed "é" agree), lower case. */
export function foldName(text: string): string {
  return text.normalize("NFC").toLowerCase();
}

/** Natural order of relative paths: the listings' order (digit runs as numbers, case ignored). */
export function compareSearchPaths(a: string, b: string): number {
  return compareNames(a, b);
}

/** True when a path below the root has a segment starting with ".". */
function hasHiddenSegment(root: string, real: string): boolean {
  if (real === root) return false;
  const below = real.slice(root.endsWith("/") ? root.length : root.length + 1);
  return below.charCodeAt(0) === 0x2e || below.includes("/.");
}

/** Walks `options.dir` breadth first and returns the names matching `options.query`. */
export async function searchNames(options: SearchOptions): Promise<SearchResult> {
  const { root, dotfiles = false } = options;
  const readable = options.readable ?? (() => true);
  const needle = foldName(options.query);
  const maxResults = options.maxResults ?? MAX_SEARCH_RESULTS;
  const maxVisited = options.maxVisited ?? MAX_SEARCH_VISITED;
  const maxMs = options.maxMs ?? MAX_SEARCH_MS;
  const now = options.now ?? (() => performance.now());
  const deadline = now() + maxMs;
  const hits: SearchHit[] = [];
  let visited = 0;
  let truncated = false;
  const queue: { real: string; rel: string }[] = [{ real: options.dir, rel: "" }];
  walk: for (let next = 0; next < queue.length; next++) {
    const { real, rel } = queue[next];
    try {
      for await (const entry of Deno.readDir(real)) {
        if (++visited > maxVisited || now() > deadline) {
          truncated = true;
          break walk;
        }
        const name = entry.name;
        if (isUploadTempName(name)) continue;
        if (!dotfiles && name.charCodeAt(0) === 0x2e) continue;
        const full = `${real}/${name}`;
        if (!readable(full)) continue;
        const path = rel === "" ? name : `${rel}/${name}`;
        const matches = foldName(name).includes(needle);
        if (entry.isSymlink) {
          if (!matches) continue;
          try {
            const target = await Deno.realPath(full);
            if (!isInsideRoot(root, target)) continue;
            if (!dotfiles && hasHiddenSegment(root, target)) continue;
            if (!readable(target)) continue;
          } catch {
            continue; // dangling
          }
        } else if (entry.isDirectory) {
          queue.push({ real: full, rel: path });
        }
        if (!matches) continue;
        let info: Deno.FileInfo;
        try {
          info = await Deno.stat(full);
        } catch {
          continue; // gone or unreadable: not listed, as in a listing
        }
        if (hits.length === maxResults) {
          truncated = true;
          break walk;
        }
        hits.push({
          name,
          path,
          isDirectory: info.isDirectory,
          isSymlink: entry.isSymlink,
          size: info.isDirectory ? null : info.size,
          modified: info.mtime,
        });
      }
    } catch {
      // An unreadable folder is skipped, like an unreadable entry in a listing.
    }
  }
  hits.sort((a, b) => compareSearchPaths(a.path, b.path));
  return { hits, truncated };
}

/** The JSON document for a search of `path` (decoded URL path, ending in "/"). */
export function searchJson(path: string, query: string, result: SearchResult): SearchJson {
  return {
    path,
    query,
    results: result.hits.map((hit) => ({
      name: hit.name,
      path: hit.path,
      type: hit.isSymlink ? "symlink" : hit.isDirectory ? "dir" : "file",
      size: hit.size,
      modified: hit.modified === null ? null : hit.modified.toISOString(),
    })),
    truncated: result.truncated,
  };
}
