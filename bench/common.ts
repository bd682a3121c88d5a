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

/** Absolute path of bench/. */
export const BENCH_DIR: string = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
/** Absolute path of the repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Gitignored output: compiled C helpers, npm http-server, results.md. */
export const OUT_DIR = `${BENCH_DIR}/out`;

/** What each section hands back: its Markdown and its target verdicts. */
export interface SectionResult {
  markdown: string;
  targets: TargetCheck[];
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
