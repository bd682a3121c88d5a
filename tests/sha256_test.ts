/** lib/sha256.ts against the FIPS 180-4 examples and node:crypto on random inputs. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256, sha256, sha256Hex, timingSafeEqual } from "../lib/sha256.ts";

Deno.test("sha256: the FIPS 180-4 examples", () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    new Sha256().update(new Uint8Array(1_000_000).fill(0x61)).digest().toHex(),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("sha256: equals node:crypto for every length around the block edges and random splits", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  for (let length = 0; length < 300; length++) {
    const data = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    const expected = createHash("sha256").update(data).digest("hex");
    assert.equal(sha256Hex(data), expected, `length ${length}`);
    const split = Math.floor(random() * (length + 1));
    const h = new Sha256().update(data.subarray(0, split)).update(data.subarray(split));
    assert.equal(h.digest().toHex(), expected, `length ${length} split at ${split}`);
  }
  assert.equal(sha256Hex("päss wörd ✓"), createHash("sha256").update("päss wörd ✓").digest("hex"));
});

Deno.test("sha256: a digest is final; timingSafeEqual compares bytes and lengths", () => {
  const h = new Sha256().update("x");
  h.digest();
  assert.throws(() => h.update("y"), /after digest/);
  assert.throws(() => h.digest(), /twice/);
  assert.equal(timingSafeEqual(sha256("a"), sha256("a")), true);
  assert.equal(timingSafeEqual(sha256("a"), sha256("b")), false);
  assert.equal(timingSafeEqual(new Uint8Array(2), new Uint8Array(3)), false);
});
