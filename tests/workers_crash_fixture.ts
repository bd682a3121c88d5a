/**
 * A worker module for tests/workers_test.ts that speaks worker_runtime.ts's messages but
 * crashes on purpose: it reports "listening" (port 40000 + id, nothing is bound), then
 * throws an uncaught error after 50 ms if its id is in `config.crash`; the others answer
 * "shutdown" with "stopped". It exercises WorkerPool's crash handling with a real Worker.
 *
 * ```ts
 * import { WorkerPool } from "../lib/net/workers.ts";
 * const pool = new WorkerPool({
 *   count: 2,
 *   host: "127.0.0.1",
 *   port: 0,
 *   shutdownTimeoutMs: 1000,
 *   config: { crash: [1] },
 *   spawn: () => new Worker(new URL("./workers_crash_fixture.ts", import.meta.url), { type: "module" }),
 * });
 * await pool.start();
 * ```
 *
 * @module
 */
const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
};

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === "start") {
    scope.postMessage({ type: "listening", hostname: "127.0.0.1", port: 40000 + message.id });
    if ((message.config.crash as number[]).includes(message.id)) {
      setTimeout(() => {
        throw new Error(`deliberate crash of worker ${message.id}`);
      }, 50);
    }
  } else if (message.type === "shutdown") {
    scope.postMessage({ type: "stopped" });
  }
};
