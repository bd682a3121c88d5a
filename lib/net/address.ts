/**
 * How servers name addresses to people and scripts: host formatting for URLs, the one
 * fixed "listening" line every server prints first, and this machine's LAN addresses.
 *
 * ```ts
 * import { LISTENING_LINE_PATTERN, listeningLine } from "./address.ts";
 * const line = listeningLine("echo-server", "tcp", "::1", 9000, "(mode raw)");
 * // "sockit echo-server listening on tcp://[::1]:9000 (mode raw)"
 * console.log(LISTENING_LINE_PATTERN.exec(line)?.[3]); // "9000"
 * ```
 *
 * @module
 */

/** Formats an address for a URL: IPv6 literals go in brackets. */
export function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** `host:port` of a connection's peer, for log lines. */
export function peerOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr as Deno.NetAddr;
  return `${formatHost(addr.hostname ?? "-")}:${addr.port ?? 0}`;
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

/** True for hosts only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.startsWith("127.") || h === "::1";
}

/** Non-loopback addresses to print when listening on all interfaces. */
export function lanAddresses(host: string): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [];
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    return []; // no --allow-sys: the listening line alone still says everything needed
  }
  const out: string[] = [];
  for (const i of interfaces) {
    if (i.family === "IPv4" && !i.address.startsWith("127.")) out.push(i.address);
    if (
      host === "::" && i.family === "IPv6" && i.address !== "::1" &&
      !i.address.toLowerCase().startsWith("fe80")
    ) out.push(i.address);
  }
  return [...new Set(out)];
}
