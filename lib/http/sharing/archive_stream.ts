/**
 * Streams bytes `start..end` of an {@link ArchiveLayout} (tar.ts, zip.ts): only the pieces
 * the range overlaps are produced, file regions are read from disk in bounded steps, and
 * small pieces are gathered into one chunk so a folder of tiny files is not one socket
 * write per header. Memory per download stays at one read buffer plus the plan.
 *
 * ```ts
 * import { walkArchiveTree } from "./archive_plan.ts";
 * import { archiveRangeChunks } from "./archive_stream.ts";
 * import { zipLayout } from "./zip.ts";
 * const layout = zipLayout(await walkArchiveTree(".", { rootName: "site" }));
 * let bytes = 0;
 * for await (const chunk of archiveRangeChunks(layout, 0, layout.size - 1)) bytes += chunk.length;
 * console.log(bytes === layout.size);
 * ```
 *
 * A file that no longer matches the plan (size, mtime or inode changed), before or after
 * it is read, ends the stream with {@link ArchiveSourceChangedError}: the connection is cut
 * short of its Content-Length, so the client sees a failed transfer, never a
 * complete-looking archive with wrong bytes; nothing is padded or substituted.
 *
 * CRC-32s (zip) are computed while a file is sent whole; a range that needs the CRC of a
 * file it does not send whole (a resumed download: the descriptor after a file it starts
 * inside, the central directory at the end) reads that file again, once, unless the
 * process-wide cache ({@link CRC_CACHE_MAX_ENTRIES}, keyed by device, inode, size and
 * mtime) remembers it from an earlier download.
 *
 * @module
 */
import type { ArchiveEntry, ArchiveLayout, CrcSource } from "./archive_plan.ts";

let crc32Function: ((data: Uint8Array, value?: number) => number) | undefined;

/**
 * `node:zlib`'s CRC-32 (~10 GB/s), loaded by the first archive that needs one rather than at
 * start-up, where the Node compatibility code behind `node:zlib` cost ~20 ms and ~10 MiB.
 */
async function loadCrc32(): Promise<(data: Uint8Array, value?: number) => number> {
  crc32Function ??= (await import("node:zlib")).crc32;
  return crc32Function;
}
/**
 * Bytes read from a file per step: as h1/writer.ts's FILE_CHUNK_BYTES (measured there:
 * 64 KiB → 1.7 GB/s, 256 KiB → 2.2 GB/s on loopback).
 */
export const ARCHIVE_READ_CHUNK_BYTES = 256 * 1024;

/** Small pieces (headers, padding) are gathered up to this size before they are sent. */
export const ARCHIVE_GATHER_BYTES = 64 * 1024;

/**
 * CRC-32s remembered across downloads, so resuming (or downloading again) does not read
 * every file before the resume point again. ~150 bytes each: ≤ 10 MiB.
 */
export const CRC_CACHE_MAX_ENTRIES = 65_536;

/** A file changed between planning and reading: the stream ends with this. */
export class ArchiveSourceChangedError extends Error {
  readonly code = "ARCHIVE_SOURCE_CHANGED";
  constructor(readonly path: string) {
    super(`${path} changed while it was being archived`);
    this.name = "ArchiveSourceChangedError";
  }
}

const crcCache = new Map<string, number>();

function crcKey(e: ArchiveEntry): string {
  return `${e.dev}:${e.ino}:${e.size}:${e.mtimeMs}:${e.path}`;
}

/** Remembers `e`'s CRC, forgetting the oldest past {@link CRC_CACHE_MAX_ENTRIES}. */
export function rememberCrc(e: ArchiveEntry, crc: number): void {
  const key = crcKey(e);
  crcCache.delete(key);
  crcCache.set(key, crc);
  if (crcCache.size > CRC_CACHE_MAX_ENTRIES) {
    crcCache.delete(crcCache.keys().next().value!); // the oldest
  }
}

/** The cached CRC of `e` (same device, inode, size, mtime and path), if any. */
export function cachedCrc(e: ArchiveEntry): number | undefined {
  return crcCache.get(crcKey(e));
}

/** Forgets every cached CRC (tests that count re-reads). */
export function clearCrcCache(): void {
  crcCache.clear();
}

/** Whether what `stat` describes is still the file the plan was made of. */
function matchesPlan(stat: Deno.FileInfo, e: ArchiveEntry): boolean {
  return stat.isFile && stat.size === e.size && (stat.mtime?.getTime() ?? 0) === e.mtimeMs &&
    stat.ino === e.ino && stat.dev === e.dev;
}

/**
 * Bytes `from..to-1` of entry `e`, read into `buf` (each chunk is a view of it, valid until
 * the next is pulled), the file checked against the plan before and after. `onCrc` gets
 * the whole file's CRC when the region is the whole file.
 */
async function* fileRegion(
  e: ArchiveEntry,
  from: number,
  to: number,
  buf: Uint8Array,
  onCrc?: (crc: number) => void,
): AsyncGenerator<Uint8Array, void, undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(e.path, { read: true });
  } catch {
    throw new ArchiveSourceChangedError(e.path); // deleted or made unreadable since
  }
  try {
    const crc32 = await loadCrc32();
    if (!matchesPlan(await file.stat(), e)) throw new ArchiveSourceChangedError(e.path);
    if (from > 0) await file.seek(from, Deno.SeekMode.Start);
    const whole = from === 0 && to === e.size;
    let crc = 0;
    let left = to - from;
    while (left > 0) {
      const n = await file.read(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null) throw new ArchiveSourceChangedError(e.path);
      const chunk = buf.subarray(0, n);
      if (whole) crc = crc32(chunk, crc);
      left -= n;
      yield chunk;
    }
    // Changed while being read (a rewrite keeping the size still moves the mtime).
    if (!matchesPlan(await file.stat(), e)) throw new ArchiveSourceChangedError(e.path);
    if (whole) {
      rememberCrc(e, crc);
      onCrc?.(crc);
    }
  } finally {
    file.close();
  }
}

/** CRC-32 of a whole entry: cached, or read from disk (checked against the plan). */
async function readCrc(e: ArchiveEntry, buf: Uint8Array): Promise<number> {
  const cached = crcCache.get(crcKey(e));
  if (cached !== undefined) return cached;
  const crc32 = await loadCrc32();
  let crc = 0;
  for await (const chunk of fileRegion(e, 0, e.size, buf)) crc = crc32(chunk, crc);
  return crc;
}

/** Options for {@link archiveRangeChunks}. */
export interface ArchiveStreamOptions {
  /** Told each time a file's CRC had to be read again (not sent whole, not cached). */
  onCrcRead?: (path: string) => void;
}

/**
 * Bytes `start..end` (inclusive) of the archive, exactly `end - start + 1` of them, or an
 * error ({@link ArchiveSourceChangedError}) if the tree changed under the plan. Each chunk
 * is valid until the next one is pulled (buffers are reused): copy what you keep.
 */
export async function* archiveRangeChunks(
  layout: ArchiveLayout,
  start: number,
  end: number,
  options: ArchiveStreamOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const entries = layout.tree.entries;
  // CRCs this download has computed (-1: not yet): 8 bytes per entry, not a Map's ~50.
  const known = new Float64Array(entries.length).fill(-1);
  // Two buffers for the whole download, reused: each chunk is valid until the next pull.
  // Measured: a fresh 64 KiB buffer per read let a 2 GiB download at loopback speed grow
  // the server's RSS by ~70 MiB before V8 collected them; reused, it stays flat.
  const readBuffer = new Uint8Array(ARCHIVE_READ_CHUNK_BYTES);
  const gathered = new Uint8Array(ARCHIVE_GATHER_BYTES);
  const crcs: CrcSource = {
    async crc(index) {
      if (known[index] >= 0) return known[index];
      const e = entries[index];
      if (e.size === 0) return 0; // nothing to read (and an empty piece is never streamed)
      if (!crcCache.has(crcKey(e))) options.onCrcRead?.(e.path);
      const crc = await readCrc(e, readBuffer);
      known[index] = crc;
      return crc;
    },
  };
  // Small pieces and small files are copied into one buffer; big chunks go out as they are.
  let used = 0;
  const stop = end + 1;
  let offset = 0;
  for (const piece of layout.pieces()) {
    const pieceStart = offset;
    offset += piece.length;
    if (offset <= start || piece.length === 0) continue;
    if (pieceStart >= stop) break;
    const from = Math.max(start, pieceStart) - pieceStart;
    const to = Math.min(stop, offset) - pieceStart;
    const index = piece.kind === "file" ? piece.index : -1;
    const chunks = piece.kind === "bytes"
      ? [(await piece.make(crcs)).subarray(from, to)]
      : fileRegion(entries[index], from, to, readBuffer, (crc) => known[index] = crc);
    for await (const bytes of chunks) {
      if (used + bytes.length <= gathered.length) {
        gathered.set(bytes, used);
        used += bytes.length;
        continue;
      }
      if (used > 0) yield gathered.subarray(0, used);
      used = 0;
      if (bytes.length * 2 > gathered.length) {
        yield bytes;
      } else {
        gathered.set(bytes);
        used = bytes.length;
      }
    }
  }
  if (used > 0) yield gathered.subarray(0, used);
}
