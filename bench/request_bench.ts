/**
 * Micro benchmarks of the HTTP request-head parser (`parseRequestHead` in
 * lib/http/request.ts): a minimal wrk-style head, a browser-like head, and the full path a
 * connection takes — `readUntil(CRLFCRLF)` over the framing reader, then parsing.
 * Run: `deno bench bench/request_bench.ts` (or `deno task bench --only micro`).
 *
 * @module
 */
import { parseRequestHead } from "../lib/http/h1/request.ts";
import { BufferedReader, type ByteSource, CRLFCRLF } from "../lib/framing.ts";

/** Fixed iteration counts keep the whole file to a few seconds on a shared 2-core box. */
const BENCH_ITERATIONS = { n: 300, warmup: 50 };
const HEADS_PER_ITERATION = 1000;

const encoder = new TextEncoder();
const wrkHead = encoder.encode("GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n");
const browserHead = encoder.encode(
  "GET /assets/app%20v2.js?v=3 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
    'Cache-Control: max-age=0\r\nIf-None-Match: "5f3a-18c2b1"\r\n' +
    "Cookie: session=abc123; theme=dark\r\nConnection: keep-alive\r\n\r\n",
);

/** A source that hands out `data` once, whole (pipelined heads in one read). */
class OnceSource implements ByteSource {
  #done = false;
  constructor(readonly data: Uint8Array) {}
  read(p: Uint8Array): Promise<number | null> {
    if (this.#done) return Promise.resolve(null);
    this.#done = true;
    p.set(this.data);
    return Promise.resolve(this.data.length);
  }
}

const pipelined = new Uint8Array(wrkHead.length * HEADS_PER_ITERATION);
for (let i = 0; i < HEADS_PER_ITERATION; i++) pipelined.set(wrkHead, i * wrkHead.length);

Deno.bench(`parseRequestHead: ${HEADS_PER_ITERATION} × wrk head (${wrkHead.length} B)`, {
  ...BENCH_ITERATIONS,
  group: "parse",
  baseline: true,
}, () => {
  for (let i = 0; i < HEADS_PER_ITERATION; i++) {
    if (parseRequestHead(wrkHead).method !== "GET") throw new Error("bad parse");
  }
});

Deno.bench(`parseRequestHead: ${HEADS_PER_ITERATION} × browser head (${browserHead.length} B)`, {
  ...BENCH_ITERATIONS,
  group: "parse",
}, () => {
  for (let i = 0; i < HEADS_PER_ITERATION; i++) {
    if (parseRequestHead(browserHead).headers.size < 5) throw new Error("bad parse");
  }
});

// `async` on purpose: `deno bench` awaits only functions declared async.
Deno.bench(`readUntil(CRLFCRLF) + parseRequestHead: ${HEADS_PER_ITERATION} pipelined wrk heads`, {
  ...BENCH_ITERATIONS,
  group: "read+parse",
}, async () => {
  const reader = new BufferedReader(new OnceSource(pipelined), {
    initialBufferBytes: pipelined.length,
  });
  let n = 0;
  for (let head; (head = await reader.readUntil(CRLFCRLF)) !== null;) {
    parseRequestHead(head);
    n++;
  }
  if (n !== HEADS_PER_ITERATION) throw new Error(`parsed ${n} heads`);
});
