/**
 * HTTP/2 send windows (RFC 9113 §5.2, §6.9): how many DATA bytes we may still send on a
 * stream or the connection. A response writer waits here until both windows have room;
 * WINDOW_UPDATE and a changed SETTINGS_INITIAL_WINDOW_SIZE add to them, and a window
 * pushed past 2^31-1 is a FLOW_CONTROL_ERROR.
 *
 * ```ts
 * import { SendWindow } from "./flow.ts";
 * const w = new SendWindow(65_535);
 * w.consume(65_535);
 * w.grow(10);
 * console.log(w.size); // 10
 * ```
 *
 * @module
 */
import { MAX_WINDOW_SIZE } from "./frames.ts";

/** A send window; {@link whenOpen} resolves once it is positive (or it is abandoned). */
export class SendWindow {
  #size: number;
  #waiters: (() => void)[] = [];

  constructor(initial: number) {
    this.#size = initial;
  }

  /** Bytes that may be sent now (negative after a SETTINGS shrink, §6.9.2). */
  get size(): number {
    return this.#size;
  }

  /** Spends `n` bytes of the window. */
  consume(n: number): void {
    this.#size -= n;
  }

  /**
   * Adds `delta` (a WINDOW_UPDATE, or a SETTINGS change: may be negative). Returns false
   * when the window would pass 2^31-1: the caller answers FLOW_CONTROL_ERROR.
   */
  grow(delta: number): boolean {
    if (this.#size + delta > MAX_WINDOW_SIZE) return false;
    this.#size += delta;
    if (this.#size > 0) this.#wake();
    return true;
  }

  /** Resolves when the window is positive, or at once when it already is. */
  whenOpen(): Promise<void> {
    if (this.#size > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes every waiter (the stream or connection is going away; they check why). */
  abandon(): void {
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
