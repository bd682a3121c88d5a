/**
 * `--compress` (and `--gzip`): compresses any finished response whose body is worth it —
 * files, listings, JSON, tar downloads — with brotli, zstd or gzip (`node:zlib`), picked by
 * the client's `Accept-Encoding` q-values. A middleware over the response, as pillarjs'
 * `compression`: the handlers never know. Precompressed `.br/.zst/.gz` siblings win because
 * the file handler sends them with a `Content-Encoding`, which this leaves alone.
 *
 * ```ts
 * import { parseCompressSpec, withCompression } from "./compression.ts";
 * import { compose, type Handler } from "../handler.ts";
 * const page: Handler = () => ({
 *   status: 200,
 *   headers: [["Content-Type", "text/html; charset=utf-8"], ["ETag", '"1-2"']],
 *   body: "<p>hello</p>".repeat(200),
 * });
 * const handler = compose([withCompression(parseCompressSpec("br=4,gzip"))], page);
 * // Accept-Encoding: br → Content-Encoding: br, ETag: W/"1-2-br", Vary: Accept-Encoding
 * console.log(typeof handler);
 * ```
 *
 * What is compressed: a GET/HEAD answered 200 with no Content-Encoding or Content-Range
 * yet, a compressible Content-Type ({@link isCompressibleType}; never `text/event-stream`,
 * whose events must not wait in a compressor), no `Cache-Control: no-transform`, and a
 * body of at least `minBytes` (a stream of unknown length always qualifies). Small bodies
 * in memory are compressed at once and keep a Content-Length (and a cached file's
 * compressed bytes are remembered with its bytes); files and big bodies stream through a
 * zlib stream chunk by chunk, awaiting the socket, so memory stays bounded.
 *
 * Validators (RFC 9110 §8.8.3): the compressed bytes depend on the compressor, so a
 * strong `"tag"` becomes `W/"tag-br"` (one per coding, never equal to the identity tag).
 * A revalidation with that tag is rewritten for the inner handler to its identity tag,
 * and a 304 answer gets the per-coding tag back, so caches revalidate without a body.
 *
 * Place it inside anything that rewrites bodies (it must see the final bytes) and outside
 * the handlers whose bodies it compresses.
 *
 * @module
 */
import type { Transform } from "node:stream";
import { ConfigError } from "../../errors.ts";
import type { FileBody, HeaderList, HttpResponse, Middleware, RequestHead } from "../handler.ts";
import { parseEntityTagList } from "../semantics/conditional.ts";
import { acceptableCodings, isCompressibleType, MIN_GZIP_BYTES } from "../semantics/encoding.ts";

/**
 * `node:zlib` and `node:stream`, loaded by the first response that gets compressed: they
 * bring in Node compatibility code that cost ~20 ms and ~10 MiB at start-up when imported
 * statically, even by servers run without `--compress`.
 */
let zlib: typeof import("node:zlib");
let readableFrom: (typeof import("node:stream"))["Readable"]["from"];
let loadingModules: Promise<void> | undefined;

/** Loads what compressing needs (once); every compressing path awaits it first. */
export function loadCompressionModules(): Promise<void> {
  loadingModules ??= Promise.all([import("node:zlib"), import("node:stream")]).then(
    ([zlibModule, streamModule]) => {
      zlib = zlibModule;
      readableFrom = streamModule.Readable.from.bind(streamModule.Readable);
    },
  );
  return loadingModules;
}

/** A coding this middleware produces. */
export type CompressionCoding = "br" | "zstd" | "gzip";

/** Default levels, chosen for speed per byte saved (see docs/http.md, measured in bench). */
export const DEFAULT_COMPRESSION_LEVELS: Readonly<Record<CompressionCoding, number>> = {
  br: 4, // brotli 4 ≈ gzip 9's size at gzip 6's CPU; 11 is ~50× slower
  zstd: 3, // zstd's own default
  gzip: 6, // zlib's own default
};

/** Valid levels per coding (inclusive). */
export const COMPRESSION_LEVEL_RANGE: Readonly<Record<CompressionCoding, [number, number]>> = {
  br: [0, 11],
  zstd: [1, 19],
  gzip: [1, 9],
};

/** Smallest body compressed by default; see {@link MIN_GZIP_BYTES} for why. */
export const MIN_COMPRESS_BYTES = MIN_GZIP_BYTES;

/**
 * Bodies in memory up to this size are compressed synchronously (well under a millisecond
 * at the default levels) and sent with a Content-Length; bigger ones stream.
 */
export const SYNC_COMPRESS_MAX_BYTES = 64 * 1024;

/** Bytes read from a file per step when compressing it. */
const FILE_READ_CHUNK_BYTES = 64 * 1024;

/** What `--compress` resolved to; cloneable, so `--workers` receive it with the config. */
export interface CompressionSettings {
  /** Enabled codings and their levels. */
  levels: Partial<Record<CompressionCoding, number>>;
  /** Smallest body compressed (bytes). */
  minBytes: number;
}

const CODINGS: readonly CompressionCoding[] = ["br", "zstd", "gzip"];

/**
 * Parses `--compress` values: empty or `on` → all three at default levels; `off` → null;
 * else a comma list of `CODING` or `CODING=LEVEL` (`br=5,gzip`), only those codings.
 * Throws a one-line {@link ConfigError} for an unknown coding or a level out of range.
 */
export function parseCompressSpec(
  spec: string | true,
  minBytes: number = MIN_COMPRESS_BYTES,
): CompressionSettings {
  const text = spec === true ? "" : spec.trim().toLowerCase();
  if (text === "" || text === "on") return { levels: { ...DEFAULT_COMPRESSION_LEVELS }, minBytes };
  const levels: Partial<Record<CompressionCoding, number>> = {};
  for (const item of text.split(",")) {
    const [name, level] = item.split("=").map((s) => s.trim());
    const coding = CODINGS.find((c) => c === name);
    if (coding === undefined) {
      // `--compress ./site` takes the folder as its value: say how to write it.
      const hint = /[/.]/.test(name) ? "; put DIR first or write --compress=on" : "";
      throw new ConfigError(
        `invalid --compress '${spec}': '${name}' is not br, zstd or gzip (e.g. --compress br=5,gzip)${hint}`,
      );
    }
    const [min, max] = COMPRESSION_LEVEL_RANGE[coding];
    const value = level === undefined ? DEFAULT_COMPRESSION_LEVELS[coding] : Number(level);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(
        `invalid --compress '${spec}': ${coding} level must be ${min}..${max}`,
      );
    }
    levels[coding] = value;
  }
  return { levels, minBytes };
}

/** A zlib compressor for `coding` at `level` (after {@link loadCompressionModules}). */
export function createCompressor(coding: CompressionCoding, level: number): Transform {
  switch (coding) {
    case "br":
      return zlib.createBrotliCompress({
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level },
      });
    case "zstd":
      // deno-lint-ignore no-explicit-any
      return (zlib as any).createZstdCompress({
        // deno-lint-ignore no-explicit-any
        params: { [(zlib.constants as any).ZSTD_c_compressionLevel]: level },
      });
    case "gzip":
      return zlib.createGzip({ level });
  }
}

/** Compresses `bytes` at once, for small bodies (after {@link loadCompressionModules}). */
export function compressSync(
  coding: CompressionCoding,
  level: number,
  bytes: Uint8Array,
): Uint8Array {
  switch (coding) {
    case "br":
      return zlib.brotliCompressSync(bytes, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level },
      });
    case "zstd":
      // deno-lint-ignore no-explicit-any
      return (zlib as any).zstdCompressSync(bytes, {
        // deno-lint-ignore no-explicit-any
        params: { [(zlib.constants as any).ZSTD_c_compressionLevel]: level },
      });
    case "gzip":
      return zlib.gzipSync(bytes, { level });
  }
}

/**
 * `source` compressed as it flows: zlib pulls the next chunk only when its output has
 * been taken (backpressure through `Readable.from` and the stream's buffers), so memory
 * stays bounded. Abandoning the iteration destroys the compressor and ends the source.
 */
export async function* compressChunks(
  source: AsyncIterable<Uint8Array>,
  coding: CompressionCoding,
  level: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const compressor = createCompressor(coding, level);
  const input = readableFrom(source, { objectMode: false });
  input.on("error", (err) => compressor.destroy(err));
  input.pipe(compressor);
  try {
    for await (const chunk of compressor) yield chunk as Uint8Array;
  } finally {
    input.destroy();
    compressor.destroy();
  }
}

/** The bytes of a file region, read in bounded steps; the file is closed at the end. */
async function* fileChunks(body: FileBody): AsyncGenerator<Uint8Array, void, undefined> {
  const { file, length } = body;
  try {
    if (body.offset) await file.seek(body.offset, Deno.SeekMode.Start);
    let left = length;
    while (left > 0) {
      // A fresh buffer per read: zlib may still hold the previous one.
      const buf = new Uint8Array(Math.min(FILE_READ_CHUNK_BYTES, left));
      const n = await file.read(buf);
      if (n === null) throw new Error(`file shrank while being compressed (${left} bytes short)`);
      yield buf.subarray(0, n);
      left -= n;
    }
  } finally {
    try {
      file.close();
    } catch { /* closed */ }
  }
}

/**
 * `chunks` as an iterable that runs `release` when it is ended early — also before its
 * first pull, when an async generator's `finally` would never run: the transport ends a
 * stream it will not send (HEAD, a client gone before the head was written) with `return()`.
 */
function releasingIterable(
  chunks: AsyncGenerator<Uint8Array, void, undefined>,
  release: () => void,
): AsyncIterable<Uint8Array> {
  const iterator: AsyncIterator<Uint8Array, void, undefined> = {
    next: () => chunks.next(),
    return: async () => {
      // Ended early (or never started): release as well, rather than trust the pipeline
      // to reach the source's own cleanup. Releasing twice is harmless.
      try {
        return await chunks.return();
      } finally {
        release();
      }
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/** In-memory bodies up to this size, split for streaming. */
async function* sliceChunks(bytes: Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  for (let i = 0; i < bytes.length; i += FILE_READ_CHUNK_BYTES) {
    yield bytes.subarray(i, i + FILE_READ_CHUNK_BYTES);
  }
}

async function* emptyChunks(): AsyncGenerator<Uint8Array, void, undefined> {}

/** The value of header `name` (case-insensitive), first occurrence, or undefined. */
function headerValue(headers: HeaderList, name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}

/** The coding to send: the client's best acceptable one that is enabled, unless identity ranks higher. */
export function negotiateCoding(
  acceptEncoding: string | null | undefined,
  levels: CompressionSettings["levels"],
): CompressionCoding | null {
  for (const coding of acceptableCodings(acceptEncoding)) {
    if (coding === "identity") return null;
    if (levels[coding] !== undefined) return coding;
  }
  return null;
}

/** `"tag"` or `W/"tag"` → `W/"tag-coding"`. */
export function codingEtag(etag: string, coding: CompressionCoding): string {
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return `W/${opaque.slice(0, -1)}-${coding}"`;
}

/**
 * If-None-Match tags ending in `-<coding>"` also listed without the suffix, so the inner
 * handler, which knows only the identity tag, can answer 304. Null if nothing changed.
 */
function identityIfNoneMatch(value: string): string | null {
  const tags = parseEntityTagList(value);
  if (!Array.isArray(tags)) return null;
  const extra: string[] = [];
  for (const { opaque } of tags) {
    for (const coding of CODINGS) {
      const suffix = `-${coding}"`;
      if (opaque.endsWith(suffix)) extra.push(`${opaque.slice(0, -suffix.length)}"`);
    }
  }
  return extra.length === 0 ? null : `${value}, ${extra.join(", ")}`;
}

/** Vary with Accept-Encoding added once (merged into an existing Vary). */
function withVaryAcceptEncoding(headers: HeaderList): HeaderList {
  let found = false;
  const out: HeaderList = headers.map(([name, value]): [string, string] => {
    if (found || name.toLowerCase() !== "vary") return [name, value];
    found = true;
    const listed = value.split(",").some((v) => {
      const t = v.trim().toLowerCase();
      return t === "accept-encoding" || t === "*";
    });
    return [name, listed ? value : `${value}, Accept-Encoding`];
  });
  if (!found) out.push(["Vary", "Accept-Encoding"]);
  return out;
}

/** Compressed bytes of shared (cached) bodies, per coding and level, kept as long as they are. */
const compressedCache = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

function compressedBytes(
  bytes: Uint8Array,
  coding: CompressionCoding,
  level: number,
): Uint8Array {
  const key = `${coding}=${level}`;
  let perBody = compressedCache.get(bytes);
  const hit = perBody?.get(key);
  if (hit !== undefined) return hit;
  const out = compressSync(coding, level, bytes);
  if (perBody === undefined) compressedCache.set(bytes, perBody = new Map());
  perBody.set(key, out);
  return out;
}

const textEncoder = new TextEncoder();

/** Whether `res` (a 200 to GET/HEAD) is one to compress, apart from negotiation. */
function isEligible(res: HttpResponse, minBytes: number): boolean {
  if (res.status !== 200) return false;
  const headers = res.headers ?? [];
  if (headerValue(headers, "content-encoding") !== undefined) return false;
  if (headerValue(headers, "content-range") !== undefined) return false;
  const type = headerValue(headers, "content-type");
  if (!isCompressibleType(type)) return false;
  if (type!.toLowerCase().startsWith("text/event-stream")) return false;
  if (/(^|,)\s*no-transform\s*(,|$)/i.test(headerValue(headers, "cache-control") ?? "")) {
    return false;
  }
  const body = res.body;
  if (body === null || body === undefined) return false;
  if (typeof body === "string") return body.length >= minBytes; // UTF-16 units ≤ bytes
  if (body instanceof Uint8Array) return body.length >= minBytes;
  if ("file" in body) return body.length >= minBytes;
  return body.length === null || body.length === undefined || body.length >= minBytes;
}

/**
 * The compression middleware (see the module doc). `settings.levels` names the codings
 * offered; a client that accepts none of them, or prefers identity, gets the body as is
 * (still with `Vary: Accept-Encoding`).
 */
export function withCompression(settings: CompressionSettings): Middleware {
  const { levels, minBytes } = settings;
  return (next) => async (req, ctx) => {
    if (req.method !== "GET" && req.method !== "HEAD") return await next(req, ctx);
    const coding = negotiateCoding(req.headers.get("accept-encoding"), levels);
    const ifNoneMatch = req.headers.get("if-none-match");
    const rewritten = ifNoneMatch === undefined ? null : identityIfNoneMatch(ifNoneMatch);
    let inner: RequestHead = req;
    if (rewritten !== null) {
      const headers = new Map(req.headers);
      headers.set("if-none-match", rewritten);
      inner = { ...req, headers };
    }
    const res = await next(inner, ctx);
    if (res.status === 304 && rewritten !== null) return revalidated(res, ifNoneMatch!, coding);
    if (!isEligible(res, minBytes)) return res;
    const headers = withVaryAcceptEncoding(res.headers ?? []);
    if (coding === null) return { ...res, headers };
    await loadCompressionModules();
    return compressResponse(req, { ...res, headers }, coding, levels[coding]!);
  };
}

/** A 304 for a client that sent a per-coding tag: give that tag back, weak. */
function revalidated(
  res: HttpResponse,
  ifNoneMatch: string,
  coding: CompressionCoding | null,
): HttpResponse {
  const headers = res.headers ?? [];
  const etag = headerValue(headers, "etag");
  if (etag === undefined) return res;
  const sent = parseEntityTagList(ifNoneMatch);
  if (!Array.isArray(sent)) return res;
  const opaques = new Set(sent.map((t) => t.opaque));
  if (opaques.has(etag.startsWith("W/") ? etag.slice(2) : etag)) return res; // identity tag
  const order = coding === null ? CODINGS : [coding, ...CODINGS.filter((c) => c !== coding)];
  const match = order.find((c) => opaques.has(codingEtag(etag, c).slice(2)));
  if (match === undefined) return res;
  return {
    ...res,
    headers: withVaryAcceptEncoding(
      headers.map(([n, v]): [string, string] =>
        n.toLowerCase() === "etag" ? [n, codingEtag(etag, match)] : [n, v]
      ),
    ),
  };
}

function compressResponse(
  req: RequestHead,
  res: HttpResponse,
  coding: CompressionCoding,
  level: number,
): HttpResponse {
  const headers: HeaderList = [];
  for (const [name, value] of res.headers ?? []) {
    const lower = name.toLowerCase();
    if (lower === "accept-ranges") continue; // no byte ranges of an on-the-fly coding
    headers.push([name, lower === "etag" ? codingEtag(value, coding) : value]);
  }
  headers.push(["Content-Encoding", coding]);
  const head = req.method === "HEAD";
  let body = res.body!;
  if (typeof body === "string") body = textEncoder.encode(body);
  if (body instanceof Uint8Array) {
    if (body.length <= SYNC_COMPRESS_MAX_BYTES) {
      return { ...res, headers, body: compressedBytes(body, coding, level) };
    }
    const stream = head ? emptyChunks() : compressChunks(sliceChunks(body), coding, level);
    return { ...res, headers, body: { stream, length: null } };
  }
  if ("file" in body) {
    if (head) {
      try {
        body.file.close();
      } catch { /* closed */ }
      return { ...res, headers, body: { stream: emptyChunks(), length: null } };
    }
    const file = body.file;
    const stream = releasingIterable(compressChunks(fileChunks(body), coding, level), () => {
      try {
        file.close();
      } catch { /* closed */ }
    });
    return { ...res, headers, body: { stream, length: null } };
  }
  return {
    ...res,
    headers,
    body: {
      stream: head ? emptyChunks() : compressChunks(body.stream, coding, level),
      length: null,
    },
  };
}
