/**
 * Tests for tests/tls_cert.ts: the generated certificate and key are accepted by
 * `Deno.listenTls`, and a client that trusts the certificate completes a real handshake to
 * 127.0.0.1 (so the SAN is right for the HTTPS end-to-end tests), while a client that does
 * not trust it is refused; and curl (OpenSSL) accepts it with --cacert for `localhost`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { tempTree } from "./helpers.ts";
import { makeSelfSignedCert } from "./tls_cert.ts";

/**
 * Deno 2.9 no longer checks tests for leaked resources and pending ops by default; these
 * tests open files and sockets, so they ask for the checks explicitly.
 */
const SANITIZE = { sanitizeResources: true, sanitizeOps: true } as const;

Deno.test(
  { name: "makeSelfSignedCert: PEM files that Deno.listenTls accepts", ...SANITIZE },
  async () => {
    await using tree = await tempTree();
    const { certFile, keyFile } = await makeSelfSignedCert(tree.path);
    const cert = await Deno.readTextFile(certFile);
    const key = await Deno.readTextFile(keyFile);
    assert.match(cert, /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/);
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    try {
      assert.ok(listener.addr.port > 0);
    } finally {
      listener.close();
    }
  },
);

Deno.test({
  name: "makeSelfSignedCert: a client trusting it handshakes with 127.0.0.1; others are refused",
  ...SANITIZE,
}, async () => {
  await using tree = await tempTree();
  const { certFile, keyFile } = await makeSelfSignedCert(tree.path);
  const cert = await Deno.readTextFile(certFile);
  const key = await Deno.readTextFile(keyFile);
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const { port } = listener.addr;

  const serve = (async () => {
    using conn = await listener.accept();
    await conn.handshake();
    await conn.write(new TextEncoder().encode("hello over tls"));
  })();
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [cert] });
  try {
    const buf = new Uint8Array(64);
    let text = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.equal(text, "hello over tls");
  } finally {
    conn.close();
  }
  await serve;

  // Without the CA the handshake must fail: the certificate is really checked.
  const serveRejected = (async () => {
    using conn = await listener.accept();
    await conn.handshake().catch(() => {});
  })();
  const untrusted = await Deno.connectTls({ hostname: "127.0.0.1", port });
  try {
    await assert.rejects(untrusted.handshake(), /certificate|UnknownIssuer/i);
  } finally {
    untrusted.close();
  }
  await serveRejected;
});

Deno.test({
  name: "makeSelfSignedCert: curl --cacert accepts it for https://localhost (DNS SAN)",
  ...SANITIZE,
}, async () => {
  await using tree = await tempTree();
  const { certFile, keyFile } = await makeSelfSignedCert(tree.path);
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  });
  const serve = (async () => {
    using conn = await listener.accept();
    await conn.read(new Uint8Array(4096)); // the request head; curl sends it in one go
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
      ),
    );
  })();
  const output = await new Deno.Command("curl", {
    args: [
      "--silent",
      "--show-error",
      "--max-time",
      "10",
      "--cacert",
      certFile,
      // Pin localhost to 127.0.0.1 so the DNS name is checked whatever /etc/hosts says.
      "--resolve",
      `localhost:${listener.addr.port}:127.0.0.1`,
      `https://localhost:${listener.addr.port}/`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  await serve;
  assert.equal(new TextDecoder().decode(output.stderr), "");
  assert.equal(output.code, 0);
  assert.equal(new TextDecoder().decode(output.stdout), "ok");
});
