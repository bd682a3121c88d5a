/**
 * Writing one HTTP/2 response on its stream: a HEADERS block (`:status`, `server`, `date`,
 * `content-length` when known, the handler's fields lowercased minus the connection-
 * specific ones HTTP/2 forbids, RFC 9113 §8.2.2), then DATA frames that never exceed the
 * stream's window, the connection's window or the peer's SETTINGS_MAX_FRAME_SIZE.
 * Files are read in chunks that each wait for the window and the socket (backpressure).
 *
 * ```ts
 * import { responseFields } from "./response.ts";
 * const fields = responseFields({ status: 200, headers: [["Connection", "close"], ["X-A", "1"]] }, 3);
 * console.log(fields.slice(3)); // [["x-a", "1"], ["content-length", "3"]]
 * ```
 *
 * @module
 */
import { describeError } from "../../errors.ts";
import { type FileBody, type HttpResponse, releaseBody, type RequestHead } from "../handler.ts";
import { currentHttpDate, SERVER_NAME } from "../semantics/date.ts";
import type { SendWindow } from "./flow.ts";
import { encodeHeaderBlock, FRAME_HEADER_BYTES, FrameType, writeFrameHeader } from "./frames.ts";
import { Flag } from "./frames.ts";
import type { FrameWriter } from "./writer.ts";

/** Bytes read from a file per step; each step waits for window and socket. */
export const FILE_CHUNK_BYTES = 64 * 1024;

/** Fields HTTP/2 forbids in a response (§8.2.2); dropped whatever the handler set. */
const DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "content-length",
]);

/**
 * Lowercased response field names kept, so the same handler names ("Content-Type", "ETag")
 * are not lowercased into a new string per response. Measured with V8's sampling heap
 * profiler under h2load -c64 -m10 (1 KiB file): responseFields allocated ~1.5 KiB per
 * request before (~12 KiB for the whole request); the names were a third of it.
 * Names past the bound are lowercased each time.
 */
export const MAX_CACHED_FIELD_NAMES = 256;
const lowerNames = new Map<string, string>();

/** Names in the lowercase cache (at most {@link MAX_CACHED_FIELD_NAMES}). */
export function cachedFieldNames(): number {
  return lowerNames.size;
}

/** `name` lowercased, from the cache when it was seen before. */
export function lowerFieldName(name: string): string {
  let lower = lowerNames.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (lowerNames.size < MAX_CACHED_FIELD_NAMES) lowerNames.set(name, lower);
  }
  return lower;
}

const textEncoder = new TextEncoder();

/** RFC 9110 §8.6: no content-length on 1xx, 204 and (as over HTTP/1.1) 304. */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** The response's header list, pseudo-header first; `length` null = unknown. */
export function responseFields(res: HttpResponse, length: number | null): [string, string][] {
  const fields: [string, string][] = [
    [":status", String(res.status)],
    ["server", SERVER_NAME],
    ["date", currentHttpDate()],
  ];
  const headers = res.headers ?? [];
  // An indexed loop: iterator and destructuring allocated per field when this was not inlined.
  for (let i = 0; i < headers.length; i++) {
    const lower = lowerFieldName(headers[i][0]);
    if (!DROPPED.has(lower)) fields.push([lower, headers[i][1]]);
  }
  if (length !== null && !statusHasNoBody(res.status)) {
    fields.push(["content-length", String(length)]);
  }
  return fields;
}

/** A response body cut short (a file that shrank or failed, a short stream). */
export class H2ResponseAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "H2ResponseAbortedError";
  }
}

/** What a stream's output needs from its connection. */
export interface OutputContext {
  writer: FrameWriter;
  connectionWindow: SendWindow;
  peerMaxFrameSize(): number;
  /** HPACK-encodes a header list (the connection's one encoder). */
  encodeHeaders(fields: [string, string][]): Uint8Array;
  /** A DATA write started (true) or stopped (false) waiting for window. */
  onWindowWait(waiting: boolean): void;
}

/** The sending half of one stream. */
export class StreamOutput {
  /** Set when the stream can no longer be written (reset, connection gone). */
  gone: Error | null = null;
  /** DATA bytes written so far. */
  bytesSent = 0;

  constructor(
    readonly streamId: number,
    readonly window: SendWindow,
    readonly ctx: OutputContext,
  ) {}

  /** Stops this stream's writes; a write waiting for window wakes and throws `why`. */
  abort(why: Error): void {
    this.gone ??= why;
    this.window.abandon();
  }

  /** Writes the header block (HEADERS + CONTINUATIONs in one buffer). */
  async headers(fields: [string, string][], endStream: boolean): Promise<void> {
    if (this.gone !== null) throw this.gone;
    // Encode and queue with no await between: HPACK state follows the order frames go out.
    const block = this.ctx.encodeHeaders(fields);
    await this.ctx.writer.write(
      encodeHeaderBlock(this.streamId, block, endStream, this.ctx.peerMaxFrameSize()),
    );
  }

  /**
   * A whole small response in one write: HEADERS and one DATA frame ending the stream, when
   * the body fits both windows and one frame. False (nothing written) when it does not.
   */
  async whole(fields: [string, string][], body: Uint8Array): Promise<boolean> {
    const { connectionWindow } = this.ctx;
    const max = Math.min(this.window.size, connectionWindow.size, this.ctx.peerMaxFrameSize());
    if (this.gone !== null || body.length > max) return false;
    const block = this.ctx.encodeHeaders(fields);
    const head = encodeHeaderBlock(this.streamId, block, false, this.ctx.peerMaxFrameSize());
    const out = new Uint8Array(head.length + FRAME_HEADER_BYTES + body.length);
    out.set(head);
    writeFrameHeader(out, head.length, body.length, FrameType.DATA, Flag.END_STREAM, this.streamId);
    out.set(body, head.length + FRAME_HEADER_BYTES);
    this.window.consume(body.length);
    connectionWindow.consume(body.length);
    await this.ctx.writer.write(out);
    this.bytesSent += body.length;
    return true;
  }

  /**
   * Waits until both windows have room; resolves with how much (throws when the stream is
   * gone). A file is read only after this, so a stream blocked by a closed window holds
   * no read buffer.
   */
  async sendable(): Promise<number> {
    const { connectionWindow } = this.ctx;
    for (;;) {
      if (this.gone !== null) throw this.gone;
      const blocked = this.window.size <= 0
        ? this.window
        : connectionWindow.size <= 0
        ? connectionWindow
        : null;
      if (blocked === null) return Math.min(this.window.size, connectionWindow.size);
      this.ctx.onWindowWait(true);
      try {
        await blocked.whenOpen();
      } finally {
        this.ctx.onWindowWait(false);
      }
    }
  }

  /** Writes `bytes` as DATA frames within both windows; `endStream` on the last one. */
  async data(bytes: Uint8Array, endStream: boolean): Promise<void> {
    const { writer, connectionWindow } = this.ctx;
    if (bytes.length === 0) {
      if (this.gone !== null) throw this.gone;
      if (endStream) await writer.write(dataFrames(this.streamId, bytes, 1, true));
      return;
    }
    let off = 0;
    while (off < bytes.length) {
      await this.sendable();
      const n = Math.min(bytes.length - off, this.window.size, connectionWindow.size);
      this.window.consume(n);
      connectionWindow.consume(n);
      const last = endStream && off + n === bytes.length;
      const frames = dataFrames(
        this.streamId,
        bytes.subarray(off, off + n),
        this.ctx.peerMaxFrameSize(),
        last,
      );
      off += n;
      await writer.write(frames);
      this.bytesSent += n;
    }
  }
}

/**
 * `data` as DATA frames of at most `maxFrameSize`: each a 9-byte header and a view of
 * `data` (no copy; the writer joins them into its batch buffer).
 */
export function dataFrames(
  streamId: number,
  data: Uint8Array,
  maxFrameSize: number,
  endStream: boolean,
): Uint8Array[] {
  const count = Math.max(1, Math.ceil(data.length / maxFrameSize));
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const piece = data.subarray(i * maxFrameSize, (i + 1) * maxFrameSize);
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    const flags = endStream && i === count - 1 ? Flag.END_STREAM : 0;
    writeFrameHeader(header, 0, piece.length, FrameType.DATA, flags, streamId);
    parts.push(header, piece);
  }
  return parts;
}

/** Writes `res` on `out`; resolves with the body bytes sent. */
export async function writeH2Response(
  out: StreamOutput,
  req: RequestHead | null,
  res: HttpResponse,
): Promise<number> {
  const omitBody = (req !== null && req.method === "HEAD") || statusHasNoBody(res.status);
  let body = res.body ?? null;
  if (typeof body === "string") body = textEncoder.encode(body);
  if (body === null || body instanceof Uint8Array) {
    const length = body === null ? 0 : body.length;
    const empty = omitBody || length === 0;
    const fields = responseFields(res, length);
    if (!empty && await out.whole(fields, body as Uint8Array)) return length;
    await out.headers(fields, empty);
    if (!empty) await out.data(body as Uint8Array, true);
    return empty ? 0 : length;
  }
  if ("file" in body) return await writeFile(out, res, body, omitBody);
  const length = body.length ?? null;
  try {
    await out.headers(responseFields(res, length), omitBody);
  } catch (err) {
    releaseBody(body);
    throw err;
  }
  if (omitBody) {
    releaseBody(body);
    return 0;
  }
  let sent = 0;
  try {
    for await (const chunk of body.stream) {
      if (chunk.length === 0) continue;
      await out.data(chunk, false);
      sent += chunk.length;
    }
  } finally {
    releaseBody(body); // ends the iterator if a write threw (no-op once it finished)
  }
  if (length !== null && sent !== length) {
    throw new H2ResponseAbortedError(`response stream ended after ${sent} of ${length} bytes`);
  }
  await out.data(new Uint8Array(0), true);
  return sent;
}

async function writeFile(
  out: StreamOutput,
  res: HttpResponse,
  body: FileBody,
  omitBody: boolean,
): Promise<number> {
  const { file, length } = body;
  try {
    const empty = omitBody || length === 0;
    await out.headers(responseFields(res, length), empty);
    if (empty) return 0;
    if (body.offset) await file.seek(body.offset, Deno.SeekMode.Start);
    let buf: Uint8Array | null = null;
    let left = length;
    while (left > 0) {
      const room = await out.sendable();
      buf ??= new Uint8Array(Math.min(FILE_CHUNK_BYTES, length));
      let n: number | null;
      try {
        n = await file.read(buf.subarray(0, Math.min(left, buf.length, room)));
      } catch (err) {
        throw new H2ResponseAbortedError(`file read failed: ${describeError(err)}`);
      }
      if (n === null) {
        throw new H2ResponseAbortedError(
          `file shrank while being sent: ended after ${length - left} of ${length} bytes`,
        );
      }
      left -= n;
      await out.data(buf.subarray(0, n), left === 0);
    }
    return length;
  } finally {
    try {
      file.close();
    } catch { /* closed */ }
  }
}
