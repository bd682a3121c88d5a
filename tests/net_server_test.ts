/**
 * The shared server skeleton (lib/net/server.ts) and its closing refusal (lib/net/refusal.ts)
 * in this process, on real sockets: connections over `maxConnections` go to the handler's
 * refusal, at most MAX_REFUSALS_IN_FLIGHT at once — one more is closed without an answer —
 * and a burst of refusals is one log line.
 *
 * ```sh
 * deno test -A tests/net_server_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { closingRefusal, REFUSAL_LOG_INTERVAL_MS } from "../lib/net/refusal.ts";
import { MAX_REFUSALS_IN_FLIGHT, TcpServer } from "../lib/net/server.ts";

async function waitFor(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves null when the peer closed, "open" when nothing came within `ms`. */
async function readOrOpen(conn: Deno.Conn, ms: number): Promise<number | null | "open"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<"open">((r) => timer = setTimeout(() => r("open"), ms));
  const read = conn.read(new Uint8Array(16)).catch(() => null);
  const result = await Promise.race([read, open]);
  clearTimeout(timer);
  return result;
}

Deno.test("TcpServer: MAX_REFUSALS_IN_FLIGHT refusals at once; one more is closed unanswered", async () => {
  const served: Deno.Conn[] = [];
  const ended: (() => void)[] = [];
  const refused: Deno.Conn[] = [];
  let releaseRefusals = () => {};
  const refusalsReleased = new Promise<void>((r) => releaseRefusals = r);
  const server = new TcpServer({
    host: "127.0.0.1",
    port: 0,
    maxConnections: 1,
    shutdownTimeoutMs: 1_000,
    log: () => {},
  }, {
    handle: (conn) => {
      served.push(conn);
      return new Promise<void>((r) => ended.push(r)); // held until closeAll
    },
    refuse: async (conn) => {
      refused.push(conn);
      await refusalsReleased;
      conn.close();
    },
    beginShutdown: () => {},
    closeAll: () => {
      served.forEach((c) => c.close());
      ended.forEach((end) => end());
    },
  });
  const { port } = server.listen();
  const serving = server.serve();
  const clients: Deno.Conn[] = [];
  try {
    clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await waitFor(() => served.length === 1);
    // At the limit: every one of these is being refused (held by the handler).
    for (let i = 0; i < MAX_REFUSALS_IN_FLIGHT; i++) {
      clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    await waitFor(() => refused.length === MAX_REFUSALS_IN_FLIGHT);
    // One past it: closed at once, the handler never sees it.
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    clients.push(extra);
    assert.equal(await readOrOpen(extra, 3_000), null, "closed without an answer");
    assert.equal(refused.length, MAX_REFUSALS_IN_FLIGHT);
    assert.equal(await readOrOpen(clients[1], 100), "open", "the refusals in flight are held");
    // Once the refusals end there is room again.
    releaseRefusals();
    await new Promise((r) => setTimeout(r, 50)); // the refusals finish and free their slots
    const later = await Deno.connect({ hostname: "127.0.0.1", port });
    clients.push(later);
    await waitFor(() => refused.length === MAX_REFUSALS_IN_FLIGHT + 1);
  } finally {
    releaseRefusals();
    for (const c of clients) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await server.shutdown(); // the held connection is cut after shutdownTimeoutMs
    await serving;
  }
});

Deno.test("closingRefusal: a burst of refusals within one interval is one log line", () => {
  const lines: string[] = [];
  const refuse = closingRefusal(3, (_event, _fields, text) => lines.push(text));
  const fake = () =>
    ({
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 4000 },
      close() {},
    }) as unknown as Deno.Conn;
  for (let i = 0; i < 10; i++) refuse(fake());
  assert.deepEqual(lines, [
    "rejected 127.0.0.1:4000: 3 connections already open (--max-connections)",
  ]);
  assert.ok(REFUSAL_LOG_INTERVAL_MS >= 1_000, "the burst above lies within one interval");
});
