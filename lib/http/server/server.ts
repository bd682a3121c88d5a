/**
 * The HTTP server: HTTP/1.1 connections (`h1/`) as a connection handler on the shared
 * TCP core (`net/server.ts`), with what only HTTP needs around them — the connection clocks,
 * the 503 for connections over `--max-connections`, the access log, `--trace`, metrics.
 *
 * ```ts
 * import { loadHttpConfig, resolveHttpConfig } from "./config.ts";
 * import { HttpServer } from "./server.ts";
 * const config = await loadHttpConfig(resolveHttpConfig(undefined, { host: "127.0.0.1", port: 0 }));
 * const server = new HttpServer(config);
 * const addr = server.listen();
 * const serving = server.serve();
 * await server.shutdown();
 * await serving;
 * console.log(addr.port);
 * ```
 *
 * @module
 */
import { describeError } from "../../errors.ts";
import { BatchedLineWriter, escapeBytes, writeStderrLine, writeStdoutLine } from "../../log.ts";
import { peerOf } from "../../net/address.ts";
import { drainInput, writeFinalAnswer } from "../../net/linger.ts";
import type { ListenOptions } from "../../net/listen.ts";
import { LogThrottle } from "../../net/log_throttle.ts";
import type { RunnableServer } from "../../net/run.ts";
import { TcpServer } from "../../net/server.ts";
import { textResponse } from "../errors.ts";
import type { Handler, RequestHead } from "../handler.ts";
import type { AccessLogEntry, ConnectionOptions } from "../h1/connection.ts";
import { encodeClosingResponse } from "../h1/response.ts";
import { ConnectionTracker, type TimeoutKind } from "../h1/timeouts.ts";
import type { HttpMetrics } from "../sharing/metrics.ts";
import { redactRequestHead } from "../sharing/auth.ts";
import { formatAccessLog } from "./access_log.ts";
import type { H2Connection } from "../h2/connection.ts";
import { buildHandler } from "./build_handler.ts";
import type { HttpConfig } from "./config.ts";
import {
  ALPN_PROTOCOLS,
  type DispatchOptions,
  H2_OVER_CAPACITY_ANSWER,
  serveHttpConnection,
  speaksHttp2,
} from "./dispatch.ts";

/** `Retry-After` (seconds) of the 503 sent to connections over `--max-connections`. */
export const OVER_CAPACITY_RETRY_AFTER_S = 1;
/**
 * The 503 goes out when the request's first bytes arrive, or after this long if none do.
 * Not sooner: HTTP clients such as hyper (Deno's fetch) reject a response that arrives
 * before they have sent their request ("received unexpected message from connection").
 * The request itself is never parsed.
 */
export const OVER_CAPACITY_WAIT_MS = 250;
/**
 * After the 503, input is drained this long (at most {@link OVER_CAPACITY_DRAIN_BYTES})
 * before the close, so the unread request does not turn the close into a reset that
 * destroys the 503 before the client reads it.
 */
export const OVER_CAPACITY_DRAIN_MS = 500;
/** See {@link OVER_CAPACITY_DRAIN_MS}. */
export const OVER_CAPACITY_DRAIN_BYTES = 64 * 1024;
/** At most one "over --max-connections" log line per this period. */
export const OVER_CAPACITY_LOG_INTERVAL_MS = 1_000;

const OVER_CAPACITY_ANSWER = encodeClosingResponse(
  textResponse(503, "too many connections, retry shortly", [
    ["Retry-After", String(OVER_CAPACITY_RETRY_AFTER_S)],
  ]),
);

const TIMEOUT_OUTCOME: Record<TimeoutKind, string> = {
  "keep-alive": "closed",
  header: "request head incomplete; answered 408 and closed",
  body: "request body stalled; answered 408 (HTTP/2: GOAWAY) and closed",
  write: "client stopped reading the response; closed",
};

/** What a server may be given besides its config (workers, tests). */
export interface HttpServerOptions {
  /** Replaces the handler built from the config (tests: any handler on a real server). */
  handler?: Handler;
  /** With `handler`: its metrics, if it has any. */
  metrics?: HttpMetrics;
  /** With `handler`: what releases it when shutdown begins (`BuiltHandler.close`). */
  closeHandler?: () => void;
  /** Where access-log and `--trace` lines go; default stdout (batched per event-loop turn). */
  writeLine?: (line: string) => void;
  /** Where warnings go (timeouts, cut responses, refusals); default stderr. */
  warn?: (line: string) => void;
  /** A `--workers` worker's id: JSON access-log lines carry it as `worker`. */
  workerId?: number;
  /** Overrides of where to bind (a worker: its port, reusePort). */
  listen?: Partial<ListenOptions>;
}

/**
 * Answers a connection over `--max-connections` without parsing its request: the 503 in
 * one write as soon as the request starts to arrive ({@link OVER_CAPACITY_WAIT_MS}), then a
 * short drain and close.
 */
async function answerOverCapacity(conn: Deno.Conn, http2: boolean): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  const pending = conn.read(buf);
  pending.catch(() => {}); // awaited below, unless the write fails first
  let waitTimer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      pending,
      new Promise<"wait over">((resolve) => {
        waitTimer = setTimeout(() => resolve("wait over"), OVER_CAPACITY_WAIT_MS);
      }),
    ]);
    if (first === null) return; // the client left without a word
    // An HTTP/2 client cannot read an HTTP/1.1 503: it gets GOAWAY(REFUSED_STREAM) instead.
    const h2 = http2 && first !== "wait over" &&
      await speaksHttp2(conn, buf.subarray(0, first));
    if (await writeFinalAnswer(conn, h2 ? H2_OVER_CAPACITY_ANSWER : OVER_CAPACITY_ANSWER)) {
      await drainInput(conn, {
        ms: OVER_CAPACITY_DRAIN_MS,
        maxBytes: OVER_CAPACITY_DRAIN_BYTES,
        pendingRead: first === "wait over" ? pending : undefined,
      });
    }
  } catch {
    /* reset */
  } finally {
    clearTimeout(waitTimer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** The HTTP server: {@link listen}, then {@link serve} until {@link shutdown}. */
export class HttpServer implements RunnableServer {
  readonly config: HttpConfig;
  readonly tracker: ConnectionTracker;
  readonly #tcp: TcpServer;
  readonly #log: BatchedLineWriter;
  readonly #warn: (line: string) => void;
  readonly #overCapacityLog = new LogThrottle(OVER_CAPACITY_LOG_INTERVAL_MS);
  #overCapacity = 0;

  constructor(config: HttpConfig, options: HttpServerOptions = {}) {
    this.config = config;
    const warn = options.warn ?? writeStderrLine;
    this.#warn = warn;
    this.#log = new BatchedLineWriter(options.writeLine ?? writeStdoutLine);
    this.tracker = new ConnectionTracker({
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      headerTimeoutMs: config.headerTimeoutMs,
      bodyTimeoutMs: config.bodyTimeoutMs,
      writeTimeoutMs: config.writeTimeoutMs,
      onTimeout: (conn, kind, afterMs) =>
        warn(
          `sockit: ${peerOf(conn)}: ${kind} timeout after ${(afterMs / 1000).toFixed(1)} s: ${
            TIMEOUT_OUTCOME[kind]
          }`,
        ),
    });
    const built = options.handler === undefined
      ? buildHandler(config)
      : { handler: options.handler, metrics: options.metrics, close: options.closeHandler };
    const connectionOptions = this.#connectionOptions(built.metrics, options.workerId);
    const metrics = built.metrics;
    const h2Connections = new Set<H2Connection>();
    const dispatch: DispatchOptions = {
      tracker: this.tracker,
      handler: built.handler,
      h1: connectionOptions,
      h2: config.http2
        ? {
          maxHeaderFields: config.limits.maxHeaderFields,
          maxBodyBytes: config.limits.maxBodyBytes,
          onHead: connectionOptions.onHead,
          onRequest: connectionOptions.onRequest,
          onInternalError: connectionOptions.onInternalError,
          onAbort: connectionOptions.onAbort,
        }
        : undefined,
      h2Connections,
    };
    this.#tcp = new TcpServer({
      host: config.host,
      port: config.port,
      tls: config.tls,
      alpnProtocols: config.http2 ? [...ALPN_PROTOCOLS] : undefined,
      ...options.listen,
      maxConnections: config.maxConnections,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      log: (_event, _fields, text) => warn(`sockit: ${text}`),
    }, {
      handle: metrics === undefined ? (conn) => serveHttpConnection(conn, dispatch) : (conn) => {
        metrics.connectionOpened();
        return serveHttpConnection(conn, dispatch).finally(() => metrics.connectionClosed());
      },
      refuse: (conn) => this.#refuse(conn),
      beginShutdown: () => {
        // HTTP/2 first: each connection sends GOAWAY and stops counting as idle.
        for (const h2 of h2Connections) h2.beginShutdown();
        this.tracker.beginShutdown();
        // Streams that never end by themselves (--watch's events) end now, not at the
        // shutdown timeout; their connections then close as their responses complete.
        built.close?.();
      },
      closeAll: () => this.tracker.closeAll(),
    });
  }

  #connectionOptions(metrics: HttpMetrics | undefined, workerId?: number): ConnectionOptions {
    const { config } = this;
    const log = this.#log;
    const logRequest = config.quiet
      ? undefined
      : (entry: AccessLogEntry) => log.write(formatAccessLog(entry, config.logFormat, workerId));
    // --metrics counts every response, --quiet or not.
    const onRequest = metrics === undefined ? logRequest : (entry: AccessLogEntry) => {
      metrics.recordResponse(entry.status, entry.bytes);
      logRequest?.(entry);
    };
    const warn = this.#warn;
    return {
      tracker: this.tracker,
      limits: config.limits,
      // Credentials (Authorization, Cookie, user:pass@ in the target) never reach the log.
      onHead: config.trace
        ? (client, head) =>
          log.write(`${client} request head: ${escapeBytes(redactRequestHead(head))}`)
        : undefined,
      onRequest,
      onInternalError: (req: RequestHead, err: unknown) =>
        warn(`sockit: internal error on ${req.method} ${req.target}: ${describeError(err)}`),
      onAbort: (client, req, reason) =>
        warn(
          `sockit: ${client}: ${
            req === null ? "response" : `${req.method} ${req.target}`
          } cut off: ${reason}`,
        ),
    };
  }

  /** Binds (see `listenTcp` for the errors it throws). */
  listen(): Deno.NetAddr {
    return this.#tcp.listen();
  }

  /** Accepts connections until {@link shutdown}. */
  serve(): Promise<void> {
    return this.#tcp.serve();
  }

  #refuse(conn: Deno.Conn): Promise<void> {
    this.#overCapacity++;
    if (this.#overCapacityLog.due()) {
      this.#warn(
        `sockit: --max-connections ${this.config.maxConnections} reached: ` +
          `${this.#overCapacity} connection(s) refused with 503 so far`,
      );
    }
    return answerOverCapacity(conn, this.config.http2);
  }

  /**
   * Stops accepting, lets in-flight responses finish within the shutdown timeout, closes
   * whatever is left after it, flushes the log.
   */
  async shutdown(): Promise<void> {
    if (this.#tcp.stopping) return;
    const open = this.#tcp.connectionCount;
    const finished = await this.#tcp.shutdown();
    if (!finished) {
      this.#warn(
        `sockit: shutdown timeout (${this.config.shutdownTimeoutMs / 1000} s): closed what ` +
          `was still busy of the ${open} connection(s) open at the signal`,
      );
    }
    this.#log.flush();
  }
}
