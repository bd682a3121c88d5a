/**
 * Pure helpers of the benchmark harness: parse what the load tools print (wrk's JSON line
 * from `bench/wrk_report.lua`, `bench/echo_load.c`'s JSON line, h2load's summary), take
 * medians, judge targets and render aligned Markdown tables. No I/O here, so it is
 * unit-tested in `tests/bench_stats_test.ts`.
 *
 * ```ts
 * import { markdownTable, parseWrkOutput } from "./stats.ts";
 * declare const stdout: string; // wrk's output with bench/wrk_report.lua
 * const r = parseWrkOutput(stdout); // { requests, bytes, seconds, reqPerSec, ... }
 * console.log(markdownTable(["server", "req/s"], [["sockit", "71,902"]]));
 * ```
 *
 * @module
 */

/** One wrk run, as reported by bench/wrk_report.lua. */
export interface WrkResult {
  requests: number;
  bytes: number;
  seconds: number;
  reqPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Connect, read, write, timeout and non-2xx/3xx errors added up. */
  errors: number;
  /** Non-2xx/3xx responses alone (a wrong answer, not a dropped socket). */
  statusErrors: number;
}

const MIB = 1024 * 1024;

/** Finds the `{"wrk_json":1,...}` line in wrk's stdout; throws if wrk printed none. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split("\n").find((l) => l.startsWith('{"wrk_json":1'));
  if (line === undefined) throw new Error("wrk printed no result line (bench/wrk_report.lua)");
  const j = JSON.parse(line);
  const seconds = j.duration_us / 1e6;
  return {
    requests: j.requests,
    bytes: j.bytes,
    seconds,
    reqPerSec: seconds > 0 ? j.requests / seconds : 0,
    mibPerSec: seconds > 0 ? j.bytes / seconds / MIB : 0,
    p50Ms: j.p50_us / 1000,
    p99Ms: j.p99_us / 1000,
    errors: j.connect_errors + j.read_errors + j.write_errors + j.timeouts + j.status_errors,
    statusErrors: j.status_errors,
  };
}

/** One echo_load run: bulk fills mibPerSec, pingpong/fanout fill perSec and latencies. */
export interface EchoLoadResult {
  mode: "bulk" | "pingpong" | "fanout";
  mibPerSec?: number;
  perSec?: number;
  p50Us?: number;
  p99Us?: number;
}

/** Parses echo_load's one JSON line; throws with its error text when it failed. */
export function parseEchoLoadOutput(stdout: string): EchoLoadResult {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let j;
  try {
    j = JSON.parse(line);
  } catch {
    throw new Error(`echo_load printed no result line: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  if (!j.ok) throw new Error(`echo_load: ${j.error}`);
  return {
    mode: j.mode,
    mibPerSec: j.mib_per_s,
    perSec: j.per_s,
    p50Us: j.p50_us,
    p99Us: j.p99_us,
  };
}

/** Median of the finite numbers in `values`; NaN when there are none. */
export function median(values: readonly number[]): number {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** Medians of each numeric field over several runs of the same measurement. */
export function medianOf<T extends object>(runs: readonly T[]): Record<keyof T, number> {
  const out = {} as Record<keyof T, number>;
  if (runs.length === 0) return out;
  for (const key of Object.keys(runs[0]) as (keyof T)[]) {
    if (typeof runs[0][key] !== "number") continue;
    out[key] = median(runs.map((r) => r[key] as number));
  }
  return out;
}

/** `value` when it is a finite number, else null (JSON has no NaN). */
export function finiteOrNull(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}

/** Formats a number for a table: thousands separators, `digits` decimals, "–" if unknown. */
export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `a ÷ b` as "1.23×", or "–" when either side is missing. */
export function formatRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) {
    return "–";
  }
  return `${(a / b).toFixed(2)}×`;
}

/** Renders a Markdown table with padded columns (numbers right-aligned). */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) =>
    i > 0 && rows.length > 0 && rows.every((r) => /^[-–\d.,×%]*[×%]?$/.test(r[i] ?? ""))
  );
  const cell = (text: string, i: number) =>
    numeric[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]);
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => cell(c ?? "", i)).join(" | ")} |`;
  const rule = `| ${
    widths.map((w, i) => (numeric[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")
  } |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** How a target came out. */
export type Verdict = "PASS" | "FAIL" | "SKIP";

/** One target line: what is compared, the measured value and the bound. */
export interface TargetCheck {
  verdict: Verdict;
  line: string;
}

/**
 * Judges `measured` against `bound` (`atLeast`: measured ≥ bound; `atMost`: measured ≤
 * bound). A missing measurement is SKIP with `why`, never PASS.
 */
export function checkTarget(
  label: string,
  measured: number | undefined,
  bound: number,
  kind: "atLeast" | "atMost",
  unit = "×",
  why = "not measured",
): TargetCheck {
  const sign = kind === "atLeast" ? "≥" : "≤";
  if (measured === undefined || !Number.isFinite(measured)) {
    return { verdict: "SKIP", line: `SKIP  ${label}: ${why} (target ${sign} ${bound}${unit})` };
  }
  const ok = kind === "atLeast" ? measured >= bound : measured <= bound;
  const verdict: Verdict = ok ? "PASS" : "FAIL";
  return {
    verdict,
    line: `${verdict}  ${label}: ${measured.toFixed(2)}${unit} (target ${sign} ${bound}${unit})`,
  };
}

/** One h2load run (nghttp2's HTTP/2 load tool), from its text summary. */
export interface H2loadResult {
  /** The measured time (without --warm-up-time). */
  seconds: number;
  /** Requests done (answered or failed) in the measured time. */
  requests: number;
  succeeded: number;
  reqPerSec: number;
  /** All bytes received (frames, headers and data) per second. */
  mibPerSec: number;
  meanMs: number;
  maxMs: number;
  /** How much HPACK saved on response headers, in percent (h2load's "space savings"). */
  headerSavingsPct: number;
  /** Failed (incl. non-2xx/3xx), errored and timed-out requests added up. */
  errors: number;
}

/** Milliseconds of one of h2load's durations: "50us", "37.58ms", "1.00s", "1.5min". */
export function parseH2loadDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|min|hr)$/.exec(text.trim());
  if (!m) throw new Error(`h2load printed an unknown duration ${JSON.stringify(text)}`);
  if (m[2] === "us") return Number(m[1]) / 1000; // divided: 478 * 0.001 is not 0.478
  return Number(m[1]) * { ms: 1, s: 1000, min: 60_000, hr: 3_600_000 }[m[2]]!;
}

/** Parses h2load's summary; throws naming the missing line when it printed none (it failed). */
export function parseH2loadOutput(stdout: string): H2loadResult {
  const need = (pattern: RegExp, what: string) => {
    const m = pattern.exec(stdout);
    if (!m) {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      throw new Error(`h2load printed no ${what} line${last ? `; last line: ${last}` : ""}`);
    }
    return m;
  };
  const finished = need(/^finished in (\S+), ([\d.]+) req\/s/m, "'finished in'");
  const requests = need(
    /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m,
    "'requests:'",
  ).map(Number);
  const traffic = need(/^traffic: \S+ \((\d+)\) total, .*space savings (-?[\d.]+)%/m, "'traffic:'");
  const time = need(/^time for request:\s+(\S+)\s+(\S+)\s+(\S+)/m, "'time for request:'");
  // "finished in" includes --warm-up-time, while req/s and the traffic line count the
  // measured time only: that time is done requests ÷ req/s.
  const reqPerSec = Number(finished[2]);
  const done = requests[3];
  const seconds = reqPerSec > 0 ? done / reqPerSec : parseH2loadDuration(finished[1]) / 1000;
  return {
    seconds,
    requests: done,
    succeeded: requests[4],
    reqPerSec,
    mibPerSec: seconds > 0 ? Number(traffic[1]) / seconds / MIB : 0,
    meanMs: parseH2loadDuration(time[3]),
    maxMs: parseH2loadDuration(time[2]),
    headerSavingsPct: Number(traffic[2]),
    errors: requests[5] + requests[6] + requests[7],
  };
}
