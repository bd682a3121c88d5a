import assert from "node:assert/strict";
import { compose, type Handler } from "../lib/http/handler.ts";
import { withArchiveDownload } from "../lib/http/sharing/archive_download.ts";
import {
  concatBytes,
  curlResponse,
  inProcessServer,
  mulberry32,
  procStatusKiB,
  runTool,
  serveHttp,
  sha256,
  tempTree,
} from "./helpers.ts";

const UNICODE_NAME = "café ☕ résumé.txt";
const BIG_BYTES = 3 * 1024 * 1024;

/** A served root with `share/` holding every case, and things that must stay out. */
async function makeSite() {
  const rand = mulberry32(42);
  const big = new Uint8Array(BIG_BYTES).map(() => Math.floor(rand() * 256));
  return await tempTree({
    "share/a.txt": "alpha\n",
    [`share/${UNICODE_NAME}`]: "unicode\n",
    "share/with spaces/nested/deep.txt": "deep\n",
    "share/empty folder/": null,
    "share/big.bin": big,
    "share/.env": "SECRET=1\n",
    "share/.git/config": "[core]\n",
    "share/link.txt": { symlink: "a.txt" },
    "share/dir-link": { symlink: "with spaces" },
    "share/escape": { symlink: "/etc/hostname" }, // leaves the served root
    "share/dangling": { symlink: "nowhere" },
  });
}

/** What serving shows of share/, as archive names. */
const EXPECTED_NAMES = [
  "share/",
  "share/a.txt",
  "share/big.bin",
  `share/${UNICODE_NAME}`,
  "share/empty folder/",
  "share/link.txt",
  "share/with spaces/",
  "share/with spaces/nested/",
  "share/with spaces/nested/deep.txt",
];

function header(headers: string, name: string): string | undefined {
  const m = new RegExp(`^${name}: (.*?)\\r?$`, "im").exec(headers);
  return m?.[1];
}

/** Every file below `dir` (relative path → sha256), folders as "dir/" → ""; no symlinks. */
async function treeHashes(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix + e.name;
    if (e.isSymlink) continue;
    if (e.isDirectory) {
      out.set(rel + "/", "");
      for (const [k, v] of await treeHashes(dir, rel + "/")) out.set(k, v);
    } else {
      out.set(rel, await sha256(await Deno.readFile(`${dir}/${rel}`)));
    }
  }
  return out;
}

Deno.test("download=zip: unzip -t and python zipfile accept it; unzip restores the tree", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet");
  await using work = await tempTree();
  const zip = `${work.path}/share.zip`;
  const r = await curlResponse([`${server.url}/share/?download=zip`], { output: zip });
  assert.equal(r.status, 200);
  assert.equal(header(r.headers, "Content-Type"), "application/zip");
  assert.match(header(r.headers, "Content-Disposition")!, /^attachment; filename="share\.zip"/);
  assert.equal(Number(header(r.headers, "Content-Length")), (await Deno.stat(zip)).size);
  assert.match(header(r.headers, "ETag")!, /^"zip-[\w-]{22}"$/);
  assert.equal(header(r.headers, "Accept-Ranges"), "bytes");
  assert.equal(header(r.headers, "Transfer-Encoding"), undefined);

  assert.match(await runTool("unzip", ["-t", zip]), /No errors detected/);
  const script = "import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n" +
    "print(json.dumps([z.testzip(), sorted(z.namelist()), " +
    "[i.flag_bits & 0x800 for i in z.infolist()]]))";
  const [bad, names, utf8] = JSON.parse(await runTool("python3", ["-c", script, zip]));
  assert.equal(bad, null);
  assert.deepEqual(names, [...EXPECTED_NAMES].sort());
  assert.ok(utf8.every((bit: number) => bit === 0x800), "UTF-8 flag on every entry");

  await runTool("unzip", ["-q", zip, "-d", `${work.path}/out`]);
  const expected = await treeHashes(`${site.path}/share`);
  for (const hidden of [".env", ".git/", ".git/config", "dir-link", "escape", "dangling"]) {
    expected.delete(hidden);
  }
  expected.set("link.txt", expected.get("a.txt")!); // stored as the file it serves
  assert.deepEqual(await treeHashes(`${work.path}/out/share`), expected);
  assert.ok((await Deno.lstat(`${work.path}/out/share/link.txt`)).isFile);

  // The listing offers both formats; a file with the query is just the file.
  const listing = await curlResponse([`${server.url}/share/`]);
  assert.match(listing.body, /<a href="\?download=zip" download>Download this folder as \.zip</);
  assert.match(listing.body, /<a href="\?download=tar" download>\.tar<\/a>/);
  assert.equal((await curlResponse([`${server.url}/share/a.txt?download=zip`])).body, "alpha\n");
  assert.equal((await curlResponse([`${server.url}/share/.git/?download=zip`])).status, 404);
});

Deno.test("download=tar and --dotfiles: tar -x restores it; dotfiles only when shown", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet", "--dotfiles");
  await using work = await tempTree();
  const tar = `${work.path}/share.tar`;
  const r = await curlResponse([`${server.url}/share/?download=tar`], { output: tar });
  assert.equal(r.status, 200);
  assert.equal(header(r.headers, "Content-Type"), "application/x-tar");
  assert.equal(Number(header(r.headers, "Content-Length")), (await Deno.stat(tar)).size);
  const names = (await runTool("tar", ["-tf", tar])).trimEnd().split("\n").sort();
  assert.deepEqual(
    names,
    [...EXPECTED_NAMES, "share/.env", "share/.git/", "share/.git/config"].sort(),
  );
  await Deno.mkdir(`${work.path}/out`);
  await runTool("tar", ["-xf", tar, "-C", `${work.path}/out`]);
  const expected = await treeHashes(`${site.path}/share`);
  for (const skipped of ["dir-link", "escape", "dangling"]) expected.delete(skipped);
  expected.set("link.txt", expected.get("a.txt")!);
  assert.deepEqual(await treeHashes(`${work.path}/out/share`), expected);

  const zip = `${work.path}/share.zip`;
  await curlResponse([`${server.url}/share/?download=zip`], { output: zip });
  const listed = await runTool("unzip", ["-Z1", zip]);
  assert.match(listed, /^share\/\.env$/m);
});

Deno.test("download: HEAD, ETag/304, Range, If-Range and 416; same tree → same bytes", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet");
  for (const format of ["zip", "tar"]) {
    const url = `${server.url}/share/?download=${format}`;
    const first = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const second = await fetch(url);
    assert.deepEqual(new Uint8Array(await second.arrayBuffer()), first, "deterministic");
    const etag = second.headers.get("etag")!;
    const location = second.headers.get("content-location")!;
    assert.match(location, new RegExp(`^/share/\\?download=${format}&v=[\\w-]{22}$`));

    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get("content-length")), first.length);
    assert.equal(head.headers.get("etag"), etag);
    assert.equal(head.headers.get("accept-ranges"), "bytes");
    await head.body?.cancel();

    const notModified = await fetch(url, { headers: { "If-None-Match": etag } });
    assert.equal(notModified.status, 304);
    await notModified.body?.cancel();

    // Pinned URL: Range alone is honoured.
    const pinned = `${server.url}${location}`;
    const part = await fetch(pinned, { headers: { Range: "bytes=1000-2999" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 1000-2999/${first.length}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), first.subarray(1000, 3000));
    // Unpinned: only with a matching If-Range (what browsers send), else the whole.
    const ifRange = await fetch(url, { headers: { Range: "bytes=-10", "If-Range": etag } });
    assert.equal(ifRange.status, 206);
    assert.deepEqual(new Uint8Array(await ifRange.arrayBuffer()), first.subarray(-10));
    const bare = await fetch(url, { headers: { Range: "bytes=0-9" } });
    assert.equal(bare.status, 200);
    assert.equal((await bare.arrayBuffer()).byteLength, first.length);
    const stale = await fetch(url, { headers: { Range: "bytes=0-9", "If-Range": '"zip-old"' } });
    assert.equal(stale.status, 200);
    await stale.body?.cancel();
    const beyond = await fetch(pinned, { headers: { Range: `bytes=${first.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), `bytes */${first.length}`);
    await beyond.body?.cancel();
  }
});

/** Reads at least `bytes` of `url`'s body, then drops the connection: an interrupted download. */
async function interruptedDownload(url: string, bytes: number, path: string): Promise<number> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < bytes) {
    const { value, done } = await reader.read();
    assert.ok(!done, "ended before the interruption");
    parts.push(value);
    got += value.length;
  }
  await reader.cancel();
  await Deno.writeFile(path, concatBytes(parts));
  return got;
}

async function curlExit(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command("curl", { args: ["-sS", "-m", "20", ...args] }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("download: curl -C - resumes an interrupted download to a byte-identical archive", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet");
  await using work = await tempTree();
  for (const format of ["zip", "tar"]) {
    const full = `${work.path}/full.${format}`;
    const r = await curlResponse([`${server.url}/share/?download=${format}`], { output: full });
    const pinned = `${server.url}${header(r.headers, "Content-Location")}`;
    const part = `${work.path}/part.${format}`;
    const had = await interruptedDownload(pinned, 1024 * 1024, part);
    assert.ok(had < BIG_BYTES, "cut inside the big file");
    const resumed = await curlExit(["-C", "-", "-o", part, pinned]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(await sha256(await Deno.readFile(part)), await sha256(await Deno.readFile(full)));
    await runTool("cmp", [part, full]);
  }
});

Deno.test("download: a tree changed between the halves gets 412/200, never mixed bytes", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet");
  await using work = await tempTree();
  const url = `${server.url}/share/?download=zip`;
  const before = await fetch(url);
  const etag = before.headers.get("etag")!;
  const pinned = `${server.url}${before.headers.get("content-location")}`;
  await before.body?.cancel();
  const part = `${work.path}/part.zip`;
  await interruptedDownload(pinned, 1024 * 1024, part);
  const partBytes = await Deno.readFile(part);
  // Same size, new mtime: the version changes.
  await Deno.utime(`${site.path}/share/a.txt`, 1_700_000_000, 1_700_000_000);

  const resumed = await curlExit(["-f", "-C", "-", "-o", part, pinned]);
  assert.equal(resumed.code, 22, resumed.stderr); // 412
  assert.match(resumed.stderr, /412/);
  assert.deepEqual(await Deno.readFile(part), partBytes, "the partial file is left as it was");
  // Without -f too: curl will not append a 412 body to a resumed file.
  assert.equal((await curlExit(["-C", "-", "-o", part, pinned])).code, 33);
  // The unpinned URL ignores a bare Range (curl refuses to resume rather than mix).
  assert.equal((await curlExit(["-C", "-", "-o", part, url])).code, 33);
  assert.deepEqual(await Deno.readFile(part), partBytes);

  // A browser's If-Range with the old ETag gets the whole new archive.
  const browser = await fetch(url, { headers: { Range: "bytes=1000-", "If-Range": etag } });
  assert.equal(browser.status, 200);
  assert.notEqual(browser.headers.get("etag"), etag);
  await browser.body?.cancel();
  const pinnedIfRange = await fetch(pinned, {
    headers: { Range: "bytes=1000-", "If-Range": etag },
  });
  assert.equal(pinnedIfRange.status, 200, "If-Range: the whole new archive, not a 412");
  await pinnedIfRange.body?.cancel();
  // A full GET of the old pinned URL gets the new archive, with its new version.
  const fresh = await fetch(pinned);
  assert.equal(fresh.status, 200);
  assert.notEqual(fresh.headers.get("etag"), etag);
  assert.notEqual(fresh.headers.get("content-location"), before.headers.get("content-location"));
  await fresh.body?.cancel();
});

Deno.test("download: a file changed while streaming cuts the connection short", async () => {
  await using site = await tempTree({
    "d/a-big.bin": new Uint8Array(48 * 1024 * 1024),
    "d/b.txt": "bravo\n",
  });
  await using server = await serveHttp(site.path, "--quiet");
  for (const format of ["zip", "tar"]) {
    await Deno.utime(`${site.path}/d/b.txt`, 1_600_000_000, 1_600_000_000);
    const res = await fetch(`${server.url}/d/?download=${format}`);
    const length = Number(res.headers.get("content-length"));
    const reader = res.body!.getReader();
    let got = (await reader.read()).value!.length;
    // b.txt comes after 48 MiB the client has not taken: the server is still in a-big.bin.
    await Deno.utime(`${site.path}/d/b.txt`, 1_600_000_100, 1_600_000_100);
    await assert.rejects(async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
    });
    assert.ok(got < length, `${format}: ${got} of ${length} bytes, then cut`);
  }
});

Deno.test("download: entry limit (507), concurrency and entry budget (503), at and past", async () => {
  // c is big enough that an unread download of it cannot finish into the socket buffers.
  await using site = await tempTree({ "d/a": "1", "d/b": "2", "d/c": new Uint8Array(32 << 20) });
  const notFound: Handler = () => ({ status: 404, body: "no\n" });
  const root = await Deno.realPath(site.path);
  // d + 3 files = 4 entries.
  await using at = await inProcessServer(
    compose([withArchiveDownload({ root, maxEntries: 4, maxConcurrent: 1 })], notFound),
  );
  await using past = await inProcessServer(
    compose([withArchiveDownload({ root, maxEntries: 3 })], notFound),
  );
  const ok = await fetch(`${at.url}/d/?download=zip`);
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  const refused = await fetch(`${past.url}/d/?download=tar`);
  assert.equal(refused.status, 507);
  assert.match(await refused.text(), /more than 3 files and folders/);

  // One download at a time: a second one waits for the first to end.
  const head = await fetch(`${at.url}/d/?download=zip`, { method: "HEAD" });
  assert.equal(head.status, 200, "a HEAD's slot is freed without a body");
  const holding = await fetch(`${at.url}/d/?download=zip`);
  const busy = await fetch(`${at.url}/d/?download=tar`);
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "5");
  await busy.body?.cancel();
  await holding.arrayBuffer();
  const after = await fetch(`${at.url}/d/?download=tar`);
  assert.equal(after.status, 200);
  await after.arrayBuffer();

  // Entries held by all running downloads together: 8 = two of these archives at once.
  await using budget = await inProcessServer(
    compose([withArchiveDownload({ root, maxActiveEntries: 8 })], notFound),
  );
  const one = await fetch(`${budget.url}/d/?download=zip`);
  const two = await fetch(`${budget.url}/d/?download=zip`);
  assert.equal(two.status, 200, "at the budget");
  const three = await fetch(`${budget.url}/d/?download=zip`);
  assert.equal(three.status, 503, "one entry past it");
  assert.equal(three.headers.get("retry-after"), "5");
  await three.body?.cancel();
  await one.arrayBuffer();
  const four = await fetch(`${budget.url}/d/?download=zip`);
  assert.equal(four.status, 200, "a finished download gives its entries back");
  await Promise.all([two.arrayBuffer(), four.arrayBuffer()]);
});

Deno.test("download: --compress leaves archives alone (ranges stay stitchable)", async () => {
  await using site = await makeSite();
  await using server = await serveHttp(site.path, "--quiet", "--compress");
  for (const format of ["zip", "tar"]) {
    const r = await curlResponse([
      "-H",
      "Accept-Encoding: gzip, br",
      `${server.url}/share/?download=${format}`,
    ], { output: "/dev/null" });
    assert.equal(r.status, 200);
    assert.equal(header(r.headers, "Content-Encoding"), undefined, format);
    assert.match(header(r.headers, "ETag")!, /^"/, "still strong");
  }
});

Deno.test("download: a 2 GiB folder to a slow reader keeps the server under 32 MiB more RSS", async () => {
  await using site = await tempTree({ "big/small.txt": "small\n" });
  // Sparse: 2 GiB of zeros that cost no disk.
  await Deno.truncate(`${site.path}/big/huge.bin`, 2 * 1024 ** 3).catch(async () => {
    await Deno.writeFile(`${site.path}/big/huge.bin`, new Uint8Array(0));
    await Deno.truncate(`${site.path}/big/huge.bin`, 2 * 1024 ** 3);
  });
  await using server = await serveHttp(site.path, "--quiet");
  const pid = server.child.pid;
  // Warm up the download path once, then take the baseline.
  await (await fetch(`${server.url}/big/?download=zip`, {
    headers: { Range: "bytes=0-0", "If-Range": '"x"' },
  })).body?.cancel();
  const baselineKiB = procStatusKiB(pid, "VmRSS");
  const res = await fetch(`${server.url}/big/?download=zip`);
  const length = Number(res.headers.get("content-length"));
  assert.ok(length > 2 * 1024 ** 3);
  const reader = res.body!.getReader();
  let got = 0;
  // Slowly at first: the server must wait, not buffer the archive.
  for (let i = 0; i < 5; i++) {
    while (got < (i + 1) * 4 * 1024 * 1024) got += (await reader.read()).value!.length;
    await new Promise((r) => setTimeout(r, 200));
  }
  const slowKiB = procStatusKiB(pid, "VmRSS");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
  }
  assert.equal(got, length);
  const peakKiB = procStatusKiB(pid, "VmHWM");
  console.log(
    `2 GiB zip: baseline ${baselineKiB} KiB, while slow ${slowKiB} KiB, peak ${peakKiB} KiB`,
  );
  assert.ok(slowKiB - baselineKiB < 32 * 1024, `slow: +${slowKiB - baselineKiB} KiB`);
  assert.ok(peakKiB - baselineKiB < 32 * 1024, `peak: +${peakKiB - baselineKiB} KiB`);
});

Deno.test("download=zip: a file over 4 GiB gets zip64 fields that python and unzip read", async () => {
  const HUGE = 4 * 1024 ** 3 + 65_536; // past 0xFFFFFFFF
  await using site = await tempTree({ "z/a.txt": "alpha\n", "z/zz-huge.bin": "" });
  await Deno.truncate(`${site.path}/z/zz-huge.bin`, HUGE); // sparse: zeros, no disk
  await using server = await serveHttp(site.path, "--quiet");
  await using work = await tempTree();
  const head = await fetch(`${server.url}/z/?download=zip`, { method: "HEAD" });
  const length = Number(head.headers.get("content-length"));
  const pinned = `${server.url}${head.headers.get("content-location")}`;
  assert.ok(length > HUGE);
  // Streaming 4 GiB through python would be slow; the archive is headers, zeros, then the
  // directory, so its first and last MiB over zeros rebuild it exactly, via two ranges.
  const MIB = 1024 * 1024;
  const part = async (start: number, end: number) => {
    const res = await fetch(pinned, { headers: { Range: `bytes=${start}-${end}` } });
    assert.equal(res.status, 206);
    return new Uint8Array(await res.arrayBuffer());
  };
  const first = await part(0, MIB - 1);
  const last = await part(length - MIB, length - 1); // needs the huge file's CRC: re-read
  const path = `${work.path}/z.zip`;
  {
    await using file = await Deno.open(path, { write: true, create: true });
    await file.truncate(length);
    await file.write(first);
    await file.seek(length - MIB, Deno.SeekMode.Start);
    await file.write(last);
  }
  const script = [
    "import json, sys, zipfile",
    "z = zipfile.ZipFile(sys.argv[1])",
    "huge = z.getinfo('z/zz-huge.bin')",
    "with z.open(huge) as f: start = f.read(16)", // parses the zip64 local header
    "print(json.dumps([z.namelist(), huge.file_size, huge.CRC, z.read('z/a.txt').decode(),",
    "  start.hex()]))",
  ].join("\n");
  const [names, size, crc, alpha, start] = JSON.parse(
    await runTool("python3", ["-c", script, path]),
  );
  assert.deepEqual(names, ["z/", "z/a.txt", "z/zz-huge.bin"]);
  assert.equal(size, HUGE);
  assert.equal(crc, 0xe50d43f3); // CRC-32 of 4 GiB + 64 KiB of zeros (python3 zlib.crc32)
  assert.equal(alpha, "alpha\n");
  assert.equal(start, "00".repeat(16));
  assert.match(await runTool("unzip", ["-t", path, "z/a.txt"]), /No errors detected/);
  assert.match(await runTool("unzip", ["-l", path]), new RegExp(`${HUGE}\\s.*z/zz-huge\\.bin`));
});
