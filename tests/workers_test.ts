/**
 * `--workers N` (lib/net/workers.ts, lib/net/worker_runtime.ts): the flag's parser and fallback rules,
 * and the real CLI with two workers for http-serve and echo-server — many connections all
 * answered, both workers seen serving (JSON logs carry a `worker` id), one listening line,
 * SIGTERM exits 0, usage errors exit 2, a taken port exits 1, and no --unstable-net falls
 * back to one worker with a one-line notice.
 *
 * ```sh
 * deno test -A tests/workers_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import {
  MAX_WORKERS,
  parseWorkers,
  reusePortUnavailableReason,
  workerCountOrFallback,
  WorkerPool,
} from "../lib/net/workers.ts";
import { MAIN, readAll, ROOT, runCli, serveHttp, serveLocal, startServer } from "./helpers.ts";
import type { CrashFixtureConfig } from "./workers_crash_fixture.ts";

/** Connections per end-to-end test: enough that two workers both get some (p ≈ 2^-47). */
const CONNECTIONS = 48;
const SITE = `${ROOT}static`;

// --- pure parts -----------------------------------------------------------------------------

Deno.test("workers: parseWorkers takes 1..MAX_WORKERS and auto = CPUs", () => {
  assert.equal(parseWorkers("1"), 1);
  assert.equal(parseWorkers("2"), 2);
  assert.equal(parseWorkers(String(MAX_WORKERS)), MAX_WORKERS);
  assert.equal(parseWorkers("auto"), Math.min(navigator.hardwareConcurrency, MAX_WORKERS));
  for (const bad of ["0", "abc", "-1", "1.5", "", " 2", String(MAX_WORKERS + 1), "AUTO"]) {
    assert.throws(() => parseWorkers(bad), ConfigError, `--workers '${bad}'`);
  }
  assert.throws(() => parseWorkers("abc"), /invalid --workers 'abc': expected a whole number/);
});

Deno.test("workers: reusePort needs Linux and --unstable-net; otherwise one line and 1 worker", () => {
  assert.equal(reusePortUnavailableReason("linux", true), null);
  assert.match(reusePortUnavailableReason("linux", false)!, /--unstable-net/);
  assert.match(reusePortUnavailableReason("darwin", true)!, /needs Linux \(this is darwin\)/);
  const lines: string[] = [];
  assert.equal(workerCountOrFallback(4, (l) => lines.push(l), "needs Linux"), 1);
  assert.deepEqual(lines, ["sockit: --workers 4: needs Linux; serving with 1 worker"]);
  assert.equal(workerCountOrFallback(4, (l) => lines.push(l), null), 4);
  assert.equal(workerCountOrFallback(1, (l) => lines.push(l), "needs Linux"), 1);
  assert.equal(lines.length, 1, "no notice when nothing falls back");
});

// --- end to end -----------------------------------------------------------------------------

/** The `worker` ids of JSON log lines matching `event` (http: every access-log line). */
function workersIn(lines: string[], event?: string): Set<number> {
  const ids = new Set<number>();
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    const record = JSON.parse(line);
    if (event === undefined || record.event === event) ids.add(record.worker);
  }
  return ids;
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("workers: http-serve --workers 2 answers every connection, both workers serve, SIGTERM → 0", async () => {
  await using server = await serveHttp(SITE, "--workers", "2", "--log-format", "json");
  assert.match(server.lines[0], /listening on http:\/\/127\.0\.0\.1:\d+\/ .*2 workers/);
  const expected = await Deno.readFile(`${SITE}/index.html`);
  const answers = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        await conn.write(
          new TextEncoder().encode(
            "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          ),
        );
        return await readAll(conn);
      } finally {
        try {
          conn.close();
        } catch { /* closed by the server */ }
      }
    }),
  );
  for (const raw of answers) {
    const text = new TextDecoder().decode(raw);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    const body = raw.subarray(text.indexOf("\r\n\r\n") + 4);
    assert.deepEqual(body, expected);
  }
  // And a real client, keep-alive included.
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`http://127.0.0.1:${server.port}/index.html`);
    assert.equal(res.status, 200);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), expected);
  }
  await waitFor(() => server.lines.filter((l) => l.startsWith("{")).length >= CONNECTIONS + 4);
  const logLines = server.lines.filter((l) => l.startsWith("{"));
  assert.equal(logLines.length, CONNECTIONS + 4, "one whole access-log line per request");
  assert.deepEqual([...workersIn(logLines)].sort(), [1, 2], "both workers served");
  assert.equal(server.lines.filter((l) => l.includes(" listening on ")).length, 1);
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0, server.stderr());
  assert.equal(server.stderr(), "");
});

Deno.test("workers: echo-server --workers 2 echoes on every connection, both workers serve, SIGTERM → 0", async () => {
  await using server = await serveLocal("echo-server", "--workers", "2", "--json");
  assert.match(server.lines[0], /listening on tcp:\/\/127\.0\.0\.1:\d+ \(mode raw; 2 workers\)/);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        const message = new TextEncoder().encode(`connection ${i} `.repeat(100));
        await conn.write(message);
        await conn.closeWrite(); // RFC 862: the server finishes echoing, then closes
        assert.deepEqual(await readAll(conn), message);
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    }),
  );
  await waitFor(() =>
    server.lines.filter((l) => l.includes('"event":"close"')).length >= CONNECTIONS
  );
  assert.deepEqual([...workersIn(server.lines, "connect")].sort(), [1, 2], "both workers served");
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0, server.stderr());
  const shutdowns = workersIn(server.lines, "shutdown");
  assert.deepEqual([...shutdowns].sort(), [1, 2], "every worker shut down gracefully");
});

Deno.test("workers: SIGINT lets an in-flight echo finish, then exits 0", async () => {
  await using server = await serveLocal(
    "echo-server",
    "--workers",
    "2",
    "--mode",
    "line",
    "--quiet",
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // Half a line: an exchange in flight when the signal comes.
    await conn.write(new TextEncoder().encode("half "));
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 200));
    await conn.write(new TextEncoder().encode("and the rest\n"));
    assert.equal(new TextDecoder().decode(await readAll(conn)), "half and the rest\n");
  } finally {
    conn.close();
  }
  const status = await server.child.status; // exits by itself: no second signal
  await server.stop();
  assert.equal(status.code, 0, server.stderr());
});

Deno.test("workers: --workers 0 / abc / 257 is a usage error (exit 2, one line) for both servers", async () => {
  for (const command of ["http-serve", "echo-server"]) {
    for (const value of ["0", "abc", String(MAX_WORKERS + 1)]) {
      const r = await runCli([command, "--port", "0", "--workers", value]);
      assert.equal(r.code, 2, `${command} --workers ${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`invalid --workers '${value}'`));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "");
    }
  }
});

Deno.test("workers: a taken port is one line and exit 1, also when its holder shares with reusePort", async () => {
  await using first = await serveLocal("echo-server", "--workers", "2");
  for (const command of ["echo-server", "http-serve"]) {
    const r = await runCli([
      command,
      "--host",
      "127.0.0.1",
      "--port",
      String(first.port),
      "--workers",
      "2",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `sockit: cannot listen on 127.0.0.1:${first.port}: address already in use; another ` +
        "program uses it: pick another --port, or --port 0 for any free one",
    );
  }
});

Deno.test("workers: without --unstable-net, --workers 2 says so in one line and serves with 1", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, "echo-server", "--host", "127.0.0.1"]
      .concat(["--port", "0", "--workers", "2", "--quiet"]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  await using server = await startServer([], { command });
  assert.match(server.lines[0], /\(mode raw\)$/);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(new TextEncoder().encode("ok"));
    await conn.closeWrite();
    assert.equal(new TextDecoder().decode(await readAll(conn)), "ok");
  } finally {
    conn.close();
  }
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0);
  assert.equal(
    server.stderr(),
    "sockit: --workers 2: sharing a port between workers needs deno run --unstable-net; " +
      "serving with 1 worker\n",
  );
});

// --- the pool with a worker module that crashes on purpose --------------------------------
// The fixture runs worker_runtime's real serveInWorker, whose listeners turn the crash into
// one "crashed" report (no stack trace from Deno); the pool's onerror path, for errors no
// listener caught, is driven by dispatching an ErrorEvent on the real Worker.

const CRASH_FIXTURE = new URL("./workers_crash_fixture.ts", import.meta.url);

function crashPool(config: CrashFixtureConfig, warnings: string[], spawned: Worker[] = []) {
  return new WorkerPool({
    count: 2,
    host: "127.0.0.1",
    port: 0,
    config,
    shutdownTimeoutMs: 1_000,
    warn: (line) => warnings.push(line),
    spawn: () => {
      const worker = new Worker(CRASH_FIXTURE, { type: "module" });
      spawned.push(worker);
      return worker;
    },
  });
}

Deno.test("workers: a crashed worker is one stderr line; the others still stop cleanly", async () => {
  const warnings: string[] = [];
  const pool = crashPool({ crash: [1] }, warnings);
  const addr = await pool.start();
  assert.equal(addr.port, 40001, "worker 1's port is the pool's");
  await waitFor(() => warnings.length > 0);
  assert.deepEqual(warnings, ["sockit: worker 1 crashed: Error: deliberate crash of worker 1"]);
  pool.shutdown("SIGTERM");
  assert.equal(await pool.finished, true, "worker 2 stopped: a clean end");
});

Deno.test("workers: an unhandled rejection in a worker is a crash, reported the same way", async () => {
  const warnings: string[] = [];
  const pool = crashPool({ crash: [2], how: "reject" }, warnings);
  await pool.start();
  await waitFor(() => warnings.length > 0);
  assert.deepEqual(warnings, ["sockit: worker 2 crashed: Error: deliberate crash of worker 2"]);
  pool.shutdown("SIGTERM");
  assert.equal(await pool.finished, true, "worker 1 stopped: a clean end");
});

Deno.test("workers: an error event from a worker (nothing caught it there) is one stderr line", async () => {
  const warnings: string[] = [];
  const spawned: Worker[] = [];
  const pool = crashPool({ crash: [] }, warnings, spawned);
  await pool.start();
  // What Deno dispatches on the Worker when an error escapes the worker's own listeners
  // (a module that fails to load, an error thrown before serveInWorker ran).
  const event = new ErrorEvent("error", {
    message: "Uncaught Error: not caught",
    cancelable: true,
  });
  spawned[0].dispatchEvent(event);
  assert.equal(event.defaultPrevented, true, "handled: it must not take the main thread down");
  assert.deepEqual(warnings, ["sockit: worker 1 crashed: Uncaught Error: not caught"]);
  pool.shutdown("SIGTERM");
  assert.equal(await pool.finished, true, "worker 2 stopped: a clean end");
});

Deno.test("workers: when every worker crashes, the pool ends with false (the CLI exits 1)", async () => {
  const warnings: string[] = [];
  const pool = crashPool({ crash: [1, 2] }, warnings);
  await pool.start();
  assert.equal(await pool.finished, false);
  assert.deepEqual(warnings.sort(), [
    "sockit: worker 1 crashed: Error: deliberate crash of worker 1",
    "sockit: worker 2 crashed: Error: deliberate crash of worker 2",
  ]);
});
