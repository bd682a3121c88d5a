/**
 * "Log it once, not per event": a clock that lets one line through per interval and
 * counts the events it held back, so the next line can say how many there were.
 *
 * ```ts
 * import { LogThrottle } from "./log_throttle.ts";
 * const throttle = new LogThrottle(1000);
 * for (let i = 0; i < 50; i++) {
 *   if (throttle.due()) console.log(`refused (${throttle.takeSuppressed()} more since last)`);
 * }
 * ```
 *
 * @module
 */

/** One line per `intervalMs`; the events in between are counted. */
export class LogThrottle {
  readonly intervalMs: number;
  #now: () => number;
  #lastMs = -Infinity;
  #suppressed = 0;

  constructor(intervalMs: number, now: () => number = () => performance.now()) {
    this.intervalMs = intervalMs;
    this.#now = now;
  }

  /** Records one event; true when it should be logged (then read {@link takeSuppressed}). */
  due(): boolean {
    const now = this.#now();
    if (now - this.#lastMs >= this.intervalMs) {
      this.#lastMs = now;
      return true;
    }
    this.#suppressed++;
    return false;
  }

  /** Events held back since the last logged one; resets the count. */
  takeSuppressed(): number {
    const n = this.#suppressed;
    this.#suppressed = 0;
    return n;
  }
}
