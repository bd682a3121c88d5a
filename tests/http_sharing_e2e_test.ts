/**
 * End-to-end tests of the folder-sharing flags of `sockit http-serve` through the real CLI
 * (a subprocess, `tests/helpers.ts`) with real clients: curl for auth, uploads (`-T`, `-F`)
 * and metrics, tar for the folder download, raw sockets where a client must misbehave (an
 * upload cut off halfway), and the QR decoder for `--qr`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import decodeQR from "@paulmillr/qr/decode.js";
import { METRICS_PATH } from "../lib/http/sharing/metrics.ts";
import { UPLOAD_TEMP_PREFIX } from "../lib/http/files/safe_path.ts";
import {
  curlResponse,
  type CurlResult,
  entryNames,
  exchange,
  MAIN,
  modulesFromTerminal,
  qrModulesImage,
  runCli,
  runTool,
  serveHttp,
  startServer,
  tempTree,
} from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Runs curl; the final status, response headers and body (empty when sent to `output`).
 * curl exits 55/56 when the server answers and closes before taking the whole upload: the
 * answer is still what the user sees.
 */
function curl(args: string[], output?: string): Promise<CurlResult> {
  return curlResponse(args, { output, okExitCodes: [0, 55, 56] });
}

/** A temporary folder to serve, removed on dispose. */
function makeSite() {
  return tempTree({
    "share/sub/deeper/": null,
    "inbox/": null,
    "docs/": null,
    "index.html": "<h1>home</h1>\n",
    "about.html": "<h1>about</h1>\n",
    "docs/intro.html": "<h1>intro</h1>\n",
    "share/a.txt": "alpha\n",
    "share/name with spaces & ü.txt": "spaces\n",
    "share/sub/data.bin": new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff),
    "share/sub/deeper/c.txt": "gamma\n",
    "share/.secret": "hidden\n",
    "outside.txt": "outside\n",
    "share/link-in-root.txt": { symlink: "outside.txt", absolute: true },
  });
}

/** Every file below `dir` (relative path → SHA-256), directories as "path/". */
async function tree(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    const info = await Deno.stat(`${dir}/${rel}`);
    if (info.isDirectory) {
      out.set(`${rel}/`, "dir");
      for (const [k, v] of await tree(dir, `${rel}/`)) out.set(k, v);
    } else {
      out.set(rel, createHash("sha256").update(await Deno.readFile(`${dir}/${rel}`)).digest("hex"));
    }
  }
  return out;
}

const hunter2Hex = createHash("sha256").update("hunter2").digest("hex");

Deno.test("e2e --auth: nothing without the right credentials; no password in any log", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(
    site.path,
    "--auth",
    "alice:s3cret",
    "--auth",
    `bob:sha256:${hunter2Hex}`,
    "--trace",
    "--metrics",
  );
  const u = `http://127.0.0.1:${server.port}`;
  const denied = [
    [`${u}/`],
    [`${u}/share/a.txt`],
    ["-I", `${u}/share/a.txt`],
    ["-X", "OPTIONS", `${u}/share/a.txt`],
    ["-X", "OPTIONS", "--request-target", "*", `${u}/`],
    ["--path-as-is", `${u}/share/%2e%2e/index.html`],
    ["--path-as-is", `${u}//share//a.txt`],
    [`${u}/share/%61.txt`],
    [`${u}/%2e%2e%2fetc%2fpasswd`],
    [`${u}/share/?download=tar`],
    [`${u}/share/?download=zip`],
    [`${u}${METRICS_PATH}`],
    ["-X", "PUT", "--data-binary", "x", `${u}/share/new.txt`],
    ["-u", "alice:wrong", `${u}/`],
    ["-u", "alice:", `${u}/`],
    ["-u", "bob:s3cret", `${u}/`],
    ["-u", `bob:sha256:${hunter2Hex}`, `${u}/`], // the hash is not the password
    ["-u", "carol:s3cret", `${u}/`],
    ["-u", "ALICE:s3cret", `${u}/`],
    ["-H", "Authorization: Basic !!!", `${u}/`],
    ["-H", `Authorization: Basic ${btoa("alice")}`, `${u}/`],
    ["-H", "Authorization: Bearer s3cret", `${u}/`],
  ];
  for (const args of denied) {
    const r = await curl(args);
    assert.equal(r.status, 401, args.join(" "));
    assert.match(r.headers, /^WWW-Authenticate: Basic realm="sockit", charset="UTF-8"\r?$/m);
    assert.ok(!/alpha|home|sockit_http/.test(r.body), args.join(" "));
  }
  const alice = await curl(["-u", "alice:s3cret", `${u}/share/a.txt`]);
  assert.equal(alice.status, 200);
  assert.equal(alice.body, "alpha\n");
  const bob = await curl(["-u", "bob:hunter2", `${u}/`]);
  assert.equal(bob.status, 200);
  assert.match(bob.body, /home/);
  assert.equal((await curl(["-I", "-u", "bob:hunter2", `${u}/share/a.txt`])).status, 200);
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const lower = await curl(["-H", `Authorization: basic ${btoa("alice:s3cret")}`, `${u}/`]);
  assert.equal(lower.status, 200);
  // Credentials in an absolute-form target are refused, and must not reach the log either.
  const absolute = await exchange(
    server.port,
    `GET http://alice:s3cret@127.0.0.1:${server.port}/ HTTP/1.1\r\nHost: x\r\n` +
      `Connection: close\r\n\r\n`,
  );
  assert.match(absolute, /^HTTP\/1\.1 400 /);

  await server.stop();
  const log = server.lines.join("\n") + server.stderr();
  assert.match(
    log,
    /request head: b'GET \/share\/a\.txt HTTP\/1\.1\\r\\n[^']*Authorization: Basic <redacted>/,
  );
  assert.match(log, /"GET \/share\/a\.txt HTTP\/1\.1" 200 6 /);
  assert.match(log, /"GET \/ HTTP\/1\.1" 401 /);
  for (const secret of ["s3cret", "hunter2", btoa("alice:s3cret"), btoa("bob:hunter2")]) {
    assert.ok(!log.includes(secret), `${secret} leaked into the log`);
  }
});

Deno.test("e2e --auth: bad values are one-line usage errors that never echo the password", async () => {
  await using folder = await tempTree();
  const dir = folder.path;
  for (
    const [spec, expected] of [
      ["alice", /expected USER:PASS or USER:sha256:HEX/],
      [":pw-XYZZY", /the user name is empty/],
      ["alice:", /the password is empty/],
      ["alice:sha256:not-hex-XYZZY", /64 hex digits/],
      ["alice:bad\x01XYZZY", /control characters/],
    ] as const
  ) {
    const r = await runCli([
      "http-serve",
      dir,
      "--port",
      "0",
      "--auth",
      "ok:fine",
      "--auth",
      spec,
    ]);
    assert.equal(r.code, 2, spec);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, expected);
    assert.ok(!r.stderr.includes("XYZZY") && !r.stderr.includes("fine"), r.stderr);
  }
});

Deno.test("e2e --auth --cors: preflights answered without credentials, requests need them", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--auth", "alice:s3cret", "--cors", "--quiet");
  const u = `http://127.0.0.1:${server.port}`;
  // Browsers never send credentials on a preflight (Fetch §4.8), so it must pass…
  const preflight = await curl([
    "-X",
    "OPTIONS",
    "-H",
    "Origin: http://app.example",
    "-H",
    "Access-Control-Request-Method: GET",
    "-H",
    "Access-Control-Request-Headers: authorization",
    `${u}/share/a.txt`,
  ]);
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers, /^Access-Control-Allow-Headers: authorization\r?$/im);
  assert.ok(!preflight.body.includes("alpha"));
  // …while the request itself still needs them, and its 401 stays readable by the page.
  const anonymous = await curl(["-H", "Origin: http://app.example", `${u}/share/a.txt`]);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers, /^Access-Control-Allow-Origin: \*\r?$/m);
  const fetched = await fetch(`${u}/share/a.txt`, {
    headers: { Authorization: `Basic ${btoa("alice:s3cret")}`, Origin: "http://app.example" },
  });
  assert.equal(fetched.status, 200);
  assert.equal(await fetched.text(), "alpha\n");
  assert.match(preflight.headers, /^Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r?$/m);

  // With --upload, preflights allow PUT and POST too, so a page on another origin can upload.
  await using uploads = await serveHttp(site.path, "--auth", "alice:s3cret", "--cors", "--upload");
  const v = `http://127.0.0.1:${uploads.port}`;
  const putPreflight = await curl([
    "-X",
    "OPTIONS",
    "-H",
    "Origin: http://app.example",
    "-H",
    "Access-Control-Request-Method: PUT",
    `${v}/inbox/from-page.txt`,
  ]);
  assert.equal(putPreflight.status, 204);
  assert.match(
    putPreflight.headers,
    /^Access-Control-Allow-Methods: GET, HEAD, OPTIONS, PUT, POST, DELETE\r?$/m,
  );
  const put = await fetch(`${v}/inbox/from-page.txt`, {
    method: "PUT",
    body: "from a page\n",
    headers: { Authorization: `Basic ${btoa("alice:s3cret")}`, Origin: "http://app.example" },
  });
  assert.equal(put.status, 201, await put.text());
  assert.equal(put.headers.get("access-control-allow-origin"), "*");
  assert.equal(await Deno.readTextFile(`${site.path}/inbox/from-page.txt`), "from a page\n");
});

Deno.test("e2e tar: every folder downloads as a tar that extracts to the same tree", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet");
  const u = `http://127.0.0.1:${server.port}`;
  await using workDir = await tempTree();
  const work = workDir.path;
  const listing = await curl([`${u}/share/`]);
  assert.match(listing.body, /<a href="\?download=tar" download>/);

  const r = await curl([`${u}/share/?download=tar`], `${work}/share.tar`);
  assert.equal(r.status, 200);
  assert.match(r.headers, /^Content-Type: application\/x-tar\r?$/m);
  assert.match(r.headers, /^Content-Disposition: attachment; filename="share\.tar"/m);
  const listed = (await runTool("tar", ["-tf", `${work}/share.tar`])).trim().split("\n").sort();
  assert.deepEqual(listed, [
    "share/",
    "share/a.txt",
    "share/link-in-root.txt",
    "share/name with spaces & ü.txt",
    "share/sub/",
    "share/sub/data.bin",
    "share/sub/deeper/",
    "share/sub/deeper/c.txt",
  ]);
  await Deno.mkdir(`${work}/out`);
  await runTool("tar", ["-xf", `${work}/share.tar`, "-C", `${work}/out`]);
  const expected = await tree(`${site.path}/share`);
  expected.delete(".secret"); // dotfiles stay hidden, as when serving
  assert.deepEqual(await tree(`${work}/out/share`), expected);
  // The in-root symlink is stored as the file it serves, never as a link.
  assert.ok((await Deno.lstat(`${work}/out/share/link-in-root.txt`)).isFile);

  const whole = await curl([`${u}/?download=tar`], `${work}/root.tar`);
  assert.equal(whole.status, 200);
  const rootNames = await runTool("tar", ["-tf", `${work}/root.tar`]);
  assert.ok(rootNames.includes("/share/sub/deeper/c.txt"), rootNames);
  assert.ok(!rootNames.includes(".secret"));
  assert.equal((await curl([`${u}/share/.secret/?download=tar`])).status, 404);
  assert.equal((await curl([`${u}/share/a.txt?download=tar`])).body, "alpha\n");
  await using hidden = await serveHttp(site.path, "--quiet", "--no-listing");
  const noListing = await curl([`http://127.0.0.1:${hidden.port}/share/?download=tar`]);
  assert.equal(noListing.status, 404, "--no-listing: no folder downloads either");
});

Deno.test("e2e --upload: curl -T stores; limit 413, conflict 409, traversal refused", async () => {
  await using site = await makeSite();
  const payload = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  const local = `${site.path}/../sockit-e2e-payload-${crypto.randomUUID()}`;
  await Deno.writeFile(local, payload);
  try {
    await using server = await serveHttp(site.path, "--upload", "--max-upload", "250KB", "--quiet");
    const u = `http://127.0.0.1:${server.port}`;
    const listing = await curl([`${u}/inbox/`]);
    assert.match(listing.body, /<form class="upload" method="post" action="\.\/"/);

    const created = await curl(["-T", local, `${u}/inbox/data.bin`]);
    assert.equal(created.status, 201, created.body);
    assert.match(created.headers, /^Location: \/inbox\/data\.bin\r?$/m);
    assert.deepEqual(await Deno.readFile(`${site.path}/inbox/data.bin`), payload);
    const back = await curl([`${u}/inbox/data.bin`], `${local}.back`);
    assert.equal(back.status, 200);
    assert.deepEqual(await Deno.readFile(`${local}.back`), payload);
    await Deno.remove(`${local}.back`);

    const conflict = await curl(["-T", local, `${u}/inbox/data.bin`]);
    assert.equal(conflict.status, 409);
    assert.match(conflict.body, /already exists/);

    await Deno.writeFile(`${local}.big`, new Uint8Array(250_001));
    try {
      const tooBig = await curl(["-T", `${local}.big`, `${u}/inbox/big.bin`]);
      assert.equal(tooBig.status, 413);
      const chunked = await curl([
        "-T",
        `${local}.big`,
        "-H",
        "Transfer-Encoding: chunked",
        `${u}/inbox/big2.bin`,
      ]);
      assert.equal(chunked.status, 413, "refused while streaming when the size is unknown");
    } finally {
      await Deno.remove(`${local}.big`);
    }
    for (
      const [path, status] of [
        ["/inbox/../escape.txt", 400],
        ["/inbox/%2e%2e/escape.txt", 400],
        ["/inbox/..%2fescape.txt", 400],
        ["/inbox/%2e%2e%5cescape.txt", 400],
        ["/inbox/a%00b.txt", 400],
        ["/inbox/.hidden", 400],
        [`/inbox/${UPLOAD_TEMP_PREFIX}x`, 400],
        ["/share/link-in-root.txt/x.txt", 409],
        ["/missing/x.txt", 409],
        ["/inbox/", 400],
        ["/inbox", 409],
      ] as const
    ) {
      const r = await curl(["--path-as-is", "-X", "PUT", "--data-binary", "x", u + path]);
      assert.equal(r.status, status, path);
    }
    assert.deepEqual(await entryNames(`${site.path}/inbox`), ["data.bin"], "nothing else, no temp");
    assert.ok(!(await entryNames(site.path)).includes("escape.txt"));
    assert.ok(!(await entryNames(`${site.path}/..`)).includes("escape.txt"));
    const options = await curl(["-X", "OPTIONS", `${u}/inbox/`]);
    assert.match(options.headers, /^Allow: GET, HEAD, OPTIONS, PUT, POST, DELETE\r?$/m);
  } finally {
    await Deno.remove(local);
  }
});

Deno.test("e2e --upload: a refused 20 MB curl -T stops before sending the body", async () => {
  await using site = await makeSite();
  const big = `${site.path}/../sockit-e2e-20mb-${crypto.randomUUID()}`;
  await Deno.writeFile(big, new Uint8Array(20 * 1024 * 1024));
  try {
    await using server = await serveHttp(
      site.path,
      "--upload",
      "--auth",
      "alice:s3cret",
      "--quiet",
    );
    const u = `http://127.0.0.1:${server.port}`;
    await Deno.writeTextFile(`${site.path}/inbox/taken.bin`, "x");
    const t0 = performance.now();
    const unauthenticated = await curl(["-T", big, `${u}/inbox/new.bin`]);
    const conflict = await curl(["-u", "alice:s3cret", "-T", big, `${u}/inbox/taken.bin`]);
    const elapsed = performance.now() - t0;
    assert.equal(unauthenticated.status, 401);
    assert.equal(conflict.status, 409);
    // Answered instead of 100 Continue: curl sent none of the 20 MB (it was all sent before).
    assert.equal(unauthenticated.uploaded, 0);
    assert.equal(conflict.uploaded, 0);
    assert.ok(elapsed < 5_000, `${elapsed} ms`);
    const stored = await curl(["-u", "alice:s3cret", "-T", big, `${u}/inbox/new.bin`]);
    assert.equal(stored.status, 201, "an accepted upload gets 100 Continue and is read whole");
    assert.equal(stored.uploaded, 20 * 1024 * 1024);
    assert.equal((await Deno.stat(`${site.path}/inbox/new.bin`)).size, 20 * 1024 * 1024);
  } finally {
    await Deno.remove(big);
  }
});

Deno.test("e2e --upload: an upload cut off halfway leaves nothing behind", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--upload", "--dotfiles", "--quiet");
  const u = `http://127.0.0.1:${server.port}`;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(enc.encode(
      "PUT /inbox/partial.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
    ));
    await conn.write(new Uint8Array(300_000).fill(0x61));
    // While the body streams in, the temp file exists but is invisible, even with --dotfiles.
    let temp: string | undefined;
    for (let i = 0; i < 200 && temp === undefined; i++) {
      temp = (await entryNames(`${site.path}/inbox`)).find((n) => n.startsWith(UPLOAD_TEMP_PREFIX));
      if (temp === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(temp !== undefined, "the upload is written to a temp file");
    assert.equal((await curl([`${u}/inbox/partial.bin`])).status, 404);
    assert.equal((await curl([`${u}/inbox/${temp}`])).status, 404);
    assert.ok(!(await curl([`${u}/inbox/`])).body.includes(UPLOAD_TEMP_PREFIX));
  } finally {
    conn.close(); // the client gives up halfway
  }
  for (let i = 0; (await entryNames(`${site.path}/inbox`)).length > 0; i++) {
    assert.ok(i < 300, `left behind: ${await entryNames(`${site.path}/inbox`)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal((await curl([`${u}/inbox/partial.bin`])).status, 404);
});

Deno.test("e2e --upload: curl -F stores the form's files; --overwrite replaces at once", async () => {
  await using site = await makeSite();
  const one = `${site.path}/../sockit-e2e-one-${crypto.randomUUID()}.txt`;
  await Deno.writeTextFile(one, "first\n");
  try {
    await using server = await serveHttp(site.path, "--upload", "--quiet");
    const u = `http://127.0.0.1:${server.port}`;
    const r = await curl([
      "-F",
      `file=@${one};filename=one.txt`,
      "-F",
      `file=@${one};filename=two.txt`,
      "-F",
      "note=hello",
      `${u}/inbox/`,
    ]);
    assert.equal(r.status, 201, r.body);
    assert.equal(r.body, "stored one.txt\nstored two.txt\n");
    const browser = await curl([
      "-H",
      "Accept: text/html",
      "-F",
      `file=@${one};filename=b.txt`,
      `${u}/inbox/`,
    ]);
    assert.equal(browser.status, 303);
    assert.match(browser.headers, /^Location: \/inbox\/\r?$/m);
    const traversal = await curl(["-F", `file=@${one};filename=../../evil.txt`, `${u}/inbox/`]);
    assert.equal(traversal.status, 201, "stored under its base name only");
    assert.equal((await curl(["-F", `file=@${one};filename=one.txt`, `${u}/inbox/`])).status, 409);
    assert.equal((await curl(["-F", `file=@${one};filename=.bashrc`, `${u}/inbox/`])).status, 400);
    assert.deepEqual(await entryNames(`${site.path}/inbox`), [
      "b.txt",
      "evil.txt",
      "one.txt",
      "two.txt",
    ]);
    assert.ok(!(await entryNames(site.path)).includes("evil.txt"));
    assert.equal(await Deno.readTextFile(`${site.path}/inbox/one.txt`), "first\n");

    await using overwriting = await serveHttp(site.path, "--upload", "--overwrite", "--quiet");
    const o = `http://127.0.0.1:${overwriting.port}`;
    assert.equal((await curl([`${o}/share/a.txt`])).body, "alpha\n"); // now in the file cache
    const replaced = await curl(["-X", "PUT", "--data-binary", "ALPHA\n", `${o}/share/a.txt`]);
    assert.equal(replaced.status, 204);
    assert.equal((await curl([`${o}/share/a.txt`])).body, "ALPHA\n", "not the cached copy");
    assert.equal((await curl(["-X", "PUT", "--data-binary", "x", `${o}/share/sub`])).status, 409);
  } finally {
    await Deno.remove(one);
  }
});

Deno.test("e2e --upload: flag combinations and a missing write permission fail in one line", async () => {
  await using site = await makeSite();
  for (
    const [flags, expected] of [
      [["--overwrite"], /--overwrite needs --upload/],
      [["--max-upload", "1MiB"], /--max-upload needs --upload/],
      [["--upload", "--max-upload", "lots"], /invalid --max-upload 'lots'/],
    ] as const
  ) {
    const r = await runCli(["http-serve", site.path, "--port", "0", ...flags]);
    assert.equal(r.code, 2, flags.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, expected);
  }
  const noBuiltIn = await runCli(["http-serve", "--port", "0", "--upload"]);
  assert.equal(noBuiltIn.code, 2);
  assert.match(noBuiltIn.stderr, /--upload needs a DIR/);
  const readOnly = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-read",
      MAIN,
      "http-serve",
      site.path,
      "--port",
      "0",
      "--upload",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(readOnly.code, 1);
  const stderr = dec.decode(readOnly.stderr);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.match(stderr, /--upload needs write access to .*--allow-write/);
});

Deno.test("e2e --upload without --auth on all interfaces warns on stderr", async () => {
  await using site = await makeSite();
  await using open = await startServer(
    ["http-serve", site.path, "--host", "0.0.0.0", "--port", "0", "--upload", "--quiet"],
  );
  await using authed = await startServer(
    ["http-serve", site.path, "--host", "0.0.0.0", "--port", "0", "--upload", "--auth", "a:b"],
  );
  await using local = await serveHttp(site.path, "--upload", "--quiet");
  // The warning is written before serving starts; a request proves we are past it.
  for (const s of [open, authed, local]) {
    await (await fetch(`http://127.0.0.1:${s.port}/x`)).body?.cancel();
  }
  await open.waitForStderr(/warning: --upload without --auth/);
  assert.equal(authed.stderr(), "");
  assert.equal(local.stderr(), "");
});

/** Parses the Prometheus text format: sample name{labels} → value; checks HELP/TYPE lines. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  assert.ok(text.endsWith("\n"));
  for (const line of text.trimEnd().split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.match(meta[3], /^(counter|gauge)$/);
        typed.add(meta[2]);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})? (\S+)$/
      .exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    assert.ok(typed.has(m[1]), `${m[1]} has no # TYPE line before it`);
    const value = Number(m[3]);
    assert.ok(Number.isFinite(value), line);
    samples.set(m[1] + (m[2] ?? ""), value);
  }
  return samples;
}

Deno.test("e2e --metrics: Prometheus text with requests by class, bytes, connections, uptime", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--metrics", "--quiet");
  const u = `http://127.0.0.1:${server.port}`;
  let bodyBytes = 0;
  for (const path of ["/share/a.txt", "/about.html", "/share/sub/data.bin"]) {
    const res = await fetch(u + path);
    assert.equal(res.status, 200);
    bodyBytes += (await res.arrayBuffer()).byteLength;
  }
  const missing = await fetch(`${u}/nope`);
  bodyBytes += (await missing.arrayBuffer()).byteLength;
  assert.equal(missing.status, 404);
  // fetch keeps one keep-alive connection: that is the connection open while scraping.
  const res = await fetch(u + METRICS_PATH);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const metrics = parsePrometheus(await res.text());
  assert.equal(metrics.get('sockit_http_requests_total{class="2xx"}'), 3);
  assert.equal(metrics.get('sockit_http_requests_total{class="4xx"}'), 1);
  assert.equal(metrics.get('sockit_http_requests_total{class="5xx"}'), 0);
  assert.equal(metrics.get("sockit_http_sent_bytes_total"), bodyBytes);
  assert.equal(metrics.get("sockit_http_open_connections"), 1);
  assert.ok(metrics.get("sockit_http_connections_total")! >= 1);
  assert.ok(metrics.get("sockit_uptime_seconds")! > 0);
  assert.ok(Math.abs(metrics.get("sockit_start_time_seconds")! - Date.now() / 1000) < 60);
  const again = parsePrometheus(await (await fetch(u + METRICS_PATH)).text());
  assert.equal(again.get('sockit_http_requests_total{class="2xx"}'), 4, "the scrape counted");
  const post = await fetch(u + METRICS_PATH, { method: "POST" });
  await post.body?.cancel(); // an unread body is a leak under --sanitize-resources
  assert.equal(post.status, 405);

  await using plain = await serveHttp(site.path, "--quiet");
  const off = await fetch(`http://127.0.0.1:${plain.port}${METRICS_PATH}`);
  await off.body?.cancel();
  assert.equal(off.status, 404, "off unless --metrics");
});

Deno.test("e2e --qr: a scannable QR code of the URL follows the listening line", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--qr", "--quiet");
  const url = `http://127.0.0.1:${server.port}/`;
  await server.waitForLine(new RegExp(`scan to open ${url.replaceAll(".", "\\.")}`));
  await (await fetch(url)).body?.cancel(); // every startup line is out once it serves
  const at = server.lines.findIndex((l) => l.includes("scan to open"));
  const qrLines = server.lines.slice(at + 1).filter((l) => /^[█▀▄ ]+$/.test(l));
  assert.ok(qrLines.length >= 10, server.lines.join("\n"));
  assert.equal(decodeQR(qrModulesImage(modulesFromTerminal(qrLines))), url);
  await server.waitForStderr(/--qr: 127\.0\.0\.1 is reachable from this machine only/);
  assert.equal(server.stderr().trim().split("\n").length, 1);
});

Deno.test("e2e --clean-urls: /about serves about.html; --spa only when neither exists", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--clean-urls", "--quiet");
  const u = `http://127.0.0.1:${server.port}`;
  const about = await curl([`${u}/about`]);
  assert.equal(about.status, 200);
  assert.equal(about.body, "<h1>about</h1>\n");
  assert.match(about.headers, /^Content-Type: text\/html/m);
  assert.equal((await curl(["-I", `${u}/docs/intro`])).status, 200);
  assert.equal((await curl([`${u}/about.html`])).body, "<h1>about</h1>\n");
  assert.equal((await curl([`${u}/docs`])).status, 301, "a folder still redirects");
  assert.equal((await curl([`${u}/nope`])).status, 404);
  assert.equal((await curl([`${u}/share/.secret`])).status, 404);
  assert.equal((await curl(["--path-as-is", `${u}/share/../about`])).status, 404);

  await using spa = await serveHttp(site.path, "--clean-urls", "--spa", "--quiet");
  const s = `http://127.0.0.1:${spa.port}`;
  assert.equal((await curl([`${s}/about`])).body, "<h1>about</h1>\n");
  assert.equal((await curl([`${s}/app/route`])).body, "<h1>home</h1>\n");
});
