/**
 * A throwaway self-signed certificate for HTTPS tests: P-256, valid one day, for
 * `localhost` and `127.0.0.1`, made by the `openssl` CLI (Debian's `openssl` package, in
 * `.ci/run`'s apt line). Clients trust it by passing the certificate as a CA
 * (`fetch` through `Deno.createHttpClient({ caCerts })`, `curl --cacert CERT`):
 *
 * ```ts
 * import { makeSelfSignedCert } from "./tls_cert.ts";
 * declare const port: number; // http-serve --tls-cert certFile --tls-key keyFile
 * const dir = await Deno.makeTempDir();
 * const { certFile, keyFile } = await makeSelfSignedCert(dir);
 * // sockit http-serve --tls-cert certFile --tls-key keyFile ...
 * const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certFile)] });
 * const res = await fetch(`https://127.0.0.1:${port}/`, { client });
 * client.close();
 * ```
 *
 * @module
 */

/** Paths of the PEM files written by {@link makeSelfSignedCert}. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
}

/**
 * Writes `cert.pem` and `key.pem` into `dir` (which the caller creates and removes).
 * Throws with openssl's stderr if it fails, so a missing openssl is obvious in test output.
 */
export async function makeSelfSignedCert(dir: string): Promise<CertFiles> {
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const command = new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      // rustls (under Deno's TLS) checks the SAN, never the CN.
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // openssl's default config marks -x509 certificates CA:TRUE, and rustls then refuses
      // to accept one as a server's own certificate (CaUsedAsEndEntity).
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  let output: Deno.CommandOutput;
  try {
    output = await command.output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error("openssl not found: install Debian's 'openssl' package (see .ci/run)");
    }
    throw err;
  }
  if (!output.success) {
    throw new Error(
      `openssl req failed (exit ${output.code}): ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return { certFile, keyFile };
}
