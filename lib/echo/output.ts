/**
 * How echo-client talks to its user, shared by its TCP, UDP and load modes: replies as
 * text, stdout writes that survive a closed pipe, the ping-style summary, stdin as lines.
 *
 * ```ts
 * import { printSummary, summarizeRtts } from "./output.ts";
 * await printSummary("127.0.0.1:9000", "line", summarizeRtts(3, [0.2, 0.1, 0.3]), false);
 * ```
 *
 * @module
 */
import { BufferedReader, stripLineEnding, UnexpectedEofError, writeAll } from "../framing.ts";
import { DEFAULT_LOG_PREVIEW_BYTES } from "../log.ts";

/** Read buffer for stdin lines. */
const STDIN_BUFFER_BYTES = 64 * 1024;
/** Longest stdin line. */
const MAX_STDIN_LINE_BYTES = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Round-trip statistics, as printed by the summary. */
export interface RttSummary {
  sent: number;
  received: number;
  lossPercent: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
  p99Ms: number;
}

/** Computes the ping-style summary (pure); the p99 is the nearest-rank percentile. */
export function summarizeRtts(sent: number, rttsMs: readonly number[]): RttSummary {
  const received = rttsMs.length;
  const sorted = [...rttsMs].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  const rank = Math.max(1, Math.ceil(0.99 * received));
  return {
    sent,
    received,
    lossPercent: sent === 0 ? 0 : ((sent - received) / sent) * 100,
    minMs: received ? sorted[0] : 0,
    avgMs: received ? sum / received : 0,
    maxMs: received ? sorted[received - 1] : 0,
    p99Ms: received ? sorted[rank - 1] : 0,
  };
}

/** Prints text for humans; a reply is shown as text, invalid UTF-8 replaced. */
export function quote(bytes: Uint8Array): string {
  const shown = bytes.length > DEFAULT_LOG_PREVIEW_BYTES
    ? decoder.decode(bytes.subarray(0, DEFAULT_LOG_PREVIEW_BYTES)) +
      `…(+${bytes.length - DEFAULT_LOG_PREVIEW_BYTES} bytes)`
    : decoder.decode(bytes);
  return JSON.stringify(shown);
}

/** Writes to stdout; a closed stdout (e.g. `| head`) just stops the output. */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  try {
    await writeAll(Deno.stdout, bytes);
  } catch { /* stdout closed */ }
}

export function printLine(line: string): Promise<void> {
  return writeStdout(encoder.encode(line + "\n"));
}

export const NEWLINE = new Uint8Array([0x0a]);

/** Yields stdin's lines (terminator included; a last unterminated line too). */
export async function* stdinLines(): AsyncGenerator<Uint8Array> {
  const reader = new BufferedReader(Deno.stdin, { initialBufferBytes: STDIN_BUFFER_BYTES });
  for (;;) {
    let line: Uint8Array | null;
    try {
      line = await reader.readLine({ maxBytes: MAX_STDIN_LINE_BYTES });
    } catch (err) {
      if (err instanceof UnexpectedEofError) {
        yield reader.takeBuffered().slice();
        return;
      }
      throw err;
    }
    if (line === null) return;
    yield line.slice();
  }
}

/** The ping-style summary, as text or one JSON object. */
export async function printSummary(
  where: string,
  mode: string,
  s: RttSummary,
  json: boolean,
): Promise<void> {
  if (json) {
    await printLine(JSON.stringify({
      event: "summary",
      address: where,
      mode,
      sent: s.sent,
      received: s.received,
      loss_percent: Number(s.lossPercent.toFixed(1)),
      min_ms: Number(s.minMs.toFixed(3)),
      avg_ms: Number(s.avgMs.toFixed(3)),
      max_ms: Number(s.maxMs.toFixed(3)),
      p99_ms: Number(s.p99Ms.toFixed(3)),
    }));
    return;
  }
  await printLine(`--- ${where} echo statistics ---`);
  await printLine(
    `${s.sent} messages sent, ${s.received} received, ${Number(s.lossPercent.toFixed(1))}% loss`,
  );
  if (s.received > 0) {
    await printLine(
      `rtt min/avg/max/p99 = ${s.minMs.toFixed(3)}/${s.avgMs.toFixed(3)}/${s.maxMs.toFixed(3)}/${
        s.p99Ms.toFixed(3)
      } ms`,
    );
  }
}

/** Stdin's lines as messages (terminators dropped), for datagram mode. */
export async function stdinMessages(): Promise<string[]> {
  const out: string[] = [];
  for await (const line of stdinLines()) out.push(decoder.decode(stripLineEnding(line)));
  return out;
}
