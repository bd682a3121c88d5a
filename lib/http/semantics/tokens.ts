/**
 * The character rules of HTTP fields (RFC 9110 §5.5, §5.6.2), written once: `tchar` and
 * `token` (methods, field names), and the field-value check (no control characters). The
 * request parser, the request-line prefix check and `--header` all use these.
 *
 * ```ts
 * import { fieldValueProblem, isToken } from "./tokens.ts";
 * isToken("X-Frame-Options"); // true
 * isToken("bad name"); // false
 * fieldValueProblem("a\r\nSet-Cookie: x"); // "control"
 * ```
 *
 * @module
 */

// tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA. A lookup table beats a regex on the hot path.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;

/** True for a byte or char code that may appear in a token. */
export function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** True for a non-empty token (RFC 9110 §5.6.2). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * What is wrong with a field value (RFC 9110 §5.5), if anything: `control` for CTLs other
 * than HTAB (a CR or LF would inject fields), `non-ascii` for bytes above 0x7e (obs-text,
 * which sockit does not send), else null.
 */
export function fieldValueProblem(value: string): "control" | "non-ascii" | null {
  let problem: "non-ascii" | null = null;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return "control";
    if (c > 0x7e) problem = "non-ascii";
  }
  return problem;
}
