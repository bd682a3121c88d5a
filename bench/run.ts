/**
 * `deno task bench`: sockit's benchmark harness. Runs the micro benchmarks (`deno bench`
 * over the framing reader and the HTTP head parser), then the HTTP and echo macro
 * benchmarks against real peers on 127.0.0.1, start-up time and idle-connection memory,
 * and prints one Markdown report with ratios and PASS/FAIL target lines. It writes the
 * report to bench/out/results.md, the same medians to bench/out/results.json and their
 * chart (bench/chart.ts) to bench/out/results.svg. Every server it starts is killed at the
 * end, on error and on Ctrl-C.
 *
 * ```sh
 * deno task bench                       # 3 rounds × 10 s per load (about 25 minutes)
 * deno task bench --quick               # 1 round × 3 s: a smoke run (about 4 minutes)
 * deno task bench --only http --rounds 5 --duration 20
 * deno task bench --only compression    # --compress: bytes saved, CPU per request
 * deno task bench --only h2             # HTTP/2: h2load against sockit and nginx (h2c)
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { killAll, killTools, runTool } from "./procs.ts";
import { BENCH_DIR, type BenchResults, OUT_DIR, ROOT, type SectionResult } from "./common.ts";
import { renderChart } from "./chart.ts";
import { runHttpBench } from "./http_macro.ts";
import { runH2Bench } from "./h2_macro.ts";
import { runEchoBench } from "./echo_macro.ts";
import { runCompressionBench } from "./compression.ts";
import { runStartupIdleBench } from "./startup_idle.ts";
import type { TargetCheck } from "./stats.ts";

/** Rounds and seconds per load of a full run, and of `--quick`. */
export const DEFAULT_ROUNDS = 3;
export const DEFAULT_SECONDS = 10;
export const QUICK_ROUNDS = 1;
export const QUICK_SECONDS = 3;
/** Bytes per echo bulk run (full / quick). */
export const BULK_BYTES = 1024 * 1024 * 1024;
export const QUICK_BULK_BYTES = 256 * 1024 * 1024;

const SECTIONS = ["micro", "http", "h2", "echo", "compression"] as const;
type Section = typeof SECTIONS[number];

const USAGE =
  "usage: deno task bench [--quick] [--only http|h2|echo|micro|compression] [--rounds N] [--duration S]";

function usage(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  Deno.exit(2);
}

function parseOptions(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string", multiple: true },
        rounds: { type: "string" },
        duration: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const only = (v.only ?? [...SECTIONS]).flatMap((s) => s.split(","));
  for (const s of only) {
    if (!SECTIONS.includes(s as Section)) usage(`unknown section '${s}' for --only`);
  }
  const positive = (value: string | undefined, flag: string, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) usage(`invalid ${flag} '${value}': expected a number > 0`);
    return n;
  };
  const rounds = Math.round(
    positive(v.rounds, "--rounds", v.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS),
  );
  const seconds = positive(v.duration, "--duration", v.quick ? QUICK_SECONDS : DEFAULT_SECONDS);
  return {
    quick: v.quick,
    only: only as Section[],
    rounds,
    seconds,
    bulkBytes: v.quick ? QUICK_BULK_BYTES : BULK_BYTES,
  };
}

async function cpuModel(): Promise<string> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU";
}

/** `git describe --always --dirty` of the measured tree, or null when git cannot say. */
async function describeCommit(): Promise<string | null> {
  const r = await runTool("git", ["describe", "--always", "--dirty"], { cwd: ROOT })
    .catch(() => null);
  return r?.code === 0 ? r.stdout.trim() : null;
}

/** The machine the numbers come from: they mean nothing without it. */
async function describeMachine(): Promise<string> {
  const model = await cpuModel();
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ")
    .slice(0, 3).join(" ");
  /** "name X.Y.Z" from the tool's version output, or "name missing". */
  const version = (name: string, args: string[], pattern: RegExp) =>
    runTool(name, args).then((r) => `${name} ${pattern.exec(r.stdout + r.stderr)?.[1] ?? "?"}`)
      .catch(() => `${name} missing`);
  const tools = await Promise.all([
    version("wrk", ["--version"], /wrk (?:debian\/)?(\S+)/),
    version("nginx", ["-v"], /nginx\/(\S+)/),
    version("node", ["--version"], /v(\S+)/),
    version("socat", ["-V"], /socat version (\S+)/),
    version("python3", ["--version"], /Python (\S+)/),
  ]);
  return [
    `- Machine: ${navigator.hardwareConcurrency} CPUs (nproc), ${model}, Linux ${Deno.osRelease()},` +
    ` load average at start ${load}`,
    `- Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); peers: ${tools.join("; ")}`,
  ].join("\n");
}

async function runMicro(log: (line: string) => void): Promise<SectionResult> {
  log("bench: micro benchmarks (deno bench)");
  const files = ["framing_bench.ts", "request_bench.ts"].map((f) => `${BENCH_DIR}/${f}`);
  const r = await runTool(Deno.execPath(), ["bench", "-A", "--no-check", ...files], {
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  });
  const text = (r.stdout + (r.code === 0 ? "" : r.stderr)).trim();
  log(text);
  return {
    markdown: ["### Micro (deno bench)", "", "```", text, "```"].join("\n"),
    data: {},
    targets: r.code === 0
      ? []
      : [{ verdict: "FAIL", line: `FAIL  deno bench exited with code ${r.code}` }],
  };
}

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  const log = (line: string) => console.error(line);
  const onSignal = () => {
    log("bench: interrupted; stopping every server it started");
    killTools();
    killAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const started = new Date();
  const command = `deno task bench${Deno.args.length ? " " + Deno.args.join(" ") : ""}`;
  const sections: SectionResult[] = [];
  try {
    const machine = await describeMachine();
    if (options.only.includes("micro")) sections.push(await runMicro(log));
    if (options.only.includes("http")) sections.push(await runHttpBench({ ...options, log }));
    if (options.only.includes("h2")) sections.push(await runH2Bench({ ...options, log }));
    if (options.only.includes("echo")) sections.push(await runEchoBench({ ...options, log }));
    if (options.only.includes("compression")) {
      sections.push(await runCompressionBench({ quick: options.quick, log }));
    }
    const groups = options.only.filter((s) => s === "http" || s === "echo");
    if (groups.length > 0) sections.push(await runStartupIdleBench({ groups, log }));

    const targets: TargetCheck[] = sections.flatMap((s) => s.targets);
    const report = [
      `## sockit benchmark, ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      "",
      machine,
      `- Command: \`${command}\``,
      "",
      ...sections.flatMap((s) => [s.markdown, ""]),
      "### Targets",
      "",
      "```",
      ...(targets.length ? targets.map((t) => t.line) : ["(no target measured)"]),
      "```",
      "",
    ].join("\n");
    console.log(report);
    const results: BenchResults = {
      started: started.toISOString(),
      command,
      commit: await describeCommit(),
      machine:
        `${navigator.hardwareConcurrency} CPUs, ${await cpuModel()}, Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}`,
      ...Object.assign({}, ...sections.map((s) => s.data)),
    };
    await Deno.mkdir(OUT_DIR, { recursive: true });
    await Deno.writeTextFile(`${OUT_DIR}/results.md`, report);
    await Deno.writeTextFile(`${OUT_DIR}/results.json`, JSON.stringify(results, null, 2) + "\n");
    await Deno.writeTextFile(`${OUT_DIR}/results.svg`, renderChart(results));
    log(`bench: report written to ${OUT_DIR}/results.{md,json,svg}`);
    return 0;
  } finally {
    killTools();
    await killAll();
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
