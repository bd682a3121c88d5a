/**
 * sockit's echo pair against plain, unframed socket programs — the classic tutorial pair
 * whose server `recv(1024)`s once, answers `Yes` without a newline and closes, and whose
 * client sends `can you hear me?` without a newline and `recv(1024)`s once. Both peers are
 * real Python socket programs written here, so both directions are tested: sockit's client
 * against the tutorial server, and the tutorial client against sockit's server.
 *
 * ```sh
 * deno test -A tests/echo_interop_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { commandExists, runCli, serveLocal } from "./helpers.ts";

const hasPython = await commandExists("python3");
const ignore = !hasPython;
if (ignore) console.error("echo_interop_test: ignored: python3 not found");

const TUTORIAL_SERVER = `
import socket, sys
reply = sys.argv[1].encode()
connections = int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
for _ in range(connections):
    c, _ = s.accept()
    data = c.recv(1024)
    print(repr(data), flush=True)
    if reply:
        c.send(reply)
    c.close()
`;

const TUTORIAL_CLIENT = `
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.settimeout(5)
c.send(b"can you hear me?")
print(repr(c.recv(1024)), flush=True)
c.settimeout(1)
try:
    rest = c.recv(1024)
    print("closed" if rest == b"" else "more: " + repr(rest), flush=True)
except socket.timeout:
    print("open", flush=True)
`;

/** Runs the tutorial server for `connections` clients; resolves its port and its log. */
async function tutorialServer(reply: string, connections: number) {
  const child = new Deno.Command("python3", {
    args: ["-c", TUTORIAL_SERVER, reply, String(connections)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = child.stdout.getReader();
  const port = await (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("tutorial server exited");
      buffered += decoder.decode(value, { stream: true });
      const nl = buffered.indexOf("\n");
      if (nl !== -1) {
        const port = Number(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        return port;
      }
    }
  })();
  return {
    port,
    /** What the server received, one `repr()` per connection, once it has exited. */
    async received(): Promise<string[]> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
      }
      await child.status;
      lines.push(...buffered.split("\n").filter((l) => l !== ""));
      return lines;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

async function tutorialClient(port: number): Promise<string[]> {
  const out = await new Deno.Command("python3", {
    args: ["-c", TUTORIAL_CLIENT, String(port)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

// --- sockit's client against the tutorial server ------------------------------------------

Deno.test({
  name:
    "echo-client (default line mode) prints the tutorial server's unterminated 'Yes' and exits 0",
  ignore,
  fn: async () => {
    await using server = await tutorialServer("Yes", 1);
    const r = await runCli(["echo-client", String(server.port), "can you hear me?"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Yes\n");
    assert.equal(r.stderr, "");
    assert.deepEqual(await server.received(), ["b'can you hear me?\\n'"]);
  },
});

Deno.test({
  name: "echo-client --mode raw sends no newline and --expect Yes passes; a wrong --expect fails",
  ignore,
  fn: async () => {
    {
      await using server = await tutorialServer("Yes", 1);
      const r = await runCli([
        "echo-client",
        String(server.port),
        "--mode",
        "raw",
        "can you hear me?",
        "--expect",
        "Yes",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "Yes\n");
      assert.deepEqual(await server.received(), ["b'can you hear me?'"]);
    }
    {
      await using server = await tutorialServer("Yes", 1);
      const r = await runCli([
        "echo-client",
        String(server.port),
        "--mode",
        "raw",
        "can you hear me?",
        "--expect",
        "No",
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /expected "No" but got "Yes"/);
    }
  },
});

Deno.test({
  name: "echo-client --count against a read-once server reconnects for every message",
  ignore,
  fn: async () => {
    await using server = await tutorialServer("Yes", 3);
    const r = await runCli(["echo-client", String(server.port), "ping", "--count", "3"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 messages sent, 3 received, 0% loss/);
    assert.equal((await server.received()).length, 3);
  },
});

Deno.test({
  name: "echo-client: a server that closes without a word is exit 1 with one line saying so",
  ignore,
  fn: async () => {
    for (const mode of ["line", "raw"]) {
      await using server = await tutorialServer("", 1);
      const r = await runCli(["echo-client", String(server.port), "--mode", mode, "hello"]);
      assert.equal(r.code, 1, mode);
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        /^sockit: 127\.0\.0\.1:\d+: connection closed by the server before any reply\n$/,
        mode,
      );
    }
  },
});

// --- the tutorial client against sockit's server ------------------------------------------

Deno.test({
  name: "echo-server (raw) echoes the tutorial client's unterminated message",
  ignore,
  fn: async () => {
    await using server = await serveLocal("echo-server");
    const [reply] = await tutorialClient(server.port);
    assert.equal(reply, "b'can you hear me?'");
  },
});

Deno.test({
  name: "echo-server --reply Yes answers every read in raw mode; --close-after-reply then closes",
  ignore,
  fn: async () => {
    {
      await using server = await serveLocal("echo-server", "--reply", "Yes");
      assert.deepEqual(
        await tutorialClient(server.port),
        ["b'Yes'", "open"],
        "without --close-after-reply the connection stays open",
      );
    }
    {
      await using server = await serveLocal("echo-server", "--reply", "Yes", "--close-after-reply");
      assert.deepEqual(await tutorialClient(server.port), ["b'Yes'", "closed"]);
      await server.waitForLine(/closed: 16 bytes in, 3 bytes out, .*answered once/);
    }
  },
});

Deno.test("sockit to sockit: echo-client against echo-server --reply Yes --close-after-reply", async () => {
  await using server = await serveLocal("echo-server", "--reply", "Yes", "--close-after-reply");
  for (const mode of ["raw", "line"]) {
    const r = await runCli(["echo-client", String(server.port), "--mode", mode, "hi", "again"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Yes\nYes\n", mode);
  }
});
