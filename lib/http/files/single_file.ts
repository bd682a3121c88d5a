/**
 * `http-serve FILE`: one file shared on its own. `/` answers a small page linking it (the
 * listing's page, with that one row); `/NAME` answers the file through the static-file
 * handler on its folder, so ranges, conditionals and ETags are the same code as for any
 * file; every other path is 404 — no other file of that folder, no sibling `.gz`/`.br`.
 *
 * ```ts
 * import { singleFile } from "./single_file.ts";
 * const handler = singleFile({ path: "/srv/out/build.iso", name: "build.iso" });
 * console.log(typeof handler);
 * ```
 *
 * @module
 */
import { baseName, dirName } from "../../paths.ts";
import { HttpError } from "../errors.ts";
import type { Handler, HttpResponse, RequestHead } from "../handler.ts";
import { ALLOWED_METHODS, staticFiles } from "./files.ts";
import type { SmallFileCache } from "./file_cache.ts";
import { renderListing } from "./listing.ts";

/** Options for {@link singleFile}. */
export interface SingleFileOptions {
  /** The file's canonical path (its folder is served, filtered to this one name). */
  path: string;
  /** The name it is shared under, at `/NAME` (the name the user gave, maybe a symlink's). */
  name: string;
  /** `--cache SECONDS`, as for any file. */
  cacheSeconds?: number;
  fileCache?: SmallFileCache;
}

/** Builds the handler that shares the one file `options.path`. */
export function singleFile(options: SingleFileOptions): Handler {
  const { path, name } = options;
  const filePath = `/${encodeURIComponent(baseName(path))}`;
  const files = staticFiles({
    root: dirName(path),
    listing: false,
    // The user named this file, so a dotfile is shared too; nothing else can be reached.
    dotfiles: true,
    cacheSeconds: options.cacheSeconds,
    fileCache: options.fileCache,
  });
  return async (req, ctx) => {
    if (req.path === `/${name}`) {
      // Without Accept-Encoding the folder's build.iso.gz is never chosen instead.
      const headers = new Map(req.headers);
      headers.delete("accept-encoding");
      return await files({ ...req, rawPath: filePath, path: filePath, headers }, ctx);
    }
    if (req.path === "/" || req.rawPath === "*") return await singleFilePage(req, path, name);
    throw new HttpError(404, "NOT_FOUND", "Not Found");
  };
}

async function singleFilePage(req: RequestHead, path: string, name: string): Promise<HttpResponse> {
  if (req.method === "OPTIONS") return { status: 204, headers: [["Allow", ALLOWED_METHODS]] };
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new HttpError(405, "METHOD_NOT_ALLOWED", `${req.method} is not allowed here`, {
      headers: [["Allow", ALLOWED_METHODS]],
    });
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new HttpError(404, "NOT_FOUND", "Not Found");
  }
  const html = renderListing({
    path: "/",
    entries: [{ name, isDirectory: false, size: info.size, modified: info.mtime }],
    showParent: false,
  });
  return {
    status: 200,
    headers: [
      ["Content-Type", "text/html; charset=utf-8"],
      ["Cache-Control", "no-cache"],
      ["X-Content-Type-Options", "nosniff"],
    ],
    body: html,
  };
}
