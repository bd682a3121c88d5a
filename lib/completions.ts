/**
 * Shell completion scripts (bash, zsh, fish) written from a program's own (lib/cli/command.ts)
 * definitions: its subcommands, each one's flags (which take a value, which values are
 * allowed: `--mode raw|line|length`) and arguments. A flag added in `main.ts` completes
 * without touching this file.
 *
 * What a value completes to: its choices, if it has any; files when its placeholder is
 * `<file>`; folders when it is `<dir>` (`http-serve [dir]`); otherwise nothing (a host, a
 * port). One level of subcommands, as sockit has.
 *
 * ```ts
 * import { Command, Option } from "./cli/command.ts";
 * import { completionScript } from "./completions.ts";
 * const program = new Command("demo");
 * program.command("serve")
 *   .argument("[dir]", "folder to serve")
 *   .addOption(new Option("--mode <mode>", "framing").choices(["raw", "line"]))
 *   .option("--tls-cert <file>", "PEM certificate");
 * console.log(completionScript(program, { shell: "bash" }));
 * ```
 *
 * @module
 */
import type { Argument, Command, Option } from "./cli/command.ts";

/** The shells {@link completionScript} writes for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

/** Options of {@link completionScript}. */
export interface CompletionScriptOptions {
  /** The shell the script is for. */
  shell: CompletionShell;
}

/** Placeholder names (`--ca <file>`, `[dir]`) whose values are paths. */
const FILE_PLACEHOLDERS: ReadonlySet<string> = new Set(["file", "path"]);
const DIR_PLACEHOLDERS: ReadonlySet<string> = new Set(["dir", "folder", "directory"]);

/**
 * A word a script may hold unquoted in every shell (names, choices): anything else throws
 * rather than write a script that breaks on it.
 */
const PLAIN_WORD = /^[\w.@%+,/-]+$/;

/** What a value completes to. */
type ValueCompletion =
  | { kind: "none" }
  | { kind: "choices"; choices: string[] }
  | { kind: "file" }
  | { kind: "dir" };

interface FlagSpec {
  /** `-V`, `--version`: short first. */
  names: string[];
  description: string;
  /** Set when the flag takes a value. */
  value?: { placeholder: string; completion: ValueCompletion };
}

interface ArgumentSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  completion: ValueCompletion;
}

interface CommandSpec {
  name: string;
  description: string;
  flags: FlagSpec[];
  arguments: ArgumentSpec[];
}

interface ProgramSpec extends CommandSpec {
  commands: CommandSpec[];
}

/** The completion script for `program` in `options.shell`. */
export function completionScript(program: Command, options: CompletionScriptOptions): string {
  const spec = programSpec(program);
  switch (options.shell) {
    case "bash":
      return bashScript(spec);
    case "zsh":
      return zshScript(spec);
    case "fish":
      return fishScript(spec);
  }
}

// --- reading the command definitions -------------------------------------------------------

function programSpec(program: Command): ProgramSpec {
  const help = program.createHelp();
  return {
    ...commandSpec(program),
    commands: help.visibleCommands(program).map(commandSpec),
  };
}

function commandSpec(command: Command): CommandSpec {
  const help = command.createHelp();
  return {
    name: plainWord(command.name()),
    description: firstLine(command.description()),
    flags: help.visibleOptions(command).map(flagSpec),
    arguments: help.visibleArguments(command).map(argumentSpec),
  };
}

function flagSpec(option: Option): FlagSpec {
  const names = [option.short, option.long].filter((n): n is string => n !== undefined);
  const flag: FlagSpec = {
    names: names.map(plainWord),
    description: firstLine(option.description),
  };
  if (option.required || option.optional) {
    const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1].replace(/\.\.\.$/, "") ??
      "value";
    flag.value = { placeholder, completion: valueCompletion(placeholder, option.argChoices) };
  }
  return flag;
}

function argumentSpec(argument: Argument): ArgumentSpec {
  return {
    name: argument.name(),
    required: argument.required,
    variadic: argument.variadic,
    completion: valueCompletion(argument.name(), argument.argChoices),
  };
}

function valueCompletion(placeholder: string, choices: string[] | undefined): ValueCompletion {
  if (choices !== undefined) return { kind: "choices", choices: choices.map(plainWord) };
  const name = placeholder.toLowerCase();
  if (FILE_PLACEHOLDERS.has(name)) return { kind: "file" };
  if (DIR_PLACEHOLDERS.has(name)) return { kind: "dir" };
  return { kind: "none" };
}

function plainWord(word: string): string {
  if (!PLAIN_WORD.test(word)) {
    throw new Error(`cannot write a shell completion for '${word}': not a plain word`);
  }
  return word;
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}

function flagNames(flags: FlagSpec[]): string[] {
  return flags.flatMap((f) => f.names);
}

function valueFlagNames(flags: FlagSpec[]): string[] {
  return flags.filter((f) => f.value !== undefined).flatMap((f) => f.names);
}

// --- bash ------------------------------------------------------------------------------------

function bashScript(p: ProgramSpec): string {
  const fn = `_${p.name.replace(/\W/g, "_")}`;
  const levels = [
    { key: '""', spec: p as CommandSpec },
    ...p.commands.map((c) => ({
      key: c.name,
      spec: c,
    })),
  ];
  const dataCase = (pick: (flags: FlagSpec[]) => string[]) =>
    levels.map(({ key, spec }) => `    ${key}) echo "${pick(spec.flags).join(" ")}" ;;`)
      .join("\n");
  const reply = (completion: ValueCompletion): string | null => {
    switch (completion.kind) {
      case "choices":
        return `${fn}_reply "$cur" -W "${completion.choices.join(" ")}"`;
      case "file":
        return `${fn}_reply "$cur" -f`;
      case "dir":
        return `${fn}_reply "$cur" -d`;
      case "none":
        return null;
    }
  };
  // "command flag" patterns grouped by what the value completes to.
  const valueCases = new Map<string, string[]>();
  for (const { key, spec } of levels) {
    for (const flag of spec.flags) {
      const action = flag.value && reply(flag.value.completion);
      if (!action) continue;
      const prefix = key === '""' ? "" : key;
      const patterns = flag.names.map((n) => `"${prefix} ${n}"`);
      valueCases.set(action, [...(valueCases.get(action) ?? []), ...patterns]);
    }
  }
  const valueCaseLines = [...valueCases].map(([action, patterns]) =>
    `      ${patterns.join("|")}) ${action} ;;`
  );
  const argumentCases = levels.flatMap(({ key, spec }) => {
    const tests = key === '""'
      ? [
        `      ((positional == 0)) && ${fn}_reply "$cur" -W "${
          p.commands.map((c) => c.name).join(" ")
        }"`,
      ]
      : spec.arguments.flatMap((arg, i) => {
        const action = reply(arg.completion);
        if (!action) return [];
        return [`      ((positional ${arg.variadic ? ">=" : "=="} ${i})) && ${action}`];
      });
    return tests.length === 0 ? [] : [`    ${key})`, ...tests, "      ;;"];
  });
  return `# bash completion for ${p.name}, written by \`${p.name} completions bash\` from its flag
# definitions. Install: ${p.name} completions bash > ~/.local/share/bash-completion/completions/${p.name}
# (or add to ~/.bashrc: source <(${p.name} completions bash))

# The flags of a subcommand ("" = before it), and those of them that take a value.
${fn}_flags() {
  case $1 in
${dataCase(flagNames)}
  esac
}
${fn}_value_flags() {
  case $1 in
${dataCase(valueFlagNames)}
  esac
}

# COMPREPLY from compgen ARGS... for the word $1 (one candidate per line: names with spaces).
${fn}_reply() {
  local cur=$1
  shift
  mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
  # Paths: let readline add "/" to folders and quote what needs it.
  if [[ $1 != -W ]]; then compopt -o filenames 2>/dev/null; fi
  return 0
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD - 1]}
  # bash splits --flag=value at "=" (COMP_WORDBREAKS): complete the value like a next word.
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]]; then
    prev=\${COMP_WORDS[COMP_CWORD - 2]}
  fi
  # The subcommand and how many of its arguments come before the cursor; flag values skipped.
  local command="" positional=0 i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    case $word in
      -*)
        if [[ " $(${fn}_value_flags "$command") " == *" $word "* ]]; then
          i=$((i + 1))
          if [[ \${COMP_WORDS[i]} == "=" ]]; then i=$((i + 1)); fi
        fi
        ;;
      "=") ;;
      *)
        if [[ -z $command ]]; then command=$word; else positional=$((positional + 1)); fi
        ;;
    esac
  done
  COMPREPLY=()
  # The value of a flag.
  if [[ $prev == -* && " $(${fn}_value_flags "$command") " == *" $prev "* ]]; then
    case "$command $prev" in
${valueCaseLines.join("\n")}
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    ${fn}_reply "$cur" -W "$(${fn}_flags "$command")"
    return 0
  fi
  case $command in
${argumentCases.join("\n")}
  esac
  return 0
}

complete -F ${fn} ${p.name}
`;
}

// --- zsh -------------------------------------------------------------------------------------

/** `text` inside single quotes. */
function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** `text` as an `_arguments` description, inside [...]. */
function zshDescription(text: string): string {
  return text.replace(/[\\[\]]/g, (c) => `\\${c}`);
}

function zshAction(completion: ValueCompletion): string {
  switch (completion.kind) {
    case "choices":
      return `(${completion.choices.join(" ")})`;
    case "file":
      return "_files";
    case "dir":
      return "_files -/";
    case "none":
      return " ";
  }
}

function zshFlagSpecs(flags: FlagSpec[]): string[] {
  return flags.flatMap((flag) =>
    flag.names.map((name) => {
      const description = `[${zshDescription(flag.description)}]`;
      if (flag.value === undefined) return singleQuoted(`${name}${description}`);
      // "=": the value may be the next word or follow "=" (both are what commander takes).
      const long = name.startsWith("--");
      const message = flag.value.placeholder.replaceAll(":", "\\:");
      return singleQuoted(
        `*${name}${long ? "=" : "+"}${description}:${message}:${zshAction(flag.value.completion)}`,
      );
    })
  );
}

function zshArgumentSpecs(args: ArgumentSpec[]): string[] {
  return args.map((arg, i) => {
    const position = arg.variadic ? "*" : `${i + 1}${arg.required ? "" : ":"}`;
    return singleQuoted(
      `${position}:${arg.name.replaceAll(":", "\\:")}:${zshAction(arg.completion)}`,
    );
  });
}

function zshScript(p: ProgramSpec): string {
  const fn = `_${p.name.replace(/\W/g, "_")}`;
  const indent = (specs: string[], spaces: number) =>
    specs.map((s) => `${" ".repeat(spaces)}${s}`).join(" \\\n");
  const commands = p.commands.map((c) => `    ${singleQuoted(`${c.name}:${c.description}`)}`).join(
    "\n",
  );
  const subcommandCases = p.commands.map((c) => {
    const specs = [...zshFlagSpecs(c.flags), ...zshArgumentSpecs(c.arguments)];
    return `        ${c.name})\n          _arguments -S \\\n${indent(specs, 12)}\n          ;;`;
  }).join("\n");
  return `#compdef ${p.name}
# zsh completion for ${p.name}, written by \`${p.name} completions zsh\` from its flag
# definitions. Install: ${p.name} completions zsh > "\${fpath[1]}/_${p.name}" (then restart zsh),
# or add to ~/.zshrc after compinit: source <(${p.name} completions zsh)

${fn}_commands() {
  local -a commands=(
${commands}
  )
  _describe -t commands '${p.name} subcommand' commands
}

${fn}() {
  local curcontext=$curcontext state state_descr line ret=1
  typeset -A opt_args
  _arguments -C \\
${indent([...zshFlagSpecs(p.flags), `'1: :${fn}_commands'`, "'*:: :->subcommand'"], 4)} && ret=0
  case $state in
    subcommand)
      curcontext=\${curcontext%:*:*}:${p.name}-$words[1]:
      case $words[1] in
${subcommandCases}
      esac
      ret=$?
      ;;
  esac
  return ret
}

if [[ $funcstack[1] == ${fn} ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${p.name}
fi
`;
}

// --- fish ------------------------------------------------------------------------------------

/** `text` inside fish single quotes (only \\ and ' are special there). */
function fishQuoted(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function fishFlagLines(prefix: string, flags: FlagSpec[]): string[] {
  return flags.map((flag) => {
    const parts = [prefix];
    for (const name of flag.names) {
      parts.push(name.startsWith("--") ? `-l ${name.slice(2)}` : `-s ${name.slice(1)}`);
    }
    const completion = flag.value?.completion;
    if (completion?.kind === "choices") {
      parts.push(`-x -a ${fishQuoted(completion.choices.join(" "))}`);
    } else if (completion?.kind === "file") parts.push("-r -F");
    else if (completion?.kind === "dir") parts.push("-x -a '(__fish_complete_directories)'");
    else if (completion !== undefined) parts.push("-x");
    parts.push(`-d ${fishQuoted(flag.description)}`);
    return parts.join(" ");
  });
}

function fishScript(p: ProgramSpec): string {
  const c = `complete -c ${p.name}`;
  const top = `${c} -n __fish_use_subcommand`;
  const lines = [
    `# fish completion for ${p.name}, written by \`${p.name} completions fish\` from its flag`,
    `# definitions. Install: ${p.name} completions fish > ~/.config/fish/completions/${p.name}.fish`,
    "",
    "# Files only where a value is a file or folder.",
    `${c} -f`,
    ...fishFlagLines(top, p.flags),
    ...p.commands.map((sub) => `${top} -a ${sub.name} -d ${fishQuoted(sub.description)}`),
  ];
  for (const sub of p.commands) {
    const within = `${c} -n ${fishQuoted(`__fish_seen_subcommand_from ${sub.name}`)}`;
    lines.push("", ...fishFlagLines(within, sub.flags));
    for (const arg of sub.arguments) {
      const completion = arg.completion;
      if (completion.kind === "choices") {
        lines.push(`${within} -a ${fishQuoted(completion.choices.join(" "))}`);
      } else if (completion.kind === "file") lines.push(`${within} -F`);
      else if (completion.kind === "dir") {
        lines.push(`${within} -a '(__fish_complete_directories)'`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
