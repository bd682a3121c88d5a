/**
 * File management with `http-serve --upload`, end to end: the real CLI and real `curl`
 * deleting, making folders and moving over HTTP (`DELETE`, `POST ?mkdir=`, `POST ?move=`,
 * the listing's urlencoded forms), with each refusal's exact status: 404 missing source,
 * 409 missing parent / not empty / exists, 403 forbidden names, path escapes (`..`,
 * `%2e%2e`, symlinks out of the root), dotfiles, cross-site browser requests, the form
 * size limit; and `mayWrite` refusing through the handler seam.
 *
 * ```sh
 * deno test -A --unstable-net tests/http_manage_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { curlResponse, type CurlResult, entryNames, serveHttp, tempTree } from "./helpers.ts";
import {
  MAX_MANAGE_FORM_BYTES,
  withFileManagement,
} from "../lib/http/sharing/manage_middleware.ts";
import { crossSiteWriteReason } from "../lib/http/sharing/csrf.ts";
import { targetSegments } from "../lib/http/sharing/manage.ts";
import { compose, type RequestContext, type RequestHead } from "../lib/http/handler.ts";
import { withUploads } from "../lib/http/sharing/middleware.ts";
import { canonicalRoot } from "../lib/http/files/safe_path.ts";

function curl(...args: string[]): Promise<CurlResult> {
  return curlResponse(args);
}

function header(result: CurlResult, name: string): string | undefined {
  const line = result.headers.split("\r\n").find((l) =>
    l.toLowerCase().startsWith(name.toLowerCase() + ":")
  );
  return line?.slice(name.length + 1).trim();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("manage: DELETE files and folders, exact statuses, never outside the root", async () => {
  await using outside = await tempTree({ "secret.txt": "keep", "dir/inner.txt": "keep" });
  await using tree = await tempTree({
    "a.txt": "a",
    "full/x.txt": "x",
    "full/deep/y.txt": "y",
    "empty/": null,
    ".hidden": "h",
    "target.txt": "target",
    "link.txt": { symlink: "target.txt" },
    "out": { symlink: `${outside.path}/dir` },
  });
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const u = server.url;

  assert.equal((await curl("-X", "DELETE", `${u}/a.txt`)).status, 204);
  assert.equal(await exists(`${tree.path}/a.txt`), false);
  assert.equal((await curl("-X", "DELETE", `${u}/a.txt`)).status, 404, "already gone");
  assert.equal((await curl("-X", "DELETE", `${u}/nope/a.txt`)).status, 404);

  const notEmpty = await curl("-X", "DELETE", `${u}/full/`);
  assert.equal(notEmpty.status, 409);
  assert.match(notEmpty.body, /not empty.*recursive=1/);
  assert.equal(await exists(`${tree.path}/full/deep/y.txt`), true);
  assert.equal((await curl("-X", "DELETE", `${u}/full/?recursive=1`)).status, 204);
  assert.equal(await exists(`${tree.path}/full`), false);
  // Hidden entries the client cannot see are not deleted with their folder (a .git).
  await Deno.mkdir(`${tree.path}/repo/src/.git`, { recursive: true });
  const withHidden = await curl("-X", "DELETE", `${u}/repo/?recursive=1`);
  assert.equal(withHidden.status, 409);
  assert.match(withHidden.body, /hidden entries/);
  assert.equal(await exists(`${tree.path}/repo/src/.git`), true);
  await using dots = await serveHttp(tree.path, "--upload", "--dotfiles", "--quiet");
  assert.equal((await curl("-X", "DELETE", `${dots.url}/repo/?recursive=1`)).status, 204);
  assert.equal(await exists(`${tree.path}/repo`), false);
  assert.equal((await curl("-X", "DELETE", `${u}/empty/`)).status, 204);

  // The root, dotfiles, escapes: refused, nothing touched.
  assert.equal((await curl("-X", "DELETE", `${u}/`)).status, 403);
  assert.equal((await curl("-X", "DELETE", `${u}/.hidden`)).status, 404);
  assert.equal(await exists(`${tree.path}/.hidden`), true);
  const escapes = [
    `${u}/%2e%2e/${outside.path.split("/").at(-1)}/secret.txt`,
    `${u}/out/inner.txt`,
    `${u}/out/`,
    `${u}/%2E%2E%2Fsecret.txt`,
  ];
  for (const url of escapes) {
    const r = await curl("--path-as-is", "-X", "DELETE", url);
    assert.ok([400, 404].includes(r.status), `${url} → ${r.status}`);
  }
  assert.equal(await Deno.readTextFile(`${outside.path}/secret.txt`), "keep");
  assert.equal(await Deno.readTextFile(`${outside.path}/dir/inner.txt`), "keep");

  // An in-root symlink: the link goes, its target stays.
  assert.equal((await curl("-X", "DELETE", `${u}/link.txt`)).status, 204);
  assert.equal(await exists(`${tree.path}/link.txt`), false);
  assert.equal(await Deno.readTextFile(`${tree.path}/target.txt`), "target");
  assert.deepEqual(await entryNames(tree.path), [".hidden", "out", "target.txt"]);
});

Deno.test("manage: POST ?mkdir= creates folders; 409 exists / no parent, 403/400 names", async () => {
  await using tree = await tempTree({ "docs/": null, "file.txt": "f" });
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const u = server.url;

  const made = await curl("-X", "POST", `${u}/docs/?mkdir=2026%20photos`);
  assert.equal(made.status, 201);
  assert.equal(header(made, "location"), "/docs/2026%20photos/");
  assert.equal((await Deno.stat(`${tree.path}/docs/2026 photos`)).isDirectory, true);
  assert.equal((await curl("-X", "POST", `${u}/docs/?mkdir=2026%20photos`)).status, 409);
  assert.equal((await curl("-X", "POST", `${u}/?mkdir=file.txt`)).status, 409);
  assert.equal((await curl("-X", "POST", `${u}/missing/?mkdir=x`)).status, 409);
  assert.equal((await curl("-X", "POST", `${u}/?mkdir=.git`)).status, 403);
  assert.equal((await curl("-X", "POST", `${u}/?mkdir=..`)).status, 403);
  assert.equal((await curl("-X", "POST", `${u}/?mkdir=.sockit-upload-x`)).status, 403);
  assert.equal((await curl("-X", "POST", `${u}/?mkdir=a%2Fb`)).status, 400);
  assert.equal((await curl("-X", "POST", `${u}/?mkdir=`)).status, 400);
  assert.equal((await curl("-X", "POST", `${u}/file.txt?mkdir=x`)).status, 400);
  assert.deepEqual(await entryNames(tree.path), ["docs", "file.txt"]);
  assert.deepEqual(await entryNames(`${tree.path}/docs`), ["2026 photos"]);

  // With --dotfiles a hidden folder is allowed; sockit's own prefix never is.
  await using dots = await serveHttp(tree.path, "--upload", "--dotfiles", "--quiet");
  assert.equal((await curl("-X", "POST", `${dots.url}/?mkdir=.config`)).status, 201);
  assert.equal((await curl("-X", "POST", `${dots.url}/?mkdir=.sockit-upload-x`)).status, 403);
});

Deno.test("manage: POST ?move= renames and moves; 404/409/403 exactly; --overwrite", async () => {
  await using outside = await tempTree({ "dir/": null });
  await using tree = await tempTree({
    "a.txt": "A",
    "b.txt": "B",
    "sub/c.txt": "C",
    "folder/inner.txt": "I",
    "out": { symlink: `${outside.path}/dir` },
  });
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const u = server.url;

  const renamed = await curl("-X", "POST", `${u}/a.txt?move=renamed%20a.txt`);
  assert.equal(renamed.status, 201, renamed.body);
  assert.equal(header(renamed, "location"), "/renamed%20a.txt");
  assert.equal(await Deno.readTextFile(`${tree.path}/renamed a.txt`), "A");
  const moved = await curl("-X", "POST", `${u}/renamed%20a.txt?move=/sub/a.txt`);
  assert.equal(moved.status, 201);
  assert.equal(await Deno.readTextFile(`${tree.path}/sub/a.txt`), "A");
  const folder = await curl("-X", "POST", `${u}/folder/?move=/sub/folder`);
  assert.equal(folder.status, 201);
  assert.equal(header(folder, "location"), "/sub/folder/");
  assert.equal(await Deno.readTextFile(`${tree.path}/sub/folder/inner.txt`), "I");

  const cases: [string, number][] = [
    [`/nope.txt?move=x.txt`, 404],
    [`/b.txt?move=/sub/c.txt`, 409], // exists, no --overwrite
    [`/b.txt?move=/missing/b.txt`, 409],
    [`/b.txt?move=/etc/passwd`, 409], // an absolute target is a path in the root
    [`/sub/?move=/sub/folder/sub`, 409], // into itself
    [`/sub/?move=/sub/folder/`, 409], // onto an existing folder
    [`/b.txt?move=../b.txt`, 403],
    [`/b.txt?move=%2e%2e%2fb.txt`, 403],
    [`/b.txt?move=/out/stolen.txt`, 403], // symlink out of the root
    [`/b.txt?move=.b.txt`, 403],
    [`/b.txt?move=/.sockit-upload-b`, 403],
    [`/b.txt?move=http://evil.example/b.txt`, 400],
    [`/?move=/x`, 403], // the root itself
  ];
  for (const [path, status] of cases) {
    const r = await curl("--path-as-is", "-X", "POST", `${u}${path}`);
    assert.equal(r.status, status, `${path}: ${r.body}`);
  }
  assert.equal(await Deno.readTextFile(`${tree.path}/b.txt`), "B");
  assert.equal(await Deno.readTextFile(`${tree.path}/sub/c.txt`), "C");
  assert.deepEqual(await entryNames(`${outside.path}/dir`), []);
  assert.deepEqual(await entryNames(tree.path), ["b.txt", "out", "sub"]);

  await using overwriting = await serveHttp(tree.path, "--upload", "--overwrite", "--quiet");
  const replaced = await curl("-X", "POST", `${overwriting.url}/b.txt?move=/sub/c.txt`);
  assert.equal(replaced.status, 204);
  assert.equal(await Deno.readTextFile(`${tree.path}/sub/c.txt`), "B");
  assert.equal(await exists(`${tree.path}/b.txt`), false);
  // A folder is never replaced, even with --overwrite.
  assert.equal(
    (await curl("-X", "POST", `${overwriting.url}/sub/a.txt?move=/sub/folder`)).status,
    409,
  );
});

Deno.test("manage: the listing's urlencoded forms; a browser is sent back with 303", async () => {
  await using tree = await tempTree({ "a.txt": "A", "old/x.txt": "x" });
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const u = server.url;
  const form = (...fields: string[]) =>
    curl("-H", "Accept: text/html", ...fields.flatMap((f) => ["--data-urlencode", f]), `${u}/`);

  const mkdir = await form("mkdir=New folder");
  assert.equal(mkdir.status, 303);
  assert.equal(header(mkdir, "location"), "/");
  assert.equal((await Deno.stat(`${tree.path}/New folder`)).isDirectory, true);
  assert.equal((await form("path=a.txt", "move=b.txt")).status, 303);
  assert.equal(await Deno.readTextFile(`${tree.path}/b.txt`), "A");
  assert.equal((await form("path=old", "move=", "delete=1")).status, 409);
  assert.equal((await form("path=old", "move=", "delete=1", "recursive=1")).status, 303);
  assert.equal((await form("path=b.txt", "delete=1")).status, 303);
  assert.deepEqual(await entryNames(tree.path), ["New folder"]);
  assert.equal((await form("nothing=1")).status, 400);

  // The form body limit: at it the request is read, one byte past it is 413.
  const pad = (total: number) => {
    const fixed = "mkdir=z&pad=";
    return fixed + "p".repeat(total - fixed.length);
  };
  assert.equal(pad(MAX_MANAGE_FORM_BYTES).length, MAX_MANAGE_FORM_BYTES);
  const at = await curl("--data-binary", pad(MAX_MANAGE_FORM_BYTES), `${u}/`);
  assert.equal(at.status, 201, at.body);
  const past = await curl("--data-binary", pad(MAX_MANAGE_FORM_BYTES + 1), `${u}/`);
  assert.equal(past.status, 413);
  assert.deepEqual(await entryNames(tree.path), ["New folder", "z"]);
});

Deno.test("manage: a browser on another site cannot delete, move or upload (CSRF)", async () => {
  await using tree = await tempTree({ "a.txt": "A" });
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const u = server.url;
  const host = new URL(u).host;
  const attempts: string[][] = [
    ["-X", "DELETE", "-H", "Origin: https://evil.example", `${u}/a.txt`],
    ["-X", "DELETE", "-H", "Sec-Fetch-Site: cross-site", `${u}/a.txt`],
    ["-X", "DELETE", "-H", "Sec-Fetch-Site: same-site", `${u}/a.txt`],
    ["-X", "DELETE", "-H", "Origin: null", `${u}/a.txt`],
    ["-H", "Origin: https://evil.example", "--data", "path=a.txt&delete=1", `${u}/`],
    [
      "-H",
      "Sec-Fetch-Site: cross-site",
      "-H",
      `Origin: http://${host}`,
      "-X",
      "DELETE",
      `${u}/a.txt`,
    ],
    ["-H", "Origin: https://evil.example", "-X", "PUT", "--data-binary", "x", `${u}/evil.txt`],
    [
      "-H",
      "Origin: https://evil.example",
      "-F",
      `file=@${tree.path}/a.txt;filename=evil.txt`,
      `${u}/`,
    ],
  ];
  for (const args of attempts) {
    const r = await curlResponse(args);
    assert.equal(r.status, 403, `${args.join(" ")}: ${r.body}`);
  }
  assert.deepEqual(await entryNames(tree.path), ["a.txt"]);
  // The same page's own requests pass, and so does curl, which sends neither header.
  const same = await curl("-X", "POST", "-H", `Origin: http://${host}`, `${u}/a.txt?move=b.txt`);
  assert.equal(same.status, 201);
  const fetchLike = await curl("-X", "DELETE", "-H", "Sec-Fetch-Site: same-origin", `${u}/b.txt`);
  assert.equal(fetchLike.status, 204);
  assert.deepEqual(await entryNames(tree.path), []);

  // --cors invites other origins: PUT and DELETE (which a browser sends only after the
  // preflight --cors answers) pass; a POST, which any page's form can send, still does not.
  await using cors = await serveHttp(tree.path, "--upload", "--cors", "--quiet");
  const other = ["-H", "Origin: https://app.example", "-H", "Sec-Fetch-Site: cross-site"];
  const put = await curl(...other, "-X", "PUT", "--data-binary", "x", `${cors.url}/p.txt`);
  assert.equal(put.status, 201);
  const post = await curl(...other, "-X", "POST", `${cors.url}/p.txt?move=q.txt`);
  assert.equal(post.status, 403);
  const form = await curl(...other, "--data", "path=p.txt&delete=1", `${cors.url}/`);
  assert.equal(form.status, 403);
  assert.deepEqual(await entryNames(tree.path), ["p.txt"]);
  assert.equal((await curl(...other, "-X", "DELETE", `${cors.url}/p.txt`)).status, 204);
  assert.deepEqual(await entryNames(tree.path), []);
});

Deno.test("csrf: crossSiteWriteReason decides from Sec-Fetch-Site, then Origin", () => {
  const h = (o: Record<string, string>) => new Map(Object.entries(o));
  assert.equal(crossSiteWriteReason("GET", "a:1", h({ origin: "https://evil" })), null);
  assert.equal(crossSiteWriteReason("POST", "a:1", h({})), null);
  assert.equal(crossSiteWriteReason("POST", "a:1", h({ "sec-fetch-site": "none" })), null);
  assert.equal(crossSiteWriteReason("POST", "a:1", h({ origin: "http://A:1" })), null);
  assert.notEqual(crossSiteWriteReason("POST", "a:1", h({ origin: "http://a:2" })), null);
  assert.notEqual(crossSiteWriteReason("PUT", "a:1", h({ origin: "not a url" })), null);
  assert.notEqual(
    crossSiteWriteReason(
      "DELETE",
      "a:1",
      h({ "sec-fetch-site": "same-site", origin: "http://a:1" }),
    ),
    null,
  );
  const crossSite = h({ "sec-fetch-site": "cross-site" });
  assert.equal(crossSiteWriteReason("PUT", "a:1", crossSite, { allowPreflighted: true }), null);
  assert.notEqual(crossSiteWriteReason("POST", "a:1", crossSite, { allowPreflighted: true }), null);
});

Deno.test("targetSegments: absolute, relative, refused", () => {
  assert.deepEqual(targetSegments("/x/y.txt", ["a"]), ["x", "y.txt"]);
  assert.deepEqual(targetSegments("y.txt", ["a", "b"]), ["a", "b", "y.txt"]);
  assert.deepEqual(targetSegments("//x//y", []), ["x", "y"]);
  for (const bad of ["../x", "/a/../x", "./x", "a\\b", "", "file:///etc/passwd"]) {
    assert.throws(() => targetSegments(bad, []), bad);
  }
});

Deno.test("manage: every write asks mayWrite; a refusal is 403 and changes nothing", async () => {
  await using tree = await tempTree({ "keep.txt": "k", "dir/": null, "open/": null });
  const root = await canonicalRoot(tree.path);
  // The real middleware order of build_handler.ts for these two.
  const handler = compose(
    [withFileManagement({ root }), withUploads({ root })],
    () => ({ status: 418 }),
  );
  const asked: string[] = [];
  const enc = new TextEncoder();
  const request = (
    method: string,
    target: string,
    headers: Record<string, string> = {},
    body = "",
  ): [RequestHead, RequestContext] => {
    const [rawPath, query = ""] = target.split("?");
    const bytes = enc.encode(body);
    let sent = bytes.length === 0;
    const head: RequestHead = {
      method,
      target,
      version: "HTTP/1.1",
      rawPath,
      path: decodeURIComponent(rawPath),
      query,
      host: "x",
      headers: new Map(Object.entries(headers)),
      keepAlive: true,
      body: bytes.length === 0 ? { kind: "none" } : { kind: "length", length: bytes.length },
      expectContinue: false,
    };
    const ctx: RequestContext = {
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
      body: {
        read: () => {
          const chunk = sent ? null : bytes;
          sent = true;
          return Promise.resolve(chunk);
        },
        discard: () => {
          sent = true;
          return Promise.resolve();
        },
        get done() {
          return sent;
        },
        get received() {
          return sent ? bytes.length : 0;
        },
      },
      access: {
        user: "guest",
        canWrite: (path) => {
          asked.push(path);
          // Segment-wise, as the access rules match: /open covers /open and below.
          return path === "/open" || path.startsWith("/open/");
        },
      },
    };
    return [head, ctx];
  };
  const form =
    "--B\r\nContent-Disposition: form-data; name=file; filename=f.txt\r\n\r\nF\r\n--B--\r\n";
  const multipart = { "content-type": "multipart/form-data; boundary=B" };
  const refused: [string, string, Record<string, string>?, string?][] = [
    ["DELETE", "/keep.txt"],
    ["POST", "/keep.txt?move=/dir/keep.txt"],
    ["POST", "/keep.txt?move=/open/keep.txt"], // the source is not writable
    ["POST", "/dir/?mkdir=new"],
    ["POST", "/?path=keep.txt&delete=1"],
    ["PUT", "/dir/new.txt", {}, "body"],
    ["PUT", "/dir/new.txt", { "content-range": "bytes 0-3/4" }, "body"],
    ["POST", "/dir/", multipart, form],
  ];
  for (const [method, target, headers, body] of refused) {
    const response = await handler(...request(method, target, headers, body));
    assert.equal(response.status, 403, `${method} ${target}`);
  }
  assert.deepEqual(asked, [
    "/keep.txt",
    "/keep.txt",
    "/keep.txt",
    "/dir/new",
    "/keep.txt",
    "/dir/new.txt",
    "/dir/new.txt",
    // A form POST is judged at its folder first (the upload gate), then per stored file.
    "/dir/",
  ]);
  assert.deepEqual(await entryNames(tree.path), ["dir", "keep.txt", "open"]);
  assert.deepEqual(await entryNames(`${tree.path}/dir`), []);
  // Where the rules allow it, the same requests work: the 403s above were the rules.
  const allowed: [string, string, Record<string, string>?, string?][] = [
    ["POST", "/open/?mkdir=new"],
    ["PUT", "/open/a.txt", {}, "body"],
    ["PUT", "/open/b.txt", { "content-range": "bytes 0-3/4" }, "body"],
    ["POST", "/open/", multipart, form],
    ["POST", "/open/a.txt?move=c.txt"],
    ["DELETE", "/open/b.txt"],
  ];
  for (const [method, target, headers, body] of allowed) {
    const response = await handler(...request(method, target, headers, body));
    assert.ok([201, 204].includes(response.status), `${method} ${target}: ${response.status}`);
  }
  assert.deepEqual(await entryNames(`${tree.path}/open`), ["c.txt", "f.txt", "new"]);
});
