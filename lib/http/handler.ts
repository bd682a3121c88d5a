/**
 * The handler API every HTTP feature is written against, independent of the wire: a
 * {@link Handler} turns a {@link RequestHead} (plus a {@link RequestContext} with the
 * client's address and the {@link RequestBody}) into an {@link HttpResponse}; a
 * {@link Middleware} wraps a handler. HTTP/1.1 (`h1/`) is one transport that drives
 * handlers; features never import it.
 *
 * ```ts
 * import { compose, type Handler, type Middleware } from "./handler.ts";
 * const hello: Handler = (req) => ({ status: 200, body: `you asked for ${req.path}\n` });
 * const tagged: Middleware = (next) => async (req, ctx) => {
 *   const res = await next(req, ctx);
 *   return { ...res, headers: [...(res.headers ?? []), ["X-Tag", "1"]] };
 * };
 * const handler = compose([tagged], hello);
 * console.log(typeof handler);
 * ```
 *
 * A response body is bytes, a string, an open file region to stream ({@link FileBody}),
 * or an async iterable of chunks ({@link StreamBody}; unknown length → chunked). The
 * transport adds `Date`, `Server`, `Content-Length`/`Transfer-Encoding` and `Connection`,
 * drops the body for HEAD/204/304, closes files it was given, and ends (`return()`) a
 * stream it will not send, so the stream can release what it holds. A handler may throw
 * `HttpError` (errors.ts); anything else becomes a 500 with no details sent to the client.
 *
 * @module
 */

/**
 * One access-log record, produced by a transport (HTTP/1.1 or HTTP/2) after the response
 * is written; the server formats it (server/access_log.ts).
 */
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

/** A list of response header fields, in order; names as they should appear on the wire. */
export type HeaderList = [string, string][];

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
  /**
   * Not traffic (the health endpoint): left out of the access log and `--metrics`, so a
   * load balancer polling every second neither floods the log nor skews the counts.
   */
  untracked?: boolean;
}

/** A request body as handlers see it; the transport discards whatever is left unread. */
export interface RequestBody {
  /** The next piece of the body (a view valid until the next read), or null at its end. */
  read(): Promise<Uint8Array | null>;
  /** Reads and drops whatever is left of the body. */
  discard(): Promise<void>;
  /** True once the whole body has been consumed. */
  readonly done: boolean;
  /** Body bytes delivered so far (transfer framing excluded). */
  readonly received: number;
}

/**
 * Who the client is and what it may change, as the access layer (auth, access rules, share
 * links) decided. Features that write (uploads, file management, WebDAV) ask it before
 * changing anything; when it is absent no rules are configured and the server's flags
 * alone decide (`--upload` on → writes allowed).
 */
export interface RequestAccess {
  /** The authenticated user, or null for an anonymous client. */
  readonly user: string | null;
  /**
   * Whether this client may create, replace, delete or move things at `path` (decoded URL
   * path, normalised: one with a `..` segment is refused).
   */
  canWrite(path: string): boolean;
  /**
   * Whether this client may change `path` and everything below it: a move or delete of a
   * folder takes along what a rule below it protects. Absent = `canWrite(path)`.
   */
  canWriteTree?(path: string): boolean;
  /**
   * Whether this client may read `path` (decoded URL path). Listings, search and archives
   * leave out what it may not; absent = everything the request reached.
   */
  canRead?(path: string): boolean;
}

/** Per-request context for handlers. */
export interface RequestContext {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** The request body; read it to consume it, or leave it and it is discarded. */
  body: RequestBody;
  /** Set by the access layer; see {@link RequestAccess}. */
  access?: RequestAccess;
}

/** Whether `ctx` may write at `path`: the access layer's answer, or yes when it set none. */
export function mayWrite(ctx: RequestContext, path: string): boolean {
  return ctx.access?.canWrite(path) ?? true;
}

/** Whether `ctx` may change `path` and all below it (see `RequestAccess.canWriteTree`). */
export function mayWriteTree(ctx: RequestContext, path: string): boolean {
  const access = ctx.access;
  if (access === undefined) return true;
  return access.canWriteTree?.(path) ?? access.canWrite(path);
}

/** Whether `ctx` may read `path`: the access layer's answer, or yes when it set none. */
export function mayRead(ctx: RequestContext, path: string): boolean {
  return ctx.access?.canRead?.(path) ?? true;
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

/**
 * Releases a response body a transport will not send: closes its file, or ends its
 * stream's iterator (`return()`), so a stream holding a resource (an open file being
 * compressed) can let it go though nobody ever pulled from it. HTTP/1.1 and HTTP/2 alike.
 */
export function releaseBody(body: ResponseBody | undefined): void {
  if (body === null || body === undefined || typeof body !== "object") return;
  if ("file" in body) {
    try {
      body.file.close();
    } catch { /* closed */ }
  } else if ("stream" in body) {
    try {
      const ended = body.stream[Symbol.asyncIterator]().return?.();
      ended?.catch(() => {});
    } catch { /* nothing to release */ }
  }
}

/** `compose([a, b], h)` = `a(b(h))`: the first middleware sees the request first. */
export function compose(middleware: readonly Middleware[], handler: Handler): Handler {
  let h = handler;
  for (let i = middleware.length - 1; i >= 0; i--) h = middleware[i](h);
  return h;
}

/**
 * A middleware whose code is imported by the first request it `wants`, so a feature that
 * is on but unused costs no start-up time or memory (each module held costs both). Until
 * then, requests it does not want go straight on; once loaded it sees every request.
 * `wants` must therefore cover every request the feature would answer or change.
 */
export function lazyMiddleware(
  wants: (req: RequestHead) => boolean,
  load: () => Promise<Middleware>,
): Middleware {
  let loading: Promise<Middleware> | undefined;
  return (next) => {
    let handler: Handler | undefined;
    return async (req, ctx) => {
      if (handler === undefined) {
        if (!wants(req)) return await next(req, ctx);
        handler = (await (loading ??= load()))(next);
      }
      return await handler(req, ctx);
    };
  };
}

/** How the request body is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

/** A parsed request head. */
export interface RequestHead {
  /** Method token, case-sensitive ("GET"). */
  method: string;
  /** The request-target exactly as received ("/a%20b?x=1", "http://h/x", "*"). */
  target: string;
  /** "HTTP/1.1" or "HTTP/1.0", or "HTTP/2" for a request that came over HTTP/2 (h2/). */
  version: "HTTP/1.1" | "HTTP/1.0" | "HTTP/2";
  /** Path part of the target, still percent-encoded ("/a%20b"); "*" for OPTIONS *. */
  rawPath: string;
  /** `rawPath` percent-decoded exactly once, UTF-8 ("/a b"). */
  path: string;
  /** Query string without "?" ("" when absent); never decoded, never used for files. */
  query: string;
  /** Authority: from an absolute-form target, else the Host header; null if neither. */
  host: string | null;
  /** Header fields by lowercase name; repeated fields joined with ", " (RFC 9110 §5.3). */
  headers: Map<string, string>;
  /** Whether the connection may stay open after the response (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** How the body is delimited. */
  body: BodyFraming;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  expectContinue: boolean;
}
