/**
 * `http-serve --webdav`: RFC 4918 on the same port and root as the files. This middleware
 * answers OPTIONS (`DAV: 1, 2` with `--upload`, `DAV: 1` without), PROPFIND, and, with
 * `--upload`, PROPPATCH, MKCOL, PUT, DELETE, COPY, MOVE, LOCK and UNLOCK; GET, HEAD and
 * POST go on to the file handler (and the upload form) below it. Without `--upload` every
 * changing method gets 405 with an `Allow` of the read methods, so clients (Finder) mount
 * the share read-only.
 *
 * ```ts
 * import { compose } from "../handler.ts";
 * import { DeadPropertyStore } from "./dead_props.ts";
 * import { LockManager } from "./locks.ts";
 * import { withWebDav } from "./middleware.ts";
 * const dav = withWebDav({
 *   root: "/srv/share", dotfiles: false, locks: new LockManager(), props: new DeadPropertyStore(),
 * });
 * const handler = compose([dav], () => ({ status: 404 }));
 * console.log(typeof handler);
 * ```
 *
 * Every change asks `mayWrite(ctx, path)` (the access layer's answer), then the `If`
 * header and the locks (context.ts), and uses the GET path rules (paths.ts). PUT stores
 * through the upload writer (`sharing/upload.ts`: temp file, atomic rename, `--max-upload`)
 * and replaces an existing file, as WebDAV clients expect of PUT (`If-None-Match: *`
 * asks for no replacing).
 *
 * @module
 */
import { textResponse } from "../errors.ts";
import {
  type HttpResponse,
  mayRead,
  type Middleware,
  type RequestBody,
  type RequestContext,
  type RequestHead,
} from "../handler.ts";
import { isInsideRoot, isUploadTempName, realUrlPath } from "../files/safe_path.ts";
import { UploadError, validateUploadName, writeUploadedFile } from "../sharing/upload.ts";
import {
  checkLocks,
  checkPreconditions,
  DAV_CHANGING_METHODS,
  DAV_READ_METHODS,
  DAV_WRITE_METHODS,
  davErrorResponse,
  type DavState,
  forbiddenUnlessWritable,
  multistatus,
  webDavErrorResponse,
} from "./context.ts";
import { copyOrMove, removeResource } from "./copy_move.ts";
import { lock, unlock } from "./lock_methods.ts";
import { davHref, type DavTarget, resolveDavTarget } from "./paths.ts";
import {
  MULTISTATUS_CLOSE,
  MULTISTATUS_OPEN,
  parsePropfind,
  propfindDepth,
  type PropfindRequest,
  type PropfindResource,
  renderPropfindResponse,
} from "./propfind.ts";
import { applyPropertyUpdate, parsePropertyUpdate, renderPropPatchResponse } from "./proppatch.ts";
import { readXmlBody, WebDavError, XML_CONTENT_TYPE } from "./xml.ts";

export type { DavState } from "./context.ts";

function options(dav: DavState): HttpResponse {
  return {
    status: 200,
    headers: [
      ["DAV", dav.write ? "1, 2" : "1"],
      ["Allow", dav.write ? DAV_WRITE_METHODS : DAV_READ_METHODS],
      // Windows' WebClient looks for this before it treats the server as WebDAV.
      ["MS-Author-Via", "DAV"],
    ],
    body: null,
  };
}

function resourceFor(dav: DavState, t: DavTarget, info: Deno.FileInfo, wantsLocks: boolean) {
  const locks = wantsLocks && dav.locks.size > 0
    ? dav.locks.covering(t.key).map((lock) => ({
      lock,
      href: davHref(lock.path.split("/").filter((s) => s !== ""), false),
    }))
    : [];
  return {
    href: davHref(t.segments, info.isDirectory),
    name: t.segments.at(-1) ?? "",
    info,
    locks,
    dead: dav.props.list(t.key),
  } satisfies PropfindResource;
}

function wantsLockDiscovery(request: PropfindRequest): boolean {
  return request.kind !== "prop" || request.names.some((n) => n.name === "lockdiscovery");
}

async function propfind(
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const depth = propfindDepth(req.headers.get("depth"));
  if (depth === "infinity") return davErrorResponse(403, "propfind-finite-depth");
  const target = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (target === null || target.info === null) return textResponse(404, "Not Found");
  // Access rules, as GET: a symlink (or a folder on the way) may lead somewhere this client
  // may not read, and the answer would describe it.
  const targetReal = await Deno.realPath(target.fsPath);
  if (!mayRead(ctx, realUrlPath(dav.root, targetReal))) {
    return textResponse(404, "Not Found");
  }
  const request = parsePropfind(await readXmlBody(req, ctx.body));
  const withLocks = wantsLockDiscovery(request);
  const self = renderPropfindResponse(request, resourceFor(dav, target, target.info, withLocks));
  if (depth === 0 || !target.info.isDirectory) return multistatus(self);
  // A folder's members are streamed, a batch at a time, so a huge folder costs one batch
  // of memory, not its whole multistatus. The first read happens here, so an unreadable
  // folder is still a clean 403 rather than a cut-off stream.
  const entries = Deno.readDir(target.fsPath)[Symbol.asyncIterator]();
  const first = await entries.next();
  const encoder = new TextEncoder();
  async function* members(): AsyncGenerator<Uint8Array> {
    let pending = MULTISTATUS_OPEN + self;
    for (let next = first; !next.done; next = await entries.next()) {
      const child = await memberOf(dav, target!, targetReal, next.value);
      // Access rules: a member this client may not read is not listed (as in listings).
      if (child === null || !mayRead(ctx, child.target.key)) continue;
      if (!mayRead(ctx, realUrlPath(dav.root, child.realPath))) continue;
      pending += renderPropfindResponse(
        request,
        resourceFor(dav, child.target, child.info, withLocks),
      );
      if (pending.length >= PROPFIND_BATCH_CHARS) {
        yield encoder.encode(pending);
        pending = "";
      }
    }
    yield encoder.encode(pending + MULTISTATUS_CLOSE);
  }
  return {
    status: 207,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: { stream: members() },
  };
}

/** Characters of multistatus gathered before a batch is sent (a Depth 1 PROPFIND). */
export const PROPFIND_BATCH_CHARS = 64 * 1024;

/**
 * A folder member as PROPFIND shows it, or null when the listing's rules hide it: hidden
 * names (without --dotfiles), uploads in progress, symlinks leading out of the root,
 * anything unreadable or gone.
 */
async function memberOf(
  dav: DavState,
  parent: DavTarget,
  parentReal: string,
  entry: Deno.DirEntry,
) {
  if (!dav.dotfiles && entry.name.startsWith(".")) return null;
  if (isUploadTempName(entry.name)) return null;
  const full = `${parent.fsPath}/${entry.name}`;
  try {
    // From the parent's real path: reached through a symlinked folder, `full` is not one.
    const realPath = entry.isSymlink ? await Deno.realPath(full) : `${parentReal}/${entry.name}`;
    if (entry.isSymlink && !isInsideRoot(dav.root, realPath)) return null;
    const info = await Deno.stat(full);
    const target: DavTarget = {
      ...parent,
      segments: [...parent.segments, entry.name],
      key: `${parent.key === "/" ? "" : parent.key}/${entry.name}`,
      fsPath: full,
    };
    return { target, info, realPath };
  } catch {
    return null;
  }
}

async function proppatch(
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const target = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (target === null || target.info === null) return textResponse(404, "Not Found");
  const denied = forbiddenUnlessWritable(ctx, dav, target);
  if (denied) return denied;
  const ops = parsePropertyUpdate(await readXmlBody(req, ctx.body));
  const pre = await checkPreconditions(dav, req, target);
  if ("status" in pre) return pre;
  const locked = checkLocks(dav, target.key, pre.submitted);
  if (locked) return locked;
  const results = applyPropertyUpdate(dav.props, target.key, ops);
  return multistatus(
    renderPropPatchResponse(davHref(target.segments, target.info.isDirectory), results),
  );
}

/** Resolves a path a request will create or replace: 403/409/400 answers, or the target. */
async function creationTarget(
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
): Promise<DavTarget | HttpResponse> {
  const target = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (target === null) return textResponse(403, "this name is not allowed here");
  if (target.segments.length === 0) {
    return textResponse(405, "the root already exists", [["Allow", DAV_WRITE_METHODS]]);
  }
  const denied = forbiddenUnlessWritable(ctx, dav, target);
  if (denied) return denied;
  validateUploadName(target.segments.at(-1)!, { dotfiles: dav.dotfiles });
  return target;
}

function bodyIsEmpty(req: RequestHead): boolean {
  return req.body.kind === "none" || (req.body.kind === "length" && req.body.length === 0);
}

async function mkcol(dav: DavState, req: RequestHead, ctx: RequestContext): Promise<HttpResponse> {
  if (!bodyIsEmpty(req)) {
    return { ...textResponse(415, "MKCOL with a body is not supported"), close: true };
  }
  const target = await creationTarget(dav, req, ctx);
  if ("status" in target) return target;
  if (target.info !== null) {
    return textResponse(405, "something exists at this URL already", [[
      "Allow",
      DAV_WRITE_METHODS,
    ]]);
  }
  if (target.parentPath === null) return textResponse(409, "the parent collection does not exist");
  const pre = await checkPreconditions(dav, req, target);
  if ("status" in pre) return pre;
  const locked = checkLocks(dav, target.key, pre.submitted, { membership: true });
  if (locked) return locked;
  await Deno.mkdir(target.fsPath);
  return { status: 201, headers: [["Location", davHref(target.segments, true)]] };
}

async function* bodyChunks(body: RequestBody): AsyncGenerator<Uint8Array> {
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) yield chunk;
}

async function put(dav: DavState, req: RequestHead, ctx: RequestContext): Promise<HttpResponse> {
  const maxBytes = dav.write!.maxBytes;
  if (req.headers.has("content-range")) {
    return { ...textResponse(400, "PUT with Content-Range is not supported"), close: true };
  }
  const target = await creationTarget(dav, req, ctx);
  if ("status" in target) return target;
  if (target.info === null && req.rawPath.endsWith("/")) {
    return textResponse(400, "PUT needs a file path like /folder/name.txt");
  }
  if (target.info?.isDirectory) {
    return textResponse(405, "a collection cannot be replaced by PUT", [[
      "Allow",
      DAV_WRITE_METHODS,
    ]]);
  }
  if (target.parentPath === null) return textResponse(409, "the parent collection does not exist");
  const pre = await checkPreconditions(dav, req, target);
  if ("status" in pre) return pre;
  const locked = checkLocks(dav, target.key, pre.submitted, { membership: target.info === null });
  if (locked) return locked;
  if (req.body.kind === "length" && req.body.length > maxBytes) {
    return {
      ...textResponse(413, `upload larger than the limit of ${maxBytes} bytes`),
      close: true,
    };
  }
  const saved = await writeUploadedFile(target.fsPath, bodyChunks(ctx.body), {
    maxBytes,
    overwrite: true,
  });
  dav.onChanged?.(target.fsPath);
  if (saved.replaced) return { status: 204 };
  return { status: 201, headers: [["Location", davHref(target.segments, false)]] };
}

async function remove(dav: DavState, req: RequestHead, ctx: RequestContext): Promise<HttpResponse> {
  const target = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (target === null || target.info === null) return textResponse(404, "Not Found");
  if (target.segments.length === 0) return textResponse(403, "the root cannot be deleted");
  const denied = forbiddenUnlessWritable(ctx, dav, target, { tree: true });
  if (denied) return denied;
  const pre = await checkPreconditions(dav, req, target);
  if ("status" in pre) return pre;
  const locked = checkLocks(dav, target.key, pre.submitted, { deep: true, membership: true });
  if (locked) return locked;
  await removeResource(target.fsPath, target.info.isDirectory && !target.isSymlink);
  dav.props.drop(target.key);
  dav.locks.removeWithin(target.key);
  dav.onChanged?.(target.fsPath);
  return { status: 204 };
}

/** The answer for what a handler threw that a client caused (else rethrown: a 500). */
function failure(err: unknown): HttpResponse {
  if (err instanceof WebDavError) return webDavErrorResponse(err);
  if (err instanceof UploadError) {
    const response = textResponse(err.status, err.message);
    return err.status === 413 ? { ...response, close: true } : response;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return textResponse(403, "this folder is not writable");
  }
  if (err instanceof Deno.errors.NotFound) return textResponse(409, "a parent collection vanished");
  if (err instanceof Deno.errors.AlreadyExists) {
    return textResponse(405, "something exists at this URL already");
  }
  throw err;
}

type MethodHandler = (
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
) => Promise<HttpResponse>;

const WRITE_HANDLERS: Record<string, MethodHandler> = {
  PUT: put,
  DELETE: remove,
  MKCOL: mkcol,
  PROPPATCH: proppatch,
  COPY: copyOrMove,
  MOVE: copyOrMove,
  LOCK: lock,
  UNLOCK: unlock,
};

/** The WebDAV middleware over `dav` (one per process: it holds the locks and properties). */
export function withWebDav(dav: DavState): Middleware {
  return (next) => async (req, ctx) => {
    const method = req.method;
    try {
      if (method === "OPTIONS") return options(dav);
      if (method === "PROPFIND") return await propfind(dav, req, ctx);
      if (DAV_CHANGING_METHODS.has(method)) {
        if (dav.write === undefined) {
          return textResponse(405, `${method} needs --upload (this share is read-only)`, [
            ["Allow", DAV_READ_METHODS],
          ]);
        }
        // A resumable upload (`PUT` + `Content-Range`, the uploader's chunks) is --upload's:
        // WebDAV has no partial PUT, and refusing it here broke uploads with --webdav.
        if (method === "PUT" && req.headers.has("content-range")) return await next(req, ctx);
        return await WRITE_HANDLERS[method](dav, req, ctx);
      }
    } catch (err) {
      return failure(err);
    }
    return await next(req, ctx);
  };
}
