/**
 * Integrity fields of RFC 9530 for uploads: `Content-Digest` (the bytes of this message's
 * content) and `Repr-Digest` (the whole file), each a Structured-Field dictionary like
 * `sha-256=:base64:`. Parsing is pure; {@link DigestCheck} hashes bytes as they stream
 * and says at the end whether they match.
 *
 * ```ts
 * import { DigestCheck, parseDigestField } from "./digest.ts";
 * const expected = parseDigestField("sha-256=:LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=:");
 * const check = await DigestCheck.create(expected);
 * check.update(new TextEncoder().encode("foo"));
 * console.log(check.mismatch()); // null: the bytes match
 * ```
 *
 * Decisions (RFC 9530 §2, §5): algorithms other than `sha-256` and `sha-512` are ignored
 * (a recipient MAY ignore what it does not support); a field that is not a dictionary of
 * byte sequences is malformed → the caller answers 400. Every supported algorithm given
 * must match.
 *
 * @module
 */
import type { Hash } from "node:crypto";

/** Algorithms checked, by their RFC 9530 registry name → node:crypto name. */
export const SUPPORTED_DIGEST_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ["sha-256", "sha256"],
  ["sha-512", "sha512"],
]);

/** One expected digest of a supported algorithm. */
export interface ExpectedDigest {
  /** RFC 9530 name ("sha-256"). */
  algorithm: string;
  /** The digest, base64 as sent (normalised: no whitespace). */
  base64: string;
}

/** A digest field that is not a dictionary of byte sequences (400). */
export class DigestSyntaxError extends Error {
  readonly code = "DIGEST_SYNTAX";
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const MEMBER = /^([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):(;.*)?$/;

/**
 * Pure: the supported digests in a `Content-Digest` / `Repr-Digest` value (repeated fields
 * arrive joined with ", "). Unsupported algorithms are dropped; malformed members throw
 * {@link DigestSyntaxError}.
 */
export function parseDigestField(value: string): ExpectedDigest[] {
  const out: ExpectedDigest[] = [];
  for (const raw of value.split(",")) {
    const member = raw.trim();
    if (member === "") continue;
    const match = MEMBER.exec(member);
    if (match === null) throw new DigestSyntaxError(`malformed digest field member '${member}'`);
    if (SUPPORTED_DIGEST_ALGORITHMS.has(match[1])) {
      out.push({ algorithm: match[1], base64: match[2] });
    }
  }
  return out;
}

/**
 * Hashes bytes for each expected digest and compares at the end. Made with
 * {@link DigestCheck.create}: `node:crypto` (fast bulk hashing) is loaded by the first upload
 * that sends a digest, not at start-up, where its Node compatibility code cost ~17 ms and
 * ~9 MiB.
 */
export class DigestCheck {
  readonly #hashes: { expected: ExpectedDigest; hash: Hash }[];

  private constructor(hashes: { expected: ExpectedDigest; hash: Hash }[]) {
    this.#hashes = hashes;
  }

  /** A check of `expected` (nothing to load when it is empty). */
  static async create(expected: readonly ExpectedDigest[]): Promise<DigestCheck> {
    if (expected.length === 0) return new DigestCheck([]);
    const { createHash } = await import("node:crypto");
    return new DigestCheck(expected.map((e) => ({
      expected: e,
      hash: createHash(SUPPORTED_DIGEST_ALGORITHMS.get(e.algorithm)!),
    })));
  }

  /** True when there is nothing to check. */
  get empty(): boolean {
    return this.#hashes.length === 0;
  }

  update(chunk: Uint8Array): void {
    for (const { hash } of this.#hashes) hash.update(chunk);
  }

  /** Null when every digest matches, else a message naming the first that does not. */
  mismatch(): string | null {
    for (const { expected, hash } of this.#hashes) {
      const actual = hash.digest("base64");
      if (actual !== expected.base64) {
        return `${expected.algorithm} digest mismatch: got :${actual}:, expected :${expected.base64}:`;
      }
    }
    return null;
  }
}

/** Hashes a file from disk (a resumable upload's parts arrived in several requests). */
export async function checkFileDigest(
  path: string,
  expected: readonly ExpectedDigest[],
): Promise<string | null> {
  const check = await DigestCheck.create(expected);
  if (check.empty) return null;
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(256 * 1024);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    check.update(buffer.subarray(0, n));
  }
  return check.mismatch();
}
