/**
 * A worker module for tests/workers_test.ts that runs lib/net/worker_runtime.ts's real
 * {@link serveInWorker} around a server that binds nothing: it reports "listening" on port
 * 40000 + id and stops on "shutdown". If its id is in `config.crash` it crashes 50 ms after
 * listening — an uncaught error (`how: "throw"`, the default) or an unhandled rejection
 * (`how: "reject"`). worker_runtime's listeners catch the crash, so Deno prints no stack
 * trace and the pool hears one "crashed" report, exactly as with a real server module.
 *
 * ```ts
 * import { WorkerPool } from "../lib/net/workers.ts";
 * const pool = new WorkerPool({
 *   count: 2,
 *   host: "127.0.0.1",
 *   port: 0,
 *   shutdownTimeoutMs: 1000,
 *   config: { crash: [1], how: "throw" },
 *   spawn: () => new Worker(new URL("./workers_crash_fixture.ts", import.meta.url), { type: "module" }),
 * });
 * await pool.start();
 * ```
 *
 * @module
 */
import { serveInWorker } from "../lib/net/worker_runtime.ts";

/** What the tests pass as the pool's `config`. */
export interface CrashFixtureConfig {
  crash: number[];
  how?: "throw" | "reject";
}

serveInWorker(({ id, config }) => {
  const { crash, how = "throw" } = config as CrashFixtureConfig;
  const stopped = Promise.withResolvers<void>();
  return {
    listen: () => {
      if (crash.includes(id)) {
        setTimeout(() => {
          const error = new Error(`deliberate crash of worker ${id}`);
          if (how === "reject") Promise.reject(error);
          else throw error;
        }, 50);
      }
      return { transport: "tcp", hostname: "127.0.0.1", port: 40000 + id };
    },
    serve: () => stopped.promise,
    shutdown: () => {
      stopped.resolve();
      return Promise.resolve();
    },
  };
});
