/**
 * An HTTP/2 request's decoded header list turned into the {@link RequestHead} every handler
 * already takes (RFC 9113 §8.2-8.3), pure: pseudo-headers first and once each (`:method`,
 * `:scheme`, `:path`, `:authority` → `host`), lowercase names, no connection-specific
 * fields, `te` only "trailers", one valid content-length. A malformed request is a
 * PROTOCOL_ERROR stream error (§8.1.1); a bad path or percent-encoding is a 400 answer.
 *
 * ```ts
 * import { requestHeadFromFields } from "./request.ts";
 * const head = requestHeadFromFields([
 *   [":method", "GET"], [":scheme", "https"], [":path", "/a%20b?x=1"], [":authority", "h"],
 * ], 1, true);
 * console.log(head.path, head.query, head.host, head.version); // "/a b" "x=1" "h" "HTTP/2"
 * ```
 *
 * @module
 */
import { HttpError } from "../errors.ts";
import type { BodyFraming, RequestHead } from "../handler.ts";
import { percentDecode } from "../semantics/target.ts";
import { H2StreamError } from "./frames.ts";

/** Fields that mean something only to one HTTP/1.1 connection (§8.2.2): refused. */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

function malformed(streamId: number, why: string): never {
  throw new H2StreamError("PROTOCOL_ERROR", streamId, `malformed request: ${why}`);
}

function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // Lowercase token characters only (§8.2.1); uppercase makes the request malformed.
    if (c <= 0x20 || c >= 0x7f || (c >= 0x41 && c <= 0x5a) || c === 0x3a) return false;
  }
  return true;
}

function validValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return value.length === 0 ||
    (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09);
}

/**
 * Builds the request head of stream `streamId` from its decoded fields. `endStream`: the
 * HEADERS frame ended the stream (no body). Throws {@link H2StreamError} for a malformed
 * request and {@link HttpError} 400 for a path that cannot be served.
 */
export function requestHeadFromFields(
  fields: readonly [string, string][],
  streamId: number,
  endStream: boolean,
): RequestHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let regularSeen = false;
  const headers = new Map<string, string>();
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (regularSeen) malformed(streamId, "pseudo-header after a regular field");
      if (name === ":method" && method === undefined) method = value;
      else if (name === ":scheme" && scheme === undefined) scheme = value;
      else if (name === ":path" && path === undefined) path = value;
      else if (name === ":authority" && authority === undefined) authority = value;
      else malformed(streamId, `unknown or repeated pseudo-header ${name}`);
      continue;
    }
    regularSeen = true;
    if (!validName(name)) malformed(streamId, "field name not a lowercase token");
    if (!validValue(value)) malformed(streamId, `invalid value in ${name}`);
    if (CONNECTION_SPECIFIC.has(name)) malformed(streamId, `connection-specific field ${name}`);
    if (name === "te" && value !== "trailers") malformed(streamId, "te other than trailers");
    const prior = headers.get(name);
    // Cookie may arrive split into many fields; they join with "; " (§8.2.3).
    headers.set(
      name,
      prior === undefined ? value : `${prior}${name === "cookie" ? "; " : ", "}${value}`,
    );
  }
  if (method === undefined || method.length === 0) malformed(streamId, "no :method");
  if (method === "CONNECT") {
    throw new HttpError(405, "METHOD_NOT_ALLOWED", "CONNECT is not served here");
  }
  if (scheme === undefined || path === undefined || path.length === 0) {
    malformed(streamId, "no :scheme or :path");
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) {
      throw new HttpError(400, "BAD_TARGET", "invalid character in :path");
    }
  }
  let rawPath: string;
  let query = "";
  if (path === "*") {
    if (method !== "OPTIONS") malformed(streamId, "'*' :path is only valid for OPTIONS");
    rawPath = "*";
  } else {
    if (path.charCodeAt(0) !== 0x2f) malformed(streamId, ":path does not start with '/'");
    const q = path.indexOf("?");
    rawPath = q === -1 ? path : path.slice(0, q);
    query = q === -1 ? "" : path.slice(q + 1);
  }
  const body = bodyFraming(headers.get("content-length"), streamId, endStream);
  return {
    method,
    target: path,
    version: "HTTP/2",
    rawPath,
    path: rawPath === "*" ? "*" : percentDecode(rawPath),
    query,
    // :authority is the host (§8.3.1); Host only when a client sent no :authority.
    host: authority ?? headers.get("host") ?? null,
    headers,
    // Every stream ends on its own; the connection stays (h1's keep-alive has no meaning).
    keepAlive: true,
    body,
    // DATA flows as the window allows; nothing waits for a 100 Continue.
    expectContinue: false,
  };
}

function bodyFraming(
  contentLength: string | undefined,
  streamId: number,
  endStream: boolean,
): BodyFraming {
  if (contentLength === undefined) return endStream ? { kind: "none" } : { kind: "chunked" };
  if (!/^[0-9]{1,15}$/.test(contentLength)) malformed(streamId, "invalid content-length");
  const length = Number(contentLength);
  if (endStream && length !== 0) malformed(streamId, "content-length but no DATA");
  return length === 0 && endStream ? { kind: "none" } : { kind: "length", length };
}
