/**
 * The folder-sharing features of `http-serve` as handler wrappers, each a
 * `(next: Handler) => Handler` around the static-file handler, so `serve.ts` only
 * composes them: `--auth`, `--upload`, `--metrics`, `--clean-urls` (folder downloads:
 * archive_download.ts). The pieces they call live in their own modules (auth.ts, upload.ts,
 * multipart.ts, metrics.ts, clean_urls.ts); this file is only the HTTP glue.
 *
 * ```ts
 * import { withBasicAuth, withUploads } from "./middleware.ts";
 * import { parseAuthSpec } from "./auth.ts";
 * import type { Middleware } from "../handler.ts";
 * // Outermost first; the real order is in lib/http/server/build_handler.ts.
 * const middleware: Middleware[] = [
 *   withBasicAuth([parseAuthSpec("alice:s3cret")]),
 *   withUploads({ root: "/srv/share", dotfiles: false }),
 * ];
 * console.log(middleware.length);
 * ```
 *
 * Order matters: authentication is outermost, so no path, method (HEAD, OPTIONS, PUT) or
 * encoding trick reaches anything before the credentials are checked — the metrics
 * endpoint included.
 *
 * @module
 */
import {
  type HttpResponse,
  mayWrite,
  type Middleware,
  type RequestBody,
  type RequestContext,
  type RequestHead,
} from "../handler.ts";
import { textResponse } from "../errors.ts";
import { realUrlPath, resolveSafePath, safePathSegments } from "../files/safe_path.ts";
import {
  type AuthCredential,
  BASIC_CHALLENGE,
  parseBasicAuthorization,
  verifyBasicCredentials,
} from "./auth.ts";
import { cleanUrlCandidate } from "../files/clean_urls.ts";
import { HEALTH_PATH, type HttpMetrics, METRICS_CONTENT_TYPE, METRICS_PATH } from "./metrics.ts";
import { multipartBoundary, MultipartError } from "./multipart.ts";
import { DigestCheck, DigestSyntaxError, parseDigestField } from "./digest.ts";
import { uploaderHtml } from "./uploader_page.ts";
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  saveMultipartUploads,
  UploadError,
  validateUploadName,
  writeUploadedFile,
} from "./upload.ts";

/** Methods answered when uploads are on (for `Allow`). */
export const UPLOAD_ALLOWED_METHODS = "GET, HEAD, OPTIONS, PUT, POST, DELETE";

/** Bytes a multipart body may carry beyond its files: part headers and boundaries. */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * `--auth`: every request needs valid Basic credentials, else 401 with the challenge.
 * Checked before anything looks at the path or method.
 */
export function withBasicAuth(credentials: readonly AuthCredential[]): Middleware {
  return (next) => (req, ctx) => {
    const supplied = parseBasicAuthorization(req.headers.get("authorization"));
    if (verifyBasicCredentials(supplied, credentials)) return next(req, ctx);
    const response = textResponse(401, "authentication required", [
      ["WWW-Authenticate", BASIC_CHALLENGE],
    ]);
    // An unauthenticated body (a PUT of a big file) is not worth reading: close instead.
    return req.body.kind === "none" ? response : { ...response, close: true };
  };
}

/** `--metrics`: GET/HEAD {@link METRICS_PATH} answers the Prometheus text format. */
export function withMetricsEndpoint(metrics: HttpMetrics): Middleware {
  return (next) => (req, ctx) => {
    if (req.path !== METRICS_PATH) return next(req, ctx);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return textResponse(405, `${req.method} is not allowed here`, [["Allow", "GET, HEAD"]]);
    }
    return {
      status: 200,
      headers: [["Content-Type", METRICS_CONTENT_TYPE], ["Cache-Control", "no-store"]],
      body: metrics.render(),
    };
  };
}

/**
 * GET/HEAD {@link HEALTH_PATH} answers 200 `ok` at once, touching no file, marked
 * `untracked` so neither the access log nor `--metrics` counts a load balancer's polling.
 * It sits outside `--auth` (build_handler.ts): a health checker has no password, and the
 * answer says no more than an open port does.
 */
export function withHealthEndpoint(): Middleware {
  return (next) => (req, ctx) => {
    if (req.path !== HEALTH_PATH) return next(req, ctx);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return textResponse(405, `${req.method} is not allowed here`, [["Allow", "GET, HEAD"]]);
    }
    return {
      status: 200,
      headers: [["Content-Type", "text/plain; charset=utf-8"], ["Cache-Control", "no-store"]],
      body: "ok\n",
      untracked: true,
    };
  };
}

/** Options for {@link withCleanUrls}. */
export interface CleanUrlsOptions {
  /** Canonical root. */
  root: string;
  dotfiles?: boolean;
}

/**
 * `--clean-urls`: a GET/HEAD of an extensionless path that names nothing is passed on as
 * `path.html` when that file exists. Decided before the next handler runs (one extra
 * path resolution, only for extensionless paths), so a `--spa` fallback inside the file
 * handler applies only when neither exists. Both lookups use the same path-safety and
 * dotfile rules as any request.
 */
export function withCleanUrls(options: CleanUrlsOptions): Middleware {
  const dotfiles = options.dotfiles ?? false;
  return (next) => async (req, ctx) => {
    if (req.method !== "GET" && req.method !== "HEAD") return await next(req, ctx);
    const rawPath = cleanUrlCandidate(req.rawPath);
    if (rawPath === null || cleanUrlCandidate(req.path) === null) return await next(req, ctx);
    if (await resolveSafePath(options.root, req.rawPath, { dotfiles }) !== null) {
      return await next(req, ctx);
    }
    const page = await resolveSafePath(options.root, rawPath, { dotfiles });
    if (page === null || !page.info.isFile) return await next(req, ctx);
    const target = rawPath + (req.query === "" ? "" : `?${req.query}`);
    return await next({ ...req, rawPath, path: req.path + ".html", target }, ctx);
  };
}

/** Options for {@link withUploads}. */
export interface UploadOptions {
  /** Canonical root. */
  root: string;
  dotfiles?: boolean;
  /** Largest upload (one PUT body, or all files of one form). */
  maxBytes?: number;
  overwrite?: boolean;
  /** Told the real path of every file stored (serve.ts forgets it in the file cache). */
  onStored?: (path: string) => void;
}

/** The request body as an async iterable of chunks (views valid until the next one). */
async function* requestBodyChunks(body: RequestBody): AsyncGenerator<Uint8Array> {
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) yield chunk;
}

function uploadFailure(err: unknown): HttpResponse {
  if (err instanceof UploadError) {
    // A body refused for its size is still on the wire: close rather than read it all.
    const response = textResponse(err.status, err.message);
    return err.status === 413 || err.status === 403 ? { ...response, close: true } : response;
  }
  if (err instanceof MultipartError) return { ...textResponse(400, err.message), close: true };
  if (err instanceof DigestSyntaxError) return { ...textResponse(400, err.message), close: true };
  // A read-only folder inside a writable root: the client's request was fine.
  if (err instanceof Deno.errors.PermissionDenied) {
    return { ...textResponse(403, "this folder is not writable"), close: true };
  }
  throw err;
}

function wantsHtml(req: RequestHead): boolean {
  return (req.headers.get("accept") ?? "").includes("text/html");
}

/**
 * `--upload`: `PUT /dir/name` stores the body as `name`; `POST /dir/` with a
 * `multipart/form-data` body stores each file of the form in `dir` (browsers are sent
 * back to the listing with 303). Paths obey the same rules as GET (`safe_path.ts`), names
 * the upload rules (`upload.ts`). OPTIONS answers include PUT and POST in `Allow`.
 */
export function withUploads(options: UploadOptions): Middleware {
  const dotfiles = options.dotfiles ?? false;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const overwrite = options.overwrite ?? false;
  const root = options.root;

  const put = async (req: RequestHead, ctx: RequestContext): Promise<HttpResponse> => {
    const segments = safePathSegments(req.rawPath, { dotfiles });
    if (segments === null || segments.length === 0 || req.rawPath.endsWith("/")) {
      return textResponse(400, "PUT needs a file path like /folder/name.txt");
    }
    let name: string;
    try {
      name = validateUploadName(segments[segments.length - 1], { dotfiles });
    } catch (err) {
      return uploadFailure(err);
    }
    if (!mayWrite(ctx, `/${segments.join("/")}`)) {
      return { ...textResponse(403, "you may not change this"), close: true };
    }
    const parentRaw = req.rawPath.slice(0, req.rawPath.lastIndexOf("/") + 1);
    const parent = await resolveSafePath(root, parentRaw, { dotfiles });
    if (parent === null || !parent.info.isDirectory) {
      return textResponse(409, "the folder for this upload does not exist");
    }
    // A symlinked folder may lead where this client may not write.
    if (!mayWrite(ctx, realUrlPath(root, parent.path) + "/" + name)) {
      return { ...textResponse(403, "you may not upload here"), close: true };
    }
    if (req.body.kind === "length" && req.body.length > maxBytes) {
      return {
        ...textResponse(413, `upload larger than the limit of ${maxBytes} bytes`),
        close: true,
      };
    }
    try {
      // RFC 9530: for a whole-body PUT, content and representation are the same bytes.
      const digest = await DigestCheck.create([
        ...parseDigestField(req.headers.get("content-digest") ?? ""),
        ...parseDigestField(req.headers.get("repr-digest") ?? ""),
      ]);
      const saved = await writeUploadedFile(
        `${parent.path}/${name}`,
        requestBodyChunks(ctx.body),
        {
          maxBytes,
          overwrite,
          onChunk: (chunk) => digest.update(chunk),
          beforePublish: () => {
            const mismatch = digest.mismatch();
            if (mismatch !== null) throw new UploadError("UPLOAD_DIGEST_MISMATCH", 400, mismatch);
          },
        },
      );
      options.onStored?.(saved.path);
      if (saved.replaced) return { status: 204 };
      return {
        status: 201,
        headers: [["Location", req.rawPath], ["Content-Type", "text/plain; charset=utf-8"]],
        body: `stored ${saved.bytes} bytes\n`,
      };
    } catch (err) {
      return uploadFailure(err);
    }
  };

  const post = async (req: RequestHead, ctx: RequestContext): Promise<HttpResponse> => {
    const dir = await resolveSafePath(root, req.rawPath, { dotfiles });
    if (dir === null || !dir.info.isDirectory) {
      return textResponse(404, "Not Found");
    }
    if (!dir.trailingSlash) return textResponse(400, "POST uploads go to a folder URL ending in /");
    if (!mayWrite(ctx, realUrlPath(root, dir.path))) {
      return { ...textResponse(403, "you may not upload here"), close: true };
    }
    let boundary: string;
    try {
      boundary = multipartBoundary(req.headers.get("content-type"));
    } catch (err) {
      return uploadFailure(err);
    }
    if (req.body.kind === "length" && req.body.length > maxBytes + MULTIPART_OVERHEAD_BYTES) {
      return {
        ...textResponse(413, `upload larger than the limit of ${maxBytes} bytes`),
        close: true,
      };
    }
    try {
      const saved = await saveMultipartUploads(dir.path, requestBodyChunks(ctx.body), boundary, {
        maxBytes,
        overwrite,
        dotfiles,
        onSaved: (s) => options.onStored?.(s.path),
        mayStore: (name) => mayWrite(ctx, `/${[...dir.segments, name].join("/")}`),
      });
      if (wantsHtml(req)) {
        return { status: 303, headers: [["Location", req.rawPath]], body: null };
      }
      const names = saved.map((s) => s.path.slice(s.path.lastIndexOf("/") + 1));
      return {
        status: 201,
        headers: [["Content-Type", "text/plain; charset=utf-8"]],
        body: names.map((n) => `stored ${n}\n`).join("") || "no files in the form\n",
      };
    } catch (err) {
      return uploadFailure(err);
    }
  };

  return (next) => async (req, ctx) => {
    if ((req.method === "PUT" || req.method === "POST") && !mayWrite(ctx, req.path)) {
      // Access rules: this client may read here but not change anything.
      return { ...textResponse(403, "you may not upload here"), close: req.body.kind !== "none" };
    }
    if (req.method === "PUT") return await put(req, ctx);
    if (req.method === "POST") return await post(req, ctx);
    const response = await next(req, ctx);
    if (req.method === "OPTIONS" && response.status === 204) {
      const headers = (response.headers ?? []).map(([k, v]): [string, string] =>
        k.toLowerCase() === "allow" ? [k, UPLOAD_ALLOWED_METHODS] : [k, v]
      );
      return { ...response, headers };
    }
    return response;
  };
}

/** What {@link listingActionsHtml} offers. */
export interface ListingActions {
  /** "Download as .zip / .tar" links for the directory shown. */
  tar: boolean;
  /** An upload form posting to the directory shown. */
  upload: boolean;
}

/**
 * HTML for the listing page (placed after the `<h1>`): the archive links and the upload
 * form. All target the page's own URL (`?download=zip`, `POST .`), so no path needs escaping.
 */
export function listingActionsHtml(actions: ListingActions): string {
  let html = "";
  if (actions.tar) {
    // The words sit inside the first link: a bigger tap target than ".zip" alone.
    html += `<p class="actions"><a href="?download=zip" download>Download this folder as .zip</a>` +
      ` or <a href="?download=tar" download>.tar</a></p>\n`;
  }
  if (actions.upload) html += uploaderHtml();
  return html;
}
