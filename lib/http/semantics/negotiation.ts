/**
 * Content negotiation's shared grammar (RFC 9110 §12.4–§12.5): quality values and the
 * weighted lists of `Accept`, `Accept-Encoding` (and later `Accept-Language`), parsed once
 * here; each header's own rules (media-range specificity, coding aliases) sit on top.
 *
 * ```ts
 * import { acceptQuality, parseQValue, parseWeightedList } from "./negotiation.ts";
 * parseQValue("0.5"); // 0.5
 * parseWeightedList("gzip, br;q=0.9"); // [{ value: "gzip", q: 1 }, { value: "br", q: 0.9 }]
 * acceptQuality("*\/*;q=0.1, application/*;q=0.5", "application/json"); // 0.5
 * ```
 *
 * @module
 */

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (§12.4.2); else 0. */
export function parseQValue(text: string): number {
  return /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text) ? Number(text) : 0;
}

/** One element of a weighted list: its value (lower-case, parameters removed) and q. */
export interface WeightedElement {
  value: string;
  q: number;
}

/**
 * Splits `a, b;q=0.5, c;level=1` into elements in header order. Values are lower-cased and
 * trimmed; empty elements are skipped; a malformed q makes that element q=0 (not
 * acceptable) rather than inventing a preference; parameters other than q are dropped.
 */
export function parseWeightedList(header: string): WeightedElement[] {
  const out: WeightedElement[] = [];
  for (const element of header.split(",")) {
    const [rawValue, ...params] = element.split(";");
    const value = rawValue.trim().toLowerCase();
    if (value === "") continue;
    let q = 1;
    for (const param of params) {
      const eq = param.indexOf("=");
      const key = (eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase();
      if (key === "q") q = parseQValue(eq === -1 ? "" : param.slice(eq + 1).trim());
    }
    out.push({ value, q });
  }
  return out;
}

/** How a media type matched an Accept header: q, and how specific the range was (2/1/0, -1). */
export interface AcceptMatch {
  q: number;
  specificity: number;
}

/**
 * The most specific range of `accept` matching `mediaType` (lower-case `type/subtype`):
 * `type/subtype` (2) over `type/*` (1) over `*\/*` (0); no match → q 0, specificity -1.
 */
export function matchAccept(accept: string, mediaType: string): AcceptMatch {
  const [type] = mediaType.split("/");
  const match: AcceptMatch = { q: 0, specificity: -1 };
  for (const { value: range, q } of parseWeightedList(accept)) {
    const specificity = range === mediaType
      ? 2
      : range === `${type}/*`
      ? 1
      : range === "*/*"
      ? 0
      : -1;
    if (specificity <= match.specificity) continue;
    match.specificity = specificity;
    match.q = q;
  }
  return match;
}

/**
 * The q-value `accept` gives `mediaType`, from the most specific matching range (RFC 9110
 * §12.5.1). Media-range parameters other than q are ignored. No match → 0.
 */
export function acceptQuality(accept: string, mediaType: string): number {
  return matchAccept(accept, mediaType).q;
}
