/**
 * The HPACK encoder (RFC 7541 §6) for response header blocks: static table hits as one byte,
 * incremental indexing for the fields that repeat across responses (`content-type`, `server`,
 * `date`, `cache-control`, …), plain literals for the ones unique to a file (`content-length`,
 * `etag`, `last-modified`; indexing those would only evict the useful entries), never-indexed
 * literals for credentials (§7.1.3), and Huffman coding whenever it is shorter.
 *
 * Literals that do not touch the dynamic table encode the same every time, so their bytes are
 * cached (bounded): a busy file's `content-length`/`etag`/`last-modified` cost one map lookup.
 *
 * ```ts
 * import { HpackEncoder } from "./hpack_encoder.ts";
 * const encoder = new HpackEncoder();
 * encoder.encode([[":status", "200"]]); // Uint8Array [0x88]
 * encoder.setMaxTableSize(0); // the peer's SETTINGS_HEADER_TABLE_SIZE: next block starts with 0x20
 * ```
 *
 * @module
 */
import { huffmanEncodedLength, huffmanEncodeInto } from "./huffman.ts";
import {
  DynamicTable,
  HPACK_ENTRY_OVERHEAD,
  STATIC_TABLE,
  staticNameIndex,
} from "./hpack_table.ts";
import { encodeHpackInteger } from "./hpack_integer.ts";

/** SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2). */
const INITIAL_TABLE_SIZE = 4096;
/** Most cached literal encodings per encoder; the cache is emptied when full. */
export const HPACK_LITERAL_CACHE_ENTRIES = 256;

/** Credentials are never indexed, so an intermediary cannot probe them (RFC 7541 §7.1.3). */
const NEVER_INDEXED: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "set-cookie",
  "cookie",
]);
/** Values that differ per file or per response: indexing them would churn the table. */
const NOT_INDEXED: ReadonlySet<string> = new Set([
  ":path",
  "age",
  "content-disposition",
  "content-length",
  "content-range",
  "etag",
  "last-modified",
  "location",
]);

const utf8 = new TextEncoder();

function lowercase(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return name.toLowerCase();
  }
  return name;
}

/** How a name's fields are sent. */
const enum Kind {
  Never,
  Plain,
  Indexed,
}

/** What the encoder knows about one header name, found once per name and connection. */
interface NameInfo {
  /** The name as sent: lowercase. */
  readonly name: string;
  readonly kind: Kind;
  /** Static index of the name, or 0. */
  readonly staticName: number;
  /** The static table's values for this name (":status" → "200" → 8, …). */
  readonly staticValues: ReadonlyMap<string, number> | undefined;
  /** value → sequence number of its newest dynamic table entry. */
  readonly dynamic: Map<string, number>;
  /** Sequence number of the newest dynamic entry with this name, or -1. */
  latest: number;
  /** Plain literals' bytes by value (they never depend on the table). */
  readonly literals: Map<string, Uint8Array>;
}

const STATIC_VALUES = new Map<string, Map<string, number>>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (value === "") return; // placeholders: an empty value is sent as a literal
  let values = STATIC_VALUES.get(name);
  if (values === undefined) STATIC_VALUES.set(name, values = new Map());
  values.set(value, i + 1);
});

/**
 * Most header names (as given and lowercased) an encoder remembers; one more drops them all,
 * with their lookups and cached literals (only compression suffers; a response's names come
 * from the server, so this is only reached by a handler inventing names).
 */
export const HPACK_ENCODER_MAX_NAMES = 512;

/** Encodes response header blocks; one per connection (the dynamic table is its state). */
export class HpackEncoder {
  readonly #limit: number;
  readonly #table: DynamicTable;
  /** Names as given (any case) and lowercase → what is known about them. */
  readonly #names = new Map<string, NameInfo>();
  #literalCount = 0;
  #pendingMin = -1;
  #pendingFinal = -1;
  #out = new Uint8Array(1024);
  #pos = 0;
  #bytes = new Uint8Array(256);

  /** `maxTableSize`: the most table we keep, even if the peer allows more (default 4096). */
  constructor(options: { maxTableSize?: number } = {}) {
    this.#limit = options.maxTableSize ?? INITIAL_TABLE_SIZE;
    this.#table = new DynamicTable(Math.min(INITIAL_TABLE_SIZE, this.#limit));
    if (this.#limit < INITIAL_TABLE_SIZE) this.setMaxTableSize(INITIAL_TABLE_SIZE);
  }

  /** Literal encodings cached now (at most {@link HPACK_LITERAL_CACHE_ENTRIES}). */
  get literalCacheSize(): number {
    return this.#literalCount;
  }

  /** Header names remembered now (at most {@link HPACK_ENCODER_MAX_NAMES}). */
  get nameCount(): number {
    return this.#names.size;
  }

  /** The dynamic table's current size in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.#table.size;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: emit a size update at the start of the next block. */
  setMaxTableSize(size: number): void {
    const max = Math.min(size, this.#limit);
    // §4.2: when the size went down and up again before the next block, the decoder must
    // see the smallest one first, so it evicts what we evicted.
    this.#pendingMin = this.#pendingMin < 0 ? max : Math.min(this.#pendingMin, max);
    this.#pendingFinal = max;
  }

  /**
   * Encodes one header block. Names are sent lowercase (RFC 9113 §8.2.1). Sensitive fields
   * (set-cookie, cookie, authorization, proxy-authorization) are never indexed.
   */
  encode(fields: readonly (readonly [string, string])[]): Uint8Array {
    this.#pos = 0;
    if (this.#pendingFinal >= 0) this.#emitSizeUpdates();
    for (const [rawName, value] of fields) {
      const info = this.#names.get(rawName) ?? this.#learn(rawName);
      this.#reserve(32 + 3 * (info.name.length + value.length));
      const staticIndex = info.staticValues?.get(value);
      if (staticIndex !== undefined) {
        this.#pos = encodeHpackInteger(this.#out, this.#pos, staticIndex, 7, 0x80);
      } else if (info.kind === Kind.Never) {
        this.#literal(info.name, value, 0x10, 4, info.staticName);
      } else if (info.kind === Kind.Plain || !this.#worthIndexing(info.name, value)) {
        this.#cachedLiteral(info, value);
      } else {
        this.#indexed(info, value);
      }
    }
    return this.#out.slice(0, this.#pos);
  }

  #learn(rawName: string): NameInfo {
    if (this.#names.size >= HPACK_ENCODER_MAX_NAMES) this.#forgetNames();
    const name = lowercase(rawName);
    let info = this.#names.get(name);
    if (info === undefined) {
      info = {
        name,
        kind: NEVER_INDEXED.has(name)
          ? Kind.Never
          : NOT_INDEXED.has(name)
          ? Kind.Plain
          : Kind.Indexed,
        staticName: staticNameIndex(name),
        staticValues: STATIC_VALUES.get(name),
        dynamic: new Map(),
        latest: -1,
        literals: new Map(),
      };
      this.#names.set(name, info);
    }
    this.#names.set(rawName, info);
    return info;
  }

  #forgetNames(): void {
    this.#names.clear();
    this.#literalCount = 0;
  }

  #emitSizeUpdates(): void {
    this.#reserve(12);
    if (this.#pendingMin < this.#pendingFinal) {
      this.#pos = encodeHpackInteger(this.#out, this.#pos, this.#pendingMin, 5, 0x20);
      this.#table.setMaxSize(this.#pendingMin);
    }
    this.#pos = encodeHpackInteger(this.#out, this.#pos, this.#pendingFinal, 5, 0x20);
    this.#table.setMaxSize(this.#pendingFinal);
    this.#pendingMin = this.#pendingFinal = -1;
  }

  #worthIndexing(name: string, value: string): boolean {
    // A field taking most of the table would evict every useful one (nghttp2 uses ¾ too).
    return (name.length + value.length + HPACK_ENTRY_OVERHEAD) * 4 <= this.#table.maxSize * 3;
  }

  /** An indexed field if the table holds it, else a literal with incremental indexing. */
  #indexed(info: NameInfo, value: string): void {
    const table = this.#table;
    const seq = info.dynamic.get(value);
    if (seq !== undefined) {
      const position = table.positionOf(seq);
      if (position >= 0) {
        const index = STATIC_TABLE.length + 1 + position;
        this.#pos = encodeHpackInteger(this.#out, this.#pos, index, 7, 0x80);
        return;
      }
      info.dynamic.delete(value);
    }
    let nameIndex = info.staticName;
    if (nameIndex === 0 && info.latest >= 0) {
      const position = table.positionOf(info.latest);
      if (position >= 0) nameIndex = STATIC_TABLE.length + 1 + position;
    }
    const [nameBytes, valueBytes] = this.#literal(info.name, value, 0x40, 6, nameIndex);
    const added = table.add(info.name, value, nameBytes, nameBytes + valueBytes + 32);
    info.dynamic.set(value, added);
    info.latest = added;
    // Values evicted long ago (yesterday's dates) must not pile up in the lookup.
    if (info.dynamic.size > 2 * table.length + 16) {
      for (const [old, s] of info.dynamic) if (table.positionOf(s) < 0) info.dynamic.delete(old);
    }
  }

  /** A literal without indexing; its bytes never depend on the table, so they are cached. */
  #cachedLiteral(info: NameInfo, value: string): void {
    if (info.staticName === 0) {
      this.#literal(info.name, value, 0x00, 4, 0);
      return;
    }
    const bytes = info.literals.get(value);
    if (bytes !== undefined) {
      this.#out.set(bytes, this.#pos);
      this.#pos += bytes.length;
      return;
    }
    const start = this.#pos;
    this.#literal(info.name, value, 0x00, 4, info.staticName);
    if (this.#literalCount >= HPACK_LITERAL_CACHE_ENTRIES) {
      for (const other of this.#names.values()) other.literals.clear();
      this.#literalCount = 0;
    }
    info.literals.set(value, this.#out.slice(start, this.#pos));
    this.#literalCount++;
  }

  /** A literal field (§6.2); returns the name's and value's length in octets. */
  #literal(
    name: string,
    value: string,
    flags: number,
    prefixBits: number,
    nameIndex: number,
  ): [number, number] {
    this.#pos = encodeHpackInteger(this.#out, this.#pos, nameIndex, prefixBits, flags);
    const nameBytes = nameIndex === 0 ? this.#string(name) : utf8Length(name);
    return [nameBytes, this.#string(value)];
  }

  /** One string literal (§5.2), Huffman-coded when shorter; returns its length in octets. */
  #string(text: string): number {
    let n = text.length;
    if (this.#bytes.length < 3 * n) this.#bytes = new Uint8Array(3 * n);
    const bytes = this.#bytes;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      bytes[i] = c;
    }
    if (!ascii) n = utf8.encodeInto(text, bytes).written;
    const coded = huffmanEncodedLength(bytes, 0, n);
    if (coded < n) {
      this.#pos = encodeHpackInteger(this.#out, this.#pos, coded, 7, 0x80);
      this.#pos = huffmanEncodeInto(bytes, 0, n, this.#out, this.#pos);
    } else {
      this.#pos = encodeHpackInteger(this.#out, this.#pos, n, 7, 0x00);
      this.#out.set(bytes.subarray(0, n), this.#pos);
      this.#pos += n;
    }
    return n;
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#out.length) return;
    const out = new Uint8Array(Math.max(this.#out.length * 2, this.#pos + bytes));
    out.set(this.#out.subarray(0, this.#pos));
    this.#out = out;
  }
}

function utf8Length(text: string): number {
  let ascii = true;
  for (let i = 0; i < text.length && ascii; i++) ascii = text.charCodeAt(i) < 0x80;
  return ascii ? text.length : utf8.encode(text).length;
}
