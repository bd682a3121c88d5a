/**
 * WebDAV write locks (RFC 4918 §6, §9.10, §9.11), in memory per process: exclusive and
 * shared, depth 0 or infinity, with timeouts; plus the XML of LOCK requests and answers.
 *
 * ```ts
 * import { LockManager } from "./locks.ts";
 * const locks = new LockManager();
 * const lock = locks.create({ path: "/doc.txt", scope: "exclusive", deep: false, owner: "", seconds: 60 });
 * console.log(locks.covering("/doc.txt").length, lock.token.startsWith("opaquelocktoken:")); // 1 true
 * ```
 *
 * Locks are kept in one map and expire lazily: every lookup drops what has timed out, so no
 * timer runs per lock. Their number is bounded ({@link MAX_LOCKS}; one more → 503) and so is
 * their lifetime ({@link MAX_LOCK_SECONDS}; `Infinite` means that). Because they live in
 * one process, `--webdav` refuses `--workers` above 1 (config.ts).
 *
 * @module
 */
import { isSameOrBelow, parentKey } from "./paths.ts";
import {
  childElement,
  DAV_NS,
  escapeXml,
  isElement,
  serializeElement,
  WebDavError,
  type XmlElement,
} from "./xml.ts";

/** Most locks one process holds; one more LOCK → 503. */
export const MAX_LOCKS = 10_000;
/** Longest lock lifetime granted (`Timeout: Infinite` included), seconds. */
export const MAX_LOCK_SECONDS = 3600;
/** Lifetime when the client asks for none, seconds. */
export const DEFAULT_LOCK_SECONDS = 600;

/** Exclusive or shared (§6.1). */
export type LockScope = "exclusive" | "shared";

/** One granted lock. */
export interface ActiveLock {
  token: string;
  /** Key of the locked resource (paths.ts). */
  path: string;
  scope: LockScope;
  /** Depth infinity (a collection and everything below it). */
  deep: boolean;
  /** The `DAV:owner` element as sent, serialised ("" when none). */
  owner: string;
  seconds: number;
  expiresMs: number;
}

/** What {@link LockManager.create} needs. */
export interface LockRequest {
  path: string;
  scope: LockScope;
  deep: boolean;
  owner: string;
  seconds: number;
}

/** The store of active locks. */
export class LockManager {
  #locks = new Map<string, ActiveLock>();
  /** Locks by the key of their resource, so covering() walks ancestors, not every lock. */
  #byPath = new Map<string, Set<ActiveLock>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #nextExpiry = Infinity;

  #prune(): void {
    const now = this.#now();
    if (now < this.#nextExpiry) return;
    this.#nextExpiry = Infinity;
    for (const lock of [...this.#locks.values()]) {
      if (lock.expiresMs <= now) this.remove(lock.token);
      else this.#nextExpiry = Math.min(this.#nextExpiry, lock.expiresMs);
    }
  }

  /** Active locks. */
  get size(): number {
    this.#prune();
    return this.#locks.size;
  }

  /** The lock with this token, if active. */
  get(token: string): ActiveLock | undefined {
    this.#prune();
    return this.#locks.get(token);
  }

  /** Locks that cover `path`: on it, or depth infinity on a collection above it. */
  covering(path: string): ActiveLock[] {
    this.#prune();
    if (this.#locks.size === 0) return [];
    const found = [...(this.#byPath.get(path) ?? [])];
    for (let up = path; up !== "/";) {
      up = parentKey(up);
      for (const l of this.#byPath.get(up) ?? []) if (l.deep) found.push(l);
    }
    return found;
  }

  /** Locks on `path` or anything below it (what a deep change must hold tokens for). */
  within(path: string): ActiveLock[] {
    this.#prune();
    return [...this.#locks.values()].filter((l) => isSameOrBelow(l.path, path));
  }

  /**
   * Locks a new request on `path` would conflict with (§6.1): any lock covering it (or,
   * with `deep`, below it) when exclusive is asked or held.
   */
  conflicts(path: string, scope: LockScope, deep: boolean): ActiveLock[] {
    const candidates = deep
      ? [...new Set([...this.covering(path), ...this.within(path)])]
      : this.covering(path);
    return candidates.filter((l) => scope === "exclusive" || l.scope === "exclusive");
  }

  /** Grants a lock (the caller checked conflicts and {@link MAX_LOCKS}). */
  create(request: LockRequest): ActiveLock {
    const lock: ActiveLock = {
      ...request,
      token: `opaquelocktoken:${crypto.randomUUID()}`,
      expiresMs: this.#now() + request.seconds * 1000,
    };
    this.#locks.set(lock.token, lock);
    let atPath = this.#byPath.get(lock.path);
    if (atPath === undefined) this.#byPath.set(lock.path, atPath = new Set());
    atPath.add(lock);
    this.#nextExpiry = Math.min(this.#nextExpiry, lock.expiresMs);
    return lock;
  }

  /** Refreshes a lock's timeout. */
  refresh(lock: ActiveLock, seconds: number): void {
    lock.seconds = seconds;
    lock.expiresMs = this.#now() + seconds * 1000;
    // A refresh only moves an expiry later; the next prune recomputes the earliest.
  }

  /** Removes one lock. */
  remove(token: string): boolean {
    const lock = this.#locks.get(token);
    if (lock === undefined) return false;
    this.#locks.delete(token);
    const atPath = this.#byPath.get(lock.path)!;
    atPath.delete(lock);
    if (atPath.size === 0) this.#byPath.delete(lock.path);
    return true;
  }

  /** Removes every lock on `path` or below (the resources are gone or moved away). */
  removeWithin(path: string): void {
    for (const lock of this.within(path)) this.remove(lock.token);
  }

  /**
   * The locks whose tokens a change at `path` must submit and did not: those covering it,
   * those below it when `deep` (DELETE/MOVE of a collection), and, when `membership` (the
   * request adds or removes `path` itself), a depth-0 lock on the parent collection.
   */
  missingTokens(
    path: string,
    submitted: ReadonlySet<string>,
    options: { deep?: boolean; membership?: boolean } = {},
  ): ActiveLock[] {
    const needed = new Set(this.covering(path));
    if (options.deep) { for (const l of this.within(path)) needed.add(l); }
    if (options.membership && path !== "/") {
      for (const l of this.covering(parentKey(path))) needed.add(l);
    }
    // A shared lock is satisfied by any one of the shared tokens on the same resource.
    const missing: ActiveLock[] = [];
    for (const lock of needed) {
      if (submitted.has(lock.token)) continue;
      const sibling = lock.scope === "shared" &&
        [...needed].some((o) =>
          o.scope === "shared" && o.path === lock.path && submitted.has(o.token)
        );
      if (!sibling) missing.push(lock);
    }
    return missing;
  }
}

/**
 * Pure: `Timeout: Second-600, Infinite` → seconds, the first usable value clamped to
 * {@link MAX_LOCK_SECONDS}; {@link DEFAULT_LOCK_SECONDS} when absent or unusable.
 */
export function parseLockTimeout(value: string | null | undefined): number {
  if (!value) return DEFAULT_LOCK_SECONDS;
  for (const part of value.split(",")) {
    const t = part.trim();
    if (t.toLowerCase() === "infinite") return MAX_LOCK_SECONDS;
    const m = /^second-(\d{1,12})$/i.exec(t);
    if (m) return Math.max(1, Math.min(Number(m[1]), MAX_LOCK_SECONDS));
  }
  return DEFAULT_LOCK_SECONDS;
}

/** A parsed `DAV:lockinfo` body. */
export interface LockInfo {
  scope: LockScope;
  owner: string;
}

/** Pure: the scope and owner of a LOCK body; 400 for anything but a write lock request. */
export function parseLockInfo(doc: XmlElement): LockInfo {
  const bad = (why: string) => new WebDavError("XML_UNEXPECTED", 400, `bad lockinfo: ${why}`);
  if (!isElement(doc, DAV_NS, "lockinfo")) throw bad("the root element is not DAV:lockinfo");
  const scopeEl = childElement(doc, DAV_NS, "lockscope")?.children[0];
  const type = childElement(doc, DAV_NS, "locktype")?.children[0];
  if (!isElement(type, DAV_NS, "write")) throw bad("only DAV:write locks exist");
  let scope: LockScope;
  if (isElement(scopeEl, DAV_NS, "exclusive")) scope = "exclusive";
  else if (isElement(scopeEl, DAV_NS, "shared")) scope = "shared";
  else throw bad("lockscope must be exclusive or shared");
  const owner = childElement(doc, DAV_NS, "owner");
  return { scope, owner: owner ? serializeElement(owner) : "" };
}

/** `<D:activelock>` of a lock; `href` is the lock root's URL (§14.1). */
export function activeLockXml(lock: ActiveLock, href: string): string {
  return `<D:activelock><D:locktype><D:write/></D:locktype>` +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.deep ? "infinity" : "0"}</D:depth>${lock.owner}` +
    `<D:timeout>Second-${lock.seconds}</D:timeout>` +
    `<D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeXml(href)}</D:href></D:lockroot></D:activelock>`;
}

/** The value of `DAV:supportedlock`: exclusive and shared write locks. */
export const SUPPORTED_LOCK_XML = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>" +
  "<D:locktype><D:write/></D:locktype></D:lockentry>" +
  "<D:lockentry><D:lockscope><D:shared/></D:lockscope>" +
  "<D:locktype><D:write/></D:locktype></D:lockentry>";
