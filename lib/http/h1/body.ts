/**
 * The body of one HTTP/1.1 request, read through the connection's framing reader: a
 * Content-Length body or a chunked one (sizes, extensions and trailers held to their
 * limits), `100 Continue` sent before the first read when the client asked for it, and
 * the body timeout run while a read waits.
 *
 * ```ts
 * import { BufferedReader } from "../../framing.ts";
 * import { Http1RequestBody } from "./body.ts";
 * import { parseRequestHead } from "./request.ts";
 * declare const conn: Deno.Conn;
 * const head = parseRequestHead(new TextEncoder().encode(
 *   "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
 * ));
 * const body = new Http1RequestBody(new BufferedReader(conn), conn, head, 1024);
 * console.log(body.done); // false: 3 bytes to read
 * ```
 *
 * @module
 */
import {
  type BufferedReader,
  LineTooLongError,
  UnexpectedEofError,
  writeAll,
} from "../../framing.ts";
import { HttpError } from "../errors.ts";
import type { RequestBody, RequestHead } from "../handler.ts";
import {
  badChunk,
  MAX_CHUNK_EXTENSION_BYTES,
  MAX_CHUNK_LINE_BYTES,
  MAX_TRAILER_BYTES,
  parseChunkSizeLine,
} from "./chunked.ts";
import { CONTINUE_RESPONSE } from "./response.ts";
import type { ConnectionSlot } from "./timeouts.ts";

const LF = 0x0a;

/** 413 + close: the body is over `--max-body`. */
export function bodyTooLarge(): HttpError {
  return new HttpError(413, "BODY_TOO_LARGE", "request body too large", { close: true });
}

/**
 * The body of one request, read through the connection's reader. Sends `100 Continue`
 * before the first read when the client asked for it. Chunk views are valid until the
 * next read.
 */
export class Http1RequestBody implements RequestBody {
  #reader: BufferedReader;
  #conn: Deno.Conn;
  #maxBytes: number;
  #chunked: boolean;
  #remaining: number; // bytes left: of the whole body (length) or of the current chunk
  #needContinue: boolean;
  #done: boolean;
  #pendingCrlf = false; // chunk-data was handed out; its CRLF is checked on the next read
  #extensionBytes = 0;
  #slot: ConnectionSlot | null;
  /** Body bytes delivered so far (chunk framing excluded). */
  received = 0;

  /** `slot` (from the tracker) runs the body timeout while a read waits for the client. */
  constructor(
    reader: BufferedReader,
    conn: Deno.Conn,
    req: RequestHead,
    maxBytes: number,
    slot: ConnectionSlot | null = null,
  ) {
    this.#reader = reader;
    this.#conn = conn;
    this.#slot = slot;
    this.#maxBytes = maxBytes;
    this.#chunked = req.body.kind === "chunked";
    this.#remaining = req.body.kind === "length" ? req.body.length : 0;
    this.#done = req.body.kind === "none";
    this.#needContinue = req.expectContinue && !this.#done;
  }

  /** True once the whole body (and any trailers) has been consumed. */
  get done(): boolean {
    return this.#done;
  }

  /** True when the client waits for 100 Continue that has not been sent yet. */
  get awaitingContinue(): boolean {
    return this.#needContinue;
  }

  /** The next piece of the body, or null at its end. */
  async read(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    const slot = this.#slot;
    if (slot === null) return await this.#read();
    if (slot.timedOut !== null) throw this.#timedOut();
    slot.phase = "body";
    slot.since = Date.now();
    try {
      const chunk = await this.#read();
      // Bytes that arrive after the 408 went out must not reach the handler (no upload
      // is committed behind an answer that already said "timed out").
      if (slot.timedOut !== null) throw this.#timedOut();
      return chunk;
    } finally {
      if (slot.phase === "body") slot.phase = "busy";
    }
  }

  #timedOut(): UnexpectedEofError {
    return new UnexpectedEofError("a request body (body timeout)", this.received);
  }

  async #read(): Promise<Uint8Array | null> {
    if (this.#needContinue) {
      this.#needContinue = false;
      await writeAll(this.#conn, CONTINUE_RESPONSE);
    }
    const reader = this.#reader;
    if (this.#chunked && this.#remaining === 0) {
      const size = await this.#readChunkSize();
      if (size === 0) {
        await this.#skipTrailers();
        this.#done = true;
        return null;
      }
      if (this.received + size > this.#maxBytes) throw bodyTooLarge();
      this.#remaining = size;
    }
    const chunk = await reader.readChunk(this.#remaining);
    if (chunk === null) throw new UnexpectedEofError("a request body", this.received);
    this.#remaining -= chunk.length;
    this.received += chunk.length;
    if (this.#remaining === 0) {
      // Reading the CRLF after chunk-data now could invalidate the `chunk` view.
      if (this.#chunked) this.#pendingCrlf = true;
      else this.#done = true;
    }
    return chunk;
  }

  async #readChunkSize(): Promise<number> {
    const reader = this.#reader;
    if (this.#pendingCrlf) {
      this.#pendingCrlf = false;
      const crlf = await reader.readExact(2, "the CRLF after chunk data");
      if (crlf[0] !== 0x0d || crlf[1] !== LF) throw badChunk("chunk data not followed by CRLF");
    }
    let line: Uint8Array | null;
    try {
      line = await reader.readLine({ maxBytes: MAX_CHUNK_LINE_BYTES });
    } catch (err) {
      if (err instanceof LineTooLongError) throw badChunk("chunk-size line too long");
      throw err;
    }
    if (line === null) throw new UnexpectedEofError("a chunk-size line", 0);
    const size = parseChunkSizeLine(line);
    const semicolon = line.indexOf(0x3b);
    if (semicolon !== -1) {
      this.#extensionBytes += line.length - 2 - semicolon;
      if (this.#extensionBytes > MAX_CHUNK_EXTENSION_BYTES) {
        throw badChunk("too many chunk extensions");
      }
    }
    return size;
  }

  async #skipTrailers(): Promise<void> {
    let total = 0;
    for (;;) {
      let line: Uint8Array | null;
      try {
        line = await this.#reader.readLine({ maxBytes: MAX_CHUNK_LINE_BYTES });
      } catch (err) {
        if (err instanceof LineTooLongError) throw badChunk("trailer line too long");
        throw err;
      }
      if (line === null) throw new UnexpectedEofError("chunked trailers", total);
      if (line.length < 2 || line[line.length - 2] !== 0x0d) throw badChunk("bare LF in trailer");
      if (line.length === 2) return;
      total += line.length;
      if (total > MAX_TRAILER_BYTES) throw badChunk("trailer section too large");
    }
  }

  /** Reads and drops whatever is left of the body. */
  async discard(): Promise<void> {
    while ((await this.read()) !== null) { /* drop */ }
  }
}
