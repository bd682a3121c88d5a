import assert from "node:assert/strict";
import { BatchedLineWriter } from "../lib/log.ts";

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("BatchedLineWriter hands one turn's lines to its sink as one write", async () => {
  const writes: string[] = [];
  const lines = new BatchedLineWriter((text) => writes.push(text));
  lines.write("first");
  lines.write("second");
  assert.deepEqual(writes, [], "nothing is written before the turn ends");
  await nextTurn();
  assert.deepEqual(writes, ["first\nsecond"]);
  lines.write("third");
  await nextTurn();
  assert.deepEqual(writes, ["first\nsecond", "third"]);
});

Deno.test("BatchedLineWriter.flush writes at once and leaves nothing for the timer", async () => {
  const writes: string[] = [];
  const lines = new BatchedLineWriter((text) => writes.push(text));
  const { write } = lines; // usable as a detached callback
  write("a");
  write("b");
  lines.flush();
  assert.deepEqual(writes, ["a\nb"]);
  await nextTurn();
  assert.deepEqual(writes, ["a\nb"], "the scheduled flush finds nothing to write");
  lines.flush();
  assert.deepEqual(writes, ["a\nb"], "an empty flush writes nothing");
});
