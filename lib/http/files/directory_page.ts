/**
 * A folder's pages: its listing (HTML or JSON, listing.ts / listing_json.ts) and the
 * results of `?q=` (search.ts), each leaving out what the client may not read (access
 * rules, through `readable`). Also the two refusals the file handler shares with them.
 *
 * ```ts
 * import { serveListing } from "./directory_page.ts";
 * import { resolveSafePath } from "./safe_path.ts";
 * const root = await Deno.realPath(".");
 * const dir = (await resolveSafePath(root, "/"))!;
 * const req = {
 *   method: "GET", target: "/", version: "HTTP/1.1", rawPath: "/", path: "/", query: "",
 *   host: null, headers: new Map(), keepAlive: true, body: { kind: "none" }, expectContinue: false,
 * } as const;
 * const page = await serveListing(root, dir, req, false, () => true);
 * console.log(page.status); // 200
 * ```
 *
 * @module
 */
import { HttpError } from "../errors.ts";
import type { HttpResponse, RequestHead } from "../handler.ts";
import { type ListingEntry, renderListing, renderSearchResults } from "./listing.ts";
import { listingJson, parseListingSort, wantsJson } from "./listing_json.ts";
import { isInsideRoot, isUploadTempName, type ResolvedPath } from "./safe_path.ts";
import { MAX_SEARCH_QUERY_CHARS, searchGate, searchJson, searchNames } from "./search.ts";

/** The 404 every refusal of the file handler gives (nothing tells what exists). */
export function notFound(): HttpError {
  return new HttpError(404, "NOT_FOUND", "Not Found");
}

/** A file system error as the answer: 403 for permission, else 404. */
export function fileError(err: unknown): HttpError {
  if (err instanceof Deno.errors.PermissionDenied) {
    return new HttpError(403, "FORBIDDEN", "Forbidden");
  }
  return notFound();
}

/** The listing of `dir` (or, with `?q=`, the search below it). */
export async function serveListing(
  root: string,
  dir: ResolvedPath,
  req: RequestHead,
  dotfiles: boolean,
  readable: (real: string) => boolean,
  actionsHtml?: string,
): Promise<HttpResponse> {
  const urlPath = req.path;
  const query = new URLSearchParams(req.query);
  const term = query.get("q") ?? "";
  if (term !== "") return await serveSearch(root, dir, req, query, term, dotfiles, readable);
  const entries: (ListingEntry & { isSymlink: boolean })[] = [];
  try {
    for await (const entry of Deno.readDir(dir.path)) {
      if (!dotfiles && entry.name.startsWith(".")) continue;
      if (isUploadTempName(entry.name)) continue; // an upload in progress, never shown
      const full = `${dir.path}/${entry.name}`;
      // What this client may not read is not listed at all: names can tell too much.
      if (!readable(full)) continue;
      try {
        if (entry.isSymlink) {
          const target = await Deno.realPath(full);
          if (!isInsideRoot(root, target) || !readable(target)) continue;
        }
        const info = await Deno.stat(full);
        entries.push({
          name: entry.name,
          isDirectory: info.isDirectory,
          isSymlink: entry.isSymlink,
          size: info.isDirectory ? null : info.size,
          modified: info.mtime,
        });
      } catch {
        // Dangling symlink or unreadable entry: not listed, like a missing file.
      }
    }
  } catch (err) {
    throw fileError(err);
  }
  const path = urlPath.endsWith("/") ? urlPath : `${urlPath}/`;
  const sort = parseListingSort(query);
  if (wantsJson(query, req.headers.get("accept") ?? null)) {
    return {
      status: 200,
      headers: [
        ["Content-Type", "application/json; charset=utf-8"],
        ["Vary", "Accept"],
        ["X-Content-Type-Options", "nosniff"],
      ],
      body: JSON.stringify(listingJson(path, entries, sort)) + "\n",
    };
  }
  const html = renderListing({
    path,
    entries,
    sort,
    showParent: dir.segments.length > 0,
    actionsHtml,
  });
  return {
    status: 200,
    headers: [
      ["Content-Type", "text/html; charset=utf-8"],
      ["Vary", "Accept"],
      ["X-Content-Type-Options", "nosniff"],
    ],
    body: html,
  };
}

/** `GET /dir/?q=term`: names matching below the folder (search.ts), as HTML or JSON. */
export async function serveSearch(
  root: string,
  dir: ResolvedPath,
  req: RequestHead,
  query: URLSearchParams,
  term: string,
  dotfiles: boolean,
  readable: (real: string) => boolean,
): Promise<HttpResponse> {
  if (term.length > MAX_SEARCH_QUERY_CHARS) {
    throw new HttpError(
      400,
      "BAD_TARGET", // the query is part of the request target
      `q is longer than ${MAX_SEARCH_QUERY_CHARS} characters`,
    );
  }
  const path = req.path.endsWith("/") ? req.path : `${req.path}/`;
  if (!searchGate.tryEnter()) {
    throw new HttpError(503, "BUSY", "too many searches at once, retry shortly", {
      headers: [["Retry-After", "1"]],
    });
  }
  let result;
  try {
    result = await searchNames({ root, dir: dir.path, query: term, dotfiles, readable });
  } finally {
    searchGate.leave();
  }
  const json = wantsJson(query, req.headers.get("accept") ?? null);
  return {
    status: 200,
    headers: [
      ["Content-Type", json ? "application/json; charset=utf-8" : "text/html; charset=utf-8"],
      ["Vary", "Accept"],
      ["Cache-Control", "no-cache"],
      ["X-Content-Type-Options", "nosniff"],
    ],
    body: json
      ? JSON.stringify(searchJson(path, term, result)) + "\n"
      : renderSearchResults({ path, query: term, hits: result.hits, truncated: result.truncated }),
  };
}
