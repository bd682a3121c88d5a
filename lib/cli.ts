/**
 * Command-line plumbing shared by every subcommand: exit codes, typed CLI errors, value
 * parsers for flags (ports, durations, byte sizes), the fixed "listening" line that
 * scripts parse, and signal handling for graceful shutdown.
 *
 * ```ts
 * const port = parsePort("8080"); // 8080, or throws UsageError naming the problem
 * console.log(listeningLine("echo-server", "tcp", "0.0.0.0", 8080));
 * ```
 *
 * @module
 */

/** Success. */
export const EXIT_OK = 0;
/** A runtime failure: refused, timed out, mismatch, cannot bind. */
export const EXIT_FAILURE = 1;
/** The command line itself was wrong. */
export const EXIT_USAGE = 2;

/** A wrong command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure at run time that the user should see as one line, exit code 1. */
export class CliFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "CliFailure";
  }
}

/** Prints `sockit: MESSAGE` on stderr and exits with `code`. */
export function fail(message: string, code: number = EXIT_FAILURE): never {
  console.error(`sockit: ${message}`);
  Deno.exit(code);
}

/** Parses a TCP port 0–65535 (0 = any free port). */
export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`invalid port '${value}': expected a number from 0 to 65535`);
  }
  return Number(value);
}

/** Parses a non-negative number of seconds ("30", "0.5"). */
export function parseSeconds(value: string, flag = "value"): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`invalid ${flag} '${value}': expected a number of seconds ≥ 0`);
  }
  return n;
}

/** Parses a positive integer ("100"). */
export function parsePositiveInt(value: string, flag = "value"): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`invalid ${flag} '${value}': expected a whole number ≥ 1`);
  }
  return Number(value);
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Parses a byte size: "65536", "64KiB", "16M", "1.5GB" (k/m/g alone are binary). */
export function parseByteSize(value: string, flag = "size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(
      `invalid ${flag} '${value}': expected bytes like 65536, 64KiB, 16MiB or 1GB`,
    );
  }
  return Math.floor(Number(m[1]) * unit);
}

/** Formats an address for a URL: IPv6 literals go in brackets. */
export function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * The first stdout line of every server, in one fixed format scripts can parse:
 * `sockit KIND listening on SCHEME://HOST:PORT` (then free text after a space).
 * Match it with {@link LISTENING_LINE_PATTERN}.
 */
export function listeningLine(
  kind: string,
  scheme: string,
  host: string,
  port: number,
  extra = "",
): string {
  const url = `${scheme}://${formatHost(host)}:${port}${scheme.startsWith("http") ? "/" : ""}`;
  return `sockit ${kind} listening on ${url}${extra ? ` ${extra}` : ""}`;
}

/** Matches {@link listeningLine}: groups are scheme, host (brackets kept), port. */
export const LISTENING_LINE_PATTERN =
  /^sockit [\w-]+ listening on (\w+):\/\/(\[[^\]]+\]|[^:/\s]+):(\d+)/;

/**
 * Calls `onFirst` on the first SIGINT/SIGTERM (graceful stop); a second signal exits at
 * once with code 130/143. Returns a function that removes the handlers.
 */
export function onShutdownSignal(onFirst: (signal: Deno.Signal) => void): () => void {
  let seen = false;
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (seen) Deno.exit(signal === "SIGINT" ? 130 : 143);
      seen = true;
      onFirst(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  };
}
