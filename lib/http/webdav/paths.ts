/**
 * Where a WebDAV request points: the request path (or a `Destination`) resolved under the
 * served root with the same rules as every GET (`files/safe_path.ts`: segments decoded once,
 * no `..`, no encoded slash, dotfile rule, symlinks only inside the root), but allowed to
 * name something that does not exist yet, as PUT, MKCOL, COPY and MOVE must.
 *
 * ```ts
 * import { davHref, resolveDavTarget } from "./paths.ts";
 * const target = await resolveDavTarget("/srv/share", "/docs/new%20file.txt", { dotfiles: false });
 * if (target !== null) console.log(target.key, target.info === null); // "/docs/new file.txt" true
 * console.log(davHref(["docs", "a b"], true)); // "/docs/a%20b/"
 * ```
 *
 * @module
 */
import { isInsideRoot, resolveSafePath, safePathSegments } from "../files/safe_path.ts";

/** A request path resolved under the root; the thing it names may not exist. */
export interface DavTarget {
  /** Decoded segments below the root (empty for the root). */
  segments: string[];
  /** `/` + segments joined: the key locks and dead properties are stored under. */
  key: string;
  /** Absolute file-system path (the parent's real path + the name; the root itself). */
  fsPath: string;
  /** Real path of the parent folder; null for the root, or when the parent is missing. */
  parentPath: string | null;
  /** stat of what `fsPath` names (symlinks followed, inside the root), or null if missing. */
  info: Deno.FileInfo | null;
  /** `fsPath` is a symlink (removing or moving it touches the link, never its target). */
  isSymlink: boolean;
}

/** Options for {@link resolveDavTarget}. */
export interface DavPathOptions {
  dotfiles: boolean;
}

/** `/a%20b/c`: segments percent-encoded, for hrefs and `Location`. */
export function davHref(segments: readonly string[], collection: boolean): string {
  const path = "/" + segments.map(encodeURIComponent).join("/");
  return collection && segments.length > 0 ? path + "/" : path;
}

/**
 * Pure: the raw (still percent-encoded) path of a URL or absolute path naming a resource
 * on this server (`host` is the request's authority), or null when it names another
 * server or is no http(s) URL. The path is taken as sent, without the URL parser's
 * dot-segment removal or decoding, so {@link resolveDavTarget} applies GET's rules to it
 * (`..` and `%2e%2e` refused rather than resolved).
 */
export function rawPathOnThisServer(value: string, host: string | null): string | null {
  let rest = value.trim();
  const scheme = /^(https?):\/\//i.exec(rest);
  if (scheme) {
    rest = rest.slice(scheme[0].length);
    const slash = rest.indexOf("/");
    const authority = slash === -1 ? rest : rest.slice(0, slash);
    if (host === null || authority.toLowerCase() !== host.toLowerCase()) return null;
    rest = slash === -1 ? "/" : rest.slice(slash);
  } else if (!rest.startsWith("/")) return null;
  const end = rest.search(/[?#]/);
  return end === -1 ? rest : rest.slice(0, end);
}

/** The key of a path: `/` + segments. */
export function davKey(segments: readonly string[]): string {
  return "/" + segments.join("/");
}

/** True when `key` is `base` or below it. */
export function isSameOrBelow(key: string, base: string): boolean {
  return key === base || base === "/" || key.startsWith(base + "/");
}

/** The key of the parent collection; "/" for the root and its members. */
export function parentKey(key: string): string {
  const slash = key.lastIndexOf("/");
  return slash <= 0 ? "/" : key.slice(0, slash);
}

/**
 * Resolves `rawPath` under `root` (canonical). Null when the path is refused (traversal,
 * hidden name, in-progress upload, a symlink leading out of the root): callers answer 404
 * for reads and 403 for writes, as a GET of the same path would not tell more.
 */
export async function resolveDavTarget(
  root: string,
  rawPath: string,
  options: DavPathOptions,
): Promise<DavTarget | null> {
  const segments = safePathSegments(rawPath, { dotfiles: options.dotfiles });
  if (segments === null) return null;
  const key = davKey(segments);
  if (segments.length === 0) {
    return {
      segments,
      key,
      fsPath: root,
      parentPath: null,
      info: await Deno.stat(root),
      isSymlink: false,
    };
  }
  const parent = await resolveSafePath(root, davHref(segments.slice(0, -1), false), options);
  const parentPath = parent !== null && parent.info.isDirectory ? parent.path : null;
  const name = segments[segments.length - 1];
  const fsPath = `${parentPath ?? root + "/" + segments.slice(0, -1).join("/")}/${name}`;
  if (parentPath === null) {
    return { segments, key, fsPath, parentPath, info: null, isSymlink: false };
  }
  let link: Deno.FileInfo;
  try {
    link = await Deno.lstat(fsPath);
  } catch {
    return { segments, key, fsPath, parentPath, info: null, isSymlink: false };
  }
  if (!link.isSymlink) return { segments, key, fsPath, parentPath, info: link, isSymlink: false };
  // The same rule as GET: a link is followed only when it stays inside the root.
  const found = await resolveSafePath(root, davHref(segments, false), options);
  if (found === null) {
    try {
      const real = await Deno.realPath(fsPath);
      if (!isInsideRoot(root, real)) return null;
    } catch {
      // Dangling: it exists as a link, which DELETE may remove.
    }
    return { segments, key, fsPath, parentPath, info: link, isSymlink: true };
  }
  return { segments, key, fsPath, parentPath, info: found.info, isSymlink: true };
}
