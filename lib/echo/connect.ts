/**
 * How echo-client reaches a server: `[HOST:]PORT` parsing, connecting with a timeout and
 * `--wait` retries, over TLS with `--tls` (`--ca`, `--insecure`, `--fingerprint`), a reply
 * deadline, and socket errors in the user's words. Every failure is an
 * {@link EchoClientError} whose message is the one line the CLI prints.
 *
 * ```ts
 * import { connectWithRetry, parseAddress } from "./connect.ts";
 * const addr = parseAddress("[::1]:9000"); // { host: "::1", port: 9000 }
 * const conn = await connectWithRetry(addr, { timeoutMs: 5000, waitMs: 0 });
 * conn.close();
 * const pinned = await connectWithRetry(addr, {
 *   timeoutMs: 5000,
 *   waitMs: 0,
 *   tls: { tls: true, fingerprint: "7B:A1:…" }, // as echo-server --tls-cert auto prints it
 * });
 * pinned.close();
 * ```
 *
 * TLS: `--tls` and `--ca` use `Deno.startTls` (rustls, the system's roots plus `--ca`).
 * `--insecure` and `--fingerprint` need what Deno 2.9's own TLS API does not offer, a
 * handshake that lets an unverified certificate through and shows it, so they go through
 * `node:tls` (`rejectUnauthorized: false`, `getPeerCertificate().fingerprint256`), whose
 * socket {@link NodeTlsConn} presents as a `Deno.Conn`.
 *
 * @module
 */
import type { TLSSocket } from "node:tls";
import { ConfigError } from "../errors.ts";
import { UnexpectedEofError } from "../framing.ts";
import { formatHost } from "../net/address.ts";
import { describeTlsError } from "../net/tls.ts";
import { parsePort } from "../values.ts";

/** Host used when the address is only a port. */
export const DEFAULT_CLIENT_HOST = "127.0.0.1";
/** Pause between connection attempts while `--wait` is running. */
export const CONNECT_RETRY_INTERVAL_MS = 100;
/** A parsed `[HOST:]PORT`. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** Parses `PORT`, `HOST:PORT` or `[IPv6]:PORT` (pure); throws {@link ConfigError}. */
export function parseAddress(address: string): ServerAddress {
  let host: string;
  let portText: string;
  let m: RegExpExecArray | null;
  if (/^\d+$/.test(address)) {
    host = DEFAULT_CLIENT_HOST;
    portText = address;
  } else if ((m = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(\d*)$/.exec(address))) {
    [, host, portText] = m;
  } else if ((m = /^([^\s:\[\]\/]*):(\d*)$/.exec(address))) {
    [, host, portText] = m;
    if (host === "") host = DEFAULT_CLIENT_HOST;
  } else if (/^\[[^\]]*\]$/.test(address)) {
    throw new ConfigError(
      `invalid address '${address}': the port is missing, e.g. ${address}:8000`,
    );
  } else if (address.split(":").length > 2) {
    throw new ConfigError(
      `invalid address '${address}': put IPv6 addresses in brackets, e.g. [::1]:8000`,
    );
  } else {
    throw new ConfigError(`invalid address '${address}': expected [HOST:]PORT, e.g. 8000`);
  }
  if (portText === "") {
    throw new ConfigError(`invalid address '${address}': the port is missing`);
  }
  const port = parsePort(portText);
  if (port === 0) throw new ConfigError(`invalid address '${address}': port 0 cannot be dialed`);
  return { host, port };
}

/** A failure shown as `sockit: ADDRESS: CAUSE`, exit 1. */
export class EchoClientError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "EchoClientError";
  }
}

/** `node:net` error codes (the `--insecure`/`--fingerprint` path) in the same words. */
const NODE_ERROR_CAUSES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  EPIPE: "connection closed by the server",
  ERR_STREAM_DESTROYED: "connection closed",
  ERR_STREAM_WRITE_AFTER_END: "connection closed by the server",
  ETIMEDOUT: "timed out",
  ENETUNREACH: "network unreachable",
  EHOSTUNREACH: "no route to host",
};

/** Turns a socket error into a short cause ("connection refused", "unknown host"). */
export function describeNetworkError(err: unknown, host: string): string {
  if (err instanceof EchoClientError) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in NODE_ERROR_CAUSES) return NODE_ERROR_CAUSES[code];
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `unknown host '${host}'`;
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.ConnectionReset) return "connection reset by peer";
  if (err instanceof Deno.errors.BrokenPipe) return "connection closed by the server";
  if (err instanceof Deno.errors.ConnectionAborted) return "connection aborted";
  if (err instanceof Deno.errors.TimedOut) return "timed out";
  if (err instanceof UnexpectedEofError) {
    return `connection closed by the server in the middle of ${err.what}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/lookup address|Name or service not known|nodename nor servname|No address/i.test(message)) {
    return `unknown host '${host}'`;
  }
  if (/network is unreachable/i.test(message)) return "network unreachable";
  if (/no route to host/i.test(message)) return "no route to host";
  return message.replace(/\s*\(os error \d+\)$/, "");
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Connects once, giving up after `timeoutMs` (0 = no limit). */
async function connectOnce(addr: ServerAddress, timeoutMs: number): Promise<Deno.TcpConn> {
  if (timeoutMs <= 0) return await Deno.connect({ hostname: addr.host, port: addr.port });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await Deno.connect({ hostname: addr.host, port: addr.port, signal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) {
      throw new EchoClientError("TIMEOUT", `timed out after ${seconds(timeoutMs)}`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** What echo-client talks over: TCP, or TLS on TCP; either takes `setNoDelay`. */
export type EchoConn = Deno.Conn & { setNoDelay(noDelay?: boolean): void };

/** Options of {@link connectWithRetry}. */
export interface ConnectOptions {
  /** Per attempt, for the TCP connect and then the TLS handshake; 0 = no limit. */
  timeoutMs: number;
  /** Keep retrying a failed TCP connect this long (`--wait`); TLS failures are final. */
  waitMs: number;
  /** echo-client's flags: with `--tls` set, the connection is TLS ({@link resolveClientTls}). */
  tls?: ClientTlsFlags;
}

/**
 * Connects, retrying every {@link CONNECT_RETRY_INTERVAL_MS} until `waitMs` has passed;
 * with `--tls`, completes the handshake and checks the certificate before resolving.
 */
export async function connectWithRetry(
  addr: ServerAddress,
  options: ConnectOptions,
): Promise<EchoConn> {
  const tls = options.tls === undefined ? undefined : resolveClientTls(options.tls);
  const deadline = performance.now() + options.waitMs;
  for (;;) {
    let tcp: Deno.TcpConn;
    try {
      if (tls?.verify === "fingerprint" || tls?.verify === "none") {
        return await connectNodeTls(addr, options.timeoutMs, tls);
      }
      tcp = await connectOnce(addr, options.timeoutMs);
    } catch (err) {
      if (err instanceof EchoClientError && err.code === "TLS") throw err;
      const left = deadline - performance.now();
      if (left <= 0) {
        const cause = describeNetworkError(err, addr.host);
        throw new EchoClientError(
          "CONNECT",
          `cannot connect to ${formatHost(addr.host)}:${addr.port}: ${cause}${
            options.waitMs > 0 ? ` (still failing after --wait ${seconds(options.waitMs)})` : ""
          }`,
        );
      }
      await delay(Math.min(CONNECT_RETRY_INTERVAL_MS, left));
      continue;
    }
    return tls === undefined ? tcp : await startTls(tcp, addr, options.timeoutMs, tls.caCerts);
  }
}

/** Awaits `work`, closing `conn` (which fails the pending read) after `timeoutMs`. */
export async function withReplyTimeout<T>(
  conn: Deno.Conn,
  timeoutMs: number,
  work: Promise<T>,
): Promise<T> {
  if (timeoutMs <= 0) return await work;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  try {
    return await work;
  } catch (err) {
    if (timedOut) {
      throw new EchoClientError(
        "TIMEOUT",
        `timed out after ${seconds(timeoutMs)} waiting for a reply`,
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

// --- TLS (--tls, --ca, --insecure, --fingerprint) ------------------------------------

/**
 * echo-client's TLS flags as main.ts hands them over. An intersection with `object`, so
 * the whole flags object (whose other fields are not TLS's business) can be passed.
 */
export type ClientTlsFlags = object & {
  tls?: boolean;
  /** The PEM text of `--ca FILE` (`readCaFile` in lib/net/tls.ts read it with the flags). */
  ca?: string;
  insecure?: boolean;
  /** Already normalised by `parseFingerprint` (lib/net/tls.ts). */
  fingerprint?: string;
  udp?: boolean;
  connections?: number;
  duration?: number;
};

/** How the server's certificate is checked. */
export type ClientTls =
  /** Valid for the host, from the system's roots or a `--ca` (rustls, as a browser would). */
  | { verify: "ca"; caCerts: string[] }
  /** Exactly the certificate with this SHA-256 fingerprint, whoever issued it. */
  | { verify: "fingerprint"; fingerprint: string }
  /** Not at all (`--insecure`): encrypted, but anyone in the middle can read it. */
  | { verify: "none" };

const TLS_CHECKS = ["ca", "insecure", "fingerprint"] as const;

/**
 * Pure: the flags → how to check the server, or undefined without `--tls`. Throws
 * {@link ConfigError} (exit 2) for a check without `--tls`, or two checks at once.
 */
export function resolveClientTls(flags: ClientTlsFlags): ClientTls | undefined {
  const checks = TLS_CHECKS.filter((f) => flags[f] !== undefined && flags[f] !== false);
  if (!flags.tls) {
    if (checks.length > 0) throw new ConfigError(`--${checks[0]} needs --tls`);
    return undefined;
  }
  if (checks.length > 1) {
    throw new ConfigError(
      `--${checks[0]} and --${checks[1]} do not mix: --ca adds a CA to trust, --insecure ` +
        "trusts any certificate, --fingerprint exactly one; pick one",
    );
  }
  if (flags.udp) throw new ConfigError("--tls needs TCP: there is no TLS over --udp (DTLS)");
  if (flags.fingerprint !== undefined) {
    return { verify: "fingerprint", fingerprint: flags.fingerprint };
  }
  if (flags.insecure) return { verify: "none" };
  return { verify: "ca", caCerts: flags.ca === undefined ? [] : [flags.ca] };
}

/** A failed handshake or certificate check: final (not retried by `--wait`), exit 1. */
function tlsFailure(addr: ServerAddress, cause: string): EchoClientError {
  return new EchoClientError(
    "TLS",
    `TLS with ${formatHost(addr.host)}:${addr.port} failed: ${cause}`,
  );
}

/** A TLS handshake, given up (`abort`) once `timeoutMs` passes; 0 = no limit. */
async function withDeadline<T>(work: Promise<T>, timeoutMs: number, abort: () => void) {
  if (timeoutMs <= 0) return await work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort();
      reject(
        new EchoClientError(
          "TIMEOUT",
          `no handshake within ${seconds(timeoutMs)} (is it a TLS port?)`,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `--tls` (and `--ca`): rustls checks the chain and the host name. */
async function startTls(
  tcp: Deno.TcpConn,
  addr: ServerAddress,
  timeoutMs: number,
  caCerts: string[],
): Promise<EchoConn> {
  // Set before the upgrade: a Deno.TlsConn has no setNoDelay of its own.
  try {
    tcp.setNoDelay(true);
  } catch { /* the handshake will tell */ }
  const conn = await Deno.startTls(tcp, { hostname: addr.host, caCerts });
  try {
    await withDeadline(conn.handshake(), timeoutMs, () => conn.close());
  } catch (err) {
    try {
      conn.close();
    } catch { /* closed by the deadline */ }
    throw tlsFailure(addr, describeTlsError(err, addr.host));
  }
  return Object.assign(conn, { setNoDelay: (_noDelay?: boolean) => {} });
}

/** `--fingerprint` and `--insecure`: node:tls lets any certificate through; we check it. */
async function connectNodeTls(
  addr: ServerAddress,
  timeoutMs: number,
  tls: Exclude<ClientTls, { verify: "ca" }>,
): Promise<EchoConn> {
  const { connect } = await import("node:tls");
  const socket = connect({ host: addr.host, port: addr.port, rejectUnauthorized: false });
  socket.setNoDelay(true);
  let tcpConnected = false;
  socket.once("connect", () => tcpConnected = true);
  const handshake = new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  try {
    await withDeadline(handshake, timeoutMs, () => socket.destroy());
  } catch (err) {
    socket.destroy();
    // Before the TCP connection stands it is a connect failure, which --wait retries.
    if (!tcpConnected) {
      throw err instanceof EchoClientError
        ? new EchoClientError("TIMEOUT", `timed out after ${seconds(timeoutMs)}`)
        : err;
    }
    throw tlsFailure(addr, describeTlsError(err, addr.host));
  }
  if (tls.verify === "fingerprint") {
    const got = socket.getPeerCertificate()?.fingerprint256;
    if (got !== tls.fingerprint) {
      socket.destroy();
      throw tlsFailure(
        addr,
        `the server's certificate has SHA-256 fingerprint ${got ?? "(none)"}, ` +
          `not the --fingerprint ${tls.fingerprint}`,
      );
    }
  }
  return new NodeTlsConn(socket);
}

/**
 * A `node:tls` socket as a `Deno.Conn`, for {@link connectNodeTls}: reads are pulled (the
 * socket is paused while a chunk waits, so a slow reader holds one chunk, as with Deno),
 * writes resolve once handed to the socket, and `close()` fails a pending read, as
 * closing a Deno connection does (the reply timeout relies on that).
 */
export class NodeTlsConn implements Deno.Conn {
  #socket: TLSSocket;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #closed = false;
  #error: unknown = null;
  #wake: (() => void) | null = null;

  constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err) => {
      this.#error ??= err;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  get localAddr(): Deno.NetAddr {
    const s = this.#socket;
    return { transport: "tcp", hostname: s.localAddress ?? "", port: s.localPort ?? 0 };
  }

  get remoteAddr(): Deno.NetAddr {
    const s = this.#socket;
    return { transport: "tcp", hostname: s.remoteAddress ?? "", port: s.remotePort ?? 0 };
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("the connection is closed");
      const chunk = this.#chunks[0];
      if (chunk !== undefined) {
        const n = Math.min(p.length, chunk.length);
        p.set(chunk.subarray(0, n));
        if (n === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(n);
        if (this.#chunks.length === 0 && !this.#ended) this.#socket.resume();
        return n;
      }
      if (this.#error !== null) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("the connection is closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (err) => err ? reject(err) : resolve(p.length));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#notify();
  }

  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  // The stream views of the Deno.Conn contract (echo-client itself reads and writes).
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return new ReadableStream({
      pull: async (into) => {
        const buffer = new Uint8Array(16 * 1024);
        const n = await this.read(buffer);
        n === null ? into.close() : into.enqueue(buffer.subarray(0, n));
      },
      cancel: () => this.close(),
    });
  }

  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    return new WritableStream({
      write: (c) => this.write(c).then(() => {}),
      close: () => this.closeWrite(),
    });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
