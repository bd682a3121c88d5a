/**
 * lib/cli/command.ts, the argv parser that replaced commander: each form of flag and argument
 * it parses, each usage error's exact text (the CLI prints them, tests elsewhere match them),
 * the `--help` layout (sections, padding, `(default: …)`, `(choices: …)`, wrapping to 80
 * columns and not below 40), hooks and actions, and the suggestions for a mistyped flag.
 * Everything runs in-process: output goes to arrays through `configureOutput`.
 *
 * ```sh
 * deno test -A tests/cli_command_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  Argument,
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from "../lib/cli/command.ts";
import { DEFAULT_HELP_COLUMNS, Help, MIN_WRAP_COLUMNS } from "../lib/cli/help.ts";
import { scanArgs, type ScanResult } from "../lib/cli/scan.ts";
import { MAX_SUGGEST_DISTANCE, suggestSimilar } from "../lib/cli/suggest.ts";

/** A program whose output is captured; `width` is what a terminal would report. */
function program(width?: number) {
  const out: string[] = [];
  const err: string[] = [];
  const cmd = new Command("demo")
    .description("a demo program")
    .version("demo 1.0", "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.push(s),
      writeErr: (s) => err.push(s),
      getOutHelpWidth: () => width,
      getErrHelpWidth: () => width,
    });
  return { cmd, out, err };
}

/** A `serve` subcommand with one option of each kind; its action records what it got. */
function withServe(cmd: Command) {
  const calls: { dir: unknown; opts: OptionValues }[] = [];
  cmd.command("serve")
    .description("serve a folder")
    .argument("[dir]", "folder to serve")
    .option("--host <host>", "address to listen on", "0.0.0.0")
    .option("-p, --port <port>", "port to listen on", (v: string) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`'${v}' is not a port`);
      return Number(v);
    }, 8000)
    .addOption(
      new Option("--mode <mode>", "framing").choices(["raw", "line", "length"]).default("raw"),
    )
    .option("--compress [codings]", "compress answers")
    .option("--no-listing", "no folder pages")
    .option("--max-connections <n>", "connections at once", (v: string) => Number(v))
    .option("--header <header>", "add a header (repeatable)", (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option("-q, --quiet", "no log")
    .action((dir: unknown, opts: OptionValues) => {
      calls.push({ dir, opts: { ...opts } });
    });
  return calls;
}

/** Parses `args` (user form); returns the CommanderError thrown, or null. */
function attempt(cmd: Command, args: string[]): CommanderError | null {
  try {
    cmd.parse(args, { from: "user" });
    return null;
  } catch (e) {
    if (e instanceof CommanderError) return e;
    throw e;
  }
}

Deno.test("cli command: flags, values, negation, camelCase keys and defaults", async (t) => {
  const cases: [string[], unknown, OptionValues][] = [
    [["serve"], undefined, { host: "0.0.0.0", port: 8000, mode: "raw", listing: true }],
    [["serve", "site", "--port", "9000"], "site", { port: 9000 }],
    [["serve", "--port=9000", "site"], "site", { port: 9000 }],
    [["serve", "-p", "81"], undefined, { port: 81 }],
    [["serve", "-p81"], undefined, { port: 81 }],
    [["serve", "--no-listing"], undefined, { listing: false }],
    [["serve", "--max-connections", "5"], undefined, { maxConnections: 5 }],
    [["serve", "--mode", "line"], undefined, { mode: "line" }],
    [["serve", "--compress"], undefined, { compress: true }],
    [["serve", "--compress", "br", "site"], "site", { compress: "br" }],
    [["serve", "--compress", "--quiet"], undefined, { compress: true, quiet: true }],
    [["serve", "--compress=gzip"], undefined, { compress: "gzip" }],
    [["serve", "--header", "A: 1", "--header", "B: 2"], undefined, { header: ["A: 1", "B: 2"] }],
    [["serve", "--", "--port"], "--port", { port: 8000 }],
    [["serve", "-5"], "-5", {}],
    [["serve", "-q"], undefined, { quiet: true }],
  ];
  for (const [args, dir, expected] of cases) {
    await t.step(args.join(" "), () => {
      const { cmd } = program();
      const calls = withServe(cmd);
      assert.equal(attempt(cmd, args), null);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].dir, dir);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(calls[0].opts[key], value, key);
      }
    });
  }
});

Deno.test("cli command: each usage error, worded as commander words it", async (t) => {
  const cases: [string[], string, string][] = [
    [
      ["serve", "--prot", "1"],
      "commander.unknownOption",
      "error: unknown option '--prot'\n(Did you mean --port?)",
    ],
    [["serve", "--zzzzzz"], "commander.unknownOption", "error: unknown option '--zzzzzz'"],
    [
      ["serve", "--quiet=1"],
      "commander.unknownOption",
      "error: unknown option '--quiet=1'\n(Did you mean --quiet?)",
    ],
    [["serve", "-x"], "commander.unknownOption", "error: unknown option '-x'"],
    [
      ["serve", "a", "b"],
      "commander.excessArguments",
      "error: too many arguments for 'serve'. Expected 1 argument but got 2.",
    ],
    [
      ["serve", "--port"],
      "commander.optionMissingArgument",
      "error: option '-p, --port <port>' argument missing",
    ],
    [
      ["serve", "--port", "x"],
      "commander.invalidArgument",
      "error: option '-p, --port <port>' argument 'x' is invalid. 'x' is not a port",
    ],
    [
      ["serve", "--mode", "xml"],
      "commander.invalidArgument",
      "error: option '--mode <mode>' argument 'xml' is invalid. Allowed choices are raw, line, length.",
    ],
    [["srve"], "commander.unknownCommand", "error: unknown command 'srve'\n(Did you mean serve?)"],
    [["--port", "1", "serve"], "commander.unknownOption", "error: unknown option '--port'"],
  ];
  for (const [args, code, message] of cases) {
    await t.step(args.join(" "), () => {
      const { cmd, err } = program();
      const calls = withServe(cmd);
      const error = attempt(cmd, args);
      assert.ok(error !== null);
      assert.equal(error.code, code);
      assert.equal(error.exitCode, 1);
      assert.equal(error.message, message);
      assert.deepEqual(err, [`${message}\n`]);
      assert.equal(calls.length, 0);
    });
  }
});

Deno.test("cli command: arguments — required, variadic, choices, excess", async (t) => {
  const make = () => {
    const { cmd, err } = program();
    const got: unknown[][] = [];
    cmd.command("send")
      .argument("<address>", "where to")
      .argument("[message...]", "what")
      .action((address, messages, opts) => void got.push([address, messages, opts]));
    cmd.command("completions")
      .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh"]))
      .action((shell) => void got.push([shell]));
    cmd.command("plain").action(() => void got.push([]));
    return { cmd, err, got };
  };
  await t.step("variadic collects the rest, or is []", () => {
    const { cmd, got } = make();
    cmd.parse(["send", "h:1", "a", "b"], { from: "user" });
    cmd.parse(["send", "h:1"], { from: "user" });
    assert.deepEqual(got, [["h:1", ["a", "b"], {}], ["h:1", [], {}]]);
  });
  await t.step("a missing required argument", () => {
    const { cmd, err } = make();
    assert.equal(attempt(cmd, ["send"])?.code, "commander.missingArgument");
    assert.deepEqual(err, ["error: missing required argument 'address'\n"]);
  });
  await t.step("an argument outside its choices", () => {
    const { cmd, err, got } = make();
    assert.equal(attempt(cmd, ["completions", "tcsh"])?.code, "commander.invalidArgument");
    assert.deepEqual(err, [
      "error: command-argument value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh.\n",
    ]);
    cmd.parse(["completions", "zsh"], { from: "user" });
    assert.deepEqual(got, [["zsh"]]);
  });
  await t.step("no arguments declared: one is too many ('0 arguments')", () => {
    const { cmd, err } = make();
    assert.equal(attempt(cmd, ["plain", "x"])?.code, "commander.excessArguments");
    assert.deepEqual(err, [
      "error: too many arguments for 'plain'. Expected 0 arguments but got 1.\n",
    ]);
  });
  await t.step("from: node skips argv[0] and argv[1]", () => {
    const { cmd, got } = make();
    cmd.parse(["deno", "main.ts", "send", "h:1"], { from: "node" });
    assert.deepEqual(got, [["h:1", [], {}]]);
  });
});

Deno.test("cli command: --version, --help and help COMMAND stop with exit code 0", async (t) => {
  await t.step("--version anywhere, -V", () => {
    for (const args of [["--version"], ["-V"], ["serve", "--version"]]) {
      const { cmd, out } = program();
      withServe(cmd);
      const error = attempt(cmd, args);
      assert.equal(error?.code, "commander.version");
      assert.equal(error?.exitCode, 0);
      assert.deepEqual(out, ["demo 1.0\n"]);
    }
  });
  await t.step("--help prints help and the text added after it", () => {
    const { cmd, out } = program();
    withServe(cmd);
    cmd.addHelpText("after", "\nExamples:\n  demo serve");
    const error = attempt(cmd, ["--help"]);
    assert.equal(error?.code, "commander.helpDisplayed");
    assert.equal(error?.exitCode, 0);
    assert.equal(out.length, 2);
    assert.match(out[0], /^Usage: demo \[options\] \[command\]\n/);
    assert.equal(out[1], "\nExamples:\n  demo serve\n");
  });
  await t.step("help serve = serve --help; help nope = help on stderr, exit code 1", () => {
    const a = program();
    withServe(a.cmd);
    assert.equal(attempt(a.cmd, ["help", "serve"])?.exitCode, 0);
    const b = program();
    withServe(b.cmd);
    assert.equal(attempt(b.cmd, ["serve", "-h"])?.exitCode, 0);
    assert.deepEqual(a.out, b.out);
    assert.match(a.out.join(""), /^Usage: demo serve \[options\] \[dir\]\n/);
    const c = program();
    withServe(c.cmd);
    const error = attempt(c.cmd, ["help", "nope"]);
    assert.equal(error?.code, "commander.help");
    assert.equal(error?.exitCode, 1);
    assert.deepEqual(c.out, []);
    assert.match(c.err.join(""), /^Usage: demo \[options\] \[command\]/);
  });
  await t.step("a program with subcommands and nothing to run shows help as an error", () => {
    const { cmd, err } = program();
    withServe(cmd);
    assert.equal(attempt(cmd, [])?.exitCode, 1);
    assert.match(err.join(""), /^Usage: demo/);
  });
});

Deno.test("cli command: hooks run root first, around an async action, and may refuse", async () => {
  const { cmd } = program();
  const order: string[] = [];
  cmd.hook("preAction", (own, run) => void order.push(`root pre ${own.name()} ${run.name()}`));
  cmd.command("go")
    .option("--fail", "refuse in the hook")
    .hook("preAction", (own) => {
      order.push("go pre");
      if (own.opts().fail) throw new Error("refused");
    })
    .hook("postAction", () => void order.push("go post"))
    .action(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push("action");
    });
  await cmd.parseAsync(["go"], { from: "user" });
  assert.deepEqual(order, ["root pre demo go", "go pre", "action", "go post"]);
  await assert.rejects(cmd.parseAsync(["go", "--fail"], { from: "user" }), /refused/);
  assert.equal(order.at(-1), "go pre", "the action did not run");
});

Deno.test("cli command: a second parse starts from the defaults", () => {
  const { cmd } = program();
  const calls = withServe(cmd);
  cmd.parse(["serve", "--port", "1", "--header", "A: 1"], { from: "user" });
  cmd.parse(["serve"], { from: "user" });
  assert.equal(calls[1].opts.port, 8000);
  assert.equal(calls[1].opts.header, undefined);
});

Deno.test("cli command: flags that cannot work are refused when defined", () => {
  assert.throws(() => new Option("--files <names...>"), /variadic options are not supported/);
  assert.throws(() => new Option("-ab"), /option creation failed/);
  assert.throws(() => new Option("--a, --b"), /option creation failed/);
  const cmd = new Command("demo").option("--port <n>", "port");
  assert.throws(() => cmd.option("--port <n>", "again"), /conflicting flag/);
  assert.throws(() => cmd.argument("[rest...]").argument("[more]"), /only the last argument/);
});

Deno.test("cli command: option and argument introspection (what completions read)", () => {
  const option = new Option("-p, --max-port <n>", "highest port").choices(["1", "2"]);
  assert.equal(option.short, "-p");
  assert.equal(option.long, "--max-port");
  assert.equal(option.attributeName(), "maxPort");
  assert.ok(option.required && !option.optional && !option.negate && !option.isBoolean());
  assert.deepEqual(option.argChoices, ["1", "2"]);
  const negated = new Option("--no-listing");
  assert.ok(negated.negate);
  assert.equal(negated.attributeName(), "listing");
  const argument = new Argument("[message...]", "what");
  assert.equal(argument.name(), "message");
  assert.ok(!argument.required && argument.variadic);
  assert.ok(new Argument("plain").required);
  const { cmd } = program();
  withServe(cmd);
  const help = cmd.createHelp();
  assert.deepEqual(help.visibleCommands(cmd).map((c) => c.name()), ["serve", "help"]);
  assert.deepEqual(help.visibleOptions(cmd).map((o) => o.long), ["--version", "--help"]);
  const serve = cmd.commands[0];
  assert.deepEqual(help.visibleArguments(serve).map((a) => a.name()), ["dir"]);
});

Deno.test("cli command: --help layout — sections, padding, defaults and choices", () => {
  const { cmd } = program();
  withServe(cmd);
  cmd.command("completions").addArgument(
    new Argument("<shell>", "the shell").choices(["bash", "zsh"]),
  );
  assert.equal(
    cmd.helpInformation(),
    [
      "Usage: demo [options] [command]",
      "",
      "a demo program",
      "",
      "Options:",
      "  -V, --version          print the version",
      "  -h, --help             show help",
      "",
      "Commands:",
      "  serve [options] [dir]  serve a folder",
      "  completions <shell>",
      "  help [command]         display help for command",
      "",
    ].join("\n"),
  );
  assert.equal(
    cmd.commands[0].helpInformation(),
    [
      "Usage: demo serve [options] [dir]",
      "",
      "serve a folder",
      "",
      "Arguments:",
      "  dir                    folder to serve",
      "",
      "Options:",
      '  --host <host>          address to listen on (default: "0.0.0.0")',
      "  -p, --port <port>      port to listen on (default: 8000)",
      '  --mode <mode>          framing (choices: "raw", "line", "length", default:',
      '                         "raw")',
      "  --compress [codings]   compress answers",
      "  --no-listing           no folder pages",
      "  --max-connections <n>  connections at once",
      "  --header <header>      add a header (repeatable)",
      "  -q, --quiet            no log",
      "  -h, --help             show help",
      "",
    ].join("\n"),
  );
  assert.equal(
    cmd.commands[1].helpInformation(),
    [
      "Usage: demo completions [options] <shell>",
      "",
      "Arguments:",
      '  shell       the shell (choices: "bash", "zsh")',
      "",
      "Options:",
      "  -h, --help  show help",
      "",
    ].join("\n"),
  );
});

Deno.test(`cli command: descriptions wrap to ${DEFAULT_HELP_COLUMNS} columns (or the terminal's)`, async (t) => {
  const words = "one two three four five six seven eight nine ten eleven twelve thirteen";
  const longHelp = (width?: number) => {
    const { cmd } = program(width);
    cmd.option("--flag <value>", `${words} ${words}`);
    return cmd.helpInformation();
  };
  await t.step("not a terminal: 80 columns, continuation under the description", () => {
    const lines = longHelp().split("\n");
    const first = lines.findIndex((l) => l.startsWith("  --flag <value>  one two"));
    assert.ok(lines[first].length <= DEFAULT_HELP_COLUMNS && lines[first].length > 70);
    // Continued under the description: 2 + "--flag <value>".length + 2.
    assert.match(lines[first + 1], /^ {18}\S/);
    assert.ok(lines[first + 1].length <= DEFAULT_HELP_COLUMNS);
    assert.match(lines[first + 2], /^ {18}\S.*thirteen$/);
  });
  await t.step("a 200-column terminal: one line", () => {
    assert.ok(longHelp(200).split("\n").some((l) => l.endsWith("thirteen") && l.length > 150));
  });
  await t.step(
    `${MIN_WRAP_COLUMNS} columns left for descriptions wraps, ${MIN_WRAP_COLUMNS - 1} does not`,
    () => {
      const term = "--x <v>"; // the widest term: 2 + 7 + 2 + 40 = 51
      for (const [width, wraps] of [[51, true], [50, false]] as const) {
        const bare = new Command("x").helpOption(false).exitOverride()
          .configureOutput({ getOutHelpWidth: () => width });
        bare.option(term, words);
        assert.equal(bare.helpInformation().includes("\n    "), wraps, `width ${width}`);
      }
    },
  );
  await t.step("Help.boxWrap alone", () => {
    assert.equal(new Help().boxWrap("aaa bbb ccc", 40), "aaa bbb ccc");
    assert.equal(
      new Help().boxWrap(`${"a".repeat(30)} ${"b".repeat(30)}`, 40),
      `${"a".repeat(30)}\n${"b".repeat(30)}`,
    );
  });
});

Deno.test("cli command: suggestions — the closest within 3 edits, ties listed", () => {
  assert.equal(suggestSimilar("--prot", ["--port", "--host"]), "\n(Did you mean --port?)");
  assert.equal(suggestSimilar("--hots", ["--host", "--hots-x"]), "\n(Did you mean --host?)");
  assert.equal(
    suggestSimilar("--max", ["--max-body", "--max-frame", "--mix"]),
    "\n(Did you mean --mix?)",
  );
  assert.equal(suggestSimilar("--abcd", ["--wxyz"]), "");
  assert.equal(
    suggestSimilar("--hst", ["--host", "--hast"]),
    "\n(Did you mean one of --hast, --host?)",
  );
  // At the limit: 3 edits away is suggested; 4 is not.
  assert.equal(MAX_SUGGEST_DISTANCE, 3);
  assert.equal(
    suggestSimilar("--connections", ["--connectionsxyz"]),
    "\n(Did you mean --connectionsxyz?)",
  );
  assert.equal(suggestSimilar("--connections", ["--connectionswxyz"]), "");
});

Deno.test("cli scan: groups, digit options, [value] and a value missing at the end", () => {
  const quiet = new Option("-q, --quiet");
  const port = new Option("-p, --port <port>");
  const level = new Option("--level [n]");
  const one = new Option("-1, --once");
  const options = [quiet, port, level, one];
  const context = (digitOptions: boolean, hasSubcommands = false) => ({
    findOption: (arg: string) => options.find((o) => o.is(arg)),
    digitOptions,
    hasSubcommands,
  });
  const values = (r: ScanResult) => r.values.map((v) => [v.option.name(), v.value]);

  const grouped = scanArgs(["-qp80", "x"], context(false));
  assert.deepEqual(values(grouped), [["quiet", undefined], ["port", "80"]]);
  assert.deepEqual(grouped.operands, ["x"]);

  // "-5": a value when no option is a digit (and the command has no subcommands).
  assert.deepEqual(scanArgs(["-5"], context(false)).operands, ["-5"]);
  assert.deepEqual(scanArgs(["-5"], context(false, true)).unknown, ["-5"]);
  assert.deepEqual(scanArgs(["-5"], context(true)).unknown, ["-5"]);
  assert.deepEqual(values(scanArgs(["--level", "-5"], context(false))), [["level", "-5"]]);
  assert.deepEqual(values(scanArgs(["--level", "-q"], context(false))), [
    ["level", null],
    ["quiet", undefined],
  ]);

  // Words after the first unknown option go with it (to the subcommand, or an error); known
  // options among them are still taken.
  const rest = scanArgs(["a", "--what", "b", "--quiet", "--", "c"], context(false));
  assert.deepEqual(rest.operands, ["a"]);
  assert.deepEqual(rest.unknown, ["--what", "b", "--", "c"]);
  assert.deepEqual(values(rest), [["quiet", undefined]]);

  const missing = scanArgs(["-q", "--port"], context(false));
  assert.equal(missing.missingValue, port);
  assert.deepEqual(values(missing), [["quiet", undefined]]);
  assert.equal(scanArgs(["--port", ""], context(false)).missingValue, undefined);
});
