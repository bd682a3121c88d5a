/**
 * The static-file handler: maps a request onto the served directory (through
 * `safe_path.ts`), answers with the file, `index.html`, a directory listing, a redirect to
 * the slash-terminated directory URL, or an error — never a stack trace, never a hint
 * about what exists outside the root.
 *
 * ```ts
 * import { staticFiles } from "./files.ts";
 * import { canonicalRoot } from "./safe_path.ts";
 * const root = await canonicalRoot("./public");
 * const handler = staticFiles({ root, listing: true, dotfiles: false });
 * console.log(typeof handler); // a Handler: run it on an HttpServer or compose middleware
 * ```
 *
 * Methods: GET and HEAD (same headers, no body); OPTIONS → 204 with `Allow`; any other
 * method on something that exists → 405 with `Allow`. Files up to
 * {@link SMALL_FILE_BYTES} are kept in a small in-memory cache (re-checked against the
 * disk every `FILE_CACHE_VALID_MS` (file_cache.ts)) and sent with the head in one write; bigger ones
 * are streamed in chunks by the connection, each chunk awaiting the socket. Cached bodies
 * are shared between responses: code wrapping this handler must not mutate them.
 *
 * @module
 */
import CONTENT_TYPES from "./content_types.json" with { type: "json" };
import { errorBody, HttpError } from "../errors.ts";
import {
  type FileBody,
  type Handler,
  type HeaderList,
  type HttpResponse,
  mayRead,
  type RequestContext,
  type RequestHead,
} from "../handler.ts";
import { type ListingEntry, renderListing } from "./listing.ts";
import {
  isInsideRoot,
  isUploadTempName,
  realUrlPath,
  type ResolvedPath,
  resolveSafePath,
} from "./safe_path.ts";
import { encodingCandidates } from "../semantics/encoding.ts";
import { type CachedFile, SmallFileCache } from "./file_cache.ts";
import { type FileRepresentation, planFileResponse } from "./file_plan.ts";
import { multipartByterangesBody, multipartByterangesChunks } from "../semantics/range.ts";
import { listingJson, parseListingSort, wantsJson } from "./listing_json.ts";
import { spaFallbackPath } from "./spa.ts";
import { serveSearch } from "./search_page.ts";

/** Methods a file or directory answers. */
export const ALLOWED_METHODS = "GET, HEAD, OPTIONS";
/** Files up to this size are read whole and sent in one write with their head. */
export const SMALL_FILE_BYTES = 64 * 1024;
/** Served when the extension is unknown (RFC 9110 §8.3: the safe default). */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Name served for a directory URL when present. */
export const INDEX_FILE = "index.html";

/** Options for {@link staticFiles}. */
export interface StaticFilesOptions {
  /** Canonical root directory (see `canonicalRoot`). */
  root: string;
  /** Render a listing for directories without index.html (default true). */
  listing?: boolean;
  /** Serve names starting with "." (default false). */
  dotfiles?: boolean;
  /** `--cache SECONDS`: Cache-Control public, max-age=N; absent → no-cache. */
  cacheSeconds?: number;
  /** `--spa`: missing extensionless paths serve /index.html. */
  spa?: boolean;
  /** Trusted HTML after the listing's heading (sharing.ts `listingActionsHtml`). */
  listingActionsHtml?: string;
  /** Trusted HTML after those, for logged-in users only (`ctx.access.user`: Share). */
  userActionsHtml?: string;
  /** The small-file cache to use; pass one to call `forgetFile` after an upload. */
  fileCache?: SmallFileCache;
  /**
   * Raw URL path of the page sent as the body of this handler's 404s to GET/HEAD
   * (`--not-found`, default `/404.html`), looked up per 404 under the same path rules as
   * any request; when it is not there, the plain-text 404. Absent: always plain text.
   */
  notFoundPage?: string;
}

/** Per-handler settings serveFile needs. */
interface FileSettings {
  root: string;
  dotfiles: boolean;
  cacheSeconds?: number;
}

/**
 * Extension → Content-Type, generated from `mime-types` by scripts/gen_content_types.ts (a
 * JSON map loads in a fraction of the time and memory the CommonJS package and its database
 * take at start-up).
 */
const contentTypes: Readonly<Record<string, string>> = CONTENT_TYPES;

/** Content-Type for a file name: `mime-types`' answer, charset=utf-8 on text, octet-stream if unknown. */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  const ext = dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
  return Object.hasOwn(contentTypes, ext) ? contentTypes[ext] : DEFAULT_CONTENT_TYPE;
}

function notFound(): HttpError {
  return new HttpError(404, "NOT_FOUND", "Not Found");
}

function methodNotAllowed(method: string): HttpError {
  return new HttpError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here`, {
    headers: [["Allow", ALLOWED_METHODS]],
  });
}

/** Location for "/dir" → "/dir/": query kept; leading "//" collapsed (no open redirect). */
export function directoryRedirectLocation(rawPath: string, query: string): string {
  let path = rawPath;
  while (path.startsWith("//")) path = path.slice(1);
  return `${path}/${query === "" ? "" : `?${query}`}`;
}

/** Builds the static-file handler for `options.root`. */
export function staticFiles(options: StaticFilesOptions): Handler {
  const root = options.root;
  const listing = options.listing ?? true;
  const dotfiles = options.dotfiles ?? false;
  const cache = options.fileCache ?? new SmallFileCache();
  const settings: FileSettings = {
    root,
    dotfiles,
    cacheSeconds: options.cacheSeconds,
  };

  const handler = async (req: RequestHead, ctx?: RequestContext): Promise<HttpResponse> => {
    const method = req.method;
    if (req.rawPath === "*") return { status: 204, headers: [["Allow", ALLOWED_METHODS]] };
    // Access rules (ctx.access) were checked on the URL path; a symlink may lead elsewhere,
    // so what is served is checked again where it really is.
    const readable = (real: string) => ctx === undefined || mayRead(ctx, realUrlPath(root, real));
    const resolved = await resolveSafePath(root, req.rawPath, { dotfiles });
    const found = resolved !== null && readable(resolved.path) ? resolved : null;
    if (found === null) {
      // --spa: a client-side route (no file, no extension) gets the app's index.html.
      const fallback = options.spa ? spaFallbackPath(method, req.path) : null;
      const app = fallback === null ? null : await resolveSafePath(root, fallback, { dotfiles });
      if (fallback !== null && app !== null && app.info.isFile && readable(app.path)) {
        return await serveFile(app, fallback, req, cache, settings);
      }
      throw notFound();
    }
    if (method === "OPTIONS") return { status: 204, headers: [["Allow", ALLOWED_METHODS]] };
    if (method !== "GET" && method !== "HEAD") throw methodNotAllowed(method);

    if (found.info.isDirectory) {
      if (!found.trailingSlash) {
        const location = directoryRedirectLocation(req.rawPath, req.query);
        return {
          status: 301,
          headers: [["Location", location], ["Content-Type", "text/plain; charset=utf-8"]],
          body: `Moved to ${location}\n`,
        };
      }
      const index = await resolveSafePath(root, req.rawPath + INDEX_FILE, { dotfiles });
      if (index !== null && index.info.isFile && readable(index.path)) {
        return await serveFile(index, req.rawPath + INDEX_FILE, req, cache, settings);
      }
      if (!listing) throw notFound();
      const actions = (options.listingActionsHtml ?? "") +
        (ctx?.access?.user ? options.userActionsHtml ?? "" : "");
      return await serveListing(root, found, req, dotfiles, readable, actions);
    }
    // "/file.txt/" names a directory that is not there; FIFOs and devices are never read.
    if (found.trailingSlash || !found.info.isFile) throw notFound();
    return await serveFile(found, req.rawPath, req, cache, settings);
  };

  const notFoundPage = options.notFoundPage;
  const answer = notFoundPage === undefined ? handler : async (
    req: RequestHead,
    ctx?: RequestContext,
  ) => {
    try {
      return await handler(req, ctx);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 404) throw err;
      if (req.method !== "GET" && req.method !== "HEAD") throw err;
      const page = await notFoundPageAnswer(
        root,
        notFoundPage,
        dotfiles,
        (real) => ctx === undefined || mayRead(ctx, realUrlPath(root, real)),
      );
      if (page === null) throw err;
      return page;
    }
  };

  return (req: RequestHead, ctx?: RequestContext): HttpResponse | Promise<HttpResponse> => {
    // Fast path: a fresh cached small file answers without touching the file system —
    // 200, 206, 304, 412 or 416 alike, since planning the answer is pure.
    if (req.method === "GET" || req.method === "HEAD") {
      const hit = cache.fresh(cacheKey(req));
      if (hit !== undefined && (ctx === undefined || mayRead(ctx, realUrlPath(root, hit.path)))) {
        return answerFromMemory(req, hit, settings);
      }
    }
    return answer(req, ctx);
  };
}

/**
 * The custom 404 page as a 404 answer, or null when it is not a servable file now (it may
 * come and go while serving; only an explicit `--not-found` is checked at start-up).
 */
async function notFoundPageAnswer(
  root: string,
  page: string,
  dotfiles: boolean,
  readable: (real: string) => boolean,
): Promise<HttpResponse | null> {
  const found = await resolveSafePath(root, page, { dotfiles }).catch(() => null);
  if (found === null || !found.info.isFile || found.trailingSlash) return null;
  if (!readable(found.path)) return null; // a 404 page in a protected folder stays there
  const headers: HeaderList = [
    ["Content-Type", contentTypeFor(found.path)],
    ["Cache-Control", "no-cache"],
    ["X-Content-Type-Options", "nosniff"],
  ];
  try {
    if (found.info.size <= SMALL_FILE_BYTES) {
      return { status: 404, headers, body: await Deno.readFile(found.path) };
    }
    return { status: 404, headers, body: await openBody(found, 0, found.info.size) };
  } catch {
    return null;
  }
}

/**
 * Cache key of a small file's answer: the path and the exact Accept-Encoding value, the one
 * request header that picks *which bytes* (file, .br or .gz); conditionals and ranges only
 * pick how much of them, and are planned per request.
 */
function cacheKey(req: RequestHead): string {
  return `${req.rawPath}\n${req.headers.get("accept-encoding") ?? ""}`;
}

/**
 * Request headers that can change a file's answer beyond its bytes (conditionals and
 * ranges, RFC 9110 §13 and §14). A request with none of them gets the plain 200.
 */
const PLAN_CHANGING_HEADERS = [
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "range",
  "if-range",
] as const;

const NO_REQUEST_HEADERS = { get: () => undefined };

/**
 * The headers of a cached file's plain 200, planned once (by the same planFileResponse,
 * so it cannot drift from the general path) and frozen: `formatResponseHead` reuses the
 * encoded bytes of a frozen list, so the busiest request — a small file, no conditionals —
 * builds no head at all. Null when the answer could still change with time (a file dated
 * in the future gets `Last-Modified: now`, RFC 9110 §8.8.2.1).
 */
function plainAnswerHeaders(entry: CachedFile, settings: FileSettings): HeaderList | null {
  const cached = entry.plainHeaders;
  if (cached !== undefined && cached.cacheSeconds === settings.cacheSeconds) {
    return cached.headers;
  }
  if (entry.rep.mtimeMs === null || entry.rep.mtimeMs > Date.now()) return null;
  const plan = planFileResponse("GET", NO_REQUEST_HEADERS, entry.rep, {
    cacheSeconds: settings.cacheSeconds,
  });
  if (plan.status !== 200) return null;
  const list: HeaderList = [...plan.headers, ["X-Content-Type-Options", "nosniff"]];
  for (const pair of list) Object.freeze(pair);
  const headers = Object.freeze(list) as HeaderList;
  entry.plainHeaders = { cacheSeconds: settings.cacheSeconds, headers };
  return headers;
}

/** Maps an open/read failure to 403 (permission) or 404 (anything else). */

function fileError(err: unknown): HttpError {
  if (err instanceof Deno.errors.PermissionDenied) {
    return new HttpError(403, "FORBIDDEN", "Forbidden");
  }
  return notFound();
}

/**
 * Answers with the file `found`, which `filePath` (raw URL path: the request's, its
 * index.html, or the --spa fallback) names; siblings are looked up next to that path.
 */
async function serveFile(
  found: ResolvedPath,
  filePath: string,
  req: RequestHead,
  cache: SmallFileCache,
  settings: FileSettings,
): Promise<HttpResponse> {
  const method = req.method;
  const contentType = contentTypeFor(found.path);
  // 1. Which bytes: a precompressed sibling or the file itself (compression on the fly is
  // middleware/compression.ts, over the answer; it leaves a Content-Encoding alone).
  let chosen = found;
  let encoding: FileRepresentation["encoding"] = "identity";
  for (const candidate of encodingCandidates(req.headers.get("accept-encoding"))) {
    if (candidate.source === "sibling") {
      // Through the same safe-path rules as the request itself (symlinks, dotfiles).
      const sibling = await resolveSafePath(settings.root, filePath + candidate.suffix, {
        dotfiles: settings.dotfiles,
      }).catch(() => null);
      if (sibling === null || !sibling.info.isFile || sibling.trailingSlash) continue;
      chosen = sibling;
      encoding = candidate.coding;
      break;
    }
    break;
  }
  const rep: FileRepresentation = {
    size: chosen.info.size,
    mtimeMs: chosen.info.mtime?.getTime() ?? null,
    contentType,
    encoding,
  };
  // 2. Small files answer from memory (and are kept there for the fast path).
  if (chosen.info.size <= SMALL_FILE_BYTES) {
    const key = cacheKey(req);
    let entry = cache.revalidate(key, chosen);
    if (entry === undefined) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(chosen.path);
      } catch (err) {
        throw fileError(err);
      }
      entry = cache.set(key, chosen, rep, bytes);
    }
    return answerFromMemory(req, entry, settings);
  }
  // 3. Big files stream from disk.
  const plan = planFileResponse(method, req.headers, rep, { cacheSeconds: settings.cacheSeconds });
  const headers: HeaderList = [...plan.headers, ["X-Content-Type-Options", "nosniff"]];
  const body = plan.body;
  switch (body.kind) {
    case "none":
      return bodilessAnswer(plan.status, headers, plan.message);
    case "multipart":
      return {
        status: 206,
        headers,
        body: {
          stream: multipartByterangesChunks(chosen.path, body.plan),
          length: body.plan.contentLength,
        },
      };
    case "whole":
      return { status: 200, headers, body: await openBody(chosen, 0, chosen.info.size) };
    case "range":
      return {
        status: 206,
        headers,
        body: await openBody(chosen, body.start, body.end - body.start + 1),
      };
  }
}

/** 304 has no body; 412/416 get a short text one. */
function bodilessAnswer(status: number, headers: HeaderList, message?: string): HttpResponse {
  if (status === 304) return { status, headers };
  headers.push(["Content-Type", "text/plain; charset=utf-8"]);
  return { status, headers, body: errorBody(status, message) };
}

/** Plans and answers a request for a small file whose bytes are in memory. */
function answerFromMemory(
  req: RequestHead,
  entry: CachedFile,
  settings: FileSettings,
): HttpResponse {
  if (!PLAN_CHANGING_HEADERS.some((name) => req.headers.has(name))) {
    const headers = plainAnswerHeaders(entry, settings);
    if (headers !== null) return { status: 200, headers, body: entry.body };
  }
  const plan = planFileResponse(req.method, req.headers, entry.rep, {
    cacheSeconds: settings.cacheSeconds,
  });
  const headers: HeaderList = [...plan.headers, ["X-Content-Type-Options", "nosniff"]];
  const body = plan.body;
  switch (body.kind) {
    case "none":
      return bodilessAnswer(plan.status, headers, plan.message);
    case "whole":
      return { status: 200, headers, body: entry.body };
    case "range":
      return { status: 206, headers, body: entry.body.subarray(body.start, body.end + 1) };
    case "multipart":
      return { status: 206, headers, body: multipartByterangesBody(entry.body, body.plan) };
  }
}

async function openBody(found: ResolvedPath, offset: number, length: number): Promise<FileBody> {
  try {
    return { file: await Deno.open(found.path, { read: true }), offset, length };
  } catch (err) {
    throw fileError(err);
  }
}

async function serveListing(
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
