/**
 * `GET /dir/?download=zip` and `?download=tar`: a folder as one archive, streamed while
 * the client reads it (no temporary file, nothing but the plan and one read buffer in
 * memory), and resumable: the exact Content-Length is known before the first byte, the
 * ETag is strong (the tree's names, sizes, modes, mtimes), and `Range` / `If-Range` are
 * honoured, so a browser or `curl -C -` picks up where it stopped and gets a byte-identical
 * archive.
 *
 * ```ts
 * import { withArchiveDownload } from "./archive_download.ts";
 * import { compose, type Handler } from "../handler.ts";
 * const files: Handler = () => ({ status: 404 });
 * const handler = compose([withArchiveDownload({ root: "/srv/share" })], files);
 * console.log(typeof handler);
 * ```
 *
 * A changed tree never yields mixed bytes:
 * - Every answer names its version in `Content-Location: …?download=zip&v=VERSION`. A
 *   Range request for a `v` that is no longer the tree's version gets 412; a full GET of it
 *   gets the current archive (with its new version).
 * - `curl -C -` sends Range without If-Range, so a Range on the unpinned URL (no `v`) is
 *   honoured only with an `If-Range` (what browsers send); without one the whole archive
 *   comes back with 200 (RFC 9110 §14.2 lets a server ignore Range), and curl refuses to
 *   append it. Resume with the pinned URL from Content-Location.
 * - While streaming, a file whose size, mtime or inode no longer match the plan cuts the
 *   connection (archive_stream.ts).
 * Archives carry `Cache-Control: no-transform`, so `--compress` leaves them alone: a
 * compressed 200 and an identity 206 of the same URL could never be stitched together.
 *
 * @module
 */
import { type HeaderList, type HttpResponse, mayRead, type Middleware } from "../handler.ts";
import { textResponse } from "../errors.ts";
import { realUrlPath, resolveSafePath } from "../files/safe_path.ts";
import { evaluateConditionals, rangeAllowedByIfRange } from "../semantics/conditional.ts";
import { contentRange, parseRange, unsatisfiedContentRange } from "../semantics/range.ts";
import {
  ARCHIVE_CONTENT_TYPES,
  archiveContentDisposition,
  type ArchiveFormat,
  ArchiveTooLargeError,
  parseArchiveQuery,
  walkArchiveTree,
} from "./archive_plan.ts";
import { archiveRangeChunks } from "./archive_stream.ts";
import { tarLayout } from "./tar.ts";
import { zipLayout } from "./zip.ts";

/**
 * Archive downloads (and their tree walks) running at once per process; one more gets 503
 * with Retry-After: each holds a plan, an open file and a read buffer while it streams.
 */
export const MAX_CONCURRENT_ARCHIVES = 16;

/**
 * Entries all running archive downloads of a process may hold together (~250 bytes each:
 * ~50 MiB); an archive whose walk would pass it gets 503 with Retry-After. Without it, 16
 * downloads of a folder at the entry limit could hold 400 MiB.
 */
export const MAX_ACTIVE_ARCHIVE_ENTRIES = 200_000;

/** Retry-After (seconds) sent with the 503 when the limits above are reached. */
export const ARCHIVE_RETRY_AFTER_SECONDS = 5;

/** Options for {@link withArchiveDownload}. */
export interface ArchiveDownloadOptions {
  /** Canonical root. */
  root: string;
  dotfiles?: boolean;
  /** Default {@link MAX_CONCURRENT_ARCHIVES}. */
  maxConcurrent?: number;
  /** Default {@link MAX_ACTIVE_ARCHIVE_ENTRIES}. */
  maxActiveEntries?: number;
  /** Default: archive_plan.ts's MAX_ARCHIVE_ENTRIES. */
  maxEntries?: number;
  /** Default: archive_plan.ts's MAX_ARCHIVE_NAME_BYTES. */
  maxNameBytes?: number;
}

/** The running downloads hold {@link MAX_ACTIVE_ARCHIVE_ENTRIES} already. */
class ArchivesBusyError extends Error {
  readonly code = "ARCHIVES_BUSY";
}

/**
 * `chunks` as an iterable that runs `release` once, when it ends, fails or is ended early
 * — also before its first pull, when a generator's `finally` would never run (HEAD).
 */
function releasing(
  chunks: AsyncGenerator<Uint8Array, void, undefined>,
  release: () => void,
): AsyncIterable<Uint8Array> {
  const iterator: AsyncIterator<Uint8Array, void, undefined> = {
    async next() {
      try {
        const step = await chunks.next();
        if (step.done) release();
        return step;
      } catch (err) {
        release();
        throw err;
      }
    },
    async return() {
      try {
        return await chunks.return();
      } finally {
        release();
      }
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/**
 * The download middleware; anything that is not a GET/HEAD of a folder URL (ending in `/`)
 * with `download=zip|tar` goes on to the next handler.
 */
export function withArchiveDownload(options: ArchiveDownloadOptions): Middleware {
  const dotfiles = options.dotfiles ?? false;
  const maxConcurrent = options.maxConcurrent ?? MAX_CONCURRENT_ARCHIVES;
  const maxActiveEntries = options.maxActiveEntries ?? MAX_ACTIVE_ARCHIVE_ENTRIES;
  let running = 0;
  let activeEntries = 0;
  return (next) => async (req, ctx) => {
    const query = req.method === "GET" || req.method === "HEAD"
      ? parseArchiveQuery(req.query)
      : null;
    if (query === null) return await next(req, ctx);
    const found = await resolveSafePath(options.root, req.rawPath, { dotfiles });
    if (found === null || !found.info.isDirectory || !found.trailingSlash) {
      return await next(req, ctx);
    }
    // Access rules: a folder this client may not read is the next handler's to refuse.
    if (!mayRead(ctx, realUrlPath(options.root, found.path))) return await next(req, ctx);
    const busy = () =>
      textResponse(503, "too many folder downloads at once; try again shortly", [
        ["Retry-After", String(ARCHIVE_RETRY_AFTER_SECONDS)],
      ]);
    if (running >= maxConcurrent) return busy();
    running++;
    let held = 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      running--;
      activeEntries -= held;
    };
    const onEntry = () => {
      if (activeEntries >= maxActiveEntries) throw new ArchivesBusyError();
      activeEntries++;
      held++;
    };
    try {
      const response = await answer(req.rawPath, req.method, req.headers, query, found.path, {
        ...options,
        dotfiles,
        rootName: found.segments.at(-1),
        onEntry,
        // What this client may not read is not archived (nor counted in the version).
        readable: (real) => mayRead(ctx, realUrlPath(options.root, real)),
      }, release);
      return response;
    } catch (err) {
      release();
      if (err instanceof ArchiveTooLargeError) {
        // 507: the server cannot hold the plan this archive needs (RFC 4918 §11.5).
        return textResponse(507, `${err.message}; download a subfolder instead`);
      }
      if (err instanceof ArchivesBusyError) return busy();
      throw err;
    }
  };
}

/** Decides and builds the answer; `release` is handed to a streamed body, else called. */
async function answer(
  rawPath: string,
  method: string,
  headers: Map<string, string>,
  query: { format: ArchiveFormat; version: string | null },
  dir: string,
  options: ArchiveDownloadOptions & {
    rootName?: string;
    onEntry: () => void;
    readable: (realPath: string) => boolean;
  },
  release: () => void,
): Promise<HttpResponse> {
  const tree = await walkArchiveTree(dir, {
    dotfiles: options.dotfiles,
    // Same rule as serving: in-root symlinks to files are followed (resolveSafePath
    // serves them), links leaving the root are not.
    followSymlinks: true,
    symlinkRoot: options.root,
    rootName: options.rootName,
    maxEntries: options.maxEntries,
    maxNameBytes: options.maxNameBytes,
    onEntry: options.onEntry,
    readable: options.readable,
  });
  const { format } = query;
  const layout = format === "zip" ? zipLayout(tree) : tarLayout(tree);
  const etag = `"${format}-${tree.version}"`;
  const validators = { etag, lastModifiedMs: null };
  const base: HeaderList = [
    ["ETag", etag],
    ["Content-Location", `${rawPath}?download=${format}&v=${tree.version}`],
    ["Accept-Ranges", "bytes"],
    // no-cache: revalidate each use (cheap, by ETag); no-transform: never compressed.
    ["Cache-Control", "no-cache, no-transform"],
  ];
  const done = (res: HttpResponse) => {
    release();
    return res;
  };
  const outcome = evaluateConditionals(method, headers, validators);
  if (outcome === "not-modified") return done({ status: 304, headers: base, body: null });
  if (outcome === "precondition-failed") {
    return done(textResponse(412, "precondition failed", base));
  }
  const range = headers.get("range");
  const pinned = query.version;
  // A stale pin with a bare Range (curl -C -): 412. With If-Range the client asked for
  // "the whole thing if it changed" (RFC 9110 §13.1.5): that is answered below with 200.
  if (
    range !== undefined && pinned !== null && pinned !== tree.version && !headers.has("if-range")
  ) {
    return done(textResponse(
      412,
      "the folder changed since this download started; download it again",
      base,
    ));
  }
  const entity: HeaderList = [
    ["Content-Type", ARCHIVE_CONTENT_TYPES[format]],
    ["Content-Disposition", archiveContentDisposition(tree.rootName, format)],
    ["X-Content-Type-Options", "nosniff"],
    ...base,
  ];
  const rangeUsable = range !== undefined && method === "GET" &&
    (pinned !== null || headers.has("if-range")) &&
    rangeAllowedByIfRange(method, headers, validators);
  if (rangeUsable) {
    const result = parseRange(range, layout.size);
    if (result.kind === "unsatisfiable") {
      return done(textResponse(416, "range not satisfiable", [
        ...base,
        ["Content-Range", unsatisfiedContentRange(layout.size)],
      ]));
    }
    // One range: resuming. Several: rare for archives, answered with the whole (§14.2).
    if (result.kind === "ranges" && result.ranges.length === 1) {
      const { start, end } = result.ranges[0];
      return {
        status: 206,
        headers: [...entity, ["Content-Range", contentRange(start, end, layout.size)]],
        body: {
          stream: releasing(archiveRangeChunks(layout, start, end), release),
          length: end - start + 1,
        },
      };
    }
  }
  return {
    status: 200,
    headers: entity,
    body: {
      stream: releasing(archiveRangeChunks(layout, 0, layout.size - 1), release),
      length: layout.size,
    },
  };
}
