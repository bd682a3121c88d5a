/**
 * Folder download for `http-serve`: `GET /dir/?download=tar` streams a tar archive of the
 * directory, built on the fly while the client reads it: no temporary file, and never
 * more than a few chunks in memory (the producer waits whenever the client is slower).
 *
 * ```ts
 * import { tarContentDisposition, tarDirectory } from "./tar.ts";
 * const archive = tarDirectory("/srv/share/photos", { dotfiles: false });
 * // headers: Content-Type: application/x-tar,
 * //          Content-Disposition: tarContentDisposition(archive.rootName)
 * console.log(tarContentDisposition(archive.rootName));
 * await archive.stream.cancel(); // or stream it as the response body
 * ```
 *
 * Every entry sits under one top folder named after the directory (`photos/…`), so
 * extracting never scatters files into the current directory.
 *
 * Tar writer: `tar-stream` (mafintosh; the writer under tar-fs and much of the npm
 * ecosystem). It writes ustar headers and switches to a pax header by itself for names
 * longer than ustar allows or not plain ASCII, and it propagates backpressure: an entry's
 * `write()` returns false until the reader catches up. We walk the tree ourselves with
 * Deno's file APIs, so the serving rules below stay in this file. `tar` (node-tar) was
 * rejected because it walks the file system itself through `node:fs` (the dotfile and
 * symlink rules would become filter callbacks on its walk, with its own symlink
 * semantics), and a hand-written ustar/pax writer would re-implement header encoding and
 * checksums for no measured gain: tar-stream streams a 5 MiB file at disk speed in the
 * tests.
 *
 * Rules, the same as normal serving:
 * - Dotfiles (any name starting with `.`, at any depth) are left out unless
 *   `dotfiles: true`; sockit's own upload temporaries are always left out.
 * - Symlinks are skipped by default (`followSymlinks: false`). With `followSymlinks:
 *   true`, a symlink to a regular file whose real path stays inside `symlinkRoot` (the
 *   served root; default: the archived directory) and crosses no dot folder when dotfiles
 *   are hidden is stored as a regular file with the target's
 *   content, as a GET of that URL would return it; symlinks to directories are still
 *   skipped (no cycles, no duplicated subtrees), and links leaving the root or dangling
 *   are skipped. Symlink entries themselves are never written, so extracting the archive
 *   cannot create a link pointing outside the extraction folder.
 * - Sockets, FIFOs and devices are skipped (reading a FIFO would block forever).
 * - Unreadable files and folders are skipped and reported through `onSkip`.
 * A file that shrinks while being archived aborts the stream ({@link TarSourceChangedError})
 * rather than sending silently wrong bytes; a file that grows is cut at the size in its
 * header.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import tarStream from "tar-stream";
import { UPLOAD_TEMP_PREFIX } from "../files/safe_path.ts";

/** Query string that asks for a directory as a tar archive. */
export const TAR_DOWNLOAD_QUERY = "download=tar";

/** Content-Type of the archive. */
export const TAR_CONTENT_TYPE = "application/x-tar";

/** Bytes read from a file per chunk. */
export const TAR_READ_CHUNK_BYTES = 64 * 1024;

/** Top folder name used when the directory has none (the file system root). */
export const DEFAULT_TAR_ROOT_NAME = "archive";

/** A file changed size while it was being archived; the archive is cut short. */
export class TarSourceChangedError extends Error {
  readonly code = "TAR_SOURCE_CHANGED";
  constructor(readonly path: string) {
    super(`${path} shrank while it was being archived`);
    this.name = "TarSourceChangedError";
  }
}

/** Options for {@link tarDirectory}. */
export interface TarDirectoryOptions {
  /** Include names starting with `.`. Default false. */
  dotfiles?: boolean;
  /** Store in-root symlinks to files as files. Default false: every symlink is skipped. */
  followSymlinks?: boolean;
  /**
   * The folder symlink targets must stay in: the served root, so the archive holds what a
   * GET of each URL would serve. Default: the archived directory itself.
   */
  symlinkRoot?: string;
  /** Name of the top folder inside the archive. Default: the directory's own name. */
  rootName?: string;
  /**
   * Whether a real path may go in (access rules: what the client may not read is left
   * out, and an unreadable folder is not entered). Default: everything.
   */
  readable?: (real: string) => boolean;
  /** Told about every entry left out because of an error (not the rule-based skips). */
  onSkip?: (path: string, reason: string) => void;
}

/** A tar archive being produced. */
export interface TarDirectoryStream {
  /** Top folder inside the archive; `${rootName}.tar` is the download's file name. */
  rootName: string;
  /** The archive bytes. Cancel it to stop the producer and close open files. */
  stream: ReadableStream<Uint8Array>;
}

/** True when a query string (with or without `?`) asks for a tar download. */
export function isTarDownloadQuery(search: string): boolean {
  // Most requests have no query: skip building URLSearchParams on every one of them.
  if (search === "" || search === "?") return false;
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  return params.get("download") === "tar";
}

/**
 * `Content-Disposition` for the archive: ASCII `filename` for old clients plus an
 * RFC 8187 `filename*` so non-ASCII folder names survive (RFC 6266 §4.3).
 */
export function tarContentDisposition(rootName: string): string {
  const file = `${rootName}.tar`;
  const ascii = file.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const encoded = encodeURIComponent(file).replace(
    /['()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

function isHidden(name: string, dotfiles: boolean): boolean {
  return name.startsWith(UPLOAD_TEMP_PREFIX) || (!dotfiles && name.startsWith("."));
}

/**
 * Starts archiving `dir`. Nothing is read until the stream is pulled; the walk follows
 * the rules in the module comment. Entries are sorted by name, so the same tree gives the
 * same archive.
 */
export function tarDirectory(dir: string, options: TarDirectoryOptions = {}): TarDirectoryStream {
  const dotfiles = options.dotfiles ?? false;
  const followSymlinks = options.followSymlinks ?? false;
  const rootName = options.rootName ?? (basename(dir) || DEFAULT_TAR_ROOT_NAME);
  const onSkip = options.onSkip ?? (() => {});
  const readable = options.readable ?? (() => true);
  const pack = tarStream.pack();
  // Failures reach the consumer through the ReadableStream (see `failure`); streamx would
  // otherwise also throw them as unhandled 'error' events.
  const ignoreError = () => {};
  pack.on("error", ignoreError);
  let cancelled = false;
  // A destroyed pack never calls back an entry's accept and never drains it: anything
  // waiting on those must also give up once the pack has closed (client aborted).
  const packClosed = new Promise<void>((resolve) => pack.on("close", () => resolve()));

  /** Resolves when the entry may take more data, or it was destroyed. */
  const drained = (entry: ReturnType<typeof pack.entry>) =>
    new Promise<void>((resolve) => {
      const done = () => {
        entry.off("drain", done);
        entry.off("close", done);
        resolve();
      };
      entry.on("drain", done);
      entry.on("close", done);
      packClosed.then(done);
    });

  /** Ends `entry` and resolves once tar-stream has accepted it (or rejects). */
  const finished = (entry: ReturnType<typeof pack.entry>, accepted: Promise<void>) => {
    entry.end(undefined); // streamx types demand an argument; undefined writes nothing
    return Promise.race([accepted, packClosed]);
  };

  const addDirectory = async (archivePath: string, stat: Deno.FileInfo) => {
    let accept!: (err?: Error | null) => void;
    const accepted = new Promise<void>((resolve, reject) => {
      accept = (err) => err ? reject(err) : resolve();
    });
    const entry = pack.entry({
      name: archivePath + "/",
      type: "directory",
      mode: (stat.mode ?? 0o755) & 0o7777,
      mtime: stat.mtime ?? new Date(0),
    }, accept);
    entry.on("error", ignoreError);
    await finished(entry, accepted);
  };

  const addFile = async (path: string, archivePath: string, expected: Deno.FileInfo) => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (err) {
      onSkip(path, (err as Error).message);
      return;
    }
    try {
      const stat = await file.stat();
      // The entry was checked with lstat; if it was swapped (e.g. for a symlink leading out
      // of the root) between that check and open(), the inode differs: skip it.
      if (!stat.isFile || stat.ino !== expected.ino || stat.dev !== expected.dev) {
        onSkip(path, "changed while being archived");
        return;
      }
      let accept!: (err?: Error | null) => void;
      const accepted = new Promise<void>((resolve, reject) => {
        accept = (err) => err ? reject(err) : resolve();
      });
      const entry = pack.entry({
        name: archivePath,
        type: "file",
        size: stat.size,
        mode: (stat.mode ?? 0o644) & 0o7777,
        mtime: stat.mtime ?? new Date(0),
      }, accept);
      entry.on("error", ignoreError);
      accepted.catch(() => {}); // observed below; avoid an unhandled rejection meanwhile
      let left = stat.size;
      while (left > 0 && !cancelled) {
        // A fresh buffer per chunk: tar-stream queues the chunk itself, not a copy.
        const chunk = new Uint8Array(Math.min(TAR_READ_CHUNK_BYTES, left));
        const n = await file.read(chunk);
        if (n === null) throw new TarSourceChangedError(path);
        left -= n;
        // Wrapped, not copied: tar-stream copies anything that is not already a Buffer.
        if (!entry.write(Buffer.from(chunk.buffer, 0, n))) await drained(entry);
      }
      if (cancelled) return;
      await finished(entry, accepted);
    } finally {
      file.close();
    }
  };

  const walk = async (path: string, archivePath: string, linkRoot: string) => {
    let names: string[];
    try {
      names = [];
      for await (const e of Deno.readDir(path)) names.push(e.name);
    } catch (err) {
      onSkip(path, (err as Error).message);
      return;
    }
    names.sort();
    for (const name of names) {
      if (cancelled) return;
      if (isHidden(name, dotfiles)) continue;
      const childPath = `${path}/${name}`;
      if (!readable(childPath)) continue;
      const childArchivePath = `${archivePath}/${name}`;
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.lstat(childPath);
      } catch (err) {
        onSkip(childPath, (err as Error).message);
        continue;
      }
      if (stat.isDirectory) {
        await addDirectory(childArchivePath, stat);
        await walk(childPath, childArchivePath, linkRoot);
      } else if (stat.isFile) {
        await addFile(childPath, childArchivePath, stat);
      } else if (stat.isSymlink && followSymlinks) {
        const target = await symlinkTargetInsideRoot(childPath, linkRoot, dotfiles);
        if (target && readable(target.path)) {
          await addFile(target.path, childArchivePath, target.stat);
        }
      }
      // Other symlinks, sockets, FIFOs and devices: skipped by rule.
    }
  };

  const produce = async () => {
    const rootReal = await Deno.realPath(dir);
    const rootStat = await Deno.stat(rootReal);
    await addDirectory(rootName, rootStat);
    const linkRoot = options.symlinkRoot === undefined
      ? rootReal
      : await Deno.realPath(options.symlinkRoot);
    await walk(rootReal, rootName, linkRoot);
  };

  const iterator = pack[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  // Started on the first pull, so an unread stream costs nothing.
  let producer: Promise<void> | null = null;
  let failure: unknown = null;
  const start = () => {
    producer ??= produce().then(
      () => pack.finalize(),
      (err) => {
        failure = err;
        pack.destroy(err);
      },
    );
  };

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      start();
      const { value, done } = await iterator.next().catch(async (err) => {
        await producer;
        throw failure ?? err;
      });
      if (done) {
        // A destroyed pack may just end its iteration: surface why, never a silent cut.
        await producer;
        if (failure !== null && !cancelled) throw failure;
        controller.close();
      } else {
        // tar-stream yields Node Buffers, and small ones share a pooled ArrayBuffer. A
        // consumer may transfer (detach) a chunk's buffer — Deno's FsFile.writable does —
        // which would wipe its neighbours, so only chunks owning their buffer go out as is.
        const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
        controller.enqueue(
          whole ? new Uint8Array(value.buffer, 0, value.byteLength) : new Uint8Array(value),
        );
      }
    },
    async cancel() {
      cancelled = true;
      pack.destroy();
      await producer;
    },
  }, { highWaterMark: 0 });

  return { rootName, stream };
}

/**
 * Where a symlink leads, if it may be archived: a regular file whose real path is inside
 * `rootReal` and, when dotfiles are hidden, crosses no dot-named folder below the root.
 */
async function symlinkTargetInsideRoot(
  linkPath: string,
  rootReal: string,
  dotfiles: boolean,
): Promise<{ path: string; stat: Deno.FileInfo } | null> {
  try {
    const real = await Deno.realPath(linkPath);
    if (!real.startsWith(rootReal === "/" ? "/" : rootReal + "/")) return null;
    const relative = real.slice(rootReal.length).split("/").filter((s) => s !== "");
    if (relative.some((segment) => isHidden(segment, dotfiles))) return null;
    const stat = await Deno.lstat(real);
    return stat.isFile ? { path: real, stat } : null;
  } catch {
    return null; // dangling or unreadable
  }
}
