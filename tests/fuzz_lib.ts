/**
 * Fuzzing toolkit shared by `tests/http_fuzz_test.ts` (bounded, in the suite) and
 * `tests/fuzz.ts` (`deno task fuzz`, for minutes): seeded generators of malformed and
 * mutated HTTP requests and echo streams, and drivers that throw them at a running server
 * over many concurrent connections and check every answer.
 *
 * ```ts
 * import { fuzzHttp } from "./fuzz_lib.ts";
 * declare const port: number; // a running http-serve
 * const stats = await fuzzHttp({ port, seed: 1234, count: 20_000, concurrency: 32 });
 * if (stats.failures.length > 0) console.error(stats.failures[0]); // says how to reproduce
 * ```
 *
 * Every case is a pure function of (seed, index): `httpCase(seed, i)` rebuilds case `i` of
 * a failing run exactly, whatever the interleaving of the connections was.
 *
 * @module
 */
import { BufferedReader, CRLFCRLF, encodeFrame } from "../lib/framing.ts";
import { escapeBytes } from "../lib/log.ts";
import { concatBytes, mulberry32, type Rand } from "./helpers.ts";

/** The PRNG of case `index` in a run with `seed`. */
export function caseRand(seed: number, index: number): Rand {
  return mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

const enc = new TextEncoder();
const dec = new TextDecoder();

const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, items: readonly T[]): T => items[int(r, items.length)];
const randomBytes = (r: Rand, n: number) => new Uint8Array(n).map(() => int(r, 256));

/** One generated request (or garbage pretending to be one). */
export interface HttpCase {
  /** Which generator made it. */
  kind: string;
  bytes: Uint8Array;
  /**
   * The bytes may leave the server waiting for more (an unfinished head or body): such a
   * case is sent last on its connection, followed by a half-close.
   */
  openEnded: boolean;
  /** The method, when known: a HEAD answer has no body. */
  method: string | null;
}

/** Paths the fuzzed site answers in different ways (file, dir, listing, 404, tricks). */
export const FUZZ_PATHS = [
  "/",
  "/hello.txt",
  "/docs/",
  "/docs",
  "/nope",
  "/%2e%2e/etc/passwd",
  "/docs/../hello.txt",
  "/hello.txt?x=1&y=%zz",
  "*",
  "http://h/hello.txt",
];
const METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "TRACE", "PATCH"];
const HUGE_NUMBERS = [
  "99999999999999999999",
  "18446744073709551616",
  "9007199254740993",
  "-1",
  "1e3",
  "0x10",
  "1 2",
  "+5",
  "5, 6",
  "",
  "٣",
];
const BAD_PERCENT = ["%", "%2", "%zz", "%c3%28", "%ff%fe", "%00", "%2f..%2f", "%%32%65", "%u002e"];
const BAD_CHUNK_LINES = [
  "zz",
  "-1",
  "fffffffffffffffffff",
  "0x5",
  " 5",
  "5 5",
  "5;\0",
  "",
  "1000000000000",
];
const SPECIAL_TOKENS = [
  "\r\n",
  "\n",
  "\r",
  "\0",
  ":",
  " ",
  "\t",
  "%",
  "\xff",
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 5\r\n",
  "Host: a\r\nHost: b\r\n",
  "Expect: 100-continue\r\n",
  " folded\r\n",
  "HTTP/1.1",
  "\r\n\r\n",
];

/** A well-formed request: method, path, a few headers, maybe a body (length or chunked). */
export function validRequest(r: Rand): { text: string; method: string } {
  const method = pick(r, METHODS.slice(0, 5));
  const path = pick(r, FUZZ_PATHS.slice(0, 5));
  let text = `${method} ${path} HTTP/1.${r() < 0.9 ? 1 : 0}\r\nHost: fuzz\r\n`;
  if (r() < 0.3) text += "User-Agent: fuzz/1.0\r\n";
  if (r() < 0.2) text += "Accept-Encoding: gzip\r\n";
  if (r() < 0.2) text += "Range: bytes=0-3\r\n";
  if (method === "POST" || method === "PUT") {
    const body = "x".repeat(int(r, 64));
    if (r() < 0.5) {
      text += `Content-Length: ${body.length}\r\n\r\n${body}`;
    } else {
      text += "Transfer-Encoding: chunked\r\n\r\n";
      if (body.length > 0) text += `${body.length.toString(16)}\r\n${body}\r\n`;
      text += "0\r\n\r\n";
    }
  } else {
    text += "\r\n";
  }
  return { text, method };
}

function headerCase(r: Rand, kind: string, extra: string): HttpCase {
  const method = pick(r, ["GET", "POST", "HEAD"]);
  return {
    kind,
    bytes: enc.encode(`${method} /hello.txt HTTP/1.1\r\nHost: fuzz\r\n${extra}\r\n`),
    openEnded: false,
    method,
  };
}

/** Applies 1–4 random byte-level mutations (flip, insert, delete, duplicate, token). */
export function mutate(r: Rand, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const rounds = 1 + int(r, 4);
  for (let k = 0; k < rounds; k++) {
    const at = int(r, bytes.length + 1);
    switch (int(r, 5)) {
      case 0:
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] ^= 1 << int(r, 8);
        break;
      case 1:
        bytes = concatBytes([
          bytes.subarray(0, at),
          randomBytes(r, 1 + int(r, 4)),
          bytes.subarray(at),
        ]);
        break;
      case 2:
        bytes = concatBytes([bytes.subarray(0, at), bytes.subarray(at + 1 + int(r, 8))]);
        break;
      case 3: {
        const len = int(r, 32);
        bytes = concatBytes([
          bytes.subarray(0, at),
          bytes.subarray(at, at + len),
          bytes.subarray(at),
        ]);
        break;
      }
      default:
        bytes = concatBytes([
          bytes.subarray(0, at),
          Uint8Array.from(pick(r, SPECIAL_TOKENS), (c) => c.charCodeAt(0)),
          bytes.subarray(at),
        ]);
    }
  }
  return bytes;
}

/** Case `index` of the run with `seed`: one of the generators below, chosen by the PRNG. */
export function httpCase(seed: number, index: number): HttpCase {
  const r = caseRand(seed, index);
  const choice = int(r, 100);
  if (choice < 22) {
    const { text, method } = validRequest(r);
    return { kind: "valid", bytes: enc.encode(text), openEnded: false, method };
  }
  if (choice < 30) {
    return {
      kind: "random-bytes",
      bytes: randomBytes(r, 1 + int(r, 600)),
      openEnded: true,
      method: null,
    };
  }
  if (choice < 38) {
    const { text } = validRequest(r);
    const head = text.slice(0, text.indexOf("\r\n\r\n") + 3);
    return {
      kind: "truncated-head",
      bytes: enc.encode(head.slice(0, int(r, head.length))),
      openEnded: true,
      method: null,
    };
  }
  if (choice < 46) {
    const value = pick(r, HUGE_NUMBERS);
    const field = pick(r, ["Content-Length", "Content-Length", "Host", "Range", "X-Big"]);
    const range = field === "Range" ? `bytes=${value}-${pick(r, HUGE_NUMBERS)}` : value;
    return headerCase(r, "huge-number", `${field}: ${range}\r\n`);
  }
  if (choice < 54) {
    const method = pick(r, ["GET", "HEAD"]);
    const path = `/${pick(r, ["", "docs/", "hello"])}${pick(r, BAD_PERCENT)}${
      pick(r, ["", ".txt", "/x"])
    }`;
    return {
      kind: "bad-percent",
      bytes: enc.encode(`${method} ${path} HTTP/1.1\r\nHost: fuzz\r\n\r\n`),
      openEnded: false,
      method,
    };
  }
  if (choice < 62) {
    const good = r() < 0.5 ? "3\r\nabc\r\n" : "";
    return {
      kind: "bad-chunk",
      bytes: enc.encode(
        "POST /hello.txt HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n" + good +
          `${pick(r, BAD_CHUNK_LINES)}\r\n`,
      ),
      openEnded: false,
      method: "POST",
    };
  }
  if (choice < 70) {
    // Line endings mixed inside the head; the final CRLFCRLF is kept, so the head ends.
    const { text, method } = validRequest(r);
    const end = text.indexOf("\r\n\r\n");
    const lines = text.slice(0, end).split("\r\n");
    const joined = lines.map((l, i) => i === 0 ? l : pick(r, ["\r\n", "\n", "\r", "\n\r"]) + l)
      .join("");
    return {
      kind: "mixed-line-endings",
      bytes: enc.encode(joined + "\r\n\r\n"),
      openEnded: false,
      method,
    };
  }
  if (choice < 76) {
    const { text, method } = validRequest(r);
    const end = text.indexOf("\r\n\r\n");
    const head = enc.encode(text.slice(0, end));
    const at = int(r, head.length);
    const withNul = concatBytes([
      head.subarray(0, at),
      new Uint8Array(1 + int(r, 3)),
      head.subarray(at),
    ]);
    return {
      kind: "nul",
      bytes: concatBytes([withNul, CRLFCRLF]),
      openEnded: false,
      // A NUL inside the method makes it another (invalid) token.
      method: at > method.length ? method : "INVALID",
    };
  }
  if (choice < 80) {
    const huge = pick(r, [
      `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: fuzz\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: fuzz\r\n${"X: y\r\n".repeat(120)}\r\n`,
      `GET / HTTP/1.1\r\nHost: fuzz\r\nX: ${"b".repeat(40_000)}\r\n\r\n`,
      `${"A".repeat(1 + int(r, 40))} / HTTP/1.1\r\nHost: fuzz\r\n\r\n`,
      `GET / HTTP/${int(r, 10)}.${int(r, 10)}\r\nHost: fuzz\r\n\r\n`,
      "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    ]);
    return { kind: "oversized", bytes: enc.encode(huge), openEnded: false, method: "GET" };
  }
  const { text } = validRequest(r);
  return { kind: "mutation", bytes: mutate(r, enc.encode(text)), openEnded: true, method: null };
}

/** One problem found, with what it takes to reproduce it. */
export interface FuzzFailure {
  seed: number;
  index: number;
  kind: string;
  problem: string;
  /** The case's bytes, escaped (truncated). */
  input: string;
}

/** What a fuzz run did. */
export interface FuzzStats {
  cases: number;
  connections: number;
  responses: number;
  /** Replies by status code. */
  statuses: Map<number, number>;
  /** Connections closed with no reply at all. */
  silentCloses: number;
  failures: FuzzFailure[];
  ms: number;
}

/** Options every fuzz run takes. */
export interface FuzzRunOptions {
  port: number;
  hostname?: string;
  seed: number;
  /** Stop after this many cases… */
  count?: number;
  /** …or at this epoch ms, whichever comes first. */
  deadline?: number;
  /** Connections in flight at once (default 32). */
  concurrency?: number;
  /** Longest wait for one reply before it counts as a hang (default 10 s). */
  replyTimeoutMs?: number;
  /** Stop early after this many failures (default 20). */
  maxFailures?: number;
}

/** Options for {@link fuzzHttp}. */
export type FuzzHttpOptions = FuzzRunOptions;

/** The bookkeeping of one run: case numbering, when to stop, the statistics. */
class FuzzRun {
  readonly hostname: string;
  readonly replyTimeoutMs: number;
  readonly stats: FuzzStats = {
    cases: 0,
    connections: 0,
    responses: 0,
    statuses: new Map(),
    silentCloses: 0,
    failures: [],
    ms: 0,
  };
  #next = 0;
  #count: number;
  #deadline: number;
  #maxFailures: number;
  #startedAt = Date.now();

  constructor(options: FuzzRunOptions) {
    this.hostname = options.hostname ?? "127.0.0.1";
    this.replyTimeoutMs = options.replyTimeoutMs ?? 10_000;
    this.#count = options.count ?? Infinity;
    this.#deadline = options.deadline ?? Infinity;
    this.#maxFailures = options.maxFailures ?? 20;
  }

  /** True while cases, time and the failure budget last. */
  more(): boolean {
    return this.#next < this.#count && Date.now() < this.#deadline &&
      this.stats.failures.length < this.#maxFailures;
  }

  /** The index of the next case (its seed offset). */
  nextIndex(): number {
    return this.#next++;
  }

  /** Records the elapsed time. */
  finish(): void {
    this.stats.ms = Date.now() - this.#startedAt;
  }
}

/** A status line as RFC 9112 §4 has it: `HTTP/1.1 NNN reason` (reason may be empty). */
export const STATUS_LINE = /^HTTP\/1\.1 [1-5]\d\d [\t -~]*\r\n/;

class ReplyError extends Error {}

/**
 * Reads one whole response. Resolves null if the server closed before sending a byte;
 * throws {@link ReplyError} on anything malformed. Interim 100s are skipped.
 */
async function readReply(
  reader: BufferedReader,
  method: string | null,
): Promise<{ status: number; close: boolean } | null> {
  for (;;) {
    let headBytes: Uint8Array | null;
    try {
      headBytes = await reader.readUntil(CRLFCRLF, { maxBytes: 64 * 1024 });
    } catch (err) {
      const partial = escapeBytes(reader.peekBuffered(), 120);
      throw new ReplyError(`reply head unreadable (${(err as Error).message}): ${partial}`);
    }
    if (headBytes === null) return null;
    const head = dec.decode(headBytes);
    if (!STATUS_LINE.test(head)) {
      throw new ReplyError(`malformed status line: ${escapeBytes(headBytes, 120)}`);
    }
    if (head.includes("    at ")) throw new ReplyError("stack trace in a reply");
    const status = Number(head.slice(9, 12));
    if (status === 100) continue;
    const lower = head.toLowerCase();
    const close = lower.includes("\r\nconnection: close\r\n");
    const length = /\r\ncontent-length: (\d+)\r\n/.exec(lower);
    if (close) {
      // Nothing follows on this connection, so the body's framing cannot desynchronise
      // anything; a refused HEAD may well carry one (the server could not trust its head).
      while ((await reader.readChunk()) !== null) { /* drain */ }
      return { status, close };
    }
    const noBody = method === "HEAD" || status === 204 || status === 304 || status < 200;
    if (noBody) return { status, close };
    if (lower.includes("\r\ntransfer-encoding: chunked\r\n")) {
      for (;;) {
        const line = await reader.readLine({ maxBytes: 1024 });
        if (line === null) throw new ReplyError("connection closed inside a chunked reply");
        const size = parseInt(dec.decode(line), 16);
        if (!Number.isFinite(size)) throw new ReplyError(`bad chunk size line in a reply`);
        await reader.discard(size + 2);
        if (size === 0) break;
      }
      return { status, close };
    }
    if (length !== null) {
      try {
        await reader.discard(Number(length[1]));
      } catch {
        // A HEAD we could not tell apart (a mutated method) has headers but no body.
        if (method !== null) throw new ReplyError("reply body shorter than Content-Length");
      }
      return { status, close };
    }
    // No length: close-delimited.
    while ((await reader.readChunk()) !== null) { /* drain */ }
    return { status, close: true };
  }
}

/**
 * Throws generated requests at an HTTP server. Each worker keeps one connection: cases
 * that end cleanly are sent one at a time (each reply read and checked before the next),
 * sometimes pipelined in a burst; an open-ended case is sent last, followed by a
 * half-close, and everything that comes back is checked. A reply must start with a
 * well-formed status line (or the connection closes without a byte); no 500s; no hangs.
 */
export async function fuzzHttp(options: FuzzHttpOptions): Promise<FuzzStats> {
  const run = new FuzzRun(options);
  const { hostname, replyTimeoutMs, stats } = run;
  const more = () => run.more();
  const fail = (index: number, c: HttpCase, problem: string) =>
    stats.failures.push({
      seed: options.seed,
      index,
      kind: c.kind,
      problem,
      input: escapeBytes(c.bytes, 300),
    });
  const record = (status: number) => {
    stats.responses++;
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
  };

  const worker = async () => {
    while (more()) {
      const conn = await Deno.connect({ hostname, port: options.port });
      stats.connections++;
      let hung = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          hung = true;
          try {
            conn.close();
          } catch { /* closed */ }
        }, replyTimeoutMs);
      };
      const reader = new BufferedReader(conn);
      try {
        let open = true;
        while (open && more()) {
          // A burst of 1 (mostly) to 4 pipelined cases; the last may be open-ended.
          const burst: [number, HttpCase][] = [];
          const size = Math.random() < 0.2 ? 2 + Math.floor(Math.random() * 3) : 1;
          while (burst.length < size && more()) {
            const index = run.nextIndex();
            const c = httpCase(options.seed, index);
            stats.cases++;
            burst.push([index, c]);
            if (c.openEnded) break;
          }
          if (burst.length === 0) break;
          const last = burst[burst.length - 1][1];
          arm();
          try {
            await conn.write(concatBytes(burst.map(([, c]) => c.bytes)));
            if (last.openEnded) await conn.closeWrite();
          } catch {
            // The server closed on an earlier error while we were writing: allowed.
          }
          for (const [index, c] of burst) {
            let reply;
            try {
              reply = await readReply(reader, c.method);
            } catch (err) {
              if (hung) fail(index, c, `no reply within ${replyTimeoutMs} ms`);
              else if (err instanceof ReplyError) fail(index, c, err.message);
              // A reset after an error answer: the reply was already checked.
              open = false;
              break;
            }
            if (reply === null) {
              if (hung) fail(index, c, `no reply within ${replyTimeoutMs} ms`);
              stats.silentCloses++;
              open = false;
              break;
            }
            record(reply.status);
            if (reply.status === 500) fail(index, c, "500 Internal Server Error");
            if (reply.close) {
              open = false;
              break;
            }
          }
          if (last.openEnded) open = false;
        }
      } finally {
        clearTimeout(timer);
        try {
          conn.close();
        } catch { /* closed */ }
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
  run.finish();
  return stats;
}

// --- echo -------------------------------------------------------------------------------

/** Echo framings that have messages (raw mode echoes anything, nothing to get wrong). */
export type EchoFuzzMode = "line" | "length";

/** What the echo server must send back for a stream; `broke` = a limit was hit. */
export function expectedEcho(
  mode: EchoFuzzMode,
  input: Uint8Array,
  max: number,
): { out: Uint8Array; broke: boolean } {
  const parts: Uint8Array[] = [];
  let pos = 0;
  if (mode === "line") {
    for (;;) {
      const lf = input.indexOf(0x0a, pos);
      if (lf === -1) return { out: concatBytes(parts), broke: input.length - pos >= max };
      if (lf + 1 - pos > max) return { out: concatBytes(parts), broke: true };
      parts.push(input.subarray(pos, lf + 1));
      pos = lf + 1;
    }
  }
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  while (input.length - pos >= 4) {
    const size = view.getUint32(pos);
    if (size > max) return { out: concatBytes(parts), broke: true };
    if (input.length - pos - 4 < size) break;
    parts.push(input.subarray(pos, pos + 4 + size));
    pos += 4 + size;
  }
  return { out: concatBytes(parts), broke: false };
}

/** Stream `index` for an echo server in `mode` with message limit `max`. */
export function echoStream(
  seed: number,
  index: number,
  mode: EchoFuzzMode,
  max: number,
): Uint8Array {
  const r = caseRand(seed, index);
  const parts: Uint8Array[] = [];
  const messages = 1 + int(r, 12);
  for (let m = 0; m < messages; m++) {
    const choice = int(r, 10);
    const payload = choice < 3
      ? randomBytes(r, int(r, 200))
      : choice < 5
      ? Uint8Array.from({ length: int(r, 200) }, () => pick(r, [0, 0x0a, 0x0d, 0x20, 0x41, 0xff]))
      : choice < 6
      ? new Uint8Array(max + int(r, 100)).fill(0x61) // over the limit
      : enc.encode(`message ${m} ${"z".repeat(int(r, 64))}`);
    if (mode === "line") {
      parts.push(payload, enc.encode(pick(r, ["\n", "\r\n", "\n", ""])));
    } else if (payload.length <= max && r() < 0.85) {
      parts.push(encodeFrame(payload));
    } else {
      // A lying prefix: huge, or longer than what follows (truncated frame).
      const prefix = new Uint8Array(4);
      new DataView(prefix.buffer).setUint32(
        0,
        r() < 0.5 ? 0xffff_ffff - int(r, 1000) : payload.length + 1 + int(r, 50),
      );
      parts.push(prefix, payload);
    }
  }
  const stream = concatBytes(parts);
  return r() < 0.3 ? mutate(r, stream) : stream;
}

/** Options for {@link fuzzEcho}. */
export interface FuzzEchoOptions extends FuzzRunOptions {
  mode: EchoFuzzMode;
  /** The server's --max-frame. */
  maxBytes: number;
}

/**
 * Sends generated streams to an echo server, one connection each (written in random
 * pieces, then a half-close) and compares what comes back with {@link expectedEcho}: the
 * whole prediction when the stream kept to the limits, a prefix of it when it did not (the
 * server closes at the bad message).
 */
export async function fuzzEcho(options: FuzzEchoOptions): Promise<FuzzStats> {
  const run = new FuzzRun(options);
  const { hostname, replyTimeoutMs, stats } = run;
  const more = () => run.more();
  const worker = async () => {
    while (more()) {
      const index = run.nextIndex();
      stats.cases++;
      const input = echoStream(options.seed, index, options.mode, options.maxBytes);
      const expected = expectedEcho(options.mode, input, options.maxBytes);
      const conn = await Deno.connect({ hostname, port: options.port });
      stats.connections++;
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        try {
          conn.close();
        } catch { /* closed */ }
      }, replyTimeoutMs);
      const received: Uint8Array[] = [];
      const reading = (async () => {
        const buf = new Uint8Array(64 * 1024);
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) return;
          received.push(buf.slice(0, n));
        }
      })();
      try {
        const r = caseRand(options.seed ^ 0x5bd1e995, index);
        for (let off = 0; off < input.length;) {
          const piece = 1 + Math.floor(r() * 4096);
          await conn.write(input.subarray(off, off + piece));
          off += piece;
        }
        await conn.closeWrite();
      } catch {
        // The server closed at a broken message while we were still sending: allowed.
      }
      await reading;
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* closed */ }
      const got = concatBytes(received);
      const want = expected.out;
      let problem: string | null = null;
      if (hung) problem = `no end of the echo within ${replyTimeoutMs} ms`;
      else if (!expected.broke && got.length !== want.length) {
        problem = `echoed ${got.length} bytes, expected ${want.length}`;
      } else if (got.length > want.length) {
        problem = `echoed ${got.length} bytes, more than the ${want.length} expected`;
      } else {
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== want[i]) {
            problem = `echo differs at byte ${i}`;
            break;
          }
        }
      }
      stats.responses++;
      if (got.length === 0) stats.silentCloses++;
      if (problem !== null) {
        stats.failures.push({
          seed: options.seed,
          index,
          kind: `echo-${options.mode}`,
          problem,
          input: escapeBytes(input, 300),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
  run.finish();
  return stats;
}

/** One-paragraph summary of a run, for logs and `deno task fuzz`. */
export function summarize(target: string, stats: FuzzStats, seed: number): string {
  const rate = Math.round(stats.cases / Math.max(stats.ms / 1000, 0.001));
  const statuses = [...stats.statuses.entries()].sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}×${n}`).join(" ");
  return `fuzz ${target} (seed ${seed}): ${stats.cases} cases over ${stats.connections} ` +
    `connections in ${(stats.ms / 1000).toFixed(1)} s (${rate}/s); ${stats.responses} replies` +
    (statuses ? ` [${statuses}]` : "") + `; ${stats.silentCloses} silent closes; ` +
    `${stats.failures.length} failures`;
}
