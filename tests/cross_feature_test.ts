/**
 * Seams between http-serve's features, end to end through the real CLI with curl (HTTP/1.1
 * and HTTP/2 prior knowledge): `--access` rules against WebDAV, file management and
 * resumable PUT when a symlink inside a writable folder leads into a protected one; what
 * PROPFIND tells about such a symlink; share links made by a user who may not read all of
 * the shared folder; share links and read-only WebDAV refusing every write method.
 */
import assert from "node:assert/strict";
import { LIVE_RELOAD_PATH } from "../lib/http/middleware/live_reload_page.ts";
import { METRICS_PATH } from "../lib/http/sharing/metrics.ts";
import { SHARE_CREATE_PATH } from "../lib/http/sharing/share_links.ts";
import { curlResponse, type CurlResult, entryNames, serveHttp, tempTree } from "./helpers.ts";

function curl(...args: string[]): Promise<CurlResult> {
  return curlResponse(["--path-as-is", ...args], { okExitCodes: [0, 55, 56] });
}

const LOCK_BODY = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>' +
  "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
const PROPPATCH_BODY = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">' +
  "<D:set><D:prop><Z:x>1</Z:x></D:prop></D:set></D:propertyupdate>";

/** /private is nobody's but alice's; anyone may write /rw, where a link leads into /private. */
const PROTECTED_TREE = {
  "private/secret.txt": "secret\n",
  "pub/a.txt": "public\n",
  "pub/link": { symlink: "../private" },
  "pub/slink.txt": { symlink: "../private/secret.txt" },
  "rw/h.txt": "hello\n",
  "rw/plink": { symlink: "../private" },
};
const PROTECTED_RULES = [
  "--auth",
  "alice:pw",
  "--access",
  "@/:ro",
  "--access",
  "@/private:none",
  "--access",
  "@/rw:rw",
  "--access",
  "alice@/:rw",
  "--access",
  "alice@/private:rw",
];

Deno.test("webdav: a symlink in a writable folder does not open a protected folder to writes", async () => {
  await using tree = await tempTree(PROTECTED_TREE);
  await using server = await serveHttp(tree.path, "--webdav", "--upload", ...PROTECTED_RULES);
  const u = server.url;
  const attempts: [string, string[]][] = [
    ["PUT new file", ["-X", "PUT", "--data-binary", "evil", `${u}/rw/plink/new.txt`]],
    ["PUT over a file", ["-X", "PUT", "--data-binary", "evil", `${u}/rw/plink/secret.txt`]],
    ["MKCOL", ["-X", "MKCOL", `${u}/rw/plink/d`]],
    ["LOCK (would create an empty file)", ["-X", "LOCK", "-d", LOCK_BODY, `${u}/rw/plink/l.txt`]],
    ["PROPPATCH", ["-X", "PROPPATCH", "-d", PROPPATCH_BODY, `${u}/rw/plink/secret.txt`]],
    ["COPY into", ["-X", "COPY", "-H", `Destination: ${u}/rw/plink/c.txt`, `${u}/rw/h.txt`]],
    ["MOVE out", ["-X", "MOVE", "-H", `Destination: ${u}/rw/got.txt`, `${u}/rw/plink/secret.txt`]],
    ["DELETE", ["-X", "DELETE", `${u}/rw/plink/secret.txt`]],
  ];
  for (const [what, args] of attempts) {
    const response = await curl(...args);
    assert.equal(response.status, 403, `${what}: ${response.body}`);
  }
  // HTTP/2 is the same handler: the same answer.
  const h2 = await curl("--http2-prior-knowledge", "-X", "MKCOL", `${u}/rw/plink/d2`);
  assert.equal(h2.status, 403, h2.body);
  assert.deepEqual(await entryNames(`${tree.path}/private`), ["secret.txt"]);
  assert.deepEqual(await entryNames(`${tree.path}/rw`), ["h.txt", "plink"]);
  // alice may write /private, through the link too.
  const alice = await curl("-u", "alice:pw", "-X", "MKCOL", `${u}/rw/plink/d`);
  assert.equal(alice.status, 201, alice.body);
});

Deno.test("webdav: COPY never copies out what a symlink leads to in a protected folder", async () => {
  await using tree = await tempTree({
    ...PROTECTED_TREE,
    "rw/psecret.txt": { symlink: "../private/secret.txt" },
  });
  await using server = await serveHttp(tree.path, "--webdav", "--upload", ...PROTECTED_RULES);
  const u = server.url;
  for (
    const [from, to] of [["psecret.txt", "c1.txt"], ["plink/secret.txt", "c2.txt"], ["plink", "c3"]]
  ) {
    const response = await curl(
      "-X",
      "COPY",
      "-H",
      `Destination: ${u}/rw/${to}`,
      `${u}/rw/${from}`,
    );
    assert.equal(response.status, 404, `COPY /rw/${from}: ${response.body}`);
  }
  assert.deepEqual(await entryNames(`${tree.path}/rw`), ["h.txt", "plink", "psecret.txt"]);
  const alice = await curl(
    ...["-u", "alice:pw", "-X", "COPY", "-H", `Destination: ${u}/rw/c3`, `${u}/rw/plink`],
  );
  assert.equal(alice.status, 201, alice.body);
  assert.deepEqual(await entryNames(`${tree.path}/rw/c3`), ["secret.txt"]);
});

Deno.test("webdav: PROPFIND tells nothing about where a symlink into a protected folder leads", async () => {
  await using tree = await tempTree({ ...PROTECTED_TREE, "pub/up": { symlink: ".." } });
  await using server = await serveHttp(tree.path, "--webdav", ...PROTECTED_RULES);
  const u = server.url;
  for (const [path, depth] of [["/pub/link/", "1"], ["/pub/link/", "0"], ["/pub/slink.txt", "0"]]) {
    const response = await curl("-X", "PROPFIND", "-H", `Depth: ${depth}`, `${u}${path}`);
    assert.equal(response.status, 404, `PROPFIND ${path} Depth ${depth}: ${response.body}`);
    assert.doesNotMatch(response.body, /secret/);
  }
  // The same as GET, and the parent's listing leaves them out.
  assert.equal((await curl(`${u}/pub/slink.txt`)).status, 404);
  const parent = await curl("-X", "PROPFIND", "-H", "Depth: 1", `${u}/pub/`);
  assert.equal(parent.status, 207);
  assert.doesNotMatch(parent.body, /link/);
  // A link to a folder that is readable but holds a protected one: the members are asked
  // where they really are (/private is listed through /pub/up, /private's name is not).
  const up = await curl("-X", "PROPFIND", "-H", "Depth: 1", `${u}/pub/up/`);
  assert.equal(up.status, 207, up.body);
  assert.match(up.body, /\/pub\/up\/pub\//);
  assert.doesNotMatch(up.body, /private/);
  // alice may read /private: the links work for her.
  const alice = await curl("-u", "alice:pw", "-X", "PROPFIND", "-H", "Depth: 1", `${u}/pub/link/`);
  assert.equal(alice.status, 207);
  assert.match(alice.body, /\/pub\/link\/secret\.txt/);
});

Deno.test("file management: a symlink in a writable folder does not open a protected folder to writes", async () => {
  await using tree = await tempTree(PROTECTED_TREE);
  await using server = await serveHttp(tree.path, "--upload", "--overwrite", ...PROTECTED_RULES);
  const u = server.url;
  const attempts: [string, string[]][] = [
    ["resumable PUT", [
      "-X",
      "PUT",
      "-H",
      "Content-Range: bytes 0-3/4",
      "--data-binary",
      "evil",
      `${u}/rw/plink/res.txt`,
    ]],
    ["DELETE", ["-X", "DELETE", `${u}/rw/plink/secret.txt`]],
    ["POST ?delete", ["-X", "POST", `${u}/rw/plink/secret.txt?delete`]],
    ["POST ?mkdir=", ["-X", "POST", `${u}/rw/plink/?mkdir=m`]],
    ["move out", ["-X", "POST", `${u}/rw/plink/secret.txt?move=/rw/got.txt`]],
    ["move in", ["-X", "POST", `${u}/rw/h.txt?move=plink/h.txt`]],
    ["plain PUT", ["-X", "PUT", "--data-binary", "evil", `${u}/rw/plink/new.txt`]],
  ];
  for (const [what, args] of attempts) {
    const response = await curl(...args);
    assert.equal(response.status, 403, `${what}: ${response.body}`);
  }
  assert.deepEqual(await entryNames(`${tree.path}/private`), ["secret.txt"]);
  assert.deepEqual(await entryNames(`${tree.path}/rw`), ["h.txt", "plink"]);
  // Renaming the link itself, inside /rw, is this client's business.
  const rename = await curl("-X", "POST", `${u}/rw/plink?move=plink2`);
  assert.equal(rename.status, 201, rename.body);
  assert.deepEqual(await entryNames(`${tree.path}/private`), ["secret.txt"]);
});

Deno.test("share links: a user cannot share a folder holding what they may not read", async () => {
  await using tree = await tempTree({
    "pub/a.txt": "public\n",
    "private/secret.txt": "secret\n",
  });
  await using server = await serveHttp(
    tree.path,
    ...["--webdav", "--auth", "alice:pw", "--auth", "bob:pw"],
    ...["--access", "*@/:ro", "--access", "bob@/private:ro"],
  );
  const u = server.url;
  assert.equal((await curl("-u", "alice:pw", `${u}/private/secret.txt`)).status, 403);
  const denied = await curl("-u", "alice:pw", "-X", "POST", `${u}${SHARE_CREATE_PATH}?path=/`);
  assert.equal(denied.status, 403, denied.body);
  // A folder she may read all of is fine, and bob may share the root.
  const pub = await curl("-u", "alice:pw", "-X", "POST", `${u}${SHARE_CREATE_PATH}?path=/pub/`);
  assert.equal(pub.status, 201, pub.body);
  const made = await curl("-u", "bob:pw", "-X", "POST", `${u}${SHARE_CREATE_PATH}?path=/`);
  assert.equal(made.status, 201, made.body);
  const link: string = JSON.parse(made.body).url;
  assert.equal((await curl(`${u}${link}private/secret.txt`)).body, "secret\n");
  // Read-only, WebDAV's methods included; over HTTP/2 too (bodiless requests there: curl
  // 7.88 sometimes drops an early answer to a body it is still sending, see the report).
  const writes = [
    ["-X", "MKCOL", `${u}${link}pub/d`],
    ["-X", "DELETE", `${u}${link}pub/a.txt`],
    ["-X", "COPY", "-H", `Destination: ${u}/pub/c.txt`, `${u}${link}pub/a.txt`],
    ["-X", "MOVE", "-H", `Destination: ${u}/pub/c.txt`, `${u}${link}pub/a.txt`],
    ["-X", "POST", `${u}${link}pub/?mkdir=m`],
  ];
  for (
    const args of [
      ...writes,
      ...writes.map((w) => ["--http2-prior-knowledge", ...w]),
      ["-X", "PUT", "--data-binary", "x", `${u}${link}pub/new.txt`],
      ["-X", "PROPPATCH", "-d", PROPPATCH_BODY, `${u}${link}pub/a.txt`],
      ["-X", "LOCK", "-d", LOCK_BODY, `${u}${link}pub/l.txt`],
    ]
  ) {
    const response = await curl(...args);
    assert.equal(response.status, 403, `${args.join(" ")}: ${response.body}`);
  }
  assert.deepEqual(await entryNames(`${tree.path}/pub`), ["a.txt"]);
});

Deno.test("--webdav without --upload is read-only for every write path", async () => {
  await using tree = await tempTree({ "pub/a.txt": "public\n" });
  await using server = await serveHttp(tree.path, "--webdav");
  const u = server.url;
  for (
    const args of [
      ["-X", "PUT", "--data-binary", "x", `${u}/pub/new.txt`],
      ["-X", "PUT", "-H", "Content-Range: bytes 0-0/1", "--data-binary", "x", `${u}/pub/r.txt`],
      ["-X", "MKCOL", `${u}/pub/d`],
      ["-X", "DELETE", `${u}/pub/a.txt`],
      ["-X", "LOCK", "-d", LOCK_BODY, `${u}/pub/l.txt`],
      ["-X", "MOVE", "-H", `Destination: ${u}/pub/b.txt`, `${u}/pub/a.txt`],
      ["-X", "POST", `${u}/pub/?mkdir=m`],
      ["-X", "POST", "-F", "file=@/etc/hostname", `${u}/pub/`],
    ]
  ) {
    const response = await curl(...args);
    assert.ok(
      response.status === 405 || response.status === 403,
      `${args.join(" ")}: ${response.status} ${response.body}`,
    );
  }
  assert.deepEqual(await entryNames(`${tree.path}/pub`), ["a.txt"]);
});

Deno.test("--watch and --metrics: no event or count reaches a client who may not read everything", async () => {
  await using tree = await tempTree({ "pub/a.txt": "public\n", "private/s.txt": "s\n" });
  await using server = await serveHttp(
    tree.path,
    ...["--watch", "--metrics", "--auth", "alice:pw", "--auth", "bob:pw"],
    ...["--access", "*@/:ro", "--access", "bob@/private:ro", "--access", "alice@/private:none"],
  );
  const u = server.url;
  const events = `${u}${LIVE_RELOAD_PATH}`;
  assert.equal((await curl("-u", "alice:pw", "-I", events)).status, 403);
  assert.equal((await curl("-u", "bob:pw", "-I", events)).status, 200);
  // A link to "/" reads the files, not the server's own endpoints (they need a login).
  const made = await curl("-u", "bob:pw", "-X", "POST", `${u}${SHARE_CREATE_PATH}?path=/`);
  const link: string = JSON.parse(made.body).url;
  assert.equal((await curl(`${u}${link}private/s.txt`)).status, 200);
  for (const path of [METRICS_PATH, LIVE_RELOAD_PATH]) {
    const response = await curl("-I", `${u}${link}${path.slice(1)}`);
    assert.equal(response.status, 404, `${path} through a link`);
  }
});

Deno.test("moving or deleting a folder needs write access to what a rule below it protects", async () => {
  await using tree = await tempTree({
    "pub/a.txt": "a\n",
    "pub/hidden/s.txt": "secret\n",
    "rw/": null,
  });
  await using server = await serveHttp(
    tree.path,
    ...["--webdav", "--upload", "--auth", "alice:pw", "--auth", "bob:pw"],
    ...["--access", "*@/:rw", "--access", "*@/pub/hidden:none", "--access", "bob@/pub/hidden:rw"],
  );
  const u = server.url;
  const alice = ["-u", "alice:pw"];
  assert.equal((await curl(...alice, `${u}/pub/hidden/s.txt`)).status, 403);
  for (
    const args of [
      ["-X", "MOVE", "-H", `Destination: ${u}/rw/pub2`, `${u}/pub/`],
      ["-X", "DELETE", `${u}/pub/`],
      ["-X", "COPY", "-H", `Destination: ${u}/pub/`, "-H", "Overwrite: T", `${u}/rw/`],
      ["-X", "POST", `${u}/pub?move=/rw/pub2`],
      ["-X", "POST", `${u}/pub?delete&recursive=1`],
    ]
  ) {
    const response = await curl(...alice, ...args);
    assert.equal(response.status, 403, `${args.join(" ")}: ${response.body}`);
  }
  assert.deepEqual(await entryNames(`${tree.path}/pub/hidden`), ["s.txt"]);
  assert.deepEqual(await entryNames(`${tree.path}/rw`), []);
  // Another server as Destination: 502 (RFC 4918 §9.8.5), with its reason phrase.
  const away = await curl(
    ...alice,
    "-X",
    "MOVE",
    "-H",
    "Destination: http://evil.example/x",
    `${u}/pub/`,
  );
  assert.equal(away.status, 502);
  assert.match(away.headers, /^HTTP\/1\.1 502 Bad Gateway/);
  // Files beside it are alice's; bob may move the whole folder.
  assert.equal((await curl(...alice, "-X", "DELETE", `${u}/pub/a.txt`)).status, 204);
  const bob = await curl(
    "-u",
    "bob:pw",
    "-X",
    "MOVE",
    "-H",
    `Destination: ${u}/rw/pub2`,
    `${u}/pub/`,
  );
  assert.equal(bob.status, 201, bob.body);
  assert.deepEqual(await entryNames(`${tree.path}/rw/pub2/hidden`), ["s.txt"]);
});

Deno.test("a write over a symlink replaces the link, never the protected file it leads to", async () => {
  await using tree = await tempTree({
    "private/s1.txt": "s1\n",
    "private/s2.txt": "s2\n",
    "private/s3.txt": "s3\n",
    "rw/l1.txt": { symlink: "../private/s1.txt" },
    "rw/l2.txt": { symlink: "../private/s2.txt" },
    "rw/l3.txt": { symlink: "../private/s3.txt" },
  });
  await using server = await serveHttp(tree.path, "--upload", "--overwrite", ...PROTECTED_RULES);
  const u = server.url;
  const upload = await Deno.makeTempDir({ prefix: "sockit-cross-" });
  try {
    await Deno.writeTextFile(`${upload}/l3.txt`, "new\n");
    for (
      const args of [
        ["-X", "PUT", "--data-binary", "new\n", `${u}/rw/l1.txt`],
        [
          "-X",
          "PUT",
          "-H",
          "Content-Range: bytes 0-3/4",
          "--data-binary",
          "new\n",
          `${u}/rw/l2.txt`,
        ],
        ["-F", `file=@${upload}/l3.txt`, `${u}/rw/`],
      ]
    ) {
      const response = await curl(...args);
      assert.ok(response.status === 201 || response.status === 204, `${args}: ${response.body}`);
    }
  } finally {
    await Deno.remove(upload, { recursive: true });
  }
  for (const n of [1, 2, 3]) {
    assert.equal(await Deno.readTextFile(`${tree.path}/private/s${n}.txt`), `s${n}\n`);
    assert.equal((await Deno.lstat(`${tree.path}/rw/l${n}.txt`)).isSymlink, false);
    assert.equal(await Deno.readTextFile(`${tree.path}/rw/l${n}.txt`), "new\n");
  }
});

Deno.test("--webdav --upload: without --cors a page on another origin gets no way to write", async () => {
  await using tree = await tempTree({ "pub/a.txt": "a\n" });
  await using server = await serveHttp(tree.path, "--webdav", "--upload");
  const u = server.url;
  // WebDAV's methods need a preflight from a browser; its OPTIONS answer grants none.
  const preflight = await curl(
    ...["-X", "OPTIONS", "-H", "Origin: http://evil.example"],
    ...["-H", "Access-Control-Request-Method: DELETE", `${u}/pub/a.txt`],
  );
  assert.doesNotMatch(preflight.headers, /access-control-allow/i);
  // POST needs none (a form can send it): refused as cross-site.
  for (const query of ["mkdir=m", "delete", "move=b.txt"]) {
    const path = query === "mkdir=m" ? "/pub/" : "/pub/a.txt";
    const response = await curl(
      ...["-X", "POST", "-H", "Origin: http://evil.example", "-H", "Sec-Fetch-Site: cross-site"],
      `${u}${path}?${query}`,
    );
    assert.equal(response.status, 403, `${query}: ${response.body}`);
  }
  assert.deepEqual(await entryNames(`${tree.path}/pub`), ["a.txt"]);
});

Deno.test("--share-uses: a used-up link answers nothing more, HEAD and PROPFIND included", async () => {
  await using tree = await tempTree({ "pub/a.txt": "a\n", "pub/b.txt": "b\n" });
  await using server = await serveHttp(
    tree.path,
    "--webdav",
    "--share",
    "pub",
    "--share-uses",
    "1",
  );
  await server.waitForLine(/share \/pub\//);
  const link = /: (\S+)$/.exec(server.lines.find((l) => l.includes("share /pub/"))!)![1];
  const propfind = ["-X", "PROPFIND", "-H", "Depth: 1", link];
  assert.equal((await curl(...propfind)).status, 207);
  assert.equal((await curl("-I", `${link}b.txt`)).status, 200);
  assert.equal((await curl(`${link}a.txt`)).body, "a\n");
  for (const args of [[`${link}b.txt`], ["-I", `${link}b.txt`], propfind]) {
    const response = await curl(...args);
    assert.equal(response.status, 403, `${args.join(" ")}: ${response.body}`);
  }
});

Deno.test("--webdav --upload: resumable PUT (the uploader's chunks) still works", async () => {
  await using tree = await tempTree({ "up/": null });
  await using server = await serveHttp(tree.path, "--webdav", "--upload");
  const url = `${server.url}/up/r.txt`;
  const first = await curl(
    "-X",
    "PUT",
    "-H",
    "Content-Range: bytes 0-3/8",
    "--data-binary",
    "abcd",
    url,
  );
  assert.equal(first.status, 308, first.body);
  const query = await curl("-X", "PUT", "-H", "Content-Range: bytes */8", url);
  assert.match(query.headers, /\nrange: bytes=0-3\r?$/im);
  const last = await curl(
    "-X",
    "PUT",
    "-H",
    "Content-Range: bytes 4-7/8",
    "--data-binary",
    "efgh",
    url,
  );
  assert.equal(last.status, 201, last.body);
  assert.equal(await Deno.readTextFile(`${tree.path}/up/r.txt`), "abcdefgh");
});
