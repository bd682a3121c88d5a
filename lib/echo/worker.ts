/**
 * The module each `echo-server --workers N` worker runs: the shared worker runtime with
 * the echo server built from the config the main thread resolved.
 *
 * ```ts
 * new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * ```
 *
 * @module
 */
import { serveInWorker } from "../net/worker_runtime.ts";
import type { EchoServerConfig } from "./config.ts";
import { createEchoServer } from "./server.ts";

serveInWorker(({ id, port, config, writeLine }) =>
  createEchoServer(config as EchoServerConfig, { id, port, writeLine })
);
