/**
 * Decides, without I/O, how to answer a GET/HEAD for one file representation: 200, 206
 * (one range or multipart/byteranges), 304, 412 or 416, with the representation headers
 * that go with it (ETag, Last-Modified, Cache-Control, Vary, Accept-Ranges,
 * Content-Encoding, Content-Range). It strings together `conditional.ts` and `range.ts` in
 * the order RFC 9110 §13.2.2 prescribes, so the file handler only stats, plans and writes.
 *
 * ```ts
 * import { planFileResponse } from "./file_plan.ts";
 * // After content negotiation picked the bytes to send (the file, file.br or file.gz)
 * // and stat'ed them:
 * const plan = planFileResponse("GET", new Map([["range", "bytes=0-99"]]), {
 *   size: 1000,
 *   mtimeMs: Date.UTC(2026, 0, 1),
 *   contentType: "text/plain; charset=utf-8",
 *   encoding: "identity",
 * }, { cacheSeconds: 60 });
 * switch (plan.body.kind) {
 *   case "none": // 304 (no body) or 412/416 (short text body: plan.message)
 *   case "whole": // { file, length: plan.body.length }
 *   case "range": // { file, offset: plan.body.start, length: plan.body.end - start + 1 }
 *   case "multipart": // { stream: multipartByterangesChunks(path, plan.body.plan), length }
 * }
 * console.log(plan.status); // 206
 * ```
 *
 * @module
 */
import {
  cacheControlValue,
  evaluateConditionals,
  type HeaderLookup,
  makeEtag,
  rangeAllowedByIfRange,
} from "../semantics/conditional.ts";
import { formatHttpDate } from "../semantics/date.ts";
import {
  contentRange,
  type MultipartPlan,
  parseRange,
  planMultipartByteranges,
  unsatisfiedContentRange,
} from "../semantics/range.ts";

/** The bytes chosen for a response, as stat'ed. */
export interface FileRepresentation {
  /** Size of the bytes on disk (of the sibling for `.br`/`.gz`; of the original on the fly). */
  size: number;
  /** Their mtime in ms, or null when the file system has none. */
  mtimeMs: number | null;
  /** Content-Type of the original file (a `.gz` sibling keeps `text/css`, RFC 9110 §8.4). */
  contentType: string;
  /** Content-Encoding of the bytes sent. */
  encoding: "identity" | "br" | "zstd" | "gzip";
}

/** Options for {@link planFileResponse}. */
export interface FilePlanOptions {
  /** `--cache SECONDS` (see `cacheControlValue`); absent → `no-cache`. */
  cacheSeconds?: number;
  /**
   * Send `Vary: Accept-Encoding` (default true): whenever compression is possible at all
   * the answer depends on that header, and a shared cache must not hand gzip to a client
   * that did not ask for it.
   */
  varyAcceptEncoding?: boolean;
  /** Current time, for clamping a Last-Modified in the future (§8.8.2.1). */
  nowMs?: number;
  /** Fixed multipart boundary (tests). */
  boundary?: string;
}

/** What to send as the body. */
export type FileBodyPlan =
  /** No file bytes: 304 (no body at all) or 412/416 (caller sends `message` as text). */
  | { kind: "none" }
  /** The whole representation; `length` null when compressed on the fly (chunked). */
  | { kind: "whole"; length: number }
  /** One range, `start`..`end` inclusive. */
  | { kind: "range"; start: number; end: number }
  /** Several ranges as multipart/byteranges. */
  | { kind: "multipart"; plan: MultipartPlan };

/** The decision: status, representation headers, and the body to send. */
export interface FileResponsePlan {
  status: 200 | 206 | 304 | 412 | 416;
  /** Representation headers; the caller adds its own (nosniff, CORS, --header). */
  headers: [string, string][];
  body: FileBodyPlan;
  /** For 412/416: a short reason for the text body. */
  message?: string;
}

/**
 * Plans the answer to `method` (GET or HEAD) for `rep`, given the request headers:
 *
 * 1. validators: a strong ETag from size+mtime (suffixed with the coding for `.br`/`.gz`
 *    siblings), Last-Modified;
 * 2. preconditions (§13.2.2): 412, or 304 carrying ETag, Cache-Control and Vary (§15.4.5);
 * 3. Range (GET only, §14.2), unless If-Range says the client's copy is stale: 206 with
 *    Content-Range, multipart/byteranges for several ranges (of identity bytes only), or
 *    416 with `bytes *\/SIZE`; an invalid or too long Range is ignored;
 * 4. otherwise 200 with the whole representation.
 */
export function planFileResponse(
  method: string,
  requestHeaders: HeaderLookup,
  rep: FileRepresentation,
  options: FilePlanOptions = {},
): FileResponsePlan {
  const stamp = { size: rep.size, mtimeMs: rep.mtimeMs };
  const etag = makeEtag(stamp, { suffix: rep.encoding === "identity" ? undefined : rep.encoding });
  const validators = { etag, lastModifiedMs: rep.mtimeMs };

  // §8.8.2.1: never claim a modification later than the response itself.
  const now = options.nowMs ?? Date.now();
  const lastModified = rep.mtimeMs === null ? null : formatHttpDate(Math.min(rep.mtimeMs, now));
  const cacheControl = cacheControlValue(options.cacheSeconds);
  const vary = options.varyAcceptEncoding ?? true;

  const validatorHeaders: [string, string][] = [];
  if (etag !== null) validatorHeaders.push(["ETag", etag]);

  const outcome = evaluateConditionals(method, requestHeaders, validators);
  if (outcome === "precondition-failed") {
    return { status: 412, headers: [], body: { kind: "none" }, message: "precondition failed" };
  }
  if (outcome === "not-modified") {
    // §15.4.5: the fields a 200 would carry that guide cache updates, no other metadata.
    // (Last-Modified would only help without an ETag, and both come from the same mtime.)
    const headers = [...validatorHeaders];
    headers.push(["Cache-Control", cacheControl]);
    if (vary) headers.push(["Vary", "Accept-Encoding"]);
    return { status: 304, headers, body: { kind: "none" } };
  }

  const headers: [string, string][] = [];
  const common = (): [string, string][] => {
    const list = [...validatorHeaders];
    if (lastModified !== null) list.push(["Last-Modified", lastModified]);
    list.push(["Cache-Control", cacheControl]);
    list.push(["Accept-Ranges", "bytes"]);
    if (vary) list.push(["Vary", "Accept-Encoding"]);
    return list;
  };
  const encodingHeader: [string, string][] = rep.encoding === "identity"
    ? []
    : [["Content-Encoding", rep.encoding]];

  const rangeHeader = requestHeaders.get("range");
  const rangeApplies = method === "GET" && rangeHeader !== null &&
    rangeHeader !== undefined && rangeAllowedByIfRange(method, requestHeaders, validators);
  if (rangeApplies) {
    const result = parseRange(rangeHeader, rep.size);
    if (result.kind === "unsatisfiable") {
      headers.push(["Content-Range", unsatisfiedContentRange(rep.size)], ...common());
      return {
        status: 416,
        headers,
        body: { kind: "none" },
        message: `range not satisfiable for ${rep.size} bytes`,
      };
    }
    if (result.kind === "ranges" && result.ranges.length === 1) {
      const { start, end } = result.ranges[0];
      headers.push(
        ["Content-Type", rep.contentType],
        ...encodingHeader,
        ["Content-Range", contentRange(start, end, rep.size)],
        ...common(),
      );
      return { status: 206, headers, body: { kind: "range", start, end } };
    }
    // Several ranges of a .br/.gz sibling: a top-level Content-Encoding would claim the
    // multipart body itself is compressed, so the Range is ignored (§14.2 allows it).
    if (result.kind === "ranges" && rep.encoding === "identity") {
      const plan = planMultipartByteranges(result.ranges, rep.size, {
        contentType: rep.contentType,
        boundary: options.boundary,
      });
      headers.push(["Content-Type", plan.contentType], ...common());
      return { status: 206, headers, body: { kind: "multipart", plan } };
    }
  }

  headers.push(["Content-Type", rep.contentType], ...encodingHeader, ...common());
  return { status: 200, headers, body: { kind: "whole", length: rep.size } };
}
