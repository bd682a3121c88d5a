/**
 * `sockit time-server`: the daytime protocol (RFC 867). Over TCP every connection gets one
 * line with the current time, then the server closes it; with `--udp` every datagram, empty
 * or not, is answered with that line. The line's format is `--format` (see `format.ts`).
 *
 * The close is graceful: the server half-closes after the line and drains whatever the
 * client sends for at most {@link TIME_LINGER_MS}, because closing a socket with unread
 * input makes the kernel send a reset that can destroy the line before the client reads it.
 * Accepting, `--max-connections`, shutdown and `--workers` come from the shared core
 * (`lib/net/`), the UDP loop from `lib/net/udp.ts`; this module is the two handlers and
 * their log lines.
 *
 * ```ts
 * import { createTimeServer } from "./server.ts";
 * import { resolveTimeServerConfig } from "./config.ts";
 * const server = createTimeServer(resolveTimeServerConfig({ host: "127.0.0.1", port: 0 }));
 * const { port } = server.listen();
 * const serving = server.serve();
 * await server.shutdown("SIGTERM");
 * await serving;
 * console.log(port);
 * ```
 *
 * @module
 */
import { DEFAULT_LOG_PREVIEW_BYTES, escapeBytes, EventLog, writeStdoutLine } from "../log.ts";
import { listeningLine, peerOf } from "../net/address.ts";
import { closeQuietly, drainInput, writeFinalAnswer } from "../net/linger.ts";
import type { ListenOptions } from "../net/listen.ts";
import { closingRefusal } from "../net/refusal.ts";
import { type RunnableServer, runServer } from "../net/run.ts";
import { TcpServer } from "../net/server.ts";
import { describePeer, requireUdp, UDP_NO_WORKERS_REASON, UdpServer } from "../net/udp.ts";
import { workerCountOrFallback } from "../net/workers.ts";
import { resolveTimeServerConfig, type TimeServerConfig, type TimeServerFlags } from "./config.ts";
import { daytimeLine } from "./format.ts";

export type { TimeServerConfig, TimeServerFlags } from "./config.ts";

/**
 * After the line, the client's input is drained this long at most, then the socket closes.
 * A daytime client sends nothing and closes as soon as it has the line, so this bounds only
 * clients that keep talking or keep the connection open.
 */
export const TIME_LINGER_MS = 1_000;
/** …or until this much input has been discarded. */
export const TIME_LINGER_MAX_BYTES = 64 * 1024;

/**
 * The daytime protocol over TCP as a connection handler on the shared {@link TcpServer}:
 * the core accepts, limits and shuts down; this class sends the line, closes and logs.
 */
export class TimeServer implements RunnableServer {
  readonly config: TimeServerConfig;
  readonly log: EventLog;
  readonly #tcp: TcpServer;
  #connections = new Set<Deno.Conn>();

  /** `listen` overrides where to bind (a `--workers` worker: its port, reusePort). */
  constructor(
    config: TimeServerConfig,
    log: EventLog = new EventLog({ json: config.json }),
    listen: Partial<ListenOptions> = {},
  ) {
    this.config = config;
    this.log = log;
    this.#tcp = new TcpServer({
      host: config.host,
      port: config.port,
      ...listen,
      maxConnections: config.maxConnections,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      log: this.log.event,
    }, {
      handle: (conn) => this.#answer(conn),
      refuse: closingRefusal(config.maxConnections, this.log.event),
      // Nothing to cut short: every open connection is already sending its line or in its
      // bounded drain, well within any sensible --shutdown-timeout.
      beginShutdown: () => {},
      closeAll: () => this.#connections.forEach(closeQuietly),
    });
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds the listening socket; throws RuntimeFailure when that is impossible. */
  listen(): Deno.NetAddr {
    return this.#tcp.listen();
  }

  /** Accepts connections until {@link shutdown}. */
  serve(): Promise<void> {
    return this.#tcp.serve();
  }

  /** RFC 867: send the line on accept, then close; the client's input is ignored. */
  async #answer(conn: Deno.Conn): Promise<void> {
    const peer = peerOf(conn);
    const openedAt = performance.now();
    this.#connections.add(conn);
    this.log.event("connect", { peer }, `connected by ${peer}`);
    const line = daytimeLine(new Date(), this.config.format);
    let bytesOut = 0;
    let reason = "client gone before the time was sent";
    try {
      if (await writeFinalAnswer(conn, line)) {
        bytesOut = line.length;
        reason = "time sent";
        this.#logSent(peer, line);
        await drainInput(conn, { ms: TIME_LINGER_MS, maxBytes: TIME_LINGER_MAX_BYTES });
      }
    } finally {
      closeQuietly(conn);
      this.#connections.delete(conn);
      const durationMs = Math.round(performance.now() - openedAt);
      this.log.event(
        "close",
        { peer, bytes_out: bytesOut, duration_ms: durationMs, reason },
        `${peer} closed: ${bytesOut} bytes out, ${durationMs} ms (${reason})`,
      );
    }
  }

  #logSent(peer: string, line: Uint8Array): void {
    if (this.config.quiet) return;
    const data = escapeBytes(line, DEFAULT_LOG_PREVIEW_BYTES);
    this.log.event("sent", { peer, bytes: line.length, data }, `${peer} got ${data}`);
  }

  /**
   * Graceful stop: no new connections; those open finish their line and drain, for at most
   * `shutdownTimeoutMs`, then everything left is closed.
   */
  async shutdown(signal = "shutdown"): Promise<void> {
    if (this.#tcp.stopping) return;
    this.log.event(
      "shutdown",
      { signal, open_connections: this.#connections.size },
      `${signal}: stopping; ${this.#connections.size} connection(s) open`,
    );
    await this.#tcp.shutdown();
  }
}

/** The daytime protocol over UDP: every datagram is answered with the line. */
export function createTimeUdpServer(
  config: TimeServerConfig,
  log: EventLog = new EventLog({ json: config.json }),
): UdpServer {
  return new UdpServer({
    host: config.host,
    port: config.port,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    log: log.event,
    handler: (data, addr) => {
      const line = daytimeLine(new Date(), config.format);
      if (!config.quiet) {
        const peer = describePeer(addr);
        log.event(
          "datagram",
          {
            peer,
            bytes_in: data.length,
            data: escapeBytes(data, DEFAULT_LOG_PREVIEW_BYTES),
            bytes_out: line.length,
          },
          `${peer} sent ${data.length} bytes; answered ${escapeBytes(line)}`,
        );
      }
      return line;
    },
  });
}

/** Builds the server a config describes (the main thread's, or a worker's). */
export function createTimeServer(
  config: TimeServerConfig,
  worker?: { id: number; port: number; writeLine: (line: string) => void },
): RunnableServer {
  const log = worker === undefined
    ? new EventLog({ json: config.json })
    : new EventLog({ json: config.json, write: worker.writeLine, worker: worker.id });
  if (config.udp) return createTimeUdpServer(config, log);
  if (worker === undefined) return new TimeServer(config, log);
  return new TimeServer(config, log, { port: worker.port, reusePort: true });
}

/** CLI entry: validates flags, prints the listening line, serves until SIGINT/SIGTERM. */
export async function runTimeServer(flags: TimeServerFlags): Promise<void> {
  const config = resolveTimeServerConfig(flags);
  if (config.udp) requireUdp(config.host, config.port);
  // With --udp the fallback to one worker is announced like a missing reusePort is.
  const workers = workerCountOrFallback(
    config.workers,
    undefined,
    config.udp ? UDP_NO_WORKERS_REASON : undefined,
  );
  const format = `format ${config.format}`;
  await runServer({
    config,
    workers,
    create: createTimeServer,
    spawnWorker: () => new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
    // Always plain text, even with --json: scripts parse this one line (LISTENING_LINE_PATTERN).
    announce: (addr) =>
      writeStdoutLine(
        listeningLine(
          "time-server",
          config.udp ? "udp" : "tcp",
          addr.hostname,
          addr.port,
          workers > 1 ? `(${format}; ${workers} workers)` : `(${format})`,
        ),
      ),
  });
}
