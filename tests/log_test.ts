import assert from "node:assert/strict";
import {
  AsyncLineSink,
  BatchedLineWriter,
  escapeBytes,
  EventLog,
  flushLogs,
  LOG_FLUSH_TIMEOUT_MS,
  MAX_PENDING_LOG_BYTES,
} from "../lib/log.ts";

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("BatchedLineWriter hands one turn's lines to its sink as one write", async () => {
  const writes: string[] = [];
  const lines = new BatchedLineWriter((text) => writes.push(text));
  lines.write("first");
  lines.write("second");
  assert.deepEqual(writes, [], "nothing is written before the turn ends");
  await nextTurn();
  assert.deepEqual(writes, ["first\nsecond"]);
  lines.write("third");
  await nextTurn();
  assert.deepEqual(writes, ["first\nsecond", "third"]);
});

Deno.test("BatchedLineWriter.flush writes at once and leaves nothing for the timer", async () => {
  const writes: string[] = [];
  const lines = new BatchedLineWriter((text) => writes.push(text));
  const { write } = lines; // usable as a detached callback
  write("a");
  write("b");
  lines.flush();
  assert.deepEqual(writes, ["a\nb"]);
  await nextTurn();
  assert.deepEqual(writes, ["a\nb"], "the scheduled flush finds nothing to write");
  lines.flush();
  assert.deepEqual(writes, ["a\nb"], "an empty flush writes nothing");
});

const decoder = new TextDecoder();

/**
 * A stream whose writes finish only when the test says so: `finish()` completes the oldest
 * pending write (all of it, or `n` bytes), `fail()` rejects it. Nothing runs on timers.
 */
class ControlledStream {
  /** What each write call was handed, decoded. */
  readonly calls: string[] = [];
  /** What was written, in order. */
  written = "";
  #pending: {
    bytes: Uint8Array;
    resolve: (n: number) => void;
    reject: (err: unknown) => void;
  }[] = [];

  write = (bytes: Uint8Array): Promise<number> => {
    this.calls.push(decoder.decode(bytes));
    return new Promise((resolve, reject) => this.#pending.push({ bytes, resolve, reject }));
  };

  get pendingWrites(): number {
    return this.#pending.length;
  }

  /** Completes the oldest write with `n` bytes (default: all), then lets the pump run. */
  async finish(n?: number): Promise<void> {
    const write = this.#pending.shift();
    assert.ok(write, "a write is pending");
    const count = n ?? write.bytes.length;
    this.written += decoder.decode(write.bytes.subarray(0, count));
    write.resolve(count);
    await nextTurn();
  }

  /** Rejects the oldest write with `err`, then lets the pump run. */
  async fail(err: unknown): Promise<void> {
    const write = this.#pending.shift();
    assert.ok(write, "a write is pending");
    write.reject(err);
    await nextTurn();
  }

  /** Completes writes until none is pending. */
  async finishAll(): Promise<void> {
    while (this.#pending.length > 0) await this.finish();
  }
}

function sink(stream: ControlledStream, maxPendingBytes?: number): AsyncLineSink {
  return new AsyncLineSink({ write: stream.write, maxPendingBytes, name: "test" });
}

const dropped = (n: number) =>
  `sockit: ${n} log line${n === 1 ? "" : "s"} dropped: test was not being read fast enough\n`;

Deno.test("AsyncLineSink hands the first line to the stream at once, with no timer", async () => {
  const stream = new ControlledStream();
  const lines = sink(stream);
  lines.writeLine("sockit echo-server listening on tcp://127.0.0.1:8000 (mode raw)");
  assert.deepEqual(stream.calls, [
    "sockit echo-server listening on tcp://127.0.0.1:8000 (mode raw)\n",
  ]);
  await stream.finishAll();
  assert.equal(lines.pendingBytes, 0);
});

Deno.test("AsyncLineSink keeps call order and writes what queued meanwhile as one batch", async () => {
  const stream = new ControlledStream();
  const lines = sink(stream);
  lines.writeLine("first");
  for (let i = 0; i < 1000; i++) lines.writeLine(`line ${i}`);
  assert.equal(stream.calls.length, 1, "the rest waits for the first write");
  await stream.finish();
  assert.equal(stream.calls.length, 2, "1000 queued lines: one write");
  lines.writeLine("last");
  await stream.finishAll();
  assert.equal(stream.calls.length, 3);
  const expected = ["first", ...Array.from({ length: 1000 }, (_, i) => `line ${i}`), "last"];
  assert.equal(stream.written, expected.map((line) => line + "\n").join(""));
  assert.equal(await lines.flush(), true);
});

Deno.test("AsyncLineSink writes the rest of a partial write next, in order", async () => {
  const stream = new ControlledStream();
  const lines = sink(stream);
  lines.writeLine("abcdef");
  lines.writeLine("ghi");
  await stream.finish(2);
  assert.deepEqual(stream.calls, ["abcdef\n", "cdef\n"]);
  assert.equal(lines.pendingBytes, 5 + 4, "unwritten bytes still count against the limit");
  await stream.finishAll();
  assert.equal(stream.written, "abcdef\nghi\n");
  assert.equal(lines.pendingBytes, 0);
});

Deno.test("AsyncLineSink takes exactly maxPendingBytes, drops one byte more", async () => {
  // A line costs its UTF-8 bytes plus "\n".
  const exact = new ControlledStream();
  const atLimit = sink(exact, 10);
  atLimit.writeLine("123456789");
  assert.equal(atLimit.pendingBytes, 10);
  assert.equal(atLimit.droppedLines, 0);
  atLimit.writeLine("");
  assert.equal(atLimit.droppedLines, 1, "in-flight bytes count: nothing more fits");
  await exact.finishAll();
  assert.equal(exact.written, "123456789\n" + dropped(1));

  const over = new ControlledStream();
  const pastLimit = sink(over, 10);
  pastLimit.writeLine("1234567890");
  assert.equal(over.calls[0], dropped(1), "an idle sink reports the drop at once");
  await over.finishAll();
  assert.equal(over.written, dropped(1));
  assert.equal(await pastLimit.flush(), true);
});

Deno.test("AsyncLineSink reports drops in one line, after the queue has drained", async () => {
  const stream = new ControlledStream();
  const lines = sink(stream, 100);
  lines.writeLine("x".repeat(49)); // 50 bytes, in flight
  for (let i = 0; i < 20; i++) lines.writeLine(`l${String(i).padStart(8, "0")}`); // 10 bytes: 5 fit
  lines.writeLine("two\nlines"); // a BatchedLineWriter batch: counts as 2
  assert.equal(lines.droppedLines, 15 + 2);
  assert.equal(lines.pendingBytes, 100);
  await stream.finish();
  assert.equal(stream.calls.length, 2, "the queued lines first; no report while they wait");
  assert.equal(lines.droppedLines, 17);
  await stream.finish();
  assert.equal(stream.calls.at(-1), dropped(17), "caught up: one line says how many");
  assert.equal(lines.droppedLines, 0);
  await stream.finishAll();
  assert.equal(stream.calls.length, 3);
  const kept = Array.from({ length: 5 }, (_, i) => `l0000000${i}\n`).join("");
  assert.equal(stream.written, "x".repeat(49) + "\n" + kept + dropped(17));

  lines.writeLine("after");
  await stream.finishAll();
  assert.ok(stream.written.endsWith(dropped(17) + "after\n"), "reported once, not again");
});

Deno.test("AsyncLineSink goes quiet for good when the stream is closed (EPIPE)", async () => {
  const closedErrors: [string, unknown][] = [
    ["BrokenPipe", new Deno.errors.BrokenPipe("Broken pipe (os error 32)")],
    ["BadResource", new Deno.errors.BadResource("Bad resource ID")],
    ["code EPIPE", Object.assign(new Error("write EPIPE"), { code: "EPIPE" })],
  ];
  for (const [what, err] of closedErrors) {
    const stream = new ControlledStream();
    const lines = sink(stream);
    lines.writeLine("one");
    lines.writeLine("two");
    await stream.fail(err);
    assert.equal(lines.closed, true, what);
    assert.equal(stream.pendingWrites, 0, `${what}: the queued line is not attempted`);
    lines.writeLine("three");
    assert.equal(stream.calls.length, 1, `${what}: nothing is written after`);
    assert.equal(lines.pendingBytes, 0);
    assert.equal(await lines.flush(), true, `${what}: nothing left to wait for`);
  }
});

Deno.test("AsyncLineSink loses only the failed batch on another write error", async () => {
  const stream = new ControlledStream();
  const lines = sink(stream);
  lines.writeLine("lost");
  lines.writeLine("kept");
  await stream.fail(new Deno.errors.Interrupted("EINTR"));
  assert.equal(lines.closed, false);
  await stream.finishAll();
  assert.equal(stream.written, "kept\n" + dropped(1));
});

Deno.test("AsyncLineSink does not spin on a stream whose every write fails", async () => {
  let calls = 0;
  const lines = new AsyncLineSink({
    write: () => {
      calls++;
      return Promise.reject(new Error("EIO"));
    },
  });
  lines.writeLine("one");
  await nextTurn();
  assert.equal(calls, 1, "the failed line's drop report is not retried at once");
  assert.equal(lines.droppedLines, 1);
  lines.writeLine("two");
  await nextTurn();
  assert.equal(calls, 2);
  assert.equal(lines.droppedLines, 2, "still counted, to be reported once a write works");
  assert.equal(await lines.flush(), true);
});

Deno.test("AsyncLineSink.flush gives up after its timeout when the stream is stalled", async () => {
  const stream = new ControlledStream();
  const lines = sink(stream);
  lines.writeLine("never read");
  const started = performance.now();
  assert.equal(await lines.flush(50), false);
  assert.ok(performance.now() - started >= 45, "it waited for the timeout");
  const flushed = lines.flush(10_000);
  await stream.finish();
  assert.equal(await flushed, true, "resolves as soon as the stream catches up");
  assert.equal(await lines.flush(), true, "an idle sink flushes at once");
});

Deno.test("flushLogs resolves at once when nothing is queued", async () => {
  assert.ok(LOG_FLUSH_TIMEOUT_MS > 0);
  assert.ok(MAX_PENDING_LOG_BYTES >= 64 * 1024, "more than one pipe buffer");
  const started = performance.now();
  await flushLogs();
  assert.ok(performance.now() - started < LOG_FLUSH_TIMEOUT_MS);
});

Deno.test("EventLog writes text or JSON lines to its sink", () => {
  const lines: string[] = [];
  new EventLog({ write: (line) => lines.push(line) }).event("connect", { peer: "p" }, "hi p");
  new EventLog({ json: true, worker: 2, write: (line) => lines.push(line) })
    .event("connect", { peer: "p" }, "hi p");
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z hi p$/);
  const { time, ...rest } = JSON.parse(lines[1]);
  assert.equal(typeof time, "string");
  assert.deepEqual(rest, { worker: 2, event: "connect", peer: "p" });
});

Deno.test("escapeBytes shows bytes like a Python bytes literal", () => {
  assert.equal(escapeBytes(new TextEncoder().encode("hi\r\n\t'\\")), "b'hi\\r\\n\\t\\'\\\\'");
  assert.equal(escapeBytes(new Uint8Array([0, 0xff])), "b'\\x00\\xff'");
  assert.equal(escapeBytes(new TextEncoder().encode("abcdef"), 2), "b'ab'…(+4 bytes)");
});
