/**
 * Joining one header block from a HEADERS frame and the CONTINUATION frames after it
 * (RFC 9113 §4.3, §6.10), bounded before anything is decoded: at most
 * {@link MAX_HEADER_BLOCK_BYTES} and {@link MAX_CONTINUATION_FRAMES}, and empty
 * CONTINUATIONs counted as flood — the CONTINUATION flood (CVE-2024-27316) ends here with
 * ENHANCE_YOUR_CALM instead of growing a buffer.
 *
 * ```ts
 * import { HeaderBlockAssembler } from "./header_block.ts";
 * import { FloodGuard } from "./guard.ts";
 * const blocks = new HeaderBlockAssembler(new FloodGuard());
 * console.log(blocks.pending); // false: no block is open
 * ```
 *
 * @module
 */
import {
  Flag,
  type Frame,
  H2ConnectionError,
  H2StreamError,
  parseHeadersPayload,
} from "./frames.ts";
import { type FloodGuard, MAX_CONTINUATION_FRAMES, MAX_HEADER_BLOCK_BYTES } from "./guard.ts";

/** A complete header block and what its HEADERS frame said. */
export interface HeaderBlock {
  streamId: number;
  endStream: boolean;
  block: Uint8Array;
}

interface Pending {
  streamId: number;
  endStream: boolean;
  parts: Uint8Array[];
  bytes: number;
  continuations: number;
}

function tooLarge(): never {
  throw new H2ConnectionError(
    "ENHANCE_YOUR_CALM",
    `header block over ${MAX_HEADER_BLOCK_BYTES} bytes`,
  );
}

/** One connection's header block in the making. */
export class HeaderBlockAssembler {
  #guard: FloodGuard;
  #pending: Pending | null = null;

  constructor(guard: FloodGuard) {
    this.#guard = guard;
  }

  /** True while a block waits for CONTINUATION (any other frame is then an error). */
  get pending(): boolean {
    return this.#pending !== null;
  }

  /** A HEADERS frame: its block if END_HEADERS, else null (CONTINUATIONs follow). */
  headers(frame: Frame): HeaderBlock | null {
    const id = frame.streamId;
    if (id === 0 || id % 2 === 0) {
      throw new H2ConnectionError("PROTOCOL_ERROR", `HEADERS on stream ${id}`);
    }
    let fragment: Uint8Array;
    try {
      fragment = parseHeadersPayload(frame);
    } catch (err) {
      // The block would still have to be decoded to keep HPACK in step: give up instead.
      if (err instanceof H2StreamError) throw new H2ConnectionError(err.code, err.message);
      throw err;
    }
    const endStream = (frame.flags & Flag.END_STREAM) !== 0;
    if (fragment.length > MAX_HEADER_BLOCK_BYTES) tooLarge();
    if (frame.flags & Flag.END_HEADERS) return { streamId: id, endStream, block: fragment };
    this.#pending = {
      streamId: id,
      endStream,
      parts: [fragment.slice()], // the reader's buffer is reused by the next frame
      bytes: fragment.length,
      continuations: 0,
    };
    return null;
  }

  /** A CONTINUATION frame: the whole block once END_HEADERS arrives, else null. */
  continuation(frame: Frame): HeaderBlock | null {
    const pending = this.#pending;
    if (pending === null || pending.streamId !== frame.streamId) {
      throw new H2ConnectionError("PROTOCOL_ERROR", "CONTINUATION without its HEADERS");
    }
    const end = (frame.flags & Flag.END_HEADERS) !== 0;
    if (++pending.continuations > MAX_CONTINUATION_FRAMES) {
      throw new H2ConnectionError(
        "ENHANCE_YOUR_CALM",
        `more than ${MAX_CONTINUATION_FRAMES} CONTINUATION frames`,
      );
    }
    if (frame.length === 0 && !end) this.#guard.count("empty");
    pending.bytes += frame.length;
    if (pending.bytes > MAX_HEADER_BLOCK_BYTES) tooLarge();
    pending.parts.push(frame.payload.slice());
    if (!end) return null;
    this.#pending = null;
    const block = new Uint8Array(pending.bytes);
    let at = 0;
    for (const part of pending.parts) {
      block.set(part, at);
      at += part.length;
    }
    return { streamId: pending.streamId, endStream: pending.endStream, block };
  }
}
