/**
 * HTTP Basic authentication for `http-serve --auth` (RFC 7617): parsing the `--auth`
 * specs, parsing an `Authorization` header, checking credentials in constant time, the
 * `WWW-Authenticate` challenge, and redaction so no password reaches a log line.
 *
 * ```ts
 * import {
 *   BASIC_CHALLENGE,
 *   parseAuthSpec,
 *   parseBasicAuthorization,
 *   verifyBasicCredentials,
 * } from "./auth.ts";
 * const credentials = [parseAuthSpec("alice:s3cret"), parseAuthSpec(`bob:sha256:${"0".repeat(64)}`)];
 * const supplied = parseBasicAuthorization(`Basic ${btoa("alice:s3cret")}`);
 * if (!verifyBasicCredentials(supplied, credentials)) {
 *   console.log(`401 with WWW-Authenticate: ${BASIC_CHALLENGE}`);
 * }
 * ```
 *
 * Timing: both the supplied user and password are hashed with SHA-256 and compared to
 * every configured credential with `timingSafeEqual`, without returning early on a user
 * mismatch, so the time taken does not reveal which users exist or how much of a password
 * matched. Stored passwords are kept only as their SHA-256 digest.
 *
 * @module
 */
import { sha256, timingSafeEqual } from "../../sha256.ts";
import { ConfigError } from "../../errors.ts";
import { redactShareMacs } from "./share_links.ts";

/** Value of `WWW-Authenticate` on a 401 (RFC 7617 §2, §2.1: the charset parameter). */
export const BASIC_CHALLENGE = 'Basic realm="sockit", charset="UTF-8"';

/**
 * Longest `Authorization` header value considered; longer ones are simply unauthorised.
 * Bounds the decoding and hashing work an unauthenticated client can cause.
 */
export const MAX_AUTHORIZATION_HEADER_BYTES = 4096;

/** Prefix that marks a pre-hashed password in `--auth USER:sha256:HEX`. */
export const SHA256_PASSWORD_PREFIX = "sha256:";

/** Shown in place of a secret in logs. */
export const REDACTED = "<redacted>";

/** One configured user, as kept in memory: no clear password. */
export interface AuthCredential {
  user: string;
  /** SHA-256 of the user name (UTF-8). */
  userDigest: Uint8Array;
  /** SHA-256 of the password (UTF-8). */
  passwordDigest: Uint8Array;
}

/** What a client supplied in `Authorization: Basic …`. */
export interface BasicCredentials {
  user: string;
  password: string;
}

// RFC 7617 §2: the user-id must not contain a colon, and neither part may contain
// control characters.
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

/**
 * Parses one `--auth` value: `USER:PASS` or `USER:sha256:HEX` (64 hex digits, the SHA-256
 * of the UTF-8 password, e.g. from `printf %s PASS | sha256sum`). The password is split at
 * the first colon, so it may contain colons. Throws {@link ConfigError} (one line, never
 * echoing the password) on an empty user or password, control characters, or a
 * `sha256:` value that is not 64 hex digits (taken as a typo rather than a password).
 */
export function parseAuthSpec(spec: string): AuthCredential {
  const colon = spec.indexOf(":");
  if (colon === -1) {
    throw new ConfigError(`invalid --auth value: expected USER:PASS or USER:sha256:HEX`);
  }
  const user = spec.slice(0, colon);
  const secret = spec.slice(colon + 1);
  if (user === "") throw new ConfigError("invalid --auth value: the user name is empty");
  if (CONTROL_CHARS.test(user)) {
    throw new ConfigError(`invalid --auth user '${user.replace(CONTROL_CHARS, "?")}'`);
  }
  if (secret === "") throw new ConfigError(`invalid --auth for '${user}': the password is empty`);
  if (CONTROL_CHARS.test(secret)) {
    throw new ConfigError(`invalid --auth for '${user}': the password contains control characters`);
  }
  let passwordDigest: Uint8Array;
  if (secret.startsWith(SHA256_PASSWORD_PREFIX)) {
    const hex = secret.slice(SHA256_PASSWORD_PREFIX.length);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new ConfigError(
        `invalid --auth for '${user}': after 'sha256:' expected 64 hex digits (sha256sum output)`,
      );
    }
    passwordDigest = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  } else {
    passwordDigest = sha256(secret);
  }
  return { user, userDigest: sha256(user), passwordDigest };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses an `Authorization` header value of the Basic scheme. Anything unusable (absent,
 * other scheme, too long, bad base64, non-UTF-8, no colon) gives null: the request is
 * simply unauthorised, never an error. The scheme name is case-insensitive (RFC 9110
 * §11.1).
 */
export function parseBasicAuthorization(
  value: string | null | undefined,
): BasicCredentials | null {
  if (!value || value.length > MAX_AUTHORIZATION_HEADER_BYTES) return null;
  const m = /^[ \t]*basic[ \t]+([^ \t]+)[ \t]*$/i.exec(value);
  if (!m || !BASE64.test(m[1]) || m[1].length % 4 === 1) return null;
  let text: string;
  try {
    const binary = atob(m[1]);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    text = strictUtf8.decode(bytes);
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon === -1) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * True when `supplied` matches one of `credentials`. Every credential is compared, user
 * and password alike, whatever matched before, so the running time depends only on the
 * number of configured users.
 */
export function verifyBasicCredentials(
  supplied: BasicCredentials | null,
  credentials: readonly AuthCredential[],
): boolean {
  if (supplied === null) return false;
  const userDigest = sha256(supplied.user);
  const passwordDigest = sha256(supplied.password);
  let matched = 0;
  for (const c of credentials) {
    const userOk = timingSafeEqual(userDigest, c.userDigest) ? 1 : 0;
    const passwordOk = timingSafeEqual(passwordDigest, c.passwordDigest) ? 1 : 0;
    matched |= userOk & passwordOk;
  }
  return matched === 1;
}

/** An `--auth` spec fit for a log line: `alice:<redacted>`. */
export function redactAuthSpec(spec: string): string {
  const colon = spec.indexOf(":");
  return colon === -1 ? REDACTED : `${spec.slice(0, colon)}:${REDACTED}`;
}

/**
 * A header value fit for a log line: `Authorization`/`Proxy-Authorization`/`Cookie` values
 * keep only their scheme (`Basic <redacted>`); other headers pass unchanged.
 */
export function redactHeaderValue(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (lower === "authorization" || lower === "proxy-authorization") {
    const scheme = /^[ \t]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)/.exec(value)?.[1];
    return scheme ? `${scheme} ${REDACTED}` : REDACTED;
  }
  if (lower === "cookie" || lower === "set-cookie") return REDACTED;
  return value;
}

const SECRET_HEADER_LINE = /^(authorization|proxy-authorization|cookie)[ \t]*:/i;

// scheme "://" then the authority up to its last "@" (RFC 3986 §3.2.1: userinfo "@").
const TARGET_USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/;

/**
 * A request-target fit for a log line: the userinfo of an absolute-form target
 * (`http://alice:s3cret@host/x`) becomes `<redacted>`; anything else passes unchanged.
 */
export function redactTargetUserinfo(target: string): string {
  return target.replace(TARGET_USERINFO, `$1${REDACTED}@`);
}

/**
 * A request-target or Referer fit for a log line: userinfo as in
 * {@link redactTargetUserinfo}, and the secret part of share links (share_links.ts).
 */
export function redactTarget(target: string): string {
  return redactShareMacs(redactTargetUserinfo(target));
}

/**
 * A raw request head fit for `--trace`: the values of `Authorization`,
 * `Proxy-Authorization` and `Cookie` lines redacted as in {@link redactHeaderValue}, and
 * the userinfo of an absolute-form target as in {@link redactTargetUserinfo}; every other
 * byte unchanged (bytes are handled one char per byte, so any head survives intact).
 */
export function redactRequestHead(head: Uint8Array): Uint8Array {
  // One char per byte (not TextDecoder("latin1"), which is windows-1252 and remaps 0x80–0x9f).
  let text = "";
  for (let i = 0; i < head.length; i += 8192) {
    text += String.fromCharCode(...head.subarray(i, i + 8192));
  }
  if (!/(authorization|cookie|@|\/share\/)/i.test(text)) return head;
  const lines = text.split("\r\n").map((line, i) => {
    if (i === 0) {
      // The request line: METHOD SP target SP version.
      const start = line.indexOf(" ") + 1;
      const end = line.indexOf(" ", start);
      if (start === 0) return line;
      const stop = end === -1 ? line.length : end;
      return line.slice(0, start) + redactTarget(line.slice(start, stop)) +
        line.slice(stop);
    }
    const m = SECRET_HEADER_LINE.exec(line);
    if (!m) return /^referer[ \t]*:/i.test(line) ? redactShareMacs(line) : line;
    const colon = line.indexOf(":");
    return `${line.slice(0, colon)}: ${redactHeaderValue(m[1], line.slice(colon + 1).trim())}`;
  });
  const out = lines.join("\r\n");
  return Uint8Array.from(out, (c) => c.charCodeAt(0) & 0xff);
}
