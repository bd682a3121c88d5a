/**
 * sockit's argv parser: the part of commander 14's API that main.ts and lib/completions.ts use,
 * with commander's parsing rules, error messages and `--help` layout (`./help.ts`), written
 * here because importing commander cost ~30 ms and ~15 MiB at start-up (it pulls in Node's
 * events, child_process, path and fs modules). What is not here (variadic options, env vars,
 * conflicts, executable subcommands) throws when defined rather than half-work.
 *
 * Word by word `./scan.ts` splits argv; here values are parsed (a parser's
 * {@link InvalidArgumentError} becomes commander's "argument 'x' is invalid" error), the
 * subcommand is chosen, help is printed and the action runs. Errors go to `configureOutput`'s
 * `outputError`, then are thrown as {@link CommanderError} (`exitOverride()`) or exit.
 *
 * ```ts
 * import { Command, Option } from "./command.ts";
 * const program = new Command("demo").exitOverride();
 * program.command("serve")
 *   .argument("[dir]", "folder to serve")
 *   .option("--port <port>", "port to listen on", (v) => Number(v), 8000)
 *   .addOption(new Option("--mode <mode>", "framing").choices(["raw", "line"]).default("raw"))
 *   .option("--no-listing", "no folder pages")
 *   .action((dir, opts) => console.log(dir, opts)); // "site" { port: 9000, mode: "raw", listing: false }
 * program.parse(["serve", "site", "--port=9000", "--no-listing"], { from: "user" });
 * ```
 *
 * @module
 */
import { Help } from "./help.ts";
import {
  Argument,
  argumentCountError,
  argumentUsage,
  CommanderError,
  InvalidArgumentError,
  Option,
  type ValueParser,
} from "./option.ts";
import { defaultOutput, type OutputConfiguration } from "./output.ts";
import { scanArgs } from "./scan.ts";
import { suggestSimilar } from "./suggest.ts";

export { Argument, CommanderError, InvalidArgumentError, Option, type ValueParser };
export type { OutputConfiguration };

/** Parsed option values by camelCase name (`--max-connections` → `maxConnections`). */
// deno-lint-ignore no-explicit-any
export type OptionValues = Record<string, any>;
/** A `preAction` / `postAction` hook: the command it is on, and the one that runs. */
export type Hook = (thisCommand: Command, actionCommand: Command) => void | Promise<void>;

/** A program or subcommand: its flags, arguments, subcommands, help text and action. */
export class Command {
  /** Subcommands, in the order added (the implicit `help` is not among them). */
  readonly commands: Command[] = [];
  readonly options: Option[] = [];
  readonly registeredArguments: Argument[] = [];
  parent: Command | null = null;
  /** Operands and unknown options of the last parse. */
  args: string[] = [];
  /** The arguments handed to the action, after their parsers. */
  processedArgs: unknown[] = [];
  #name: string;
  #description = "";
  #optionValues: OptionValues = {};
  #defaults: OptionValues | null = null;
  #versionOption?: Option;
  #version?: string;
  /** undefined: `-h, --help` made on demand; null: none. */
  #helpOption: Option | null | undefined = undefined;
  #helpCommand?: Command;
  #action?: (args: unknown[]) => unknown;
  #hooks: Record<"preAction" | "postAction", Hook[]> = { preAction: [], postAction: [] };
  #helpText: Record<"before" | "after", string[]> = { before: [], after: [] };
  #exitOverride = false;
  #suggest = true;
  #output: OutputConfiguration = defaultOutput();

  constructor(name?: string) {
    this.#name = name ?? "";
  }

  /** Adds a subcommand (`"name"` or `"name <arg> [arg]"`) and returns it. */
  command(nameAndArgs: string): Command {
    const [name, ...args] = nameAndArgs.trim().split(/ +/);
    const cmd = new Command(name);
    for (const arg of args) cmd.argument(arg);
    if (this.findCommand(name) !== undefined) {
      throw new Error(`cannot add command '${name}' as already have command '${name}'`);
    }
    cmd.parent = this;
    // Settings made on the parent before this call carry over, as in commander.
    cmd.#output = this.#output;
    cmd.#helpOption = this.#helpOption;
    cmd.#exitOverride = this.#exitOverride;
    cmd.#suggest = this.#suggest;
    this.commands.push(cmd);
    return cmd;
  }

  name(): string;
  name(name: string): this;
  name(name?: string): string | this {
    if (name === undefined) return this.#name;
    this.#name = name;
    return this;
  }

  description(): string;
  description(text: string): this;
  description(text?: string): string | this {
    if (text === undefined) return this.#description;
    this.#description = text;
    return this;
  }

  /** `flags` (default `-V, --version`) print `version` and stop (exit code 0). */
  version(text: string, flags = "-V, --version", about = "output the version number"): this {
    this.#version = text;
    this.#versionOption = new Option(flags, about);
    this.#registerOption(this.#versionOption);
    return this;
  }

  /** The flags that print help (default `-h, --help`), or `false` for none. */
  helpOption(flags?: string | false, description?: string): this {
    this.#helpOption = flags === false
      ? null
      : new Option(flags ?? "-h, --help", description ?? "display help for command");
    return this;
  }

  showSuggestionAfterError(suggest = true): this {
    this.#suggest = suggest;
    return this;
  }

  /** Throw {@link CommanderError} instead of exiting (subcommands added later inherit it). */
  exitOverride(): this {
    this.#exitOverride = true;
    return this;
  }

  configureOutput(configuration: Partial<OutputConfiguration>): this {
    this.#output = { ...this.#output, ...configuration };
    return this;
  }

  /** Text printed before or after this command's own help (not its subcommands'). */
  addHelpText(position: "before" | "after", text: string): this {
    this.#helpText[position].push(text);
    return this;
  }

  /** A flag; with a parser, `defaultValue` is also the first `previous` it sees. */
  option(
    flags: string,
    description?: string,
    defaultValue?: string | boolean | string[] | number,
  ): this;
  option<T>(
    flags: string,
    description: string,
    parseArg: (value: string, previous: T) => T,
    defaultValue?: T,
  ): this;
  option(flags: string, description?: string, parse?: unknown, value?: unknown): this {
    const option = new Option(flags, description);
    if (typeof parse === "function") option.default(value).argParser(parse as ValueParser);
    else option.default(parse);
    return this.addOption(option);
  }

  addOption(option: Option): this {
    this.#registerOption(option);
    const key = option.attributeName();
    if (option.negate) {
      // `--no-x` alone means x is on unless given; with `--x` too, x stays unset.
      const positive = option.long!.replace(/^--no-/, "--");
      if (this.findOption(positive) === undefined) {
        this.#optionValues[key] = option.defaultValue ?? true;
      }
    } else if (option.defaultValue !== undefined) {
      this.#optionValues[key] = option.defaultValue;
    }
    return this;
  }

  argument(name: string, description?: string): this {
    return this.addArgument(new Argument(name, description));
  }

  addArgument(argument: Argument): this {
    const last = this.registeredArguments.at(-1);
    if (last?.variadic) throw new Error(`only the last argument can be variadic '${last.name()}'`);
    this.registeredArguments.push(argument);
    return this;
  }

  /** Runs before (`preAction`, root first) or after (`postAction`) the action. */
  hook(event: "preAction" | "postAction", hook: Hook): this {
    this.#hooks[event].push(hook);
    return this;
  }

  /** The action: called with each declared argument, then {@link opts}, then the command. */
  // deno-lint-ignore no-explicit-any
  action(fn: (...args: any[]) => void | Promise<void>): this {
    this.#action = (args) => {
      const actionArgs = args.slice(0, this.registeredArguments.length);
      actionArgs[this.registeredArguments.length] = this.opts();
      actionArgs.push(this);
      return fn.apply(this, actionArgs);
    };
    return this;
  }

  /** Option values by camelCase name. */
  opts<T extends OptionValues = OptionValues>(): T {
    return this.#optionValues as T;
  }

  /** `from: "node"` (default) skips argv[0] and argv[1]; `"user"` takes all of it. */
  parse(argv: string[], options: { from?: "node" | "user" } = {}): this {
    void this.#parseCommand([], this.#userArgs(argv, options));
    return this;
  }

  async parseAsync(argv: string[], options: { from?: "node" | "user" } = {}): Promise<this> {
    await this.#parseCommand([], this.#userArgs(argv, options));
    return this;
  }

  /** Help as `--help` prints it (without the texts added by {@link addHelpText}). */
  helpInformation(options: { error?: boolean } = {}): string {
    return this.#createHelp(options.error ?? false).formatHelp(this);
  }

  createHelp(): Help {
    return this.#createHelp(false);
  }

  /** Writes help to stdout (to stderr with `error`), then exits: 0, or 1 with `error`. */
  help(options: { error?: boolean } = {}): never {
    this.outputHelp(options);
    this.#exit(options.error ? 1 : 0, "commander.help", "(outputHelp)");
  }

  outputHelp(options: { error?: boolean } = {}): void {
    const write = options.error ? this.#output.writeErr : this.#output.writeOut;
    for (const text of this.#helpText.before) write(`${text}\n`);
    write(this.helpInformation(options));
    for (const text of this.#helpText.after) write(`${text}\n`);
  }

  /** `[options] [command] <args>`: what follows the name in the usage line. */
  usage(): string {
    return [
      ...(this.options.length > 0 || this.#helpOption !== null ? ["[options]"] : []),
      ...(this.commands.length > 0 ? ["[command]"] : []),
      ...this.registeredArguments.map(argumentUsage),
    ].join(" ");
  }

  /** Writes `message` through `outputError`, then exits (or throws). */
  error(message: string, options: { exitCode?: number; code?: string } = {}): never {
    this.#output.outputError(`${message}\n`, this.#output.writeErr);
    this.#exit(options.exitCode || 1, options.code ?? "commander.error", message);
  }

  findOption(arg: string): Option | undefined {
    return this.options.find((option) => option.is(arg));
  }

  findCommand(name: string | undefined): Command | undefined {
    return name ? this.commands.find((cmd) => cmd.#name === name) : undefined;
  }

  /** The help flag, or null when turned off. */
  helpFlag(): Option | null {
    if (this.#helpOption === undefined) this.helpOption();
    return this.#helpOption!;
  }

  /** `help [command]`: there when this has subcommands and no action of its own. */
  implicitHelpCommand(): Command | null {
    if (this.commands.length === 0 || this.#action !== undefined || this.findCommand("help")) {
      return null;
    }
    if (this.#helpCommand === undefined) {
      const help = new Command("help").helpOption(false).argument("[command]")
        .description("display help for command");
      this.#helpCommand = help;
    }
    return this.#helpCommand;
  }

  // --- parsing ------------------------------------------------------------------------------

  #userArgs(argv: string[], options: { from?: "node" | "user" }): string[] {
    this.#resetForParse();
    return options.from === "user" ? argv.slice() : argv.slice(2);
  }

  /** A second parse starts from the defaults again. */
  #resetForParse(): void {
    if (this.#defaults === null) this.#defaults = { ...this.#optionValues };
    else this.#optionValues = { ...this.#defaults };
    this.args = [];
    this.processedArgs = [];
  }

  #createHelp(error: boolean): Help {
    const width = error ? this.#output.getErrHelpWidth() : this.#output.getOutHelpWidth();
    return new Help(width);
  }

  #exit(exitCode: number, code: string, message: string): never {
    if (this.#exitOverride) throw new CommanderError(exitCode, code, message);
    Deno.exit(exitCode);
  }

  #registerOption(option: Option): void {
    const taken = (option.short && this.findOption(option.short)) ||
      (option.long && this.findOption(option.long));
    if (taken) {
      throw new Error(
        `Cannot add option '${option.flags}' due to conflicting flag '${taken.flags}'`,
      );
    }
    this.options.push(option);
  }

  #parseCommand(operands: string[], unknown: string[]): void | Promise<void> {
    const parsed = this.#parseOptions(unknown);
    operands = operands.concat(parsed.operands);
    unknown = parsed.unknown;
    this.args = operands.concat(unknown);
    const sub = this.findCommand(operands[0]);
    if (sub !== undefined) {
      sub.#resetForParse();
      return sub.#parseCommand(operands.slice(1), unknown);
    }
    const helpCommand = this.implicitHelpCommand();
    if (helpCommand !== null && operands[0] === helpCommand.name()) {
      return this.#dispatchHelpCommand(operands[1]);
    }
    if (this.commands.length > 0 && this.args.length === 0 && this.#action === undefined) {
      this.help({ error: true });
    }
    this.#outputHelpIfRequested(unknown);
    if (this.#action !== undefined) {
      if (unknown.length > 0) this.#unknownOption(unknown[0]);
      this.#processArguments();
      const action = this.#action;
      const steps = [
        ...this.#ancestry().reverse().flatMap((cmd) =>
          cmd.#hooks.preAction.map((hook) => () => hook(cmd, this))
        ),
        () => action(this.processedArgs),
        ...this.#ancestry().flatMap((cmd) =>
          cmd.#hooks.postAction.slice().reverse().map((hook) => () => hook(cmd, this))
        ),
      ];
      return runInOrder(steps);
    }
    if (operands.length > 0 && this.commands.length > 0) this.#unknownCommand(operands[0]);
    if (unknown.length > 0) this.#unknownOption(unknown[0]);
    if (this.commands.length > 0) this.help({ error: true });
    this.#processArguments();
  }

  #dispatchHelpCommand(name: string | undefined): void {
    if (!name) this.help();
    const sub = this.findCommand(name);
    if (sub === undefined) this.help({ error: true });
    sub.help();
  }

  #ancestry(): Command[] {
    const chain: Command[] = [this];
    for (let up = this.parent; up !== null; up = up.parent) chain.push(up);
    return chain;
  }

  /** Applies the options among `args`; returns the operands and the unknown rest. */
  #parseOptions(args: string[]): { operands: string[]; unknown: string[] } {
    const scanned = scanArgs(args, {
      findOption: (arg) => this.findOption(arg),
      digitOptions: this.#ancestry().some((cmd) =>
        cmd.options.some((o) => /^-\d$/.test(o.short ?? ""))
      ),
      hasSubcommands: this.commands.length > 0,
    });
    for (const { option, value } of scanned.values) this.#setOption(option, value);
    if (scanned.missingValue !== undefined) {
      this.error(`error: option '${scanned.missingValue.flags}' argument missing`, {
        code: "commander.optionMissingArgument",
      });
    }
    return scanned;
  }

  /** `value`: the text given; null for `[value]` left out; undefined for a switch. */
  #setOption(option: Option, value: string | null | undefined): void {
    if (option === this.#versionOption) {
      this.#output.writeOut(`${this.#version}\n`);
      this.#exit(0, "commander.version", this.#version!);
    }
    const key = option.attributeName();
    let result: unknown = value;
    if (value !== null && option.parseArg !== undefined) {
      result = this.#callParser(
        option.parseArg,
        value as string,
        this.#optionValues[key],
        `error: option '${option.flags}' argument '${value}' is invalid.`,
      );
    }
    if (result === null || result === undefined) {
      result = option.negate ? false : option.isBoolean() || option.optional ? true : "";
    }
    this.#optionValues[key] = result;
  }

  #callParser(parse: ValueParser, value: string, previous: unknown, prefix: string): unknown {
    try {
      return parse(value, previous);
    } catch (err) {
      if (err instanceof InvalidArgumentError) {
        this.error(`${prefix} ${err.message}`, { exitCode: err.exitCode, code: err.code });
      }
      throw err;
    }
  }

  #processArguments(): void {
    const declared = this.registeredArguments;
    const wrong = argumentCountError(declared, this.args, this.parent ? this.name() : undefined);
    if (wrong !== null) this.error(wrong.message, { code: wrong.code });
    const parseOne = (arg: Argument, value: string, previous: unknown) =>
      arg.parseArg === undefined ? value : this.#callParser(
        arg.parseArg,
        value,
        previous,
        `error: command-argument value '${value}' is invalid for argument '${arg.name()}'.`,
      );
    this.processedArgs = declared.map((arg, i) => {
      if (arg.variadic) {
        if (i >= this.args.length) return arg.defaultValue ?? [];
        const rest = this.args.slice(i);
        return arg.parseArg === undefined
          ? rest
          : rest.reduce<unknown>((previous, v) => parseOne(arg, v, previous), arg.defaultValue);
      }
      return i < this.args.length
        ? parseOne(arg, this.args[i], arg.defaultValue)
        : arg.defaultValue;
    });
  }

  #outputHelpIfRequested(args: string[]): void {
    const help = this.helpFlag();
    if (help !== null && args.some((arg) => help.is(arg))) {
      this.outputHelp();
      this.#exit(0, "commander.helpDisplayed", "(outputHelp)");
    }
  }

  #unknownOption(flag: string): never {
    let suggestion = "";
    if (flag.startsWith("--") && this.#suggest) {
      // This command's long flags and its parents' (commander offers them all).
      const candidates = this.#ancestry().flatMap((cmd) =>
        cmd.createHelp().visibleOptions(cmd).flatMap((o) => o.long ?? [])
      );
      suggestion = suggestSimilar(flag, candidates);
    }
    this.error(`error: unknown option '${flag}'${suggestion}`, { code: "commander.unknownOption" });
  }

  #unknownCommand(name: string): never {
    const candidates = this.createHelp().visibleCommands(this).map((cmd) => cmd.name());
    const suggestion = this.#suggest ? suggestSimilar(name, candidates) : "";
    this.error(`error: unknown command '${name}'${suggestion}`, {
      code: "commander.unknownCommand",
    });
  }
}

/** Runs `steps` one after another, waiting only for those that return a promise. */
function runInOrder(steps: (() => unknown)[]): void | Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const result = steps[i]();
    if (result instanceof Promise) {
      return result.then(() => runInOrder(steps.slice(i + 1)));
    }
  }
}
