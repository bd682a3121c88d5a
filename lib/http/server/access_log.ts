/**
 * Access-log lines: the Apache/nginx `common` and `combined` formats (with the response
 * time appended) and one JSON object per line. Credentials in a request-target
 * (`user:pass@`) never reach the log.
 *
 * ```ts
 * import { formatAccessLog } from "./access_log.ts";
 * const line = formatAccessLog({
 *   time: Date.UTC(2026, 10, 25, 9, 5, 29), client: "127.0.0.1", method: "GET",
 *   target: "/", version: "HTTP/1.1", status: 200, bytes: 12, ms: 1,
 *   referer: null, userAgent: "curl/8",
 * }, "common");
 * // 127.0.0.1 - - [25/Nov/2026:09:05:29 +0000] "GET / HTTP/1.1" 200 12 1ms
 * console.log(line);
 * ```
 *
 * @module
 */
import type { AccessLogEntry } from "../h1/connection.ts";
import { redactTarget } from "../sharing/auth.ts";

/** Access-log line formats. */
export const LOG_FORMATS = ["common", "combined", "json"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** "[25/Nov/2026:09:05:29 +0000]" (UTC), the common log format's time. */
function formatClfTime(ms: number): string {
  const d = new Date(ms);
  return `[${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
    pad2(d.getUTCHours())
  }:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000]`;
}

/** Escapes `"`, `\` and non-printable bytes as \xHH, as nginx does in its logs. */
function escapeLogField(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c
      ? `\\x${c.toString(16).padStart(2, "0")}`
      : text[i];
  }
  return out;
}

/**
 * One access-log line. `common` and `combined` are the Apache/nginx formats with the
 * response time in ms appended as a last field; `json` is one object per line.
 */
export function formatAccessLog(
  entry: AccessLogEntry,
  format: LogFormat,
  workerId?: number,
): string {
  if (format === "json") {
    return JSON.stringify({
      ...(workerId === undefined ? {} : { worker: workerId }),
      time: new Date(entry.time).toISOString(),
      client: entry.client,
      method: entry.method,
      path: redactTarget(entry.target),
      version: entry.version,
      status: entry.status,
      bytes: entry.bytes,
      ms: entry.ms,
      referer: entry.referer && redactTarget(entry.referer),
      userAgent: entry.userAgent,
    });
  }
  const request = entry.method === "-"
    ? "-"
    : escapeLogField(`${entry.method} ${redactTarget(entry.target)} ${entry.version}`);
  let line = `${entry.client} - - ${
    formatClfTime(entry.time)
  } "${request}" ${entry.status} ${entry.bytes}`;
  if (format === "combined") {
    line += ` "${escapeLogField(redactTarget(entry.referer ?? "-"))}" "${
      escapeLogField(entry.userAgent ?? "-")
    }"`;
  }
  return `${line} ${entry.ms}ms`;
}
