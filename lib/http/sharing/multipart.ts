/**
 * A streaming `multipart/form-data` parser (RFC 7578 over RFC 2046 §5.1) for the upload
 * form in `http-serve --upload` listings. Parts come one at a time, and a file part's
 * body is a stream of chunks: a multi-gigabyte upload never sits in memory.
 *
 * ```ts
 * import { multipartBoundary, parseMultipart } from "./multipart.ts";
 * declare const body: AsyncIterable<Uint8Array>;
 * const boundary = multipartBoundary("multipart/form-data; boundary=XyZ");
 * for await (const part of parseMultipart(body, boundary)) {
 *   if (part.filename === null) console.log(part.name);
 *   else for await (const chunk of part.body) console.log(chunk.length); // write it somewhere
 * }
 * ```
 *
 * Why hand-written rather than `busboy`: busboy is a push parser over Node streams (you
 * `write()` into it and it emits `file` events carrying Node Readables). Our bodies are
 * pulled from a `BufferedReader` over the socket, so busboy would need a Node-stream
 * bridge in each direction, its backpressure would have to be wired through events, and
 * its errors mapped from message text. Pulling instead gives backpressure by construction
 * (nothing is read from the socket until the consumer asks for the next chunk), typed
 * errors with a stable `code`, and named limits. The framing is small: it rides on
 * `lib/framing.ts`'s reader for the header lines, and the body is a scan for
 * `CRLF--boundary` that keeps the last `delimiter.length - 1` bytes of each buffer in
 * case a delimiter is split across reads. The tests split a body at every byte position.
 *
 * Field and file names are taken as browsers send them (WHATWG HTML "multipart/form-data
 * encoding": UTF-8, with `"` CR LF percent-encoded and backslash *not* an escape);
 * `filename*=UTF-8''…` (RFC 5987) wins over `filename` when both are present.
 *
 * @module
 */
import {
  BufferedReader,
  type ByteSource,
  LineTooLongError,
  stripLineEnding,
  UnexpectedEofError,
} from "../../framing.ts";

/** Longest boundary RFC 2046 §5.1.1 allows. */
export const MAX_BOUNDARY_LENGTH = 70;
/** Bytes of preamble accepted before the first boundary (browsers send none). */
export const MAX_MULTIPART_PREAMBLE_BYTES = 1024;
/** Bytes of header lines accepted per part (browsers send two short headers). */
export const MAX_PART_HEADER_BYTES = 8 * 1024;
/** Parts accepted in one body. */
export const MAX_MULTIPART_PARTS = 1000;
/** Default cap for {@link MultipartPart.text} (a form field, not a file). */
export const MAX_FIELD_BYTES = 64 * 1024;

/** Stable codes of {@link MultipartError}. */
export type MultipartErrorCode =
  | "BAD_CONTENT_TYPE"
  | "MALFORMED_BODY"
  | "TRUNCATED_BODY"
  | "PART_HEADER_TOO_LARGE"
  | "MALFORMED_PART_HEADER"
  | "TOO_MANY_PARTS"
  | "FIELD_TOO_LARGE";

/** A malformed or over-limit multipart body; the caller answers 400 with the message. */
export class MultipartError extends Error {
  /** HTTP status to answer with. */
  readonly status = 400;
  constructor(readonly code: MultipartErrorCode, message: string) {
    super(message);
    this.name = "MultipartError";
  }
}

/** Limits for {@link parseMultipart}; defaults are the exported constants. */
export interface MultipartLimits {
  maxPreambleBytes?: number;
  maxPartHeaderBytes?: number;
  maxParts?: number;
}

/** One part of a form. Read (or skip) its body before asking for the next part. */
export interface MultipartPart {
  /** The form field name, or null when the part has none. */
  name: string | null;
  /** The file name as sent, or null for a plain field. Sanitise before use! */
  filename: string | null;
  /** The part's Content-Type, or null. */
  contentType: string | null;
  /** All part headers, names lower-cased. */
  headers: Map<string, string>;
  /**
   * The part's bytes. Each chunk is a view valid only until the next chunk is requested:
   * write or copy it first. Unread bytes are skipped when the next part is requested.
   */
  body: AsyncIterable<Uint8Array>;
  /** The whole body as UTF-8 text; {@link MultipartError} FIELD_TOO_LARGE past `maxBytes`. */
  text(maxBytes?: number): Promise<string>;
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;

// RFC 2046 §5.1.1 bcharsnospace, plus space (not as the last character).
const BOUNDARY_PATTERN = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * The boundary of a `multipart/form-data` Content-Type, or {@link MultipartError}
 * BAD_CONTENT_TYPE when the type is different or the boundary missing or invalid.
 */
export function multipartBoundary(contentType: string | null | undefined): string {
  const value = contentType ?? "";
  const semi = value.indexOf(";");
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (type !== "multipart/form-data") {
    throw new MultipartError(
      "BAD_CONTENT_TYPE",
      `expected Content-Type multipart/form-data, got '${type || "none"}'`,
    );
  }
  const params = semi === -1 ? new Map<string, string>() : parseParameters(value.slice(semi));
  const boundary = params?.get("boundary");
  if (boundary === undefined || !BOUNDARY_PATTERN.test(boundary)) {
    throw new MultipartError("BAD_CONTENT_TYPE", "missing or invalid multipart boundary");
  }
  return boundary;
}

/**
 * Parses `; name=value; name="quoted value"` into a map (names lower-cased). Backslash
 * is not an escape (see the module comment). Null when the syntax is broken.
 */
export function parseParameters(text: string): Map<string, string> | null {
  const params = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && (text[i] === " " || text[i] === "\t")) i++;
  };
  for (;;) {
    skipSpace();
    if (i === n) return params;
    if (text[i] !== ";") return null;
    i++;
    skipSpace();
    if (i === n) return params; // a trailing ";" is harmless
    const eq = text.indexOf("=", i);
    if (eq === -1) return null;
    const name = text.slice(i, eq).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return null;
    i = eq + 1;
    skipSpace();
    let value: string;
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      if (close === -1) return null;
      value = text.slice(i + 1, close);
      i = close + 1;
    } else {
      const start = i;
      while (i < n && text[i] !== ";" && text[i] !== " " && text[i] !== "\t") i++;
      value = text.slice(start, i);
    }
    if (!params.has(name)) params.set(name, value);
  }
}

/** RFC 5987 ext-value `UTF-8''%e2%82%ac.txt` → text; null if not UTF-8 or malformed. */
function decodeExtValue(value: string): string | null {
  const m = /^utf-8'[^']*'(.*)$/i.exec(value);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** Adapts an async iterable of chunks (a ReadableStream, a request body) to a ByteSource. */
function byteSourceFromIterable(chunks: AsyncIterable<Uint8Array>): ByteSource {
  const iterator = chunks[Symbol.asyncIterator]();
  let pending: Uint8Array = new Uint8Array(0);
  return {
    async read(p: Uint8Array): Promise<number | null> {
      while (pending.length === 0) {
        const { value, done } = await iterator.next();
        if (done) return null;
        pending = value;
      }
      const n = Math.min(p.length, pending.length);
      p.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
  };
}

function isByteSource(source: unknown): source is ByteSource {
  return typeof (source as ByteSource).read === "function";
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(first); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && haystack[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

function truncated(): MultipartError {
  return new MultipartError("TRUNCATED_BODY", "multipart body ended before its closing boundary");
}

/** Reads one part's body up to (and consuming) the next delimiter. */
class PartBodyReader {
  #done = false;
  constructor(readonly reader: BufferedReader, readonly delimiter: Uint8Array) {}

  /** The next chunk (a view into the reader's buffer), or null at the end of the part. */
  async next(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    const reader = this.reader;
    const dlen = this.delimiter.length;
    for (;;) {
      const buffered = reader.peekBuffered();
      const at = indexOfBytes(buffered, this.delimiter);
      if (at > 0) return await reader.readExact(at);
      if (at === 0) {
        await reader.readExact(dlen);
        this.#done = true;
        return null;
      }
      // No delimiter: everything but a possible delimiter prefix at the end is content.
      const safe = buffered.length - (dlen - 1);
      if (safe > 0) return await reader.readExact(safe);
      if (!(await reader.fill(dlen))) throw truncated();
    }
  }

  async drain(): Promise<void> {
    while ((await this.next()) !== null) { /* skip */ }
  }
}

async function readHeaderLines(
  reader: BufferedReader,
  maxBytes: number,
): Promise<Map<string, string>> {
  const headers = new Map<string, string>();
  let budget = maxBytes;
  for (;;) {
    let line: Uint8Array | null;
    try {
      line = await reader.readLine({ maxBytes: budget });
    } catch (err) {
      if (err instanceof LineTooLongError) {
        throw new MultipartError(
          "PART_HEADER_TOO_LARGE",
          `multipart part headers exceed ${maxBytes} bytes`,
        );
      }
      if (err instanceof UnexpectedEofError) throw truncated();
      throw err;
    }
    if (line === null) throw truncated();
    budget -= line.length;
    const content = stripLineEnding(line);
    if (content.length === 0) return headers;
    if (budget <= 0) {
      throw new MultipartError(
        "PART_HEADER_TOO_LARGE",
        `multipart part headers exceed ${maxBytes} bytes`,
      );
    }
    let text: string;
    try {
      text = strictUtf8.decode(content);
    } catch {
      throw new MultipartError("MALFORMED_PART_HEADER", "multipart part header is not UTF-8");
    }
    const colon = text.indexOf(":");
    // Obsolete line folding (a line starting with whitespace) is rejected, as in HTTP.
    if (colon <= 0 || /^[ \t]/.test(text) || /[ \t]$/.test(text.slice(0, colon))) {
      throw new MultipartError("MALFORMED_PART_HEADER", "malformed multipart part header line");
    }
    const name = text.slice(0, colon).toLowerCase();
    if (!headers.has(name)) headers.set(name, text.slice(colon + 1).trim());
  }
}

function describePart(headers: Map<string, string>): {
  name: string | null;
  filename: string | null;
} {
  const disposition = headers.get("content-disposition");
  if (disposition === undefined) return { name: null, filename: null };
  const semi = disposition.indexOf(";");
  const type = (semi === -1 ? disposition : disposition.slice(0, semi)).trim().toLowerCase();
  const params = semi === -1 ? new Map<string, string>() : parseParameters(disposition.slice(semi));
  if (params === null || (type !== "form-data" && type !== "attachment")) {
    throw new MultipartError(
      "MALFORMED_PART_HEADER",
      "malformed Content-Disposition in multipart part",
    );
  }
  const extended = params.get("filename*");
  let filename = extended !== undefined ? decodeExtValue(extended) : null;
  if (extended !== undefined && filename === null) {
    throw new MultipartError("MALFORMED_PART_HEADER", "malformed filename* in multipart part");
  }
  filename ??= params.get("filename") ?? null;
  return { name: params.get("name") ?? null, filename };
}

/**
 * Parses a multipart body from `source` (a byte source limited to the request body, or
 * an async iterable of chunks). Yields each part once its headers are read; throws
 * {@link MultipartError} on malformed input or a breached limit.
 */
export async function* parseMultipart(
  source: ByteSource | AsyncIterable<Uint8Array>,
  boundary: string,
  limits: MultipartLimits = {},
): AsyncGenerator<MultipartPart, void, undefined> {
  const maxPreamble = limits.maxPreambleBytes ?? MAX_MULTIPART_PREAMBLE_BYTES;
  const maxHeaderBytes = limits.maxPartHeaderBytes ?? MAX_PART_HEADER_BYTES;
  const maxParts = limits.maxParts ?? MAX_MULTIPART_PARTS;
  const reader = new BufferedReader(isByteSource(source) ? source : byteSourceFromIterable(source));
  const dashBoundary = encoder.encode("--" + boundary);
  const delimiter = encoder.encode("\r\n--" + boundary);

  // RFC 2046 §5.1.1: an optional preamble, then the first dash-boundary.
  let first: Uint8Array | null;
  try {
    first = await reader.readUntil(dashBoundary, { maxBytes: maxPreamble + dashBoundary.length });
  } catch (err) {
    if (err instanceof LineTooLongError || err instanceof UnexpectedEofError) {
      throw new MultipartError("MALFORMED_BODY", "multipart body does not start with its boundary");
    }
    throw err;
  }
  if (first === null) throw new MultipartError("MALFORMED_BODY", "multipart body is empty");
  if (first.length > dashBoundary.length && first[first.length - dashBoundary.length - 1] !== LF) {
    throw new MultipartError("MALFORMED_BODY", "multipart boundary not at the start of a line");
  }

  let parts = 0;
  for (;;) {
    // After a boundary: "--" closes the body; else optional whitespace, then CRLF.
    let after: Uint8Array;
    try {
      after = await reader.readExact(2);
    } catch (err) {
      if (err instanceof UnexpectedEofError) throw truncated();
      throw err;
    }
    if (after[0] === DASH && after[1] === DASH) {
      // The epilogue is ignored (RFC 2046 §5.1.1); read it so the connection stays usable.
      while ((await reader.readChunk()) !== null) { /* discard */ }
      return;
    }
    if (!(after[0] === CR && after[1] === LF)) {
      // Transport padding (spaces/tabs) may sit between a boundary and its CRLF.
      const head = [after[0], after[1]]; // copied: `after` is only valid until the next read
      const rest = head[0] === 0x20 || head[0] === 0x09
        ? await reader.readLine({ maxBytes: 256 }).catch(() => null)
        : null;
      const line = rest === null ? head : [...head, ...rest];
      const valid = line.length >= 3 && line[line.length - 2] === CR &&
        line[line.length - 1] === LF &&
        line.slice(0, -2).every((b) => b === 0x20 || b === 0x09);
      if (!valid) throw new MultipartError("MALFORMED_BODY", "malformed multipart boundary line");
    }
    if (++parts > maxParts) {
      throw new MultipartError("TOO_MANY_PARTS", `more than ${maxParts} multipart parts`);
    }
    const headers = await readHeaderLines(reader, maxHeaderBytes);
    const { name, filename } = describePart(headers);
    const bodyReader = new PartBodyReader(reader, delimiter);
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const value = await bodyReader.next();
          return value === null ? { value: undefined, done: true } : { value, done: false };
        },
        // Breaking out of a for-await loop must not end the part: the parser skips the rest.
        return: () => Promise.resolve({ value: undefined, done: true }),
      }),
    };
    yield {
      name,
      filename,
      contentType: headers.get("content-type") ?? null,
      headers,
      body,
      async text(maxBytes = MAX_FIELD_BYTES) {
        const chunks: Uint8Array[] = [];
        let total = 0;
        for (let c = await bodyReader.next(); c !== null; c = await bodyReader.next()) {
          total += c.length;
          if (total > maxBytes) {
            throw new MultipartError(
              "FIELD_TOO_LARGE",
              `form field '${name}' is larger than ${maxBytes} bytes`,
            );
          }
          chunks.push(c.slice());
        }
        const all = new Uint8Array(total);
        let off = 0;
        for (const c of chunks) {
          all.set(c, off);
          off += c.length;
        }
        return new TextDecoder().decode(all);
      },
    };
    await bodyReader.drain();
  }
}
