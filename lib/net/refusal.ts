/**
 * What a server without a protocol-level "busy" answer does with a connection over
 * `--max-connections`: close it at once (the client reads EOF) and say so in the log at most
 * once per {@link REFUSAL_LOG_INTERVAL_MS}, counting the others, so a connection flood is one
 * line a second, not one per connection. (HTTP answers 503 instead: `http/server/server.ts`.)
 *
 * ```ts
 * import { closingRefusal } from "./refusal.ts";
 * const refuse = closingRefusal(100, (_event, _fields, text) => console.log(text));
 * console.log(typeof refuse); // pass as ConnectionHandler.refuse
 * ```
 *
 * @module
 */
import type { AcceptLog } from "./accept.ts";
import { peerOf } from "./address.ts";
import { closeQuietly } from "./linger.ts";
import { LogThrottle } from "./log_throttle.ts";

/** At most one "rejected (--max-connections)" line per this period; the rest are counted. */
export const REFUSAL_LOG_INTERVAL_MS = 1_000;

/** A `ConnectionHandler.refuse` that closes at once and logs (event `reject`) throttled. */
export function closingRefusal(maxConnections: number, log: AcceptLog): (conn: Deno.Conn) => void {
  const throttle = new LogThrottle(REFUSAL_LOG_INTERVAL_MS);
  return (conn) => {
    const peer = peerOf(conn);
    closeQuietly(conn);
    if (!throttle.due()) return;
    const more = throttle.takeSuppressed();
    log(
      "reject",
      { peer, reason: "max-connections", limit: maxConnections, suppressed: more },
      `rejected ${peer}: ${maxConnections} connections already open (--max-connections)` +
        (more > 0 ? `; ${more} more rejected since the last such line` : ""),
    );
  };
}
