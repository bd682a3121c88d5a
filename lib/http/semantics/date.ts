/**
 * HTTP dates (RFC 9110 §5.6.7): the one formatter (`Date`, `Last-Modified`) and the parser
 * that accepts all three forms recipients must read.
 *
 * ```ts
 * import { formatHttpDate, parseHttpDate } from "./date.ts";
 * formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37)); // "Sun, 06 Nov 1994 08:49:37 GMT"
 * parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"); // 784111777000
 * ```
 *
 * @module
 */

/**
 * Formats a time as an IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`,
 * for `Last-Modified` and `Date`. Sub-second precision is dropped, as HTTP dates have none.
 */
export function formatHttpDate(time: number | Date): string {
  const ms = typeof time === "number" ? time : time.getTime();
  // ECMA-262 (since ES2018) fixes toUTCString() to exactly this format.
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const SHORT_DAYS = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAYS = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^${SHORT_DAYS}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete RFC 850 form) */
const RFC850_DATE = new RegExp(`^${LONG_DAYS}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994` (obsolete asctime form; day padded with a space) */
const ASCTIME_DATE = new RegExp(`^${SHORT_DAYS} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * Parses an HTTP-date in any of the three forms RFC 9110 §5.6.7 requires recipients to
 * accept: IMF-fixdate, RFC 850 and asctime. Names are case-sensitive, as in the grammar.
 * Returns milliseconds since the epoch, or null for anything else (including impossible
 * dates like Feb 30), so callers can ignore the header as §13.1.3/§13.1.4 require.
 *
 * `nowMs` resolves RFC 850's two-digit year: a year that would be more than 50 years in the
 * future means the most recent past year with those digits (§5.6.7).
 */
export function parseHttpDate(value: string, nowMs: number = Date.now()): number | null {
  const text = value.trim();
  let day: string, month: string, year: number, hh: string, mm: string, ss: string;
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(text))) {
    [, day, month, , hh, mm, ss] = m;
    year = Number(m[3]);
  } else if ((m = RFC850_DATE.exec(text))) {
    [, day, month, , hh, mm, ss] = m;
    const nowYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
  } else if ((m = ASCTIME_DATE.exec(text))) {
    [, month, day, hh, mm, ss] = m;
    year = Number(m[6]);
  } else {
    return null;
  }
  const monthIndex = MONTHS.indexOf(month.toLowerCase());
  const d = Number(day.trim()), h = Number(hh), min = Number(mm), s = Number(ss);
  // Days past the end of the month are rejected rather than rolled over (Feb 30 ≠ Mar 2).
  const daysInMonth = new Date(Date.UTC(2000, monthIndex + 1, 0)).getUTCDate();
  const isLeap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const lastDay = monthIndex === 1 && !isLeap ? 28 : daysInMonth;
  // §5.6.7 allows second 60 (a leap second); Date rolls it into the next minute.
  if (h > 23 || min > 59 || s > 60 || d < 1 || d > lastDay) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, d); // not Date.UTC: it maps years 0–99 to 1900–1999
  date.setUTCHours(h, min, s, 0);
  return date.getTime();
}

/** Value of the `Server` header both transports send. */
export const SERVER_NAME = "sockit";

let cachedSecond = -1;
let cachedDate = "";

/** The `Date` header value for now, formatted at most once per second. */
export function currentHttpDate(nowMs: number = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = formatHttpDate(second * 1000);
  }
  return cachedDate;
}
