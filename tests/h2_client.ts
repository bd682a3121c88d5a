/**
 * A raw HTTP/2 client for tests: a TCP socket on which a test writes hand-made frames
 * (floods, bad frames, exact windows) and reads back what the server sends, frame by
 * frame. Header blocks are encoded and decoded with the project's HPACK, as a client's
 * would be; everything else is bytes the test chose.
 *
 * ```ts
 * import { H2TestClient } from "./h2_client.ts";
 * declare const port: number;
 * await using client = await H2TestClient.connect(port);
 * client.request(1, "GET", "/");
 * const res = await client.response(1);
 * console.log(res.status, res.body.length);
 * ```
 *
 * @module
 */
import { BufferedReader, writeAll } from "../lib/framing.ts";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeHeaderBlock,
  encodeSettings,
  errorCodeName,
  Flag,
  type Frame,
  FrameType,
  MAX_ALLOWED_FRAME_SIZE,
  parseGoawayPayload,
  parseHeadersPayload,
  parseRstStreamPayload,
  readFrame,
} from "../lib/http/h2/frames.ts";
import { HpackDecoder, HpackEncoder } from "../lib/http/h2/hpack.ts";

/** A response as the client saw it. */
export interface H2TestResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
  /** The RST_STREAM code name, when the stream was reset instead of ending. */
  reset: string | null;
}

/** What ended a connection from the client's side. */
export interface H2TestGoaway {
  code: string;
  lastStreamId: number;
  debug: string;
}

/** One raw HTTP/2 connection. */
export class H2TestClient implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly reader: BufferedReader;
  readonly encoder = new HpackEncoder();
  readonly decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
  /** Frames read but not yet asked for by a `response()` of their stream. */
  readonly backlog: Frame[] = [];
  goaway: H2TestGoaway | null = null;
  /** Header lists of the HEADERS frames read so far. */
  readonly decoded = new WeakMap<Frame, [string, string][]>();

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.reader = new BufferedReader(conn);
  }

  /**
   * Connects, sends the preface and SETTINGS (`settings` pairs), and ACKs the server's
   * SETTINGS as they arrive (in {@link next}).
   */
  static async connect(
    port: number,
    settings: [number, number][] = [],
  ): Promise<H2TestClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new H2TestClient(conn);
    await client.send(CLIENT_PREFACE, encodeSettings(settings));
    return client;
  }

  /** Writes frames (or any bytes) as one write. */
  async send(...parts: Uint8Array[]): Promise<void> {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    await writeAll(this.conn, out);
  }

  /** A HEADERS frame (END_HEADERS) with this header list, HPACK-encoded. */
  headersFrame(streamId: number, fields: [string, string][], endStream: boolean): Uint8Array {
    return encodeHeaderBlock(streamId, this.encoder.encode(fields), endStream, 16_384);
  }

  /** Sends a request's HEADERS; `extra` fields after the pseudo-headers. */
  request(
    streamId: number,
    method: string,
    path: string,
    extra: [string, string][] = [],
    endStream = true,
  ): Promise<void> {
    return this.send(this.headersFrame(streamId, [
      [":method", method],
      [":scheme", "http"],
      [":path", path],
      [":authority", "127.0.0.1"],
      ...extra,
    ], endStream));
  }

  /**
   * The next frame from the server (null at EOF or reset); SETTINGS are ACKed and
   * GOAWAY is remembered in {@link goaway} on the way.
   */
  async next(): Promise<Frame | null> {
    let frame: Frame | null;
    try {
      frame = await readFrame(this.reader, MAX_ALLOWED_FRAME_SIZE);
    } catch {
      return null;
    }
    if (frame === null) return null;
    frame = { ...frame, payload: frame.payload.slice() };
    if (frame.type === FrameType.SETTINGS && !(frame.flags & Flag.ACK)) {
      await this.send(encodeSettings([], true)).catch(() => {});
    }
    if (frame.type === FrameType.HEADERS) {
      // Decoded as it arrives: HPACK state follows the order of frames on the connection.
      this.decoded.set(frame, this.decoder.decode(parseHeadersPayload(frame)));
    }
    if (frame.type === FrameType.GOAWAY) {
      const g = parseGoawayPayload(frame.payload);
      this.goaway = {
        code: errorCodeName(g.errorCode),
        lastStreamId: g.lastStreamId,
        debug: new TextDecoder().decode(g.debug),
      };
    }
    return frame;
  }

  /** Reads until a frame matches; null if the connection ends first. */
  async until(match: (f: Frame) => boolean): Promise<Frame | null> {
    for (;;) {
      const frame = await this.next();
      if (frame === null) return null;
      if (match(frame)) return frame;
      if (frame.streamId !== 0) this.backlog.push(frame);
    }
  }

  /** Reads until GOAWAY (then EOF, or whatever follows); null if the connection just ends. */
  async awaitGoaway(): Promise<H2TestGoaway | null> {
    await this.until((f) => f.type === FrameType.GOAWAY);
    return this.goaway;
  }

  /** Reads to EOF; true once the server closed the connection. */
  async closed(): Promise<boolean> {
    while ((await this.next()) !== null) { /* drain */ }
    return true;
  }

  /** Collects stream `id`'s response: headers, DATA to END_STREAM, or its RST_STREAM. */
  async response(id: number): Promise<H2TestResponse> {
    const headers = new Map<string, string>();
    const chunks: Uint8Array[] = [];
    let status = 0;
    let reset: string | null = null;
    const take = (): Promise<Frame | null> => {
      const i = this.backlog.findIndex((f) => f.streamId === id);
      if (i !== -1) return Promise.resolve(this.backlog.splice(i, 1)[0]);
      return this.until((f) => f.streamId === id);
    };
    for (;;) {
      const frame = await take();
      if (frame === null) throw new Error(`connection ended before stream ${id} did`);
      if (frame.type === FrameType.HEADERS) {
        for (const [n, v] of this.decoded.get(frame) ?? []) {
          if (n === ":status") status = Number(v);
          else headers.set(n, v);
        }
      } else if (frame.type === FrameType.DATA) {
        chunks.push(frame.payload);
      } else if (frame.type === FrameType.RST_STREAM) {
        reset = errorCodeName(parseRstStreamPayload(frame.payload));
        break;
      }
      if (frame.flags & Flag.END_STREAM && frame.type !== FrameType.RST_STREAM) {
        // A server may follow an early answer with RST_STREAM(NO_ERROR); not waited for.
        break;
      }
    }
    const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.length;
    }
    return { status, headers, body, reset };
  }

  /** A PING round trip: proves the connection is still served. */
  async ping(): Promise<boolean> {
    const data = new Uint8Array(8).fill(0x5a);
    await this.send(encodeFrame(FrameType.PING, 0, 0, data));
    const ack = await this.until((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0);
    return ack !== null;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
