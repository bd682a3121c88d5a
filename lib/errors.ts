/**
 * The two errors every layer may throw for the user to read, and nothing else: the CLI
 * (main.ts) turns them into one line on stderr and an exit code. Protocol and server code
 * throws these instead of importing anything from the CLI, so dependencies point down.
 *
 * ```ts
 * import { ConfigError, RuntimeFailure } from "./errors.ts";
 * function checkPort(port: number): number {
 *   if (port > 65535) throw new ConfigError(`invalid port '${port}'`); // exit 2
 *   return port;
 * }
 * const bindFailed = new RuntimeFailure("LISTEN_FAILED", "cannot listen on :80"); // exit 1
 * checkPort(8000);
 * console.log(bindFailed.code);
 * ```
 *
 * @module
 */

/** Success. */
export const EXIT_OK = 0;
/** A runtime failure: refused, timed out, mismatch, cannot bind ({@link RuntimeFailure}). */
export const EXIT_FAILURE = 1;
/** The command line itself was wrong ({@link ConfigError}). */
export const EXIT_USAGE = 2;

/** A setting that cannot work (a flag's value or a combination of flags): exit code 2. */
export class ConfigError extends Error {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A failure at run time (cannot bind, every worker died): one line, exit code 1. */
export class RuntimeFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "RuntimeFailure";
  }
}

/** The message of anything thrown, for a log line. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** {@link describeError} without the trailing "(os error N)" the user does not need. */
export function describeOsError(err: unknown): string {
  return describeError(err).replace(/\s*\(os error \d+\)$/, "");
}
