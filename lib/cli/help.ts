/**
 * `--help` text for a {@link Command} of `./command.ts`, laid out as commander 14 lays it out
 * (so docs and tests that read `Usage:`, `Arguments:`, `Options:` and `Commands:` keep working):
 * a usage line, the description, then one section per kind of item, each item's term padded to
 * the widest term of the whole page and its description wrapped to the help width (80 columns
 * unless stdout is a terminal) once at least {@link MIN_WRAP_COLUMNS} columns are left for it.
 *
 * ```ts
 * import { Command } from "./command.ts";
 * import { Help } from "./help.ts";
 * const program = new Command("demo").description("a demo");
 * program.command("serve").argument("[dir]", "folder to serve").option("--port <port>", "port", "80");
 * const serve = program.commands[0];
 * console.log(new Help().formatHelp(serve));
 * // Usage: demo serve [options] [dir]  …  --port <port>  port (default: "80")
 * ```
 *
 * @module
 */
import type { Command } from "./command.ts";
import { type Argument, argumentUsage, Option } from "./option.ts";

/** Help width when stdout is not a terminal (and the terminal's when it reports none). */
export const DEFAULT_HELP_COLUMNS = 80;
/** Below this many columns for descriptions, they are not wrapped at all (commander's rule). */
export const MIN_WRAP_COLUMNS = 40;

/** Two spaces before every item, two between its term and its description. */
const ITEM_INDENT = 2;
const SPACER = 2;

/** Lays out the help of one command; `helpWidth` is the terminal's width, if known. */
export class Help {
  /** Columns to wrap to. */
  helpWidth: number;

  constructor(helpWidth: number = DEFAULT_HELP_COLUMNS) {
    this.helpWidth = helpWidth;
  }

  /** Subcommands shown (and completed), with the implicit `help` command last. */
  visibleCommands(cmd: Command): Command[] {
    const visible = cmd.commands.slice();
    const help = cmd.implicitHelpCommand();
    if (help !== null) visible.push(help);
    return visible;
  }

  /** Options shown, with the help flag last (minus whatever of it an option took over). */
  visibleOptions(cmd: Command): Option[] {
    const visible = cmd.options.filter((option) => !option.hidden);
    const help = cmd.helpFlag();
    if (help === null || help.hidden) return visible;
    const shortTaken = help.short !== undefined && cmd.findOption(help.short) !== undefined;
    const longTaken = help.long !== undefined && cmd.findOption(help.long) !== undefined;
    if (!shortTaken && !longTaken) visible.push(help);
    else if (help.long !== undefined && !longTaken) {
      visible.push(new Option(help.long, help.description));
    } else if (help.short !== undefined && !shortTaken) {
      visible.push(new Option(help.short, help.description));
    }
    return visible;
  }

  /** Arguments shown: all of them once one has a description, else none. */
  visibleArguments(cmd: Command): Argument[] {
    return cmd.registeredArguments.some((a) => a.description) ? cmd.registeredArguments : [];
  }

  /** `http-serve [options] [dir]`, as listed under `Commands:`. */
  subcommandTerm(cmd: Command): string {
    const args = cmd.registeredArguments.map(argumentUsage).join(" ");
    return cmd.name() + (cmd.options.length > 0 ? " [options]" : "") + (args ? ` ${args}` : "");
  }

  /** `sockit http-serve [options] [dir]`: ancestors, name, usage. */
  commandUsage(cmd: Command): string {
    let ancestors = "";
    for (let up = cmd.parent; up !== null; up = up.parent) ancestors = `${up.name()} ${ancestors}`;
    return `${ancestors}${cmd.name()} ${cmd.usage()}`;
  }

  /** An option's description with `(choices: …, default: …)` appended. */
  optionDescription(option: Option): string {
    const extra: string[] = [];
    if (option.argChoices !== undefined) extra.push(`choices: ${quotedList(option.argChoices)}`);
    if (option.defaultValue !== undefined) {
      const shown = option.required || option.optional ||
        (option.isBoolean() && typeof option.defaultValue === "boolean");
      if (shown) {
        extra.push(
          `default: ${option.defaultValueDescription || JSON.stringify(option.defaultValue)}`,
        );
      }
    }
    return withExtra(option.description, extra);
  }

  /** An argument's description with `(choices: …, default: …)` appended. */
  argumentDescription(argument: Argument): string {
    const extra: string[] = [];
    if (argument.argChoices !== undefined) {
      extra.push(`choices: ${quotedList(argument.argChoices)}`);
    }
    if (argument.defaultValue !== undefined) {
      extra.push(
        `default: ${argument.defaultValueDescription || JSON.stringify(argument.defaultValue)}`,
      );
    }
    return withExtra(argument.description, extra);
  }

  /** The whole help page, ending in a newline. */
  formatHelp(cmd: Command): string {
    const arguments_ = this.visibleArguments(cmd);
    const options = this.visibleOptions(cmd);
    const commands = this.visibleCommands(cmd);
    const termWidth = Math.max(
      0,
      ...arguments_.map((a) => a.name().length),
      ...options.map((o) => o.flags.length),
      ...commands.map((c) => this.subcommandTerm(c).length),
    );
    const item = (term: string, description: string) =>
      this.formatItem(term, termWidth, description);
    const section = (title: string, items: string[]) =>
      items.length === 0 ? [] : [title, ...items, ""];
    const description = cmd.description();
    return [
      `Usage: ${this.commandUsage(cmd)}`,
      "",
      ...(description.length > 0 ? [this.boxWrap(description, this.helpWidth), ""] : []),
      ...section("Arguments:", arguments_.map((a) => item(a.name(), this.argumentDescription(a)))),
      ...section("Options:", options.map((o) => item(o.flags, this.optionDescription(o)))),
      ...section(
        "Commands:",
        commands.map((c) => item(this.subcommandTerm(c), c.description())),
      ),
    ].join("\n");
  }

  /** `  term    description`, the description wrapped and indented under itself. */
  formatItem(term: string, termWidth: number, description: string): string {
    const indent = " ".repeat(ITEM_INDENT);
    if (!description) return indent + term;
    const remaining = this.helpWidth - termWidth - SPACER - ITEM_INDENT;
    let text = description;
    // A description with an indented continuation line is laid out by hand: left alone.
    if (remaining >= MIN_WRAP_COLUMNS && !/\n[^\S\r\n]/.test(description)) {
      text = this.boxWrap(description, remaining).replace(
        /\n/g,
        `\n${" ".repeat(termWidth + SPACER)}`,
      );
    }
    return indent + term.padEnd(termWidth) + " ".repeat(SPACER) +
      text.replace(/\n/g, `\n${indent}`);
  }

  /** `text` wrapped at whitespace to `width` columns (never below {@link MIN_WRAP_COLUMNS}). */
  boxWrap(text: string, width: number): string {
    if (width < MIN_WRAP_COLUMNS) return text;
    const wrapped: string[] = [];
    for (const line of text.split(/\r\n|\n/)) {
      const chunks = line.match(/\s*\S+/g);
      if (chunks === null) {
        wrapped.push("");
        continue;
      }
      let current = chunks[0];
      for (const chunk of chunks.slice(1)) {
        if (current.length + chunk.length <= width) {
          current += chunk;
        } else {
          wrapped.push(current);
          current = chunk.trimStart();
        }
      }
      wrapped.push(current);
    }
    return wrapped.join("\n");
  }
}

function quotedList(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

function withExtra(description: string, extra: string[]): string {
  if (extra.length === 0) return description;
  const suffix = `(${extra.join(", ")})`;
  return description ? `${description} ${suffix}` : suffix;
}
