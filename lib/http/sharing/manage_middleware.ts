/**
 * The HTTP forms of file management and resumable uploads (`--upload`), as one middleware
 * placed just outside `withUploads`: it refuses cross-site writes for every write feature
 * (csrf.ts), answers `DELETE`, the `POST` forms below and `PUT` with `Content-Range`, and
 * passes everything else (plain `PUT`, multipart `POST`, reads) on.
 *
 * ```ts
 * import { withFileManagement } from "./manage_middleware.ts";
 * const middleware = withFileManagement({ root: "/srv/share", maxBytes: 1024 ** 3 });
 * console.log(typeof middleware);
 * ```
 *
 * The forms, chosen not to collide with WebDAV's methods (MKCOL, MOVE, COPY are
 * `--webdav`'s):
 * - `DELETE /path` → 204; a folder only when empty (else 409) unless `?recursive=1`.
 * - `POST /dir/?mkdir=NAME` → 201 + `Location`.
 * - `POST /path?move=TARGET` → 201 + `Location` (204 when `--overwrite` replaced a file).
 *   TARGET is a URL path: from the root when it starts with `/`, else relative to the
 *   source's folder (a bare name renames).
 * - `POST /path?delete` (with `&recursive=1`) → as DELETE, for HTML forms.
 * The parameters may come in the query or an `application/x-www-form-urlencoded` body (a
 * plain HTML form, at most {@link MAX_MANAGE_FORM_BYTES}); `path=NAME` there names the
 * entry inside the folder the form posts to. A browser (Accept: text/html) is sent back to
 * the folder with 303 instead. Every change asks `mayWrite(ctx, path)` first (403).
 * - `PUT /path` with `Content-Range: bytes a-b/total` appends (resumable.ts): 308 +
 *   `Range: bytes=0-N` while incomplete, 201/204 when published; `bytes *&#47;total` with no
 *   body asks where to resume (308). `Content-Digest` / `Repr-Digest` are checked (digest.ts).
 *
 * @module
 */
import { errorResponse, HttpError, textResponse } from "../errors.ts";
import {
  type HttpResponse,
  mayWrite,
  mayWriteTree,
  type Middleware,
  type RequestBody,
  type RequestContext,
  type RequestHead,
} from "../handler.ts";
import { realUrlPath, resolveSafePath, safePathSegments } from "../files/safe_path.ts";
import { crossSiteWriteReason } from "./csrf.ts";
import { DigestSyntaxError, parseDigestField } from "./digest.ts";
import {
  deleteEntry,
  makeFolder,
  ManageError,
  type ManageOptions,
  moveEntry,
  resolveExisting,
  resolveNew,
  targetSegments,
} from "./manage.ts";
import {
  appendUploadRange,
  parseUploadContentRange,
  queryUploadOffset,
  ResumeError,
  resumeRangeHeader,
} from "./resumable.ts";
import { DEFAULT_MAX_UPLOAD_BYTES, UploadError, validateUploadName } from "./upload.ts";

/** Largest urlencoded form body a management POST may carry; more → 413. */
export const MAX_MANAGE_FORM_BYTES = 8 * 1024;

/** Options for {@link withFileManagement}. */
export interface FileManagementOptions {
  /** Canonical root. */
  root: string;
  dotfiles?: boolean;
  /** `--max-upload`: the largest total of a resumable upload. */
  maxBytes?: number;
  overwrite?: boolean;
  /** `--cors`: cross-origin PUT and DELETE (preflighted) pass the CSRF check (csrf.ts). */
  cors?: boolean;
  /** Told every real path changed (serve.ts forgets it in the file cache). */
  onChanged?: (path: string) => void;
}

function failure(err: unknown, req: RequestHead, ctx: RequestContext): HttpResponse {
  let response: HttpResponse;
  if (err instanceof ResumeError) {
    const range = err.offset === null ? null : resumeRangeHeader(err.offset);
    response = textResponse(err.status, err.message, range === null ? [] : [["Range", range]]);
  } else if (err instanceof ManageError || err instanceof UploadError) {
    response = textResponse(err.status, err.message);
  } else if (err instanceof DigestSyntaxError) {
    response = textResponse(400, err.message);
  } else if (err instanceof Deno.errors.PermissionDenied) {
    response = textResponse(403, "this folder is not writable");
  } else if (err instanceof HttpError) {
    return errorResponse(err);
  } else {
    throw err;
  }
  // A body nobody will read is not worth receiving: close instead.
  return req.body.kind !== "none" && !ctx.body.done ? { ...response, close: true } : response;
}

function decodedPath(segments: readonly string[]): string {
  return "/" + segments.join("/");
}

function folderOf(rawPath: string): string {
  return rawPath.slice(0, rawPath.lastIndexOf("/") + 1);
}

function wantsHtml(req: RequestHead): boolean {
  return (req.headers.get("accept") ?? "").includes("text/html");
}

function forbidden(): HttpResponse {
  return textResponse(403, "you may not change this");
}

async function readForm(body: RequestBody): Promise<string | null> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
    total += chunk.length;
    if (total > MAX_MANAGE_FORM_BYTES) return null;
    parts.push(chunk.slice());
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(bytes);
}

const MANAGE_PARAMS = ["mkdir", "move", "delete"];

function isFormBody(req: RequestHead): boolean {
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/x-www-form-urlencoded";
}

/** `--upload`'s file management and resumable PUT; see the module doc. */
export function withFileManagement(options: FileManagementOptions): Middleware {
  const manage: ManageOptions = {
    root: options.root,
    dotfiles: options.dotfiles ?? false,
    overwrite: options.overwrite ?? false,
  };
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const changed = (path: string) => options.onChanged?.(path);
  // The URL path is not enough: a symlinked folder on the way may lead into a folder this
  // client may not change, so where the change really lands (a real path) is asked too.
  const mayWriteReal = (ctx: RequestContext, fsPath: string) =>
    mayWrite(ctx, realUrlPath(options.root, fsPath));
  // A folder moved or deleted takes along what a rule below it protects: all of it is asked.
  const mayWriteTreeAt = (ctx: RequestContext, segments: readonly string[], fsPath: string) =>
    mayWriteTree(ctx, decodedPath(segments)) &&
    mayWriteTree(ctx, realUrlPath(options.root, fsPath));

  const remove = async (
    req: RequestHead,
    ctx: RequestContext,
    rawPath: string,
    recursive: boolean,
  ): Promise<HttpResponse> => {
    const entry = await resolveExisting(rawPath, manage);
    if (!mayWriteTreeAt(ctx, entry.segments, entry.path)) return forbidden();
    changed(await deleteEntry(rawPath, { ...manage, recursive }));
    return wantsHtml(req)
      ? { status: 303, headers: [["Location", folderOf(req.rawPath)]], body: null }
      : { status: 204 };
  };

  const post = async (req: RequestHead, ctx: RequestContext): Promise<HttpResponse> => {
    const params = new URLSearchParams(req.query);
    if (isFormBody(req)) {
      const form = await readForm(ctx.body);
      if (form === null) {
        return {
          ...textResponse(413, `form larger than ${MAX_MANAGE_FORM_BYTES} bytes`),
          close: true,
        };
      }
      for (const [k, v] of new URLSearchParams(form)) params.append(k, v);
    }
    let rawPath = req.rawPath;
    const name = params.get("path");
    if (name !== null && name !== "") {
      if (!req.rawPath.endsWith("/")) return textResponse(400, "path= needs a folder URL");
      rawPath = req.rawPath + name.split("/").map((s) => encodeURIComponent(s)).join("/");
    }
    const html = wantsHtml(req);
    const back = folderOf(req.rawPath);
    if (params.has("delete")) {
      const recursive = ["1", "true", "on"].includes(params.get("recursive") ?? "");
      return await remove(req, ctx, rawPath, recursive);
    }
    const move = params.get("move");
    if (move !== null && move !== "") {
      const source = await resolveExisting(rawPath, manage);
      const to = targetSegments(move, source.segments.slice(0, -1));
      // The URL paths first: a refusal must not depend on what exists there.
      if (!mayWrite(ctx, decodedPath(source.segments)) || !mayWrite(ctx, decodedPath(to))) {
        return forbidden();
      }
      const into = await resolveNew(to, manage);
      if (
        !mayWriteTreeAt(ctx, source.segments, source.path) || !mayWriteTreeAt(ctx, to, into.path)
      ) {
        return forbidden();
      }
      const moved = await moveEntry(rawPath, move, manage);
      changed(moved.from);
      changed(moved.to);
      const location = "/" + moved.segments.map((s) => encodeURIComponent(s)).join("/") +
        (source.info.isDirectory ? "/" : "");
      if (html) return { status: 303, headers: [["Location", back]], body: null };
      if (moved.replaced) return { status: 204, headers: [["Location", location]] };
      return created(location, `moved to ${decodedPath(moved.segments)}`);
    }
    const mkdir = params.get("mkdir");
    if (mkdir !== null) {
      if (!req.rawPath.endsWith("/")) return textResponse(400, "mkdir= needs a folder URL");
      const parent = safePathSegments(req.rawPath, { dotfiles: manage.dotfiles });
      if (parent !== null && !mayWrite(ctx, decodedPath([...parent, mkdir]))) return forbidden();
      if (
        parent !== null && !mayWriteReal(ctx, (await resolveNew([...parent, mkdir], manage)).path)
      ) {
        return forbidden();
      }
      await makeFolder(req.rawPath, mkdir, manage);
      if (html) return { status: 303, headers: [["Location", back]], body: null };
      return created(`${req.rawPath}${encodeURIComponent(mkdir)}/`, `created folder ${mkdir}`);
    }
    return textResponse(400, "say what to do: mkdir=NAME, move=TARGET or delete");
  };

  const resumablePut = async (
    req: RequestHead,
    ctx: RequestContext,
    contentRange: string,
  ): Promise<HttpResponse> => {
    const range = parseUploadContentRange(contentRange);
    if (range === null) {
      return textResponse(400, "Content-Range must be 'bytes FIRST-LAST/TOTAL' or 'bytes */TOTAL'");
    }
    const segments = safePathSegments(req.rawPath, { dotfiles: manage.dotfiles });
    if (segments === null || segments.length === 0 || req.rawPath.endsWith("/")) {
      return textResponse(400, "PUT needs a file path like /folder/name.txt");
    }
    const name = validateUploadName(segments[segments.length - 1], { dotfiles: manage.dotfiles });
    if (!mayWrite(ctx, decodedPath(segments))) return forbidden();
    const parent = await resolveSafePath(options.root, folderOf(req.rawPath), {
      dotfiles: manage.dotfiles,
    });
    if (parent === null || !parent.info.isDirectory) {
      return textResponse(409, "the folder for this upload does not exist");
    }
    const target = `${parent.path === "/" ? "" : parent.path}/${name}`;
    if (!mayWriteReal(ctx, target)) return forbidden();
    if (range.kind === "query") {
      if (req.body.kind !== "none") return textResponse(400, "a 'bytes */TOTAL' query has no body");
      return resumeIncomplete(await queryUploadOffset(target, range.total));
    }
    const contentDigest = parseDigestField(req.headers.get("content-digest") ?? "");
    const reprDigest = parseDigestField(req.headers.get("repr-digest") ?? "");
    if (req.body.kind === "length" && req.body.length !== range.last - range.first + 1) {
      return textResponse(400, "Content-Length does not match the Content-Range");
    }
    const result = await appendUploadRange(target, range, bodyChunks(ctx.body), {
      maxBytes,
      overwrite: manage.overwrite ?? false,
      contentDigest,
      // The first and only range is the whole file: its content digest is the file's too.
      reprDigest: range.first === 0 && range.last === range.total - 1
        ? [...reprDigest, ...contentDigest]
        : reprDigest,
    });
    if (result.kind === "partial") return resumeIncomplete(result.offset);
    changed(result.path);
    if (result.replaced) return { status: 204 };
    return created(req.rawPath, `stored ${result.bytes} bytes`);
  };

  return (next) => async (req, ctx) => {
    const reason = crossSiteWriteReason(req.method, req.host, req.headers, {
      allowPreflighted: options.cors,
    });
    if (reason !== null) {
      const response = textResponse(403, reason);
      return req.body.kind === "none" ? response : { ...response, close: true };
    }
    try {
      if (req.method === "DELETE") {
        const recursive = ["1", "true", "on"].includes(
          new URLSearchParams(req.query).get("recursive") ?? "",
        );
        return await remove(req, ctx, req.rawPath, recursive);
      }
      if (req.method === "POST") {
        const query = new URLSearchParams(req.query);
        if (isFormBody(req) || MANAGE_PARAMS.some((p) => query.has(p))) {
          return await post(req, ctx);
        }
      }
      const contentRange = req.headers.get("content-range");
      if (req.method === "PUT" && contentRange !== undefined) {
        return await resumablePut(req, ctx, contentRange);
      }
    } catch (err) {
      return failure(err, req, ctx);
    }
    return await next(req, ctx);
  };
}

function created(location: string, message: string): HttpResponse {
  return {
    status: 201,
    headers: [["Location", location], ["Content-Type", "text/plain; charset=utf-8"]],
    body: `${message}\n`,
  };
}

/** 308 "Resume Incomplete" (the Google / tus convention), with what the server has. */
function resumeIncomplete(offset: number): HttpResponse {
  const range = resumeRangeHeader(offset);
  return {
    status: 308,
    headers: [...(range === null ? [] : [["Range", range] as [string, string]])],
    body: null,
  };
}

async function* bodyChunks(body: RequestBody): AsyncGenerator<Uint8Array> {
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) yield chunk;
}
