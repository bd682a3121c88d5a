/**
 * The small-file cache of the static-file handler: the bytes of files up to
 * `SMALL_FILE_BYTES`, by raw request path and accepted encoding, re-checked against the disk
 * (realpath + stat: same file, size, mtime, inode) at most every
 * {@link FILE_CACHE_VALID_MS}, bounded to {@link FILE_CACHE_MAX_BYTES} (oldest out first).
 *
 * ```ts
 * import { SmallFileCache } from "./file_cache.ts";
 * let now = 0;
 * const cache = new SmallFileCache({ now: () => now }); // a test's clock; default Date.now
 * console.log(cache.fresh("/index.html")); // undefined until set()
 * now += 1000;
 * ```
 *
 * @module
 */
import type { HeaderList } from "../handler.ts";
import type { FileRepresentation } from "./file_plan.ts";
import type { ResolvedPath } from "./safe_path.ts";

/**
 * Small files (≤ {@link SMALL_FILE_BYTES}) are kept in memory, and each cached entry is
 * re-checked (realpath + stat: same file, same size, same mtime) at most this often.
 * The trade-off, as nginx's open_file_cache_valid: a change on disk shows up within this
 * time, and the hot path of a busy small file does no file-system call at all.
 */
export const FILE_CACHE_VALID_MS = 1_000;

/** Total bytes of file contents the cache holds; the oldest entries go first. */
export const FILE_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** One cached small file and what its answers need. */
export interface CachedFile {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number | null;
  /** What planFileResponse needs: size, mtime, type, coding of `body`. */
  rep: FileRepresentation;
  body: Uint8Array;
  checkedAt: number;
  /** Headers of the plain 200 (see {@link plainAnswerHeaders}), made on first use. */
  plainHeaders?: { cacheSeconds: number | undefined; headers: HeaderList };
}

/** Options for {@link SmallFileCache}. */
export interface SmallFileCacheOptions {
  /**
   * The clock entries are checked against, in ms (default `Date.now`); a test passes a
   * fake one to step past {@link FILE_CACHE_VALID_MS} without sleeping.
   */
  now?: () => number;
}

/**
 * Contents of small files by raw request path; see {@link FILE_CACHE_VALID_MS}. Shared
 * with `--upload` so a replaced file is forgotten at once instead of being served from
 * memory for up to a second.
 */
export class SmallFileCache {
  #entries = new Map<string, CachedFile>();
  #bytes = 0;
  readonly #now: () => number;

  constructor(options: SmallFileCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** The entry for `rawPath` if it was checked less than FILE_CACHE_VALID_MS ago. */
  fresh(rawPath: string): CachedFile | undefined {
    const entry = this.#entries.get(rawPath);
    return entry !== undefined && this.#now() - entry.checkedAt < FILE_CACHE_VALID_MS
      ? entry
      : undefined;
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
      entry.checkedAt = this.#now();
      return entry;
    }
    this.delete(rawPath);
    return undefined;
  }

  /** Makes the entry and keeps it unless the file changed while being read. */
  set(
    rawPath: string,
    found: ResolvedPath,
    rep: FileRepresentation,
    body: Uint8Array,
  ): CachedFile {
    const entry: CachedFile = {
      path: found.path,
      size: found.info.size,
      mtimeMs: found.info.mtime?.getTime() ?? -1,
      ino: found.info.ino,
      rep: { ...rep, size: body.length },
      body,
      checkedAt: this.#now(),
    };
    if (body.length !== found.info.size) return entry; // changed while being read
    this.delete(rawPath);
    this.#entries.set(rawPath, entry);
    this.#bytes += body.length;
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= FILE_CACHE_MAX_BYTES) break;
      this.#entries.delete(key);
      this.#bytes -= entry.body.length;
    }
    return entry;
  }

  delete(rawPath: string): void {
    const entry = this.#entries.get(rawPath);
    if (entry === undefined) return;
    this.#entries.delete(rawPath);
    this.#bytes -= entry.body.length;
  }

  /**
   * Drops every entry holding the file at real path `path` (under any URL or encoding).
   * A linear scan: called once per upload, never on the request path.
   */
  forgetFile(path: string): void {
    for (const [key, entry] of this.#entries) {
      if (entry.path === path) this.delete(key);
    }
  }

  /** Drops every entry for `path` or a file below it (a folder moved or deleted by WebDAV). */
  forgetTree(path: string): void {
    for (const [key, entry] of this.#entries) {
      if (entry.path === path || entry.path.startsWith(path + "/")) this.delete(key);
    }
  }
}
