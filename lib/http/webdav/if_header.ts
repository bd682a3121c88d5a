/**
 * The WebDAV `If` header (RFC 4918 §10.4): parsing, pure, and evaluation against what the
 * caller knows of each resource (its entity tag and the lock tokens that cover it).
 *
 * ```ts
 * import { evaluateIf, parseIfHeader } from "./if_header.ts";
 * const lists = parseIfHeader('(<opaquelocktoken:abc> ["1-2"]) (Not <DAV:no-lock>)');
 * const state = { etag: '"1-2"', tokens: ["opaquelocktoken:abc"] };
 * const ok = await evaluateIf(lists, () => Promise.resolve(state));
 * console.log(ok); // true
 * ```
 *
 * The header is true when any of its lists is true (§10.4.3); a list is true when all its
 * conditions are. Untagged lists are about the request URI; a tagged list is about the
 * resource its tag names. A state token matches a resource when it is the token of a lock
 * covering it (`DAV:no-lock` never does); an entity tag when it equals the resource's.
 * Every state token in the header counts as submitted for lock checks (§10.4.1), even one
 * in a list that turned out false.
 *
 * @module
 */
import { WebDavError } from "./xml.ts";

/** Most lists and conditions in one `If` header; more → 400 (bounds the work). */
export const MAX_IF_CONDITIONS = 256;

/** One condition: a state token or an entity tag, maybe negated. */
export interface IfCondition {
  not: boolean;
  /** `opaquelocktoken:…`, `DAV:no-lock`, … (without angle brackets). */
  token?: string;
  /** Entity tag as sent, with quotes (and `W/`). */
  etag?: string;
}

/** One parenthesised list, with the resource it is tagged with (null: the request URI). */
export interface IfList {
  resource: string | null;
  conditions: IfCondition[];
}

/** What {@link evaluateIf} needs to know of a resource (null: it does not exist). */
export interface IfResourceState {
  etag: string | null;
  tokens: readonly string[];
}

function bad(why: string): WebDavError {
  return new WebDavError("BAD_IF_HEADER", 400, `bad If header: ${why}`);
}

/** Pure: the header's lists in order; throws {@link WebDavError} (400) when it does not parse. */
export function parseIfHeader(value: string): IfList[] {
  const lists: IfList[] = [];
  let resource: string | null = null;
  let tagged: boolean | null = null;
  let count = 0;
  let i = 0;
  const skipSpace = () => {
    while (i < value.length && (value[i] === " " || value[i] === "\t")) i++;
  };
  const until = (close: string) => {
    const end = value.indexOf(close, i + 1);
    if (end === -1) throw bad(`missing '${close}'`);
    const text = value.slice(i + 1, end);
    i = end + 1;
    return text;
  };
  while (true) {
    skipSpace();
    if (i >= value.length) break;
    if (value[i] === "<") {
      if (tagged === false) throw bad("tagged and untagged lists mixed");
      tagged = true;
      resource = until(">");
      continue;
    }
    if (value[i] !== "(") throw bad(`unexpected '${value[i]}'`);
    if (tagged === null) tagged = false;
    if (tagged && resource === null) throw bad("list without a resource tag");
    i++;
    const conditions: IfCondition[] = [];
    while (true) {
      skipSpace();
      if (i >= value.length) throw bad("missing ')'");
      if (value[i] === ")") {
        i++;
        break;
      }
      if (++count > MAX_IF_CONDITIONS) throw bad(`more than ${MAX_IF_CONDITIONS} conditions`);
      let not = false;
      if (value.slice(i, i + 3).toLowerCase() === "not") {
        not = true;
        i += 3;
        skipSpace();
      }
      if (value[i] === "<") conditions.push({ not, token: until(">").trim() });
      else if (value[i] === "[") conditions.push({ not, etag: until("]").trim() });
      else throw bad(`unexpected '${value[i] ?? "end"}' in a list`);
    }
    if (conditions.length === 0) throw bad("empty list");
    lists.push({ resource, conditions });
  }
  if (lists.length === 0) throw bad("no list");
  return lists;
}

/** All state tokens in the header: what the client submitted (§10.4.1). */
export function submittedTokens(lists: readonly IfList[]): Set<string> {
  const tokens = new Set<string>();
  for (const list of lists) {
    for (const c of list.conditions) if (c.token !== undefined) tokens.add(c.token);
  }
  return tokens;
}

function opaque(etag: string): string {
  return etag.startsWith("W/") ? etag.slice(2) : etag;
}

function conditionHolds(c: IfCondition, state: IfResourceState | null): boolean {
  let match: boolean;
  if (c.token !== undefined) match = state !== null && state.tokens.includes(c.token);
  else match = state !== null && state.etag !== null && opaque(state.etag) === opaque(c.etag!);
  return c.not ? !match : match;
}

/**
 * Evaluates the header. `state` is asked about each resource once: the request's own
 * (`null` tag) or a tagged one, given as the tag's URL (the caller maps it to a path).
 */
export async function evaluateIf(
  lists: readonly IfList[],
  state: (resource: string | null) => Promise<IfResourceState | null>,
): Promise<boolean> {
  const known = new Map<string | null, IfResourceState | null>();
  for (const list of lists) {
    const tag = list.resource;
    if (!known.has(tag)) known.set(tag, await state(tag));
    const current = known.get(tag)!;
    if (list.conditions.every((c) => conditionHolds(c, current))) return true;
  }
  return false;
}
