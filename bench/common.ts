/**
 * Paths and small shared pieces of the benchmark harness: where bench/ and its gitignored
 * output folder are, how sockit is started from source, how the C helpers are compiled on
 * demand, and the shape every section returns to bench/run.ts.
 *
 * ```ts
 * const { cmd, args } = sockitCommand(["echo-server", "--port", "0"]);
 * const loadClient = await compileC("echo_load"); // bench/out/echo_load
 * ```
 *
 * @module
 */
import type { TargetCheck } from "./stats.ts";
import { runTool, which } from "./procs.ts";
import type { CompressionBenchRow } from "./compression.ts";

/** Absolute path of bench/. */
export const BENCH_DIR: string = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
/** Absolute path of the repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Gitignored output: compiled C helpers, npm http-server, results.md. */
export const OUT_DIR = `${BENCH_DIR}/out`;

/** What each section hands back: its Markdown, its target verdicts and its numbers. */
export interface SectionResult {
  markdown: string;
  targets: TargetCheck[];
  /** The same medians as the Markdown, for bench/chart.ts and bench/out/results.json. */
  data: SectionData;
}

/** The numbers of one or more sections; a section fills only its own field. */
export interface SectionData {
  http?: HttpLoadResult[];
  /** `--only h2`: h2load against sockit and nginx over h2c (bench/h2_macro.ts). */
  h2?: HttpLoadResult[];
  echo?: EchoServerResult[];
  startup?: StartupResult[];
  /** `--only compression`: bytes and CPU per coding (bench/compression.ts). */
  compression?: CompressionBenchRow[];
}

/** One HTTP load and every server measured under it. */
export interface HttpLoadResult {
  id: string;
  label: string;
  /** The number the load is judged by: request rate, or transfer rate for big files. */
  metric: "reqPerSec" | "mibPerSec";
  servers: HttpServerResult[];
}

/** One server's medians under one HTTP load; null where it was not measured. */
export interface HttpServerResult {
  name: string;
  sockit: boolean;
  reqPerSec: number | null;
  mibPerSec: number | null;
  p99Ms: number | null;
  peakRssMiB: number | null;
}

/** One echo server's medians over the three echo_load modes; null where not measured. */
export interface EchoServerResult {
  name: string;
  sockit: boolean;
  bulkMiBps: number | null;
  pingPerSec: number | null;
  fanPerSec: number | null;
  peakRssMiB: number | null;
}

/** Start-up time and idle-connection memory of one server; null where it failed. */
export interface StartupResult {
  name: string;
  sockit: boolean;
  startupMs: number | null;
  idleGrowthMiB: number | null;
  /** How many idle connections {@link StartupResult.idleGrowthMiB} is measured with. */
  idleConnections: number;
}

/** bench/out/results.json: one run's numbers and where they come from. */
export interface BenchResults extends SectionData {
  /** ISO 8601 start time of the run. */
  started: string;
  command: string;
  /** `git describe --always --dirty` of the tree that was measured, or null outside git. */
  commit: string | null;
  /** One line on CPU, kernel and Deno. */
  machine: string;
}

/** The command that runs sockit from source, as the README documents it. */
export function sockitCommand(args: string[]): { cmd: string; args: string[] } {
  // --unstable-net: --workers shares the port with reusePort, which needs it in Deno 2.
  return {
    cmd: Deno.execPath(),
    args: ["run", "-A", "--quiet", "--unstable-net", `${ROOT}/main.ts`, ...args],
  };
}

const helpCache = new Map<string, string>();

/** `sockit SUBCOMMAND --help` text, to find which flags exist (--quiet, --workers). */
export async function sockitHelp(subcommand: string): Promise<string> {
  if (!helpCache.has(subcommand)) {
    const { cmd, args } = sockitCommand([subcommand, "--help"]);
    const r = await runTool(cmd, args);
    helpCache.set(subcommand, r.stdout + r.stderr);
  }
  return helpCache.get(subcommand)!;
}

/**
 * Compiles bench/NAME.c into bench/out/NAME with gcc -O2 when the binary is missing or
 * older than its source. Throws a one-line error naming the missing tool.
 */
export async function compileC(name: string): Promise<string> {
  const source = `${BENCH_DIR}/${name}.c`;
  const binary = `${OUT_DIR}/${name}`;
  const mtime = (p: string) => {
    try {
      return Deno.statSync(p).mtime?.getTime() ?? 0;
    } catch {
      return -1;
    }
  };
  if (mtime(binary) >= mtime(source)) return binary;
  if (!which("gcc")) throw new Error("gcc not found: install it (apt-get install -y gcc)");
  Deno.mkdirSync(OUT_DIR, { recursive: true });
  const r = await runTool("gcc", ["-O2", "-Wall", "-pthread", "-o", binary, source]);
  if (r.code !== 0) throw new Error(`gcc failed on ${name}.c: ${r.stderr.trim()}`);
  return binary;
}
