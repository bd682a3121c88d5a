/**
 * `sockit echo-server`: a TCP echo server with three framings, all read through
 * `lib/framing.ts`.
 *
 * - `raw` — RFC 862: every byte comes back exactly as sent; on the client's half-close the
 *   server finishes echoing, then closes.
 * - `line` — each LF-terminated line comes back with its terminator (works with `nc`).
 * - `length` — each 4-byte big-endian length-prefixed frame comes back as a frame.
 *
 * Every echo write is awaited before the next read, so a client that stops reading stalls
 * only its own connection and the server holds at most one buffer for it (backpressure).
 * The accept loop survives accept errors (EMFILE included) by backing off.
 *
 * ```ts
 * const server = new EchoServer(parseEchoServerOptions({ port: 0, mode: "line" }));
 * const { port } = server.listen();
 * // ... later
 * await server.shutdown("SIGTERM");
 * ```
 *
 * @module
 */
import { CliFailure, formatHost, listeningLine, onShutdownSignal, UsageError } from "../cli.ts";
import {
  BufferedReader,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LINE_BYTES,
  encodeFrame,
  FRAME_PREFIX_BYTES,
  FramingError,
  MAX_FRAME_PREFIX_VALUE,
  UnexpectedEofError,
  writeAll,
} from "../framing.ts";
import { DEFAULT_LOG_PREVIEW_BYTES, escapeBytes, EventLog, writeStdoutLine } from "../log.ts";
import { runWorkerPool, workerCountOrFallback } from "../net/workers.ts";

/** What one message is. */
export type EchoMode = "raw" | "line" | "length";

/**
 * Raw mode starts each connection with a small read and doubles it while reads come back
 * full, up to {@link RAW_MAX_READ_BYTES}: bulk transfers get large reads, while 1000 idle
 * connections cost ~2 KiB of buffer each instead of 64 KiB (measured: Deno's own floor is
 * ~13 KiB per open connection).
 */
export const RAW_MIN_READ_BYTES = 2 * 1024;
/** Largest raw-mode read: big enough that bulk echo is bound by the kernel, not by syscalls. */
export const RAW_MAX_READ_BYTES = 64 * 1024;
/** After this many consecutive small raw reads the big buffer is released (burst over). */
export const RAW_SHRINK_AFTER_SMALL_READS = 8;
/** Read buffer a line/length connection starts with (it grows only for big messages). */
export const MESSAGE_READ_BUFFER_BYTES = 1024;
/** Default `--idle-timeout`, seconds. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;
/** Default `--shutdown-timeout`, seconds: how long in-flight exchanges get to finish. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 5;
/** First pause after a failed accept (EMFILE, ENFILE, ...); doubles up to the maximum. */
export const ACCEPT_BACKOFF_MIN_MS = 10;
/** Longest pause between accept attempts while accept keeps failing. */
export const ACCEPT_BACKOFF_MAX_MS = 1000;
/**
 * Frames up to this size are echoed as one copied write (prefix + payload); bigger ones as
 * two writes, so a 16 MiB frame is not copied just to prepend 4 bytes.
 */
export const FRAME_COPY_THRESHOLD_BYTES = 64 * 1024;

/** Options as commander hands them over (see main.ts). */
export interface EchoServerFlags {
  host?: string;
  port?: number;
  mode?: string;
  reply?: string;
  maxFrame?: number;
  idleTimeout?: number;
  quiet?: boolean;
  json?: boolean;
  maxConnections?: number;
  shutdownTimeout?: number;
  /** --workers: isolates sharing the port (parseWorkers; 1 = this thread only). */
  workers?: number;
}

/** Validated server configuration. */
export interface EchoServerConfig {
  host: string;
  port: number;
  mode: EchoMode;
  /** Bytes sent instead of the echo (line mode appends the request's line ending). */
  reply: Uint8Array | null;
  /** Largest line (terminator included) or frame payload; unused in raw mode. */
  maxMessageBytes: number;
  /** Milliseconds without traffic before a connection is closed; 0 = never. */
  idleTimeoutMs: number;
  quiet: boolean;
  json: boolean;
  /** Open connections allowed at once; 0 = unlimited. */
  maxConnections: number;
  shutdownTimeoutMs: number;
  /** Bind with SO_REUSEPORT (a `--workers` worker; needs --unstable-net). */
  reusePort?: boolean;
}

/** Checks flag combinations (pure); throws {@link UsageError} naming the problem. */
export function parseEchoServerOptions(flags: EchoServerFlags): EchoServerConfig {
  const mode = (flags.mode ?? "raw") as EchoMode;
  if (!["raw", "line", "length"].includes(mode)) {
    throw new UsageError(`invalid --mode '${mode}': expected raw, line or length`);
  }
  if (mode === "raw" && flags.reply !== undefined) {
    throw new UsageError("--reply needs --mode line or --mode length (raw mode echoes bytes)");
  }
  if (mode === "raw" && flags.maxFrame !== undefined) {
    throw new UsageError("--max-frame needs --mode line or --mode length (raw mode has none)");
  }
  const maxMessageBytes = flags.maxFrame ??
    (mode === "line" ? DEFAULT_MAX_LINE_BYTES : DEFAULT_MAX_FRAME_BYTES);
  if (maxMessageBytes < 1 || (mode === "length" && maxMessageBytes > MAX_FRAME_PREFIX_VALUE)) {
    throw new UsageError(
      `invalid --max-frame '${maxMessageBytes}': expected 1 to ${MAX_FRAME_PREFIX_VALUE} bytes`,
    );
  }
  return {
    host: flags.host ?? "0.0.0.0",
    port: flags.port ?? 8000,
    mode,
    reply: flags.reply === undefined ? null : new TextEncoder().encode(flags.reply),
    maxMessageBytes,
    idleTimeoutMs: (flags.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_SECONDS) * 1000,
    quiet: flags.quiet ?? false,
    json: flags.json ?? false,
    maxConnections: flags.maxConnections ?? 0,
    shutdownTimeoutMs: (flags.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS) * 1000,
  };
}

/** Per-connection state; kept small because thousands may be open. */
interface Connection {
  conn: Deno.TcpConn;
  reader: BufferedReader;
  peer: string;
  openedAt: number;
  lastActivity: number;
  bytesOut: number;
  /** Waiting for the next message with nothing of it received yet. */
  idle: boolean;
  /** Set by shutdown: finish the exchange in flight, then close. */
  stopping: boolean;
  /** Why we closed it ourselves (idle timeout, shutdown), if we did. */
  closedBy: string | null;
  done: Promise<void>;
}

const LF = 0x0a;
const CR = 0x0d;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A running echo server: {@link listen}, then {@link serve} until {@link shutdown}. */
export class EchoServer {
  readonly config: EchoServerConfig;
  readonly log: EventLog;
  #listener: Deno.TcpListener | null = null;
  #connections = new Set<Connection>();
  #stopping = false;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #replyCrlf: Uint8Array | null = null;
  #replyLf: Uint8Array | null = null;
  #replyFrame: Uint8Array | null = null;

  constructor(config: EchoServerConfig, log = new EventLog({ json: config.json })) {
    this.config = config;
    this.log = log;
    if (config.reply) {
      this.#replyLf = concat(config.reply, new Uint8Array([LF]));
      this.#replyCrlf = concat(config.reply, new Uint8Array([CR, LF]));
      this.#replyFrame = encodeFrame(config.reply);
    }
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds the listening socket; throws {@link CliFailure} when that is impossible. */
  listen(): Deno.NetAddr {
    const { host, port } = this.config;
    try {
      // reusePort only when asked: Deno exits the process on it without --unstable-net.
      this.#listener = Deno.listen({
        hostname: host,
        port,
        transport: "tcp",
        ...(this.config.reusePort ? { reusePort: true } : {}),
      });
    } catch (err) {
      const cause = err instanceof Deno.errors.AddrInUse
        ? "address already in use"
        : err instanceof Deno.errors.PermissionDenied
        ? "permission denied (ports below 1024 need privileges)"
        : /lookup address|Name or service not known/i.test(describeError(err))
        ? `unknown host '${host}'`
        : describeError(err).replace(/\s*\(os error \d+\)$/, "").toLowerCase();
      throw new CliFailure(
        "LISTEN_FAILED",
        `cannot listen on ${formatHost(host)}:${port}: ${cause}`,
      );
    }
    return this.#listener.addr;
  }

  /** Accepts connections until {@link shutdown}; never gives up on accept errors. */
  async serve(): Promise<void> {
    const listener = this.#listener;
    if (!listener) throw new Error("listen() first");
    if (this.config.idleTimeoutMs > 0) {
      const period = Math.min(1000, Math.max(20, this.config.idleTimeoutMs / 4));
      this.#sweepTimer = setInterval(() => this.#closeIdle(), period);
    }
    let backoffMs = ACCEPT_BACKOFF_MIN_MS;
    while (!this.#stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
        backoffMs = ACCEPT_BACKOFF_MIN_MS;
      } catch (err) {
        if (this.#stopping) break;
        // EMFILE and friends: the pending connection stays queued, so retrying at once would
        // spin. Back off and try again; closing connections frees descriptors.
        this.log.event(
          "accept_error",
          { error: describeError(err), retry_ms: backoffMs },
          `accept failed: ${describeError(err)}; retrying in ${backoffMs} ms`,
        );
        await delay(backoffMs);
        backoffMs = Math.min(backoffMs * 2, ACCEPT_BACKOFF_MAX_MS);
        continue;
      }
      try {
        this.#admit(conn);
      } catch (err) {
        // A connection that died between accept and setup must not end the accept loop.
        this.log.event(
          "accept_error",
          { error: describeError(err) },
          `setup failed: ${describeError(err)}`,
        );
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    }
  }

  #admit(conn: Deno.TcpConn): void {
    const addr = conn.remoteAddr;
    const peer = `${formatHost(addr.hostname)}:${addr.port}`;
    const { maxConnections } = this.config;
    if (maxConnections > 0 && this.#connections.size >= maxConnections) {
      this.log.event(
        "reject",
        { peer, reason: "max-connections", limit: maxConnections },
        `rejected ${peer}: ${maxConnections} connections already open (--max-connections)`,
      );
      try {
        conn.close();
      } catch { /* already gone */ }
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch { /* peer already gone; the read will tell */ }
    const now = performance.now();
    const c: Connection = {
      conn,
      reader: new BufferedReader(conn, {
        initialBufferBytes: this.config.mode === "raw"
          ? RAW_MIN_READ_BYTES
          : MESSAGE_READ_BUFFER_BYTES,
      }),
      peer,
      openedAt: now,
      lastActivity: now,
      bytesOut: 0,
      idle: true,
      stopping: false,
      closedBy: null,
      done: Promise.resolve(),
    };
    this.#connections.add(c);
    this.log.event("connect", { peer }, `connected by ${peer}`);
    c.done = this.#handle(c);
  }

  async #handle(c: Connection): Promise<void> {
    let reason = "closed by client";
    try {
      if (this.config.mode === "raw") await this.#echoRaw(c);
      else if (this.config.mode === "line") await this.#echoLines(c);
      else await this.#echoFrames(c);
      if (c.stopping) reason = "server shutting down";
    } catch (err) {
      if (c.closedBy !== null) {
        reason = c.closedBy;
      } else if (err instanceof UnexpectedEofError) {
        reason = `client closed mid-message (${err.received} bytes of ${err.what})`;
      } else if (err instanceof FramingError) {
        reason = `${err.message} (${err.code}, limit set by --max-frame)`;
        this.log.event(
          "limit",
          { peer: c.peer, code: err.code, error: err.message },
          `${c.peer}: ${err.message} (${err.code}); closing the connection`,
        );
      } else {
        reason = describeError(err);
      }
    } finally {
      this.#close(c, null);
      this.#connections.delete(c);
      const durationMs = Math.round(performance.now() - c.openedAt);
      const bytesIn = c.reader.bytesRead;
      this.log.event(
        "close",
        { peer: c.peer, bytes_in: bytesIn, bytes_out: c.bytesOut, duration_ms: durationMs, reason },
        `${c.peer} closed: ${bytesIn} bytes in, ${c.bytesOut} bytes out, ${durationMs} ms (${reason})`,
      );
    }
  }

  #logMessage(c: Connection, message: Uint8Array): void {
    if (this.config.quiet) return;
    const data = escapeBytes(message, DEFAULT_LOG_PREVIEW_BYTES);
    this.log.event(
      "message",
      { peer: c.peer, bytes: message.length, data },
      `${c.peer} sent ${message.length} bytes: ${data}`,
    );
  }

  async #send(c: Connection, bytes: Uint8Array): Promise<void> {
    await writeAll(c.conn, bytes);
    c.bytesOut += bytes.length;
    c.lastActivity = performance.now();
  }

  /** RFC 862: whatever arrives goes back; EOF (half-close) ends the loop after the last echo. */
  async #echoRaw(c: Connection): Promise<void> {
    const { reader } = c;
    let offer = RAW_MIN_READ_BYTES;
    let smallReads = 0;
    while (!c.stopping) {
      c.idle = true;
      // fill(offer) makes room for `offer` bytes and reads once; the chunk is a view into
      // the reader's buffer, written back before the next read reuses it (no copy).
      if (!(await reader.fill(offer))) return;
      c.idle = false;
      const chunk = reader.takeBuffered();
      c.lastActivity = performance.now();
      this.#logMessage(c, chunk);
      await this.#send(c, chunk);
      if (chunk.length >= offer) {
        offer = Math.min(offer * 2, RAW_MAX_READ_BYTES);
        smallReads = 0;
      } else if (offer > RAW_MIN_READ_BYTES && chunk.length < offer / 8) {
        if (++smallReads >= RAW_SHRINK_AFTER_SMALL_READS) {
          reader.shrink();
          offer = RAW_MIN_READ_BYTES;
          smallReads = 0;
        }
      }
    }
  }

  async #echoLines(c: Connection): Promise<void> {
    const { reader } = c;
    const maxBytes = this.config.maxMessageBytes;
    // Pipelined lines already buffered are in flight too: finish them before stopping.
    while (!c.stopping || reader.buffered > 0) {
      if (!this.#replyLf && await this.#echoBufferedLines(c)) continue;
      c.idle = reader.buffered === 0;
      if (c.idle) reader.shrink();
      const line = await reader.readLine({ maxBytes });
      c.idle = false;
      if (line === null) return;
      c.lastActivity = performance.now();
      this.#logMessage(c, line);
      if (this.#replyLf) {
        const crlf = line.length >= 2 && line[line.length - 2] === CR;
        await this.#send(c, crlf ? this.#replyCrlf! : this.#replyLf);
      } else {
        await this.#send(c, line);
      }
    }
  }

  /**
   * Fast path for pipelined lines: every complete, within-limit line already buffered goes
   * back in ONE write straight from the read buffer (their echo is exactly those bytes), so
   * `nc < file` costs a syscall per read, not per line. False when no whole line is buffered
   * (the caller then waits with readLine, which also enforces the limit with its error).
   */
  async #echoBufferedLines(c: Connection): Promise<boolean> {
    const view = c.reader.peekBuffered();
    const maxBytes = this.config.maxMessageBytes;
    let end = 0;
    for (;;) {
      const lf = view.indexOf(LF, end);
      if (lf === -1 || lf + 1 - end > maxBytes) break;
      this.#logMessage(c, view.subarray(end, lf + 1));
      end = lf + 1;
    }
    if (end === 0) return false;
    c.idle = false;
    await this.#send(c, view.subarray(0, end));
    await c.reader.readExact(end); // consume what was just echoed (no read: it is buffered)
    return true;
  }

  async #echoFrames(c: Connection): Promise<void> {
    const { reader } = c;
    const maxBytes = this.config.maxMessageBytes;
    while (!c.stopping || reader.buffered > 0) {
      if (!this.#replyFrame && await this.#echoBufferedFrames(c)) continue;
      c.idle = reader.buffered === 0;
      if (c.idle) reader.shrink();
      const payload = await reader.readFrame({ maxBytes });
      c.idle = false;
      if (payload === null) return;
      c.lastActivity = performance.now();
      this.#logMessage(c, payload);
      if (this.#replyFrame) {
        await this.#send(c, this.#replyFrame);
      } else if (payload.length <= FRAME_COPY_THRESHOLD_BYTES) {
        await this.#send(c, encodeFrame(payload));
      } else {
        const prefix = new Uint8Array(FRAME_PREFIX_BYTES);
        new DataView(prefix.buffer).setUint32(0, payload.length);
        await this.#send(c, prefix);
        await this.#send(c, payload);
      }
    }
  }

  /** Like {@link #echoBufferedLines} for frames: a run of whole frames echoes as its own bytes. */
  async #echoBufferedFrames(c: Connection): Promise<boolean> {
    const view = c.reader.peekBuffered();
    const maxBytes = this.config.maxMessageBytes;
    let end = 0;
    while (view.length - end >= FRAME_PREFIX_BYTES) {
      const size = ((view[end] << 24) >>> 0) + (view[end + 1] << 16) + (view[end + 2] << 8) +
        view[end + 3];
      const next = end + FRAME_PREFIX_BYTES + size;
      if (size > maxBytes || next > view.length) break;
      this.#logMessage(c, view.subarray(end + FRAME_PREFIX_BYTES, next));
      end = next;
    }
    if (end === 0) return false;
    c.idle = false;
    await this.#send(c, view.subarray(0, end));
    await c.reader.readExact(end);
    return true;
  }

  /** Closes the socket (once); a pending read or write then fails and ends the handler. */
  #close(c: Connection, why: string | null): void {
    if (why !== null && c.closedBy === null) c.closedBy = why;
    try {
      c.conn.close();
    } catch { /* already closed */ }
  }

  #closeIdle(): void {
    const cutoff = performance.now() - this.config.idleTimeoutMs;
    for (const c of this.#connections) {
      if (c.lastActivity < cutoff && c.closedBy === null) {
        this.log.event(
          "idle_timeout",
          { peer: c.peer, idle_timeout_s: this.config.idleTimeoutMs / 1000 },
          `${c.peer}: idle for ${this.config.idleTimeoutMs / 1000} s; closing (--idle-timeout)`,
        );
        this.#close(c, "idle timeout");
      }
    }
  }

  /**
   * Graceful stop: no new connections, idle ones closed now, exchanges in flight get
   * `shutdownTimeoutMs` to finish, then everything left is closed.
   */
  async shutdown(signal = "shutdown"): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.log.event(
      "shutdown",
      { signal, open_connections: this.#connections.size },
      `${signal}: stopping; ${this.#connections.size} connection(s) open`,
    );
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    for (const c of this.#connections) {
      c.stopping = true;
      if (c.idle && c.reader.buffered === 0) this.#close(c, "server shutting down");
    }
    const all = Promise.all([...this.#connections].map((c) => c.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.config.shutdownTimeoutMs);
    });
    const late = await Promise.race([all.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      for (const c of this.#connections) this.#close(c, "shutdown timeout");
      await all;
    }
    clearInterval(this.#sweepTimer);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** CLI entry: validates flags, prints the listening line, serves until SIGINT/SIGTERM. */
export async function runEchoServer(flags: EchoServerFlags): Promise<void> {
  const config = parseEchoServerOptions(flags);
  // Always plain text, even with --json: scripts parse this one line (LISTENING_LINE_PATTERN).
  const announce = (addr: Deno.NetAddr, workers: number) =>
    writeStdoutLine(
      listeningLine(
        "echo-server",
        "tcp",
        addr.hostname,
        addr.port,
        workers > 1 ? `(mode ${config.mode}; ${workers} workers)` : `(mode ${config.mode})`,
      ),
    );
  const workers = workerCountOrFallback(flags.workers ?? 1);
  if (workers > 1) {
    const { workers: _, ...workerFlags } = flags;
    await runWorkerPool({
      kind: "echo-server",
      count: workers,
      host: config.host,
      port: config.port,
      args: { flags: { ...workerFlags } },
      shutdownTimeoutMs: config.shutdownTimeoutMs,
    }, (addr) => announce(addr, workers));
    return;
  }
  const server = new EchoServer(config);
  const addr = server.listen();
  // Handlers first: a script may send SIGTERM as soon as it reads the listening line.
  let stopped: Promise<void> = Promise.resolve();
  const removeHandlers = onShutdownSignal((signal) => {
    stopped = server.shutdown(signal);
  });
  announce(addr, 1);
  const serving = server.serve();
  await serving;
  await stopped;
  removeHandlers();
}
