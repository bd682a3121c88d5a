/**
 * `http-serve --spa`: single-page apps route in the browser (`/users/42`), so a request for
 * a path with no matching file and no extension gets `/index.html` with 200 and the app
 * renders the route. Pure: the caller tries the real file first and resolves the fallback
 * through the same safe-path rules as any other request.
 *
 * ```ts
 * import { spaFallbackPath } from "./spa.ts";
 * // A GET of a missing, extensionless path: the app's client-side router gets index.html.
 * spaFallbackPath("GET", "/settings/profile"); // "/index.html"
 * spaFallbackPath("GET", "/missing.png"); // null: a real 404
 * ```
 *
 * @module
 */

/** What a missing route falls back to. */
export const SPA_FALLBACK_PATH = "/index.html";

/**
 * The fallback for a missing `decodedPath`, or null when a 404 is the right answer:
 * methods other than GET/HEAD; a last segment with an extension (`/app.js`, `/logo.png`:
 * a missing asset must stay a 404, not become HTML the browser tries to run as script);
 * and any segment starting with "." (`/.well-known/…`, `/.env`: never routes).
 */
export function spaFallbackPath(method: string, decodedPath: string): string | null {
  if (method !== "GET" && method !== "HEAD") return null;
  const segments = decodedPath.split("/");
  if (segments.some((segment) => segment.startsWith("."))) return null;
  const last = segments[segments.length - 1];
  if (last.includes(".")) return null;
  return SPA_FALLBACK_PATH;
}
