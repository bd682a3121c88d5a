/**
 * `sockit echo-client --udp`: RFC 862's UDP echo, pinged. Each message is one datagram;
 * the reply is the next datagram from the server within `--timeout`, or the message
 * counts as lost. Like ping, it reports loss and round-trip times, and exits 0 when at
 * least one reply came back (1 when none did, or on an `--expect` mismatch).
 *
 * ```ts
 * import { runUdpEcho } from "./udp_client.ts";
 * const result = await runUdpEcho({
 *   host: "127.0.0.1", port: 9000, messages: [new TextEncoder().encode("ping")],
 *   count: 3, intervalMs: 200, timeoutMs: 1000,
 *   onReply: (seq, reply, rttMs) => console.log(seq, reply.length, rttMs),
 *   onLost: (seq) => console.log(`seq=${seq} lost`),
 * });
 * console.log(result.received, "of", result.sent);
 * ```
 *
 * Replies are not tagged (a plain echo server sends back exactly what it got), so a reply
 * that arrives after its message was given up as lost is taken for the next one's; with
 * `--interval` longer than the network's worst delay that does not happen.
 *
 * @module
 */

import { ConfigError, EXIT_FAILURE, EXIT_OK } from "../errors.ts";
import { concatBytes, equalBytes, stripLineEnding } from "../framing.ts";
import type { EchoClientFlags, Mode } from "./client_flags.ts";
import { describeNetworkError, type ServerAddress } from "./connect.ts";
import {
  NEWLINE,
  printLine,
  printSummary,
  quote,
  stdinMessages,
  summarizeRtts,
  writeStdout,
} from "./output.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest UDP payload over IPv4 (65535 − 8-byte UDP header − 20-byte IP header). */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

/** What {@link runUdpEcho} sends. */
export interface UdpEchoOptions {
  host: string;
  port: number;
  /** Sent in order, `count` times over. */
  messages: Uint8Array[];
  count: number;
  intervalMs: number;
  /** How long to wait for each reply before counting the message as lost. */
  timeoutMs: number;
  onReply: (seq: number, reply: Uint8Array, rttMs: number) => Promise<void> | void;
  onLost: (seq: number) => Promise<void> | void;
  /** Stops the run early (Ctrl-C): resolves when it should stop. */
  interrupted?: Promise<unknown>;
}

/** What happened. */
export interface UdpEchoResult {
  sent: number;
  received: number;
  rttsMs: number[];
}

/**
 * An address to send to: IP literals as they are, `localhost` as 127.0.0.1, other names
 * through DNS (A records), falling back to the name itself.
 */
async function resolveHost(host: string): Promise<string> {
  if (host === "localhost") return "127.0.0.1";
  if (/^[\d.]+$/.test(host) || host.includes(":")) return host;
  try {
    const [address] = await Deno.resolveDns(host, "A");
    return address ?? host;
  } catch {
    return host;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends the datagrams and collects the replies; throws on socket errors. */
export async function runUdpEcho(options: UdpEchoOptions): Promise<UdpEchoResult> {
  const hostname = await resolveHost(options.host);
  const local = Deno.listenDatagram({
    hostname: hostname.includes(":") ? "::" : "0.0.0.0",
    port: 0,
    transport: "udp",
  });
  const server: Deno.NetAddr = { transport: "udp", hostname, port: options.port };
  const result: UdpEchoResult = { sent: 0, received: 0, rttsMs: [] };
  // One receive is always pending; a timed-out wait leaves it for the next message.
  let next: Promise<[Uint8Array, Deno.Addr] | null> = local.receive().catch(() => null);
  let stop = false;
  options.interrupted?.then(() => {
    stop = true;
  });
  try {
    outer: for (let round = 0; round < options.count; round++) {
      for (const message of options.messages) {
        if (stop) break outer;
        if (result.sent > 0 && options.intervalMs > 0) {
          await Promise.race([sleep(options.intervalMs), options.interrupted]);
          if (stop) break outer;
        }
        const seq = ++result.sent;
        const t0 = performance.now();
        await local.send(message, server);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
        });
        const got = await Promise.race([
          next,
          timeout,
          options.interrupted?.then(() => "stop" as const),
        ]);
        clearTimeout(timer);
        if (got === "stop") {
          result.sent--; // not given its chance
          break outer;
        }
        if (got === "timeout" || got === null || got === undefined) {
          await options.onLost(seq);
          if (got === null) throw new Error("the UDP socket failed");
          continue;
        }
        next = local.receive().catch(() => null);
        const rttMs = performance.now() - t0;
        result.received++;
        result.rttsMs.push(rttMs);
        await options.onReply(seq, got[0], rttMs);
      }
    }
  } finally {
    local.close();
    await next; // settles as the socket closes
  }
  return result;
}

/**
 * `--udp`: every message is one datagram (line mode adds the newline, as over TCP); see
 * udp_client.ts. Exit 0 when at least one reply came back, like ping.
 */
export async function runUdpMode(
  addr: ServerAddress,
  where: string,
  mode: Mode,
  messages: string[],
  flags: EchoClientFlags,
  timeoutMs: number,
): Promise<number> {
  if (mode === "length") {
    throw new ConfigError("--udp sends datagrams: --mode length does not apply (use raw or line)");
  }
  const texts = messages.length > 0 ? messages : await stdinMessages();
  const datagrams = texts.map((m) =>
    encoder.encode(mode === "line" && !m.endsWith("\n") ? m + "\n" : m)
  );
  const tooBig = datagrams.find((d) => d.length > MAX_UDP_PAYLOAD_BYTES);
  if (tooBig !== undefined) {
    throw new ConfigError(
      `a ${tooBig.length}-byte message does not fit in one UDP datagram (at most ${MAX_UDP_PAYLOAD_BYTES})`,
    );
  }
  const expect = flags.expect === undefined ? null : encoder.encode(flags.expect);
  const json = flags.json ?? false;
  const withStats = flags.count !== undefined;
  const content = (reply: Uint8Array) => mode === "line" ? stripLineEnding(reply) : reply;
  let mismatch = false;
  let onInterrupt = () => {};
  const interrupted = new Promise<void>((resolve) => {
    onInterrupt = () => resolve();
  });
  if (withStats) Deno.addSignalListener("SIGINT", onInterrupt);
  let result;
  try {
    result = await runUdpEcho({
      host: addr.host,
      port: addr.port,
      messages: datagrams,
      count: flags.count ?? 1,
      intervalMs: (flags.interval ?? 0) * 1000,
      timeoutMs: timeoutMs > 0 ? timeoutMs : 5_000,
      interrupted,
      onReply: async (seq, reply, rttMs) => {
        if (json) {
          await printLine(JSON.stringify({
            event: "reply",
            seq,
            bytes: reply.length,
            rtt_ms: Number(rttMs.toFixed(3)),
            reply: decoder.decode(content(reply)),
          }));
        } else if (withStats) {
          await printLine(
            `${reply.length} bytes from ${where}: seq=${seq} time=${rttMs.toFixed(3)} ms`,
          );
        } else {
          await writeStdout(concatBytes(content(reply), NEWLINE));
        }
        if (expect && !equalBytes(content(reply), expect)) {
          if (!mismatch) {
            console.error(
              `sockit: ${where}: expected ${quote(expect)} but got ${quote(content(reply))}`,
            );
          }
          mismatch = true;
        }
      },
      onLost: async (seq) => {
        if (json) await printLine(JSON.stringify({ event: "lost", seq }));
        else await printLine(`no reply to seq=${seq} from ${where} within ${timeoutMs / 1000} s`);
      },
    });
  } catch (err) {
    console.error(`sockit: ${where}: ${describeNetworkError(err, addr.host)}`);
    return EXIT_FAILURE;
  } finally {
    if (withStats) Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  if (withStats || json) {
    await printSummary(where, `udp ${mode}`, summarizeRtts(result.sent, result.rttsMs), json);
  }
  if (result.received === 0) {
    console.error(`sockit: ${where}: no reply to any of ${result.sent} datagram(s)`);
    return EXIT_FAILURE;
  }
  return mismatch ? EXIT_FAILURE : EXIT_OK;
}
