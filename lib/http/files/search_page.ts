/**
 * `GET /dir/?q=term`, the HTTP side of search.ts: the bounded search below a folder as an
 * HTML page or JSON, leaving out what the client may not read (access rules, through
 * `readable`), and 503 + Retry-After when search.ts' `MAX_CONCURRENT_SEARCHES` already run.
 *
 * ```ts
 * import { serveSearch } from "./search_page.ts";
 * import { resolveSafePath } from "./safe_path.ts";
 * const root = await Deno.realPath(".");
 * const dir = (await resolveSafePath(root, "/"))!;
 * const req = {
 *   method: "GET", target: "/?q=readme", version: "HTTP/1.1", rawPath: "/", path: "/",
 *   query: "q=readme", host: null, headers: new Map(), keepAlive: true,
 *   body: { kind: "none" }, expectContinue: false,
 * } as const;
 * const page = await serveSearch(root, dir, req, new URLSearchParams(req.query), "readme", false, () => true);
 * console.log(page.status); // 200
 * ```
 *
 * @module
 */
import { HttpError } from "../errors.ts";
import type { HttpResponse, RequestHead } from "../handler.ts";
import { renderSearchResults } from "./listing.ts";
import { wantsJson } from "./listing_json.ts";
import type { ResolvedPath } from "./safe_path.ts";
import { MAX_SEARCH_QUERY_CHARS, searchGate, searchJson, searchNames } from "./search.ts";

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
