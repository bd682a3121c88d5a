/**
 * TLS as every server and client sees it: `--tls-cert`/`--tls-key`/`--tls-cert-out`
 * resolved (pure) and loaded (I/O) the same way for echo-server and http-serve; the
 * throw-away self-signed certificate behind `--tls-cert auto`; and the two ways a peer
 * pins a certificate: its SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256`
 * prints it; `echo-client --fingerprint`) and its public-key pin (`curl --pinnedpubkey`).
 *
 * ```ts
 * import { loadServerTls, resolveServerTls } from "./tls.ts";
 * const source = resolveServerTls({ tlsCert: "auto" }, "127.0.0.1");
 * const tls = await loadServerTls(source!);
 * console.log(tls.fingerprint); // "7B:A1:…:E2", 32 colon-separated hex bytes
 * console.log(tls.spkiPin); // "sha256//…=", for curl --pinnedpubkey
 * ```
 *
 * The certificate itself is built, and read, by x509.ts.
 *
 * @module
 */
import { ConfigError, describeError, describeOsError } from "../errors.ts";
import { lanAddresses, listeningLine } from "./address.ts";
import type { TlsPem } from "./listen.ts";
import { certificatePins, generateSelfSignedCert, isIpLiteral, pemCertificates } from "./x509.ts";

/** `--tls-cert auto`: generate a certificate at start-up instead of reading one. */
export const TLS_CERT_AUTO = "auto";

/** The TLS flags of a server, as the CLI hands them over. */
export interface ServerTlsFlags {
  /** A PEM file, or {@link TLS_CERT_AUTO}. */
  tlsCert?: string;
  tlsKey?: string;
  /** With `auto`: also write the generated certificate (never the key) to this file. */
  tlsCertOut?: string;
}

/** Where a server's certificate comes from: resolved, not yet read (cloneable). */
export type ServerTlsSource =
  | { kind: "files"; certFile: string; keyFile: string }
  | {
    kind: "auto";
    /** DNS names and IP addresses the certificate names (SANs). */
    hosts: string[];
    /** The listen address, for the LAN addresses added at load time. */
    listenHost: string;
    certOut?: string;
  };

/** A loaded certificate and key, and how peers can pin it. */
export interface ServerTls extends TlsPem {
  /** Generated at start-up (`--tls-cert auto`). */
  selfSigned: boolean;
  /** SHA-256 of the (first) certificate, colon-separated hex; absent if it cannot be parsed. */
  fingerprint?: string;
  /** `sha256//BASE64` of its SubjectPublicKeyInfo, as `curl --pinnedpubkey` takes it. */
  spkiPin?: string;
  /** Where the generated certificate was written (`--tls-cert-out`). */
  certOut?: string;
}

/**
 * Pure: the flags → where the certificate comes from, or undefined for plain TCP. Throws
 * {@link ConfigError} for a combination that cannot work.
 */
export function resolveServerTls(
  flags: ServerTlsFlags,
  listenHost: string,
): ServerTlsSource | undefined {
  const { tlsCert, tlsKey, tlsCertOut } = flags;
  if (tlsCert === TLS_CERT_AUTO) {
    if (tlsKey !== undefined) {
      throw new ConfigError(
        "--tls-key does not go with --tls-cert auto: its key is generated (and never written)",
      );
    }
    return { kind: "auto", hosts: certificateHosts(listenHost), listenHost, certOut: tlsCertOut };
  }
  if (tlsCertOut !== undefined) {
    throw new ConfigError("--tls-cert-out needs --tls-cert auto (it writes the generated one)");
  }
  if (tlsCert === undefined && tlsKey !== undefined) {
    throw new ConfigError("--tls-key needs --tls-cert: give both PEM files, or --tls-cert auto");
  }
  if (tlsCert !== undefined && tlsKey === undefined) {
    throw new ConfigError(
      "--tls-cert and --tls-key go together: give both PEM files, or --tls-cert auto",
    );
  }
  return tlsCert === undefined || tlsKey === undefined
    ? undefined
    : { kind: "files", certFile: tlsCert, keyFile: tlsKey };
}

/**
 * The names a generated certificate covers: loopback, and `host` when it is a specific
 * one (an IPv6 literal with a zone, `fe80::1%eth0`, has no form a certificate can name).
 */
function certificateHosts(host: string): string[] {
  const hosts = ["localhost", "127.0.0.1", "::1"];
  const bare = host.replace(/^\[|\]$/g, "");
  const nameable = isIpLiteral(bare) || /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(bare);
  if (nameable && bare !== "0.0.0.0" && bare !== "::" && !hosts.includes(bare)) hosts.push(bare);
  return hosts;
}

/**
 * The I/O a source needs: read the PEM files, or generate the certificate (and write it
 * with `--tls-cert-out`). An unreadable file or unwritable `--tls-cert-out` is a
 * {@link ConfigError}; a file that is not a usable certificate is reported by
 * `listenTcp`, which rustls tells why.
 */
export async function loadServerTls(source: ServerTlsSource): Promise<ServerTls> {
  if (source.kind === "files") {
    const cert = await readPemFlag(source.certFile, "--tls-cert");
    const key = await readPemFlag(source.keyFile, "--tls-key");
    return { cert, key, selfSigned: false, ...await certificatePins(cert).catch(() => ({})) };
  }
  const hosts = [...new Set([...source.hosts, ...lanAddresses(source.listenHost)])];
  const pem = await generateSelfSignedCert({ hosts });
  if (source.certOut !== undefined) {
    try {
      await Deno.writeTextFile(source.certOut, pem.cert);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound ? "no such directory" : describeIo(err);
      throw new ConfigError(`cannot write --tls-cert-out '${source.certOut}': ${why}`);
    }
  }
  return { ...pem, selfSigned: true, ...await certificatePins(pem.cert), certOut: source.certOut };
}

/**
 * A client's `--ca FILE`, read at once (while the flags are parsed, so a bad file is a
 * usage error before anything connects): the PEM text, or a {@link ConfigError}.
 */
export function readCaFile(file: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read --ca '${file}': ${describeIo(err)}`);
  }
  if (pemCertificates(text).length === 0) {
    throw new ConfigError(`--ca '${file}' holds no PEM certificate`);
  }
  return text;
}

async function readPemFlag(file: string, flag: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${flag} '${file}': ${describeIo(err)}`);
  }
}

function describeIo(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  return describeError(err).replace(/\s*\(os error \d+\).*$/, "");
}

/**
 * The listening line of a server that may serve TLS, and the lines after it: with `tls`,
 * `scheme` becomes its TLS twin (tcp → tls, http → https), the certificate's fingerprint
 * joins `notes`, and its public-key pin (for curl) and `--tls-cert-out`'s file follow.
 */
export function listeningLines(
  kind: string,
  scheme: "tcp" | "http",
  addr: Deno.NetAddr,
  notes: string[],
  tls: ServerTls | undefined,
): string[] {
  if (tls === undefined) {
    return [listeningLine(kind, scheme, addr.hostname, addr.port, `(${notes.join("; ")})`)];
  }
  const pin = tls.fingerprint === undefined
    ? "TLS"
    : `${tls.selfSigned ? "self-signed " : ""}sha256 Fingerprint=${tls.fingerprint}`;
  const tlsScheme = scheme === "tcp" ? "tls" : "https";
  const extra = `(${[...notes, pin].join("; ")})`;
  return [
    listeningLine(kind, tlsScheme, addr.hostname, addr.port, extra),
    ...(tls.spkiPin === undefined
      ? []
      : [`  public key pin: ${tls.spkiPin} (curl --pinnedpubkey)`]),
    ...(tls.certOut === undefined
      ? []
      : [`  certificate written to ${tls.certOut} (curl --cacert ${tls.certOut})`]),
  ];
}

/**
 * A client's failed handshake in the user's words, rustls' or node's own text kept in
 * parentheses for searching. First match wins.
 */
const TLS_ERROR_CAUSES: [RegExp, (host: string) => string][] = [
  // BadSignature: a --ca with the issuer's name but another key (an earlier `auto` run's).
  [
    /UnknownIssuer|BadSignature|self[- ]signed|unable to get local issuer/i,
    () => "the server's certificate is not from a trusted CA: pass it with --ca, or pin it",
  ],
  [
    /NotValidForName|Hostname\/IP does not match/i,
    (host) => `the certificate is not for '${host}'`,
  ],
  [/Expired|NotValidYet/i, () => "the server's certificate is expired or not yet valid"],
  [
    /UnexpectedEof|unexpected eof|Connection reset|socket hang up|ECONNRESET/i,
    () => "the server closed the connection during the handshake (is it a TLS port?)",
  ],
  [
    /corrupt message|InvalidContentType|wrong version|unexpected (handshake )?message/i,
    () => "the server does not speak TLS on this port",
  ],
];

/** See {@link TLS_ERROR_CAUSES}. */
export function describeTlsError(err: unknown, host: string): string {
  const message = describeOsError(err);
  const cause = TLS_ERROR_CAUSES.find(([pattern]) => pattern.test(message));
  return cause === undefined ? message : `${cause[1](host)} (${message})`;
}

/**
 * Pure: a fingerprint as the user typed it → the form {@link certificateFingerprint}
 * gives. Takes 32 colon-separated hex bytes or 64 hex digits, any case, with or without
 * openssl's `sha256 Fingerprint=` in front; throws {@link ConfigError} otherwise.
 */
export function parseFingerprint(text: string): string {
  const value = text.trim().replace(/^sha-?256(\s*fingerprint)?\s*[=:]\s*/i, "");
  const hex = /^[0-9a-f]{64}$/i.test(value)
    ? value
    : /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i.test(value)
    ? value.replaceAll(":", "")
    : null;
  if (hex === null) {
    throw new ConfigError(
      `invalid --fingerprint '${text}': expected a SHA-256 fingerprint, 32 hex bytes ` +
        "as AB:CD:… (what the server's listening line shows)",
    );
  }
  return hex.toUpperCase().match(/../g)!.join(":");
}
