/**
 * Response headers a user adds from the command line: `--cors` (the Fetch standard's CORS
 * headers, and the answer to a preflight `OPTIONS`) and `--header 'Name: value'`
 * (repeatable, validated at startup so a typo is a usage error, not a broken response).
 * No I/O: the pieces are pure, and two handler wrappers apply them to every answer.
 *
 * ```ts
 * import { parseHeaderFlag, withCors, withResponseHeaders } from "./cors.ts";
 * import type { Middleware } from "../handler.ts";
 * const extra = ["X-Frame-Options: DENY"].map(parseHeaderFlag); // throws ConfigError on bad input
 * const middleware: Middleware[] = [ // outermost first, before withBasicAuth
 *   withResponseHeaders(extra),
 *   withCors(), // preflights → 204; CORS headers on every answer
 * ];
 * console.log(middleware.length);
 * ```
 *
 * @module
 */
import { fieldValueProblem, isToken } from "../semantics/tokens.ts";
import { ConfigError } from "../../errors.ts";
import type { Middleware } from "../handler.ts";
import type { HeaderLookup } from "../semantics/conditional.ts";
import { HttpError } from "../errors.ts";

/** Methods a static file server answers; what a preflight allows. */
export const CORS_ALLOW_METHODS = "GET, HEAD, OPTIONS";

/**
 * How long a browser may cache a preflight answer. Firefox caps this at 24 h and Chromium
 * at 2 h; asking for a day lets each use its own maximum.
 */
export const CORS_MAX_AGE_SECONDS = 86_400;

/**
 * Headers a script may read from our responses beyond the CORS-safelisted ones (Fetch
 * standard: Cache-Control, Content-Language, Content-Length, Content-Type, Expires,
 * Last-Modified, Pragma): what range and caching clients need.
 */
export const CORS_EXPOSE_HEADERS = "Accept-Ranges, Content-Encoding, Content-Range, ETag";

/**
 * Added to every response under `--cors`. `*` without credentials: a static folder has no
 * cookies to protect, and `*` is cacheable without `Vary: Origin`.
 */
export const CORS_RESPONSE_HEADERS: readonly (readonly [string, string])[] = [
  ["Access-Control-Allow-Origin", "*"],
  ["Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS],
];

/**
 * A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method` (Fetch
 * standard §3.2.2). Any other OPTIONS is an ordinary request.
 */
export function isPreflightRequest(method: string, headers: HeaderLookup): boolean {
  return method === "OPTIONS" && !!headers.get("origin") &&
    !!headers.get("access-control-request-method");
}

/**
 * Headers of the 204 answer to a preflight. `Access-Control-Allow-Headers` echoes the
 * requested headers when they form a valid token list (so any request header the page
 * wants to send is allowed: nothing here depends on them), and `Vary` tells caches the
 * answer depends on that request header.
 */
export function preflightHeaders(
  requestHeaders: HeaderLookup,
  allowMethods: string = CORS_ALLOW_METHODS,
): [string, string][] {
  const headers: [string, string][] = [
    ["Access-Control-Allow-Origin", "*"],
    ["Access-Control-Allow-Methods", allowMethods],
    ["Access-Control-Max-Age", String(CORS_MAX_AGE_SECONDS)],
  ];
  const requested = requestHeaders.get("access-control-request-headers");
  if (requested) {
    const names = requested.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (names.length > 0 && names.every((name) => isToken(name))) {
      headers.push(["Access-Control-Allow-Headers", names.join(", ")]);
    }
  }
  headers.push(["Vary", "Access-Control-Request-Headers"]);
  return headers;
}

/**
 * Headers `--header` may not set: they frame the message or the connection, and a wrong
 * value would corrupt every response (RFC 9112 §6, RFC 9110 §7.6.1).
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Parses one `--header 'Name: value'`. The name must be a token and not a framing header
 * ({@link RESERVED_HEADER_NAMES}); the value may be empty, loses surrounding whitespace,
 * and must be ASCII without control characters (CR/LF would let it inject headers). Returns
 * `[name as written, value]`; throws a one-line {@link ConfigError} otherwise.
 */
export function parseHeaderFlag(flag: string): [string, string] {
  const shown = JSON.stringify(flag); // escapes CR/LF so the message stays one line
  const colon = flag.indexOf(":");
  if (colon === -1) {
    throw new ConfigError(`invalid --header ${shown}: expected 'Name: value'`);
  }
  const name = flag.slice(0, colon);
  const value = flag.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
  if (!isToken(name)) {
    throw new ConfigError(
      `invalid --header ${shown}: header name must be letters, digits or !#$%&'*+-.^_\`|~ with no spaces`,
    );
  }
  const lower = name.toLowerCase();
  if (RESERVED_HEADER_NAMES.has(lower)) {
    throw new ConfigError(
      `invalid --header ${shown}: ${name} is set by the server and cannot be overridden`,
    );
  }
  const problem = fieldValueProblem(value);
  if (problem === "control") {
    throw new ConfigError(
      `invalid --header ${shown}: value must not contain control characters (CR, LF, NUL…)`,
    );
  }
  if (problem === "non-ascii") {
    throw new ConfigError(`invalid --header ${shown}: value must be ASCII (percent-encode it)`);
  }
  return [name, value];
}

// --- Handler wrappers -------------------------------------------------------------------

/** A fresh mutable copy of {@link CORS_RESPONSE_HEADERS} for a response's header list. */
function corsHeaderList(): [string, string][] {
  return CORS_RESPONSE_HEADERS.map(([name, value]) => [name, value]);
}

/** Options for {@link withCors}. */
export interface CorsOptions {
  /** What preflights allow. Default {@link CORS_ALLOW_METHODS}; `--upload` adds PUT, POST. */
  allowMethods?: string;
}

/**
 * `--cors`: answers every CORS preflight with 204 and {@link preflightHeaders} (for any
 * path: a failed preflight would hide even a 404 from the page), and adds
 * {@link CORS_RESPONSE_HEADERS} to every other answer, errors included, so scripts can
 * read a 404's status too. Place it outside `withBasicAuth`: browsers never send
 * credentials on a preflight, so an inner position would turn every preflight into a 401.
 */
export function withCors(options: CorsOptions = {}): Middleware {
  const allowMethods = options.allowMethods ?? CORS_ALLOW_METHODS;
  return (next) => async (req, ctx) => {
    if (isPreflightRequest(req.method, req.headers)) {
      return { status: 204, headers: preflightHeaders(req.headers, allowMethods) };
    }
    try {
      const res = await next(req, ctx);
      return { ...res, headers: [...(res.headers ?? []), ...corsHeaderList()] };
    } catch (err) {
      if (err instanceof HttpError) err.headers.push(...corsHeaderList());
      throw err;
    }
  };
}

/**
 * `--header 'Name: value'` (repeatable): adds the headers to every answer, errors included.
 * A name the handler also sets is replaced (case-insensitively), so
 * `--header 'Cache-Control: max-age=60'` wins over the default; giving one name several
 * times sends it several times. Outermost, so it also reaches 401s and preflights.
 */
export function withResponseHeaders(extra: readonly (readonly [string, string])[]): Middleware {
  const names = new Set(extra.map(([name]) => name.toLowerCase()));
  const merge = (headers: readonly [string, string][]): [string, string][] => [
    ...headers.filter(([name]) => !names.has(name.toLowerCase())),
    ...extra.map(([name, value]): [string, string] => [name, value]),
  ];
  return (next) => async (req, ctx) => {
    try {
      const res = await next(req, ctx);
      return { ...res, headers: merge(res.headers ?? []) };
    } catch (err) {
      if (err instanceof HttpError) {
        err.headers.splice(0, err.headers.length, ...merge(err.headers));
      }
      throw err;
    }
  };
}
