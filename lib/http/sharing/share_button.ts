/**
 * The listing's "Share" button (shown to logged-in users): it asks
 * `POST /.well-known/sockit/share?path=…` (access.ts) for a link to the folder shown and
 * puts the answer in a read-only text field, without leaving the page.
 *
 * ```ts
 * import { shareButtonHtml } from "./share_button.ts";
 * console.log(shareButtonHtml().includes("<button")); // true
 * ```
 *
 * @module
 */
import { SHARE_CREATE_PATH } from "./share_links.ts";

/** Trusted HTML for the listing: the button, the field and the script that fills it. */
export function shareButtonHtml(): string {
  const script = `(async (b) => {` +
    `const out = b.nextElementSibling;` +
    `const path = decodeURIComponent(location.pathname);` +
    `const r = await fetch(${JSON.stringify(SHARE_CREATE_PATH)} + "?path=" + ` +
    `encodeURIComponent(path), { method: "POST" });` +
    `out.hidden = false;` +
    `if (!r.ok) { out.value = "could not share: " + (await r.text()).trim(); return; }` +
    `out.value = location.origin + (await r.json()).url; out.select();` +
    `})(this)`;
  return `<p class="share"><button type="button" onclick="${
    script.replace(/"/g, "&quot;")
  }">Share this folder</button> <input class="share-url" readonly hidden size="60"></p>\n`;
}
