/**
 * `sockit echo-client`'s flags as the CLI hands them over, its framings, and the limits all
 * of its modes (TCP exchanges, UDP, load) share.
 *
 * ```ts
 * import type { EchoClientFlags } from "./client_flags.ts";
 * const flags: EchoClientFlags = { mode: "raw", expect: "Yes", timeout: 5 };
 * console.log(flags.mode);
 * ```
 *
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES } from "../framing.ts";
import type { ClientTlsFlags } from "./connect.ts";

/** Largest reply (line or frame) the client accepts, and the longest stdin line. */
export const MAX_REPLY_BYTES = DEFAULT_MAX_FRAME_BYTES;

/** Read buffer for replies; grows for big replies. */
export const CLIENT_READ_BUFFER_BYTES = 64 * 1024;

/** Options as commander hands them over (see main.ts). */
/** Includes the TLS flags (`--tls`, `--ca`, `--insecure`, `--fingerprint`: connect.ts). */
export interface EchoClientFlags extends ClientTlsFlags {
  mode?: string;
  count?: number;
  interval?: number;
  timeout?: number;
  wait?: number;
  expect?: string;
  json?: boolean;
  /** --udp: datagrams instead of a TCP connection. */
  udp?: boolean;
  /** Load mode: connections held open at once. */
  connections?: number;
  /** Load mode: seconds to run. */
  duration?: number;
  /** Load mode: messages per second per connection. */
  rate?: number;
  /** Load mode: payload bytes per message. */
  size?: number;
}

/** echo-client's framings (see --mode). */
export type Mode = "raw" | "line" | "length";
