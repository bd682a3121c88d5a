/**
 * Status codes sockit sends and their reason phrases (RFC 9110 §15).
 *
 * ```ts
 * import { statusText } from "./status.ts";
 * statusText(404); // "Not Found"
 * ```
 *
 * @module
 */

/** Reason phrases for the statuses sockit sends (RFC 9110 §15). */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
  507: "Insufficient Storage",
});

/** Reason phrase for `status` ("Unknown" for codes not in {@link STATUS_TEXT}). */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "Unknown";
}
