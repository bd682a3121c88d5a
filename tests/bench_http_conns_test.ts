/**
 * Tests of bench/http_conns.c, the load client of the bench's connection rows, and of the
 * `sh -c "ulimit -n N; exec …"` wrapper (bench/conns_macro.ts) that raises the servers'
 * open-file limit. The client is compiled with gcc into a temp dir and run, small, against
 * the real `sockit http-serve` and against raw 127.0.0.1 servers that answer wrongly or
 * drop connections: its counts are what the bench's "all answered" verdict stands on.
 * Without gcc the client tests are ignored, saying why.
 */
import assert from "node:assert/strict";
import { connsClientArgs, withFdLimit } from "../bench/conns_macro.ts";
import { parseHttpConnsOutput } from "../bench/stats.ts";
import { commandExists, ROOT, serveHttp, tempTree } from "./helpers.ts";

const hasGcc = await commandExists("gcc");
if (!hasGcc) console.log("bench_http_conns_test: client tests ignored: gcc is not installed");

const buildDir = await Deno.makeTempDir({ prefix: "sockit-http-conns-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(buildDir, { recursive: true });
  } catch { /* already removed */ }
});
const client = `${buildDir}/http_conns`;
if (hasGcc) {
  const out = await new Deno.Command("gcc", {
    args: ["-O2", "-Wall", "-Werror", "-o", client, `${ROOT}bench/http_conns.c`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`gcc failed: ${new TextDecoder().decode(out.stderr)}`);
}

async function runClient(args: string[]) {
  const out = await new Deno.Command(client, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  return { code: out.code, stdout, result: () => parseHttpConnsOutput(stdout) };
}

const BODY = new Uint8Array(1024).map((_, i) => i * 7);

Deno.test({
  name: "http_conns short: every request on its own connection, all answered by sockit",
  ignore: !hasGcc,
  async fn() {
    await using site = await tempTree({ "1k.bin": BODY });
    await using server = await serveHttp(site.path, "--quiet");
    const { code, result } = await runClient(
      ["short", "127.0.0.1", String(server.port), "/1k.bin", "300", "8"],
    );
    assert.equal(code, 0);
    const r = result();
    assert.equal(r.mode, "short");
    assert.deepEqual([r.requests, r.sent, r.answered, r.errors], [300, 300, 300, 0]);
    assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms && r.p99Ms <= r.maxMs);
  },
});

Deno.test({
  name: "http_conns keepalive: N connections × S requests, all answered by sockit",
  ignore: !hasGcc,
  async fn() {
    await using site = await tempTree({ "1k.bin": BODY });
    await using server = await serveHttp(site.path, "--quiet");
    const { code, result } = await runClient(
      ["keepalive", "127.0.0.1", String(server.port), "/1k.bin", "40", "2"],
    );
    assert.equal(code, 0);
    const r = result();
    assert.deepEqual([r.connections, r.requests, r.answered, r.errors], [40, 80, 80, 0]);
  },
});

Deno.test({
  name: "http_conns counts a 404 as an error, not as an answer",
  ignore: !hasGcc,
  async fn() {
    await using site = await tempTree({ "1k.bin": BODY });
    await using server = await serveHttp(site.path, "--quiet");
    const { result } = await runClient(
      ["short", "127.0.0.1", String(server.port), "/missing.bin", "20", "4"],
    );
    const r = result();
    assert.deepEqual([r.answered, r.errors, r.firstError], [0, 20, "bad answer"]);
  },
});

/** A raw server: each connection gets `onConn`; closed at the end of the test. */
function rawServer(onConn: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) handlers.push(onConn(conn).catch(() => {}));
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

Deno.test({
  name: "http_conns keepalive: a server that drops idle connections leaves requests unanswered",
  ignore: !hasGcc,
  async fn() {
    // Accepts, then closes without reading: every connection dies, normally before its first
    // request is due (≥ 100 ms after the last connect); a slow accept may see the request.
    await using server = rawServer((conn) => {
      conn.close();
      return Promise.resolve();
    });
    const { code, result } = await runClient(
      ["keepalive", "127.0.0.1", String(server.port), "/1k.bin", "5", "1"],
    );
    assert.equal(code, 0);
    const r = result();
    assert.equal(r.requests, 5);
    assert.equal(r.answered, 0);
    assert.equal(r.errors, 5);
    assert.match(
      r.firstError,
      /^(server closed an idle keep-alive connection|closed before the whole answer)$/,
    );
  },
});

Deno.test({
  name: "http_conns: an answer cut short of its Content-Length is an error",
  ignore: !hasGcc,
  async fn() {
    await using server = rawServer(async (conn) => {
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\nonly this"),
      );
      conn.close();
    });
    const { result } = await runClient(
      ["short", "127.0.0.1", String(server.port), "/1k.bin", "3", "1"],
    );
    const r = result();
    assert.deepEqual([r.answered, r.errors, r.firstError], [
      0,
      3,
      "closed before the whole answer",
    ]);
  },
});

Deno.test({
  name: "http_conns: nothing listening is a counted error per request, not a hang",
  ignore: !hasGcc,
  async fn() {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const { code, result } = await runClient(["short", "127.0.0.1", String(port), "/", "10", "4"]);
    assert.equal(code, 0);
    const r = result();
    assert.deepEqual([r.answered, r.errors], [0, 10]);
    assert.ok(Number.isNaN(r.p99Ms));
  },
});

Deno.test({
  name: "http_conns: usage errors exit 2; a bad address is a JSON error with exit 1",
  ignore: !hasGcc,
  async fn() {
    assert.equal((await runClient(["short", "127.0.0.1", "1"])).code, 2);
    const bad = await runClient(["short", "localhost", "1", "/", "1", "1"]);
    assert.equal(bad.code, 1);
    assert.throws(() => bad.result(), /http_conns: bad IPv4 address/);
  },
});

Deno.test("withFdLimit raises the open-file limit of that command only, arguments untouched", async () => {
  const hard = Number(
    /^Max open files\s+\S+\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"))?.[1] ??
      4096,
  );
  const limit = Math.min(hard, 4096);
  const odd = `it's "quoted" $HOME; ls`;
  const { cmd, args } = withFdLimit(limit, {
    cmd: "sh",
    args: ["-c", 'ulimit -n; printf "%s\\n" "$1"', "sh", odd],
  });
  const out = await new Deno.Command(cmd, { args, stdout: "piped" }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout), `${limit}\n${odd}\n`);
});

Deno.test("connsClientArgs: exact counts, and a kill timeout past the client's own bound", () => {
  const short = connsClientArgs("conns", 8080, 20);
  assert.deepEqual(short.args, ["short", "127.0.0.1", "8080", "/1k.bin", "10000", "64"]);
  const c10k = connsClientArgs("c10k", 8080, 20);
  assert.deepEqual(c10k.args, ["keepalive", "127.0.0.1", "8080", "/1k.bin", "10000", "20"]);
  // 30 s connect phase + 20 s schedule + 5 s margin is the client's own bound.
  assert.ok(c10k.timeoutMs > 55_000);
  assert.ok(short.timeoutMs > 120_000);
});
