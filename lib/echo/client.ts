/**
 * `sockit echo-client`: sends messages to an echo server and prints the replies, round-trip
 * times and a ping-style summary. Also a one-line CI check (`--expect`) and a "wait until the
 * service is up" helper (`--wait`).
 *
 * Messages come from the command line or stdin (lines in line/length mode, a byte stream in
 * raw mode — half-closed after stdin ends, then everything echoed is printed until the
 * server closes). Every failure is one line on stderr naming the address and the cause.
 *
 * ```ts
 * const code = await runEchoClient("127.0.0.1:8000", ["hello"], { mode: "line", expect: "hello" });
 * ```
 *
 * @module
 */
import { ConfigError, EXIT_FAILURE, EXIT_OK } from "../errors.ts";
import { formatHost } from "../net/address.ts";
import {
  connectWithRetry,
  delay,
  describeNetworkError,
  EchoClientError,
  parseAddress,
  withReplyTimeout,
} from "./connect.ts";
import {
  BufferedReader,
  concatBytes,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  stripLineEnding,
  UnexpectedEofError,
  writeAll,
} from "../framing.ts";
import { DEFAULT_LOG_PREVIEW_BYTES } from "../log.ts";

/** Largest reply (line or frame) the client accepts, and the longest stdin line. */
export const MAX_REPLY_BYTES = DEFAULT_MAX_FRAME_BYTES;
/** Read buffer for replies; grows for big replies. */
export const CLIENT_READ_BUFFER_BYTES = 64 * 1024;

/** Options as commander hands them over (see main.ts). */
export interface EchoClientFlags {
  mode?: string;
  count?: number;
  interval?: number;
  timeout?: number;
  wait?: number;
  expect?: string;
  json?: boolean;
}

/** Round-trip statistics, as printed by the summary. */
export interface RttSummary {
  sent: number;
  received: number;
  lossPercent: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
  p99Ms: number;
}

/** Computes the ping-style summary (pure); the p99 is the nearest-rank percentile. */
export function summarizeRtts(sent: number, rttsMs: readonly number[]): RttSummary {
  const received = rttsMs.length;
  const sorted = [...rttsMs].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  const rank = Math.max(1, Math.ceil(0.99 * received));
  return {
    sent,
    received,
    lossPercent: sent === 0 ? 0 : ((sent - received) / sent) * 100,
    minMs: received ? sorted[0] : 0,
    avgMs: received ? sum / received : 0,
    maxMs: received ? sorted[received - 1] : 0,
    p99Ms: received ? sorted[rank - 1] : 0,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Prints text for humans; a reply is shown as text, invalid UTF-8 replaced. */
function quote(bytes: Uint8Array): string {
  const shown = bytes.length > DEFAULT_LOG_PREVIEW_BYTES
    ? decoder.decode(bytes.subarray(0, DEFAULT_LOG_PREVIEW_BYTES)) +
      `…(+${bytes.length - DEFAULT_LOG_PREVIEW_BYTES} bytes)`
    : decoder.decode(bytes);
  return JSON.stringify(shown);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Writes to stdout; a closed stdout (e.g. `| head`) just stops the output. */
async function writeStdout(bytes: Uint8Array): Promise<void> {
  try {
    await writeAll(Deno.stdout, bytes);
  } catch { /* stdout closed */ }
}

function printLine(line: string): Promise<void> {
  return writeStdout(encoder.encode(line + "\n"));
}

type Mode = "raw" | "line" | "length";

/** One request/response over an open connection, framed by `mode`. */
class EchoSession {
  readonly reader: BufferedReader;
  constructor(readonly conn: Deno.TcpConn, readonly mode: Mode, readonly timeoutMs: number) {
    this.reader = new BufferedReader(conn, { initialBufferBytes: CLIENT_READ_BUFFER_BYTES });
  }

  /** Sends `message` and resolves with the reply as received (line: terminator included). */
  async exchange(message: Uint8Array): Promise<Uint8Array> {
    const { conn, reader } = this;
    let out: Uint8Array;
    if (this.mode === "line") {
      out = message[message.length - 1] === 0x0a ? message : concatBytes(message, NEWLINE);
    } else if (this.mode === "length") {
      out = encodeFrame(message);
    } else {
      out = message;
    }
    const read = (async () => {
      // Write and read concurrently: a big raw message must not deadlock against a server
      // that echoes while we are still writing.
      const writing = writeAll(conn, out);
      let reply: Uint8Array | null;
      if (this.mode === "line") reply = await reader.readLine({ maxBytes: MAX_REPLY_BYTES });
      else if (this.mode === "length") {
        reply = await reader.readFrame({ maxBytes: MAX_REPLY_BYTES });
      } else reply = await reader.readExact(message.length, "the echo");
      await writing;
      if (reply === null) {
        throw new EchoClientError("CLOSED", "connection closed by the server before the reply");
      }
      return reply;
    })();
    return await withReplyTimeout(conn, this.timeoutMs, read);
  }

  /** The part of a reply that --expect compares and the text output prints. */
  content(reply: Uint8Array): Uint8Array {
    return this.mode === "line" ? stripLineEnding(reply) : reply;
  }
}

const NEWLINE = new Uint8Array([0x0a]);

/** Yields stdin's lines (terminator included; a last unterminated line too). */
async function* stdinLines(): AsyncGenerator<Uint8Array> {
  const reader = new BufferedReader(Deno.stdin, { initialBufferBytes: CLIENT_READ_BUFFER_BYTES });
  for (;;) {
    let line: Uint8Array | null;
    try {
      line = await reader.readLine({ maxBytes: MAX_REPLY_BYTES });
    } catch (err) {
      if (err instanceof UnexpectedEofError) {
        yield reader.takeBuffered().slice();
        return;
      }
      throw err;
    }
    if (line === null) return;
    yield line.slice();
  }
}

/**
 * Raw mode from stdin: streams stdin to the server while printing everything echoed; after
 * stdin ends, half-closes and keeps printing until the server closes.
 */
async function runRawStream(
  conn: Deno.TcpConn,
  where: string,
  timeoutMs: number,
  expect: Uint8Array | null,
): Promise<number> {
  let sent = 0;
  let received = 0;
  let stdinDone = false;
  const collected: Uint8Array[] = [];
  const pump = (async () => {
    const buf = new Uint8Array(CLIENT_READ_BUFFER_BYTES);
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      await writeAll(conn, buf.subarray(0, n));
      sent += n;
    }
    stdinDone = true;
    await conn.closeWrite();
  })();
  const reader = new BufferedReader(conn, { initialBufferBytes: CLIENT_READ_BUFFER_BYTES });
  let pumpError: unknown = null;
  pump.catch((err) => {
    pumpError = err;
  });
  for (;;) {
    // Only once stdin has ended is silence from the server a timeout.
    const next = reader.readChunk();
    let chunk: Uint8Array | null;
    if (stdinDone && timeoutMs > 0) {
      try {
        chunk = await withReplyTimeout(conn, timeoutMs, next);
      } catch (err) {
        // A server that echoed everything but never closes is still a working echo server.
        if (err instanceof EchoClientError && received >= sent) break;
        throw err;
      }
    } else {
      chunk = await next;
    }
    if (chunk === null) break;
    received += chunk.length;
    if (expect) collected.push(chunk.slice());
    await writeStdout(chunk);
  }
  if (pumpError) throw pumpError;
  if (!stdinDone) {
    throw new EchoClientError("CLOSED", `connection closed by the server after ${sent} bytes`);
  }
  if (expect) {
    const got = concatBytes(...collected);
    if (!equalBytes(got, expect)) {
      console.error(`sockit: ${where}: expected ${quote(expect)} but got ${quote(got)}`);
      return EXIT_FAILURE;
    }
  }
  return EXIT_OK;
}

/** CLI entry; resolves to the exit code. Throws {@link ConfigError} for a bad command line. */
export async function runEchoClient(
  address: string,
  messages: string[],
  flags: EchoClientFlags,
): Promise<number> {
  const addr = parseAddress(address);
  const mode = (flags.mode ?? "line") as Mode;
  if (!["raw", "line", "length"].includes(mode)) {
    throw new ConfigError(`invalid --mode '${mode}': expected raw, line or length`);
  }
  const useStdin = messages.length === 0;
  if (useStdin && mode === "raw" && flags.count !== undefined) {
    throw new ConfigError("--count needs MESSAGE arguments in raw mode (stdin is one stream)");
  }
  if (mode === "line" && messages.some((m) => m.includes("\n"))) {
    throw new ConfigError("a line-mode message cannot contain a newline; use --mode length");
  }
  const where = `${formatHost(addr.host)}:${addr.port}`;
  const timeoutMs = (flags.timeout ?? 5) * 1000;
  const expect = flags.expect === undefined ? null : encoder.encode(flags.expect);
  const json = flags.json ?? false;
  const withStats = flags.count !== undefined;
  const count = flags.count ?? 1;
  const intervalMs = (flags.interval ?? 0) * 1000;

  let conn: Deno.TcpConn;
  try {
    conn = await connectWithRetry(addr, { timeoutMs, waitMs: (flags.wait ?? 0) * 1000 });
  } catch (err) {
    console.error(`sockit: ${describeNetworkError(err, addr.host)}`);
    return EXIT_FAILURE;
  }
  try {
    conn.setNoDelay(true);
  } catch { /* reported by the first write */ }

  const session = new EchoSession(conn, mode, timeoutMs);
  // Like ping: Ctrl-C during a --count run ends it early and still prints the summary.
  let interrupted = false;
  let onInterrupt = () => {};
  const interruption = new Promise<null>((resolve) => {
    onInterrupt = () => {
      interrupted = true;
      resolve(null);
    };
  });
  if (withStats) Deno.addSignalListener("SIGINT", onInterrupt);
  const rtts: number[] = [];
  let sent = 0;
  let failure: string | null = null;
  let mismatch = false;
  try {
    if (useStdin && mode === "raw") {
      try {
        return await runRawStream(conn, where, timeoutMs, expect);
      } catch (err) {
        console.error(`sockit: ${where}: ${describeNetworkError(err, addr.host)}`);
        return EXIT_FAILURE;
      }
    }
    let source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
    if (!useStdin) {
      source = messages.map((m) => encoder.encode(m));
    } else if (withStats) {
      const all: Uint8Array[] = [];
      for await (const line of stdinLines()) all.push(line);
      source = all;
    } else {
      source = stdinLines();
    }
    const list = Array.isArray(source) ? source : null;
    const rounds = list ? count : 1;
    outer: for (let round = 0; round < rounds; round++) {
      for await (const raw of (list ?? source) as AsyncIterable<Uint8Array>) {
        // Stdin lines keep their LF in line mode; length mode sends the line's content.
        const message = mode === "line" ? raw : stripLineEnding(raw);
        if (sent > 0 && intervalMs > 0) await Promise.race([delay(intervalMs), interruption]);
        if (interrupted) break outer;
        const t0 = performance.now();
        sent++;
        let reply: Uint8Array | null;
        try {
          reply = await Promise.race([session.exchange(message), interruption]);
        } catch (err) {
          failure = describeNetworkError(err, addr.host);
          break outer;
        }
        if (reply === null) {
          sent--; // interrupted while waiting: that message was not given its chance
          break outer;
        }
        const rttMs = performance.now() - t0;
        rtts.push(rttMs);
        const content = session.content(reply);
        if (json) {
          await printLine(JSON.stringify({
            event: "reply",
            seq: sent,
            bytes: reply.length,
            rtt_ms: Number(rttMs.toFixed(3)),
            reply: decoder.decode(content),
          }));
        } else if (withStats) {
          await printLine(
            `${reply.length} bytes from ${where}: seq=${sent} time=${rttMs.toFixed(3)} ms`,
          );
        } else if (mode === "line") {
          await writeStdout(reply[reply.length - 1] === 0x0a ? reply : concatBytes(reply, NEWLINE));
        } else {
          await writeStdout(concatBytes(content, NEWLINE));
        }
        if (expect && !equalBytes(content, expect)) {
          console.error(`sockit: ${where}: expected ${quote(expect)} but got ${quote(content)}`);
          mismatch = true;
          break outer;
        }
      }
    }
  } catch (err) {
    // stdin failures and the like; sockets are handled above.
    failure = describeNetworkError(err, addr.host);
  } finally {
    if (withStats) Deno.removeSignalListener("SIGINT", onInterrupt);
    try {
      conn.close();
    } catch { /* closed by a timeout */ }
  }

  if (withStats || json) {
    const s = summarizeRtts(sent, rtts);
    if (json) {
      await printLine(JSON.stringify({
        event: "summary",
        address: where,
        mode,
        sent: s.sent,
        received: s.received,
        loss_percent: Number(s.lossPercent.toFixed(1)),
        min_ms: Number(s.minMs.toFixed(3)),
        avg_ms: Number(s.avgMs.toFixed(3)),
        max_ms: Number(s.maxMs.toFixed(3)),
        p99_ms: Number(s.p99Ms.toFixed(3)),
      }));
    } else {
      await printLine(`--- ${where} echo statistics ---`);
      await printLine(
        `${s.sent} messages sent, ${s.received} received, ${
          Number(s.lossPercent.toFixed(1))
        }% loss`,
      );
      if (s.received > 0) {
        await printLine(
          `rtt min/avg/max/p99 = ${s.minMs.toFixed(3)}/${s.avgMs.toFixed(3)}/${
            s.maxMs.toFixed(3)
          }/${s.p99Ms.toFixed(3)} ms`,
        );
      }
    }
  }
  if (failure !== null) {
    console.error(`sockit: ${where}: ${failure}`);
    return EXIT_FAILURE;
  }
  return mismatch ? EXIT_FAILURE : EXIT_OK;
}
