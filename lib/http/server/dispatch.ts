/**
 * Which HTTP a connection speaks, decided before either transport sees it: over TLS the
 * ALPN answer of the handshake ("h2" or "http/1.1"); on the plain port the first bytes —
 * the 24-byte HTTP/2 preface ("PRI * HTTP/2.0…", RFC 9113 §3.3, prior knowledge) or
 * anything else, which goes to HTTP/1.1 with the bytes already read. The sniff stops at
 * the first byte that differs from the preface, so an HTTP/1.1 request is never held.
 *
 * ```ts
 * import { BufferedReader, equalBytes } from "../../framing.ts";
 * import { startsWithH2Preface } from "./dispatch.ts";
 * declare const conn: Deno.Conn;
 * const h2 = await startsWithH2Preface(new BufferedReader(conn));
 * console.log(h2 ? "h2c" : "http/1.1");
 * ```
 *
 * @module
 */
import { BufferedReader, equalBytes } from "../../framing.ts";
import { closeQuietly } from "../../net/linger.ts";
import type { Handler } from "../handler.ts";
import {
  type ConnectionOptions,
  HEAD_READ_BUFFER_BYTES,
  serveConnection,
} from "../h1/connection.ts";
import type { ConnectionTracker } from "../h1/timeouts.ts";
import type { H2Connection, H2ConnectionOptions } from "../h2/connection.ts";
import { CLIENT_PREFACE, encodeGoaway, encodeSettings } from "../h2/frames.ts";

/** ALPN protocols a TLS listener offers with HTTP/2 on, preferred first. */
export const ALPN_PROTOCOLS: readonly string[] = ["h2", "http/1.1"];

/**
 * True when the buffered input begins with the whole HTTP/2 preface; reads only while
 * what arrived still matches it (false at the first other byte, or at end of stream).
 */
export async function startsWithH2Preface(reader: BufferedReader): Promise<boolean> {
  for (;;) {
    const got = reader.peekBuffered();
    const n = Math.min(got.length, CLIENT_PREFACE.length);
    for (let i = 0; i < n; i++) if (got[i] !== CLIENT_PREFACE[i]) return false;
    if (n === CLIENT_PREFACE.length) return true;
    if (!(await reader.fill(CLIENT_PREFACE.length))) return false;
  }
}

/**
 * The refusal over `--max-connections` for an HTTP/2 client: our SETTINGS, then GOAWAY with
 * last stream 0 (nothing was processed, so the client may retry) and REFUSED_STREAM.
 */
export const H2_OVER_CAPACITY_ANSWER: Uint8Array = new Uint8Array([
  ...encodeSettings([]),
  ...encodeGoaway(0, "REFUSED_STREAM", "too many connections, retry shortly"),
]);

/**
 * Whether a connection whose first bytes are `first` speaks HTTP/2: ALPN "h2" over TLS
 * (the handshake is over once bytes arrived), else the start of the preface.
 */
export async function speaksHttp2(conn: Deno.Conn, first: Uint8Array): Promise<boolean> {
  if ("handshake" in conn) return (await (conn as Deno.TlsConn).handshake()).alpnProtocol === "h2";
  const n = Math.min(first.length, CLIENT_PREFACE.length);
  // "PRI " at least: one "P" could as well start PUT or POST.
  return n >= 4 && equalBytes(first.subarray(0, n), CLIENT_PREFACE.subarray(0, n));
}

/** What {@link serveHttpConnection} needs from its server. */
export interface DispatchOptions {
  tracker: ConnectionTracker;
  handler: Handler;
  h1: ConnectionOptions;
  /** Absent: HTTP/2 off (`--no-http2`). */
  h2?: Omit<H2ConnectionOptions, "clock">;
  /** HTTP/2 connections being served, so shutdown can send each its GOAWAY. */
  h2Connections: Set<H2Connection>;
}

/** Serves one accepted connection with the HTTP it speaks; never throws, always closes. */
export async function serveHttpConnection(
  conn: Deno.Conn,
  options: DispatchOptions,
): Promise<void> {
  const { tracker, handler } = options;
  // The keep-alive clock runs from here: a client that never finishes its TLS handshake
  // or never sends a byte is closed like one idle between requests.
  const slot = tracker.add(conn);
  const reader = new BufferedReader(conn, { initialBufferBytes: HEAD_READ_BUFFER_BYTES });
  let h2 = false;
  try {
    if (options.h2 !== undefined) {
      if ("handshake" in conn) {
        const info = await (conn as Deno.TlsConn).handshake();
        h2 = info.alpnProtocol === "h2";
      } else {
        h2 = await startsWithH2Preface(reader);
      }
    }
  } catch {
    closeQuietly(conn); // the handshake failed, the peer reset, or the idle clock ran out
    tracker.remove(slot);
    return;
  }
  if (!h2 || slot.timedOut !== null) {
    return serveConnection(conn, handler, options.h1, { reader, slot });
  }
  // The HTTP/2 layer is loaded by the first client that speaks it: a server only ever
  // asked for HTTP/1.1 does not hold its modules (start-up time and idle memory).
  const { H2Connection } = await import("../h2/connection.ts");
  const h2conn = new H2Connection(conn, reader, handler, { ...options.h2, clock: slot });
  slot.answerTimeout = (kind) => h2conn.answerTimeout(kind);
  options.h2Connections.add(h2conn);
  try {
    await h2conn.serve();
  } finally {
    options.h2Connections.delete(h2conn);
    tracker.remove(slot);
  }
}
