/**
 * Connection-heavy HTTP rows of `deno task bench`, sockit http-serve against nginx with one
 * worker, both loaded by the C client bench/http_conns.c (epoll, one thread):
 *
 * - `conns`: {@link SHORT_REQUESTS} requests for a 1 KiB file, each on a new connection
 *   (connect, one GET with `Connection: close`, read the answer, close), {@link
 *   SHORT_INFLIGHT} at once: req/s and p50/p99 from connect to the last byte. wrk's
 *   `Connection: close` row runs for a time, not for an exact count, and its latency
 *   excludes the connect; this row is exact.
 * - `c10k`: {@link C10K_CONNECTIONS} keep-alive connections open at once, each asking for
 *   the 1 KiB file once a second for {@link C10K_SECONDS} s: every request must be
 *   answered; p99 latency from each request's scheduled time, and the server's peak RSS
 *   (VmHWM of each of its processes, added up).
 *
 * Servers and client get an open-file limit of {@link C10K_FD_LIMIT} (lowered to the hard
 * limit) through `sh -c "ulimit -n N; exec …"`, for these processes only.
 *
 * ```ts
 * import { runConnsBench } from "./conns_macro.ts";
 * const section = await runConnsBench({
 *   rows: ["conns", "c10k"],
 *   rounds: 1,
 *   quick: true,
 *   log: console.log,
 * });
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
  processTree,
  removeTempDir,
  runTool,
  startProcess,
  statusKiB,
  which,
} from "./procs.ts";
import {
  checkTarget,
  finiteOrNull,
  formatNumber,
  formatRatio,
  type HttpConnsResult,
  markdownTable,
  medianOf,
  openFilesLimitFor,
  parseHttpConnsOutput,
  parseOpenFilesLimit,
  type TargetCheck,
} from "./stats.ts";
import {
  compileC,
  type ConnsLoadResult,
  type SectionResult,
  sockitCommand,
  sockitHelp,
} from "./common.ts";
import { nginxConf } from "./http_macro.ts";

/** Requests of the `conns` row, one connection each. */
export const SHORT_REQUESTS = 10_000;
/** Connections of the `conns` row in flight at once. */
export const SHORT_INFLIGHT = 64;
/** Keep-alive connections the `c10k` row holds open at once. */
export const C10K_CONNECTIONS = 10_000;
/** Seconds each `c10k` connection sends one request per second (`--quick`: fewer). */
export const C10K_SECONDS = 20;
export const C10K_QUICK_SECONDS = 5;
/** Open-file limit asked for the servers and the client of these rows. */
export const C10K_FD_LIMIT = 65_536;
/** File descriptors beyond the connections a process needs (listener, epoll, logs, libs). */
export const FD_HEADROOM = 100;
/**
 * nginx's worker_connections for `c10k`: twice the client connections. nginx closes idle
 * keep-alive connections as soon as fewer than 1/16 of worker_connections are free
 * (ngx_drain_connections); at 10 100 it dropped ~500 of the 10 000 mid-run.
 */
export const C10K_NGINX_WORKER_CONNECTIONS = 2 * C10K_CONNECTIONS;
/** Beyond the client's own bound (connect phase + schedule + margin): then it is killed. */
export const CLIENT_KILL_GRACE_MS = 30_000;

/** nginx's default keepalive_timeout; sockit gets the same for these rows. */
export const NGINX_KEEPALIVE_TIMEOUT_S = 75;

/** The file both rows fetch. */
const FILE_PATH = "/1k.bin";
const FILE_BYTES = 1024;

/** Which rows exist, in run order. */
export const CONNS_ROWS = ["conns", "c10k"] as const;
/** A row's id, as `--only` names it. */
export type ConnsRow = typeof CONNS_ROWS[number];

interface ConnsPeer {
  name: string;
  sockit: boolean;
  unavailable: string | null;
  spec(port: number, dir: string, fdLimit: number): ProcessSpec;
}

/** `cmd args…` run with the open-file limit raised to `fdLimit` for that process only. */
export function withFdLimit(
  fdLimit: number,
  command: { cmd: string; args: string[] },
): { cmd: string; args: string[] } {
  // "$0" "$@": the command and its arguments pass through sh untouched, never re-parsed.
  return {
    cmd: "sh",
    args: ["-c", `ulimit -n ${fdLimit} && exec "$0" "$@"`, command.cmd, ...command.args],
  };
}

async function connsPeers(): Promise<ConnsPeer[]> {
  const help = await sockitHelp("http-serve");
  const quiet = help.includes("--quiet") ? ["--quiet"] : [];
  const nginx = which("nginx");
  return [
    {
      name: "sockit",
      sockit: true,
      unavailable: null,
      spec: (port, dir, fdLimit) => ({
        name: "sockit http-serve",
        ...withFdLimit(
          fdLimit,
          sockitCommand([
            "http-serve",
            dir,
            ...quiet,
            // nginx's keepalive_timeout default: sockit's 5 s would close connections that
            // wait for the other 9 999 to open on a loaded machine, before their first request.
            "--keep-alive-timeout",
            String(NGINX_KEEPALIVE_TIMEOUT_S),
            "--port",
            String(port),
            "--host",
            BENCH_HOST,
          ]),
        ),
        port,
      }),
    },
    {
      name: "nginx 1w",
      sockit: false,
      unavailable: nginx ? null : "nginx not found (apt-get install -y nginx)",
      spec: (port, dir, fdLimit) => {
        const prefix = makeBenchTempDir("sockit-bench-nginx-");
        const conf = nginxConf(prefix, port, dir, 1, {
          workerConnections: C10K_NGINX_WORKER_CONNECTIONS,
          rlimitNofile: fdLimit,
        });
        Deno.writeTextFileSync(`${prefix}/nginx.conf`, conf);
        return {
          name: "nginx 1w",
          ...withFdLimit(fdLimit, {
            cmd: nginx!,
            args: ["-p", prefix, "-c", `${prefix}/nginx.conf`, "-e", `${prefix}/error.log`],
          }),
          port,
          cleanup: () => removeTempDir(prefix),
        };
      },
    },
  ];
}

/** Peak RSS of a process tree: each process's VmHWM (the kernel's high-water mark), added up. */
function treePeakKiB(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statusKiB(p, "VmHWM"), 0);
}

async function verifyServes(port: number, expected: Uint8Array): Promise<void> {
  const res = await fetch(`http://${BENCH_HOST}:${port}${FILE_PATH}`);
  const got = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${FILE_PATH} answered ${res.status}`);
  if (got.length !== expected.length || got.some((b, i) => b !== expected[i])) {
    throw new Error(`GET ${FILE_PATH} returned ${got.length} bytes that differ from the file`);
  }
}

/** The http_conns arguments of one row, and how long it may take before it is killed. */
export function connsClientArgs(
  row: ConnsRow,
  port: number,
  c10kSeconds: number,
): { args: string[]; timeoutMs: number } {
  const target = [BENCH_HOST, String(port), FILE_PATH];
  if (row === "conns") {
    // http_conns ends a short run by itself after 120 s.
    return {
      args: ["short", ...target, String(SHORT_REQUESTS), String(SHORT_INFLIGHT)],
      timeoutMs: 120_000 + CLIENT_KILL_GRACE_MS,
    };
  }
  // Its own bound: 30 s to connect, the schedule, 5 s for the last answers.
  return {
    args: ["keepalive", ...target, String(C10K_CONNECTIONS), String(c10kSeconds)],
    timeoutMs: (30 + c10kSeconds + 5) * 1000 + CLIENT_KILL_GRACE_MS,
  };
}

type Measured = HttpConnsResult & { peakRssMiB: number };

/** Options for {@link runConnsBench}. */
export interface ConnsBenchOptions {
  rows: ConnsRow[];
  /** Rounds of the `conns` row; `c10k` runs once per server (it takes ~25 s each). */
  rounds: number;
  quick: boolean;
  log: (line: string) => void;
}

/** Runs the chosen rows for sockit and nginx 1w; resolves to their Markdown and medians. */
export async function runConnsBench(options: ConnsBenchOptions): Promise<SectionResult> {
  const { log } = options;
  const c10kSeconds = options.quick ? C10K_QUICK_SECONDS : C10K_SECONDS;
  const skipped = (why: string): SectionResult => {
    log(`bench: connection rows skipped: ${why}`);
    return { markdown: `_Connection rows skipped: ${why}_`, targets: [], data: {} };
  };
  let client: string;
  try {
    client = await compileC("http_conns");
  } catch (err) {
    return skipped((err as Error).message);
  }
  const limits = parseOpenFilesLimit(await Deno.readTextFile("/proc/self/limits"));
  const fdLimit = openFilesLimitFor(C10K_FD_LIMIT, limits);
  const rows = options.rows.filter((row) => {
    if (row !== "c10k" || fdLimit >= C10K_CONNECTIONS + FD_HEADROOM) return true;
    log(
      `bench: c10k skipped: the hard open-file limit ${limits.hard} is below ` +
        `${C10K_CONNECTIONS + FD_HEADROOM} (raise it: ulimit -Hn, or run as root)`,
    );
    return false;
  });
  const peers = await connsPeers();
  const notes: string[] = [];
  for (const p of peers.filter((p) => p.unavailable)) {
    log(`bench: skipping ${p.name}: ${p.unavailable}`);
    notes.push(`${p.name} skipped: ${p.unavailable}`);
  }
  const runnable = peers.filter((p) => !p.unavailable);
  const dir = makeBenchTempDir("sockit-bench-conns-");
  const body = crypto.getRandomValues(new Uint8Array(FILE_BYTES));
  Deno.writeFileSync(`${dir}${FILE_PATH}`, body, { mode: 0o644 });
  const results = new Map<string, Measured[]>(); // key: `${row} ${peer}`
  try {
    for (const row of rows) {
      const rounds = row === "c10k" ? 1 : options.rounds;
      for (let round = 0; round < rounds; round++) {
        const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]);
        for (const peer of order) {
          log(`bench: ${row} round ${round + 1}/${rounds}: ${peer.name}`);
          try {
            const m = await measure(peer, row, { client, dir, body, fdLimit, c10kSeconds });
            const key = `${row} ${peer.name}`;
            results.set(key, [...(results.get(key) ?? []), m]);
            log(
              `bench:   ${formatNumber(m.reqPerSec)} req/s, p50 ${m.p50Ms.toFixed(2)} ms, ` +
                `p99 ${m.p99Ms.toFixed(2)} ms, ${m.answered}/${m.requests} answered, ` +
                (row === "c10k" ? `opened in ${m.connectSeconds.toFixed(1)} s, ` : "") +
                `${m.errors} errors${m.firstError ? ` (first: ${m.firstError})` : ""}, ` +
                `peak RSS ${formatNumber(m.peakRssMiB, 1)} MiB`,
            );
            if (m.errors > 0) {
              notes.push(`${row} ${peer.name}: ${m.errors} errors, first: ${m.firstError}`);
            }
          } catch (err) {
            // A failed run is reported, not fatal: the other servers still get measured.
            const why = `${row} ${peer.name} failed in round ${round + 1}: ${
              (err as Error).message
            }`;
            notes.push(why);
            log(`bench: ${why}`);
          }
        }
      }
    }
  } finally {
    removeTempDir(dir);
  }
  return summarize(rows, peers, results, notes, { ...options, c10kSeconds });
}

async function measure(
  peer: ConnsPeer,
  row: ConnsRow,
  run: { client: string; dir: string; body: Uint8Array; fdLimit: number; c10kSeconds: number },
): Promise<Measured> {
  const port = freePort();
  const server = await startProcess(peer.spec(port, run.dir, run.fdLimit));
  try {
    await verifyServes(port, run.body);
    const { args, timeoutMs } = connsClientArgs(row, port, run.c10kSeconds);
    const r = await runTool(run.client, args, { timeoutMs });
    if (r.code !== 0 && !r.stdout.trim()) {
      throw new Error(`http_conns exited with code ${r.code}: ${r.stderr.trim()}`);
    }
    const result = parseHttpConnsOutput(r.stdout);
    return { ...result, peakRssMiB: treePeakKiB(server.pid) / 1024 };
  } finally {
    await server.stop();
  }
}

function summarize(
  rows: ConnsRow[],
  peers: ConnsPeer[],
  results: Map<string, Measured[]>,
  notes: string[],
  options: ConnsBenchOptions & { c10kSeconds: number },
): SectionResult {
  const labels: Record<ConnsRow, string> = {
    conns: `${formatNumber(SHORT_REQUESTS)} short connections, ${SHORT_INFLIGHT} at once, 1 KiB`,
    c10k: `${
      formatNumber(C10K_CONNECTIONS)
    } keep-alive connections, 1 req/s each for ${options.c10kSeconds} s`,
  };
  const med = (row: ConnsRow, name: string) => {
    const runs = results.get(`${row} ${name}`);
    if (!runs || runs.length === 0) return undefined;
    return {
      ...medianOf(runs),
      requests: runs.reduce((sum, r) => sum + r.requests, 0),
      answered: runs.reduce((sum, r) => sum + r.answered, 0),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
    };
  };
  const tableRows: string[][] = [];
  const targets: TargetCheck[] = [];
  const data: ConnsLoadResult[] = [];
  for (const row of rows) {
    const sockit = med(row, "sockit");
    const servers: ConnsLoadResult["servers"] = [];
    for (const peer of peers) {
      const m = med(row, peer.name);
      if (!m) continue;
      // conns compares request rates (higher is better), c10k p99 latency (lower is better).
      const ratio = peer.sockit
        ? ""
        : row === "conns"
        ? formatRatio(sockit?.reqPerSec, m.reqPerSec)
        : formatRatio(sockit?.p99Ms, m.p99Ms);
      tableRows.push([
        labels[row],
        peer.name,
        formatNumber(m.reqPerSec),
        formatNumber(m.p50Ms, 2),
        formatNumber(m.p99Ms, 2),
        formatNumber(m.maxMs, 1),
        `${formatNumber(m.answered)} / ${formatNumber(m.requests)}`,
        formatNumber(m.errors),
        formatNumber(m.peakRssMiB, 1),
        ratio,
      ]);
      servers.push({
        name: peer.name,
        sockit: peer.sockit,
        reqPerSec: finiteOrNull(m.reqPerSec),
        p50Ms: finiteOrNull(m.p50Ms),
        p99Ms: finiteOrNull(m.p99Ms),
        requests: m.requests,
        answered: m.answered,
        peakRssMiB: finiteOrNull(m.peakRssMiB),
      });
    }
    data.push({ id: row, label: labels[row], servers });
    targets.push(
      checkTarget(
        `${row}: share of requests sockit answered`,
        sockit && sockit.requests > 0 ? (sockit.answered / sockit.requests) * 100 : undefined,
        100,
        "atLeast",
        "%",
      ),
    );
  }
  const rounds = options.rounds;
  const markdown = [
    `### Connections (bench/http_conns.c; conns: median of ${rounds} round${
      rounds > 1 ? "s" : ""
    }, c10k: one run each)`,
    "",
    markdownTable(
      [
        "load",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "answered / requests",
        "errors",
        "peak RSS MiB",
        "sockit ÷ peer",
      ],
      tableRows,
    ),
    "",
    "conns: latency from connect() to the answer's last byte; `sockit ÷ peer` compares req/s.",
    "c10k: latency from each request's scheduled time (a late answer delays the next request,",
    "and that delay counts); `sockit ÷ peer` compares p99 (lower is better). Peak RSS: VmHWM of",
    `every server process, added up. Open-file limit ${C10K_FD_LIMIT} (or the hard limit) via`,
    "`sh -c 'ulimit -n N; exec …'`; nginx: worker_connections " +
    `${C10K_NGINX_WORKER_CONNECTIONS} and worker_rlimit_nofile.`,
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
  return { markdown, targets, data: { conns: data } };
}
