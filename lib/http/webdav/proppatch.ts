/**
 * PROPPATCH (RFC 4918 §9.2): the `set` / `remove` instructions of a `propertyupdate`, in
 * document order, applied all or nothing to the dead-property store, and the multistatus
 * that reports each property: 200 when everything applied; otherwise 403 for a protected
 * (live) property, 507 for one past the store's limit, and 424 for all the others, which
 * were then not applied.
 *
 * ```ts
 * import { DeadPropertyStore } from "./dead_props.ts";
 * import { applyPropertyUpdate, parsePropertyUpdate } from "./proppatch.ts";
 * import { loadXmlParser, parseXml } from "./xml.ts";
 * await loadXmlParser();
 * const store = new DeadPropertyStore();
 * const ops = parsePropertyUpdate(parseXml(
 *   '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:c xmlns:x="urn:x">1</x:c></D:prop></D:set></D:propertyupdate>',
 * ));
 * console.log(applyPropertyUpdate(store, "/a.txt", ops).every((r) => r.status === 200)); // true
 * ```
 *
 * @module
 */
import type { DeadPropertyStore } from "./dead_props.ts";
import { isLiveProperty } from "./propfind.ts";
import {
  DAV_NS,
  emptyElement,
  escapeXml,
  serializeElement,
  WebDavError,
  type XmlElement,
} from "./xml.ts";

/** One instruction of a `propertyupdate`. */
export interface PropertyOperation {
  op: "set" | "remove";
  ns: string;
  name: string;
  /** The property element serialised (set only). */
  xml: string;
}

/** Pure: the instructions in document order; 400 when the body is not a propertyupdate. */
export function parsePropertyUpdate(doc: XmlElement | null): PropertyOperation[] {
  const bad = (why: string) => new WebDavError("XML_UNEXPECTED", 400, `bad propertyupdate: ${why}`);
  if (doc === null) throw bad("PROPPATCH needs a body");
  if (doc.ns !== DAV_NS || doc.name !== "propertyupdate") {
    throw bad("the root is not DAV:propertyupdate");
  }
  const ops: PropertyOperation[] = [];
  for (const action of doc.children) {
    if (action.ns !== DAV_NS || (action.name !== "set" && action.name !== "remove")) continue;
    for (const prop of action.children) {
      if (prop.ns !== DAV_NS || prop.name !== "prop") continue;
      for (const p of prop.children) {
        ops.push({ op: action.name, ns: p.ns, name: p.name, xml: serializeElement(p) });
      }
    }
  }
  if (ops.length === 0) throw bad("no set or remove of a property");
  return ops;
}

/** The outcome for one property. */
export interface PropertyResult {
  ns: string;
  name: string;
  status: 200 | 403 | 424 | 507;
}

/**
 * Applies `ops` to `path`'s properties, all or nothing: first every instruction is checked
 * (protected, fits the limit), then either all are applied or none.
 */
export function applyPropertyUpdate(
  store: DeadPropertyStore,
  path: string,
  ops: readonly PropertyOperation[],
): PropertyResult[] {
  let pending = 0;
  const verdicts = ops.map((op): PropertyResult["status"] => {
    if (isLiveProperty(op.ns, op.name)) return 403;
    if (op.op === "remove") return 200;
    const prop = { ns: op.ns, name: op.name, xml: op.xml };
    if (!store.fits(path, prop, pending)) return 507;
    pending += op.ns.length + op.name.length + op.xml.length;
    return 200;
  });
  const failed = verdicts.some((v) => v !== 200);
  if (!failed) {
    for (const op of ops) {
      if (op.op === "set") store.set(path, { ns: op.ns, name: op.name, xml: op.xml });
      else store.remove(path, op.ns, op.name);
    }
  }
  return ops.map((op, i) => ({
    ns: op.ns,
    name: op.name,
    status: failed && verdicts[i] === 200 ? 424 : verdicts[i],
  }));
}

const REASONS = {
  200: "OK",
  403: "Forbidden",
  424: "Failed Dependency",
  507: "Insufficient Storage",
};

/** Pure: the `<D:response>` for a PROPPATCH, one propstat per status. */
export function renderPropPatchResponse(href: string, results: readonly PropertyResult[]): string {
  const byStatus = new Map<number, string>();
  const seen = new Set<string>();
  for (const r of results) {
    const key = `${r.status}{${r.ns}}${r.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    byStatus.set(r.status, (byStatus.get(r.status) ?? "") + emptyElement(r.ns, r.name));
  }
  let out = `<D:response><D:href>${escapeXml(href)}</D:href>`;
  for (const [status, props] of byStatus) {
    const error = status === 403 ? "<D:error><D:cannot-modify-protected-property/></D:error>" : "";
    out += `<D:propstat><D:prop>${props}</D:prop>` +
      `<D:status>HTTP/1.1 ${status} ${REASONS[status as keyof typeof REASONS]}</D:status>${error}` +
      `</D:propstat>`;
  }
  return out + "</D:response>";
}
