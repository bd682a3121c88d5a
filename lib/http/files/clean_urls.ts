/**
 * `http-serve --clean-urls`: `/about` serves `about.html` when `about` itself does not
 * exist. Pure: the caller tries the candidate through the same safe-path resolution as any
 * other request, so this cannot widen what is served.
 *
 * ```ts
 * cleanUrlCandidate("/docs/about"); // "/docs/about.html"
 * cleanUrlCandidate("/logo.png");   // null: already has an extension
 * ```
 *
 * @module
 */

/** Extension tried for an extensionless path. */
export const CLEAN_URL_EXTENSION = ".html";

/**
 * The `.html` sibling to try for a decoded URL path, or null when the path ends in `/`
 * (a directory), its last segment is empty, a dot segment, or already has an extension.
 * A leading dot alone (`/.env`) is not an extension: such paths get no candidate either,
 * since dotfile rules belong to the caller.
 */
export function cleanUrlCandidate(decodedPath: string): string | null {
  if (decodedPath === "" || decodedPath.endsWith("/")) return null;
  const last = decodedPath.slice(decodedPath.lastIndexOf("/") + 1);
  if (last === "" || last.startsWith(".") || last.includes(".")) return null;
  return decodedPath + CLEAN_URL_EXTENSION;
}
