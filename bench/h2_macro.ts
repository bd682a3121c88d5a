/**
 * HTTP/2 macro benchmark: sockit http-serve against nginx (1 worker, `listen … http2` on a
 * plain port), both over cleartext HTTP/2 with prior knowledge (h2c) so the numbers measure
 * HTTP/2 framing and HPACK rather than TLS, loaded by `h2load -c 64 -m 10` (64 connections,
 * 10 streams each) on a 1 KiB and a 64 KiB file. Servers alternate over rounds; medians
 * are reported.
 *
 * Until `sockit http-serve` speaks HTTP/2, its rows say "skipped: …": before loading any
 * server, one `curl --http2-prior-knowledge` request per file must come back over HTTP/2
 * with the file's exact bytes.
 *
 * ```ts
 * const section = await runH2Bench({ rounds: 1, seconds: 2, log: console.log });
 * console.log(section.markdown);
 * ```
 *
 * @module
 */
import {
  BENCH_HOST,
  freePort,
  makeBenchTempDir,
  type ProcessSpec,
  removeTempDir,
  runTool,
  sampleTreeRss,
  startProcess,
  which,
} from "./procs.ts";
import {
  checkTarget,
  finiteOrNull,
  formatNumber,
  formatRatio,
  type H2loadResult,
  markdownTable,
  medianOf,
  parseH2loadOutput,
  type TargetCheck,
} from "./stats.ts";
import { type HttpLoadResult, type SectionResult, sockitCommand, sockitHelp } from "./common.ts";

/** The h2 loads: URL path → size in bytes, and the label of its row. */
export const H2_LOADS = [
  { id: "h2-1k", label: "h2 1 KiB -c64 -m10", path: "/1k.bin", size: 1024 },
  { id: "h2-64k", label: "h2 64 KiB -c64 -m10", path: "/64k.bin", size: 64 * 1024 },
] as const;
/** Target: h2load req/s on the 1 KiB load, sockit ÷ nginx 1 worker (issue #15). */
export const H2_1K_TARGET_RATIO = 0.8;
/** h2load clients (connections) and concurrent streams per client. */
export const H2_CLIENTS = 64;
export const H2_STREAMS = 10;
/** Seconds of unrecorded load before each measurement (h2load --warm-up-time). */
export const H2_WARMUP_SECONDS = 1;

/** A server under test. */
interface H2Peer {
  name: string;
  sockit: boolean;
  unavailable: string | null;
  spec(port: number, dir: string): ProcessSpec;
}

function nginxConf(prefix: string, port: number, dir: string): string {
  // As in the HTTP bench: sendfile on, access_log off, no reconnects forced mid-run.
  // `listen … http2` on a plain port is h2c with prior knowledge (nginx 1.22; later
  // versions warn and prefer `http2 on;`, but still accept it).
  return `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen ${BENCH_HOST}:${port} http2;
    root ${dir};
  }
}
`;
}

async function h2Peers(): Promise<H2Peer[]> {
  const help = await sockitHelp("http-serve");
  const quiet = help.includes("--quiet") ? ["--quiet"] : [];
  const nginx = which("nginx");
  return [
    {
      name: "sockit",
      sockit: true,
      unavailable: null,
      spec: (port, dir) => ({
        name: "sockit http-serve",
        ...sockitCommand(["http-serve", dir, ...quiet, "--port", `${port}`, "--host", BENCH_HOST]),
        port,
      }),
    },
    {
      name: "nginx 1w",
      sockit: false,
      unavailable: nginx ? null : "nginx not found (apt-get install -y nginx)",
      spec: (port, dir) => {
        const prefix = makeBenchTempDir("sockit-bench-nginx-h2-");
        Deno.writeTextFileSync(`${prefix}/nginx.conf`, nginxConf(prefix, port, dir));
        return {
          name: "nginx 1w (h2c)",
          cmd: nginx!,
          args: ["-p", prefix, "-c", `${prefix}/nginx.conf`, "-e", `${prefix}/error.log`],
          port,
          cleanup: () => removeTempDir(prefix),
        };
      },
    },
  ];
}

/**
 * Fetches every file once with `curl --http2-prior-knowledge`; returns why the server does
 * not serve it over HTTP/2 byte for byte, or null.
 */
async function verifyH2(port: number, dir: string): Promise<string | null> {
  const out = Deno.makeTempFileSync({ prefix: "sockit-bench-h2-check-" });
  try {
    for (const { path } of H2_LOADS) {
      const url = `http://${BENCH_HOST}:${port}${path}`;
      const r = await runTool("curl", [
        "-sS",
        "--http2-prior-knowledge",
        "--max-time",
        "10",
        "-o",
        out,
        "-w",
        "%{http_version} %{http_code}",
        url,
      ]);
      if (r.code !== 0) return `curl --http2-prior-knowledge ${path}: ${r.stderr.trim()}`;
      if (r.stdout !== "2 200") return `GET ${path} over h2c answered "${r.stdout}"`;
      const got = Deno.readFileSync(out);
      const want = Deno.readFileSync(`${dir}${path}`);
      if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
        return `GET ${path} over h2c returned ${got.length} bytes that differ from the file`;
      }
    }
    return null;
  } finally {
    Deno.removeSync(out);
  }
}

async function runH2load(port: number, path: string, seconds: number): Promise<H2loadResult> {
  const r = await runTool("h2load", [
    "-t1",
    `-c${H2_CLIENTS}`,
    `-m${H2_STREAMS}`,
    `-D${seconds}`,
    `--warm-up-time=${H2_WARMUP_SECONDS}`,
    `http://${BENCH_HOST}:${port}${path}`,
  ]);
  if (r.code !== 0) throw new Error(`h2load failed: ${(r.stderr || r.stdout).trim()}`);
  return parseH2loadOutput(r.stdout);
}

type Measured = H2loadResult & { peakRssMiB: number };

/** Options for {@link runH2Bench}. */
export interface H2BenchOptions {
  rounds: number;
  seconds: number;
  log: (line: string) => void;
}

/** Runs the HTTP/2 comparison; resolves to its Markdown and medians (no target yet). */
export async function runH2Bench(options: H2BenchOptions): Promise<SectionResult> {
  const { rounds, seconds, log } = options;
  for (const tool of ["h2load", "curl"]) {
    if (!which(tool)) {
      const msg = `${tool} not found: install it (apt-get install -y nghttp2-client curl)`;
      log(`bench: ${msg}`);
      return { markdown: `_HTTP/2 bench skipped: ${msg}_`, targets: [], data: {} };
    }
  }
  const peers = await h2Peers();
  const notes: string[] = [];
  for (const p of peers.filter((p) => p.unavailable)) {
    log(`bench: skipping ${p.name}: ${p.unavailable}`);
    notes.push(`${p.name} skipped: ${p.unavailable}`);
  }
  const runnable = peers.filter((p) => !p.unavailable);
  const dir = makeBenchTempDir("sockit-bench-h2-www-");
  for (const { path, size } of H2_LOADS) {
    const body = crypto.getRandomValues(new Uint8Array(size));
    Deno.writeFileSync(`${dir}${path}`, body, { mode: 0o644 });
  }
  const results = new Map<string, Map<string, Measured[]>>();
  const skipped = new Map<string, string>(); // does not speak h2 / did not start: not retried
  try {
    for (let round = 0; round < rounds; round++) {
      const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]);
      for (const peer of order) {
        if (skipped.has(peer.name)) continue;
        log(`bench: h2 round ${round + 1}/${rounds}: ${peer.name}`);
        const port = freePort();
        let server;
        try {
          server = await startProcess(peer.spec(port, dir));
        } catch (err) {
          skipped.set(peer.name, `did not start: ${(err as Error).message}`);
          log(`bench: ${peer.name} ${skipped.get(peer.name)}`);
          continue;
        }
        try {
          const problem = await verifyH2(port, dir);
          if (problem) {
            const why = peer.sockit
              ? `sockit http-serve does not speak HTTP/2 (h2c prior knowledge) yet: ${problem}`
              : problem;
            skipped.set(peer.name, why);
            log(`bench: skipped ${peer.name}: ${why}`);
            continue;
          }
          for (const load of H2_LOADS) {
            const rss = sampleTreeRss(server.pid);
            const r = await runH2load(port, load.path, seconds);
            const peakRssMiB = rss.stop() / 1024;
            const byLoad = results.get(peer.name) ?? new Map<string, Measured[]>();
            results.set(peer.name, byLoad);
            byLoad.set(load.id, [...(byLoad.get(load.id) ?? []), { ...r, peakRssMiB }]);
            log(
              `bench:   ${load.label}: ${formatNumber(r.reqPerSec)} req/s, ${
                formatNumber(r.mibPerSec, 1)
              } MiB/s, mean ${r.meanMs.toFixed(2)} ms, ${r.errors} errors, RSS ${
                formatNumber(peakRssMiB, 1)
              } MiB`,
            );
          }
        } catch (err) {
          const why = `round ${round + 1}: ${(err as Error).message}`;
          notes.push(`${peer.name} failed in ${why}`);
          log(`bench: ${peer.name} failed in ${why}`);
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    removeTempDir(dir);
  }
  for (const [name, why] of skipped) notes.push(`${name} skipped: ${why}`);
  return summarizeH2(peers, results, notes, rounds, seconds);
}

function summarizeH2(
  peers: H2Peer[],
  results: Map<string, Map<string, Measured[]>>,
  notes: string[],
  rounds: number,
  seconds: number,
): SectionResult {
  const med = (name: string, load: string) => {
    const runs = results.get(name)?.get(load);
    if (!runs || runs.length === 0) return undefined;
    return { ...medianOf(runs), errors: runs.reduce((sum, r) => sum + r.errors, 0) };
  };
  const rows: string[][] = [];
  for (const load of H2_LOADS) {
    const sockit = med("sockit", load.id);
    for (const peer of peers) {
      const m = med(peer.name, load.id);
      if (!m) continue;
      rows.push([
        load.label,
        peer.name,
        formatNumber(m.reqPerSec),
        formatNumber(m.mibPerSec, 1),
        formatNumber(m.meanMs, 2),
        formatNumber(m.maxMs, 2),
        `${formatNumber(m.headerSavingsPct, 1)}%`,
        formatNumber(m.peakRssMiB, 1),
        formatNumber(m.errors),
        peer.sockit ? "" : formatRatio(sockit?.reqPerSec, m.reqPerSec),
      ]);
    }
  }
  const table = markdownTable(
    [
      "load",
      "server",
      "req/s",
      "MiB/s",
      "mean ms",
      "max ms",
      "HPACK savings",
      "peak RSS MiB",
      "errors (all rounds)",
      "sockit ÷ peer",
    ],
    rows,
  );
  const markdown = [
    `### HTTP/2 (h2load -t1 -c${H2_CLIENTS} -m${H2_STREAMS}, h2c, ${seconds} s per load, ` +
    `median of ${rounds} round${rounds > 1 ? "s" : ""})`,
    "",
    rows.length ? table : "_no HTTP/2 server measured_",
    "",
    "Cleartext HTTP/2 with prior knowledge on both sides, so TLS cost is left out. `sockit ÷",
    "peer` compares req/s. HPACK savings is h2load's header space savings (response header",
    "bytes on the wire vs. their plain size); h2load reports mean and max, not percentiles.",
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
  const data: HttpLoadResult[] = H2_LOADS.map((load) => ({
    id: load.id,
    label: load.label,
    metric: "reqPerSec",
    servers: peers.flatMap((peer) => {
      const m = med(peer.name, load.id);
      if (!m) return [];
      return [{
        name: peer.name,
        sockit: peer.sockit,
        reqPerSec: finiteOrNull(m.reqPerSec),
        mibPerSec: finiteOrNull(m.mibPerSec),
        p99Ms: null,
        peakRssMiB: finiteOrNull(m.peakRssMiB),
      }];
    }),
  }));
  const sockit1k = med("sockit", "h2-1k")?.reqPerSec;
  const nginx1k = med("nginx 1w", "h2-1k")?.reqPerSec;
  const targets: TargetCheck[] = [
    checkTarget(
      "h2 1 KiB -c64 -m10: sockit ÷ nginx, 1 worker each",
      sockit1k !== undefined && nginx1k !== undefined && nginx1k > 0
        ? sockit1k / nginx1k
        : undefined,
      H2_1K_TARGET_RATIO,
      "atLeast",
    ),
  ];
  return { markdown, targets, data: { h2: data } };
}
