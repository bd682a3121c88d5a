/**
 * "Write a last answer, then linger": how a server closes a connection it is refusing
 * (HTTP's 408, 503, 400, 413) without losing the answer. Closing a socket that still has
 * unread input makes the kernel send RST, which can destroy the answer before the client
 * reads it; so the server half-closes, reads and drops input for a bounded time and
 * amount, then closes (nginx's lingering_close).
 *
 * ```ts
 * import { drainInput, lingeringClose, writeFinalAnswer } from "./linger.ts";
 * async function refuse(conn: Deno.Conn, answer: Uint8Array): Promise<void> {
 *   if (await writeFinalAnswer(conn, answer)) await drainInput(conn);
 *   conn.close();
 * }
 * console.log(typeof refuse, typeof lingeringClose);
 * ```
 *
 * @module
 */
import { writeAll } from "../framing.ts";

/** How long a refused connection's input is drained before the close. */
export const LINGER_MS = 2_000;
/** …or until this much has been discarded. */
export const LINGER_MAX_BYTES = 1024 * 1024;
/** Size of the throwaway buffer input is drained into. */
const DRAIN_BUFFER_BYTES = 16 * 1024;

/** Bounds of {@link drainInput}. */
export interface DrainLimits {
  /** Default {@link LINGER_MS}. */
  ms?: number;
  /** Default {@link LINGER_MAX_BYTES}. */
  maxBytes?: number;
  /** A read already pending on the connection: it is awaited first and counted. */
  pendingRead?: Promise<number | null>;
}

/** Closes `conn`, ignoring "already closed". */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * Writes `answer` whole, then half-closes (FIN) so the client sees its end. Resolves false
 * when the peer is already gone.
 */
export async function writeFinalAnswer(conn: Deno.Conn, answer: Uint8Array): Promise<boolean> {
  try {
    await writeAll(conn, answer);
    await conn.closeWrite();
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and drops input until EOF, the time limit or the byte limit. Never throws; the
 * socket is closed when the time runs out (that is what ends a pending read).
 */
export async function drainInput(conn: Deno.Conn, limits: DrainLimits = {}): Promise<void> {
  const maxBytes = limits.maxBytes ?? LINGER_MAX_BYTES;
  const timer = setTimeout(() => closeQuietly(conn), limits.ms ?? LINGER_MS);
  try {
    let total = 0;
    if (limits.pendingRead !== undefined) {
      const n = await limits.pendingRead;
      if (n === null) return;
      total += n;
    }
    const buf = new Uint8Array(DRAIN_BUFFER_BYTES);
    while (total < maxBytes) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
  } catch {
    /* closed by the timer, or reset */
  } finally {
    clearTimeout(timer);
  }
}

/** Half-closes, then {@link drainInput}: the close after an answer that must not be lost. */
export async function lingeringClose(conn: Deno.Conn, limits: DrainLimits = {}): Promise<void> {
  try {
    await conn.closeWrite();
  } catch {
    return;
  }
  await drainInput(conn, limits);
}
