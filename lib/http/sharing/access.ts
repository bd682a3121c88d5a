/**
 * The access layer of `http-serve`: `--auth` users, `--access` rules (access_rules.ts) and
 * share links (share_links.ts) as one middleware. It answers 401/403 itself, and for every
 * request it lets through sets `ctx.access` (handler.ts `RequestAccess`), which uploads,
 * listings, search and archives consult for what this client may write and read.
 *
 * ```ts
 * import { withAccess } from "./access.ts";
 * import { parseAuthSpec } from "./auth.ts";
 * import { parseAccessRules } from "./access_rules.ts";
 * const rules = parseAccessRules(["@/:ro", "alice@/:rw"], { users: ["alice"] });
 * const middleware = withAccess({ credentials: [parseAuthSpec("alice:s3cret")], rules });
 * console.log(typeof middleware);
 * ```
 *
 * Order of checks: a share-link URL is verified and rewritten (no password involved);
 * else a supplied `Authorization` must be valid (wrong → 401, whatever the path); then the
 * rules decide for the path, method by method (GET/HEAD/OPTIONS/PROPFIND read, all else
 * writes). The metrics endpoint needs a login whenever users exist: its counts cover the
 * protected folders too; so does `--watch`'s event stream, which names changed files, unless
 * anonymous clients may read every path.
 *
 * @module
 */
import { textResponse } from "../errors.ts";
import type {
  Handler,
  HttpResponse,
  Middleware,
  RequestAccess,
  RequestContext,
  RequestHead,
} from "../handler.ts";
import { percentDecode } from "../semantics/target.ts";
import {
  type AuthCredential,
  BASIC_CHALLENGE,
  parseBasicAuthorization,
  verifyBasicCredentials,
} from "./auth.ts";
import {
  type AccessRule,
  allowedAt,
  decideAccess,
  decodedSegments,
  foldSegment,
  hasPrefix,
  methodNeed,
  requestSegments,
} from "./access_rules.ts";
import { METRICS_PATH } from "./metrics.ts";
import { LIVE_RELOAD_PATH } from "../middleware/live_reload_page.ts";
import {
  MAX_SHARE_PATH_CHARS,
  SHARE_CREATE_PATH,
  SHARE_URL_PREFIX,
  type ShareGrant,
  ShareSigner,
  ShareUses,
} from "./share_links.ts";

/** Share-link settings of {@link withAccess}. */
export interface ShareOptions {
  /** The per-run secret, hex (share_links.ts `newShareSecret`). */
  secret: string;
  /** Lifetime of links made with the listing's Share button. */
  ttlMs: number;
  /** Uses of links made with the button; 0 = unlimited. */
  maxUses: number;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** Options for {@link withAccess}. */
export interface AccessOptions {
  credentials: readonly AuthCredential[];
  /** Parsed rules, the implied one at `/` included (parseAccessRules). */
  rules: readonly AccessRule[];
  /** Present when share links are on (`--share`, or any `--auth`). */
  share?: ShareOptions;
}

function unauthorized(req: RequestHead): HttpResponse {
  const response = textResponse(401, "authentication required", [
    ["WWW-Authenticate", BASIC_CHALLENGE],
  ]);
  // An unauthenticated body (a PUT of a big file) is not worth reading: close instead.
  return req.body.kind === "none" ? response : { ...response, close: true };
}

function forbidden(req: RequestHead, why: string): HttpResponse {
  const response = textResponse(403, why);
  return req.body.kind === "none" ? response : { ...response, close: true };
}

/**
 * `--cache`'s `public` becomes `private` on answers given to a login or through a share
 * link: a shared cache must not hand them to others, nor keep a link's answer past its end
 * (RFC 9111 §3.5 lets it store `public` answers to requests with `Authorization`). The header
 * list is copied, never changed: cached files share theirs.
 */
function privateCaching(response: HttpResponse): HttpResponse {
  const headers = response.headers;
  if (!headers?.some(([k, v]) => k.toLowerCase() === "cache-control" && v.includes("public"))) {
    return response;
  }
  return {
    ...response,
    headers: headers.map(([k, v]): [string, string] =>
      k.toLowerCase() === "cache-control" ? [k, v.replace("public", "private")] : [k, v]
    ),
  };
}

/** True for a query string that is exactly `login` (or `login=`). */
export function isLoginQuery(query: string): boolean {
  return query === "login" || query === "login=";
}

/** A decoded path as a raw URL path, each segment percent-encoded. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** The URL path of a link: the token, then the file's name for a file. */
export function shareUrlPath(token: string, grant: ShareGrant): string {
  if (grant.kind === "dir") return `${SHARE_URL_PREFIX}${token}/`;
  const name = grant.path.slice(grant.path.lastIndexOf("/") + 1);
  return `${SHARE_URL_PREFIX}${token}/${encodeURIComponent(name)}`;
}

/**
 * `--auth` + `--access` + share links (see the module comment). With only `--auth`, the
 * implied rule makes every request need a login, as `--auth` always did.
 */
export function withAccess(options: AccessOptions): Middleware {
  const { credentials, rules } = options;
  const signer = options.share ? new ShareSigner(options.share.secret) : undefined;
  const uses = new ShareUses();
  const now = options.share?.now ?? Date.now;
  // --watch's events name changed files: a client gets them only if it may read every
  // path anyway (a login too: alice, kept out of /private, must not learn its names).
  const readsAll = (user: string | null) =>
    rules.every((rule) => decideAccess(rules, user, rule.path, "read") === "allow");
  const anonymousReadsAll = readsAll(null);

  const accessFor = (user: string | null): RequestAccess => ({
    user,
    canWrite: (path) => allowedAt(rules, user, path, "write"),
    canWriteTree: (path) => {
      const segments = decodedSegments(path);
      const writable = (at: readonly string[]) =>
        decideAccess(rules, user, at, "write") === "allow";
      // Every rule path below `path` too: moving /pub takes /pub/hidden along, out of its rule.
      return segments !== null && writable(segments) &&
        rules.every((rule) => !hasPrefix(rule.path, segments) || writable(rule.path));
    },
    canRead: (path) => allowedAt(rules, user, path, "read"),
  });

  const viaShare = async (
    next: Handler,
    req: RequestHead,
    ctx: RequestContext,
  ): Promise<HttpResponse> => {
    const rest = req.rawPath.slice(SHARE_URL_PREFIX.length);
    const slash = rest.indexOf("/");
    const token = slash === -1 ? rest : rest.slice(0, slash);
    const below = slash === -1 ? "" : rest.slice(slash);
    const checked = await signer!.verify(token, now());
    if (!checked.ok) {
      return forbidden(
        req,
        checked.error === "expired" ? "share link expired" : "invalid share link",
      );
    }
    const { grant, id } = checked;
    if (methodNeed(req.method) !== "read") return forbidden(req, "share links are read-only");
    const base = `${SHARE_URL_PREFIX}${token}`;
    // Signed paths were checked when signed; a ".." would still grant nothing.
    const shared = decodedSegments(grant.path) ?? [""];
    const segments = requestSegments(below === "" ? "/" : below);
    if (segments === null) return textResponse(404, "Not Found");
    let rawPath: string;
    if (grant.kind === "file") {
      const name = foldSegment(shared.at(-1) ?? "");
      if (segments.length > 1 || (segments.length === 1 && segments[0] !== name)) {
        return textResponse(404, "Not Found");
      }
      rawPath = encodePath(grant.path);
    } else {
      if (below === "") {
        return { status: 301, headers: [["Location", `${base}/`]], body: null };
      }
      rawPath = encodePath(grant.path) + below.slice(1);
    }
    // The server's own endpoints (metrics, the event stream) are no part of any share,
    // even of one of "/": they keep their own login checks.
    if (requestSegments(rawPath)?.[0] === ".well-known") return textResponse(404, "Not Found");
    let path: string;
    try {
      path = percentDecode(rawPath);
    } catch {
      return textResponse(404, "Not Found");
    }
    const counted = grant.maxUses > 0 && req.method === "GET";
    // A used-up link is over: HEAD and PROPFIND (not counted) must not keep listing it.
    if (grant.maxUses > 0 && !counted && uses.usedUp(id, grant)) {
      return forbidden(req, "share link used up");
    }
    if (counted) {
      const reserved = uses.reserve(id, grant, now());
      if (reserved === "exhausted") return forbidden(req, "share link used up");
      if (reserved === "full") {
        return textResponse(503, "too many counted share links", [["Retry-After", "60"]]);
      }
    }
    const access: RequestAccess = {
      user: null,
      canWrite: () => false,
      canRead: (p) => {
        const segments = decodedSegments(p);
        return segments !== null && hasPrefix(segments, shared);
      },
    };
    const target = rawPath + (req.query === "" ? "" : `?${req.query}`);
    let response: HttpResponse | undefined;
    try {
      response = await next({ ...req, rawPath, path, target }, { ...ctx, access });
    } finally {
      if (counted) uses.settle(id, response?.status === 200);
    }
    // A file link must not become a folder; a folder's redirects stay inside the link.
    if (grant.kind === "file" && response.status === 301) return textResponse(404, "Not Found");
    const encodedBase = encodePath(grant.path);
    const headers = response.headers?.map(([k, v]): [string, string] =>
      k.toLowerCase() === "location" && v.startsWith(encodedBase)
        ? [k, `${base}/${v.slice(encodedBase.length)}`]
        : [k, v]
    );
    return privateCaching({ ...response, headers });
  };

  const createShare = async (req: RequestHead, user: string | null): Promise<HttpResponse> => {
    if (req.method !== "POST") {
      return textResponse(405, `${req.method} is not allowed here`, [["Allow", "POST"]]);
    }
    if (user === null) return unauthorized(req);
    const path = new URLSearchParams(req.query).get("path") ?? "";
    if (!path.startsWith("/") || path.length > MAX_SHARE_PATH_CHARS) {
      return textResponse(
        400,
        `path must start with / and have at most ${MAX_SHARE_PATH_CHARS} characters`,
      );
    }
    const segments = requestSegments(encodePath(path));
    if (segments === null || segments[0] === ".well-known") {
      return textResponse(400, "this path cannot be shared");
    }
    if (decideAccess(rules, user, segments, "read") !== "allow") {
      return forbidden(req, "you may not read this path");
    }
    // A link reads its whole subtree, whoever made it: so must its maker, everywhere a rule
    // below it names (else alice, kept out of /private, could share / and read it).
    if (
      rules.some((rule) =>
        hasPrefix(rule.path, segments) && decideAccess(rules, user, rule.path, "read") !== "allow"
      )
    ) {
      return forbidden(req, "you may not read all of this folder");
    }
    const share = options.share!;
    const grant: ShareGrant = {
      path,
      kind: path.endsWith("/") ? "dir" : "file",
      expiresMs: now() + share.ttlMs,
      maxUses: share.maxUses,
    };
    const token = await signer!.sign(grant);
    return {
      status: 201,
      headers: [["Content-Type", "application/json; charset=utf-8"], ["Cache-Control", "no-store"]],
      body: JSON.stringify({
        url: shareUrlPath(token, grant),
        path,
        expires: new Date(grant.expiresMs).toISOString(),
        uses: grant.maxUses === 0 ? null : grant.maxUses,
      }) + "\n",
    };
  };

  return (inner) => {
    return async (req, ctx) => {
      if (signer !== undefined && req.rawPath.startsWith(SHARE_URL_PREFIX)) {
        return await viaShare(inner, req, ctx);
      }
      let user: string | null = null;
      const header = req.headers.get("authorization");
      if (header !== undefined) {
        const supplied = parseBasicAuthorization(header);
        if (!verifyBasicCredentials(supplied, credentials)) return unauthorized(req);
        user = supplied!.user;
      }
      // `?login`: a way for a browser to log in where no login is needed (to upload or
      // share); once it has, back to the page without the query.
      if (credentials.length > 0 && isLoginQuery(req.query)) {
        if (user === null) return unauthorized(req);
        return { status: 303, headers: [["Location", req.rawPath]], body: null };
      }
      if (signer !== undefined && req.path === SHARE_CREATE_PATH) {
        return await createShare(req, user);
      }
      if (
        user === null && (
          (req.path === METRICS_PATH && credentials.length > 0) ||
          (req.path === LIVE_RELOAD_PATH && !anonymousReadsAll)
        )
      ) {
        return unauthorized(req);
      }
      if (user !== null && req.path === LIVE_RELOAD_PATH && !readsAll(user)) {
        return forbidden(req, "you may not read every path");
      }
      const need = methodNeed(req.method);
      const segments = requestSegments(req.rawPath);
      // A path no rule can place ("..", an encoded "/"; the handlers refuse it too) passes
      // only a client allowed at every rule's path: fail closed.
      const decision = segments !== null
        ? decideAccess(rules, user, segments, need)
        : rules.map((rule) => decideAccess(rules, user, rule.path, need))
          .find((d) => d !== "allow") ?? "allow";
      if (decision === 401) return unauthorized(req);
      if (decision === 403) return forbidden(req, "access denied");
      const response = await inner(req, { ...ctx, access: accessFor(user) });
      return user === null ? response : privateCaching(response);
    };
  };
}
