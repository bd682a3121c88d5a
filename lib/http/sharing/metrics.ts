/**
 * `http-serve --metrics`: in-process counters and their rendering in the Prometheus text
 * exposition format (version 0.0.4), served at {@link METRICS_PATH}.
 *
 * ```ts
 * const metrics = new HttpMetrics();
 * metrics.connectionOpened();
 * metrics.recordResponse(200, 5120); // status, body bytes sent (AccessLogEntry.bytes)
 * metrics.connectionClosed();
 * const body = metrics.render();     // serve with Content-Type: METRICS_CONTENT_TYPE
 * ```
 *
 * Counting is a few integer additions per response, so the hot path pays nothing that
 * matters; all formatting happens only when the endpoint is scraped.
 *
 * @module
 */

/** Where the metrics are served (RFC 8615 well-known prefix, so it cannot clash with a site). */
export const METRICS_PATH = "/.well-known/sockit/metrics";

/**
 * The health endpoint (always on, answered before `--auth`): 200 `ok`, never logged or
 * counted (`withHealthEndpoint`, sharing/middleware.ts).
 */
export const HEALTH_PATH = "/.well-known/sockit/health";

/** Content-Type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The status classes counted; anything outside 100–599 is not an HTTP status we send. */
export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** One of {@link STATUS_CLASSES}. */
export type StatusClass = typeof STATUS_CLASSES[number];

/** Options for {@link HttpMetrics}. */
export interface HttpMetricsOptions {
  /** Clock in milliseconds, for uptime. Default `performance.now`. */
  now?: () => number;
}

/** Counters for one server process. */
export class HttpMetrics {
  readonly #requestsByClass = [0, 0, 0, 0, 0];
  #bytesSent = 0;
  #openConnections = 0;
  #connectionsTotal = 0;
  readonly #now: () => number;
  readonly #startedAt: number;
  /** Wall-clock start, for `sockit_start_time_seconds`. */
  readonly startTimeSeconds: number = Date.now() / 1000;

  constructor(options: HttpMetricsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
  }

  /** Counts one finished response and its body bytes sent (as in the access log). */
  recordResponse(status: number, bytesSent: number): void {
    const index = Math.floor(status / 100) - 1;
    if (index >= 0 && index < 5) this.#requestsByClass[index]++;
    this.addBytesSent(bytesSent);
  }

  /** Adds bytes written outside a counted response (e.g. a response cut short). */
  addBytesSent(bytes: number): void {
    if (bytes > 0) this.#bytesSent += bytes;
  }

  /** A connection was accepted. */
  connectionOpened(): void {
    this.#openConnections++;
    this.#connectionsTotal++;
  }

  /** A connection was closed (call exactly once per {@link connectionOpened}). */
  connectionClosed(): void {
    if (this.#openConnections > 0) this.#openConnections--;
  }

  /** Responses counted for one status class. */
  requests(statusClass: StatusClass): number {
    return this.#requestsByClass[STATUS_CLASSES.indexOf(statusClass)];
  }

  /** Total bytes written. */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.#openConnections;
  }

  /** Seconds since this object was created. */
  uptimeSeconds(): number {
    return (this.#now() - this.#startedAt) / 1000;
  }

  /** The current values in the Prometheus text format, ending in a newline. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: string[]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    metric(
      "sockit_http_requests_total",
      "counter",
      "HTTP responses sent, by status class.",
      STATUS_CLASSES.map((c, i) =>
        `sockit_http_requests_total{class="${c}"} ${this.#requestsByClass[i]}`
      ),
    );
    metric("sockit_http_sent_bytes_total", "counter", "Response body bytes sent to clients.", [
      `sockit_http_sent_bytes_total ${this.#bytesSent}`,
    ]);
    metric("sockit_http_open_connections", "gauge", "Client connections open now.", [
      `sockit_http_open_connections ${this.#openConnections}`,
    ]);
    metric("sockit_http_connections_total", "counter", "Client connections accepted.", [
      `sockit_http_connections_total ${this.#connectionsTotal}`,
    ]);
    metric("sockit_uptime_seconds", "gauge", "Seconds since the server started.", [
      `sockit_uptime_seconds ${this.uptimeSeconds().toFixed(3)}`,
    ]);
    metric("sockit_start_time_seconds", "gauge", "Start time since the Unix epoch.", [
      `sockit_start_time_seconds ${this.startTimeSeconds.toFixed(3)}`,
    ]);
    return lines.join("\n") + "\n";
  }
}
