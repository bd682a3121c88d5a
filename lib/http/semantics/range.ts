/**
 * Byte-range requests (RFC 9110 §14), as pure functions: parse a `Range` header against a
 * file size, format `Content-Range`, and plan a `multipart/byteranges` body that can be
 * streamed part by part straight from the file without buffering it. One streaming helper,
 * {@link multipartByterangesChunks}, sits apart at the end: it reads the file for a plan.
 *
 * ```ts
 * import {
 *   contentRange,
 *   parseRange,
 *   planMultipartByteranges,
 *   unsatisfiedContentRange,
 * } from "./range.ts";
 * const size = 10_000;
 * const headers = new Map<string, string>();
 * const result = parseRange("bytes=0-99,200-299", size);
 * switch (result.kind) {
 *   case "full": // no usable Range: 200 with the whole file
 *     break;
 *   case "unsatisfiable": // 416 with `Content-Range: bytes *\/SIZE`
 *     headers.set("content-range", unsatisfiedContentRange(size));
 *     break;
 *   case "ranges":
 *     if (result.ranges.length === 1) {
 *       const { start, end } = result.ranges[0]; // 206, exact bytes start..end inclusive
 *       headers.set("content-range", contentRange(start, end, size));
 *     } else {
 *       const plan = planMultipartByteranges(result.ranges, size, { contentType: "text/plain" });
 *       // 206, Content-Type: plan.contentType, Content-Length: plan.contentLength; for each
 *       // part: part.head, then bytes part.start..part.end; then plan.tail
 *       // (multipartByterangesChunks(path, plan) does exactly that).
 *       console.log(plan.contentLength);
 *     }
 * }
 * ```
 *
 * @module
 */

/**
 * Most range-specs one `Range` header may hold before the header is ignored (200, whole
 * file). RFC 9110 §14.2 lets a server ignore a range set with many small or overlapping
 * ranges; §17.15 names the denial-of-service risk. Apache's default `MaxRanges` is 200;
 * real clients (browsers, download managers, PDF viewers) send a handful, so 32 is ample.
 */
export const MAX_RANGES = 32;

/** One satisfiable byte range; `start` and `end` are inclusive offsets, as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Why a `Range` header was not used, for logging. */
export type RangeIgnoredReason =
  /** No Range header in the request. */
  | "absent"
  /** Not `bytes=…` (RFC 9110 §14.2: ignore a range unit we do not understand). */
  | "unit"
  /** Bad syntax, e.g. `bytes=5-2` or `bytes=x` (§14.2: MAY ignore an invalid ranges-specifier). */
  | "invalid"
  /** More than {@link MAX_RANGES} range-specs (§14.2, §17.15). */
  | "too-many"
  /**
   * The file is empty and a suffix range asked for its last bytes: satisfiable per §14.1.1, but
   * an empty 206 cannot be expressed in Content-Range, so the whole (empty) file is sent.
   */
  | "empty";

/** What to do with a request's `Range` header. */
export type RangeResult =
  /** Send the whole representation with 200, as if there were no Range header. */
  | { kind: "full"; reason: RangeIgnoredReason }
  /** 416 with `Content-Range: bytes *\/SIZE` (see {@link unsatisfiedContentRange}). */
  | { kind: "unsatisfiable" }
  /** 206: one range → single part; several → multipart/byteranges. Never empty. */
  | { kind: "ranges"; ranges: ByteRange[] };

/** A parsed range-spec before it is resolved against the size (decimal digit strings). */
type RangeSpec =
  | { first: string; last: string | null }
  | { suffix: string };

const DIGITS = /^[0-9]+$/;

/**
 * Parses `Range: bytes=…` against a representation of `size` bytes (RFC 9110 §14.1.2, §14.2).
 *
 * Forms: `bytes=0-499`, `bytes=500-` (to the end), `bytes=-500` (the last 500 bytes), and
 * comma-separated lists of them with optional whitespace (and empty list elements, §5.6.1).
 * The unit is case-insensitive. A last-pos past the end is clamped; a range starting at or
 * past the end is dropped as unsatisfiable; if nothing satisfiable remains the result is
 * `unsatisfiable`. Overlapping or adjacent ranges are coalesced into ascending order, as
 * §14.6 allows; otherwise the client's order is kept.
 */
export function parseRange(header: string | null | undefined, size: number): RangeResult {
  if (header === null || header === undefined) return { kind: "full", reason: "absent" };
  const eq = header.indexOf("=");
  if (eq === -1) return { kind: "full", reason: "invalid" };
  const unit = header.slice(0, eq).trim();
  if (unit.toLowerCase() !== "bytes") {
    return {
      kind: "full",
      reason: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(unit) ? "unit" : "invalid",
    };
  }

  const specs: RangeSpec[] = [];
  for (const element of header.slice(eq + 1).split(",")) {
    const item = element.replace(/^[ \t]+|[ \t]+$/g, "");
    if (item === "") continue; // §5.6.1: recipients accept empty list elements
    const spec = parseRangeSpec(item);
    if (spec === null) return { kind: "full", reason: "invalid" };
    specs.push(spec);
    if (specs.length > MAX_RANGES) return { kind: "full", reason: "too-many" };
  }
  if (specs.length === 0) return { kind: "full", reason: "invalid" };

  const ranges: ByteRange[] = [];
  let emptySuffix = false;
  for (const spec of specs) {
    if ("suffix" in spec) {
      const length = toClampedNumber(spec.suffix);
      if (length === 0) continue; // "-0" selects nothing: unsatisfiable (§14.1.1)
      if (size === 0) {
        emptySuffix = true;
        continue;
      }
      ranges.push({ start: Math.max(0, size - length), end: size - 1 });
    } else {
      const first = toClampedNumber(spec.first);
      if (first >= size) continue; // starts past the end: unsatisfiable
      const last = spec.last === null ? size - 1 : Math.min(toClampedNumber(spec.last), size - 1);
      ranges.push({ start: first, end: last });
    }
  }
  if (ranges.length === 0) {
    return emptySuffix ? { kind: "full", reason: "empty" } : { kind: "unsatisfiable" };
  }
  return { kind: "ranges", ranges: coalesceRanges(ranges) };
}

/** Parses one range-spec (`a-b`, `a-`, `-n`); null if it is not valid syntax. */
function parseRangeSpec(item: string): RangeSpec | null {
  const dash = item.indexOf("-");
  if (dash === -1) return null;
  const first = item.slice(0, dash);
  const last = item.slice(dash + 1);
  if (first === "") return DIGITS.test(last) ? { suffix: last } : null;
  if (!DIGITS.test(first)) return null;
  if (last === "") return { first, last: null };
  if (!DIGITS.test(last)) return null;
  // §14.1.1: an int-range with last-pos < first-pos is invalid. BigInt keeps the comparison
  // exact for digit strings beyond 2^53.
  if (BigInt(first) > BigInt(last)) return null;
  return { first, last };
}

/** A decimal digit string as a number, saturating at MAX_SAFE_INTEGER (larger than any file). */
function toClampedNumber(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}

/**
 * Merges overlapping or adjacent ranges. If none touch, the client's order is kept (§14.6:
 * a server SHOULD send parts in the order requested unless it coalesces).
 */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  if (ranges.length < 2) return ranges.map((r) => ({ ...r }));
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: ByteRange[] = [{ ...sorted[0] }];
  for (let i = 1; i < sorted.length; i++) {
    const previous = merged[merged.length - 1];
    const next = sorted[i];
    if (next.start <= previous.end + 1) previous.end = Math.max(previous.end, next.end);
    else merged.push({ ...next });
  }
  return merged.length === ranges.length ? ranges.map((r) => ({ ...r })) : merged;
}

/** `Content-Range` of a 206 part: `bytes START-END/SIZE` (RFC 9110 §14.4). */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** `Content-Range` of a 416 answer: `bytes *\/SIZE` (RFC 9110 §14.4, §15.5.17). */
export function unsatisfiedContentRange(size: number): string {
  return `bytes */${size}`;
}

/** One part of a multipart/byteranges body: its head bytes, then file bytes start..end. */
export interface MultipartPart {
  /** Delimiter and part headers, ready to write. */
  head: Uint8Array;
  /** First byte offset (inclusive). */
  start: number;
  /** Last byte offset (inclusive). */
  end: number;
}

/** Everything needed to stream a multipart/byteranges body with an exact Content-Length. */
export interface MultipartPlan {
  boundary: string;
  /** The response's Content-Type: `multipart/byteranges; boundary=…`. */
  contentType: string;
  parts: MultipartPart[];
  /** The closing delimiter, written after the last part's bytes. */
  tail: Uint8Array;
  /** Exact length of the whole body: heads + ranges + tail. */
  contentLength: number;
}

/** Options for {@link planMultipartByteranges}. */
export interface MultipartOptions {
  /** Content-Type of the file, repeated in each part; omitted from parts when absent. */
  contentType?: string;
  /** Boundary to use; default: {@link makeBoundary}. Tests pass a fixed one. */
  boundary?: string;
}

/**
 * A random multipart boundary: 24 hex digits from the CSPRNG, so file content cannot
 * predict (and collide with) it.
 */
export function makeBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const encoder = new TextEncoder();

/**
 * Plans a `multipart/byteranges` body (RFC 9110 §14.6, RFC 2046 §5.1.1) for `ranges` of a
 * file of `size` bytes. The layout follows Go's mime/multipart: the first delimiter starts
 * the body, each later one is preceded by the CRLF that ends the previous part's data:
 *
 * ```text
 * --B\r\nContent-Type: T\r\nContent-Range: bytes 0-4/100\r\n\r\n<bytes 0..4>
 * \r\n--B\r\nContent-Type: T\r\nContent-Range: bytes 50-59/100\r\n\r\n<bytes 50..59>
 * \r\n--B--\r\n
 * ```
 */
export function planMultipartByteranges(
  ranges: readonly ByteRange[],
  size: number,
  options: MultipartOptions = {},
): MultipartPlan {
  const boundary = options.boundary ?? makeBoundary();
  const typeLine = options.contentType ? `Content-Type: ${options.contentType}\r\n` : "";
  let contentLength = 0;
  const parts = ranges.map(({ start, end }, i) => {
    const head = encoder.encode(
      `${i === 0 ? "" : "\r\n"}--${boundary}\r\n${typeLine}Content-Range: ${
        contentRange(start, end, size)
      }\r\n\r\n`,
    );
    contentLength += head.length + (end - start + 1);
    return { head, start, end };
  });
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  contentLength += tail.length;
  return {
    boundary,
    contentType: `multipart/byteranges; boundary=${boundary}`,
    parts,
    tail,
    contentLength,
  };
}

/**
 * The whole multipart/byteranges body for a file already in memory (a cached small file):
 * one buffer of exactly `plan.contentLength` bytes, so it goes out with its head in one
 * write. For files on disk use {@link multipartByterangesChunks}.
 */
export function multipartByterangesBody(file: Uint8Array, plan: MultipartPlan): Uint8Array {
  const body = new Uint8Array(plan.contentLength);
  let offset = 0;
  for (const part of plan.parts) {
    body.set(part.head, offset);
    offset += part.head.length;
    body.set(file.subarray(part.start, part.end + 1), offset);
    offset += part.end - part.start + 1;
  }
  body.set(plan.tail, offset);
  return body;
}

// --- Streaming (the one helper here that touches a file) -------------------------------

/** Bytes read per step while streaming a multipart/byteranges body. */
export const MULTIPART_READ_CHUNK_BYTES = 64 * 1024;

/**
 * The body of a multipart/byteranges response as chunks: each part's head, then its bytes
 * read from `path`, then the closing delimiter — exactly `plan.contentLength` bytes, with at
 * most {@link MULTIPART_READ_CHUNK_BYTES} in memory. The file is opened on the first pull
 * and closed when the generator finishes, fails or is abandoned (`return()` on a client
 * that went away), so a HEAD response that never iterates it opens nothing. A file that
 * shrank since it was planned ends the stream with an error rather than short data.
 *
 * ```ts
 * import { multipartByterangesChunks, planMultipartByteranges } from "./range.ts";
 * const plan = planMultipartByteranges([{ start: 0, end: 9 }, { start: 20, end: 29 }], 100);
 * const body = { stream: multipartByterangesChunks("./file.bin", plan), length: plan.contentLength };
 * console.log(body.length); // the HttpResponse body of a 206
 * ```
 */
export async function* multipartByterangesChunks(
  path: string | URL,
  plan: MultipartPlan,
): AsyncGenerator<Uint8Array, void, undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    for (const part of plan.parts) {
      yield part.head;
      await file.seek(part.start, Deno.SeekMode.Start);
      let left = part.end - part.start + 1;
      while (left > 0) {
        // A fresh buffer per chunk: the consumer may hold on to what it was given.
        const buf = new Uint8Array(Math.min(left, MULTIPART_READ_CHUNK_BYTES));
        const n = await file.read(buf);
        if (n === null) {
          throw new Error(`file shrank while serving bytes ${part.start}-${part.end}`);
        }
        left -= n;
        yield buf.subarray(0, n);
      }
    }
    yield plan.tail;
  } finally {
    file.close();
  }
}
