/**
 * `--workers N` for http-serve and echo-server: N isolates (Web Workers), each with its own
 * listening socket on the same port (`SO_REUSEPORT`, Linux), so the kernel spreads incoming
 * connections over every core. This module is the main thread's side — parsing the flag,
 * deciding whether reusePort is available, starting the workers, printing their log lines
 * and stopping them on SIGINT/SIGTERM — and the message protocol both sides speak. The
 * worker's side is `worker_entry.ts`.
 *
 * ```ts
 * const count = workerCountOrFallback(parseWorkers("auto"), warn); // 1 where no reusePort
 * await runWorkerPool(
 *   { kind: "echo-server", count, host: "127.0.0.1", port: 0, args: { flags } },
 *   (addr) => console.log(`listening on ${addr.port}`),
 * );
 * ```
 *
 * Why workers and not processes: one binary, one command line, and `deno compile` works
 * unchanged; each worker is a full V8 isolate with its own event loop, so nothing on the
 * hot path is shared or locked. What is per worker: caches, `--metrics` counters,
 * `--max-connections` (the limit applies to each worker).
 *
 * @module
 */
import { CliFailure, formatHost, onShutdownSignal, UsageError } from "../cli.ts";
import { writeStdoutLine } from "../log.ts";

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

/** Which server a worker runs. */
export type WorkerKind = "http-serve" | "echo-server";

/** Main → worker: run this server on this port. */
export interface WorkerStartMessage {
  type: "start";
  kind: WorkerKind;
  /** 1-based; shows up in JSON logs as `worker`. */
  id: number;
  /** The port to bind (the first worker's real port when `--port 0`). */
  port: number;
  /** The subcommand's arguments (flags, DIR), structured-cloneable. */
  args: WorkerArgs;
}

/** The subcommand's arguments as handed to each worker. */
export interface WorkerArgs {
  /** http-serve's DIR. */
  dir?: string;
  /** The subcommand's flags as commander produced them. */
  flags: Record<string, unknown>;
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
    throw new UsageError(
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
  warn: (line: string) => void = (line) => console.error(line),
  reason: string | null = requested > 1 ? reusePortUnavailableReason() : null,
): number {
  if (requested <= 1 || reason === null) return requested;
  warn(`sockit: --workers ${requested}: ${reason}; serving with 1 worker`);
  return 1;
}

/** What {@link runWorkerPool} starts. */
export interface WorkerPoolOptions {
  kind: WorkerKind;
  count: number;
  host: string;
  /** 0 = the first worker picks a free port, the others bind that one. */
  port: number;
  args: WorkerArgs;
  /** The subcommand's --shutdown-timeout, ms. */
  shutdownTimeoutMs: number;
  /** Where worker crash reports go; default stderr. */
  warn?: (line: string) => void;
  /** Where workers' log lines go; default stdout. */
  writeLine?: (text: string) => void;
  /** Another worker module speaking the same messages (tests); default worker_entry.ts. */
  workerModule?: URL;
}

interface RunningWorker {
  id: number;
  worker: Worker;
  state: "starting" | "listening" | "stopped" | "crashed";
  listening: PromiseWithResolvers<Deno.NetAddr>;
  ended: PromiseWithResolvers<void>;
}

/** The worker module; a literal URL so `deno compile --include` and the graph can find it. */
function spawnWorker(module?: URL): Worker {
  if (module !== undefined) return new Worker(module, { type: "module" });
  return new Worker(new URL("./worker_entry.ts", import.meta.url), { type: "module" });
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
    this.#warn = options.warn ?? ((line) => console.error(line));
    this.#writeLine = options.writeLine ?? writeStdoutLine;
  }

  /** Resolves true when every worker stopped after a shutdown, false when all crashed. */
  get finished(): Promise<boolean> {
    return this.#allEnded.promise;
  }

  /**
   * Starts worker 1, waits until it listens (so `--port 0` is resolved), then the rest on
   * the same port. A failure to bind ends everything and rethrows the worker's error as
   * the same UsageError / CliFailure the single-worker path would throw.
   */
  async start(): Promise<Deno.NetAddr> {
    const { count, host } = this.options;
    this.#refuseSharedPort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new CliFailure(
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
        throw new CliFailure(
          "LISTEN_FAILED",
          `cannot listen on ${formatHost(host)}:${port}: address already in use`,
        );
      }
    }
  }

  #launch(id: number, port: number): Promise<Deno.NetAddr> {
    const w: RunningWorker = {
      id,
      worker: spawnWorker(this.options.workerModule),
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
    const start: WorkerStartMessage = {
      type: "start",
      kind: this.options.kind,
      id,
      port,
      args: this.options.args,
    };
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
            ? new UsageError(report.message)
            : new CliFailure(report.code, report.message),
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
        new CliFailure("WORKER_CRASHED", `worker ${w.id} failed to start: ${why}`),
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

/**
 * Runs {@link WorkerPool} as a subcommand: start, `announce` the address (the listening
 * line, printed once), stop every worker on SIGINT/SIGTERM. Resolves when all stopped;
 * throws {@link CliFailure} (exit 1) when every worker crashed.
 */
export async function runWorkerPool(
  options: WorkerPoolOptions,
  announce: (addr: Deno.NetAddr) => void,
): Promise<void> {
  const pool = new WorkerPool(options);
  const addr = await pool.start();
  // Handlers first: a script may send SIGTERM as soon as it reads the listening line.
  const removeHandlers = onShutdownSignal((signal) => pool.shutdown(signal));
  announce(addr);
  try {
    if (!(await pool.finished)) {
      throw new CliFailure("WORKERS_DIED", `all ${options.count} workers crashed`);
    }
  } finally {
    removeHandlers();
  }
}
