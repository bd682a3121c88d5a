import assert from "node:assert/strict";
import {
  archiveContentDisposition,
  ArchiveTooLargeError,
  type ArchiveWalkOptions,
  parseArchiveQuery,
  walkArchiveTree,
} from "../lib/http/sharing/archive_plan.ts";
import {
  ARCHIVE_READ_CHUNK_BYTES,
  archiveRangeChunks,
  ArchiveSourceChangedError,
} from "../lib/http/sharing/archive_stream.ts";
import { TAR_BLOCK_BYTES, tarHeader, tarLayout } from "../lib/http/sharing/tar.ts";
import { sha256, tempTree } from "./helpers.ts";

const LONG_NAME = "long-" + "n".repeat(110) + ".txt"; // > 100 bytes: needs pax or prefix
const UNICODE_NAME = "café ☕ résumé.txt";
const BIG_BYTES = 5 * 1024 * 1024;

/** A tree with every case the archive must handle: `root` to archive, in `base`. */
async function makeTree() {
  const big = new Uint8Array(BIG_BYTES);
  for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
  const tree = await tempTree({
    "shared stuff/docs/deep/deeper/": null,
    "shared stuff/empty-dir/": null,
    "shared stuff/.git/": null,
    "outside/": null,
    "shared stuff/big.bin": big,
    "shared stuff/docs/readme.md": "# hello\n",
    [`shared stuff/docs/deep/deeper/${LONG_NAME}`]: "long name content\n",
    [`shared stuff/${UNICODE_NAME}`]: "unicode\n",
    "shared stuff/empty.txt": new Uint8Array(0),
    "shared stuff/.env": "SECRET=1\n",
    "shared stuff/.git/config": "[core]\n",
    "shared stuff/.sockit-upload-abc123": "half an upload",
    "outside/secret.txt": "outside the root\n",
    "shared stuff/escape-link": { symlink: "outside/secret.txt", absolute: true },
    "shared stuff/escape-dir-link": { symlink: "outside", absolute: true },
    "shared stuff/inside-link.md": { symlink: "docs/readme.md" },
    "shared stuff/inside-dir-link": { symlink: "docs" },
    "shared stuff/link-to-dotfile": { symlink: ".env" },
    "shared stuff/dangling-link": { symlink: "nowhere" },
  });
  const root = `${tree.path}/shared stuff`;
  try {
    await Deno.chmod(`${root}/docs/readme.md`, 0o640);
  } catch (err) {
    await tree[Symbol.asyncDispose]();
    throw err;
  }
  return { ...tree, base: tree.path, root };
}

async function writeArchive(
  root: string,
  target: string,
  options?: ArchiveWalkOptions,
): Promise<string> {
  const layout = tarLayout(await walkArchiveTree(root, options));
  await using file = await Deno.open(target, { write: true, create: true, truncate: true });
  let written = 0;
  for await (const chunk of archiveRangeChunks(layout, 0, layout.size - 1)) {
    await file.write(chunk);
    written += chunk.length;
  }
  assert.equal(written, layout.size, "exactly the planned size");
  assert.equal(written % TAR_BLOCK_BYTES, 0);
  return layout.tree.rootName;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")} failed: ${stderr}`);
  assert.equal(stderr, "", `${cmd} warned: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Every path under `dir` (relative, directories ending in "/"), sorted. */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix + e.name;
    if (e.isDirectory) out.push(rel + "/", ...(await listTree(dir, rel + "/")));
    else out.push(rel);
  }
  return out.sort();
}

Deno.test("tar: tar -t lists exactly what serving would show; tar -x restores bytes", async () => {
  await using tree = await makeTree();
  const { base, root } = tree;
  const tarPath = `${base}/out.tar`;
  const rootName = await writeArchive(root, tarPath);
  assert.equal(rootName, "shared stuff");

  const listing = (await run("tar", ["-tf", tarPath])).trimEnd().split("\n").sort();
  assert.deepEqual(
    listing,
    [
      "shared stuff/",
      "shared stuff/big.bin",
      `shared stuff/${UNICODE_NAME}`,
      "shared stuff/docs/",
      "shared stuff/docs/deep/",
      "shared stuff/docs/deep/deeper/",
      `shared stuff/docs/deep/deeper/${LONG_NAME}`,
      "shared stuff/docs/readme.md",
      "shared stuff/empty-dir/",
      "shared stuff/empty.txt",
    ].sort(),
  );
  // tar -tv shows sizes and modes as stored.
  const verbose = await run("tar", ["-tvf", tarPath]);
  assert.match(verbose, new RegExp(`-rw-r----- .* 8 .*shared stuff/docs/readme\\.md`));
  assert.match(verbose, new RegExp(` ${BIG_BYTES} .*shared stuff/big\\.bin`));
  assert.match(verbose, / 0 .*shared stuff\/empty\.txt/);
  assert.ok(!/^l/m.test(verbose), "no symlink entries");

  const extracted = `${base}/extracted`;
  await Deno.mkdir(extracted);
  await run("tar", ["-xf", tarPath, "-C", extracted]);
  const got = `${extracted}/shared stuff`;
  assert.deepEqual(
    await listTree(got),
    listing.map((p) => p.slice("shared stuff/".length)).filter((p) => p !== "").sort(),
  );
  for (const rel of listing.filter((p) => !p.endsWith("/"))) {
    const inner = rel.slice("shared stuff/".length);
    const original = await Deno.readFile(`${root}/${inner}`);
    const copy = await Deno.readFile(`${got}/${inner}`);
    assert.equal(await sha256(copy), await sha256(original), inner);
  }
});

Deno.test("tar: dotfiles option and followSymlinks stay inside the root", async () => {
  await using tree = await makeTree();
  const { base, root } = tree;
  const tarPath = `${base}/out.tar`;
  await writeArchive(root, tarPath, { dotfiles: true, followSymlinks: true, rootName: "r" });
  const listing = (await run("tar", ["-tf", tarPath])).trimEnd().split("\n");
  assert.ok(listing.includes("r/.env"));
  assert.ok(listing.includes("r/.git/config"));
  assert.ok(listing.includes("r/inside-link.md"), "in-root file symlink stored as a file");
  assert.ok(listing.includes("r/link-to-dotfile"), "dotfiles shown: its target may be too");
  for (const name of ["escape-link", "escape-dir-link", "inside-dir-link", "dangling-link"]) {
    assert.ok(!listing.some((p) => p.startsWith(`r/${name}`)), `${name} must be skipped`);
  }
  assert.ok(!listing.some((p) => p.includes(".sockit-upload-")), "upload temps never archived");
  const verbose = await run("tar", ["-tvf", tarPath]);
  assert.match(verbose, /^-.* 8 .*r\/inside-link\.md$/m);

  // Dotfiles hidden: a link to a dotfile must not leak it either.
  await writeArchive(root, tarPath, { followSymlinks: true, rootName: "r" });
  const hidden = (await run("tar", ["-tf", tarPath])).trimEnd().split("\n");
  assert.ok(hidden.includes("r/inside-link.md"));
  assert.ok(!hidden.includes("r/link-to-dotfile"));
  assert.ok(!hidden.some((p) => p.includes("/.")));
});

/** Where the process's open descriptor for `path` stands (Linux /proc), or null if not open. */
async function openFileOffset(path: string): Promise<number | null> {
  for await (const fd of Deno.readDir("/proc/self/fd")) {
    let target: string;
    try {
      target = await Deno.readLink(`/proc/self/fd/${fd.name}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target !== path) continue;
    const info = await Deno.readTextFile(`/proc/self/fdinfo/${fd.name}`);
    return Number(/^pos:\s+(\d+)/m.exec(info)![1]);
  }
  return null;
}

Deno.test("tar: a paused reader holds the producer; return() closes the open file", async () => {
  await using tree = await makeTree();
  const real = await Deno.realPath(tree.root);
  const layout = tarLayout(await walkArchiveTree(real));
  const chunks = archiveRangeChunks(layout, 0, layout.size - 1);
  let received = 0;
  while (received < 256 * 1024) received += (await chunks.next()).value!.length;
  await new Promise((r) => setTimeout(r, 300)); // ample time to read 5 MiB if unbounded
  const offset = await openFileOffset(`${real}/big.bin`);
  assert.ok(offset !== null, "big.bin is open while being archived");
  // At most one read step ahead of what was taken.
  assert.ok(
    offset <= received + ARCHIVE_READ_CHUNK_BYTES,
    `read ahead to ${offset} with ${received} taken`,
  );
  await chunks.return();
  assert.equal(await openFileOffset(`${real}/big.bin`), null, "closed");
});

Deno.test("tar: a file that shrinks mid-archive errors the stream", async () => {
  await using tree = await tempTree({ "a.bin": new Uint8Array(1024 * 1024) });
  const base = tree.path;
  const layout = tarLayout(await walkArchiveTree(base));
  const chunks = archiveRangeChunks(layout, 0, layout.size - 1);
  // Wait until a.bin's header and some content have come out: it is open and being read.
  let received = 0;
  while (received < 2048) received += (await chunks.next()).value!.length;
  await Deno.truncate(`${base}/a.bin`, 1000);
  await assert.rejects(async () => {
    for (;;) if ((await chunks.next()).done) break;
  }, ArchiveSourceChangedError);
});

Deno.test("tar: a missing directory rejects the walk", async () => {
  await assert.rejects(() => walkArchiveTree("/nonexistent/sockit-test-dir"), Deno.errors.NotFound);
});

Deno.test("archive plan: entry and name-byte limits, at the limit and one past", async () => {
  // Root + 3 files = 4 entries; names "t", "t/a", "t/b", "t/c" = 1 + 3 * 3 = 10 bytes.
  await using tree = await tempTree({ "a": "1", "b": "2", "c": "3" });
  const at = await walkArchiveTree(tree.path, { rootName: "t", maxEntries: 4, maxNameBytes: 10 });
  assert.equal(at.entries.length, 4);
  await assert.rejects(
    () => walkArchiveTree(tree.path, { rootName: "t", maxEntries: 3 }),
    (err) => err instanceof ArchiveTooLargeError && err.limit === "entries" && err.max === 3,
  );
  await assert.rejects(
    () => walkArchiveTree(tree.path, { rootName: "t", maxNameBytes: 9 }),
    (err) => err instanceof ArchiveTooLargeError && err.limit === "name-bytes",
  );
});

Deno.test("tar: query detection and Content-Disposition", () => {
  assert.deepEqual(parseArchiveQuery("?download=tar"), { format: "tar", version: null });
  assert.deepEqual(parseArchiveQuery("a=1&download=zip&v=abc"), { format: "zip", version: "abc" });
  assert.equal(parseArchiveQuery("?download=rar"), null);
  assert.equal(parseArchiveQuery(""), null);
  assert.equal(
    archiveContentDisposition("photos", "tar"),
    `attachment; filename="photos.tar"; filename*=UTF-8''photos.tar`,
  );
  assert.equal(
    archiveContentDisposition('café "x"', "zip"),
    `attachment; filename="caf_ _x_.zip"; filename*=UTF-8''caf%C3%A9%20%22x%22.zip`,
  );
});

Deno.test("tar: sizes of 8 GiB and more and long one-part names go into a pax header", async () => {
  const name = `r/${"n".repeat(120)}-☕.bin`; // one part longer than 100 bytes, not ASCII
  const size = 9 * 1024 ** 3; // past ustar's 11 octal digits (8 GiB - 1)
  const header = tarHeader({
    name,
    nameLength: new TextEncoder().encode(name).length,
    isDirectory: false,
    path: "/nonexistent",
    size,
    mode: 0o640,
    mtimeMs: Date.UTC(2024, 0, 2),
    ino: 1,
    dev: 1,
  });
  assert.equal(header.length % TAR_BLOCK_BYTES, 0);
  // The ustar size field's limit: at it, one header block; one past it, a pax header too.
  const plain = { name: "r/a", nameLength: 3, isDirectory: false, path: "/x", mode: 0o644 };
  const stamp = { mtimeMs: 0, ino: 1, dev: 1 };
  assert.equal(tarHeader({ ...plain, ...stamp, size: 0o77777777777 }).length, TAR_BLOCK_BYTES);
  assert.equal(
    tarHeader({ ...plain, ...stamp, size: 0o77777777777 + 1 }).length,
    3 * TAR_BLOCK_BYTES,
  );
  // Python's tarfile reads the first member's header (the data is not needed for that).
  const script = [
    "import io, json, sys, tarfile",
    "data = sys.stdin.buffer.read()",
    "t = tarfile.open(fileobj=io.BytesIO(data), mode='r:')",
    "m = t.firstmember",
    "print(json.dumps([m.name, m.size, m.mode, m.mtime, m.isfile()]))",
  ].join("\n");
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(header);
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
    name,
    size,
    0o640,
    Date.UTC(2024, 0, 2) / 1000,
    true,
  ]);
});
