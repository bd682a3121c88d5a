/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B): encoding, and a bounded decoder that
 * refuses what the RFC calls a decoding error — the EOS symbol inside a string, padding longer
 * than 7 bits, or padding that is not the most significant bits of EOS (all ones).
 *
 * The code is canonical (codes of one length are consecutive, in symbol order), so only the
 * code lengths of Appendix B are written down here; the codes follow from them. Decoding runs
 * a 4-bits-at-a-time state machine built once from that tree (one table lookup per nibble).
 *
 * ```ts
 * import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
 * const raw = new TextEncoder().encode("www.example.com");
 * huffmanEncodedLength(raw, 0, raw.length); // 12 (RFC 7541 C.4.1)
 * const coded = huffmanEncode(raw);
 * new TextDecoder().decode(huffmanDecode(coded)); // "www.example.com"
 * ```
 *
 * @module
 */

/** Why a Huffman-coded string was refused (RFC 7541 §5.2). */
export class HuffmanError extends Error {
  /** Stable reason. */
  readonly code: "HUFFMAN_EOS" | "HUFFMAN_PADDING";
  constructor(code: "HUFFMAN_EOS" | "HUFFMAN_PADDING", message: string) {
    super(message);
    this.name = "HuffmanError";
    this.code = code;
  }
}

/** The end-of-string symbol; its code (30 ones) must never appear inside a string. */
export const HUFFMAN_EOS = 256;
/** Most padding bits at the end of a Huffman-coded string (RFC 7541 §5.2). */
export const HUFFMAN_MAX_PADDING_BITS = 7;

/** Code length in bits of symbols 0…256 (RFC 7541 Appendix B). */
// deno-fmt-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5,
  6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6,
  7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23,
  23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22,
  22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22,
  23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27,
  27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25,
  24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/** Bit length of each symbol's code. */
export const HUFFMAN_LENGTHS: Uint8Array = Uint8Array.from(CODE_LENGTHS);
/** Each symbol's code, right-aligned (canonical assignment from {@link HUFFMAN_LENGTHS}). */
export const HUFFMAN_CODES: Uint32Array = canonicalCodes(HUFFMAN_LENGTHS);

function canonicalCodes(lengths: Uint8Array): Uint32Array {
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let len = 0;
  for (let bits = 1; bits <= 30; bits++) {
    for (let sym = 0; sym < lengths.length; sym++) {
      if (lengths[sym] !== bits) continue;
      code <<= bits - len;
      len = bits;
      codes[sym] = code++;
    }
  }
  return codes;
}

// --- decoding tree → nibble state machine ---------------------------------------------------
// Internal nodes are numbered 0…255 (257 leaves → 256 internal nodes); a child value ≥ 256 is
// the leaf of symbol (value − 256).
const LEAF = 256;
const children = new Int32Array(2 * 256).fill(-1);
/** Per internal node: may the string end here (root, or ≤ 7 bits deep on an all-ones path)? */
const acceptsEnd = new Uint8Array(256);
{
  let nodes = 1;
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  for (let sym = 0; sym <= HUFFMAN_EOS; sym++) {
    const len = HUFFMAN_LENGTHS[sym];
    const code = HUFFMAN_CODES[sym];
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const bit = (code >>> i) & 1;
      let next = children[node * 2 + bit];
      if (next < 0) {
        next = nodes++;
        children[node * 2 + bit] = next;
        depth[next] = depth[node] + 1;
        allOnes[next] = allOnes[node] & bit;
      }
      node = next;
    }
    children[node * 2 + (code & 1)] = LEAF + sym;
  }
  for (let n = 0; n < 256; n++) {
    acceptsEnd[n] = n === 0 || (allOnes[n] && depth[n] <= HUFFMAN_MAX_PADDING_BITS) ? 1 : 0;
  }
}

// One entry per (state, nibble): bits 0-7 next state, bit 8 "emits", bits 9-16 the symbol,
// bit 17 "hit EOS". The shortest code is 5 bits, so a nibble completes at most one symbol.
const EMITS = 1 << 8;
const FAILS = 1 << 17;
const transitions = new Int32Array(256 * 16);
for (let state = 0; state < 256; state++) {
  for (let nibble = 0; nibble < 16; nibble++) {
    let node = state;
    let entry = 0;
    for (let i = 3; i >= 0; i--) {
      const child = children[node * 2 + ((nibble >>> i) & 1)];
      if (child >= LEAF) {
        const sym = child - LEAF;
        if (sym === HUFFMAN_EOS) entry |= FAILS;
        else entry |= EMITS | (sym << 9);
        node = 0;
      } else {
        node = child;
      }
    }
    transitions[state * 16 + nibble] = entry | node;
  }
}

/** Bytes that `src[start..end)` takes Huffman-coded (the last byte padded). */
export function huffmanEncodedLength(src: Uint8Array, start: number, end: number): number {
  let bits = 0;
  for (let i = start; i < end; i++) bits += HUFFMAN_LENGTHS[src[i]];
  return (bits + 7) >>> 3;
}

/**
 * Writes `src[start..end)` Huffman-coded into `out` at `pos`; returns the position after it.
 * `out` must have room for {@link huffmanEncodedLength} bytes.
 */
export function huffmanEncodeInto(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  pos: number,
): number {
  // At most 7 bits wait in `acc` between symbols; codes over 24 bits go in two pieces so the
  // accumulator never needs more than 31 bits.
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    let code = HUFFMAN_CODES[src[i]];
    let len = HUFFMAN_LENGTHS[src[i]];
    if (len > 24) {
      acc = (acc << (len - 16)) | (code >>> 16);
      bits += len - 16;
      while (bits >= 8) out[pos++] = acc >>> (bits -= 8);
      acc &= (1 << bits) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    bits += len;
    while (bits >= 8) out[pos++] = acc >>> (bits -= 8);
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[pos++] = (acc << (8 - bits)) | (0xff >>> bits);
  return pos;
}

/** `src` Huffman-coded, as a new array. */
export function huffmanEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(src, 0, src.length));
  huffmanEncodeInto(src, 0, src.length, out, 0);
  return out;
}

/** Most bytes that `n` Huffman-coded bytes can decode to (the shortest code is 5 bits). */
export function huffmanDecodedCapacity(n: number): number {
  return Math.floor((n * 8) / 5);
}

/**
 * Decodes `src[start..end)` into `out` (room for {@link huffmanDecodedCapacity} bytes);
 * returns the decoded length. Throws {@link HuffmanError} on EOS or bad padding.
 */
export function huffmanDecodeInto(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): number {
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    let t = transitions[state * 16 + (byte >>> 4)];
    if (t & FAILS) throw new HuffmanError("HUFFMAN_EOS", "EOS symbol inside a Huffman string");
    if (t & EMITS) out[n++] = (t >>> 9) & 0xff;
    t = transitions[(t & 0xff) * 16 + (byte & 0x0f)];
    if (t & FAILS) throw new HuffmanError("HUFFMAN_EOS", "EOS symbol inside a Huffman string");
    if (t & EMITS) out[n++] = (t >>> 9) & 0xff;
    state = t & 0xff;
  }
  if (!acceptsEnd[state]) {
    throw new HuffmanError(
      "HUFFMAN_PADDING",
      "Huffman padding longer than 7 bits or not all ones",
    );
  }
  return n;
}

/** `src` Huffman-decoded, as a new array. Throws {@link HuffmanError}. */
export function huffmanDecode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanDecodedCapacity(src.length));
  return out.slice(0, huffmanDecodeInto(src, 0, src.length, out));
}
