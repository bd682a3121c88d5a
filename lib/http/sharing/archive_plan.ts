/**
 * The tree behind a folder download (`?download=tar` / `?download=zip`): one walk of the
 * directory under the serving rules, giving the ordered entries both archive formats lay
 * out, and the tree's version — a hash of every entry's name, kind, size, mode, mtime and
 * inode — from which the download's strong ETag and its `v=` URL parameter come. Walking
 * is the only I/O here; the formats (tar.ts, zip.ts) turn the entries into byte layouts
 * without touching the disk.
 *
 * ```ts
 * import { ArchiveTooLargeError, walkArchiveTree } from "./archive_plan.ts";
 * try {
 *   const tree = await walkArchiveTree("/srv/share/photos", { dotfiles: false });
 *   console.log(tree.rootName, tree.entries.length, tree.version);
 * } catch (err) {
 *   if (err instanceof ArchiveTooLargeError) console.log(err.code); // answered 507
 * }
 * ```
 *
 * Rules, the same as normal serving:
 * - Dotfiles (any name starting with `.`, at any depth) are left out unless `dotfiles`;
 *   sockit's own upload temporaries are always left out.
 * - Symlinks are skipped unless `followSymlinks`. Then a symlink to a regular file whose
 *   real path stays inside `symlinkRoot` (default: the archived directory) and crosses no
 *   dot folder when dotfiles are hidden is stored as a regular file with the target's
 *   content, as a GET of that URL would return it; symlinks to directories, out of the
 *   root or dangling are skipped. No symlink entry is ever written, so extracting cannot
 *   create a link pointing outside the extraction folder.
 * - Sockets, FIFOs and devices are skipped (reading a FIFO would block forever).
 * - Unreadable files and folders are skipped and reported through `onSkip`.
 * Entries are sorted by name (UTF-16 order) at every level, so the same tree always gives
 * the same archive, byte for byte.
 *
 * @module
 */
import { baseName } from "../../paths.ts";
import { Sha256 } from "../../sha256.ts";
import { UPLOAD_TEMP_PREFIX } from "../files/safe_path.ts";

/**
 * Most entries (files and folders) one archive may hold. Each costs ~250 bytes while its
 * download runs (measured with 50-byte paths: the entry ~220, the zip or tar layout ~10), so
 * this bounds one download's plan to ~25 MiB; it is above 65 535 so zip64's entry count is
 * reachable.
 */
export const MAX_ARCHIVE_ENTRIES = 100_000;

/** Most bytes of entry names (UTF-8, full archive paths) one archive may hold. */
export const MAX_ARCHIVE_NAME_BYTES = 16 * 1024 * 1024;

/** Top folder name used when the directory has none (the file system root). */
export const DEFAULT_ARCHIVE_ROOT_NAME = "archive";

/** The folder holds more than the limits allow; the download is refused (507). */
export class ArchiveTooLargeError extends Error {
  readonly code = "ARCHIVE_TOO_LARGE";
  constructor(readonly limit: "entries" | "name-bytes", readonly max: number) {
    super(
      limit === "entries"
        ? `folder too large to archive: more than ${max} files and folders`
        : `folder too large to archive: more than ${max} bytes of names`,
    );
    this.name = "ArchiveTooLargeError";
  }
}

/** One file or folder of the archive. */
export interface ArchiveEntry {
  /** Path inside the archive, `/`-separated, starting with the root name; no trailing `/`. */
  name: string;
  /** Length of `name` in UTF-8 bytes (the bytes are encoded when a header is made). */
  nameLength: number;
  isDirectory: boolean;
  /** Where the content is read from (the symlink's target for a followed link). */
  path: string;
  /** Bytes (0 for folders). */
  size: number;
  /** Permission bits. */
  mode: number;
  /** Modification time, ms since the epoch (0 when the file system has none). */
  mtimeMs: number;
  /** Identity of the file read, to notice a swap between planning and reading. */
  ino: number | null;
  dev: number;
}

/** A walked tree, ready for the formats. */
export interface ArchiveTree {
  /** Top folder inside the archive. */
  rootName: string;
  /** Root folder first, then depth-first in name order. */
  entries: ArchiveEntry[];
  /**
   * The tree's version, 22 URL-safe characters: equal versions give byte-identical
   * archives (as far as size and mtime tell file contents apart, as for any ETag).
   */
  version: string;
}

/** Options for {@link walkArchiveTree}. */
export interface ArchiveWalkOptions {
  /** Include names starting with `.`. Default false. */
  dotfiles?: boolean;
  /** Store in-root symlinks to files as files. Default false: every symlink is skipped. */
  followSymlinks?: boolean;
  /** The folder symlink targets must stay in (the served root). Default: the directory. */
  symlinkRoot?: string;
  /** Name of the top folder inside the archive. Default: the directory's own name. */
  rootName?: string;
  /** Default {@link MAX_ARCHIVE_ENTRIES}. */
  maxEntries?: number;
  /** Default {@link MAX_ARCHIVE_NAME_BYTES}. */
  maxNameBytes?: number;
  /** Told about every entry left out because of an error (not the rule-based skips). */
  onSkip?: (path: string, reason: string) => void;
  /** Called before each entry is added; throw to stop the walk (a shared memory budget). */
  onEntry?: () => void;
  /**
   * Access rules: false for a real path this client may not read, which is then left out
   * (a folder with everything in it). Default: everything is readable.
   */
  readable?: (realPath: string) => boolean;
}

function isHidden(name: string, dotfiles: boolean): boolean {
  return name.startsWith(UPLOAD_TEMP_PREFIX) || (!dotfiles && name.startsWith("."));
}

const encoder = new TextEncoder();

/**
 * Walks `dir` under the rules in the module comment. Throws {@link ArchiveTooLargeError}
 * as soon as a limit is passed (the walk stops there), and the file system's error when
 * `dir` itself cannot be read.
 */
export async function walkArchiveTree(
  dir: string,
  options: ArchiveWalkOptions = {},
): Promise<ArchiveTree> {
  const dotfiles = options.dotfiles ?? false;
  const followSymlinks = options.followSymlinks ?? false;
  const maxEntries = options.maxEntries ?? MAX_ARCHIVE_ENTRIES;
  const maxNameBytes = options.maxNameBytes ?? MAX_ARCHIVE_NAME_BYTES;
  const onSkip = options.onSkip ?? (() => {});
  const readable = options.readable ?? (() => true);
  const rootName = options.rootName ?? (baseName(dir) || DEFAULT_ARCHIVE_ROOT_NAME);
  const entries: ArchiveEntry[] = [];
  let nameBytes = 0;

  const onEntry = options.onEntry ?? (() => {});
  const add = (name: string, path: string, stat: Deno.FileInfo) => {
    if (entries.length >= maxEntries) throw new ArchiveTooLargeError("entries", maxEntries);
    onEntry();
    const nameLength = encoder.encode(name).length;
    nameBytes += nameLength;
    if (nameBytes > maxNameBytes) throw new ArchiveTooLargeError("name-bytes", maxNameBytes);
    entries.push({
      name,
      nameLength,
      isDirectory: stat.isDirectory,
      path,
      size: stat.isDirectory ? 0 : stat.size,
      mode: (stat.mode ?? (stat.isDirectory ? 0o755 : 0o644)) & 0o7777,
      mtimeMs: stat.mtime?.getTime() ?? 0,
      ino: stat.ino,
      dev: stat.dev,
    });
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
      if (isHidden(name, dotfiles)) continue;
      const childPath = `${path}/${name}`;
      const childName = `${archivePath}/${name}`;
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.lstat(childPath);
      } catch (err) {
        onSkip(childPath, (err as Error).message);
        continue;
      }
      if (!readable(childPath)) continue;
      if (stat.isDirectory) {
        add(childName, childPath, stat);
        await walk(childPath, childName, linkRoot);
      } else if (stat.isFile) {
        add(childName, childPath, stat);
      } else if (stat.isSymlink && followSymlinks) {
        const target = await symlinkTargetInsideRoot(childPath, linkRoot, dotfiles);
        if (target && readable(target.path)) add(childName, target.path, target.stat);
      }
      // Other symlinks, sockets, FIFOs and devices: skipped by rule.
    }
  };

  const rootReal = await Deno.realPath(dir);
  add(rootName, rootReal, await Deno.stat(rootReal));
  const linkRoot = options.symlinkRoot === undefined
    ? rootReal
    : await Deno.realPath(options.symlinkRoot);
  await walk(rootReal, rootName, linkRoot);
  return { rootName, entries, version: treeVersion(entries) };
}

/**
 * The version of a list of entries: SHA-256 over what the archive bytes depend on, cut to
 * 128 bits (ample against accidental collisions; nobody gains by forging one).
 */
export function treeVersion(entries: readonly ArchiveEntry[]): string {
  const hash = new Sha256();
  hash.update("sockit-archive-1\n");
  for (const e of entries) {
    hash.update(e.name);
    hash.update(`\0${e.isDirectory ? "d" : "f"}:${e.size}:${e.mode}:${e.mtimeMs}:${e.ino}\n`);
  }
  return hash.digest().toBase64({ alphabet: "base64url", omitPadding: true }).slice(0, 22);
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

/** An archive format's wire name (`?download=…`) and what it is sent as. */
export type ArchiveFormat = "tar" | "zip";

/** Content-Type per format. */
export const ARCHIVE_CONTENT_TYPES: Readonly<Record<ArchiveFormat, string>> = {
  tar: "application/x-tar",
  zip: "application/zip",
};

/**
 * The archive a query string (with or without `?`) asks for, and the tree version it
 * pins (`v=`), or null when it asks for none.
 */
export function parseArchiveQuery(
  search: string,
): { format: ArchiveFormat; version: string | null } | null {
  // Most requests have no query: skip building URLSearchParams on every one of them.
  if (search === "" || search === "?") return null;
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const format = params.get("download");
  if (format !== "tar" && format !== "zip") return null;
  return { format, version: params.get("v") };
}

/**
 * `Content-Disposition` for `${rootName}.${format}`: ASCII `filename` for old clients plus
 * an RFC 8187 `filename*` so non-ASCII folder names survive (RFC 6266 §4.3).
 */
export function archiveContentDisposition(rootName: string, format: ArchiveFormat): string {
  const file = `${rootName}.${format}`;
  const ascii = file.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const encoded = encodeURIComponent(file).replace(
    /['()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * CRC-32s of the files, which the zip format needs after each file and in its central
 * directory: the streamer knows a file's CRC once it has sent the file whole, else reads
 * the file again (or finds it in a cache).
 */
export interface CrcSource {
  /** CRC-32 of entry `index`'s content. */
  crc(index: number): Promise<number>;
}

/** One piece of an archive's bytes, in order. */
export type ArchivePiece =
  /** Bytes the format makes (headers, padding, directory); `make` is called only if sent. */
  | {
    kind: "bytes";
    length: number;
    make: (crcs: CrcSource) => Uint8Array | Promise<Uint8Array>;
  }
  /** The whole content of entry `index` (`length` = its size), read from disk. */
  | { kind: "file"; length: number; index: number };

/**
 * An archive laid out before any byte is produced: its exact size, and its pieces, so any
 * byte range can be served by producing only the pieces it overlaps.
 */
export interface ArchiveLayout {
  format: ArchiveFormat;
  tree: ArchiveTree;
  /** Exact length in bytes: the Content-Length. */
  size: number;
  /** The pieces in order (generated on demand: their lengths sum to `size`). */
  pieces(): Iterable<ArchivePiece>;
}
