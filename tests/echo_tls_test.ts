/**
 * echo over TLS, end to end: `echo-server --tls-cert auto` against `openssl s_client` (the
 * fingerprint on the listening line is the served certificate's) and against sockit's own
 * `echo-client --tls` with `--fingerprint` (right: exit 0, wrong: exit 1), `--ca`,
 * `--insecure` and the system's CAs (untrusted: exit 1); a certificate from files; every
 * `--workers` worker serving the one generated certificate; and each bad TLS flag as one
 * line and exit 2.
 *
 * ```sh
 * deno test -A tests/echo_tls_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { commandExists, runCli, type RunningServer, serveLocal, tempTree } from "./helpers.ts";
import { makeSelfSignedCert } from "./tls_cert.ts";

const dec = new TextDecoder();
const FINGERPRINT = /sha256 Fingerprint=((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/;

const ignore = !(await commandExists("openssl"));
if (ignore) console.error("echo_tls_test: ignored: openssl not found");

/** `echo-server --host 127.0.0.1 --port 0 ...flags`, and the fingerprint it printed. */
async function echoServer(
  ...flags: string[]
): Promise<{ server: RunningServer; fingerprint: string }> {
  const server = await serveLocal("echo-server", ...flags);
  const fingerprint = FINGERPRINT.exec(server.lines[0])?.[1];
  assert.ok(fingerprint, server.lines[0]);
  return { server, fingerprint };
}

/** The SHA-256 fingerprint of the certificate a TLS server sends, as openssl sees it. */
async function servedFingerprint(port: number): Promise<string> {
  const shown = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-showcerts"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(
    dec.decode(shown.stdout),
  )?.[0];
  assert.ok(pem, "openssl s_client showed no certificate");
  return fingerprintOfPem(pem);
}

/** `openssl x509 -noout -fingerprint -sha256` of a PEM certificate. */
async function fingerprintOfPem(pem: string): Promise<string> {
  const child = new Deno.Command("openssl", {
    args: ["x509", "-noout", "-fingerprint", "-sha256"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(pem));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, dec.decode(out.stderr));
  const match = FINGERPRINT.exec(dec.decode(out.stdout).replace(/^SHA256/i, "sha256"));
  assert.ok(match, dec.decode(out.stdout));
  return match[1];
}

/** Sends one line through `openssl s_client` and resolves with what came back. */
async function opensslEcho(port: number, line: string): Promise<string> {
  const child = new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-quiet", "-verify_quiet"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${line}\n`));
  let got = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    for await (const chunk of child.stdout) {
      got += dec.decode(chunk);
      if (got.includes("\n")) break;
    }
  } finally {
    clearTimeout(deadline);
    await writer.close().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
  return got;
}

Deno.test({
  name: "echo-server --tls-cert auto: openssl s_client echoes, the printed fingerprint is served",
  ignore,
  fn: async () => {
    const { server, fingerprint } = await echoServer("--tls-cert", "auto", "--mode", "line");
    await using _ = server;
    assert.match(server.lines[0], /^sockit echo-server listening on tls:\/\/127\.0\.0\.1:\d+ \(/);
    assert.match(server.lines[0], /\(mode line; self-signed sha256 Fingerprint=/);
    await server.waitForLine(/^ {2}public key pin: sha256\/\/[A-Za-z0-9+/]{43}= /);
    assert.equal(await opensslEcho(server.port, "hello over tls"), "hello over tls\n");
    assert.equal(await servedFingerprint(server.port), fingerprint);
  },
});

Deno.test({
  name: "echo-client --tls --fingerprint: the right one passes, a wrong one fails with exit 1",
  ignore,
  fn: async () => {
    const { server, fingerprint } = await echoServer("--tls-cert", "auto");
    await using _ = server;
    const port = String(server.port);
    const right = await runCli(["echo-client", port, "hi", "--tls", "--fingerprint", fingerprint]);
    assert.equal(right.code, 0, right.stderr);
    assert.equal(right.stdout, "hi\n");
    // The same fingerprint typed as 64 lower-case hex digits.
    const bare = fingerprint.replaceAll(":", "").toLowerCase();
    const typed = await runCli(["echo-client", port, "hi", "--tls", "--fingerprint", bare]);
    assert.equal(typed.code, 0, typed.stderr);
    const other = `${fingerprint.startsWith("00") ? "11" : "00"}${fingerprint.slice(2)}`;
    const wrong = await runCli(["echo-client", port, "hi", "--tls", "--fingerprint", other]);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, "");
    assert.match(wrong.stderr, /^sockit: TLS with 127\.0\.0\.1:\d+ failed: .*fingerprint/);
    assert.ok(wrong.stderr.includes(fingerprint), wrong.stderr);
    assert.equal(wrong.stderr.trim().split("\n").length, 1);
  },
});

Deno.test({
  name: "echo-client --tls: --ca with --tls-cert-out's file passes, the system's CAs refuse",
  ignore,
  fn: async () => {
    await using dir = await tempTree();
    const certOut = `${dir.path}/served.pem`;
    const { server, fingerprint } = await echoServer(
      "--tls-cert",
      "auto",
      "--tls-cert-out",
      certOut,
    );
    await using _ = server;
    await server.waitForLine(/certificate written to .*served\.pem/);
    const written = await Deno.readTextFile(certOut);
    assert.ok(!written.includes("PRIVATE KEY"), "--tls-cert-out wrote the key");
    assert.equal(await fingerprintOfPem(written), fingerprint);
    for (const host of ["127.0.0.1", "localhost"]) {
      const viaCa = await runCli([
        "echo-client",
        `${host}:${server.port}`,
        "hello",
        "--tls",
        "--ca",
        certOut,
        "--expect",
        "hello",
      ]);
      assert.equal(viaCa.code, 0, viaCa.stderr);
    }
    const untrusted = await runCli(["echo-client", String(server.port), "hi", "--tls"]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /not from a trusted CA.*\(invalid peer certificate/);
    assert.equal(untrusted.stderr.trim().split("\n").length, 1);
    const insecure = await runCli([
      "echo-client",
      String(server.port),
      "hi",
      "--tls",
      "--insecure",
    ]);
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.equal(insecure.stdout, "hi\n");
  },
});

Deno.test({
  name: "echo-client --tls --insecure: raw stdin streams 256 KiB both ways over node:tls",
  ignore,
  fn: async () => {
    const { server } = await echoServer("--tls-cert", "auto", "--quiet");
    await using _ = server;
    const input = new Uint8Array(256 * 1024).map((_, i) => 32 + (i * 7) % 90);
    const out = await runCli(
      ["echo-client", String(server.port), "--tls", "--insecure", "--mode", "raw"],
      { input },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, dec.decode(input));
  },
});

Deno.test({
  name: "echo-server --tls-cert/--tls-key files: fingerprint printed, --ca and openssl agree",
  ignore,
  fn: async () => {
    await using dir = await tempTree();
    const { certFile, keyFile } = await makeSelfSignedCert(dir.path);
    const { server, fingerprint } = await echoServer("--tls-cert", certFile, "--tls-key", keyFile);
    await using _ = server;
    assert.doesNotMatch(server.lines[0], /self-signed/); // only `auto` is called that
    assert.equal(fingerprint, await fingerprintOfPem(await Deno.readTextFile(certFile)));
    assert.equal(await servedFingerprint(server.port), fingerprint);
    const out = await runCli(["echo-client", String(server.port), "x", "--tls", "--ca", certFile]);
    assert.equal(out.code, 0, out.stderr);
  },
});

Deno.test({
  name: "echo-server --workers 2 --tls-cert auto: every worker serves the one certificate",
  ignore: ignore || Deno.build.os !== "linux",
  fn: async () => {
    const { server, fingerprint } = await echoServer("--tls-cert", "auto", "--workers", "2");
    await using _ = server;
    assert.match(server.lines[0], /\(mode raw; 2 workers; self-signed sha256 Fingerprint=/);
    for (let i = 0; i < 6; i++) assert.equal(await servedFingerprint(server.port), fingerprint);
  },
});

Deno.test("echo TLS flags: each bad value or combination is one line and exit 2", async () => {
  await using dir = await tempTree({ "not-a-cert.pem": "hello\n" });
  const missing = `${dir.path}/missing.pem`;
  const notCert = `${dir.path}/not-a-cert.pem`;
  const fp = "AB:".repeat(31) + "AB";
  const cases: [string[], RegExp][] = [
    [
      ["echo-server", "--tls-cert", missing, "--tls-key", missing],
      /cannot read --tls-cert .*no such file/,
    ],
    [
      ["echo-server", "--tls-cert", dir.path, "--tls-key", missing],
      /cannot read --tls-cert .*is a directory/,
    ],
    [["echo-server", "--tls-key", notCert], /--tls-key needs --tls-cert/],
    [["echo-server", "--tls-cert", notCert], /--tls-cert and --tls-key go together/],
    [
      ["echo-server", "--tls-cert", "auto", "--tls-key", notCert],
      /--tls-key does not go with --tls-cert auto/,
    ],
    [["echo-server", "--tls-cert-out", missing], /--tls-cert-out needs --tls-cert auto/],
    [
      ["echo-server", "--tls-cert", "auto", "--tls-cert-out", `${missing}/x.pem`],
      /cannot write --tls-cert-out .*no such directory/,
    ],
    [
      ["echo-server", "--tls-cert", notCert, "--tls-key", notCert],
      /--tls-cert holds no PEM certificate/,
    ],
    [["echo-client", "9", "hi", "--fingerprint", fp], /--fingerprint needs --tls/],
    [["echo-client", "9", "hi", "--ca", notCert], /--ca '.*' holds no PEM certificate/],
    [["echo-client", "9", "hi", "--insecure"], /--insecure needs --tls/],
    [
      ["echo-client", "9", "hi", "--tls", "--fingerprint", "AB:CD"],
      /invalid --fingerprint 'AB:CD'/,
    ],
    [
      ["echo-client", "9", "hi", "--tls", "--fingerprint", "zz".repeat(32)],
      /invalid --fingerprint/,
    ],
    [["echo-client", "9", "hi", "--tls", "--ca", missing], /cannot read --ca .*no such file/],
    [
      ["echo-client", "9", "hi", "--tls", "--insecure", "--fingerprint", fp],
      /--insecure and --fingerprint do not mix/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const serverArgs = args[0] === "echo-server" ? ["--port", "0"] : [];
    const out = await runCli([...args, ...serverArgs]);
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, pattern, args.join(" "));
    assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
    assert.equal(out.stdout, "");
  }
});

Deno.test("echo-server and echo-client --help show every TLS flag in an example", async () => {
  const server = await runCli(["echo-server", "--help"]);
  const client = await runCli(["echo-client", "--help"]);
  const examples = (help: string) => help.slice(help.indexOf("\nExamples:\n"));
  for (const flag of ["--tls-cert auto", "--tls-key", "--tls-cert-out"]) {
    assert.ok(examples(server.stdout).includes(flag), flag);
  }
  for (const flag of ["--tls", "--ca", "--insecure", "--fingerprint"]) {
    assert.match(examples(client.stdout), new RegExp(`${flag}(?![\\w-])`), flag);
  }
});
