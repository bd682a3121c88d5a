/**
 * The tar format of a folder download (`?download=tar`), as a pure layout: POSIX ustar
 * headers, with a pax extended header before an entry whose name or size ustar cannot
 * hold. The archive's exact size follows from the tree alone, and any byte range of it can
 * be produced without producing the bytes before it (archive_stream.ts streams it).
 *
 * ```ts
 * import { walkArchiveTree } from "./archive_plan.ts";
 * import { tarLayout } from "./tar.ts";
 * const tree = await walkArchiveTree(".", { rootName: "site" });
 * console.log(tarLayout(tree).size); // the Content-Length, before a byte is read
 * ```
 *
 * Written here rather than with tar-stream (which this replaced): tar-stream produces the
 * archive front to back, so a resumed download would have to produce everything before
 * the resume point, and it cannot tell the size before it is done. The format is small
 * (POSIX.1-2001 `pax`):
 * - Each entry: a 512-byte header, the content, zero padding to a 512-byte boundary;
 *   the archive ends with two zero blocks.
 * - A name that is not ASCII or does not fit ustar's 100-byte name (+ 155-byte prefix
 *   split at a `/`), or a size of 8 GiB or more, gets a pax header (`path=`, `size=`)
 *   first, as GNU tar and bsdtar read it.
 * - Owner is 0/0 with no names, times are the files' mtimes: nothing depends on the
 *   server's users or clock, so the same tree gives the same bytes.
 *
 * @module
 */
import type { ArchiveEntry, ArchiveLayout, ArchivePiece, ArchiveTree } from "./archive_plan.ts";

/** Size of a tar block: headers and padding are counted in these. */
export const TAR_BLOCK_BYTES = 512;

/** Largest size ustar's 11 octal digits hold; bigger files get a pax `size`. */
const MAX_USTAR_SIZE = 0o77777777777;

const encoder = new TextEncoder();

/** Lays out `tree` as a tar archive; no I/O. */
export function tarLayout(tree: ArchiveTree): ArchiveLayout {
  const entries = tree.entries;
  const headerLengths = entries.map((e) => tarHeaderLength(e));
  let size = 2 * TAR_BLOCK_BYTES;
  for (let i = 0; i < entries.length; i++) {
    size += headerLengths[i] + entries[i].size + padding(entries[i].size);
  }

  function* pieces(): Iterable<ArchivePiece> {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      yield { kind: "bytes", length: headerLengths[i], make: () => tarHeader(e) };
      if (e.isDirectory) continue;
      yield { kind: "file", length: e.size, index: i };
      const pad = padding(e.size);
      if (pad > 0) yield { kind: "bytes", length: pad, make: () => new Uint8Array(pad) };
    }
    yield { kind: "bytes", length: 2 * TAR_BLOCK_BYTES, make: () => new Uint8Array(1024) };
  }

  return { format: "tar", tree, size, pieces };
}

function padding(size: number): number {
  return (TAR_BLOCK_BYTES - (size % TAR_BLOCK_BYTES)) % TAR_BLOCK_BYTES;
}

/** The stored name: folders end in `/`, as tar itself writes them. */
function storedName(e: ArchiveEntry): Uint8Array {
  return encoder.encode(e.isDirectory ? `${e.name}/` : e.name);
}

/** ustar's [prefix, name] for `name`, or null if it needs a pax `path`. */
function ustarSplit(name: Uint8Array): [Uint8Array, Uint8Array] | null {
  if (name.some((b) => b >= 0x80)) return null; // pax carries UTF-8 as such
  if (name.length <= 100) return [new Uint8Array(0), name];
  // Split at a '/' so the prefix fits 155 bytes and the rest 100 (and is not empty).
  for (let i = Math.min(155, name.length - 2); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100) {
      return [name.subarray(0, i), name.subarray(i + 1)];
    }
  }
  return null;
}

/** The pax records an entry needs, or null when ustar holds it all. */
function paxRecords(e: ArchiveEntry, name: Uint8Array): Uint8Array | null {
  let text = "";
  if (ustarSplit(name) === null) text += paxRecord("path", new TextDecoder().decode(name));
  if (e.size > MAX_USTAR_SIZE) text += paxRecord("size", String(e.size));
  return text === "" ? null : encoder.encode(text);
}

/** `"<length> key=value\n"`, where length counts the whole record, its own digits too. */
function paxRecord(key: string, value: string): string {
  const body = encoder.encode(` ${key}=${value}\n`).length;
  let length = body + String(body).length;
  if (String(length).length !== String(body).length) length = body + String(length).length;
  return `${length} ${key}=${value}\n`;
}

/** Bytes of an entry's headers (pax header and data, then the ustar header). */
function tarHeaderLength(e: ArchiveEntry): number {
  const pax = paxRecords(e, storedName(e));
  if (pax === null) return TAR_BLOCK_BYTES;
  return 2 * TAR_BLOCK_BYTES + pax.length + padding(pax.length);
}

/** An entry's headers: the pax header and its data if needed, then the ustar header. */
export function tarHeader(e: ArchiveEntry): Uint8Array {
  const name = storedName(e);
  const pax = paxRecords(e, name);
  const mtime = Math.min(Math.max(Math.floor(e.mtimeMs / 1000), 0), MAX_USTAR_SIZE);
  const type = e.isDirectory ? "5" : "0";
  const size = e.size > MAX_USTAR_SIZE ? 0 : e.size;
  const split = ustarSplit(name) ?? [new Uint8Array(0), name.subarray(0, 100)];
  const header = ustarHeader(split, e.mode, size, mtime, type);
  if (pax === null) return header;
  const out = new Uint8Array(2 * TAR_BLOCK_BYTES + pax.length + padding(pax.length));
  out.set(
    ustarHeader(
      [new Uint8Array(0), encoder.encode("././@PaxHeader")],
      0o644,
      pax.length,
      mtime,
      "x",
    ),
  );
  out.set(pax, TAR_BLOCK_BYTES);
  out.set(header, out.length - TAR_BLOCK_BYTES);
  return out;
}

function ustarHeader(
  [prefix, name]: [Uint8Array, Uint8Array],
  mode: number,
  size: number,
  mtime: number,
  type: string,
): Uint8Array {
  const h = new Uint8Array(TAR_BLOCK_BYTES);
  h.set(name, 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h[156] = type.charCodeAt(0);
  h.set(encoder.encode("ustar\x0000"), 257);
  octal(h, 329, 8, 0); // devmajor
  octal(h, 337, 8, 0); // devminor
  h.set(prefix, 345);
  // Checksum: the header's byte sum with the checksum field read as spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\x00 "), 148);
  return h;
}

/** `value` as zero-padded octal filling `width - 1` digits, then NUL. */
function octal(h: Uint8Array, at: number, width: number, value: number): void {
  h.set(encoder.encode(value.toString(8).padStart(width - 1, "0") + "\x00"), at);
}
