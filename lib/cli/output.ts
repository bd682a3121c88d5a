/**
 * Where a {@link Command} of `./command.ts` writes help and usage errors, and how wide its help
 * may be: stdout and stderr, the terminal's width when the stream is one (else the help's 80
 * columns). `configureOutput()` replaces any of these, as tests do to capture output.
 *
 * ```ts
 * import { defaultOutput } from "./output.ts";
 * const output = defaultOutput();
 * output.outputError("error: unknown option '--prot'\n", output.writeErr);
 * console.log(output.getOutHelpWidth()); // undefined unless stdout is a terminal
 * ```
 *
 * @module
 */

/** Where help and errors go; `outputError` gets the message with its newline. */
export interface OutputConfiguration {
  writeOut(str: string): void;
  writeErr(str: string): void;
  outputError(str: string, write: (str: string) => void): void;
  getOutHelpWidth(): number | undefined;
  getErrHelpWidth(): number | undefined;
}

/** stdout and stderr, written synchronously; the width of the terminal, if one. */
export function defaultOutput(): OutputConfiguration {
  return {
    writeOut: (str) => writeAll(Deno.stdout, str),
    writeErr: (str) => writeAll(Deno.stderr, str),
    outputError: (str, write) => write(str),
    getOutHelpWidth: () => terminalColumns(Deno.stdout),
    getErrHelpWidth: () => terminalColumns(Deno.stderr),
  };
}

function terminalColumns(stream: typeof Deno.stdout | typeof Deno.stderr): number | undefined {
  if (!stream.isTerminal()) return undefined;
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

/** Writes all of `text`; a reader that went away (`sockit --help | head -1`) is not an error. */
function writeAll(stream: typeof Deno.stdout | typeof Deno.stderr, text: string): void {
  const bytes = new TextEncoder().encode(text);
  try {
    for (let done = 0; done < bytes.length;) done += stream.writeSync(bytes.subarray(done));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}
