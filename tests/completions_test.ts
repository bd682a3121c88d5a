/**
 * `sockit completions bash|zsh|fish` (lib/completions.ts): the scripts parse in their shell,
 * and bash (and fish, when installed) really complete with them — subcommands, flags,
 * `--mode` choices, folders for http-serve's DIR — from commander's definitions, so a flag
 * added to a command completes without a list to update.
 *
 * ```sh
 * deno test -A tests/completions_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Command, Option } from "../lib/cli/command.ts";
import { completionScript } from "../lib/completions.ts";
import { buildProgram } from "../main.ts";
import { commandExists, runCli, tempTree } from "./helpers.ts";

/** `sockit completions SHELL`, run once per shell. */
const scripts = new Map<string, Promise<string>>();
function cliScript(shell: string): Promise<string> {
  if (!scripts.has(shell)) {
    scripts.set(
      shell,
      runCli(["completions", shell]).then(({ code, stdout, stderr }) => {
        assert.equal(code, 0, stderr);
        assert.equal(stderr, "");
        return stdout;
      }),
    );
  }
  return scripts.get(shell)!;
}

/** Runs `shell args`; asserts exit 0 and returns stdout. */
async function run(shell: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(shell, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, `${shell} ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  assert.equal(dec.decode(out.stderr), "");
  return dec.decode(out.stdout);
}

/**
 * Completes the last of `words` as bash would on TAB: sources `script` in a clean bash,
 * finds the function `complete -p` registered for the program, sets COMP_WORDS/COMP_CWORD
 * and calls it. Returns COMPREPLY.
 */
async function bashComplete(script: string, words: string[], cwd?: string): Promise<string[]> {
  await using dir = await tempTree({ "completion.bash": script });
  const snippet = `
    source "$1"; shift
    fn=$(complete -p "$1" | sed -E 's/.* -F ([^ ]+) .*/\\1/')
    COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}
    "$fn" "$1" "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = await run(
    "bash",
    ["--norc", "--noprofile", "-c", snippet, "bash", join(dir.path, "completion.bash"), ...words],
    cwd,
  );
  return out.split("\n").filter((line) => line !== "");
}

Deno.test("completions: the bash script parses (bash -n)", async () => {
  await using dir = await tempTree({ "sockit.bash": await cliScript("bash") });
  await run("bash", ["-n", join(dir.path, "sockit.bash")]);
});

Deno.test("completions: bash completes `sockit http-serve --ma<TAB>` to the --max- flags", async () => {
  const reply = await bashComplete(await cliScript("bash"), ["sockit", "http-serve", "--ma"]);
  assert.deepEqual(reply.sort(), ["--max-body", "--max-connections", "--max-upload"]);
});

Deno.test("completions: bash completes choices, subcommands and DIR", async (t) => {
  const script = await cliScript("bash");
  await t.step("--mode after echo-server: raw line length", async () => {
    const words = ["sockit", "echo-server", "--port", "9000", "--mode", ""];
    assert.deepEqual(await bashComplete(script, words), ["raw", "line", "length"]);
  });
  await t.step("--mode=l (bash splits at '=')", async () => {
    const words = ["sockit", "echo-server", "--mode", "=", "l"];
    assert.deepEqual(await bashComplete(script, words), ["line", "length"]);
  });
  await t.step("a flag's value that has no choices completes to nothing", async () => {
    assert.deepEqual(await bashComplete(script, ["sockit", "echo-server", "--host", ""]), []);
  });
  await t.step("the first word: every subcommand (and commander's `help`)", async () => {
    const program = buildProgram();
    const names = program.createHelp().visibleCommands(program).map((c) => c.name());
    assert.ok(names.includes("http-serve") && names.includes("help"));
    assert.deepEqual((await bashComplete(script, ["sockit", ""])).sort(), names.sort());
  });
  await t.step("completions: the shells", async () => {
    const reply = await bashComplete(script, ["sockit", "completions", ""]);
    assert.deepEqual(reply, ["bash", "zsh", "fish"]);
  });
  await t.step("http-serve DIR: folders only, also after a flag's value", async () => {
    await using tree = await tempTree({ "site/": null, "site.txt": "x", "public/": null });
    const words = ["sockit", "http-serve", "--port", "8080", "si"];
    assert.deepEqual(await bashComplete(script, words, tree.path), ["site"]);
  });
  await t.step("--tls-cert: files", async () => {
    await using tree = await tempTree({ "cert.pem": "x", "site/": null });
    const reply = await bashComplete(
      script,
      ["sockit", "http-serve", "--tls-cert", "ce"],
      tree.path,
    );
    assert.deepEqual(reply, ["cert.pem"]);
  });
});

Deno.test("completions: every flag of every subcommand is in the bash script", async () => {
  const script = await cliScript("bash");
  for (const command of buildProgram().commands) {
    for (const option of command.options) {
      const reply = await bashComplete(script, ["sockit", command.name(), option.long!]);
      assert.ok(reply.includes(option.long!), `${command.name()} ${option.long}: ${reply}`);
    }
  }
});

Deno.test("completions: a flag added to a command completes, with its choices", async () => {
  const program = new Command("demo");
  program.command("serve")
    .addOption(new Option("--colour <when>", "colour output").choices(["auto", "always"]))
    .option("--config <file>", "read settings from FILE");
  const script = completionScript(program, { shell: "bash" });
  assert.deepEqual(await bashComplete(script, ["demo", "serve", "--co"]), ["--colour", "--config"]);
  assert.deepEqual(await bashComplete(script, ["demo", "serve", "--colour", "a"]), [
    "auto",
    "always",
  ]);
});

Deno.test("completions: a name no script can hold unquoted is refused, not written", () => {
  const program = new Command("demo");
  program.command("serve").addOption(new Option("--mode <m>").choices(["a b"]));
  assert.throws(() => completionScript(program, { shell: "bash" }), /'a b'/);
});

Deno.test("completions: the zsh script parses (zsh -n) and names every flag", async () => {
  const script = await cliScript("zsh");
  assert.match(script, /^#compdef sockit\n/);
  for (const command of buildProgram().commands) {
    for (const option of command.options) assert.ok(script.includes(`${option.long}`));
  }
  assert.match(script, /--mode=\[[^\]]*\]:mode:\(raw line length\)/);
  if (!await commandExists("zsh")) return;
  await using dir = await tempTree({ "_sockit": script });
  await run("zsh", ["-n", join(dir.path, "_sockit")]);
});

Deno.test("completions: the fish script parses (fish -n) and completes", async () => {
  const script = await cliScript("fish");
  assert.match(script, /-l mode -x -a 'raw line length'/);
  if (!await commandExists("fish")) return;
  await using dir = await tempTree({ "sockit.fish": script });
  const path = join(dir.path, "sockit.fish");
  await run("fish", ["--no-execute", path]);
  const complete = async (line: string) =>
    (await run("fish", ["--no-config", "-c", `source ${path}; complete -C '${line}'`]))
      .split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]);
  assert.deepEqual((await complete("sockit http-serve --ma")).sort(), [
    "--max-body",
    "--max-connections",
    "--max-upload",
  ]);
  assert.deepEqual((await complete("sockit echo-server --mode ")).sort(), [
    "length",
    "line",
    "raw",
  ]);
});
