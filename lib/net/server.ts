/**
 * The skeleton every sockit server shares: bind, run the accept loop, hold connections to
 * `--max-connections` (refusing the rest politely, and only so many politely at once),
 * and stop gracefully. A protocol is a {@link ConnectionHandler} on top: it serves one
 * connection, refuses one, and knows which of its connections are idle at shutdown.
 *
 * ```ts
 * import { type ConnectionHandler, TcpServer } from "./server.ts";
 * const open = new Set<Deno.Conn>();
 * const hangUp: ConnectionHandler = {
 *   handle: (conn) => { conn.close(); return Promise.resolve(); },
 *   refuse: (conn) => conn.close(),
 *   beginShutdown: () => {},
 *   closeAll: () => open.forEach((c) => c.close()),
 * };
 * const server = new TcpServer(
 *   { host: "127.0.0.1", port: 0, shutdownTimeoutMs: 1000, log: () => {} },
 *   hangUp,
 * );
 * server.listen();
 * const serving = server.serve();
 * await server.shutdown();
 * await serving;
 * ```
 *
 * @module
 */
import { type AcceptLog, acceptLoop } from "./accept.ts";
import { type ListenOptions, listenTcp } from "./listen.ts";
import { closeQuietly } from "./linger.ts";

/**
 * At most this many refused connections are being answered at once (an HTTP 503 and its
 * drain); beyond it they are closed without an answer, so a connection flood cannot pile
 * up descriptors behind the limit that is meant to cap them.
 */
export const MAX_REFUSALS_IN_FLIGHT = 64;

/** What a protocol supplies to run on {@link TcpServer}. */
export interface ConnectionHandler {
  /** Serves one accepted connection to its end and closes it; never rejects. */
  handle(conn: Deno.Conn): Promise<void>;
  /** Answers a connection over `--max-connections` and closes it; never rejects. */
  refuse(conn: Deno.Conn): Promise<void> | void;
  /** Shutdown began: close idle connections now; busy ones finish their exchange. */
  beginShutdown(): void;
  /** The shutdown timeout ran out: close every connection still open. */
  closeAll(): void;
}

/** Options of {@link TcpServer}. */
export interface TcpServerOptions extends ListenOptions {
  /** Open connections allowed at once; 0 or absent = unlimited. */
  maxConnections?: number;
  /** How long open connections get to finish after {@link TcpServer.shutdown}. */
  shutdownTimeoutMs: number;
  /** Where the accept loop reports (resource pauses, dropped connections). */
  log: AcceptLog;
}

/** A listening server: {@link listen}, then {@link serve} until {@link shutdown}. */
export class TcpServer {
  readonly options: TcpServerOptions;
  #handler: ConnectionHandler;
  #listener: Deno.Listener | null = null;
  #stopping = false;
  /** Connections being served; a count and one shared callback, not a promise each. */
  #open = 0;
  #allClosed: PromiseWithResolvers<void> | null = null;
  #refusing = 0;

  constructor(options: TcpServerOptions, handler: ConnectionHandler) {
    this.options = options;
    this.#handler = handler;
  }

  /** Connections being served (refused ones not counted). */
  get connectionCount(): number {
    return this.#open;
  }

  /** True once {@link shutdown} was called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Binds (see `listenTcp` for the errors it throws). */
  listen(): Deno.NetAddr {
    this.#listener = listenTcp(this.options);
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Accepts until {@link shutdown}; never gives up on accept errors. */
  async serve(): Promise<void> {
    const listener = this.#listener;
    if (listener === null) throw new Error("listen() first");
    const max = this.options.maxConnections ?? 0;
    await acceptLoop(listener, {
      stopping: () => this.#stopping,
      log: this.options.log,
      onConnection: (conn) => {
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch { /* not TCP, or already reset: the first read will tell */ }
        if (max > 0 && this.#open >= max) this.#refuse(conn);
        else this.#track(this.#handler.handle(conn));
      },
    });
  }

  #track(done: Promise<void>): void {
    this.#open++;
    done.then(this.#closed, this.#closed);
  }

  readonly #closed = (): void => {
    if (--this.#open === 0) this.#allClosed?.resolve();
  };

  /** Resolves once no connection is open. */
  #whenAllClosed(): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    this.#allClosed ??= Promise.withResolvers<void>();
    return this.#allClosed.promise;
  }

  #refuse(conn: Deno.Conn): void {
    if (this.#refusing >= MAX_REFUSALS_IN_FLIGHT) {
      closeQuietly(conn);
      return;
    }
    this.#refusing++;
    Promise.resolve()
      .then(() => this.#handler.refuse(conn))
      .catch(() => closeQuietly(conn))
      .finally(() => this.#refusing--);
  }

  /**
   * Graceful stop: no new connections; the handler closes idle ones; the rest get
   * `shutdownTimeoutMs` to finish, then are closed. Resolves true when all finished in
   * time, false when some had to be cut.
   */
  async shutdown(): Promise<boolean> {
    if (this.#stopping) return true;
    this.#stopping = true;
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    this.#handler.beginShutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      this.#whenAllClosed().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.options.shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (late) {
      this.#handler.closeAll();
      await this.#whenAllClosed();
    }
    return !late;
  }
}
