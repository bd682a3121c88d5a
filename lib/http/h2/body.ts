/**
 * The body of one HTTP/2 request as handlers read it: DATA payloads queued per stream and
 * handed out in order. Buffering is bounded by flow control — the client may send only
 * as much as the stream's receive window, and credit goes back (WINDOW_UPDATE) only as the
 * handler reads, so a handler that does not read stops the upload instead of filling
 * memory. Content-length is checked against what arrives (RFC 9113 §8.1.1).
 *
 * ```ts
 * import { H2RequestBody } from "./body.ts";
 * const body = new H2RequestBody({ streamId: 1, maxBytes: 1024, expectedLength: 2, returnCredit: () => {} });
 * body.push(new Uint8Array([1, 2]));
 * body.end();
 * console.log((await body.read())?.length, await body.read()); // 2 null
 * ```
 *
 * @module
 */
import { HttpError } from "../errors.ts";
import type { RequestBody } from "../handler.ts";
import { H2StreamError } from "./frames.ts";

/** The stream ended under a handler still reading its body (reset, or the connection died). */
export class StreamGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StreamGoneError";
  }
}

/** What {@link H2RequestBody} needs. */
export interface H2RequestBodyInit {
  streamId: number;
  /** `--max-body`: past it, reads throw 413. */
  maxBytes: number;
  /** The request's content-length, or null. */
  expectedLength: number | null;
  /** Gives `n` bytes of receive window back to the client (stream and connection). */
  returnCredit: (n: number) => void;
  /** Called when a read starts or stops waiting for DATA (the connection's body clock). */
  onWait?: (waiting: boolean) => void;
}

/** One stream's request body. */
export class H2RequestBody implements RequestBody {
  #init: H2RequestBodyInit;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #arrived = 0;
  #received = 0;
  #buffered = 0;
  #tooLarge = false;

  constructor(init: H2RequestBodyInit) {
    this.#init = init;
  }

  /** True once the whole body has been consumed. */
  get done(): boolean {
    return this.#ended && this.#chunks.length === 0 && !this.#tooLarge;
  }

  /** Body bytes handed to the handler so far. */
  get received(): number {
    return this.#received;
  }

  /** Bytes queued and not yet read (window credit not yet returned). */
  get buffered(): number {
    return this.#buffered;
  }

  /** True once END_STREAM arrived. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Queues a DATA payload (copied: the reader's buffer is reused). Returns the bytes the
   * caller should give back at once because nobody will read them (over `--max-body`).
   * Throws a PROTOCOL_ERROR stream error when more than content-length arrives.
   */
  push(data: Uint8Array): number {
    this.#arrived += data.length;
    const expected = this.#init.expectedLength;
    if (expected !== null && this.#arrived > expected) {
      throw new H2StreamError("PROTOCOL_ERROR", this.#init.streamId, "DATA past content-length");
    }
    if (this.#tooLarge || this.#arrived > this.#init.maxBytes) {
      this.#tooLarge = true;
      this.#wakeReader();
      return data.length;
    }
    if (data.length > 0) {
      this.#chunks.push(data.slice());
      this.#buffered += data.length;
    }
    this.#wakeReader();
    return 0;
  }

  /** END_STREAM: a content-length that was not met is a PROTOCOL_ERROR stream error. */
  end(): void {
    const expected = this.#init.expectedLength;
    if (expected !== null && this.#arrived !== expected) {
      throw new H2StreamError(
        "PROTOCOL_ERROR",
        this.#init.streamId,
        "DATA short of content-length",
      );
    }
    this.#ended = true;
    this.#wakeReader();
  }

  /** The stream is gone: reads fail from now on; returns the bytes that were still queued. */
  fail(error: Error): number {
    this.#error = error;
    const left = this.#buffered;
    this.#chunks = [];
    this.#buffered = 0;
    this.#wakeReader();
    return left;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#error !== null) throw this.#error;
      if (this.#tooLarge) {
        throw new HttpError(413, "BODY_TOO_LARGE", "request body too large", { close: true });
      }
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#buffered -= chunk.length;
        this.#received += chunk.length;
        this.#init.returnCredit(chunk.length);
        return chunk;
      }
      if (this.#ended) return null;
      this.#init.onWait?.(true);
      try {
        await new Promise<void>((resolve) => this.#wake = resolve);
      } finally {
        this.#init.onWait?.(false);
      }
    }
  }

  async discard(): Promise<void> {
    while ((await this.read()) !== null) { /* dropped; credit returned as read */ }
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
