/**
 * The clocks of HTTP/1.1 connections: keep-alive (waiting for the next request), header
 * (a head that has begun must complete), body (a body read that makes no progress) and
 * write (a client that reads nothing of a response). One sweep timer for every connection
 * of a server, no timer per request. A header or body timeout is answered 408 (RFC 9110
 * §15.5.9); a keep-alive or write timeout closes silently.
 *
 * ```ts
 * import { ConnectionTracker } from "./timeouts.ts";
 * const tracker = new ConnectionTracker({ keepAliveTimeoutMs: 5_000, headerTimeoutMs: 10_000 });
 * console.log(tracker.size); // 0
 * ```
 *
 * @module
 */
import { closeQuietly, LINGER_MS, writeFinalAnswer } from "../../net/linger.ts";
import { textResponse } from "../errors.ts";
import { encodeClosingResponse } from "./response.ts";

/**
 * Close a keep-alive connection idle this long between requests (Node's default). Also
 * bounds a fresh connection that never sends a byte. Silent close: there is no request.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * A request head must be complete this long after its first byte, or the client gets 408
 * and the connection is closed. A total, not a per-read, limit: a slowloris client sending
 * one byte a second makes progress forever (nginx's client_header_timeout, Node's
 * headersTimeout — both 60 s; shorter here because a static server's heads are small).
 */
export const HEADER_TIMEOUT_MS = 10_000;

/**
 * A request body that delivers no byte for this long → 408 and close (nginx's
 * client_body_timeout: between two reads, so a slow but steady upload is fine).
 */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * A response write that makes no progress for this long (the client stopped reading) →
 * the connection is closed and its buffers and open file freed (nginx's send_timeout).
 */
export const WRITE_TIMEOUT_MS = 30_000;

/** How often connection clocks are checked; every timeout is exact to within this. */
export const TIMEOUT_SWEEP_INTERVAL_MS = 250;

/** What a connection is doing; each phase with a clock has its own timeout. */
export type ConnectionPhase =
  /** Waiting for the first byte of a request head (keep-alive timeout). */
  | "keep-alive"
  /** Reading a request head that has begun (header timeout). */
  | "head"
  /** Waiting for request body bytes (body timeout, per read). */
  | "body"
  /** Handler running or reading a file: no clock. */
  | "busy"
  /** A response write is pending (write timeout, per write). */
  | "write";

/** Which clock ran out. */
export type TimeoutKind = "keep-alive" | "header" | "body" | "write";

/** Bookkeeping the tracker keeps per connection. */
export interface ConnectionSlot {
  conn: Deno.Conn;
  phase: ConnectionPhase;
  /** Epoch ms when the current phase began (or last made progress). */
  since: number;
  /** Set when a clock ran out; the connection is then being closed. */
  timedOut: TimeoutKind | null;
  /** Closes the socket after the 408 was sent and the client had time to read it. */
  closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The 408 being written after a header or body timeout. */
  answered: Promise<void> | undefined;
  /** Body bytes of the response being written that have reached the socket so far. */
  bodyBytesSent: number;
  /**
   * Answers a keep-alive, header or body timeout instead of the silent close or the
   * HTTP/1.1 408 (an HTTP/2 connection sends GOAWAY and closes itself).
   */
  answerTimeout?: (kind: TimeoutKind) => Promise<void>;
}

/** Timeouts of a {@link ConnectionTracker} in ms; 0 = never. */
export interface ConnectionTimeouts {
  /** Default {@link KEEP_ALIVE_TIMEOUT_MS}. */
  keepAliveTimeoutMs?: number;
  /** Default {@link HEADER_TIMEOUT_MS}. */
  headerTimeoutMs?: number;
  /** Default {@link BODY_TIMEOUT_MS}. */
  bodyTimeoutMs?: number;
  /** Default {@link WRITE_TIMEOUT_MS}. */
  writeTimeoutMs?: number;
  /** Called when a header, body or write clock ran out (not for keep-alive: that is normal). */
  onTimeout?: (conn: Deno.Conn, kind: TimeoutKind, afterMs: number) => void;
}

/**
 * All open connections of a server: runs their clocks (keep-alive, header, body, write —
 * one sweep timer for all, no timer per request) and on shutdown closes idle ones at once
 * and lets busy ones finish their current response.
 */
export class ConnectionTracker {
  readonly keepAliveTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly writeTimeoutMs: number;
  #onTimeout: ConnectionTimeouts["onTimeout"];
  #slots = new Set<ConnectionSlot>();
  #closing = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drained: (() => void) | null = null;

  constructor(options: ConnectionTimeouts = {}) {
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
    this.headerTimeoutMs = options.headerTimeoutMs ?? HEADER_TIMEOUT_MS;
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? BODY_TIMEOUT_MS;
    this.writeTimeoutMs = options.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    this.#onTimeout = options.onTimeout;
  }

  /** True once {@link shutdown} was called: responses then carry Connection: close. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Number of open connections. */
  get size(): number {
    return this.#slots.size;
  }

  add(conn: Deno.Conn): ConnectionSlot {
    const slot: ConnectionSlot = {
      conn,
      phase: "keep-alive",
      since: Date.now(),
      timedOut: null,
      closeTimer: undefined,
      answered: undefined,
      bodyBytesSent: 0,
    };
    this.#slots.add(slot);
    const anyClock = this.keepAliveTimeoutMs > 0 || this.headerTimeoutMs > 0 ||
      this.bodyTimeoutMs > 0 || this.writeTimeoutMs > 0;
    if (this.#timer === undefined && anyClock) {
      const timer = setInterval(() => this.#sweep(), TIMEOUT_SWEEP_INTERVAL_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return slot;
  }

  remove(slot: ConnectionSlot): void {
    clearTimeout(slot.closeTimer);
    this.#slots.delete(slot);
    if (this.#slots.size === 0) {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#drained?.();
    }
  }

  #limitOf(phase: ConnectionPhase): number {
    switch (phase) {
      case "keep-alive":
        return this.keepAliveTimeoutMs;
      case "head":
        return this.headerTimeoutMs;
      case "body":
        return this.bodyTimeoutMs;
      case "write":
        return this.writeTimeoutMs;
      default:
        return 0;
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const slot of this.#slots) {
      if (slot.timedOut !== null) continue;
      const limit = this.#limitOf(slot.phase);
      if (limit <= 0 || now - slot.since < limit) continue;
      const phase = slot.phase;
      if (phase === "keep-alive") {
        slot.timedOut = "keep-alive";
        if (slot.answerTimeout === undefined) closeQuietly(slot.conn);
        else slot.answered = slot.answerTimeout("keep-alive");
        continue;
      }
      const kind: TimeoutKind = phase === "head" ? "header" : phase === "body" ? "body" : "write";
      slot.timedOut = kind;
      this.#onTimeout?.(slot.conn, kind, now - slot.since);
      if (kind === "write") {
        // The pending write rejects; the connection loop frees everything it holds.
        closeQuietly(slot.conn);
      } else {
        slot.answered = slot.answerTimeout?.(kind) ?? this.#answerTimeout(slot);
      }
    }
  }

  /**
   * 408 for a request that did not arrive in time (RFC 9110 §15.5.9). Written from here,
   * alongside the connection loop's pending read (which keeps draining input, so the close
   * below is not turned into a reset that destroys the 408); the loop writes nothing once
   * `timedOut` is set.
   */
  async #answerTimeout(slot: ConnectionSlot): Promise<void> {
    slot.closeTimer = setTimeout(() => closeQuietly(slot.conn), LINGER_MS);
    const answer = encodeClosingResponse(textResponse(408, "request not received in time"));
    if (!(await writeFinalAnswer(slot.conn, answer))) closeQuietly(slot.conn);
  }

  /** Stops keep-alive; closes connections waiting for a request or still sending a head. */
  beginShutdown(): void {
    this.#closing = true;
    for (const slot of this.#slots) {
      if (slot.phase === "keep-alive" || slot.phase === "head") closeQuietly(slot.conn);
    }
  }

  /** Closes every connection, busy or not (the shutdown timeout ran out). */
  closeAll(): void {
    for (const slot of this.#slots) closeQuietly(slot.conn);
  }

  /**
   * {@link beginShutdown}, then lets the others finish their response; after `ms`
   * {@link closeAll}. Resolves true if all finished in time, false if some had to be cut.
   * (A server on the shared core gets the same from `TcpServer.shutdown`.)
   */
  shutdown(ms: number): Promise<boolean> {
    this.beginShutdown();
    if (this.#slots.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.closeAll();
        resolve(false);
      }, ms);
      this.#drained = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
