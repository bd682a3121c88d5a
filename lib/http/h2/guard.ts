/**
 * The HTTP/2 defences that are counts, in one place: every frame kind that costs the
 * server work without moving a request forward is counted per connection in a window of
 * {@link FLOOD_WINDOW_MS}, and a peer over any budget is told ENHANCE_YOUR_CALM and
 * dropped — rapid reset (CVE-2023-44487), SETTINGS/PING/PRIORITY floods, empty-frame
 * floods. The byte and frame bounds of one header block (CONTINUATION flood,
 * CVE-2024-27316) are here too.
 *
 * ```ts
 * import { FloodGuard, MAX_CLIENT_RESETS_PER_WINDOW } from "./guard.ts";
 * const guard = new FloodGuard();
 * for (let i = 0; i < MAX_CLIENT_RESETS_PER_WINDOW; i++) guard.count("reset"); // fine
 * // one more would throw H2ConnectionError ENHANCE_YOUR_CALM
 * ```
 *
 * @module
 */
import { H2ConnectionError } from "./frames.ts";

/**
 * Counting window. Long on purpose: a real client resets or pings a handful of times a
 * minute, an attack thousands of times a second; a long window makes the verdict the same
 * however the frames are spread.
 */
export const FLOOD_WINDOW_MS = 10_000;
/**
 * Streams the client may reset (RST_STREAM), or open past the concurrency limit only to be
 * refused, per window. Each reset stream may have started
 * a handler: rapid reset is that, thousands of times a second (CVE-2023-44487). A browser
 * cancelling images as a page scrolls stays far below.
 */
export const MAX_CLIENT_RESETS_PER_WINDOW = 200;
/** SETTINGS, PING and PRIORITY frames per window: each asks for work (an ACK) or for nothing. */
export const MAX_CONTROL_FRAMES_PER_WINDOW = 1000;
/** DATA frames without data and without END_STREAM, and empty CONTINUATIONs, per window. */
export const MAX_EMPTY_FRAMES_PER_WINDOW = 100;
/**
 * Largest header block (HEADERS + CONTINUATION, compressed) held before it is decoded: a
 * CONTINUATION flood is cut here, not when memory runs out (CVE-2024-27316).
 */
export const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
/** Most CONTINUATION frames after one HEADERS (a real 64 KiB block needs 4 at 16 KiB). */
export const MAX_CONTINUATION_FRAMES = 16;
/**
 * Control frames (ACKs, RST_STREAM, WINDOW_UPDATE) queued but not yet written: a peer that
 * sends PINGs and never reads would otherwise grow this queue without end. Past it the
 * connection is closed — there is no point writing a GOAWAY nobody reads.
 */
export const MAX_PENDING_CONTROL_FRAMES = 1000;

/** What a {@link FloodGuard} counts. */
export type FloodKind = "reset" | "control" | "empty";

const LIMITS: Record<FloodKind, [number, string]> = {
  reset: [MAX_CLIENT_RESETS_PER_WINDOW, "streams reset by the client (rapid reset)"],
  control: [MAX_CONTROL_FRAMES_PER_WINDOW, "SETTINGS/PING/PRIORITY frames"],
  empty: [MAX_EMPTY_FRAMES_PER_WINDOW, "empty DATA/CONTINUATION frames"],
};

/** Per-connection counters over a fixed window; over a limit → ENHANCE_YOUR_CALM. */
export class FloodGuard {
  #windowStart: number;
  #counts: Record<FloodKind, number> = { reset: 0, control: 0, empty: 0 };

  constructor(now: number = Date.now()) {
    this.#windowStart = now;
  }

  /** Counts one event; throws {@link H2ConnectionError} when it is one over the budget. */
  count(kind: FloodKind, now: number = Date.now()): void {
    if (now - this.#windowStart >= FLOOD_WINDOW_MS) {
      this.#windowStart = now;
      this.#counts = { reset: 0, control: 0, empty: 0 };
    }
    const [limit, what] = LIMITS[kind];
    if (++this.#counts[kind] > limit) {
      throw new H2ConnectionError(
        "ENHANCE_YOUR_CALM",
        `more than ${limit} ${what} in ${FLOOD_WINDOW_MS / 1000} s`,
      );
    }
  }
}
