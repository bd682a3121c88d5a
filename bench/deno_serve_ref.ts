/**
 * The runtime's own reference for http-serve: a minimal `Deno.serve` handler that serves the
 * files of one folder from memory (read once at start), with Content-Type and
 * Content-Length, nothing else. sockit's target is ≥ 1.5× this on 1 KiB keep-alive.
 *
 * ```sh
 * deno run -A bench/deno_serve_ref.ts DIR --port 9000 --host 127.0.0.1
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  bin: "application/octet-stream",
};

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
  },
});
const dir = positionals[0] ?? ".";

/** URL path → [body, content type], built once so each request is a map lookup. */
const files = new Map<string, [Uint8Array<ArrayBuffer>, string]>();
for await (const entry of Deno.readDir(dir)) {
  if (!entry.isFile) continue;
  const ext = entry.name.slice(entry.name.lastIndexOf(".") + 1);
  files.set("/" + entry.name, [
    await Deno.readFile(`${dir}/${entry.name}`),
    CONTENT_TYPES[ext] ?? "application/octet-stream",
  ]);
}

Deno.serve({
  hostname: values.host,
  port: Number(values.port),
  onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}/`),
}, (request) => {
  const path = new URL(request.url).pathname;
  const file = files.get(path);
  if (!file) return new Response("not found\n", { status: 404 });
  return new Response(file[0], { headers: { "content-type": file[1] } });
});
