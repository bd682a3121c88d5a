/**
 * Fuzzing `sockit http-serve` (the real CLI as a subprocess): 20 000 generated malformed and
 * mutated requests (tests/fuzz_lib.ts: random bytes, truncated heads, huge numbers, bad
 * percent-encodings, invalid chunk sizes, mixed line endings, NULs, oversized heads,
 * byte-level mutations of valid requests) over 32 concurrent connections, many requests
 * per connection. The server must never die, every reply must start with a well-formed
 * status line (or the connection closes without a byte), nothing may hang or answer 500,
 * and a normal request must succeed afterwards.
 *
 * Reproduce a failure with its seed: `FUZZ_SEED=N deno test -A tests/http_fuzz_test.ts`, or
 * run longer with `deno task fuzz --seed N --minutes 5`.
 */
import assert from "node:assert/strict";
import { fuzzHttp, summarize } from "./fuzz_lib.ts";
import { serveHttp, tempTree } from "./helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 1_000_000_007);
const CASES = 20_000;

Deno.test(`http-serve survives ${CASES} fuzzed requests (seed ${SEED})`, async () => {
  await using site = await tempTree({ "hello.txt": "hello world\n", "docs/a.txt": "a" });
  // Short clocks: a case that leaves the server waiting is answered 408 within a second.
  await using server = await serveHttp(
    site.path,
    "--quiet",
    "--header-timeout",
    "1",
    "--body-timeout",
    "1",
  );
  let exited = false;
  server.child.status.then(() => (exited = true));
  const stats = await fuzzHttp({ port: server.port, seed: SEED, count: CASES, concurrency: 32 });
  console.log(summarize("http", stats, SEED));
  assert.deepEqual(stats.failures, [], `seed ${SEED}: ${JSON.stringify(stats.failures[0])}`);
  assert.equal(stats.cases, CASES);
  assert.ok(!exited, "the server process died");
  assert.ok((stats.statuses.get(200) ?? 0) > 0, "valid requests among the cases were served");
  assert.ok((stats.statuses.get(400) ?? 0) > 0, "malformed ones were refused");
  const res = await fetch(`http://127.0.0.1:${server.port}/hello.txt`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "hello world\n");
  assert.doesNotMatch(server.stderr(), /internal error|Uncaught|panicked/);
});
