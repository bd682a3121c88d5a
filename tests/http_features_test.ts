/**
 * End-to-end tests of http-serve's real-use features (issue 4) through the real CLI on
 * port 0: ranges and multipart/byteranges, validators and 304/412, --cache, precompressed
 * siblings and --gzip, the JSON listing, --cors, --header, --spa and HTTPS. Clients are the
 * ones a user would use: curl (-r, --compressed, -z, If-None-Match), fetch, and a raw
 * socket where the bytes matter (multipart bodies).
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildProgram } from "../main.ts";
import { runCli, serveHttp, sha256, tempTree } from "./helpers.ts";
import { makeSelfSignedCert } from "./tls_cert.ts";

// Clean under `deno test --sanitize-ops --sanitize-resources` (every server, conn, child and
// HTTP client closed), though `deno task test` runs with Deno's default sanitizers.
const enc = new TextEncoder();
const dec = new TextDecoder();

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
  return new Uint8Array(
    await new Response(stream.pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
}

/** A site with a binary "video", text with .gz/.br siblings, JSON, a folder. */
async function makeSite() {
  const video = new Uint8Array(300_000).map((_, i) => (i * 31 + (i >> 8)) & 255);
  const css = "body { color: rebeccapurple; }\n".repeat(1000);
  const json = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, name: `n${i}` })));
  const tree = await tempTree({
    "video.mp4": video,
    "style.css": css,
    "style.css.gz": await gzip(enc.encode(css)),
    "data.json": json,
    "index.html": "<h1>app</h1>\n",
    "index.html.gz": await gzip(enc.encode("<h1>app</h1>\n")),
    "files/small.txt": "1",
    "files/large.txt": "x".repeat(5000),
    "files/sub/": null,
  });
  return { ...tree, video, css, json };
}

async function curl(
  ...args: string[]
): Promise<{ code: number; stdout: Uint8Array; text: string }> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--max-time", "20", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(dec.decode(out.stderr), "", `curl ${args.join(" ")}`);
  return { code: out.code, stdout: out.stdout, text: dec.decode(out.stdout) };
}

/** Splits curl -i / -D - output into status, lower-case headers, and body. */
function parseHead(text: string): { status: number; headers: Map<string, string> } {
  const [statusLine, ...lines] = text.split("\r\n\r\n")[0].split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(" ")[1]), headers };
}

async function curlHead(...args: string[]) {
  const { text } = await curl("--output", "/dev/null", "--dump-header", "-", ...args);
  return parseHead(text);
}

Deno.test("ranges: curl -r gets 206 and exactly those bytes; 416 past the end", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path);
  const url = `http://127.0.0.1:${server.port}/video.mp4`;

  const head = await curlHead("-r", "1000-1999", url);
  assert.equal(head.status, 206);
  assert.equal(head.headers.get("content-range"), "bytes 1000-1999/300000");
  assert.equal(head.headers.get("content-length"), "1000");
  assert.equal(head.headers.get("accept-ranges"), "bytes");
  const part = await curl("-r", "1000-1999", url);
  assert.deepEqual(part.stdout, site.video.subarray(1000, 2000));
  const suffix = await curl("-r", "-500", url);
  assert.deepEqual(suffix.stdout, site.video.subarray(299_500));
  const open = await curl("-r", "299990-", url);
  assert.deepEqual(open.stdout, site.video.subarray(299_990));

  const past = await curlHead("-r", "300000-", url);
  assert.equal(past.status, 416);
  assert.equal(past.headers.get("content-range"), "bytes */300000");

  // Invalid syntax is ignored: the whole file with 200.
  const invalid = await curlHead("-H", "Range: bytes=9-1", url);
  assert.equal(invalid.status, 200);
  assert.equal(invalid.headers.get("content-length"), "300000");
});

Deno.test(
  "ranges: several ranges → multipart/byteranges over a raw socket",
  async () => {
    await using site = await makeSite();
    await using server = await serveHttp(site.path);
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(enc.encode(
      "GET /video.mp4 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9, 100000-100099, -20\r\n" +
        "Connection: close\r\n\r\n",
    ));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const raw = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
    const split = raw.findIndex((_, i) =>
      raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10
    );
    const { status, headers } = parseHead(dec.decode(raw.subarray(0, split + 4)));
    const body = raw.subarray(split + 4);
    assert.equal(status, 206);
    const boundary =
      /^multipart\/byteranges; boundary=(\S+)$/.exec(headers.get("content-type")!)![1];
    assert.equal(Number(headers.get("content-length")), body.length);
    // Walk the parts: each head names its range, the bytes after it are the file's.
    const text = new TextDecoder("latin1").decode(body);
    const expected = [[0, 9], [100_000, 100_099], [299_980, 299_999]];
    let offset = 0;
    for (const [start, end] of expected) {
      const delimiter = `${offset === 0 ? "" : "\r\n"}--${boundary}\r\n`;
      assert.equal(text.slice(offset, offset + delimiter.length), delimiter);
      const headEnd = text.indexOf("\r\n\r\n", offset) + 4;
      assert.match(
        text.slice(offset, headEnd),
        new RegExp(`Content-Range: bytes ${start}-${end}/300000`),
      );
      assert.deepEqual(
        body.subarray(headEnd, headEnd + end - start + 1),
        site.video.subarray(start, end + 1),
      );
      offset = headEnd + end - start + 1;
    }
    assert.equal(text.slice(offset), `\r\n--${boundary}--\r\n`);
  },
);

Deno.test("validators: ETag/Last-Modified, 304 via If-None-Match and curl -z, 412", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path);
  const url = `http://127.0.0.1:${server.port}/video.mp4`;
  const first = await curlHead(url);
  const etag = first.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.ok(first.headers.get("last-modified")!.endsWith(" GMT"));
  assert.equal(first.headers.get("cache-control"), "no-cache");

  for (const value of [etag, `"other", W/${etag}`, "*"]) {
    const revalidated = await curl(
      "--output",
      "/dev/null",
      "--dump-header",
      "-",
      "-H",
      `If-None-Match: ${value}`,
      url,
    );
    const parsed = parseHead(revalidated.text);
    assert.equal(parsed.status, 304, value);
    assert.equal(parsed.headers.get("etag"), etag);
    assert.equal(parsed.headers.has("content-length"), false);
  }
  assert.equal((await curlHead("-H", 'If-None-Match: "stale"', url)).status, 200);
  assert.equal((await curlHead("-z", `${site.path}/video.mp4`, url)).status, 304);
  assert.equal((await curlHead("-z", "1 Jan 2001", url)).status, 200);
  assert.equal((await curlHead("-H", 'If-Match: "stale"', url)).status, 412);
  // If-Range: the current ETag keeps the range, a stale one gets the whole file.
  assert.equal((await curlHead("-r", "0-9", "-H", `If-Range: ${etag}`, url)).status, 206);
  assert.equal((await curlHead("-r", "0-9", "-H", 'If-Range: "stale"', url)).status, 200);
});

Deno.test("--cache SECONDS sets public, max-age", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--cache", "3600");
  const head = await curlHead(`http://127.0.0.1:${server.port}/style.css`);
  assert.equal(head.headers.get("cache-control"), "public, max-age=3600");
  const bad = await runCli(["http-serve", site.path, "--cache", "soon"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^sockit: .*invalid --cache 'soon'/);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
});

Deno.test("compression: a .gz sibling with curl --compressed; none without it", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path);
  const url = `http://127.0.0.1:${server.port}/style.css`;
  const head = await curlHead("-H", "Accept-Encoding: gzip", url);
  assert.equal(head.headers.get("content-encoding"), "gzip");
  assert.equal(head.headers.get("content-type"), "text/css; charset=utf-8");
  assert.equal(head.headers.get("vary"), "Accept-Encoding");
  const gzSize = (await Deno.stat(`${site.path}/style.css.gz`)).size;
  assert.equal(head.headers.get("content-length"), String(gzSize));
  assert.equal((await curl("--compressed", url)).text, site.css);
  // A folder's index.html has siblings too.
  const index = await curlHead("-H", "Accept-Encoding: gzip", `http://127.0.0.1:${server.port}/`);
  assert.equal(index.headers.get("content-encoding"), "gzip");
  assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  const plain = await curlHead(url);
  assert.equal(plain.headers.has("content-encoding"), false);
  assert.equal(plain.headers.get("content-length"), String(site.css.length));
});

Deno.test("--gzip compresses text on the fly; never ranges or images", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--gzip");
  const url = `http://127.0.0.1:${server.port}/data.json`;
  const head = await curlHead("-H", "Accept-Encoding: gzip", url);
  assert.equal(head.headers.get("content-encoding"), "gzip");
  // A small file is compressed at once: its compressed length is known.
  assert.ok(Number(head.headers.get("content-length")) < site.json.length);
  assert.match(head.headers.get("etag")!, /^W\/".*-gzip"$/);
  const body = await curl("--compressed", url);
  assert.equal(body.text, site.json);
  const ranged = await curlHead("-H", "Accept-Encoding: gzip", "-r", "0-9", url);
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.has("content-encoding"), false);
  const video = await curlHead(
    "-H",
    "Accept-Encoding: gzip",
    `http://127.0.0.1:${server.port}/video.mp4`,
  );
  assert.equal(video.headers.has("content-encoding"), false);
});

Deno.test(
  "JSON listing: ?format=json and Accept, sorted by the query",
  async () => {
    await using site = await makeSite();
    await using server = await serveHttp(site.path);
    const base = `http://127.0.0.1:${server.port}/files/`;
    const res = await fetch(`${base}?format=json&sort=size&order=desc`);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    const doc = await res.json();
    assert.equal(doc.path, "/files/");
    assert.deepEqual(doc.entries.map((e: { name: string }) => e.name), [
      "sub",
      "large.txt",
      "small.txt",
    ]);
    assert.deepEqual(
      { ...doc.entries[1], mtime: typeof doc.entries[1].mtime },
      { name: "large.txt", type: "file", size: 5000, mtime: "string" },
    );
    const viaAccept = await fetch(base, { headers: { accept: "application/json" } });
    assert.equal(viaAccept.headers.get("content-type"), "application/json; charset=utf-8");
    await viaAccept.body?.cancel();
    const html = await fetch(base);
    assert.match(html.headers.get("content-type")!, /^text\/html/);
    await html.body?.cancel();
  },
);

Deno.test("HTML listing: ?sort=size&order=desc orders rows; header links flip it", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path);
  const base = `http://127.0.0.1:${server.port}/files/`;
  const rows = (html: string) => [...html.matchAll(/<li><a href="([^"]*)">/g)].map((m) => m[1]);
  const desc = await (await fetch(`${base}?sort=size&order=desc`)).text();
  assert.deepEqual(rows(desc), ["../", "sub/", "large.txt", "small.txt"]);
  assert.match(desc, /<a href="\?sort=size&amp;order=asc">Size ▼<\/a>/);
  // Following the header link (as a browser would, &amp; decoded) flips the order.
  const asc = await (await fetch(`${base}?sort=size&order=asc`)).text();
  assert.deepEqual(rows(asc), ["../", "sub/", "small.txt", "large.txt"]);
  assert.match(asc, /<a href="\?sort=size&amp;order=desc">Size ▲<\/a>/);
  // No query: by name, and a link to sort by name descending.
  const plain = await (await fetch(base)).text();
  assert.deepEqual(rows(plain), ["../", "sub/", "large.txt", "small.txt"]);
  assert.match(plain, /<a href="\?sort=name&amp;order=desc">Name ▲<\/a>/);
});

Deno.test("--cors: fetch sees Access-Control-Allow-Origin; preflights get 204", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--cors");
  const url = `http://127.0.0.1:${server.port}/data.json`;
  const res = await fetch(url, { headers: { origin: "http://page.test" } });
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.body?.cancel();
  const preflight = await fetch(url, {
    method: "OPTIONS",
    headers: {
      origin: "http://page.test",
      "access-control-request-method": "GET",
      "access-control-request-headers": "range",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-headers"), "range");
  await preflight.body?.cancel();
});

Deno.test(
  "--header is repeatable; a bad one is a one-line usage error",
  async () => {
    await using site = await makeSite();
    await using server = await serveHttp(
      site.path,
      "--header",
      "X-Frame-Options: DENY",
      "--header",
      "X-A: 1",
    );
    const head = await curlHead(`http://127.0.0.1:${server.port}/style.css`);
    assert.equal(head.headers.get("x-frame-options"), "DENY");
    assert.equal(head.headers.get("x-a"), "1");
    const bad = await runCli(["http-serve", site.path, "--header", "No colon"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid --header "No colon": expected 'Name: value'/);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  },
);

Deno.test("--spa: extensionless misses get /index.html with 200, assets stay 404", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--spa");
  const route = await fetch(`http://127.0.0.1:${server.port}/users/42`);
  assert.equal(route.status, 200);
  assert.equal(await route.text(), "<h1>app</h1>\n");
  const asset = await fetch(`http://127.0.0.1:${server.port}/missing.js`);
  assert.equal(asset.status, 404);
  await asset.body?.cancel();
});

Deno.test("HTTPS: --tls-cert/--tls-key, fetch and curl trust the throwaway cert", async () => {
  await using site = await makeSite();
  const { certFile, keyFile } = await makeSelfSignedCert(site.path);
  await Deno.mkdir(`${site.path}/other`);
  const { keyFile: otherKeyFile } = await makeSelfSignedCert(`${site.path}/other`);
  await using server = await serveHttp(site.path, "--tls-cert", certFile, "--tls-key", keyFile);
  assert.match(server.lines[0], /listening on https:\/\/127\.0\.0\.1:\d+\//);
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certFile)] });
  try {
    const res = await fetch(`https://127.0.0.1:${server.port}/video.mp4`, {
      client,
      headers: { range: "bytes=0-99" },
    });
    assert.equal(res.status, 206);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), site.video.subarray(0, 100));
  } finally {
    client.close();
  }
  const viaCurl = await curl("--cacert", certFile, `https://127.0.0.1:${server.port}/video.mp4`);
  assert.equal(await sha256(viaCurl.stdout), await sha256(site.video));

  for (
    const [args, pattern] of [
      [
        ["--tls-cert", keyFile, "--tls-key", keyFile],
        /cannot use --tls-cert\/--tls-key: --tls-cert holds no PEM certificate \(No certificates/,
      ],
      [
        ["--tls-cert", certFile, "--tls-key", certFile],
        /cannot use --tls-cert\/--tls-key: --tls-key holds no PEM private key/,
      ],
      [
        ["--tls-cert", certFile, "--tls-key", otherKeyFile],
        /cannot use --tls-cert\/--tls-key: the private key does not belong to the certificate/,
      ],
      [
        ["--tls-cert", `${site.path}/nope.pem`, "--tls-key", keyFile],
        /cannot read --tls-cert .*no such file/,
      ],
      [["--tls-cert", certFile], /--tls-cert and --tls-key go together/],
    ] as const
  ) {
    const bad = await runCli(["http-serve", site.path, "--port", "0", ...args]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, pattern);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  }
});

Deno.test("http-serve --help shows every flag in an example", async () => {
  const help = await runCli(["http-serve", "--help"]);
  assert.equal(help.code, 0);
  const examples = help.stdout.slice(help.stdout.indexOf("\nExamples:\n"));
  assert.ok(examples.length > 20, help.stdout);
  const serveCommand = buildProgram().commands.find((c) => c.name() === "http-serve")!;
  const flags = serveCommand.options.map((o) => o.long!).filter((f) => f !== "--help");
  assert.ok(flags.includes("--tls-key") && flags.includes("--cache"));
  const missing = flags.filter((f) => !new RegExp(`${f}(?![\\w-])`).test(examples));
  assert.deepEqual(missing, [], `flags without an example in 'http-serve --help'`);
});
