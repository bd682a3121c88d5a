/**
 * How echo-client reaches a server: `[HOST:]PORT` parsing, connecting with a timeout and
 * `--wait` retries, a reply deadline, and socket errors in the user's words. Every failure
 * is an {@link EchoClientError} whose message is the one line the CLI prints.
 *
 * ```ts
 * import { connectWithRetry, parseAddress } from "./connect.ts";
 * const addr = parseAddress("[::1]:9000"); // { host: "::1", port: 9000 }
 * const conn = await connectWithRetry(addr, { timeoutMs: 5000, waitMs: 0 });
 * conn.close();
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { UnexpectedEofError } from "../framing.ts";
import { formatHost } from "../net/address.ts";
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

/** Turns a socket error into a short cause ("connection refused", "unknown host"). */
export function describeNetworkError(err: unknown, host: string): string {
  if (err instanceof EchoClientError) return err.message;
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

/** Connects, retrying every {@link CONNECT_RETRY_INTERVAL_MS} until `waitMs` has passed. */
export async function connectWithRetry(
  addr: ServerAddress,
  options: { timeoutMs: number; waitMs: number },
): Promise<Deno.TcpConn> {
  const deadline = performance.now() + options.waitMs;
  for (;;) {
    try {
      return await connectOnce(addr, options.timeoutMs);
    } catch (err) {
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
    }
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
