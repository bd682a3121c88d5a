/**
 * Just enough X.509 for sockit's TLS (tls.ts): a self-signed certificate built with
 * WebCrypto and a few DER encoders (X.690, RFC 5280), and what a peer pins of any
 * certificate: its SHA-256 fingerprint and its public-key (SPKI) pin.
 *
 * ```ts
 * import { certificatePins, generateSelfSignedCert } from "./x509.ts";
 * const { cert, key } = await generateSelfSignedCert({ hosts: ["localhost", "127.0.0.1"] });
 * const { fingerprint, spkiPin } = await certificatePins(cert);
 * console.log(fingerprint, spkiPin, key.length); // "7B:A1:…", "sha256//…=", …
 * ```
 *
 * Built here, not with an npm X.509 library: measured under Deno 2.9, `@peculiar/x509` 2.x
 * cannot load without a global `reflect-metadata` polyfill, 1.x installs one and takes
 * ~90 ms to import, and `pkijs` ~35 ms; this module costs nothing to import.
 *
 * @module
 */
import type { TlsPem } from "./listen.ts";

/** How long a `--tls-cert auto` certificate is valid: it dies with the process anyway. */
export const AUTO_CERT_VALIDITY_DAYS = 30;
/** An `auto` certificate's start is back-dated this much, for peers with a slow clock. */
export const AUTO_CERT_BACKDATE_MS = 60 * 60 * 1000;
/** The subject and issuer of an `auto` certificate (a Common Name nobody checks). */
export const AUTO_CERT_NAME = "sockit self-signed";

// --- Fingerprints and pins ----------------------------------------------------------

/** The DER of every `CERTIFICATE` block of a PEM text, in order. */
export function pemCertificates(pem: string): Uint8Array[] {
  const blocks = pem.matchAll(
    /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g,
  );
  return [...blocks].map((m) => decodeBase64(m[1].replace(/\s+/g, "")));
}

/** SHA-256 of a DER certificate as `openssl x509 -fingerprint -sha256` prints it. */
export async function certificateFingerprint(der: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der as BufferSource));
  return Array.from(digest, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
}

/** Fingerprint and public-key pin of the first certificate of a PEM chain. */
export async function certificatePins(
  pem: string,
): Promise<{ fingerprint: string; spkiPin: string }> {
  const [der] = pemCertificates(pem);
  if (der === undefined) throw new Error("no PEM certificate");
  const spki = subjectPublicKeyInfo(der);
  const spkiDigest = await crypto.subtle.digest("SHA-256", spki as BufferSource);
  return {
    fingerprint: await certificateFingerprint(der),
    spkiPin: `sha256//${encodeBase64(new Uint8Array(spkiDigest))}`,
  };
}

/** A DER element's tag and where its contents start and it ends. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Uint8Array, at: number): Tlv {
  if (at + 2 > der.length) throw new Error("truncated DER");
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count < 1 || count > 3 || start + count > der.length) throw new Error("bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  if (start + length > der.length) throw new Error("truncated DER");
  return { tag, start, end: start + length };
}

/** The SubjectPublicKeyInfo of a DER certificate (RFC 5280 §4.1), whole. */
function subjectPublicKeyInfo(der: Uint8Array): Uint8Array {
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.start);
  let at = tbs.start;
  if (readTlv(der, at).tag === 0xa0) at = readTlv(der, at).end; // [0] version
  // serialNumber, signature, issuer, validity, subject
  for (let i = 0; i < 5; i++) at = readTlv(der, at).end;
  const spki = readTlv(der, at);
  if (spki.tag !== 0x30) throw new Error("no SubjectPublicKeyInfo");
  return der.subarray(at, spki.end);
}

// --- The self-signed certificate (RFC 5280), DER-encoded (X.690) ------------------------

/** Options of {@link generateSelfSignedCert}. */
export interface SelfSignedOptions {
  /** DNS names and IP literals (IPv4, IPv6) for the subjectAltName. */
  hosts: string[];
  /** Default {@link AUTO_CERT_VALIDITY_DAYS}. */
  validityDays?: number;
  /** Default: now. */
  now?: Date;
}

/**
 * An ECDSA P-256 key and a self-signed certificate for `hosts`, as PEM; nothing is
 * written anywhere. The certificate is an end-entity one (basicConstraints CA:FALSE):
 * rustls refuses to serve a CA certificate, and curl and rustls accept this one as its
 * own trust anchor (`--cacert`, `caCerts`).
 */
export async function generateSelfSignedCert(options: SelfSignedOptions): Promise<TlsPem> {
  const now = options.now ?? new Date();
  const days = options.validityDays ?? AUTO_CERT_VALIDITY_DAYS;
  const { privateKey, spki, pkcs8 } = await generateP256Key();
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // positive, and at most 20 octets (§4.1.2.2)
  const name = sequence(set(sequence(oid(OID_COMMON_NAME), utf8String(AUTO_CERT_NAME))));
  const tbs = sequence(
    explicit(0, integer(new Uint8Array([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(
      utcTime(new Date(now.getTime() - AUTO_CERT_BACKDATE_MS)),
      utcTime(new Date(now.getTime() + days * 86_400_000)),
    ),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension(OID_SUBJECT_ALT_NAME, false, sequence(...options.hosts.map(generalName))),
        extension(OID_BASIC_CONSTRAINTS, true, sequence()), // cA FALSE
      ),
    ),
  );
  const p1363 = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, tbs as BufferSource),
  );
  // WebCrypto signs as r‖s; X.509 wants Ecdsa-Sig-Value ::= SEQUENCE { r, s } (RFC 3279).
  const signature = sequence(integer(p1363.subarray(0, 32)), integer(p1363.subarray(32)));
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  return { cert: pem("CERTIFICATE", certificate), key: pem("PRIVATE KEY", pkcs8) };
}

/** The order n of P-256's base point (SEC 2 §2.4.2): a private key is an integer in [1, n-1]. */
const P256_ORDER = Uint8Array.from(
  "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551".match(/../g)!,
  (h) => parseInt(h, 16),
);

/**
 * A new P-256 key, not from `crypto.subtle.generateKey`: measured, Deno 2.9 spends ~30 ms
 * in its first EC `generateKey` (idle machine), while importing a random scalar takes ~1
 * ms. The scalar is drawn from `getRandomValues` by rejection sampling (FIPS 186-5
 * A.2.2), so it is uniform in [1, n-1]; WebCrypto computes the public point.
 */
async function generateP256Key(): Promise<
  { privateKey: CryptoKey; spki: Uint8Array; pkcs8: Uint8Array }
> {
  let d: Uint8Array;
  do d = crypto.getRandomValues(new Uint8Array(32)); while (!isP256Scalar(d));
  const algorithm = sequence(oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")); // P-256
  // PKCS#8 around an RFC 5915 ECPrivateKey; the public key [1] is added once it is known.
  const pkcs8 = (...publicKey: Uint8Array[]) =>
    sequence(
      integer(new Uint8Array([0])),
      algorithm,
      tlv(0x04, sequence(integer(new Uint8Array([1])), tlv(0x04, d), ...publicKey)),
    );
  const ecdsa = { name: "ECDSA", namedCurve: "P-256" };
  const key = await crypto.subtle.importKey("pkcs8", pkcs8() as BufferSource, ecdsa, true, [
    "sign",
  ]);
  const { x, y } = await crypto.subtle.exportKey("jwk", key);
  const point = Uint8Array.from([4, ...decodeBase64Url(x!), ...decodeBase64Url(y!)]);
  return {
    privateKey: key,
    spki: sequence(algorithm, bitString(point)),
    pkcs8: pkcs8(explicit(1, bitString(point))), // what generateKey's keys export, too
  };
}

function isP256Scalar(d: Uint8Array): boolean {
  if (d.every((b) => b === 0)) return false;
  for (let i = 0; i < d.length; i++) {
    if (d[i] !== P256_ORDER[i]) return d[i] < P256_ORDER[i];
  }
  return false; // d = n
}

const sequence = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts);
const explicit = (tagNumber: number, ...parts: Uint8Array[]) => tlv(0xa0 | tagNumber, ...parts);
const utf8String = (text: string) => tlv(0x0c, new TextEncoder().encode(text));
const bitString = (bytes: Uint8Array) => tlv(0x03, new Uint8Array([0]), bytes);

const OID_COMMON_NAME = "2.5.4.3";
const OID_SUBJECT_ALT_NAME = "2.5.29.17";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const head = length < 0x80
    ? [tag, length]
    : length < 0x100
    ? [tag, 0x81, length]
    : [tag, 0x82, length >> 8, length & 0xff]; // a certificate here is far below 64 KiB
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let at = head.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A non-negative INTEGER from big-endian bytes: minimal, with a 0 byte if the top bit is set. */
function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.subarray(start);
  return body[0] & 0x80 ? tlv(0x02, new Uint8Array([0]), body) : tlv(0x02, body);
}

function oid(dotted: string): Uint8Array {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const out = [40 * first + second];
  for (let value of rest) {
    const groups = [value & 0x7f];
    while ((value = Math.floor(value / 128)) > 0) groups.unshift((value & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** UTCTime, which RFC 5280 §4.1.2.5 requires for dates through 2049. */
function utcTime(date: Date): Uint8Array {
  const text = date.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return tlv(0x17, new TextEncoder().encode(text));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  const flag = critical ? [tlv(0x01, new Uint8Array([0xff]))] : [];
  return sequence(oid(id), ...flag, tlv(0x04, value));
}

/** A subjectAltName entry: iPAddress [7] for an IP literal, dNSName [2] otherwise. */
function generalName(host: string): Uint8Array {
  const ip = parseIpv4(host) ?? parseIpv6(host);
  return ip === null ? tlv(0x82, new TextEncoder().encode(host)) : tlv(0x87, ip);
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return null;
  }
  return new Uint8Array(parts.map(Number));
}

/** 16 bytes of an IPv6 literal, or null; the URL parser checks and normalises it. */
function parseIpv6(text: string): Uint8Array | null {
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1); // "::ffff:1.2.3.4" → hex
  } catch {
    return null; // not IPv6, or with a zone (fe80::1%eth0)
  }
  const [head, tail] = host.split("::").map((half) =>
    half === "" ? [] : half.split(":").map((g) => parseInt(g, 16))
  );
  const groups = [...head, ...new Array(8 - head.length - (tail ?? []).length).fill(0)];
  groups.push(...tail ?? []);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function pem(label: string, der: Uint8Array): string {
  const lines = encodeBase64(der).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function decodeBase64Url(text: string): Uint8Array {
  return decodeBase64(text.replaceAll("-", "+").replaceAll("_", "/"));
}

/** True for an IPv4 or IPv6 literal a certificate can name (an iPAddress SAN). */
export function isIpLiteral(text: string): boolean {
  return parseIpv4(text) !== null || parseIpv6(text) !== null;
}
