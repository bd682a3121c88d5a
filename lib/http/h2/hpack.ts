/**
 * HPACK (RFC 7541), HTTP/2's header compression: a bounded {@link HpackDecoder} for request
 * header blocks and a fast {@link HpackEncoder} for response header blocks. One of each lives
 * per connection, because both sides' dynamic tables are connection state.
 *
 * The decoder is built for hostile peers: integers stop at 2^31 − 1 and
 * {@link HPACK_MAX_INTEGER_CONTINUATION_BYTES} bytes, string lengths at the end of the block,
 * table size updates only at the start of a block and up to our setting, and the decoded header
 * list at `maxHeaderListSize` — so a block that references one big table entry thousands of
 * times (the "HPACK bomb", CVE-2016-6581) costs its own length in work, never gigabytes.
 *
 * ```ts
 * import { HpackDecoder, HpackEncoder } from "./hpack.ts";
 * const encoder = new HpackEncoder();
 * const decoder = new HpackDecoder();
 * const block = encoder.encode([[":status", "200"], ["content-type", "text/html"]]);
 * decoder.decode(block); // [[":status", "200"], ["content-type", "text/html"]]
 * ```
 *
 * @module
 */
import { huffmanDecodedCapacity, huffmanDecodeInto, HuffmanError } from "./huffman.ts";
import { DynamicTable, STATIC_TABLE } from "./hpack_table.ts";
import { compressionError, decodeHpackInteger, HpackError } from "./hpack_integer.ts";

export { HPACK_ENTRY_OVERHEAD, STATIC_TABLE } from "./hpack_table.ts";
export {
  decodeHpackInteger,
  encodeHpackInteger,
  HPACK_MAX_INTEGER,
  HPACK_MAX_INTEGER_CONTINUATION_BYTES,
  HpackError,
  type HpackErrorCode,
} from "./hpack_integer.ts";
export {
  HPACK_ENCODER_MAX_NAMES,
  HPACK_LITERAL_CACHE_ENTRIES,
  HpackEncoder,
} from "./hpack_encoder.ts";

/** SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2), both directions. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
/**
 * Default SETTINGS_MAX_HEADER_LIST_SIZE: 64 KiB, so every head HTTP/1.1 accepts (32 KiB in at
 * most 100 lines, lib/http/h1/request.ts) fits with its 32 bytes per field, as in nghttp2.
 */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;

/** Options of {@link HpackDecoder}. */
export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most the peer's encoder may make us keep (default 4096). */
  maxTableSize?: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE: sum of name+value+32 per field (default DEFAULT_MAX_HEADER_LIST_SIZE). */
  maxHeaderListSize?: number;
}

/**
 * Largest Huffman output buffer a decoder keeps between strings (a longer string decodes into
 * a buffer of its own), so an idle connection does not hold the largest string it ever saw.
 */
export const HPACK_MAX_KEPT_SCRATCH_BYTES = 4096;

// One char per byte, never throws — the same reading of header bytes as lib/http/h1/request.ts.
const latin1 = new TextDecoder("latin1");

/** Decodes request header blocks; one per connection (the dynamic table is its state). */
export class HpackDecoder {
  readonly #maxTableSize: number;
  readonly #maxHeaderListSize: number;
  readonly #table: DynamicTable;
  #scratch = new Uint8Array(256);
  #pos = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.#maxTableSize = options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.#maxHeaderListSize = options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#table = new DynamicTable(this.#maxTableSize);
  }

  /** The dynamic table's current size in octets (RFC 7541 §4.1), for tests and metrics. */
  get tableSize(): number {
    return this.#table.size;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATIONs joined). Names are returned as
   * sent (HTTP/2 requires lowercase; validation is the caller's). Throws {@link HpackError}.
   * The dynamic table stays consistent when HEADER_LIST_TOO_LARGE is thrown (the whole block
   * is decoded, fields stop being collected once over the limit) so the connection can go on
   * with a 431.
   */
  decode(block: Uint8Array): [string, string][] {
    const fields: [string, string][] = [];
    const table = this.#table;
    let listSize = 0;
    let tooLarge = false;
    let fieldSeen = false;
    this.#pos = 0;
    while (this.#pos < block.length) {
      const first = block[this.#pos];
      let name: string;
      let value: string;
      let size: number;
      if (first & 0x80) { // §6.1 indexed field
        const index = this.#integer(block, 7);
        if (index === 0) compressionError("index 0");
        if (index <= STATIC_TABLE.length) {
          [name, value] = STATIC_TABLE[index - 1];
          size = name.length + value.length + 32;
        } else {
          const at = index - STATIC_TABLE.length - 1;
          if (at >= table.length) compressionError(`index ${index} past the dynamic table`);
          name = table.name(at);
          value = table.value(at);
          size = table.entrySize(at);
        }
      } else if ((first & 0xe0) === 0x20) { // §6.3 dynamic table size update
        if (fieldSeen) compressionError("table size update after a field");
        const max = this.#integer(block, 5);
        if (max > this.#maxTableSize) {
          compressionError(`table size update ${max} past our ${this.#maxTableSize}`);
        }
        table.setMaxSize(max);
        continue;
      } else { // §6.2 literal: with incremental indexing (01), without (0000), never (0001)
        const indexing = (first & 0x40) !== 0;
        const index = this.#integer(block, indexing ? 6 : 4);
        let nameBytes: number;
        if (index === 0) {
          name = this.#string(block);
          nameBytes = this.#lastStringBytes;
        } else if (index <= STATIC_TABLE.length) {
          name = STATIC_TABLE[index - 1][0];
          nameBytes = name.length;
        } else {
          const at = index - STATIC_TABLE.length - 1;
          if (at >= table.length) compressionError(`name index ${index} past the dynamic table`);
          name = table.name(at);
          nameBytes = table.nameBytes(at);
        }
        value = this.#string(block);
        size = nameBytes + this.#lastStringBytes + 32;
        if (indexing) table.add(name, value, nameBytes, size);
      }
      fieldSeen = true;
      if (tooLarge) continue;
      listSize += size;
      if (listSize > this.#maxHeaderListSize) {
        tooLarge = true;
        fields.length = 0; // let the collected fields go now; the block is refused anyway
      } else {
        fields.push([name, value]);
      }
    }
    if (tooLarge) {
      throw new HpackError(
        "HEADER_LIST_TOO_LARGE",
        `header list larger than ${this.#maxHeaderListSize} octets`,
      );
    }
    return fields;
  }

  #integer(block: Uint8Array, prefixBits: number): number {
    const [value, pos] = decodeHpackInteger(block, this.#pos, prefixBits);
    this.#pos = pos;
    return value;
  }

  #lastStringBytes = 0;

  /** One string literal (§5.2); its length in octets is left in #lastStringBytes. */
  #string(block: Uint8Array): string {
    if (this.#pos >= block.length) compressionError("string literal past the end of the block");
    const huffman = (block[this.#pos] & 0x80) !== 0;
    const length = this.#integer(block, 7);
    const start = this.#pos;
    if (length > block.length - start) compressionError("string longer than the block");
    this.#pos = start + length;
    if (!huffman) {
      this.#lastStringBytes = length;
      return bytesToString(block, start, start + length);
    }
    const capacity = huffmanDecodedCapacity(length);
    if (this.#scratch.length < capacity && capacity <= HPACK_MAX_KEPT_SCRATCH_BYTES) {
      this.#scratch = new Uint8Array(capacity);
    }
    const out = this.#scratch.length >= capacity ? this.#scratch : new Uint8Array(capacity);
    let n: number;
    try {
      n = huffmanDecodeInto(block, start, start + length, out);
    } catch (err) {
      if (err instanceof HuffmanError) compressionError(err.message);
      throw err;
    }
    this.#lastStringBytes = n;
    return bytesToString(out, 0, n);
  }
}

function bytesToString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 32) return latin1.decode(bytes.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c >= 0x80) return latin1.decode(bytes.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}
