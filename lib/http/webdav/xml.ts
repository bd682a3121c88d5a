/**
 * WebDAV's XML, both ways: request bodies (PROPFIND, PROPPATCH, LOCK) parsed into a small
 * namespace-resolved element tree under hard limits, and the escaping and serialisation
 * the multistatus answers need.
 *
 * ```ts
 * import { DAV_NS, loadXmlParser, parseXml } from "./xml.ts";
 * await loadXmlParser(); // once: readXmlBody does it for request bodies
 * const doc = parseXml('<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>');
 * console.log(doc.ns === DAV_NS, doc.name, doc.children.length); // true "propfind" 1
 * ```
 *
 * The parser is saxes (npm; the streaming, namespace-aware XML parser jsdom uses): it
 * resolves prefixes (which WebDAV depends on: `D:prop` and `x:prop` may be the same
 * element), never fetches external entities and knows no entities but XML's five. On top
 * of it, safety is decided here: a DOCTYPE is refused outright (no DTD, so no entity
 * expansion bomb can even be declared), and the body size ({@link MAX_XML_BODY_BYTES}),
 * nesting depth ({@link MAX_XML_DEPTH}) and element count ({@link MAX_XML_ELEMENTS}) are
 * bounded, so a hostile body costs at most one bounded buffer and a bounded tree. saxes is
 * loaded by the first XML body ({@link loadXmlParser}), not at start-up: it is CommonJS, and
 * loading it brings in Node compatibility code every server would pay for.
 *
 * @module
 */
import type { SaxesParser } from "saxes";
import type { RequestBody, RequestHead } from "../handler.ts";

let Parser: typeof SaxesParser | undefined;

/** Loads the XML parser (once); {@link parseXml} needs it loaded. */
export async function loadXmlParser(): Promise<void> {
  Parser ??= (await import("saxes")).SaxesParser;
}

/** The WebDAV namespace. */
export const DAV_NS = "DAV:";
/** Largest PROPFIND / PROPPATCH / LOCK body read; past it → 413 (the h1 default body limit). */
export const MAX_XML_BODY_BYTES = 1024 * 1024;
/** Deepest element nesting accepted; deeper → 400 (litmus and real clients use < 10). */
export const MAX_XML_DEPTH = 64;
/** Most elements in one body; more → 400 (bounds the tree whatever the byte count). */
export const MAX_XML_ELEMENTS = 20_000;

/** Stable codes of {@link WebDavError}. */
export type WebDavErrorCode =
  | "XML_TOO_LARGE"
  | "XML_MALFORMED"
  | "XML_DOCTYPE"
  | "XML_TOO_DEEP"
  | "XML_TOO_MANY_ELEMENTS"
  | "XML_UNEXPECTED"
  | "BAD_DEPTH"
  | "BAD_DESTINATION"
  | "BAD_IF_HEADER"
  | "BAD_TIMEOUT";

/** A WebDAV request refused before anything changed; `status` is the HTTP answer. */
export class WebDavError extends Error {
  constructor(readonly code: WebDavErrorCode, readonly status: number, message: string) {
    super(message);
    this.name = "WebDavError";
  }
}

/** One attribute, namespace resolved. */
export interface XmlAttribute {
  ns: string;
  name: string;
  value: string;
}

/** One element, namespace resolved; `content` keeps text and elements in document order. */
export interface XmlElement {
  ns: string;
  name: string;
  attrs: XmlAttribute[];
  /** Child elements only (for lookups). */
  children: XmlElement[];
  /** Text and child elements in order (for dead properties kept verbatim). */
  content: (XmlElement | string)[];
}

/**
 * Pure: parses a whole document under the depth and element limits (the byte limit is the
 * caller's: see {@link readXmlBody}). Throws {@link WebDavError} (400) on anything else.
 */
export function parseXml(text: string): XmlElement {
  if (Parser === undefined) throw new Error("parseXml: call loadXmlParser() first");
  const parser = new Parser({ xmlns: true, position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let elements = 0;
  let failure: WebDavError | null = null;
  const fail = (err: WebDavError) => {
    failure ??= err;
  };
  parser.on("doctype", () => fail(new WebDavError("XML_DOCTYPE", 400, "DOCTYPE is not accepted")));
  parser.on(
    "error",
    (err) => fail(new WebDavError("XML_MALFORMED", 400, `bad XML: ${err.message}`)),
  );
  parser.on("opentag", (tag) => {
    if (++elements > MAX_XML_ELEMENTS) {
      fail(new WebDavError("XML_TOO_MANY_ELEMENTS", 400, `more than ${MAX_XML_ELEMENTS} elements`));
    }
    if (stack.length >= MAX_XML_DEPTH) {
      fail(new WebDavError("XML_TOO_DEEP", 400, `nested deeper than ${MAX_XML_DEPTH}`));
    }
    const attrs: XmlAttribute[] = [];
    for (const attr of Object.values(tag.attributes)) {
      if (attr.prefix === "xmlns" || attr.name === "xmlns") continue;
      attrs.push({ ns: attr.uri, name: attr.local, value: attr.value });
    }
    const element: XmlElement = {
      ns: tag.uri ?? "",
      name: tag.local ?? tag.name,
      attrs,
      children: [],
      content: [],
    };
    const parent = stack.at(-1);
    if (parent) {
      parent.children.push(element);
      parent.content.push(element);
    } else root = element;
    stack.push(element);
  });
  parser.on("closetag", () => void stack.pop());
  parser.on("text", (text) => stack.at(-1)?.content.push(text));
  parser.on("cdata", (text) => stack.at(-1)?.content.push(text));
  try {
    for (let i = 0; i < text.length && failure === null; i += 64 * 1024) {
      parser.write(text.slice(i, i + 64 * 1024));
    }
    if (failure === null) parser.close();
  } catch (err) {
    fail(new WebDavError("XML_MALFORMED", 400, `bad XML: ${(err as Error).message}`));
  }
  if (failure !== null) throw failure;
  if (root === null) throw new WebDavError("XML_MALFORMED", 400, "no root element");
  return root;
}

/**
 * Reads a request body of at most {@link MAX_XML_BODY_BYTES} (413 past it, by the declared
 * length before reading or while reading) and parses it; null for an empty body.
 */
export async function readXmlBody(
  req: RequestHead,
  body: RequestBody,
  limit = MAX_XML_BODY_BYTES,
): Promise<XmlElement | null> {
  if (req.body.kind === "none" || (req.body.kind === "length" && req.body.length === 0)) {
    return null;
  }
  const tooLarge = () =>
    new WebDavError("XML_TOO_LARGE", 413, `XML body larger than ${limit} bytes`);
  if (req.body.kind === "length" && req.body.length > limit) throw tooLarge();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let text = "";
  let bytes = 0;
  try {
    for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
      bytes += chunk.length;
      if (bytes > limit) throw tooLarge();
      text += decoder.decode(chunk, { stream: true });
    }
    text += decoder.decode();
  } catch (err) {
    if (err instanceof WebDavError) throw err;
    if (err instanceof TypeError) throw new WebDavError("XML_MALFORMED", 400, "body is not UTF-8");
    throw err;
  }
  if (text.trim() === "") return null;
  await loadXmlParser();
  return parseXml(text);
}

/** The first child named `{ns}name`, or undefined. */
export function childElement(el: XmlElement, ns: string, name: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === ns && c.name === name);
}

/** True when `el` is `{ns}name`. */
export function isElement(el: XmlElement | undefined, ns: string, name: string): boolean {
  return el !== undefined && el.ns === ns && el.name === name;
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&apos;",
  );
}

/**
 * Serialises an element (a dead property, a lock owner) so it reads back the same: each
 * element re-declares its default namespace (`xmlns="…"`, `xmlns=""` for none), and
 * namespaced attributes get a declared prefix, so the fragment stands alone anywhere.
 */
export function serializeElement(el: XmlElement): string {
  let attrs = ` xmlns="${escapeXml(el.ns)}"`;
  el.attrs.forEach((a, i) => {
    attrs += a.ns === ""
      ? ` ${a.name}="${escapeXml(a.value)}"`
      : ` xmlns:a${i}="${escapeXml(a.ns)}" a${i}:${a.name}="${escapeXml(a.value)}"`;
  });
  if (el.content.length === 0) return `<${el.name}${attrs}/>`;
  const inner = el.content.map((c) => typeof c === "string" ? escapeXml(c) : serializeElement(c))
    .join("");
  return `<${el.name}${attrs}>${inner}</${el.name}>`;
}

/** `<name xmlns="ns"/>`: an empty property element in its own namespace. */
export function emptyElement(ns: string, name: string): string {
  return `<${name} xmlns="${escapeXml(ns)}"/>`;
}

/** The XML declaration every WebDAV answer body starts with. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';

/** Content-Type of WebDAV XML answers. */
export const XML_CONTENT_TYPE = "application/xml; charset=utf-8";
