/**
 * The page side of `http-serve --watch` (live_reload.ts): the script injected into HTML
 * pages, and the middleware that injects it where it is safe — a 200 `text/html` response
 * with no `Content-Encoding`, no `Content-Disposition: attachment` and at most
 * {@link MAX_LIVE_RELOAD_HTML_BYTES}; ranges (206), other types and bigger pages are sent
 * unchanged. An injected page gets a weak ETag with the {@link LIVE_RELOAD_ETAG_SUFFIX}
 * suffix (its bytes differ from the file's), so a page cached before `--watch` is never
 * answered 304.
 *
 * ```ts
 * import { injectLiveReloadScript } from "./live_reload_page.ts";
 * const html = new TextEncoder().encode("<body>hi</body>");
 * console.log(new TextDecoder().decode(injectLiveReloadScript(html)));
 * ```
 *
 * @module
 */
import { concatBytes } from "../../framing.ts";
import type {
  Handler,
  HeaderList,
  HttpResponse,
  Middleware,
  RequestHead,
  ResponseBody,
} from "../handler.ts";
import { parseEntityTagList } from "../semantics/conditional.ts";

/** The event stream the injected script listens on (beside `--metrics`' endpoint). */
export const LIVE_RELOAD_PATH = "/.well-known/sockit/live-reload";
/** HTML bodies up to this size get the script; bigger ones are sent unchanged. */
export const MAX_LIVE_RELOAD_HTML_BYTES = 1024 * 1024;
/** Appended to the ETag of an injected page (`"X"` → `W/"X-live-reload"`). */
export const LIVE_RELOAD_ETAG_SUFFIX = "-live-reload";

/** The injected script; `LIVE_RELOAD_PATH` is the only thing it needs from the server. */
export const LIVE_RELOAD_SCRIPT = `<script data-sockit-live-reload>(() => {
  const events = new EventSource(${JSON.stringify(LIVE_RELOAD_PATH)});
  let dropped = false;
  events.onerror = () => dropped = true;
  events.onopen = () => dropped && location.reload(); // the server is back: files may differ
  events.addEventListener("reload", () => location.reload());
  events.addEventListener("css", (e) => {
    const path = JSON.parse(e.data).path;
    const links = [...document.querySelectorAll("link[rel~=stylesheet]")]
      .filter((l) => new URL(l.href).origin === location.origin);
    const own = links.filter((l) => decodeURIComponent(new URL(l.href).pathname) === path);
    for (const link of own.length > 0 ? own : links) { // none: an @import, refresh all
      const fresh = link.cloneNode();
      const url = new URL(link.href);
      url.searchParams.set("sockit-live-reload", Date.now());
      fresh.href = url.href;
      fresh.onload = fresh.onerror = () => link.remove();
      link.after(fresh);
    }
  });
})();</script>`;

const textEncoder = new TextEncoder();
const SCRIPT_BYTES = textEncoder.encode(LIVE_RELOAD_SCRIPT);

/** Index of the last `</body` (ASCII case-insensitive) in `html`, or -1. */
export function lastBodyCloseTag(html: Uint8Array): number {
  const tag = [0x3c, 0x2f, 0x62, 0x6f, 0x64, 0x79]; // "</body"
  outer: for (let i = html.length - tag.length; i >= 0; i--) {
    for (let j = 0; j < tag.length; j++) {
      const c = html[i + j];
      // Letters compare case-insensitively ("</BODY>"); "<" and "/" exactly.
      if ((j < 2 ? c : c | 0x20) !== tag[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** `html` with {@link LIVE_RELOAD_SCRIPT} before its last `</body>`, or at its end. */
export function injectLiveReloadScript(html: Uint8Array): Uint8Array {
  const at = lastBodyCloseTag(html);
  const cut = at === -1 ? html.length : at;
  const out = new Uint8Array(html.length + SCRIPT_BYTES.length);
  out.set(html.subarray(0, cut), 0);
  out.set(SCRIPT_BYTES, cut);
  out.set(html.subarray(cut), cut + SCRIPT_BYTES.length);
  return out;
}

function headerValue(headers: HeaderList | undefined, name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers?.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** The length of `body` if it can be read into memory here, else null. */
function bodyLength(body: ResponseBody | undefined): number | null {
  if (body === null || body === undefined) return 0;
  if (typeof body === "string") return textEncoder.encode(body).length;
  if (body instanceof Uint8Array) return body.length;
  if ("file" in body) return body.length;
  return body.length ?? null;
}

/**
 * Whether the script goes into `res`: a whole (200) HTML page, not encoded, not a
 * download, its length known and within {@link MAX_LIVE_RELOAD_HTML_BYTES}.
 */
export function isInjectable(res: HttpResponse): boolean {
  if (res.status !== 200) return false;
  const type = headerValue(res.headers, "content-type")?.toLowerCase() ?? "";
  if (!type.startsWith("text/html")) return false;
  const coding = headerValue(res.headers, "content-encoding")?.toLowerCase();
  if (coding !== undefined && coding !== "identity") return false;
  const disposition = headerValue(res.headers, "content-disposition")?.toLowerCase() ?? "";
  if (disposition.startsWith("attachment")) return false;
  if (headerValue(res.headers, "content-range") !== undefined) return false;
  const length = bodyLength(res.body);
  return length !== null && length <= MAX_LIVE_RELOAD_HTML_BYTES;
}

async function readBody(body: ResponseBody | undefined): Promise<Uint8Array> {
  if (body === null || body === undefined) return new Uint8Array(0);
  if (typeof body === "string") return textEncoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if ("file" in body) {
    try {
      const out = new Uint8Array(body.length);
      if (body.offset) await body.file.seek(body.offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < out.length) {
        const n = await body.file.read(out.subarray(filled));
        if (n === null) break; // shrank meanwhile: send what is there
        filled += n;
      }
      return out.subarray(0, filled);
    } finally {
      body.file.close();
    }
  }
  const parts: Uint8Array[] = [];
  for await (const chunk of body.stream) parts.push(chunk.slice());
  return concatBytes(...parts);
}

/** Closes the file of a response that will not be sent. */
function discardBody(body: ResponseBody | undefined): void {
  if (body !== null && body !== undefined && typeof body === "object" && "file" in body) {
    try {
      body.file.close();
    } catch { /* closed */ }
  }
}

/** `"X"` or `W/"X"` → `W/"X-live-reload"`. */
function injectedEtag(etag: string): string {
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return `W/${opaque.slice(0, -1)}${LIVE_RELOAD_ETAG_SUFFIX}"`;
}

/** The response with ETags of injected pages; Accept-Ranges dropped (ranges are of the file). */
function withInjectedHeaders(headers: HeaderList | undefined, forBody: boolean): HeaderList {
  const out: HeaderList = [];
  for (const [name, value] of headers ?? []) {
    const lower = name.toLowerCase();
    if (lower === "etag") out.push([name, injectedEtag(value)]);
    else if (!(forBody && lower === "accept-ranges")) out.push([name, value]);
  }
  return out;
}

/** The page with the script in it, its headers adjusted (the transport sets the length). */
export async function injectIntoResponse(res: HttpResponse): Promise<HttpResponse> {
  const html = await readBody(res.body);
  return {
    ...res,
    headers: withInjectedHeaders(res.headers, true),
    body: injectLiveReloadScript(html),
  };
}

const CONDITIONAL_HEADERS = ["if-none-match", "if-modified-since"];

/**
 * When If-None-Match holds tags of ours (the client has an injected page), the request with
 * just those, as the file's own tags, so the file handler can answer 304; else null. Other
 * tags are dropped: they could only match a copy without the script. (A compressing
 * middleware outside adds the tags without its coding suffix, so ours arrive here bare.)
 */
export function translateIfNoneMatch(req: RequestHead): RequestHead | null {
  const value = req.headers.get("if-none-match");
  if (value === undefined) return null;
  const tags = parseEntityTagList(value);
  if (tags === null || tags === "*") return null;
  // opaque keeps its quotes: `"X-live-reload"` → `"X"`.
  const suffix = `${LIVE_RELOAD_ETAG_SUFFIX}"`;
  const own = tags.filter((tag) => tag.opaque.endsWith(suffix))
    .map((tag) => `${tag.opaque.slice(0, -suffix.length)}"`);
  if (own.length === 0) return null;
  const headers = new Map(req.headers);
  headers.set("if-none-match", own.join(", "));
  headers.delete("if-modified-since");
  return { ...req, headers };
}

function withoutConditionals(req: RequestHead): RequestHead {
  const headers = new Map(req.headers);
  for (const name of CONDITIONAL_HEADERS) headers.delete(name);
  return { ...req, headers };
}

function withIdentityEncoding(req: RequestHead): RequestHead {
  const headers = new Map(req.headers);
  headers.set("accept-encoding", "identity");
  return { ...req, headers };
}

/**
 * The injecting middleware (GET and HEAD): pages get the script; a 304 for a page cached
 * without it (from before `--watch`, or `curl -z`) is replaced by the injected page; an
 * HTML page the inner handler encoded (a `.gz` sibling) is asked for again unencoded.
 */
export function withLiveReloadScript(): Middleware {
  return (next: Handler): Handler => async (req, ctx) => {
    if (req.method !== "GET" && req.method !== "HEAD") return await next(req, ctx);
    const translated = translateIfNoneMatch(req);
    let res = await next(translated ?? req, ctx);
    if (res.status === 304) {
      if (translated !== null) return { ...res, headers: withInjectedHeaders(res.headers, false) };
      if (!CONDITIONAL_HEADERS.some((name) => req.headers.has(name))) return res;
      // The client's copy may lack the script: a 304 only if this is not a page after all.
      const whole = await next(withoutConditionals(req), ctx);
      if (!isInjectableOrEncodedHtml(whole)) {
        discardBody(whole.body);
        return res;
      }
      res = whole;
    }
    if (isEncodedHtml(res)) {
      discardBody(res.body);
      res = await next(withIdentityEncoding(translated ?? req), ctx);
    }
    return isInjectable(res) ? await injectIntoResponse(res) : res;
  };
}

function isEncodedHtml(res: HttpResponse): boolean {
  if (res.status !== 200) return false;
  const type = headerValue(res.headers, "content-type")?.toLowerCase() ?? "";
  const coding = headerValue(res.headers, "content-encoding")?.toLowerCase();
  return type.startsWith("text/html") && coding !== undefined && coding !== "identity";
}

function isInjectableOrEncodedHtml(res: HttpResponse): boolean {
  return isInjectable(res) || isEncodedHtml(res);
}
