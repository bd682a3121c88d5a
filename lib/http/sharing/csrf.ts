/**
 * Cross-site request forgery defence for the write features (`--upload`: uploads, delete,
 * move, mkdir): a browser on another site must not be able to make a visitor's browser
 * change files — e.g. a hidden form on evil.example posting `delete` to the share.
 *
 * ```ts
 * import { crossSiteWriteReason } from "./csrf.ts";
 * const headers = new Map([["origin", "https://evil.example"], ["host", "share:8000"]]);
 * console.log(crossSiteWriteReason("POST", "share:8000", headers)); // a reason: refuse, 403
 * console.log(crossSiteWriteReason("POST", "share:8000", new Map())); // null: curl
 * ```
 *
 * The choice: a same-origin check from what browsers send on their own, no token and no
 * custom header, so the listing's plain HTML forms still work without JavaScript and
 * `curl` needs nothing extra. A state-changing method (anything but GET, HEAD, OPTIONS,
 * TRACE) is refused when
 * - `Sec-Fetch-Site` (every current browser) is `cross-site` or `same-site` (a sibling
 *   subdomain is another site's code too); `same-origin` and `none` (typed, bookmarked)
 *   pass; or, without it,
 * - `Origin` (sent by browsers on every POST, PUT, DELETE) is `null` or names another
 *   host:port than the request's `Host`.
 * A client that sends neither (curl, scripts) is not a browser riding on a visitor's
 * credentials, and passes.
 *
 * With `--cors` (`allowPreflighted`), the operator has invited pages of other origins, and
 * PUT / DELETE from them pass: a browser sends those only after a preflight that `--cors`
 * answered. A cross-site POST is refused even then: it needs no preflight (an HTML form can
 * send one from any page), which is exactly the forgery this module is for.
 *
 * @module
 */

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/**
 * Pure: null when the request may change state, else a short reason to refuse it (403).
 * `host` is the request's authority (Host header); `headers` by lowercase name.
 */
export function crossSiteWriteReason(
  method: string,
  host: string | null,
  headers: ReadonlyMap<string, string>,
  options: { allowPreflighted?: boolean } = {},
): string | null {
  if (SAFE_METHODS.has(method)) return null;
  if (options.allowPreflighted && method !== "POST") return null;
  const site = headers.get("sec-fetch-site")?.trim().toLowerCase();
  if (site !== undefined) {
    if (site === "same-origin" || site === "none") return null;
    return `a page from another site may not change files here (Sec-Fetch-Site: ${site})`;
  }
  const origin = headers.get("origin")?.trim();
  if (origin === undefined) return null;
  if (origin === "null") return "a page with an opaque origin may not change files here";
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return "the Origin header is not a URL";
  }
  if (host !== null && originHost.toLowerCase() === host.toLowerCase()) return null;
  return `a page from ${origin} may not change files here`;
}
