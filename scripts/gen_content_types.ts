/**
 * Writes lib/http/files/content_types.json: file extension → Content-Type exactly as the
 * `mime-types` package answers (`charset=utf-8` on text), so the server looks types up in a
 * plain JSON map instead of loading the CommonJS package and its 200 KB database at start-up
 * (measured: importing it cost ~20 ms and ~15 MiB of the idle RSS). tests/http_content_types_test.ts
 * fails when the two disagree, e.g. after a mime-types update; then run this again.
 *
 * ```ts
 * import { contentTypeTable } from "./gen_content_types.ts";
 * console.log(contentTypeTable()["html"]); // "text/html; charset=utf-8"
 * ```
 *
 * Run: `deno run --allow-read --allow-write scripts/gen_content_types.ts`
 *
 * @module
 */
import mime from "mime-types";

/** Where the generated table lives (next to its one user, lib/http/files/files.ts). */
export const CONTENT_TYPES_JSON = new URL("../lib/http/files/content_types.json", import.meta.url);

/** Every extension mime-types knows, sorted, with its full Content-Type. */
export function contentTypeTable(): Record<string, string> {
  const table: Record<string, string> = {};
  for (const ext of Object.keys(mime.types).sort()) {
    const type = mime.contentType(ext);
    if (type) table[ext] = type;
  }
  return table;
}

if (import.meta.main) {
  const table = contentTypeTable();
  await Deno.writeTextFile(CONTENT_TYPES_JSON, JSON.stringify(table, null, 2) + "\n");
  console.log(`wrote ${Object.keys(table).length} extensions to ${CONTENT_TYPES_JSON.pathname}`);
}
