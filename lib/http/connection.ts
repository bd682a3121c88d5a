/**
 * One HTTP/1.1 connection, end to end: read a request head through the framing module,
 * parse it (pure, `request.ts`), hand it to a {@link Handler}, keep the body framing in
 * sync (read or discard the body), write the response, and repeat while the connection
 * is persistent. Pipelined requests are answered in order simply because the loop reads
 * the next head only after the previous response is written.
 *
 * ```ts
 * const handler: Handler = (req) => ({ status: 200, body: `you asked for ${req.path}\n` });
 * const tracker = new ConnectionTracker({ idleTimeoutMs: KEEP_ALIVE_TIMEOUT_MS });
 * for await (const conn of Deno.listen({ port: 8000 })) {
 *   serveConnection(conn, handler, { tracker });
 * }
 * ```
 *
 * ## The handler interface
 * A handler gets the parsed {@link RequestHead} and a {@link RequestContext} and returns
 * an {@link HttpResponse}: status, headers, and a body that is bytes, a string, an open
 * file region to stream ({@link FileBody}), or an async iterable of chunks
 * ({@link StreamBody}; unknown length → chunked). The connection adds `Date`, `Server`,
 * `Content-Length`/`Transfer-Encoding` and `Connection`, drops the body for HEAD/204/304,
 * and closes files it was given. A handler may throw {@link HttpError}; anything else
 * becomes a 500 with no details sent to the client. Features compose as wrappers:
 * `const h = withAuth(withCompression(staticFiles))` — each a `(next: Handler) => Handler`.
 *
 * @module
 */
import {
  BufferedReader,
  CRLFCRLF,
  FramingError,
  LineTooLongError,
  UnexpectedEofError,
  writeAll,
} from "../framing.ts";
import { HttpError } from "./errors.ts";
import { DEFAULT_REQUEST_LIMITS, parseRequestHead, type RequestHead } from "./request.ts";
import type { RequestLimits } from "./request.ts";
import {
  CONTINUE_RESPONSE,
  encodeResponse,
  errorBody,
  formatResponseHead,
  type HeaderList,
  statusHasNoContentLength,
} from "./response.ts";

/** Close a keep-alive connection idle this long between requests (Node's default). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often idle connections are checked; the timeout is exact to within this. */
export const IDLE_SWEEP_INTERVAL_MS = 250;
/** Longest chunk-size line or trailer line of a chunked body (RFC 9112 §7.1). */
export const MAX_CHUNK_LINE_BYTES = 4 * 1024;
/** Trailer section of a chunked body, all lines together. */
export const MAX_TRAILER_BYTES = 16 * 1024;
/**
 * Chunk extensions of one body, all together: without a cap, 1-byte chunks with 4 KiB
 * extensions turn a 1 MiB body limit into 4 GiB of traffic (Node's CVE-2024-22019 fix).
 */
export const MAX_CHUNK_EXTENSION_BYTES = 16 * 1024;
/**
 * Bytes read per step when streaming a file body; each step awaits the socket write.
 * Measured on loopback: 64 KiB → 1.7 GB/s, 256 KiB → 2.2 GB/s, 1 MiB → no better.
 */
export const FILE_CHUNK_BYTES = 256 * 1024;
/** After an error answer, keep reading (and discarding) this long before closing. */
export const LINGER_MS = 2_000;
/** …or until this much has been discarded, so the answer is not lost to a TCP RST. */
export const LINGER_MAX_BYTES = 1024 * 1024;

/** An open file region the connection streams and then closes. */
export interface FileBody {
  file: Deno.FsFile;
  /** Byte offset to start at (default 0). */
  offset?: number;
  /** Exact number of bytes to send; the file must still have them. */
  length: number;
}

/** Chunks produced on the fly; `length` null/absent → chunked (or close-delimited for 1.0). */
export interface StreamBody {
  stream: AsyncIterable<Uint8Array>;
  length?: number | null;
}

/** What a response body may be. */
export type ResponseBody = Uint8Array | string | FileBody | StreamBody | null;

/** A handler's answer. */
export interface HttpResponse {
  status: number;
  /** Headers besides Date, Server, Content-Length, Transfer-Encoding and Connection. */
  headers?: HeaderList;
  body?: ResponseBody;
  /** Close the connection after this response. */
  close?: boolean;
}

/** Per-request context for handlers. */
export interface RequestContext {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** The request body; read it to consume it, or leave it and it is discarded. */
  body: RequestBody;
}

/** Turns a request into a response. */
export type Handler = (
  req: RequestHead,
  ctx: RequestContext,
) => HttpResponse | Promise<HttpResponse>;

/**
 * A feature that wraps a handler: it may answer by itself (auth → 401), change the request
 * it passes on, or change the response it gets back (compression, CORS headers).
 */
export type Middleware = (next: Handler) => Handler;

/** `compose([a, b], h)` = `a(b(h))`: the first middleware sees the request first. */
export function compose(middleware: readonly Middleware[], handler: Handler): Handler {
  let h = handler;
  for (let i = middleware.length - 1; i >= 0; i--) h = middleware[i](h);
  return h;
}

/** One access-log record, produced after the response is written. */
export interface AccessLogEntry {
  /** Epoch ms when the head had arrived. */
  time: number;
  client: string;
  method: string;
  /** Raw request-target ("-" when the request line did not parse). */
  target: string;
  version: string;
  status: number;
  /** Body bytes sent (head excluded, as in the common log format). */
  bytes: number;
  /** Milliseconds from head received to response written. */
  ms: number;
  referer: string | null;
  userAgent: string | null;
}

/** Options for {@link serveConnection}. */
export interface ConnectionOptions {
  tracker: ConnectionTracker;
  limits?: Readonly<RequestLimits>;
  /** Called with each raw request head as it arrived (`--trace`). */
  onHead?: (client: string, head: Uint8Array) => void;
  /** Called once per answered request (access log, metrics). */
  onRequest?: (entry: AccessLogEntry) => void;
  /** Called when a handler throws something that is not an HttpError. */
  onInternalError?: (req: RequestHead, error: unknown) => void;
}

/** Bookkeeping the tracker keeps per connection. */
interface ConnectionSlot {
  conn: Deno.Conn;
  /** Epoch ms since when the connection waits for a request head; 0 while busy. */
  idleSince: number;
}

/**
 * All open connections of a server: closes keep-alive connections idle too long, and on
 * shutdown closes idle ones at once and lets busy ones finish their current response.
 */
export class ConnectionTracker {
  readonly idleTimeoutMs: number;
  #slots = new Set<ConnectionSlot>();
  #closing = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drained: (() => void) | null = null;

  constructor(options: { idleTimeoutMs?: number } = {}) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
  }

  /** True once {@link shutdown} was called: responses then carry Connection: close. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Number of open connections. */
  get size(): number {
    return this.#slots.size;
  }

  add(conn: Deno.Conn): ConnectionSlot {
    const slot = { conn, idleSince: Date.now() };
    this.#slots.add(slot);
    if (this.#timer === undefined && this.idleTimeoutMs > 0) {
      const timer = setInterval(() => this.#sweep(), IDLE_SWEEP_INTERVAL_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return slot;
  }

  remove(slot: ConnectionSlot): void {
    this.#slots.delete(slot);
    if (this.#slots.size === 0) {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#drained?.();
    }
  }

  #sweep(): void {
    const oldest = Date.now() - this.idleTimeoutMs;
    for (const slot of this.#slots) {
      if (slot.idleSince !== 0 && slot.idleSince <= oldest) closeQuietly(slot.conn);
    }
  }

  /** Stops keep-alive, closes idle connections, resolves when all are gone or after `ms`. */
  shutdown(ms: number): Promise<boolean> {
    this.#closing = true;
    for (const slot of this.#slots) if (slot.idleSince !== 0) closeQuietly(slot.conn);
    if (this.#slots.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#drained = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

const LF = 0x0a;
const textEncoder = new TextEncoder();

/**
 * The body of one request, read through the connection's reader. Sends `100 Continue`
 * before the first read when the client asked for it. Chunk views are valid until the
 * next read.
 */
export class RequestBody {
  #reader: BufferedReader;
  #conn: Deno.Conn;
  #maxBytes: number;
  #chunked: boolean;
  #remaining: number; // bytes left: of the whole body (length) or of the current chunk
  #needContinue: boolean;
  #done: boolean;
  #pendingCrlf = false; // chunk-data was handed out; its CRLF is checked on the next read
  #extensionBytes = 0;
  /** Body bytes delivered so far (chunk framing excluded). */
  received = 0;

  constructor(reader: BufferedReader, conn: Deno.Conn, req: RequestHead, maxBytes: number) {
    this.#reader = reader;
    this.#conn = conn;
    this.#maxBytes = maxBytes;
    this.#chunked = req.body.kind === "chunked";
    this.#remaining = req.body.kind === "length" ? req.body.length : 0;
    this.#done = req.body.kind === "none";
    this.#needContinue = req.expectContinue && !this.#done;
  }

  /** True once the whole body (and any trailers) has been consumed. */
  get done(): boolean {
    return this.#done;
  }

  /** True when the client waits for 100 Continue that has not been sent yet. */
  get awaitingContinue(): boolean {
    return this.#needContinue;
  }

  /** The next piece of the body, or null at its end. */
  async read(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    if (this.#needContinue) {
      this.#needContinue = false;
      await writeAll(this.#conn, CONTINUE_RESPONSE);
    }
    const reader = this.#reader;
    if (this.#chunked && this.#remaining === 0) {
      const size = await this.#readChunkSize();
      if (size === 0) {
        await this.#skipTrailers();
        this.#done = true;
        return null;
      }
      if (this.received + size > this.#maxBytes) throw bodyTooLarge();
      this.#remaining = size;
    }
    const chunk = await reader.readChunk(this.#remaining);
    if (chunk === null) throw new UnexpectedEofError("a request body", this.received);
    this.#remaining -= chunk.length;
    this.received += chunk.length;
    if (this.#remaining === 0) {
      // Reading the CRLF after chunk-data now could invalidate the `chunk` view.
      if (this.#chunked) this.#pendingCrlf = true;
      else this.#done = true;
    }
    return chunk;
  }

  async #readChunkSize(): Promise<number> {
    const reader = this.#reader;
    if (this.#pendingCrlf) {
      this.#pendingCrlf = false;
      const crlf = await reader.readExact(2, "the CRLF after chunk data");
      if (crlf[0] !== 0x0d || crlf[1] !== LF) throw badChunk("chunk data not followed by CRLF");
    }
    let line: Uint8Array | null;
    try {
      line = await reader.readLine({ maxBytes: MAX_CHUNK_LINE_BYTES });
    } catch (err) {
      if (err instanceof LineTooLongError) throw badChunk("chunk-size line too long");
      throw err;
    }
    if (line === null) throw new UnexpectedEofError("a chunk-size line", 0);
    const size = parseChunkSizeLine(line);
    const semicolon = line.indexOf(0x3b);
    if (semicolon !== -1) {
      this.#extensionBytes += line.length - 2 - semicolon;
      if (this.#extensionBytes > MAX_CHUNK_EXTENSION_BYTES) {
        throw badChunk("too many chunk extensions");
      }
    }
    return size;
  }

  async #skipTrailers(): Promise<void> {
    let total = 0;
    for (;;) {
      let line: Uint8Array | null;
      try {
        line = await this.#reader.readLine({ maxBytes: MAX_CHUNK_LINE_BYTES });
      } catch (err) {
        if (err instanceof LineTooLongError) throw badChunk("trailer line too long");
        throw err;
      }
      if (line === null) throw new UnexpectedEofError("chunked trailers", total);
      if (line.length < 2 || line[line.length - 2] !== 0x0d) throw badChunk("bare LF in trailer");
      if (line.length === 2) return;
      total += line.length;
      if (total > MAX_TRAILER_BYTES) throw badChunk("trailer section too large");
    }
  }

  /** Reads and drops whatever is left of the body. */
  async discard(): Promise<void> {
    while ((await this.read()) !== null) { /* drop */ }
  }
}

function badChunk(message: string): HttpError {
  return new HttpError(400, "BAD_CHUNK", message, { close: true });
}

function bodyTooLarge(): HttpError {
  return new HttpError(413, "BODY_TOO_LARGE", "request body too large", { close: true });
}

/** Longest chunk-size accepted: 12 hex digits (256 TiB) stays a safe integer. */
const MAX_CHUNK_SIZE_DIGITS = 12;

/**
 * Pure: the size from a chunk-size line "1a;ext=v\r\n" (RFC 9112 §7.1). Extensions are
 * ignored; a bare LF, no digits or non-hex → 400 BAD_CHUNK.
 */
export function parseChunkSizeLine(line: Uint8Array): number {
  const end = line.length - 2;
  if (end < 1 || line[end] !== 0x0d || line[end + 1] !== LF) {
    throw badChunk("chunk-size line must end with CRLF");
  }
  let size = 0;
  let i = 0;
  for (; i < end; i++) {
    const c = line[i];
    let v: number;
    if (c >= 0x30 && c <= 0x39) v = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) v = (c | 0x20) - 0x61 + 10;
    else break;
    if (i >= MAX_CHUNK_SIZE_DIGITS) throw badChunk("chunk size too large");
    size = size * 16 + v;
  }
  if (i === 0) throw badChunk("missing chunk size");
  let j = i;
  while (j < end && (line[j] === 0x20 || line[j] === 0x09)) j++;
  if (j < end && line[j] !== 0x3b /* ; */) throw badChunk("invalid chunk size");
  for (let k = j; k < end; k++) {
    if (line[k] === 0x0d || line[k] === LF || line[k] === 0) {
      throw badChunk("invalid chunk extension");
    }
  }
  return size;
}

/** Maps a head that overran `maxHeaderBytes` to 414 (request line) or 431 (fields). */
function headTooLargeError(reader: BufferedReader, limits: Readonly<RequestLimits>): HttpError {
  const buffered = reader.peekBuffered();
  const lineEnd = buffered.subarray(0, limits.maxRequestLineBytes + 2).indexOf(LF);
  return lineEnd === -1
    ? new HttpError(414, "URI_TOO_LONG", "request line too long", { close: true })
    : new HttpError(431, "HEADERS_TOO_LARGE", "request header block too large", { close: true });
}

function errorResponse(err: HttpError): HttpResponse {
  return {
    status: err.status,
    headers: [
      ...err.headers,
      ["Content-Type", "text/plain; charset=utf-8"],
      ["X-Content-Type-Options", "nosniff"],
    ],
    body: errorBody(err.status, err.message),
    close: err.close,
  };
}

/**
 * Serves one connection until the client closes it, it idles out, an error forces a
 * close, or the server shuts down. Never throws; always closes `conn`.
 */
export async function serveConnection(
  conn: Deno.Conn,
  handler: Handler,
  options: ConnectionOptions,
): Promise<void> {
  const { tracker, onHead, onRequest, onInternalError } = options;
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  const slot = tracker.add(conn);
  const reader = new BufferedReader(conn);
  const remoteAddr = conn.remoteAddr as Deno.NetAddr;
  const client = remoteAddr.hostname ?? "-";
  let linger = false;
  try {
    for (;;) {
      slot.idleSince = Date.now();
      let headBytes: Uint8Array | null;
      let req: RequestHead | null = null;
      let response: HttpResponse;
      let started = 0;
      try {
        headBytes = await reader.readUntil(CRLFCRLF, { maxBytes: limits.maxHeaderBytes });
        if (headBytes === null) return; // clean close between requests
        slot.idleSince = 0;
        started = Date.now();
        onHead?.(client, headBytes);
        req = parseRequestHead(headBytes, limits);
        if (req.body.kind === "length" && req.body.length > limits.maxBodyBytes) {
          throw bodyTooLarge();
        }
        const body = new RequestBody(reader, conn, req, limits.maxBodyBytes);
        response = await runHandler(handler, req, { remoteAddr, body }, onInternalError);
        if (!body.done && (response.close === true || body.awaitingContinue)) {
          // Refused before reading (401, 409, 413, …): reading a body nobody wants costs
          // the client the whole upload. Without a 100 Continue the client has sent
          // nothing yet or is about to give up waiting (RFC 9110 §10.1.1), so answer and
          // close; the lingering close keeps the answer from being lost to a TCP RST.
          response = { ...response, close: true };
        } else if (!body.done) {
          // Keep the stream in sync: whatever the handler left of the body is discarded.
          try {
            await body.discard();
          } catch (err) {
            closeBody(response.body); // the prepared answer is replaced or abandoned
            if (!(err instanceof HttpError)) throw err;
            response = errorResponse(err);
          }
        }
      } catch (err) {
        if (err instanceof LineTooLongError) {
          slot.idleSince = 0;
          started = Date.now();
          response = errorResponse(headTooLargeError(reader, limits));
        } else if (err instanceof HttpError) {
          response = errorResponse(err);
        } else {
          return; // EOF mid-message, reset, idle timeout or shutdown closed the socket
        }
      }
      const keepAlive = req !== null && req.keepAlive && !response.close && !tracker.closing &&
        !isCloseDelimited(req, response);
      // Unread input (an error, or requests pipelined behind "Connection: close") would
      // make close() send RST, which can destroy this answer before the client reads it.
      linger = !keepAlive && (response.close === true || reader.buffered > 0);
      const sent = await writeResponse(conn, req, response, keepAlive);
      if (onRequest !== undefined) {
        onRequest({
          time: started,
          client,
          method: req?.method ?? "-",
          target: req?.target ?? "-",
          version: req?.version ?? "-",
          status: response.status,
          bytes: sent,
          ms: Date.now() - started,
          referer: req?.headers.get("referer") ?? null,
          userAgent: req?.headers.get("user-agent") ?? null,
        });
      }
      // Shutdown may have begun while this response was being written.
      if (!keepAlive || tracker.closing) return;
    }
  } catch {
    // A socket error (reset, broken pipe) or a file that shrank mid-response: the
    // connection cannot continue and there is nobody left to answer.
    linger = false;
  } finally {
    slot.idleSince = 0;
    if (linger) await lingeringClose(conn);
    closeQuietly(conn);
    tracker.remove(slot);
  }
}

async function runHandler(
  handler: Handler,
  req: RequestHead,
  ctx: RequestContext,
  onInternalError: ConnectionOptions["onInternalError"],
): Promise<HttpResponse> {
  try {
    return await handler(req, ctx);
  } catch (err) {
    if (err instanceof HttpError) return errorResponse(err);
    if (err instanceof FramingError) throw err; // the body read failed: the socket is gone
    onInternalError?.(req, err);
    return errorResponse(new HttpError(500, "INTERNAL", "internal error", { close: true }));
  }
}

function closeBody(body: ResponseBody | undefined): void {
  if (body !== null && body !== undefined && typeof body === "object" && "file" in body) {
    try {
      body.file.close();
    } catch { /* closed */ }
  }
}

/** A stream of unknown length to an HTTP/1.0 client can only end by closing. */
function isCloseDelimited(req: RequestHead, res: HttpResponse): boolean {
  const body = res.body;
  return req.version === "HTTP/1.0" && typeof body === "object" && body !== null &&
    "stream" in body && (body.length ?? null) === null;
}

/**
 * Half-closes, then reads and drops input for a while: closing a socket with unread
 * input makes the kernel send RST, which can destroy the error answer before the client
 * reads it (the reason for nginx's lingering_close).
 */
async function lingeringClose(conn: Deno.Conn): Promise<void> {
  try {
    await conn.closeWrite();
  } catch {
    return;
  }
  const timer = setTimeout(() => closeQuietly(conn), LINGER_MS);
  try {
    const buf = new Uint8Array(16 * 1024);
    let total = 0;
    while (total < LINGER_MAX_BYTES) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
  } catch {
    /* closed by the timer or reset */
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes `res`; resolves with the number of body bytes sent. HEAD and bodiless statuses
 * get the same headers and no body. Throws on socket errors and on a file that shrank.
 */
async function writeResponse(
  conn: Deno.Conn,
  req: RequestHead | null,
  res: HttpResponse,
  keepAlive: boolean,
): Promise<number> {
  const omitBody = (req !== null && req.method === "HEAD") || statusHasNoContentLength(res.status);
  let body = res.body ?? null;
  if (typeof body === "string") body = textEncoder.encode(body);
  if (body === null || body instanceof Uint8Array) {
    const head = formatResponseHead({
      status: res.status,
      headers: res.headers,
      contentLength: body === null ? 0 : body.length,
      keepAlive,
    });
    await writeAll(conn, encodeResponse(head, omitBody ? null : body));
    return omitBody || body === null ? 0 : body.length;
  }
  if ("file" in body) return await writeFileBody(conn, res, body, keepAlive, omitBody);
  return await writeStreamBody(conn, req, res, body, keepAlive, omitBody);
}

async function writeFileBody(
  conn: Deno.Conn,
  res: HttpResponse,
  body: FileBody,
  keepAlive: boolean,
  omitBody: boolean,
): Promise<number> {
  const { file, length } = body;
  try {
    const head = formatResponseHead({
      status: res.status,
      headers: res.headers,
      contentLength: length,
      keepAlive,
    });
    if (omitBody || length === 0) {
      await writeAll(conn, encodeResponse(head));
      return 0;
    }
    if (body.offset) await file.seek(body.offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(Math.min(FILE_CHUNK_BYTES, length));
    let left = length;
    let first = true;
    while (left > 0) {
      const n = await file.read(buf.subarray(0, Math.min(left, buf.length)));
      if (n === null) throw new UnexpectedEofError("a file being served", length - left);
      const data = buf.subarray(0, n);
      // Head and first chunk in one write; then each chunk awaits the socket (backpressure).
      await writeAll(conn, first ? encodeResponse(head, data) : data);
      first = false;
      left -= n;
    }
    return length;
  } finally {
    try {
      file.close();
    } catch { /* closed */ }
  }
}

async function writeStreamBody(
  conn: Deno.Conn,
  req: RequestHead | null,
  res: HttpResponse,
  body: StreamBody,
  keepAlive: boolean,
  omitBody: boolean,
): Promise<number> {
  const length = body.length ?? null;
  // Unknown length: chunked for 1.1; a 1.0 client only understands close-delimited.
  const chunked = length === null && req?.version === "HTTP/1.1";
  const head = formatResponseHead({
    status: res.status,
    headers: res.headers,
    contentLength: length,
    chunked,
    keepAlive,
  });
  await writeAll(conn, encodeResponse(head));
  if (omitBody) return 0;
  let sent = 0;
  for await (const chunk of body.stream) {
    if (chunk.length === 0) continue;
    if (chunked) {
      await writeAll(conn, textEncoder.encode(`${chunk.length.toString(16)}\r\n`));
      await writeAll(conn, chunk);
      await writeAll(conn, textEncoder.encode("\r\n"));
    } else {
      await writeAll(conn, chunk);
    }
    sent += chunk.length;
  }
  if (chunked) await writeAll(conn, textEncoder.encode("0\r\n\r\n"));
  if (length !== null && sent !== length) {
    throw new UnexpectedEofError(`a ${length}-byte response stream`, sent);
  }
  return sent;
}
