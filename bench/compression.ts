/**
 * `deno task bench --only compression`: what `--compress` costs and saves per request, per
 * coding at the default levels — on the built-in page (static/index.html) and a generated
 * 1 MiB JSON document. Each request goes through the real middleware
 * (`withCompression`) and its body is read to the end; CPU is the process's user+system
 * time (`process.cpuUsage`, so zlib's worker threads count too) divided by the requests.
 * Bodies are fresh copies each time, so the middleware's per-body cache of compressed
 * small files never answers: these are the costs of a first request (a cached small file
 * costs about nothing after it).
 *
 * ```sh
 * deno run -A bench/compression.ts            # prints the Markdown table
 * deno task bench --only compression --quick
 * ```
 *
 * @module
 */
import process from "node:process";
import { compose, type Handler, type HttpResponse, type RequestHead } from "../lib/http/handler.ts";
import {
  type CompressionCoding,
  DEFAULT_COMPRESSION_LEVELS,
  parseCompressSpec,
  withCompression,
} from "../lib/http/middleware/compression.ts";
import { ROOT, type SectionResult } from "./common.ts";

/** One measured row. */
export interface CompressionBenchRow {
  body: string;
  coding: CompressionCoding;
  level: number;
  bytesIn: number;
  bytesOut: number;
  /** CPU milliseconds per request (user + system, all threads). */
  cpuMsPerRequest: number;
}

/** A JSON document of about `bytes`, shaped like an API listing. */
export function generatedJson(bytes: number): Uint8Array {
  const rows: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const row = JSON.stringify({
      id: i,
      name: `item ${i}`,
      email: `user${i}@example.org`,
      tags: ["alpha", "beta", i % 7 === 0 ? "gamma" : "delta"],
      price: Math.round(((i * 7919) % 100_000) / 3) / 100,
      active: i % 3 !== 0,
    });
    rows.push(row);
    size += row.length + 1;
  }
  return new TextEncoder().encode(`[${rows.join(",")}]`);
}

const REQUEST_BASE: Omit<RequestHead, "headers"> = {
  method: "GET",
  target: "/",
  version: "HTTP/1.1",
  rawPath: "/",
  path: "/",
  query: "",
  host: "localhost",
  keepAlive: true,
  body: { kind: "none" },
  expectContinue: false,
};

async function bodyBytes(res: HttpResponse): Promise<number> {
  const body = res.body;
  if (body instanceof Uint8Array) return body.length;
  if (body && typeof body === "object" && "stream" in body) {
    let n = 0;
    for await (const chunk of body.stream) n += chunk.length;
    return n;
  }
  throw new Error("unexpected body");
}

/** Measures one body under one coding: `requests` sequential requests. */
async function measure(
  name: string,
  type: string,
  bytes: Uint8Array,
  coding: CompressionCoding,
  requests: number,
): Promise<CompressionBenchRow> {
  const level = DEFAULT_COMPRESSION_LEVELS[coding];
  const inner: Handler = () => ({
    status: 200,
    headers: [["Content-Type", type], ["ETag", '"1-1"']],
    body: bytes.slice(), // a fresh copy: no cached compressed bytes
  });
  const handler = compose([withCompression(parseCompressSpec(`${coding}=${level}`))], inner);
  const req: RequestHead = { ...REQUEST_BASE, headers: new Map([["accept-encoding", coding]]) };
  const ctx = {} as Parameters<Handler>[1];
  let bytesOut = await bodyBytes(await handler(req, ctx)); // warm-up
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) bytesOut = await bodyBytes(await handler(req, ctx));
  const used = process.cpuUsage(before);
  return {
    body: name,
    coding,
    level,
    bytesIn: bytes.length,
    bytesOut,
    cpuMsPerRequest: (used.user + used.system) / 1000 / requests,
  };
}

/** Runs the measurements; `quick` uses fewer requests. */
export async function runCompressionBench(
  options: { quick?: boolean; log?: (line: string) => void } = {},
): Promise<SectionResult> {
  const log = options.log ?? (() => {});
  log("bench: compression (--compress, in process, per coding)");
  const page = await Deno.readFile(`${ROOT}/static/index.html`);
  const json = generatedJson(1024 * 1024);
  const rows: CompressionBenchRow[] = [];
  for (const coding of ["br", "zstd", "gzip"] as const) {
    rows.push(
      await measure(
        "static/index.html",
        "text/html; charset=utf-8",
        page,
        coding,
        options.quick ? 200 : 1000,
      ),
    );
    rows.push(
      await measure("1 MiB JSON", "application/json", json, coding, options.quick ? 5 : 20),
    );
  }
  const kib = (n: number) => (n / 1024).toFixed(1);
  const markdown = [
    "### Compression (`--compress`, default levels, in process)",
    "",
    "| body | coding | level | size | compressed | saved | CPU ms / request |",
    "| ---- | ------ | ----: | ---: | ---------: | ----: | ---------------: |",
    ...rows.map((r) =>
      `| ${r.body} | ${r.coding} | ${r.level} | ${kib(r.bytesIn)} KiB | ${kib(r.bytesOut)} KiB | ${
        (100 - (100 * r.bytesOut) / r.bytesIn).toFixed(1)
      } % | ${r.cpuMsPerRequest.toFixed(3)} |`
    ),
  ].join("\n");
  log(markdown);
  return { markdown, data: { compression: rows }, targets: [] };
}

if (import.meta.main) {
  const section = await runCompressionBench({ quick: Deno.args.includes("--quick") });
  console.log(section.markdown);
}
