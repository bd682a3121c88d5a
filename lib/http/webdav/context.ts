/**
 * What every WebDAV method handler shares: the settings and per-process state
 * ({@link DavState}), the answers they have in common (multistatus, `DAV:error` bodies,
 * 403/405/423), and the precondition step every write goes through: the `If` header
 * (if_header.ts), `If-Match` / `If-None-Match`, and the lock tokens a change must submit.
 *
 * ```ts
 * import { DeadPropertyStore } from "./dead_props.ts";
 * import { LockManager } from "./locks.ts";
 * import { type DavState, multistatus } from "./context.ts";
 * const dav: DavState = {
 *   root: "/srv/share", dotfiles: false, locks: new LockManager(), props: new DeadPropertyStore(),
 *   write: { maxBytes: 1024 ** 3 },
 * };
 * console.log(multistatus("").status, dav.write !== undefined); // 207 true
 * ```
 *
 * @module
 */
import { textResponse } from "../errors.ts";
import {
  type HttpResponse,
  mayWrite,
  mayWriteTree,
  type RequestContext,
  type RequestHead,
} from "../handler.ts";
import { realUrlPath } from "../files/safe_path.ts";
import { evaluateConditionals } from "../semantics/conditional.ts";
import type { DeadPropertyStore } from "./dead_props.ts";
import { evaluateIf, type IfList, parseIfHeader, submittedTokens } from "./if_header.ts";
import type { ActiveLock, LockManager } from "./locks.ts";
import { davHref, type DavTarget, rawPathOnThisServer, resolveDavTarget } from "./paths.ts";
import { MULTISTATUS_CLOSE, MULTISTATUS_OPEN, resourceEtag } from "./propfind.ts";
import { escapeXml, WebDavError, XML_CONTENT_TYPE, XML_DECLARATION } from "./xml.ts";

/** Methods of a read-only share (`--webdav` without `--upload`). */
export const DAV_READ_METHODS = "OPTIONS, GET, HEAD, PROPFIND";
/** Methods with `--upload` (POST: the listing's upload form). */
export const DAV_WRITE_METHODS =
  "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";
/** Methods that change something: refused with 405 on a read-only share. */
export const DAV_CHANGING_METHODS: ReadonlySet<string> = new Set([
  "PUT",
  "DELETE",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
]);

/** Settings and state of the WebDAV handlers; one per process. */
export interface DavState {
  /** Canonical root. */
  root: string;
  dotfiles: boolean;
  locks: LockManager;
  props: DeadPropertyStore;
  /** Present with `--upload`: writes are allowed, PUT bodies up to `maxBytes`. */
  write?: { maxBytes: number };
  /** Told the real path of everything changed or removed (the file cache forgets it). */
  onChanged?: (fsPath: string) => void;
}

/** A 207 with the responses given (already rendered). */
export function multistatus(responses: string): HttpResponse {
  return {
    status: 207,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: MULTISTATUS_OPEN + responses + MULTISTATUS_CLOSE,
  };
}

/** An answer with a `DAV:error` body naming a precondition (RFC 4918 §16), e.g. `propfind-finite-depth`. */
export function davErrorResponse(status: number, condition: string, inner = ""): HttpResponse {
  const body = XML_DECLARATION +
    `<D:error xmlns:D="DAV:"><D:${condition}${
      inner === "" ? "/>" : `>${inner}</D:${condition}>`
    }</D:error>\n`;
  return { status, headers: [["Content-Type", XML_CONTENT_TYPE]], body };
}

/** The answer for a {@link WebDavError}; 413 closes (the rest of the body is not read). */
export function webDavErrorResponse(err: WebDavError): HttpResponse {
  const response = textResponse(err.status, err.message);
  return err.status === 413 ? { ...response, close: true } : response;
}

/** The href of a key ("/a/b"), as paths.ts makes them. */
export function hrefOfKey(key: string, collection: boolean): string {
  return davHref(key.split("/").filter((s) => s !== ""), collection);
}

/** 423 naming the lock roots whose tokens were missing (§16 lock-token-submitted). */
export function lockedResponse(missing: readonly ActiveLock[]): HttpResponse {
  const hrefs = [...new Set(missing.map((l) => l.path))]
    .map((p) => `<D:href>${escapeXml(hrefOfKey(p, false))}</D:href>`).join("");
  return davErrorResponse(423, "lock-token-submitted", hrefs);
}

/**
 * 403 when the access layer says this client may not change `target`: at its URL path, and
 * where it really is (a symlinked folder on the way may lead into a folder it may not change).
 * With `tree` (DELETE, MOVE's source, COPY's and MOVE's destination), everything below it
 * too: a folder moved or replaced takes what a rule below it protects along.
 */
export function forbiddenUnlessWritable(
  ctx: RequestContext,
  dav: DavState,
  target: DavTarget,
  options: { tree?: boolean } = {},
): HttpResponse | null {
  const real = target.parentPath === null
    ? null
    : `${realUrlPath(dav.root, target.parentPath).replace(/\/$/, "")}/${target.segments.at(-1)}`;
  const may = options.tree ? mayWriteTree : mayWrite;
  return may(ctx, target.key) && (real === null || may(ctx, real))
    ? null
    : textResponse(403, "you may not change this path");
}

/** The parsed `If` header, null when absent; {@link WebDavError} 400 when malformed. */
export function ifLists(req: RequestHead): IfList[] | null {
  const value = req.headers.get("if");
  return value === undefined ? null : parseIfHeader(value);
}

/** What a change must submit (from {@link checkPreconditions}). */
export interface Preconditions {
  submitted: Set<string>;
  lists: IfList[] | null;
}

/** The path key a tagged `If` resource names, or null when it is on another server. */
function taggedKey(dav: DavState, req: RequestHead, tag: string): Promise<DavTarget | null> {
  const rawPath = rawPathOnThisServer(tag, req.host);
  return rawPath === null ? Promise.resolve(null) : resolveDavTarget(dav.root, rawPath, dav);
}

/**
 * The `If` header, `If-Match` and `If-None-Match` for a request on `target`: null to
 * proceed (with the tokens submitted), or the 412 / 400 to answer.
 */
export async function checkPreconditions(
  dav: DavState,
  req: RequestHead,
  target: DavTarget,
): Promise<Preconditions | HttpResponse> {
  let lists: IfList[] | null;
  try {
    lists = ifLists(req);
  } catch (err) {
    if (err instanceof WebDavError) return webDavErrorResponse(err);
    throw err;
  }
  if (lists !== null) {
    const holds = await evaluateIf(lists, async (tag) => {
      const t = tag === null ? target : await taggedKey(dav, req, tag);
      if (t === null) return null;
      // A missing resource has no entity tag, but a lock on its folder may cover it.
      return {
        etag: t.info === null ? null : resourceEtag(t.info),
        tokens: dav.locks.covering(t.key).map((l) => l.token),
      };
    });
    if (!holds) return textResponse(412, "the If header's conditions do not hold");
  }
  const ifMatch = req.headers.get("if-match");
  const ifNoneMatch = req.headers.get("if-none-match");
  if (ifMatch !== undefined || ifNoneMatch !== undefined) {
    if (target.info === null) {
      if (ifMatch !== undefined) return textResponse(412, "If-Match: the resource does not exist");
    } else {
      const etag = resourceEtag(target.info);
      const outcome = evaluateConditionals("PUT", req.headers, {
        etag,
        lastModifiedMs: target.info.mtime?.getTime() ?? null,
      });
      if (outcome !== "proceed") return textResponse(412, "precondition failed");
    }
  }
  return { submitted: lists === null ? new Set() : submittedTokens(lists), lists };
}

/**
 * 423 unless every lock on `key` (and below, with `deep`; on its parent, with `membership`)
 * has its token in `submitted`; null to proceed.
 */
export function checkLocks(
  dav: DavState,
  key: string,
  submitted: ReadonlySet<string>,
  options: { deep?: boolean; membership?: boolean } = {},
): HttpResponse | null {
  const missing = dav.locks.missingTokens(key, submitted, options);
  return missing.length === 0 ? null : lockedResponse(missing);
}
