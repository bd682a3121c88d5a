/**
 * Share links (`http-serve --share PATH`, or the listing's Share button): a signed URL that
 * lets anyone read one file or one folder's subtree without the password, until it expires
 * or has been used `--share-uses` times. HMAC-SHA-256 (crypto.subtle) with a random
 * per-run secret, so every link dies with the server; `--workers` get the secret in their
 * config and accept each other's links.
 *
 * ```ts
 * import { ShareSigner, newShareSecret } from "./share_links.ts";
 * const signer = new ShareSigner(newShareSecret());
 * const token = await signer.sign({
 *   path: "/docs/",
 *   kind: "dir",
 *   expiresMs: Date.now() + 60_000,
 *   maxUses: 0,
 * });
 * const checked = await signer.verify(token, Date.now());
 * console.log(checked.ok ? checked.grant.path : checked.error); // "/docs/"
 * ```
 *
 * Token: `B64URL(path).KIND.EXPIRES.USES.NONCE.B64URL(HMAC)`, the MAC taken over everything
 * before its dot; numbers in base 36, expiry in ms since the epoch. Nothing in it is
 * secret (the path shows), only unforgeable: any changed byte fails the MAC check, which
 * crypto.subtle.verify does in constant time.
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";

/** `bytes` in base64url without padding (RFC 4648 §5), as links carry them. */
function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The bytes of base64url `text`, or null when it is not base64url. */
function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.fromBase64(text, { alphabet: "base64url" });
  } catch {
    return null;
  }
}
/** URL space of share links: `${SHARE_URL_PREFIX}TOKEN/` (+ the path below a folder). */
export const SHARE_URL_PREFIX = "/.well-known/sockit/share/";
/** `POST ${SHARE_CREATE_PATH}?path=/dir/` answers a new link as JSON (logged-in users). */
export const SHARE_CREATE_PATH = "/.well-known/sockit/share";
/** Default `--share-ttl`: one day. */
export const DEFAULT_SHARE_TTL_MS = 24 * 60 * 60 * 1000;
/** Shortest `--share-ttl`. */
export const MIN_SHARE_TTL_MS = 1000;
/** Longest `--share-ttl`: 30 days; a link meant to outlive that wants a real account. */
export const MAX_SHARE_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Largest `--share-uses`. */
export const MAX_SHARE_USES = 1_000_000;
/** Longest path a link may name, in characters (decoded). */
export const MAX_SHARE_PATH_CHARS = 1024;
/** Most `--share` flags. */
export const MAX_SHARE_FLAGS = 32;
/** Longest token considered; longer ones are refused without any crypto work. */
export const MAX_SHARE_TOKEN_CHARS = 2048;
/** Links whose uses one process counts at once; past it, new counted links get 503. */
export const MAX_SHARE_COUNTERS = 10_000;
/** Bytes of the per-run secret. */
export const SHARE_SECRET_BYTES = 32;

/** What a link grants. */
export interface ShareGrant {
  /** Decoded URL path shared: a file ("/a/b.pdf") or a folder ending in "/" ("/a/"). */
  path: string;
  kind: "file" | "dir";
  /** Dead from this instant on (ms since the epoch). */
  expiresMs: number;
  /** GETs answered 200 allowed through the link; 0 = unlimited. */
  maxUses: number;
}

/** Why a token was refused. */
export type ShareRefusal = "malformed" | "forged" | "expired";

/** A verified link: the grant plus the id its uses are counted under. */
export interface VerifiedShare {
  grant: ShareGrant;
  /** The MAC, unique per link. */
  id: string;
}

// The MAC is the token's last field; the rest (path, expiry, uses, nonce) may show in logs.
const SHARE_MAC_IN_TEXT = /(\/\.well-known\/sockit\/share\/(?:[A-Za-z0-9_-]+\.){5})[A-Za-z0-9_-]+/g;

/**
 * Text fit for a log line: the MAC of every share link in it (a request target, a Referer)
 * becomes `<redacted>`, since the link is a password to what it shares.
 */
export function redactShareMacs(text: string): string {
  return text.replace(SHARE_MAC_IN_TEXT, "$1<redacted>");
}

/** A fresh random secret, hex. */
export function newShareSecret(): string {
  return crypto.getRandomValues(new Uint8Array(SHARE_SECRET_BYTES)).toHex();
}

const encoder = new TextEncoder();

/** Signs and verifies share tokens with one secret. */
export class ShareSigner {
  #key: Promise<CryptoKey>;

  constructor(secretHex: string) {
    this.#key = crypto.subtle.importKey(
      "raw",
      Uint8Array.fromHex(secretHex),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  /** The token for `grant` (a random nonce makes two links to one path differ). */
  async sign(grant: ShareGrant): Promise<string> {
    const nonce = base64url(crypto.getRandomValues(new Uint8Array(6)));
    const body = [
      base64url(new TextEncoder().encode(grant.path)),
      grant.kind === "dir" ? "d" : "f",
      Math.floor(grant.expiresMs).toString(36),
      grant.maxUses.toString(36),
      nonce,
    ].join(".");
    const mac = await crypto.subtle.sign("HMAC", await this.#key, encoder.encode(body));
    return `${body}.${base64url(new Uint8Array(mac))}`;
  }

  /** Checks `token` at `nowMs`: the MAC first, then the expiry. */
  async verify(
    token: string,
    nowMs: number,
  ): Promise<{ ok: true; grant: ShareGrant; id: string } | { ok: false; error: ShareRefusal }> {
    if (token.length > MAX_SHARE_TOKEN_CHARS) return { ok: false, error: "malformed" };
    const parts = token.split(".");
    if (parts.length !== 6 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
      return { ok: false, error: "malformed" };
    }
    const dot = token.lastIndexOf(".");
    const mac = fromBase64url(parts[5]);
    // Only the canonical spelling: base64's spare low bits must not give one MAC two tokens.
    if (mac === null || base64url(mac) !== parts[5]) return { ok: false, error: "forged" };
    const valid = await crypto.subtle.verify(
      "HMAC",
      await this.#key,
      mac,
      encoder.encode(token.slice(0, dot)),
    );
    if (!valid) return { ok: false, error: "forged" };
    const pathBytes = fromBase64url(parts[0]);
    if (pathBytes === null) return { ok: false, error: "malformed" };
    const grant: ShareGrant = {
      path: new TextDecoder().decode(pathBytes),
      kind: parts[1] === "d" ? "dir" : "file",
      expiresMs: parseInt(parts[2], 36),
      maxUses: parseInt(parts[3], 36),
    };
    if (!(nowMs < grant.expiresMs)) return { ok: false, error: "expired" };
    return { ok: true, grant, id: parts[5] };
  }
}

/**
 * Counts the uses of links with a `maxUses`, in this process only (hence `--share-uses`
 * is refused with `--workers`). A use is reserved before the request runs and kept only
 * when it was answered 200, so concurrent requests cannot overshoot the count.
 */
export class ShareUses {
  #links = new Map<string, { used: number; pending: number; expiresMs: number }>();

  constructor(readonly maxCounters = MAX_SHARE_COUNTERS) {}

  /** Reserves one use: "ok", "exhausted", or "full" (too many links counted at once). */
  reserve(id: string, grant: ShareGrant, nowMs: number): "ok" | "exhausted" | "full" {
    let link = this.#links.get(id);
    if (link === undefined) {
      if (this.#links.size >= this.maxCounters) {
        for (const [key, l] of this.#links) if (l.expiresMs <= nowMs) this.#links.delete(key);
        if (this.#links.size >= this.maxCounters) return "full";
      }
      link = { used: 0, pending: 0, expiresMs: grant.expiresMs };
      this.#links.set(id, link);
    }
    if (link.used + link.pending >= grant.maxUses) return "exhausted";
    link.pending++;
    return "ok";
  }

  /** Whether every use of the link is spent (uncounted requests, HEAD or PROPFIND, end too). */
  usedUp(id: string, grant: ShareGrant): boolean {
    const link = this.#links.get(id);
    return link !== undefined && link.used >= grant.maxUses;
  }

  /** Ends a reservation; `used` counts it. */
  settle(id: string, used: boolean): void {
    const link = this.#links.get(id);
    if (link === undefined) return;
    link.pending--;
    if (used) link.used++;
  }

  /** Links counted now. */
  get size(): number {
    return this.#links.size;
  }
}

const TTL_UNITS: Record<string, number> = {
  "": 1000,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses `--share-ttl`: seconds, or a number with `s`, `m`, `h` or `d` ("90", "10m", "24h",
 * "7d"), from {@link MIN_SHARE_TTL_MS} to {@link MAX_SHARE_TTL_MS}; returns milliseconds.
 */
export function parseShareTtl(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(value);
  if (!m) {
    throw new ConfigError(
      `invalid --share-ttl '${value}': expected a duration like 90, 10m, 24h, 7d`,
    );
  }
  const ms = Math.round(Number(m[1]) * TTL_UNITS[m[2].toLowerCase()]);
  if (ms < MIN_SHARE_TTL_MS || ms > MAX_SHARE_TTL_MS) {
    throw new ConfigError(`invalid --share-ttl '${value}': expected 1s to 30d`);
  }
  return ms;
}
