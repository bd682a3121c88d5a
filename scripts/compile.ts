/**
 * Builds the standalone `sockit` executable with `deno compile`: the built-in site
 * (`static/`) embedded, only the npm packages the program imports (`--exclude-unused-npm`),
 * and only the permissions the three subcommands need (never `-A`).
 *
 * ```sh
 * deno task compile                                  # dist/sockit for this machine
 * deno task compile:all                              # five release targets into dist/
 * deno run -A scripts/compile.ts --output /tmp/sockit   # this machine, another path
 * DENORT_BIN=/path/to/denort deno task compile       # offline: bring your own runtime
 * ```
 *
 * `deno compile` copies a small runtime (`denort`) and appends the program to it; it downloads
 * that runtime from Deno's release host on first use. Offline, the download fails: this script
 * turns that into one line that says so and how `DENORT_BIN` fixes it, exit code 1.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };

/** Repository root (absolute). */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Where builds go, relative to {@link ROOT}. */
export const DIST_DIR = "dist";
/** The program's entry point, relative to {@link ROOT}. */
export const ENTRY = "main.ts";
/** The folder embedded as the built-in site (http-serve with no DIR). */
export const SITE_DIR = "static";

/** The targets `compile:all` builds for a release. */
export const RELEASE_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/**
 * Permissions baked into the binary (a compiled program cannot be given flags later).
 * - net: listen, accept, connect (all three subcommands).
 * - read: the served folder, anywhere the user points it; the embedded site.
 * - write: `http-serve --upload` stores files in the served folder (uploads are off unless
 *   asked for, and then confined to that folder by the same path rules as reading).
 * - sys=networkInterfaces: http-serve lists its LAN URLs when bound to 0.0.0.0.
 * - no env: nothing reads the environment (commander read three colour variables; the
 *   in-repo lib/cli/command.ts reads none).
 */
export const RUNTIME_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-sys=networkInterfaces",
];

/**
 * Unstable runtime features baked into the binary, like the permissions:
 * `--unstable-net` lets `--workers N` share the port with `Deno.listen({ reusePort })`
 * (without it the workers fall back to one, with a notice).
 */
export const RUNTIME_UNSTABLE_FEATURES: readonly string[] = ["--unstable-net"];

/**
 * V8 settings baked into the binary and carried by `deno task start` and the bench alike.
 * `--max-semi-space-size=2` (MiB; V8's default grows the young generation to 16 MiB per
 * semi-space): a server allocates many short-lived objects per request, and the default
 * lets the young generation balloon under load — measured with wrk -c64 on a 1 KiB file,
 * peak RSS 127–130 MiB → 71–75 MiB, req/s within the run-to-run noise (docs/performance.md).
 */
export const RUNTIME_V8_FLAGS: readonly string[] = ["--v8-flags=--max-semi-space-size=2"];

/**
 * Flags that make the binary smaller without changing what it does.
 * `--exclude-unused-npm` embeds only the npm packages reachable from the module graph,
 * not every package of deno.json "imports" / the lockfile. The graph holds static imports
 * and dynamic imports whose specifier is a string literal (`await import("tar-stream")`,
 * mapped or `npm:`), so lazily imported packages stay embedded; a package reached only
 * through a computed specifier (`import(name)`) would be dropped and must be listed in
 * {@link NPM_DYNAMIC_INCLUDES}. tests/compile_test.ts checks both with `deno info`.
 */
export const SIZE_FLAGS: readonly string[] = ["--exclude-unused-npm"];

/**
 * npm packages the program imports only through computed specifiers, which the module
 * graph cannot see: each is embedded with `--include npm:<name>`. None today; the
 * compile test fails when a computed `import()` appears in main.ts or lib/.
 */
export const NPM_DYNAMIC_INCLUDES: readonly string[] = [];

/**
 * Why a build failed; `code` is stable, `message` is the one line the user sees. `detail`
 * keeps deno's own output for failures in the program itself (type errors), which the user
 * needs in full.
 */
export class CompileError extends Error {
  constructor(
    readonly code: "DENORT_DOWNLOAD" | "DENORT_MISSING" | "DENORT_NOT_RUNTIME" | "COMPILE",
    message: string,
    readonly detail = "",
  ) {
    super(message);
    this.name = "CompileError";
  }
}

/** The target triple of the machine running this script, as `deno compile --target` spells it. */
export function hostTarget(): string {
  return Deno.build.target;
}

/** File name of a build: `sockit` for this machine, `sockit-TARGET` in a release set. */
export function outputName(target: string, options: { withTarget: boolean }): string {
  const base = options.withTarget ? `sockit-${target}` : "sockit";
  return target.includes("windows") ? `${base}.exe` : base;
}

/** Folders whose modules are scanned for Web Worker entry points. */
export const SOURCE_DIRS = ["lib"];

/**
 * Worker entry points named in `source` as `new Worker(new URL("./x.ts", import.meta.url))`,
 * as written (relative to that file). `deno compile` embeds only the static import graph, and
 * a worker's module is not part of it: each must be passed with `--include`, or
 * `--workers N` fails inside the binary alone.
 */
export function workerEntryPoints(source: string): string[] {
  const pattern =
    /new\s+Worker\s*\(\s*new\s+URL\s*\(\s*(["'])([^"']+)\1\s*,\s*import\.meta\.url\s*\)/g;
  return [...source.matchAll(pattern)].map((m) => m[2]);
}

/**
 * The `import(…)` expressions of `source`, comments aside: `literal` holds the specifiers
 * written as one string literal (deno's module graph sees those), `computed` the source
 * text of every other argument (deno cannot know what it loads).
 */
export function dynamicImports(source: string): { literal: string[]; computed: string[] } {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const literal: string[] = [];
  const computed: string[] = [];
  for (const m of code.matchAll(/(?<![\w$.])import\s*\(\s*([^)]*)\)/g)) {
    const arg = m[1].trim();
    const str = /^(["'`])([^"'`$]*)\1\s*(?:,[\s\S]*)?$/.exec(arg);
    if (str) literal.push(str[2]);
    else computed.push(arg);
  }
  return { literal, computed };
}

/** Every worker entry point under {@link SOURCE_DIRS}, relative to {@link ROOT}, sorted. */
export async function findWorkerModules(): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await visit(path);
      else if (entry.name.endsWith(".ts")) {
        for (const ref of workerEntryPoints(await Deno.readTextFile(join(ROOT, path)))) {
          const module = resolve(ROOT, dir, ref);
          // A match inside a doc comment may name an example path; embed only real files.
          if (await Deno.stat(module).then((i) => i.isFile, () => false)) {
            found.add(relative(ROOT, module).replaceAll("\\", "/"));
          }
        }
      }
    }
  };
  for (const dir of SOURCE_DIRS) await visit(dir);
  return [...found].sort();
}

/** The `deno compile` arguments for one build (paths relative to {@link ROOT}). */
export function compileArgs(
  options: { target: string; output: string; workerModules?: readonly string[] },
): string[] {
  return [
    "compile",
    "--quiet",
    ...RUNTIME_PERMISSIONS,
    ...RUNTIME_UNSTABLE_FEATURES,
    ...RUNTIME_V8_FLAGS,
    ...SIZE_FLAGS,
    "--include",
    SITE_DIR,
    ...NPM_DYNAMIC_INCLUDES.flatMap((name) => ["--include", `npm:${name}`]),
    ...(options.workerModules ?? []).flatMap((module) => ["--include", module]),
    "--target",
    options.target,
    "--output",
    options.output,
    ENTRY,
  ];
}

// deno compile prints coloured text; the messages are matched on plain text.
// deno-lint-ignore no-control-regex
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

/**
 * Maps `deno compile`'s stderr to a one-line {@link CompileError}. Pure, so every known
 * failure shape is unit-testable without a network.
 */
export function explainCompileFailure(stderr: string, target: string): CompileError {
  const text = stderr.replace(ANSI_ESCAPE, "");
  const missing = /Could not find denort at '([^']*)'/.exec(text);
  if (missing) {
    return new CompileError(
      "DENORT_MISSING",
      `DENORT_BIN=${missing[1]} does not exist: point it at the denort binary for ${target}`,
    );
  }
  const download = /error sending request for url \((https?:\/\/[^)\s]*denort[^)\s]*)\)/.exec(
    text,
  );
  if (download || /Setting up base binary/.test(text)) {
    const url = download?.[1] ?? "Deno's release host";
    return new CompileError(
      "DENORT_DOWNLOAD",
      `cannot build for ${target}: deno compile needs its runtime (denort) and could not ` +
        `download it from ${url} (no network?); set DENORT_BIN=/path/to/denort ` +
        `(the denort ${Deno.version.deno} for ${target}, from a machine that can download it)`,
    );
  }
  const firstError = text.split("\n").find((line) => /^error:/.test(line.trim()));
  return new CompileError(
    "COMPILE",
    `deno compile failed for ${target}: ${
      (firstError ?? text.trim().split("\n").at(-1) ?? "no output").replace(/^\s*error:\s*/, "")
    }`,
    text.trim(),
  );
}

/** Options for {@link compileSockit}. */
export interface CompileOptions {
  /** Target triple. Default: this machine's. */
  target?: string;
  /** Output path, absolute or relative to {@link ROOT}. Default: `dist/sockit`. */
  output?: string;
  /**
   * The runtime to append the program to. Default: `$DENORT_BIN`. It is used only when
   * `target` is this machine's: a denort is built for one platform.
   */
  denortBin?: string;
}

/**
 * Compiles sockit for one target. For this machine's target it also runs the result with
 * `--version`: a full `deno` binary given as DENORT_BIN compiles "successfully" but yields
 * a copy of the deno CLI, which that check catches.
 */
export async function compileSockit(options: CompileOptions = {}): Promise<string> {
  const target = options.target ?? hostTarget();
  const output = options.output ?? `${DIST_DIR}/${outputName(target, { withTarget: false })}`;
  const isHost = target === hostTarget();
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.DENORT_BIN;
  const denortBin = options.denortBin ?? Deno.env.get("DENORT_BIN");
  if (denortBin && isHost) env.DENORT_BIN = denortBin;

  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs({ target, output, workerModules: await findWorkerModules() }),
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (!result.success) throw explainCompileFailure(stderr, target);

  const outputPath = resolve(ROOT, output);
  if (isHost) await verifyRuns(outputPath, denortBin);
  return outputPath;
}

/** Runs `binary --version` and checks that it is sockit's answer, not deno's. */
async function verifyRuns(binary: string, denortBin: string | undefined): Promise<void> {
  const out = await new Deno.Command(binary, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const printed = new TextDecoder().decode(out.stdout).trim();
  if (out.success && printed === denoJson.version) return;
  await Deno.remove(binary).catch(() => {});
  if (/^deno \d/.test(printed)) {
    throw new CompileError(
      "DENORT_NOT_RUNTIME",
      `DENORT_BIN=${denortBin} is the full deno CLI, not denort: the binary it made runs ` +
        `as deno itself; point DENORT_BIN at the denort ${Deno.version.deno} runtime`,
    );
  }
  throw new CompileError(
    "COMPILE",
    `the compiled binary does not run: '${binary} --version' printed '${
      printed.split("\n")[0]
    }' (exit ${out.code})`,
  );
}

async function fileSize(path: string): Promise<string> {
  const { size } = await Deno.stat(path);
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

async function runFromCommandLine(args: string[]): Promise<number> {
  let values: { all?: boolean; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        all: { type: "boolean" },
        output: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`compile: ${(err as Error).message}`);
    return 2;
  }
  if (values.help) {
    console.log(
      "usage: deno task compile [--output PATH]   build dist/sockit for this machine\n" +
        "       deno task compile:all                build every release target into dist/\n" +
        "env:   DENORT_BIN=/path/to/denort           use this runtime instead of downloading it",
    );
    return 0;
  }
  if (values.all && values.output) {
    console.error("compile: --output builds one binary; it cannot be combined with --all");
    return 2;
  }
  try {
    await Deno.mkdir(resolve(ROOT, DIST_DIR), { recursive: true });
    // This machine's target first: with DENORT_BIN set, it is the one that can succeed offline.
    const targets = values.all
      ? [...RELEASE_TARGETS].sort((a, b) => Number(b === hostTarget()) - Number(a === hostTarget()))
      : [hostTarget()];
    for (const target of targets) {
      const output = values.output ??
        `${DIST_DIR}/${outputName(target, { withTarget: values.all === true })}`;
      const path = await compileSockit({ target, output });
      console.log(`${relative(ROOT, path)}  ${await fileSize(path)}  (${target})`);
    }
    return 0;
  } catch (err) {
    if (err instanceof CompileError) {
      if (err.detail) console.error(err.detail);
      console.error(`compile: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) {
  Deno.exit(await runFromCommandLine(Deno.args));
}
