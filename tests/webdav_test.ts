/**
 * `http-serve --webdav` (lib/http/webdav/): the method policy (read-only without
 * `--upload`, 501 without `--webdav`), PROPFIND's depths and escaped hrefs, the XML limits
 * (body size at and past {@link MAX_XML_BODY_BYTES}, depth, element count, DOCTYPE),
 * COPY/MOVE confinement, `mayWrite`, PUT through the upload writer, locks and their limits,
 * and dead properties at and past their limit. Real servers on 127.0.0.1:0 (in process, or
 * the CLI), real `fetch` and `curl`; the pure parsers directly.
 *
 * ```sh
 * deno test -A --unstable-net tests/webdav_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { staticFiles } from "../lib/http/files/files.ts";
import { compose, type Handler } from "../lib/http/handler.ts";
import { KNOWN_METHODS_WITH_WEBDAV, withKnownMethods } from "../lib/http/methods.ts";
import { buildHandler } from "../lib/http/server/build_handler.ts";
import { loadHttpConfig, resolveHttpConfig } from "../lib/http/server/config.ts";
import { DAV_READ_METHODS } from "../lib/http/webdav/context.ts";
import { DeadPropertyStore, MAX_DEAD_PROPERTY_BYTES } from "../lib/http/webdav/dead_props.ts";
import { MAX_IF_CONDITIONS, parseIfHeader } from "../lib/http/webdav/if_header.ts";
import {
  LockManager,
  MAX_LOCK_SECONDS,
  MAX_LOCKS,
  parseLockTimeout,
} from "../lib/http/webdav/locks.ts";
import { type DavState, PROPFIND_BATCH_CHARS, withWebDav } from "../lib/http/webdav/middleware.ts";
import {
  loadXmlParser,
  MAX_XML_BODY_BYTES,
  MAX_XML_DEPTH,
  MAX_XML_ELEMENTS,
  parseXml,
  WebDavError,
} from "../lib/http/webdav/xml.ts";
import {
  curlResponse,
  inProcessServer,
  procStatusKiB,
  readAll,
  runCli,
  serveHttp,
  tempTree,
} from "./helpers.ts";

const ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';

function dav(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Response> {
  return fetch(base + path, { method, headers, body });
}

async function status(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

/** The hrefs of a multistatus body, in order. */
function hrefs(xml: string): string[] {
  return [...xml.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((m) => m[1]);
}

/** A server with the WebDAV middleware over `state` (so a test can see or fill its stores). */
async function davServer(
  root: string,
  state: Partial<DavState> = {},
  wrap?: (h: Handler) => Handler,
) {
  const canonical = await Deno.realPath(root);
  const full: DavState = {
    root: canonical,
    dotfiles: false,
    locks: new LockManager(),
    props: new DeadPropertyStore(),
    write: { maxBytes: 1024 ** 3 },
    ...state,
  };
  const inner = compose(
    [withKnownMethods(KNOWN_METHODS_WITH_WEBDAV), withWebDav(full)],
    staticFiles({ root: canonical }),
  );
  const server = await inProcessServer(wrap ? wrap(inner) : inner);
  return Object.assign(server, { state: full });
}

Deno.test("webdav: OPTIONS says DAV 1 read-only and DAV 1, 2 with --upload; writes get 405 + Allow without", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  {
    await using server = await inProcessServer({ root: site.path, flags: { webdav: true } });
    const res = await dav(server.url, "OPTIONS", "/");
    await res.body?.cancel();
    assert.equal(res.headers.get("dav"), "1");
    assert.equal(res.headers.get("allow"), DAV_READ_METHODS);
    for (
      const method of ["PUT", "DELETE", "MKCOL", "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK"]
    ) {
      const r = await dav(server.url, method, "/a.txt", { Destination: "/b.txt" });
      assert.equal(await status(r), 405, method);
      assert.equal(r.headers.get("allow"), DAV_READ_METHODS, method);
    }
    assert.equal(await status(await dav(server.url, "PROPFIND", "/", { Depth: "0" })), 207);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(site.path))).map((e) => e.name), [
      "a.txt",
    ]);
  }
  {
    await using server = await inProcessServer({
      root: site.path,
      flags: { webdav: true, upload: true },
    });
    const res = await dav(server.url, "OPTIONS", "/a.txt");
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("dav"), "1, 2");
    assert.match(res.headers.get("allow")!, /PROPPATCH.*LOCK, UNLOCK/);
  }
});

Deno.test("webdav: without --webdav the WebDAV methods stay 501 Not Implemented", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  await using server = await inProcessServer({ root: site.path, flags: { upload: true } });
  for (const method of ["PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PROPPATCH"]) {
    assert.equal(await status(await dav(server.url, method, "/a.txt")), 501, method);
  }
});

Deno.test("webdav: PROPFIND depth 0 and 1 with escaped hrefs; hidden, temp and escaping names left out; infinity refused", async () => {
  await using outside = await tempTree({ "secret.txt": "no\n" });
  await using site = await tempTree({
    "dir/a b & <c>.txt": "x\n",
    "dir/ünï.txt": "yy\n",
    "dir/.hidden": "h\n",
    "dir/.sockit-upload-123": "partial",
    "dir/sub/": null,
    "dir/out": { symlink: join(outside.path, "secret.txt") },
  });
  await using server = await inProcessServer({ root: site.path, flags: { webdav: true } });
  const d0 = await dav(server.url, "PROPFIND", "/dir/", { Depth: "0" });
  assert.equal(d0.status, 207);
  assert.match(d0.headers.get("content-type")!, /^application\/xml/);
  const d0xml = await d0.text();
  assert.deepEqual(hrefs(d0xml), ["/dir/"]);
  assert.match(d0xml, /<D:resourcetype><D:collection\/><\/D:resourcetype>/);

  const d1 = await (await dav(server.url, "PROPFIND", "/dir", { Depth: "1" }, ALLPROP)).text();
  assert.deepEqual(hrefs(d1).sort(), [
    "/dir/",
    "/dir/%C3%BCn%C3%AF.txt",
    "/dir/a%20b%20%26%20%3Cc%3E.txt",
    "/dir/sub/",
  ]);
  assert.match(d1, /<D:displayname>a b &amp; &lt;c&gt;.txt<\/D:displayname>/);
  assert.doesNotMatch(d1, /hidden|sockit-upload|secret|out</);
  // The same ETag as GET's, so If: [etag] and If-Match agree with downloads.
  const get = await fetch(`${server.url}/dir/%C3%BCn%C3%AF.txt`);
  await get.body?.cancel();
  assert.ok(
    d1.includes(`<D:getetag>${get.headers.get("etag")!.replaceAll('"', "&quot;")}</D:getetag>`),
  );
  assert.match(d1, /<D:getcontentlength>3<\/D:getcontentlength>/);

  const named = await (await dav(
    server.url,
    "PROPFIND",
    "/dir/sub/",
    { Depth: "0" },
    '<D:propfind xmlns:D="DAV:" xmlns:z="urn:z"><D:prop><D:getlastmodified/><z:nope/></D:prop></D:propfind>',
  )).text();
  assert.match(named, /<D:getlastmodified>[^<]+GMT<\/D:getlastmodified>.*200 OK/s);
  assert.match(named, /<nope xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/);

  for (const depth of [{ Depth: "infinity" }, {}] as Record<string, string>[]) {
    const res = await dav(server.url, "PROPFIND", "/dir/", depth);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<D:propfind-finite-depth\/>/);
  }
  assert.equal(await status(await dav(server.url, "PROPFIND", "/dir/", { Depth: "2" })), 400);
  assert.equal(await status(await dav(server.url, "PROPFIND", "/dir/out", { Depth: "0" })), 404);
  assert.equal(
    await status(await dav(server.url, "PROPFIND", "/dir/.hidden", { Depth: "0" })),
    404,
  );
});

Deno.test("webdav: an XML body of MAX_XML_BODY_BYTES is read, one byte more is 413, also chunked", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  await using server = await inProcessServer({
    root: site.path,
    flags: { webdav: true, upload: true },
  });
  const padded = (size: number) => ALLPROP + " ".repeat(size - ALLPROP.length);
  const at = await dav(
    server.url,
    "PROPFIND",
    "/a.txt",
    { Depth: "0" },
    padded(MAX_XML_BODY_BYTES),
  );
  assert.equal(await status(at), 207);
  await using big = await tempTree({ "past.xml": padded(MAX_XML_BODY_BYTES + 1) });
  const past = await curlResponse([
    "-X",
    "PROPFIND",
    "-H",
    "Depth: 0",
    "--data-binary",
    `@${join(big.path, "past.xml")}`,
    `${server.url}/a.txt`,
  ]);
  assert.equal(past.status, 413);
  // Chunked (no length up front): refused while reading, at the same limit.
  const chunked = await curlResponse([
    "-X",
    "PROPFIND",
    "-H",
    "Depth: 0",
    "-H",
    "Transfer-Encoding: chunked",
    "--data-binary",
    `@${join(big.path, "past.xml")}`,
    `${server.url}/a.txt`,
  ]);
  assert.equal(chunked.status, 413);
  // A 10 MB body is refused by its length without being read.
  await Deno.writeTextFile(join(big.path, "huge.xml"), padded(10 * 1024 * 1024));
  const huge = await curlResponse([
    "-X",
    "PROPFIND",
    "-H",
    "Depth: 0",
    "--data-binary",
    `@${join(big.path, "huge.xml")}`,
    `${server.url}/a.txt`,
  ]);
  assert.equal(huge.status, 413);
  assert.ok(huge.uploaded < 10 * 1024 * 1024, `uploaded ${huge.uploaded}`);
});

Deno.test("webdav: a DOCTYPE (entity expansion bomb) and malformed XML get 400", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  await using server = await inProcessServer({ root: site.path, flags: { webdav: true } });
  const entities = Array.from(
    { length: 10 },
    (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`,
  ).join("");
  const bomb = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">${entities}]>` +
    `<D:propfind xmlns:D="DAV:"><D:prop><x xmlns="urn:x">&l10;</x></D:prop></D:propfind>`;
  const res = await dav(server.url, "PROPFIND", "/a.txt", { Depth: "0" }, bomb);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /DOCTYPE/);
  const external = `<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd"><d/>`;
  assert.equal(
    await status(await dav(server.url, "PROPFIND", "/a.txt", { Depth: "0" }, external)),
    400,
  );
  for (
    const bad of [
      "<D:propfind xmlns:D='DAV:'>",
      "<x:propfind/>",
      "<propfind xmlns='urn:other'/>",
      "\xff",
    ]
  ) {
    assert.equal(
      await status(await dav(server.url, "PROPFIND", "/a.txt", { Depth: "0" }, bad)),
      400,
      bad,
    );
  }
});

Deno.test("webdav: XML nesting at MAX_XML_DEPTH and MAX_XML_ELEMENTS parse, one more is refused", async () => {
  await loadXmlParser();
  const nested = (depth: number) => "<a>".repeat(depth) + "</a>".repeat(depth);
  assert.equal(parseXml(nested(MAX_XML_DEPTH)).name, "a");
  assert.throws(
    () => parseXml(nested(MAX_XML_DEPTH + 1)),
    (e: WebDavError) => e.code === "XML_TOO_DEEP",
  );
  const many = (n: number) => `<r>${"<e/>".repeat(n - 1)}</r>`;
  assert.equal(parseXml(many(MAX_XML_ELEMENTS)).children.length, MAX_XML_ELEMENTS - 1);
  assert.throws(
    () => parseXml(many(MAX_XML_ELEMENTS + 1)),
    (e: WebDavError) => e.code === "XML_TOO_MANY_ELEMENTS",
  );
});

Deno.test("webdav: If headers up to MAX_IF_CONDITIONS conditions parse, one more is 400; lock timeouts clamp at MAX_LOCK_SECONDS", () => {
  const header = (n: number) => Array.from({ length: n }, (_, i) => `(<urn:t${i}>)`).join(" ");
  assert.equal(parseIfHeader(header(MAX_IF_CONDITIONS)).length, MAX_IF_CONDITIONS);
  assert.throws(
    () => parseIfHeader(header(MAX_IF_CONDITIONS + 1)),
    (e: WebDavError) => e.status === 400,
  );
  assert.deepEqual(parseIfHeader('</a> (Not <DAV:no-lock> ["x"])'), [
    {
      resource: "/a",
      conditions: [{ not: true, token: "DAV:no-lock" }, { not: false, etag: '"x"' }],
    },
  ]);
  assert.throws(() => parseIfHeader("(<a>) </b> (<c>)"), WebDavError);
  assert.equal(parseLockTimeout(`Second-${MAX_LOCK_SECONDS}`), MAX_LOCK_SECONDS);
  assert.equal(parseLockTimeout(`Second-${MAX_LOCK_SECONDS + 1}`), MAX_LOCK_SECONDS);
  assert.equal(parseLockTimeout("Infinite, Second-10"), MAX_LOCK_SECONDS);
  assert.equal(parseLockTimeout("Second-10"), 10);
});

Deno.test("webdav: COPY and MOVE stay on this server and inside the root", async () => {
  await using outside = await tempTree({});
  await using site = await tempTree({
    "a.txt": "a\n",
    "b.txt": "b\n",
    "dir/": null,
    "link": { symlink: outside.path },
  });
  await using server = await inProcessServer({
    root: site.path,
    flags: { webdav: true, upload: true },
  });
  const copy = (dest: string, headers: Record<string, string> = {}) =>
    dav(server.url, "COPY", "/a.txt", { Destination: dest, ...headers }).then(status);
  assert.equal(await copy("http://elsewhere.example/x.txt"), 502);
  for (
    const escape of [
      "/../x.txt",
      "/dir/../../x.txt",
      "/dir/%2e%2e/%2e%2e/x.txt",
      "/dir%2F..%2Fx.txt",
      "/.hidden",
      "/dir/.sockit-upload-1",
    ]
  ) {
    assert.equal(await copy(`${server.url}${escape}`), 403, escape);
  }
  assert.equal(await copy(`${server.url}/link/x.txt`), 409); // the parent leads out: not a folder here
  assert.equal(await copy(`${server.url}/missing/x.txt`), 409);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(outside.path)), []);
  assert.equal(await copy(`${server.url}/b.txt`, { Overwrite: "F" }), 412);
  assert.equal(await Deno.readTextFile(join(site.path, "b.txt")), "b\n");
  assert.equal(await copy(`${server.url}/b.txt`), 204);
  assert.equal(await Deno.readTextFile(join(site.path, "b.txt")), "a\n");
  assert.equal(await copy("/dir/c%20d.txt"), 201);
  assert.equal(await Deno.readTextFile(join(site.path, "dir/c d.txt")), "a\n");
  assert.equal(
    await status(await dav(server.url, "MOVE", "/dir/", { Destination: "/dir/inner/" })),
    403,
  );
  assert.equal(
    await status(await dav(server.url, "MOVE", "/a.txt", { Destination: "/a.txt" })),
    403,
  );
  assert.equal(
    await status(await dav(server.url, "MOVE", "/dir/", { Destination: "/moved/" })),
    201,
  );
  assert.equal(await Deno.readTextFile(join(site.path, "moved/c d.txt")), "a\n");
  assert.equal(
    await status(await dav(server.url, "MOVE", "/moved/", { Destination: "/m2/", Depth: "0" })),
    400,
  );
});

Deno.test("webdav: every change asks mayWrite; a client the access layer refuses gets 403 and nothing changes", async () => {
  await using site = await tempTree({ "ro/file.txt": "keep\n", "rw/": null });
  await using server = await davServer(
    site.path,
    {},
    (inner) => (req, ctx) =>
      inner(req, { ...ctx, access: { user: "u", canWrite: (p) => !p.startsWith("/ro") } }),
  );
  const url = server.url;
  const refused: [string, string, Record<string, string>][] = [
    ["PUT", "/ro/new.txt", {}],
    ["PUT", "/ro/file.txt", {}],
    ["DELETE", "/ro/file.txt", {}],
    ["MKCOL", "/ro/sub", {}],
    ["PROPPATCH", "/ro/file.txt", {}],
    ["LOCK", "/ro/file.txt", {}],
    ["MOVE", "/ro/file.txt", { Destination: "/rw/file.txt" }],
    ["COPY", "/rw/", { Destination: "/ro/copy/" }],
  ];
  const body =
    '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>';
  for (const [method, path, headers] of refused) {
    assert.equal(
      await status(
        await dav(
          url,
          method,
          path,
          headers,
          method === "PROPPATCH" ? body : method === "PUT" ? "x" : undefined,
        ),
      ),
      403,
      `${method} ${path}`,
    );
  }
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(join(site.path, "ro")))).map((e) => e.name),
    ["file.txt"],
  );
  assert.equal(server.state.props.bytes, 0);
  assert.equal(server.state.locks.size, 0);
  assert.equal(
    await status(await dav(url, "COPY", "/ro/file.txt", { Destination: "/rw/file.txt" })),
    201,
  );
});

Deno.test("webdav: PUT goes through the upload writer — --max-upload at and past, replace, If-None-Match", async () => {
  await using site = await tempTree({ "old.txt": "old\n" });
  await using server = await inProcessServer({
    root: site.path,
    flags: { webdav: true, upload: true, maxUpload: 1024 },
  });
  assert.equal(await status(await dav(server.url, "PUT", "/at.bin", {}, "x".repeat(1024))), 201);
  await using big = await tempTree({ "past.bin": "y".repeat(1025) });
  const r = await curlResponse(["-T", join(big.path, "past.bin"), `${server.url}/past.bin`]);
  assert.equal(r.status, 413);
  assert.equal(await status(await dav(server.url, "PUT", "/old.txt", {}, "new\n")), 204);
  assert.equal(await Deno.readTextFile(join(site.path, "old.txt")), "new\n");
  assert.equal(
    await status(await dav(server.url, "PUT", "/old.txt", { "If-None-Match": "*" }, "no\n")),
    412,
  );
  assert.equal(await status(await dav(server.url, "PUT", "/nodir/x.txt", {}, "x")), 409);
  assert.equal(await status(await dav(server.url, "PUT", "/.dot", {}, "x")), 403);
  const names = (await Array.fromAsync(Deno.readDir(site.path))).map((e) => e.name).sort();
  assert.deepEqual(names, ["at.bin", "old.txt"]); // no .sockit-upload-… left, no past.bin
});

Deno.test("webdav: locks — 423 without the token, If with it, UNLOCK by token, MAX_LOCKS at and past", async () => {
  await using site = await tempTree({ "doc.txt": "v1\n", "dir/": null });
  await using server = await davServer(site.path);
  const lockBody = (scope: string) =>
    `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>`;
  const res = await dav(
    server.url,
    "LOCK",
    "/doc.txt",
    { Timeout: "Second-60" },
    lockBody("exclusive"),
  );
  assert.equal(res.status, 200);
  const token = res.headers.get("lock-token")!.slice(1, -1);
  assert.match(await res.text(), /<D:timeout>Second-60<\/D:timeout>/);
  const put = (headers: Record<string, string>) =>
    dav(server.url, "PUT", "/doc.txt", headers, "v2\n").then(status);
  assert.equal(await put({}), 423);
  assert.equal(await status(await dav(server.url, "DELETE", "/doc.txt")), 423);
  assert.equal(
    await status(await dav(server.url, "MOVE", "/doc.txt", { Destination: "/x.txt" })),
    423,
  );
  assert.equal(
    await status(await dav(server.url, "LOCK", "/doc.txt", {}, lockBody("shared"))),
    423,
  );
  assert.equal(await put({ If: "(<opaquelocktoken:wrong>)" }), 412);
  assert.equal(await put({ If: `(<${token}>)` }), 204);
  assert.equal(await put({ If: `</doc.txt> (<${token}>)` }), 204);
  assert.equal(
    await status(
      await dav(server.url, "UNLOCK", "/doc.txt", { "Lock-Token": "<opaquelocktoken:nope>" }),
    ),
    409,
  );
  assert.equal(
    await status(await dav(server.url, "UNLOCK", "/doc.txt", { "Lock-Token": `<${token}>` })),
    204,
  );
  assert.equal(await put({}), 204);

  // A depth-infinity lock on a folder covers what is created in it.
  const dirLock = await dav(server.url, "LOCK", "/dir/", {}, lockBody("exclusive"));
  const dirToken = dirLock.headers.get("lock-token")!;
  await dirLock.body?.cancel();
  assert.equal(await status(await dav(server.url, "PUT", "/dir/new.txt", {}, "n")), 423);
  assert.equal(
    await status(await dav(server.url, "PUT", "/dir/new.txt", { If: `(${dirToken})` }, "n")),
    201,
  );
  await dav(server.url, "UNLOCK", "/dir/", { "Lock-Token": dirToken }).then(status);

  // Shared locks on one file: fill the store to MAX_LOCKS - 1, the next fits, one more is 503.
  for (let i = server.state.locks.size; i < MAX_LOCKS - 1; i++) {
    server.state.locks.create({
      path: "/dir/new.txt",
      scope: "shared",
      deep: false,
      owner: "",
      seconds: 60,
    });
  }
  assert.equal(
    await status(await dav(server.url, "LOCK", "/doc.txt", {}, lockBody("shared"))),
    200,
  );
  assert.equal(server.state.locks.size, MAX_LOCKS);
  const full = await dav(server.url, "LOCK", "/doc.txt", {}, lockBody("shared"));
  assert.equal(await status(full), 503);
  assert.ok(full.headers.get("retry-after"));
});

Deno.test("webdav: dead properties — stored, protected live ones 403 with the rest 424, MAX_DEAD_PROPERTY_BYTES at and past", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  await using server = await davServer(site.path);
  const set = (inner: string) =>
    `<D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:z"><D:set><D:prop>${inner}</D:prop></D:set></D:propertyupdate>`;
  const patch = (body: string) =>
    dav(server.url, "PROPPATCH", "/a.txt", {}, body).then((r) => r.text());
  const ok = await patch(set("<z:color>red &amp; blue</z:color>"));
  assert.match(ok, /<color xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 200 OK/);
  const mixed = await patch(set("<z:size>1</z:size><D:getetag>x</D:getetag>"));
  assert.match(
    mixed,
    /<getetag xmlns="DAV:"\/><\/D:prop><D:status>HTTP\/1.1 403 Forbidden<\/D:status><D:error><D:cannot-modify-protected-property\/>/,
  );
  assert.match(mixed, /<size xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 424 Failed Dependency/);
  const got = await (await dav(
    server.url,
    "PROPFIND",
    "/a.txt",
    { Depth: "0" },
    '<D:propfind xmlns:D="DAV:"><D:prop><color xmlns="urn:z"/><size xmlns="urn:z"/></D:prop></D:propfind>',
  )).text();
  assert.match(got, /<color xmlns="urn:z">red &amp; blue<\/color>/);
  assert.match(got, /<size xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 404/); // not applied

  // The store's limit, exactly: a property that fills it to the byte fits, one byte more does not.
  const store = new DeadPropertyStore();
  const prop = (bytes: number) => ({ ns: "u", name: "p", xml: "x".repeat(bytes - 2) });
  assert.ok(store.fits("/x", prop(MAX_DEAD_PROPERTY_BYTES)));
  assert.ok(!store.fits("/x", prop(MAX_DEAD_PROPERTY_BYTES + 1)));
  // Over HTTP: with the server's store nearly full, a set that does not fit is 507, the rest 424.
  const used = server.state.props.bytes;
  server.state.props.set("/filler", prop(MAX_DEAD_PROPERTY_BYTES - used - 100));
  const tooMuch = await patch(set(`<z:big>${"b".repeat(200)}</z:big><z:small>s</z:small>`));
  assert.match(
    tooMuch,
    /<big xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 507 Insufficient Storage/,
  );
  assert.match(tooMuch, /<small xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 424/);
  assert.ok(server.state.props.bytes <= MAX_DEAD_PROPERTY_BYTES);
  // They follow MOVE, and go with DELETE.
  assert.equal(
    await status(await dav(server.url, "MOVE", "/a.txt", { Destination: "/b.txt" })),
    201,
  );
  assert.equal(server.state.props.list("/b.txt").length, 1);
  assert.equal(await status(await dav(server.url, "DELETE", "/b.txt")), 204);
  assert.equal(server.state.props.list("/b.txt").length, 0);
});

Deno.test("webdav: --webdav with --workers above 1, or with a single file, is a usage error", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  const workers = await runCli([
    "http-serve",
    site.path,
    "--webdav",
    "--workers",
    "2",
    "--port",
    "0",
  ]);
  assert.equal(workers.code, 2);
  assert.match(workers.stderr, /--webdav cannot be used with --workers above 1/);
  assert.equal(workers.stderr.trim().split("\n").length, 1);
  const single = await runCli(["http-serve", join(site.path, "a.txt"), "--webdav", "--port", "0"]);
  assert.equal(single.code, 2);
  assert.match(single.stderr, /--webdav needs a DIR/);
});

Deno.test("webdav: the built handler (buildHandler) puts WebDAV inside --auth", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  const config = await loadHttpConfig(
    resolveHttpConfig(site.path, { webdav: true, upload: true, auth: ["u:p"], port: 0 }),
  );
  const { handler } = buildHandler(config);
  await using server = await inProcessServer(handler);
  assert.equal(await status(await dav(server.url, "PROPFIND", "/", { Depth: "0" })), 401);
  assert.equal(await status(await dav(server.url, "MKCOL", "/x")), 401);
  const auth = { Authorization: `Basic ${btoa("u:p")}` };
  assert.equal(await status(await dav(server.url, "MKCOL", "/x", auth)), 201);
});

Deno.test("webdav: a lock expires after its timeout, a refresh extends it, and a deep lock covers members", () => {
  let now = 0;
  const locks = new LockManager(() => now);
  const lock = locks.create({ path: "/d", scope: "exclusive", deep: true, owner: "", seconds: 10 });
  locks.create({ path: "/d/f", scope: "shared", deep: false, owner: "", seconds: 20 });
  assert.equal(locks.covering("/d/f").length, 2);
  assert.equal(locks.covering("/d/g/h").length, 1);
  assert.equal(locks.covering("/e").length, 0);
  now = 9_999;
  locks.refresh(lock, 15); // now until 24 999
  now = 19_000;
  assert.equal(locks.covering("/d/g").length, 1);
  now = 20_000;
  assert.equal(locks.size, 1); // the shared one ran out at 20 s
  assert.deepEqual(locks.covering("/d/f").map((l) => l.token), [lock.token]);
  now = 30_000;
  assert.equal(locks.size, 0);
  assert.equal(locks.get(lock.token), undefined);
});

Deno.test("webdav: --compress and --watch leave multistatus bodies alone; PUT to a folder URL is refused", async () => {
  await using site = await tempTree({ "page.html": "<html><body>hi</body></html>\n", "d/": null });
  await using server = await inProcessServer({
    root: site.path,
    flags: { webdav: true, upload: true, compress: true, watch: true },
  });
  const res = await dav(server.url, "PROPFIND", "/", {
    Depth: "1",
    "Accept-Encoding": "gzip, br",
    Accept: "text/html",
  });
  assert.equal(res.status, 207);
  assert.equal(res.headers.get("content-encoding"), null);
  const xml = await res.text();
  assert.match(xml, /^<\?xml/);
  assert.doesNotMatch(xml, /<script/);
  assert.equal(await status(await dav(server.url, "PUT", "/new/", {}, "x")), 400);
  assert.equal(await status(await dav(server.url, "PUT", "/d/", {}, "x")), 405);
});

Deno.test("webdav: a Depth 1 PROPFIND of a big folder streams in batches and lists every member once", async () => {
  const entries: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) entries[`big/f ${i}.txt`] = `${i}`;
  await using site = await tempTree(entries);
  await using server = await inProcessServer({ root: site.path, flags: { webdav: true } });
  const res = await dav(server.url, "PROPFIND", "/big/", { Depth: "1" });
  assert.equal(res.status, 207);
  assert.equal(res.headers.get("transfer-encoding"), "chunked");
  const xml = await res.text();
  assert.ok(xml.length > 10 * PROPFIND_BATCH_CHARS, `${xml.length} chars: several batches`);
  const listed = hrefs(xml).filter((h) => h.includes("%20"));
  assert.equal(new Set(listed).size, 2000);
  assert.equal(listed.length, 2000);
  assert.match(xml, /<\/D:multistatus>\n$/);
});

Deno.test("webdav: with --cors a preflight allows the WebDAV methods (read-only: the read ones)", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  for (
    const [flags, methods] of [[{ upload: true }, /PROPFIND.*MKCOL.*LOCK/], [
      {},
      /^OPTIONS, GET, HEAD, PROPFIND$/,
    ]] as const
  ) {
    await using server = await inProcessServer({
      root: site.path,
      flags: { webdav: true, cors: true, ...flags },
    });
    const res = await dav(server.url, "OPTIONS", "/a.txt", {
      Origin: "https://app.example",
      "Access-Control-Request-Method": "PROPFIND",
      "Access-Control-Request-Headers": "depth, content-type",
    });
    await res.body?.cancel();
    assert.equal(res.status, 204);
    assert.match(res.headers.get("access-control-allow-methods")!, methods);
    assert.equal(res.headers.get("access-control-allow-headers"), "depth, content-type");
  }
});

Deno.test("webdav: a 100 MB chunked PROPFIND body and entity bombs leave the server's peak memory where it was", async () => {
  await using site = await tempTree({ "a.txt": "a\n" });
  await using server = await serveHttp(site.path, "--webdav", "--upload", "--quiet");
  const url = `http://127.0.0.1:${server.port}`;
  assert.equal(await status(await dav(url, "PROPFIND", "/", { Depth: "1" }, ALLPROP)), 207);
  const before = procStatusKiB(server.child.pid, "VmHWM");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const head =
    "PROPFIND /a.txt HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nTransfer-Encoding: chunked\r\n\r\n";
  await conn.write(new TextEncoder().encode(head));
  const chunk = new TextEncoder().encode(`10000\r\n${" ".repeat(0x10000)}\r\n`);
  let sent = 0;
  try {
    for (; sent < 100 * 1024 * 1024; sent += 0x10000) await conn.write(chunk);
  } catch {
    // The server answered 413 and closed: the rest of the body was never wanted.
  }
  const answer = new TextDecoder().decode(await readAll(conn));
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.ok(sent < 100 * 1024 * 1024, `the server stopped reading (sent ${sent} bytes)`);
  const laughs = Array.from(
    { length: 9 },
    (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`,
  )
    .join("");
  for (let i = 0; i < 20; i++) {
    const bomb = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">${laughs}]><d>&l9;</d>`;
    assert.equal(await status(await dav(url, "PROPFIND", "/a.txt", { Depth: "0" }, bomb)), 400);
  }
  const grownMiB = (procStatusKiB(server.child.pid, "VmHWM") - before) / 1024;
  assert.ok(grownMiB < 32, `peak memory grew by ${grownMiB.toFixed(1)} MiB`);
});
