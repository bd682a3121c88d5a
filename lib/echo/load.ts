/**
 * `sockit echo-client --connections N --duration S`: load mode, what tcpkali does, with
 * assertions. N connections each keep one message in flight (or send at `--rate` per
 * second), every echoed byte is checked against what was sent, and the run ends with
 * throughput, latency percentiles and the count of everything that went wrong — a non-zero
 * exit code when anything did, so a CI job can gate on it.
 *
 * ```ts
 * import { formatLoadSummary, runLoad } from "./load.ts";
 * const summary = await runLoad({
 *   host: "127.0.0.1", port: 9000, mode: "raw", connections: 200, durationMs: 5_000,
 *   size: 64, timeoutMs: 5_000,
 * });
 * console.log(formatLoadSummary(summary));
 * ```
 *
 * Latency is measured from when a message was due (its send time, or its slot at
 * `--rate`), so a stalled server shows up in the percentiles instead of merely slowing the
 * senders down (the "coordinated omission" wrk2 corrects for).
 *
 * @module
 */
import { BufferedReader, encodeFrame, equalBytes, writeAll } from "../framing.ts";
import { ConfigError, describeOsError, EXIT_FAILURE, EXIT_OK } from "../errors.ts";
import { type EchoClientFlags, MAX_REPLY_BYTES, type Mode } from "./client_flags.ts";
import type { EchoMode } from "./config.ts";
import { connectWithRetry, type ServerAddress } from "./connect.ts";
import { printLine } from "./output.ts";

/** Most connections one load run opens (file descriptors, and what one process can drive). */
export const MAX_LOAD_CONNECTIONS = 10_000;
/** Largest `--size`: one message and its echo are held per connection. */
export const MAX_LOAD_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Default `--duration` of load mode when only `--connections` is given, seconds. */
export const DEFAULT_LOAD_SECONDS = 10;
/** Default `--size`, bytes of payload per message (framing excluded). */
export const DEFAULT_LOAD_MESSAGE_BYTES = 64;
/** Latency histogram resolution: buckets grow by this factor (1 % relative error). */
const HISTOGRAM_GROWTH = 1.01;
/** Messages up to this size are written before their echo is read (see `drive`). */
const SEQUENTIAL_WRITE_MAX_BYTES = 16 * 1024;
/** How often reply deadlines (`--timeout`) are checked. */
const TIMEOUT_SWEEP_MS = 100;
/** How often the progress line is redrawn on a terminal. */
export const PROGRESS_INTERVAL_MS = 1_000;

/** What {@link runLoad} does. */
export interface LoadOptions {
  host: string;
  port: number;
  mode: EchoMode;
  connections: number;
  durationMs: number;
  /** Payload bytes per message (line mode adds the newline, length mode the prefix). */
  size: number;
  /** Messages per second per connection; absent = as fast as the echo comes back. */
  rate?: number;
  /** A reply not complete this long after its send is an error; 0 = never. */
  timeoutMs: number;
  /** Opens one connection (default: plain TCP `Deno.connect`). */
  connect?: () => Promise<Deno.Conn>;
  /** Called every {@link PROGRESS_INTERVAL_MS} with the running totals. */
  onProgress?: (elapsedMs: number, messages: number, p99Ms: number) => void;
}

/** The outcome of a load run. */
export interface LoadSummary {
  connections: number;
  connected: number;
  connectFailures: number;
  /** Echoes that differed from what was sent. */
  mismatches: number;
  /** Connections that failed mid-run (reset, closed, timed out). */
  errors: number;
  /** The first of those failures, in words. */
  firstError: string | null;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  /** Payload MiB/s each way. */
  mibPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Latencies in buckets that grow by 1 %: bounded memory whatever the run's length, and
 * percentiles within 1 % of the exact value.
 */
export class LatencyHistogram {
  #counts = new Float64Array(2048);
  #total = 0;
  #maxMs = 0;

  /** Records one latency. */
  record(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const bucket = Math.min(
      this.#counts.length - 1,
      Math.floor(Math.log(us) / Math.log(HISTOGRAM_GROWTH)),
    );
    this.#counts[bucket]++;
    this.#total++;
    if (ms > this.#maxMs) this.#maxMs = ms;
  }

  get count(): number {
    return this.#total;
  }

  get maxMs(): number {
    return this.#maxMs;
  }

  /** The latency below which `fraction` of the samples lie (bucket upper bound), in ms. */
  percentileMs(fraction: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.#total));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(this.#maxMs, HISTOGRAM_GROWTH ** (i + 1) / 1000);
    }
    return this.#maxMs;
  }
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/** Base-62 digits of the message number stamped into each payload (62^6 ≈ 5.7e10). */
const SEQUENCE_DIGITS = 6;

/**
 * The payload of message `seq` on connection `id`: printable and newline-free (valid in
 * every mode), and different for every (connection, message), so an echo delivered to the
 * wrong connection or out of order is caught, not only a corrupted one.
 */
export function loadPayload(id: number, seq: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(seq + 1, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = LETTERS.charCodeAt((x >>> 0) % LETTERS.length);
  }
  return out;
}

/** Writes `seq` into the first bytes of `payload` as base-62 letters (printable, no LF). */
function stampSequence(payload: Uint8Array, seq: number): void {
  let n = seq;
  for (let i = 0; i < Math.min(SEQUENCE_DIGITS, payload.length); i++) {
    payload[i] = LETTERS.charCodeAt(n % LETTERS.length);
    n = Math.floor(n / LETTERS.length);
  }
}

/** What the message looks like on the wire in `mode`. */
function frame(mode: EchoMode, payload: Uint8Array): Uint8Array {
  if (mode === "length") return encodeFrame(payload);
  if (mode === "line") {
    const out = new Uint8Array(payload.length + 1);
    out.set(payload);
    out[payload.length] = 0x0a;
    return out;
  }
  return payload;
}

/** Runs the load; never throws for network failures (they are counted). */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const { mode, size, timeoutMs } = options;
  const connect = options.connect ??
    (() => Deno.connect({ hostname: options.host, port: options.port }));
  const histogram = new LatencyHistogram();
  let mismatches = 0;
  let errors = 0;
  let firstError: string | null = null;
  const fail = (why: string) => {
    errors++;
    firstError ??= why;
  };

  const opened = await Promise.allSettled(
    Array.from({ length: options.connections }, () => connect()),
  );
  const conns: Deno.Conn[] = [];
  let connectFailures = 0;
  for (const result of opened) {
    if (result.status === "fulfilled") conns.push(result.value);
    else {
      connectFailures++;
      firstError ??= `connect: ${describeOsError(result.reason)}`;
    }
  }
  for (const conn of conns) {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* the first write will tell */ }
  }

  const started = performance.now();
  const deadline = started + options.durationMs;
  const intervalMs = options.rate === undefined ? 0 : 1000 / options.rate;
  let progressTimer: ReturnType<typeof setInterval> | undefined;
  if (options.onProgress !== undefined) {
    const report = options.onProgress;
    progressTimer = setInterval(
      () => report(performance.now() - started, histogram.count, histogram.percentileMs(0.99)),
      PROGRESS_INTERVAL_MS,
    );
  }

  // Reply deadlines: one sweep for every connection instead of a timer per message.
  const waitingSince = new Float64Array(conns.length).fill(-1);
  const timedOut = new Uint8Array(conns.length);
  const sweep = timeoutMs > 0
    ? setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < conns.length; i++) {
        if (waitingSince[i] >= 0 && now - waitingSince[i] > timeoutMs && !timedOut[i]) {
          timedOut[i] = 1;
          try {
            conns[i].close();
          } catch { /* closed */ }
        }
      }
    }, Math.min(TIMEOUT_SWEEP_MS, timeoutMs))
    : undefined;

  const drive = async (conn: Deno.Conn, id: number) => {
    const reader = new BufferedReader(conn, { initialBufferBytes: Math.max(1024, size + 8) });
    // One buffer per connection: its bytes differ per connection, and each message stamps
    // its number into the first bytes, so every (connection, message) payload is unique.
    const wire = frame(mode, loadPayload(id, 0, size));
    const payload = mode === "length" ? wire.subarray(4) : wire.subarray(0, size);
    let due = performance.now();
    for (let seq = 0;; seq++) {
      let now = performance.now();
      if (intervalMs > 0) {
        if (due > now) {
          await new Promise((r) => setTimeout(r, due - now));
          now = performance.now();
        }
      } else {
        due = now;
      }
      if (now >= deadline) return;
      stampSequence(payload, seq);
      waitingSince[id] = now;
      try {
        // A message that fits the socket buffers is written, then read: one op at a time
        // costs the client less CPU (it shares the cores with the server it measures). A
        // bigger one is written while the echo is read, or both sides could block on full
        // buffers.
        let writing: Promise<void> | null = null;
        if (wire.length <= SEQUENTIAL_WRITE_MAX_BYTES) await writeAll(conn, wire);
        else {
          writing = writeAll(conn, wire);
          writing.catch(() => {}); // a failed write is reported by the await below or the read
        }
        const echo = mode === "raw"
          ? await reader.readExact(size, "the echo")
          : mode === "line"
          ? await reader.readLine({ maxBytes: size + 2 })
          : await reader.readFrame({ maxBytes: size });
        if (writing !== null) await writing;
        if (echo === null) throw new Error("connection closed by the server");
        const got = mode === "line" ? echo.subarray(0, echo.length - 1) : echo;
        if (!equalBytes(got, payload)) {
          mismatches++;
          firstError ??= `connection ${id + 1}, message ${seq + 1}: the echo differs`;
          return; // the stream is out of step: nothing after this can be trusted
        }
        histogram.record(performance.now() - due);
      } catch (err) {
        fail(
          timedOut[id]
            ? `connection ${id + 1}: no echo within ${timeoutMs / 1000} s`
            : `connection ${id + 1}: ${describeOsError(err)}`,
        );
        return;
      } finally {
        waitingSince[id] = -1;
      }
      if (intervalMs > 0) due += intervalMs;
    }
  };
  await Promise.all(conns.map((conn, id) => drive(conn, id)));
  clearInterval(progressTimer);
  clearInterval(sweep);
  const seconds = Math.max(1e-9, (Math.min(performance.now(), deadline) - started) / 1000);
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed on error or timeout */ }
  }
  const messages = histogram.count;
  return {
    connections: options.connections,
    connected: conns.length,
    connectFailures,
    mismatches,
    errors,
    firstError,
    messages,
    seconds,
    messagesPerSecond: messages / seconds,
    mibPerSecond: (messages * size) / seconds / (1024 * 1024),
    p50Ms: histogram.percentileMs(0.5),
    p90Ms: histogram.percentileMs(0.9),
    p99Ms: histogram.percentileMs(0.99),
    maxMs: histogram.maxMs,
  };
}

/** True when the run should fail a CI job. */
export function loadFailed(s: LoadSummary): boolean {
  return s.connectFailures > 0 || s.mismatches > 0 || s.errors > 0 || s.messages === 0;
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

/** The human summary, a few lines. */
export function formatLoadSummary(s: LoadSummary): string {
  const rate = Math.round(s.messagesPerSecond).toLocaleString("en-US");
  return [
    `${s.messages.toLocaleString("en-US")} messages in ${
      s.seconds.toFixed(1)
    } s over ${s.connected} of ${s.connections} connections: ${rate}/s, ${
      s.mibPerSecond.toFixed(1)
    } MiB/s each way`,
    `latency p50 ${ms(s.p50Ms)} ms, p90 ${ms(s.p90Ms)} ms, p99 ${ms(s.p99Ms)} ms, max ${
      ms(s.maxMs)
    } ms`,
    `connect failures ${s.connectFailures}, mismatches ${s.mismatches}, errors ${s.errors}` +
    (s.firstError === null ? "" : ` (first: ${s.firstError})`),
  ].join("\n");
}

/** The `--json` summary object. */
export function loadSummaryJson(s: LoadSummary): Record<string, unknown> {
  const round = (n: number) => Number(n.toFixed(3));
  return {
    event: "load_summary",
    connections: s.connections,
    connected: s.connected,
    connect_failures: s.connectFailures,
    mismatches: s.mismatches,
    errors: s.errors,
    first_error: s.firstError,
    messages: s.messages,
    seconds: round(s.seconds),
    messages_per_second: Math.round(s.messagesPerSecond),
    mib_per_second: round(s.mibPerSecond),
    p50_ms: round(s.p50Ms),
    p90_ms: round(s.p90Ms),
    p99_ms: round(s.p99Ms),
    max_ms: round(s.maxMs),
  };
}

/** Load mode (`--connections`, `--duration`): see load.ts. Resolves to the exit code. */
export async function runLoadMode(
  addr: ServerAddress,
  where: string,
  mode: Mode,
  messages: string[],
  flags: EchoClientFlags,
  timeoutMs: number,
): Promise<number> {
  if (messages.length > 0) {
    throw new ConfigError("load mode sends generated messages: drop the MESSAGE arguments");
  }
  for (const flag of ["count", "expect", "interval", "wait"] as const) {
    if (flags[flag] !== undefined && !(flag === "interval" && flags.interval === 0)) {
      throw new ConfigError(`--${flag} does not apply to load mode (--connections/--duration)`);
    }
  }
  const size = flags.size ?? DEFAULT_LOAD_MESSAGE_BYTES;
  if (mode === "length" && size > MAX_REPLY_BYTES) {
    throw new ConfigError(`--size ${size} is over the largest frame (${MAX_REPLY_BYTES} bytes)`);
  }
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const summary = await runLoad({
    host: addr.host,
    port: addr.port,
    // --tls: each connection does its handshake (and certificate check) before the clock runs.
    connect: flags.tls
      ? () => connectWithRetry(addr, { timeoutMs, waitMs: 0, tls: flags })
      : undefined,
    mode,
    connections: flags.connections ?? 1,
    durationMs: (flags.duration ?? DEFAULT_LOAD_SECONDS) * 1000,
    size,
    rate: flags.rate,
    timeoutMs,
    onProgress: tty
      ? (elapsedMs, sent, p99Ms) =>
        Deno.stderr.writeSync(encoder.encode(
          `\r\x1b[K${(elapsedMs / 1000).toFixed(0)} s: ${sent.toLocaleString("en-US")} messages, ` +
            `${Math.round(sent / (elapsedMs / 1000)).toLocaleString("en-US")}/s, p99 ${
              p99Ms.toFixed(3)
            } ms`,
        ))
      : undefined,
  });
  if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  if (flags.json) {
    await printLine(JSON.stringify({ address: where, mode, ...loadSummaryJson(summary) }));
  } else {await printLine(
      `${where} (mode ${mode}, ${size}-byte messages)\n${formatLoadSummary(summary)}`,
    );}
  return loadFailed(summary) ? EXIT_FAILURE : EXIT_OK;
}
