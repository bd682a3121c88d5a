/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9): the `Destination` confined to this server and its
 * root, `Overwrite` (T by default; F and an existing target → 412), `Depth` (COPY: 0 or
 * infinity; MOVE: infinity only), and the answers: 201 created, 204 replaced, 409 when
 * the target's parent is missing, 403 for the same resource or a collection into itself,
 * 502 for a destination on another server.
 *
 * ```ts
 * import { parseDestination, parseOverwrite } from "./copy_move.ts";
 * console.log(parseDestination("http://h:8000/a%20b/", "h:8000")); // "/a%20b/"
 * console.log(parseDestination("http://elsewhere/x", "h:8000")); // null → 502
 * console.log(parseOverwrite(undefined)); // true
 * ```
 *
 * Files are copied the way uploads are stored: into a `.sockit-upload-…` temp file in the
 * target folder, then renamed, so no client ever sees a half-copied file. A copy follows
 * the GET rules: hidden names (without `--dotfiles`), uploads in progress and symlinks
 * leading out of the root are not copied. MOVE is a rename (the same file system); a
 * cross-device rename (a mount inside the root) falls back to copy + delete.
 *
 * @module
 */
import { textResponse } from "../errors.ts";
import { type HttpResponse, mayRead, type RequestContext, type RequestHead } from "../handler.ts";
import {
  isInsideRoot,
  isUploadTempName,
  realUrlPath,
  UPLOAD_TEMP_PREFIX,
} from "../files/safe_path.ts";
import {
  checkLocks,
  checkPreconditions,
  type DavState,
  forbiddenUnlessWritable,
  webDavErrorResponse,
} from "./context.ts";
import { davHref, isSameOrBelow, rawPathOnThisServer, resolveDavTarget } from "./paths.ts";
import { WebDavError } from "./xml.ts";

/**
 * Pure: the raw path a `Destination` names on this server (`host` is the request's), or
 * null when it names another server (→ 502). 400 when missing or not a URL.
 */
export function parseDestination(value: string | undefined, host: string | null): string | null {
  if (value === undefined || value.trim() === "") {
    throw new WebDavError("BAD_DESTINATION", 400, "Destination header required");
  }
  const v = value.trim();
  if (!v.startsWith("/") && !/^[a-z][a-z0-9+.-]*:/i.test(v)) {
    throw new WebDavError("BAD_DESTINATION", 400, "Destination is not a URL");
  }
  return rawPathOnThisServer(v, host);
}

/** Pure: `Overwrite: T|F` (absent: T, §10.6); 400 for anything else. */
export function parseOverwrite(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.trim().toUpperCase();
  if (v === "T") return true;
  if (v === "F") return false;
  throw new WebDavError("BAD_DEPTH", 400, "Overwrite must be T or F");
}

/** Pure: `Depth` of COPY (true = infinity) or MOVE (infinity only); 400 otherwise. */
export function parseCopyDepth(value: string | undefined, method: "COPY" | "MOVE"): boolean {
  const v = (value ?? "infinity").trim().toLowerCase();
  if (v === "infinity") return true;
  if (v === "0" && method === "COPY") return false;
  throw new WebDavError("BAD_DEPTH", 400, `Depth ${value} is not allowed for ${method}`);
}

function tempName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return UPLOAD_TEMP_PREFIX + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Copies one file through a temp file in the target folder, then renames it into place. */
async function copyFileAtomically(from: string, to: string): Promise<void> {
  const temp = `${to.slice(0, to.lastIndexOf("/"))}/${tempName()}`;
  try {
    await Deno.copyFile(from, temp);
    await Deno.rename(temp, to);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

/** Rules a tree copy follows (those of GET). */
export interface CopyRules {
  root: string;
  dotfiles: boolean;
  /** Access rules: false for a real path this client may not read, which is not copied. */
  readable?: (realPath: string) => boolean;
}

/** Copies `from` (a file or folder, real path) to `to`; folders recursively with `deep`. */
export async function copyTree(from: string, to: string, deep: boolean, rules: CopyRules) {
  const info = await Deno.stat(from);
  if (!info.isDirectory) return await copyFileAtomically(from, to);
  await Deno.mkdir(to);
  if (!deep) return;
  for await (const entry of Deno.readDir(from)) {
    if (isUploadTempName(entry.name)) continue;
    if (!rules.dotfiles && entry.name.startsWith(".")) continue;
    let source = `${from}/${entry.name}`;
    if (entry.isSymlink) {
      try {
        source = await Deno.realPath(source);
      } catch {
        continue; // dangling: nothing to copy
      }
      if (!isInsideRoot(rules.root, source)) continue;
    }
    if (rules.readable && !rules.readable(source)) continue;
    await copyTree(source, `${to}/${entry.name}`, true, rules);
  }
}

/** Removes a file, a link or a whole folder. */
export async function removeResource(fsPath: string, isDirectory: boolean): Promise<void> {
  await Deno.remove(fsPath, { recursive: isDirectory });
}

function isCrossDevice(err: unknown): boolean {
  return err instanceof Error && /os error 18\b|EXDEV/.test(err.message);
}

/** The COPY / MOVE handler. */
export async function copyOrMove(
  dav: DavState,
  req: RequestHead,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const method = req.method as "COPY" | "MOVE";
  let destRaw: string | null;
  let overwrite: boolean;
  let deep: boolean;
  try {
    destRaw = parseDestination(req.headers.get("destination"), req.host);
    overwrite = parseOverwrite(req.headers.get("overwrite"));
    deep = parseCopyDepth(req.headers.get("depth"), method);
  } catch (err) {
    if (err instanceof WebDavError) return webDavErrorResponse(err);
    throw err;
  }
  if (destRaw === null) return textResponse(502, "Destination is on another server");
  const source = await resolveDavTarget(dav.root, req.rawPath, dav);
  if (source === null || source.info === null) return textResponse(404, "Not Found");
  // A COPY reads what the source really is: a symlink (or a folder on the way) may lead
  // where this client may not read, and the copy would land somewhere it may. As GET: 404.
  const sourceReal = await Deno.realPath(source.fsPath);
  if (method === "COPY" && !mayRead(ctx, realUrlPath(dav.root, sourceReal))) {
    return textResponse(404, "Not Found");
  }
  const dest = await resolveDavTarget(dav.root, destRaw, dav);
  if (dest === null) return textResponse(403, "this Destination is not allowed");
  if (dest.segments.length === 0) return textResponse(403, "the root cannot be replaced");
  if (method === "MOVE" && source.segments.length === 0) {
    return textResponse(403, "the root cannot be moved");
  }
  if (source.key === dest.key) return textResponse(403, "source and destination are the same");
  if (source.info.isDirectory && isSameOrBelow(dest.key, source.key)) {
    return textResponse(403, "a collection cannot be copied or moved into itself");
  }
  const denied = forbiddenUnlessWritable(ctx, dav, dest, { tree: true }) ??
    (method === "MOVE" ? forbiddenUnlessWritable(ctx, dav, source, { tree: true }) : null);
  if (denied) return denied;
  const pre = await checkPreconditions(dav, req, source);
  if ("status" in pre) return pre;
  const locked =
    (method === "MOVE"
      ? checkLocks(dav, source.key, pre.submitted, { deep: true, membership: true })
      : null) ?? checkLocks(dav, dest.key, pre.submitted, { deep: true, membership: true });
  if (locked) return locked;
  if (dest.parentPath === null) {
    return textResponse(409, "the Destination's parent collection does not exist");
  }
  const replacing = dest.info !== null;
  if (replacing && !overwrite) {
    return textResponse(412, "the Destination exists and Overwrite is F");
  }
  if (replacing) {
    await removeResource(dest.fsPath, dest.info!.isDirectory && !dest.isSymlink);
    dav.props.drop(dest.key);
    dav.onChanged?.(dest.fsPath);
  }
  // Access rules: what this client may not read is not copied (a MOVE needs write on the
  // source, and moves the tree as it is).
  const readable = (real: string) => mayRead(ctx, realUrlPath(dav.root, real));
  if (method === "COPY") {
    // From the real path, so the members' paths are real too (what `readable` is asked).
    await copyTree(sourceReal, dest.fsPath, deep, { ...dav, readable });
    dav.props.copy(source.key, dest.key, deep);
  } else {
    try {
      await Deno.rename(source.fsPath, dest.fsPath);
    } catch (err) {
      if (!isCrossDevice(err)) throw err;
      await copyTree(source.fsPath, dest.fsPath, true, dav);
      await removeResource(source.fsPath, source.info.isDirectory);
    }
    dav.props.move(source.key, dest.key);
    dav.locks.removeWithin(source.key);
    dav.onChanged?.(source.fsPath);
  }
  dav.onChanged?.(dest.fsPath);
  if (replacing) return { status: 204 };
  return {
    status: 201,
    headers: [["Location", davHref(dest.segments, source.info.isDirectory)]],
  };
}
