/**
 * Typed HTTP errors: every way a request can be refused, with its status, a stable `code`
 * to branch on (tests, logs, metrics) and whether the connection must be closed after the
 * answer (request-smuggling defence: once the framing of a message is in doubt, nothing
 * after it on the same connection can be trusted).
 *
 Every refusal, from the wire parser or a feature, becomes a response in one place,
 * {@link errorResponse}, with the one short text body {@link textResponse} makes; middleware
 * (CORS, extra headers) therefore only ever sees responses.
 *
 * ```ts
 * import { errorResponse, HttpError } from "./errors.ts";
 * const err = new HttpError(400, "OBS_FOLD", "obsolete line folding in header block", {
 *   close: true,
 * });
 * errorResponse(err).body; // "400 Bad Request: obsolete line folding in header block\n"
 * ```
 *
 * @module
 */
import type { HeaderList, HttpResponse } from "./handler.ts";
import { statusText } from "./status.ts";

/** Stable codes for refused requests. */
export type HttpErrorCode =
  // 400: the request line or a header line does not parse.
  | "BAD_REQUEST_LINE"
  | "BAD_TARGET"
  | "BAD_PERCENT_ENCODING"
  | "BAD_HEADER"
  | "HEADER_NAME_WHITESPACE"
  | "OBS_FOLD"
  | "MISSING_HOST"
  | "DUPLICATE_HOST"
  // 400 + close: the body framing is ambiguous (RFC 9112 §6.3, §11.2).
  | "CONTENT_LENGTH_AND_TRANSFER_ENCODING"
  | "DUPLICATE_CONTENT_LENGTH"
  | "BAD_CONTENT_LENGTH"
  | "BAD_TRANSFER_ENCODING"
  | "BAD_CHUNK"
  // Size limits.
  | "URI_TOO_LONG"
  | "HEADERS_TOO_LARGE"
  | "TOO_MANY_HEADERS"
  | "BODY_TOO_LARGE"
  // Understood but not served.
  | "METHOD_NOT_IMPLEMENTED"
  | "TRANSFER_CODING_NOT_IMPLEMENTED"
  | "EXPECTATION_FAILED"
  | "VERSION_NOT_SUPPORTED"
  // Handler-level answers.
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "METHOD_NOT_ALLOWED"
  // 503: a bounded resource is in use by other clients.
  | "BUSY"
  | "INTERNAL";

/** Options for {@link HttpError}. */
export interface HttpErrorOptions {
  /** Close the connection after answering (framing cannot be trusted any more). */
  close?: boolean;
  /** Extra response headers, e.g. `Allow` for 405. */
  headers?: [string, string][];
}

/** A request refused with `status`; `message` is safe to show to the client. */
export class HttpError extends Error {
  readonly close: boolean;
  readonly headers: [string, string][];

  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.close = options.close ?? false;
    this.headers = options.headers ?? [];
  }
}

/** Short plain-text error body: "404 Not Found\n" or "400 Bad Request: why\n". */
export function errorBody(status: number, message?: string): string {
  const reason = statusText(status);
  return message && message !== reason
    ? `${status} ${reason}: ${message}\n`
    : `${status} ${reason}\n`;
}

/**
 * The short plain-text answer every refusal uses: `status`, {@link errorBody} of `message`,
 * `text/plain` and `nosniff`, after `headers` (e.g. `Allow`, `WWW-Authenticate`).
 */
export function textResponse(
  status: number,
  message?: string,
  headers: HeaderList = [],
): HttpResponse {
  return {
    status,
    headers: [
      ...headers,
      ["Content-Type", "text/plain; charset=utf-8"],
      ["X-Content-Type-Options", "nosniff"],
    ],
    body: errorBody(status, message),
  };
}

/** The response for a thrown {@link HttpError}: its status, message, headers and close. */
export function errorResponse(err: HttpError): HttpResponse {
  return { ...textResponse(err.status, err.message, err.headers), close: err.close };
}
