/**
 * Pure HTTP/1.1 request-head parsing (RFC 9112 §2–§7, RFC 9110): bytes in, a
 * {@link RequestHead} out, or an {@link HttpError} saying exactly why not. No I/O here:
 * `connection.ts` reads the head up to CRLFCRLF through the framing module and hands the
 * bytes over, so every strictness rule is unit-testable on its own.
 *
 * ```ts
 * const head = parseRequestHead(new TextEncoder().encode(
 *   "GET /a%20b?x=1 HTTP/1.1\r\nHost: example\r\n\r\n",
 * ));
 * head.path; // "/a b"   (percent-decoded exactly once)
 * head.query; // "x=1"
 * head.keepAlive; // true (HTTP/1.1 default)
 * ```
 *
 * Strictness is deliberate: anything that could make two parsers disagree about where a
 * message ends (obs-fold, whitespace before a colon, Content-Length together with
 * Transfer-Encoding, conflicting Content-Lengths) is refused with 400 and `close`, the
 * standard request-smuggling defence (RFC 9112 §11.2).
 *
 * @module
 */
import { percentDecode } from "../semantics/target.ts";
import { isTchar, isToken } from "../semantics/tokens.ts";
import { HttpError } from "../errors.ts";
import type { BodyFraming, RequestHead } from "../handler.ts";

/** Longest request line (method, target, version; CRLF excluded) → 414 beyond it. */
export const MAX_REQUEST_LINE_BYTES = 8 * 1024;
/** Largest whole head (request line + header fields + CRLFCRLF) → 431 beyond it. */
export const MAX_HEADER_BYTES = 32 * 1024;
/** Most header field lines in one request → 431 beyond it. */
export const MAX_HEADER_FIELDS = 100;
/** Largest request body read (and discarded) → 413 and close beyond it (nginx's 1m). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The size limits a request is held to; every one has a named default above. */
export interface RequestLimits {
  maxRequestLineBytes: number;
  maxHeaderBytes: number;
  maxHeaderFields: number;
  maxBodyBytes: number;
}

/** The defaults: {@link MAX_REQUEST_LINE_BYTES} and friends. */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxRequestLineBytes: MAX_REQUEST_LINE_BYTES,
  maxHeaderBytes: MAX_HEADER_BYTES,
  maxHeaderFields: MAX_HEADER_FIELDS,
  maxBodyBytes: MAX_BODY_BYTES,
});

const NO_BODY: BodyFraming = Object.freeze({ kind: "none" });

/** The decoded parts of a request-target (RFC 9112 §3.2). */
export interface DecodedTarget {
  rawPath: string;
  path: string;
  query: string;
  /** Authority of an absolute-form target, else null. */
  authority: string | null;
}

const HT = 0x09;
const SP = 0x20;

// windows-1252 is what the WHATWG "latin1" label gives: one char per byte, never throws.
const latin1 = new TextDecoder("latin1");

function badRequest(code: "BAD_REQUEST_LINE" | "BAD_HEADER" | "BAD_TARGET", msg: string): never {
  throw new HttpError(400, code, msg, { close: true });
}

/**
 * Parses one request head (request line, header fields, the empty line). Leading empty
 * lines are skipped (RFC 9112 §2.2). Throws {@link HttpError} with the right status; every
 * error from here has `close: true`, because the message framing is not known to be sane.
 */
export function parseRequestHead(
  bytes: Uint8Array,
  limits: Readonly<RequestLimits> = DEFAULT_REQUEST_LIMITS,
): RequestHead {
  if (bytes.length > limits.maxHeaderBytes) {
    throw new HttpError(431, "HEADERS_TOO_LARGE", "request header block too large", {
      close: true,
    });
  }
  const text = latin1.decode(bytes);
  let pos = 0;
  while (text.startsWith("\r\n", pos)) pos += 2;

  // --- request line: method SP request-target SP HTTP-version (RFC 9112 §3) ---
  const lineEnd = text.indexOf("\r\n", pos);
  if (lineEnd === -1 || lineEnd === pos) badRequest("BAD_REQUEST_LINE", "missing request line");
  if (lineEnd - pos > limits.maxRequestLineBytes) {
    throw new HttpError(414, "URI_TOO_LONG", "request line too long", { close: true });
  }
  const sp1 = text.indexOf(" ", pos);
  const sp2 = sp1 === -1 || sp1 > lineEnd ? -1 : text.indexOf(" ", sp1 + 1);
  if (sp2 === -1 || sp2 > lineEnd) badRequest("BAD_REQUEST_LINE", "malformed request line");
  const sp3 = text.indexOf(" ", sp2 + 1);
  if (sp3 !== -1 && sp3 < lineEnd) badRequest("BAD_REQUEST_LINE", "malformed request line");
  const method = text.slice(pos, sp1);
  const target = text.slice(sp1 + 1, sp2);
  const versionText = text.slice(sp2 + 1, lineEnd);
  if (!isToken(method)) badRequest("BAD_REQUEST_LINE", "malformed method");
  if (target.length === 0) badRequest("BAD_REQUEST_LINE", "empty request target");
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // Visible US-ASCII only; '#' never belongs in a request-target (RFC 3986 fragment).
    if (c <= SP || c >= 0x7f || c === 0x23) {
      badRequest("BAD_TARGET", "invalid character in request target");
    }
  }
  if (
    versionText.length !== 8 || !versionText.startsWith("HTTP/") ||
    !isDigit(versionText.charCodeAt(5)) || versionText.charCodeAt(6) !== 0x2e ||
    !isDigit(versionText.charCodeAt(7))
  ) {
    badRequest("BAD_REQUEST_LINE", "malformed HTTP version");
  }
  if (versionText !== "HTTP/1.1" && versionText !== "HTTP/1.0") {
    throw new HttpError(505, "VERSION_NOT_SUPPORTED", `${versionText} is not supported`, {
      close: true,
    });
  }
  const version = versionText as "HTTP/1.1" | "HTTP/1.0";

  // --- header fields (RFC 9112 §5) ---
  const headers = new Map<string, string>();
  let fields = 0;
  let hostCount = 0;
  let contentLength = -1;
  let transferEncoding: string | null = null;
  pos = lineEnd + 2;
  for (;;) {
    const end = text.indexOf("\r\n", pos);
    if (end === -1) badRequest("BAD_HEADER", "header block not terminated by an empty line");
    if (end === pos) break;
    if (++fields > limits.maxHeaderFields) {
      throw new HttpError(431, "TOO_MANY_HEADERS", "too many header fields", { close: true });
    }
    const first = text.charCodeAt(pos);
    if (first === SP || first === HT) {
      throw new HttpError(400, "OBS_FOLD", "obsolete line folding in header block", {
        close: true,
      });
    }
    const colon = text.indexOf(":", pos);
    if (colon === -1 || colon > end || colon === pos) {
      badRequest("BAD_HEADER", "header line without a field name and colon");
    }
    for (let i = pos; i < colon; i++) {
      const c = text.charCodeAt(i);
      if (c === SP || c === HT) {
        throw new HttpError(
          400,
          "HEADER_NAME_WHITESPACE",
          "whitespace between header field name and colon",
          { close: true },
        );
      }
      if (!isTchar(c)) badRequest("BAD_HEADER", "invalid header field name");
    }
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
    for (let i = vs; i < ve; i++) {
      const c = text.charCodeAt(i);
      // CTLs other than HTAB (a bare CR or LF inside a line lands here too).
      if ((c < SP && c !== HT) || c === 0x7f) {
        badRequest("BAD_HEADER", "invalid character in header field value");
      }
    }
    const name = text.slice(pos, colon).toLowerCase();
    const value = text.slice(vs, ve);
    pos = end + 2;

    if (name === "content-length") {
      contentLength = mergeContentLength(contentLength, value);
    } else if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (name === "host") {
      if (++hostCount > 1) {
        throw new HttpError(400, "DUPLICATE_HOST", "more than one Host header field", {
          close: true,
        });
      }
      if (!isValidHost(value)) {
        throw new HttpError(400, "BAD_HEADER", "invalid Host header field", { close: true });
      }
    }
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
  }

  // RFC 9112 §3.2: a 1.1 request without Host is refused.
  if (version === "HTTP/1.1" && hostCount === 0) {
    throw new HttpError(400, "MISSING_HOST", "HTTP/1.1 request without Host header", {
      close: true,
    });
  }
  const decoded = decodeTarget(target, method);

  // --- body framing (RFC 9112 §6) ---
  let body: BodyFraming = NO_BODY;
  if (transferEncoding !== null) {
    if (contentLength !== -1) {
      throw new HttpError(
        400,
        "CONTENT_LENGTH_AND_TRANSFER_ENCODING",
        "both Content-Length and Transfer-Encoding",
        { close: true },
      );
    }
    if (version === "HTTP/1.0") {
      throw new HttpError(400, "BAD_TRANSFER_ENCODING", "Transfer-Encoding in HTTP/1.0", {
        close: true,
      });
    }
    body = transferCodingFraming(transferEncoding);
  } else if (contentLength > 0) {
    body = { kind: "length", length: contentLength };
  }

  // --- connection persistence (RFC 9112 §9.3) and expectations (RFC 9110 §10.1.1) ---
  let keepAlive = version === "HTTP/1.1";
  const connection = headers.get("connection");
  if (connection !== undefined) {
    for (const token of connection.split(",")) {
      const t = token.trim().toLowerCase();
      if (t === "close") {
        keepAlive = false;
        break;
      }
      if (t === "keep-alive" && version === "HTTP/1.0") keepAlive = true;
    }
  }
  let expectContinue = false;
  const expect = headers.get("expect");
  if (expect !== undefined && version === "HTTP/1.1") {
    if (expect.trim().toLowerCase() !== "100-continue") {
      throw new HttpError(417, "EXPECTATION_FAILED", "only Expect: 100-continue is supported", {
        close: true,
      });
    }
    expectContinue = body.kind !== "none";
  }

  return {
    method,
    target,
    version,
    rawPath: decoded.rawPath,
    path: decoded.path,
    query: decoded.query,
    host: decoded.authority ?? headers.get("host") ?? null,
    headers,
    keepAlive,
    body,
    expectContinue,
  };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isOws(c: number): boolean {
  return c === SP || c === HT;
}

/** Longest decimal Content-Length accepted: 15 digits stays a safe integer. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * Folds one Content-Length field value into what was seen before (-1 = none yet).
 * RFC 9112 §6.3: a list of identical values may be accepted as one; anything else is
 * unrecoverable framing → 400 and close.
 */
function mergeContentLength(previous: number, value: string): number {
  let result = previous;
  for (const part of value.split(",")) {
    const digits = part.trim();
    if (digits.length === 0 || digits.length > MAX_CONTENT_LENGTH_DIGITS) {
      throw new HttpError(400, "BAD_CONTENT_LENGTH", "invalid Content-Length", { close: true });
    }
    for (let i = 0; i < digits.length; i++) {
      if (!isDigit(digits.charCodeAt(i))) {
        throw new HttpError(400, "BAD_CONTENT_LENGTH", "invalid Content-Length", {
          close: true,
        });
      }
    }
    const n = Number(digits);
    if (result !== -1 && result !== n) {
      throw new HttpError(400, "DUPLICATE_CONTENT_LENGTH", "conflicting Content-Length values", {
        close: true,
      });
    }
    result = n;
  }
  return result;
}

/** RFC 9112 §6.3 rule 4: chunked must be the final coding; we decode no other. */
function transferCodingFraming(value: string): BodyFraming {
  const codings = value.split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "");
  if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
    throw new HttpError(400, "BAD_TRANSFER_ENCODING", "chunked must be the final transfer coding", {
      close: true,
    });
  }
  if (codings.length > 1) {
    throw new HttpError(
      501,
      "TRANSFER_CODING_NOT_IMPLEMENTED",
      `transfer coding ${codings[0]} is not implemented`,
      { close: true },
    );
  }
  return { kind: "chunked" };
}

/** Host = uri-host [":" port]; refuse what could never be one (RFC 9110 §7.2). */
function isValidHost(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (
      c <= SP || c >= 0x7f || c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */ ||
      c === 0x40 /* @ */ || c === 0x5c /* \ */
    ) {
      return false;
    }
  }
  return true;
}

/**
 * Splits a request-target into path and query and percent-decodes the path once.
 * Origin-form ("/p?q"), absolute-form ("http://host/p?q", RFC 9112 §3.2.2: its authority
 * wins over Host), asterisk-form ("*", OPTIONS only) and authority-form ("host:port",
 * CONNECT only; its path is empty — whether CONNECT is served is the handlers' decision,
 * and sockit's answer 501: it is not a proxy).
 */
export function decodeTarget(target: string, method: string): DecodedTarget {
  if (method === "CONNECT") {
    if (!isValidHost(target)) badRequest("BAD_TARGET", "CONNECT needs a host:port target");
    return { rawPath: "", path: "", query: "", authority: target };
  }
  if (target === "*") {
    if (method !== "OPTIONS") badRequest("BAD_TARGET", "'*' target is only valid for OPTIONS");
    return { rawPath: "*", path: "*", query: "", authority: null };
  }
  let pathAndQuery = target;
  let authority: string | null = null;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const schemeEnd = target.indexOf("://");
    const scheme = schemeEnd === -1 ? "" : target.slice(0, schemeEnd).toLowerCase();
    if (scheme !== "http" && scheme !== "https") {
      badRequest("BAD_TARGET", "request target must start with '/' or http://");
    }
    const authStart = schemeEnd + 3;
    let authEnd = authStart;
    while (authEnd < target.length) {
      const c = target.charCodeAt(authEnd);
      if (c === 0x2f || c === 0x3f) break;
      authEnd++;
    }
    authority = target.slice(authStart, authEnd);
    if (authority.length === 0 || !isValidHost(authority)) {
      badRequest("BAD_TARGET", "invalid authority in absolute-form target");
    }
    pathAndQuery = target.slice(authEnd);
    if (pathAndQuery.charCodeAt(0) !== 0x2f) pathAndQuery = "/" + pathAndQuery;
  }
  const q = pathAndQuery.indexOf("?");
  const rawPath = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q === -1 ? "" : pathAndQuery.slice(q + 1);
  return { rawPath, path: percentDecode(rawPath), query, authority };
}

/** The first byte of a TLS record carrying a handshake (a ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * Pure: refuses, as soon as the bytes have arrived, a request whose request line cannot
 * become valid — a TLS ClientHello or binary junk on the plain port — instead of holding the
 * connection until the header timeout while waiting for a CRLF. Checks leading empty lines
 * (RFC 9112 §2.2), the method's token characters, the target's visible characters and the
 * `HTTP/` version prefix; the full parse ({@link parseRequestHead}) decides the rest. Throws
 * an {@link HttpError} 400 (close) at the first impossible byte; returns once the request
 * line is complete or the bytes so far may still form one.
 */
export function checkRequestLinePrefix(partial: Uint8Array): void {
  let i = 0;
  while (i < partial.length && (partial[i] === 0x0d || partial[i] === 0x0a)) i++;
  if (i === partial.length) return;
  if (partial[i] === TLS_HANDSHAKE_RECORD) {
    badRequest(
      "BAD_REQUEST_LINE",
      "this is a TLS handshake on a plain HTTP port (use http://, or serve with --tls-cert)",
    );
  }
  const methodStart = i;
  while (i < partial.length && isTchar(partial[i])) i++;
  if (i === partial.length) return;
  if (partial[i] !== SP || i === methodStart) {
    badRequest("BAD_REQUEST_LINE", "malformed method: not an HTTP request");
  }
  i++;
  while (i < partial.length && partial[i] > SP && partial[i] < 0x7f) i++;
  if (i === partial.length) return;
  if (partial[i] !== SP) badRequest("BAD_TARGET", "invalid character in request target");
  i++;
  const version = "HTTP/";
  for (let k = 0; k < version.length && i < partial.length; k++, i++) {
    if (partial[i] !== version.charCodeAt(k)) {
      badRequest("BAD_REQUEST_LINE", "malformed HTTP version");
    }
  }
}
