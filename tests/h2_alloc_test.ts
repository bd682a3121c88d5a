import assert from "node:assert/strict";
import { BufferedReader } from "../lib/framing.ts";
import {
  cachedFieldNames,
  lowerFieldName,
  MAX_CACHED_FIELD_NAMES,
  responseFields,
} from "../lib/http/h2/response.ts";

Deno.test("h2 response: lowercased field names are cached up to MAX_CACHED_FIELD_NAMES", () => {
  const start = cachedFieldNames();
  assert.ok(start < MAX_CACHED_FIELD_NAMES);
  for (let i = start; i < MAX_CACHED_FIELD_NAMES; i++) {
    assert.equal(lowerFieldName(`X-Name-${i}`), `x-name-${i}`);
  }
  assert.equal(cachedFieldNames(), MAX_CACHED_FIELD_NAMES, "at the limit: all kept");
  assert.equal(lowerFieldName("X-One-Past"), "x-one-past", "past it: still lowercased");
  assert.equal(cachedFieldNames(), MAX_CACHED_FIELD_NAMES, "past it: not kept");
  assert.equal(
    lowerFieldName(`X-Name-${MAX_CACHED_FIELD_NAMES - 1}`),
    `x-name-${MAX_CACHED_FIELD_NAMES - 1}`,
  );
  const fields = responseFields(
    {
      status: 200,
      headers: [["Content-Type", "text/plain"], ["X-ONE-PAST", "1"], ["Connection", "close"]],
    },
    2,
  );
  assert.deepEqual(fields.slice(3), [["content-type", "text/plain"], ["x-one-past", "1"], [
    "content-length",
    "2",
  ]]);
});

Deno.test("framing: tryTake takes only bytes already buffered, without reading", async () => {
  const chunks = [new Uint8Array([1, 2, 3, 4, 5]), new Uint8Array([6, 7])];
  let reads = 0;
  const reader = new BufferedReader({
    read: (p: Uint8Array) => {
      const next = chunks[reads++];
      if (next === undefined) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
  });
  assert.equal(reader.tryTake(1), null, "nothing buffered yet");
  assert.equal(reads, 0, "tryTake never reads");
  assert.ok(await reader.fill());
  assert.deepEqual(reader.tryTake(6), null, "one past what is buffered: nothing consumed");
  assert.deepEqual(reader.tryTake(5), new Uint8Array([1, 2, 3, 4, 5]), "exactly what is buffered");
  assert.deepEqual(reader.tryTake(0), new Uint8Array(0));
  assert.deepEqual(await reader.readExact(2), new Uint8Array([6, 7]));
  assert.equal(reads, 2);
});
