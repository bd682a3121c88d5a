/**
 * The module each `http-serve --workers N` worker runs: the shared worker runtime with the
 * HTTP server built from the config the main thread resolved and loaded.
 *
 * ```ts
 * new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * ```
 *
 * @module
 */
import { serveInWorker } from "../../net/worker_runtime.ts";
import type { HttpConfig } from "./config.ts";
import { createHttpServer } from "./serve.ts";

serveInWorker(({ id, port, config, writeLine }) =>
  createHttpServer(config as HttpConfig, { id, port, writeLine })
);
