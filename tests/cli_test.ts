/**
 * The CLI's first impressions (main.ts): `sockit` alone prints a short overview with every
 * subcommand and an example of each, and `--version` names sockit's version, Deno's and the
 * target. (A port in use is checked where each server's errors are: echo_server_test.ts,
 * http_serve_test.ts, net_udp_test.ts.)
 *
 * ```sh
 * deno test -A tests/cli_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { buildProgram } from "../main.ts";
import { runCli } from "./helpers.ts";

Deno.test("cli: sockit with no arguments prints an overview with an example per subcommand", async () => {
  const { code, stdout, stderr } = await runCli([]);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  assert.match(stdout, new RegExp(`^sockit ${denoJson.version.replaceAll(".", "\\.")}: `));
  for (const command of buildProgram().commands) {
    if (command.name() === "help") continue;
    assert.match(stdout, new RegExp(`^  ${command.name()} `, "m"), command.name());
    assert.match(stdout, new RegExp(`^ +sockit ${command.name()} `, "m"), command.name());
  }
  assert.match(stdout, /sockit SUBCOMMAND --help/);
  // Short: it is an overview, not the reference.
  assert.ok(stdout.split("\n").length <= 20, stdout);
});

Deno.test("cli: --version and -V print sockit's version, Deno's and the target", async () => {
  const expected = `sockit ${denoJson.version} (deno ${Deno.version.deno}, ${Deno.build.target})\n`;
  for (const flag of ["--version", "-V"]) {
    const { code, stdout, stderr } = await runCli([flag]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, expected);
    assert.equal(stderr, "");
  }
});
