/**
 * lib/net/linger.ts over real sockets on 127.0.0.1: drainInput stops at EOF, at its byte
 * bound (LINGER_MAX_BYTES or `maxBytes`) and at its time bound (LINGER_MS or `ms`), and a
 * lingering close delivers the answer intact to a client that is still sending.
 */
import assert from "node:assert/strict";
import { closeQuietly, drainInput, lingeringClose } from "../lib/net/linger.ts";

/** A connected pair: [server side, client side]. */
async function pair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const [server, client] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port }),
  ]);
  listener.close();
  return [server as Deno.TcpConn, client];
}

/** Writes `bytes` from `conn`, then keeps writing `more` bytes; swallows the reset at the end. */
async function send(conn: Deno.Conn, bytes: number, thenClose: boolean): Promise<number> {
  const chunk = new Uint8Array(16 * 1024);
  let sent = 0;
  try {
    while (sent < bytes) {
      sent += await conn.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
    }
    if (thenClose) await conn.closeWrite();
  } catch { /* the other side closed */ }
  return sent;
}

Deno.test("drainInput: exactly maxBytes then EOF is drained to the end; the socket stays open", async () => {
  const [server, client] = await pair();
  const maxBytes = 64 * 1024;
  const sending = send(client, maxBytes, true);
  await drainInput(server, { maxBytes, ms: 60_000 });
  assert.equal(await sending, maxBytes);
  // At the bound the drain ended at EOF, not by closing: the server may still write.
  await server.write(new TextEncoder().encode("bye"));
  const buf = new Uint8Array(8);
  assert.equal(await client.read(buf), 3);
  server.close();
  client.close();
});

Deno.test("drainInput: past maxBytes it returns without waiting for EOF or the time bound", async () => {
  const [server, client] = await pair();
  const maxBytes = 64 * 1024;
  // The client sends far more than the bound and never closes; ms is long enough that only
  // the byte bound can end the drain before the test's own timeout.
  const sending = send(client, 64 * maxBytes, false);
  await drainInput(server, { maxBytes, ms: 60_000 });
  server.close();
  const sent = await sending;
  assert.ok(sent > maxBytes, `the client got to send past the bound (${sent} bytes)`);
  client.close();
});

Deno.test("drainInput: a silent peer is cut off at the time bound and the socket is closed", async () => {
  const [server, client] = await pair();
  await drainInput(server, { ms: 50 });
  // The timer closed the socket to end the pending read.
  assert.throws(() => server.close(), Deno.errors.BadResource);
  // The peer sees the close as EOF (or a reset), not silence.
  const n = await client.read(new Uint8Array(8)).catch(() => null);
  assert.equal(n, null);
  client.close();
});

Deno.test("lingeringClose: the client reads the answer and EOF, and may still send until it closes", async () => {
  const [server, client] = await pair();
  const answer = new TextEncoder().encode("Yes\n".repeat(1000));
  await client.write(new TextEncoder().encode("a request nobody reads\n"));
  await server.write(answer);
  const lingering = lingeringClose(server, { ms: 30_000 });
  let got = 0;
  const buf = new Uint8Array(4096);
  for (let n = await client.read(buf); n !== null; n = await client.read(buf)) got += n;
  assert.equal(got, answer.length, "the whole answer, then EOF (the server half-closed)");
  // A plain close with unread input would have reset the connection: these writes would
  // fail. While the server lingers they are read and dropped.
  for (let i = 0; i < 8; i++) {
    await client.write(new Uint8Array(8 * 1024));
    await new Promise((r) => setTimeout(r, 10));
  }
  await client.closeWrite();
  await lingering; // ends at the client's EOF, long before its time bound
  closeQuietly(server);
  client.close();
});
