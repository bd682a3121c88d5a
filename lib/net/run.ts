/**
 * Running a server as a subcommand, the same way for every server: bind (in this thread,
 * or in `--workers` isolates), install the SIGINT/SIGTERM handlers, print the listening
 * line, serve, and on the first signal stop gracefully (a second signal exits at once).
 *
 * ```ts
 * import { runServer } from "./run.ts";
 * import type { RunnableServer } from "./run.ts";
 * declare function createServer(config: { host: string; port: number }): RunnableServer;
 * await runServer({
 *   config: { host: "127.0.0.1", port: 0, shutdownTimeoutMs: 5000 },
 *   workers: 1,
 *   create: createServer,
 *   spawnWorker: () => new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
 *   announce: (addr) => console.log(`listening on ${addr.port}`),
 * });
 * ```
 *
 * @module
 */
import { RuntimeFailure } from "../errors.ts";
import { WorkerPool } from "./workers.ts";

/** What a subcommand's server offers to {@link runServer} and to a worker. */
export interface RunnableServer {
  /** Binds; throws ConfigError / RuntimeFailure. */
  listen(): Deno.NetAddr;
  /** Accepts until shutdown. */
  serve(): Promise<void>;
  /** Graceful stop; `signal` names the reason in the log. */
  shutdown(signal?: string): Promise<void>;
}

/** What every server's config says about where it listens and how it stops. */
export interface ServerBasics {
  host: string;
  port: number;
  shutdownTimeoutMs: number;
}

/** Options of {@link runServer}. */
export interface RunServerOptions<Config extends ServerBasics> {
  /** The resolved config: built from here in this thread, or handed to each worker. */
  config: Config;
  /** Isolates serving the port (after `workerCountOrFallback`); 1 = this thread. */
  workers: number;
  /** Builds the server for the single-thread case. */
  create: (config: Config) => RunnableServer;
  /** Starts one worker (`WorkerPoolOptions.spawn` in workers.ts). */
  spawnWorker: () => Worker;
  /** Prints the listening line and whatever goes with it, once, after binding. */
  announce: (addr: Deno.NetAddr) => void | Promise<void>;
}

/**
 * Calls `onFirst` on the first SIGINT/SIGTERM (graceful stop); a second signal exits at
 * once with code 130/143. Returns a function that removes the handlers.
 */
function onShutdownSignal(onFirst: (signal: Deno.Signal) => void): () => void {
  let seen = false;
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (seen) Deno.exit(signal === "SIGINT" ? 130 : 143);
      seen = true;
      onFirst(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  };
}

/**
 * Binds, announces and serves until a signal stops it. Throws what binding throws, and
 * {@link RuntimeFailure} when every worker crashed.
 */
export async function runServer<Config extends ServerBasics>(
  options: RunServerOptions<Config>,
): Promise<void> {
  const { config } = options;
  if (options.workers > 1) {
    const pool = new WorkerPool({
      count: options.workers,
      host: config.host,
      port: config.port,
      config,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      spawn: options.spawnWorker,
    });
    const addr = await pool.start();
    // Handlers first: a script may send SIGTERM as soon as it reads the listening line.
    const removeHandlers = onShutdownSignal((signal) => pool.shutdown(signal));
    await options.announce(addr);
    try {
      if (!(await pool.finished)) {
        throw new RuntimeFailure("WORKERS_DIED", `all ${options.workers} workers crashed`);
      }
    } finally {
      removeHandlers();
    }
    return;
  }
  const server = options.create(config);
  const addr = server.listen();
  let stopped: Promise<void> = Promise.resolve();
  const removeHandlers = onShutdownSignal((signal) => {
    stopped = server.shutdown(signal);
  });
  await options.announce(addr);
  await server.serve();
  await stopped;
  removeHandlers();
}
