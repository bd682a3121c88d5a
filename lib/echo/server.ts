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
 Accepting, `--max-connections`, shutdown and `--workers` come from the shared core
 * (`lib/net/`); this module is the echo handler and its log lines.
 *
 * ```ts
 * import { EchoServer } from "./server.ts";
 * import { resolveEchoServerConfig } from "./config.ts";
 * const server = new EchoServer(resolveEchoServerConfig({ host: "127.0.0.1", port: 0 }));
 * const { port } = server.listen();
 * const serving = server.serve();
 * await server.shutdown("SIGTERM");
 * await serving;
 * console.log(port);
 * ```
 *
 * @module
 */
import { describeError } from "../errors.ts";
import {
  BufferedReader,
  concatBytes,
  decodeFramePrefix,
  encodeFrame,
  encodeFramePrefix,
  FRAME_PREFIX_BYTES,
  FramingError,
  UnexpectedEofError,
  writeAll,
} from "../framing.ts";
import {
  DEFAULT_LOG_PREVIEW_BYTES,
  escapeBytes,
  EventLog,
  writeStderrLine,
  writeStdoutLine,
} from "../log.ts";
import { UDP_NO_WORKERS_REASON } from "../net/udp.ts";
import { createEchoUdpServer } from "./udp_server.ts";
import { listeningLine, peerOf } from "../net/address.ts";
import { lingeringClose } from "../net/linger.ts";
import type { ListenOptions } from "../net/listen.ts";
import { closingRefusal } from "../net/refusal.ts";
import { type RunnableServer, runServer } from "../net/run.ts";
import { TcpServer } from "../net/server.ts";
import { listeningLines } from "../net/tls.ts";
import { workerCountOrFallback } from "../net/workers.ts";
import {
  type EchoServerConfig,
  type EchoServerFlags,
  loadEchoServerConfig,
  resolveEchoServerConfig,
} from "./config.ts";

export type { EchoMode, EchoServerConfig, EchoServerFlags } from "./config.ts";

/** With `--close-after-reply`, input is drained this long after the answer, then closed. */
export const CLOSE_AFTER_REPLY_LINGER_MS = 1_000;

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
/**
 * Frames up to this size are echoed as one copied write (prefix + payload); bigger ones as
 * two writes, so a 16 MiB frame is not copied just to prepend 4 bytes.
 */
export const FRAME_COPY_THRESHOLD_BYTES = 64 * 1024;

/** Per-connection state; kept small because thousands may be open. */
interface Connection {
  conn: Deno.Conn;
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
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The echo protocol as a connection handler on the shared {@link TcpServer}: the core
 * accepts, limits and shuts down; this class echoes, times out idle peers and logs.
 */
export class EchoServer implements RunnableServer {
  readonly config: EchoServerConfig;
  readonly log: EventLog;
  readonly #tcp: TcpServer;
  #connections = new Set<Connection>();
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #replyCrlf: Uint8Array | null = null;
  #replyLf: Uint8Array | null = null;
  #replyFrame: Uint8Array | null = null;

  /** `listen` overrides where to bind (a `--workers` worker: its port, reusePort). */
  constructor(
    config: EchoServerConfig,
    log: EventLog = new EventLog({ json: config.json }),
    listen: Partial<ListenOptions> = {},
  ) {
    this.config = config;
    this.log = log;
    if (config.reply) {
      this.#replyLf = concatBytes(config.reply, new Uint8Array([LF]));
      this.#replyCrlf = concatBytes(config.reply, new Uint8Array([CR, LF]));
      this.#replyFrame = encodeFrame(config.reply);
    }
    this.#tcp = new TcpServer({
      host: config.host,
      port: config.port,
      tls: config.tls,
      ...listen,
      maxConnections: config.maxConnections,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      log: this.log.event,
    }, {
      handle: (conn) => this.#admit(conn),
      refuse: closingRefusal(config.maxConnections, this.log.event),
      beginShutdown: () => this.#beginShutdown(),
      closeAll: () => {
        for (const c of this.#connections) this.#close(c, "shutdown timeout");
      },
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
  async serve(): Promise<void> {
    if (this.config.idleTimeoutMs > 0) {
      const period = Math.min(1000, Math.max(20, this.config.idleTimeoutMs / 4));
      this.#sweepTimer = setInterval(() => this.#closeIdle(), period);
    }
    try {
      await this.#tcp.serve();
    } finally {
      if (!this.#tcp.stopping) clearInterval(this.#sweepTimer);
    }
  }

  #admit(conn: Deno.Conn): Promise<void> {
    const peer = peerOf(conn);
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
    };
    this.#connections.add(c);
    this.log.event("connect", { peer }, `connected by ${peer}`);
    return this.#handle(c);
  }

  async #handle(c: Connection): Promise<void> {
    let reason = "closed by client";
    try {
      if (this.config.mode === "raw") await this.#echoRaw(c);
      else if (this.config.mode === "line") await this.#echoLines(c);
      else await this.#echoFrames(c);
      if (c.closedBy !== null) reason = c.closedBy;
      else if (c.stopping) reason = "server shutting down";
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

  #send(c: Connection, bytes: Uint8Array): Promise<void> {
    return writeAll(c.conn, bytes).then(() => {
      c.bytesOut += bytes.length;
      c.lastActivity = performance.now();
    });
  }

  /**
   * RFC 862: whatever arrives goes back; EOF (half-close) ends the loop after the last echo.
   * In raw mode "a message" is whatever one read returns, so `--reply` answers every read
   * (what a tutorial's `recv(1024)`-then-`send("Yes")` server does).
   */
  async #echoRaw(c: Connection): Promise<void> {
    const { reader } = c;
    const reply = this.config.reply;
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
      await this.#send(c, reply ?? chunk);
      if (this.config.closeAfterReply) return await this.#closeAfterReply(c);
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

  /**
   * `--close-after-reply`: half-close and drain briefly before the close, so input the
   * client is still sending does not turn the close into a reset that destroys the answer.
   */
  async #closeAfterReply(c: Connection): Promise<void> {
    c.closedBy = "answered once (--close-after-reply)";
    await lingeringClose(c.conn, { ms: CLOSE_AFTER_REPLY_LINGER_MS });
  }

  async #echoLines(c: Connection): Promise<void> {
    const { reader } = c;
    const maxBytes = this.config.maxMessageBytes;
    // Pipelined lines already buffered are in flight too: finish them before stopping.
    while (!c.stopping || reader.buffered > 0) {
      if (!this.#replyLf && !this.config.closeAfterReply && await this.#echoBufferedLines(c)) {
        continue;
      }
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
      if (this.config.closeAfterReply) return await this.#closeAfterReply(c);
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
      if (!this.#replyFrame && !this.config.closeAfterReply && await this.#echoBufferedFrames(c)) {
        continue;
      }
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
        await this.#send(c, encodeFramePrefix(payload.length));
        await this.#send(c, payload);
      }
      if (this.config.closeAfterReply) return await this.#closeAfterReply(c);
    }
  }

  /** Like {@link #echoBufferedLines} for frames: a run of whole frames echoes as its own bytes. */
  async #echoBufferedFrames(c: Connection): Promise<boolean> {
    const view = c.reader.peekBuffered();
    const maxBytes = this.config.maxMessageBytes;
    let end = 0;
    while (view.length - end >= FRAME_PREFIX_BYTES) {
      const size = decodeFramePrefix(view, end);
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

  #beginShutdown(): void {
    for (const c of this.#connections) {
      c.stopping = true;
      if (c.idle && c.reader.buffered === 0) this.#close(c, "server shutting down");
    }
  }

  /**
   * Graceful stop: no new connections, idle ones closed now, exchanges in flight get
   * `shutdownTimeoutMs` to finish, then everything left is closed.
   */
  async shutdown(signal = "shutdown"): Promise<void> {
    if (this.#tcp.stopping) return;
    this.log.event(
      "shutdown",
      { signal, open_connections: this.#connections.size },
      `${signal}: stopping; ${this.#connections.size} connection(s) open`,
    );
    await this.#tcp.shutdown();
    clearInterval(this.#sweepTimer);
  }
}

/** Builds the server a config describes (the main thread's, or a worker's). */
export function createEchoServer(
  config: EchoServerConfig,
  worker?: { id: number; port: number; writeLine: (line: string) => void },
): EchoServer {
  if (worker === undefined) return new EchoServer(config);
  return new EchoServer(
    config,
    new EventLog({ json: config.json, write: worker.writeLine, worker: worker.id }),
    { port: worker.port, reusePort: true },
  );
}

/** CLI entry: validates flags, prints the listening line, serves until SIGINT/SIGTERM. */
export async function runEchoServer(flags: EchoServerFlags): Promise<void> {
  const config = await loadEchoServerConfig(resolveEchoServerConfig(flags));
  if (config.udp) return await runEchoUdpServer(config);
  const workers = workerCountOrFallback(config.workers);
  await runServer({
    config,
    workers,
    create: createEchoServer,
    spawnWorker: () => new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }),
    // Always plain text, even with --json: scripts parse it; JSON events follow, not TLS pin lines.
    announce: (addr) => {
      const notes = [`mode ${config.mode}`, ...(workers > 1 ? [`${workers} workers`] : [])];
      const lines = listeningLines("echo-server", "tcp", addr, notes, config.tls);
      for (const line of config.json ? lines.slice(0, 1) : lines) writeStdoutLine(line);
    },
  });
}

/** `--udp`: the datagram echo, in this thread (UDP cannot share a port between workers). */
async function runEchoUdpServer(config: EchoServerConfig): Promise<void> {
  workerCountOrFallback(
    config.workers,
    writeStderrLine,
    config.workers > 1 ? UDP_NO_WORKERS_REASON : null,
  );
  await runServer({
    config,
    workers: 1,
    create: (c) => createEchoUdpServer(c),
    spawnWorker: () => {
      throw new Error("UDP runs in one thread");
    },
    announce: (addr) =>
      writeStdoutLine(
        listeningLine("echo-server", "udp", addr.hostname, addr.port, `(mode ${config.mode})`),
      ),
  });
}
