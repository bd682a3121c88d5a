/**
 * `sockit echo-server --udp`: RFC 862's UDP echo on the shared datagram core
 * (`lib/net/udp.ts`). Every datagram is one message: it comes back as it was, or as
 * `--reply` (in line mode with the datagram's own line ending, as over TCP); each one is
 * logged like a TCP message.
 *
 * ```ts
 * import { resolveEchoServerConfig } from "./config.ts";
 * import { createEchoUdpServer } from "./udp_server.ts";
 * const server = createEchoUdpServer(
 *   resolveEchoServerConfig({ host: "127.0.0.1", port: 0, udp: true }),
 * );
 * console.log(typeof server.listen); // needs deno run --unstable-net
 * ```
 *
 * @module
 */
import { concatBytes } from "../framing.ts";
import { DEFAULT_LOG_PREVIEW_BYTES, escapeBytes, EventLog } from "../log.ts";
import { describePeer, UdpServer } from "../net/udp.ts";
import type { EchoServerConfig } from "./config.ts";

const LF = 0x0a;
const CR = 0x0d;

/** What answers `data` in `config`'s mode: the echo, or `--reply` with the line ending. */
function answerFor(config: EchoServerConfig, data: Uint8Array): Uint8Array {
  const reply = config.reply;
  if (reply === null) return data;
  if (config.mode !== "line" || data.length === 0 || data[data.length - 1] !== LF) return reply;
  const crlf = data.length >= 2 && data[data.length - 2] === CR;
  return concatBytes(reply, crlf ? new Uint8Array([CR, LF]) : new Uint8Array([LF]));
}

/** The UDP echo server a config with `udp` describes. */
export function createEchoUdpServer(
  config: EchoServerConfig,
  log: EventLog = new EventLog({ json: config.json }),
): UdpServer {
  return new UdpServer({
    host: config.host,
    port: config.port,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    log: log.event,
    handler: (data, peer) => {
      if (!config.quiet) {
        const who = describePeer(peer);
        const shown = escapeBytes(data, DEFAULT_LOG_PREVIEW_BYTES);
        log.event(
          "datagram",
          { peer: who, bytes: data.length, data: shown },
          `${who} sent a ${data.length}-byte datagram: ${shown}`,
        );
      }
      return answerFor(config, data);
    },
  });
}
