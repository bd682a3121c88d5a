/**
 * Splits one command's argv into its option values, its operands, and the first unknown
 * option with everything after it (which the CLI then hands to a subcommand or refuses), by
 * commander's rules: `--opt value`, `--opt=value`, `-o value`, `-ovalue`, `-abc` for three
 * switches, `[value]` taken only when the next word is not an option, `--` ending options, and
 * "-5" read as a value when no option is a digit. Pure: no values are parsed and nothing is
 * printed here; `./command.ts` applies the result.
 *
 * ```ts
 * import { Option } from "./option.ts";
 * import { scanArgs } from "./scan.ts";
 * const port = new Option("--port <port>");
 * const result = scanArgs(["site", "--port=80", "--nope", "x"], {
 *   findOption: (arg) => port.is(arg) ? port : undefined,
 *   digitOptions: false,
 *   hasSubcommands: false,
 * });
 * console.log(result.operands, result.unknown, result.values[0].value); // ["site"] ["--nope", "x"] "80"
 * ```
 *
 * @module
 */
import type { Option } from "./option.ts";

/** What {@link scanArgs} needs to know of the command. */
export interface ScanContext {
  /** The option `arg` (`--port`, `-p`) names, if the command has it. */
  findOption(arg: string): Option | undefined;
  /** Some option of the command or its parents is a digit (`-1`): "-5" is then an option. */
  digitOptions: boolean;
  /** The command has subcommands: "-5" is then an unknown option, not an operand. */
  hasSubcommands: boolean;
}

/** One option as given: `value` is its text, null for a `[value]` left out, undefined for a switch. */
export interface OptionToken {
  option: Option;
  value: string | null | undefined;
}

/** What {@link scanArgs} found, in the order given. */
export interface ScanResult {
  values: OptionToken[];
  operands: string[];
  /** The first unknown option and every word after it. */
  unknown: string[];
  /** Set when the last word was an option that needs a value: scanning stopped there. */
  missingValue?: Option;
}

const NEGATIVE_NUMBER = /^-(\d+|\d*\.\d+)(e[+-]?\d+)?$/;

/** Scans `args` of one command; see the module doc for the rules. */
export function scanArgs(args: readonly string[], context: ScanContext): ScanResult {
  const result: ScanResult = { values: [], operands: [], unknown: [] };
  let dest = result.operands;
  const maybeOption = (arg: string) => arg.length > 1 && arg[0] === "-";
  const negativeNumber = (arg: string) => NEGATIVE_NUMBER.test(arg) && !context.digitOptions;
  const set = (option: Option, value: string | null | undefined) =>
    void result.values.push({ option, value });
  let group: string | null = null; // the rest of -abc
  let i = 0;
  while (i < args.length || group !== null) {
    const arg: string = group ?? args[i++];
    group = null;
    if (arg === "--") {
      if (dest === result.unknown) dest.push(arg);
      dest.push(...args.slice(i));
      break;
    }
    if (maybeOption(arg)) {
      const option = context.findOption(arg);
      if (option !== undefined) {
        if (option.required) {
          if (i >= args.length) return { ...result, missingValue: option };
          set(option, args[i++]);
        } else if (option.optional) {
          const takes = i < args.length && (!maybeOption(args[i]) || negativeNumber(args[i]));
          set(option, takes ? args[i++] : null);
        } else {
          set(option, undefined);
        }
        continue;
      }
    }
    if (arg.length > 2 && arg[0] === "-" && arg[1] !== "-") {
      const option = context.findOption(`-${arg[1]}`);
      if (option !== undefined) {
        if (option.required || option.optional) set(option, arg.slice(2));
        else {
          set(option, undefined);
          group = `-${arg.slice(2)}`;
        }
        continue;
      }
    }
    if (/^--[^=]+=/.test(arg)) {
      const at = arg.indexOf("=");
      const option = context.findOption(arg.slice(0, at));
      if (option !== undefined && (option.required || option.optional)) {
        set(option, arg.slice(at + 1));
        continue;
      }
    }
    if (
      dest === result.operands && maybeOption(arg) &&
      !(!context.hasSubcommands && negativeNumber(arg))
    ) {
      dest = result.unknown;
    }
    dest.push(arg);
  }
  return result;
}
