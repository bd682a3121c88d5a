/**
 * The docs stay true to the CLI: every long flag a subcommand's `--help` prints appears in
 * `docs/SUBCOMMAND.md`, and README.md and docs/*.md have no dead relative links
 * (`scripts/check_links.ts`, also run by `.ci/run`).
 *
 * ```ts
 * import { longFlags } from "./docs_test.ts";
 * console.log(longFlags("Options:\n  --port <port>  port\n  -h, --help  show help\n"));
 * // ["--port", "--help"]
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  defaultMarkdownFiles,
  findDeadLinks,
  formatDeadLink,
  REPO_ROOT,
} from "../scripts/check_links.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** `sockit ARGS` from source, its stdout with colours stripped; fails on a non-zero exit. */
async function sockitHelp(args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "main.ts"), ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).replace(ANSI, "");
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `sockit ${args.join(" ")} failed:\n${stderr}`);
  return stdout;
}

/** The lines of one section (`Options:`, `Commands:`) of commander's help, up to a blank line. */
function helpSection(help: string, title: string): string[] {
  const lines = help.split("\n");
  const start = lines.findIndex((line) => line.trim() === title);
  if (start === -1) return [];
  const end = lines.findIndex((line, i) => i > start && line.trim() === "");
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/**
 * The long flags a help text declares: the option names at the start of each entry of its
 * `Options:` section (flags mentioned in descriptions or examples are not declarations).
 */
export function longFlags(help: string): string[] {
  const flags: string[] = [];
  for (const line of helpSection(help, "Options:")) {
    const declared = /^\s{1,4}(?:-[A-Za-z], )?(--[a-z0-9][a-z0-9-]*)/.exec(line);
    if (declared) flags.push(declared[1]);
  }
  return flags;
}

/** The subcommands `sockit --help` lists, without commander's own `help`. */
export function subcommands(help: string): string[] {
  return helpSection(help, "Commands:")
    .map((line) => /^\s{1,4}([a-z][a-z0-9-]*)\b/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== "help");
}

async function readDoc(name: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(join(REPO_ROOT, "docs", `${name}.md`));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Whether `flag` appears in a Markdown page as a flag, not as the prefix of a longer one. */
function mentions(page: string, flag: string): boolean {
  const escaped = flag.replace(/[-]/g, "\\-");
  return new RegExp(`${escaped}(?![a-z0-9-])`).test(page);
}

Deno.test("docs: every long flag in a subcommand's --help appears in docs/SUBCOMMAND.md", async () => {
  const names = subcommands(await sockitHelp(["--help"]));
  assert.ok(names.length >= 4, `sockit --help lists too few subcommands: ${names.join(", ")}`);
  const problems: string[] = [];
  for (const name of names) {
    const flags = longFlags(await sockitHelp([name, "--help"]));
    const page = await readDoc(name);
    if (page === null) {
      const real = flags.filter((flag) => flag !== "--help");
      if (real.length > 0) {
        problems.push(`${name}: no docs/${name}.md, but it takes ${real.join(", ")}`);
      }
      continue;
    }
    for (const flag of flags) {
      if (!mentions(page, flag)) {
        problems.push(`${name}: ${flag} is in '${name} --help' but not in docs/${name}.md`);
      }
    }
  }
  assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
});

Deno.test("docs: longFlags reads declarations only, and mentions() needs the whole flag", () => {
  const help = [
    "Usage: sockit x [options]",
    "",
    "Options:",
    "  --tls-cert <file>   serve TLS (needs --tls-key)",
    "                      continued, see --unstable-net",
    "  --no-listing        404 for folders",
    "  -h, --help          show help",
    "",
    "Examples:",
    "  sockit x --examples-only",
  ].join("\n");
  assert.deepEqual(longFlags(help), ["--tls-cert", "--no-listing", "--help"]);
  assert.ok(!mentions("`--tls-cert-out FILE`", "--tls-cert"));
  assert.ok(mentions("`--tls-cert FILE`, `--tls-cert-out`", "--tls-cert"));
});

Deno.test("docs: README.md and docs/*.md have no dead relative links", async () => {
  const files = await defaultMarkdownFiles();
  assert.ok(files.length > 1, "docs/ holds no Markdown pages");
  const dead = await findDeadLinks(files);
  assert.deepEqual(dead.map(formatDeadLink), []);
});

Deno.test("docs: the link checker finds missing files and missing headings", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "docs"));
    await Deno.writeTextFile(
      join(root, "docs", "a.md"),
      "# A page\n\n## TLS: `--tls-cert`, `--tls-cert auto` and pinning\n\n## Repeat\n\n## Repeat\n",
    );
    await Deno.writeTextFile(
      join(root, "README.md"),
      [
        "# Top",
        "[ok](docs/a.md) [ok](docs/a.md#tls---tls-cert---tls-cert-auto-and-pinning)",
        "[ok](docs/a.md#repeat-1) [ok](#top) [ok](https://example.org/nothing.md)",
        "`[in code](missing-in-code.md)`",
        "```",
        "[in a block](missing-in-block.md)",
        "```",
        "[dead](docs/missing.md)",
        "![dead image](docs/chart.svg)",
        "[dead anchor](docs/a.md#no-such-heading)",
        "[ref]: docs/gone.md",
      ].join("\n"),
    );
    const dead = await findDeadLinks(["README.md", "docs/a.md"], { root });
    assert.deepEqual(dead.map((d) => `${d.line} ${d.target}`), [
      "8 docs/missing.md",
      "9 docs/chart.svg",
      "10 docs/a.md#no-such-heading",
      "11 docs/gone.md",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
