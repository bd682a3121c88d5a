/**
 * The datagram side of the server core: bind a UDP socket, receive datagrams one at a time,
 * hand each to a {@link DatagramHandler} that returns the answer (or null for none), send it
 * back to the sender, and stop gracefully. A UDP subcommand (`time-server --udp`) is such a
 * handler plus its flags; binding, errors, logging and shutdown are written here once.
 *
 * Bounded by design: one receive buffer of {@link DATAGRAM_BUFFER_BYTES} (the largest UDP
 * payload fits, so nothing is ever truncated), one datagram handled at a time (the kernel's
 * socket buffer queues the rest and drops what does not fit, as UDP may), and error lines at
 * most once per {@link UDP_ERROR_LOG_INTERVAL_MS} per kind. An empty datagram is a datagram
 * like any other. `Deno.listenDatagram` exists only under `deno run --unstable-net` (the
 * `sockit` binary and `deno task start` have it); without it {@link UdpServer.listen} throws
 * one {@link RuntimeFailure} saying so.
 *
 * ```ts
 * import { UdpServer } from "./udp.ts";
 * // An echo service (RFC 862 over UDP): the answer is the datagram itself.
 * const server = new UdpServer({
 *   host: "127.0.0.1",
 *   port: 0,
 *   handler: (data) => data,
 *   shutdownTimeoutMs: 1000,
 *   log: (_event, _fields, text) => console.log(text),
 * });
 * const { port } = server.listen(); // needs --unstable-net
 * const serving = server.serve();
 * await server.shutdown("SIGTERM");
 * await serving;
 * console.log(port);
 * ```
 *
 * @module
 */
import { describeError, describeOsError, RuntimeFailure } from "../errors.ts";
import type { AcceptLog } from "./accept.ts";
import { formatHost } from "./address.ts";
import { bindFailureCause } from "./listen.ts";
import { LogThrottle } from "./log_throttle.ts";
import type { RunnableServer } from "./run.ts";

/**
 * Size of the one receive buffer: 65,535 bytes covers the largest UDP payload (65,507 over
 * IPv4, 65,527 over IPv6 without jumbograms), so no datagram is cut.
 */
export const DATAGRAM_BUFFER_BYTES = 65_535;
/** At most one line per error kind (receive, handler, send) per this period. */
export const UDP_ERROR_LOG_INTERVAL_MS = 1_000;
/** Pause after a socket-level receive error, so a persistent one cannot spin the loop. */
export const RECEIVE_ERROR_PAUSE_MS = 10;

/**
 * Why `--workers` cannot spread datagrams over isolates: Deno binds datagram sockets without
 * SO_REUSEPORT (its `reuseAddress` is SO_REUSEADDR on Linux, which delivers every unicast
 * datagram to one socket), so a second worker would share nothing. For `workerCountOrFallback`.
 */
export const UDP_NO_WORKERS_REASON =
  "UDP cannot share a port between workers (Deno binds datagram sockets without SO_REUSEPORT)";

/**
 * Answers one datagram: the bytes to send back to `peer`, or null for no answer. `data` is a
 * view into the receive buffer, valid until the answer has been sent (returning it as is, as
 * an echo does, is fine; keeping it for later is not). A throw is logged, never fatal.
 */
export type DatagramHandler = (data: Uint8Array, peer: Deno.NetAddr) => Uint8Array | null;

/** The part of `Deno.DatagramConn` the server uses (a test may supply its own). */
export interface DatagramSocket {
  readonly addr: Deno.Addr;
  receive(buffer: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  send(data: Uint8Array, peer: Deno.Addr): Promise<number>;
  close(): void;
}

/** Options of {@link UdpServer}. */
export interface UdpServerOptions {
  host: string;
  port: number;
  handler: DatagramHandler;
  /** How long the datagram in hand gets to be answered after {@link UdpServer.shutdown}. */
  shutdownTimeoutMs: number;
  /** Where errors and the shutdown line go (the same callback `TcpServer` takes). */
  log: AcceptLog;
  /** Binds the socket; default {@link bindUdp}. */
  bind?: (host: string, port: number) => DatagramSocket;
}

/** Why UDP is unavailable in this process, or null when `Deno.listenDatagram` exists. */
export function udpUnavailableReason(): string | null {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function"
    ? null
    : "UDP needs deno run --unstable-net (the sockit binary and deno task start have it)";
}

/**
 * Throws {@link RuntimeFailure} `UDP_UNAVAILABLE` when this process cannot bind UDP: a
 * subcommand calls it before anything else, so that is the only line the user sees.
 */
export function requireUdp(host: string, port: number): void {
  const unavailable = udpUnavailableReason();
  if (unavailable !== null) {
    throw new RuntimeFailure(
      "UDP_UNAVAILABLE",
      `cannot listen on udp://${formatHost(host)}:${port}: ${unavailable}`,
    );
  }
}

/**
 * Binds a UDP socket; throws {@link RuntimeFailure} (`UDP_UNAVAILABLE`, `LISTEN_FAILED`) with
 * one line naming the address and the cause.
 */
export function bindUdp(host: string, port: number): DatagramSocket {
  requireUdp(host, port);
  try {
    return Deno.listenDatagram({ hostname: host, port, transport: "udp" });
  } catch (err) {
    const cause = bindFailureCause(err, host) ??
      describeOsError(err).toLowerCase();
    throw new RuntimeFailure(
      "LISTEN_FAILED",
      `cannot listen on udp://${formatHost(host)}:${port}: ${cause}`,
    );
  }
}

/** The socket was closed under a pending receive or send: the loop is over. */
function isClosedError(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted;
}

/** A receive error about one peer (an ICMP "port unreachable" surfacing), not the socket. */
function isPeerError(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionRefused ||
    err instanceof Deno.errors.ConnectionReset;
}

/** A bound UDP socket answering datagrams: {@link listen}, then {@link serve} until {@link shutdown}. */
export class UdpServer implements RunnableServer {
  readonly options: UdpServerOptions;
  #socket: DatagramSocket | null = null;
  #stopping = false;
  /** The answer being computed and sent, if any (what a graceful stop waits for). */
  #inFlight: Promise<void> | null = null;
  #received = 0;
  #answered = 0;
  #throttles = new Map<string, LogThrottle>();

  constructor(options: UdpServerOptions) {
    this.options = options;
  }

  /** Datagrams received so far. */
  get received(): number {
    return this.#received;
  }

  /** Answers sent so far. */
  get answered(): number {
    return this.#answered;
  }

  /** True once {@link shutdown} was called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Binds (see {@link bindUdp} for what it throws). */
  listen(): Deno.NetAddr {
    const bind = this.options.bind ?? bindUdp;
    this.#socket = bind(this.options.host, this.options.port);
    return this.#socket.addr as Deno.NetAddr;
  }

  /** Receives and answers until {@link shutdown}; never gives up on errors. */
  async serve(): Promise<void> {
    const socket = this.#socket;
    if (socket === null) throw new Error("listen() first");
    const buffer = new Uint8Array(DATAGRAM_BUFFER_BYTES);
    while (!this.#stopping) {
      let data: Uint8Array;
      let peer: Deno.Addr;
      try {
        [data, peer] = await socket.receive(buffer);
      } catch (err) {
        if (this.#stopping || isClosedError(err)) break;
        this.#logError("receive_error", err, "receiving a datagram failed");
        if (!isPeerError(err)) await new Promise((r) => setTimeout(r, RECEIVE_ERROR_PAUSE_MS));
        continue;
      }
      this.#received++;
      // Awaited before the next receive: `data` lives in `buffer`, and one answer at a time
      // keeps memory flat under a flood.
      this.#inFlight = this.#answer(socket, data, peer as Deno.NetAddr);
      await this.#inFlight;
      this.#inFlight = null;
    }
  }

  async #answer(socket: DatagramSocket, data: Uint8Array, peer: Deno.NetAddr): Promise<void> {
    let answer: Uint8Array | null;
    try {
      answer = this.options.handler(data, peer);
    } catch (err) {
      this.#logError("handler_error", err, `answering ${describePeer(peer)} failed`);
      return;
    }
    if (answer === null) return;
    try {
      await socket.send(answer, peer);
      this.#answered++;
    } catch (err) {
      if (this.#stopping && isClosedError(err)) return;
      this.#logError("send_error", err, `sending ${answer.length} bytes to ${describePeer(peer)}`);
    }
  }

  /** One line per kind per interval; the next says how many were held back. */
  #logError(event: string, err: unknown, what: string): void {
    let throttle = this.#throttles.get(event);
    if (throttle === undefined) {
      throttle = new LogThrottle(UDP_ERROR_LOG_INTERVAL_MS);
      this.#throttles.set(event, throttle);
    }
    if (!throttle.due()) return;
    const more = throttle.takeSuppressed();
    this.options.log(
      event,
      { error: describeError(err), suppressed: more },
      `${what}: ${describeError(err)}; serving on` +
        (more > 0 ? ` (${more} more such errors since the last such line)` : ""),
    );
  }

  /**
   * Graceful stop: no more datagrams are taken; the one being answered gets
   * `shutdownTimeoutMs` to be sent; then the socket closes, which ends {@link serve}.
   */
  async shutdown(signal = "shutdown"): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.options.log(
      "shutdown",
      { signal, received: this.#received, answered: this.#answered },
      `${signal}: stopping; ${this.#received} datagram(s) received, ${this.#answered} answered`,
    );
    if (this.#inFlight !== null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#inFlight,
        new Promise((r) => timer = setTimeout(r, this.options.shutdownTimeoutMs)),
      ]);
      clearTimeout(timer);
    }
    try {
      this.#socket?.close();
    } catch { /* already closed */ }
  }
}

/** `host:port` of a datagram's sender, for log lines. */
export function describePeer(peer: Deno.NetAddr): string {
  return `${formatHost(peer.hostname)}:${peer.port}`;
}
