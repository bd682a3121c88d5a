/**
 * Scoped access for `http-serve --access`: who may read or write below which path. Pure:
 * parsing the rules and deciding one request; the middleware (access.ts) does the I/O.
 *
 * ```ts
 * import { decideAccess, parseAccessRules, requestSegments } from "./access_rules.ts";
 * // Anyone reads; alice also writes; only alice gets into /private.
 * const rules = parseAccessRules(["@/:ro", "alice@/:rw", "alice@/private:ro"], {
 *   users: ["alice"],
 * });
 * const path = requestSegments("/Private/%70lan.txt")!; // case and encoding folded
 * console.log(decideAccess(rules, null, path, "read")); // 401: a login may help
 * console.log(decideAccess(rules, "alice", path, "read")); // "allow"
 * ```
 *
 * Grammar of one rule: `WHO@PATH:MODE`.
 * - WHO: empty = anyone, without a login; `*` = any user of `--auth`; else user names of
 *   `--auth`, comma-separated.
 * - PATH: starts with `/`, written as on disk (not percent-encoded); `.` and empty segments
 *   are dropped, `..` is refused.
 * - MODE: `ro` (read), `rw` (read and write), `none` or `-` (nothing: shadows a shorter
 *   path).
 *
 * Decision: the rules whose PATH is the longest segment-wise prefix of the request path
 * decide alone (`/private` covers `/private/x`, never `/privateer`); the client gets the
 * best MODE among those of them that name it (an anonymous rule names everyone). Not
 * enough → 401 for an anonymous client (a login may help), 403 for a logged-in one. When
 * no rule has PATH `/`, the implied one is today's `--auth` meaning: `*@/:rw` when users
 * exist (else `@/:rw`), writes then being up to `--upload`.
 *
 * Case and spelling: both sides are compared folded — Unicode NFC, lower case, trailing
 * dots and spaces of each segment dropped — so `/PRIVATE`, `/private.` and a decomposed
 * `é` fall under the same rule as on a case-insensitive or Windows file system. On a
 * case-sensitive disk, `/Private` and `/private` are then two folders under one rule.
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import { decodePathSegments } from "../files/safe_path.ts";

/** Most `--access` rules accepted: each request looks at all of them. */
export const MAX_ACCESS_RULES = 64;
/** Longest PATH of one rule, in characters. */
export const MAX_ACCESS_PATH_CHARS = 1024;

/** What a rule grants. */
export type AccessMode = "none" | "ro" | "rw";
/** What a request needs. */
export type AccessNeed = "read" | "write";
/** The decision for one request. */
export type AccessDecision = "allow" | 401 | 403;

/** One parsed rule; plain data, so a config holding it can be sent to workers. */
export interface AccessRule {
  /** "anyone" (no login needed), "users" (any `--auth` user), or the names listed. */
  who: "anyone" | "users" | string[];
  /** Folded path segments ([] for `/`). */
  path: string[];
  mode: AccessMode;
  /** The rule as given, for messages. */
  spec: string;
  /** Added by {@link parseAccessRules}, not given by the user. */
  implied?: boolean;
}

/** Context {@link parseAccessRules} checks rules against. */
export interface AccessRuleContext {
  /** The `--auth` user names. */
  users: readonly string[];
}

const USAGE = "expected WHO@/PATH:ro|rw|none (e.g. @/:ro, alice@/inbox:rw, *@/private:ro)";

/** One segment as compared: NFC, lower case, trailing dots and spaces dropped. */
export function foldSegment(segment: string): string {
  const folded = segment.normalize("NFC").toLowerCase().replace(/[. ]+$/, "");
  return folded === "" ? segment : folded;
}

/** Parses one `--access` value (see the module comment). */
export function parseAccessRule(spec: string, users: readonly string[]): AccessRule {
  const bad = (why: string) => new ConfigError(`invalid --access '${spec}': ${why}`);
  const at = spec.indexOf("@/");
  const colon = spec.lastIndexOf(":");
  if (at === -1 || colon < at) throw bad(USAGE);
  const whoText = spec.slice(0, at);
  const pathText = spec.slice(at + 1, colon);
  // "-" as dufs spells "nothing".
  const mode = spec.slice(colon + 1) === "-" ? "none" : spec.slice(colon + 1);
  if (mode !== "ro" && mode !== "rw" && mode !== "none") {
    throw bad(`mode '${mode}' is not ro, rw or none`);
  }
  if (pathText.length > MAX_ACCESS_PATH_CHARS) {
    throw bad(`the path is longer than ${MAX_ACCESS_PATH_CHARS} characters`);
  }
  const path: string[] = [];
  for (const segment of pathText.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") throw bad("'..' is not allowed in the path");
    if (segment.includes("\\") || segment.includes("\0")) throw bad("the path holds '\\' or NUL");
    path.push(foldSegment(segment));
  }
  let who: AccessRule["who"];
  if (whoText === "") who = "anyone";
  else if (whoText === "*") {
    if (users.length === 0) throw bad("'*' means any --auth user, and there is none");
    who = "users";
  } else {
    who = whoText.split(",");
    for (const user of who) {
      if (!users.includes(user)) {
        throw bad(`unknown user '${user}' (define it with --auth ${user}:PASS)`);
      }
    }
  }
  return { who, path, mode, spec };
}

/**
 * Parses every `--access` value and adds the implied rule at `/` when none is given.
 * Throws {@link ConfigError} past {@link MAX_ACCESS_RULES} or on any bad rule.
 */
export function parseAccessRules(specs: readonly string[], ctx: AccessRuleContext): AccessRule[] {
  if (specs.length > MAX_ACCESS_RULES) {
    throw new ConfigError(`too many --access rules: ${specs.length} (at most ${MAX_ACCESS_RULES})`);
  }
  const rules = specs.map((spec) => parseAccessRule(spec, ctx.users));
  if (!rules.some((r) => r.path.length === 0)) {
    rules.push({
      who: ctx.users.length > 0 ? "users" : "anyone",
      path: [],
      // Today's meaning: writes are then up to the write features' own flags (--upload).
      mode: "rw",
      spec: "(implied)",
      implied: true,
    });
  }
  return rules;
}

/** True when a rule given grants `rw`: uploads are then on even without `--upload`. */
export function anyRuleWrites(rules: readonly AccessRule[]): boolean {
  return rules.some((r) => r.mode === "rw" && !r.implied);
}

/**
 * Pure: a raw (percent-encoded) request path as folded segments, or null when it cannot
 * name a file (`.`/`..`, an encoded `/` or `\`, NUL, bad encoding) — the file handlers
 * refuse those too. `*` (OPTIONS *) is the root.
 */
export function requestSegments(rawPath: string): string[] | null {
  if (rawPath === "*") return [];
  return decodePathSegments(rawPath)?.map(foldSegment) ?? null;
}

/**
 * Folded segments of an already decoded path ("/a b/c"), e.g. a listing entry's or a
 * write feature's; null when a `..`, `\` or NUL segment leaves it open where it leads, so
 * a caller that normalises later cannot be told yes for one place and write another.
 */
export function decodedSegments(path: string): string[] | null {
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === ".." || /[\\\0]/.test(segment)) return null;
    out.push(foldSegment(segment));
  }
  return out;
}

/** {@link decideAccess} on a decoded path; a path {@link decodedSegments} refuses is never allowed. */
export function allowedAt(
  rules: readonly AccessRule[],
  user: string | null,
  path: string,
  need: AccessNeed,
): boolean {
  const segments = decodedSegments(path);
  return segments !== null && decideAccess(rules, user, segments, need) === "allow";
}

/** True when `prefix` is a segment-wise prefix of `path`. */
export function hasPrefix(path: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > path.length) return false;
  for (let i = 0; i < prefix.length; i++) if (path[i] !== prefix[i]) return false;
  return true;
}

const LEVEL: Record<AccessMode, number> = { none: 0, ro: 1, rw: 2 };

function names(rule: AccessRule, user: string | null): boolean {
  if (rule.who === "anyone") return true;
  if (user === null) return false;
  return rule.who === "users" || rule.who.includes(user);
}

/** Pure: may `user` (null = anonymous) do what `need` says at `path` (folded segments)? */
export function decideAccess(
  rules: readonly AccessRule[],
  user: string | null,
  path: readonly string[],
  need: AccessNeed,
): AccessDecision {
  let longest = -1;
  let grant = 0;
  for (const rule of rules) {
    if (!hasPrefix(path, rule.path) || rule.path.length < longest) continue;
    if (rule.path.length > longest) {
      longest = rule.path.length;
      grant = 0;
    }
    if (names(rule, user)) grant = Math.max(grant, LEVEL[rule.mode]);
  }
  if (grant >= (need === "read" ? 1 : 2)) return "allow";
  return user === null ? 401 : 403;
}

/** Whether a method reads or changes things. Unknown methods count as writes. */
export function methodNeed(method: string): AccessNeed {
  switch (method) {
    case "GET":
    case "HEAD":
    case "OPTIONS":
    case "PROPFIND":
      return "read";
    default:
      return "write";
  }
}
