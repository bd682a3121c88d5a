/**
 * The static-file handler: maps a request onto the served directory (through
 * `safe_path.ts`), answers with the file, `index.html`, a directory listing, a redirect to
 * the slash-terminated directory URL, or an error — never a stack trace, never a hint
 * about what exists outside the root.
 *
 * ```ts
 * const root = await canonicalRoot("./public");
 * const handler = staticFiles({ root, listing: true, dotfiles: false });
 * serveConnection(conn, handler, { tracker });
 * ```
 *
 * Methods: GET and HEAD (same headers, no body); OPTIONS → 204 with `Allow`; any other
 * method on something that exists → 405 with `Allow`. Files up to
 * {@link SMALL_FILE_BYTES} are kept in a small in-memory cache (re-checked against the
 * disk every {@link FILE_CACHE_VALID_MS}) and sent with the head in one write; bigger ones
 * are streamed in chunks by the connection, each chunk awaiting the socket. Cached bodies
 * are shared between responses: code wrapping this handler must not mutate them.
 *
 * @module
 */
import mime from "mime-types";
import { HttpError } from "./errors.ts";
import type { FileBody, Handler, HttpResponse } from "./connection.ts";
import { type ListingEntry, renderListing } from "./listing.ts";
import type { RequestHead } from "./request.ts";
import { formatHttpDate, type HeaderList } from "./response.ts";
import { isInsideRoot, type ResolvedPath, resolveSafePath } from "./safe_path.ts";

/** Methods a file or directory answers. */
export const ALLOWED_METHODS = "GET, HEAD, OPTIONS";
/** Files up to this size are read whole and sent in one write with their head. */
export const SMALL_FILE_BYTES = 64 * 1024;
/** Served when the extension is unknown (RFC 9110 §8.3: the safe default). */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Name served for a directory URL when present. */
export const INDEX_FILE = "index.html";
/**
 * Small files (≤ {@link SMALL_FILE_BYTES}) are kept in memory, and each cached entry is
 * re-checked (realpath + stat: same file, same size, same mtime) at most this often.
 * The trade-off, as nginx's open_file_cache_valid: a change on disk shows up within this
 * time, and the hot path of a busy small file does no file-system call at all.
 */
export const FILE_CACHE_VALID_MS = 1_000;
/** Total bytes of file contents the cache holds; the oldest entries go first. */
export const FILE_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** Options for {@link staticFiles}. */
export interface StaticFilesOptions {
  /** Canonical root directory (see `canonicalRoot`). */
  root: string;
  /** Render a listing for directories without index.html (default true). */
  listing?: boolean;
  /** Serve names starting with "." (default false). */
  dotfiles?: boolean;
}

const contentTypes = new Map<string, string>();

/** Content-Type for a file name: `mime-types`, charset=utf-8 on text, octet-stream if unknown. */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  const ext = dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
  const cached = contentTypes.get(ext);
  if (cached !== undefined) return cached;
  const type: string = (ext !== "" && mime.contentType(ext)) || DEFAULT_CONTENT_TYPE;
  contentTypes.set(ext, type);
  return type;
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
  const cache = new SmallFileCache();

  const handler = async (req: RequestHead): Promise<HttpResponse> => {
    const method = req.method;
    if (req.rawPath === "*") return { status: 204, headers: [["Allow", ALLOWED_METHODS]] };
    const found = await resolveSafePath(root, req.rawPath, { dotfiles });
    if (found === null) throw notFound();
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
      if (index !== null && index.info.isFile) {
        return await serveFile(index, cache, req.rawPath);
      }
      if (!listing) throw notFound();
      return await serveListing(root, found, req.path, dotfiles);
    }
    // "/file.txt/" names a directory that is not there; FIFOs and devices are never read.
    if (found.trailingSlash || !found.info.isFile) throw notFound();
    return await serveFile(found, cache, req.rawPath);
  };

  return (req: RequestHead): HttpResponse | Promise<HttpResponse> => {
    // Fast path: a fresh cached small file answers without touching the file system.
    if (req.method === "GET" || req.method === "HEAD") {
      const hit = cache.fresh(req.rawPath, Date.now());
      if (hit !== undefined) return { status: 200, headers: [...hit.headers], body: hit.body };
    }
    return handler(req);
  };
}

interface CachedFile {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number | null;
  headers: HeaderList;
  body: Uint8Array;
  checkedAt: number;
}

/** Contents of small files by raw request path; see {@link FILE_CACHE_VALID_MS}. */
class SmallFileCache {
  #entries = new Map<string, CachedFile>();
  #bytes = 0;

  /** The entry for `rawPath` if it was checked less than FILE_CACHE_VALID_MS ago. */
  fresh(rawPath: string, now: number): CachedFile | undefined {
    const entry = this.#entries.get(rawPath);
    return entry !== undefined && now - entry.checkedAt < FILE_CACHE_VALID_MS ? entry : undefined;
  }

  /** The entry for `rawPath` if it still describes `found` (re-marked fresh). */
  revalidate(rawPath: string, found: ResolvedPath): CachedFile | undefined {
    const entry = this.#entries.get(rawPath);
    if (entry === undefined) return undefined;
    const info = found.info;
    if (
      entry.path === found.path && entry.size === info.size &&
      entry.mtimeMs === (info.mtime?.getTime() ?? -1) && entry.ino === info.ino
    ) {
      entry.checkedAt = Date.now();
      return entry;
    }
    this.delete(rawPath);
    return undefined;
  }

  set(rawPath: string, found: ResolvedPath, headers: HeaderList, body: Uint8Array): void {
    if (body.length !== found.info.size) return; // changed while being read: do not keep it
    this.delete(rawPath);
    this.#entries.set(rawPath, {
      path: found.path,
      size: found.info.size,
      mtimeMs: found.info.mtime?.getTime() ?? -1,
      ino: found.info.ino,
      headers,
      body,
      checkedAt: Date.now(),
    });
    this.#bytes += body.length;
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= FILE_CACHE_MAX_BYTES) break;
      this.#entries.delete(key);
      this.#bytes -= entry.body.length;
    }
  }

  delete(rawPath: string): void {
    const entry = this.#entries.get(rawPath);
    if (entry === undefined) return;
    this.#entries.delete(rawPath);
    this.#bytes -= entry.body.length;
  }
}

function fileHeaders(found: ResolvedPath): HeaderList {
  const headers: HeaderList = [
    ["Content-Type", contentTypeFor(found.path)],
    ["X-Content-Type-Options", "nosniff"],
  ];
  if (found.info.mtime !== null) headers.push(["Last-Modified", formatHttpDate(found.info.mtime)]);
  return headers;
}

/** Maps an open/read failure to 403 (permission) or 404 (anything else). */
function fileError(err: unknown): HttpError {
  if (err instanceof Deno.errors.PermissionDenied) {
    return new HttpError(403, "FORBIDDEN", "Forbidden");
  }
  return notFound();
}

async function serveFile(
  found: ResolvedPath,
  cache: SmallFileCache,
  rawPath: string,
): Promise<HttpResponse> {
  if (found.info.size <= SMALL_FILE_BYTES) {
    const cached = cache.revalidate(rawPath, found);
    if (cached !== undefined) {
      return { status: 200, headers: [...cached.headers], body: cached.body };
    }
    const headers = fileHeaders(found);
    let body: Uint8Array;
    try {
      body = await Deno.readFile(found.path);
    } catch (err) {
      throw fileError(err);
    }
    cache.set(rawPath, found, headers, body);
    return { status: 200, headers: [...headers], body };
  }
  const headers = fileHeaders(found);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(found.path, { read: true });
  } catch (err) {
    throw fileError(err);
  }
  const body: FileBody = { file, length: found.info.size };
  return { status: 200, headers, body };
}

async function serveListing(
  root: string,
  dir: ResolvedPath,
  urlPath: string,
  dotfiles: boolean,
): Promise<HttpResponse> {
  const entries: ListingEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir.path)) {
      if (!dotfiles && entry.name.startsWith(".")) continue;
      const full = `${dir.path}/${entry.name}`;
      try {
        if (entry.isSymlink && !isInsideRoot(root, await Deno.realPath(full))) continue;
        const info = await Deno.stat(full);
        entries.push({
          name: entry.name,
          isDirectory: info.isDirectory,
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
  const html = renderListing({
    path: urlPath.endsWith("/") ? urlPath : `${urlPath}/`,
    entries,
    showParent: dir.segments.length > 0,
  });
  return {
    status: 200,
    headers: [
      ["Content-Type", "text/html; charset=utf-8"],
      ["X-Content-Type-Options", "nosniff"],
    ],
    body: html,
  };
}
