/**
 * HPACK's integer representation (RFC 7541 §5.1), bounded for hostile input, and
 * {@link HpackError}, the one error type of the HPACK modules.
 *
 * ```ts
 * import { decodeHpackInteger, encodeHpackInteger } from "./hpack_integer.ts";
 * const out = new Uint8Array(6);
 * const end = encodeHpackInteger(out, 0, 1337, 5, 0); // RFC 7541 C.1.2: 1f 9a 0a
 * decodeHpackInteger(out.subarray(0, end), 0, 5); // [1337, 3]
 * ```
 *
 * @module
 */

/** Why a header block was refused. */
export type HpackErrorCode = "COMPRESSION_ERROR" | "HEADER_LIST_TOO_LARGE";

/**
 * A refused header block. `COMPRESSION_ERROR` is fatal to the connection (RFC 9113 §4.3);
 * after `HEADER_LIST_TOO_LARGE` the decoder's table is intact, so only the stream is refused.
 */
export class HpackError extends Error {
  /** Stable reason. */
  readonly code: HpackErrorCode;
  constructor(code: HpackErrorCode, message: string) {
    super(message);
    this.name = "HpackError";
    this.code = code;
  }
}

/** Largest integer the decoder accepts (lengths, indexes, sizes); past it → COMPRESSION_ERROR. */
export const HPACK_MAX_INTEGER = 2 ** 31 - 1;
/** Most continuation bytes of one integer: 5 × 7 bits cover 2^31 − 1 after any prefix. */
export const HPACK_MAX_INTEGER_CONTINUATION_BYTES = 5;
/** Throws a COMPRESSION_ERROR {@link HpackError}. */
export function compressionError(message: string): never {
  throw new HpackError("COMPRESSION_ERROR", message);
}

/**
 * Reads the integer whose prefix is the low `prefixBits` of `block[pos]` (RFC 7541 §5.1).
 * Returns `[value, next position]`. Throws {@link HpackError} past {@link HPACK_MAX_INTEGER},
 * {@link HPACK_MAX_INTEGER_CONTINUATION_BYTES} or the end of the block.
 */
export function decodeHpackInteger(
  block: Uint8Array,
  pos: number,
  prefixBits: number,
): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = block[pos++] & max;
  if (value < max) return [value, pos];
  for (let i = 0, shift = 0; i < HPACK_MAX_INTEGER_CONTINUATION_BYTES; i++, shift += 7) {
    if (pos >= block.length) compressionError("integer runs past the end of the block");
    const byte = block[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if (value > HPACK_MAX_INTEGER) compressionError("integer past 2^31 - 1");
    if ((byte & 0x80) === 0) return [value, pos];
  }
  return compressionError(
    `integer longer than ${HPACK_MAX_INTEGER_CONTINUATION_BYTES} continuation bytes`,
  );
}

/**
 * Writes `value` with a `prefixBits` prefix into `out` at `pos`, OR-ing `flags` into the first
 * byte (RFC 7541 §5.1); returns the position after it. `out` needs 6 bytes of room.
 */
export function encodeHpackInteger(
  out: Uint8Array,
  pos: number,
  value: number,
  prefixBits: number,
  flags: number,
): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | max;
  value -= max;
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}
