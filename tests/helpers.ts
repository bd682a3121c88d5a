/**
 * Test helpers shared by the end-to-end tests: run the real CLI as a subprocess (also as
 * user nobody, or under a descriptor limit), wait for its "listening" line, talk to it (raw
 * `exchange`, `readAll`), and stop it; `serveHttp` for `http-serve` on 127.0.0.1:0, and
 * `inProcessServer` for the same server in this process (any handler, or the one the
 * flags build). `tempTree` makes the folders they serve. Also the small utilities several
 * tests need once: `concatBytes`, the seeded PRNG `mulberry32`, `procStatusKiB` (RSS from
 * /proc), `runTool`, `entryNames`, and decoding the terminal QR code.
 *
 * Importing this module also wraps `Deno.test` (see {@link SERVER_LOG_TAIL_LINES}): when a
 * test fails, the last lines of every server it started are printed with its failure.
 *
 * ```ts
 * await using site = await tempTree({ "hello.txt": "hello world\n", "docs/": null });
 * await using server = await serveHttp(site.path, "--cors");
 * const res = await fetch(`${server.url}/hello.txt`);
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LISTENING_LINE_PATTERN } from "../lib/net/address.ts";
import { type BufferedReader, CRLFCRLF } from "../lib/framing.ts";
import type { Handler } from "../lib/http/handler.ts";
import { buildHandler } from "../lib/http/server/build_handler.ts";
import {
  type HttpConfig,
  type HttpServeFlags,
  loadHttpConfig,
  resolveHttpConfig,
} from "../lib/http/server/config.ts";
import { HttpServer } from "../lib/http/server/server.ts";
import type { HttpMetrics } from "../lib/http/sharing/metrics.ts";

/** Absolute path of main.ts. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Absolute path of the repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Arguments after `deno` that run the CLI from source with the permissions the binary has. */
// --unstable-net: what `deno task start` and the binary have, for --workers' reusePort.
const RUN_CLI_ARGS = ["run", "--quiet", "--allow-all", "--unstable-net", MAIN];

// --- server logs of a failing test ---------------------------------------------------------

/**
 * Lines of stdout and of stderr per server printed when a test fails. Deno has no per-test
 * failure hook, so importing this module wraps `Deno.test`: each test function runs inside a
 * try/catch that, on failure, prints the tail of every server {@link startServer} or
 * {@link inProcessServer} started during that test, then rethrows. Passing tests print
 * nothing.
 */
export const SERVER_LOG_TAIL_LINES = 20;

/** A server started by the running test: its name and where its log lines are. */
interface ServerLogs {
  name: string;
  stdout: () => readonly string[];
  stderr: () => readonly string[];
}

/** Servers started by the test that runs now (tests in one file run one at a time). */
let testServers: ServerLogs[] = [];

function printServerLogs(servers: readonly ServerLogs[]): void {
  const tail = (lines: readonly string[]) => {
    const kept = lines.slice(-SERVER_LOG_TAIL_LINES);
    const dropped = lines.length - kept.length;
    return [...(dropped > 0 ? [`  … ${dropped} earlier lines`] : []), ...kept.map((l) => `  ${l}`)];
  };
  for (const server of servers) {
    const stdout = server.stdout();
    const stderr = server.stderr().filter((l) => l !== "");
    console.error(
      [
        `--- ${server.name}: last lines of its log (the test failed) ---`,
        stdout.length ? "stdout:" : "stdout: (empty)",
        ...tail(stdout),
        stderr.length ? "stderr:" : "stderr: (empty)",
        ...tail(stderr),
      ].join("\n"),
    );
  }
}

type TestFn = (t: Deno.TestContext) => void | Promise<void>;

/**
 * Where the test file called `Deno.test`, as "file:///…:line:column": set on the wrapped
 * function under `Symbol.for("Deno.test.location")` (Deno's hook for test helpers), so
 * failures point at the test, not at this module.
 */
function callerLocation(): string | undefined {
  for (const frame of (new Error().stack ?? "").split("\n").slice(1)) {
    const m = /((?:file|https?):\/\/[^\s()]+):(\d+):(\d+)\)?$/.exec(frame);
    if (m && m[1] !== import.meta.url) return `${m[1]}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

function withServerLogs(fn: TestFn, location: string | undefined): TestFn {
  const wrapped = async function (this: unknown, t: Deno.TestContext) {
    testServers = [];
    try {
      await fn.call(this, t);
    } catch (err) {
      printServerLogs(testServers);
      throw err;
    } finally {
      testServers = [];
    }
  };
  // Deno.test(fn) takes the test's name from the function.
  Object.defineProperty(wrapped, "name", { value: fn.name });
  if (location) Object.assign(wrapped, { [Symbol.for("Deno.test.location")]: location });
  return wrapped;
}

/** Wraps the test function in any of `Deno.test`'s argument shapes. */
function wrapTestArgs(args: unknown[]): unknown[] {
  const location = callerLocation();
  return args.map((arg) => {
    if (typeof arg === "function") return withServerLogs(arg as TestFn, location);
    if (
      arg !== null && typeof arg === "object" &&
      typeof (arg as Deno.TestDefinition).fn === "function"
    ) {
      const definition = arg as Deno.TestDefinition;
      return { ...definition, fn: withServerLogs(definition.fn, location) };
    }
    return arg;
  });
}

{
  const original = Deno.test;
  if (!(original as { serverLogs?: true }).serverLogs) {
    const test = ((...args: unknown[]) =>
      (original as (...a: unknown[]) => void)(...wrapTestArgs(args))) as typeof Deno.test;
    test.ignore = ((...args: unknown[]) =>
      (original.ignore as (...a: unknown[]) => void)(...args)) as typeof Deno.test.ignore;
    test.only = ((...args: unknown[]) =>
      (original.only as (...a: unknown[]) => void)(...wrapTestArgs(args))) as typeof Deno.test.only;
    Object.assign(test, { serverLogs: true });
    (Deno as { test: typeof Deno.test }).test = test;
  }
}

/** The command that runs the CLI from source, with the permissions the binary has. */
export function cliCommand(args: string[], options: Deno.CommandOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [...RUN_CLI_ARGS, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  });
}

/**
 * Like {@link cliCommand}, but the CLI runs under `ulimit -n fdLimit` (set by sh), for tests
 * that need a descriptor limit of their own whatever the caller's is.
 */
export function cliCommandWithFdLimit(fdLimit: number, args: string[]): Deno.Command {
  return new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${fdLimit} && exec "$@"`,
      "sh",
      Deno.execPath(),
      ...RUN_CLI_ARGS,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the CLI to completion; resolves with exit code and decoded output. */
export async function runCli(
  args: string[],
  options: Deno.CommandOptions & { input?: Uint8Array | string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { input, ...rest } = options;
  const child = cliCommand(args, { ...rest, stdin: input === undefined ? "null" : "piped" })
    .spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A running server subprocess. */
export interface RunningServer extends AsyncDisposable {
  child: Deno.ChildProcess;
  port: number;
  host: string;
  /** Every stdout line so far (the listening line first). */
  lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when a stdout line matching `pattern` has been printed. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /**
   * Resolves with stderr once it matches `pattern`; fails with what it holds after
   * `timeoutMs`. Servers log asynchronously, so a line may follow the answer it is about.
   */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends SIGTERM (or `signal`) and resolves with the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Spawns `sockit ARGS` and resolves once its first stdout line (the listening line) has
 * been parsed. Fails with the server's stderr if it exits or is silent for `timeoutMs`.
 */
export async function startServer(
  args: string[],
  options: Deno.CommandOptions & { timeoutMs?: number; command?: Deno.Command } = {},
): Promise<RunningServer> {
  const { timeoutMs = 20_000, command, ...rest } = options;
  const child = (command ?? cliCommand(args, rest)).spawn();
  const lines: string[] = [];
  let stderrText = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let exited = false;

  const pumpStdout = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pattern.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  })();
  const pumpStderr = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderrText += decoder.decode(chunk, { stream: true });
  })();
  const statusPromise = child.status.then((s) => {
    exited = true;
    return s;
  });
  testServers.push({
    name: `sockit ${args.join(" ")}`,
    stdout: () => lines,
    stderr: () => stderrText.split("\n"),
  });

  const waitForLine = (pattern: RegExp, ms = timeoutMs): Promise<string> => {
    const existing = lines.find((l) => pattern.test(l));
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no stdout line matching ${pattern} within ${ms} ms${
              exited ? " (server exited)" : ""
            }\nstdout:\n${lines.join("\n")}\nstderr:\n${stderrText}`,
          ),
        );
      }, ms);
      waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      // Once the process has exited and its stdout is drained, no line can come any more.
      Promise.allSettled([statusPromise, pumpStdout]).then(() => {
        if (waiters.some((w) => w.pattern === pattern)) {
          clearTimeout(timer);
          reject(
            new Error(
              `server exited before printing ${pattern}\nstdout:\n${
                lines.join("\n")
              }\nstderr:\n${stderrText}`,
            ),
          );
        }
      });
    });
  };

  const waitForStderr = async (pattern: RegExp, ms = 5_000): Promise<string> => {
    const deadline = Date.now() + ms;
    while (!pattern.test(stderrText)) {
      // Once the process has exited and stderr is drained, nothing more can arrive.
      const over = exited ? (await pumpStderr, !pattern.test(stderrText)) : Date.now() > deadline;
      if (over) {
        throw new Error(`no stderr matching ${pattern} within ${ms} ms\nstderr:\n${stderrText}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return stderrText;
  };

  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
    const status = await statusPromise;
    await Promise.allSettled([pumpStdout, pumpStderr]);
    return status;
  };

  let first: string;
  try {
    first = await waitForLine(LISTENING_LINE_PATTERN);
  } catch (err) {
    await stop("SIGKILL");
    throw err;
  }
  const m = LISTENING_LINE_PATTERN.exec(first)!;
  return {
    child,
    port: Number(m[3]),
    host: m[2].replace(/^\[|\]$/g, ""),
    lines,
    stderr: () => stderrText,
    waitForLine,
    waitForStderr,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop("SIGKILL");
    },
  };
}

/** `http-serve ROOT --host 127.0.0.1 --port 0 ...flags`: what {@link serveHttp} runs. */
export function httpServeArgs(root: string, ...flags: string[]): string[] {
  return ["http-serve", root, "--host", "127.0.0.1", "--port", "0", ...flags];
}

/** An `http-serve` subprocess on 127.0.0.1 (see {@link serveHttp}). */
export interface HttpServeProcess extends RunningServer {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
}

/** Starts the real CLI, `sockit http-serve ROOT --host 127.0.0.1 --port 0 ...flags`. */
export async function serveHttp(root: string, ...flags: string[]): Promise<HttpServeProcess> {
  const server = await startServer(httpServeArgs(root, ...flags));
  return { ...server, url: `http://127.0.0.1:${server.port}` };
}

/**
 * Starts the real CLI, `sockit SUBCOMMAND --host 127.0.0.1 --port 0 ...flags`, for the servers
 * that take no DIR (echo-server, time-server).
 */
export async function serveLocal(subcommand: string, ...flags: string[]): Promise<RunningServer> {
  return await startServer([subcommand, "--host", "127.0.0.1", "--port", "0", ...flags]);
}

/** What {@link inProcessServer} serves. */
export interface InProcessServerOptions {
  /** The folder served, as http-serve's DIR (canonicalised); default the built-in site. */
  root?: string;
  /**
   * http-serve's flags as commander delivers them (`{ cors: true, auth: ["a:b"] }`); the
   * server always listens on 127.0.0.1:0.
   */
  flags?: HttpServeFlags;
  /** Serves this handler instead of the one `buildHandler` makes from the flags. */
  handler?: Handler;
}

/** An {@link HttpServer} running in this process; dispose shuts it down. */
export interface InProcessServer extends AsyncDisposable {
  server: HttpServer;
  config: HttpConfig;
  port: number;
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  /** With `--metrics` (and no `handler`): the counters the built handler serves. */
  metrics?: HttpMetrics;
  /** Access-log and `--trace` lines so far. */
  lines: string[];
  /** Warnings so far (timeouts, internal errors, cut-off responses). */
  warnings: string[];
}

/**
 * Runs the real server (`HttpServer`: connection loop, clocks, limits, shutdown) in this
 * process on 127.0.0.1:0: around `handler` (a bare {@link Handler} or `{ handler }`), or
 * around the handler `buildHandler` makes from `flags` — the whole middleware stack in its
 * one order. Access-log lines and warnings are collected, not printed.
 */
export async function inProcessServer(
  served: Handler | InProcessServerOptions,
): Promise<InProcessServer> {
  const options = typeof served === "function" ? { handler: served } : served;
  const config = await loadHttpConfig(
    resolveHttpConfig(options.root, { ...options.flags, host: "127.0.0.1", port: 0 }),
  );
  const built = options.handler === undefined
    ? buildHandler(config)
    : { handler: options.handler, metrics: undefined };
  const lines: string[] = [];
  const warnings: string[] = [];
  const server = new HttpServer(config, {
    handler: built.handler,
    metrics: built.metrics,
    closeHandler: built.close,
    // The access log hands over its lines batched, joined by newlines.
    writeLine: (text) => lines.push(...text.split("\n")),
    warn: (line) => warnings.push(line),
  });
  const { port } = server.listen();
  const serving = server.serve();
  testServers.push({
    name: `in-process http server on port ${port}`,
    stdout: () => lines,
    stderr: () => warnings,
  });
  return {
    server,
    config,
    port,
    url: `http://127.0.0.1:${port}`,
    metrics: built.metrics,
    lines,
    warnings,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await serving;
      // The access log's batching timer (0 ms) may still be pending: let it fire, so the
      // test's op sanitizer sees no timer left behind.
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

/** A symlink in a {@link tempTree}. */
export interface TreeSymlink {
  /**
   * The target as written (relative to the link's folder, as `ln -s` takes it), or with
   * `absolute`, a path inside the tree written as its absolute path.
   */
  symlink: string;
  absolute?: boolean;
}

/** What {@link tempTree} puts at a path: text, bytes, a folder (`null`), or a symlink. */
export type TreeEntry = string | Uint8Array | null | TreeSymlink;

/** A temporary folder; dispose removes it with everything in it. */
export interface TempTree extends AsyncDisposable {
  /** Its absolute path. */
  path: string;
}

/**
 * Makes a temporary folder holding `entries`, in order: each key a path relative to it
 * (parent folders made as needed; a trailing "/" is allowed on folders).
 *
 * ```ts
 * await using tree = await tempTree({
 *   "a.txt": "hello",
 *   "sub/b.bin": new Uint8Array([1, 2, 3]),
 *   "empty/": null,
 *   "sub/link.txt": { symlink: "../a.txt" },
 * });
 * ```
 */
export async function tempTree(entries: Record<string, TreeEntry> = {}): Promise<TempTree> {
  const path = await Deno.makeTempDir({ prefix: "sockit-test-" });
  try {
    for (const [rel, entry] of Object.entries(entries)) {
      const target = join(path, rel);
      await Deno.mkdir(join(target, ".."), { recursive: true });
      if (entry === null) await Deno.mkdir(target, { recursive: true });
      else if (typeof entry === "string") await Deno.writeTextFile(target, entry);
      else if (entry instanceof Uint8Array) await Deno.writeFile(target, entry);
      else await Deno.symlink(entry.absolute ? join(path, entry.symlink) : entry.symlink, target);
    }
  } catch (err) {
    await Deno.remove(path, { recursive: true });
    throw err;
  }
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Reads from `conn` until it closes or `timeoutMs` passes; returns all bytes. */
export async function readAll(conn: Deno.Conn, timeoutMs = 10_000): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  try {
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      parts.push(buf.slice(0, n));
      total += n;
    }
  } finally {
    clearTimeout(timer);
  }
  return concatBytes(parts);
}

/**
 * Sends `request` on a fresh connection to 127.0.0.1:`port` and returns everything the
 * server sends until it closes (or `timeoutMs` passes), decoded as UTF-8.
 */
export async function exchange(
  port: number,
  request: string | Uint8Array,
  timeoutMs = 5_000,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request);
    return new TextDecoder().decode(await readAll(conn, timeoutMs));
  } finally {
    try {
      conn.close();
    } catch { /* readAll closed it on timeout */ }
  }
}

/** Joins byte chunks into one buffer. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A PRNG returning floats in [0, 1). */
export type Rand = () => number;

/** Deterministic PRNG (mulberry32), so a failing random case is reproducible from its seed. */
export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A field of /proc/PID/status in KiB (`VmRSS`: resident now, `VmHWM`: peak). Linux only. */
export function procStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(m[1]);
}

/** Hex SHA-256 of `data`. */
export async function sha256(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when `name --version` runs (a tool a test needs is installed). */
export async function commandExists(name: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(name, {
      args: ["--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    // Spawned is what counts: some tools (socat) answer --version with a non-zero status.
    return out.code !== 127;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Runs the CLI as user `nobody`; dispose removes its home. See {@link nobodyCli}. */
export interface NobodyCli extends AsyncDisposable {
  /** Like {@link cliCommand}, but the process runs as nobody:nogroup with no other groups. */
  command(args: string[]): Deno.Command;
}

/**
 * For tests of what root cannot see as itself: root reads any file whatever its mode, so a
 * "permission denied" path is only reachable by an unprivileged user. As root, drops to
 * `nobody` with util-linux `setpriv`. nobody cannot read root's DENO_DIR (under /root, mode
 * 0700), so it gets a throwaway home with a copy of the npm cache (a few MiB) as DENO_DIR:
 * the same packages, no network. Whatever nobody must read (a site) must be world-readable.
 */
export async function nobodyCli(): Promise<NobodyCli> {
  const info = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
    ),
  ) as { npmCache: string };
  const home = await Deno.makeTempDir({ prefix: "sockit-nobody-" });
  const denoDir = `${home}/deno`;
  const sh = async (cmd: string, args: string[]) => {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    if (!out.success) {
      throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  try {
    await Deno.mkdir(denoDir);
    await sh("cp", ["-r", info.npmCache, `${denoDir}/npm`]);
    await sh("chown", ["-R", "nobody:nogroup", denoDir]);
    await Deno.chmod(home, 0o755);
  } catch (err) {
    await Deno.remove(home, { recursive: true });
    throw err;
  }
  return {
    command: (args) =>
      new Deno.Command("setpriv", {
        args: [
          "--reuid=nobody",
          "--regid=nogroup",
          "--clear-groups",
          Deno.execPath(),
          ...RUN_CLI_ARGS,
          ...args,
        ],
        env: { HOME: home, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }),
    [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }),
  };
}

/** Runs `cmd ARGS` (curl, tar, unzip…), asserts it exits 0 and returns its stdout. */
export async function runTool(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** The names in folder `dir`, sorted. */
export async function entryNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/**
 * Reads half-block terminal QR text (lib/qr.ts renderTerminalQr, one string per line) back
 * into module rows, true = dark: the inverse of the renderer, so a test can decode it.
 */
export function modulesFromTerminal(lines: string[]): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of lines) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      // Ink is a light module: █ both light, ▀ top light, ▄ bottom light, space both dark.
      top.push(ch === "▄" || ch === " ");
      bottom.push(ch === "▀" || ch === " ");
    }
    rows.push(top, bottom);
  }
  return rows;
}

/** Draws QR modules as a grey-free RGBA image (with a white border) a decoder accepts. */
export function qrModulesImage(
  modules: boolean[][],
  scale = 6,
  border = 4,
): { width: number; height: number; data: Uint8Array } {
  const width = (modules[0].length + 2 * border) * scale;
  const height = (modules.length + 2 * border) * scale;
  const data = new Uint8Array(width * height * 4).fill(255);
  for (let y = 0; y < modules.length; y++) {
    for (let x = 0; x < modules[y].length; x++) {
      if (!modules[y][x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const px = ((y + border) * scale + dy) * width + (x + border) * scale + dx;
          data.fill(0, px * 4, px * 4 + 3);
        }
      }
    }
  }
  return { width, height, data };
}

/** One HTTP response read off a raw socket. */
export interface RawResponse {
  status: number;
  head: string;
  /** Field names lowercased; the last value wins. */
  headers: Map<string, string>;
  body: Uint8Array;
}

/**
 * Reads one HTTP response from `reader` (head, then a Content-Length body); HEAD answers
 * (`noBody`), 1xx, 204 and 304 have no body.
 */
export async function readRawResponse(
  reader: BufferedReader,
  noBody = false,
): Promise<RawResponse> {
  const headBytes = await reader.readUntil(CRLFCRLF, { maxBytes: 64 * 1024 });
  if (headBytes === null) throw new Error("connection closed before a response");
  const head = new TextDecoder().decode(headBytes);
  const [statusLine, ...lines] = head.slice(0, -4).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = new Uint8Array(0);
  if (!noBody && status >= 200 && status !== 204 && status !== 304) {
    const length = Number(headers.get("content-length") ?? 0);
    body = (await reader.readExact(length)).slice();
  }
  return { status, head, headers, body };
}

/** Asserts that a plain `GET /hello.txt` on 127.0.0.1:`port` answers 200 "hello world\n". */
export async function normalRequestWorks(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/hello.txt`);
  if (res.status !== 200) throw new Error(`GET /hello.txt answered ${res.status}`);
  const text = await res.text();
  if (text !== "hello world\n") throw new Error(`GET /hello.txt returned ${JSON.stringify(text)}`);
}

/** What {@link curlResponse} saw: final status, response headers, body, bytes uploaded. */
export interface CurlResult {
  status: number;
  headers: string;
  /** The body as text; empty when it went to `output`. */
  body: string;
  /** Bytes curl uploaded (`%{size_upload}`). */
  uploaded: number;
}

/**
 * Runs the real `curl` with `args` (20 s cap, headers dumped) and splits its output.
 * Exit codes other than `okExitCodes` fail with curl's stderr.
 */
export async function curlResponse(
  args: string[],
  options: { output?: string; okExitCodes?: number[] } = {},
): Promise<CurlResult> {
  const { output = "/dev/stdout", okExitCodes = [0] } = options;
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "-m",
      "20",
      "-D",
      "-",
      "-o",
      output,
      "-w",
      "\n%{size_upload} %{http_code}",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!okExitCodes.includes(out.code)) {
    throw new Error(
      `curl ${args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const [uploaded, status] = text.slice(text.lastIndexOf("\n") + 1).split(" ").map(Number);
  const rest = text.slice(0, text.lastIndexOf("\n"));
  const split = rest.lastIndexOf("\r\n\r\n");
  return { status, headers: rest.slice(0, split), body: rest.slice(split + 4), uploaded };
}
