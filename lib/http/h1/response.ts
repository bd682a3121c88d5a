/**
 * Pure formatting of HTTP/1.1 response heads (RFC 9112 §4, RFC 9110 §6.6): status line,
 * the headers every sockit response carries (`Date`, `Server`, `Content-Length` or
 * `Transfer-Encoding`, `Connection`), the handler's own headers, and short error bodies.
 *
 * ```ts
 * const head = formatResponseHead({
 *   status: 200,
 *   headers: [["Content-Type", "text/plain; charset=utf-8"]],
 *   contentLength: 3,
 *   keepAlive: true,
 * });
 * const wire = encodeResponse(head, new TextEncoder().encode("hi\n")); // one write
 * ```
 *
 * @module
 */
import type { HeaderList, HttpResponse } from "../handler.ts";
import { currentHttpDate, SERVER_NAME } from "../semantics/date.ts";
import { statusText } from "../status.ts";

// Shared with HTTP/2; re-exported for the callers that know them from here.
export { currentHttpDate, SERVER_NAME };

/** What {@link formatResponseHead} needs. */
export interface ResponseHeadInit {
  status: number;
  /** Handler headers; must not repeat Date, Server, Content-Length, Connection. */
  headers?: HeaderList;
  /** Body length; null = unknown (then `chunked` or close-delimited). */
  contentLength: number | null;
  /** Send `Transfer-Encoding: chunked` (only when `contentLength` is null). */
  chunked?: boolean;
  keepAlive: boolean;
}

/** RFC 9110 §8.6: no Content-Length on 1xx and 204; 304 carries none either (as nginx). */
export function statusHasNoContentLength(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** The status line and header fields, ending with the empty line. */
export function formatResponseHead(init: ResponseHeadInit): string {
  let head = `HTTP/1.1 ${init.status} ${
    statusText(init.status)
  }\r\nServer: ${SERVER_NAME}\r\nDate: ${currentHttpDate()}\r\n`;
  const headers = init.headers;
  if (headers !== undefined) {
    for (let i = 0; i < headers.length; i++) head += `${headers[i][0]}: ${headers[i][1]}\r\n`;
  }
  if (!statusHasNoContentLength(init.status)) {
    if (init.contentLength !== null) head += `Content-Length: ${init.contentLength}\r\n`;
    else if (init.chunked) head += "Transfer-Encoding: chunked\r\n";
  }
  head += init.keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

const encoder = new TextEncoder();

interface EncodedAnswer {
  status: number;
  date: string;
  keepAlive: boolean;
  contentLength: number | null;
  body: Uint8Array | null;
  wire: Uint8Array;
}

/** The last encoded answer per frozen header list (a cached file's plain 200). */
const encodedAnswers = new WeakMap<readonly [string, string][], EncodedAnswer>();

/**
 * {@link formatResponseHead} + {@link encodeResponse}, with the bytes reused while nothing
 * in them changes: for a *frozen* header list (frozen, so it cannot have changed since) the
 * same status, body, length, keep-alive and Date second give the same bytes — the busiest
 * small file is then one write of a ready buffer, no string building, encoding or copy.
 * Any other list is formatted as usual.
 */
export function encodeResponseHead(
  init: ResponseHeadInit,
  body: Uint8Array | null,
): Uint8Array {
  const headers = init.headers;
  if (headers === undefined || !Object.isFrozen(headers)) {
    return encodeResponse(formatResponseHead(init), body);
  }
  const date = currentHttpDate();
  const last = encodedAnswers.get(headers);
  if (
    last !== undefined && last.date === date && last.body === body &&
    last.status === init.status && last.keepAlive === init.keepAlive &&
    last.contentLength === init.contentLength
  ) {
    return last.wire;
  }
  const wire = encodeResponse(formatResponseHead(init), body);
  encodedAnswers.set(headers, {
    status: init.status,
    date,
    keepAlive: init.keepAlive,
    contentLength: init.contentLength,
    body,
    wire,
  });
  return wire;
}

/** Head and body in one buffer, so a small response is one write (and one TCP segment). */
export function encodeResponse(head: string, body?: Uint8Array | null): Uint8Array {
  if (body === undefined || body === null || body.length === 0) return encoder.encode(head);
  let out = new Uint8Array(head.length + body.length);
  let { read, written } = encoder.encodeInto(head, out);
  if (read < head.length || written + body.length > out.length) {
    // A non-ASCII header value: UTF-8 needs more than one byte per char.
    out = new Uint8Array(head.length * 3 + body.length);
    ({ read, written } = encoder.encodeInto(head, out));
  }
  out.set(body, written);
  return written + body.length === out.length ? out : out.subarray(0, written + body.length);
}

/** `HTTP/1.1 100 Continue` (RFC 9110 §15.2.1), sent before reading an expected body. */
export const CONTINUE_RESPONSE: Uint8Array = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");

/**
 * A whole `Connection: close` answer with a bytes or string body, for refusals written
 * outside the connection loop (the 408 of a timeout, the 503 over `--max-connections`).
 */
export function encodeClosingResponse(res: HttpResponse): Uint8Array {
  const body = typeof res.body === "string"
    ? encoder.encode(res.body)
    : res.body instanceof Uint8Array
    ? res.body
    : null;
  const head = formatResponseHead({
    status: res.status,
    headers: res.headers,
    contentLength: body === null ? 0 : body.length,
    keepAlive: false,
  });
  return encodeResponse(head, body);
}
