/**
 * Tests of `sockit echo-client`: pure parsing/statistics, then the real CLI against the real
 * echo server (or a misbehaving test listener) on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { summarizeRtts } from "../lib/echo/output.ts";
import { parseAddress } from "../lib/echo/connect.ts";
import { cliCommand, runCli, sha256, startServer } from "./helpers.ts";

const HOST = "127.0.0.1";

function serverArgs(...extra: string[]): string[] {
  return ["echo-server", "--host", HOST, "--port", "0", "--quiet", ...extra];
}

/** Asserts a failure is exactly one stderr line, no stack trace. */
function assertOneLine(stderr: string): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^sockit: /);
  assert.doesNotMatch(stderr, /\bat .*:\d+:\d+/);
}

Deno.test("parseAddress: PORT, HOST:PORT, [IPv6]:PORT", () => {
  assert.deepEqual(parseAddress("8000"), { host: "127.0.0.1", port: 8000 });
  assert.deepEqual(parseAddress("example.org:7"), { host: "example.org", port: 7 });
  assert.deepEqual(parseAddress(":9000"), { host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseAddress("[::1]:8000"), { host: "::1", port: 8000 });
  assert.deepEqual(parseAddress("[fe80::1%eth0]:80"), { host: "fe80::1%eth0", port: 80 });
  assert.deepEqual(parseAddress("10.0.0.1:65535"), { host: "10.0.0.1", port: 65535 });
});

Deno.test("parseAddress: bad addresses are usage errors naming the problem", () => {
  assert.throws(() => parseAddress("::1:8000"), /IPv6 addresses in brackets/);
  assert.throws(() => parseAddress("localhost"), /expected \[HOST:\]PORT/);
  assert.throws(() => parseAddress("localhost:"), /port is missing/);
  assert.throws(() => parseAddress("localhost:0"), /port 0 cannot be dialed/);
  assert.throws(() => parseAddress("localhost:70000"), /invalid port '70000'/);
  assert.throws(() => parseAddress("[::1]"), /port is missing, e.g. \[::1\]:8000/);
  assert.throws(() => parseAddress("a b:80"), /expected \[HOST:\]PORT/);
});

Deno.test("summarizeRtts: loss, min/avg/max and nearest-rank p99", () => {
  const rtts = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 ms
  const s = summarizeRtts(100, rtts);
  assert.deepEqual(s, {
    sent: 100,
    received: 100,
    lossPercent: 0,
    minMs: 1,
    avgMs: 50.5,
    maxMs: 100,
    p99Ms: 99,
  });
  assert.equal(summarizeRtts(4, [2, 1]).lossPercent, 50);
  assert.equal(summarizeRtts(4, [2, 1]).p99Ms, 2);
  assert.deepEqual(summarizeRtts(3, []), {
    sent: 3,
    received: 0,
    lossPercent: 100,
    minMs: 0,
    avgMs: 0,
    maxMs: 0,
    p99Ms: 0,
  });
});

Deno.test("line mode: each message makes one round trip and the reply is printed", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  const r = await runCli(["echo-client", String(server.port), "hello", "two words"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello\ntwo words\n");
  assert.equal(r.stderr, "");
  const named = await runCli(["echo-client", `localhost:${server.port}`, "by name"]);
  assert.equal(named.stdout, "by name\n");
});

Deno.test("raw and length modes against matching servers", async () => {
  {
    await using server = await startServer(serverArgs("--mode", "raw"));
    const r = await runCli(["echo-client", `${HOST}:${server.port}`, "--mode", "raw", "abc"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "abc\n");
  }
  {
    await using server = await startServer(serverArgs("--mode", "length"));
    const r = await runCli(["echo-client", String(server.port), "--mode", "length", "a\nb", ""]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "a\nb\n\n");
  }
});

Deno.test("--expect: exit 0 on a match, exit 1 and one line on a mismatch", async () => {
  await using server = await startServer(serverArgs("--mode", "line", "--reply", "Yes"));
  const ok = await runCli(["echo-client", String(server.port), "ready?", "--expect", "Yes"]);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await runCli(["echo-client", String(server.port), "ready?", "--expect", "No"]);
  assert.equal(bad.code, 1);
  assertOneLine(bad.stderr);
  assert.match(bad.stderr, /127\.0\.0\.1:\d+: expected "No" but got "Yes"/);
});

Deno.test("--count: per-message RTT lines and a ping-style summary", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  const r = await runCli(["echo-client", String(server.port), "ping", "--count", "5"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 8);
  for (let i = 0; i < 5; i++) {
    assert.match(
      lines[i],
      new RegExp(`^5 bytes from 127\\.0\\.0\\.1:\\d+: seq=${i + 1} time=\\d+\\.\\d{3} ms$`),
    );
  }
  assert.match(lines[5], /^--- 127\.0\.0\.1:\d+ echo statistics ---$/);
  assert.equal(lines[6], "5 messages sent, 5 received, 0% loss");
  const m = /^rtt min\/avg\/max\/p99 = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms$/.exec(lines[7]);
  assert.ok(m, lines[7]);
  const [min, avg, max, p99] = m.slice(1).map(Number);
  assert.ok(min <= avg && avg <= max && p99 <= max && min > 0);
});

Deno.test("--interval spaces the messages out", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  const t0 = performance.now();
  const r = await runCli([
    "echo-client",
    String(server.port),
    "a",
    "--count",
    "4",
    "--interval",
    "0.2",
  ]);
  const ms = performance.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 messages sent, 4 received, 0% loss/);
  assert.ok(ms >= 600, `4 messages 0.2 s apart took only ${ms} ms`);
});

Deno.test("--count: Ctrl-C ends the run early and still prints the summary, exit 0", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  const child = cliCommand(
    ["echo-client", String(server.port), "ping", "--count", "1000", "--interval", "0.05"],
  ).spawn();
  const decoder = new TextDecoder();
  let stdout = "";
  const reader = child.stdout.getReader();
  while ((stdout.match(/seq=/g) ?? []).length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value, { stream: true });
  }
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value, { stream: true });
  }
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(status.code, 0);
  const m = /(\d+) messages sent, (\d+) received, 0% loss/.exec(stdout);
  assert.ok(m, stdout);
  assert.ok(Number(m[1]) >= 3 && Number(m[1]) < 1000);
  assert.equal(m[1], m[2]);
  assert.match(stdout, /rtt min\/avg\/max\/p99 = /);
});

Deno.test("--json: every stdout line parses; replies then a summary", async () => {
  await using server = await startServer(serverArgs("--mode", "length"));
  const r = await runCli([
    "echo-client",
    String(server.port),
    "--mode",
    "length",
    "a",
    "bc",
    "--count",
    "2",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.event), ["reply", "reply", "reply", "reply", "summary"]);
  assert.deepEqual(events.slice(0, 4).map((e) => [e.seq, e.reply]), [
    [1, "a"],
    [2, "bc"],
    [3, "a"],
    [4, "bc"],
  ]);
  const s = events[4];
  assert.equal(s.sent, 4);
  assert.equal(s.received, 4);
  assert.equal(s.loss_percent, 0);
  assert.equal(s.mode, "length");
  for (const k of ["min_ms", "avg_ms", "max_ms", "p99_ms"]) assert.equal(typeof s[k], "number");
});

Deno.test("connection refused: exit 1, one line naming the address and the cause", async () => {
  const port = await freePort();
  const r = await runCli(["echo-client", String(port), "hi"]);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.equal(r.stderr.trim(), `sockit: cannot connect to 127.0.0.1:${port}: connection refused`);
  assert.equal(r.stdout, "");
});

Deno.test("unknown host: exit 1, one line", async () => {
  const r = await runCli(["echo-client", "no-such-host.invalid:7", "hi", "--timeout", "3"]);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /cannot connect to no-such-host\.invalid:7: unknown host/);
});

Deno.test("a server that never answers: --timeout, exit 1, one line", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  const t0 = performance.now();
  const r = await runCli(["echo-client", String(listener.addr.port), "hi", "--timeout", "0.5"]);
  using _conn = await accepted;
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /127\.0\.0\.1:\d+: timed out after 0\.5 s waiting for a reply/);
  assert.ok(performance.now() - t0 < 5000);
});

Deno.test("a server that resets the connection: exit 1, one line naming the cause", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const resetter = (async () => {
    const conn = await listener.accept();
    // Closing with the request unread makes the kernel answer with RST.
    await new Promise((r) => setTimeout(r, 300));
    conn.close();
  })();
  const r = await runCli(["echo-client", String(listener.addr.port), "hi", "--timeout", "5"]);
  await resetter;
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  // Deno reports a reset on read as end of stream, so either wording is the honest answer.
  assert.match(
    r.stderr,
    /127\.0\.0\.1:\d+: (connection reset by peer|connection closed by the server before any reply)$/m,
  );
});

Deno.test("a server that closes before replying: exit 1, one line, summary shows loss", async () => {
  await using server = await startServer(serverArgs("--mode", "line", "--max-frame", "16"));
  const r = await runCli([
    "echo-client",
    String(server.port),
    "this line is longer than sixteen bytes",
    "--count",
    "3",
  ]);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /connection closed by the server/);
  assert.match(r.stdout, /1 messages sent, 0 received, 100% loss/);
});

Deno.test("usage errors exit 2 with one line", async () => {
  for (
    const args of [
      ["echo-client"],
      ["echo-client", "not-an-address", "hi"],
      ["echo-client", "::1:80", "hi"],
      ["echo-client", "8000", "hi", "--mode", "bogus"],
      ["echo-client", "8000", "hi", "--count", "0"],
      ["echo-client", "8000", "hi", "--timeout", "soon"],
      ["echo-client", "8000", "--mode", "raw", "--count", "2"],
      ["echo-client", "8000", "a\nb"],
      ["echo-client", "8000", "hi", "--bogus"],
    ]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertOneLine(r.stderr);
  }
});

Deno.test("--wait: keeps retrying until a late server accepts", async () => {
  const port = await freePort();
  const client = cliCommand([
    "echo-client",
    String(port),
    "up?",
    "--wait",
    "20",
    "--expect",
    "up?",
  ]).spawn();
  await new Promise((r) => setTimeout(r, 1000));
  await using _server = await startServer([
    "echo-server",
    "--host",
    HOST,
    "--port",
    String(port),
    "--mode",
    "line",
  ]);
  const out = await client.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout), "up?\n");
});

Deno.test("--wait: gives up after the time is up, saying so", async () => {
  const port = await freePort();
  const t0 = performance.now();
  const r = await runCli(["echo-client", String(port), "x", "--wait", "0.5"]);
  const ms = performance.now() - t0;
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /connection refused \(still failing after --wait 0\.5 s\)/);
  assert.ok(ms >= 500, `gave up after ${ms} ms`);
});

Deno.test("stdin, line mode: every line (the last one unterminated too) round-trips", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  const r = await runCli(["echo-client", String(server.port)], {
    input: "first\nsecond\r\n\nlast without newline",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "first\nsecond\r\n\nlast without newline\n");
});

Deno.test("stdin, length mode: each line is one frame", async () => {
  await using server = await startServer(serverArgs("--mode", "length"));
  const r = await runCli(["echo-client", String(server.port), "--mode", "length"], {
    input: "one\ntwo\n",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "one\ntwo\n");
});

Deno.test("stdin, raw mode: 4 MiB of binary comes back byte-exact after the half-close", async () => {
  await using server = await startServer(serverArgs("--mode", "raw"));
  const payload = new Uint8Array(4 * 1024 * 1024);
  for (let off = 0; off < payload.length; off += 65536) {
    crypto.getRandomValues(payload.subarray(off, off + 65536));
  }
  const child = cliCommand(["echo-client", String(server.port), "--mode", "raw"], {
    stdin: "piped",
  }).spawn();
  const writing = (async () => {
    const w = child.stdin.getWriter();
    await w.write(payload);
    await w.close();
  })();
  const out = await child.output();
  await writing;
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(out.stdout.length, payload.length);
  assert.equal(await sha256(out.stdout), await sha256(payload));
});

Deno.test("stdin, raw mode with --expect compares everything echoed", async () => {
  await using server = await startServer(serverArgs("--mode", "raw"));
  const ok = await runCli(["echo-client", String(server.port), "--mode", "raw", "--expect", "ab"], {
    input: "ab",
  });
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await runCli(
    ["echo-client", String(server.port), "--mode", "raw", "--expect", "xy"],
    { input: "ab" },
  );
  assert.equal(bad.code, 1);
  assertOneLine(bad.stderr);
});

Deno.test("IPv6: [::1]:PORT", async (t) => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
  } catch {
    t.step("IPv6 loopback unavailable here", () => {});
    return;
  }
  await using server = await startServer(["echo-server", "--host", "::1", "--port", "0"]);
  assert.match(server.lines[0], /listening on tcp:\/\/\[::1\]:\d+/);
  const r = await runCli(["echo-client", `[::1]:${server.port}`, "six", "--mode", "raw"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "six\n");
});

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = l.addr.port;
  l.close();
  await new Promise((r) => setTimeout(r, 10));
  return port;
}
