/**
 * `deno task fuzz`: the fuzzers of tests/fuzz_lib.ts for as long as you like, against the
 * real CLI. Prints a summary and every failure with its seed and case index; exits 1 on
 * any failure (a malformed reply, a hang, a 500, a wrong echo, or the server dying).
 *
 * ```sh
 * deno task fuzz                                  # http-serve, 1 minute, random seed
 * deno task fuzz --minutes 10 --seed 42           # longer, reproducible
 * deno task fuzz --target echo-line --minutes 2   # echo-server --mode line
 * deno task fuzz --target echo-length             # echo-server --mode length
 * ```
 *
 * @module
 */
import { LISTENING_LINE_PATTERN } from "../lib/net/address.ts";
import { fuzzEcho, fuzzHttp, type FuzzStats, summarize } from "./fuzz_lib.ts";
import { cliCommand } from "./helpers.ts";

const TARGETS = ["http", "echo-line", "echo-length"] as const;
type Target = typeof TARGETS[number];
/** The echo server's --max-frame during fuzzing: small, so the limit is hit often. */
const ECHO_MAX_BYTES = 4096;

function usage(message: string): never {
  console.error(`fuzz: ${message}`);
  console.error(
    "usage: deno task fuzz [--minutes M] [--seed S] [--target http|echo-line|echo-length]",
  );
  Deno.exit(2);
}

function parseArgs(args: string[]): { minutes: number; seed: number; target: Target } {
  let minutes = 1;
  let seed = Math.floor(Math.random() * 2 ** 31);
  let target: Target = "http";
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    switch (args[i]) {
      case "--minutes":
        minutes = Number(value);
        if (!(minutes > 0)) usage(`invalid --minutes '${value}'`);
        i++;
        break;
      case "--seed":
        seed = Number(value);
        if (!Number.isSafeInteger(seed)) usage(`invalid --seed '${value}'`);
        i++;
        break;
      case "--target":
        if (!TARGETS.includes(value as Target)) usage(`invalid --target '${value}'`);
        target = value as Target;
        i++;
        break;
      default:
        usage(`unknown argument '${args[i]}'`);
    }
  }
  return { minutes, seed, target };
}

/** Spawns the server, waits for its listening line, then drains (and drops) its output. */
async function spawnServer(args: string[]) {
  const child = cliCommand(args).spawn();
  const decoder = new TextDecoder();
  let stderr = "";
  const stderrPump = (async () => {
    for await (const chunk of child.stderr) {
      stderr = (stderr + decoder.decode(chunk)).slice(-64 * 1024);
    }
  })();
  const reader = child.stdout.getReader();
  let pending = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening:\n${stderr}`);
    pending += decoder.decode(value);
    const m = LISTENING_LINE_PATTERN.exec(pending);
    if (m) port = Number(m[3]);
  }
  const stdoutPump = (async () => {
    while (!(await reader.read()).done) { /* the log is not needed */ }
  })();
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => (exited = s));
  return {
    port,
    exited: () => exited,
    stderr: () => stderr,
    stop: async () => {
      if (exited === null) child.kill("SIGKILL");
      await status;
      await Promise.allSettled([stderrPump, stdoutPump]);
    },
  };
}

/** One normal exchange; null if it worked, else what went wrong. */
async function probe(port: number, target: Target): Promise<string | null> {
  const request = target === "http"
    ? "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    : target === "echo-line"
    ? "still alive\n"
    : "\x00\x00\x00\x0bstill alive";
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(request));
    await conn.closeWrite();
    // Reading conn.readable to its end also closes the connection.
    const reply = await new Response(conn.readable).text();
    const ok = target === "http" ? reply.startsWith("HTTP/1.1 200 ") : reply === request;
    return ok ? null : `a normal exchange failed afterwards: ${JSON.stringify(reply.slice(0, 80))}`;
  } catch (err) {
    return `a normal exchange failed afterwards: ${(err as Error).message}`;
  }
}

async function main(): Promise<number> {
  const { minutes, seed, target } = parseArgs(Deno.args);
  const root = await Deno.makeTempDir({ prefix: "sockit_fuzz_" });
  await Deno.mkdir(`${root}/docs`);
  await Deno.writeTextFile(`${root}/hello.txt`, "hello world\n");
  await Deno.writeTextFile(`${root}/docs/a.txt`, "a");
  const args = target === "http"
    ? ["http-serve", root, "--quiet", "--header-timeout", "1", "--body-timeout", "1"]
    : [
      "echo-server",
      "--mode",
      target === "echo-line" ? "line" : "length",
      "--max-frame",
      String(ECHO_MAX_BYTES),
      "--quiet",
    ];
  const server = await spawnServer([...args, "--host", "127.0.0.1", "--port", "0"]);
  console.log(`fuzz ${target}: seed ${seed}, ${minutes} min, server on port ${server.port}`);
  const deadline = Date.now() + minutes * 60_000;
  let stats: FuzzStats;
  let died: Deno.CommandStatus | null = null;
  try {
    stats = target === "http"
      ? await fuzzHttp({ port: server.port, seed, deadline })
      : await fuzzEcho({
        port: server.port,
        seed,
        deadline,
        mode: target === "echo-line" ? "line" : "length",
        maxBytes: ECHO_MAX_BYTES,
      });
    // Afterwards a normal exchange must still work.
    const problem = await probe(server.port, target);
    if (problem !== null) {
      stats.failures.push({ seed, index: -1, kind: "probe", problem, input: "-" });
    }
  } finally {
    died = server.exited();
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
  if (died !== null) {
    console.error(`fuzz: the server exited (${JSON.stringify(died)}):\n${server.stderr()}`);
    return 1;
  }
  console.log(summarize(target, stats, seed));
  for (const f of stats.failures) {
    console.error(`FAIL case ${f.index} (${f.kind}): ${f.problem}\n  input: ${f.input}`);
  }
  if (stats.failures.length > 0) {
    console.error(`reproduce: deno task fuzz --target ${target} --seed ${seed}`);
    return 1;
  }
  return 0;
}

Deno.exit(await main());
