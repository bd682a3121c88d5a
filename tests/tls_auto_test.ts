/**
 * `--tls-cert auto`, lib/net/tls.ts and lib/net/x509.ts: the generated certificate read back by `openssl
 * x509` (names, validity, not a CA), its fingerprint and public-key pin computed as openssl
 * computes them, fingerprints typed every way a user copies them, the TLS flags resolved,
 * and `http-serve --tls-cert auto` against curl (`--cacert` with `--tls-cert-out`'s file,
 * `--pinnedpubkey` with the printed pin), writing nothing it was not asked to.
 *
 * ```sh
 * deno test -A tests/tls_auto_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import { parseFingerprint, resolveServerTls } from "../lib/net/tls.ts";
import { certificatePins, generateSelfSignedCert } from "../lib/net/x509.ts";
import { commandExists, entryNames, runCli, startServer, tempTree } from "./helpers.ts";

const dec = new TextDecoder();

const noOpenssl = !(await commandExists("openssl"));
const noCurl = !(await commandExists("curl"));
if (noOpenssl || noCurl) console.error("tls_auto_test: some tests ignored: openssl/curl missing");

/** Runs `openssl ARGS` with `input` on stdin; resolves with stdout. */
async function openssl(args: string[], input: string | Uint8Array): Promise<string> {
  const child = new Deno.Command("openssl", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, `openssl ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** curl's exit code, HTTP status and body. */
async function curl(...args: string[]): Promise<{ code: number; status: string; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--max-time", "20", "--write-out", "\n%{http_code}", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = dec.decode(out.stdout);
  const nl = text.lastIndexOf("\n");
  return { code: out.code, status: text.slice(nl + 1), body: text.slice(0, nl) };
}

Deno.test({
  name: "generateSelfSignedCert: openssl reads the names, 30 days, CA:FALSE, and our pins",
  ignore: noOpenssl,
  fn: async () => {
    const now = new Date("2030-01-02T03:04:05Z");
    const started = performance.now();
    const { cert, key } = await generateSelfSignedCert({
      hosts: ["localhost", "127.0.0.1", "::1", "192.168.1.5", "fd00::5", "box.lan"],
      now,
    });
    const ms = performance.now() - started;
    console.log(`  generated in ${ms.toFixed(1)} ms`);
    assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/);
    const text = await openssl(["x509", "-noout", "-text"], cert);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /NIST CURVE: P-256/);
    assert.match(text, /Not Before: Jan {2}2 02:04:05 2030 GMT/); // back-dated one hour
    assert.match(text, /Not After : Feb {2}1 03:04:05 2030 GMT/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(
      text,
      /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:192\.168\.1\.5, IP Address:FD00:0:0:0:0:0:0:5, DNS:box\.lan/,
    );
    const pins = await certificatePins(cert);
    const opensslFingerprint = await openssl(["x509", "-noout", "-fingerprint", "-sha256"], cert);
    assert.equal(opensslFingerprint.trim().split("=")[1], pins.fingerprint);
    const spki = await openssl(["x509", "-noout", "-pubkey"], cert);
    const spkiDer = await new Deno.Command("openssl", {
      args: ["pkey", "-pubin", "-outform", "der"],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const writer = spkiDer.stdin.getWriter();
    await writer.write(new TextEncoder().encode(spki));
    await writer.close();
    const der = (await spkiDer.output()).stdout;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
    assert.equal(pins.spkiPin, `sha256//${btoa(String.fromCharCode(...digest))}`);
    // The key belongs to the certificate: openssl derives the same public key from it.
    assert.equal(await openssl(["pkey", "-pubout"], key), spki);
  },
});

Deno.test("generateSelfSignedCert: every certificate gets its own key and serial", async () => {
  const a = await certificatePins((await generateSelfSignedCert({ hosts: ["localhost"] })).cert);
  const b = await certificatePins((await generateSelfSignedCert({ hosts: ["localhost"] })).cert);
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.notEqual(a.spkiPin, b.spkiPin);
});

Deno.test("parseFingerprint: colon hex, bare hex, any case, openssl's own line", () => {
  const canonical = "7B:A1:" + "0F:".repeat(29) + "E2";
  const bare = canonical.replaceAll(":", "");
  for (
    const typed of [
      canonical,
      canonical.toLowerCase(),
      bare,
      bare.toLowerCase(),
      `sha256 Fingerprint=${canonical}`,
      `SHA256 Fingerprint=${canonical}`,
      ` ${canonical} `,
    ]
  ) {
    assert.equal(parseFingerprint(typed), canonical, typed);
  }
  for (const bad of ["", "AB:CD", bare.slice(2), `${bare}00`, "zz".repeat(32), "AB-".repeat(32)]) {
    assert.throws(() => parseFingerprint(bad), ConfigError, bad);
  }
});

Deno.test("resolveServerTls: files, auto and its names, and every wrong combination", () => {
  assert.equal(resolveServerTls({}, "0.0.0.0"), undefined);
  assert.deepEqual(resolveServerTls({ tlsCert: "c.pem", tlsKey: "k.pem" }, "0.0.0.0"), {
    kind: "files",
    certFile: "c.pem",
    keyFile: "k.pem",
  });
  const hostsFor = (host: string) => {
    const source = resolveServerTls({ tlsCert: "auto" }, host);
    assert.equal(source?.kind, "auto");
    return source.kind === "auto" ? source.hosts : [];
  };
  assert.deepEqual(hostsFor("0.0.0.0"), ["localhost", "127.0.0.1", "::1"]);
  assert.deepEqual(hostsFor("::"), ["localhost", "127.0.0.1", "::1"]);
  assert.deepEqual(hostsFor("127.0.0.1"), ["localhost", "127.0.0.1", "::1"]);
  assert.deepEqual(hostsFor("192.168.1.5"), ["localhost", "127.0.0.1", "::1", "192.168.1.5"]);
  assert.deepEqual(hostsFor("[fd00::5]"), ["localhost", "127.0.0.1", "::1", "fd00::5"]);
  assert.deepEqual(hostsFor("box.lan"), ["localhost", "127.0.0.1", "::1", "box.lan"]);
  assert.deepEqual(hostsFor("fe80::1%eth0"), ["localhost", "127.0.0.1", "::1"]);
  const out = resolveServerTls({ tlsCert: "auto", tlsCertOut: "c.pem" }, "0.0.0.0");
  assert.equal(out?.kind === "auto" && out.certOut, "c.pem");
  for (
    const [flags, pattern] of [
      [{ tlsKey: "k.pem" }, /--tls-key needs --tls-cert/],
      [{ tlsCert: "c.pem" }, /--tls-cert and --tls-key go together/],
      [{ tlsCert: "auto", tlsKey: "k.pem" }, /--tls-key does not go with --tls-cert auto/],
      [{ tlsCertOut: "c.pem" }, /--tls-cert-out needs --tls-cert auto/],
      [{ tlsCert: "c.pem", tlsKey: "k.pem", tlsCertOut: "o.pem" }, /--tls-cert-out needs/],
    ] as const
  ) {
    assert.throws(() => resolveServerTls(flags, "0.0.0.0"), pattern);
  }
});

Deno.test({
  name: "http-serve --tls-cert auto: curl --cacert and --pinnedpubkey, nothing else written",
  ignore: noOpenssl || noCurl,
  fn: async () => {
    await using site = await tempTree({ "hello.txt": "hello over https\n" });
    await using work = await tempTree();
    const certOut = `${work.path}/cert.pem`;
    await using server = await startServer(
      [
        "http-serve",
        site.path,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--quiet",
        "--tls-cert",
        "auto",
        "--tls-cert-out",
        certOut,
      ],
      { cwd: work.path },
    );
    assert.match(
      server.lines[0],
      /^sockit http-serve listening on https:\/\/127\.0\.0\.1:\d+\/ \(serving .*; self-signed sha256 Fingerprint=([0-9A-F]{2}:){31}[0-9A-F]{2}\)$/,
    );
    const pinLine = await server.waitForLine(/public key pin: sha256\/\//);
    const pin = /sha256\/\/[A-Za-z0-9+/]{43}=/.exec(pinLine)![0];
    await server.waitForLine(/certificate written to /);
    const url = `https://127.0.0.1:${server.port}/hello.txt`;

    const cert = await Deno.readTextFile(certOut);
    const fingerprint = /Fingerprint=([0-9A-F:]+)/.exec(server.lines[0])![1];
    const opensslFingerprint = await openssl(["x509", "-noout", "-fingerprint", "-sha256"], cert);
    assert.equal(opensslFingerprint.trim().split("=")[1], fingerprint);

    const viaCa = await curl("--cacert", certOut, url);
    assert.deepEqual(viaCa, { code: 0, status: "200", body: "hello over https\n" });
    const viaName = await curl("--cacert", certOut, `https://localhost:${server.port}/hello.txt`);
    assert.equal(viaName.status, "200");
    const pinned = await curl("--insecure", "--pinnedpubkey", pin, url);
    assert.deepEqual(pinned, { code: 0, status: "200", body: "hello over https\n" });
    const pinnedAndTrusted = await curl("--cacert", certOut, "--pinnedpubkey", pin, url);
    assert.equal(pinnedAndTrusted.status, "200");
    const otherPin = `sha256//${"A".repeat(43)}=`;
    const wrongPin = await curl("--insecure", "--pinnedpubkey", otherPin, url);
    assert.equal(wrongPin.code, 90); // CURLE_SSL_PINNEDPUBKEYNOTMATCH
    const untrusted = await curl(url);
    assert.equal(untrusted.code, 60); // CURLE_PEER_FAILED_VERIFICATION

    // The certificate, and only it, was written; the key never leaves the process.
    assert.deepEqual(await entryNames(work.path), ["cert.pem"]);
    assert.ok(!cert.includes("PRIVATE KEY"));
  },
});

Deno.test({
  name: "http-serve --tls-cert auto without --tls-cert-out writes nothing",
  ignore: noCurl,
  fn: async () => {
    await using site = await tempTree({ "a.txt": "a\n" });
    await using work = await tempTree();
    await using server = await startServer(
      ["http-serve", site.path, "--host", "127.0.0.1", "--port", "0", "--tls-cert", "auto"],
      { cwd: work.path },
    );
    assert.match(server.lines[0], /https:.*self-signed sha256 Fingerprint=/);
    const res = await curl("--insecure", `https://127.0.0.1:${server.port}/a.txt`);
    assert.equal(res.body, "a\n");
    assert.deepEqual(await entryNames(work.path), []);
    assert.deepEqual(await entryNames(site.path), ["a.txt"]);
  },
});

Deno.test("http-serve TLS flags: each bad value or combination is one line and exit 2", async () => {
  await using site = await tempTree({ "k.pem": "not a key\n" });
  const key = `${site.path}/k.pem`;
  for (
    const [flags, pattern] of [
      [["--tls-cert", "auto", "--tls-key", key], /--tls-key does not go with --tls-cert auto/],
      [["--tls-key", key], /--tls-key needs --tls-cert/],
      [["--tls-cert-out", `${site.path}/c.pem`], /--tls-cert-out needs --tls-cert auto/],
      [["--tls-cert", `${site.path}/nope.pem`, "--tls-key", key], /cannot read --tls-cert/],
      [
        ["--tls-cert", "auto", "--tls-cert-out", `${site.path}/no/dir/c.pem`],
        /cannot write --tls-cert-out .*no such directory/,
      ],
    ] as const
  ) {
    const out = await runCli(["http-serve", site.path, "--port", "0", ...flags]);
    assert.equal(out.code, 2, `${flags.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, pattern);
    assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
  }
});
