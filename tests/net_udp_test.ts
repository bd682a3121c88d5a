/**
 * Tests of the datagram core (`lib/net/udp.ts`) in this process, on a scripted socket: every
 * datagram reaches the handler whole (empty and maximal ones too), answers go back to their
 * sender, a throwing handler or failing send is logged once per interval and never stops the
 * loop, and shutdown lets the answer in hand finish; then a real socket (`deno task test`
 * runs with `--unstable-net`, which `Deno.listenDatagram` needs). End to end: the
 * `time-server --udp` and `echo-server --udp` tests.
 *
 * ```sh
 * deno test -A --unstable-net tests/net_udp_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  bindUdp,
  DATAGRAM_BUFFER_BYTES,
  type DatagramHandler,
  type DatagramSocket,
  UdpServer,
} from "../lib/net/udp.ts";
import { RuntimeFailure } from "../lib/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function peer(port: number): Deno.NetAddr {
  return { transport: "udp", hostname: "127.0.0.1", port };
}

/**
 * A datagram socket driven by the test: {@link push} delivers a datagram (or an error) to
 * the next receive, copied into the server's buffer and cut to its size as the kernel does.
 */
class ScriptedSocket implements DatagramSocket {
  readonly addr: Deno.NetAddr = peer(9);
  readonly sent: { data: Uint8Array; to: Deno.NetAddr }[] = [];
  /** Makes the next sends fail with this error while set. */
  sendError: Error | null = null;
  /** Holds each send until released (a slow network). */
  sendGate: Promise<void> | null = null;
  closed = false;
  #queue: ([Uint8Array, Deno.NetAddr] | Error)[] = [];
  #waiting: PromiseWithResolvers<void> | null = null;
  #sentWaiters: { count: number; resolve: () => void }[] = [];
  /** Closing fails a send in progress, as closing a real socket does. */
  #closing = Promise.withResolvers<void>();

  push(item: [Uint8Array, Deno.NetAddr] | Error): void {
    this.#queue.push(item);
    this.#waiting?.resolve();
  }

  async receive(buffer: Uint8Array): Promise<[Uint8Array, Deno.Addr]> {
    while (this.#queue.length === 0) {
      if (this.closed) throw new Deno.errors.BadResource("closed");
      this.#waiting = Promise.withResolvers<void>();
      await this.#waiting.promise;
      this.#waiting = null;
    }
    if (this.closed) throw new Deno.errors.Interrupted("operation canceled");
    const item = this.#queue.shift()!;
    if (item instanceof Error) throw item;
    const [data, from] = item;
    const n = Math.min(data.length, buffer.length);
    buffer.set(data.subarray(0, n));
    return [buffer.subarray(0, n), from];
  }

  async send(data: Uint8Array, to: Deno.Addr): Promise<number> {
    if (this.sendGate !== null) await Promise.race([this.sendGate, this.#closing.promise]);
    if (this.closed) throw new Deno.errors.BadResource("closed");
    if (this.sendError !== null) throw this.sendError;
    this.sent.push({ data: data.slice(), to: to as Deno.NetAddr });
    for (const w of [...this.#sentWaiters]) {
      if (this.sent.length >= w.count) {
        this.#sentWaiters.splice(this.#sentWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
    return data.length;
  }

  /** Resolves once `count` answers have been sent in all. */
  waitForSent(count: number): Promise<void> {
    if (this.sent.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#sentWaiters.push({ count, resolve }));
  }

  close(): void {
    if (this.closed) throw new Deno.errors.BadResource("closed twice");
    this.closed = true;
    this.#waiting?.resolve();
    this.#closing.resolve();
  }
}

interface Harness {
  server: UdpServer;
  socket: ScriptedSocket;
  logs: { event: string; fields: Record<string, unknown>; text: string }[];
  serving: Promise<void>;
  stop(): Promise<void>;
}

function startUdp(handler: DatagramHandler, shutdownTimeoutMs = 1_000): Harness {
  const socket = new ScriptedSocket();
  const logs: Harness["logs"] = [];
  const server = new UdpServer({
    host: "127.0.0.1",
    port: 0,
    handler,
    shutdownTimeoutMs,
    log: (event, fields, text) => logs.push({ event, fields, text }),
    bind: () => socket,
  });
  assert.equal(server.listen().port, 9);
  const serving = server.serve();
  return {
    server,
    socket,
    logs,
    serving,
    async stop() {
      await server.shutdown("SIGTERM");
      await serving;
    },
  };
}

Deno.test("udp: empty, small and maximal datagrams reach the handler whole and are answered", async () => {
  const seen: number[] = [];
  const h = startUdp((data) => {
    seen.push(data.length);
    return enc.encode(`got ${data.length}\r\n`);
  });
  const max = new Uint8Array(DATAGRAM_BUFFER_BYTES).fill(7);
  h.socket.push([new Uint8Array(0), peer(1000)]);
  h.socket.push([enc.encode("hello"), peer(1001)]);
  h.socket.push([max, peer(1002)]);
  await h.socket.waitForSent(3);
  assert.deepEqual(seen, [0, 5, DATAGRAM_BUFFER_BYTES]);
  assert.deepEqual(
    h.socket.sent.map((s) => [dec.decode(s.data), s.to.port]),
    [["got 0\r\n", 1000], ["got 5\r\n", 1001], [`got ${DATAGRAM_BUFFER_BYTES}\r\n`, 1002]],
  );
  await h.stop();
  assert.equal(h.server.received, 3);
  assert.equal(h.server.answered, 3);
  assert.ok(h.socket.closed);
});

Deno.test("udp: the largest IPv4 and IPv6 payloads fit the buffer", () => {
  assert.ok(DATAGRAM_BUFFER_BYTES >= 65_507 && DATAGRAM_BUFFER_BYTES >= 65_527);
});

Deno.test("udp: an echo handler may return the datagram itself (sent before the next receive)", async () => {
  const h = startUdp((data) => data);
  h.socket.push([enc.encode("first"), peer(1)]);
  h.socket.push([enc.encode("2nd"), peer(2)]);
  await h.socket.waitForSent(2);
  assert.deepEqual(h.socket.sent.map((s) => dec.decode(s.data)), ["first", "2nd"]);
  await h.stop();
});

Deno.test("udp: a null answer sends nothing; the loop goes on", async () => {
  const h = startUdp((data) => data.length === 0 ? null : data);
  h.socket.push([new Uint8Array(0), peer(1)]);
  h.socket.push([enc.encode("x"), peer(2)]);
  await h.socket.waitForSent(1);
  assert.deepEqual(h.socket.sent.map((s) => [dec.decode(s.data), s.to.port]), [["x", 2]]);
  assert.equal(h.server.received, 2);
  await h.stop();
});

Deno.test("udp: a throwing handler is logged once per interval and serving goes on", async () => {
  const h = startUdp((data) => {
    if (data[0] === 0x21) throw new Error("boom");
    return data;
  });
  for (let i = 0; i < 50; i++) h.socket.push([enc.encode("!"), peer(i + 1)]);
  h.socket.push([enc.encode("ok"), peer(99)]);
  await h.socket.waitForSent(1);
  const errors = h.logs.filter((l) => l.event === "handler_error");
  assert.equal(errors.length, 1);
  assert.match(errors[0].text, /^answering 127\.0\.0\.1:1 failed: boom; serving on$/);
  assert.equal(dec.decode(h.socket.sent[0].data), "ok");
  await h.stop();
});

Deno.test("udp: send errors are logged once per interval, counted, and never stop the loop", async () => {
  const h = startUdp((data) => data);
  h.socket.sendError = new Error("Network is unreachable (os error 101)");
  for (let i = 0; i < 100; i++) h.socket.push([enc.encode("a"), peer(i + 1)]);
  while (h.server.received < 100) await new Promise((r) => setTimeout(r, 5));
  const errors = h.logs.filter((l) => l.event === "send_error");
  assert.equal(errors.length, 1, "one line for a burst of 100 failures");
  assert.match(errors[0].text, /^sending 1 bytes to 127\.0\.0\.1:1: Network is unreachable/);
  h.socket.sendError = null;
  h.socket.push([enc.encode("after"), peer(7)]);
  await h.socket.waitForSent(1);
  assert.equal(dec.decode(h.socket.sent[0].data), "after");
  await h.stop();
  assert.equal(h.server.answered, 1);
});

Deno.test("udp: a receive error is logged and the loop goes on", async () => {
  const h = startUdp((data) => data);
  h.socket.push(new Error("No buffer space available (os error 105)"));
  h.socket.push(new Deno.errors.ConnectionRefused("Connection refused (os error 111)"));
  h.socket.push([enc.encode("still here"), peer(3)]);
  await h.socket.waitForSent(1);
  const errors = h.logs.filter((l) => l.event === "receive_error");
  assert.equal(errors.length, 1, "the second within the interval is counted, not logged");
  assert.match(errors[0].text, /No buffer space available/);
  assert.equal(dec.decode(h.socket.sent[0].data), "still here");
  await h.stop();
});

Deno.test("udp: shutdown lets the answer in hand be sent, then closes; later datagrams wait", async () => {
  const h = startUdp((data) => data);
  const gate = Promise.withResolvers<void>();
  h.socket.sendGate = gate.promise;
  h.socket.push([enc.encode("in flight"), peer(5)]);
  while (h.server.received < 1) await new Promise((r) => setTimeout(r, 5));
  const stopping = h.stop();
  h.socket.push([enc.encode("too late"), peer(6)]);
  setTimeout(() => gate.resolve(), 50);
  await stopping;
  assert.deepEqual(h.socket.sent.map((s) => dec.decode(s.data)), ["in flight"]);
  assert.ok(h.socket.closed);
  const shutdown = h.logs.find((l) => l.event === "shutdown")!;
  assert.equal(shutdown.text, "SIGTERM: stopping; 1 datagram(s) received, 0 answered");
  assert.equal(h.server.received, 1);
});

Deno.test("udp: shutdown does not wait past its timeout for a send that hangs", async () => {
  const h = startUdp((data) => data, 50);
  h.socket.sendGate = new Promise(() => {});
  h.socket.push([enc.encode("stuck"), peer(5)]);
  while (h.server.received < 1) await new Promise((r) => setTimeout(r, 5));
  const started = performance.now();
  await h.server.shutdown("SIGINT");
  await h.serving;
  assert.ok(performance.now() - started < 1_000);
  assert.ok(h.socket.closed);
  assert.equal(h.server.answered, 0);
  assert.deepEqual(h.logs.filter((l) => l.event.endsWith("_error")), []);
});

Deno.test("udp: shutdown while waiting for a datagram, and twice, is harmless", async () => {
  const h = startUdp((data) => data);
  await h.server.shutdown();
  await h.server.shutdown();
  await h.serving;
  assert.equal(h.logs.filter((l) => l.event === "shutdown").length, 1);
});

// Without --unstable-net: tests/time_server_test.ts runs the CLI without it (one line, exit 1).

Deno.test("udp: a real socket binds, answers a datagram, and closes", async () => {
  const server = new UdpServer({
    host: "127.0.0.1",
    port: 0,
    handler: (data) => data,
    shutdownTimeoutMs: 1_000,
    log: () => {},
  });
  const { port } = server.listen();
  const serving = server.serve();
  const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  await client.send(enc.encode("ping"), { transport: "udp", hostname: "127.0.0.1", port });
  const [answer] = await client.receive();
  client.close();
  assert.equal(dec.decode(answer), "ping");
  await server.shutdown();
  await serving;
});

Deno.test("udp: a port in use is one RuntimeFailure line", () => {
  const held = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const { port } = held.addr as Deno.NetAddr;
  try {
    assert.throws(
      () => bindUdp("127.0.0.1", port),
      (err: unknown) =>
        err instanceof RuntimeFailure && err.code === "LISTEN_FAILED" &&
        err.message ===
          `cannot listen on udp://127.0.0.1:${port}: address already in use; ` +
            "another program uses it: pick another --port, or --port 0 for any free one",
    );
  } finally {
    held.close();
  }
});
