/**
 * Event logging for the servers: one line per event, human text or one JSON object, and
 * a byte escaper that shows exactly what came over the wire (`b'GET / HTTP/1.1\r\n'`).
 *
 * Logging never blocks serving. A server's stdout is often a pipe, and when nobody reads it
 * the pipe's buffer (64 KiB on Linux) fills: a synchronous write (`Deno.stdout.writeSync`,
 * `console.log`) then stops the whole event loop, every client with it. So
 * {@link writeStdoutLine} and {@link writeStderrLine} only queue the line; one pump per
 * stream (an {@link AsyncLineSink}) awaits `Deno.stdout.write`, which Deno performs off the
 * event loop. Measured with Deno 2.9.6: while an async 1 MiB write to a pipe nobody read was
 * pending, a 10 ms interval fired 97 times in one second and a TCP round trip was served;
 * the same write with `writeSync` froze the process. The queue is bounded
 * ({@link MAX_PENDING_LOG_BYTES}): lines past it are dropped and counted, and once the
 * reader has caught up one line says how many were lost. {@link flushLogs} waits for the
 * queues before exiting, but never longer than {@link LOG_FLUSH_TIMEOUT_MS}.
 *
 * ```ts
 * const log = new EventLog({ json: false });
 * log.event("connect", { peer: "127.0.0.1:5000" }, "connected by 127.0.0.1:5000");
 * writeStdoutLine(escapeBytes(new TextEncoder().encode("hi\r\n"))); // b'hi\r\n'
 * writeStderrLine("sockit: warning: something odd");
 * await flushLogs(); // before Deno.exit, so queued lines are not lost
 * ```
 *
 * @module
 */

/** How many bytes of a message a log line shows before truncating. */
export const DEFAULT_LOG_PREVIEW_BYTES = 200;

const HEX = "0123456789abcdef";

/**
 * Renders bytes like a Python bytes literal: printable ASCII as is, `\r \n \t \\ \'`
 * escaped, everything else `\xNN`. Longer than `maxBytes`: cut, with `…(+N bytes)`.
 */
export function escapeBytes(bytes: Uint8Array, maxBytes = Infinity): string {
  const n = Math.min(bytes.length, maxBytes);
  let out = "b'";
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === 0x0d) out += "\\r";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x27) out += "\\'";
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += "\\x" + HEX[c >> 4] + HEX[c & 15];
  }
  out += "'";
  if (bytes.length > n) out += `…(+${bytes.length - n} bytes)`;
  return out;
}

/** Options for {@link EventLog}. */
export interface EventLogOptions {
  /** One JSON object per line instead of text. */
  json?: boolean;
  /** Where lines go. Default: stdout. */
  write?: (line: string) => void;
  /** A `--workers` worker's id: JSON events carry it as `worker`. */
  worker?: number;
}

const encoder = new TextEncoder();

/** Bytes `text` takes in UTF-8, without encoding it (lone surrogates count as U+FFFD, 3). */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a pair: 4 bytes for 2 code units
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/**
 * Bytes a log stream may hold queued or in flight; a line that would go past it is dropped
 * and counted. 1 MiB is ~8,000 access-log lines: seconds of a burst at thousands of requests
 * a second, enough to ride out a slow terminal or a log shipper's hiccup without loss, while
 * a reader that has stopped costs at most 1 MiB per stream, not the server.
 */
export const MAX_PENDING_LOG_BYTES = 1024 * 1024;

/**
 * How long {@link flushLogs} waits by default: a live reader (terminal, `tee`, a log
 * shipper) takes a full queue well within it, and a stalled one still lets the process
 * exit promptly, inside the usual 10 s a supervisor allows between SIGTERM and SIGKILL.
 */
export const LOG_FLUSH_TIMEOUT_MS = 2000;

/** Options for {@link AsyncLineSink}. */
export interface AsyncLineSinkOptions {
  /** Writes some of `bytes` and resolves with how many, like `Deno.stdout.write`. */
  write: (bytes: Uint8Array) => Promise<number>;
  /** Most bytes queued or being written at once. Default: {@link MAX_PENDING_LOG_BYTES}. */
  maxPendingBytes?: number;
  /** The stream's name in the "log lines dropped" line. Default: `"output"`. */
  name?: string;
}

/** The stream's reader is gone: nothing will ever be written again. */
function isClosedStreamError(err: unknown): boolean {
  if (err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.BadResource) {
    return true;
  }
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "EBADF";
}

/** How many lines `line` holds: a BatchedLineWriter batch is several joined by "\n". */
function countLines(line: string): number {
  let n = 1;
  for (let i = line.indexOf("\n"); i >= 0; i = line.indexOf("\n", i + 1)) n++;
  return n;
}

/** How many LF bytes `bytes` holds: the lines of a batch that was not written. */
function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}

/**
 * A bounded, asynchronous line writer for one stream. {@link AsyncLineSink.writeLine} only
 * queues and returns; a single pump writes the queue in call order, starting at once when
 * the queue goes from empty to non-empty (the listening line must reach a reader promptly)
 * and then writing everything that queued up meanwhile as one batch. Lines that would take
 * the queue past `maxPendingBytes` are dropped and counted; when the queue has drained, one
 * line says how many. A closed stream (EPIPE) silently drops everything from then on; any
 * other write error loses that batch only (counted like a drop).
 *
 * ```ts
 * const sink = new AsyncLineSink({ write: (b) => Deno.stdout.write(b), name: "stdout" });
 * sink.writeLine("hello");
 * await sink.flush(500); // true once written; false if stdout is not read within 500 ms
 * ```
 */
export class AsyncLineSink {
  readonly #write: (bytes: Uint8Array) => Promise<number>;
  readonly #maxPendingBytes: number;
  readonly #name: string;
  /** Lines without their "\n", encoded once per batch (not one buffer per line). */
  #queue: string[] = [];
  /** Queued plus in-flight bytes: what the limit bounds. */
  #pendingBytes = 0;
  /** Lines lost since the last "dropped" line. */
  #dropped = 0;
  #pumping = false;
  #closed = false;
  #idleWaiters = new Set<() => void>();

  constructor(options: AsyncLineSinkOptions) {
    this.#write = options.write;
    this.#maxPendingBytes = options.maxPendingBytes ?? MAX_PENDING_LOG_BYTES;
    this.#name = options.name ?? "output";
  }

  /** Bytes queued or being written. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Lines dropped and not yet reported. */
  get droppedLines(): number {
    return this.#dropped;
  }

  /** True once the stream has gone away (EPIPE): lines are dropped silently. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues `line` plus "\n"; an arrow property so it can be passed on as a callback. */
  writeLine = (line: string): void => {
    if (this.#closed) return;
    const bytes = utf8Length(line) + 1;
    if (this.#pendingBytes + bytes > this.#maxPendingBytes) {
      this.#dropped += countLines(line);
      // Already caught up (the line alone was too long): report now, not at the next drain.
      if (!this.#pumping) this.#queueDroppedReport();
    } else {
      this.#queue.push(line);
      this.#pendingBytes += bytes;
    }
    if (!this.#pumping && this.#queue.length > 0) {
      this.#pumping = true;
      this.#pump();
    }
  };

  /**
   * Resolves `true` once everything queued has been written (or the stream has closed),
   * `false` if that has not happened within `timeoutMs`: a stalled reader cannot hold the
   * caller forever.
   */
  flush(timeoutMs: number = LOG_FLUSH_TIMEOUT_MS): Promise<boolean> {
    if (!this.#pumping) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (drained: boolean) => {
        clearTimeout(timer);
        this.#idleWaiters.delete(onIdle);
        resolve(drained);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#idleWaiters.add(onIdle);
    });
  }

  /** The "dropped" line is not held to the limit: it is one short line on an empty queue. */
  #queueDroppedReport(): void {
    const n = this.#dropped;
    this.#dropped = 0;
    const line = `sockit: ${n} log line${n === 1 ? "" : "s"} dropped: ${this.#name} was not ` +
      "being read fast enough";
    this.#queue.push(line);
    this.#pendingBytes += utf8Length(line) + 1;
  }

  /** Joins the queue into one buffer: one encoding and one write for everything that waited. */
  #takeBatch(): Uint8Array {
    const queue = this.#queue;
    this.#queue = [];
    return encoder.encode(queue.join("\n") + "\n");
  }

  /** Runs while the queue is non-empty; never rejects. Started synchronously by writeLine. */
  async #pump(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#takeBatch();
      let off = 0;
      let written = true;
      try {
        while (off < batch.length) {
          const n = await this.#write(batch.subarray(off));
          if (!(n > 0)) throw new Deno.errors.WriteZero(`${this.#name}: wrote 0 bytes`);
          off += n;
          this.#pendingBytes -= n;
        }
      } catch (err) {
        this.#pendingBytes -= batch.length - off;
        if (isClosedStreamError(err)) {
          this.#closed = true;
          this.#queue = [];
          this.#pendingBytes = 0;
          this.#dropped = 0;
          break;
        }
        // Best effort: this batch is lost (a partly written line counts as lost), the
        // stream may still work for the next one.
        this.#dropped += countNewlines(batch.subarray(off));
        written = false;
      }
      // Report only after a write that worked: a stream failing every write would
      // otherwise spin here, failing to report the report.
      if (written && this.#queue.length === 0 && this.#dropped > 0) this.#queueDroppedReport();
    }
    this.#pumping = false;
    for (const onIdle of [...this.#idleWaiters]) onIdle();
  }
}

const stdoutSink = new AsyncLineSink({ write: (b) => Deno.stdout.write(b), name: "stdout" });
const stderrSink = new AsyncLineSink({ write: (b) => Deno.stderr.write(b), name: "stderr" });

/**
 * Queues a whole line for stdout and returns at once (see {@link AsyncLineSink}): a stdout
 * nobody reads costs dropped lines, never a blocked server; a closed one (EPIPE) is ignored.
 */
export function writeStdoutLine(line: string): void {
  stdoutSink.writeLine(line);
}

/** Like {@link writeStdoutLine}, for stderr: warnings that must not block serving either. */
export function writeStderrLine(line: string): void {
  stderrSink.writeLine(line);
}

/**
 * Resolves once every line queued for stdout and stderr has been written, or after
 * `timeoutMs`, whichever comes first: call it before `Deno.exit` so the last lines are not
 * lost, without hanging forever on a stdout nobody reads.
 */
export async function flushLogs(timeoutMs: number = LOG_FLUSH_TIMEOUT_MS): Promise<void> {
  await Promise.all([stdoutSink.flush(timeoutMs), stderrSink.flush(timeoutMs)]);
}

/**
 * Collects lines and hands them to `sink` once per event-loop turn, joined by "\n": one
 * call (one queued stdout line, or one postMessage to the main thread) per batch
 * instead of one per line. Call {@link BatchedLineWriter.flush} before exiting so the
 * last batch is not lost.
 *
 * ```ts
 * const lines = new BatchedLineWriter(writeStdoutLine);
 * lines.write("first");
 * lines.write("second"); // both reach stdout in one write on the next turn
 * ```
 */
export class BatchedLineWriter {
  #lines: string[] = [];
  #scheduled = false;
  readonly #sink: (text: string) => void;

  constructor(sink: (text: string) => void) {
    this.#sink = sink;
  }

  /** Queues one line; an arrow property so it can be passed on as a plain callback. */
  write = (line: string): void => {
    this.#lines.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), 0);
    }
  };

  /** Hands every queued line to the sink now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("\n");
    this.#lines = [];
    this.#sink(text);
  }
}

/** Writes one line per event: `text` in text mode, `{time, event, ...fields}` in JSON mode. */
export class EventLog {
  readonly json: boolean;
  #write: (line: string) => void;
  #worker: { worker?: number };

  constructor(options: EventLogOptions = {}) {
    this.json = options.json ?? false;
    this.#write = options.write ?? writeStdoutLine;
    this.#worker = options.worker === undefined ? {} : { worker: options.worker };
  }

  /** Logs one event; an arrow property, so it can be passed on as a plain callback. */
  event = (event: string, fields: Record<string, unknown>, text: string): void => {
    if (this.json) {
      this.#write(
        JSON.stringify({ time: new Date().toISOString(), ...this.#worker, event, ...fields }),
      );
    } else {
      this.#write(`${new Date().toISOString()} ${text}`);
    }
  };
}
