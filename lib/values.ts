/**
 * Parsers for the values settings take — ports, seconds, whole numbers, byte sizes — each
 * throwing a {@link ConfigError} that names the flag and what was expected. Pure; shared by
 * the CLI's flag definitions and the config resolvers.
 *
 * ```ts
 * import { parseByteSize, parsePort } from "./values.ts";
 * const port = parsePort("8080"); // 8080, or throws ConfigError naming the problem
 * const max = parseByteSize("64KiB", "--max-body"); // 65536
 * console.log(port, max);
 * ```
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

/** Parses a TCP port 0–65535 (0 = any free port). */
export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(`invalid port '${value}': expected a number from 0 to 65535`);
  }
  return Number(value);
}

/** Parses a non-negative number of seconds ("30", "0.5"). */
export function parseSeconds(value: string, flag = "value"): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new ConfigError(`invalid ${flag} '${value}': expected a number of seconds ≥ 0`);
  }
  return n;
}

/** Parses a positive integer ("100"). */
export function parsePositiveInt(value: string, flag = "value"): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new ConfigError(`invalid ${flag} '${value}': expected a whole number ≥ 1`);
  }
  return Number(value);
}

/** Parses a number > 0 ("100", "0.5"), e.g. a rate. */
export function parsePositiveNumber(value: string, flag = "value"): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new ConfigError(`invalid ${flag} '${value}': expected a number > 0`);
  }
  return n;
}

/** {@link parsePositiveInt}, at most `max`. */
export function parseIntUpTo(value: string, max: number, flag = "value"): number {
  const n = parsePositiveInt(value, flag);
  if (n > max) throw new ConfigError(`invalid ${flag} '${value}': at most ${max}`);
  return n;
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
    throw new ConfigError(
      `invalid ${flag} '${value}': expected bytes like 65536, 64KiB, 16MiB or 1GB`,
    );
  }
  return Math.floor(Number(m[1]) * unit);
}

/** Seconds (as a flag holds them) to milliseconds; undefined stays undefined. */
export function secondsToMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : seconds * 1000;
}
