/**
 * Tests of `sockit time-server` (RFC 867 daytime): the pure formatting and config first, then
 * the real CLI on 127.0.0.1 port 0 with real clients — raw sockets, `sockit echo-client
 * --mode raw`, `ncat`, UDP datagrams (`node:dgram`, which needs no `--unstable-net` in this
 * process, and `socat`), `--workers`, SIGTERM and bad flags.
 *
 * ```sh
 * deno test -A tests/time_server_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { resolveTimeServerConfig } from "../lib/time/config.ts";
import { daytimeLine, formatTime, TIME_FORMATS, type TimeFormat } from "../lib/time/format.ts";
import { commandExists, MAIN, readAll, runCli, startServer } from "./helpers.ts";

const HOST = "127.0.0.1";
const enc = new TextEncoder();
const dec = new TextDecoder();

function serverArgs(...extra: string[]): string[] {
  return ["time-server", "--host", HOST, "--port", "0", ...extra];
}

/** Asserts a failure is exactly one stderr line, no stack trace. */
function assertOneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^sockit: /);
  assert.doesNotMatch(stderr, /\bat .*:\d+:\d+/);
  return lines[0];
}

/** Parses a daytime line (CRLF included) back into epoch milliseconds. */
function parseLine(line: string, format: TimeFormat): number {
  assert.ok(line.endsWith("\r\n"), `line ends with CRLF: ${JSON.stringify(line)}`);
  const text = line.slice(0, -2);
  assert.doesNotMatch(text, /[\r\n]/, "exactly one line");
  const patterns: Record<TimeFormat, RegExp> = {
    iso: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    rfc2822: /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/,
    unix: /^\d+$/,
  };
  assert.match(text, patterns[format]);
  return format === "unix" ? Number(text) * 1000 : Date.parse(text);
}

/** Asserts `ms` (second precision) is within a few seconds of now. */
function assertNow(ms: number): void {
  assert.ok(Math.abs(Date.now() - ms) < 5_000, `${new Date(ms).toISOString()} is not now`);
}

/** Connects, reads everything until the server closes, returns it. */
async function readTime(port: number): Promise<string> {
  using conn = await Deno.connect({ hostname: HOST, port });
  return dec.decode(await readAll(conn, 5_000));
}

/** Sends one datagram from a node:dgram socket and resolves with the answer. */
async function askUdp(port: number, payload: Uint8Array, timeoutMs = 5_000): Promise<string> {
  const socket = dgram.createSocket("udp4");
  try {
    const answer = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no UDP answer")), timeoutMs);
      socket.once("message", (message) => {
        clearTimeout(timer);
        resolve(dec.decode(message));
      });
    });
    await new Promise<void>((resolve, reject) =>
      socket.send(payload, port, HOST, (err) => err ? reject(err) : resolve())
    );
    return await answer;
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

// --- pure ------------------------------------------------------------------------------

Deno.test("formatTime: each format, UTC, to the second, zero-padded", () => {
  const at = new Date(Date.UTC(2026, 10, 27, 11, 29, 53, 999));
  assert.equal(formatTime(at, "iso"), "2026-11-27T11:29:53Z");
  assert.equal(formatTime(at, "rfc2822"), "Fri, 27 Nov 2026 11:29:53 +0000");
  assert.equal(formatTime(at, "unix"), "1795778993");
  const early = new Date(Date.UTC(2000, 0, 2, 3, 4, 5));
  assert.equal(formatTime(early, "iso"), "2000-01-02T03:04:05Z");
  assert.equal(formatTime(early, "rfc2822"), "Sun, 02 Jan 2000 03:04:05 +0000");
  assert.equal(formatTime(new Date(0), "unix"), "0");
  assert.equal(formatTime(new Date(0), "iso"), "1970-01-01T00:00:00Z");
});

Deno.test("formatTime: every format parses back to the same second", () => {
  for (const ms of [0, 951_782_400_000, Date.UTC(2038, 0, 19, 3, 14, 8), Date.now()]) {
    const at = new Date(ms);
    const second = Math.floor(ms / 1000) * 1000;
    for (const format of TIME_FORMATS) {
      assert.equal(parseLine(dec.decode(daytimeLine(at, format)), format), second, format);
    }
  }
});

Deno.test("daytimeLine: printable ASCII, then CRLF", () => {
  for (const format of TIME_FORMATS) {
    const bytes = daytimeLine(new Date(), format);
    assert.deepEqual([...bytes.slice(-2)], [0x0d, 0x0a]);
    assert.ok(bytes.slice(0, -2).every((b) => b >= 0x20 && b < 0x7f), format);
  }
});

Deno.test("resolveTimeServerConfig: defaults, and usage errors naming the flag", () => {
  const config = resolveTimeServerConfig({});
  assert.deepEqual(config, {
    host: "0.0.0.0",
    port: 8000,
    format: "iso",
    udp: false,
    quiet: false,
    json: false,
    maxConnections: 0,
    shutdownTimeoutMs: 5000,
    workers: 1,
  });
  assert.throws(
    () => resolveTimeServerConfig({ format: "xml" }),
    /^ConfigError: invalid --format 'xml': expected iso, rfc2822, unix$/,
  );
  assert.throws(
    () => resolveTimeServerConfig({ udp: true, maxConnections: 5 }),
    /--max-connections is for TCP/,
  );
});

// --- TCP -------------------------------------------------------------------------------

Deno.test("tcp: one line per --format, the current time, then the server closes", async () => {
  for (const format of TIME_FORMATS) {
    await using server = await startServer(serverArgs("--format", format));
    assert.equal(
      server.lines[0],
      `sockit time-server listening on tcp://127.0.0.1:${server.port} (format ${format})`,
    );
    const started = performance.now();
    const text = await readTime(server.port);
    assert.ok(performance.now() - started < 2_000, "closed at once, not after a timeout");
    assertNow(parseLine(text, format));
  }
});

Deno.test("tcp: the default format is iso; log lines say who got what", async () => {
  await using server = await startServer(serverArgs());
  assert.match(server.lines[0], /\(format iso\)$/);
  const text = await readTime(server.port);
  assertNow(parseLine(text, "iso"));
  const escaped = text.replace("\r\n", "\\\\r\\\\n"); // as a regex for b'…\r\n'
  await server.waitForLine(/ connected by 127\.0\.0\.1:\d+$/);
  await server.waitForLine(new RegExp(` 127\\.0\\.0\\.1:\\d+ got b'${escaped}'$`));
  await server.waitForLine(/ 127\.0\.0\.1:\d+ closed: 22 bytes out, \d+ ms \(time sent\)$/);
});

Deno.test("tcp: a client that sends first still gets the whole line (no reset), then EOF", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  for (let i = 0; i < 5; i++) {
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    await conn.write(enc.encode("GET / HTTP/1.0\r\n\r\n".repeat(50)));
    const text = dec.decode(await readAll(conn, 5_000));
    assertNow(parseLine(text, "iso"));
  }
});

Deno.test("tcp: the line arrives unprompted, then EOF; the client may still write", async () => {
  await using server = await startServer(serverArgs("--format", "unix"));
  using conn = await Deno.connect({ hostname: HOST, port: server.port });
  const buf = new Uint8Array(100);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  assertNow(parseLine(text, "unix"));
  // Half-closed by the server: this side may still write without a reset, and close.
  await conn.write(enc.encode("bye"));
});

Deno.test("tcp: sockit echo-client --mode raw with no message prints the line, exit 0", async () => {
  await using server = await startServer(serverArgs("--format", "rfc2822"));
  const out = await runCli(["echo-client", `${HOST}:${server.port}`, "--mode", "raw"]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stderr, "");
  assertNow(parseLine(out.stdout, "rfc2822"));
});

Deno.test("tcp: ncat as a real client prints the line and exits 0", {
  ignore: !(await commandExists("ncat")),
}, async () => {
  await using server = await startServer(serverArgs());
  const out = await new Deno.Command("ncat", {
    args: [HOST, String(server.port)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assertNow(parseLine(dec.decode(out.stdout), "iso"));
});

Deno.test("tcp: --json logs connect, sent and close as objects", async () => {
  await using server = await startServer(serverArgs("--json"));
  await readTime(server.port);
  const close = JSON.parse(await server.waitForLine(/"event":"close"/));
  assert.equal(close.bytes_out, 22);
  assert.equal(close.reason, "time sent");
  assert.equal(typeof close.duration_ms, "number");
  const sent = JSON.parse(server.lines.find((l) => l.includes('"event":"sent"'))!);
  assert.equal(sent.bytes, 22);
  assert.match(sent.data, /^b'\d{4}-.*Z\\r\\n'$/);
  assert.ok(server.lines.some((l) => l.includes('"event":"connect"')));
});

Deno.test("tcp: --quiet drops the per-line log, keeps connections", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  await readTime(server.port);
  await server.waitForLine(/closed: 22 bytes out/);
  assert.ok(!server.lines.some((l) => / got b'/.test(l)));
  assert.ok(server.lines.some((l) => / connected by /.test(l)));
});

Deno.test("tcp: over --max-connections, one more is closed at once and logged", async () => {
  await using server = await startServer(serverArgs("--max-connections", "1"));
  // The first client keeps its socket open, so the server lingers on it (up to 1 s).
  using first = await Deno.connect({ hostname: HOST, port: server.port });
  const buf = new Uint8Array(64);
  assert.ok((await first.read(buf))! > 0);
  const second = await readTime(server.port);
  assert.equal(second, "", "refused: EOF without a line");
  await server.waitForLine(/rejected 127\.0\.0\.1:\d+: 1 connections already open/);
});

Deno.test("tcp: 50 concurrent clients each get a line", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  const texts = await Promise.all(Array.from({ length: 50 }, () => readTime(server.port)));
  for (const text of texts) assertNow(parseLine(text, "iso"));
});

Deno.test("tcp: SIGTERM stops gracefully, exit 0", async () => {
  await using server = await startServer(serverArgs());
  await readTime(server.port);
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0, server.stderr());
  assert.ok(server.lines.some((l) => / SIGTERM: stopping; \d+ connection\(s\) open$/.test(l)));
  assert.equal(server.stderr(), "");
});

Deno.test("tcp: --workers 2 share the port; every client gets a line; SIGTERM exits 0", async () => {
  await using server = await startServer(serverArgs("--workers", "2", "--json"));
  assert.equal(
    server.lines[0],
    `sockit time-server listening on tcp://127.0.0.1:${server.port} (format iso; 2 workers)`,
  );
  const texts = await Promise.all(Array.from({ length: 20 }, () => readTime(server.port)));
  for (const text of texts) assertNow(parseLine(text, "iso"));
  await server.waitForLine(/"event":"close"/);
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0, server.stderr());
  const workers = new Set(
    server.lines.slice(1).map((l) => JSON.parse(l).worker).filter((w) => w !== undefined),
  );
  assert.ok(workers.size >= 1 && [...workers].every((w) => w === 1 || w === 2));
});

// --- UDP -------------------------------------------------------------------------------

Deno.test("udp: every datagram, empty, small or maximal, gets the line", async () => {
  await using server = await startServer(serverArgs("--udp", "--format", "unix"));
  assert.equal(
    server.lines[0],
    `sockit time-server listening on udp://127.0.0.1:${server.port} (format unix)`,
  );
  for (const size of [0, 1, 1000, 65_507]) {
    const answer = await askUdp(server.port, new Uint8Array(size).fill(0x41));
    assertNow(parseLine(answer, "unix"));
  }
  await server.waitForLine(/ 127\.0\.0\.1:\d+ sent 65507 bytes; answered b'\d+\\r\\n'$/);
  await server.waitForLine(/ 127\.0\.0\.1:\d+ sent 0 bytes; answered b'\d+\\r\\n'$/);
});

Deno.test("udp: --json logs each datagram; SIGTERM exits 0", async () => {
  await using server = await startServer(serverArgs("--udp", "--json"));
  assertNow(parseLine(await askUdp(server.port, enc.encode("what time is it?")), "iso"));
  const event = JSON.parse(await server.waitForLine(/"event":"datagram"/));
  assert.equal(event.bytes_in, 16);
  assert.equal(event.data, "b'what time is it?'");
  assert.equal(event.bytes_out, 22);
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0, server.stderr());
  const shutdown = JSON.parse(await server.waitForLine(/"event":"shutdown"/));
  assert.deepEqual([shutdown.signal, shutdown.received, shutdown.answered], ["SIGTERM", 1, 1]);
});

Deno.test("udp: a burst of 200 datagrams is answered without a crash", async () => {
  await using server = await startServer(serverArgs("--udp", "--quiet"));
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => askUdp(server.port, enc.encode(String(i)))),
  );
  for (const answer of answers) assertNow(parseLine(answer, "iso"));
  assert.equal((await server.stop("SIGTERM")).code, 0);
});

Deno.test("udp: socat as a real client gets the line", {
  ignore: !(await commandExists("socat")),
}, async () => {
  await using server = await startServer(serverArgs("--udp", "--format", "rfc2822"));
  const child = new Deno.Command("socat", {
    args: ["-t", "1", "-", `UDP:${HOST}:${server.port}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(enc.encode("\n"));
  await w.close();
  const out = await child.output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assertNow(parseLine(dec.decode(out.stdout), "rfc2822"));
});

Deno.test("udp: --workers 2 falls back to one with one stderr line, and serves", async () => {
  await using server = await startServer(serverArgs("--udp", "--workers", "2"));
  assert.match(
    server.lines[0],
    /^sockit time-server listening on udp:\/\/127\.0\.0\.1:\d+ \(format iso\)$/,
  );
  assertNow(parseLine(await askUdp(server.port, new Uint8Array(0)), "iso"));
  const stderr = await server.waitForStderr(/serving with 1 worker/);
  assert.equal(
    assertOneLine(stderr),
    "sockit: --workers 2: UDP cannot share a port between workers (Deno binds datagram " +
      "sockets without SO_REUSEPORT); serving with 1 worker",
  );
});

Deno.test("udp: without --unstable-net, one line and exit 1", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, ...serverArgs("--udp")],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 1);
  assert.equal(dec.decode(out.stdout), "");
  assert.equal(
    assertOneLine(dec.decode(out.stderr)),
    "sockit: cannot listen on udp://127.0.0.1:0: UDP needs deno run --unstable-net " +
      "(the sockit binary and deno task start have it)",
  );
});

// --- usage -----------------------------------------------------------------------------

Deno.test("usage: bad values are one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--format", "xml"], /'--format <format>' argument 'xml' is invalid.*iso, rfc2822, unix/],
    [["--port", "http"], /invalid port 'http'/],
    [["--workers", "0"], /invalid --workers '0'/],
    [["--max-connections", "0"], /invalid --max-connections '0'/],
    [["--shutdown-timeout", "-1"], /invalid --shutdown-timeout '-1'/],
    [["--udp", "--max-connections", "5"], /--max-connections is for TCP/],
    [["--utc"], /unknown option '--utc'/],
  ];
  for (const [flags, pattern] of cases) {
    const out = await runCli(["time-server", ...flags]);
    assert.equal(out.code, 2, `${flags.join(" ")}: ${out.stderr}`);
    assert.equal(out.stdout, "");
    assert.match(assertOneLine(out.stderr), pattern);
  }
});

Deno.test("usage: --help documents every flag with examples", async () => {
  const out = await runCli(["time-server", "--help"]);
  assert.equal(out.code, 0);
  for (const flag of ["--format", "--udp", "--quiet", "--json", "--workers", "--max-connections"]) {
    assert.ok(out.stdout.includes(flag), flag);
  }
  assert.match(out.stdout, /Examples:\n {2}sockit time-server --port 1313\n/);
  assert.match(out.stdout, /--format unix --udp/);
});
