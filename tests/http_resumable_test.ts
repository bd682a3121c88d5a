/**
 * Resumable, verified uploads with `http-serve --upload`, end to end: a PUT cut off
 * mid-body over a raw socket, the server asked where to resume (`Content-Range: bytes
 * *&#47;N` → 308 + `Range`), the rest sent by real `curl`, and the published file
 * compared byte for byte; out-of-order and overlapping ranges, bad ranges and lengths,
 * `--max-upload` on the total, RFC 9530 digests (whole PUT and ranged), the per-folder
 * partial limit, the TTL, and no temporary file left behind after any failure.
 *
 * ```sh
 * deno test -A --unstable-net tests/http_resumable_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  curlResponse,
  type CurlResult,
  entryNames,
  readAll,
  serveHttp,
  tempTree,
} from "./helpers.ts";
import {
  MAX_PARTIAL_UPLOADS_PER_FOLDER,
  parseUploadContentRange,
  PARTIAL_UPLOAD_PREFIX,
  PARTIAL_UPLOAD_TTL_MS,
  sweepPartialUploads,
} from "../lib/http/sharing/resumable.ts";
import { DigestSyntaxError, parseDigestField } from "../lib/http/sharing/digest.ts";

function header(result: CurlResult, name: string): string | undefined {
  const line = result.headers.split("\r\n").find((l) =>
    l.toLowerCase().startsWith(name.toLowerCase() + ":")
  );
  return line?.slice(name.length + 1).trim();
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("base64");
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** PUT `file` bytes [first, last] of `total` with curl (body from a file, not argv). */
async function putRange(
  url: string,
  dir: string,
  data: Uint8Array,
  first: number,
  last: number,
  total: number,
  extra: string[] = [],
): Promise<CurlResult> {
  const part = `${dir}/part.bin`;
  await Deno.writeFile(part, data.subarray(first, last + 1));
  try {
    return await curlResponse([
      "-T",
      part,
      "-H",
      `Content-Range: bytes ${first}-${last}/${total}`,
      ...extra,
      url,
    ]);
  } finally {
    await Deno.remove(part);
  }
}

function ask(url: string, total: number): Promise<CurlResult> {
  return curlResponse(["-X", "PUT", "-H", `Content-Range: bytes */${total}`, url]);
}

async function partials(dir: string): Promise<string[]> {
  return (await entryNames(dir)).filter((n) => n.startsWith(PARTIAL_UPLOAD_PREFIX));
}

Deno.test("resumable: a PUT cut off mid-body resumes where the server says, file identical", async () => {
  await using tree = await tempTree({ "in/": null });
  await using work = await tempTree();
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const url = `${server.url}/in/big.bin`;
  const total = 3 * 1024 * 1024 + 17;
  const data = randomBytes(total);

  // Nothing there yet: 308 without Range.
  const first = await ask(url, total);
  assert.equal(first.status, 308);
  assert.equal(header(first, "range"), undefined);

  // A client that announces the whole file, sends 1 MiB + 5 bytes, and disconnects.
  const sent = 1024 * 1024 + 5;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const head = `PUT /in/big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n` +
    `Content-Range: bytes 0-${total - 1}/${total}\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head));
  for (let at = 0; at < sent;) at += await conn.write(data.subarray(at, sent));
  conn.close();

  // The server keeps every byte that arrived; poll until it has written them all.
  let range: string | undefined;
  for (let i = 0; i < 200 && range !== `bytes=0-${sent - 1}`; i++) {
    const r = await ask(url, total);
    assert.equal(r.status, 308);
    range = header(r, "range");
    if (range !== `bytes=0-${sent - 1}`) await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.equal(range, `bytes=0-${sent - 1}`);
  // Hidden while incomplete: not listed, not served, not published.
  const listing = await curlResponse([`${server.url}/in/?format=json`]);
  assert.doesNotMatch(listing.body, /sockit-upload/);
  assert.deepEqual(await entryNames(`${tree.path}/in`), await partials(`${tree.path}/in`));
  const [partName] = await partials(`${tree.path}/in`);
  assert.equal((await curlResponse([`${server.url}/in/${partName}`])).status, 404);

  // Resume in two more pieces; the Repr-Digest of the whole file rides on the last.
  const mid = 2 * 1024 * 1024;
  const middle = await putRange(url, work.path, data, sent, mid - 1, total);
  assert.equal(middle.status, 308);
  assert.equal(header(middle, "range"), `bytes=0-${mid - 1}`);
  const last = await putRange(url, work.path, data, mid, total - 1, total, [
    "-H",
    `Repr-Digest: sha-256=:${sha256(data)}:`,
  ]);
  assert.equal(last.status, 201, last.body);
  assert.equal(header(last, "location"), "/in/big.bin");
  assert.deepEqual(await Deno.readFile(`${tree.path}/in/big.bin`), data);
  assert.deepEqual(await entryNames(`${tree.path}/in`), ["big.bin"]);

  // Done is done: a new upload of the same name is a conflict (no --overwrite).
  const again = await putRange(url, work.path, data, 0, 9, total);
  assert.equal(again.status, 409);
  assert.deepEqual(await entryNames(`${tree.path}/in`), ["big.bin"]);
});

Deno.test("resumable: out-of-order, overlapping, malformed and oversized ranges", async () => {
  await using tree = await tempTree({ "exists.txt": "old" });
  await using work = await tempTree();
  await using server = await serveHttp(tree.path, "--upload", "--max-upload", "1000", "--quiet");
  const url = `${server.url}/f.bin`;
  const data = randomBytes(1000);

  assert.equal((await putRange(url, work.path, data, 0, 399, 1000)).status, 308);
  const gap = await putRange(url, work.path, data, 500, 599, 1000);
  assert.equal(gap.status, 409, "a gap: out of order");
  assert.equal(header(gap, "range"), "bytes=0-399");
  const overlap = await putRange(url, work.path, data, 300, 499, 1000);
  assert.equal(overlap.status, 409, "overlapping what is there");
  assert.equal(header(overlap, "range"), "bytes=0-399");
  // Refusals changed nothing.
  assert.equal(header(await ask(url, 1000), "range"), "bytes=0-399");

  const bad: [string[], number][] = [
    [["-H", "Content-Range: bytes 400-399/1000"], 400], // last < first
    [["-H", "Content-Range: bytes 400-1000/1000"], 400], // last ≥ total
    [["-H", "Content-Range: bytes 400-499/*"], 400], // unknown total
    [["-H", "Content-Range: items 400-499/1000"], 400],
    [["-H", "Content-Range: bytes 400-409/1000"], 400], // Content-Length 100 ≠ 10
  ];
  await Deno.writeFile(`${work.path}/100.bin`, data.subarray(400, 500));
  for (const [args, status] of bad) {
    const r = await curlResponse(["-T", `${work.path}/100.bin`, ...args, url]);
    assert.equal(r.status, status, args.join(" "));
  }
  const queryWithBody = await curlResponse([
    "-X",
    "PUT",
    "--data-binary",
    "x",
    "-H",
    "Content-Range: bytes */1000",
    url,
  ]);
  assert.equal(queryWithBody.status, 400);
  assert.equal(header(await ask(url, 1000), "range"), "bytes=0-399");

  // --max-upload applies to the total: at the limit accepted, one past refused.
  const over = await putRange(`${server.url}/g.bin`, work.path, data, 0, 9, 1001);
  assert.equal(over.status, 413);
  // The existing name is refused before any byte is stored.
  const exists = await putRange(`${server.url}/exists.txt`, work.path, data, 0, 9, 1000);
  assert.equal(exists.status, 409);
  assert.equal(await Deno.readTextFile(`${tree.path}/exists.txt`), "old");
  assert.equal((await putRange(url, work.path, data, 400, 999, 1000)).status, 201);
  assert.deepEqual(await Deno.readFile(`${tree.path}/f.bin`), data);
  assert.deepEqual(await entryNames(tree.path), ["exists.txt", "f.bin"]);
});

Deno.test("resumable: digests — a wrong one is 400 and nothing is published", async () => {
  await using tree = await tempTree();
  await using work = await tempTree();
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const data = randomBytes(5000);
  const good = sha256(data);
  const wrong = sha256(data.subarray(1));
  await Deno.writeFile(`${work.path}/data.bin`, data);
  const put = (name: string, ...headers: string[]) =>
    curlResponse([
      "-T",
      `${work.path}/data.bin`,
      ...headers.flatMap((h) => ["-H", h]),
      `${server.url}/${name}`,
    ]);

  // A plain PUT: Content-Digest and Repr-Digest both describe the whole body.
  assert.equal((await put("a.bin", `Content-Digest: sha-256=:${wrong}:`)).status, 400);
  assert.equal((await put("a.bin", `Repr-Digest: sha-256=:${wrong}:`)).status, 400);
  assert.equal((await put("a.bin", "Content-Digest: sha-256=:not base64!:")).status, 400);
  assert.deepEqual(await entryNames(tree.path), [], "nothing published, no temp file left");
  // Unsupported algorithms are ignored (RFC 9530 §5 lets a recipient); a supported one counts.
  assert.equal((await put("a.bin", `Content-Digest: md5=:AAAA:, sha-256=:${good}:`)).status, 201);
  assert.equal((await put("b.bin", "Repr-Digest: unixsum=:AAAA:")).status, 201);
  const sha512 = createHash("sha512").update(data).digest("base64");
  assert.equal((await put("c.bin", `Repr-Digest: sha-512=:${sha512}:`)).status, 201);
  assert.deepEqual(await entryNames(tree.path), ["a.bin", "b.bin", "c.bin"]);

  // Ranged: Content-Digest is this request's bytes; a mismatch undoes just this range.
  const url = `${server.url}/r.bin`;
  assert.equal(
    (await putRange(url, work.path, data, 0, 999, 5000, [
      "-H",
      `Content-Digest: sha-256=:${sha256(data.subarray(0, 1000))}:`,
    ])).status,
    308,
  );
  const badChunk = await putRange(url, work.path, data, 1000, 1999, 5000, [
    "-H",
    `Content-Digest: sha-256=:${wrong}:`,
  ]);
  assert.equal(badChunk.status, 400);
  assert.equal(header(badChunk, "range"), "bytes=0-999");
  assert.equal(header(await ask(url, 5000), "range"), "bytes=0-999");
  // A wrong Repr-Digest on the last range: 400, the partial is dropped, nothing published.
  const badWhole = await putRange(url, work.path, data, 1000, 4999, 5000, [
    "-H",
    `Repr-Digest: sha-256=:${wrong}:`,
  ]);
  assert.equal(badWhole.status, 400);
  assert.match(badWhole.body, /sha-256 digest mismatch/);
  assert.deepEqual(await entryNames(tree.path), ["a.bin", "b.bin", "c.bin"]);
  assert.equal(header(await ask(url, 5000), "range"), undefined);
});

Deno.test("resumable: at most MAX_PARTIAL_UPLOADS_PER_FOLDER partials; expired ones are swept", async () => {
  await using tree = await tempTree();
  await using work = await tempTree();
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const data = randomBytes(10);
  for (let i = 0; i < MAX_PARTIAL_UPLOADS_PER_FOLDER; i++) {
    const r = await putRange(`${server.url}/p${i}.bin`, work.path, data, 0, 4, 10);
    assert.equal(r.status, 308, `partial ${i}`);
  }
  const past = await putRange(`${server.url}/one-more.bin`, work.path, data, 0, 4, 10);
  assert.equal(past.status, 507);
  assert.equal((await partials(tree.path)).length, MAX_PARTIAL_UPLOADS_PER_FOLDER);
  // An existing partial still finishes.
  assert.equal((await putRange(`${server.url}/p0.bin`, work.path, data, 5, 9, 10)).status, 201);

  // Age two partials past the TTL: starting a new upload in the folder sweeps them.
  const old = new Date(Date.now() - PARTIAL_UPLOAD_TTL_MS - 60_000);
  const [a, b] = await partials(tree.path);
  for (const name of [a, b]) await Deno.utime(`${tree.path}/${name}`, old, old);
  const names = (await entryNames(tree.path)).filter((n) => !n.startsWith("."));
  assert.deepEqual(names, ["p0.bin"]);
  const before = (await partials(tree.path)).length;
  assert.equal((await putRange(`${server.url}/new.bin`, work.path, data, 0, 4, 10)).status, 308);
  const after = await partials(tree.path);
  assert.equal(after.length, before - 2 + 1);
  assert.ok(!after.includes(a) && !after.includes(b));
});

Deno.test("parseUploadContentRange and parseDigestField: pure parsing", () => {
  assert.deepEqual(parseUploadContentRange("bytes 0-9/10"), {
    kind: "range",
    first: 0,
    last: 9,
    total: 10,
  });
  assert.deepEqual(parseUploadContentRange("bytes */10"), { kind: "query", total: 10 });
  for (
    const bad of [
      "bytes 0-10/10",
      "bytes 5-4/10",
      "bytes */0",
      "bytes 0-1/*",
      "bytes -1-2/3",
      "bytes 0-1/1e3",
      "bytes 0-9/1000000000000000000",
    ]
  ) {
    assert.equal(parseUploadContentRange(bad), null, bad);
  }
  assert.deepEqual(parseDigestField("sha-256=:AAAA:, md5=:BBBB:, sha-512=:CC==:"), [
    { algorithm: "sha-256", base64: "AAAA" },
    { algorithm: "sha-512", base64: "CC==" },
  ]);
  assert.deepEqual(parseDigestField(""), []);
  assert.throws(() => parseDigestField("sha-256=AAAA"), DigestSyntaxError);
});

Deno.test("resumable: a second writer of the same partial is 409; a short chunked body is undone", async () => {
  await using tree = await tempTree();
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const url = `${server.url}/c.bin`;
  const total = 100_000;
  const data = randomBytes(total);

  // A slow client: announces the whole file, sends 1000 bytes, keeps the connection open.
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const head = `PUT /c.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n` +
    `Content-Range: bytes 0-${total - 1}/${total}\r\n\r\n`;
  await slow.write(new TextEncoder().encode(head));
  await slow.write(data.subarray(0, 1000));
  let range: string | undefined;
  for (let i = 0; i < 200 && range !== "bytes=0-999"; i++) {
    range = header(await ask(url, total), "range");
    if (range !== "bytes=0-999") await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.equal(range, "bytes=0-999");
  // Another request for the next range, while the first still writes: refused, not mixed in.
  await using work = await tempTree();
  const second = await putRange(url, work.path, data, 1000, 1999, total);
  assert.equal(second.status, 409);
  assert.match(second.body, /another request is uploading/);
  slow.close();
  for (let i = 0; i < 200; i++) {
    const again = await putRange(url, work.path, data, 1000, 1999, total);
    if (again.status === 308) break;
    assert.equal(again.status, 409, "busy until the first request has ended");
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.equal(header(await ask(url, total), "range"), "bytes=0-1999");

  // A chunked body that ends before its range does: 400, and the partial is as it was.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const chunked = `PUT /c.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n` +
    `Content-Range: bytes 2000-2999/${total}\r\nConnection: close\r\n\r\n5\r\nabcde\r\n0\r\n\r\n`;
  await conn.write(new TextEncoder().encode(chunked));
  const answer = new TextDecoder().decode(await readAll(conn));
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /the body has 5 bytes; its Content-Range says 1000/);
  assert.equal(header(await ask(url, total), "range"), "bytes=0-1999");
});

Deno.test("resumable: asking about an expired partial deletes it and starts over", async () => {
  await using tree = await tempTree();
  await using work = await tempTree();
  await using server = await serveHttp(tree.path, "--upload", "--quiet");
  const url = `${server.url}/e.bin`;
  const data = randomBytes(10);
  assert.equal((await putRange(url, work.path, data, 0, 4, 10)).status, 308);
  const [name] = await partials(tree.path);
  // Just inside the TTL it is kept; past it, it is gone.
  const inside = new Date(Date.now() - PARTIAL_UPLOAD_TTL_MS + 60_000);
  await Deno.utime(`${tree.path}/${name}`, inside, inside);
  assert.equal(header(await ask(url, 10), "range"), "bytes=0-4");
  const past = new Date(Date.now() - PARTIAL_UPLOAD_TTL_MS - 60_000);
  await Deno.utime(`${tree.path}/${name}`, past, past);
  const asked = await ask(url, 10);
  assert.equal(asked.status, 308);
  assert.equal(header(asked, "range"), undefined);
  assert.deepEqual(await entryNames(tree.path), []);
  assert.equal(
    (await putRange(url, work.path, data, 5, 9, 10)).status,
    409,
    "must start at 0 again",
  );
  assert.equal((await putRange(url, work.path, data, 0, 9, 10)).status, 201);
  assert.deepEqual(await Deno.readFile(`${tree.path}/e.bin`), data);
});

Deno.test("sweepPartialUploads looks at maxEntries (MAX_PARTIAL_SWEEP_ENTRIES) entries: at the bound every expired partial goes, one past it one stays", async () => {
  const bound = 8;
  for (const [count, left] of [[bound, 0], [bound + 1, 1]]) {
    await using tree = await tempTree(
      Object.fromEntries(
        Array.from({ length: count }, (_, i) => [`${PARTIAL_UPLOAD_PREFIX}${i}-1`, "x"]),
      ),
    );
    // A TTL of -1 s makes every partial expired, whatever its mtime.
    assert.equal(await sweepPartialUploads(tree.path, -1_000, bound), 0, "no live partials");
    let remaining = 0;
    for await (const _ of Deno.readDir(tree.path)) remaining++;
    assert.equal(remaining, left, `${count} expired partials, a sweep of ${bound} entries`);
  }
});
