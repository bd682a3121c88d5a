/**
 * Dead properties (RFC 4918 §4.2: any property a client sets with PROPPATCH that the
 * server does not compute), kept in memory per process, keyed by the resource's path
 * below the root, and moved, copied and dropped with the resources they belong to.
 *
 * ```ts
 * import { DeadPropertyStore } from "./dead_props.ts";
 * const store = new DeadPropertyStore();
 * store.set("/a.txt", { ns: "urn:x", name: "color", xml: '<color xmlns="urn:x">red</color>' });
 * store.move("/a.txt", "/b.txt");
 * console.log(store.list("/b.txt").length); // 1
 * ```
 *
 * Why memory rather than a sidecar file: a sidecar would need its own hiding, locking and
 * crash-safety rules next to every user file, while the properties clients actually set
 * (Windows' timestamps, litmus, Finder's labels) are small and only need to live as long
 * as the share. They are bounded by {@link MAX_DEAD_PROPERTY_BYTES} in total; a set past it
 * is refused (507) for that property, never by evicting another client's data. They do
 * not survive a restart, and edits made on disk behind the server's back do not move them.
 *
 * @module
 */
import { isSameOrBelow } from "./paths.ts";

/** Total bytes of dead property names and values one process keeps (8 MiB). */
export const MAX_DEAD_PROPERTY_BYTES = 8 * 1024 * 1024;

/** One stored property: its name and its whole element, serialised. */
export interface DeadProperty {
  ns: string;
  name: string;
  /** The property element as it was set (see xml.ts serializeElement). */
  xml: string;
}

function propKey(ns: string, name: string): string {
  return `{${ns}}${name}`;
}

function sizeOf(prop: DeadProperty): number {
  return prop.ns.length + prop.name.length + prop.xml.length;
}

/** The in-memory store; one per server process. */
export class DeadPropertyStore {
  #byPath = new Map<string, Map<string, DeadProperty>>();
  #bytes = 0;
  readonly #limit: number;

  constructor(limit = MAX_DEAD_PROPERTY_BYTES) {
    this.#limit = limit;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The properties of `path`, in the order they were set. */
  list(path: string): DeadProperty[] {
    return [...(this.#byPath.get(path)?.values() ?? [])];
  }

  /** One property, or undefined. */
  get(path: string, ns: string, name: string): DeadProperty | undefined {
    return this.#byPath.get(path)?.get(propKey(ns, name));
  }

  /** Whether setting `prop` on `path` fits under the limit (replacing frees the old value). */
  fits(path: string, prop: DeadProperty, pendingBytes = 0): boolean {
    const old = this.get(path, prop.ns, prop.name);
    return this.#bytes + pendingBytes + sizeOf(prop) - (old ? sizeOf(old) : 0) <= this.#limit;
  }

  /** Sets (or replaces) a property; the caller checked {@link fits}. */
  set(path: string, prop: DeadProperty): void {
    let props = this.#byPath.get(path);
    if (props === undefined) this.#byPath.set(path, props = new Map());
    const key = propKey(prop.ns, prop.name);
    const old = props.get(key);
    if (old) this.#bytes -= sizeOf(old);
    props.set(key, prop);
    this.#bytes += sizeOf(prop);
  }

  /** Removes a property (absent is fine: RFC 4918 §9.2 says removing a missing one succeeds). */
  remove(path: string, ns: string, name: string): void {
    const props = this.#byPath.get(path);
    const old = props?.get(propKey(ns, name));
    if (!props || !old) return;
    props.delete(propKey(ns, name));
    this.#bytes -= sizeOf(old);
    if (props.size === 0) this.#byPath.delete(path);
  }

  /** Drops the properties of `path` and everything below it (DELETE, or before an overwrite). */
  drop(path: string): void {
    for (const key of [...this.#byPath.keys()]) {
      if (!isSameOrBelow(key, path)) continue;
      for (const prop of this.#byPath.get(key)!.values()) this.#bytes -= sizeOf(prop);
      this.#byPath.delete(key);
    }
  }

  /** MOVE: the properties of `from` and below now belong to `to` and below. */
  move(from: string, to: string): void {
    this.drop(to);
    for (const key of [...this.#byPath.keys()]) {
      if (!isSameOrBelow(key, from)) continue;
      const props = this.#byPath.get(key)!;
      this.#byPath.delete(key);
      this.#byPath.set(to + key.slice(from.length), props);
    }
  }

  /**
   * COPY: `to` (and below, with `deep`) gets copies of `from`'s properties. Copies that
   * would pass the limit are left out (the copy of the content still succeeds).
   */
  copy(from: string, to: string, deep: boolean): void {
    this.drop(to);
    for (const [key, props] of [...this.#byPath]) {
      if (!(deep ? isSameOrBelow(key, from) : key === from)) continue;
      const target = to + key.slice(from.length);
      for (const prop of props.values()) {
        if (this.fits(target, prop)) this.set(target, prop);
      }
    }
  }
}
