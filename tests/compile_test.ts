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
  dynamicImports,
  explainCompileFailure,
  findWorkerModules,
  hostTarget,
  NPM_DYNAMIC_INCLUDES,
  outputName,
  RELEASE_TARGETS,
  RUNTIME_PERMISSIONS,
  RUNTIME_UNSTABLE_FEATURES,
  RUNTIME_V8_FLAGS,
  SIZE_FLAGS,
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

Deno.test("compile: --exclude-unused-npm is on; worker modules, static/ and npm includes embedded", async () => {
  const workerModules = await findWorkerModules();
  // Every subcommand that takes --workers starts one: http-serve, echo-server, time-server.
  assert.deepEqual(workerModules, [
    "lib/echo/worker.ts",
    "lib/http/server/worker.ts",
    "lib/time/worker.ts",
  ]);
  const args = compileArgs({ target: hostTarget(), output: "dist/x", workerModules });
  assert.ok(args.includes("--exclude-unused-npm"), "the binary embeds only imported npm packages");
  for (const flag of SIZE_FLAGS) assert.ok(args.includes(flag), flag);
  const included = args.flatMap((a, i) => args[i - 1] === "--include" ? [a] : []);
  assert.deepEqual(included, [
    "static",
    ...NPM_DYNAMIC_INCLUDES.map((name) => `npm:${name}`),
    ...workerModules,
  ]);
  // The options that change behaviour sit before the entry point, never after it (script args).
  assert.ok(args.indexOf("--exclude-unused-npm") < args.indexOf("main.ts"));
});

Deno.test("compile: dynamicImports tells string-literal specifiers from computed ones", () => {
  const { literal, computed } = dynamicImports(`
    const { pack } = await import("tar-stream");          // mapped in deno.json
    const qr = await import('npm:@paulmillr/qr@^0.3.0', { with: {} });
    const mod = await import(\`./lib/\${name}.ts\`);
    const other = await import(specifier);
    // await import(commented);
    /* import(blockCommented) */
    thing.import(notAnImport);
  `);
  assert.deepEqual(literal, ["tar-stream", "npm:@paulmillr/qr@^0.3.0"]);
  assert.deepEqual(computed, ["`./lib/${name}.ts`", "specifier"]);
});

/** Every .ts file the binary is built from: main.ts and everything under lib/. */
async function programSources(): Promise<{ path: string; text: string }[]> {
  const out = [{ path: "main.ts", text: await Deno.readTextFile(`${ROOT}main.ts`) }];
  const visit = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await visit(path);
      else if (entry.name.endsWith(".ts")) {
        out.push({ path, text: await Deno.readTextFile(`${ROOT}${path}`) });
      }
    }
  };
  await visit("lib");
  return out;
}

/** npm package names (no version) in deno's module graph of `modules` (`deno info --json`). */
async function npmPackagesInGraph(modules: string[], cwd = ROOT): Promise<Set<string>> {
  const names = new Set<string>();
  for (const module of modules) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", `${ROOT}deno.json`, module],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    // `npmPackages` lists the whole lockfile snapshot; the graph's own npm entries are the
    // modules of kind "npm": the roots --exclude-unused-npm keeps (with their dependencies).
    for (const m of info.modules as { kind: string; npmPackage?: string }[]) {
      if (m.kind === "npm" && m.npmPackage) names.add(m.npmPackage.replace(/(.)@[^@]*$/, "$1"));
    }
  }
  return names;
}

/** The npm package a specifier loads (via deno.json "imports" or `npm:`), or null. */
function npmPackageOf(specifier: string): string | null {
  const imports = denoJson.imports as Record<string, string>;
  const target = imports[specifier] ?? specifier;
  const m = /^npm:(@[^/@]+\/[^/@]+|[^/@]+)/.exec(target);
  return m ? m[1] : null;
}

Deno.test("compile: --exclude-unused-npm keeps what lazy imports load — deno's graph sees them", async (t) => {
  await t.step(
    "a string-literal import() of a mapped package is in the graph; a computed one is not",
    async () => {
      // What tests the premise on this deno: deno info builds the graph deno compile prunes by.
      const dir = await Deno.makeTempDir({ prefix: "sockit-lazy-npm-" });
      try {
        await Deno.writeTextFile(
          `${dir}/lazy.ts`,
          'export const load = () => import("@paulmillr/qr");\n' +
            'const name = "mime-types";\nexport const hidden = () => import(name);\n',
        );
        const graph = await npmPackagesInGraph([`${dir}/lazy.ts`], dir);
        assert.ok(graph.has("@paulmillr/qr"), `lazy literal import missing from ${[...graph]}`);
        assert.ok(!graph.has("mime-types"), "a computed import() is invisible to the graph");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );

  const sources = await programSources();
  await t.step("main.ts and lib/ have no computed import() (or list its package)", () => {
    for (const { path, text } of sources) {
      const { computed } = dynamicImports(text);
      assert.ok(
        computed.length === 0 || NPM_DYNAMIC_INCLUDES.length > 0,
        `${path}: import(${computed[0]}) is invisible to deno compile's module graph; use a ` +
          "string literal, or add its npm package to NPM_DYNAMIC_INCLUDES in scripts/compile.ts",
      );
    }
  });

  await t.step(
    "every npm package the source imports, eagerly or lazily, is in the graph",
    async () => {
      const imported = new Set<string>();
      for (const { text } of sources) {
        const code = text.replace(/\/\*[\s\S]*?\*\//g, "");
        const specifiers = [
          ...[...code.matchAll(/^\s*(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']/gm)]
            .map((m) => m[1]),
          ...[...code.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map((m) => m[1]),
          ...dynamicImports(text).literal,
        ];
        for (const specifier of specifiers) {
          const name = npmPackageOf(specifier);
          if (name) imported.add(name);
        }
      }
      assert.ok(imported.size > 0, "the scan found the program's npm imports");
      const graph = await npmPackagesInGraph([
        `${ROOT}main.ts`,
        ...(await findWorkerModules()).map((m) => `${ROOT}${m}`),
      ]);
      for (const name of [...imported, ...NPM_DYNAMIC_INCLUDES]) {
        assert.ok(
          graph.has(name) || NPM_DYNAMIC_INCLUDES.includes(name),
          `${name} is imported but not in deno's module graph: --exclude-unused-npm would drop it`,
        );
      }
    },
  );
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
  const v8 = flags.filter((a) => a.startsWith("--v8-flags"));
  assert.deepEqual(v8, [...RUNTIME_V8_FLAGS]);
  assert.ok(
    compileArgs({ target: "x86_64-unknown-linux-gnu", output: "x" }).includes(RUNTIME_V8_FLAGS[0]),
    "the binary carries the same V8 flags",
  );
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
