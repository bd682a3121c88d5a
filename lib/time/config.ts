/**
 * `sockit time-server`'s settings: the flags as the CLI hands them over, and the pure
 * resolver that validates them into the one config the server (and every `--workers`
 * worker) runs from.
 *
 * ```ts
 * import { resolveTimeServerConfig } from "./config.ts";
 * const config = resolveTimeServerConfig({ port: 0, format: "unix", udp: true });
 * console.log(config.format, config.udp); // "unix" true
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { isTimeFormat, TIME_FORMATS, type TimeFormat } from "./format.ts";

/** Default `--shutdown-timeout`, seconds: how long answers in flight get to finish. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 5;

/** Options as commander hands them over (see main.ts). */
export interface TimeServerFlags {
  host?: string;
  port?: number;
  /** --format: iso (default), rfc2822 or unix. */
  format?: string;
  /** --udp: answer datagrams instead of TCP connections. */
  udp?: boolean;
  quiet?: boolean;
  json?: boolean;
  maxConnections?: number;
  shutdownTimeout?: number;
  /** --workers: isolates sharing the port (parseWorkers; 1 = this thread only). */
  workers?: number;
}

/** Validated server configuration. */
export interface TimeServerConfig {
  host: string;
  port: number;
  format: TimeFormat;
  /** Serve RFC 867's UDP variant (one answer per datagram) instead of TCP. */
  udp: boolean;
  /** No line per answer (TCP connections are still logged). */
  quiet: boolean;
  json: boolean;
  /** Open TCP connections allowed at once; 0 = unlimited. */
  maxConnections: number;
  shutdownTimeoutMs: number;
  /** Isolates asked for (`--workers`); where port sharing is unavailable, 1 serves instead. */
  workers: number;
}

/** Pure: flags → the one validated config; throws {@link ConfigError} naming the problem. */
export function resolveTimeServerConfig(flags: TimeServerFlags): TimeServerConfig {
  const format = flags.format ?? TIME_FORMATS[0];
  if (!isTimeFormat(format)) {
    throw new ConfigError(`invalid --format '${format}': expected ${TIME_FORMATS.join(", ")}`);
  }
  const udp = flags.udp ?? false;
  if (udp && flags.maxConnections !== undefined) {
    throw new ConfigError("--max-connections is for TCP; with --udp there are no connections");
  }
  return {
    host: flags.host ?? "0.0.0.0",
    port: flags.port ?? 8000,
    format,
    udp,
    quiet: flags.quiet ?? false,
    json: flags.json ?? false,
    maxConnections: flags.maxConnections ?? 0,
    shutdownTimeoutMs: (flags.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS) * 1000,
    workers: flags.workers ?? 1,
  };
}
