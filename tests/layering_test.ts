/**
 * The architecture, checked: every relative import in lib/ points down the layer map of
 * README's "Architecture" section (features never import the HTTP/1.1 wire or the server,
 * lib/net imports no subcommand, nothing in lib/ imports the CLI), the folder-sharing
 * features do not import each other in a circle with the file features, there is exactly
 * one accept loop in lib/, and no module grows past the size that says it holds two things.
 *
 * ```sh
 * deno test -A tests/layering_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { ROOT } from "./helpers.ts";

/** Layers, top to bottom, and what each may import (README, Architecture). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  // The argv parser (lib/cli/) and the completion scripts written from its definitions.
  cli: ["cli", "bottom"],
  echo: ["echo", "net", "bottom"],
  time: ["time", "net", "bottom"],
  "http-server": ["http-server", "h1", "h2", "webdav", "features", "api", "net", "bottom"],
  // WebDAV builds on the file and upload features; no feature imports it.
  webdav: ["webdav", "features", "api", "bottom"],
  features: ["features", "api", "bottom"],
  h1: ["h1", "api", "net", "bottom"],
  // HTTP/2 is a transport beside h1 (neither imports the other); features never import it.
  h2: ["h2", "api", "net", "bottom"],
  api: ["api", "bottom"],
  net: ["net", "bottom"],
  bottom: ["bottom"],
};
/** A module over this many lines is a sign it holds two things (STYLE.md). */
const MAX_MODULE_LINES = 500;

function layerOf(path: string): string {
  if (path.startsWith("lib/cli/") || path === "lib/completions.ts") return "cli";
  if (path.startsWith("lib/echo/")) return "echo";
  if (path.startsWith("lib/time/")) return "time";
  if (path.startsWith("lib/http/server/")) return "http-server";
  if (path.startsWith("lib/http/h1/")) return "h1";
  if (path.startsWith("lib/http/h2/")) return "h2";
  if (path.startsWith("lib/http/webdav/")) return "webdav";
  if (/^lib\/http\/(files|sharing|middleware)\//.test(path)) return "features";
  if (path.startsWith("lib/http/")) return "api";
  if (path.startsWith("lib/net/")) return "net";
  if (path.startsWith("lib/")) return "bottom";
  return "outside";
}

async function libModules(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) out.push(path);
    }
  };
  await walk("lib");
  return out.sort();
}

/** Relative imports of a module's code (doc comments excluded), as repo paths. */
function importsOf(path: string, source: string): string[] {
  const code = source.replace(/\/\*\*[^]*?\*\//g, "");
  // `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`.
  const pattern = /(?:\bfrom|\bimport\(?)\s*"(\.{1,2}\/[^"]+)"/g;
  const specs = [...code.matchAll(pattern)].map((m) => m[1]);
  return specs.map((spec) => relative(ROOT, normalize(join(ROOT, dirname(path), spec))));
}

const modules = await libModules();
const sources = new Map(
  await Promise.all(
    modules.map(async (m) => [m, await Deno.readTextFile(join(ROOT, m))] as const),
  ),
);

Deno.test("layering: every import in lib/ points down the layer map", () => {
  const wrong: string[] = [];
  for (const [path, source] of sources) {
    for (const target of importsOf(path, source)) {
      const from = layerOf(path);
      const to = layerOf(target);
      if (!MAY_IMPORT[from]?.includes(to)) wrong.push(`${path} (${from}) → ${target} (${to})`);
    }
  }
  assert.deepEqual(wrong, [], `imports against the layer map:\n${wrong.join("\n")}`);
  assert.ok(modules.length > 40, "the walk found lib/");
});

Deno.test("layering: the file features do not import the sharing features", () => {
  const back = [...sources].flatMap(([path, source]) =>
    path.startsWith("lib/http/files/")
      ? importsOf(path, source).filter((t) => t.startsWith("lib/http/sharing/"))
      : []
  );
  assert.deepEqual(back, []);
});

Deno.test("layering: exactly one accept loop in lib/", () => {
  const loops = [...sources].filter(([, source]) => /\.accept\(\)/.test(source)).map(([p]) => p);
  assert.deepEqual(loops, ["lib/net/accept.ts"]);
});

Deno.test(`layering: no lib/ module over ${MAX_MODULE_LINES} lines`, () => {
  const big = [...sources]
    .map(([path, source]) => [path, source.split("\n").length] as const)
    .filter(([, lines]) => lines > MAX_MODULE_LINES);
  assert.deepEqual(big, []);
});

Deno.test("layering: WebDAV takes only the upload writer from the sharing features", () => {
  const used = [...sources].flatMap(([path, source]) =>
    path.startsWith("lib/http/webdav/")
      ? importsOf(path, source).filter((t) =>
        t.startsWith("lib/http/sharing/") || t.startsWith("lib/http/middleware/")
      )
      : []
  );
  assert.deepEqual([...new Set(used)], ["lib/http/sharing/upload.ts"]);
});
