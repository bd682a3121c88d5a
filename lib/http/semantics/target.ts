/**
 * Percent-decoding of a request path (RFC 3986 §2.1), exactly once and strictly: the wire
 * parser decodes `path` with it, and the file mapping decodes each raw segment with it, so
 * both agree byte for byte on what a path means.
 *
 * ```ts
 * import { percentDecode } from "./target.ts";
 * percentDecode("/caf%C3%A9"); // "/café"
 * percentDecode("/a%252e"); // "/a%2e" — never "/a."
 * ```
 *
 * @module
 */
import { HttpError } from "../errors.ts";

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Decodes %XX escapes exactly once and the result as UTF-8. A '%' not followed by two hex
 * digits, or bytes that are not UTF-8, → 400 BAD_PERCENT_ENCODING. "%252e" becomes "%2e",
 * never ".".
 */
export function percentDecode(raw: string): string {
  const firstPercent = raw.indexOf("%");
  if (firstPercent === -1) return raw; // the common case: nothing to decode
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const lo = hi === -1 ? -1 : hexValue(raw.charCodeAt(i + 2));
      if (lo === -1) {
        throw new HttpError(400, "BAD_PERCENT_ENCODING", "invalid percent-encoding in path", {
          close: true,
        });
      }
      bytes[n++] = hi * 16 + lo;
      i += 2;
    } else if (c > 0x7f) {
      // Only reachable for callers other than parseRequestHead (targets are ASCII there).
      throw new HttpError(400, "BAD_TARGET", "non-ASCII character in path", { close: true });
    } else {
      bytes[n++] = c;
    }
  }
  try {
    return utf8Strict.decode(bytes.subarray(0, n));
  } catch {
    throw new HttpError(400, "BAD_PERCENT_ENCODING", "path is not valid UTF-8 once decoded", {
      close: true,
    });
  }
}
