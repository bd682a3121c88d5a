/**
 * Event logging for the servers: one line per event, human text or one JSON object, and
 * a byte escaper that shows exactly what came over the wire (`b'GET / HTTP/1.1\r\n'`).
 *
 * ```ts
 * const log = new EventLog({ json: false });
 * log.event("connect", { peer: "127.0.0.1:5000" }, "connected by 127.0.0.1:5000");
 * console.log(escapeBytes(new TextEncoder().encode("hi\r\n"))); // b'hi\r\n'
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

/** Writes a whole line to stdout; a closed stdout (EPIPE) must not take the server down. */
export function writeStdoutLine(line: string): void {
  const bytes = encoder.encode(line + "\n");
  try {
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  } catch {
    // stdout went away (pipe closed); logging is best-effort.
  }
}

/**
 * Collects lines and hands them to `sink` once per event-loop turn, joined by "\n": one
 * write (a blocking stdout write, or one postMessage to the main thread) per batch
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

  /** Logs one event. */
  event(event: string, fields: Record<string, unknown>, text: string): void {
    if (this.json) {
      this.#write(
        JSON.stringify({ time: new Date().toISOString(), ...this.#worker, event, ...fields }),
      );
    } else {
      this.#write(`${new Date().toISOString()} ${text}`);
    }
  }
}
