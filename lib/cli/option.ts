/**
 * The definitions a {@link Command} of `./command.ts` is built from: {@link Option} (`--port
 * <port>`, `-q, --quiet`, `--no-listing`, `--compress [codings]`), {@link Argument} (`<address>`,
 * `[dir]`, `[message...]`), and the errors a value parser throws. Each knows its own name,
 * its key in `opts()` and how it appears in `--help`; the parsing is in `./scan.ts` and
 * `./command.ts`.
 *
 * ```ts
 * import { Argument, Option } from "./option.ts";
 * const mode = new Option("--max-connections <n>", "open connections").default(100);
 * console.log(mode.long, mode.attributeName(), mode.required); // "--max-connections" "maxConnections" true
 * const dir = new Argument("[dir]", "folder to serve");
 * console.log(dir.name(), dir.required); // "dir" false
 * ```
 *
 * @module
 */

/** A usage error, `--help` or `--version`: `exitCode` 0 for the last two. */
export class CommanderError extends Error {
  /** Stable: `commander.unknownOption`, `commander.helpDisplayed`, `commander.version`… */
  readonly code: string;
  readonly exitCode: number;
  constructor(exitCode: number, code: string, message: string) {
    super(message);
    this.name = "CommanderError";
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Thrown by a value parser: becomes "option '--x <n>' argument 'v' is invalid. MESSAGE". */
export class InvalidArgumentError extends CommanderError {
  constructor(message: string) {
    super(1, "commander.invalidArgument", message);
    this.name = "InvalidArgumentError";
  }
}

/** Turns an option's or argument's text into its value; `previous` allows repeatable flags. */
// deno-lint-ignore no-explicit-any
export type ValueParser = (value: string, previous: any) => any;
/** What options and positional arguments share: a default, a value parser, choices. */
class ValueSpec {
  defaultValue?: unknown;
  defaultValueDescription?: string;
  parseArg?: ValueParser;
  argChoices?: string[];

  /** The value when it is absent; `description` replaces it in `--help`. */
  default(value: unknown, description?: string): this {
    this.defaultValue = value;
    this.defaultValueDescription = description;
    return this;
  }

  argParser(parse: ValueParser): this {
    this.parseArg = parse;
    return this;
  }

  /** Only these values: anything else is "Allowed choices are a, b." */
  choices(values: readonly string[]): this {
    this.argChoices = values.slice();
    this.parseArg = (arg: string) => checkChoice(this.argChoices!, arg);
    return this;
  }
}

/** One `--flag`, `-f, --flag <value>` or `--flag [value]`. */
export class Option extends ValueSpec {
  readonly flags: string;
  description: string;
  /** `<value>`: the flag needs one. */
  readonly required: boolean;
  /** `[value]`: the flag may take one. */
  readonly optional: boolean;
  /** Always false: `<values...>` options are refused (sockit has none). */
  readonly variadic: boolean = false;
  readonly short?: string;
  readonly long?: string;
  /** `--no-x`: sets `x` to false. */
  readonly negate: boolean;
  hidden = false;

  constructor(flags: string, description?: string) {
    super();
    this.flags = flags;
    this.description = description ?? "";
    this.required = flags.includes("<");
    this.optional = flags.includes("[");
    if (/\w\.\.\.[>\]]$/.test(flags)) {
      throw new Error(`variadic options are not supported: '${flags}'`);
    }
    [this.short, this.long] = splitFlags(flags);
    this.negate = this.long?.startsWith("--no-") ?? false;
  }

  hideHelp(hide = true): this {
    this.hidden = hide;
    return this;
  }

  /** `max-connections` (`--` dropped; the short flag when there is no long one). */
  name(): string {
    return this.long !== undefined ? this.long.replace(/^--/, "") : this.short!.replace(/^-/, "");
  }

  /** The key in {@link Command.opts}: `maxConnections`; `listing` for `--no-listing`. */
  attributeName(): string {
    return camelCase(this.negate ? this.name().replace(/^no-/, "") : this.name());
  }

  is(arg: string): boolean {
    return this.short === arg || this.long === arg;
  }

  /** A plain switch: no value, not negated. */
  isBoolean(): boolean {
    return !this.required && !this.optional && !this.negate;
  }
}

/** One positional argument: `<name>` required, `[name]` optional, `[name...]` the rest. */
export class Argument extends ValueSpec {
  description: string;
  readonly required: boolean;
  readonly variadic: boolean;
  readonly #name: string;

  constructor(name: string, description?: string) {
    super();
    this.description = description ?? "";
    this.required = !name.startsWith("[");
    let bare = /^[<[]/.test(name) ? name.slice(1, -1) : name;
    this.variadic = bare.endsWith("...");
    if (this.variadic) bare = bare.slice(0, -3);
    this.#name = bare;
  }

  name(): string {
    return this.#name;
  }
}

function checkChoice(choices: string[], arg: string): string {
  if (!choices.includes(arg)) {
    throw new InvalidArgumentError(`Allowed choices are ${choices.join(", ")}.`);
  }
  return arg;
}

/**
 * Commander's "missing required argument" / "too many arguments" for `given` operands, or
 * null when they fit; `command` names a subcommand in the message.
 */
export function argumentCountError(
  declared: readonly Argument[],
  given: readonly string[],
  command?: string,
): { code: string; message: string } | null {
  const missing = declared.find((arg, i) => arg.required && given[i] == null);
  if (missing !== undefined) {
    return {
      code: "commander.missingArgument",
      message: `error: missing required argument '${missing.name()}'`,
    };
  }
  if (declared.at(-1)?.variadic || given.length <= declared.length) return null;
  const forSub = command === undefined ? "" : ` for '${command}'`;
  const s = declared.length === 1 ? "" : "s";
  return {
    code: "commander.excessArguments",
    message: `error: too many arguments${forSub}. Expected ${declared.length} argument${s} ` +
      `but got ${given.length}.`,
  };
}

/** `<name>`, `[name]`, `[name...]`: how an argument appears in a usage line. */
export function argumentUsage(argument: Argument): string {
  const name = argument.name() + (argument.variadic ? "..." : "");
  return argument.required ? `<${name}>` : `[${name}]`;
}

function camelCase(name: string): string {
  return name.split("-").reduce((out, word) => out + word[0].toUpperCase() + word.slice(1));
}

/** `-h, --help` → ["-h", "--help"]; also `--help`, `-h`, `-h --help`, `-h|--help`. */
function splitFlags(flags: string): [string | undefined, string | undefined] {
  const parts = flags.split(/[ |,]+/).filter((p) => p.startsWith("-"));
  const short = parts.find((p) => /^-[^-]$/.test(p));
  const long = parts.find((p) => /^--[^-]/.test(p));
  if (parts.length > (short ? 1 : 0) + (long ? 1 : 0) || (!short && !long)) {
    throw new Error(`option creation failed: '${flags}' needs at most one -x and one --long flag`);
  }
  return [short, long];
}
