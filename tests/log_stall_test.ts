/**
 * End-to-end: a server whose stdout is a pipe nobody reads keeps serving. Logging must
 * never block the event loop; once the log queue is full (MAX_PENDING_LOG_BYTES) lines are
 * dropped and counted, and when the reader catches up one "log lines dropped" line says
 * how many. Every log line is therefore either delivered or counted.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_PENDING_LOG_BYTES } from "../lib/log.ts";
import { httpServeArgs, tempTree } from "./helpers.ts";

/**
 * `sockit ARGS` from source, as the binary runs it. Spelled out here rather than taken from
 * helpers.ts so this test needs nothing but lib/log.ts and main.ts.
 */
function cliCommand(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-all",
      "--unstable-net",
      new URL("../main.ts", import.meta.url).pathname,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

const LISTENING_LINE = /^sockit [\w-]+ listening on (\w+):\/\/(\[[^\]]+\]|[^:/\s]+):(\d+)/;
const DROPPED_LINE = /^sockit: (\d+) log lines? dropped: stdout was not being read fast enough$/;
/** Linux's default pipe buffer: what the kernel takes before a writer has to wait. */
const PIPE_BUFFER_BYTES = 64 * 1024;
/**
 * How long one answer may take before the server counts as blocked. Generous for a loaded
 * machine; a server blocked on its log never answers at all.
 */
const ANSWER_TIMEOUT_MS = 5_000;
/** The request after the flood: "answers within a couple of seconds". */
const FRESH_REQUEST_TIMEOUT_MS = 3_000;
/** Reading the whole backlog once the test starts reading stdout again. */
const DRAIN_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `promise`, or a rejection naming `what` after `ms`; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: nothing within ${ms} ms (is the server blocked?)`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a child's stdout line by line, only when asked: between calls the pipe fills up. */
class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #text = "";
  #decoder = new TextDecoder();

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next whole line, or null at end of stream. */
  async next(timeoutMs: number): Promise<string | null> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const nl = this.#text.indexOf("\n");
      if (nl >= 0) {
        const line = this.#text.slice(0, nl);
        this.#text = this.#text.slice(nl + 1);
        return line;
      }
      const left = Math.max(1, deadline - performance.now());
      const { done, value } = await within(this.#reader.read(), left, "reading stdout");
      if (done) return this.#text === "" ? null : this.#take();
      this.#text += this.#decoder.decode(value, { stream: true });
    }
  }

  #take(): string {
    const rest = this.#text;
    this.#text = "";
    return rest;
  }

  /** Reads to end of stream (the process has been told to exit). */
  async drainToEnd(timeoutMs: number): Promise<void> {
    while ((await this.next(timeoutMs)) !== null) { /* discard */ }
  }

  /** Stops reading; the pipe's read end is closed. */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

/** A CLI server whose stdout the test reads only when it chooses to. */
interface StalledServer {
  process: Deno.ChildProcess;
  stdout: LineReader;
  port: number;
  stderr: Promise<string>;
}

async function startServer(args: string[]): Promise<StalledServer> {
  const process = cliCommand(args).spawn();
  const stderr = new Response(process.stderr).text();
  const stdout = new LineReader(process.stdout);
  const first = await stdout.next(10_000);
  const match = first?.match(LISTENING_LINE);
  if (!match) {
    process.kill("SIGKILL");
    await stdout.drainToEnd(5_000);
    await process.status;
    throw new Error(`no listening line, got ${JSON.stringify(first)}\n${await stderr}`);
  }
  return { process, stdout, port: Number(match[3]), stderr };
}

/** SIGTERM, read stdout to its end, wait for the exit. Safe to call after a failure. */
async function stopServer(server: StalledServer): Promise<void> {
  try {
    server.process.kill("SIGTERM");
  } catch { /* already gone */ }
  const killer = setTimeout(() => {
    try {
      server.process.kill("SIGKILL");
    } catch { /* already gone */ }
  }, 5_000);
  try {
    await server.stdout.drainToEnd(DRAIN_TIMEOUT_MS);
  } catch {
    await server.stdout.cancel();
  }
  await server.process.status;
  clearTimeout(killer);
  await server.stderr;
}

/**
 * Reads stdout until every one of `expectedLines` log lines (after the listening line) has
 * either arrived or been counted by a "dropped" line. Returns what arrived and the count.
 */
async function drainLog(
  stdout: LineReader,
  expectedLines: number,
): Promise<{ lines: string[]; dropped: number; droppedLines: number }> {
  const lines: string[] = [];
  let dropped = 0;
  let droppedLines = 0;
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (lines.length + dropped < expectedLines) {
    const line = await stdout.next(Math.max(1, deadline - performance.now()));
    if (line === null) break;
    const match = line.match(DROPPED_LINE);
    if (match) {
      dropped += Number(match[1]);
      droppedLines++;
    } else {
      lines.push(line);
    }
  }
  return { lines, dropped, droppedLines };
}

/** One keep-alive HTTP/1.1 connection, one request at a time. */
class HttpConnection {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<HttpConnection> {
    return new HttpConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends `GET target` and resolves with the status once the whole response has arrived. */
  async get(target: string): Promise<number> {
    const request = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const what = `answer to GET ${target.slice(0, 40)}`;
    await within(this.#writeAll(encoder.encode(request)), ANSWER_TIMEOUT_MS, what);
    return await within(this.#readResponse(), ANSWER_TIMEOUT_MS, what);
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("the server closed the connection");
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
  }

  async #readResponse(): Promise<number> {
    let headEnd: number;
    while ((headEnd = decoder.decode(this.#buffer).indexOf("\r\n\r\n")) < 0) await this.#fill();
    const head = decoder.decode(this.#buffer.subarray(0, headEnd));
    const status = Number(head.slice(9, 12));
    const length = Number(head.match(/\r\ncontent-length:\s*(\d+)/i)?.[1] ?? 0);
    const total = headEnd + 4 + length;
    while (this.#buffer.length < total) await this.#fill();
    this.#buffer = this.#buffer.slice(total);
    return status;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

Deno.test("http-serve keeps answering while nobody reads its access log", async () => {
  const CONNECTIONS = 4;
  const REQUESTS = 3000;
  // Each access-log line carries its target, so ~1 KiB per line: ~3 MiB of log in all.
  const PAD = "p".repeat(1000);
  assert.ok(
    REQUESTS * PAD.length > 2 * (MAX_PENDING_LOG_BYTES + PIPE_BUFFER_BYTES),
    "the test must log far more than the queue and the pipe hold, so lines are dropped",
  );
  await using site = await tempTree({ "index.html": "ok\n" });
  const server = await startServer(httpServeArgs(site.path));
  const connections: HttpConnection[] = [];
  try {
    // From here on nobody reads the server's stdout until drainLog.
    for (let c = 0; c < CONNECTIONS; c++) connections.push(await HttpConnection.open(server.port));
    const statuses = await Promise.all(connections.map(async (conn, c) => {
      const seen: number[] = [];
      for (let i = 0; i < REQUESTS / CONNECTIONS; i++) {
        seen.push(await conn.get(`/index.html?c=${c}&i=${i}&pad=${PAD}`));
      }
      return seen;
    }));
    assert.deepEqual(statuses.flat().filter((s) => s !== 200), [], "every request answered 200");

    const fresh = await HttpConnection.open(server.port);
    connections.push(fresh);
    assert.equal(
      await within(fresh.get("/index.html?fresh"), FRESH_REQUEST_TIMEOUT_MS, "a fresh request"),
      200,
    );

    const log = await drainLog(server.stdout, REQUESTS + 1);
    assert.ok(log.dropped > 0, "more log than MAX_PENDING_LOG_BYTES: lines were dropped");
    assert.ok(log.droppedLines >= 1, "drops are reported on one line, not one line each");
    assert.ok(log.droppedLines < log.dropped, "one summary line covers many dropped lines");
    assert.equal(log.lines.length + log.dropped, REQUESTS + 1, "every line arrived or counted");
    assert.ok(log.lines.every((line) => line.includes('"GET /index.html?')), "access lines only");
    // Call order survives the queue: on each connection, the lines that arrived are in order.
    for (let c = 0; c < CONNECTIONS; c++) {
      const order = log.lines.flatMap((line) => {
        const m = line.match(new RegExp(`\\?c=${c}&i=(\\d+)&`));
        return m ? [Number(m[1])] : [];
      });
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `connection ${c} in order`);
    }
  } finally {
    for (const conn of connections) conn.close();
    await stopServer(server);
  }
});

Deno.test("echo-server keeps echoing one client while nobody reads its stdout", async () => {
  const MESSAGES = 10_000;
  const BATCH = 100;
  const server = await startServer([
    "echo-server",
    "--mode",
    "line",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
  ]);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    // Each message is logged with a 200-byte preview: ~270 bytes a line, ~2.7 MB in all.
    const line = (i: number) => `${String(i).padStart(8, "0")} ${"e".repeat(190)}\n`;
    assert.ok(
      MESSAGES * line(0).length > 1.5 * (MAX_PENDING_LOG_BYTES + PIPE_BUFFER_BYTES),
      "the test must log more than the queue and the pipe hold",
    );
    const reply = new Uint8Array(BATCH * line(0).length);
    for (let sent = 0; sent < MESSAGES; sent += BATCH) {
      let batch = "";
      for (let i = sent; i < sent + BATCH; i++) batch += line(i);
      const bytes = encoder.encode(batch);
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      let got = 0;
      while (got < bytes.length) {
        const n = await within(
          conn.read(reply.subarray(got, bytes.length)),
          ANSWER_TIMEOUT_MS,
          `echo of messages ${sent}..${sent + BATCH - 1}`,
        );
        assert.notEqual(n, null, "the server closed the connection");
        got += n!;
      }
      assert.equal(decoder.decode(reply.subarray(0, got)), batch);
    }
    conn.close();
    conn = undefined;

    // connect + one line per message + close.
    const log = await drainLog(server.stdout, MESSAGES + 2);
    assert.ok(log.dropped > 0, "more log than MAX_PENDING_LOG_BYTES: lines were dropped");
    assert.ok(log.droppedLines < log.dropped, "one summary line covers many dropped lines");
    assert.equal(log.lines.length + log.dropped, MESSAGES + 2, "every line arrived or counted");
  } finally {
    conn?.close();
    await stopServer(server);
  }
});

/** Runs a script in a child deno; `script` gets lib/log.ts's URL as a quoted specifier. */
function scriptCommand(script: (logModule: string) => string): Deno.Command {
  const logModule = JSON.stringify(new URL("../lib/log.ts", import.meta.url).href);
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script(logModule)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("flushLogs gives up on a stdout nobody reads, so the process can exit", async () => {
  const child = scriptCommand((log) => `
    import { flushLogs, MAX_PENDING_LOG_BYTES, writeStdoutLine } from ${log};
    const line = "x".repeat(999);
    for (let i = 0; i < (2 * MAX_PENDING_LOG_BYTES) / 1000; i++) writeStdoutLine(line);
    const started = performance.now();
    await flushLogs(300);
    console.error("flushed after " + Math.round(performance.now() - started) + " ms");
    Deno.exit(0);
  `).spawn();
  await child.stdin.close();
  const stderr = new Response(child.stderr).text();
  try {
    const status = await within(child.status, 10_000, "the child's exit");
    const text = await stderr;
    assert.equal(status.code, 0, text);
    const waited = Number(text.match(/flushed after (\d+) ms/)?.[1]);
    assert.ok(waited >= 250, `flushLogs waited for its timeout (${text.trim()})`);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.stdout.cancel();
    await child.status;
    await stderr;
  }
});

Deno.test("a closed stdout (EPIPE) does not take the process down", async () => {
  const child = scriptCommand((log) => `
    import { flushLogs, writeStdoutLine } from ${log};
    writeStdoutLine("ready");
    await flushLogs();
    await Deno.stdin.read(new Uint8Array(1)); // the parent has closed our stdout by now
    for (let i = 0; i < 10000; i++) writeStdoutLine("line " + i);
    await flushLogs();
    console.error("still alive");
  `).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = new LineReader(child.stdout);
  try {
    assert.equal(await stdout.next(10_000), "ready");
    await stdout.cancel();
    await child.stdin.close();
    const status = await within(child.status, 10_000, "the child's exit");
    const text = await stderr;
    assert.equal(status.code, 0, text);
    assert.match(text, /still alive/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await stderr;
  }
});
