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
  CLIENT_READ_BUFFER_BYTES,
  type EchoClientFlags,
  MAX_REPLY_BYTES,
  type Mode,
} from "./client_flags.ts";
import { runUdpMode } from "./udp_client.ts";
import {
  BufferedReader,
  concatBytes,
  encodeFrame,
  equalBytes,
  stripLineEnding,
  UnexpectedEofError,
  writeAll,
} from "../framing.ts";
import {
  NEWLINE,
  printLine,
  printSummary,
  quote,
  stdinLines,
  summarizeRtts,
  writeStdout,
} from "./output.ts";
import { runLoadMode } from "./load.ts";
import {
  connectWithRetry,
  delay,
  describeNetworkError,
  EchoClientError,
  parseAddress,
  withReplyTimeout,
} from "./connect.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A reply as read: null when the server closed before sending anything. */
interface Reply {
  reply: Uint8Array | null;
  /** The server closed the connection after (or instead of) the reply. */
  closed: boolean;
}

/**
 * Request/response exchanges with one server, framed by `mode`. A reply that ends because
 * the server closed the connection is a complete reply (a plain "read once, answer, close"
 * server); the next exchange then opens a new connection.
 */
class EchoSession {
  #conn: Deno.Conn | null = null;
  #reader: BufferedReader | null = null;
  /** Exchanges completed on the current connection. */
  #exchanges = 0;
  /** Connections opened after the first one (the server closed after answering). */
  reconnects = 0;

  constructor(
    readonly connect: () => Promise<Deno.Conn>,
    readonly mode: Mode,
    readonly timeoutMs: number,
  ) {}

  /** Opens the first connection (so a connect failure is reported before anything is sent). */
  async open(): Promise<void> {
    this.#exchanges = 0;
    this.#conn = await this.connect();
    this.#reader = new BufferedReader(this.#conn, { initialBufferBytes: CLIENT_READ_BUFFER_BYTES });
  }

  /** The open connection, if any (raw stdin streaming takes it over). */
  get connection(): Deno.Conn | null {
    return this.#conn;
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch { /* closed by a timeout or by the server's close */ }
    this.#conn = null;
  }

  /**
   * Sends `message` and resolves with the reply as received (line: terminator included).
   * A connection that already carried an exchange and is found closed before any reply
   * (the server closes after each answer) is replaced once, and the message sent again.
   */
  async exchange(message: Uint8Array): Promise<Uint8Array> {
    const reused = this.#conn !== null && this.#exchanges > 0;
    try {
      return await this.#exchangeOnce(message);
    } catch (err) {
      if (!reused || !(err instanceof EchoClientError) || err.code !== "CLOSED") throw err;
      this.close();
      return await this.#exchangeOnce(message);
    }
  }

  async #exchangeOnce(message: Uint8Array): Promise<Uint8Array> {
    if (this.#conn === null) {
      await this.open();
      this.reconnects++;
    }
    const conn = this.#conn!;
    const reader = this.#reader!;
    let out: Uint8Array;
    if (this.mode === "line") {
      out = message[message.length - 1] === 0x0a ? message : concatBytes(message, NEWLINE);
    } else if (this.mode === "length") {
      out = encodeFrame(message);
    } else {
      out = message;
    }
    // Write and read concurrently: a big raw message must not deadlock against a server
    // that echoes while we are still writing. A server that answers and closes before
    // taking all of it makes the write fail; the reply is what counts then.
    let writeError: unknown = null;
    const writing = writeAll(conn, out).catch((err) => {
      writeError = err;
    });
    const { reply, closed } = this.mode === "raw"
      ? await this.#readRaw(conn, reader, message.length)
      : await withReplyTimeout(conn, this.timeoutMs, this.#readFramed(reader));
    await writing;
    if (reply === null) {
      throw writeError ??
        new EchoClientError("CLOSED", "connection closed by the server before any reply");
    }
    if (closed) this.close();
    else this.#exchanges++;
    return reply;
  }

  /** Line: one line, or what came before the server closed. Length: one whole frame. */
  async #readFramed(reader: BufferedReader): Promise<Reply> {
    if (this.mode === "length") {
      const frame = await reader.readFrame({ maxBytes: MAX_REPLY_BYTES });
      return { reply: frame, closed: frame === null };
    }
    try {
      const line = await reader.readLine({ maxBytes: MAX_REPLY_BYTES });
      return { reply: line, closed: line === null };
    } catch (err) {
      if (!(err instanceof UnexpectedEofError)) throw err;
      return { reply: reader.takeBuffered().slice(), closed: true }; // unterminated, then close
    }
  }

  /**
   * Raw: the echo is complete when as many bytes came back as were sent; before that the
   * reply is whatever arrived when the server closed or `--timeout` ran out (a `--reply`
   * server's "Yes"). Nothing at all by then is a failure.
   */
  async #readRaw(conn: Deno.Conn, reader: BufferedReader, expected: number): Promise<Reply> {
    const parts: Uint8Array[] = [];
    let got = 0;
    let timedOut = false;
    const timer = this.timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        try {
          conn.close();
        } catch { /* closed */ }
      }, this.timeoutMs)
      : undefined;
    const whatCame = () => (parts.length === 0 ? null : concatBytes(...parts));
    try {
      // Whole reads: a reply longer than the message (a --reply server's answer to a short
      // message) arrives in the same read and is not split at the message's length.
      if (expected === 0) return { reply: new Uint8Array(0), closed: false }; // nothing to echo
      while (got < expected) {
        const chunk = await reader.readChunk();
        if (chunk === null) return { reply: whatCame(), closed: true };
        parts.push(chunk.slice());
        got += chunk.length;
      }
      return { reply: whatCame(), closed: false };
    } catch (err) {
      if (!timedOut) throw err;
      if (got === 0) {
        throw new EchoClientError(
          "TIMEOUT",
          `timed out after ${this.timeoutMs / 1000} s waiting for a reply`,
        );
      }
      return { reply: whatCame(), closed: true };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The part of a reply that --expect compares and the text output prints. */
  content(reply: Uint8Array): Uint8Array {
    return this.mode === "line" ? stripLineEnding(reply) : reply;
  }
}

/**
 * Raw mode from stdin: streams stdin to the server while printing everything echoed; after
 * stdin ends, half-closes and keeps printing until the server closes.
 */
async function runRawStream(
  conn: Deno.Conn,
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
  // The server closing first is a normal end once it said something (a daytime server, a
  // read-once server); a write into the closed connection is then expected.
  if (pumpError && received === 0) throw pumpError;
  if (received === 0 && !stdinDone) {
    throw new EchoClientError("CLOSED", "connection closed by the server before any reply");
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
  const loadMode = flags.connections !== undefined || flags.duration !== undefined;
  if (flags.udp) {
    if (loadMode) {
      throw new ConfigError("--udp and load mode (--connections/--duration) do not mix");
    }
    if (flags.wait !== undefined) throw new ConfigError("--wait needs TCP: UDP has no connection");
    return await runUdpMode(addr, where, mode, messages, flags, timeoutMs);
  }
  if (loadMode) return await runLoadMode(addr, where, mode, messages, flags, timeoutMs);
  for (const flag of ["rate", "size"] as const) {
    if (flags[flag] !== undefined) {
      throw new ConfigError(`--${flag} is for load mode: add --connections N or --duration S`);
    }
  }
  const expect = flags.expect === undefined ? null : encoder.encode(flags.expect);
  const json = flags.json ?? false;
  const withStats = flags.count !== undefined;
  const count = flags.count ?? 1;
  const intervalMs = (flags.interval ?? 0) * 1000;

  let waitMs = (flags.wait ?? 0) * 1000;
  const connect = async () => {
    const conn = await connectWithRetry(addr, { timeoutMs, waitMs, tls: flags });
    waitMs = 0; // --wait is for the server to come up, not for reconnects
    try {
      conn.setNoDelay(true);
    } catch { /* reported by the first write */ }
    return conn;
  };
  const session = new EchoSession(connect, mode, timeoutMs);
  try {
    await session.open();
  } catch (err) {
    console.error(`sockit: ${describeNetworkError(err, addr.host)}`);
    return EXIT_FAILURE;
  }
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
        return await runRawStream(session.connection!, where, timeoutMs, expect);
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
    session.close();
  }

  if (withStats || json) await printSummary(where, mode, summarizeRtts(sent, rtts), json);
  if (failure !== null) {
    console.error(`sockit: ${where}: ${failure}`);
    return EXIT_FAILURE;
  }
  return mismatch ? EXIT_FAILURE : EXIT_OK;
}
