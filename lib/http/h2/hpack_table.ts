/**
 * HPACK's two tables (RFC 7541 §2.3): the 61-entry static table (Appendix A) with lookups by
 * field and by name, and the dynamic table — a FIFO of recently indexed fields bounded by its
 * size in octets (name + value + 32 per entry, §4.1), evicting the oldest first (§4.4).
 *
 * ```ts
 * import { DynamicTable, STATIC_TABLE, staticFieldIndex } from "./hpack_table.ts";
 * staticFieldIndex(":status", "200"); // 8
 * STATIC_TABLE[7]; // [":status", "200"]
 * const table = new DynamicTable(4096);
 * table.add("custom-key", "custom-header", 10, 10 + 13 + 32);
 * table.size; // 55
 * ```
 *
 * @module
 */

/** What each dynamic table entry costs beyond its name and value octets (RFC 7541 §4.1). */
export const HPACK_ENTRY_OVERHEAD = 32;

/** RFC 7541 Appendix A; index i is `STATIC_TABLE[i - 1]`. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = Object.freeze(
  [
    [":authority", ""],
    [":method", "GET"],
    [":method", "POST"],
    [":path", "/"],
    [":path", "/index.html"],
    [":scheme", "http"],
    [":scheme", "https"],
    [":status", "200"],
    [":status", "204"],
    [":status", "206"],
    [":status", "304"],
    [":status", "400"],
    [":status", "404"],
    [":status", "500"],
    ["accept-charset", ""],
    ["accept-encoding", "gzip, deflate"],
    ["accept-language", ""],
    ["accept-ranges", ""],
    ["accept", ""],
    ["access-control-allow-origin", ""],
    ["age", ""],
    ["allow", ""],
    ["authorization", ""],
    ["cache-control", ""],
    ["content-disposition", ""],
    ["content-encoding", ""],
    ["content-language", ""],
    ["content-length", ""],
    ["content-location", ""],
    ["content-range", ""],
    ["content-type", ""],
    ["cookie", ""],
    ["date", ""],
    ["etag", ""],
    ["expect", ""],
    ["expires", ""],
    ["from", ""],
    ["host", ""],
    ["if-match", ""],
    ["if-modified-since", ""],
    ["if-none-match", ""],
    ["if-range", ""],
    ["if-unmodified-since", ""],
    ["last-modified", ""],
    ["link", ""],
    ["location", ""],
    ["max-forwards", ""],
    ["proxy-authenticate", ""],
    ["proxy-authorization", ""],
    ["range", ""],
    ["referer", ""],
    ["refresh", ""],
    ["retry-after", ""],
    ["server", ""],
    ["set-cookie", ""],
    ["strict-transport-security", ""],
    ["transfer-encoding", ""],
    ["user-agent", ""],
    ["vary", ""],
    ["via", ""],
    ["www-authenticate", ""],
  ] as const,
);

const staticByName = new Map<string, number>();
const staticByField = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!staticByName.has(name)) staticByName.set(name, i + 1);
  if (value !== "") staticByField.set(`${name}\0${value}`, i + 1);
});

/** Static index of the field `name: value` when the table holds that value, else 0. */
export function staticFieldIndex(name: string, value: string): number {
  if (value === "") return 0; // the empty values are placeholders; an empty value is rare
  return staticByField.get(`${name}\0${value}`) ?? 0;
}

/** Static index of the first entry named `name`, else 0. */
export function staticNameIndex(name: string): number {
  return staticByName.get(name) ?? 0;
}

/**
 * The dynamic table: entry 0 is the newest. A ring buffer that grows by doubling, so adding and
 * evicting are O(1); every entry costs at least 32 octets, so it holds at most maxSize / 32.
 */
export class DynamicTable {
  #names: string[] = new Array(16);
  #values: string[] = new Array(16);
  #nameBytes: number[] = new Array(16);
  #sizes: number[] = new Array(16);
  #mask = 15;
  #head = 0; // slot after the newest entry
  #length = 0;
  #size = 0;
  #maxSize: number;
  #inserted = 0;

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  /** Entries held. */
  get length(): number {
    return this.#length;
  }
  /** Sum of entry sizes in octets. */
  get size(): number {
    return this.#size;
  }
  /** The most octets the table may hold now. */
  get maxSize(): number {
    return this.#maxSize;
  }
  /** Entries ever added: the newest has sequence number `inserted` (see {@link positionOf}). */
  get inserted(): number {
    return this.#inserted;
  }

  /** 0-based position (0 = newest) of the entry added as number `seq`, or -1 if evicted. */
  positionOf(seq: number): number {
    const position = this.#inserted - seq;
    return position < this.#length ? position : -1;
  }

  #slot(position: number): number {
    return (this.#head - 1 - position) & this.#mask;
  }
  /** Name of the entry at `position` (0 = newest; caller checks `position < length`). */
  name(position: number): string {
    return this.#names[this.#slot(position)];
  }
  /** Value of the entry at `position`. */
  value(position: number): string {
    return this.#values[this.#slot(position)];
  }
  /** Octets of the name of the entry at `position`. */
  nameBytes(position: number): number {
    return this.#nameBytes[this.#slot(position)];
  }
  /** Size (name + value + 32 octets) of the entry at `position`. */
  entrySize(position: number): number {
    return this.#sizes[this.#slot(position)];
  }

  /** A new maximum size (§4.3): evicts the oldest entries until the table fits. */
  setMaxSize(maxSize: number): void {
    this.#maxSize = maxSize;
    this.#evictUntil(maxSize);
  }

  /**
   * Adds a field as the newest entry (§4.4): evicts until it fits; an entry larger than the
   * whole table empties it and is not added (not an error). Returns the entry's sequence number.
   */
  add(name: string, value: string, nameBytes: number, size: number): number {
    this.#inserted++;
    if (size > this.#maxSize) {
      this.#evictUntil(0);
      return this.#inserted;
    }
    this.#evictUntil(this.#maxSize - size);
    if (this.#length > this.#mask) this.#grow();
    const slot = this.#head;
    this.#names[slot] = name;
    this.#values[slot] = value;
    this.#nameBytes[slot] = nameBytes;
    this.#sizes[slot] = size;
    this.#head = (slot + 1) & this.#mask;
    this.#length++;
    this.#size += size;
    return this.#inserted;
  }

  #evictUntil(limit: number): void {
    while (this.#size > limit && this.#length > 0) {
      const oldest = this.#slot(this.#length - 1);
      this.#size -= this.#sizes[oldest];
      this.#names[oldest] = this.#values[oldest] = ""; // let the strings go
      this.#length--;
    }
  }

  #grow(): void {
    const capacity = (this.#mask + 1) * 2;
    const names: string[] = new Array(capacity);
    const values: string[] = new Array(capacity);
    const nameBytes: number[] = new Array(capacity);
    const sizes: number[] = new Array(capacity);
    for (let position = this.#length - 1, i = 0; position >= 0; position--, i++) {
      const slot = this.#slot(position);
      names[i] = this.#names[slot];
      values[i] = this.#values[slot];
      nameBytes[i] = this.#nameBytes[slot];
      sizes[i] = this.#sizes[slot];
    }
    this.#names = names;
    this.#values = values;
    this.#nameBytes = nameBytes;
    this.#sizes = sizes;
    this.#head = this.#length;
    this.#mask = capacity - 1;
  }
}
