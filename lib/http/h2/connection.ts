/**
 * One HTTP/2 connection, end to end (RFC 9113): the client preface, the SETTINGS exchange,
 * then one read loop that takes frames through the framing module (`frames.ts` over
 * {@link BufferedReader}) and keeps the stream table — each request's handler runs as its
 * own task, up to {@link MAX_CONCURRENT_STREAMS} at once, while its response goes out
 * through the connection's one {@link FrameWriter} within both flow-control windows.
 * Protocol errors end a stream (RST_STREAM) or the connection (GOAWAY with the right
 * code); shutdown sends GOAWAY and lets streams in flight finish. The counted defences are
 * in `guard.ts`. Handlers are the same as over HTTP/1.1 (`handler.ts` is the seam).
 *
 * ```ts
 * import { BufferedReader } from "../../framing.ts";
 * import type { Handler } from "../handler.ts";
 * import { H2Connection } from "./connection.ts";
 * declare const conn: Deno.Conn;
 * const handler: Handler = (req) => ({ status: 200, body: `you asked for ${req.path}\n` });
 * const clock = { phase: "keep-alive" as const, since: Date.now() };
 * await new H2Connection(conn, new BufferedReader(conn), handler, { clock }).serve();
 * ```
 *
 * @module
 */
import { type BufferedReader, equalBytes } from "../../framing.ts";
import { closeQuietly, LINGER_MS, lingeringClose } from "../../net/linger.ts";
import type { Handler } from "../handler.ts";
import { StreamGoneError } from "./body.ts";
import { SendWindow } from "./flow.ts";
import {
  checkPingPayload,
  checkPriorityPayload,
  CLIENT_PREFACE,
  encodeGoaway,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  type ErrorCodeName,
  errorCodeName,
  Flag,
  type Frame,
  FrameType,
  H2ConnectionError,
  H2StreamError,
  parseDataPayload,
  parseGoawayPayload,
  parseRstStreamPayload,
  parseSettingsPayload,
  parseWindowUpdatePayload,
  readFrame,
} from "./frames.ts";
import { H2ClockKeeper } from "./clock.ts";
import { FloodGuard } from "./guard.ts";
import { type HeaderBlock, HeaderBlockAssembler } from "./header_block.ts";
import { DEFAULT_MAX_HEADER_LIST_SIZE, HpackDecoder, HpackEncoder, HpackError } from "./hpack.ts";
import {
  admitRequest,
  createStream,
  type H2ConnectionOptions,
  type H2Stream,
  runStream,
  type StreamContext,
  traceText,
} from "./stream.ts";
import type { OutputContext } from "./response.ts";
import {
  applySettings,
  CONNECTION_RECEIVE_WINDOW,
  DEFAULT_PEER_SETTINGS,
  MAX_CONCURRENT_STREAMS,
  type PeerSettings,
  SERVER_MAX_FRAME_SIZE,
  serverSettings,
} from "./settings.ts";
import { FrameWriter } from "./writer.ts";

export type { H2Clock } from "./clock.ts";
export type { H2ConnectionOptions } from "./stream.ts";

/** The window every connection starts with before our WINDOW_UPDATE (§6.9.2). */
const INITIAL_CONNECTION_WINDOW = 65_535;
/** Largest HPACK table we let the client make our encoder use (bounds our memory). */
export const MAX_ENCODER_TABLE_SIZE = 4096;

/** One HTTP/2 connection; {@link serve} runs it to its end. */
export class H2Connection {
  readonly #conn: Deno.Conn;
  readonly #reader: BufferedReader;
  readonly #handler: Handler;
  readonly #options: H2ConnectionOptions;
  readonly #remoteAddr: Deno.NetAddr;
  readonly #client: string;
  readonly #writer: FrameWriter;
  readonly #decoder: HpackDecoder;
  readonly #encoder = new HpackEncoder();
  readonly #guard = new FloodGuard();
  readonly #blocks = new HeaderBlockAssembler(this.#guard);
  readonly #streams = new Map<number, H2Stream>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #connectionWindow = new SendWindow(INITIAL_CONNECTION_WINDOW);
  #recvWindow = CONNECTION_RECEIVE_WINDOW;
  #peer: PeerSettings = { ...DEFAULT_PEER_SETTINGS };
  #sawSettings = false;
  #lastStreamId = 0;
  /** GOAWAY sent (shutdown or error) or received: no new streams. */
  #closing = false;
  #ended = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #clock: H2ClockKeeper;

  readonly #output: OutputContext;
  readonly #streamContext: StreamContext = {
    handler: (req, ctx) => this.#handler(req, ctx),
    remoteAddr: () => this.#remoteAddr,
    client: () => this.#client,
    options: () => this.#options,
    reset: (id, code) => this.#resetStream(id, code),
    writerFailed: () => this.#writer.failed,
  };

  constructor(
    conn: Deno.Conn,
    reader: BufferedReader,
    handler: Handler,
    options: H2ConnectionOptions,
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.#handler = handler;
    this.#options = options;
    this.#remoteAddr = conn.remoteAddr as Deno.NetAddr;
    this.#client = this.#remoteAddr.hostname ?? "-";
    this.#decoder = new HpackDecoder({
      maxHeaderListSize: options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE,
    });
    this.#clock = new H2ClockKeeper(options.clock, () => ({
      streams: this.#streams.size,
      tasks: this.#tasks.size,
      closing: this.#closing,
    }));
    this.#writer = new FrameWriter(conn, {
      onBusy: (busy) => {
        this.#clock.writerBusy = busy;
        this.#clock.tick();
      },
      onProgress: () => this.#clock.tick(true),
    });
    this.#output = {
      writer: this.#writer,
      connectionWindow: this.#connectionWindow,
      peerMaxFrameSize: () => this.#peer.maxFrameSize,
      encodeHeaders: (f) => this.#encoder.encode(f),
      onWindowWait: (waiting) => {
        this.#clock.windowWaits += waiting ? 1 : -1;
        this.#clock.tick();
      },
    };
  }

  /** Serves until the client leaves, an error ends the connection, or shutdown completes. */
  async serve(): Promise<void> {
    try {
      const preface = await this.#reader.readExact(CLIENT_PREFACE.length, "the preface");
      if (!equalBytes(preface, CLIENT_PREFACE)) {
        throw new H2ConnectionError("PROTOCOL_ERROR", "bad connection preface");
      }
      const maxList = this.#options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
      this.#control(encodeSettings(serverSettings(maxList)));
      this.#control(encodeWindowUpdate(0, CONNECTION_RECEIVE_WINDOW - INITIAL_CONNECTION_WINDOW));
      for (;;) {
        const frame = await readFrame(this.#reader, SERVER_MAX_FRAME_SIZE);
        if (frame === null) break;
        try {
          this.#onFrame(frame);
        } catch (err) {
          if (!(err instanceof H2StreamError)) throw err;
          this.#resetStream(err.streamId, err.code);
        }
      }
    } catch (err) {
      if (err instanceof H2ConnectionError) this.#goaway(err.code, err.message);
      // Anything else: the socket closed, reset, or timed out; nobody is left to tell.
    } finally {
      await this.#finish();
    }
  }

  /** Graceful shutdown: GOAWAY now; the connection ends when its open streams have. */
  beginShutdown(): void {
    if (this.#closing) return;
    this.#goaway("NO_ERROR", "server shutting down");
  }

  /**
   * Answers the tracker's idle ("keep-alive") or body clock: GOAWAY, so the client knows no
   * request of its was lost, then the close once the streams left are ended.
   */
  answerTimeout(kind: string): Promise<void> {
    this.#goaway("NO_ERROR", `${kind} timeout`);
    const gone = new StreamGoneError(`${kind} timeout`);
    for (const stream of this.#streams.values()) this.#abortStream(stream, gone);
    return this.#writer.flushed();
  }

  #goaway(code: ErrorCodeName, why: string): void {
    this.#closing = true;
    this.#control(encodeGoaway(this.#lastStreamId, code, why));
    if (code === "NO_ERROR") this.#endIfIdle(); // else the read loop is ending already
  }

  /**
   * After GOAWAY, once no stream is left: the write side is shut when the GOAWAY is out, so
   * the client reads it and closes; the read loop sees that EOF (or {@link LINGER_MS} ends it).
   */
  #endIfIdle(now = false): void {
    if (!this.#closing || (!now && this.#streams.size > 0) || this.#lingerTimer !== undefined) {
      return;
    }
    this.#clock.tick();
    this.#lingerTimer = setTimeout(() => closeQuietly(this.#conn), LINGER_MS);
    this.#writer.flushed().then(() => this.#conn.closeWrite()).catch(() => {});
  }

  async #finish(): Promise<void> {
    this.#ended = true;
    const gone = new StreamGoneError("connection closed");
    for (const stream of this.#streams.values()) {
      stream.out.abort(gone);
      stream.body.fail(gone);
    }
    this.#connectionWindow.abandon();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    await this.#writer.flushed();
    clearTimeout(this.#lingerTimer);
    // A GOAWAY went out: unread input at close() would turn it into a reset that can
    // destroy the GOAWAY before the client reads it, so drain (bounded) first.
    if (this.#closing && !this.#writer.failed) await lingeringClose(this.#conn);
    closeQuietly(this.#conn);
  }

  /** Queues a control frame; a peer that lets too many pile up is dropped. */
  #control(frame: Uint8Array): void {
    if (!this.#writer.control(frame)) closeQuietly(this.#conn);
  }

  #onFrame(frame: Frame): void {
    if (this.#blocks.pending && frame.type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError("PROTOCOL_ERROR", "header block interrupted");
    }
    if (!this.#sawSettings && frame.type !== FrameType.SETTINGS) {
      throw new H2ConnectionError("PROTOCOL_ERROR", "first frame is not SETTINGS");
    }
    switch (frame.type) {
      case FrameType.DATA:
        return this.#onData(frame);
      case FrameType.HEADERS:
        return this.#onHeaderBlock(this.#blocks.headers(frame));
      case FrameType.CONTINUATION:
        return this.#onHeaderBlock(this.#blocks.continuation(frame));
      case FrameType.PRIORITY:
        // Ignored (RFC 9113 deprecates the scheme), but counted: a flood is work too.
        this.#requireStream(frame);
        this.#guard.count("control");
        return checkPriorityPayload(frame);
      case FrameType.RST_STREAM:
        return this.#onRstStream(frame);
      case FrameType.SETTINGS:
        return this.#onSettings(frame);
      case FrameType.PUSH_PROMISE:
        throw new H2ConnectionError("PROTOCOL_ERROR", "a client cannot push");
      case FrameType.PING:
        if (frame.streamId !== 0) throw new H2ConnectionError("PROTOCOL_ERROR", "PING on a stream");
        checkPingPayload(frame.payload);
        this.#guard.count("control");
        if (!(frame.flags & Flag.ACK)) this.#control(encodePing(frame.payload.slice(), true));
        return;
      case FrameType.GOAWAY:
        if (frame.streamId !== 0) {
          throw new H2ConnectionError("PROTOCOL_ERROR", "GOAWAY on a stream");
        }
        parseGoawayPayload(frame.payload);
        this.#closing = true; // the client opens no more; what is in flight finishes
        return this.#endIfIdle();
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(frame);
      default: // unknown frame types are ignored (§4.1)
    }
  }

  #requireStream(frame: Frame): void {
    if (frame.streamId === 0) {
      throw new H2ConnectionError("PROTOCOL_ERROR", `frame type ${frame.type} on stream 0`);
    }
  }

  /** A frame on a stream id the client never opened (§5.1: idle) is a connection error. */
  #requireNotIdle(frame: Frame): void {
    if (frame.streamId > this.#lastStreamId) {
      throw new H2ConnectionError("PROTOCOL_ERROR", `frame on idle stream ${frame.streamId}`);
    }
  }

  #onSettings(frame: Frame): void {
    if (frame.streamId !== 0) throw new H2ConnectionError("PROTOCOL_ERROR", "SETTINGS on a stream");
    this.#guard.count("control");
    if (frame.flags & Flag.ACK) {
      if (frame.length !== 0) {
        throw new H2ConnectionError("FRAME_SIZE_ERROR", "SETTINGS ACK with data");
      }
      return;
    }
    this.#sawSettings = true;
    const next = applySettings(this.#peer, parseSettingsPayload(frame.payload));
    const delta = next.initialWindowSize - this.#peer.initialWindowSize;
    if (delta !== 0) {
      for (const stream of this.#streams.values()) {
        if (!stream.out.window.grow(delta)) {
          throw new H2ConnectionError("FLOW_CONTROL_ERROR", "stream window over 2^31-1");
        }
      }
    }
    if (next.headerTableSize !== this.#peer.headerTableSize) {
      this.#encoder.setMaxTableSize(Math.min(next.headerTableSize, MAX_ENCODER_TABLE_SIZE));
    }
    this.#peer = next;
    this.#control(encodeSettings([], true));
  }

  #onWindowUpdate(frame: Frame): void {
    const increment = parseWindowUpdatePayload(frame.payload);
    if (frame.streamId === 0) {
      if (increment === 0) throw new H2ConnectionError("PROTOCOL_ERROR", "WINDOW_UPDATE of 0");
      if (!this.#connectionWindow.grow(increment)) {
        throw new H2ConnectionError("FLOW_CONTROL_ERROR", "connection window over 2^31-1");
      }
    } else {
      this.#requireNotIdle(frame);
      const stream = this.#streams.get(frame.streamId);
      if (stream === undefined) return; // closed: ignored (§6.9)
      if (increment === 0) {
        throw new H2StreamError("PROTOCOL_ERROR", frame.streamId, "WINDOW_UPDATE of 0");
      }
      if (!stream.out.window.grow(increment)) {
        throw new H2StreamError("FLOW_CONTROL_ERROR", frame.streamId, "window over 2^31-1");
      }
    }
    if (this.#clock.windowWaits > 0) this.#clock.tick(true);
  }

  #onRstStream(frame: Frame): void {
    this.#requireStream(frame);
    const code = parseRstStreamPayload(frame.payload);
    this.#requireNotIdle(frame);
    this.#guard.count("reset");
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined) return;
    stream.remoteClosed = true;
    this.#abortStream(stream, new StreamGoneError(`reset by the client (${errorCodeName(code)})`));
  }

  #onData(frame: Frame): void {
    this.#requireStream(frame);
    this.#requireNotIdle(frame);
    this.#recvWindow -= frame.length;
    if (this.#recvWindow < 0) {
      throw new H2ConnectionError("FLOW_CONTROL_ERROR", "DATA past the connection window");
    }
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined || stream.remoteClosed) {
      this.#returnCredit(null, frame.length); // nobody reads it, but the window must refill
      if (stream !== undefined) {
        throw new H2StreamError("STREAM_CLOSED", frame.streamId, "DATA after END_STREAM");
      }
      return;
    }
    stream.recvWindow -= frame.length;
    if (stream.recvWindow < 0) {
      this.#returnCredit(null, frame.length);
      throw new H2StreamError("FLOW_CONTROL_ERROR", frame.streamId, "DATA past the window");
    }
    const data = parseDataPayload(frame);
    const endStream = (frame.flags & Flag.END_STREAM) !== 0;
    if (data.length === 0 && !endStream) this.#guard.count("empty");
    const unread = frame.length - data.length + stream.body.push(data);
    if (unread > 0) this.#returnCredit(stream, unread); // padding, or over --max-body
    if (endStream) {
      stream.remoteClosed = true;
      stream.body.end();
    }
    if (this.#clock.bodyWaits > 0) this.#clock.tick(true);
  }

  /** Gives `n` bytes of receive window back: the connection's, and the stream's if open. */
  #returnCredit(stream: H2Stream | null, n: number): void {
    if (n === 0 || this.#ended) return;
    this.#recvWindow += n;
    this.#control(encodeWindowUpdate(0, n));
    if (stream !== null && !stream.remoteClosed) {
      stream.recvWindow += n;
      this.#control(encodeWindowUpdate(stream.id, n));
    }
  }

  #onHeaderBlock(complete: HeaderBlock | null): void {
    if (complete === null) return;
    const { streamId: id, block, endStream } = complete;
    let fields: [string, string][] | null = null;
    try {
      fields = this.#decoder.decode(block);
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      if (err.code !== "HEADER_LIST_TOO_LARGE") {
        throw new H2ConnectionError("COMPRESSION_ERROR", err.message);
      }
      // The table stayed in step; this request alone is refused (431 below).
    }
    if (id <= this.#lastStreamId) {
      const stream = this.#streams.get(id);
      // Trailers racing our RST_STREAM (an early 413) are ignored, not fatal (§5.4.2).
      if (stream === undefined && endStream) return;
      if (stream === undefined || stream.remoteClosed) {
        throw new H2ConnectionError("STREAM_CLOSED", `HEADERS on closed stream ${id}`);
      }
      // Trailers: they end the body; their fields are not passed on.
      if (!endStream) throw new H2StreamError("PROTOCOL_ERROR", id, "trailers without END_STREAM");
      stream.remoteClosed = true;
      stream.body.end();
      return;
    }
    this.#lastStreamId = id;
    if (this.#closing || this.#ended) {
      this.#control(encodeRstStream(id, "REFUSED_STREAM")); // after GOAWAY: retry elsewhere
      return;
    }
    if (this.#tasks.size >= MAX_CONCURRENT_STREAMS) {
      // Counted by handlers still running, not by what the client thinks is open: a reset
      // stream whose handler still works keeps its slot (rapid reset cannot pile up work).
      this.#control(encodeRstStream(id, "REFUSED_STREAM"));
      this.#guard.count("reset"); // opening streams to be refused is rapid reset too
      return;
    }
    this.#openStream(id, fields, endStream);
  }

  #openStream(id: number, fields: [string, string][] | null, endStream: boolean): void {
    const maxBody = this.#options.maxBodyBytes ?? Infinity;
    const { head, refusal } = admitRequest(fields, id, endStream, {
      maxHeaderFields: this.#options.maxHeaderFields ?? Infinity,
      maxBodyBytes: maxBody,
    });
    const length = head?.body.kind === "length" ? head.body.length : null;
    const stream = createStream({
      id,
      endStream,
      sendWindow: this.#peer.initialWindowSize,
      maxBodyBytes: maxBody,
      expectedLength: length,
      output: this.#output,
      returnCredit: (n) => this.#returnCredit(stream, n),
      onBodyWait: (waiting) => {
        this.#clock.bodyWaits += waiting ? 1 : -1;
        this.#clock.tick();
      },
    });
    this.#streams.set(id, stream);
    if (head !== null) this.#options.onHead?.(this.#client, traceText(head));
    const task = runStream(this.#streamContext, stream, head, refusal);
    this.#tasks.add(task);
    task.finally(() => {
      this.#tasks.delete(task);
      this.#streams.delete(id);
      this.#clock.tick();
      this.#endIfIdle();
    });
    this.#clock.tick();
  }

  #resetStream(id: number, code: ErrorCodeName): void {
    this.#control(encodeRstStream(id, code));
    const stream = this.#streams.get(id);
    if (stream === undefined) return;
    stream.remoteClosed = true;
    this.#abortStream(stream, new StreamGoneError(`stream reset (${code})`));
  }

  #abortStream(stream: H2Stream, why: Error): void {
    // Closed for the protocol from now on: late DATA is credited back and dropped, not
    // answered with one more RST_STREAM each. Its handler keeps its slot until it returns.
    this.#streams.delete(stream.id);
    stream.out.abort(why);
    const unread = stream.body.fail(why);
    if (unread > 0) this.#returnCredit(null, unread);
    // A writer waiting on the connection window must wake to see its stream is gone.
    this.#connectionWindow.abandon();
  }
}
