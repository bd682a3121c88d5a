/**
 * Process plumbing for the benchmark harness: start a server on a free 127.0.0.1 port,
 * wait until its port accepts, sample the RSS of its whole process tree, and kill every
 * process it started — also on Ctrl-C or an error (see {@link killAll}).
 *
 * ```ts
 * import { freePort, sampleTreeRss, startProcess } from "./procs.ts";
 * const port = await freePort();
 * const args = ["-c", "/tmp/nginx.conf"];
 * const server = await startProcess({ name: "nginx", cmd: "nginx", args, port });
 * const rss = sampleTreeRss(server.pid);
 * // ... load it ...
 * console.log(rss.stop() / 1024, "MiB peak");
 * await server.stop();
 * ```
 *
 * @module
 */

/** The only address the harness talks to. */
export const BENCH_HOST = "127.0.0.1";
/** How long a server may take until its port accepts before it counts as failed. */
export const START_TIMEOUT_MS = 30_000;
/** How often the port is probed while a server starts (also the startup-time resolution). */
export const PORT_PROBE_INTERVAL_MS = 2;
/** How often RSS is sampled while a load runs. */
export const RSS_SAMPLE_INTERVAL_MS = 100;
/** Grace between SIGTERM and SIGKILL when stopping a server. */
export const STOP_GRACE_MS = 2_000;

/** Every process started and not yet stopped: what {@link killAll} cleans up. */
const live = new Set<RunningProcess>();
/** Set by {@link killAll}: from then on nothing new is started. */
let shuttingDown = false;

/** A started server process. */
export interface RunningProcess {
  name: string;
  pid: number;
  port: number;
  /** Milliseconds from spawn until the port accepted a connection. */
  startupMs: number;
  /** The last few KiB of stderr and stdout, for error messages. */
  output(): string;
  /** SIGTERM the tree, SIGKILL what is left after {@link STOP_GRACE_MS}; idempotent. */
  stop(): Promise<void>;
}

/** What to start. */
export interface ProcessSpec {
  name: string;
  cmd: string;
  args: string[];
  /** The port the process was told to listen on. */
  port: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Runs after the process is gone (e.g. remove its temp config folder). */
  cleanup?: () => void;
}

/** Asks the kernel for a free port on {@link BENCH_HOST} (released again at once). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: BENCH_HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Absolute path of `tool` on PATH, or null. */
export function which(tool: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const candidate = `${dir}/${tool}`;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not here */ }
  }
  for (const dir of ["/usr/sbin", "/sbin"]) {
    try {
      if (Deno.statSync(`${dir}/${tool}`).isFile) return `${dir}/${tool}`;
    } catch { /* not here */ }
  }
  return null;
}

/** Resolves true once `port` accepts a TCP connection (the probe is closed at once). */
async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: BENCH_HOST, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Keeps the last `limit` characters of a stream and drains it so the child never blocks. */
function drain(stream: ReadableStream<Uint8Array>, limit = 4096): () => string {
  let tail = "";
  const decoder = new TextDecoder();
  (async () => {
    try {
      for await (const chunk of stream) {
        tail = (tail + decoder.decode(chunk, { stream: true })).slice(-limit);
      }
    } catch { /* closed */ }
  })();
  return () => tail;
}

/**
 * Spawns `spec` and resolves once `spec.port` accepts. Throws (after killing it) when the
 * process exits first or does not accept within {@link START_TIMEOUT_MS}.
 */
export async function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  if (shuttingDown) {
    spec.cleanup?.();
    throw new Error(`not starting ${spec.name}: the benchmark is stopping`);
  }
  const started = performance.now();
  const child = new Deno.Command(spec.cmd, {
    args: spec.args,
    cwd: spec.cwd,
    env: spec.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdoutTail = drain(child.stdout);
  const stderrTail = drain(child.stderr);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stopped: Promise<void> | undefined;
  const proc: RunningProcess = {
    name: spec.name,
    pid: child.pid,
    port: spec.port,
    startupMs: NaN,
    output: () => (stderrTail() + stdoutTail()).trim(),
    stop: () => {
      stopped ??= (async () => {
        const tree = processTree(child.pid);
        signalAll(tree, "SIGTERM");
        const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), STOP_GRACE_MS));
        const outcome = await Promise.race([status, timer]);
        // Forked children (socat, nginx workers) may outlive their parent: kill them all.
        signalAll([...new Set([...tree, ...processTree(child.pid)])], "SIGKILL");
        if (outcome === "timeout") await status;
        live.delete(proc);
        try {
          spec.cleanup?.();
        } catch { /* best effort */ }
      })();
      return stopped;
    },
  };
  live.add(proc);
  const deadline = started + START_TIMEOUT_MS;
  while (!(await accepts(spec.port))) {
    if (exited || performance.now() > deadline) {
      await proc.stop();
      const why = exited ? `exited with code ${(await status).code}` : "did not accept in time";
      const lastLine = proc.output().split("\n").filter((l) => l.trim()).at(-1) ?? "";
      throw new Error(`${spec.name} ${why}${lastLine ? `: ${lastLine}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, PORT_PROBE_INTERVAL_MS));
  }
  proc.startupMs = performance.now() - started;
  return proc;
}

/**
 * Kills every process started by {@link startProcess} that is still running, and refuses to
 * start new ones from now on (a loop that was mid-way must not leave a fresh server behind).
 */
export async function killAll(): Promise<void> {
  shuttingDown = true;
  await Promise.allSettled([...live].map((p) => p.stop()));
  for (const dir of tempDirs) removeTempDir(dir);
}

const tempDirs = new Set<string>();

/** A fresh temp folder (mode 0755, so nginx workers can read it), removed by killAll. */
export function makeBenchTempDir(prefix: string): string {
  const dir = Deno.makeTempDirSync({ prefix });
  Deno.chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

/** Removes a folder made by {@link makeBenchTempDir}; a missing one is fine. */
export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}

/** `pid` and all its descendants, read from /proc/PID/task/TID/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    let tasks: Deno.DirEntry[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${p}/task`)];
    } catch { /* gone */ }
    for (const t of tasks) {
      try {
        const text = Deno.readTextFileSync(`/proc/${p}/task/${t.name}/children`);
        for (const c of text.split(" ")) if (c.trim()) queue.push(Number(c));
      } catch { /* gone */ }
    }
  }
  return out;
}

function signalAll(pids: number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch { /* already gone */ }
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM), 0 if the process is gone. */
export function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Current RSS of `pid` and all its descendants added up, in KiB. */
export function treeRssKiB(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statusKiB(p, "VmRSS"), 0);
}

/**
 * Samples the tree's RSS every {@link RSS_SAMPLE_INTERVAL_MS} until `stop()`, which returns
 * the peak in KiB: the larger of the highest sampled tree sum and the root's own VmHWM
 * (the kernel's exact high-water mark, which catches peaks between samples).
 */
export function sampleTreeRss(pid: number): { stop(): number } {
  let peak = treeRssKiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRssKiB(pid));
  }, RSS_SAMPLE_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, treeRssKiB(pid), statusKiB(pid, "VmHWM"));
    },
  };
}

/** Runs a command to completion and returns its exit code and decoded output. */
export async function runTool(
  cmd: string,
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    /** Kill the tool (SIGTERM) after this long; its exit code is then non-zero. */
    timeoutMs?: number;
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stopOnSignal = { proc: child };
  if (shuttingDown) child.kill("SIGKILL");
  runningTools.add(stopOnSignal);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    runningTools.delete(stopOnSignal);
  }
}

/** Load tools (wrk, echo_load) running now, so Ctrl-C can stop them too. */
const runningTools = new Set<{ proc: Deno.ChildProcess }>();

/** Kills running load tools (used on Ctrl-C together with {@link killAll}). */
export function killTools(): void {
  for (const t of runningTools) {
    try {
      t.proc.kill("SIGKILL");
    } catch { /* gone */ }
  }
}
