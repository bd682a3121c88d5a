import assert from "node:assert/strict";
import type { ArchiveEntry, ArchiveTree } from "../lib/http/sharing/archive_plan.ts";
import { treeVersion, walkArchiveTree } from "../lib/http/sharing/archive_plan.ts";
import {
  archiveRangeChunks,
  cachedCrc,
  clearCrcCache,
  CRC_CACHE_MAX_ENTRIES,
  rememberCrc,
} from "../lib/http/sharing/archive_stream.ts";
import { tarLayout } from "../lib/http/sharing/tar.ts";
import { dosDateTime, zipLayout } from "../lib/http/sharing/zip.ts";
import { concatBytes, mulberry32, runTool, tempTree } from "./helpers.ts";

const UNICODE_NAME = "café ☕ résumé.txt";

/** The bytes `start..end` of a layout, collected. */
async function collect(
  layout: ReturnType<typeof zipLayout>,
  start = 0,
  end = layout.size - 1,
  onCrcRead?: (path: string) => void,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of archiveRangeChunks(layout, start, end, { onCrcRead })) {
    parts.push(chunk.slice());
  }
  return concatBytes(parts);
}

/** Python's zipfile on `path`: testzip() result, names, sizes and flag bits. */
async function pythonZip(path: string): Promise<{
  bad: string | null;
  names: string[];
  sizes: number[];
  flags: number[];
  zip64End: boolean;
}> {
  const script = [
    "import json, sys, zipfile",
    "z = zipfile.ZipFile(sys.argv[1])",
    "data = open(sys.argv[1], 'rb').read()",
    "infos = z.infolist()",
    "print(json.dumps({'bad': z.testzip(), 'names': [i.filename for i in infos],",
    "  'sizes': [i.file_size for i in infos], 'flags': [i.flag_bits for i in infos],",
    "  'zip64End': data.rfind(b'PK\\x06\\x06') != -1}))",
  ].join("\n");
  return JSON.parse(await runTool("python3", ["-c", script, path]));
}

async function makeTree() {
  const rand = mulberry32(7);
  const big = new Uint8Array(300_000).map(() => Math.floor(rand() * 256));
  return await tempTree({
    "t/a.txt": "alpha\n",
    [`t/${UNICODE_NAME}`]: "unicode\n",
    "t/with spaces/nested/deep.txt": "deep\n",
    "t/empty folder/": null,
    "t/big.bin": big,
    "t/empty.txt": "",
  });
}

Deno.test("zip: forced zip64 everywhere — python zipfile and unzip -t accept it", async () => {
  await using tree = await makeTree();
  const layout = zipLayout(await walkArchiveTree(`${tree.path}/t`), { forceZip64: true });
  const bytes = await collect(layout);
  assert.equal(bytes.length, layout.size);
  const path = `${tree.path}/z64.zip`;
  await Deno.writeFile(path, bytes);
  const z = await pythonZip(path);
  assert.equal(z.bad, null);
  assert.ok(z.zip64End, "zip64 end record written");
  assert.deepEqual(z.names, [
    "t/",
    "t/a.txt",
    "t/big.bin",
    `t/${UNICODE_NAME}`,
    "t/empty folder/",
    "t/empty.txt",
    "t/with spaces/",
    "t/with spaces/nested/",
    "t/with spaces/nested/deep.txt",
  ]);
  assert.equal(z.sizes[2], 300_000);
  // Bit 11 (UTF-8) everywhere, bit 3 (data descriptor) on files only.
  assert.ok(z.flags.every((f) => (f & 0x800) !== 0));
  assert.equal(z.flags[1] & 0x8, 0x8);
  assert.equal(z.flags[0] & 0x8, 0);
  const unzip = await runTool("unzip", ["-t", path]);
  assert.match(unzip, /No errors detected/);
  const zipinfo = await runTool("zipinfo", ["-v", path]);
  assert.match(zipinfo, /ID 0x0001 \(PKWARE 64-bit sizes\)/);
});

/** A tree of `count` folders under root "r", synthetic: zip folders read no file. */
function folderTree(count: number): ArchiveTree {
  const encoder = new TextEncoder();
  const entries: ArchiveEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = i === 0 ? "r" : `r/d${i}`;
    entries.push({
      name,
      nameLength: encoder.encode(name).length,
      isDirectory: true,
      path: "/nonexistent",
      size: 0,
      mode: 0o755,
      mtimeMs: Date.UTC(2024, 0, 2, 3, 4, 6),
      ino: i,
      dev: 1,
    });
  }
  return { rootName: "r", entries, version: treeVersion(entries) };
}

Deno.test("zip: 65 535 entries is the first count that needs zip64 end records", async () => {
  await using work = await tempTree();
  const below = zipLayout(folderTree(65_534));
  const belowBytes = await collect(below);
  const end = new DataView(belowBytes.buffer, belowBytes.length - 22);
  assert.equal(end.getUint32(0, true), 0x06054b50, "classic end record last");
  assert.equal(end.getUint16(10, true), 65_534, "the count fits 16 bits");
  const zip64Locator = new DataView(belowBytes.buffer, belowBytes.length - 42, 4);
  assert.notEqual(zip64Locator.getUint32(0, true), 0x07064b50, "no zip64 locator");

  const at = zipLayout(folderTree(65_535));
  await Deno.writeFile(`${work.path}/at.zip`, await collect(at));
  const z = await pythonZip(`${work.path}/at.zip`);
  assert.equal(z.bad, null);
  assert.equal(z.names.length, 65_535);
  assert.equal(z.names[65_534], "r/d65534/");
  assert.ok(z.zip64End);
  assert.match(await runTool("unzip", ["-tq", `${work.path}/at.zip`]), /No errors detected/);
});

Deno.test("zip and tar: any byte range equals that slice of the whole archive", async () => {
  await using tree = await makeTree();
  const walked = await walkArchiveTree(`${tree.path}/t`);
  for (const layout of [zipLayout(walked), tarLayout(walked)]) {
    const whole = await collect(layout);
    const rand = mulberry32(layout.size);
    const edges = [0, 1, layout.size - 1, layout.size - 22, 30, 512, 300_000];
    for (let i = 0; i < 40; i++) {
      const a = i < edges.length
        ? Math.min(edges[i], layout.size - 1)
        : Math.floor(rand() * layout.size);
      const b = a + Math.floor(rand() * (layout.size - a));
      const part = await collect(layout, a, b);
      assert.equal(part.length, b - a + 1, `${layout.format} ${a}-${b}`);
      assert.deepEqual(part, whole.subarray(a, b + 1), `${layout.format} ${a}-${b}`);
    }
  }
});

Deno.test("zip: a range after a file reads its CRC once, then the cache has it", async () => {
  await using tree = await makeTree();
  const layout = zipLayout(await walkArchiveTree(`${tree.path}/t`));
  clearCrcCache();
  const reread: string[] = [];
  // The last 1000 bytes: the whole central directory, which needs every CRC.
  const tail = await collect(layout, layout.size - 1000, layout.size - 1, (p) => reread.push(p));
  assert.equal(tail.length, 1000);
  assert.ok(reread.some((p) => p.endsWith("/big.bin")), reread.join());
  const again: string[] = [];
  await collect(layout, layout.size - 1000, layout.size - 1, (p) => again.push(p));
  assert.deepEqual(again, [], "cached");
  // A whole download computes CRCs while sending, so it reads nothing twice.
  clearCrcCache();
  const whole: string[] = [];
  await collect(layout, 0, layout.size - 1, (p) => whole.push(p));
  assert.deepEqual(whole, []);
});

Deno.test("zip: DOS times are UTC and clamped to 1980..2107", () => {
  assert.deepEqual(dosDateTime(Date.UTC(2024, 0, 2, 3, 4, 6)), [
    (3 << 11) | (4 << 5) | 3,
    (44 << 9) | (1 << 5) | 2,
  ]);
  assert.deepEqual(dosDateTime(0), [0, (1 << 5) | 1]);
  assert.deepEqual(dosDateTime(Date.UTC(2200, 0, 1)), [
    (23 << 11) | (59 << 5) | 29,
    (127 << 9) | (12 << 5) | 31,
  ]);
});

Deno.test("CRC cache: holds CRC_CACHE_MAX_ENTRIES, one more forgets the oldest", () => {
  clearCrcCache();
  const entries = folderTree(CRC_CACHE_MAX_ENTRIES + 1).entries;
  for (let i = 0; i < CRC_CACHE_MAX_ENTRIES; i++) rememberCrc(entries[i], i);
  assert.equal(cachedCrc(entries[0]), 0, "at the limit: all kept");
  assert.equal(cachedCrc(entries[CRC_CACHE_MAX_ENTRIES - 1]), CRC_CACHE_MAX_ENTRIES - 1);
  rememberCrc(entries[CRC_CACHE_MAX_ENTRIES], 7);
  assert.equal(cachedCrc(entries[0]), undefined, "one past: the oldest is gone");
  assert.equal(cachedCrc(entries[1]), 1);
  assert.equal(cachedCrc(entries[CRC_CACHE_MAX_ENTRIES]), 7);
  // A changed file (new mtime) is a different key: never a stale CRC.
  assert.equal(cachedCrc({ ...entries[1], mtimeMs: entries[1].mtimeMs + 1 }), undefined);
  clearCrcCache();
});
