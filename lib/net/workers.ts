/**
 * `--workers N` for every server: N isolates (Web Workers), each with its own listening
 * socket on the same port (`SO_REUSEPORT`, Linux), so the kernel spreads incoming
 * connections over every core. This module is the main thread's side — parsing the flag,
 * deciding whether reusePort is available, starting the workers with the server's resolved
 * config, printing their log lines and stopping them — and the message protocol both sides
 * speak. The worker's side is `worker_runtime.ts`; each subcommand has a tiny worker module
 * (`echo/worker.ts`, `http/server/worker.ts`) that hands it the server to build.
 *
 * ```ts
 * import { parseWorkers, WorkerPool, workerCountOrFallback } from "./workers.ts";
 * const count = workerCountOrFallback(parseWorkers("auto")); // 1 where no reusePort
 * const pool = new WorkerPool({
 *   count,
 *   host: "127.0.0.1",
 *   port: 0,
 *   config: { mode: "raw" },
 *   shutdownTimeoutMs: 5000,
 *   spawn: () => new Worker(new URL("../echo/worker.ts", import.meta.url), { type: "module" }),
 * });
 * console.log(typeof pool.start);
 * ```
 *
 * Why workers and not processes: one binary, one command line, and `deno compile` works
 * unchanged; each worker is a full V8 isolate with its own event loop, so nothing on the
 * hot path is shared or locked. What is per worker: caches, `--metrics` counters,
 * `--max-connections` (the limit applies to each worker).
 *
 * @module
 */
import { ConfigError, RuntimeFailure } from "../errors.ts";
import { writeStderrLine, writeStdoutLine } from "../log.ts";
import { formatHost } from "./address.ts";
import { ADDRESS_IN_USE } from "./listen.ts";

/**
 * Most workers `--workers` accepts. Each is a V8 isolate (~15–25 MiB before any
 * connection); beyond a few per core they only add memory and context switches.
 */
export const MAX_WORKERS = 256;
/**
 * After the shutdown timeout, a worker that has not reported "stopped" gets this much
 * longer before it is terminated (its own timer normally closes everything in time).
 */
export const WORKER_STOP_MARGIN_MS = 2_000;
/** How long the workers get to start and bind before the start counts as failed. */
export const WORKER_START_TIMEOUT_MS = 30_000;

/** Main → worker: run the server this config describes, on this port. */
export interface WorkerStartMessage {
  type: "start";
  /** 1-based; shows up in JSON logs as `worker`. */
  id: number;
  /** The port to bind (the first worker's real port when `--port 0`). */
  port: number;
  /** The server's config, resolved and validated once in the main thread (cloneable). */
  config: unknown;
}

/** Main → worker: stop gracefully (the server's own --shutdown-timeout applies). */
export interface WorkerShutdownMessage {
  type: "shutdown";
  signal: string;
}

/** Worker → main. */
export type WorkerReport =
  | { type: "listening"; hostname: string; port: number }
  | { type: "failed"; usage: boolean; code: string; message: string }
  /** Whole log lines (joined with "\n", no trailing newline) for stdout. */
  | { type: "stdout"; text: string }
  /** An uncaught error or rejection inside the worker: it is terminated. */
  | { type: "crashed"; message: string }
  | { type: "stopped" };

/** Parses `--workers`: a whole number 1..{@link MAX_WORKERS}, or `auto` (one per CPU). */
export function parseWorkers(value: string): number {
  if (value === "auto") return Math.max(1, Math.min(navigator.hardwareConcurrency, MAX_WORKERS));
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) {
    throw new ConfigError(
      `invalid --workers '${value}': expected a whole number from 1 to ${MAX_WORKERS}, or auto`,
    );
  }
  return Number(value);
}

/**
 * Why several workers cannot share a port here, or null when they can. Deno exits the
 * whole process (it cannot be caught) when `reusePort` is used without `--unstable-net`,
 * so the flag is detected up front: it is what makes `Deno.listenDatagram` exist.
 */
export function reusePortUnavailableReason(
  os: string = Deno.build.os,
  unstableNet: boolean = typeof (Deno as { listenDatagram?: unknown }).listenDatagram ===
    "function",
): string | null {
  // Elsewhere SO_REUSEPORT either does not exist or does not balance: the last socket
  // bound would get every connection.
  if (os !== "linux") return `sharing a port between workers needs Linux (this is ${os})`;
  if (!unstableNet) return "sharing a port between workers needs deno run --unstable-net";
  return null;
}

/** `requested`, or 1 with one line on `warn` saying why when reusePort is unavailable. */
export function workerCountOrFallback(
  requested: number,
  warn: (line: string) => void = writeStderrLine,
  reason: string | null = requested > 1 ? reusePortUnavailableReason() : null,
): number {
  if (requested <= 1 || reason === null) return requested;
  warn(`sockit: --workers ${requested}: ${reason}; serving with 1 worker`);
  return 1;
}

/** What {@link WorkerPool} starts. */
export interface WorkerPoolOptions {
  count: number;
  host: string;
  /** 0 = the first worker picks a free port, the others bind that one. */
  port: number;
  /** Handed to every worker as is (structured clone). */
  config: unknown;
  /** The subcommand's --shutdown-timeout, ms. */
  shutdownTimeoutMs: number;
  /** Where worker crash reports go; default stderr. */
  warn?: (line: string) => void;
  /** Where workers' log lines go; default stdout. */
  writeLine?: (text: string) => void;
  /**
   * Starts one worker. Written as `new Worker(new URL("./worker.ts", import.meta.url))` in
   * the subcommand's own module, so `deno compile` (scripts/compile.ts) finds and embeds it.
   */
  spawn: () => Worker;
}

interface RunningWorker {
  id: number;
  worker: Worker;
  state: "starting" | "listening" | "stopped" | "crashed";
  listening: PromiseWithResolvers<Deno.NetAddr>;
  ended: PromiseWithResolvers<void>;
}

/**
 * N workers serving one port. {@link start} resolves with the address once every worker
 * listens; {@link finished} resolves after {@link shutdown} when all have stopped, with
 * false if every worker crashed instead.
 */
export class WorkerPool {
  readonly options: WorkerPoolOptions;
  #workers: RunningWorker[] = [];
  #stopping = false;
  #warn: (line: string) => void;
  #writeLine: (text: string) => void;
  #allEnded = Promise.withResolvers<boolean>();
  #stopTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: WorkerPoolOptions) {
    this.options = options;
    this.#warn = options.warn ?? writeStderrLine;
    this.#writeLine = options.writeLine ?? writeStdoutLine;
  }

  /** Resolves true when every worker stopped after a shutdown, false when all crashed. */
  get finished(): Promise<boolean> {
    return this.#allEnded.promise;
  }

  /**
   * Starts worker 1, waits until it listens (so `--port 0` is resolved), then the rest on
   * the same port. A failure to bind ends everything and rethrows the worker's error as
   * the same ConfigError / RuntimeFailure the single-worker path would throw.
   */
  async start(): Promise<Deno.NetAddr> {
    const { count, host } = this.options;
    this.#refuseSharedPort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RuntimeFailure(
              "WORKER_START",
              `workers did not start within ${WORKER_START_TIMEOUT_MS / 1000} s`,
            ),
          ),
        WORKER_START_TIMEOUT_MS,
      );
    });
    try {
      const first = await Promise.race([this.#launch(1, this.options.port), timeout]);
      const others = [];
      for (let id = 2; id <= count; id++) others.push(this.#launch(id, first.port));
      await Promise.race([Promise.all(others), timeout]);
      return { transport: "tcp", hostname: first.hostname || host, port: first.port };
    } catch (err) {
      this.#terminateAll();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * SO_REUSEPORT lets any other process of this user that also sets it share the port
   * silently (another `sockit --workers`). A plain bind first turns that into the usual
   * "address already in use". Other probe errors are left for worker 1 to report in the
   * server's own words.
   */
  #refuseSharedPort(): void {
    const { host, port } = this.options;
    if (port === 0) return;
    try {
      Deno.listen({ hostname: host, port, transport: "tcp" }).close();
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        throw new RuntimeFailure(
          "LISTEN_FAILED",
          `cannot listen on ${formatHost(host)}:${port}: ${ADDRESS_IN_USE}`,
        );
      }
    }
  }

  #launch(id: number, port: number): Promise<Deno.NetAddr> {
    const w: RunningWorker = {
      id,
      worker: this.options.spawn(),
      state: "starting",
      listening: Promise.withResolvers<Deno.NetAddr>(),
      ended: Promise.withResolvers<void>(),
    };
    this.#workers.push(w);
    w.worker.onmessage = (event: MessageEvent<WorkerReport>) => this.#onReport(w, event.data);
    w.worker.onerror = (event: ErrorEvent) => {
      // Handled here: unhandled, a worker's error would take the main thread down too.
      event.preventDefault();
      this.#onCrash(w, event.message || String(event.error));
    };
    w.worker.onmessageerror = () => this.#onCrash(w, "sent a message that could not be read");
    const start: WorkerStartMessage = { type: "start", id, port, config: this.options.config };
    w.worker.postMessage(start);
    return w.listening.promise;
  }

  #onReport(w: RunningWorker, report: WorkerReport): void {
    switch (report.type) {
      case "stdout":
        this.#writeLine(report.text);
        break;
      case "listening":
        w.state = "listening";
        w.listening.resolve({ transport: "tcp", hostname: report.hostname, port: report.port });
        break;
      case "failed":
        w.state = "crashed";
        w.listening.reject(
          report.usage
            ? new ConfigError(report.message)
            : new RuntimeFailure(report.code, report.message),
        );
        this.#end(w);
        break;
      case "stopped":
        w.state = "stopped";
        this.#end(w);
        break;
      case "crashed":
        this.#onCrash(w, report.message);
        break;
    }
  }

  #onCrash(w: RunningWorker, why: string): void {
    if (w.state === "stopped" || w.state === "crashed") return;
    const wasListening = w.state === "listening";
    w.state = "crashed";
    if (!wasListening) {
      w.listening.reject(
        new RuntimeFailure("WORKER_CRASHED", `worker ${w.id} failed to start: ${why}`),
      );
    } else {
      this.#warn(`sockit: worker ${w.id} crashed: ${why}`);
    }
    this.#end(w);
  }

  #end(w: RunningWorker): void {
    w.worker.terminate();
    w.ended.resolve();
    if (this.#workers.every((x) => x.state === "stopped" || x.state === "crashed")) {
      clearTimeout(this.#stopTimer);
      this.#allEnded.resolve(this.#workers.some((x) => x.state === "stopped"));
    }
  }

  /** Asks every worker to stop gracefully; stragglers are terminated after the timeout. */
  shutdown(signal: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    const message: WorkerShutdownMessage = { type: "shutdown", signal };
    for (const w of this.#workers) {
      if (w.state === "listening" || w.state === "starting") w.worker.postMessage(message);
    }
    this.#stopTimer = setTimeout(() => {
      for (const w of this.#workers) {
        if (w.state === "listening" || w.state === "starting") {
          this.#warn(`sockit: worker ${w.id} did not stop in time; terminated`);
          w.state = "stopped";
          this.#end(w);
        }
      }
    }, this.options.shutdownTimeoutMs + WORKER_STOP_MARGIN_MS);
  }

  #terminateAll(): void {
    for (const w of this.#workers) {
      if (w.state === "listening" || w.state === "starting") {
        w.state = "stopped";
        w.worker.terminate();
      }
    }
  }
}
