/**
 * The worker side of `--workers N` (see `workers.ts`): one of these runs in each Web
 * Worker. It waits for a start message, builds the same server the single-worker path
 * builds, binds it with `reusePort` on the port it was given, reports back, and serves until
 * the main thread says shutdown. Log lines go to the main thread, which prints them whole,
 * so lines from different workers never interleave mid-line.
 *
 * ```ts
 * const worker = new Worker(new URL("./worker_entry.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ type: "start", kind: "echo-server", id: 1, port: 0, args: { flags: {} } });
 * ```
 *
 * @module
 */
import { CliFailure, UsageError } from "../cli.ts";
import { BatchedLineWriter, EventLog } from "../log.ts";
import type { WorkerReport, WorkerShutdownMessage, WorkerStartMessage } from "./workers.ts";

/** The part of a server the worker drives; both HttpServer and EchoServer have it. */
interface WorkerServer {
  listen(): Deno.NetAddr;
  serve(): Promise<void>;
  shutdown(signal?: string): Promise<void>;
}

// Typed locally: this module is type-checked with the window lib like the rest of lib/.
const scope = globalThis as unknown as {
  postMessage(message: WorkerReport): void;
  onmessage: ((event: MessageEvent<WorkerStartMessage | WorkerShutdownMessage>) => void) | null;
  close(): void;
};

async function createServer(
  start: WorkerStartMessage,
  writeLine: (text: string) => void,
): Promise<WorkerServer> {
  const flags = { ...start.args.flags, port: start.port };
  if (start.kind === "http-serve") {
    const { createHttpServe } = await import("../http/server/serve.ts");
    const setup = await createHttpServe(start.args.dir, flags, {
      reusePort: true,
      workerId: start.id,
      writeLine,
    });
    return setup.server;
  }
  const { EchoServer, parseEchoServerOptions } = await import("../echo/server.ts");
  const config = { ...parseEchoServerOptions(flags), reusePort: true };
  return new EchoServer(
    config,
    new EventLog({ json: config.json, write: writeLine, worker: start.id }),
  );
}

function describeFailure(err: unknown): WorkerReport {
  if (err instanceof UsageError) {
    return { type: "failed", usage: true, code: err.code, message: err.message };
  }
  if (err instanceof CliFailure) {
    return { type: "failed", usage: false, code: err.code, message: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { type: "failed", usage: false, code: "WORKER_FAILED", message };
}

async function run(start: WorkerStartMessage): Promise<void> {
  // One message per event-loop turn: one structured clone and one stdout write in the main
  // thread per batch, not per line.
  const lines = new BatchedLineWriter((text) => scope.postMessage({ type: "stdout", text }));
  let server: WorkerServer;
  let addr: Deno.NetAddr;
  try {
    server = await createServer(start, lines.write);
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
addEventListener("error", (event) => reportCrash(event, (event as ErrorEvent).error));
addEventListener(
  "unhandledrejection",
  (event) => reportCrash(event, (event as PromiseRejectionEvent).reason),
);

scope.onmessage = (event) => {
  const message = event.data;
  // No self-close at the end: the main thread terminates the worker once it has read
  // "stopped", so no report can be lost.
  if (message.type === "start") run(message);
};
