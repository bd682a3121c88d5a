/**
 * HTTP/2 SETTINGS (RFC 9113 §6.5.2): the peer's values applied and checked one by one, and
 * what the server announces about itself. The server's numbers are the bounds of its
 * defences: concurrent streams, the per-stream receive window (how much request body one
 * stream can make us buffer), the frame size and the header list size.
 *
 * ```ts
 * import { applySettings, DEFAULT_PEER_SETTINGS, SettingId } from "./settings.ts";
 * const peer = applySettings(DEFAULT_PEER_SETTINGS, [[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]);
 * console.log(peer.initialWindowSize); // 1048576
 * ```
 *
 * @module
 */
import {
  DEFAULT_MAX_FRAME_SIZE,
  H2ConnectionError,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE,
} from "./frames.ts";

/** Setting identifiers (§6.5.2). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** A peer's settings as they stand. */
export interface PeerSettings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
}

/** The initial values every endpoint assumes until told otherwise (§6.5.2). */
export const DEFAULT_PEER_SETTINGS: Readonly<PeerSettings> = Object.freeze({
  headerTableSize: 4096,
  enablePush: true,
  maxConcurrentStreams: Infinity,
  initialWindowSize: 65_535,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxHeaderListSize: Infinity,
});

/** Streams one client may have open at once; one more is refused with REFUSED_STREAM. */
export const MAX_CONCURRENT_STREAMS = 100;
/**
 * Our receive window per stream: the most request body one stream can make us buffer
 * before its handler reads (credit is returned only as the handler consumes).
 */
export const STREAM_RECEIVE_WINDOW = 64 * 1024;
/**
 * Our receive window for the whole connection (raised from 65 535 by a WINDOW_UPDATE at
 * the start): what all of a connection's streams together can make us buffer.
 */
export const CONNECTION_RECEIVE_WINDOW = 1024 * 1024;
/** The largest frame we accept: the RFC's default, so payload buffers stay at 16 KiB. */
export const SERVER_MAX_FRAME_SIZE = DEFAULT_MAX_FRAME_SIZE;

/** Applies the peer's settings in order; a value out of range is a connection error. */
export function applySettings(
  current: Readonly<PeerSettings>,
  pairs: readonly [number, number][],
): PeerSettings {
  const next = { ...current };
  for (const [id, value] of pairs) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        next.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        if (value > 1) throw new H2ConnectionError("PROTOCOL_ERROR", "ENABLE_PUSH not 0 or 1");
        next.enablePush = value === 1;
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        next.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW_SIZE) {
          throw new H2ConnectionError("FLOW_CONTROL_ERROR", "INITIAL_WINDOW_SIZE over 2^31-1");
        }
        next.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
          throw new H2ConnectionError("PROTOCOL_ERROR", "MAX_FRAME_SIZE out of range");
        }
        next.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        next.maxHeaderListSize = value;
        break;
      default: // unknown settings are ignored (§6.5.2)
    }
  }
  return next;
}

/** What the server announces in its first SETTINGS frame. */
export function serverSettings(maxHeaderListSize: number): [number, number][] {
  return [
    [SettingId.ENABLE_PUSH, 0],
    [SettingId.MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS],
    [SettingId.INITIAL_WINDOW_SIZE, STREAM_RECEIVE_WINDOW],
    [SettingId.MAX_FRAME_SIZE, SERVER_MAX_FRAME_SIZE],
    [SettingId.MAX_HEADER_LIST_SIZE, maxHeaderListSize],
  ];
}
