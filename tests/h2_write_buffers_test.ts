import assert from "node:assert/strict";
import {
  MAX_POOLED_WRITE_BYTES,
  MIN_WRITE_BUFFER_BYTES,
  WriteBufferPool,
} from "../lib/http/h2/write_buffers.ts";
import { FrameWriter, MAX_WRITE_BATCH_BYTES } from "../lib/http/h2/writer.ts";
import { mulberry32 } from "./helpers.ts";

/** A connected pair of real sockets on 127.0.0.1. */
async function socketPair(): Promise<{ server: Deno.Conn; client: Deno.Conn; close(): void }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return {
    server,
    client,
    close() {
      for (const c of [server, client]) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(out.subarray(at));
    if (got === null) throw new Error(`EOF after ${at} of ${n} bytes`);
    at += got;
  }
  return out;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() * 256;
  return out;
}

Deno.test("h2 write buffers: sizes are powers of two from the minimum, reused after give", () => {
  const pool = new WriteBufferPool();
  assert.equal(pool.take(1).length, MIN_WRITE_BUFFER_BYTES);
  assert.equal(pool.take(MIN_WRITE_BUFFER_BYTES).length, MIN_WRITE_BUFFER_BYTES);
  assert.equal(pool.take(MIN_WRITE_BUFFER_BYTES + 1).length, 2 * MIN_WRITE_BUFFER_BYTES);
  const big = pool.take(MAX_WRITE_BATCH_BYTES);
  assert.equal(big.length, MAX_WRITE_BATCH_BYTES);
  pool.give(big);
  assert.equal(pool.pooledBytes, MAX_WRITE_BATCH_BYTES);
  assert.equal(pool.take(MAX_WRITE_BATCH_BYTES - 1), big, "the same buffer comes back");
  assert.equal(pool.pooledBytes, 0);
  assert.notEqual(pool.take(MAX_WRITE_BATCH_BYTES), big, "handed out once, not twice");
});

Deno.test("h2 write buffers: at most MAX_POOLED_WRITE_BYTES wait unused", () => {
  const pool = new WriteBufferPool();
  const count = MAX_POOLED_WRITE_BYTES / MAX_WRITE_BATCH_BYTES;
  const taken = Array.from({ length: count + 1 }, () => pool.take(MAX_WRITE_BATCH_BYTES));
  for (const buf of taken.slice(0, count)) pool.give(buf);
  assert.equal(pool.pooledBytes, MAX_POOLED_WRITE_BYTES, "at the limit: all kept");
  pool.give(taken[count]);
  assert.equal(pool.pooledBytes, MAX_POOLED_WRITE_BYTES, "one past: dropped for the GC");
});

Deno.test("h2 writer: an entry bigger than a batch goes out whole through a pooled buffer", async () => {
  const pair = await socketPair();
  try {
    const pool = new WriteBufferPool();
    const writer = new FrameWriter(pair.server, { buffers: pool });
    // Pieces as DATA frames come (a 9-byte header, then a view): 1.5 batches of them.
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; total < MAX_WRITE_BATCH_BYTES * 1.5; i++) {
      const part = randomBytes(i % 2 === 0 ? 9 : 16_384, i);
      parts.push(part);
      total += part.length;
    }
    const small = randomBytes(100, 99);
    const reading = readExactly(pair.client, total + small.length);
    await Promise.all([
      writer.write(parts),
      writer.write([small.subarray(0, 50), small.subarray(50)]),
    ]);
    const got = await reading;
    let at = 0;
    for (const part of [...parts, small]) {
      assert.deepEqual(got.subarray(at, at + part.length), part, `bytes at ${at}`);
      at += part.length;
    }
    await writer.flushed();
    assert.equal(pool.pooledBytes, MAX_WRITE_BATCH_BYTES, "the buffer went back when idle");
  } finally {
    pair.close();
  }
});

Deno.test("h2 writer: a buffer is shared only after its write completed, never under one", async () => {
  const a = await socketPair();
  const b = await socketPair();
  try {
    const pool = new WriteBufferPool();
    const blocked = Promise.withResolvers<void>();
    let aWrites = 0;
    // Connection A's first socket write does not complete until B has written: A holds its
    // buffer all that time, so B must get another one.
    const slowSink = {
      write: async (p: Uint8Array) => {
        if (aWrites++ === 0) await blocked.promise;
        return await a.server.write(p);
      },
    };
    const writerA = new FrameWriter(slowSink, { buffers: pool });
    const writerB = new FrameWriter(b.server, { buffers: pool });
    const bodyA = [randomBytes(9, 1), randomBytes(30_000, 2)];
    const bodyB = [randomBytes(9, 3), randomBytes(30_000, 4)];
    const sentA = writerA.write(bodyA);
    await writerB.write(bodyB);
    await writerB.flushed();
    assert.deepEqual(
      await readExactly(b.client, 30_009),
      new Uint8Array([...bodyB[0], ...bodyB[1]]),
    );
    // B's buffer is back in the pool; A's first write is still pending on its own buffer.
    const other = pool.take(30_009);
    other.fill(0xee);
    blocked.resolve();
    await sentA;
    assert.deepEqual(
      await readExactly(a.client, 30_009),
      new Uint8Array([...bodyA[0], ...bodyA[1]]),
    );
  } finally {
    a.close();
    b.close();
  }
});
