/**
 * Method policy, in the handler layer rather than the wire parser: the parser accepts any
 * method token (RFC 9110 §9.1), and {@link withKnownMethods} answers 501 for one no sockit
 * handler implements. A feature that adds methods (WebDAV's PROPFIND, MKCOL, …) adds them
 * here and handles them; the parser does not change. 405 + `Allow` for a known method on a
 * resource that does not support it stays with the handler that owns the resource.
 *
 * ```ts
 * import { compose } from "./handler.ts";
 * import { withKnownMethods } from "./methods.ts";
 * const handler = compose([withKnownMethods()], () => ({ status: 200, body: "ok\n" }));
 * console.log(typeof handler); // BREW /pot → 501 Not Implemented
 * ```
 *
 * @module
 */
import { errorResponse, HttpError } from "./errors.ts";
import type { Middleware } from "./handler.ts";

/** Methods of RFC 9110 §9 plus PATCH; any other token is answered 501. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/** WebDAV's methods (RFC 4918 §9), known with `--webdav` (lib/http/webdav/). */
export const WEBDAV_METHODS: readonly string[] = [
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
];

/** {@link KNOWN_METHODS} plus {@link WEBDAV_METHODS}: the method set with `--webdav`. */
export const KNOWN_METHODS_WITH_WEBDAV: ReadonlySet<string> = new Set([
  ...KNOWN_METHODS,
  ...WEBDAV_METHODS,
]);

/**
 * 501 Not Implemented, and close (a body of unknown meaning is not worth reading), for a
 * method outside `known`; methods are case-sensitive, so `get` is unknown too.
 */
export function withKnownMethods(known: ReadonlySet<string> = KNOWN_METHODS): Middleware {
  return (next) => (req, ctx) => {
    if (known.has(req.method)) return next(req, ctx);
    return errorResponse(
      new HttpError(501, "METHOD_NOT_IMPLEMENTED", `method ${req.method} is not implemented`, {
        close: true,
      }),
    );
  };
}
