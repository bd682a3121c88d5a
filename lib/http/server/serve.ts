/**
 * `sockit http-serve [DIR]`, the subcommand: resolve and load the config once, then run
 * the server on the shared core (in this thread or in `--workers` isolates) and print the
 * listening line (with the TLS certificate's fingerprint), LAN URLs, `--qr` and the
 * open-upload warning.
 *
 * ```ts
 * import { runHttpServe } from "./serve.ts";
 * await runHttpServe("./public", { host: "127.0.0.1", port: 8080 }); // until SIGINT/SIGTERM
 * ```
 *
 * @module
 */
import { writeStderrLine, writeStdoutLine } from "../../log.ts";
import { formatHost, isLoopbackHost, lanAddresses } from "../../net/address.ts";
import { runServer } from "../../net/run.ts";
import { listeningLines } from "../../net/tls.ts";
import { workerCountOrFallback } from "../../net/workers.ts";
import {
  type HttpConfig,
  type HttpServeFlags,
  loadHttpConfig,
  resolveHttpConfig,
} from "./config.ts";
import { HttpServer } from "./server.ts";

/** Builds the server a loaded config describes (the main thread's, or a worker's). */
export function createHttpServer(
  config: HttpConfig,
  worker?: { id: number; port: number; writeLine: (line: string) => void },
): HttpServer {
  if (worker === undefined) return new HttpServer(config);
  return new HttpServer(config, {
    workerId: worker.id,
    writeLine: worker.writeLine,
    listen: { port: worker.port, reusePort: true },
  });
}

/**
 * The listening line (TLS: the certificate's fingerprint, then its public-key pin), LAN
 * URLs, `--qr` and the open-upload warning; printed once.
 */
async function announce(
  addr: Deno.NetAddr,
  dir: string | undefined,
  config: HttpConfig,
  workers: number,
) {
  const scheme = config.tls === undefined ? "http" : "https";
  const notes = [
    config.singleFile === undefined
      ? `serving ${dir ?? "the built-in site"}`
      : `serving the file ${dir}`,
    ...(workers > 1 ? [`${workers} workers`] : []),
  ];
  for (const line of listeningLines("http-serve", "http", addr, notes, config.tls)) {
    writeStdoutLine(line);
  }
  for (const address of lanAddresses(addr.hostname)) {
    writeStdoutLine(`  on your network: ${scheme}://${formatHost(address)}:${addr.port}/`);
  }
  if (config.qr) {
    // Loaded for --qr or --share only: no other start-up needs the QR encoder.
    const { printQr } = await import("./lan.ts");
    printQr(addr.hostname, addr.port, scheme);
  }
  if (config.share?.links?.length) {
    const { printShareLinks } = await import("./share_announce.ts");
    printShareLinks(config.share.links, addr.hostname, addr.port, scheme);
  }
  // Anyone may write when a rule for anyone grants rw (the implied one, without --auth).
  const anyoneWrites = config.accessRules.some((r) => r.who === "anyone" && r.mode === "rw");
  if (config.upload !== undefined && anyoneWrites && !isLoopbackHost(addr.hostname)) {
    writeStderrLine(
      config.credentials.length === 0
        ? "sockit: warning: --upload without --auth: anyone who can reach this port can store files"
        : "sockit: warning: an --access rule lets anyone who can reach this port store files",
    );
  }
}

/** CLI entry: validates, binds, prints the listening line, serves until SIGINT/SIGTERM. */
export async function runHttpServe(dir: string | undefined, flags: HttpServeFlags): Promise<void> {
  const config = await loadHttpConfig(resolveHttpConfig(dir, flags));
  const workers = workerCountOrFallback(config.workers);
  await runServer({
    config,
    workers,
    create: createHttpServer,
    spawnWorker: () => new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
    announce: (addr) => announce(addr, dir, config, workers),
  });
}
