/**
 * The clock of an HTTP/2 connection as the server's connection tracker reads it (one sweep
 * timer for every connection, HTTP/1.1 and HTTP/2 alike): the phase follows what the
 * connection waits for, so the same `--keep-alive-timeout`, `--body-timeout` and
 * `--write-timeout` apply. A write or a window wait that makes no progress is "write" — a
 * client that never opens its flow-control window is dropped like one that never reads.
 *
 * ```ts
 * import { H2ClockKeeper } from "./clock.ts";
 * const clock = { phase: "keep-alive" as const, since: 0 };
 * const keeper = new H2ClockKeeper(clock, () => ({ streams: 1, tasks: 1, closing: false }));
 * keeper.windowWaits++;
 * keeper.tick();
 * console.log(clock.phase); // "write"
 * ```
 *
 * @module
 */

/** The tracker's view of a connection (a `ConnectionSlot` is one). */
export interface H2Clock {
  phase: "keep-alive" | "head" | "body" | "busy" | "write";
  since: number;
}

/** What the connection is doing, counted; the phase is derived from it. */
export interface H2ClockState {
  /** Streams in the table. */
  streams: number;
  /** Handlers still running. */
  tasks: number;
  /** GOAWAY sent or received. */
  closing: boolean;
}

/** Keeps an {@link H2Clock} in step with the connection. */
export class H2ClockKeeper {
  /** A socket write is under way. */
  writerBusy = false;
  /** Response writers waiting for window. */
  windowWaits = 0;
  /** Handlers waiting for request DATA. */
  bodyWaits = 0;

  constructor(readonly clock: H2Clock, readonly state: () => H2ClockState) {}

  /** Recomputes the phase; `progress`: something moved, so its clock starts over. */
  tick(progress = false): void {
    const { streams, tasks, closing } = this.state();
    const phase: H2Clock["phase"] = this.writerBusy || this.windowWaits > 0 || closing
      ? "write"
      : streams === 0
      ? "keep-alive"
      : this.bodyWaits > 0 && this.bodyWaits >= tasks
      ? "body"
      : "busy";
    if (phase !== this.clock.phase || progress) {
      this.clock.phase = phase;
      this.clock.since = Date.now();
    }
  }
}
