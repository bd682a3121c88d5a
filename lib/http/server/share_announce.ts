/**
 * Printing the `--share` links at start-up: one line per link (path, expiry, uses, URL)
 * and its QR code, on the LAN address a phone can reach when there is one, else on the
 * address the server listens on.
 *
 * ```ts
 * import { shareLinkBase } from "./share_announce.ts";
 * console.log(shareLinkBase("127.0.0.1", 8000, "http", [])); // http://127.0.0.1:8000
 * ```
 *
 * @module
 */
import { writeStdoutLine } from "../../log.ts";
import { formatHost } from "../../net/address.ts";
import { type InterfaceAddress, lanUrlForQr, renderTerminalQr } from "./lan.ts";
import type { ShareLinkConfig } from "./share_config.ts";

/** Scheme, host and port the printed links start with (no trailing slash). */
export function shareLinkBase(
  host: string,
  port: number,
  scheme: string,
  interfaces: readonly InterfaceAddress[],
): string {
  const lan = lanUrlForQr(host, port, interfaces);
  if (lan !== null) return lan.replace(/^http:/, `${scheme}:`).replace(/\/$/, "");
  const wildcard = host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
  return `${scheme}://${wildcard ? "127.0.0.1" : formatHost(host)}:${port}`;
}

/** Prints every link with its QR code. */
export function printShareLinks(
  links: readonly ShareLinkConfig[],
  host: string,
  port: number,
  scheme: string,
): void {
  let interfaces: Deno.NetworkInterfaceInfo[] = [];
  try {
    interfaces = Deno.networkInterfaces();
  } catch { /* no --allow-sys: the listening address is used */ }
  const base = shareLinkBase(host, port, scheme, interfaces);
  for (const { grant, urlPath } of links) {
    const uses = grant.maxUses === 0 ? "" : `, ${grant.maxUses} uses`;
    const until = new Date(grant.expiresMs).toISOString();
    writeStdoutLine(`  share ${grant.path} (until ${until}${uses}): ${base}${urlPath}`);
    writeStdoutLine(renderTerminalQr(`${base}${urlPath}`).trimEnd());
  }
}
