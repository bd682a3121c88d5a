/**
 * The zip format of a folder download (`?download=zip`), as a pure layout: every file
 * stored (no compression), so the archive's exact size is known from the tree alone and
 * any byte range of it can be produced without producing the bytes before it
 * (archive_stream.ts streams it).
 *
 * ```ts
 * import { walkArchiveTree } from "./archive_plan.ts";
 * import { zipLayout } from "./zip.ts";
 * const tree = await walkArchiveTree(".", { rootName: "site" });
 * const layout = zipLayout(tree);
 * console.log(layout.size); // the Content-Length, before a byte is read
 * ```
 *
 * Written here rather than with yazl or archiver: both produce the archive front to back
 * and cannot start at an offset (a resumed download would make them produce — and CRC —
 * everything before it), and neither lets a size be known up front for a data-descriptor
 * entry. The format is small (APPNOTE 6.3.10 §4.3–4.5):
 * - Each file: local header with flag bit 3 (CRC and sizes follow the data, in a data
 *   descriptor, so the CRC is computed while the file is sent) and bit 11 (UTF-8 names),
 *   the bytes, then the descriptor. Folders have no data and no descriptor.
 * - Times come from the files: DOS date/time in UTC plus an extended-timestamp field
 *   (0x5455) with the Unix mtime; nothing depends on the clock, so the same tree gives
 *   the same bytes.
 * - zip64 where needed: an entry of ≥ 4 GiB − 1 bytes gets zip64 sizes (local and
 *   central, and an 8-byte-size descriptor), an entry whose local header starts past
 *   4 GiB − 1 a zip64 offset, and an archive with ≥ 65 535 entries or a directory past
 *   4 GiB − 1 the zip64 end records. `forceZip64` uses them everywhere (for tests).
 *
 * @module
 */
import type { ArchiveLayout, ArchivePiece, ArchiveTree } from "./archive_plan.ts";

/** Largest value of a 32-bit field; it also marks "see the zip64 field". */
const MAX32 = 0xffffffff;
/** Largest entry count of the classic end record; it also marks "see zip64". */
const MAX16 = 0xffff;

const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_BYTES = 22;
const ZIP64_END_BYTES = 56;
const ZIP64_LOCATOR_BYTES = 20;
/** Extended timestamp (0x5455) with the mtime only: tag, size, flags, mtime. */
const TIME_EXTRA_BYTES = 9;
/** zip64 extra in a local header: tag, size, uncompressed and compressed size. */
const ZIP64_LOCAL_EXTRA_BYTES = 20;

/** Flag bit 3: CRC and sizes in a data descriptor; bit 11: names are UTF-8. */
const FLAGS_FILE = 0x0808;
const FLAGS_DIR = 0x0800;
/** Version made by: Unix (3) << 8, spec 4.5 (zip64). */
const MADE_BY = (3 << 8) | 45;

/** Options for {@link zipLayout}. */
export interface ZipOptions {
  /** Use zip64 fields for every entry and the end records (tests of zip64 readers). */
  forceZip64?: boolean;
}

/** An entry's shape: derived from the entry on demand, so a plan stores only offsets. */
interface ZipEntryShape {
  /** zip64 sizes (local extra, central extra, 8-byte descriptor sizes). */
  zip64Size: boolean;
  /** Stored name length (folders get a trailing `/`). */
  nameLength: number;
  localLength: number;
  descriptorLength: number;
}

/** Lays out `tree` as a zip archive; no I/O. */
export function zipLayout(tree: ArchiveTree, options: ZipOptions = {}): ArchiveLayout {
  const force = options.forceZip64 ?? false;
  const entries = tree.entries;
  const shape = (i: number): ZipEntryShape => {
    const e = entries[i];
    const zip64Size = force || e.size >= MAX32;
    const nameLength = e.nameLength + (e.isDirectory ? 1 : 0);
    return {
      zip64Size,
      nameLength,
      localLength: LOCAL_HEADER_BYTES + nameLength + TIME_EXTRA_BYTES +
        (zip64Size ? ZIP64_LOCAL_EXTRA_BYTES : 0),
      descriptorLength: e.isDirectory ? 0 : zip64Size ? 24 : 16,
    };
  };
  // The name bytes are encoded when a header is made: a plan holds numbers, not bytes.
  const storedName = (i: number) =>
    encoder.encode(entries[i].isDirectory ? `${entries[i].name}/` : entries[i].name);
  const offsets = new Float64Array(entries.length);
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const { localLength, descriptorLength } = shape(i);
    offsets[i] = offset;
    offset += localLength + entries[i].size + descriptorLength;
  }
  const centralStart = offset;
  const centralLength = (i: number) =>
    CENTRAL_HEADER_BYTES + shape(i).nameLength + TIME_EXTRA_BYTES +
    centralZip64ExtraLength(shape(i).zip64Size, force || offsets[i] >= MAX32);
  let centralSize = 0;
  for (let i = 0; i < entries.length; i++) centralSize += centralLength(i);
  const zip64End = force || entries.length >= MAX16 || centralStart >= MAX32 ||
    centralSize >= MAX32;
  const endLength = (zip64End ? ZIP64_END_BYTES + ZIP64_LOCATOR_BYTES : 0) + END_BYTES;
  const size = centralStart + centralSize + endLength;

  function* pieces(): Iterable<ArchivePiece> {
    for (let i = 0; i < entries.length; i++) {
      const { localLength, descriptorLength } = shape(i);
      yield { kind: "bytes", length: localLength, make: () => localHeader(i) };
      if (entries[i].isDirectory) continue;
      yield { kind: "file", length: entries[i].size, index: i };
      yield {
        kind: "bytes",
        length: descriptorLength,
        make: async (crcs) => descriptor(i, await crcs.crc(i)),
      };
    }
    for (let i = 0; i < entries.length; i++) {
      yield {
        kind: "bytes",
        length: centralLength(i),
        make: async (crcs) => centralHeader(i, entries[i].isDirectory ? 0 : await crcs.crc(i)),
      };
    }
    yield { kind: "bytes", length: endLength, make: () => endRecords() };
  }

  function localHeader(i: number): Uint8Array {
    const e = entries[i];
    const { zip64Size, nameLength, localLength } = shape(i);
    const out = new Uint8Array(localLength);
    const v = new DataView(out.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, zip64Size ? 45 : 20, true);
    v.setUint16(6, e.isDirectory ? FLAGS_DIR : FLAGS_FILE, true);
    v.setUint16(8, 0, true); // stored
    const [time, date] = dosDateTime(e.mtimeMs);
    v.setUint16(10, time, true);
    v.setUint16(12, date, true);
    // CRC and sizes: 0 here (bit 3: in the descriptor), or 0xFFFFFFFF → zip64 extra.
    v.setUint32(18, zip64Size ? MAX32 : 0, true);
    v.setUint32(22, zip64Size ? MAX32 : 0, true);
    v.setUint16(26, nameLength, true);
    v.setUint16(28, localLength - LOCAL_HEADER_BYTES - nameLength, true);
    out.set(storedName(i), LOCAL_HEADER_BYTES);
    let p = LOCAL_HEADER_BYTES + nameLength;
    p = timeExtra(v, p, e.mtimeMs);
    if (zip64Size) {
      v.setUint16(p, 0x0001, true);
      v.setUint16(p + 2, 16, true); // both sizes, 0 until the descriptor
    }
    return out;
  }

  function descriptor(i: number, crc: number): Uint8Array {
    const { zip64Size, descriptorLength } = shape(i);
    const out = new Uint8Array(descriptorLength);
    const v = new DataView(out.buffer);
    v.setUint32(0, 0x08074b50, true);
    v.setUint32(4, crc, true);
    const size = entries[i].size;
    if (zip64Size) {
      setUint64(v, 8, size);
      setUint64(v, 16, size);
    } else {
      v.setUint32(8, size, true);
      v.setUint32(12, size, true);
    }
    return out;
  }

  function centralHeader(i: number, crc: number): Uint8Array {
    const e = entries[i];
    const { zip64Size, nameLength } = shape(i);
    const zip64Offset = force || offsets[i] >= MAX32;
    const out = new Uint8Array(centralLength(i));
    const v = new DataView(out.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, MADE_BY, true);
    v.setUint16(6, zip64Size || zip64Offset ? 45 : 20, true);
    v.setUint16(8, e.isDirectory ? FLAGS_DIR : FLAGS_FILE, true);
    v.setUint16(10, 0, true);
    const [time, date] = dosDateTime(e.mtimeMs);
    v.setUint16(12, time, true);
    v.setUint16(14, date, true);
    v.setUint32(16, crc, true);
    v.setUint32(20, zip64Size ? MAX32 : e.size, true);
    v.setUint32(24, zip64Size ? MAX32 : e.size, true);
    v.setUint16(28, nameLength, true);
    v.setUint16(30, out.length - CENTRAL_HEADER_BYTES - nameLength, true);
    // 32: comment length, 34: disk, 36: internal attributes — all 0.
    const type = e.isDirectory ? 0o040000 : 0o100000;
    v.setUint32(38, (((type | e.mode) << 16) | (e.isDirectory ? 0x10 : 0)) >>> 0, true);
    v.setUint32(42, zip64Offset ? MAX32 : offsets[i], true);
    out.set(storedName(i), CENTRAL_HEADER_BYTES);
    let p = CENTRAL_HEADER_BYTES + nameLength;
    p = timeExtra(v, p, e.mtimeMs);
    if (zip64Size || zip64Offset) {
      v.setUint16(p, 0x0001, true);
      v.setUint16(p + 2, centralZip64ExtraLength(zip64Size, zip64Offset) - 4, true);
      p += 4;
      if (zip64Size) {
        setUint64(v, p, e.size);
        setUint64(v, p + 8, e.size);
        p += 16;
      }
      if (zip64Offset) setUint64(v, p, offsets[i]);
    }
    return out;
  }

  function endRecords(): Uint8Array {
    const out = new Uint8Array(endLength);
    const v = new DataView(out.buffer);
    let p = 0;
    if (zip64End) {
      v.setUint32(0, 0x06064b50, true);
      setUint64(v, 4, ZIP64_END_BYTES - 12); // size of the rest of this record
      v.setUint16(12, MADE_BY, true);
      v.setUint16(14, 45, true);
      // 16, 20: disk numbers 0
      setUint64(v, 24, entries.length);
      setUint64(v, 32, entries.length);
      setUint64(v, 40, centralSize);
      setUint64(v, 48, centralStart);
      v.setUint32(56, 0x07064b50, true); // locator
      setUint64(v, 64, centralStart + centralSize); // where the zip64 end record is
      v.setUint32(72, 1, true); // total disks
      p = ZIP64_END_BYTES + ZIP64_LOCATOR_BYTES;
    }
    v.setUint32(p, 0x06054b50, true);
    const count = zip64End ? MAX16 : entries.length;
    v.setUint16(p + 8, count, true);
    v.setUint16(p + 10, count, true);
    v.setUint32(p + 12, zip64End ? MAX32 : centralSize, true);
    v.setUint32(p + 16, zip64End ? MAX32 : centralStart, true);
    return out;
  }

  return { format: "zip", tree, size, pieces };
}

const encoder = new TextEncoder();

function centralZip64ExtraLength(zip64Size: boolean, zip64Offset: boolean): number {
  if (!zip64Size && !zip64Offset) return 0;
  return 4 + (zip64Size ? 16 : 0) + (zip64Offset ? 8 : 0);
}

function setUint64(v: DataView, at: number, value: number): void {
  v.setBigUint64(at, BigInt(value), true);
}

/** Writes the extended-timestamp extra field at `p`; returns the offset after it. */
function timeExtra(v: DataView, p: number, mtimeMs: number): number {
  v.setUint16(p, 0x5455, true);
  v.setUint16(p + 2, 5, true);
  v.setUint8(p + 4, 1); // mtime present
  // A signed 32-bit Unix time in Info-ZIP's reading: clamp to what it can say.
  v.setUint32(p + 5, Math.min(Math.max(Math.floor(mtimeMs / 1000), 0), 0x7fffffff), true);
  return p + TIME_EXTRA_BYTES;
}

/** MS-DOS [time, date] of `mtimeMs` in UTC, clamped to 1980..2107 (what DOS dates hold). */
export function dosDateTime(mtimeMs: number): [number, number] {
  const d = new Date(mtimeMs);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(mtimeMs) || year < 1980) return [0, (1 << 5) | 1];
  if (year > 2107) return [(23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31];
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const date = ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  return [time, date];
}
