/**
 * `http-serve --webdav --upload` against real WebDAV clients, each as a subprocess on
 * 127.0.0.1: litmus 0.13 (the protocol suite: basic, copymove, props, locks, http), rclone
 * (copy, sync and check of a tree with unicode and space names, nested folders and a
 * 100 MB file, both ways, byte-identical) and cadaver (scripted ls, mkdir, put, get, move,
 * rm). The tools come from Debian (.ci/run installs them); a test whose tool is missing is
 * reported as ignored.
 *
 * ```sh
 * deno test -A --unstable-net tests/webdav_clients_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { commandExists, serveHttp, sha256, tempTree } from "./helpers.ts";

const hasLitmus = await commandExists("litmus");
const hasRclone = await commandExists("rclone");
const hasCadaver = await commandExists("cadaver");

/** Suites run and how many tests each has in litmus 0.13 (a skipped test lowers the count). */
const LITMUS_SUITES: Record<string, number> = {
  basic: 16,
  copymove: 13,
  props: 30,
  locks: 41,
  http: 4,
};

/**
 * litmus tests sockit fails on purpose, with the reason (README, "Mount it as a drive").
 * Empty: every test of the five suites passes. A test failing that is not listed here fails
 * this test.
 */
const LITMUS_DELIBERATE_REFUSALS: Record<string, string> = {};

async function run(cmd: string, args: string[], options: { cwd?: string; stdin?: string } = {}) {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { RCLONE_CONFIG: "/dev/null" },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test({
  name: "webdav clients: litmus basic, copymove, props, locks and http all pass",
  ignore: !hasLitmus,
  async fn() {
    await using share = await tempTree({});
    await using work = await tempTree({});
    await using server = await serveHttp(share.path, "--webdav", "--upload", "--quiet");
    const result = await run("litmus", ["-k", `${server.url}/`], {
      cwd: work.path,
      stdin: undefined,
    });
    const out = result.stdout.replaceAll("\r", "\n");
    const outcomes = new Map<string, string[]>();
    for (const suite of Object.keys(LITMUS_SUITES)) {
      const start = out.indexOf(`-> running \`${suite}':`);
      assert.ok(start >= 0, `suite ${suite} ran:\n${out}`);
      const end = out.indexOf(`<- summary for \`${suite}'`, start);
      const section = out.slice(start, end);
      const seen = new Set<string>();
      for (const m of section.matchAll(/(\d+)\. (\w+)\.* (pass|FAIL|SKIPPED|WARNING)/g)) {
        const id = `${suite}/${m[1]}.${m[2]}`;
        if (seen.has(id)) continue;
        seen.add(id);
        outcomes.set(m[3], [...(outcomes.get(m[3]) ?? []), `${suite}/${m[2]}`]);
      }
      assert.equal(seen.size, LITMUS_SUITES[suite], `${suite}: tests run\n${section}`);
      const summary = new RegExp(`summary for \`${suite}': of (\\d+) tests run: (\\d+) passed`)
        .exec(out.slice(end));
      assert.ok(summary, `${suite}: summary line`);
    }
    const failed = [...(outcomes.get("FAIL") ?? []), ...(outcomes.get("SKIPPED") ?? [])]
      .filter((name) => !(name in LITMUS_DELIBERATE_REFUSALS));
    assert.deepEqual(failed, [], out);
    const passed = outcomes.get("pass")?.length ?? 0;
    const total = Object.values(LITMUS_SUITES).reduce((a, b) => a + b, 0);
    assert.equal(passed + Object.keys(LITMUS_DELIBERATE_REFUSALS).length, total);
    assert.equal(result.code, 0, result.stderr);
  },
});

/** Every file below `dir` (relative path → sha256), hidden names included. */
async function treeDigest(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) {
      for (const [k, v] of await treeDigest(dir, rel)) out.set(k, v);
      out.set(`${rel}/`, "dir");
    } else out.set(rel, await sha256(await Deno.readFile(join(dir, rel))));
  }
  return new Map([...out].sort(([a], [b]) => a < b ? -1 : 1));
}

/** A file of `bytes` random bytes, written a MiB at a time. */
async function randomFile(path: string, bytes: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(1024 * 1024);
  for (let left = bytes; left > 0; left -= chunk.length) {
    for (let i = 0; i < chunk.length; i += 65536) {
      crypto.getRandomValues(chunk.subarray(i, i + 65536));
    }
    await file.write(chunk.subarray(0, Math.min(left, chunk.length)));
  }
}

Deno.test({
  name: "webdav clients: rclone copy, sync and check a unicode tree with a 100 MB file both ways",
  ignore: !hasRclone,
  async fn() {
    await using share = await tempTree({});
    await using local = await tempTree({
      "Dír with space/naïve file.txt": "héllo wörld\n",
      "Dír with space/nested/deeper/日本語 ノート.md": "# 深い\n",
      "a & b + c (1).txt": "punctuation\n",
      "empty.txt": "",
      "plain/readme.txt": "plain\n",
    });
    await randomFile(join(local.path, "big.bin"), 100 * 1024 * 1024);
    await using server = await serveHttp(share.path, "--webdav", "--upload", "--quiet");
    const remote = [`--webdav-url=${server.url}/`, "--webdav-vendor=other"];
    const rclone = async (...args: string[]) => {
      const r = await run("rclone", [...args, ...remote]);
      assert.equal(r.code, 0, `rclone ${args.join(" ")}:\n${r.stderr}`);
      return r;
    };

    await rclone("copy", local.path, ":webdav:backup");
    assert.deepEqual(await treeDigest(join(share.path, "backup")), await treeDigest(local.path));
    await rclone("check", "--download", local.path, ":webdav:backup");

    // sync: one file changed, one removed, one added; the remote follows exactly.
    await Deno.writeTextFile(join(local.path, "plain/readme.txt"), "changed, longer than before\n");
    await Deno.remove(join(local.path, "a & b + c (1).txt"));
    await Deno.writeTextFile(join(local.path, "Dír with space/new ✓.txt"), "new\n");
    await rclone("sync", local.path, ":webdav:backup");
    await rclone("check", "--download", local.path, ":webdav:backup");
    assert.deepEqual(await treeDigest(join(share.path, "backup")), await treeDigest(local.path));

    // and back: a fresh folder from the server is byte-identical.
    await using back = await tempTree({});
    await rclone("copy", ":webdav:backup", back.path);
    assert.deepEqual(await treeDigest(back.path), await treeDigest(local.path));
    const leftovers = [...(await treeDigest(share.path)).keys()].filter((k) =>
      k.includes(".sockit-upload-")
    );
    assert.deepEqual(leftovers, []);
  },
});

Deno.test({
  name: "webdav clients: cadaver scripted — ls, mkdir, put, get, move, rm",
  ignore: !hasCadaver,
  async fn() {
    await using share = await tempTree({ "existing.txt": "was here\n" });
    await using local = await tempTree({ "up load.txt": "from cadaver ✓\n" });
    await using server = await serveHttp(share.path, "--webdav", "--upload", "--quiet");
    const script = [
      "ls",
      "mkdir inbox",
      "cd inbox",
      "put 'up load.txt'",
      "ls",
      "move 'up load.txt' moved.txt",
      "get moved.txt fetched.txt",
      "cd ..",
      "rm existing.txt",
      "ls",
      "quit",
      "",
    ].join("\n");
    const r = await run("cadaver", ["-t", `${server.url}/`], { cwd: local.path, stdin: script });
    const out = r.stdout;
    assert.match(out, /existing\.txt/, out);
    for (
      const step of [
        /Creating `inbox': succeeded/,
        /Uploading up load\.txt to `\/inbox\/up%20load\.txt': .*succeeded/,
        /Moving `\/inbox\/up load\.txt' to `\/inbox\/moved\.txt': +succeeded/,
        /Downloading `\/inbox\/moved\.txt' to fetched\.txt: .*succeeded/,
        /Deleting `existing\.txt': succeeded/,
      ]
    ) assert.match(out, step, out);
    assert.doesNotMatch(out, /failed/i, out);
    assert.equal(await Deno.readTextFile(join(share.path, "inbox/moved.txt")), "from cadaver ✓\n");
    assert.equal(await Deno.readTextFile(join(local.path, "fetched.txt")), "from cadaver ✓\n");
    await assert.rejects(Deno.stat(join(share.path, "inbox/up load.txt")), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(join(share.path, "existing.txt")), Deno.errors.NotFound);
  },
});
