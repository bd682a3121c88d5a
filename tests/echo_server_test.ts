/**
 * End-to-end tests of `sockit echo-server`: the real CLI on 127.0.0.1 port 0, real sockets.
 */
import assert from "node:assert/strict";
import { BufferedReader, encodeFrame, writeAll } from "../lib/framing.ts";
import { resolveEchoServerConfig } from "../lib/echo/config.ts";
import { concatBytes, procStatusKiB, readAll, runCli, sha256, startServer } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const HOST = "127.0.0.1";

function serverArgs(...extra: string[]): string[] {
  return ["echo-server", "--host", HOST, "--port", "0", ...extra];
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Sends `payload`, half-closes, and returns everything echoed until the server closes. */
async function rawRoundTrip(port: number, payload: Uint8Array): Promise<Uint8Array> {
  using conn = await Deno.connect({ hostname: HOST, port });
  const writing = (async () => {
    await writeAll(conn, payload);
    await conn.closeWrite();
  })();
  const echoed = await readAll(conn, 30_000);
  await writing;
  return echoed;
}

Deno.test("raw: byte-exact echo of 0 B, 1 B, 64 KiB and 16 MiB, then close on half-close", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  for (const size of [0, 1, 64 * 1024, 16 * 1024 * 1024]) {
    const payload = randomBytes(size);
    const echoed = await rawRoundTrip(server.port, payload);
    assert.equal(echoed.length, size, `size ${size}`);
    assert.equal(await sha256(echoed), await sha256(payload), `sha256 for ${size} B`);
  }
  await server.waitForLine(/closed: 16777216 bytes in, 16777216 bytes out/);
});

Deno.test("raw: the first stdout line is the documented listening line", async () => {
  await using server = await startServer(serverArgs());
  assert.match(
    server.lines[0],
    /^sockit echo-server listening on tcp:\/\/127\.0\.0\.1:\d+ \(mode raw\)$/,
  );
  assert.ok(server.port > 0);
});

Deno.test("raw: 100 concurrent clients each get their own bytes back", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const payload = randomBytes(1000 + i * 100);
    const echoed = await rawRoundTrip(server.port, payload);
    return (await sha256(echoed)) === (await sha256(payload));
  }));
  assert.equal(results.filter(Boolean).length, 100);
});

Deno.test("load: 200 concurrent echo clients, several exchanges each, all succeed", async () => {
  await using server = await startServer(serverArgs("--quiet", "--mode", "line"));
  const started = performance.now();
  const failures: unknown[] = [];
  await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    try {
      using conn = await Deno.connect({ hostname: HOST, port: server.port });
      const reader = new BufferedReader(conn);
      for (let k = 0; k < 5; k++) {
        const msg = `client ${i} message ${k}\n`;
        await writeAll(conn, enc.encode(msg));
        assert.equal(dec.decode((await reader.readLine())!), msg);
      }
    } catch (err) {
      failures.push(err);
    }
  }));
  assert.deepEqual(failures, []);
  assert.ok(performance.now() - started < 10_000, "200 clients took over 10 s");
});

Deno.test("raw: the server finishes echoing after the client's half-close", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  using conn = await Deno.connect({ hostname: HOST, port: server.port });
  await writeAll(conn, enc.encode("before shutdown of the write side"));
  await conn.closeWrite();
  const echoed = await readAll(conn);
  assert.equal(dec.decode(echoed), "before shutdown of the write side");
});

Deno.test("line: each line comes back with its own terminator, coalesced or split", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  using conn = await Deno.connect({ hostname: HOST, port: server.port });
  const reader = new BufferedReader(conn);
  await writeAll(conn, enc.encode("one\ntwo\r\nthr"));
  assert.equal(dec.decode((await reader.readLine())!), "one\n");
  assert.equal(dec.decode((await reader.readLine())!), "two\r\n");
  await writeAll(conn, enc.encode("ee\n"));
  assert.equal(dec.decode((await reader.readLine())!), "three\n");
  await writeAll(conn, enc.encode("\x00bin\xff\n"));
  assert.equal(dec.decode((await reader.readLine())!), "\x00bin\xff\n");
  await server.waitForLine(/sent 6 bytes: b'three\\n'/);
});

Deno.test("line: works with nc (ncat): lines in, lines out, closed after EOF", async () => {
  await using server = await startServer(serverArgs("--mode", "line"));
  const out = await new Deno.Command("ncat", {
    args: [HOST, String(server.port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(enc.encode("hello\nworld\n"));
  await w.close();
  const result = await out.output();
  assert.equal(dec.decode(result.stdout), "hello\nworld\n");
  assert.equal(result.code, 0);
});

Deno.test("length: frames come back as frames, 0-length and 1 MiB included", async () => {
  await using server = await startServer(serverArgs("--mode", "length", "--quiet"));
  using conn = await Deno.connect({ hostname: HOST, port: server.port });
  const reader = new BufferedReader(conn);
  const payloads = [enc.encode("hi"), new Uint8Array(0), randomBytes(1024 * 1024), enc.encode("x")];
  // All frames in one write: the server must split them itself.
  const writing = writeAll(conn, concatBytes(payloads.map(encodeFrame)));
  for (const p of payloads) {
    const got = await reader.readFrame();
    assert.equal(await sha256(got!), await sha256(p));
  }
  await writing;
});

Deno.test("--reply answers every line (keeping CRLF) and every frame with TEXT", async () => {
  {
    await using server = await startServer(serverArgs("--mode", "line", "--reply", "Yes"));
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    const reader = new BufferedReader(conn);
    await writeAll(conn, enc.encode("Are you there?\nHello\r\n"));
    assert.equal(dec.decode((await reader.readLine())!), "Yes\n");
    assert.equal(dec.decode((await reader.readLine())!), "Yes\r\n");
    await server.waitForLine(/sent 15 bytes: b'Are you there\?\\n'/);
  }
  {
    await using server = await startServer(serverArgs("--mode", "length", "--reply", "Yes"));
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    const reader = new BufferedReader(conn);
    await writeAll(conn, encodeFrame(enc.encode("question")));
    assert.equal(dec.decode((await reader.readFrame())!), "Yes");
  }
});

Deno.test("usage errors: --max-frame with raw mode, bad flags → exit 2, one line", async () => {
  for (
    const args of [
      ["echo-server", "--mode", "raw", "--max-frame", "1KiB"],
      ["echo-server", "--mode", "bogus"],
      ["echo-server", "--port", "70000"],
      ["echo-server", "--max-connections", "0"],
      ["echo-server", "--shutdown-timeout", "-1"],
    ]
  ) {
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, /^sockit: /);
  }
  const { stderr } = await runCli(["echo-server", "--max-frame", "1KiB"]);
  assert.match(stderr, /--max-frame needs --mode line or --mode length/);
});

Deno.test("a port in use or an unknown host is one line and exit 1", async () => {
  using blocker = Deno.listen({ hostname: HOST, port: 0 });
  const { code, stderr } = await runCli([
    "echo-server",
    "--host",
    HOST,
    "--port",
    String(blocker.addr.port),
  ]);
  assert.equal(code, 1);
  assert.match(
    stderr.trim(),
    /^sockit: cannot listen on 127\.0\.0\.1:\d+: address already in use; another program uses it: pick another --port, or --port 0 for any free one$/,
  );
  const unknown = await runCli(["echo-server", "--host", "no-such-host.invalid", "--port", "0"]);
  assert.equal(unknown.code, 1);
  assert.equal(
    unknown.stderr.trim(),
    "sockit: cannot listen on no-such-host.invalid:0: unknown host 'no-such-host.invalid'",
  );
});

Deno.test("over-limit line or frame closes only that connection, with a log line", async () => {
  {
    await using server = await startServer(serverArgs("--mode", "line", "--max-frame", "1KiB"));
    using bad = await Deno.connect({ hostname: HOST, port: server.port });
    using good = await Deno.connect({ hostname: HOST, port: server.port });
    // Exactly at the limit (terminator included) is fine.
    const atLimit = "a".repeat(1023) + "\n";
    await writeAll(bad, enc.encode(atLimit));
    const badReader = new BufferedReader(bad);
    assert.equal(dec.decode((await badReader.readLine({ maxBytes: 2048 }))!), atLimit);
    await writeAll(bad, enc.encode("b".repeat(5000)));
    assert.equal(await badReader.readChunk(), null, "server closed the over-limit connection");
    await server.waitForLine(/line longer than 1024 bytes \(LINE_TOO_LONG\); closing/);
    await writeAll(good, enc.encode("still here\n"));
    assert.equal(dec.decode((await new BufferedReader(good).readLine())!), "still here\n");
  }
  {
    await using server = await startServer(serverArgs("--mode", "length", "--max-frame", "1KiB"));
    using bad = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(bad, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    assert.equal(await new BufferedReader(bad).readChunk(), null);
    await server.waitForLine(/frame of 4294967295 bytes exceeds the limit of 1024 bytes/);
    using good = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(good, encodeFrame(new Uint8Array(1024)));
    assert.equal((await new BufferedReader(good).readFrame())!.length, 1024);
  }
});

Deno.test("a client that never reads cannot make the server buffer without bound", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  using hog = await Deno.connect({ hostname: HOST, port: server.port });
  // Warm up so the baseline includes the JIT and first buffers.
  const warm = randomBytes(1024 * 1024);
  assert.equal((await rawRoundTrip(server.port, warm)).length, warm.length);
  const baselineKiB = procStatusKiB(server.child.pid, "VmRSS");

  const target = 96 * 1024 * 1024;
  const chunk = new Uint8Array(1024 * 1024);
  let written = 0;
  const writer = (async () => {
    while (written < target) written += await hog.write(chunk);
  })().catch(() => {/* the socket is closed at the end of the test */});
  await new Promise((r) => setTimeout(r, 3000));
  const stalledAt = written;
  const rssKiB = procStatusKiB(server.child.pid, "VmRSS");
  // Kernel socket buffers on both sides absorb a few MiB; the rest must be refused.
  assert.ok(stalledAt < 48 * 1024 * 1024, `client pushed ${stalledAt} bytes into the server`);
  assert.ok(
    rssKiB - baselineKiB < 32 * 1024,
    `server RSS grew by ${rssKiB - baselineKiB} KiB while the client was not reading`,
  );
  // Other clients are still served.
  const payload = randomBytes(256 * 1024);
  assert.equal(await sha256(await rawRoundTrip(server.port, payload)), await sha256(payload));
  hog.close();
  await writer;
});

Deno.test("idle connections are cheap: 400 open connections cost well under 64 KiB each", async () => {
  for (const mode of ["raw", "line"]) {
    await using server = await startServer(serverArgs("--quiet", "--mode", mode));
    // Warm up with a bulk transfer so the raw read size has grown once and must shrink back.
    // (Lines of 50 KiB: a valid stream in both modes, and they grow the line buffer too.)
    const warm = enc.encode(("a".repeat(50 * 1024 - 1) + "\n").repeat(80));
    assert.equal((await rawRoundTrip(server.port, warm)).length, warm.length);
    await new Promise((r) => setTimeout(r, 200));
    const baselineKiB = procStatusKiB(server.child.pid, "VmRSS");
    const conns: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 400; i++) {
        conns.push(await Deno.connect({ hostname: HOST, port: server.port }));
      }
      await server.waitForLine(/connected by/);
      await new Promise((r) => setTimeout(r, 500));
      const perConnKiB = (procStatusKiB(server.child.pid, "VmRSS") - baselineKiB) / 400;
      // Deno's own floor is ~13 KiB per connection; a 64 KiB buffer each would show as ~80.
      assert.ok(perConnKiB < 32, `${mode}: ${perConnKiB.toFixed(1)} KiB per idle connection`);
    } finally {
      for (const c of conns) c.close();
    }
  }
});

Deno.test("--json: one JSON object per event line after the listening line", async () => {
  await using server = await startServer(serverArgs("--json", "--mode", "line"));
  {
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(conn, enc.encode("hi\n"));
    await new BufferedReader(conn).readLine();
  }
  await server.waitForLine(/"event":"close"/);
  const events = server.lines.slice(1).map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.event), ["connect", "message", "close"]);
  assert.equal(events[1].data, "b'hi\\n'");
  assert.equal(events[1].bytes, 3);
  assert.equal(events[2].bytes_in, 3);
  assert.equal(events[2].bytes_out, 3);
  assert.equal(typeof events[2].duration_ms, "number");
  assert.match(events[0].peer, /^127\.0\.0\.1:\d+$/);
});

Deno.test("--quiet logs connections but not messages", async () => {
  await using server = await startServer(serverArgs("--quiet"));
  await rawRoundTrip(server.port, enc.encode("secret"));
  await server.waitForLine(/closed: 6 bytes in, 6 bytes out/);
  assert.ok(server.lines.some((l) => /connected by 127\.0\.0\.1:\d+/.test(l)));
  assert.ok(!server.lines.some((l) => l.includes("secret")));
});

Deno.test("SIGTERM and SIGINT: idle connections closed, exit 0", async () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await using server = await startServer(serverArgs("--mode", "line"));
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(conn, enc.encode("x\n"));
    const reader = new BufferedReader(conn);
    await reader.readLine();
    const t0 = performance.now();
    const status = await server.stop(signal);
    assert.equal(status.code, 0, `${signal}: ${server.stderr()}`);
    assert.ok(performance.now() - t0 < 3000, "an idle connection delayed the shutdown");
    assert.equal(await reader.readChunk(), null, "connection closed by the server");
    // No longer accepting.
    await assert.rejects(Deno.connect({ hostname: HOST, port: server.port }));
  }
});

Deno.test("--shutdown-timeout: an exchange in flight finishes; a stuck one is cut at the timeout", async () => {
  {
    await using server = await startServer(
      serverArgs("--mode", "line", "--shutdown-timeout", "10"),
    );
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(conn, enc.encode("half a li"));
    await server.waitForLine(/connected by/);
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill("SIGTERM");
    await server.waitForLine(/SIGTERM: stopping/);
    await writeAll(conn, enc.encode("ne\n"));
    const reader = new BufferedReader(conn);
    assert.equal(dec.decode((await reader.readLine())!), "half a line\n");
    assert.equal(await reader.readChunk(), null, "closed after the in-flight exchange");
    // Wait for the exit the first SIGTERM started: stop() would send a second signal if the
    // process had not quite exited yet, and a second signal means "exit now" (143).
    assert.equal((await server.child.status).code, 0);
  }
  {
    await using server = await startServer(
      serverArgs("--mode", "line", "--shutdown-timeout", "0.5"),
    );
    using conn = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(conn, enc.encode("never finished"));
    await server.waitForLine(/connected by/);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const status = await server.stop("SIGTERM");
    const ms = performance.now() - t0;
    assert.equal(status.code, 0);
    assert.ok(ms >= 400 && ms < 3000, `shutdown took ${ms} ms`);
    assert.ok(server.lines.some((l) => l.includes("(shutdown timeout)")));
  }
});

Deno.test("a second signal exits at once", async () => {
  await using server = await startServer(serverArgs("--mode", "line", "--shutdown-timeout", "60"));
  using conn = await Deno.connect({ hostname: HOST, port: server.port });
  await writeAll(conn, enc.encode("in flight"));
  await server.waitForLine(/connected by/);
  await new Promise((r) => setTimeout(r, 100));
  server.child.kill("SIGTERM");
  await server.waitForLine(/SIGTERM: stopping/);
  const t0 = performance.now();
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 143);
  assert.ok(performance.now() - t0 < 3000);
});

Deno.test("--max-connections: extra connections are closed at once and logged", async () => {
  await using server = await startServer(serverArgs("--mode", "line", "--max-connections", "2"));
  using a = await Deno.connect({ hostname: HOST, port: server.port });
  using b = await Deno.connect({ hostname: HOST, port: server.port });
  await writeAll(a, enc.encode("a\n"));
  await writeAll(b, enc.encode("b\n"));
  await new BufferedReader(a).readLine();
  await new BufferedReader(b).readLine();
  {
    using c = await Deno.connect({ hostname: HOST, port: server.port });
    assert.equal(await new BufferedReader(c).readChunk(), null);
  }
  await server.waitForLine(/rejected 127\.0\.0\.1:\d+: 2 connections already open/);
  a.close();
  await server.waitForLine(/closed: 2 bytes in/);
  using d = await Deno.connect({ hostname: HOST, port: server.port });
  await writeAll(d, enc.encode("d\n"));
  assert.equal(dec.decode((await new BufferedReader(d).readLine())!), "d\n");
});

Deno.test("--idle-timeout closes a silent connection; traffic keeps one open", async () => {
  await using server = await startServer(serverArgs("--mode", "line", "--idle-timeout", "0.6"));
  using silent = await Deno.connect({ hostname: HOST, port: server.port });
  using chatty = await Deno.connect({ hostname: HOST, port: server.port });
  const chattyReader = new BufferedReader(chatty);
  const t0 = performance.now();
  const silentClosed = new BufferedReader(silent).readChunk();
  for (let i = 0; i < 6; i++) {
    await writeAll(chatty, enc.encode("ping\n"));
    await chattyReader.readLine();
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(await silentClosed, null);
  const ms = performance.now() - t0;
  assert.ok(ms >= 500, `closed after ${ms} ms`);
  await server.waitForLine(/idle for 0\.6 s; closing \(--idle-timeout\)/);
  // The chatty one outlived the silent one's timeout several times over.
  await writeAll(chatty, enc.encode("still\n"));
  assert.equal(dec.decode((await chattyReader.readLine())!), "still\n");
});

Deno.test("--idle-timeout also cuts off a client that stopped reading (write stalled)", async () => {
  await using server = await startServer(serverArgs("--quiet", "--idle-timeout", "1"));
  using hog = await Deno.connect({ hostname: HOST, port: server.port });
  const chunk = new Uint8Array(1024 * 1024);
  const t0 = performance.now();
  let writeError: unknown = null;
  try {
    // Never reads: the server's echo write stalls, then the idle timeout closes the socket
    // and these writes fail. Bounded so a broken server cannot hang the test.
    for (let i = 0; i < 2048 && performance.now() - t0 < 15_000; i++) await writeAll(hog, chunk);
  } catch (err) {
    writeError = err;
  }
  assert.ok(writeError, "the stalled connection was never closed");
  const ms = performance.now() - t0;
  assert.ok(ms >= 900 && ms < 10_000, `closed after ${ms} ms`);
  await server.waitForLine(/idle for 1 s; closing \(--idle-timeout\)/);
});

Deno.test("the accept loop survives running out of file descriptors (EMFILE)", async () => {
  const fdLimit = 40;
  const args = ["run", "--quiet", "--allow-all", new URL("../main.ts", import.meta.url).pathname];
  const command = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${fdLimit} && exec "$0" "$@"`,
      Deno.execPath(),
      ...args,
      ...serverArgs("--quiet", "--mode", "line"),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  await using server = await startServer([], { command });
  const conns: Deno.TcpConn[] = [];
  try {
    // Twice the limit: the kernel completes the handshakes, the server cannot accept them.
    for (let i = 0; i < fdLimit * 2; i++) {
      conns.push(await Deno.connect({ hostname: HOST, port: server.port }));
    }
    await server.waitForLine(/accept failed: .*retrying in/, 10_000);
  } finally {
    for (const c of conns) c.close();
  }
  // Descriptors are free again: the server recovers and serves.
  using conn = await Deno.connect({ hostname: HOST, port: server.port });
  await writeAll(conn, enc.encode("recovered\n"));
  assert.equal(dec.decode((await new BufferedReader(conn).readLine())!), "recovered\n");
  assert.equal(server.child.pid > 0, true);
});

Deno.test("resolveEchoServerConfig: defaults per mode and flag conflicts", () => {
  const line = resolveEchoServerConfig({ mode: "line" });
  assert.equal(line.maxMessageBytes, 64 * 1024);
  assert.equal(line.host, "0.0.0.0");
  assert.equal(line.port, 8000);
  assert.equal(resolveEchoServerConfig({ mode: "length" }).maxMessageBytes, 16 * 1024 * 1024);
  assert.equal(resolveEchoServerConfig({}).mode, "raw");
  // Raw mode answers every read with --reply (a read-once tutorial server), issue 12.
  assert.deepEqual(
    resolveEchoServerConfig({ reply: "Yes" }).reply,
    new TextEncoder().encode("Yes"),
  );
  assert.equal(resolveEchoServerConfig({ reply: "Yes" }).closeAfterReply, false);
  assert.throws(() => resolveEchoServerConfig({ maxFrame: 10 }), /--max-frame needs/);
  assert.throws(
    () => resolveEchoServerConfig({ mode: "line", maxFrame: 0 }),
    /invalid --max-frame/,
  );
});
