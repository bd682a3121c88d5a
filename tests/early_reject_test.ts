/**
 * Bytes that cannot be the protocol are refused as they arrive, not held until a timeout:
 * a TLS ClientHello or binary junk on http-serve's plain port gets 400 and a close at once
 * (before: the parser waited for a CRLF until --header-timeout), and a length-framed
 * echo-server closes a connection whose first prefix byte already announces more than
 * --max-frame. Each server runs with a long timeout, so only the early refusal can answer
 * within the test's bound.
 *
 * ```sh
 * deno test -A tests/early_reject_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { BufferedReader } from "../lib/framing.ts";
import { commandExists, readAll, serveLocal, startServer } from "./helpers.ts";

/** Far longer than the bound below: an answer within the bound cannot be the timeout's. */
const LONG_TIMEOUT_S = "60";
/** How long the refusal may take (generous for a loaded CI machine; the timeout is 60 s). */
const BOUND_MS = 5_000;

/** The first bytes of a real TLS 1.2/1.3 ClientHello record (handshake, TLS 1.0 record). */
const CLIENT_HELLO_START = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]);

async function startHttp() {
  return await startServer([
    "http-serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--header-timeout",
    LONG_TIMEOUT_S,
    "--keep-alive-timeout",
    LONG_TIMEOUT_S,
  ]);
}

async function answerTo(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes); // then wait: the client does not close its side
    return new TextDecoder().decode(await readAll(conn, BOUND_MS));
  } finally {
    conn.close();
  }
}

Deno.test("http-serve: a TLS ClientHello on the plain port gets 400 naming it, and a close, at once", async () => {
  await using server = await startHttp();
  const answer = await answerTo(server.port, CLIENT_HELLO_START);
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /\r\nConnection: close\r\n/);
  assert.match(answer, /TLS handshake on a plain HTTP port/);
  // The refusal is logged like any other answered request.
  await server.waitForLine(/"-" 400 /);
});

Deno.test("http-serve: binary junk and a bad first byte get 400 at once; a normal request still works", async () => {
  await using server = await startHttp();
  for (const junk of [new Uint8Array([0x00, 0xff, 0x13]), new TextEncoder().encode("GET /\x01")]) {
    const answer = await answerTo(server.port, junk);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify([...junk]));
  }
  const res = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test({
  name: "http-serve: curl https:// against the plain port fails fast instead of hanging",
  ignore: !(await commandExists("curl")),
  fn: async () => {
    await using server = await startHttp();
    const out = await new Deno.Command("curl", {
      args: ["-sS", "-m", String(BOUND_MS / 1000), `https://127.0.0.1:${server.port}/`],
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.notEqual(out.code, 0);
    assert.notEqual(out.code, 28, `curl timed out instead of being refused: ${stderr}`);
  },
});

Deno.test("echo-server --mode length: a first byte that rules out every size within --max-frame closes at once", async () => {
  await using server = await serveLocal(
    "echo-server",
    "--mode",
    "length",
    "--idle-timeout",
    LONG_TIMEOUT_S,
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // 'G' alone: any prefix starting 0x47 announces ≥ 0x47000000 bytes > 16 MiB.
    await conn.write(new TextEncoder().encode("G"));
    const reader = new BufferedReader(conn);
    let closed = false;
    const timer = setTimeout(() => conn.close(), BOUND_MS);
    try {
      closed = (await reader.readChunk()) === null;
    } catch {
      closed = false; // closed by our own timer: the server held the connection
    } finally {
      clearTimeout(timer);
    }
    assert.ok(closed, "the server closed the connection after one impossible byte");
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  await server.waitForLine(/FRAME_TOO_LARGE/);
  // At the limit: a prefix that can still announce a size within --max-frame waits.
  const ok = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await ok.write(new Uint8Array([0x00, 0x00, 0x00, 0x02, 0x68]));
    await new Promise((r) => setTimeout(r, 200));
    await ok.write(new Uint8Array([0x69]));
    const echoed = await new BufferedReader(ok).readFrame();
    assert.equal(new TextDecoder().decode(echoed!), "hi");
  } finally {
    ok.close();
  }
});
