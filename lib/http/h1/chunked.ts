/**
 * Chunked transfer coding (RFC 9112 §7.1), both directions: the pure parser of a chunk-size
 * line with its limits, and the encoder that makes one chunk — size line, data and CRLF —
 * one buffer, so a chunk is one socket write, not three.
 *
 * ```ts
 * import { encodeChunk, parseChunkSizeLine } from "./chunked.ts";
 * parseChunkSizeLine(new TextEncoder().encode("1a;name=value\r\n")); // 26
 * encodeChunk(new TextEncoder().encode("hello")); // "5\r\nhello\r\n" as bytes
 * ```
 *
 * @module
 */
import { HttpError } from "../errors.ts";

/** Longest chunk-size line or trailer line of a chunked body (RFC 9112 §7.1). */
export const MAX_CHUNK_LINE_BYTES = 4 * 1024;

/** Trailer section of a chunked body, all lines together. */
export const MAX_TRAILER_BYTES = 16 * 1024;

/**
 * Chunk extensions of one body, all together: without a cap, 1-byte chunks with 4 KiB
 * extensions turn a 1 MiB body limit into 4 GiB of traffic (Node's CVE-2024-22019 fix).
 */
export const MAX_CHUNK_EXTENSION_BYTES = 16 * 1024;

const LF = 0x0a;
const CRLF_BYTES = 2;
const HEX_DIGITS = "0123456789abcdef";

/** The last chunk and the empty trailer section that end a chunked body. */
export const LAST_CHUNK: Uint8Array = new TextEncoder().encode("0\r\n\r\n");

/** One chunk of a chunked body: `SIZE(hex) CRLF data CRLF`, in one new buffer. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  let digits = 0;
  for (let n = data.length; n > 0; n = Math.floor(n / 16)) digits++;
  const out = new Uint8Array(digits + CRLF_BYTES + data.length + CRLF_BYTES);
  for (let i = digits - 1, n = data.length; i >= 0; i--, n = Math.floor(n / 16)) {
    out[i] = HEX_DIGITS.charCodeAt(n % 16);
  }
  out[digits] = 0x0d;
  out[digits + 1] = LF;
  out.set(data, digits + CRLF_BYTES);
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = LF;
  return out;
}

/** 400 + close: a chunked body whose framing cannot be trusted. */
export function badChunk(message: string): HttpError {
  return new HttpError(400, "BAD_CHUNK", message, { close: true });
}

/** Longest chunk-size accepted: 12 hex digits (256 TiB) stays a safe integer. */
const MAX_CHUNK_SIZE_DIGITS = 12;

/**
 * Pure: the size from a chunk-size line "1a;ext=v\r\n" (RFC 9112 §7.1). Extensions are
 * ignored; a bare LF, no digits or non-hex → 400 BAD_CHUNK.
 */
export function parseChunkSizeLine(line: Uint8Array): number {
  const end = line.length - 2;
  if (end < 1 || line[end] !== 0x0d || line[end + 1] !== LF) {
    throw badChunk("chunk-size line must end with CRLF");
  }
  let size = 0;
  let i = 0;
  for (; i < end; i++) {
    const c = line[i];
    let v: number;
    if (c >= 0x30 && c <= 0x39) v = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) v = (c | 0x20) - 0x61 + 10;
    else break;
    if (i >= MAX_CHUNK_SIZE_DIGITS) throw badChunk("chunk size too large");
    size = size * 16 + v;
  }
  if (i === 0) throw badChunk("missing chunk size");
  let j = i;
  while (j < end && (line[j] === 0x20 || line[j] === 0x09)) j++;
  if (j < end && line[j] !== 0x3b /* ; */) throw badChunk("invalid chunk size");
  for (let k = j; k < end; k++) {
    if (line[k] === 0x0d || line[k] === LF || line[k] === 0) {
      throw badChunk("invalid chunk extension");
    }
  }
  return size;
}
