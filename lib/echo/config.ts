/**
 * `sockit echo-server`'s settings: the flags as the CLI hands them over, and the pure
 * resolver that validates them into the one config the server (and every `--workers`
 * worker) runs from.
 *
 * ```ts
 * import { resolveEchoServerConfig } from "./config.ts";
 * const config = resolveEchoServerConfig({ port: 0, mode: "line", reply: "Yes" });
 * console.log(config.maxMessageBytes); // 65536: the line-mode default
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LINE_BYTES,
  MAX_FRAME_PREFIX_VALUE,
} from "../framing.ts";

/** Default `--idle-timeout`, seconds. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;
/** Default `--shutdown-timeout`, seconds: how long in-flight exchanges get to finish. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 5;

/** What one message is. */
export type EchoMode = "raw" | "line" | "length";

/** Options as commander hands them over (see main.ts). */
export interface EchoServerFlags {
  host?: string;
  port?: number;
  mode?: string;
  reply?: string;
  maxFrame?: number;
  idleTimeout?: number;
  quiet?: boolean;
  json?: boolean;
  maxConnections?: number;
  shutdownTimeout?: number;
  /** --workers: isolates sharing the port (parseWorkers; 1 = this thread only). */
  workers?: number;
}

/** Validated server configuration. */
export interface EchoServerConfig {
  host: string;
  port: number;
  mode: EchoMode;
  /** Bytes sent instead of the echo (line mode appends the request's line ending). */
  reply: Uint8Array | null;
  /** Largest line (terminator included) or frame payload; unused in raw mode. */
  maxMessageBytes: number;
  /** Milliseconds without traffic before a connection is closed; 0 = never. */
  idleTimeoutMs: number;
  quiet: boolean;
  json: boolean;
  /** Open connections allowed at once; 0 = unlimited. */
  maxConnections: number;
  shutdownTimeoutMs: number;
  /** Isolates asked for (`--workers`); where reusePort is unavailable, 1 serves instead. */
  workers: number;
}

/** Pure: flags → the one validated config; throws {@link ConfigError} naming the problem. */
export function resolveEchoServerConfig(flags: EchoServerFlags): EchoServerConfig {
  const mode = (flags.mode ?? "raw") as EchoMode;
  if (!["raw", "line", "length"].includes(mode)) {
    throw new ConfigError(`invalid --mode '${mode}': expected raw, line or length`);
  }
  if (mode === "raw" && flags.reply !== undefined) {
    throw new ConfigError("--reply needs --mode line or --mode length (raw mode echoes bytes)");
  }
  if (mode === "raw" && flags.maxFrame !== undefined) {
    throw new ConfigError("--max-frame needs --mode line or --mode length (raw mode has none)");
  }
  const maxMessageBytes = flags.maxFrame ??
    (mode === "line" ? DEFAULT_MAX_LINE_BYTES : DEFAULT_MAX_FRAME_BYTES);
  if (maxMessageBytes < 1 || (mode === "length" && maxMessageBytes > MAX_FRAME_PREFIX_VALUE)) {
    throw new ConfigError(
      `invalid --max-frame '${maxMessageBytes}': expected 1 to ${MAX_FRAME_PREFIX_VALUE} bytes`,
    );
  }
  return {
    host: flags.host ?? "0.0.0.0",
    port: flags.port ?? 8000,
    mode,
    reply: flags.reply === undefined ? null : new TextEncoder().encode(flags.reply),
    maxMessageBytes,
    idleTimeoutMs: (flags.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_SECONDS) * 1000,
    quiet: flags.quiet ?? false,
    json: flags.json ?? false,
    maxConnections: flags.maxConnections ?? 0,
    shutdownTimeoutMs: (flags.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS) * 1000,
    workers: flags.workers ?? 1,
  };
}
