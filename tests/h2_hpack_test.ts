/**
 * Tests of lib/http/h2/hpack.ts and huffman.ts (RFC 7541): every example of Appendix C
 * byte-exact through the decoder and round-trip through the encoder, each refusal at and one
 * past its limit, the HPACK bomb (CVE-2016-6581), and a seeded random round trip.
 */
import assert from "node:assert/strict";
import {
  decodeHpackInteger,
  DEFAULT_MAX_HEADER_LIST_SIZE,
  encodeHpackInteger,
  HPACK_ENCODER_MAX_NAMES,
  HPACK_LITERAL_CACHE_ENTRIES,
  HPACK_MAX_INTEGER,
  HPACK_MAX_INTEGER_CONTINUATION_BYTES,
  HPACK_MAX_KEPT_SCRATCH_BYTES,
  HpackDecoder,
  HpackEncoder,
  HpackError,
  type HpackErrorCode,
  STATIC_TABLE,
} from "../lib/http/h2/hpack.ts";
import {
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  HUFFMAN_MAX_PADDING_BITS,
  huffmanDecode,
  huffmanEncode,
  HuffmanError,
} from "../lib/http/h2/huffman.ts";

type Fields = [string, string][];

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}
function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
const ascii = (text: string) => new TextEncoder().encode(text);

function assertHpackError(fn: () => unknown, code: HpackErrorCode): void {
  assert.throws(fn, (err) => err instanceof HpackError && err.code === code);
}

// --- RFC 7541 Appendix C ----------------------------------------------------------------------

const REQUESTS: Fields[] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ],
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ],
];
const REQUEST_TABLE_SIZES = [57, 110, 164];
const C3_REQUESTS = [
  "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
  "8286 84be 5808 6e6f 2d63 6163 6865",
  "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];
const C4_REQUESTS = [
  "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
  "8286 84be 5886 a8eb 1064 9cbf",
  "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES: Fields[] = [
  [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ],
  [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    ["location", "https://www.example.com"],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const RESPONSE_TABLE_SIZES = [222, 222, 215];
const C5_RESPONSES = [
  `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
   2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
   6c65 2e63 6f6d`,
  "4803 3330 37c1 c0bf",
  `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
   54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
   5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
];
const C6_RESPONSES = [
  `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
   2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
  "4883 640e ffc1 c0bf",
  `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
   77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
   9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
];

Deno.test("RFC 7541 C.1: integer representation", () => {
  const out = new Uint8Array(8);
  assert.equal(toHex(out.subarray(0, encodeHpackInteger(out, 0, 10, 5, 0))), "0a");
  assert.equal(toHex(out.subarray(0, encodeHpackInteger(out, 0, 1337, 5, 0))), "1f9a0a");
  assert.equal(toHex(out.subarray(0, encodeHpackInteger(out, 0, 42, 8, 0))), "2a");
  assert.deepEqual(decodeHpackInteger(hex("0a"), 0, 5), [10, 1]);
  assert.deepEqual(decodeHpackInteger(hex("1f9a0a"), 0, 5), [1337, 3]);
  assert.deepEqual(decodeHpackInteger(hex("ff9a0a"), 0, 5), [1337, 3], "flag bits ignored");
  assert.deepEqual(decodeHpackInteger(hex("2a"), 0, 8), [42, 1]);
});

Deno.test("RFC 7541 C.2: the four field representations", () => {
  const cases: [string, Fields, number][] = [
    [
      "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
      [["custom-key", "custom-header"]],
      55,
    ],
    ["040c 2f73 616d 706c 652f 7061 7468", [[":path", "/sample/path"]], 0],
    ["1008 7061 7373 776f 7264 0673 6563 7265 74", [["password", "secret"]], 0],
    ["82", [[":method", "GET"]], 0],
  ];
  for (const [block, fields, tableSize] of cases) {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex(block)), fields);
    assert.equal(decoder.tableSize, tableSize);
  }
});

for (
  const [name, blocks, lists, sizes, tableSize] of [
    ["C.3 requests without Huffman", C3_REQUESTS, REQUESTS, REQUEST_TABLE_SIZES, 4096],
    ["C.4 requests with Huffman", C4_REQUESTS, REQUESTS, REQUEST_TABLE_SIZES, 4096],
    ["C.5 responses without Huffman", C5_RESPONSES, RESPONSES, RESPONSE_TABLE_SIZES, 256],
    ["C.6 responses with Huffman", C6_RESPONSES, RESPONSES, RESPONSE_TABLE_SIZES, 256],
  ] as const
) {
  Deno.test(`RFC 7541 ${name}: decoded byte-exact, table sizes and evictions as listed`, () => {
    const decoder = new HpackDecoder({ maxTableSize: tableSize });
    blocks.forEach((block, i) => {
      assert.deepEqual(decoder.decode(hex(block)), lists[i], `block ${i + 1}`);
      assert.equal(decoder.tableSize, sizes[i], `table size after block ${i + 1}`);
    });
  });

  Deno.test(`RFC 7541 ${name}: the encoder's blocks decode to the same lists`, () => {
    const encoder = new HpackEncoder();
    encoder.setMaxTableSize(tableSize);
    const decoder = new HpackDecoder({ maxTableSize: tableSize });
    let encodedBytes = 0;
    for (const list of lists) {
      const block = encoder.encode(list);
      encodedBytes += block.length;
      assert.deepEqual(decoder.decode(block), list);
      assert.equal(decoder.tableSize, encoder.tableSize, "both tables hold the same");
    }
  });
}

Deno.test("RFC 7541 C.4: the encoder's request blocks are the RFC's, byte for byte", () => {
  const encoder = new HpackEncoder();
  REQUESTS.forEach((list, i) =>
    assert.equal(toHex(encoder.encode(list)), toHex(hex(C4_REQUESTS[i])))
  );
});

Deno.test("RFC 7541 C.6: the encoder's response blocks differ only where it chose to", () => {
  const encoder = new HpackEncoder();
  encoder.setMaxTableSize(256);
  const blocks = RESPONSES.map((list) => toHex(encoder.encode(list)));
  // The size update first (§4.2: 256 = 3f e1 01), then C.6's block 1 up to `location`, which
  // is a plain literal here: redirects differ per path, so indexing it would only evict.
  const location = "0f1f919d29ad171863c78f0b97c8e9ae82ae43d3";
  assert.equal(blocks[0], "3fe101" + toHex(hex(C6_RESPONSES[0])).slice(0, 70) + location);
  // Block 2: "307" is 3 bytes raw or Huffman, so raw; then the two indexed fields.
  assert.equal(blocks[1], "4803333037c0bf" + location);
});

// --- Huffman ----------------------------------------------------------------------------------

Deno.test("huffman: the code is Appendix B (spot codes, complete prefix code, EOS)", () => {
  assert.equal(HUFFMAN_LENGTHS.length, 257);
  let kraft = 0;
  for (const len of HUFFMAN_LENGTHS) kraft += 2 ** -len;
  assert.equal(kraft, 1, "a complete prefix code");
  const spots: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [1, 0x7fffd8, 23],
    [10, 0x3ffffffc, 30],
    [32, 0x14, 6],
    [36, 0x1ff9, 13],
    [48, 0x0, 5],
    [97, 0x3, 5],
    [128, 0xfffe6, 20],
    [200, 0x3ffffe2, 26],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, len] of spots) {
    assert.deepEqual([HUFFMAN_CODES[sym], HUFFMAN_LENGTHS[sym]], [code, len], `symbol ${sym}`);
  }
});

Deno.test("huffman: the strings of Appendix C both ways", () => {
  const cases: [string, string][] = [
    ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
    ["no-cache", "a8eb 1064 9cbf"],
    ["custom-key", "25a8 49e9 5ba9 7d7f"],
    ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
    ["302", "6402"],
    ["private", "aec3 771a 4b"],
    ["Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
    ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
    ["gzip", "9bd9 ab"],
    [
      COOKIE,
      "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ],
  ];
  for (const [text, coded] of cases) {
    assert.equal(toHex(huffmanEncode(ascii(text))), toHex(hex(coded)), text);
    assert.equal(new TextDecoder().decode(huffmanDecode(hex(coded))), text);
  }
});

Deno.test("huffman: every byte value round-trips, including the 30-bit codes", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  const long = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919) & 0xff);
  assert.deepEqual(huffmanDecode(huffmanEncode(long)), long);
  assert.deepEqual(huffmanDecode(new Uint8Array(0)), new Uint8Array(0));
});

function assertHuffmanError(bytes: Uint8Array, code: HuffmanError["code"]): void {
  assert.throws(() => huffmanDecode(bytes), (e) => e instanceof HuffmanError && e.code === code);
}

Deno.test(`huffman: padding of ${HUFFMAN_MAX_PADDING_BITS} one bits is accepted, 8 are not`, () => {
  // "0" is 00000: five of them are 25 bits, so 7 bits of padding close the 4th byte.
  assert.deepEqual(huffmanDecode(hex("0000007f")), ascii("00000"));
  // "&" is 11111000, byte-aligned: a following 0xff byte is 8 bits of padding.
  assert.deepEqual(huffmanDecode(hex("f8")), ascii("&"));
  assertHuffmanError(hex("f8ff"), "HUFFMAN_PADDING");
  assertHuffmanError(hex("ff"), "HUFFMAN_PADDING");
});

Deno.test("huffman: padding that is not all ones is refused", () => {
  assert.deepEqual(huffmanDecode(hex("1f")), ascii("a")); // "a" 00011 + 111
  assertHuffmanError(hex("1e"), "HUFFMAN_PADDING"); // "a" + 110
  assertHuffmanError(hex("18"), "HUFFMAN_PADDING"); // "a" + 000
});

Deno.test("huffman: the EOS symbol inside a string is refused", () => {
  assertHuffmanError(hex("ffffffff"), "HUFFMAN_EOS"); // 30 ones = EOS, then 2 padding ones
  assertHuffmanError(hex("1fffffffff"), "HUFFMAN_EOS"); // "a", EOS, 5 padding ones
});

// --- the decoder's limits ---------------------------------------------------------------------

/** A block of raw bytes and hex, for hand-built representations. */
function block(...parts: (string | Uint8Array)[]): Uint8Array {
  const bytes = parts.flatMap((p) => [...(typeof p === "string" ? hex(p) : p)]);
  return Uint8Array.from(bytes);
}
function integer(value: number, prefixBits: number, flags: number): Uint8Array {
  const out = new Uint8Array(8);
  return out.slice(0, encodeHpackInteger(out, 0, value, prefixBits, flags));
}
/** A raw (non-Huffman) string literal. */
function str(text: string): Uint8Array {
  return block(integer(text.length, 7, 0), ascii(text));
}

Deno.test(`hpack integers: ${HPACK_MAX_INTEGER} is accepted, one more is not`, () => {
  assert.deepEqual(
    decodeHpackInteger(integer(HPACK_MAX_INTEGER, 7, 0), 0, 7)[0],
    HPACK_MAX_INTEGER,
  );
  assert.deepEqual(
    decodeHpackInteger(integer(HPACK_MAX_INTEGER, 1, 0), 0, 1)[0],
    HPACK_MAX_INTEGER,
  );
  assertHpackError(
    () => decodeHpackInteger(integer(HPACK_MAX_INTEGER + 1, 7, 0), 0, 7),
    "COMPRESSION_ERROR",
  );
  assertHpackError(() => decodeHpackInteger(integer(2 ** 40, 7, 0), 0, 7), "COMPRESSION_ERROR");
  // Through the decoder: an index past 2^31 - 1 is a compression error, not a huge lookup.
  assertHpackError(
    () => new HpackDecoder().decode(integer(HPACK_MAX_INTEGER + 1, 7, 0x80)),
    "COMPRESSION_ERROR",
  );
});

Deno.test(`hpack integers: ${HPACK_MAX_INTEGER_CONTINUATION_BYTES} continuation bytes are accepted, one more is not`, () => {
  // 127 with a 7-bit prefix, padded with zero-valued continuation bytes (legal but wasteful).
  const padded = (n: number) => block("7f", ...Array(n - 1).fill("80"), "00");
  assert.deepEqual(decodeHpackInteger(padded(HPACK_MAX_INTEGER_CONTINUATION_BYTES), 0, 7), [
    127,
    1 + HPACK_MAX_INTEGER_CONTINUATION_BYTES,
  ]);
  assertHpackError(
    () => decodeHpackInteger(padded(HPACK_MAX_INTEGER_CONTINUATION_BYTES + 1), 0, 7),
    "COMPRESSION_ERROR",
  );
  assertHpackError(() => decodeHpackInteger(hex("7f80"), 0, 7), "COMPRESSION_ERROR"); // cut short
  assertHpackError(() => new HpackDecoder().decode(hex("ff")), "COMPRESSION_ERROR");
});

Deno.test("hpack strings: a length reaching the block's end is accepted, one past is not", () => {
  // Literal without indexing, name ":path" (index 4), value "/abc".
  assert.deepEqual(new HpackDecoder().decode(block("04", str("/abc"))), [[":path", "/abc"]]);
  assertHpackError(
    () => new HpackDecoder().decode(block("04", "05", ascii("/abc"))),
    "COMPRESSION_ERROR",
  );
  // Huffman: "www.example.com" is 12 bytes coded.
  const coded = "f1e3c2e5f23a6ba0ab90f4ff";
  assert.deepEqual(new HpackDecoder().decode(block("04", "8c", coded)), [[
    ":path",
    "www.example.com",
  ]]);
  assertHpackError(() => new HpackDecoder().decode(block("04", "8d", coded)), "COMPRESSION_ERROR");
  assertHpackError(() => new HpackDecoder().decode(hex("04")), "COMPRESSION_ERROR"); // no value at all
  assertHpackError(() => new HpackDecoder().decode(hex("00")), "COMPRESSION_ERROR"); // no name
  assertHpackError(() => new HpackDecoder().decode(hex("4088")), "COMPRESSION_ERROR"); // name cut off
});

Deno.test("hpack strings: Huffman errors are compression errors", () => {
  assertHpackError(
    () => new HpackDecoder().decode(block("04", "84", "ffffffff")),
    "COMPRESSION_ERROR",
  );
  assertHpackError(() => new HpackDecoder().decode(block("04", "82", "f8ff")), "COMPRESSION_ERROR");
  assertHpackError(() => new HpackDecoder().decode(block("04", "81", "1e")), "COMPRESSION_ERROR");
  assert.deepEqual(new HpackDecoder().decode(block("04", "81", "1f")), [[":path", "a"]]);
});

Deno.test(`hpack strings: Huffman output up to ${HPACK_MAX_KEPT_SCRATCH_BYTES} bytes in the kept buffer, past it in its own`, () => {
  // "0" is 5 bits: n of them take ceil(5n / 8) bytes, room for floor(8 × bytes / 5) = n.
  const decoder = new HpackDecoder();
  for (const n of [HPACK_MAX_KEPT_SCRATCH_BYTES, HPACK_MAX_KEPT_SCRATCH_BYTES + 1, 3]) {
    const coded = huffmanEncode(ascii("0".repeat(n)));
    const fields = decoder.decode(block("04", integer(coded.length, 7, 0x80), coded));
    assert.deepEqual(fields, [[":path", "0".repeat(n)]]);
  }
});

Deno.test("hpack indexes: 0 and past the dynamic table are refused; the last entry is not", () => {
  assertHpackError(() => new HpackDecoder().decode(hex("80")), "COMPRESSION_ERROR");
  assert.deepEqual(new HpackDecoder().decode(integer(STATIC_TABLE.length, 7, 0x80)), [[
    "www-authenticate",
    "",
  ]]);
  assertHpackError(() => new HpackDecoder().decode(hex("be")), "COMPRESSION_ERROR"); // 62, table empty
  const decoder = new HpackDecoder();
  decoder.decode(block("40", str("x-one"), str("1"))); // index 62
  assert.deepEqual(decoder.decode(hex("be")), [["x-one", "1"]]);
  assertHpackError(() => decoder.decode(hex("bf")), "COMPRESSION_ERROR"); // 63
  // A literal's name index past the table too (literal with indexing, name index 63).
  assertHpackError(() => decoder.decode(block("7f00", str("v"))), "COMPRESSION_ERROR");
  assertHpackError(() => decoder.decode(block("0f30", str("v"))), "COMPRESSION_ERROR");
});

Deno.test("hpack table size updates: up to our setting, only at the start of a block", () => {
  const decoder = new HpackDecoder({ maxTableSize: 4096 });
  assert.deepEqual(decoder.decode(block(integer(4096, 5, 0x20), "82")), [[":method", "GET"]]);
  assertHpackError(() => decoder.decode(integer(4097, 5, 0x20)), "COMPRESSION_ERROR");
  assertHpackError(() => decoder.decode(hex("8220")), "COMPRESSION_ERROR"); // after a field
  // Two at the start are fine (§4.2: the smallest, then the final one), and they evict.
  decoder.decode(block("40", str("x-one"), str("1")));
  assert.equal(decoder.tableSize, 38);
  assert.deepEqual(decoder.decode(block("20", integer(4096, 5, 0x20), "82")), [[":method", "GET"]]);
  assert.equal(decoder.tableSize, 0);
  assertHpackError(() => decoder.decode(hex("be")), "COMPRESSION_ERROR");
  const small = new HpackDecoder({ maxTableSize: 0 });
  assert.deepEqual(small.decode(hex("20")), []);
  assertHpackError(() => small.decode(hex("21")), "COMPRESSION_ERROR");
});

Deno.test("hpack: an entry larger than the table empties it (not an error)", () => {
  const decoder = new HpackDecoder({ maxTableSize: 64 });
  decoder.decode(block("40", str("x-a"), str("1")));
  assert.equal(decoder.tableSize, 36);
  assert.deepEqual(decoder.decode(block("40", str("x-b"), str("y".repeat(30)))), [[
    "x-b",
    "y".repeat(30),
  ]]);
  assert.equal(decoder.tableSize, 0);
  assertHpackError(() => decoder.decode(hex("be")), "COMPRESSION_ERROR");
});

Deno.test("hpack header list size: at the limit decodes, one octet past is refused, table intact", () => {
  const limit = 1000;
  const decoder = new HpackDecoder({ maxHeaderListSize: limit });
  // ":path" (5) + value + 32 = limit.
  const atLimit = "/" + "a".repeat(limit - 5 - 32 - 1);
  assert.deepEqual(decoder.decode(block("04", str(atLimit))), [[":path", atLimit]]);
  assertHpackError(() => decoder.decode(block("04", str(atLimit + "a"))), "HEADER_LIST_TOO_LARGE");
  // Over the limit with indexed literals (3 × 435 octets): every entry still goes into the
  // table, so the peer's next block, which references them, decodes as the peer meant.
  const entry = (name: string, fill: string) => block("40", str(name), str(fill.repeat(400)));
  const big = block(entry("x-a", "1"), entry("x-b", "2"), entry("x-c", "3"));
  assertHpackError(() => decoder.decode(big), "HEADER_LIST_TOO_LARGE");
  assert.deepEqual(decoder.decode(hex("bebf")), [["x-c", "3".repeat(400)], [
    "x-b",
    "2".repeat(400),
  ]]);
  assert.equal(decoder.tableSize, 3 * 435);
});

Deno.test(`hpack header list size: the default ${DEFAULT_MAX_HEADER_LIST_SIZE} at and past the limit`, () => {
  const value = "v".repeat(DEFAULT_MAX_HEADER_LIST_SIZE - "x-big".length - 32);
  const decoder = new HpackDecoder();
  assert.equal(decoder.decode(block("00", str("x-big"), str(value)))[0][1].length, value.length);
  assertHpackError(
    () => decoder.decode(block("00", str("x-big"), str(value + "v"))),
    "HEADER_LIST_TOO_LARGE",
  );
});

Deno.test("hpack bomb (CVE-2016-6581): a million references to a 4 KB entry stop at the limit", () => {
  const decoder = new HpackDecoder();
  const value = "b".repeat(4000);
  const refs = 1 << 20; // 1 MiB of one-byte references: 4 GB of header values if collected
  const bomb = new Uint8Array(4100 + refs);
  const head = block("40", str("x-bomb"), integer(value.length, 7, 0), ascii(value));
  bomb.set(head);
  bomb.fill(0xbe, head.length, head.length + refs);
  const heapBefore = Deno.memoryUsage().heapUsed;
  assertHpackError(
    () => decoder.decode(bomb.subarray(0, head.length + refs)),
    "HEADER_LIST_TOO_LARGE",
  );
  // Collecting even the references (not the bytes) of a million fields would take ~50 MB.
  const grown = Deno.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 16 * 1024 * 1024, `heap grew ${grown} bytes decoding the bomb`);
  assert.deepEqual(decoder.decode(hex("be")), [["x-bomb", value]], "the table is intact");
});

Deno.test("hpack: an empty block is an empty list", () => {
  assert.deepEqual(new HpackDecoder().decode(new Uint8Array(0)), []);
  assert.equal(new HpackEncoder().encode([]).length, 0);
});

// --- the encoder ------------------------------------------------------------------------------

Deno.test("hpack encoder: credentials are never indexed, and stay out of the table", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  for (const name of ["set-cookie", "authorization", "proxy-authorization", "cookie"]) {
    for (let i = 0; i < 2; i++) {
      const bytes = encoder.encode([[name, "secret=1"]]);
      assert.equal(bytes[0] & 0xf0, 0x10, `${name}: never-indexed literal`);
      assert.deepEqual(decoder.decode(bytes), [[name, "secret=1"]]);
    }
  }
  assert.equal(encoder.tableSize, 0);
  assert.equal(decoder.tableSize, 0);
});

Deno.test("hpack encoder: a typical response's repeat costs a few bytes", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const response: Fields = [
    [":status", "200"],
    ["Content-Type", "text/html; charset=utf-8"],
    ["Content-Length", "1024"],
    ["Date", "Fri, 27 Nov 2026 14:00:00 GMT"],
    ["ETag", '"5f3a-400"'],
    ["Last-Modified", "Thu, 26 Nov 2026 10:00:00 GMT"],
    ["Server", "sockit"],
  ];
  const lower = response.map(([n, v]) => [n.toLowerCase(), v]);
  const first = encoder.encode(response);
  const second = encoder.encode(response);
  assert.deepEqual(decoder.decode(first), lower, "names go out lowercase");
  assert.deepEqual(decoder.decode(second), lower);
  // :status, content-type, date, server: one byte each; content-length, etag, last-modified:
  // static name index + Huffman value (not indexed: they differ per file).
  // 4 one-byte indexes + "1024" (2 + 1 + 3) + the etag (2 + 1 + 9) + the date (2 + 1 + 22).
  assert.ok(second.length <= 4 + 6 + 12 + 25, `second block ${second.length} bytes`);
  assert.ok(first.length > second.length + 30);
  // :status 200, then content-type: 64, the oldest of the three entries (server 62, date 63).
  assert.equal(toHex(second.subarray(0, 2)), "88c0");
});

Deno.test("hpack encoder: table size changes are announced at the start of the next block", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  decoder.decode(encoder.encode([["x-a", "1"]]));
  encoder.setMaxTableSize(0);
  const cleared = encoder.encode([["x-b", "2"]]);
  assert.equal(cleared[0], 0x20);
  assert.deepEqual(decoder.decode(cleared), [["x-b", "2"]]);
  assert.equal(decoder.tableSize, 0);
  // Down to 100 and back to 4096 before the next block: both, smallest first (§4.2).
  encoder.setMaxTableSize(100);
  encoder.setMaxTableSize(4096);
  const both = encoder.encode([["x-c", "3"]]);
  assert.equal(
    toHex(both.subarray(0, 5)),
    toHex(block(integer(100, 5, 0x20), integer(4096, 5, 0x20))),
  );
  assert.deepEqual(decoder.decode(both), [["x-c", "3"]]);
  assert.equal(decoder.tableSize, encoder.tableSize);
  assert.equal(encoder.encode([["x-c", "3"]])[0], 0xbe, "no update twice; indexed again");
});

Deno.test("hpack encoder: its own maxTableSize caps what the peer allows", () => {
  const encoder = new HpackEncoder({ maxTableSize: 1024 });
  const first = encoder.encode([[":status", "200"]]);
  assert.equal(toHex(first), toHex(block(integer(1024, 5, 0x20), "88")));
  encoder.setMaxTableSize(65536);
  assert.equal(
    toHex(encoder.encode([[":status", "200"]])),
    toHex(block(integer(1024, 5, 0x20), "88")),
  );
});

Deno.test(`hpack encoder: at most ${HPACK_LITERAL_CACHE_ENTRIES} cached literals`, () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const first = encoder.encode([["content-length", "0"]]);
  assert.equal(toHex(encoder.encode([["content-length", "0"]])), toHex(first), "cached = fresh");
  for (let i = 1; i < HPACK_LITERAL_CACHE_ENTRIES; i++) {
    assert.deepEqual(decoder.decode(encoder.encode([["content-length", `${i}`]])), [[
      "content-length",
      `${i}`,
    ]]);
  }
  assert.equal(encoder.literalCacheSize, HPACK_LITERAL_CACHE_ENTRIES);
  encoder.encode([["content-length", "0"]]); // a hit: nothing added
  assert.equal(encoder.literalCacheSize, HPACK_LITERAL_CACHE_ENTRIES);
  encoder.encode([["content-length", `${HPACK_LITERAL_CACHE_ENTRIES}`]]);
  assert.equal(encoder.literalCacheSize, 1, "emptied when full, then the new one");
  assert.equal(encoder.tableSize, 0, "content-length is never indexed");
});

Deno.test(`hpack encoder: at most ${HPACK_ENCODER_MAX_NAMES} remembered names`, () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const send = (fields: Fields) => decoder.decode(encoder.encode(fields));
  send([["Content-Type", "text/plain"]]); // two names: as given and lowercase
  for (let i = 2; i < HPACK_ENCODER_MAX_NAMES; i++) {
    assert.deepEqual(decoder.decode(encoder.encode([[`x-${i}`, "v"]])), [[`x-${i}`, "v"]]);
  }
  assert.equal(encoder.nameCount, HPACK_ENCODER_MAX_NAMES);
  send([["Content-Type", "text/plain"]]); // known: nothing added
  assert.equal(encoder.nameCount, HPACK_ENCODER_MAX_NAMES);
  assert.deepEqual(send([["x-new", "v"]]), [["x-new", "v"]]);
  assert.equal(encoder.nameCount, 1, "forgotten, then the new one");
  assert.deepEqual(send([["Content-Type", "text/plain"]]), [["content-type", "text/plain"]]);
  assert.equal(decoder.tableSize, encoder.tableSize, "the table itself is not touched");
});

Deno.test("hpack encoder: non-ASCII values go out as UTF-8 (as HTTP/1.1 writes them)", () => {
  const bytes = new HpackEncoder().encode([[
    "content-disposition",
    'attachment; filename="é.txt"',
  ]]);
  // The decoder reads octets one char each, like lib/http/h1/request.ts: é = c3 a9.
  assert.deepEqual(new HpackDecoder().decode(bytes), [[
    "content-disposition",
    'attachment; filename="\u00c3\u00a9.txt"',
  ]]);
});

// --- fuzz -------------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("hpack fuzz: random header lists round-trip through one encoder/decoder pair (seed 7541)", () => {
  const random = mulberry32(7541);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const names = [
    ...STATIC_TABLE.map(([n]) => n),
    "x-custom",
    "X-Mixed-Case",
    "x-another-header",
    "set-cookie",
  ];
  const values = ["", "0", "200", "gzip", "text/html", "no-cache", "sockit", "a".repeat(500)];
  const randomValue = () => {
    if (random() < 0.5) return pick(values);
    const length = random() < 0.02 ? 3000 : Math.floor(random() * 60);
    return String.fromCharCode(...Array.from({ length }, () => 0x20 + Math.floor(random() * 95)));
  };
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  for (let i = 0; i < 3000; i++) {
    if (random() < 0.02) encoder.setMaxTableSize(pick([0, 64, 256, 1000, 4096]));
    const list: Fields = Array.from(
      { length: Math.floor(random() * 16) },
      () => [pick(names), randomValue()],
    );
    const decoded = decoder.decode(encoder.encode(list));
    assert.deepEqual(decoded, list.map(([n, v]) => [n.toLowerCase(), v]), `list ${i}`);
    assert.equal(decoder.tableSize, encoder.tableSize);
  }
});

Deno.test("hpack fuzz: random bytes only ever fail as HpackError (seed 6581)", () => {
  const random = mulberry32(6581);
  let refused = 0;
  let decoder = new HpackDecoder({ maxHeaderListSize: 4096 });
  for (let i = 0; i < 20000; i++) {
    const bytes = Uint8Array.from(
      { length: Math.floor(random() * 48) },
      () => Math.floor(random() * 256),
    );
    try {
      decoder.decode(bytes);
    } catch (err) {
      assert.ok(err instanceof HpackError, `block ${toHex(bytes)}: ${err}`);
      refused++;
      decoder = new HpackDecoder({ maxHeaderListSize: 4096 }); // a connection error ends it
    }
  }
  assert.ok(refused > 1000 && refused < 20000, `${refused} refused`);
});

Deno.test("huffman fuzz: random bytes round-trip (seed 5)", () => {
  const random = mulberry32(5);
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from(
      { length: Math.floor(random() * 100) },
      () => Math.floor(random() * 256),
    );
    assert.deepEqual(huffmanDecode(huffmanEncode(bytes)), bytes);
  }
});
