/**
 * `echo-client --udp` (lib/echo/udp_client.ts) against a real UDP echo peer written here in
 * Python (this test process has no `--unstable-net`, so it cannot open a datagram socket
 * itself), and against `sockit echo-server --udp` when that exists: replies, loss and
 * round-trip statistics like ping, the exit codes, and the datagram size limit at and past
 * it.
 *
 * ```sh
 * deno test -A tests/echo_udp_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_UDP_PAYLOAD_BYTES } from "../lib/echo/udp_client.ts";
import { commandExists, runCli, serveLocal } from "./helpers.ts";

const hasPython = await commandExists("python3");
const ignore = !hasPython;
if (ignore) console.error("echo_udp_test: ignored: python3 not found");

const UDP_PEER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
drop_even = sys.argv[1] == "drop-even"
n = 0
while True:
    data, addr = s.recvfrom(65535)
    n += 1
    if drop_even and n % 2 == 0:
        continue
    s.sendto(data, addr)
`;

/** A Python UDP echo on 127.0.0.1 ("drop-even": it ignores every second datagram). */
async function udpPeer(behaviour: "echo" | "drop-even") {
  const child = new Deno.Command("python3", {
    args: ["-c", UDP_PEER, behaviour],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("UDP peer exited");
    text += new TextDecoder().decode(value);
  }
  return {
    port: Number(text.trim()),
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

Deno.test({
  name: "echo-client --udp: one datagram, its echo printed, exit 0; line mode adds the newline",
  ignore,
  fn: async () => {
    await using peer = await udpPeer("echo");
    for (const mode of ["line", "raw"]) {
      const r = await runCli(["echo-client", String(peer.port), "--udp", "--mode", mode, "hello"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello\n", mode);
    }
    const json = await runCli(["echo-client", String(peer.port), "--udp", "hi", "--json"]);
    const [reply, summary] = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(reply.event, "reply");
    assert.equal(reply.reply, "hi");
    assert.equal(summary.received, 1);
    assert.equal(summary.mode, "udp line");
  },
});

Deno.test({
  name:
    "echo-client --udp --count: lost datagrams are reported like ping; exit 0 while any came back",
  ignore,
  fn: async () => {
    await using peer = await udpPeer("drop-even");
    const r = await runCli([
      "echo-client",
      String(peer.port),
      "--udp",
      "ping",
      "--count",
      "4",
      "--timeout",
      "0.3",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /5 bytes from 127\.0\.0\.1:\d+: seq=1 time=/);
    assert.match(r.stdout, /no reply to seq=2 from 127\.0\.0\.1:\d+ within 0\.3 s/);
    assert.match(r.stdout, /4 messages sent, 2 received, 50% loss/);
  },
});

Deno.test("echo-client --udp: nothing answers → every datagram lost, exit 1, one stderr line", async () => {
  const r = await runCli(["echo-client", "127.0.0.1:9", "--udp", "x", "--timeout", "0.2"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "sockit: 127.0.0.1:9: no reply to any of 1 datagram(s)\n");
});

Deno.test({
  name: "echo-client --udp: a datagram at the size limit is echoed; one byte more is a usage error",
  ignore,
  fn: async () => {
    await using peer = await udpPeer("echo");
    const atLimit = "x".repeat(MAX_UDP_PAYLOAD_BYTES);
    const ok = await runCli(["echo-client", String(peer.port), "--udp", "--mode", "raw", atLimit]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.length, MAX_UDP_PAYLOAD_BYTES + 1);
    const over = await runCli([
      "echo-client",
      String(peer.port),
      "--udp",
      "--mode",
      "raw",
      atLimit + "x",
    ]);
    assert.equal(over.code, 2);
    assert.match(
      over.stderr,
      /65508-byte message does not fit in one UDP datagram \(at most 65507\)/,
    );
  },
});

Deno.test("echo-client --udp: flags that cannot apply are one line and exit 2", async () => {
  for (
    const [args, pattern] of [
      [["--mode", "length"], /--mode length does not apply/],
      [["--connections", "2"], /--udp and load mode/],
      [["--wait", "1"], /--wait needs TCP/],
    ] as const
  ) {
    const r = await runCli(["echo-client", "127.0.0.1:9", "--udp", "x", ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

// --- sockit echo-server --udp ------------------------------------------------------------

const UDP_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for payload in sys.argv[2:]:
    data = b"" if payload == "-" else payload.encode()
    s.sendto(data, ("127.0.0.1", int(sys.argv[1])))
    reply, _ = s.recvfrom(65535)
    print(repr(reply), flush=True)
`;

async function pythonUdpClient(port: number, ...payloads: string[]): Promise<string[]> {
  const out = await new Deno.Command("python3", {
    args: ["-c", UDP_CLIENT, String(port), ...payloads],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

Deno.test({
  name: "echo-server --udp: datagrams come back (empty and largest included), each one logged",
  ignore,
  fn: async () => {
    await using server = await serveLocal("echo-server", "--udp");
    assert.match(
      server.lines[0],
      /^sockit echo-server listening on udp:\/\/127\.0\.0\.1:\d+ \(mode raw\)$/,
    );
    assert.deepEqual(await pythonUdpClient(server.port, "can you hear me?", "-"), [
      "b'can you hear me?'",
      "b''",
    ]);
    await server.waitForLine(/sent a 16-byte datagram: b'can you hear me\?'/);
    await server.waitForLine(/sent a 0-byte datagram: b''/);
    const big = "y".repeat(MAX_UDP_PAYLOAD_BYTES);
    const r = await runCli(["echo-client", String(server.port), "--udp", "--mode", "raw", big]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, big + "\n");
    const ping = await runCli(["echo-client", String(server.port), "--udp", "hi", "--count", "3"]);
    assert.match(ping.stdout, /3 messages sent, 3 received, 0% loss/);
  },
});

Deno.test({
  name: "echo-server --udp --reply: every datagram answered with TEXT (line mode keeps the ending)",
  ignore,
  fn: async () => {
    await using server = await serveLocal(
      "echo-server",
      "--udp",
      "--mode",
      "line",
      "--reply",
      "Yes",
    );
    assert.deepEqual(await pythonUdpClient(server.port, "hello\n", "no newline"), [
      "b'Yes\\n'",
      "b'Yes'",
    ]);
  },
});

Deno.test("echo-server --udp: TCP-only flags are one line and exit 2; --workers falls back to 1", async () => {
  for (
    const [args, pattern] of [
      [["--mode", "length"], /--mode length does not apply/],
      [["--max-connections", "5"], /--max-connections needs TCP/],
      [["--close-after-reply"], /--close-after-reply needs TCP/],
    ] as const
  ) {
    const r = await runCli(["echo-server", "--udp", "--port", "0", ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  }
  await using server = await serveLocal("echo-server", "--udp", "--workers", "2");
  await server.waitForStderr(/--workers 2: UDP cannot share a port between workers/);
});
