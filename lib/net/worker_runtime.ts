/**
 * The worker side of `--workers N` (see `workers.ts`). A subcommand's worker module calls
 * {@link serveInWorker} with a function that builds its server from the config the main
 * thread resolved; this module waits for the start message, builds and binds the server
 * with `reusePort` on the port it was given, reports back, and serves until the main
 * thread says shutdown. Log lines go to the main thread, which prints them whole, so lines
 * from different workers never interleave mid-line.
 *
 * ```ts
 * // echo/worker.ts
 * import { serveInWorker } from "../net/worker_runtime.ts";
 * import type { RunnableServer } from "../net/run.ts";
 * declare function buildEchoServer(config: unknown): RunnableServer;
 * serveInWorker((start) => buildEchoServer(start.config));
 * ```
 *
 * @module
 */
import { ConfigError, describeError, RuntimeFailure } from "../errors.ts";
import { BatchedLineWriter } from "../log.ts";
import type { RunnableServer } from "./run.ts";
import type { WorkerReport, WorkerShutdownMessage, WorkerStartMessage } from "./workers.ts";

/** What a worker's server is built from. */
export interface WorkerContext {
  /** 1-based worker id (JSON logs carry it as `worker`). */
  id: number;
  /** The port to bind, with `reusePort`. */
  port: number;
  /** The config the main thread resolved. */
  config: unknown;
  /** Where log lines go: batched to the main thread, which prints them. */
  writeLine: (line: string) => void;
}

// Typed locally: this module is type-checked with the window lib like the rest of lib/.
const scope = globalThis as unknown as {
  postMessage(message: WorkerReport): void;
  onmessage: ((event: MessageEvent<WorkerStartMessage | WorkerShutdownMessage>) => void) | null;
  addEventListener(type: string, listener: (event: Event) => void): void;
};

function describeFailure(err: unknown): WorkerReport {
  if (err instanceof ConfigError) {
    return { type: "failed", usage: true, code: err.code, message: err.message };
  }
  if (err instanceof RuntimeFailure) {
    return { type: "failed", usage: false, code: err.code, message: err.message };
  }
  return { type: "failed", usage: false, code: "WORKER_FAILED", message: describeError(err) };
}

async function run(
  start: WorkerStartMessage,
  build: (context: WorkerContext) => RunnableServer | Promise<RunnableServer>,
): Promise<void> {
  // One message per event-loop turn: one structured clone and one stdout write in the main
  // thread per batch, not per line.
  const lines = new BatchedLineWriter((text) => scope.postMessage({ type: "stdout", text }));
  let server: RunnableServer;
  let addr: Deno.NetAddr;
  try {
    server = await build({
      id: start.id,
      port: start.port,
      config: start.config,
      writeLine: lines.write,
    });
    addr = server.listen();
  } catch (err) {
    scope.postMessage(describeFailure(err));
    return;
  }
  let stopped: Promise<void> = Promise.resolve();
  scope.onmessage = (event) => {
    const message = event.data;
    if (message.type === "shutdown") stopped = server.shutdown(message.signal);
  };
  scope.postMessage({ type: "listening", hostname: addr.hostname, port: addr.port });
  await server.serve();
  await stopped;
  lines.flush();
  scope.postMessage({ type: "stopped" });
}

/**
 * An uncaught error or rejection would otherwise print Deno's stack trace and then reach the
 * main thread; reported here it becomes one line there ("worker N crashed: …") and the main
 * thread terminates this worker — as the single-worker process would have died.
 */
function reportCrash(event: Event, what: unknown): void {
  event.preventDefault();
  const message = what instanceof Error ? `${what.name}: ${what.message}` : String(what);
  scope.postMessage({ type: "crashed", message });
}

/** Runs this worker: waits for "start", builds the server with `build`, serves it. */
export function serveInWorker(
  build: (context: WorkerContext) => RunnableServer | Promise<RunnableServer>,
): void {
  scope.addEventListener("error", (event) => reportCrash(event, (event as ErrorEvent).error));
  scope.addEventListener(
    "unhandledrejection",
    (event) => reportCrash(event, (event as PromiseRejectionEvent).reason),
  );
  scope.onmessage = (event) => {
    const message = event.data;
    // No self-close at the end: the main thread terminates the worker once it has read
    // "stopped", so no report can be lost.
    if (message.type === "start") run(message, build);
  };
}
