/**
 * Maps a request path onto a file under the served root, refusing anything that could
 * escape it. Every refusal is the same `null` (the caller answers 404), so a client never
 * learns whether something outside the root, or a hidden file, exists.
 *
 * ```ts
 * import { canonicalRoot, resolveSafePath } from "./safe_path.ts";
 * const root = await canonicalRoot("./public");
 * const found = await resolveSafePath(root, "/docs/a%20b.txt", { dotfiles: false });
 * // null: traversal, dotfile, missing, symlink out, …
 * console.log(found?.path); // "/abs/public/docs/a b.txt" (symlinks resolved, inside root)
 * ```
 *
 * Security decisions, explicit:
 * - The path is split on "/" *before* percent-decoding, and each segment is decoded once,
 *   so an encoded slash (%2F) or backslash (%5C) can never become a separator, and
 *   "%252e%252e" stays the literal name "%2e%2e". Such segments, "." / "..", and NUL are
 *   refused outright rather than normalised: no legitimate client sends them.
 * - Symlinks are followed, but the real path must still be inside the real root.
 * - Dotfiles (any segment starting with ".") are refused unless `dotfiles` is set, both in
 *   the requested path and in the real path a symlink leads to.
 * - Uploads in progress (`.sockit-upload-…`, see `upload.ts`) are refused always, even
 *   with `dotfiles`: a half-written file must never be served.
 *
 * @module
 */
import { percentDecode } from "../semantics/target.ts";

/** Name prefix of in-progress uploads; such names are never served, listed or archived. */
export const UPLOAD_TEMP_PREFIX = ".sockit-upload-";

/** True for the names of in-progress uploads. */
export function isUploadTempName(name: string): boolean {
  return name.startsWith(UPLOAD_TEMP_PREFIX);
}

/** Options for path resolution. */
export interface SafePathOptions {
  /** Serve names starting with "." (default false: hidden and refused). */
  dotfiles?: boolean;
}

/** A request path resolved to an existing file or directory inside the root. */
export interface ResolvedPath {
  /** Real absolute path (symlinks resolved). */
  path: string;
  /** stat of `path`. */
  info: Deno.FileInfo;
  /** Decoded path segments below the root (empty for the root itself). */
  segments: string[];
  /** The request path ended with "/". */
  trailingSlash: boolean;
}

/**
 * Pure: a raw (still percent-encoded) absolute path as decoded segments, or null when a
 * segment cannot name a file: bad encoding, `.`/`..`, an encoded `/` or `\`, NUL. Empty
 * segments ("//") are skipped, as nginx merges slashes. No dotfile rule: see
 * {@link safePathSegments}.
 */
export function decodePathSegments(rawPath: string): string[] | null {
  if (rawPath.charCodeAt(0) !== 0x2f /* / */) return null;
  const segments: string[] = [];
  for (const raw of rawPath.split("/")) {
    if (raw === "") continue;
    let name: string;
    try {
      name = percentDecode(raw);
    } catch {
      return null;
    }
    if (name === "." || name === "..") return null;
    if (name.includes("/") || name.includes("\\") || name.includes("\0")) return null;
    segments.push(name);
  }
  return segments;
}

/**
 * Pure: splits a raw (still percent-encoded) request path into decoded segments, or null
 * when it must be refused: {@link decodePathSegments}' refusals, plus dot-names without
 * `dotfiles` and sockit's in-progress upload names always.
 */
export function safePathSegments(rawPath: string, options: SafePathOptions = {}): string[] | null {
  const segments = decodePathSegments(rawPath);
  if (segments === null) return null;
  for (const name of segments) {
    if (name.charCodeAt(0) === 0x2e /* . */ && (!options.dotfiles || isUploadTempName(name))) {
      return null;
    }
  }
  return segments;
}

/** The canonical (realpath) form of a root directory; resolve it once at startup. */
export function canonicalRoot(dir: string): Promise<string> {
  return Deno.realPath(dir);
}

/** True when `real` is `root` or below it (both canonical). */
export function isInsideRoot(root: string, real: string): boolean {
  if (real === root) return true;
  const prefix = root.endsWith("/") ? root : root + "/";
  return real.startsWith(prefix);
}

/** The decoded URL path of `real`, a canonical path inside `root` ("/" for the root). */
export function realUrlPath(root: string, real: string): string {
  if (real === root) return "/";
  return "/" + real.slice(root.endsWith("/") ? root.length : root.length + 1);
}

/**
 * Resolves `rawPath` under `root` (which must be canonical, see {@link canonicalRoot}).
 * Null for every refusal and for anything missing or unreadable.
 */
export async function resolveSafePath(
  root: string,
  rawPath: string,
  options: SafePathOptions = {},
): Promise<ResolvedPath | null> {
  const segments = safePathSegments(rawPath, options);
  if (segments === null) return null;
  const candidate = segments.length === 0 ? root : `${root}/${segments.join("/")}`;
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = segments.length === 0 ? root : await Deno.realPath(candidate);
    if (!isInsideRoot(root, real)) return null;
    if (isUploadTempName(real.slice(real.lastIndexOf("/") + 1))) return null;
    if (!options.dotfiles && real !== root) {
      const below = real.slice(root.endsWith("/") ? root.length : root.length + 1);
      if (below.charCodeAt(0) === 0x2e || below.includes("/.")) return null;
    }
    info = await Deno.stat(real);
  } catch {
    return null; // missing, dangling symlink, permission denied on a parent: all 404
  }
  return { path: real, info, segments, trailingSlash: rawPath.endsWith("/") };
}
