/**
 * The one framing layer every sockit protocol reads and writes through.
 *
 * A {@link BufferedReader} owns the bytes of one connection: protocols never call
 * `read()` themselves, they ask it for *a line*, *bytes up to a delimiter*, *exactly n
 * bytes*, *a length-prefixed frame* or *whatever arrives next*. Echo uses it for its
 * line/length/raw modes; HTTP reads its request head (up to CRLFCRLF), chunk-size lines
 * and bodies through it. Limits are part of the contract, and a breach is a typed
 * {@link FramingError} with a stable `code` that callers branch on.
 *
 * ```ts
 * import { BufferedReader, writeAll } from "./framing.ts";
 * declare const conn: Deno.Conn;
 * const reader = new BufferedReader(conn);
 * const line = await reader.readLine({ maxBytes: 8192 }); // includes its LF / CRLF
 * if (line !== null) await writeAll(conn, line);
 * ```
 *
 * Views returned by the reader point into its buffer and stay valid only until the next
 * call on the same reader; copy (`slice()`) what must outlive that.
 *
 * @module
 */

/** Anything bytes can be read from: `Deno.Conn`, `Deno.FsFile`, a test double. */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** Anything bytes can be written to; a write may be partial. */
export interface ByteSink {
  write(p: Uint8Array): Promise<number>;
}

/** Longest line `readLine` accepts unless told otherwise (terminator included). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** Largest payload `readFrame` accepts unless told otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Size of the buffer a reader starts with; it grows only when a message needs more. */
export const DEFAULT_INITIAL_BUFFER_BYTES = 16 * 1024;
/**
 * A buffer that grew past this size for one big message is dropped once it is empty, so a
 * connection that sent one 16 MiB frame does not pin 16 MiB for the rest of its life.
 */
export const MAX_RETAINED_BUFFER_BYTES = 256 * 1024;
/** Length prefix of a frame: 4 bytes, big-endian, unsigned. */
export const FRAME_PREFIX_BYTES = 4;
/** Largest payload a 4-byte prefix can announce. */
export const MAX_FRAME_PREFIX_VALUE = 0xffff_ffff;

const LF = 0x0a;
const EMPTY = new Uint8Array(0);
const CR = 0x0d;

/** Stable codes for framing failures. */
export type FramingErrorCode =
  | "LINE_TOO_LONG"
  | "FRAME_TOO_LARGE"
  | "UNEXPECTED_EOF";

/** Base class of every framing failure; branch on `code`, not on the message. */
export class FramingError extends Error {
  constructor(readonly code: FramingErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No delimiter was found within the allowed number of bytes. */
export class LineTooLongError extends FramingError {
  constructor(readonly limit: number) {
    super("LINE_TOO_LONG", `line longer than ${limit} bytes`);
  }
}

/** A frame announced (or would need) more bytes than allowed. */
export class FrameTooLargeError extends FramingError {
  constructor(readonly size: number, readonly limit: number) {
    super("FRAME_TOO_LARGE", `frame of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}

/** The peer closed the stream in the middle of a line, frame or counted read. */
export class UnexpectedEofError extends FramingError {
  constructor(readonly what: string, readonly received: number) {
    super("UNEXPECTED_EOF", `connection closed in the middle of ${what} (${received} bytes read)`);
  }
}

/** Options for {@link BufferedReader}. */
export interface BufferedReaderOptions {
  /** Initial buffer size in bytes. Default {@link DEFAULT_INITIAL_BUFFER_BYTES}. */
  initialBufferBytes?: number;
}

/** Options for reads bounded by a length. */
export interface LimitOptions {
  /** Largest number of bytes accepted, terminator/prefix excluded for frames. */
  maxBytes?: number;
}

/** Options for {@link BufferedReader.readUntil}. */
export interface ReadUntilOptions extends LimitOptions {
  /**
   * Called with what has arrived whenever the delimiter is not there yet, before waiting
   * for more; it may throw to refuse the message early (HTTP: bytes that cannot start a
   * request line), so junk is not held until a timeout.
   */
  checkPartial?: (partial: Uint8Array) => void;
}

/**
 * A growable read buffer over one {@link ByteSource}.
 *
 * Bytes live in `buf[start, end)`. Reads fill at `end`; consumed bytes advance `start`.
 * Space is reclaimed by compaction before growing, so a connection holds one buffer
 * whose size is bounded by the largest message its limits allow.
 */
export class BufferedReader {
  #source: ByteSource;
  #buf: Uint8Array = EMPTY;
  #initialBufferBytes: number;
  #start = 0;
  #end = 0;
  #eof = false;
  /** Total bytes read from the source so far. */
  bytesRead = 0;

  constructor(source: ByteSource, options: BufferedReaderOptions = {}) {
    this.#source = source;
    // Allocated on first read, so an idle connection costs no buffer at all.
    this.#initialBufferBytes = options.initialBufferBytes ?? DEFAULT_INITIAL_BUFFER_BYTES;
  }

  /** Number of bytes read from the source but not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** True once the source has reported end of stream. */
  get eof(): boolean {
    return this.#eof;
  }

  /**
   * Reads once more from the source into free buffer space, making room first (compacting,
   * then growing up to `need` bytes of content). Resolves false at end of stream.
   */
  async fill(need = 1): Promise<boolean> {
    if (this.#eof) return false;
    this.#ensureSpace(need);
    const n = await this.#source.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    this.bytesRead += n;
    return true;
  }

  #ensureSpace(contentBytes: number): void {
    const held = this.#end - this.#start;
    if (this.#end < this.#buf.length && this.#buf.length >= contentBytes) return;
    if (this.#start > 0 && this.#buf.length > held && this.#buf.length >= contentBytes) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      let size = Math.max(this.#initialBufferBytes, this.#buf.length * 2);
      while (size < contentBytes) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = bigger;
    }
    this.#start = 0;
    this.#end = held;
  }

  #take(n: number): Uint8Array {
    const view = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // The returned view keeps the old buffer alive for as long as the caller needs it.
      if (this.#buf.length > MAX_RETAINED_BUFFER_BYTES) this.#buf = EMPTY;
    }
    return view;
  }

  /**
   * Reads up to and including `delimiter`. Resolves null at a clean end of stream (nothing
   * buffered); throws {@link UnexpectedEofError} when the stream ends mid-message and
   * {@link LineTooLongError} when `maxBytes` (delimiter included) pass without one.
   */
  async readUntil(
    delimiter: Uint8Array,
    options: ReadUntilOptions = {},
  ): Promise<Uint8Array | null> {
    const max = options.maxBytes ?? DEFAULT_MAX_LINE_BYTES;
    const first = delimiter[0];
    const dlen = delimiter.length;
    let scanned = 0; // bytes after start already known not to begin a match
    for (;;) {
      const buf = this.#buf;
      const limitEnd = Math.min(this.#end, this.#start + max);
      let i = this.#start + scanned;
      while (i <= limitEnd - dlen) {
        i = buf.indexOf(first, i);
        if (i === -1 || i > limitEnd - dlen) break;
        let k = 1;
        while (k < dlen && buf[i + k] === delimiter[k]) k++;
        if (k === dlen) return this.#take(i + dlen - this.#start);
        i++;
      }
      const held = this.#end - this.#start;
      if (held >= max) throw new LineTooLongError(max);
      if (held > 0) options.checkPartial?.(buf.subarray(this.#start, this.#end));
      scanned = Math.max(0, held - dlen + 1);
      if (!(await this.fill(Math.min(max, held + 1)))) {
        if (held === 0) return null;
        throw new UnexpectedEofError("a line", held);
      }
    }
  }

  /**
   * Reads one line ending in LF (so CRLF too), terminator included. Null at a clean end of
   * stream. Use {@link stripLineEnding} for the content.
   */
  async readLine(options: LimitOptions = {}): Promise<Uint8Array | null> {
    const max = options.maxBytes ?? DEFAULT_MAX_LINE_BYTES;
    let scanned = 0;
    for (;;) {
      const limitEnd = Math.min(this.#end, this.#start + max);
      const i = this.#buf.subarray(0, limitEnd).indexOf(LF, this.#start + scanned);
      if (i !== -1) return this.#take(i + 1 - this.#start);
      const held = this.#end - this.#start;
      if (held >= max) throw new LineTooLongError(max);
      scanned = held;
      if (!(await this.fill(Math.min(max, held + 1)))) {
        if (held === 0) return null;
        throw new UnexpectedEofError("a line", held);
      }
    }
  }

  /**
   * The next `n` bytes when that many are buffered (consumed, as {@link readExact}), else
   * null and nothing consumed: readExact without a promise when no read is needed.
   */
  tryTake(n: number): Uint8Array | null {
    return this.#end - this.#start >= n ? this.#take(n) : null;
  }

  /** Reads exactly `n` bytes (the view may be empty for n = 0). */
  async readExact(n: number, what = `${n} bytes`): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (!(await this.fill(n))) throw new UnexpectedEofError(what, this.#end - this.#start);
    }
    return this.#take(n);
  }

  /**
   * Reads a length-prefixed frame: 4-byte big-endian length, then the payload. Resolves
   * null at a clean end of stream before the prefix starts.
   */
  async readFrame(options: LimitOptions = {}): Promise<Uint8Array | null> {
    const max = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
    while (this.#end - this.#start < FRAME_PREFIX_BYTES) {
      const held = this.#end - this.#start;
      // A prefix is refused as soon as its first bytes rule out every size ≤ max (junk, a
      // TLS hello or "GET " sent to a length-framed port), not after it trickles in whole.
      const smallest = smallestFrameSize(this.#buf.subarray(this.#start, this.#end));
      if (smallest > max) throw new FrameTooLargeError(smallest, max);
      if (!(await this.fill(FRAME_PREFIX_BYTES))) {
        if (held === 0) return null;
        throw new UnexpectedEofError("a frame length prefix", held);
      }
    }
    const size = decodeFramePrefix(this.#buf, this.#start);
    if (size > max) throw new FrameTooLargeError(size, max);
    this.#take(FRAME_PREFIX_BYTES);
    return await this.readExact(size, `a frame of ${size} bytes`);
  }

  /**
   * Returns what is buffered, or else waits for the next read; at most `maxBytes`. Null at
   * end of stream. The raw-streaming primitive (echo raw mode, bodies of known length).
   */
  async readChunk(maxBytes = Infinity): Promise<Uint8Array | null> {
    if (this.#end === this.#start && !(await this.fill())) return null;
    return this.#take(Math.min(maxBytes, this.#end - this.#start));
  }

  /** Consumes and returns everything buffered now, without reading (may be empty). */
  takeBuffered(): Uint8Array {
    return this.#take(this.#end - this.#start);
  }

  /**
   * Drops a buffer that grew past the initial size, if nothing is buffered; the next read
   * allocates the initial size again. Call it when a connection goes quiet: thousands of idle
   * keep-alive or echo connections then hold small buffers, not their largest message's.
   */
  shrink(): void {
    if (this.#start === this.#end && this.#buf.length > this.#initialBufferBytes) {
      this.#buf = EMPTY;
      this.#start = this.#end = 0;
    }
  }

  /**
   * Makes room for `bytes` of content without reading, so the next reads can be that big
   * (HTTP: a body is coming). {@link shrink} gives the room back once the reader is idle.
   */
  reserve(bytes: number): void {
    this.#ensureSpace(bytes);
  }

  /** Returns the buffered bytes without consuming them. */
  peekBuffered(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Reads and throws away exactly `n` bytes without holding more than one buffer. */
  async discard(n: number, what = `${n} bytes`): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = await this.readChunk(left);
      if (chunk === null) throw new UnexpectedEofError(what, n - left);
      left -= chunk.length;
    }
  }
}

/** The line without its trailing LF or CRLF (a view, no copy). */
export function stripLineEnding(line: Uint8Array): Uint8Array {
  let end = line.length;
  if (end > 0 && line[end - 1] === LF) end--;
  if (end > 0 && line[end - 1] === CR) end--;
  return line.subarray(0, end);
}

/** Writes every byte of `data`, looping over partial writes. */
export async function writeAll(sink: ByteSink, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    off += await sink.write(off === 0 ? data : data.subarray(off));
  }
}

/** The payload size a 4-byte big-endian prefix at `offset` announces. */
export function decodeFramePrefix(bytes: Uint8Array, offset = 0): number {
  return ((bytes[offset] << 24) >>> 0) + (bytes[offset + 1] << 16) +
    (bytes[offset + 2] << 8) + bytes[offset + 3];
}

/**
 * The smallest size a prefix can still announce when only its first `partial.length`
 * (< 4) bytes have arrived: those bytes followed by zeros. 0 for an empty prefix.
 */
function smallestFrameSize(partial: Uint8Array): number {
  let size = 0;
  for (let i = 0; i < FRAME_PREFIX_BYTES; i++) {
    size = size * 256 + (i < partial.length ? partial[i] : 0);
  }
  return size;
}

/** The 4-byte big-endian prefix of a payload of `size` bytes. */
export function encodeFramePrefix(size: number): Uint8Array {
  if (size > MAX_FRAME_PREFIX_VALUE) throw new FrameTooLargeError(size, MAX_FRAME_PREFIX_VALUE);
  const prefix = new Uint8Array(FRAME_PREFIX_BYTES);
  new DataView(prefix.buffer).setUint32(0, size);
  return prefix;
}

/** Encodes `payload` as one frame: 4-byte big-endian length followed by the bytes. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  return concatBytes(encodeFramePrefix(payload.length), payload);
}

/** True when `a` and `b` hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The parts joined into one new buffer (one write instead of several). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The delimiter that ends an HTTP/1.1 head (RFC 9112 §2.1). */
export const CRLFCRLF: Uint8Array = new Uint8Array([CR, LF, CR, LF]);
