/**
 * `echo-client --connections/--duration` (load mode, lib/echo/load.ts): the latency
 * histogram and payloads (pure), then the real CLI against the real echo-server in every
 * mode — every echoed byte verified, a summary that adds up, exit 1 on mismatches and
 * connect failures (a CI gate), `--rate` pacing, and one-line usage errors (exit 2).
 *
 * ```sh
 * deno test -A tests/echo_load_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { LatencyHistogram, loadPayload } from "../lib/echo/load.ts";
import { runCli, serveLocal } from "./helpers.ts";

Deno.test("LatencyHistogram: percentiles within 1 % of the exact value, bounded memory", () => {
  const h = new LatencyHistogram();
  const exact: number[] = [];
  for (let i = 1; i <= 10_000; i++) {
    const ms = i / 100; // 0.01 … 100 ms
    h.record(ms);
    exact.push(ms);
  }
  for (const [fraction, want] of [[0.5, 50], [0.9, 90], [0.99, 99]] as const) {
    const got = h.percentileMs(fraction);
    assert.ok(Math.abs(got - want) / want <= 0.011, `p${fraction * 100}: ${got} vs ${want}`);
  }
  assert.equal(h.maxMs, 100);
  assert.equal(h.count, 10_000);
  assert.equal(new LatencyHistogram().percentileMs(0.99), 0);
});

Deno.test("loadPayload: printable, newline-free, different per connection and message", () => {
  const a = loadPayload(0, 0, 256);
  assert.ok(a.every((b) => b > 0x20 && b < 0x7f));
  assert.notDeepEqual(loadPayload(0, 1, 256), a);
  assert.notDeepEqual(loadPayload(1, 0, 256), a);
  assert.deepEqual(loadPayload(0, 0, 256), a, "deterministic");
});

interface Summary {
  event: string;
  connections: number;
  connected: number;
  connect_failures: number;
  mismatches: number;
  errors: number;
  messages: number;
  messages_per_second: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

async function load(port: number, ...args: string[]) {
  const r = await runCli(["echo-client", `127.0.0.1:${port}`, ...args, "--json"]);
  const summary = JSON.parse(r.stdout.trim().split("\n").at(-1) || "{}") as Summary;
  return { ...r, summary };
}

for (const mode of ["raw", "line", "length"]) {
  Deno.test(`load mode --mode ${mode}: every echo verified, the summary adds up, exit 0`, async () => {
    await using server = await serveLocal("echo-server", "--quiet", "--mode", mode);
    const r = await load(
      server.port,
      "--mode",
      mode,
      "--connections",
      "20",
      "--duration",
      "1",
      "--size",
      "100",
    );
    assert.equal(r.code, 0, r.stderr);
    const s = r.summary;
    assert.equal(s.event, "load_summary");
    assert.equal(s.connections, 20);
    assert.equal(s.connected, 20);
    assert.equal(s.connect_failures, 0);
    assert.equal(s.mismatches, 0);
    assert.equal(s.errors, 0);
    assert.ok(s.messages > 20, `${s.messages} messages`);
    assert.ok(s.p50_ms <= s.p90_ms && s.p90_ms <= s.p99_ms && s.p99_ms <= s.max_ms, r.stdout);
  });
}

Deno.test("load mode: echoes that differ are mismatches, exit 1 (CI gate)", async () => {
  await using server = await serveLocal(
    "echo-server",
    "--quiet",
    "--mode",
    "line",
    "--reply",
    "not the echo",
  );
  const r = await load(server.port, "--mode", "line", "--connections", "3", "--duration", "1");
  assert.equal(r.code, 1);
  assert.equal(r.summary.mismatches, 3, "each connection stops at its first mismatch");
  assert.equal(r.summary.messages, 0);
});

Deno.test("load mode: connect failures are counted, exit 1; the text summary names them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const r = await runCli([
    "echo-client",
    `127.0.0.1:${port}`,
    "--connections",
    "3",
    "--duration",
    "0.2",
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /connect failures 3, mismatches 0, errors 0 \(first: connect: /);
});

Deno.test("load mode --rate paces each connection", async () => {
  await using server = await serveLocal("echo-server", "--quiet");
  const r = await load(
    server.port,
    "--mode",
    "raw",
    "--connections",
    "2",
    "--duration",
    "1",
    "--rate",
    "10",
  );
  assert.equal(r.code, 0, r.stderr);
  // 2 connections × 10/s × 1 s, plus the first message of each at t = 0.
  assert.ok(r.summary.messages >= 10 && r.summary.messages <= 24, `${r.summary.messages}`);
});

Deno.test("load mode: --connections and --size at their limits are accepted (the run, not the flag, fails)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  for (const args of [["--connections", "10000"], ["--connections", "1", "--size", "16MiB"]]) {
    const r = await runCli(["echo-client", `127.0.0.1:${port}`, ...args, "--duration", "0.1"]);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`); // refused, not a usage error
    assert.match(r.stdout, /connect failures [1-9]/);
  }
});

Deno.test("load mode: bad values are one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--connections", "0"], /invalid --connections '0'/],
    [["--connections", "10001"], /invalid --connections '10001': at most 10000/],
    [["--connections", "2", "--rate", "abc"], /invalid --rate 'abc'/],
    [["--connections", "2", "--size", "0"], /invalid --size '0'/],
    [["--connections", "2", "--size", "16777217"], /invalid --size '16777217'/],
    [["--duration", "-1"], /invalid --duration '-1'/],
    [["--connections", "2", "hello"], /load mode sends generated messages/],
    [["--connections", "2", "--count", "3"], /--count does not apply to load mode/],
    [["hello", "--rate", "5"], /--rate is for load mode/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(["echo-client", "127.0.0.1:9", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test("load mode over TLS: --tls --insecure against echo-server --tls-cert auto", async () => {
  await using server = await serveLocal("echo-server", "--quiet", "--tls-cert", "auto");
  const r = await load(
    server.port,
    "--mode",
    "raw",
    "--tls",
    "--insecure",
    "--connections",
    "10",
    "--duration",
    "1",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.summary.connected, 10);
  assert.equal(r.summary.mismatches, 0);
  assert.ok(r.summary.messages > 10, `${r.summary.messages}`);
});

Deno.test("load mode: messages at and past the 16 KiB write-then-read size take both paths, echoes verified", async () => {
  await using server = await serveLocal("echo-server", "--quiet");
  // 16384 bytes are written before the echo is read; one more is written while it is read.
  for (const size of ["16384", "16385", "256KiB"]) {
    const r = await load(
      server.port,
      "--mode",
      "raw",
      "--connections",
      "4",
      "--duration",
      "0.5",
      "--size",
      size,
    );
    assert.equal(r.code, 0, `${size}: ${r.stderr}`);
    assert.equal(r.summary.mismatches, 0, size);
    assert.equal(r.summary.errors, 0, size);
    assert.ok(r.summary.messages >= 4, `${size}: ${r.summary.messages}`);
  }
});
