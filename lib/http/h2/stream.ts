/**
 * One HTTP/2 stream's life after its headers arrived: the handler runs (or the refusal
 * decided while opening it is used), the response goes out on the stream's output, a
 * request body the client was still sending is cut with RST_STREAM(NO_ERROR) (RFC 9113
 * §8.1), and the access log gets its line — the same fields as over HTTP/1.1, version
 * "HTTP/2". Also the connection's option types.
 *
 * ```ts
 * import { traceText } from "./stream.ts";
 * const head = {
 *   method: "GET", target: "/", version: "HTTP/2" as const, rawPath: "/", path: "/", query: "",
 *   host: "h", headers: new Map(), keepAlive: true, body: { kind: "none" as const },
 *   expectContinue: false,
 * };
 * console.log(new TextDecoder().decode(traceText(head))); // "GET / HTTP/2\r\nhost: h\r\n\r\n"
 * ```
 *
 * @module
 */
import { errorResponse, HttpError, textResponse } from "../errors.ts";
import {
  type AccessLogEntry,
  type Handler,
  type HttpResponse,
  releaseBody,
  type RequestHead,
} from "../handler.ts";
import { H2RequestBody, StreamGoneError } from "./body.ts";
import type { H2Clock } from "./clock.ts";
import { SendWindow } from "./flow.ts";
import { STREAM_RECEIVE_WINDOW } from "./settings.ts";
import type { ErrorCodeName } from "./frames.ts";
import { requestHeadFromFields } from "./request.ts";
import {
  H2ResponseAbortedError,
  type OutputContext,
  StreamOutput,
  writeH2Response,
} from "./response.ts";

const textEncoder = new TextEncoder();

/** Options of an HTTP/2 connection (`connection.ts`). */
export interface H2ConnectionOptions {
  /** The tracker's clock of this connection (see `clock.ts`). */
  clock: H2Clock;
  /** Decoded header list size (SETTINGS_MAX_HEADER_LIST_SIZE) → 431 past it. */
  maxHeaderListSize?: number;
  /** Header fields per request → 431 past it. */
  maxHeaderFields?: number;
  /** `--max-body` → 413 past it. */
  maxBodyBytes?: number;
  /** `--trace`: each request's header list, as text. */
  onHead?: (client: string, head: Uint8Array) => void;
  onRequest?: (entry: AccessLogEntry) => void;
  onInternalError?: (req: RequestHead, error: unknown) => void;
  onAbort?: (client: string, req: RequestHead | null, reason: string) => void;
}

export interface H2Stream {
  id: number;
  body: H2RequestBody;
  out: StreamOutput;
  /** END_STREAM received, or the stream was reset. */
  remoteClosed: boolean;
  /** Receive window left on this stream. */
  recvWindow: number;
}

/** What a stream needs from its connection. */
export interface StreamContext {
  handler: Handler;
  remoteAddr(): Deno.NetAddr;
  client(): string;
  options(): H2ConnectionOptions;
  /** Sends RST_STREAM and forgets the stream's input. */
  reset(id: number, code: ErrorCodeName): void;
  /** True once the socket failed (nothing more can be written). */
  writerFailed(): boolean;
}

/** What {@link createStream} needs. */
export interface NewStream {
  id: number;
  /** The HEADERS frame ended the stream (no body). */
  endStream: boolean;
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE now. */
  sendWindow: number;
  maxBodyBytes: number;
  expectedLength: number | null;
  output: OutputContext;
  returnCredit: (n: number) => void;
  onBodyWait: (waiting: boolean) => void;
}

/** A stream just opened by HEADERS: its output, its body, its receive window. */
export function createStream(init: NewStream): H2Stream {
  const stream: H2Stream = {
    id: init.id,
    remoteClosed: init.endStream,
    recvWindow: STREAM_RECEIVE_WINDOW,
    out: new StreamOutput(init.id, new SendWindow(init.sendWindow), init.output),
    body: new H2RequestBody({
      streamId: init.id,
      maxBytes: init.maxBodyBytes,
      expectedLength: init.expectedLength,
      returnCredit: init.returnCredit,
      onWait: init.onBodyWait,
    }),
  };
  if (init.endStream) stream.body.end();
  return stream;
}

/** A request's head, or the answer that refuses it before any handler runs. */
export interface Admission {
  head: RequestHead | null;
  refusal: HttpResponse | null;
}

/**
 * Pure: decoded fields (null: over the header list size) → the request head, or 431 / 413
 * / a 400 for a path that cannot be served. A malformed request throws H2StreamError.
 */
export function admitRequest(
  fields: readonly [string, string][] | null,
  streamId: number,
  endStream: boolean,
  limits: { maxHeaderFields: number; maxBodyBytes: number },
): Admission {
  // Pseudo-headers (at most 4) are not counted: the limit is HTTP/1.1's field count.
  const regular = fields?.filter(([name]) => name.charCodeAt(0) !== 0x3a).length ?? 0;
  if (fields === null || regular > limits.maxHeaderFields) {
    return { head: null, refusal: textResponse(431, "request header fields too large") };
  }
  let head: RequestHead;
  try {
    head = requestHeadFromFields(fields, streamId, endStream);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { head: null, refusal: errorResponse(err) };
  }
  if (head.body.kind === "length" && head.body.length > limits.maxBodyBytes) {
    return { head, refusal: textResponse(413, "request body too large") };
  }
  return { head, refusal: null };
}

/** Runs one stream: the handler (or the refusal), then its response, then its log line. */
export async function runStream(
  ctx: StreamContext,
  stream: H2Stream,
  head: RequestHead | null,
  refusal: HttpResponse | null,
): Promise<void> {
  const options = ctx.options();
  const started = Date.now();
  let response = refusal;
  if (response === null) {
    try {
      response = await ctx.handler(head!, { remoteAddr: ctx.remoteAddr(), body: stream.body });
    } catch (err) {
      if (err instanceof StreamGoneError) return;
      if (err instanceof HttpError) response = errorResponse(err);
      else {
        options.onInternalError?.(head!, err);
        response = textResponse(500, "internal error");
      }
    }
  }
  if (stream.out.gone !== null) {
    releaseBody(response.body); // reset while the handler ran: nobody to answer
    return;
  }
  let sent = 0;
  try {
    sent = await writeH2Response(stream.out, head, response);
  } catch (err) {
    sent = stream.out.bytesSent;
    if (err instanceof H2ResponseAbortedError) {
      options.onAbort?.(ctx.client(), head, `${err.message}; stream reset`);
      ctx.reset(stream.id, "INTERNAL_ERROR");
    } else if (!(err instanceof StreamGoneError) && !ctx.writerFailed()) {
      ctx.reset(stream.id, "INTERNAL_ERROR");
    }
  }
  if (!stream.remoteClosed) {
    // Answered before the request was complete (413, 401…): the client may stop
    // sending (RFC 9113 §8.1), and what it still sends is credited back, not read.
    ctx.reset(stream.id, "NO_ERROR");
  }
  if (response.untracked !== true) {
    options.onRequest?.({
      time: started,
      client: ctx.client(),
      method: head?.method ?? "-",
      target: head?.target ?? "-",
      version: "HTTP/2",
      status: response.status,
      bytes: sent,
      ms: Date.now() - started,
      referer: head?.headers.get("referer") ?? null,
      userAgent: head?.headers.get("user-agent") ?? null,
    });
  }
}

/** A request as `--trace` shows it: an HTTP/1.1-like head, so the same redaction applies. */
export function traceText(head: RequestHead): Uint8Array {
  let text = `${head.method} ${head.target} HTTP/2\r\n`;
  if (head.host !== null) text += `host: ${head.host}\r\n`;
  for (const [name, value] of head.headers) text += `${name}: ${value}\r\n`;
  return textEncoder.encode(`${text}\r\n`);
}
