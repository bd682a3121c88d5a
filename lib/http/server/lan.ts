/**
 * `http-serve`'s LAN side: `--qr` draws a QR code of the server's LAN URL in the terminal, so a phone
 * on the same network can open it.
 *
 * The QR symbol comes from `@paulmillr/qr` (zero dependencies, pure ESM, so it works in
 * Deno and inside `deno compile`; it also ships a decoder, which the tests use to read our
 * output back). It was preferred to `qrcode-terminal` (unmaintained since 2019, CommonJS
 * only) and `qrcode` (pulls in yargs, pngjs and more for features we do not use).
 *
 * ```ts
 * const url = lanUrlForQr("0.0.0.0", 8000, Deno.networkInterfaces()); // http://192.168.1.5:8000/
 * if (url) console.log(renderTerminalQr(url));
 * ```
 *
 * Rendering: two module rows per text row with the half-block characters `█ ▀ ▄` and
 * space, light modules drawn as ink. On the usual dark terminal this shows dark modules
 * on a light field as a scanner expects; on a light terminal the code appears inverted,
 * which current phone scanners also read.
 *
 * @module
 */
import { encodeQR } from "@paulmillr/qr";
import { writeStderrLine, writeStdoutLine } from "../../log.ts";
import { formatHost, isLoopbackHost } from "../../net/address.ts";

/** Quiet zone around the symbol, in modules (the spec's 4 costs two text rows per side). */
export const QR_QUIET_ZONE_MODULES = 2;

/** The only characters {@link renderTerminalQr} emits, apart from newlines. */
export const QR_BLOCK_CHARACTERS = "█▀▄ ";

/**
 * The QR module matrix for `text` (true = dark), quiet zone included. Error correction
 * "medium" (15 %) keeps the symbol small while tolerating a glare spot on a screen.
 */
export function qrModules(text: string, border = QR_QUIET_ZONE_MODULES): boolean[][] {
  return encodeQR(text, "raw", { ecc: "medium", border });
}

/**
 * The QR code of `text` as lines of half-block characters (one text row per two module
 * rows), ending in a newline. Deterministic for a given text.
 */
export function renderTerminalQr(text: string, border = QR_QUIET_ZONE_MODULES): string {
  return encodeQR(text, "ascii", { ecc: "medium", border });
}

/** The subset of `Deno.NetworkInterfaceInfo` that {@link lanUrlForQr} needs. */
export interface InterfaceAddress {
  family: "IPv4" | "IPv6";
  address: string;
}

function isLoopbackOrLinkLocal(a: InterfaceAddress): boolean {
  if (a.family === "IPv4") return a.address.startsWith("127.") || a.address.startsWith("169.254.");
  const lower = a.address.toLowerCase();
  return lower === "::1" || lower.startsWith("fe80:");
}

/**
 * The URL a phone should open: the bound host itself when it is a specific address,
 * else (for `0.0.0.0` / `::`) the first non-loopback, non-link-local IPv4 address of this
 * machine, then IPv6; null when there is none (only loopback: a phone could not reach it).
 */
export function lanUrlForQr(
  host: string,
  port: number,
  interfaces: readonly InterfaceAddress[],
): string | null {
  const wildcard = host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
  if (!wildcard) return `http://${formatHost(host)}:${port}/`;
  const usable = interfaces.filter((a) => !isLoopbackOrLinkLocal(a));
  const pick = usable.find((a) => a.family === "IPv4") ??
    (host === "0.0.0.0" ? undefined : usable.find((a) => a.family === "IPv6"));
  return pick ? `http://${formatHost(pick.address)}:${port}/` : null;
}

/** `--qr`: the QR code of the URL a phone should open, or one line saying why there is none. */
export function printQr(host: string, port: number, scheme: string): void {
  let interfaces: Deno.NetworkInterfaceInfo[] = [];
  try {
    interfaces = Deno.networkInterfaces();
  } catch { /* no --allow-sys: only a specific --host can be shown */ }
  const url = lanUrlForQr(host, port, interfaces)?.replace(/^http:/, `${scheme}:`) ?? null;
  if (url === null) {
    writeStderrLine(
      "sockit: --qr: no network address besides loopback; a phone could not reach this server",
    );
    return;
  }
  if (isLoopbackHost(host)) {
    writeStderrLine(
      `sockit: --qr: ${host} is reachable from this machine only (try --host 0.0.0.0)`,
    );
  }
  writeStdoutLine(`  scan to open ${url}`);
  writeStdoutLine(renderTerminalQr(url).trimEnd());
}
