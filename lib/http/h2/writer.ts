/**
 * The one writer of an HTTP/2 connection: every frame goes through its queue, whole, so
 * frames never interleave mid-frame however many streams write at once. Whatever is
 * queued when the socket is free goes out in one write (a burst of small DATA frames and
 * ACKs is one syscall). Control frames (ACKs, RST_STREAM, WINDOW_UPDATE) are queued
 * without waiting, and bounded: a peer that sends but never reads cannot grow the queue.
 *
 * ```ts
 * import { FrameWriter } from "./writer.ts";
 * import { encodePing } from "./frames.ts";
 * declare const conn: Deno.Conn;
 * const writer = new FrameWriter(conn);
 * writer.control(encodePing(new Uint8Array(8), true));
 * await writer.flushed();
 * ```
 *
 * @module
 */
import type { ByteSink } from "../../framing.ts";
import { MAX_PENDING_CONTROL_FRAMES } from "./guard.ts";
import { sharedWriteBuffers, type WriteBufferPool } from "./write_buffers.ts";

/**
 * Most bytes joined into one socket write (a bigger entry goes in several). Every busy
 * connection holds one buffer this big while it drains: 256 KiB kept ~40 MiB more live
 * than 128 KiB under 64 connections fetching 64 KiB files (write_buffers.ts).
 */
export const MAX_WRITE_BATCH_BYTES = 128 * 1024;

interface Entry {
  /** Whole frames, possibly as header and payload views (copied into the batch buffer). */
  parts: readonly Uint8Array[];
  bytes: number;
  control: boolean;
  resolve?: () => void;
  reject?: (err: unknown) => void;
}

/** Hooks the connection's write clock runs on. */
export interface FrameWriterHooks {
  /** A socket write started (true) or the queue ran dry (false). */
  onBusy?: (busy: boolean) => void;
  /** Some bytes reached the socket. */
  onProgress?: () => void;
  /** Where join buffers come from (default: the isolate's shared pool). */
  buffers?: WriteBufferPool;
}

/** The connection's write queue. */
export class FrameWriter {
  #sink: ByteSink;
  #hooks: FrameWriterHooks;
  #queue: Entry[] = [];
  #pendingControl = 0;
  #flushing: Promise<void> | null = null;
  #error: unknown = null;

  constructor(sink: ByteSink, hooks: FrameWriterHooks = {}) {
    this.#sink = sink;
    this.#hooks = hooks;
  }

  /** True once a write failed: the socket is gone and every later write rejects. */
  get failed(): boolean {
    return this.#error !== null;
  }

  /**
   * Queues whole frames — one buffer, or pieces (a DATA header and a view of its payload)
   * that must stay unchanged until this resolves, when they have reached the socket.
   */
  write(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const parts = data instanceof Uint8Array ? [data] : data;
    let bytes = 0;
    for (const part of parts) bytes += part.length;
    this.#queue.push({ parts, bytes, control: false, resolve, reject });
    this.#kick();
    return promise;
  }

  /**
   * Queues a control frame without waiting. False when {@link MAX_PENDING_CONTROL_FRAMES}
   * are already waiting (the peer is not reading): the caller closes the connection.
   */
  control(bytes: Uint8Array): boolean {
    if (this.#error !== null) return true; // the read loop learns of the dead socket itself
    if (this.#pendingControl >= MAX_PENDING_CONTROL_FRAMES) return false;
    this.#pendingControl++;
    this.#queue.push({ parts: [bytes], bytes: bytes.length, control: true });
    this.#kick();
    return true;
  }

  /** Resolves once everything queued so far was written (or the socket failed). */
  async flushed(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  #kick(): void {
    if (this.#flushing !== null) return;
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = null;
      // Queued after the drain loop saw an empty queue, before this ran: go again.
      if (this.#queue.length > 0 && this.#error === null) this.#kick();
      else this.#hooks.onBusy?.(false);
    });
  }

  async #drain(): Promise<void> {
    this.#hooks.onBusy?.(true);
    const pool = this.#hooks.buffers ?? sharedWriteBuffers;
    // Batches are joined into a pooled buffer kept while the queue keeps refilling and given
    // back when it runs dry (write_buffers.ts says why: a fresh buffer per drain piled up
    // dead ArrayBuffers at 1.2 GB/s).
    let buf: Uint8Array | null = null;
    try {
      while (this.#queue.length > 0) {
        // Whole entries up to MAX_WRITE_BATCH_BYTES (at least one) make one batch.
        let count = 1;
        let bytes = this.#queue[0].bytes;
        while (
          count < this.#queue.length &&
          bytes + this.#queue[count].bytes <= MAX_WRITE_BATCH_BYTES
        ) {
          bytes += this.#queue[count++].bytes;
        }
        const batch = this.#queue.splice(0, count);
        for (const e of batch) if (e.control) this.#pendingControl--;
        try {
          if (count === 1 && batch[0].parts.length === 1) {
            await this.#writeAll(batch[0].parts[0]);
          } else {
            const need = Math.min(bytes, MAX_WRITE_BATCH_BYTES);
            if (buf === null || buf.length < need) {
              if (buf !== null) pool.give(buf);
              buf = pool.take(need);
            }
            await this.#writeJoined(batch, buf);
          }
        } catch (err) {
          this.#error = err;
          for (const e of [...batch, ...this.#queue]) e.reject?.(err);
          this.#queue = [];
          return;
        }
        for (const e of batch) e.resolve?.();
      }
    } finally {
      // Every write has completed or failed: nothing reads the buffer any more.
      if (buf !== null) pool.give(buf);
    }
  }

  /** Copies the batch's parts into `buf` and writes it each time it is full, then the rest. */
  async #writeJoined(batch: readonly Entry[], buf: Uint8Array): Promise<void> {
    let at = 0;
    for (const e of batch) {
      for (const part of e.parts) {
        let off = 0;
        while (off < part.length) {
          const n = Math.min(part.length - off, buf.length - at);
          buf.set(off === 0 && n === part.length ? part : part.subarray(off, off + n), at);
          at += n;
          off += n;
          if (at === buf.length) {
            await this.#writeAll(buf);
            at = 0;
          }
        }
      }
    }
    if (at > 0) await this.#writeAll(buf.subarray(0, at));
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      off += await this.#sink.write(off === 0 ? data : data.subarray(off));
      this.#hooks.onProgress?.();
    }
  }
}
