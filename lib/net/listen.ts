/**
 * Binding a listening socket, plain or TLS, with one set of error messages for every
 * server: a port in use, a privileged port, an unknown host and a bad certificate each
 * read the same whichever subcommand hit them.
 *
 * ```ts
 * import { listenTcp } from "./listen.ts";
 * const listener = listenTcp({ host: "127.0.0.1", port: 0 });
 * console.log((listener.addr as Deno.NetAddr).port);
 * listener.close();
 * ```
 *
 * @module
 */
import { ConfigError, describeError, describeOsError, RuntimeFailure } from "../errors.ts";
import { formatHost } from "./address.ts";

/**
 * PEM contents of a certificate chain and its private key (read from files, or generated
 * by `--tls-cert auto`: see tls.ts).
 */
export interface TlsPem {
  cert: string;
  key: string;
}

/** Where and how to listen. */
export interface ListenOptions {
  host: string;
  port: number;
  /** Serve TLS with this certificate and key. */
  tls?: TlsPem;
  /** Bind with SO_REUSEPORT (a `--workers` worker; needs --unstable-net). */
  reusePort?: boolean;
  /** With `tls`: the protocols offered in ALPN, preferred first (HTTP: "h2", "http/1.1"). */
  alpnProtocols?: string[];
}

/**
 * What a port already in use reads as, with what to do about it: a first run often finds
 * 8000 taken, and `--port 0` always works (the listening line then names the port).
 */
export const ADDRESS_IN_USE = "address already in use; another program uses it: " +
  "pick another --port, or --port 0 for any free one";

/**
 * Binds; throws {@link RuntimeFailure} `LISTEN_FAILED` when the address cannot be had and
 * {@link ConfigError} when the TLS certificate or key cannot be used.
 */
export function listenTcp(options: ListenOptions): Deno.Listener {
  const { host, port, tls } = options;
  // reusePort only when asked: Deno exits the process on it without --unstable-net.
  const reuse = options.reusePort ? { reusePort: true } : {};
  try {
    return tls === undefined
      ? Deno.listen({ hostname: host, port, transport: "tcp", ...reuse })
      : Deno.listenTls({
        hostname: host,
        port,
        transport: "tcp",
        cert: tls.cert,
        key: tls.key,
        ...(options.alpnProtocols ? { alpnProtocols: options.alpnProtocols } : {}),
        ...reuse,
      });
  } catch (err) {
    const cause = bindFailureCause(err, host);
    if (cause === null && tls !== undefined) {
      throw new ConfigError(`cannot use --tls-cert/--tls-key: ${describeTlsError(err)}`);
    }
    throw new RuntimeFailure(
      "LISTEN_FAILED",
      `cannot listen on ${formatHost(host)}:${port}: ${
        cause ?? describeOsError(err).toLowerCase()
      }`,
    );
  }
}

/**
 * rustls' words for a bad --tls-cert/--tls-key pair, in the user's terms; rustls' own text
 * stays in parentheses for searching.
 */
function describeTlsError(err: unknown): string {
  const message = describeError(err);
  const plain = /No certificates found/i.test(message)
    ? "--tls-cert holds no PEM certificate"
    : /No keys found/i.test(message)
    ? "--tls-key holds no PEM private key"
    : /KeyMismatch/.test(message)
    ? "the private key does not belong to the certificate"
    : null;
  return plain === null ? message : `${plain} (${message})`;
}

/**
 * The user's words for a failed bind (TCP or UDP) that are not about TLS: a taken port, a
 * privileged port, an unknown host; null for anything else (the caller decides).
 */
export function bindFailureCause(err: unknown, host: string): string | null {
  return err instanceof Deno.errors.AddrInUse
    ? ADDRESS_IN_USE
    : err instanceof Deno.errors.PermissionDenied
    ? "permission denied (ports below 1024 need privileges)"
    : /lookup address|Name or service not known/i.test(describeError(err))
    ? `unknown host '${host}'`
    : null;
}
