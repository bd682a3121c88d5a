/** lib/http/handler.ts lazyMiddleware: loads on the first wanted request, once, then sees all. */
import assert from "node:assert/strict";
import { compose, type Handler, lazyMiddleware, type Middleware } from "../lib/http/handler.ts";
import { parseRequestHead } from "../lib/http/h1/request.ts";

function request(method: string, target: string) {
  const head = parseRequestHead(
    new TextEncoder().encode(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`),
  );
  const ctx = {
    remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 },
    body: {
      read: () => Promise.resolve(null),
      discard: () => Promise.resolve(),
      done: true,
      received: 0,
    },
  };
  return [head, ctx] as const;
}

Deno.test("lazyMiddleware: unwanted requests pass without loading; the first wanted one loads it once", async () => {
  let loads = 0;
  const tagging: Middleware = (next) => async (req, ctx) => {
    const res = await next(req, ctx);
    return { ...res, headers: [["X-Feature", "on"]] };
  };
  const files: Handler = () => ({ status: 200, body: "file" });
  const handler = compose([
    lazyMiddleware((req) => req.query !== "", async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return tagging;
    }),
  ], files);
  const plain = await handler(...request("GET", "/a.txt"));
  assert.equal(loads, 0, "a request it does not want loads nothing");
  assert.equal(plain.headers, undefined);
  // Two wanted requests at once: one load, both served by the feature.
  const [a, b] = await Promise.all([
    handler(...request("GET", "/?download=zip")),
    handler(...request("GET", "/?q=x")),
  ]);
  assert.equal(loads, 1);
  assert.deepEqual(a.headers, [["X-Feature", "on"]]);
  assert.deepEqual(b.headers, [["X-Feature", "on"]]);
  // Once loaded it sees every request, wanted or not.
  assert.deepEqual((await handler(...request("GET", "/a.txt"))).headers, [["X-Feature", "on"]]);
  assert.equal(loads, 1);
});
