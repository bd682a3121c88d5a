/**
 * PROPFIND (RFC 4918 §9.1): what the client asks for (`allprop`, `propname`, named
 * properties), the live properties sockit computes from `stat`, and the `multistatus`
 * answer, one `response` per resource with a 200 and a 404 `propstat`.
 *
 * ```ts
 * import { parsePropfind, renderPropfindResponse } from "./propfind.ts";
 * const request = parsePropfind(null); // an empty body means allprop
 * const xml = renderPropfindResponse(request, {
 *   href: "/a.txt", name: "a.txt", info: await Deno.stat("/etc/hostname"), locks: [], dead: [],
 * });
 * console.log(request.kind, xml.includes("getcontentlength")); // "allprop" true
 * ```
 *
 * Depth 0 and 1 are answered; `Depth: infinity` (also the default when the header is
 * absent) is refused with 403 and `DAV:propfind-finite-depth`, as §9.1 allows: a walk of
 * the whole tree per request is unbounded work for one client.
 *
 * @module
 */
import { contentTypeFor } from "../files/files.ts";
import { makeEtag } from "../semantics/conditional.ts";
import { formatHttpDate } from "../semantics/date.ts";
import type { DeadProperty } from "./dead_props.ts";
import { type ActiveLock, activeLockXml, SUPPORTED_LOCK_XML } from "./locks.ts";
import {
  childElement,
  DAV_NS,
  emptyElement,
  escapeXml,
  WebDavError,
  type XmlElement,
} from "./xml.ts";

/** A property name. */
export interface PropName {
  ns: string;
  name: string;
}

/** What a PROPFIND asks for. */
export type PropfindRequest =
  | { kind: "allprop" }
  | { kind: "propname" }
  | { kind: "prop"; names: PropName[] };

/** Pure: the request in a PROPFIND body (null: empty, which means allprop, §9.1). */
export function parsePropfind(doc: XmlElement | null): PropfindRequest {
  if (doc === null) return { kind: "allprop" };
  const bad = (why: string) => new WebDavError("XML_UNEXPECTED", 400, `bad propfind: ${why}`);
  if (doc.ns !== DAV_NS || doc.name !== "propfind") throw bad("the root is not DAV:propfind");
  if (childElement(doc, DAV_NS, "allprop")) return { kind: "allprop" };
  if (childElement(doc, DAV_NS, "propname")) return { kind: "propname" };
  const prop = childElement(doc, DAV_NS, "prop");
  if (!prop) throw bad("expected allprop, propname or prop");
  return { kind: "prop", names: prop.children.map((c) => ({ ns: c.ns, name: c.name })) };
}

/**
 * Pure: `Depth` of a PROPFIND → 0 or 1; infinity (or absent) → 403 with the
 * `propfind-finite-depth` precondition (the caller renders it), anything else 400.
 */
export function propfindDepth(value: string | null | undefined): 0 | 1 | "infinity" {
  const v = (value ?? "infinity").trim().toLowerCase();
  if (v === "0") return 0;
  if (v === "1") return 1;
  if (v === "infinity") return "infinity";
  throw new WebDavError("BAD_DEPTH", 400, `Depth must be 0, 1 or infinity, not '${value}'`);
}

/** The live properties sockit computes, all protected (PROPPATCH gets 403 for them). */
export const LIVE_PROPERTIES: readonly string[] = [
  "resourcetype",
  "getcontentlength",
  "getcontenttype",
  "getetag",
  "getlastmodified",
  "creationdate",
  "displayname",
  "supportedlock",
  "lockdiscovery",
];

/** True for a live (computed, protected) property. */
export function isLiveProperty(ns: string, name: string): boolean {
  return ns === DAV_NS && LIVE_PROPERTIES.includes(name);
}

/** One resource to describe. */
export interface PropfindResource {
  /** Encoded href (collections end with "/"). */
  href: string;
  /** Display name: the last segment ("" for the root). */
  name: string;
  info: Deno.FileInfo;
  /** Locks covering it (for lockdiscovery), with their roots' hrefs. */
  locks: { lock: ActiveLock; href: string }[];
  dead: DeadProperty[];
}

function isoDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The value of a live property for `res`, or null when it has none (a folder's length). */
function liveValue(name: string, res: PropfindResource): string | null {
  const { info } = res;
  switch (name) {
    case "resourcetype":
      return info.isDirectory ? "<D:collection/>" : "";
    case "getcontentlength":
      return info.isDirectory ? null : String(info.size);
    case "getcontenttype":
      return info.isDirectory ? null : escapeXml(contentTypeFor(res.name));
    case "getetag": {
      if (info.isDirectory) return null;
      const etag = makeEtag({ size: info.size, mtimeMs: info.mtime?.getTime() ?? null });
      return etag === null ? null : escapeXml(etag);
    }
    case "getlastmodified":
      return info.mtime ? formatHttpDate(info.mtime) : null;
    case "creationdate": {
      const date = info.birthtime ?? info.mtime;
      return date ? isoDate(date) : null;
    }
    case "displayname":
      return escapeXml(res.name);
    case "supportedlock":
      return SUPPORTED_LOCK_XML;
    case "lockdiscovery":
      return res.locks.map((l) => activeLockXml(l.lock, l.href)).join("");
  }
  return null;
}

/** The entity tag PROPFIND reports (and `If` compares against); null for folders. */
export function resourceEtag(info: Deno.FileInfo): string | null {
  if (info.isDirectory) return null;
  return makeEtag({ size: info.size, mtimeMs: info.mtime?.getTime() ?? null });
}

function liveElement(name: string, value: string): string {
  return value === "" ? `<D:${name}/>` : `<D:${name}>${value}</D:${name}>`;
}

function propstat(props: string, status: string): string {
  return `<D:propstat><D:prop>${props}</D:prop><D:status>HTTP/1.1 ${status}</D:status></D:propstat>`;
}

/** Pure: the `<D:response>` for one resource. */
export function renderPropfindResponse(request: PropfindRequest, res: PropfindResource): string {
  let found = "";
  let missing = "";
  if (request.kind === "prop") {
    for (const { ns, name } of request.names) {
      const value = ns === DAV_NS && LIVE_PROPERTIES.includes(name) ? liveValue(name, res) : null;
      if (value !== null) {
        found += liveElement(name, value);
        continue;
      }
      const dead = res.dead.find((p) => p.ns === ns && p.name === name);
      if (dead) found += dead.xml;
      else missing += emptyElement(ns, name);
    }
  } else {
    for (const name of LIVE_PROPERTIES) {
      const value = liveValue(name, res);
      if (value === null) continue;
      found += request.kind === "propname" ? `<D:${name}/>` : liveElement(name, value);
    }
    for (const p of res.dead) {
      found += request.kind === "propname" ? emptyElement(p.ns, p.name) : p.xml;
    }
  }
  let out = `<D:response><D:href>${escapeXml(res.href)}</D:href>`;
  if (found !== "" || missing === "") out += propstat(found, "200 OK");
  if (missing !== "") out += propstat(missing, "404 Not Found");
  return out + "</D:response>";
}

/** The opening of a multistatus body. */
export const MULTISTATUS_OPEN =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">';
/** Its end. */
export const MULTISTATUS_CLOSE = "</D:multistatus>\n";
