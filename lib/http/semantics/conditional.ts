/**
 * Validators and conditional requests (RFC 9110 §8.8, §13), as pure functions: make an
 * ETag and a Last-Modified value from a file's size and mtime, parse HTTP dates, and decide
 * whether a request gets the file, `304 Not Modified` or `412 Precondition Failed`; also
 * whether `If-Range` lets a Range through, and the `Cache-Control` value for `--cache`.
 *
 * ```ts
 * import {
 *   cacheControlValue,
 *   evaluateConditionals,
 *   fileValidators,
 *   rangeAllowedByIfRange,
 * } from "./conditional.ts";
 * const request = new Headers({ "if-none-match": '"3e8-18d1e4b4800"' });
 * const validators = fileValidators({ size: 1000, mtimeMs: Date.UTC(2024, 0, 1) });
 * switch (evaluateConditionals("GET", request, validators)) {
 *   case "not-modified": // 304, no body; ETag, Last-Modified, Cache-Control, Vary as for 200
 *   case "precondition-failed": // 412
 *   case "proceed": // 200, or 206 if a Range is present and this allows it:
 *     rangeAllowedByIfRange("GET", request, validators);
 * }
 * console.log(cacheControlValue(undefined)); // "no-cache" by default
 * ```
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import { parseHttpDate } from "./date.ts";

/** Anything request headers can be looked up in: `Headers`, or a Map with lower-case names. */
export interface HeaderLookup {
  get(name: string): string | null | undefined;
}

/** What the server knows about the current representation of a file. */
export interface Validators {
  /** Entity tag with quotes (and `W/` if weak), or null when there is none. */
  etag: string | null;
  /** Modification time in milliseconds since the epoch, or null when unknown. */
  lastModifiedMs: number | null;
}

/** Inputs for {@link fileValidators}: `Deno.FileInfo`'s size and mtime. */
export interface FileStamp {
  size: number;
  /** `info.mtime?.getTime() ?? null`: some file systems report no mtime. */
  mtimeMs: number | null;
}

/**
 * The ETag of a file from its size and mtime: `"<mtime ms hex>-<size hex>"` (nginx's scheme,
 * with millisecond rather than second precision).
 *
 * Strong, not weak, by choice: `If-Range` needs strong comparison (RFC 9110 §13.1.5), so a
 * weak tag would make every resumed download or video seek after revalidation start over
 * with a full 200. The tag is as strong as the file system's mtime: a rewrite that keeps
 * both the size and the millisecond mtime would go unnoticed, which is the trade-off nginx
 * and Apache make too; hashing content would mean reading every file before answering.
 * Returns null without an mtime (an ETag of the size alone would be too weak to be useful).
 *
 * Pass `{ weak: true, suffix: "gzip" }` for a body gzipped on the fly: its bytes depend on the
 * compressor, so a strong tag would be a lie (§8.8.3), and it must differ from the
 * identity tag (§8.8.3.3).
 */
export function makeEtag(
  stamp: FileStamp,
  options: { weak?: boolean; suffix?: string } = {},
): string | null {
  if (stamp.mtimeMs === null || !Number.isFinite(stamp.mtimeMs)) return null;
  const tag = `${Math.floor(stamp.mtimeMs).toString(16)}-${stamp.size.toString(16)}${
    options.suffix ? `-${options.suffix}` : ""
  }`;
  return `${options.weak ? "W/" : ""}"${tag}"`;
}

/** Strong ETag and Last-Modified time of a file: what {@link evaluateConditionals} needs. */
export function fileValidators(stamp: FileStamp): Validators {
  return { etag: makeEtag(stamp), lastModifiedMs: stamp.mtimeMs };
}

/** One entity-tag from a list: its opaque part (with quotes) and whether it was weak. */
export interface EntityTag {
  weak: boolean;
  /** The quoted opaque-tag, e.g. `"abc"`. */
  opaque: string;
}

/**
 * Parses an `If-Match` / `If-None-Match` value: `*`, or a comma list of entity-tags
 * (`"a", W/"b"`, RFC 9110 §8.8.3). Returns `"*"`, the tags, or null when the value is not
 * valid syntax; callers then treat it as matching nothing (never a false 304, and a 412
 * for If-Match), the safe reading of a header we cannot understand.
 */
export function parseEntityTagList(value: string): "*" | EntityTag[] | null {
  const text = value.trim();
  if (text === "*") return "*";
  const tags: EntityTag[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === ",")) i++;
    if (i >= text.length) break;
    let weak = false;
    if (text.startsWith("W/", i)) {
      weak = true;
      i += 2;
    }
    if (text[i] !== '"') return null;
    const close = text.indexOf('"', i + 1);
    if (close === -1) return null;
    const opaque = text.slice(i, close + 1);
    // etagc = %x21 / %x23-7E / obs-text: no spaces, controls or quotes inside.
    if (!/^"[\x21\x23-\x7e\x80-\xff]*"$/.test(opaque)) return null;
    tags.push({ weak, opaque });
    i = close + 1;
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
    if (i < text.length && text[i] !== ",") return null;
  }
  return tags.length > 0 ? tags : null;
}

/** Splits `W/"x"` into its parts; null if it is not an entity-tag. */
function parseSingleEtag(etag: string): EntityTag | null {
  const list = parseEntityTagList(etag);
  return Array.isArray(list) && list.length === 1 ? list[0] : null;
}

/** Strong comparison (§8.8.3.2): both strong and the same opaque-tag. */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison (§8.8.3.2): the same opaque-tag, weak or not. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/** Result of {@link evaluateConditionals}. */
export type ConditionalOutcome = "proceed" | "not-modified" | "precondition-failed";

/** Methods for which a failed If-None-Match / If-Modified-Since means 304 (§13.1.2). */
function isGetOrHead(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/** Seconds since the epoch: HTTP dates have second resolution, file mtimes do not. */
function toSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * Evaluates the preconditions of a request for an existing file in the order of RFC 9110
 * §13.2.2:
 *
 * 1. `If-Match` present: false (no strong match, §13.1.1) → 412.
 * 2. else `If-Unmodified-Since` with a valid date: modified after it → 412 (§13.1.4).
 * 3. `If-None-Match` present: a weak match or `*` → 304 for GET/HEAD, 412 otherwise (§13.1.2).
 * 4. else `If-Modified-Since` with a valid date, GET/HEAD only: not modified → 304 (§13.1.3).
 * 5. → proceed (then {@link rangeAllowedByIfRange} decides between 206 and 200).
 *
 * Invalid dates are ignored, as the RFC requires; a validator the server lacks (no mtime)
 * makes the date conditions ignorable and the tag lists match nothing but `*`.
 */
export function evaluateConditionals(
  method: string,
  headers: HeaderLookup,
  validators: Validators,
): ConditionalOutcome {
  const current = validators.etag === null ? null : parseSingleEtag(validators.etag);
  const lastModified = validators.lastModifiedMs === null
    ? null
    : toSeconds(validators.lastModifiedMs);

  const ifMatch = headers.get("if-match");
  if (ifMatch !== null && ifMatch !== undefined) {
    const list = parseEntityTagList(ifMatch);
    const matched = list === "*" ||
      (list !== null && current !== null && list.some((tag) => strongMatch(tag, current)));
    if (!matched) return "precondition-failed";
  } else {
    const ifUnmodifiedSince = headers.get("if-unmodified-since");
    if (ifUnmodifiedSince && lastModified !== null) {
      const date = parseHttpDate(ifUnmodifiedSince);
      if (date !== null && lastModified > toSeconds(date)) return "precondition-failed";
    }
  }

  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null && ifNoneMatch !== undefined) {
    const list = parseEntityTagList(ifNoneMatch);
    const matched = list === "*" ||
      (list !== null && current !== null && list.some((tag) => weakMatch(tag, current)));
    if (matched) return isGetOrHead(method) ? "not-modified" : "precondition-failed";
  } else if (isGetOrHead(method)) {
    const ifModifiedSince = headers.get("if-modified-since");
    if (ifModifiedSince && lastModified !== null) {
      const date = parseHttpDate(ifModifiedSince);
      if (date !== null && lastModified <= toSeconds(date)) return "not-modified";
    }
  }
  return "proceed";
}

/**
 * Whether a `Range` header may be honoured given `If-Range` (RFC 9110 §13.1.5); call after
 * {@link evaluateConditionals} said "proceed". False means: ignore Range, send 200 in full.
 *
 * Without If-Range (or without Range, or for a method other than GET) it is true. An
 * entity-tag must match the current ETag by strong comparison (a weak tag never does); an
 * HTTP-date must equal the Last-Modified second exactly. Anything else, including an
 * unparsable value, is false: the client then gets the whole current file rather than a
 * piece of a different version.
 */
export function rangeAllowedByIfRange(
  method: string,
  headers: HeaderLookup,
  validators: Validators,
): boolean {
  const ifRange = headers.get("if-range");
  if (ifRange === null || ifRange === undefined) return true;
  const range = headers.get("range");
  if (method !== "GET" || range === null || range === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) {
    const given = parseSingleEtag(value);
    const current = validators.etag === null ? null : parseSingleEtag(validators.etag);
    return given !== null && current !== null && strongMatch(given, current);
  }
  const date = parseHttpDate(value);
  return date !== null && validators.lastModifiedMs !== null &&
    toSeconds(date) === toSeconds(validators.lastModifiedMs);
}

/** Largest max-age sent; RFC 9111 §1.2.2 says caches treat anything larger as this. */
export const MAX_CACHE_SECONDS = 2_147_483_648;

/**
 * The `Cache-Control` value for `--cache SECONDS`: `public, max-age=N` for N ≥ 1, and
 * `no-cache` when the flag is absent or 0. `no-cache` lets browsers store files but makes
 * them revalidate each use (a cheap 304 thanks to ETag/Last-Modified), so edits show up on
 * reload: the right default for a server people run on a folder they are editing.
 */
export function cacheControlValue(seconds: number | undefined): string {
  if (seconds === undefined || seconds <= 0) return "no-cache";
  return `public, max-age=${Math.min(Math.floor(seconds), MAX_CACHE_SECONDS)}`;
}

/** Parses `--cache SECONDS`: a whole number of seconds ≥ 0 (max-age has no fractions). */
export function parseCacheSeconds(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new ConfigError(
      `invalid --cache '${value}': expected whole seconds ≥ 0, e.g. --cache 3600`,
    );
  }
  return Math.min(Number(value), MAX_CACHE_SECONDS);
}
