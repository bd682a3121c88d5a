/**
 * The one accept loop of every sockit server, and the decision it rests on: is an accept
 * error about *one* connection (skip it, accept the next at once) or about the *process*
 * (out of descriptors or memory: pause briefly, then retry)?
 *
 * Treating the first kind like the second is a denial of service: a client that resets a
 * connection before it is accepted makes `accept()` fail with ENOTCONN or ECONNABORTED,
 * and a back-off per such error lets a handful of packets stall a server for seconds. Go
 * (internal/poll), libuv and nginx all skip these; so do we.
 *
 * ```ts
 * import { classifyAcceptError } from "./accept.ts";
 * classifyAcceptError(new Deno.errors.NotConnected("Transport endpoint is not connected (os error 107)")); // "connection"
 * classifyAcceptError(new Error("Too many open files (os error 24)")); // "resources"
 * ```
 *
 * @module
 */
import { describeError } from "../errors.ts";

/** First pause after a resource error (EMFILE, ENFILE, ENOBUFS, ENOMEM); doubles. */
export const ACCEPT_PAUSE_MIN_MS = 10;
/** Longest pause between accept attempts while resources stay exhausted. */
export const ACCEPT_PAUSE_MAX_MS = 500;
/** Connection-level accept failures are summed up in at most one log line per this period. */
export const ACCEPT_LOG_INTERVAL_MS = 1_000;

/** What an accept error means for the loop. */
export type AcceptErrorKind =
  /** One pending connection died before it was accepted: skip it, accept the next now. */
  | "connection"
  /** The process is out of something: pause, then retry (the connection stays queued). */
  | "resources"
  /** The listener was closed (shutdown): stop. */
  | "closed"
  /** Anything else: pause like "resources", so an unknown persistent error cannot spin. */
  | "unknown";

/** errno values of a single connection's failure (Linux numbers; see accept(2)). */
const CONNECTION_ERRNOS = new Set([
  1, // EPERM: a firewall rule refused this connection
  71, // EPROTO
  100, // ENETDOWN
  101, // ENETUNREACH
  103, // ECONNABORTED
  104, // ECONNRESET
  107, // ENOTCONN: reset before getpeername
  110, // ETIMEDOUT
  112, // EHOSTDOWN
  113, // EHOSTUNREACH
  64, // ENONET
  92, // ENOPROTOOPT
]);
/** errno values of exhausted resources. */
const RESOURCE_ERRNOS = new Set([
  24, // EMFILE
  23, // ENFILE
  105, // ENOBUFS
  12, // ENOMEM
]);

/** Pure: the kind of an error thrown by `Deno.Listener.accept()`. */
export function classifyAcceptError(err: unknown): AcceptErrorKind {
  if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
    return "closed";
  }
  if (
    err instanceof Deno.errors.NotConnected || err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.ConnectionReset
  ) return "connection";
  const errno = /\(os error (\d+)\)/.exec(describeError(err));
  if (errno !== null) {
    const n = Number(errno[1]);
    if (CONNECTION_ERRNOS.has(n)) return "connection";
    if (RESOURCE_ERRNOS.has(n)) return "resources";
  }
  return "unknown";
}

/** Where the accept loop reports; `event` names are stable for JSON logs. */
export type AcceptLog = (event: string, fields: Record<string, unknown>, text: string) => void;

/** Options of {@link acceptLoop}. */
export interface AcceptLoopOptions {
  /** True once the server is stopping: errors then end the loop quietly. */
  stopping: () => boolean;
  /** Called with each accepted connection; must not throw for long (it is not awaited). */
  onConnection: (conn: Deno.Conn) => void;
  log: AcceptLog;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Accepts until the listener closes or `stopping()`. Per-connection errors are skipped at
 * once and summed up in one line per {@link ACCEPT_LOG_INTERVAL_MS}; resource errors pause
 * ({@link ACCEPT_PAUSE_MIN_MS} doubling to {@link ACCEPT_PAUSE_MAX_MS}) with one line when
 * the episode begins and one when it ends.
 */
export async function acceptLoop(
  listener: Deno.Listener,
  options: AcceptLoopOptions,
): Promise<void> {
  const { stopping, onConnection, log } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const now = options.now ?? (() => performance.now());
  let pauseMs = ACCEPT_PAUSE_MIN_MS;
  let episode: { since: number; retries: number } | null = null;
  let dropped = 0;
  let droppedLoggedAt = -Infinity;
  let lastDropped = "";
  while (!stopping()) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      const kind = classifyAcceptError(err);
      if (stopping() || kind === "closed") break;
      if (kind === "connection") {
        dropped++;
        lastDropped = describeError(err);
        if (now() - droppedLoggedAt >= ACCEPT_LOG_INTERVAL_MS) {
          droppedLoggedAt = now();
          log(
            "accept_dropped",
            { count: dropped, error: lastDropped },
            `accept: ${dropped} connection(s) gone before they could be accepted ` +
              `(last: ${lastDropped}); serving on`,
          );
          dropped = 0;
        }
        continue;
      }
      if (episode === null) {
        episode = { since: now(), retries: 0 };
        log(
          "accept_error",
          { error: describeError(err), retry_ms: pauseMs },
          `accept failed: ${describeError(err)}; logged once until accepting recovers; ` +
            `retrying in ${pauseMs} ms`,
        );
      }
      episode.retries++;
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, ACCEPT_PAUSE_MAX_MS);
      continue;
    }
    if (dropped > 0 && now() - droppedLoggedAt >= ACCEPT_LOG_INTERVAL_MS) {
      droppedLoggedAt = now();
      log(
        "accept_dropped",
        { count: dropped, error: lastDropped },
        `accept: ${dropped} more connection(s) gone before they could be accepted ` +
          `(last: ${lastDropped})`,
      );
      dropped = 0;
    }
    if (episode !== null) {
      const ms = Math.round(now() - episode.since);
      log(
        "accept_recovered",
        { after_ms: ms, retries: episode.retries },
        `accept recovered after ${ms} ms (${episode.retries} retries)`,
      );
      episode = null;
      pauseMs = ACCEPT_PAUSE_MIN_MS;
    }
    onConnection(conn);
  }
}
