/**
 * The daytime line (RFC 867): the current time as one human-readable line, in the format
 * `--format` names. Pure: the clock is an argument, so the formats are testable without
 * sockets.
 *
 * RFC 867 only asks for "the current date and time as a character string" and suggests ASCII
 * printable characters, space, CR and LF; the line ends with CRLF because that is what the
 * classic inetd built-in daytime service sends (BSD `inetd.c`, `daytime_stream` and
 * `daytime_dg`: `sprintf(buffer, "%.24s\r\n", ctime(&clock))`).
 *
 * ```ts
 * import { daytimeLine, formatTime } from "./format.ts";
 * const at = new Date(Date.UTC(2026, 10, 27, 11, 29, 53, 123));
 * formatTime(at, "iso"); // "2026-11-27T11:29:53Z"
 * formatTime(at, "rfc2822"); // "Fri, 27 Nov 2026 11:29:53 +0000"
 * formatTime(at, "unix"); // "1795778993"
 * console.log(daytimeLine(at, "unix").length); // 12: ten digits and CRLF
 * ```
 *
 * @module
 */

/** The values `--format` takes, the default first. */
export const TIME_FORMATS = ["iso", "rfc2822", "unix"] as const;

/**
 * How the time is written, always in UTC and to the second:
 * `iso` — ISO 8601 / RFC 3339, `2026-11-27T11:29:53Z`;
 * `rfc2822` — the e-mail date (RFC 2822 §3.3, as `date -R` prints it),
 * `Fri, 27 Nov 2026 11:29:53 +0000`;
 * `unix` — seconds since 1970-01-01T00:00:00Z, `1795778993`.
 */
export type TimeFormat = typeof TIME_FORMATS[number];

/** True when `value` names a {@link TimeFormat}. */
export function isTimeFormat(value: string): value is TimeFormat {
  return (TIME_FORMATS as readonly string[]).includes(value);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Pure: `at` written in `format`, without a line ending. */
export function formatTime(at: Date, format: TimeFormat): string {
  switch (format) {
    case "iso":
      return at.toISOString().replace(/\.\d{3}Z$/, "Z");
    case "rfc2822":
      return `${DAYS[at.getUTCDay()]}, ${pad2(at.getUTCDate())} ${MONTHS[at.getUTCMonth()]} ` +
        `${at.getUTCFullYear()} ${pad2(at.getUTCHours())}:${pad2(at.getUTCMinutes())}:` +
        `${pad2(at.getUTCSeconds())} +0000`;
    case "unix":
      return String(Math.floor(at.getTime() / 1000));
  }
}

const encoder = new TextEncoder();

/** Pure: the bytes a daytime server sends, {@link formatTime} plus CRLF. */
export function daytimeLine(at: Date, format: TimeFormat): Uint8Array {
  return encoder.encode(`${formatTime(at, format)}\r\n`);
}
