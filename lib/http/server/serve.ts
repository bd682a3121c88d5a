/**
 * `sockit http-serve [DIR]`: a static-file HTTP/1.1 server on raw TCP (`Deno.listen`),
 * speaking HTTP through our own parser (`request.ts`) and connection loop
 * (`connection.ts`) on top of the shared framing module. This module is the operations
 * side: flags, binding, the listening line and LAN URLs, the access log, `--trace`,
 * graceful shutdown.
 *
 * ```ts
 * const server = new HttpServer({ root: await canonicalRoot("./public"), host: "127.0.0.1", port: 0 });
 * const addr = server.listen();
 * const serving = server.serve(); // until server.shutdown()
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { CliFailure, formatHost, listeningLine, onShutdownSignal, UsageError } from "../../cli.ts";
import { writeAll } from "../../framing.ts";
import { BatchedLineWriter, escapeBytes, writeStdoutLine } from "../../log.ts";
import {
  type AccessLogEntry,
  BODY_TIMEOUT_MS,
  compose,
  ConnectionTracker,
  type Handler,
  HEADER_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  type Middleware,
  serveConnection,
  type TimeoutKind,
  WRITE_TIMEOUT_MS,
} from "../h1/connection.ts";
import { SmallFileCache, staticFiles } from "../files/files.ts";
import { parseAuthSpec, redactRequestHead, redactTargetUserinfo } from "../sharing/auth.ts";
import { HttpMetrics } from "../sharing/metrics.ts";
import {
  listingActionsHtml,
  MULTIPART_OVERHEAD_BYTES,
  UPLOAD_ALLOWED_METHODS,
  withBasicAuth,
  withCleanUrls,
  withMetricsEndpoint,
  withTarDownload,
  withUploads,
} from "../sharing/middleware.ts";
import { DEFAULT_MAX_UPLOAD_BYTES } from "../sharing/upload.ts";
import { lanUrlForQr, renderTerminalQr } from "./lan.ts";
import { withCors, withResponseHeaders } from "../middleware/cors.ts";
import { DEFAULT_REQUEST_LIMITS, type RequestHead, type RequestLimits } from "../h1/request.ts";
import { encodeResponse, formatResponseHead } from "../h1/response.ts";
import { canonicalRoot } from "../files/safe_path.ts";
import { runWorkerPool, workerCountOrFallback } from "../../net/workers.ts";

/** Default port of http-serve. */
export const DEFAULT_HTTP_PORT = 8000;
/** Default listen address: all IPv4 interfaces. */
export const DEFAULT_HTTP_HOST = "0.0.0.0";
/**
 * Default `--shutdown-timeout`: on SIGINT/SIGTERM, in-flight responses get this long to
 * finish; then the rest are closed and the process exits 0 (same default as echo-server).
 */
export const SHUTDOWN_GRACE_MS = 5_000;
/**
 * Default `--max-connections`: 0 = unlimited. Each connection costs a file descriptor
 * and a few tens of KiB; the limit that bites first is usually `ulimit -n`, which the
 * accept back-off handles.
 */
export const DEFAULT_MAX_CONNECTIONS = 0;
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
/**
 * At most this many refused connections are being answered (503 + drain) at once; beyond
 * it they are closed without an answer, so a connection flood cannot pile up descriptors
 * behind the limit that is meant to cap them.
 */
export const MAX_OVER_CAPACITY_ANSWERS = 64;
/** At most one "over --max-connections" log line per this period. */
export const OVER_CAPACITY_LOG_INTERVAL_MS = 1_000;
/** First pause after a failed accept (EMFILE, …); doubles up to the maximum. */
export const ACCEPT_BACKOFF_MIN_MS = 10;
/** Longest pause between accept attempts while accept keeps failing. */
export const ACCEPT_BACKOFF_MAX_MS = 1_000;

/** Access-log line formats. */
export const LOG_FORMATS = ["common", "combined", "json"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/**
 * The built-in site: `static/` next to the sources, resolved from this module's own
 * location so it also works inside a `deno compile --include static` binary.
 */
export function defaultSiteRoot(): string {
  return join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..", "..", "static");
}

/** Flags of `sockit http-serve`, as commander delivers them. */
export interface HttpServeFlags {
  host?: string;
  port?: number;
  /** false with --no-listing. */
  listing?: boolean;
  dotfiles?: boolean;
  logFormat?: LogFormat;
  quiet?: boolean;
  trace?: boolean;
  /** Seconds; 0 = never. */
  keepAliveTimeout?: number;
  /** Bytes. */
  maxBody?: number;
  /** Seconds; 0 = never. */
  headerTimeout?: number;
  /** Seconds; 0 = never. */
  bodyTimeout?: number;
  /** Seconds; 0 = never. */
  writeTimeout?: number;
  /** Seconds. */
  shutdownTimeout?: number;
  maxConnections?: number;
  /** --cache SECONDS (parseCacheSeconds). */
  cache?: number;
  gzip?: boolean;
  cors?: boolean;
  /** --header, repeatable, each already checked by parseHeaderFlag. */
  header?: [string, string][];
  spa?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** --auth, repeatable: raw USER:PASS / USER:sha256:HEX, parsed by parseAuthSpec here. */
  auth?: string[];
  upload?: boolean;
  /** --max-upload bytes (needs --upload). */
  maxUpload?: number;
  /** --overwrite (needs --upload). */
  overwrite?: boolean;
  qr?: boolean;
  metrics?: boolean;
  cleanUrls?: boolean;
  /** --workers: isolates sharing the port (parseWorkers; 1 = this thread only). */
  workers?: number;
}

/** PEM contents for Deno.listenTls. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/**
 * A resolved server configuration. The flags it shares with {@link HttpServeFlags} keep
 * their names and meaning, so they come from there; the rest are resolved (milliseconds,
 * parsed files, built middleware).
 */
export interface HttpServerConfig extends
  Pick<
    HttpServeFlags,
    "host" | "port" | "listing" | "dotfiles" | "logFormat" | "quiet" | "trace"
  > {
  /** Canonical root directory. */
  root: string;
  keepAliveTimeoutMs?: number;
  /** Default {@link HEADER_TIMEOUT_MS}; 0 = never. */
  headerTimeoutMs?: number;
  /** Default {@link BODY_TIMEOUT_MS}; 0 = never. */
  bodyTimeoutMs?: number;
  /** Default {@link WRITE_TIMEOUT_MS}; 0 = never. */
  writeTimeoutMs?: number;
  /** Default {@link SHUTDOWN_GRACE_MS}. */
  shutdownTimeoutMs?: number;
  /** Open connections allowed; more get a 503. Default {@link DEFAULT_MAX_CONNECTIONS} (∞). */
  maxConnections?: number;
  /** Where warnings go (timeouts, cut responses, refusals); default stderr. */
  warn?: (line: string) => void;
  limits?: Readonly<RequestLimits>;
  /** Replaces the static-file handler. */
  handler?: Handler;
  /** Features wrapped around the handler, outermost first (see `compose`). */
  middleware?: Middleware[];
  /** `--cache` seconds for files' Cache-Control (absent: no-cache). */
  cacheSeconds?: number;
  /** `--gzip`: compress text on the fly. */
  gzip?: boolean;
  /** `--spa`: extensionless misses serve /index.html. */
  spa?: boolean;
  /** Serve HTTPS with this certificate and key (PEM text). */
  tls?: TlsFiles;
  /** `--metrics`: counted per connection and response (the endpoint is a middleware). */
  metrics?: HttpMetrics;
  /** HTML after the listing's heading (tar link, upload form). */
  listingActionsHtml?: string;
  /** The static handler's small-file cache (shared so uploads can invalidate it). */
  fileCache?: SmallFileCache;
  /** Where log lines go (default stdout). */
  writeLine?: (line: string) => void;
  /** Bind with SO_REUSEPORT (a `--workers` worker; needs --unstable-net). */
  reusePort?: boolean;
  /** A `--workers` worker's id: JSON access-log lines carry it as `worker`. */
  workerId?: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** "[25/Nov/2026:09:05:29 +0000]" (UTC), the common log format's time. */
export function formatClfTime(ms: number): string {
  const d = new Date(ms);
  return `[${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
    pad2(d.getUTCHours())
  }:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000]`;
}

/** Escapes `"`, `\` and non-printable bytes as \xHH, as nginx does in its logs. */
export function escapeLogField(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c
      ? `\\x${c.toString(16).padStart(2, "0")}`
      : text[i];
  }
  return out;
}

/**
 * One access-log line. `common` and `combined` are the Apache/nginx formats with the
 * response time in ms appended as a last field; `json` is one object per line.
 */
export function formatAccessLog(
  entry: AccessLogEntry,
  format: LogFormat,
  workerId?: number,
): string {
  if (format === "json") {
    return JSON.stringify({
      ...(workerId === undefined ? {} : { worker: workerId }),
      time: new Date(entry.time).toISOString(),
      client: entry.client,
      method: entry.method,
      path: redactTargetUserinfo(entry.target),
      version: entry.version,
      status: entry.status,
      bytes: entry.bytes,
      ms: entry.ms,
      referer: entry.referer,
      userAgent: entry.userAgent,
    });
  }
  const request = entry.method === "-"
    ? "-"
    : escapeLogField(`${entry.method} ${redactTargetUserinfo(entry.target)} ${entry.version}`);
  let line = `${entry.client} - - ${
    formatClfTime(entry.time)
  } "${request}" ${entry.status} ${entry.bytes}`;
  if (format === "combined") {
    line += ` "${escapeLogField(entry.referer ?? "-")}" "${
      escapeLogField(entry.userAgent ?? "-")
    }"`;
  }
  return `${line} ${entry.ms}ms`;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * rustls' words for a bad --tls-cert/--tls-key pair, in the user's terms; rustls' own text
 * stays in parentheses for searching.
 */
function describeTlsError(err: unknown): string {
  const message = describeError(err);
  const plain = /No certificates found/i.test(message)
    ? "--tls-cert holds no PEM certificate"
    : /No keys found/i.test(message)
    ? "--tls-key holds no PEM private key"
    : /KeyMismatch/.test(message)
    ? "the private key does not belong to the certificate"
    : null;
  return plain === null ? message : `${plain} (${message})`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function secondsToMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : seconds * 1000;
}

function peerOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr as Deno.NetAddr;
  return `${formatHost(addr.hostname ?? "-")}:${addr.port ?? 0}`;
}

const TIMEOUT_OUTCOME: Record<TimeoutKind, string> = {
  "keep-alive": "closed",
  header: "request head incomplete; answered 408 and closed",
  body: "request body stalled; answered 408 and closed",
  write: "client stopped reading the response; closed",
};

/**
 * Answers a connection over `--max-connections` without parsing its request: a 503 in
 * one write as soon as the request starts to arrive ({@link OVER_CAPACITY_WAIT_MS}), then a
 * short drain ({@link OVER_CAPACITY_DRAIN_MS}) and close.
 */
async function answerOverCapacity(conn: Deno.Conn): Promise<void> {
  const body = "503 Service Unavailable: too many connections, retry shortly\n";
  const head = formatResponseHead({
    status: 503,
    headers: [
      ["Retry-After", String(OVER_CAPACITY_RETRY_AFTER_S)],
      ["Content-Type", "text/plain; charset=utf-8"],
    ],
    contentLength: body.length,
    keepAlive: false,
  });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, OVER_CAPACITY_WAIT_MS + OVER_CAPACITY_DRAIN_MS);
  const buf = new Uint8Array(16 * 1024);
  let pending: Promise<number | null> | null = conn.read(buf);
  pending.catch(() => {}); // awaited below, unless the write fails first
  try {
    let waitTimer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      pending,
      new Promise<"wait over">((resolve) => {
        waitTimer = setTimeout(() => resolve("wait over"), OVER_CAPACITY_WAIT_MS);
      }),
    ]);
    clearTimeout(waitTimer);
    if (first === null) return; // the client left without a word
    let total = 0;
    if (first !== "wait over") {
      total = first;
      pending = null;
    }
    await writeAll(conn, encodeResponse(head, new TextEncoder().encode(body)));
    await conn.closeWrite();
    while (total < OVER_CAPACITY_DRAIN_BYTES) {
      const n: number | null = await (pending ?? conn.read(buf));
      pending = null;
      if (n === null) break;
      total += n;
    }
  } catch {
    /* reset, or closed by the timer */
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** The HTTP server: {@link listen}, then {@link serve} until {@link shutdown}. */
export class HttpServer {
  readonly config: HttpServerConfig;
  readonly tracker: ConnectionTracker;
  #listener: Deno.Listener | null = null;
  #stopping = false;
  #log: BatchedLineWriter;
  #handler: Handler;
  #warn: (line: string) => void;
  #answeringOverCapacity = 0;
  #overCapacity = 0;
  #overCapacityLoggedAt = 0;

  constructor(config: HttpServerConfig) {
    this.config = config;
    const warn = config.warn ?? ((line: string) => console.error(line));
    this.#warn = warn;
    this.tracker = new ConnectionTracker({
      idleTimeoutMs: config.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
      headerTimeoutMs: config.headerTimeoutMs ?? HEADER_TIMEOUT_MS,
      bodyTimeoutMs: config.bodyTimeoutMs ?? BODY_TIMEOUT_MS,
      writeTimeoutMs: config.writeTimeoutMs ?? WRITE_TIMEOUT_MS,
      onTimeout: (conn, kind, afterMs) =>
        warn(
          `sockit: ${peerOf(conn)}: ${kind} timeout after ${(afterMs / 1000).toFixed(1)} s: ${
            TIMEOUT_OUTCOME[kind]
          }`,
        ),
    });
    this.#log = new BatchedLineWriter(config.writeLine ?? writeStdoutLine);
    this.#handler = compose(
      config.middleware ?? [],
      config.handler ??
        staticFiles({
          root: config.root,
          listing: config.listing,
          dotfiles: config.dotfiles,
          cacheSeconds: config.cacheSeconds,
          gzip: config.gzip,
          spa: config.spa,
          listingActionsHtml: config.listingActionsHtml,
          fileCache: config.fileCache,
        }),
    );
  }

  /** Binds; throws {@link CliFailure} when that is impossible. */
  listen(): Deno.NetAddr {
    const host = this.config.host ?? DEFAULT_HTTP_HOST;
    const port = this.config.port ?? DEFAULT_HTTP_PORT;
    try {
      const tls = this.config.tls;
      this.#listener = tls === undefined
        ? Deno.listen({ hostname: host, port, transport: "tcp", ...this.#reusePort() })
        : Deno.listenTls({
          hostname: host,
          port,
          transport: "tcp",
          cert: tls.cert,
          key: tls.key,
          ...this.#reusePort(),
        });
    } catch (err) {
      if (
        this.config.tls !== undefined && !(err instanceof Deno.errors.AddrInUse) &&
        !(err instanceof Deno.errors.PermissionDenied)
      ) {
        throw new UsageError(`cannot use --tls-cert/--tls-key: ${describeTlsError(err)}`);
      }
      const cause = err instanceof Deno.errors.AddrInUse
        ? "address already in use"
        : err instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : describeError(err);
      throw new CliFailure(
        "LISTEN_FAILED",
        `cannot listen on ${formatHost(host)}:${port}: ${cause}`,
      );
    }
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Only when asked: Deno exits the process on `reusePort` without --unstable-net. */
  #reusePort(): { reusePort?: boolean } {
    return this.config.reusePort ? { reusePort: true } : {};
  }

  /** Accepts connections until {@link shutdown}; never gives up on accept errors. */
  async serve(): Promise<void> {
    const listener = this.#listener;
    if (listener === null) throw new Error("listen() first");
    const format = this.config.logFormat ?? "common";
    const log = this.#log;
    const logRequest = this.config.quiet
      ? undefined
      : (entry: AccessLogEntry) => log.write(formatAccessLog(entry, format, this.config.workerId));
    const metrics = this.config.metrics;
    // --metrics counts every response, --quiet or not.
    const onRequest = metrics === undefined ? logRequest : (entry: AccessLogEntry) => {
      metrics.recordResponse(entry.status, entry.bytes);
      logRequest?.(entry);
    };
    // Credentials (Authorization, Cookie, user:pass@ in the target) never reach the log.
    const onHead = this.config.trace
      ? (client: string, head: Uint8Array) =>
        log.write(`${client} request head: ${escapeBytes(redactRequestHead(head))}`)
      : undefined;
    const onInternalError = (req: RequestHead, err: unknown) =>
      console.error(`sockit: internal error on ${req.method} ${req.target}: ${describeError(err)}`);
    const warn = this.#warn;
    const onAbort = (client: string, req: RequestHead | null, reason: string) =>
      warn(
        `sockit: ${client}: ${
          req === null ? "response" : `${req.method} ${req.target}`
        } cut off: ${reason}`,
      );
    const options = {
      tracker: this.tracker,
      limits: this.config.limits ?? DEFAULT_REQUEST_LIMITS,
      onHead,
      onRequest,
      onInternalError,
      onAbort,
    };
    const maxConnections = this.config.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    let backoffMs = ACCEPT_BACKOFF_MIN_MS;
    while (!this.#stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoffMs = ACCEPT_BACKOFF_MIN_MS;
      } catch (err) {
        if (this.#stopping) break;
        // EMFILE and friends: the pending connection stays queued, so retrying at once
        // would spin. Back off; closing connections frees descriptors.
        console.error(`sockit: accept failed: ${describeError(err)}; retrying in ${backoffMs} ms`);
        await delay(backoffMs);
        backoffMs = Math.min(backoffMs * 2, ACCEPT_BACKOFF_MAX_MS);
        continue;
      }
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch { /* not TCP, or already reset */ }
      if (maxConnections > 0 && this.tracker.size >= maxConnections) {
        this.#refuseOverCapacity(conn, maxConnections);
        continue;
      }
      if (metrics === undefined) {
        serveConnection(conn, this.#handler, options);
      } else {
        metrics.connectionOpened();
        serveConnection(conn, this.#handler, options).finally(() => metrics.connectionClosed());
      }
    }
  }

  #refuseOverCapacity(conn: Deno.Conn, limit: number): void {
    this.#overCapacity++;
    const now = Date.now();
    if (now - this.#overCapacityLoggedAt >= OVER_CAPACITY_LOG_INTERVAL_MS) {
      this.#overCapacityLoggedAt = now;
      this.#warn(
        `sockit: --max-connections ${limit} reached: ${this.#overCapacity} connection(s) ` +
          "refused with 503 so far",
      );
    }
    if (this.#answeringOverCapacity >= MAX_OVER_CAPACITY_ANSWERS) {
      try {
        conn.close();
      } catch { /* closed */ }
      return;
    }
    this.#answeringOverCapacity++;
    answerOverCapacity(conn).finally(() => this.#answeringOverCapacity--);
  }

  /**
   * Stops accepting, lets in-flight responses finish within the shutdown timeout, closes
   * whatever is left after it, flushes the log.
   */
  async shutdown(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    const graceMs = this.config.shutdownTimeoutMs ?? SHUTDOWN_GRACE_MS;
    const open = this.tracker.size;
    const finished = await this.tracker.shutdown(graceMs);
    if (!finished) {
      this.#warn(
        `sockit: shutdown timeout (${graceMs / 1000} s): closed what was still busy of the ` +
          `${open} connection(s) open at the signal`,
      );
    }
    this.#log.flush();
  }
}

/** Non-loopback addresses to print when listening on all interfaces. */
export function lanAddresses(host: string): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [];
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    return []; // no --allow-sys: the listening line alone still says everything needed
  }
  const out: string[] = [];
  for (const i of interfaces) {
    if (i.family === "IPv4" && !i.address.startsWith("127.")) out.push(i.address);
    if (
      host === "::" && i.family === "IPv6" && i.address !== "::1" &&
      !i.address.toLowerCase().startsWith("fe80")
    ) out.push(i.address);
  }
  return [...new Set(out)];
}

async function resolveRoot(dir: string | undefined): Promise<string> {
  const path = dir ?? defaultSiteRoot();
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (dir === undefined) {
      throw new CliFailure("NO_SITE", `built-in site missing at ${path}: ${describeError(err)}`);
    }
    const why = err instanceof Deno.errors.NotFound ? "no such directory" : describeError(err);
    throw new UsageError(`cannot serve '${dir}': ${why}`);
  }
  if (!info.isDirectory) throw new UsageError(`cannot serve '${path}': not a directory`);
  return await canonicalRoot(path);
}

/** Reads --tls-cert/--tls-key; both or neither; a missing file is a usage error. */
async function readTlsFiles(flags: HttpServeFlags): Promise<TlsFiles | undefined> {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) {
    throw new UsageError("--tls-cert and --tls-key go together: give both PEM files");
  }
  const read = async (file: string, flag: string) => {
    try {
      return await Deno.readTextFile(file);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound ? "no such file" : describeError(err);
      throw new UsageError(`cannot read ${flag} '${file}': ${why}`);
    }
  };
  return {
    cert: await read(flags.tlsCert, "--tls-cert"),
    key: await read(flags.tlsKey, "--tls-key"),
  };
}

/** True for hosts only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.startsWith("127.") || h === "::1";
}

/** The folder-sharing features (sharing.ts) as resolved from the flags. */
interface SharingSetup {
  /** Outermost first: auth, metrics endpoint, uploads, tar download, clean URLs. */
  middleware: Middleware[];
  metrics?: HttpMetrics;
  fileCache: SmallFileCache;
  listingActionsHtml: string;
  /** At least one --auth user. */
  authenticated: boolean;
}

/**
 * Checks and assembles --auth, --upload (--max-upload, --overwrite), --metrics,
 * --clean-urls and the listing's tar download. Throws UsageError for a wrong combination or
 * --auth value (never echoing a password), CliFailure when uploads could not be written.
 */
async function sharingSetup(
  root: string,
  dir: string | undefined,
  flags: HttpServeFlags,
): Promise<SharingSetup> {
  const credentials = (flags.auth ?? []).map(parseAuthSpec);
  const upload = flags.upload ?? false;
  if (!upload && flags.overwrite) throw new UsageError("--overwrite needs --upload");
  if (!upload && flags.maxUpload !== undefined) {
    throw new UsageError("--max-upload needs --upload");
  }
  if (upload && dir === undefined) {
    throw new UsageError("--upload needs a DIR to store files in (not the built-in site)");
  }
  if (upload) {
    const permission = await Deno.permissions.query({ name: "write", path: root });
    if (permission.state !== "granted") {
      throw new CliFailure(
        "NO_WRITE_PERMISSION",
        `--upload needs write access to ${root}: run deno with --allow-write`,
      );
    }
  }
  const listing = flags.listing ?? true;
  const dotfiles = flags.dotfiles ?? false;
  const fileCache = new SmallFileCache();
  const metrics = flags.metrics ? new HttpMetrics() : undefined;
  const middleware: Middleware[] = [
    ...(credentials.length > 0 ? [withBasicAuth(credentials)] : []),
    ...(metrics ? [withMetricsEndpoint(metrics)] : []),
    ...(upload
      ? [withUploads({
        root,
        dotfiles,
        maxBytes: flags.maxUpload,
        overwrite: flags.overwrite,
        onStored: (path) => fileCache.forgetFile(path),
      })]
      : []),
    ...(listing ? [withTarDownload({ root, dotfiles })] : []),
    ...(flags.cleanUrls ? [withCleanUrls({ root, dotfiles })] : []),
  ];
  return {
    middleware,
    metrics,
    fileCache,
    listingActionsHtml: listingActionsHtml({ tar: listing, upload }),
    authenticated: credentials.length > 0,
  };
}

/**
 * --max-body, raised with --upload so an upload of --max-upload bytes (plus a form's
 * multipart framing) is not refused before the upload handler sees it.
 */
function requestLimits(flags: HttpServeFlags): RequestLimits | undefined {
  let maxBody = flags.maxBody;
  if (flags.upload) {
    const upload = (flags.maxUpload ?? DEFAULT_MAX_UPLOAD_BYTES) + MULTIPART_OVERHEAD_BYTES;
    maxBody = Math.max(maxBody ?? DEFAULT_REQUEST_LIMITS.maxBodyBytes, upload);
  }
  return maxBody === undefined ? undefined : { ...DEFAULT_REQUEST_LIMITS, maxBodyBytes: maxBody };
}

/** `--qr`: the QR code of the URL a phone should open, or one line saying why there is none. */
function printQr(host: string, port: number, scheme: string): void {
  let interfaces: Deno.NetworkInterfaceInfo[] = [];
  try {
    interfaces = Deno.networkInterfaces();
  } catch { /* no --allow-sys: only a specific --host can be shown */ }
  const url = lanUrlForQr(host, port, interfaces)?.replace(/^http:/, `${scheme}:`) ?? null;
  if (url === null) {
    console.error(
      "sockit: --qr: no network address besides loopback; a phone could not reach this server",
    );
    return;
  }
  if (isLoopbackHost(host)) {
    console.error(`sockit: --qr: ${host} is reachable from this machine only (try --host 0.0.0.0)`);
  }
  writeStdoutLine(`  scan to open ${url}`);
  writeStdoutLine(renderTerminalQr(url).trimEnd());
}

/** What {@link createHttpServe} built: the server (not yet listening) and what to announce. */
export interface HttpServeSetup {
  server: HttpServer;
  scheme: "http" | "https";
  /** At least one --auth user (the --upload warning depends on it). */
  authenticated: boolean;
}

/**
 * Checks the flags and builds the server `sockit http-serve` runs, without binding: the
 * single-worker path and every `--workers` worker (worker_entry.ts) build it here alike.
 */
export async function createHttpServe(
  dir: string | undefined,
  flags: HttpServeFlags,
  extra: Pick<HttpServerConfig, "reusePort" | "workerId" | "writeLine"> = {},
): Promise<HttpServeSetup> {
  const root = await resolveRoot(dir);
  const tls = await readTlsFiles(flags);
  const sharing = await sharingSetup(root, dir, flags);
  // Outermost first: --header reaches every answer; CORS sits outside any auth, since
  // browsers send no credentials on a preflight.
  const middleware: Middleware[] = [
    ...(flags.header?.length ? [withResponseHeaders(flags.header)] : []),
    ...(flags.cors
      ? [withCors({ allowMethods: flags.upload ? UPLOAD_ALLOWED_METHODS : undefined })]
      : []),
    ...sharing.middleware,
  ];
  const server = new HttpServer({
    root,
    host: flags.host,
    port: flags.port,
    listing: flags.listing,
    dotfiles: flags.dotfiles,
    logFormat: flags.logFormat,
    quiet: flags.quiet,
    trace: flags.trace,
    keepAliveTimeoutMs: secondsToMs(flags.keepAliveTimeout),
    headerTimeoutMs: secondsToMs(flags.headerTimeout),
    bodyTimeoutMs: secondsToMs(flags.bodyTimeout),
    writeTimeoutMs: secondsToMs(flags.writeTimeout),
    shutdownTimeoutMs: secondsToMs(flags.shutdownTimeout),
    maxConnections: flags.maxConnections,
    limits: requestLimits(flags),
    middleware,
    cacheSeconds: flags.cache,
    gzip: flags.gzip,
    spa: flags.spa,
    tls,
    metrics: sharing.metrics,
    listingActionsHtml: sharing.listingActionsHtml,
    fileCache: sharing.fileCache,
    ...extra,
  });
  return {
    server,
    scheme: tls === undefined ? "http" : "https",
    authenticated: sharing.authenticated,
  };
}

/** The listening line, LAN URLs, `--qr` and the open-upload warning; printed once. */
function announceHttpServe(
  addr: Deno.NetAddr,
  dir: string | undefined,
  flags: HttpServeFlags,
  setup: HttpServeSetup,
  workers: number,
): void {
  const { scheme } = setup;
  const serving = `serving ${dir ?? "the built-in site"}`;
  writeStdoutLine(
    listeningLine(
      "http-serve",
      scheme,
      addr.hostname,
      addr.port,
      workers > 1 ? `(${serving}; ${workers} workers)` : `(${serving})`,
    ),
  );
  for (const address of lanAddresses(addr.hostname)) {
    writeStdoutLine(`  on your network: ${scheme}://${formatHost(address)}:${addr.port}/`);
  }
  if (flags.qr) printQr(addr.hostname, addr.port, scheme);
  if (flags.upload && !setup.authenticated && !isLoopbackHost(addr.hostname)) {
    console.error(
      "sockit: warning: --upload without --auth: anyone who can reach this port can store files",
    );
  }
}

/** CLI entry: validates, binds, prints the listening line, serves until SIGINT/SIGTERM. */
export async function runHttpServe(dir: string | undefined, flags: HttpServeFlags): Promise<void> {
  const setup = await createHttpServe(dir, flags);
  const workers = workerCountOrFallback(flags.workers ?? 1);
  if (workers > 1) {
    const { workers: _, ...workerFlags } = flags;
    await runWorkerPool({
      kind: "http-serve",
      count: workers,
      host: flags.host ?? DEFAULT_HTTP_HOST,
      port: flags.port ?? DEFAULT_HTTP_PORT,
      args: { dir, flags: { ...workerFlags } },
      shutdownTimeoutMs: secondsToMs(flags.shutdownTimeout) ?? SHUTDOWN_GRACE_MS,
    }, (addr) => announceHttpServe(addr, dir, flags, setup, workers));
    return;
  }
  const { server } = setup;
  const addr = server.listen();
  // Handlers first: a script may send SIGTERM as soon as it reads the listening line.
  let stopped: Promise<void> = Promise.resolve();
  const removeHandlers = onShutdownSignal(() => {
    stopped = server.shutdown();
  });
  announceHttpServe(addr, dir, flags, setup, 1);
  const serving = server.serve();
  await serving;
  await stopped;
  removeHandlers();
}
