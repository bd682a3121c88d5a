/**
 * Tests for scripts/compile.ts and for the executable it builds.
 *
 * - The pure parts (arguments, permissions, failure messages) run everywhere.
 * - At load, the real task is run once (`scripts/compile.ts --output TMP/sockit`). When it
 *   succeeds (a denort is cached or downloadable, or DENORT_BIN points at one) the binary is
 *   run like a user would: `--version`, `--help`, the embedded site from an unrelated
 *   working directory, a folder, an echo round trip, a usage error. When no denort can be had
 *   and DENORT_BIN is unset, those tests are reported as ignored, with the reason printed, and
 *   the task's own failure is checked instead: one line, exit 1, naming DENORT_BIN.
 *
 * ```sh
 * deno test -A tests/compile_test.ts
 * DENORT_BIN=/path/to/denort deno test -A tests/compile_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import {
  compileArgs,
  explainCompileFailure,
  findWorkerModules,
  hostTarget,
  outputName,
  RELEASE_TARGETS,
  RUNTIME_PERMISSIONS,
  RUNTIME_UNSTABLE_FEATURES,
  SOURCE_DIRS,
  workerEntryPoints,
} from "../scripts/compile.ts";
import { MAIN, ROOT, startServer } from "./helpers.ts";

const COMPILE_SCRIPT = `${ROOT}scripts/compile.ts`;

// --- pure parts -----------------------------------------------------------------------------

Deno.test("compile: arguments embed static/, name the target and never grant everything", () => {
  const args = compileArgs({ target: "aarch64-apple-darwin", output: "dist/x" });
  assert.equal(args[0], "compile");
  assert.equal(args.at(-1), "main.ts");
  assert.deepEqual(args.slice(args.indexOf("--include"), args.indexOf("--include") + 2), [
    "--include",
    "static",
  ]);
  assert.equal(args[args.indexOf("--target") + 1], "aarch64-apple-darwin");
  assert.equal(args[args.indexOf("--output") + 1], "dist/x");
  for (const permission of RUNTIME_PERMISSIONS) assert.ok(args.includes(permission));
  assert.ok(args.includes("--unstable-net"), "--workers needs reusePort inside the binary");
  const grants = args.filter((a) => a.startsWith("--allow-") || a === "-A");
  assert.deepEqual(grants, [...RUNTIME_PERMISSIONS], "no permission beyond the documented list");
  assert.ok(!grants.some((g) => g === "-A" || g === "--allow-all"));
  assert.ok(!grants.some((g) => g === "--allow-sys" || g === "--allow-run"));
  assert.ok(!grants.some((g) => g.startsWith("--allow-env")), "nothing reads the environment");
});

Deno.test("compile: Web Worker entry points are found in source and embedded", () => {
  const source = `
    const a = new Worker(new URL("./worker_entry.ts", import.meta.url), { type: "module" });
    const b = new Worker(
      new URL('../x/other.ts', import.meta.url),
    );
    const c = new Worker(someUrl); // not statically known: nothing to embed
  `;
  assert.deepEqual(workerEntryPoints(source), ["./worker_entry.ts", "../x/other.ts"]);
  const args = compileArgs({
    target: "x86_64-unknown-linux-gnu",
    output: "dist/sockit",
    workerModules: ["lib/worker_entry.ts"],
  });
  const includes = args.flatMap((a, i) => a === "--include" ? [args[i + 1]] : []);
  assert.deepEqual(includes, ["static", "lib/worker_entry.ts"]);
});

Deno.test("compile: every module that starts a Worker has its entry point embedded", async () => {
  const modules = await findWorkerModules();
  for (const module of modules) assert.ok((await Deno.stat(`${ROOT}${module}`)).isFile, module);
  // Cross-check with a plain scan: a file that says `new Worker(new URL(` must yield a module.
  for (const dir of SOURCE_DIRS) {
    const scan = new Deno.Command("grep", {
      args: ["-rlE", "new Worker\\(new URL\\(", `${ROOT}${dir}`],
      stdout: "piped",
      stderr: "null",
    });
    const files = new TextDecoder().decode((await scan.output()).stdout).trim();
    if (files) assert.ok(modules.length > 0, `workers started in ${files}, none embedded`);
  }
});

Deno.test("compile: release set covers linux/macOS x86_64+aarch64 and Windows x86_64", () => {
  assert.deepEqual([...RELEASE_TARGETS].sort(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.equal(
    outputName("x86_64-pc-windows-msvc", { withTarget: true }),
    "sockit-x86_64-pc-windows-msvc.exe",
  );
  assert.equal(
    outputName("aarch64-apple-darwin", { withTarget: true }),
    "sockit-aarch64-apple-darwin",
  );
  assert.equal(outputName("x86_64-unknown-linux-gnu", { withTarget: false }), "sockit");
});

// Recorded from `deno compile` 2.9.6 on a machine without network (colours included).
const OFFLINE_STDERR = "\x1b[0m\x1b[32mCompile\x1b[0m main.ts to sockit\n" +
  "\x1b[0m\x1b[32mDownload\x1b[0m https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip\n" +
  "\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'sockit.tmp-1'\n\n" +
  "Caused by:\n    0: Setting up base binary.\n" +
  "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known\n" +
  "    2: client error (Connect)\n\nStack backtrace:\n   0: <unknown>\n";
const MISSING_STDERR =
  "\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'x'\n\n" +
  "Caused by:\n    0: Could not find denort at '/nope/denort'\n    1: No such file or directory (os error 2)\n";

Deno.test("compile: an offline denort download becomes one line naming DENORT_BIN", () => {
  const err = explainCompileFailure(OFFLINE_STDERR, "x86_64-unknown-linux-gnu");
  assert.equal(err.code, "DENORT_DOWNLOAD");
  assert.ok(!err.message.includes("\n"));
  assert.match(err.message, /denort-x86_64-unknown-linux-gnu\.zip/);
  assert.match(err.message, /DENORT_BIN=\/path\/to\/denort/);
});

Deno.test("compile: a DENORT_BIN that does not exist is named", () => {
  const err = explainCompileFailure(MISSING_STDERR, "x86_64-unknown-linux-gnu");
  assert.equal(err.code, "DENORT_MISSING");
  assert.equal(
    err.message,
    "DENORT_BIN=/nope/denort does not exist: point it at the denort binary for x86_64-unknown-linux-gnu",
  );
});

Deno.test("compile: any other failure keeps deno's first error line", () => {
  const err = explainCompileFailure(
    '\x1b[31merror\x1b[0m: Module not found "file:///x/main.ts".\n    at foo\n',
    "x86_64-unknown-linux-gnu",
  );
  assert.equal(err.code, "COMPILE");
  assert.match(err.detail, /at foo/, "deno's full output is kept for the user");
  assert.equal(
    err.message,
    'deno compile failed for x86_64-unknown-linux-gnu: Module not found "file:///x/main.ts".',
  );
});

Deno.test("compile: `deno task start` runs with the same permissions as the binary", () => {
  const flags = denoJson.tasks.start.split(/\s+/);
  const grants = flags.filter((a) => a.startsWith("--allow-"));
  assert.deepEqual(grants.toSorted(), [...RUNTIME_PERMISSIONS].sort());
  const unstable = flags.filter((a) => a.startsWith("--unstable-"));
  assert.deepEqual(unstable.toSorted(), [...RUNTIME_UNSTABLE_FEATURES].sort());
});

/** `deno run` with exactly the binary's permissions: what the binary can do, runnable anywhere. */
function runWithBinaryPermissions(args: string[], cwd?: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...RUNTIME_UNSTABLE_FEATURES, ...RUNTIME_PERMISSIONS, MAIN, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("compile: the baked-in permissions are enough for every subcommand", async (t) => {
  const workDir = await Deno.makeTempDir({ prefix: "sockit-permissions-" });
  const decoder = new TextDecoder();
  try {
    await t.step("--help, with no environment access", async () => {
      const out = await runWithBinaryPermissions(["--help"]).output();
      assert.equal(decoder.decode(out.stderr), "");
      assert.equal(out.code, 0);
      assert.match(decoder.decode(out.stdout), /http-serve/);
    });
    await t.step("http-serve DIR reads a folder anywhere", async () => {
      await Deno.writeTextFile(join(workDir, "hello.txt"), "hello from a folder\n");
      await using server = await startServer([], {
        command: runWithBinaryPermissions(
          ["http-serve", workDir, "--port", "0", "--host", "127.0.0.1"],
          workDir,
        ),
      });
      const res = await fetch(`http://127.0.0.1:${server.port}/hello.txt`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "hello from a folder\n");
      assert.equal(server.stderr(), "");
    });
    await t.step("http-serve DIR --upload stores a file", async () => {
      await using server = await startServer([], {
        command: runWithBinaryPermissions(
          ["http-serve", workDir, "--port", "0", "--host", "127.0.0.1", "--upload"],
          workDir,
        ),
      });
      const res = await fetch(`http://127.0.0.1:${server.port}/uploaded.txt`, {
        method: "PUT",
        body: "stored by the binary\n",
      });
      assert.equal(res.status, 201, await res.text());
      assert.equal(
        await Deno.readTextFile(join(workDir, "uploaded.txt")),
        "stored by the binary\n",
      );
      assert.equal(server.stderr(), "");
    });
    await t.step({
      name: "http-serve --workers 2 (workers inherit the permissions)",
      ignore: (await findWorkerModules()).length === 0,
      fn: async () => {
        await using server = await startServer([], {
          command: runWithBinaryPermissions(
            ["http-serve", "--workers", "2", "--port", "0", "--host", "127.0.0.1"],
            workDir,
          ),
        });
        for (let i = 0; i < 4; i++) {
          const res = await fetch(`http://127.0.0.1:${server.port}/favicon.ico`);
          assert.equal(res.status, 200);
          assert.deepEqual(await res.bytes(), await Deno.readFile(`${ROOT}static/favicon.ico`));
        }
        // On Linux reusePort works, so no "falling back to 1 worker" notice.
        if (Deno.build.os === "linux") assert.equal(server.stderr(), "");
      },
    });
    await t.step("echo-server and echo-client round trip", async () => {
      await using server = await startServer([], {
        command: runWithBinaryPermissions(["echo-server", "--port", "0", "--host", "127.0.0.1"]),
      });
      const out = await runWithBinaryPermissions([
        "echo-client",
        `127.0.0.1:${server.port}`,
        "hello",
        "--expect",
        "hello",
      ]).output();
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.match(decoder.decode(out.stdout), /hello/);
      assert.equal(server.stderr(), "");
    });
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
});

// --- the real task and the binary ------------------------------------------------------------

const buildDir = await Deno.makeTempDir({ prefix: "sockit-compile-test-" });
const binary = join(buildDir, outputName(hostTarget(), { withTarget: false }));
const build = await new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-all", COMPILE_SCRIPT, "--output", binary],
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
}).output();
const buildStderr = new TextDecoder().decode(build.stderr);
const denortBinSet = Deno.env.get("DENORT_BIN") !== undefined;
// Ignore only when the one thing missing is the runtime download and nobody asked for a
// denort: a DENORT_BIN that does not work, or a program that does not compile, must fail.
const binaryTestsIgnored = !build.success && !denortBinSet &&
  /could not download it/.test(buildStderr);
if (binaryTestsIgnored) {
  await Deno.remove(buildDir, { recursive: true });
  console.log(
    `compile_test: compiled-binary tests ignored: no denort here (${buildStderr.trim()})`,
  );
} else {
  // Also when a filter skips the binary test below.
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(buildDir, { recursive: true });
    } catch { /* already removed */ }
  });
}

Deno.test({
  name: "compile: without a denort the task fails with one line naming DENORT_BIN, exit 1",
  // Only observable where the download failed; where it worked the next test covers the task.
  ignore: build.success || !/denort/.test(buildStderr),
  fn() {
    assert.equal(build.code, 1, buildStderr);
    const lines = buildStderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `one line, got:\n${buildStderr}`);
    assert.match(lines[0], /^compile: /);
    assert.match(lines[0], denortBinSet ? /DENORT_BIN=/ : /DENORT_BIN=\/path\/to\/denort/);
    assert.doesNotMatch(buildStderr, /Stack backtrace|\bat file:/);
  },
});

/** Runs the compiled binary to completion. */
async function runBinary(args: string[], options: { cwd?: string } = {}) {
  const out = await new Deno.Command(binary, {
    args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Starts `binary ARGS` as a server in `cwd`; resolves once it printed its listening line. */
function startBinary(args: string[], cwd?: string) {
  return startServer(args, {
    command: new Deno.Command(binary, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  });
}

Deno.test({
  name: "compile: the binary runs every subcommand with its baked-in permissions",
  ignore: binaryTestsIgnored,
  async fn(t) {
    const workDir = await Deno.makeTempDir({ prefix: "sockit-compiled-cwd-" });
    try {
      assert.ok(build.success, `deno task compile failed: ${buildStderr}`);
      assert.match(new TextDecoder().decode(build.stdout), /MiB/);

      await t.step("--version prints sockit's version, Deno's and the target", async () => {
        const { code, stdout, stderr } = await runBinary(["--version"]);
        assert.equal(code, 0, stderr);
        assert.match(
          stdout.trim(),
          new RegExp(`^sockit ${denoJson.version} \\(deno \\S+, \\S+\\)$`),
        );
      });

      await t.step("--help works, with no environment access", async () => {
        const { code, stdout, stderr } = await runBinary(["--help"]);
        assert.equal(code, 0, stderr);
        assert.match(stdout, /echo-server/);
        assert.match(stdout, /http-serve/);
        assert.equal(stderr, "");
      });

      await t.step("http-serve with no DIR serves the embedded site from any cwd", async () => {
        // The binary's folder has no static/; the working directory has a decoy one.
        await Deno.mkdir(join(workDir, "static"), { recursive: true });
        await Deno.writeTextFile(join(workDir, "static", "index.html"), "decoy");
        await using server = await startBinary(
          ["http-serve", "--port", "0", "--host", "127.0.0.1"],
          workDir,
        );
        for (
          const [path, file, type] of [
            ["/", "index.html", /^text\/html/],
            ["/sockit.jpg", "sockit.jpg", /^image\/jpeg$/],
            ["/favicon.ico", "favicon.ico", /^image\/(x-icon|vnd\.microsoft\.icon)$/],
          ] as const
        ) {
          const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
          const body = await res.bytes();
          assert.equal(res.status, 200, path);
          assert.match(res.headers.get("content-type") ?? "", type, path);
          assert.deepEqual(body, await Deno.readFile(`${ROOT}static/${file}`), path);
        }
        assert.equal(server.stderr(), "");
      });

      await t.step("http-serve DIR serves a folder (read permission)", async () => {
        const site = join(workDir, "site");
        await Deno.mkdir(site, { recursive: true });
        await Deno.writeTextFile(join(site, "hello.txt"), "hello from a folder\n");
        await using server = await startBinary(
          ["http-serve", site, "--port", "0", "--host", "127.0.0.1"],
          workDir,
        );
        const res = await fetch(`http://127.0.0.1:${server.port}/hello.txt`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "hello from a folder\n");
      });

      await t.step("http-serve DIR --upload stores a file (write permission)", async () => {
        const share = join(workDir, "share");
        await Deno.mkdir(share, { recursive: true });
        await using server = await startBinary(
          ["http-serve", share, "--upload", "--port", "0", "--host", "127.0.0.1"],
          workDir,
        );
        const res = await fetch(`http://127.0.0.1:${server.port}/note.txt`, {
          method: "PUT",
          body: "stored by the compiled binary\n",
        });
        assert.equal(res.status, 201, await res.text());
        assert.equal(
          await Deno.readTextFile(join(share, "note.txt")),
          "stored by the compiled binary\n",
        );
      });

      await t.step({
        name: "http-serve --workers 2 (the embedded worker module)",
        ignore: (await findWorkerModules()).length === 0,
        fn: async () => {
          await using server = await startBinary(
            ["http-serve", "--workers", "2", "--port", "0", "--host", "127.0.0.1"],
            workDir,
          );
          for (let i = 0; i < 4; i++) {
            const res = await fetch(`http://127.0.0.1:${server.port}/sockit.jpg`);
            assert.equal(res.status, 200);
            assert.deepEqual(await res.bytes(), await Deno.readFile(`${ROOT}static/sockit.jpg`));
          }
          // --unstable-net is baked in: on Linux the workers share the port, no fallback notice.
          if (Deno.build.os === "linux") assert.equal(server.stderr(), "");
        },
      });

      await t.step("echo-server and echo-client round trip", async () => {
        await using server = await startBinary(
          ["echo-server", "--port", "0", "--host", "127.0.0.1"],
          workDir,
        );
        const { code, stdout, stderr } = await runBinary([
          "echo-client",
          `127.0.0.1:${server.port}`,
          "hello",
          "--expect",
          "hello",
        ]);
        assert.equal(code, 0, stderr);
        assert.match(stdout, /hello/);
      });

      await t.step("an unknown flag is one line on stderr and exit 2", async () => {
        const { code, stdout, stderr } = await runBinary(["http-serve", "--no-such-flag"]);
        assert.equal(code, 2);
        assert.equal(stdout, "");
        assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
        assert.match(stderr, /^sockit: .*--no-such-flag/);
      });
    } finally {
      await Deno.remove(workDir, { recursive: true });
      await Deno.remove(buildDir, { recursive: true }).catch(() => {});
    }
  },
});
