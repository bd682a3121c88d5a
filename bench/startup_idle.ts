/**
 * Start-up time and idle-connection memory: how long from spawning a server until its port
 * accepts (median of {@link STARTUP_RUNS}), and how much its RSS grows while it holds
 * {@link IDLE_CONNECTIONS} open connections that send nothing.
 *
 * ```ts
 * import { runStartupIdleBench } from "./startup_idle.ts";
 * const section = await runStartupIdleBench({ groups: ["http", "echo"], log: console.log });
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
  startProcess,
  treeRssKiB,
} from "./procs.ts";
import {
  checkTarget,
  finiteOrNull,
  formatNumber,
  markdownTable,
  median,
  type TargetCheck,
} from "./stats.ts";
import {
  BENCH_DIR,
  type SectionResult,
  sockitCommand,
  sockitHelp,
  type StartupResult,
} from "./common.ts";

/** Starts measured per server; the median is reported. */
export const STARTUP_RUNS = 10;
/** Idle connections held open for the memory measurement. */
export const IDLE_CONNECTIONS = 1000;
/** Wait after opening them before RSS is read, so the server has accepted them all. */
export const IDLE_SETTLE_MS = 2000;
/** Target: RSS growth with {@link IDLE_CONNECTIONS} idle connections, in MiB. */
export const IDLE_TARGET_MIB = 20;
/** Target: a sockit server's RSS once started, before any connection, in MiB (issue #16). */
export const STARTED_RSS_TARGET_MIB = 45;
/** Target: spawn → accepting for `sockit http-serve`, in ms (issue #16). */
export const HTTP_STARTUP_TARGET_MS = 40;

interface Subject {
  name: string;
  group: "http" | "echo";
  sockit: boolean;
  spec(port: number, dir: string): ProcessSpec;
}

async function subjects(): Promise<Subject[]> {
  const httpQuiet = (await sockitHelp("http-serve")).includes("--quiet") ? ["--quiet"] : [];
  const echoQuiet = (await sockitHelp("echo-server")).includes("--quiet") ? ["--quiet"] : [];
  const hostPort = (port: number) => ["--port", String(port), "--host", BENCH_HOST];
  return [
    {
      name: "sockit http-serve",
      group: "http",
      sockit: true,
      spec: (port, dir) => ({
        name: "sockit http-serve",
        ...sockitCommand(["http-serve", dir, ...httpQuiet, ...hostPort(port)]),
        port,
      }),
    },
    {
      name: "Deno.serve ref",
      group: "http",
      sockit: false,
      spec: (port, dir) => ({
        name: "Deno.serve ref",
        cmd: Deno.execPath(),
        args: ["run", "-A", "--quiet", `${BENCH_DIR}/deno_serve_ref.ts`, dir, ...hostPort(port)],
        port,
      }),
    },
    {
      name: "sockit echo-server",
      group: "echo",
      sockit: true,
      spec: (port) => ({
        name: "sockit echo-server",
        ...sockitCommand(["echo-server", ...echoQuiet, ...hostPort(port)]),
        port,
      }),
    },
    {
      name: "node net echo",
      group: "echo",
      sockit: false,
      spec: (port) => ({
        name: "node net echo",
        cmd: "node",
        args: [`${BENCH_DIR}/node_echo.mjs`, BENCH_HOST, String(port)],
        port,
      }),
    },
  ];
}

async function measureStartupMs(subject: Subject, dir: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const server = await startProcess(subject.spec(freePort(), dir));
    times.push(server.startupMs);
    await server.stop();
  }
  return median(times);
}

/**
 * RSS (MiB) of the server once started, and its growth while it holds
 * {@link IDLE_CONNECTIONS} idle connections.
 */
async function measureIdleMiB(
  subject: Subject,
  dir: string,
): Promise<{ startedMiB: number; growthMiB: number }> {
  const port = freePort();
  const server = await startProcess(subject.spec(port, dir));
  const conns: Deno.TcpConn[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const baseline = treeRssKiB(server.pid);
    for (let i = 0; i < IDLE_CONNECTIONS; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, () => Deno.connect({ hostname: BENCH_HOST, port })),
      );
      conns.push(...batch);
    }
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    return { startedMiB: baseline / 1024, growthMiB: (treeRssKiB(server.pid) - baseline) / 1024 };
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await server.stop();
  }
}

/** Options for {@link runStartupIdleBench}. */
export interface StartupIdleOptions {
  groups: ("http" | "echo")[];
  log: (line: string) => void;
}

/** Measures start-up time and idle memory for the chosen groups. */
export async function runStartupIdleBench(options: StartupIdleOptions): Promise<SectionResult> {
  const dir = makeBenchTempDir("sockit-bench-idle-");
  Deno.writeTextFileSync(`${dir}/index.html`, "<!doctype html><title>idle</title>\n");
  const rows: string[][] = [];
  const data: StartupResult[] = [];
  const targets: TargetCheck[] = [];
  const notes: string[] = [];
  try {
    for (const subject of (await subjects()).filter((s) => options.groups.includes(s.group))) {
      options.log(`bench: start-up and idle memory: ${subject.name}`);
      let startup = NaN;
      let idle = NaN;
      let started = NaN;
      try {
        startup = await measureStartupMs(subject, dir);
        ({ startedMiB: started, growthMiB: idle } = await measureIdleMiB(subject, dir));
      } catch (err) {
        notes.push(`${subject.name}: ${(err as Error).message}`);
        options.log(`bench: ${subject.name} failed: ${(err as Error).message}`);
      }
      rows.push([
        subject.name,
        formatNumber(startup),
        formatNumber(started, 1),
        formatNumber(idle, 1),
      ]);
      data.push({
        name: subject.name,
        sockit: subject.sockit,
        startupMs: finiteOrNull(startup),
        startedRssMiB: finiteOrNull(started),
        idleGrowthMiB: finiteOrNull(idle),
        idleConnections: IDLE_CONNECTIONS,
      });
      if (subject.sockit) {
        targets.push(
          checkTarget(
            `${subject.name}: RSS once started`,
            started,
            STARTED_RSS_TARGET_MIB,
            "atMost",
            " MiB",
          ),
        );
        if (subject.group === "http") {
          targets.push(
            checkTarget(
              `${subject.name}: start → accepting`,
              startup,
              HTTP_STARTUP_TARGET_MS,
              "atMost",
              " ms",
            ),
          );
        }
        targets.push(
          checkTarget(
            `${subject.name}: RSS growth with ${IDLE_CONNECTIONS} idle connections`,
            idle,
            IDLE_TARGET_MIB,
            "atMost",
            " MiB",
          ),
        );
      }
    }
  } finally {
    removeTempDir(dir);
  }
  const markdown = [
    `### Start-up and idle connections`,
    "",
    markdownTable(
      [
        "server",
        `start → accepting, ms (median of ${STARTUP_RUNS})`,
        "RSS once started, MiB",
        `RSS growth, ${IDLE_CONNECTIONS} idle conns, MiB`,
      ],
      rows,
    ),
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
  return { markdown, targets, data: { startup: data } };
}
