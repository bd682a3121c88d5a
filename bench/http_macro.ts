/**
 * HTTP macro benchmark: sockit http-serve against nginx (1 and 2 workers), the
 * `Deno.serve` reference (bench/deno_serve_ref.ts), npm `http-server` and
 * `python3 -m http.server`, all serving the same generated files on 127.0.0.1 and loaded
 * by `wrk` with identical settings. Servers alternate over rounds; medians are reported.
 *
 * ```ts
 * const section = await runHttpBench({ rounds: 1, seconds: 3, log: console.log });
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
  markdownTable,
  medianOf,
  parseWrkOutput,
  type TargetCheck,
  type WrkResult,
} from "./stats.ts";
import {
  BENCH_DIR,
  type HttpLoadResult,
  OUT_DIR,
  type SectionResult,
  sockitCommand,
  sockitHelp,
} from "./common.ts";

/** Target: sockit's peak RSS during the 1 KiB keep-alive load, in MiB (issue #16). */
export const PEAK_RSS_TARGET_MIB = 72;

/** Files every server serves, generated once per run: URL path → size in bytes. */
export const HTTP_FILES: Record<string, number> = {
  "/1k.bin": 1024,
  "/64k.bin": 64 * 1024,
  "/10m.bin": 10 * 1024 * 1024,
};

/** One wrk load. */
interface HttpLoad {
  id: string;
  label: string;
  path: string;
  connections: number;
  headers: string[];
  /** Which number the ratios compare: request rate or transfer rate. */
  metric: "reqPerSec" | "mibPerSec";
}

/** The loads, in the order each server gets them (wrk -t1 throughout, as the issue says). */
export const HTTP_LOADS: HttpLoad[] = [
  {
    id: "1k",
    label: "1 KiB keep-alive -c64",
    path: "/1k.bin",
    connections: 64,
    headers: [],
    metric: "reqPerSec",
  },
  {
    id: "64k",
    label: "64 KiB keep-alive -c64",
    path: "/64k.bin",
    connections: 64,
    headers: [],
    metric: "reqPerSec",
  },
  {
    id: "10m",
    label: "10 MiB keep-alive -c8",
    path: "/10m.bin",
    connections: 8,
    headers: [],
    metric: "mibPerSec",
  },
  {
    id: "close",
    label: "1 KiB Connection: close -c64",
    path: "/1k.bin",
    connections: 64,
    headers: ["Connection: close"],
    metric: "reqPerSec",
  },
];

/** Seconds of unrecorded load each freshly started server gets first (JIT, caches). */
export const WARMUP_SECONDS = 1;
/** wrk's per-request timeout: slower answers count as errors, not as latency. */
export const WRK_TIMEOUT = "5s";

/** A server under test. */
interface HttpPeer {
  name: string;
  workers: number;
  sockit: boolean;
  /** Why it cannot run here, or null. */
  unavailable: string | null;
  spec(port: number, dir: string): ProcessSpec;
}

const HTTP_SERVER_VERSION = "14";
const HTTP_SERVER_PREFIX = `${OUT_DIR}/npm`;
const HTTP_SERVER_BIN = `${HTTP_SERVER_PREFIX}/node_modules/http-server/bin/http-server`;

/**
 * npm http-server is installed on demand into bench/out/npm (gitignored) and run with
 * `node` directly, so its RSS is that of the server alone, not of an `npx` wrapper too.
 */
async function ensureHttpServer(log: (line: string) => void): Promise<string | null> {
  if (!which("node") || !which("npm")) return "node/npm not found (install nodejs and npm)";
  try {
    Deno.statSync(HTTP_SERVER_BIN);
    return null;
  } catch { /* install below */ }
  log(`bench: installing npm http-server@${HTTP_SERVER_VERSION} into ${HTTP_SERVER_PREFIX}`);
  Deno.mkdirSync(HTTP_SERVER_PREFIX, { recursive: true });
  const r = await runTool("npm", [
    "install",
    "--prefix",
    HTTP_SERVER_PREFIX,
    "--no-audit",
    "--no-fund",
    `http-server@${HTTP_SERVER_VERSION}`,
  ]);
  return r.code === 0 ? null : `npm install http-server failed: ${r.stderr.trim().split("\n")[0]}`;
}

/** nginx's connection limits: the defaults suit wrk; bench/conns_macro.ts raises them. */
export interface NginxLimits {
  workerConnections: number;
  /** `worker_rlimit_nofile`: the worker's open-file limit, or the inherited one. */
  rlimitNofile?: number;
}

/** The nginx.conf every nginx peer runs with (its own temp prefix, serving `dir`). */
export function nginxConf(
  prefix: string,
  port: number,
  dir: string,
  workers: number,
  limits: NginxLimits = { workerConnections: 4096 },
): string {
  // access_log off and sendfile on as the issue asks; keepalive_requests raised from the
  // default 1000 so nginx is not made to reconnect mid-run when sockit never does.
  const rlimit = limits.rlimitNofile ? `worker_rlimit_nofile ${limits.rlimitNofile};\n` : "";
  return `worker_processes ${workers};
${rlimit}daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections ${limits.workerConnections}; }
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
    listen ${BENCH_HOST}:${port};
    root ${dir};
  }
}
`;
}

async function httpPeers(log: (line: string) => void): Promise<HttpPeer[]> {
  const help = await sockitHelp("http-serve");
  const sockitFlags = help.includes("--quiet") ? ["--quiet"] : [];
  const peers: HttpPeer[] = [];
  const sockit = (workers: number): HttpPeer => ({
    name: workers === 1 ? "sockit" : `sockit --workers ${workers}`,
    workers,
    sockit: true,
    unavailable: null,
    spec: (port, dir) => ({
      name: "sockit http-serve",
      ...sockitCommand([
        "http-serve",
        dir,
        ...sockitFlags,
        "--port",
        String(port),
        "--host",
        BENCH_HOST,
        ...(workers > 1 ? ["--workers", String(workers)] : []),
      ]),
      port,
    }),
  });
  peers.push(sockit(1));
  if (help.includes("--workers")) peers.push(sockit(2));
  else log("bench: sockit http-serve has no --workers yet; the 2-worker comparison is skipped");
  const nginx = which("nginx");
  for (const workers of [1, 2]) {
    peers.push({
      name: `nginx ${workers}w`,
      workers,
      sockit: false,
      unavailable: nginx ? null : "nginx not found (apt-get install -y nginx)",
      spec: (port, dir) => {
        const prefix = makeBenchTempDir("sockit-bench-nginx-");
        Deno.writeTextFileSync(`${prefix}/nginx.conf`, nginxConf(prefix, port, dir, workers));
        return {
          name: `nginx ${workers}w`,
          cmd: nginx!,
          args: ["-p", prefix, "-c", `${prefix}/nginx.conf`, "-e", `${prefix}/error.log`],
          port,
          cleanup: () => removeTempDir(prefix),
        };
      },
    });
  }
  peers.push({
    name: "Deno.serve ref",
    workers: 1,
    sockit: false,
    unavailable: null,
    spec: (port, dir) => ({
      name: "Deno.serve ref",
      cmd: Deno.execPath(),
      args: [
        "run",
        "-A",
        "--quiet",
        `${BENCH_DIR}/deno_serve_ref.ts`,
        dir,
        "--port",
        String(port),
        "--host",
        BENCH_HOST,
      ],
      port,
    }),
  });
  peers.push({
    name: "http-server",
    workers: 1,
    sockit: false,
    unavailable: await ensureHttpServer(log),
    spec: (port, dir) => ({
      name: "http-server",
      cmd: "node",
      args: [HTTP_SERVER_BIN, dir, "-p", String(port), "-a", BENCH_HOST, "-s"],
      port,
    }),
  });
  const python = which("python3");
  peers.push({
    name: "python http.server",
    workers: 1,
    sockit: false,
    unavailable: python ? null : "python3 not found (apt-get install -y python3)",
    spec: (port, dir) => ({
      name: "python http.server",
      cmd: python!,
      args: ["-m", "http.server", String(port), "--bind", BENCH_HOST, "--directory", dir],
      port,
    }),
  });
  return peers;
}

/** Writes the served files into a fresh temp dir readable by nginx's worker user. */
function makeFiles(): { dir: string; bodies: Map<string, Uint8Array> } {
  const dir = makeBenchTempDir("sockit-bench-www-");
  const bodies = new Map<string, Uint8Array>();
  for (const [path, size] of Object.entries(HTTP_FILES)) {
    const body = new Uint8Array(size);
    for (let off = 0; off < size; off += 65536) {
      crypto.getRandomValues(body.subarray(off, Math.min(size, off + 65536)));
    }
    Deno.writeFileSync(`${dir}${path}`, body, { mode: 0o644 });
    bodies.set(path, body);
  }
  return { dir, bodies };
}

/** Fetches every file once and compares it byte for byte; returns a problem or null. */
async function verifyServes(port: number, bodies: Map<string, Uint8Array>): Promise<string | null> {
  for (const [path, expected] of bodies) {
    const res = await fetch(`http://${BENCH_HOST}:${port}${path}`);
    const got = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) return `GET ${path} answered ${res.status}`;
    if (got.length !== expected.length || got.some((b, i) => b !== expected[i])) {
      return `GET ${path} returned ${got.length} bytes that differ from the file`;
    }
  }
  return null;
}

async function runWrk(
  port: number,
  load: Pick<HttpLoad, "path" | "connections" | "headers">,
  seconds: number,
): Promise<WrkResult> {
  const args = ["-t1", `-c${load.connections}`, `-d${seconds}s`, "--latency"];
  args.push("--timeout", WRK_TIMEOUT, "-s", `${BENCH_DIR}/wrk_report.lua`);
  for (const h of load.headers) args.push("-H", h);
  args.push(`http://${BENCH_HOST}:${port}${load.path}`);
  const r = await runTool("wrk", args);
  if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return parseWrkOutput(r.stdout);
}

type Measured = WrkResult & { peakRssMiB: number };

/** Options for {@link runHttpBench}. */
export interface HttpBenchOptions {
  rounds: number;
  seconds: number;
  log: (line: string) => void;
}

/** Runs the whole HTTP comparison; resolves to its Markdown, target lines and medians. */
export async function runHttpBench(options: HttpBenchOptions): Promise<SectionResult> {
  const { rounds, seconds, log } = options;
  if (!which("wrk")) {
    const msg = "bench: wrk not found: install it (apt-get install -y wrk) to run the HTTP bench";
    log(msg);
    return { markdown: `_HTTP bench skipped: ${msg.slice(7)}_`, targets: [], data: {} };
  }
  const peers = await httpPeers(log);
  const notes: string[] = [];
  for (const p of peers.filter((p) => p.unavailable)) {
    log(`bench: skipping ${p.name}: ${p.unavailable}`);
    notes.push(`${p.name} skipped: ${p.unavailable}`);
  }
  const runnable = peers.filter((p) => !p.unavailable);
  const { dir, bodies } = makeFiles();
  const results = new Map<string, Map<string, Measured[]>>();
  const failed = new Map<string, string>(); // did not start: not tried again
  const loadFailures: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no server always runs first (or last, on a warm box).
      const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]);
      for (const peer of order) {
        if (failed.has(peer.name)) continue;
        log(`bench: http round ${round + 1}/${rounds}: ${peer.name}`);
        const port = freePort();
        let server;
        try {
          server = await startProcess(peer.spec(port, dir));
        } catch (err) {
          failed.set(peer.name, (err as Error).message);
          log(`bench: ${peer.name} did not start: ${(err as Error).message}`);
          continue;
        }
        try {
          const problem = await verifyServes(port, bodies);
          if (problem) throw new Error(problem);
          await runWrk(port, { path: "/1k.bin", connections: 16, headers: [] }, WARMUP_SECONDS);
          for (const load of HTTP_LOADS) {
            const rss = sampleTreeRss(server.pid);
            const r = await runWrk(port, load, seconds);
            const peakRssMiB = rss.stop() / 1024;
            const byLoad = results.get(peer.name) ?? new Map<string, Measured[]>();
            results.set(peer.name, byLoad);
            byLoad.set(load.id, [...(byLoad.get(load.id) ?? []), { ...r, peakRssMiB }]);
            log(
              `bench:   ${load.label}: ${formatNumber(r.reqPerSec)} req/s, ${
                formatNumber(r.mibPerSec, 1)
              } MiB/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors, RSS ${
                formatNumber(peakRssMiB, 1)
              } MiB`,
            );
          }
        } catch (err) {
          // A failed load is reported, not fatal: the server gets its next round.
          const why = `round ${round + 1}: ${(err as Error).message}`;
          loadFailures.push(`${peer.name} failed in ${why}`);
          log(`bench: ${peer.name} failed in ${why}`);
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    removeTempDir(dir);
  }
  for (const [name, why] of failed) notes.push(`${name} did not start: ${why}`);
  notes.push(...loadFailures);
  return summarize(peers, results, notes, rounds, seconds);
}

function summarize(
  peers: HttpPeer[],
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
  const sockitFor = (workers: number) => {
    const exact = peers.find((p) => p.sockit && p.workers === workers && results.has(p.name));
    return exact?.name ?? "sockit";
  };
  const rows: string[][] = [];
  for (const load of HTTP_LOADS) {
    for (const peer of peers) {
      const m = med(peer.name, load.id);
      if (!m) continue;
      const ref = peer.sockit ? undefined : med(sockitFor(peer.workers), load.id);
      rows.push([
        load.label,
        peer.name,
        formatNumber(m.reqPerSec),
        formatNumber(m.mibPerSec, 1),
        formatNumber(m.p50Ms, 2),
        formatNumber(m.p99Ms, 2),
        formatNumber(m.peakRssMiB, 1),
        formatNumber(m.errors),
        peer.sockit ? "" : formatRatio(ref?.[load.metric], m[load.metric]),
      ]);
    }
  }
  const table = markdownTable(
    [
      "load",
      "server",
      "req/s",
      "MiB/s",
      "p50 ms",
      "p99 ms",
      "peak RSS MiB",
      "errors (all rounds)",
      "sockit ÷ peer",
    ],
    rows,
  );

  const ratio = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  const s1 = med("sockit", "1k");
  const s2 = results.has("sockit --workers 2") ? med("sockit --workers 2", "1k") : undefined;
  const s10 = med("sockit", "10m");
  const n10 = med("nginx 1w", "10m");
  const targets: TargetCheck[] = [
    checkTarget(
      "http 1 KiB keep-alive: sockit ÷ Deno.serve ref",
      ratio(s1?.reqPerSec, med("Deno.serve ref", "1k")?.reqPerSec),
      1.5,
      "atLeast",
    ),
    checkTarget(
      "http 1 KiB keep-alive: sockit ÷ http-server",
      ratio(s1?.reqPerSec, med("http-server", "1k")?.reqPerSec),
      3,
      "atLeast",
    ),
    checkTarget(
      "http 1 KiB keep-alive: sockit ÷ nginx, 1 worker each",
      ratio(s1?.reqPerSec, med("nginx 1w", "1k")?.reqPerSec),
      1,
      "atLeast",
    ),
    checkTarget(
      "http 1 KiB keep-alive: sockit ÷ nginx, 2 workers each",
      ratio(s2?.reqPerSec, med("nginx 2w", "1k")?.reqPerSec),
      1,
      "atLeast",
      "×",
      s2 ? "not measured" : "sockit http-serve has no --workers",
    ),
    checkTarget(
      "http 1 KiB Connection: close: sockit ÷ nginx, 1 worker each",
      ratio(med("sockit", "close")?.reqPerSec, med("nginx 1w", "close")?.reqPerSec),
      1,
      "atLeast",
    ),
    checkTarget(
      "http 1 KiB keep-alive: sockit peak RSS",
      s1?.peakRssMiB,
      PEAK_RSS_TARGET_MIB,
      "atMost",
      " MiB",
    ),
    checkTarget(
      "http 10 MiB: sockit MiB/s ÷ nginx 1w",
      ratio(s10?.mibPerSec, n10?.mibPerSec),
      0.5,
      "atLeast",
    ),
    checkTarget(
      "http 10 MiB: sockit p99 ÷ nginx 1w p99",
      ratio(s10?.p99Ms, n10?.p99Ms),
      2,
      "atMost",
    ),
  ];
  const markdown = [
    `### HTTP (wrk -t1, ${seconds} s per load, median of ${rounds} round${rounds > 1 ? "s" : ""})`,
    "",
    table,
    "",
    "`sockit ÷ peer` compares req/s (MiB/s for 10 MiB) against sockit with the same number of",
    "workers where that exists. Peak RSS is the server's whole process tree during the load.",
    "nginx: sendfile on, access_log off, keepalive_requests raised so it never reconnects",
    "mid-run. python http.server speaks HTTP/1.0, so it closes every connection even in the",
    "keep-alive loads.",
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
  const data: HttpLoadResult[] = HTTP_LOADS.map((load) => ({
    id: load.id,
    label: load.label,
    metric: load.metric,
    servers: peers.flatMap((peer) => {
      const m = med(peer.name, load.id);
      if (!m) return [];
      return [{
        name: peer.name,
        sockit: peer.sockit,
        reqPerSec: finiteOrNull(m.reqPerSec),
        mibPerSec: finiteOrNull(m.mibPerSec),
        p99Ms: finiteOrNull(m.p99Ms),
        peakRssMiB: finiteOrNull(m.peakRssMiB),
      }];
    }),
  }));
  return { markdown, targets, data: { http: data } };
}
