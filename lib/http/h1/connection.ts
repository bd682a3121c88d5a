/**
 * One HTTP/1.1 connection, end to end: read a request head through the framing module
 * (refusing bytes that cannot start a request as soon as they arrive), parse it (pure,
 * `request.ts`), hand it to a {@link Handler}, keep the body framing in sync (read or
 * discard the body, `body.ts`), write the response (`writer.ts`), and repeat while the
 * connection is persistent. Pipelined requests are answered in order simply because the
 * loop reads the next head only after the previous response is written. Clocks live in
 * `timeouts.ts`.
 *
 * ```ts
 * import type { Handler } from "../handler.ts";
 * import { serveConnection } from "./connection.ts";
 * import { ConnectionTracker } from "./timeouts.ts";
 * const handler: Handler = (req) => ({ status: 200, body: `you asked for ${req.path}\n` });
 * const tracker = new ConnectionTracker();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * for await (const conn of listener) serveConnection(conn, handler, { tracker });
 * ```
 *
 * @module
 */
import { BufferedReader, CRLFCRLF, FramingError, LineTooLongError } from "../../framing.ts";
import { closeQuietly, drainInput, lingeringClose } from "../../net/linger.ts";
import { errorResponse, HttpError } from "../errors.ts";
import {
  type AccessLogEntry,
  type Handler,
  type HttpResponse,
  releaseBody,
  type RequestContext,
  type RequestHead,
} from "../handler.ts";
import { bodyTooLarge, Http1RequestBody } from "./body.ts";
import {
  checkRequestLinePrefix,
  DEFAULT_REQUEST_LIMITS,
  parseRequestHead,
  type RequestLimits,
} from "./request.ts";
import type { ConnectionSlot, ConnectionTracker } from "./timeouts.ts";
import { ResponseAbortedError, writeResponse } from "./writer.ts";

const LF = 0x0a;

/**
 * Read buffer a connection starts with: a typical request head fits (it grows for bigger
 * ones), and a connection waiting for its next request holds no more than this — 1000
 * idle keep-alive connections cost ~2 MiB of buffers instead of 16 MiB.
 */
export const HEAD_READ_BUFFER_BYTES = 2 * 1024;

/** Room made for a request body before reading it, so uploads arrive in big reads. */
export const BODY_READ_BUFFER_BYTES = 64 * 1024;

export type { AccessLogEntry };

/** Options for {@link serveConnection}. */
export interface ConnectionOptions {
  tracker: ConnectionTracker;
  limits?: Readonly<RequestLimits>;
  /** Called with each raw request head as it arrived (`--trace`). */
  onHead?: (client: string, head: Uint8Array) => void;
  /** Called once per answered request (access log, metrics), unless it is `untracked`. */
  onRequest?: (entry: AccessLogEntry) => void;
  /** Called when a handler throws something that is not an HttpError. */
  onInternalError?: (req: RequestHead, error: unknown) => void;
  /**
   * Called when a response was cut off by the server: the write timeout fired, or the file
   * being sent shrank or failed to read. `req` is the request being answered.
   */
  onAbort?: (client: string, req: RequestHead | null, reason: string) => void;
}

/** Maps a head that overran `maxHeaderBytes` to 414 (request line) or 431 (fields). */
function headTooLargeError(reader: BufferedReader, limits: Readonly<RequestLimits>): HttpError {
  const buffered = reader.peekBuffered();
  const lineEnd = buffered.subarray(0, limits.maxRequestLineBytes + 2).indexOf(LF);
  return lineEnd === -1
    ? new HttpError(414, "URI_TOO_LONG", "request line too long", { close: true })
    : new HttpError(431, "HEADERS_TOO_LARGE", "request header block too large", { close: true });
}

/**
 * A connection whose first bytes were already read to pick the protocol (`server/` sniffs
 * for the HTTP/2 preface): its reader, holding them, and its tracker slot.
 */
export interface ConnectionStart {
  reader: BufferedReader;
  slot: ConnectionSlot;
}

/**
 * Serves one connection until the client closes it, it idles out, an error forces a
 * close, or the server shuts down. Never throws; always closes `conn`.
 */
export async function serveConnection(
  conn: Deno.Conn,
  handler: Handler,
  options: ConnectionOptions,
  start?: ConnectionStart,
): Promise<void> {
  const { tracker, onHead, onRequest, onInternalError, onAbort } = options;
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  const slot = start?.slot ?? tracker.add(conn);
  const reader = start?.reader ??
    new BufferedReader(conn, { initialBufferBytes: HEAD_READ_BUFFER_BYTES });
  const remoteAddr = conn.remoteAddr as Deno.NetAddr;
  const client = remoteAddr.hostname ?? "-";
  let linger = false;
  // The response being written: if the connection dies under it, it is still logged,
  // with the bytes that did go out (as nginx does), so a cut download shows in the log.
  let writing = false;
  let inFlight: RequestHead | null = null;
  let inFlightStatus = 0;
  let inFlightStarted = 0;
  let inFlightTracked = true;
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
        slot.phase = "keep-alive";
        slot.since = Date.now();
        if (reader.buffered === 0) {
          reader.shrink(); // a body's big buffer is not kept while the connection waits
          if (!(await reader.fill())) return; // closed between requests
        }
        slot.phase = "head";
        slot.since = Date.now();
        headBytes = await reader.readUntil(CRLFCRLF, {
          maxBytes: limits.maxHeaderBytes,
          checkPartial: checkRequestLinePrefix,
        });
        slot.phase = "busy";
        if (headBytes === null || slot.timedOut !== null) return;
        started = Date.now();
        onHead?.(client, headBytes);
        req = parseRequestHead(headBytes, limits);
        if (req.body.kind === "length" && req.body.length > limits.maxBodyBytes) {
          throw bodyTooLarge();
        }
        if (req.body.kind !== "none") reader.reserve(BODY_READ_BUFFER_BYTES);
        const body = new Http1RequestBody(reader, conn, req, limits.maxBodyBytes, slot);
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
            releaseBody(response.body); // the prepared answer is replaced or abandoned
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
          if (started === 0) started = Date.now(); // refused while the head was arriving
          slot.phase = "busy";
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
        releaseBody(response.body); // a 408 already went out for this request
        return;
      }
      writing = true;
      inFlight = req;
      inFlightStatus = response.status;
      inFlightStarted = started;
      inFlightTracked = response.untracked !== true;
      slot.bodyBytesSent = 0;
      const sent = await writeResponse(conn, slot, req, response, keepAlive);
      writing = false;
      if (inFlightTracked) onRequest?.(accessLogEntry(client, req, response.status, started, sent));
      // Shutdown may have begun while this response was being written.
      if (!keepAlive || tracker.closing) return;
    }
  } catch (err) {
    // A socket error (reset, broken pipe), the write timeout, or a file that shrank
    // mid-response: the connection cannot continue and there is nobody left to answer.
    // A vanished client is routine; the rest is worth a log line.
    linger = false;
    if (writing && inFlightTracked) {
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

/** A stream of unknown length to an HTTP/1.0 client can only end by closing. */
function isCloseDelimited(req: RequestHead, res: HttpResponse): boolean {
  const body = res.body;
  return req.version === "HTTP/1.0" && typeof body === "object" && body !== null &&
    "stream" in body && (body.length ?? null) === null;
}
