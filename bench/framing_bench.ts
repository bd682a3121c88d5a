/**
 * Micro benchmarks of the shared framing reader (lib/framing.ts) over a fake source that
 * hands out a prepared byte stream in fixed-size chunks, so messages are split across
 * reads the way TCP splits them. Run: `deno bench bench/framing_bench.ts` (or
 * `deno task bench --only micro`).
 *
 * @module
 */
import { BufferedReader, type ByteSource, CRLFCRLF, encodeFrame } from "../lib/framing.ts";

/** A source that returns `data` in chunks of at most `chunkBytes`. */
class ChunkedSource implements ByteSource {
  #off = 0;
  constructor(readonly data: Uint8Array, readonly chunkBytes: number) {}
  read(p: Uint8Array): Promise<number | null> {
    if (this.#off >= this.data.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.chunkBytes, this.data.length - this.#off);
    p.set(this.data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
}

const encoder = new TextEncoder();
const MESSAGES = 1000;
/** Fixed iteration counts keep the whole file to a few seconds on a shared 2-core box. */
const BENCH_ITERATIONS = { n: 300, warmup: 50 };

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const lines = encoder.encode(
  Array.from({ length: MESSAGES }, (_, i) => `line ${i} ${"x".repeat(50)}\r\n`).join(""),
);
const frames = concat(
  Array.from({ length: MESSAGES }, (_, i) => encodeFrame(new Uint8Array(100).fill(i & 255))),
);
const head = "GET /assets/app.js?v=3 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\nAccept: */*\r\n" +
  "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
  "Connection: keep-alive\r\n\r\n";
const heads = encoder.encode(head.repeat(MESSAGES));

async function drainLines(chunk: number) {
  const reader = new BufferedReader(new ChunkedSource(lines, chunk));
  let n = 0;
  while ((await reader.readLine()) !== null) n++;
  if (n !== MESSAGES) throw new Error(`read ${n} lines`);
}

async function drainFrames(chunk: number) {
  const reader = new BufferedReader(new ChunkedSource(frames, chunk));
  let n = 0;
  while ((await reader.readFrame()) !== null) n++;
  if (n !== MESSAGES) throw new Error(`read ${n} frames`);
}

async function drainHeads(chunk: number) {
  const reader = new BufferedReader(new ChunkedSource(heads, chunk));
  let n = 0;
  while ((await reader.readUntil(CRLFCRLF)) !== null) n++;
  if (n !== MESSAGES) throw new Error(`read ${n} heads`);
}

// Each bench is an `async` function on purpose: `deno bench` awaits only functions that
// are declared async; an arrow that merely returns a promise is timed as synchronous.
for (const chunk of [16 * 1024, 1460, 7]) {
  Deno.bench(`readLine: 1000 × 60-byte lines, ${chunk}-byte reads`, {
    ...BENCH_ITERATIONS,
    group: "readLine",
    baseline: chunk === 16 * 1024,
  }, async () => await drainLines(chunk));
  Deno.bench(`readFrame: 1000 × 100-byte frames, ${chunk}-byte reads`, {
    ...BENCH_ITERATIONS,
    group: "readFrame",
    baseline: chunk === 16 * 1024,
  }, async () => await drainFrames(chunk));
  Deno.bench(`readUntil(CRLFCRLF): 1000 × ${head.length}-byte heads, ${chunk}-byte reads`, {
    ...BENCH_ITERATIONS,
    group: "readUntil",
    baseline: chunk === 16 * 1024,
  }, async () => await drainHeads(chunk));
}
