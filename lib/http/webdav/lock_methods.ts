/**
 * The LOCK and UNLOCK methods (RFC 4918 §9.10, §9.11) over locks.ts: a new lock (201 with
 * an empty file when the URL was unmapped, §7.3), a refresh (no body, the token in `If`),
 * conflicts (423 `no-conflicting-lock`), and UNLOCK by `Lock-Token` (204; 409
 * `lock-token-matches-request-uri` for a token that does not cover the URL).
 *
 * ```ts
 * import { parseLockTokenHeader } from "./lock_methods.ts";
 * console.log(parseLockTokenHeader("<opaquelocktoken:abc>")); // "opaquelocktoken:abc"
 * ```
 *
 * @module
 */
import { textResponse } from "../errors.ts";
import type { HttpResponse, RequestContext, RequestHead } from "../handler.ts";
import { writeUploadedFile } from "../sharing/upload.ts";
import {
  checkLocks,
  checkPreconditions,
  davErrorResponse,
  type DavState,
  forbiddenUnlessWritable,
  hrefOfKey,
  webDavErrorResponse,
} from "./context.ts";
import { parseIfHeader, submittedTokens } from "./if_header.ts";
import {
  type ActiveLock,
  activeLockXml,
  MAX_LOCKS,
  parseLockInfo,
  parseLockTimeout,
} from "./locks.ts";
import { resolveDavTarget } from "./paths.ts";
import { escapeXml, readXmlBody, WebDavError, XML_CONTENT_TYPE, XML_DECLARATION } from "./xml.ts";

/** Pure: the token in `Lock-Token: <token>`, or null when the header is missing or bad. */
export function parseLockTokenHeader(value: string | undefined): string | null {
  const v = value?.trim() ?? "";
  if (!v.startsWith("<") || !v.endsWith(">") || v.length < 3) return null;
  return v.slice(1, -1).trim();
}

function lockAnswer(status: number, lock: ActiveLock, isCollection: boolean): HttpResponse {
  return {
    status,
    headers: [["Lock-Token", `<${lock.token}>`], ["Content-Type", XML_CONTENT_TYPE]],
    body: XML_DECLARATION +
      `<D:prop xmlns:D="DAV:"><D:lockdiscovery>${
        activeLockXml(lock, hrefOfKey(lock.path, isCollection))
      }</D:lockdiscovery></D:prop>\n`,
  };
}

async function* noBytes(): AsyncGenerator<Uint8Array> {}

/** The LOCK handler. */
export async function lock(
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const target = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (target === null) return textResponse(403, "this path cannot be locked");
  const denied = forbiddenUnlessWritable(ctx, dav, target);
  if (denied) return denied;
  const seconds = parseLockTimeout(req.headers.get("timeout"));
  let info;
  let deep: boolean;
  try {
    const doc = await readXmlBody(req, ctx.body);
    if (doc === null) {
      return refresh(dav, req, target.key, seconds, target.info?.isDirectory ?? false);
    }
    info = parseLockInfo(doc);
    const depth = (req.headers.get("depth") ?? "infinity").trim().toLowerCase();
    if (depth !== "0" && depth !== "infinity") {
      throw new WebDavError("BAD_DEPTH", 400, "LOCK Depth must be 0 or infinity");
    }
    deep = depth === "infinity";
  } catch (err) {
    if (err instanceof WebDavError) return webDavErrorResponse(err);
    throw err;
  }
  const pre = await checkPreconditions(dav, req, target);
  if ("status" in pre) return pre;
  const conflicts = dav.locks.conflicts(target.key, info.scope, deep);
  if (conflicts.length > 0) {
    const hrefs = conflicts.map((l) => `<D:href>${escapeXml(hrefOfKey(l.path, false))}</D:href>`)
      .join("");
    return davErrorResponse(423, "no-conflicting-lock", hrefs);
  }
  if (dav.locks.size >= MAX_LOCKS) {
    return textResponse(503, `this server holds ${MAX_LOCKS} locks already`, [[
      "Retry-After",
      "60",
    ]]);
  }
  let status = 200;
  if (target.info === null) {
    // §7.3: locking an unmapped URL creates an empty resource, which then holds the lock.
    if (target.parentPath === null) {
      return textResponse(409, "the parent collection does not exist");
    }
    const locked = checkLocks(dav, target.key, pre.submitted, { membership: true });
    if (locked) return locked;
    await writeUploadedFile(target.fsPath, noBytes(), { overwrite: false, maxBytes: 0 });
    dav.onChanged?.(target.fsPath);
    status = 201;
  }
  const granted = dav.locks.create({
    path: target.key,
    scope: info.scope,
    deep,
    owner: info.owner,
    seconds,
  });
  return lockAnswer(status, granted, target.info?.isDirectory ?? false);
}

/** LOCK without a body: refresh the lock whose token the `If` header submits. */
function refresh(
  dav: DavState,
  req: RequestHead,
  key: string,
  seconds: number,
  isCollection: boolean,
): HttpResponse {
  const value = req.headers.get("if");
  if (value === undefined) return textResponse(400, "a LOCK refresh needs the lock token in If");
  const submitted = submittedTokens(parseIfHeader(value));
  const found = dav.locks.covering(key).find((l) => submitted.has(l.token));
  if (!found) return textResponse(412, "no lock on this resource has the token submitted");
  dav.locks.refresh(found, seconds);
  return lockAnswer(200, found, isCollection);
}

/** The UNLOCK handler. */
export async function unlock(
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const token = parseLockTokenHeader(req.headers.get("lock-token"));
  if (token === null) return textResponse(400, "UNLOCK needs Lock-Token: <token>");
  const target = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (target === null || target.info === null) return textResponse(404, "Not Found");
  const denied = forbiddenUnlessWritable(ctx, dav, target);
  if (denied) return denied;
  const held = dav.locks.covering(target.key).find((l) => l.token === token);
  if (!held) {
    return davErrorResponse(409, "lock-token-matches-request-uri");
  }
  dav.locks.remove(token);
  return { status: 204 };
}
