/**
 * Echo macro benchmark: sockit echo-server against `socat … PIPE`, a Node `net` echo
 * (bench/node_echo.mjs) and a C epoll echo (bench/epoll_echo.c, the limit), driven by the C
 * load client bench/echo_load.c in three modes: bulk (one connection, verified byte-exact,
 * MiB/s), ping-pong (64-byte round trips/s, p99 µs) and fan-out (200 connections).
 *
 * ```ts
 * import { runEchoBench } from "./echo_macro.ts";
 * const log = (line: string) => console.log(line);
 * const section = await runEchoBench({ rounds: 1, seconds: 3, bulkBytes: 256 << 20, log });
 * ```
 *
 * @module
 */
import {
  BENCH_HOST,
  freePort,
  type ProcessSpec,
  runTool,
  sampleTreeRss,
  startProcess,
  which,
} from "./procs.ts";
import {
  checkTarget,
  type EchoLoadResult,
  finiteOrNull,
  formatNumber,
  formatRatio,
  markdownTable,
  median,
  parseEchoLoadOutput,
  type TargetCheck,
} from "./stats.ts";
import {
  BENCH_DIR,
  compileC,
  type EchoServerResult,
  type SectionResult,
  sockitCommand,
  sockitHelp,
} from "./common.ts";

/** Connections in fan-out mode. */
export const FANOUT_CONNECTIONS = 200;
/** Target: fan-out round trips/s of sockit ÷ the C epoll echo (issue #16). */
export const FANOUT_TARGET_RATIO = 0.85;

interface EchoPeer {
  name: string;
  sockit: boolean;
  unavailable: string | null;
  spec(port: number): ProcessSpec;
}

async function echoPeers(epollBinary: string | null): Promise<EchoPeer[]> {
  const help = await sockitHelp("echo-server");
  const quiet = help.includes("--quiet") ? ["--quiet"] : [];
  const sockit = (workers: number): EchoPeer => ({
    name: workers === 1 ? "sockit" : `sockit --workers ${workers}`,
    sockit: true,
    unavailable: null,
    spec: (port) => ({
      name: "sockit echo-server",
      ...sockitCommand([
        "echo-server",
        ...quiet,
        "--port",
        String(port),
        "--host",
        BENCH_HOST,
        ...(workers > 1 ? ["--workers", String(workers)] : []),
      ]),
      port,
    }),
  });
  const peers = [sockit(1)];
  if (help.includes("--workers")) peers.push(sockit(2));
  const socat = which("socat");
  peers.push({
    name: "socat",
    sockit: false,
    unavailable: socat ? null : "socat not found (apt-get install -y socat)",
    spec: (port) => ({
      name: "socat",
      cmd: socat!,
      args: [`TCP-LISTEN:${port},bind=${BENCH_HOST},fork,reuseaddr`, "PIPE"],
      port,
    }),
  });
  peers.push({
    name: "node net",
    sockit: false,
    unavailable: which("node") ? null : "node not found (apt-get install -y nodejs)",
    spec: (port) => ({
      name: "node net",
      cmd: "node",
      args: [`${BENCH_DIR}/node_echo.mjs`, BENCH_HOST, String(port)],
      port,
    }),
  });
  peers.push({
    name: "C epoll",
    sockit: false,
    unavailable: epollBinary ? null : "gcc not found (apt-get install -y gcc)",
    spec: (port) => ({
      name: "C epoll",
      cmd: epollBinary!,
      args: [BENCH_HOST, String(port)],
      port,
    }),
  });
  return peers;
}

interface EchoRound {
  /** sockit's own load client (`echo-client --connections`), fan-out msgs/s; sockit only. */
  denoFanPerSec?: number;
  bulkMiBps: number;
  pingPerSec: number;
  pingP99Us: number;
  fanPerSec: number;
  fanP99Us: number;
  peakRssMiB: number;
}

async function echoLoad(binary: string, args: string[]): Promise<EchoLoadResult> {
  const r = await runTool(binary, args);
  return parseEchoLoadOutput(r.stdout || r.stderr);
}

/** Options for {@link runEchoBench}. */
export interface EchoBenchOptions {
  rounds: number;
  seconds: number;
  /** Bytes pushed through one connection in bulk mode. */
  bulkBytes: number;
  log: (line: string) => void;
}

/** Runs the whole echo comparison; resolves to its Markdown, target lines and medians. */
export async function runEchoBench(options: EchoBenchOptions): Promise<SectionResult> {
  const { rounds, seconds, bulkBytes, log } = options;
  let loadClient: string;
  let epoll: string | null = null;
  try {
    loadClient = await compileC("echo_load");
    epoll = await compileC("epoll_echo");
  } catch (err) {
    const msg = `bench: echo bench skipped: ${(err as Error).message}`;
    log(msg);
    return { markdown: `_${msg.slice(7)}_`, targets: [], data: {} };
  }
  const peers = await echoPeers(epoll);
  const loadModeAvailable = (await sockitHelp("echo-client")).includes("--connections");
  const notes: string[] = [];
  for (const p of peers.filter((p) => p.unavailable)) {
    log(`bench: skipping ${p.name}: ${p.unavailable}`);
    notes.push(`${p.name} skipped: ${p.unavailable}`);
  }
  const runnable = peers.filter((p) => !p.unavailable);
  const results = new Map<string, EchoRound[]>();
  const failed = new Map<string, string>(); // did not start: not tried again
  const loadFailures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]);
    for (const peer of order) {
      if (failed.has(peer.name)) continue;
      log(`bench: echo round ${round + 1}/${rounds}: ${peer.name}`);
      const port = freePort();
      let server;
      try {
        server = await startProcess(peer.spec(port));
      } catch (err) {
        failed.set(peer.name, (err as Error).message);
        log(`bench: ${peer.name} did not start: ${(err as Error).message}`);
        continue;
      }
      try {
        const p = String(port);
        const rss = sampleTreeRss(server.pid);
        // Warm-up: a short ping-pong so JIT-compiled servers are not timed cold.
        await echoLoad(loadClient, ["pingpong", BENCH_HOST, p, "0.5"]);
        const bulk = await echoLoad(loadClient, ["bulk", BENCH_HOST, p, String(bulkBytes)]);
        const ping = await echoLoad(loadClient, ["pingpong", BENCH_HOST, p, String(seconds)]);
        const fan = await echoLoad(loadClient, [
          "fanout",
          BENCH_HOST,
          p,
          String(seconds),
          String(FANOUT_CONNECTIONS),
        ]);
        const denoFan = peer.name === "sockit" && loadModeAvailable
          ? await sockitLoadClient(p, seconds)
          : undefined;
        const r: EchoRound = {
          denoFanPerSec: denoFan,
          bulkMiBps: bulk.mibPerSec!,
          pingPerSec: ping.perSec!,
          pingP99Us: ping.p99Us!,
          fanPerSec: fan.perSec!,
          fanP99Us: fan.p99Us!,
          peakRssMiB: rss.stop() / 1024,
        };
        results.set(peer.name, [...(results.get(peer.name) ?? []), r]);
        log(
          `bench:   bulk ${formatNumber(r.bulkMiBps)} MiB/s, ping-pong ${
            formatNumber(r.pingPerSec)
          }/s p99 ${formatNumber(r.pingP99Us)} µs, fan-out ${formatNumber(r.fanPerSec)}/s`,
        );
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
  for (const [name, why] of failed) notes.push(`${name} did not start: ${why}`);
  notes.push(...loadFailures);

  const med = (name: string) => {
    const runs = results.get(name);
    if (!runs || runs.length === 0) return undefined;
    const m = (k: Exclude<keyof EchoRound, "denoFanPerSec">) => median(runs.map((r) => r[k]));
    return {
      bulkMiBps: m("bulkMiBps"),
      pingPerSec: m("pingPerSec"),
      pingP99Us: m("pingP99Us"),
      fanPerSec: m("fanPerSec"),
      fanP99Us: m("fanP99Us"),
      peakRssMiB: m("peakRssMiB"),
    };
  };
  const s = med("sockit");
  const rows = peers.filter((p) => results.has(p.name)).map((p) => {
    const m = med(p.name)!;
    return [
      p.name,
      formatNumber(m.bulkMiBps),
      formatNumber(m.pingPerSec),
      formatNumber(m.pingP99Us),
      formatNumber(m.fanPerSec),
      formatNumber(m.fanP99Us),
      formatNumber(m.peakRssMiB, 1),
      p.sockit ? "" : formatRatio(s?.bulkMiBps, m.bulkMiBps),
      p.sockit ? "" : formatRatio(s?.pingPerSec, m.pingPerSec),
      p.sockit ? "" : formatRatio(s?.fanPerSec, m.fanPerSec),
    ];
  });
  const table = markdownTable([
    "server",
    "bulk MiB/s",
    "ping-pong /s",
    "ping p99 µs",
    `fan-out ${FANOUT_CONNECTIONS} /s`,
    "fan-out p99 µs",
    "peak RSS MiB",
    "sockit ÷ peer bulk",
    "÷ ping-pong",
    "÷ fan-out",
  ], rows);
  const ratio = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  const denoFan = median(
    (results.get("sockit") ?? []).flatMap((r) => r.denoFanPerSec ?? []),
  );
  const loadTable = Number.isFinite(denoFan) && s !== undefined
    ? markdownTable(["load client (same sockit echo-server)", `fan-out ${FANOUT_CONNECTIONS} /s`], [
      ["bench/echo_load.c (C, epoll)", formatNumber(s.fanPerSec)],
      ["sockit echo-client --connections (Deno)", formatNumber(denoFan)],
    ])
    : null;
  const targets: TargetCheck[] = [
    checkTarget(
      "echo bulk: sockit ÷ C epoll",
      ratio(s?.bulkMiBps, med("C epoll")?.bulkMiBps),
      0.7,
      "atLeast",
    ),
    checkTarget(
      `echo fan-out ${FANOUT_CONNECTIONS}: sockit ÷ C epoll`,
      ratio(s?.fanPerSec, med("C epoll")?.fanPerSec),
      FANOUT_TARGET_RATIO,
      "atLeast",
    ),
    checkTarget(
      "echo ping-pong round trips/s: sockit ÷ socat",
      ratio(s?.pingPerSec, med("socat")?.pingPerSec),
      1,
      "atLeast",
    ),
    ...(loadTable === null ? [] : [
      checkTarget(
        `echo load client, fan-out ${FANOUT_CONNECTIONS}: sockit echo-client ÷ echo_load.c`,
        ratio(denoFan, s?.fanPerSec),
        0.7,
        "atLeast",
      ),
    ]),
  ];
  const markdown = [
    `### Echo (bench/echo_load.c; bulk ${
      formatNumber(bulkBytes / 1024 / 1024)
    } MiB verified byte-exact, ping-pong and fan-out ${seconds} s, 64-byte messages; median of ${rounds} round${
      rounds > 1 ? "s" : ""
    })`,
    "",
    table,
    "",
    "Peak RSS adds up the server's process tree; socat forks one process per connection, so",
    "its fan-out figure counts shared pages once per child.",
    ...(loadTable === null ? [] : [
      "",
      `sockit's own load mode against the same server, ${FANOUT_CONNECTIONS} connections, 64-byte`,
      "messages, every echo verified (a Deno client against a C one):",
      "",
      loadTable,
    ]),
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
  const data: EchoServerResult[] = peers.filter((p) => results.has(p.name)).map((p) => {
    const m = med(p.name)!;
    return {
      name: p.name,
      sockit: p.sockit,
      bulkMiBps: finiteOrNull(m.bulkMiBps),
      pingPerSec: finiteOrNull(m.pingPerSec),
      fanPerSec: finiteOrNull(m.fanPerSec),
      peakRssMiB: finiteOrNull(m.peakRssMiB),
    };
  });
  return { markdown, targets, data: { echo: data } };
}

/** `sockit echo-client --connections N --duration S --json` against `port`: msgs/s. */
async function sockitLoadClient(port: string, seconds: number): Promise<number> {
  const { cmd, args } = sockitCommand([
    "echo-client",
    `${BENCH_HOST}:${port}`,
    "--mode",
    "raw",
    "--connections",
    String(FANOUT_CONNECTIONS),
    "--duration",
    String(seconds),
    "--json",
  ]);
  const r = await runTool(cmd, args);
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  const summary = JSON.parse(line || "{}") as { messages_per_second?: number; errors?: number };
  if (r.code !== 0 || summary.messages_per_second === undefined) {
    throw new Error(`sockit echo-client load mode failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return summary.messages_per_second;
}
