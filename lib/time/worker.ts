/**
 * The module each `time-server --workers N` worker runs: the shared worker runtime with
 * the time server built from the config the main thread resolved.
 *
 * ```ts
 * new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * ```
 *
 * @module
 */
import { serveInWorker } from "../net/worker_runtime.ts";
import type { TimeServerConfig } from "./config.ts";
import { createTimeServer } from "./server.ts";

serveInWorker(({ id, port, config, writeLine }) =>
  createTimeServer(config as TimeServerConfig, { id, port, writeLine })
);
