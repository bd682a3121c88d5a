/**
 * Join buffers for the HTTP/2 frame writers of one isolate: a connection takes one while
 * its write queue drains and gives it back when the queue runs dry, so a busy server
 * reuses the same few buffers instead of allocating one per drain. Why: ArrayBuffer
 * memory lives outside the V8 heap and is only freed by a GC that V8 starts late (after
 * ~64 MiB of external growth). Measured in-process under `h2load -c64 -m10` on a 64 KiB
 * file, peak external memory / RSS: a fresh join buffer per drain 78-90 / 172-187 MiB;
 * pooled buffers with 128 KiB batches (the writer's MAX_WRITE_BATCH_BYTES) 20-21 /
 * 129 MiB (256 KiB batches still kept 62-68 MiB live: 64 busy connections × 256 KiB).
 * Sizes are powers of two from {@link MIN_WRITE_BUFFER_BYTES}, so a burst of small
 * frames does not hold a big buffer; at most {@link MAX_POOLED_WRITE_BYTES} wait unused.
 *
 * ```ts
 * import { WriteBufferPool } from "./write_buffers.ts";
 * const pool = new WriteBufferPool();
 * const buf = pool.take(1000); // 16 KiB, the smallest size
 * pool.give(buf);
 * console.log(pool.pooledBytes); // 16384
 * ```
 *
 * @module
 */

/** Smallest join buffer handed out. */
export const MIN_WRITE_BUFFER_BYTES = 16 * 1024;
/** Bytes of unused join buffers kept for reuse, over all connections of the isolate. */
export const MAX_POOLED_WRITE_BYTES = 8 * 1024 * 1024;

/** Reusable join buffers by size (powers of two). */
export class WriteBufferPool {
  #free = new Map<number, Uint8Array[]>();
  #pooledBytes = 0;

  constructor(readonly maxPooledBytes: number = MAX_POOLED_WRITE_BYTES) {}

  /** Bytes of buffers waiting in the pool. */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** A buffer of at least `bytes` (the next power of two, at least the minimum size). */
  take(bytes: number): Uint8Array {
    let size = MIN_WRITE_BUFFER_BYTES;
    while (size < bytes) size *= 2;
    const buf = this.#free.get(size)?.pop();
    if (buf === undefined) return new Uint8Array(size);
    this.#pooledBytes -= size;
    return buf;
  }

  /**
   * Returns a buffer from {@link take} that no pending write uses any more; dropped (left
   * to the GC) when the pool is full.
   */
  give(buf: Uint8Array): void {
    if (this.#pooledBytes + buf.length > this.maxPooledBytes) return;
    let list = this.#free.get(buf.length);
    if (list === undefined) this.#free.set(buf.length, list = []);
    list.push(buf);
    this.#pooledBytes += buf.length;
  }
}

/** The pool every {@link FrameWriter} of this isolate shares (see the module doc). */
export const sharedWriteBuffers: WriteBufferPool = new WriteBufferPool();
