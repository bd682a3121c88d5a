/**
 * End-to-end robustness of `sockit http-serve` under hostile or unlucky clients, with the
 * real CLI as a subprocess: slowloris heads (408), stalled bodies (408), clients that stop
 * reading (write timeout frees the connection; RSS stays bounded), huge heads, the
 * connection limit (503), a file truncated mid-download, graceful and forced shutdown, and
 * 500 concurrent keep-alive connections.
 */
import assert from "node:assert/strict";
import { BufferedReader, CRLFCRLF } from "../lib/framing.ts";
import {
  cliCommandWithFdLimit,
  normalRequestWorks,
  procStatusKiB,
  readAll,
  readRawResponse,
  startServer,
} from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const HOST = "127.0.0.1";

async function makeSite(): Promise<{ root: string; [Symbol.asyncDispose](): Promise<void> }> {
  const root = await Deno.makeTempDir({ prefix: "sockit_robust_" });
  await Deno.writeTextFile(`${root}/hello.txt`, "hello world\n");
  return { root, [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
}

function serve(root: string, ...flags: string[]) {
  return startServer(["http-serve", root, "--host", HOST, "--port", "0", "--quiet", ...flags]);
}

/** A sparse file of `size` bytes (no disk used). */
async function sparseFile(path: string, size: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  try {
    await file.truncate(size);
  } finally {
    file.close();
  }
}

const connect = (port: number) => Deno.connect({ hostname: HOST, port });
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openFds(pid: number): Promise<number> {
  let n = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) n++;
  return n;
}

/** Polls `check` every 50 ms until it returns true or `ms` pass. */
async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await delay(50);
  }
  return await check();
}

Deno.test("slowloris: a head sent one byte at a time gets 408 after --header-timeout, then close", async () => {
  await using site = await makeSite();
  await using server = await serve(site.root, "--header-timeout", "1", "--keep-alive-timeout", "5");
  const conn = await connect(server.port);
  try {
    const request = enc.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Pad: " + "a".repeat(100));
    const t0 = Date.now();
    // Keeps trickling while the server answers: the 408 must arrive anyway.
    const trickle = (async () => {
      for (const byte of request) {
        try {
          await conn.write(new Uint8Array([byte]));
        } catch {
          return; // the server closed: the point of the test
        }
        await delay(50);
      }
    })();
    const answer = dec.decode(await readAll(conn, 6_000));
    const took = Date.now() - t0;
    await trickle;
    assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
    assert.ok(took >= 900 && took < 3_000, `408 + close after ${took} ms`);
    await server.waitForStderr(
      /header timeout after 1\.\d s: request head incomplete; answered 408/,
    );
  } finally {
    conn.close();
  }
  // Idle between requests is the keep-alive clock: a silent close, no 408.
  await using quick = await serve(
    site.root,
    "--keep-alive-timeout",
    "0.5",
    "--header-timeout",
    "10",
  );
  const idle = await connect(quick.port);
  try {
    const reader = new BufferedReader(idle);
    await idle.write(enc.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal((await readRawResponse(reader)).status, 200);
    const t0 = Date.now();
    assert.equal(await reader.readChunk(), null, "closed without another byte");
    assert.ok(Date.now() - t0 < 3_000);
  } finally {
    idle.close();
  }
  await normalRequestWorks(server.port);
});

Deno.test("a body that stalls mid-way gets 408 after --body-timeout; a slow steady one is fine", async () => {
  await using site = await makeSite();
  await using server = await serve(site.root, "--body-timeout", "1");
  const conn = await connect(server.port);
  try {
    await conn.write(enc.encode(
      "POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(100),
    ));
    const t0 = Date.now();
    const answer = dec.decode(await readAll(conn, 6_000));
    assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 3_000, `408 after ${took} ms`);
    await server.waitForStderr(/body timeout after 1\.\d s: request body stalled/);
  } finally {
    conn.close();
  }
  // 1.6 s in total but never 1 s without a byte: the body clock is per read, not a total.
  const steady = await connect(server.port);
  try {
    const reader = new BufferedReader(steady);
    await steady.write(
      enc.encode("POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"),
    );
    for (const c of "abcd") {
      await delay(400);
      await steady.write(enc.encode(c));
    }
    assert.equal((await readRawResponse(reader)).status, 405); // answered, not timed out
  } finally {
    steady.close();
  }
});

Deno.test("a client that never reads a 1 GiB file: RSS stays bounded and --write-timeout frees the connection", async () => {
  await using site = await makeSite();
  await sparseFile(`${site.root}/huge.bin`, 1024 ** 3);
  await using server = await serve(site.root, "--write-timeout", "1");
  const pid = server.child.pid;
  await normalRequestWorks(server.port);
  const baselineFds = await openFds(pid);
  const stalled: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const conn = await connect(server.port);
      stalled.push(conn);
      await conn.write(enc.encode("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    await delay(500);
    const rss = procStatusKiB(pid, "VmRSS");
    assert.ok(rss < 250 * 1024, `RSS ${rss} KiB with 4 stalled 1 GiB downloads`);
    assert.ok(await openFds(pid) >= baselineFds + 4, "the stalled connections are open");
    // After the write timeout the server lets go of all four.
    const freed = await waitFor(async () => (await openFds(pid)) <= baselineFds, 4_000);
    assert.ok(freed, `fds ${await openFds(pid)} vs baseline ${baselineFds}`);
    await server.waitForStderr(
      /write timeout after 1\.\d s: client stopped reading the response; closed/,
    );
    await server.waitForStderr(/GET \/huge\.bin cut off: write timeout/);
    // The client sees a short body and then the close.
    const got = await readAll(stalled[0], 5_000);
    const head = dec.decode(got.subarray(0, 1000));
    assert.match(head, /Content-Length: 1073741824\r\n/);
    assert.ok(got.length < 1024 ** 3);
  } finally {
    for (const c of stalled) {
      try {
        c.close();
      } catch { /* closed by readAll */ }
    }
  }
  await normalRequestWorks(server.port);
});

Deno.test("huge heads from many clients at once: 431/414, RSS stays bounded, server keeps serving", async () => {
  await using site = await makeSite();
  await using server = await serve(site.root);
  const pid = server.child.pid;
  const junk = new Uint8Array(8 * 1024 * 1024).fill(0x61); // 8 MiB, no line end at all
  const fields = enc.encode("GET / HTTP/1.1\r\nHost: x\r\n" + "X: y\r\n".repeat(1_000_000));
  const attempts = Array.from({ length: 16 }, async (_, i) => {
    const conn = await connect(server.port);
    try {
      const reading = readAll(conn, 10_000);
      await conn.write(i % 2 === 0 ? junk : fields).catch(() => {}); // the server cuts us off
      return dec.decode((await reading).subarray(0, 64));
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  });
  const answers = await Promise.all(attempts);
  for (const [i, answer] of answers.entries()) {
    // The answer may be lost to a reset while we are still sending; if any, it is the right one.
    if (answer !== "") assert.match(answer, i % 2 === 0 ? /^HTTP\/1\.1 414 / : /^HTTP\/1\.1 431 /);
  }
  assert.ok(answers.some((a) => a !== ""), "at least some clients read their refusal");
  const peak = procStatusKiB(pid, "VmHWM");
  assert.ok(peak < 250 * 1024, `peak RSS ${peak} KiB after ${16 * 8} MiB of junk heads`);
  await normalRequestWorks(server.port);
});

Deno.test("--max-connections: over the limit a fast 503 with Retry-After, then close; the rest keep working", async () => {
  await using site = await makeSite();
  await using server = await serve(site.root, "--max-connections", "3");
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const conn = await connect(server.port);
      held.push(conn);
      const reader = new BufferedReader(conn);
      await conn.write(enc.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
      assert.equal((await readRawResponse(reader)).status, 200); // served, and kept open
    }
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://${HOST}:${server.port}/hello.txt`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal(res.headers.get("connection"), "close");
      assert.match(await res.text(), /^503 Service Unavailable: too many connections/);
    }
    // The 503 does not depend on a request: a client that sends nothing gets it too, after
    // OVER_CAPACITY_WAIT_MS (250 ms), and a raw client gets it without any delay.
    const silent = await connect(server.port);
    const t0 = Date.now();
    const refusal = dec.decode(await readAll(silent, 3_000));
    silent.close();
    assert.match(refusal, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.ok(Date.now() - t0 < 1_000, `503 after ${Date.now() - t0} ms`);
    for (let i = 0; i < 20; i++) {
      // Many in a row: fetch (hyper) fails on a 503 sent before its request; none may.
      const res = await fetch(`http://${HOST}:${server.port}/hello.txt`);
      assert.equal(res.status, 503);
      await res.body?.cancel();
    }
    const curl = await new Deno.Command("curl", {
      args: ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${HOST}:${server.port}/`],
      stdout: "piped",
    }).output();
    assert.equal(dec.decode(curl.stdout), "503");
    await server.waitForStderr(/--max-connections 3 reached: \d+ connection\(s\) refused with 503/);
  } finally {
    for (const c of held) c.close();
  }
  // Slots free up when connections close.
  assert.ok(
    await waitFor(async () => {
      const res = await fetch(`http://${HOST}:${server.port}/hello.txt`);
      await res.body?.cancel();
      return res.status === 200;
    }, 3_000),
  );
});

Deno.test("a file truncated mid-download: the response is cut short and closed, logged, server fine", async () => {
  await using site = await makeSite();
  const size = 64 * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 512) data[i] = (i >> 9) & 0xff;
  await Deno.writeFile(`${site.root}/big.bin`, data);
  await using server = await serve(site.root);
  const conn = await connect(server.port);
  try {
    await conn.write(enc.encode("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    const reader = new BufferedReader(conn);
    const head = dec.decode((await reader.readUntil(CRLFCRLF))!);
    assert.match(head, /Content-Length: 67108864\r\n/);
    // Read slowly: 1 MiB, then the file shrinks to 2 MiB under the server's feet.
    const first = (await reader.readExact(1024 * 1024)).slice();
    await Deno.truncate(`${site.root}/big.bin`, 2 * 1024 * 1024);
    const parts = [first];
    let received = first.length;
    for (let chunk = await reader.readChunk(); chunk !== null; chunk = await reader.readChunk()) {
      parts.push(chunk.slice());
      received += chunk.length;
    }
    assert.ok(received < size, `got ${received} of ${size}: the response must end short`);
    // Whatever did arrive is the file's real content, never padding.
    let off = 0;
    for (const p of parts) {
      assert.deepEqual(p, data.subarray(off, off + p.length), `bytes at ${off}`);
      off += p.length;
    }
    assert.ok(
      await waitFor(
        () => /GET \/big\.bin cut off: file shrank while being sent/.test(server.stderr()),
        2_000,
      ),
      server.stderr(),
    );
  } finally {
    conn.close();
  }
  // Deleted mid-download: the open file still has all its bytes, so the answer is whole.
  await Deno.writeFile(`${site.root}/gone.bin`, data.subarray(0, 8 * 1024 * 1024));
  const res = await fetch(`http://${HOST}:${server.port}/gone.bin`);
  const body = res.body!.getReader();
  let total = (await body.read()).value!.length;
  await Deno.remove(`${site.root}/gone.bin`);
  for (let r = await body.read(); !r.done; r = await body.read()) total += r.value.length;
  assert.equal(total, 8 * 1024 * 1024);
  await normalRequestWorks(server.port);
});

Deno.test("SIGTERM during a slow download: it finishes within --shutdown-timeout, then exit 0", async () => {
  await using site = await makeSite();
  // Far more than loopback socket buffers hold (a few MiB), so the server is still writing.
  const data = new Uint8Array(64 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 1024) data[i] = (i >> 10) & 0xff;
  await Deno.writeFile(`${site.root}/big.bin`, data);
  const server = await serve(site.root, "--shutdown-timeout", "10");
  const conn = await connect(server.port);
  try {
    await conn.write(enc.encode("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    const reader = new BufferedReader(conn);
    const head = dec.decode((await reader.readUntil(CRLFCRLF))!);
    assert.match(head, /Content-Length: 67108864\r\n/);
    const t0 = Date.now();
    let exitedAt = 0;
    let readAtExit = 0;
    const got = new Uint8Array(data.length);
    let off = 0;
    const status = server.stop("SIGTERM").then((s) => {
      exitedAt = Date.now();
      readAtExit = off;
      return s;
    });
    // ≥1.3 s: 1 MiB every 20 ms, so the server keeps writing well after the signal.
    let nextPause = 1024 * 1024;
    while (off < data.length) {
      const chunk = await reader.readChunk();
      if (chunk === null) break;
      got.set(chunk, off);
      off += chunk.length;
      if (off >= nextPause) {
        nextPause += 1024 * 1024;
        await delay(20);
      }
    }
    const doneAt = Date.now();
    assert.equal(off, data.length, "the whole file arrived");
    assert.deepEqual(got, data);
    assert.ok(doneAt - t0 > 1_000, "the download really was slow");
    assert.equal((await status).code, 0);
    // It exited only once (nearly) everything was sent: what was left fit in socket buffers.
    const leftInBuffers = data.length - (readAtExit === 0 ? data.length : readAtExit);
    assert.ok(leftInBuffers < 24 * 1024 * 1024, `exited with ${leftInBuffers} bytes unread`);
    assert.ok(exitedAt - doneAt < 3_000, `exit ${exitedAt - doneAt} ms after the download`);
    assert.doesNotMatch(server.stderr(), /shutdown timeout/);
  } finally {
    conn.close();
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("SIGTERM with a stalled client: cut after --shutdown-timeout, exit 0 promptly", async () => {
  await using site = await makeSite();
  await sparseFile(`${site.root}/huge.bin`, 1024 ** 3);
  const server = await serve(site.root, "--shutdown-timeout", "0.5", "--write-timeout", "60");
  const conn = await connect(server.port);
  try {
    await conn.write(enc.encode("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    await delay(300); // the server is now blocked writing to a client that does not read
    const t0 = Date.now();
    const status = await server.stop("SIGTERM");
    const took = Date.now() - t0;
    assert.equal(status.code, 0);
    assert.ok(took >= 400 && took < 3_000, `exit after ${took} ms`);
    await server.waitForStderr(/shutdown timeout \(0\.5 s\)/);
  } finally {
    conn.close();
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("a second SIGTERM exits at once, without waiting for the shutdown timeout", async () => {
  await using site = await makeSite();
  await sparseFile(`${site.root}/huge.bin`, 1024 ** 3);
  const server = await serve(site.root, "--shutdown-timeout", "30", "--write-timeout", "60");
  const conn = await connect(server.port);
  try {
    await conn.write(enc.encode("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    await delay(300);
    server.child.kill("SIGTERM");
    await delay(300);
    const t0 = Date.now();
    const status = await server.stop("SIGTERM");
    assert.ok(Date.now() - t0 < 1_000, `second signal took ${Date.now() - t0} ms`);
    assert.equal(status.code, 143); // 128 + SIGTERM: cut short on purpose
  } finally {
    conn.close();
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("load: 500 concurrent keep-alive connections × 5 requests, no errors", async () => {
  await using site = await makeSite();
  // Room for 500 connections whatever the caller's ulimit is (the server's own process).
  const command = cliCommandWithFdLimit(4096, [
    "http-serve",
    site.root,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--quiet",
  ]);
  await using server = await startServer([], { command });
  const CONNECTIONS = 500;
  const REQUESTS = 5;
  const t0 = Date.now();
  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => connect(server.port)),
  );
  const request = enc.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  let ok = 0;
  try {
    await Promise.all(conns.map(async (conn) => {
      const reader = new BufferedReader(conn);
      for (let i = 0; i < REQUESTS; i++) {
        await conn.write(request);
        const res = await readRawResponse(reader);
        assert.equal(res.status, 200);
        assert.match(res.head, /Connection: keep-alive/);
        assert.equal(dec.decode(res.body), "hello world\n");
        ok++;
      }
    }));
  } finally {
    for (const c of conns) c.close();
  }
  const took = Date.now() - t0;
  assert.equal(ok, CONNECTIONS * REQUESTS);
  assert.ok(took < 15_000, `${ok} requests over ${CONNECTIONS} connections took ${took} ms`);
  assert.equal(server.stderr(), "", "no errors logged");
  await normalRequestWorks(server.port);
});
