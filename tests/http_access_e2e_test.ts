/**
 * End to end, through the real CLI with curl (and raw sockets where curl would tidy the
 * request up): `--access` rules and their bypass attempts, what listings / JSON / search /
 * tar show to whom, the metrics endpoint, share links (`--share`, tampered, expired, used
 * up, folder confinement, the QR code, the Share button's endpoint, `--workers`).
 */
import assert from "node:assert/strict";
import decodeQR from "@paulmillr/qr/decode.js";
import { METRICS_PATH } from "../lib/http/sharing/metrics.ts";
import { qrModules } from "../lib/http/server/lan.ts";
import { LIVE_RELOAD_PATH } from "../lib/http/middleware/live_reload_page.ts";
import {
  MAX_SHARE_PATH_CHARS,
  MAX_SHARE_USES,
  SHARE_CREATE_PATH,
} from "../lib/http/sharing/share_links.ts";
import {
  curlResponse,
  type CurlResult,
  exchange,
  modulesFromTerminal,
  qrModulesImage,
  runCli,
  serveHttp,
  startServer,
  tempTree,
} from "./helpers.ts";

function curl(...args: string[]): Promise<CurlResult> {
  return curlResponse(["--path-as-is", ...args], { okExitCodes: [0, 55, 56] });
}

async function status(...args: string[]): Promise<number> {
  return (await curl(...args)).status;
}

/** Names inside a tar archive, as `tar -t` lists them. */
async function tarNames(url: string, ...args: string[]): Promise<string[]> {
  const curlOut = await new Deno.Command("curl", {
    args: ["-sS", "-f", ...args, url],
    stdout: "piped",
  }).output();
  assert.equal(curlOut.code, 0, `curl ${url}`);
  const tar = new Deno.Command("tar", { args: ["-t"], stdin: "piped", stdout: "piped" }).spawn();
  const writer = tar.stdin.getWriter();
  await writer.write(curlOut.stdout);
  await writer.close();
  const out = await tar.output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").sort();
}

/** The member names of the zip at `url` (`zipinfo -1`), sorted. */
async function zipNames(url: string, ...args: string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "sockit-access-zip-" });
  try {
    const file = `${dir}/a.zip`;
    const curlOut = await new Deno.Command("curl", {
      args: ["-sS", "-f", "-o", file, ...args, url],
    })
      .output();
    assert.equal(curlOut.code, 0, `curl ${url}`);
    const out = await new Deno.Command("zipinfo", { args: ["-1", file], stdout: "piped" }).output();
    assert.equal(out.code, 0, "zipinfo reads the archive");
    return new TextDecoder().decode(out.stdout).trim().split("\n").sort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function site() {
  return tempTree({
    "pub/a.txt": "alpha\n",
    "pub/sub/b.txt": "beta\n",
    "private/secret.txt": "secret\n",
    "private/deep/plan.txt": "plan\n",
    "privateer/open.txt": "open\n",
    "inbox/": null,
    "pub/link-to-secret.txt": { symlink: "../private/secret.txt" },
    "pub/private-dir": { symlink: "../private" },
  });
}

const ALICE = ["-u", "alice:s3cret"];
const BOB = ["-u", "bob:hunter2"];

Deno.test("e2e --access: anyone reads, only alice uploads (no --upload needed)", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--auth",
    "bob:hunter2",
    "--access",
    "@/:ro",
    "--access",
    "alice@/:rw",
    "--quiet",
  );
  const u = server.url;
  assert.equal((await curl(`${u}/pub/a.txt`)).body, "alpha\n");
  const anonPut = await curl("-T", "-", `${u}/inbox/x.txt`);
  assert.equal(anonPut.status, 401);
  assert.match(anonPut.headers, /^WWW-Authenticate: Basic /m);
  assert.equal(await status(...BOB, "--data-binary", "b", "-X", "PUT", `${u}/inbox/b.txt`), 403);
  assert.equal(await status(...BOB, "-F", "file=@/dev/null;filename=f.txt", `${u}/inbox/`), 403);
  assert.equal(await status("-F", "file=@/dev/null;filename=f.txt", `${u}/inbox/`), 401);
  assert.equal(await status(...ALICE, "--data-binary", "hi", "-X", "PUT", `${u}/inbox/a.txt`), 201);
  assert.equal(await Deno.readTextFile(`${tree.path}/inbox/a.txt`), "hi");
  // ?login asks for the login where none is needed (a browser then keeps sending it).
  assert.equal(await status(`${u}/pub/?login`), 401);
  const login = await curl(...ALICE, `${u}/pub/?login`);
  assert.equal(login.status, 303);
  assert.match(login.headers, /^Location: \/pub\/\r?$/m);
  // Wrong credentials are 401 even where no login is needed.
  assert.equal(await status("-u", "alice:nope", `${u}/pub/a.txt`), 401);
  // Nothing was stored by the refused ones.
  assert.deepEqual([...Deno.readDirSync(`${tree.path}/inbox`)].map((e) => e.name), ["a.txt"]);
});

Deno.test("e2e --access: only /private needs a password — and no trick reaches it", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--auth",
    "bob:hunter2",
    "--access",
    "@/:ro",
    "--access",
    "alice@/private:ro",
    "--metrics",
    "--quiet",
  );
  const u = server.url;
  assert.equal((await curl(`${u}/pub/a.txt`)).status, 200);
  assert.equal((await curl(`${u}/privateer/open.txt`)).body, "open\n"); // not under /private
  assert.equal((await curl(...ALICE, `${u}/private/secret.txt`)).body, "secret\n");
  assert.equal(await status(...BOB, `${u}/private/secret.txt`), 403);
  const attempts = [
    "/private/secret.txt",
    "/private/",
    "/private",
    "/PRIVATE/secret.txt",
    "/Private/secret.txt",
    "/private./secret.txt",
    "/private%2e/secret.txt",
    "/private%20/secret.txt",
    "/%70rivate/secret.txt",
    "/%50RIVATE/secret.txt",
    "//private/secret.txt",
    "/./private/secret.txt",
    "/pub/../private/secret.txt",
    "/pub/%2e%2e/private/secret.txt",
    "/pub%2f..%2fprivate/secret.txt",
    "/private%2fsecret.txt",
    "/private/deep/plan.txt",
    "/private/?download=tar",
    "/private/?format=json",
    "/private/?q=plan",
  ];
  for (const path of attempts) {
    for (const method of [["-X", "GET"], ["-I"], ["-X", "OPTIONS"]]) {
      const r = await curl(...method, `${u}${path}`);
      assert.ok(r.status === 401 || r.status === 404, `${method.join(" ")} ${path}: ${r.status}`);
      assert.ok(!/secret|plan/.test(r.body), `${path} leaked ${r.body}`);
    }
  }
  // Absolute-form targets carry the same path.
  const absolute = await exchange(
    server.port,
    `GET http://127.0.0.1:${server.port}/private/secret.txt HTTP/1.1\r\nHost: x\r\n` +
      `Connection: close\r\n\r\n`,
  );
  assert.match(absolute, /^HTTP\/1\.1 401 /);
  assert.ok(!absolute.includes("secret\n"));
  // Paths no rule can place are judged against every rule: anonymous clients are refused
  // before any handler sees them, alice reaches the handlers' own 404.
  for (const path of ["/pub/..", "/private%2f..%2fsecret.txt", "/%2e%2e/private/secret.txt"]) {
    assert.equal(await status(`${u}${path}`), 401, path);
    assert.equal(await status(...ALICE, `${u}${path}`), 404, path);
  }
  // A symlink in /pub leading into /private is judged where it leads.
  assert.equal(await status(`${u}/pub/link-to-secret.txt`), 404);
  assert.equal(await status(`${u}/pub/private-dir/secret.txt`), 404);
  assert.equal((await curl(...ALICE, `${u}/pub/link-to-secret.txt`)).body, "secret\n");
  // Listings, JSON, search and tar leave /private out for anonymous clients, names included.
  const html = (await curl(`${u}/`)).body;
  assert.match(html, /privateer/);
  assert.ok(!/href="private\/"/.test(html), html);
  const json = JSON.parse((await curl(`${u}/?format=json`)).body);
  assert.deepEqual(json.entries.map((e: { name: string }) => e.name), [
    "inbox",
    "privateer",
    "pub",
  ]);
  const pubJson = JSON.parse((await curl(`${u}/pub/?format=json`)).body);
  assert.deepEqual(pubJson.entries.map((e: { name: string }) => e.name), ["sub", "a.txt"]);
  const aliceJson = JSON.parse((await curl(...ALICE, `${u}/?format=json`)).body);
  assert.ok(aliceJson.entries.some((e: { name: string }) => e.name === "private"));
  const search = JSON.parse((await curl(`${u}/?q=e&format=json`)).body);
  const found = search.results.map((r: { path: string }) => r.path);
  assert.ok(found.includes("privateer/open.txt"), found.join());
  assert.ok(!found.some((p: string) => p.startsWith("private/") || p.includes("secret")), found);
  const aliceSearch = JSON.parse((await curl(...ALICE, `${u}/?q=plan&format=json`)).body);
  assert.deepEqual(aliceSearch.results.map((r: { path: string }) => r.path), [
    "private/deep/plan.txt",
  ]);
  const anonTar = await tarNames(`${u}/?download=tar`);
  assert.ok(anonTar.some((n) => n.endsWith("/pub/a.txt")), anonTar.join());
  assert.ok(anonTar.some((n) => n.endsWith("/privateer/open.txt")), anonTar.join());
  assert.ok(!anonTar.some((n) => /\/private\/|secret/.test(n)), anonTar.join());
  const aliceTar = await tarNames(`${u}/?download=tar`, ...ALICE);
  assert.ok(aliceTar.some((n) => n.endsWith("/private/deep/plan.txt")), aliceTar.join());
  // The zip of the same folder follows the same rules (and pins a version of its own).
  const anonZip = await zipNames(`${u}/?download=zip`);
  assert.ok(anonZip.some((n) => n.endsWith("/pub/a.txt")), anonZip.join());
  assert.ok(!anonZip.some((n) => /\/private\/|secret/.test(n)), anonZip.join());
  const aliceZip = await zipNames(`${u}/?download=zip`, ...ALICE);
  assert.ok(aliceZip.some((n) => n.endsWith("/private/deep/plan.txt")), aliceZip.join());
  assert.equal(await status(`${u}/private/?download=zip`), 401);
  // The metrics endpoint counts the protected folder too: it needs a login.
  assert.equal(await status(`${u}${METRICS_PATH}`), 401);
  assert.equal(await status(...BOB, `${u}${METRICS_PATH}`), 200);
});

Deno.test("e2e --access: * and user lists, none shadowing, usage errors in one line", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--auth",
    "bob:hunter2",
    "--access",
    "*@/:ro",
    "--access",
    "bob@/inbox:rw",
    "--access",
    "alice@/pub/sub:none",
    "--quiet",
  );
  const u = server.url;
  assert.equal(await status(`${u}/pub/a.txt`), 401);
  assert.equal(await status(...ALICE, `${u}/pub/a.txt`), 200);
  assert.equal(await status(...ALICE, `${u}/pub/sub/b.txt`), 403);
  assert.equal(await status(...BOB, `${u}/pub/sub/b.txt`), 403); // none: the path's only rule
  assert.equal(await status(...ALICE, "--data-binary", "x", "-X", "PUT", `${u}/inbox/x`), 403);
  assert.equal(await status(...BOB, "--data-binary", "x", "-X", "PUT", `${u}/inbox/x`), 201);
  assert.equal(await status(...BOB, "--data-binary", "x", "-X", "PUT", `${u}/pub/x`), 403);

  for (
    const [rule, message] of [
      ["carol@/:ro", /unknown user 'carol'/],
      ["@/:rwx", /mode 'rwx' is not ro, rw or none/],
      ["@/a/../b:ro", /'\.\.' is not allowed/],
      ["/:ro", /expected WHO@\/PATH/],
    ] as const
  ) {
    const r = await runCli(["http-serve", tree.path, "--auth", "alice:s3cret", "--access", rule]);
    assert.equal(r.code, 2, rule);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(!r.stderr.includes("s3cret"));
  }
});

/**
 * Reads a symbol back with the test decoder. It misreads some version-9 symbols (a link's
 * size) drawn at 4+ pixels per module — a quarter of them, tried on 40 links — while at 2
 * it read all of 400, so 2 is tried, then 3.
 */
function decodeQrLeniently(modules: boolean[][]): string {
  try {
    return decodeQR(qrModulesImage(modules, 2));
  } catch {
    return decodeQR(qrModulesImage(modules, 3));
  }
}

/** The share link lines printed at start-up: path → URL. */
async function printedLinks(
  server: Awaited<ReturnType<typeof serveHttp>>,
  count: number,
): Promise<Map<string, string>> {
  await server.waitForLine(/share /);
  await (await fetch(`${server.url}/.well-known/sockit/health`)).body?.cancel();
  const links = new Map<string, string>();
  for (const line of server.lines) {
    const m = /^ {2}share (\S+) \(until [^)]*\): (\S+)$/.exec(line);
    if (m) links.set(m[1], m[2]);
  }
  assert.equal(links.size, count, server.lines.join("\n"));
  return links;
}

Deno.test("e2e --share: printed with a QR code; ok, tampered, confined to its folder", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--share",
    "pub",
    "--share",
    "private/secret.txt",
    "--quiet",
  );
  const links = await printedLinks(server, 2);
  const folder = links.get("/pub/")!;
  const file = links.get("/private/secret.txt")!;
  assert.match(folder, /^http:\/\/127\.0\.0\.1:\d+\/\.well-known\/sockit\/share\/[^/]+\/$/);
  assert.match(file, /\/secret\.txt$/);
  // Each link is followed by its QR code, which decodes to the link.
  const at = server.lines.findIndex((l) => l.includes(file));
  const qrLines = [];
  for (const line of server.lines.slice(at + 1)) {
    if (!/^[█▀▄ ]+$/.test(line)) break;
    qrLines.push(line);
  }
  const drawn = modulesFromTerminal(qrLines);
  // The last text row's lower half lies outside the odd-sized symbol: drop it, and the
  // drawing must be exactly the symbol of the link.
  const square = drawn.slice(0, drawn[0].length);
  assert.deepEqual(square, qrModules(file));
  assert.equal(decodeQrLeniently(square), file);

  assert.equal(await status(`${server.url}/private/secret.txt`), 401);
  assert.equal((await curl(file)).body, "secret\n");
  assert.equal((await curl(`${folder}a.txt`)).body, "alpha\n");
  assert.equal((await curl(`${folder}sub/b.txt`)).body, "beta\n");
  assert.match((await curl(folder)).body, /a\.txt/);
  const json = JSON.parse((await curl(`${folder}?format=json`)).body);
  assert.deepEqual(json.entries.map((e: { name: string }) => e.name), ["sub", "a.txt"]);
  // The folder without its slash, and a subfolder without its slash, redirect inside the link.
  const bare = await curl(folder.slice(0, -1));
  assert.equal(bare.status, 301);
  assert.match(bare.headers, new RegExp(`^Location: ${new URL(folder).pathname}\\r?$`, "m"));
  const sub = await curl(`${folder}sub`);
  assert.equal(sub.status, 301);
  assert.match(sub.headers, new RegExp(`^Location: ${new URL(folder).pathname}sub/\\r?$`, "m"));
  assert.ok((await tarNames(`${folder}?download=tar`)).includes("pub/a.txt"));
  // Confinement: no way out of /pub through the link.
  for (
    const escape of [
      "../private/secret.txt",
      "%2e%2e/private/secret.txt",
      "..%2fprivate/secret.txt",
      "sub/../../private/secret.txt",
      "link-to-secret.txt",
      "private-dir/secret.txt",
    ]
  ) {
    const r = await curl(`${folder}${escape}`);
    assert.ok(r.status === 404 || r.status === 400, `${escape}: ${r.status}`);
    assert.ok(!r.body.includes("secret\n"), escape);
  }
  const tarAll = await tarNames(`${folder}?download=tar`);
  assert.ok(!tarAll.some((n) => n.includes("secret")), tarAll.join());
  // A file link names that file only.
  assert.equal(await status(`${file.replace(/secret\.txt$/, "plan.txt")}`), 404);
  // Share links are read-only.
  assert.equal(await status("--data-binary", "x", "-X", "PUT", `${folder}new.txt`), 403);
  // Tampered: a changed character anywhere in the token.
  const token = new URL(folder).pathname.split("/")[4];
  for (const i of [0, token.indexOf(".") + 1, token.length - 5]) {
    const changed = token.slice(0, i) + (token[i] === "a" ? "b" : "a") + token.slice(i + 1);
    const r = await curl(folder.replace(token, changed) + "a.txt");
    assert.equal(r.status, 403, `changed at ${i}`);
    assert.match(r.body, /invalid share link/);
  }
  assert.equal(await status(`${server.url}/.well-known/sockit/share/nonsense/`), 403);
});

Deno.test("e2e --share: expires (--share-ttl at its 1 s minimum) and gets used up", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--share",
    "pub/a.txt",
    "--share",
    "pub/sub",
    "--share-uses",
    "2",
    "--quiet",
  );
  const links = await printedLinks(server, 2);
  const file = links.get("/pub/a.txt")!;
  assert.ok(server.lines.some((l) => l.includes("(until ") && l.includes(", 2 uses)")));
  // HEAD does not count; two GETs answered 200 do, the third is refused.
  assert.equal(await status("-I", file), 200);
  assert.equal((await curl(file)).body, "alpha\n");
  assert.equal((await curl(file)).body, "alpha\n");
  const third = await curl(file);
  assert.equal(third.status, 403);
  assert.match(third.body, /share link used up/);
  // A 404 through the folder link does not use it up.
  const folder = links.get("/pub/sub/")!;
  for (let i = 0; i < 3; i++) assert.equal(await status(`${folder}missing.txt`), 404);
  assert.equal((await curl(`${folder}b.txt`)).body, "beta\n");
  // A second server whose links live 1 s (the minimum): 1.1 s after they were printed they
  // are dead. (Before expiry they work like any link; the instant itself is tested with an
  // injected clock in http_access_rules_test.ts, so a slow start cannot make this flaky.)
  await using shortLived = await serveHttp(tree.path, "--share", "pub", "--share-ttl", "1");
  const dying = (await printedLinks(shortLived, 1)).get("/pub/")!;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const expired = await curl(`${dying}sub/b.txt`);
  assert.equal(expired.status, 403);
  assert.match(expired.body, /share link expired/);

  for (
    const [flags, message] of [
      [["--share-ttl", "31d", "--share", "pub"], /invalid --share-ttl '31d': expected 1s to 30d/],
      [["--share-ttl", "0.5", "--share", "pub"], /expected 1s to 30d/],
      [["--share-uses", "2", "--share", "pub", "--workers", "2"], /per process/],
      [["--share", "nope"], /--share 'nope': no such file or folder/],
      [["--share-uses", "0", "--share", "pub"], /--share-uses/],
      [["--share-uses", String(MAX_SHARE_USES + 1), "--share", "pub"], /at most 1000000/],
    ] as const
  ) {
    const r = await runCli(["http-serve", tree.path, "--port", "0", ...flags]);
    assert.equal(r.code, 2, flags.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

Deno.test("e2e share button: logged-in users get a link by POST; the listing offers it", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--auth",
    "bob:hunter2",
    "--access",
    "@/:ro",
    "--access",
    "alice@/private:ro",
    "--quiet",
  );
  const u = server.url;
  assert.match((await curl(...ALICE, `${u}/pub/`)).body, /Share this folder/);
  assert.ok(!(await curl(`${u}/pub/`)).body.includes("Share this folder")); // anonymous: no button
  const create = (path: string, ...args: string[]) =>
    curl(...args, "-X", "POST", `${u}${SHARE_CREATE_PATH}?path=${encodeURIComponent(path)}`);
  assert.equal((await create("/private/")).status, 401);
  assert.equal((await create("/private/", ...BOB)).status, 403);
  assert.equal((await create("/.well-known/sockit/metrics", ...ALICE)).status, 400);
  assert.equal((await create("no-slash", ...ALICE)).status, 400);
  // MAX_SHARE_PATH_CHARS: at the limit a link is made (the path need not exist), past it 400.
  const atLimit = "/pub/" + "x".repeat(MAX_SHARE_PATH_CHARS - 5);
  assert.equal((await create(atLimit, ...ALICE)).status, 201);
  const past = await create(atLimit + "x", ...ALICE);
  assert.equal(past.status, 400);
  assert.match(past.body, /at most 1024 characters/);
  assert.equal(await status(...ALICE, `${u}${SHARE_CREATE_PATH}`), 405);
  const made = await create("/private/", ...ALICE);
  assert.equal(made.status, 201);
  assert.match(made.headers, /^Content-Type: application\/json/m);
  const answer = JSON.parse(made.body);
  assert.equal(answer.path, "/private/");
  assert.ok(Date.parse(answer.expires) > Date.now() + 23 * 3600_000);
  assert.equal((await curl(`${u}${answer.url}deep/plan.txt`)).body, "plan\n");
  assert.equal(await status(`${u}/private/deep/plan.txt`), 401);
});

Deno.test("e2e share links with --workers: every worker accepts every link", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--share",
    "pub",
    "--workers",
    "2",
    "--quiet",
  );
  const folder = (await printedLinks(server, 1)).get("/pub/")!;
  // New connections each time, so the kernel spreads them over the workers.
  for (let i = 0; i < 12; i++) {
    assert.equal((await curl("-H", "Connection: close", `${folder}a.txt`)).body, "alpha\n");
    const made = await curl(
      ...ALICE,
      "-X",
      "POST",
      `${server.url}${SHARE_CREATE_PATH}?path=/pub/sub/`,
    );
    assert.equal((await curl(`${server.url}${JSON.parse(made.body).url}b.txt`)).body, "beta\n");
  }
});

Deno.test("e2e --access: a rule letting anyone write warns on all interfaces; alice-only does not", async () => {
  await using tree = await site();
  const start = (...rules: string[]) =>
    startServer([
      "http-serve",
      tree.path,
      "--host",
      "0.0.0.0",
      "--port",
      "0",
      "--auth",
      "alice:s3cret",
      ...rules.flatMap((r) => ["--access", r]),
      "--quiet",
    ]);
  await using open = await start("@/:ro", "@/inbox:rw");
  await using scoped = await start("@/:ro", "alice@/inbox:rw");
  for (const s of [open, scoped]) {
    await (await fetch(`http://127.0.0.1:${s.port}/.well-known/sockit/health`)).body?.cancel();
  }
  await open.waitForStderr(/warning: an --access rule lets anyone .* store files/);
  assert.equal(scoped.stderr(), "");
});

Deno.test("e2e --access --cache: answers to a login or a share link are private to caches", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--access",
    "@/:ro",
    "--access",
    "alice@/private:ro",
    "--share",
    "pub",
    "--cache",
    "60",
    "--quiet",
  );
  const folder = (await printedLinks(server, 1)).get("/pub/")!;
  const cacheControl = async (...args: string[]) =>
    /^Cache-Control: (.*?)\r?$/im.exec((await curl(...args)).headers)?.[1];
  // Twice each: the second answer comes from the small-file cache, whose headers are shared.
  for (let i = 0; i < 2; i++) {
    assert.equal(await cacheControl(`${server.url}/pub/a.txt`), "public, max-age=60");
    assert.equal(
      await cacheControl(...ALICE, `${server.url}/private/secret.txt`),
      "private, max-age=60",
    );
    assert.equal(await cacheControl(...ALICE, `${server.url}/pub/a.txt`), "private, max-age=60");
    assert.equal(await cacheControl(`${folder}a.txt`), "private, max-age=60");
  }
});

Deno.test(`e2e --share-uses ${MAX_SHARE_USES}: the largest count is accepted`, async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--share",
    "pub/a.txt",
    "--share-uses",
    String(MAX_SHARE_USES),
    "--quiet",
  );
  const file = (await printedLinks(server, 1)).get("/pub/a.txt")!;
  assert.ok(server.lines.some((l) => l.includes(`, ${MAX_SHARE_USES} uses)`)));
  assert.equal((await curl(file)).body, "alpha\n");
});

Deno.test("e2e --access --not-found: a 404 page inside a protected folder is not shown to others", async () => {
  await using tree = await site();
  await Deno.writeTextFile(`${tree.path}/private/404.html`, "<h1>private 404</h1>");
  await using server = await serveHttp(
    tree.path,
    "--auth",
    "alice:s3cret",
    "--access",
    "@/:ro",
    "--access",
    "alice@/private:ro",
    "--not-found",
    "private/404.html",
    "--quiet",
  );
  const anon = await curl(`${server.url}/pub/missing.txt`);
  assert.equal(anon.status, 404);
  assert.ok(!anon.body.includes("private 404"), anon.body);
  const alice = await curl(...ALICE, `${server.url}/pub/missing.txt`);
  assert.equal(alice.status, 404);
  assert.match(alice.body, /private 404/);
});

Deno.test("e2e --access --watch: the change stream names files, so it needs a login when a path does", async () => {
  await using tree = await site();
  const args = (...rules: string[]) => [
    "--auth",
    "alice:s3cret",
    ...rules.flatMap((r) => ["--access", r]),
    "--watch",
    "--quiet",
  ];
  await using scoped = await serveHttp(tree.path, ...args("@/:ro", "alice@/private:ro"));
  assert.equal(await status("-I", `${scoped.url}${LIVE_RELOAD_PATH}`), 401);
  assert.equal(await status("-I", ...ALICE, `${scoped.url}${LIVE_RELOAD_PATH}`), 200);
  await using open = await serveHttp(tree.path, ...args("@/:ro"));
  assert.equal(await status("-I", `${open.url}${LIVE_RELOAD_PATH}`), 200);
});

Deno.test("e2e --share: the access log and --trace show links without their MAC", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--share",
    "pub",
    "--log-format",
    "combined",
    "--trace",
  );
  const folder = (await printedLinks(server, 1)).get("/pub/")!;
  const mac = new URL(folder).pathname.split("/")[4].split(".")[5];
  assert.equal(mac.length, 43);
  assert.equal((await curl("-e", folder, `${folder}a.txt`)).body, "alpha\n");
  await server.stop();
  const log = server.lines.filter((l) => !l.startsWith("  share ")).join("\n") + server.stderr();
  assert.match(
    log,
    /"GET \/\.well-known\/sockit\/share\/[^"]*\.<redacted>\/a\.txt HTTP\/1\.1" 200/,
  );
  assert.match(log, /request head: b'GET \/\.well-known\/sockit\/share\/\S*\.<redacted>\/a\.txt /);
  assert.match(
    log,
    /Referer: http:\/\/127\.0\.0\.1:\d+\/\.well-known\/sockit\/share\/\S*\.<redacted>\//,
  );
  assert.ok(!log.includes(mac), "the MAC reached the log");
});

Deno.test("e2e --access with --webdav: PROPFIND lists and COPY copies only what the client may read", async () => {
  await using tree = await site();
  await using server = await serveHttp(
    tree.path,
    "--webdav",
    "--auth",
    "alice:s3cret",
    "--access",
    "@/:ro",
    "--access",
    "alice@/:rw",
    "--access",
    "alice@/private:rw",
    "--access",
    "alice@/private/deep:none",
    "--quiet",
  );
  const u = server.url;
  const propfind = (...args: string[]) =>
    curl("-X", "PROPFIND", "-H", "Depth: 1", ...args, `${u}/`);
  const anon = await propfind();
  assert.equal(anon.status, 207);
  assert.ok(anon.body.includes("/pub/"), anon.body);
  assert.ok(!/\/private\/</.test(anon.body), `anonymous PROPFIND lists /private: ${anon.body}`);
  const alice = await propfind(...ALICE);
  assert.ok(/\/private\/</.test(alice.body), "alice may read /private, so it is listed");
  const inPrivate = await curl("-X", "PROPFIND", "-H", "Depth: 1", ...ALICE, `${u}/private/`);
  assert.ok(!inPrivate.body.includes("/private/deep/"), "a none rule hides the member");
  // COPY of a readable folder leaves out what the client may not read.
  const copy = await curl(
    "-X",
    "COPY",
    "-H",
    `Destination: ${u}/copied/`,
    ...ALICE,
    `${u}/private/`,
  );
  assert.equal(copy.status, 201, copy.body);
  assert.equal(await Deno.readTextFile(`${tree.path}/copied/secret.txt`), "secret\n");
  await assert.rejects(Deno.stat(`${tree.path}/copied/deep`), Deno.errors.NotFound);
});
