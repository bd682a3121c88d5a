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
} from "../../framing.ts";
import { HttpError } from "../errors.ts";
import { DEFAULT_REQUEST_LIMITS, parseRequestHead, type RequestHead } from "./request.ts";
import type { RequestLimits } from "./request.ts";
import {
  CONTINUE_RESPONSE,
  encodeResponse,
  encodeResponseHead,
  errorBody,
  formatResponseHead,
  type HeaderList,
  statusHasNoContentLength,
} from "./response.ts";

/**
 * Close a keep-alive connection idle this long between requests (Node's default). Also
 * bounds a fresh connection that never sends a byte. Silent close: there is no request.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * A request head must be complete this long after its first byte, or the client gets 408
 * and the connection is closed. A total, not a per-read, limit: a slowloris client sending
 * one byte a second makes progress forever (nginx's client_header_timeout, Node's
 * headersTimeout — both 60 s; shorter here because a static server's heads are small).
 */
export const HEADER_TIMEOUT_MS = 10_000;
/**
 * A request body that delivers no byte for this long → 408 and close (nginx's
 * client_body_timeout: between two reads, so a slow but steady upload is fine).
 */
export const BODY_TIMEOUT_MS = 30_000;
/**
 * A response write that makes no progress for this long (the client stopped reading) →
 * the connection is closed and its buffers and open file freed (nginx's send_timeout).
 */
export const WRITE_TIMEOUT_MS = 30_000;
/** How often connection clocks are checked; every timeout is exact to within this. */
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
/**
 * Read buffer a connection starts with: a typical request head fits (it grows for bigger
 * ones), and a connection waiting for its next request holds no more than this — 1000
 * idle keep-alive connections cost ~2 MiB of buffers instead of 16 MiB.
 */
export const HEAD_READ_BUFFER_BYTES = 2 * 1024;
/** Room made for a request body before reading it, so uploads arrive in big reads. */
export const BODY_READ_BUFFER_BYTES = 64 * 1024;

/** Why a response was cut short after its head went out. */
export type ResponseAbortCode = "FILE_SHRANK" | "FILE_READ_FAILED" | "STREAM_LENGTH_MISMATCH";

/**
 * A response body could not be sent as announced (the file shrank or failed to read, a
 * stream came up short). The connection is closed mid-body: the client sees fewer bytes
 * than Content-Length (or no final chunk) and knows the download is incomplete.
 */
export class ResponseAbortedError extends Error {
  constructor(readonly code: ResponseAbortCode, message: string) {
    super(message);
    this.name = "ResponseAbortedError";
  }
}

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
  /**
   * Called when a response was cut off by the server: the write timeout fired, or the file
   * being sent shrank or failed to read. `req` is the request being answered.
   */
  onAbort?: (client: string, req: RequestHead | null, reason: string) => void;
}

/** What a connection is doing; each phase with a clock has its own timeout. */
export type ConnectionPhase =
  /** Waiting for the first byte of a request head (keep-alive timeout). */
  | "idle"
  /** Reading a request head that has begun (header timeout). */
  | "head"
  /** Waiting for request body bytes (body timeout, per read). */
  | "body"
  /** Handler running or reading a file: no clock. */
  | "busy"
  /** A response write is pending (write timeout, per write). */
  | "write";

/** Which clock ran out. */
export type TimeoutKind = "keep-alive" | "header" | "body" | "write";

/** Bookkeeping the tracker keeps per connection. */
export interface ConnectionSlot {
  conn: Deno.Conn;
  phase: ConnectionPhase;
  /** Epoch ms when the current phase began (or last made progress). */
  since: number;
  /** Set when a clock ran out; the connection is then being closed. */
  timedOut: TimeoutKind | null;
  /** Closes the socket after the 408 was sent and the client had time to read it. */
  closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The 408 being written after a header or body timeout. */
  answered: Promise<void> | undefined;
  /** Body bytes of the response being written that have reached the socket so far. */
  bodyBytesSent: number;
}

/** Timeouts of a {@link ConnectionTracker} in ms; 0 = never. */
export interface ConnectionTimeouts {
  /** Default {@link KEEP_ALIVE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
  /** Default {@link HEADER_TIMEOUT_MS}. */
  headerTimeoutMs?: number;
  /** Default {@link BODY_TIMEOUT_MS}. */
  bodyTimeoutMs?: number;
  /** Default {@link WRITE_TIMEOUT_MS}. */
  writeTimeoutMs?: number;
  /** Called when a header, body or write clock ran out (not for keep-alive: that is normal). */
  onTimeout?: (conn: Deno.Conn, kind: TimeoutKind, afterMs: number) => void;
}

const REQUEST_TIMEOUT_RESPONSE_BODY = errorBody(408, "request not received in time");

/**
 * All open connections of a server: runs their clocks (keep-alive, header, body, write —
 * one sweep timer for all, no timer per request) and on shutdown closes idle ones at once
 * and lets busy ones finish their current response.
 */
export class ConnectionTracker {
  readonly idleTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly writeTimeoutMs: number;
  #onTimeout: ConnectionTimeouts["onTimeout"];
  #slots = new Set<ConnectionSlot>();
  #closing = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drained: (() => void) | null = null;

  constructor(options: ConnectionTimeouts = {}) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
    this.headerTimeoutMs = options.headerTimeoutMs ?? HEADER_TIMEOUT_MS;
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? BODY_TIMEOUT_MS;
    this.writeTimeoutMs = options.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    this.#onTimeout = options.onTimeout;
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
    const slot: ConnectionSlot = {
      conn,
      phase: "idle",
      since: Date.now(),
      timedOut: null,
      closeTimer: undefined,
      answered: undefined,
      bodyBytesSent: 0,
    };
    this.#slots.add(slot);
    const anyClock = this.idleTimeoutMs > 0 || this.headerTimeoutMs > 0 ||
      this.bodyTimeoutMs > 0 || this.writeTimeoutMs > 0;
    if (this.#timer === undefined && anyClock) {
      const timer = setInterval(() => this.#sweep(), IDLE_SWEEP_INTERVAL_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return slot;
  }

  remove(slot: ConnectionSlot): void {
    clearTimeout(slot.closeTimer);
    this.#slots.delete(slot);
    if (this.#slots.size === 0) {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#drained?.();
    }
  }

  #limitOf(phase: ConnectionPhase): number {
    switch (phase) {
      case "idle":
        return this.idleTimeoutMs;
      case "head":
        return this.headerTimeoutMs;
      case "body":
        return this.bodyTimeoutMs;
      case "write":
        return this.writeTimeoutMs;
      default:
        return 0;
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const slot of this.#slots) {
      if (slot.timedOut !== null) continue;
      const limit = this.#limitOf(slot.phase);
      if (limit <= 0 || now - slot.since < limit) continue;
      const phase = slot.phase;
      if (phase === "idle") {
        slot.timedOut = "keep-alive";
        closeQuietly(slot.conn);
        continue;
      }
      const kind: TimeoutKind = phase === "head" ? "header" : phase === "body" ? "body" : "write";
      slot.timedOut = kind;
      this.#onTimeout?.(slot.conn, kind, now - slot.since);
      if (kind === "write") {
        // The pending write rejects; the connection loop frees everything it holds.
        closeQuietly(slot.conn);
      } else {
        slot.answered = this.#answerTimeout(slot);
      }
    }
  }

  /**
   * 408 for a request that did not arrive in time (RFC 9110 §15.5.9). Written from here,
   * alongside the connection loop's pending read (which keeps draining input, so the close
   * below is not turned into a reset that destroys the 408); the loop writes nothing once
   * `timedOut` is set.
   */
  async #answerTimeout(slot: ConnectionSlot): Promise<void> {
    slot.closeTimer = setTimeout(() => closeQuietly(slot.conn), LINGER_MS);
    try {
      const head = formatResponseHead({
        status: 408,
        headers: [["Content-Type", "text/plain; charset=utf-8"]],
        contentLength: REQUEST_TIMEOUT_RESPONSE_BODY.length,
        keepAlive: false,
      });
      const body = textEncoder.encode(REQUEST_TIMEOUT_RESPONSE_BODY);
      await writeAll(slot.conn, encodeResponse(head, body));
      await slot.conn.closeWrite();
    } catch {
      closeQuietly(slot.conn);
    }
  }

  /**
   * Stops keep-alive, closes idle connections and heads still arriving, lets the others
   * finish their response; after `ms` closes whatever is left. Resolves true if all
   * finished in time, false if some had to be cut.
   */
  shutdown(ms: number): Promise<boolean> {
    this.#closing = true;
    for (const slot of this.#slots) {
      if (slot.phase === "idle" || slot.phase === "head") closeQuietly(slot.conn);
    }
    if (this.#slots.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const slot of this.#slots) closeQuietly(slot.conn);
        resolve(false);
      }, ms);
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
  #slot: ConnectionSlot | null;
  /** Body bytes delivered so far (chunk framing excluded). */
  received = 0;

  /** `slot` (from the tracker) runs the body timeout while a read waits for the client. */
  constructor(
    reader: BufferedReader,
    conn: Deno.Conn,
    req: RequestHead,
    maxBytes: number,
    slot: ConnectionSlot | null = null,
  ) {
    this.#reader = reader;
    this.#conn = conn;
    this.#slot = slot;
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
    const slot = this.#slot;
    if (slot === null) return await this.#read();
    if (slot.timedOut !== null) throw this.#timedOut();
    slot.phase = "body";
    slot.since = Date.now();
    try {
      const chunk = await this.#read();
      // Bytes that arrive after the 408 went out must not reach the handler (no upload
      // is committed behind an answer that already said "timed out").
      if (slot.timedOut !== null) throw this.#timedOut();
      return chunk;
    } finally {
      if (slot.phase === "body") slot.phase = "busy";
    }
  }

  #timedOut(): UnexpectedEofError {
    return new UnexpectedEofError("a request body (body timeout)", this.received);
  }

  async #read(): Promise<Uint8Array | null> {
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
  const { tracker, onHead, onRequest, onInternalError, onAbort } = options;
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  const slot = tracker.add(conn);
  const reader = new BufferedReader(conn, { initialBufferBytes: HEAD_READ_BUFFER_BYTES });
  const remoteAddr = conn.remoteAddr as Deno.NetAddr;
  const client = remoteAddr.hostname ?? "-";
  let linger = false;
  // The response being written: if the connection dies under it, it is still logged,
  // with the bytes that did go out (as nginx does), so a cut download shows in the log.
  let writing = false;
  let inFlight: RequestHead | null = null;
  let inFlightStatus = 0;
  let inFlightStarted = 0;
  try {
    for (;;) {
      let headBytes: Uint8Array | null;
      let req: RequestHead | null = null;
      let response: HttpResponse;
      let started = 0;
      try {
        // Two clocks (RFC 9112 §9.8 leaves both to the server): waiting for a request is
        // the keep-alive timeout and ends silently; once its first byte is here, the head
        // has the header timeout to complete, then gets 408.
        slot.phase = "idle";
        slot.since = Date.now();
        if (reader.buffered === 0) {
          reader.shrink(); // a body's big buffer is not kept while the connection waits
          if (!(await reader.fill())) return; // closed between requests
        }
        slot.phase = "head";
        slot.since = Date.now();
        headBytes = await reader.readUntil(CRLFCRLF, { maxBytes: limits.maxHeaderBytes });
        slot.phase = "busy";
        if (headBytes === null || slot.timedOut !== null) return;
        started = Date.now();
        onHead?.(client, headBytes);
        req = parseRequestHead(headBytes, limits);
        if (req.body.kind === "length" && req.body.length > limits.maxBodyBytes) {
          throw bodyTooLarge();
        }
        if (req.body.kind !== "none") reader.reserve(BODY_READ_BUFFER_BYTES);
        const body = new RequestBody(reader, conn, req, limits.maxBodyBytes, slot);
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
          slot.phase = "busy";
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
      if (slot.timedOut !== null) {
        closeBody(response.body); // a 408 already went out for this request
        return;
      }
      writing = true;
      inFlight = req;
      inFlightStatus = response.status;
      inFlightStarted = started;
      slot.bodyBytesSent = 0;
      const sent = await writeResponse(conn, slot, req, response, keepAlive);
      writing = false;
      onRequest?.(accessLogEntry(client, req, response.status, started, sent));
      // Shutdown may have begun while this response was being written.
      if (!keepAlive || tracker.closing) return;
    }
  } catch (err) {
    // A socket error (reset, broken pipe), the write timeout, or a file that shrank
    // mid-response: the connection cannot continue and there is nobody left to answer.
    // A vanished client is routine; the rest is worth a log line.
    linger = false;
    if (writing) {
      onRequest?.(
        accessLogEntry(client, inFlight, inFlightStatus, inFlightStarted, slot.bodyBytesSent),
      );
    }
    if (writing && onAbort !== undefined) {
      if (slot.timedOut === "write") {
        onAbort(
          client,
          inFlight,
          `write timeout: the client read nothing for ${tracker.writeTimeoutMs / 1000} s; ` +
            "connection closed and its buffers freed",
        );
      } else if (err instanceof ResponseAbortedError) {
        onAbort(client, inFlight, `${err.message}; connection closed`);
      }
    }
  } finally {
    slot.phase = "busy";
    if (slot.answered !== undefined) {
      await slot.answered; // the 408; then drain what the client still sends, bounded
      await drainInput(conn);
    } else if (linger) {
      await lingeringClose(conn);
    }
    closeQuietly(conn);
    tracker.remove(slot);
  }
}

function accessLogEntry(
  client: string,
  req: RequestHead | null,
  status: number,
  started: number,
  bytes: number,
): AccessLogEntry {
  return {
    time: started,
    client,
    method: req?.method ?? "-",
    target: req?.target ?? "-",
    version: req?.version ?? "-",
    status,
    bytes,
    ms: Date.now() - started,
    referer: req?.headers.get("referer") ?? null,
    userAgent: req?.headers.get("user-agent") ?? null,
  };
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
  await drainInput(conn);
}

/** Reads and drops input until EOF, {@link LINGER_MS} or {@link LINGER_MAX_BYTES}. */
async function drainInput(conn: Deno.Conn): Promise<void> {
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
  slot: ConnectionSlot,
  req: RequestHead | null,
  res: HttpResponse,
  keepAlive: boolean,
): Promise<number> {
  const omitBody = (req !== null && req.method === "HEAD") || statusHasNoContentLength(res.status);
  let body = res.body ?? null;
  if (typeof body === "string") body = textEncoder.encode(body);
  if (body === null || body instanceof Uint8Array) {
    const wire = encodeResponseHead({
      status: res.status,
      headers: res.headers,
      contentLength: body === null ? 0 : body.length,
      keepAlive,
    }, omitBody ? null : body);
    await send(conn, slot, wire);
    return omitBody || body === null ? 0 : body.length;
  }
  if ("file" in body) return await writeFileBody(conn, slot, res, body, keepAlive, omitBody);
  return await writeStreamBody(conn, slot, req, res, body, keepAlive, omitBody);
}

async function writeFileBody(
  conn: Deno.Conn,
  slot: ConnectionSlot,
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
      await send(conn, slot, encodeResponse(head));
      return 0;
    }
    if (body.offset) await file.seek(body.offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(Math.min(FILE_CHUNK_BYTES, length));
    let left = length;
    let first = true;
    while (left > 0) {
      let n: number | null;
      try {
        n = await file.read(buf.subarray(0, Math.min(left, buf.length)));
      } catch (err) {
        throw new ResponseAbortedError(
          "FILE_READ_FAILED",
          `file read failed after ${length - left} of ${length} bytes: ${describe(err)}`,
        );
      }
      // Shrunk (truncated) while being sent: the length in the head is now a lie, and
      // padding would send wrong bytes as if complete; closing short is the only honest end.
      if (n === null) {
        throw new ResponseAbortedError(
          "FILE_SHRANK",
          `file shrank while being sent: ended after ${length - left} of ${length} bytes`,
        );
      }
      const data = buf.subarray(0, n);
      // Head and first chunk in one write; then each chunk awaits the socket (backpressure).
      await send(conn, slot, first ? encodeResponse(head, data) : data);
      slot.bodyBytesSent += n;
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
  slot: ConnectionSlot,
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
  await send(conn, slot, encodeResponse(head));
  if (omitBody) return 0;
  let sent = 0;
  for await (const chunk of body.stream) {
    if (chunk.length === 0) continue;
    if (chunked) {
      await send(conn, slot, textEncoder.encode(`${chunk.length.toString(16)}\r\n`));
      await send(conn, slot, chunk);
      await send(conn, slot, textEncoder.encode("\r\n"));
    } else {
      await send(conn, slot, chunk);
    }
    sent += chunk.length;
    slot.bodyBytesSent = sent;
  }
  if (chunked) await send(conn, slot, textEncoder.encode("0\r\n\r\n"));
  if (length !== null && sent !== length) {
    throw new ResponseAbortedError(
      "STREAM_LENGTH_MISMATCH",
      `response stream ended after ${sent} of ${length} announced bytes`,
    );
  }
  return sent;
}

/**
 * Writes all of `data`, running the write clock: `since` moves on with every partial
 * write, so only a client that takes nothing for the write timeout is cut off. Between
 * writes (reading a file, producing a stream) the connection is "busy": no clock.
 */
async function send(conn: Deno.Conn, slot: ConnectionSlot, data: Uint8Array): Promise<void> {
  slot.phase = "write";
  slot.since = Date.now();
  let off = 0;
  while (off < data.length) {
    off += await conn.write(off === 0 ? data : data.subarray(off));
    slot.since = Date.now();
  }
  slot.phase = "busy";
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
