/**
 * `deno task bench --only webdav`: what a WebDAV client's folder listing costs next to the
 * browser's. `sockit http-serve DIR --webdav --quiet` serves a folder of
 * {@link WEBDAV_BENCH_ENTRIES} files; one client at a time asks for `PROPFIND Depth: 1`
 * (allprop: every entry stat'ed, one `<D:response>` each) and for the HTML listing of the
 * same folder, reading each answer to its end, the kinds taking turns round by round.
 * Medians over the rounds, and their ratio:
 * the two should be of the same order (both are one readDir and one stat per entry).
 *
 * ```sh
 * deno run -A bench/webdav.ts           # prints the Markdown table
 * deno task bench --only webdav --quick
 * ```
 *
 * @module
 */
import { type SectionResult, sockitCommand } from "./common.ts";
import { BENCH_HOST, freePort, makeBenchTempDir, removeTempDir, startProcess } from "./procs.ts";
import { median } from "./stats.ts";

/** Entries in the benchmarked folder. */
export const WEBDAV_BENCH_ENTRIES = 10_000;

/** One measured request kind. */
export interface WebDavBenchRow {
  request: string;
  medianMs: number;
  bytes: number;
}

async function timed(url: string, init: RequestInit): Promise<{ ms: number; bytes: number }> {
  const start = performance.now();
  const res = await fetch(url, init);
  const body = await res.arrayBuffer();
  const ms = performance.now() - start;
  if (res.status !== 200 && res.status !== 207) throw new Error(`${url}: status ${res.status}`);
  return { ms, bytes: body.byteLength };
}

/** Runs the section: `rounds` requests of each kind after two warm-up rounds. */
export async function runWebDavBench(
  options: { quick: boolean; log: (line: string) => void },
): Promise<SectionResult> {
  const { log } = options;
  const rounds = options.quick ? 5 : 20;
  const dir = makeBenchTempDir("sockit-bench-webdav-");
  const server = await (async () => {
    log(`bench: webdav — a folder of ${WEBDAV_BENCH_ENTRIES} files`);
    await Deno.mkdir(`${dir}/big`);
    for (let i = 0; i < WEBDAV_BENCH_ENTRIES; i++) {
      await Deno.writeTextFile(`${dir}/big/file ${String(i).padStart(5, "0")}.txt`, `${i}\n`);
    }
    const port = freePort();
    const { cmd, args } = sockitCommand([
      "http-serve",
      dir,
      "--webdav",
      "--quiet",
      "--host",
      BENCH_HOST,
      "--port",
      String(port),
    ]);
    return await startProcess({ name: "sockit webdav", cmd, args, port });
  })();
  try {
    const base = `http://${BENCH_HOST}:${server.port}/big/`;
    const kinds: [string, RequestInit][] = [
      ["PROPFIND Depth: 1 (allprop)", { method: "PROPFIND", headers: { Depth: "1" } }],
      ["GET HTML listing", { headers: { Accept: "text/html" } }],
      ["GET JSON listing", { headers: { Accept: "application/json" } }],
    ];
    for (const [, init] of kinds) await timed(base, init); // warm-up
    // Interleaved, round by round, so a noisy neighbour slows every kind alike.
    const times = kinds.map(() => [] as number[]);
    const bytes = kinds.map(() => 0);
    for (let i = 0; i < rounds; i++) {
      for (const [k, [, init]] of kinds.entries()) {
        const r = await timed(base, init);
        times[k].push(r.ms);
        bytes[k] = r.bytes;
      }
    }
    const rows: WebDavBenchRow[] = kinds.map(([request], k) => ({
      request,
      medianMs: median(times[k]),
      bytes: bytes[k],
    }));
    for (const r of rows) {
      log(`bench: webdav ${r.request}: ${r.medianMs.toFixed(1)} ms, ${r.bytes} bytes`);
    }
    const ratio = rows[0].medianMs / rows[1].medianMs;
    const markdown = [
      `### WebDAV: a folder of ${WEBDAV_BENCH_ENTRIES} entries (median of ${rounds}, one client)`,
      "",
      "| request | median ms | body bytes |",
      "| ------- | --------- | ---------- |",
      ...rows.map((r) => `| ${r.request} | ${r.medianMs.toFixed(1)} | ${r.bytes} |`),
      "",
      `PROPFIND / HTML listing: ${ratio.toFixed(2)}×`,
    ].join("\n");
    return { markdown, targets: [], data: { webdav: rows } };
  } finally {
    await server.stop();
    removeTempDir(dir);
  }
}

if (import.meta.main) {
  const result = await runWebDavBench({ quick: Deno.args.includes("--quick"), log: console.error });
  console.log(result.markdown);
}
