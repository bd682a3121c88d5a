import assert from "node:assert/strict";
import {
  MAX_FIELD_BYTES,
  multipartBoundary,
  MultipartError,
  type MultipartErrorCode,
  type MultipartLimits,
  parseMultipart,
  parseParameters,
} from "../lib/http/sharing/multipart.ts";
import { BufferedReader, CRLFCRLF } from "../lib/framing.ts";
import { concatBytes, tempTree } from "./helpers.ts";

const enc = new TextEncoder();
const BOUNDARY = "----sockitBoundary7MA4YWxk";

interface ParsedPart {
  name: string | null;
  filename: string | null;
  contentType: string | null;
  body: Uint8Array;
}

/** Yields `bytes` cut at the given offsets. */
async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > start) yield bytes.slice(start, cut);
    start = Math.max(start, cut);
  }
}

async function parseAll(
  source: AsyncIterable<Uint8Array>,
  boundary = BOUNDARY,
  limits?: MultipartLimits,
): Promise<ParsedPart[]> {
  const parts: ParsedPart[] = [];
  for await (const part of parseMultipart(source, boundary, limits)) {
    const chunks: Uint8Array[] = [];
    for await (const c of part.body) chunks.push(c.slice()); // views: copy before next pull
    parts.push({
      name: part.name,
      filename: part.filename,
      contentType: part.contentType,
      body: concatBytes(chunks),
    });
  }
  return parts;
}

/** A body with the awkward cases: CRLFs and near-boundaries inside content, binary bytes. */
function sampleBody(): { body: Uint8Array; expected: ParsedPart[] } {
  const tricky = enc.encode(`line1\r\n--${BOUNDARY.slice(0, -1)}\r\n\r\nx--${BOUNDARY}X-not\r`);
  // ^ contains "\r\n--" + almost the boundary, and the boundary not preceded by CRLF.
  const binary = new Uint8Array(300);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 37 + 11) & 0xff;
  const expected: ParsedPart[] = [
    { name: "note", filename: null, contentType: null, body: enc.encode("hello world") },
    { name: "files", filename: "a.txt", contentType: "text/plain", body: tricky },
    {
      name: "files",
      filename: "b.bin",
      contentType: "application/octet-stream",
      body: binary,
    },
    { name: "files", filename: "résumé €.txt", contentType: null, body: new Uint8Array(0) },
    {
      name: "empty",
      filename: "",
      contentType: "application/octet-stream",
      body: new Uint8Array(0),
    },
  ];
  const body = concatBytes([
    enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello world`),
    enc.encode(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="files"; `),
    enc.encode(`filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`),
    tricky,
    enc.encode(`\r\n--${BOUNDARY}\r\ncontent-disposition: form-data; name=files; filename=b.bin`),
    enc.encode(`\r\nCONTENT-TYPE: application/octet-stream\r\n\r\n`),
    binary,
    enc.encode(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="files"; `),
    enc.encode(`filename="ignored.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.txt\r\n\r\n`),
    enc.encode(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="empty"; filename=""`),
    enc.encode(`\r\nContent-Type: application/octet-stream\r\n\r\n`),
    enc.encode(`\r\n--${BOUNDARY}--\r\nepilogue is ignored`),
  ]);
  return { body, expected };
}

Deno.test("multipart: parses fields and files, whole", async () => {
  const { body, expected } = sampleBody();
  assert.deepEqual(await parseAll(chunked(body, [])), expected);
});

Deno.test("multipart: same result when split in two at every byte position", async () => {
  const { body, expected } = sampleBody();
  for (let cut = 1; cut < body.length; cut++) {
    assert.deepEqual(await parseAll(chunked(body, [cut])), expected, `cut at ${cut}`);
  }
});

Deno.test("multipart: same result in 1-byte chunks and in three-way splits", async () => {
  const { body, expected } = sampleBody();
  const ones = Array.from({ length: body.length }, (_, i) => i);
  assert.deepEqual(await parseAll(chunked(body, ones)), expected);
  for (let a = 1; a < body.length; a += 7) {
    for (let b = a + 1; b < body.length; b += 13) {
      assert.deepEqual(await parseAll(chunked(body, [a, b])), expected, `cuts ${a},${b}`);
    }
  }
});

Deno.test("multipart: a body from Deno's own FormData encoder", async () => {
  const form = new FormData();
  form.append("title", "holiday ☀");
  form.append("upload", new File([enc.encode("first file\r\n")], "one.txt"));
  form.append("upload", new File([new Uint8Array(70_000).fill(7)], "two.bin"));
  const response = new Response(form);
  const boundary = multipartBoundary(response.headers.get("content-type"));
  const parts = await parseAll(response.body!, boundary);
  assert.deepEqual(parts.map((p) => [p.name, p.filename, p.body.length]), [
    ["title", null, "holiday ☀".length + 2],
    ["upload", "one.txt", 12],
    ["upload", "two.bin", 70_000],
  ]);
  assert.equal(new TextDecoder().decode(parts[0].body), "holiday ☀");
  assert.ok(parts[2].body.every((b) => b === 7));
});

Deno.test("multipart: what curl -F sends (captured from a real socket)", async () => {
  const content = new Uint8Array(100_000);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7) & 0xff;
  await using tree = await tempTree({ "photo 1.jpg": content });
  const dir = tree.path;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const curl = new Deno.Command("curl", {
      args: [
        "-s",
        "-m",
        "10",
        "-F",
        `file=@${dir}/photo 1.jpg`,
        "-F",
        "comment=hi there",
        `http://127.0.0.1:${listener.addr.port}/`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const conn = await listener.accept();
    try {
      const reader = new BufferedReader(conn);
      const head = new TextDecoder().decode(
        await reader.readUntil(CRLFCRLF, { maxBytes: 16384 }) ?? new Uint8Array(),
      );
      const length = Number(/^content-length:\s*(\d+)/im.exec(head)![1]);
      const contentType = /^content-type:\s*(.+?)\r$/im.exec(head)![1];
      if (/^expect:\s*100-continue/im.test(head)) {
        await conn.write(enc.encode("HTTP/1.1 100 Continue\r\n\r\n"));
      }
      const body = (await reader.readExact(length)).slice();
      await conn.write(enc.encode("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"));
      const parts = await parseAll(chunked(body, [1000, 5000]), multipartBoundary(contentType));
      assert.equal(parts.length, 2);
      assert.equal(parts[0].name, "file");
      assert.equal(parts[0].filename, "photo 1.jpg");
      assert.deepEqual(parts[0].body, content);
      assert.deepEqual(
        [parts[1].name, new TextDecoder().decode(parts[1].body)],
        ["comment", "hi there"],
      );
    } finally {
      conn.close();
    }
    assert.equal((await curl.status).code, 0);
  } finally {
    listener.close();
  }
});

Deno.test("multipart: unread parts are skipped; text() collects a field", async () => {
  const { body } = sampleBody();
  const seen: string[] = [];
  for await (const part of parseMultipart(chunked(body, [50, 51, 200]), BOUNDARY)) {
    if (part.name === "note") seen.push(await part.text());
    else if (part.filename === "b.bin") {
      for await (const _ of part.body) break; // read one chunk, then abandon the part
      seen.push("b.bin");
    } else seen.push(`skipped ${part.filename}`);
  }
  assert.deepEqual(seen, [
    "hello world",
    "skipped a.txt",
    "b.bin",
    "skipped résumé €.txt",
    "skipped ",
  ]);
});

async function expectError(
  body: string | Uint8Array,
  code: MultipartErrorCode,
  options: { boundary?: string; limits?: MultipartLimits; field?: number } = {},
) {
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  await assert.rejects(
    async () => {
      for await (
        const part of parseMultipart(
          chunked(bytes, [3]),
          options.boundary ?? BOUNDARY,
          options.limits,
        )
      ) {
        if (options.field !== undefined) await part.text(options.field);
      }
    },
    (err) => {
      assert.ok(err instanceof MultipartError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.status, 400);
      return true;
    },
    `${JSON.stringify(typeof body === "string" ? body.slice(0, 80) : "bytes")} → ${code}`,
  );
}

Deno.test("multipart: malformed bodies are typed errors", async () => {
  const B = BOUNDARY;
  const cd = 'Content-Disposition: form-data; name="a"';
  await expectError("", "MALFORMED_BODY");
  await expectError("no boundary here at all", "MALFORMED_BODY");
  await expectError("x".repeat(5000) + `\r\n--${B}\r\n`, "MALFORMED_BODY");
  await expectError(`junk--${B}\r\n${cd}\r\n\r\nv\r\n--${B}--`, "MALFORMED_BODY");
  await expectError(`--${B}X\r\n${cd}\r\n\r\nv\r\n--${B}--`, "MALFORMED_BODY");
  await expectError(`--${B}`, "TRUNCATED_BODY");
  await expectError(`--${B}\r\n${cd}\r\n`, "TRUNCATED_BODY");
  await expectError(`--${B}\r\n${cd}\r\n\r\nvalue without end`, "TRUNCATED_BODY");
  await expectError(`--${B}\r\n${cd}\r\n\r\nvalue\r\n--${B}`, "TRUNCATED_BODY");
  await expectError(`--${B}\r\nno colon here\r\n\r\nv\r\n--${B}--`, "MALFORMED_PART_HEADER");
  await expectError(`--${B}\r\n${cd}\r\n folded\r\n\r\nv\r\n--${B}--`, "MALFORMED_PART_HEADER");
  await expectError(
    `--${B}\r\nContent-Disposition: form-data; name="a\r\n\r\nv\r\n--${B}--`,
    "MALFORMED_PART_HEADER",
  );
  await expectError(
    `--${B}\r\nContent-Disposition: form-data; filename*=UTF-8''%ff\r\n\r\nv\r\n--${B}--`,
    "MALFORMED_PART_HEADER",
  );
  await expectError(
    concatBytes([enc.encode(`--${B}\r\nX-Name: `), new Uint8Array([0xff, 0xfe]), CRLFCRLF]),
    "MALFORMED_PART_HEADER",
  );
  await expectError(
    `--${B}\r\nX-Big: ${"h".repeat(9000)}\r\n\r\nv\r\n--${B}--`,
    "PART_HEADER_TOO_LARGE",
  );
  await expectError(
    `--${B}\r\n${`X-Many: ${"h".repeat(90)}\r\n`.repeat(100)}\r\nv\r\n--${B}--`,
    "PART_HEADER_TOO_LARGE",
  );
  const three = `--${B}\r\n${cd}\r\n\r\n1\r\n--${B}\r\n${cd}\r\n\r\n2\r\n--${B}\r\n${cd}\r\n\r\n3` +
    `\r\n--${B}--`;
  await expectError(three, "TOO_MANY_PARTS", { limits: { maxParts: 2 } });
  await expectError(`--${B}\r\n${cd}\r\n\r\n${"v".repeat(100)}\r\n--${B}--`, "FIELD_TOO_LARGE", {
    field: 99,
  });
  // The same bodies within limits parse.
  assert.equal((await parseAll(chunked(enc.encode(three), []), B)).length, 3);
  assert.equal(MAX_FIELD_BYTES, 64 * 1024);
});

Deno.test("multipart: transport padding after a boundary is allowed", async () => {
  const B = BOUNDARY;
  const body = `--${B} \t\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--${B}--`;
  const parts = await parseAll(chunked(enc.encode(body), []));
  assert.deepEqual(parts.map((p) => p.name), ["a"]);
});

Deno.test("multipartBoundary: from Content-Type, strictly", () => {
  assert.equal(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`), BOUNDARY);
  assert.equal(multipartBoundary(`Multipart/Form-Data;boundary="a b:c"`), "a b:c");
  assert.equal(multipartBoundary(`multipart/form-data; charset=utf-8; boundary=x`), "x");
  const bad = [
    null,
    "",
    "text/plain",
    "multipart/mixed; boundary=x",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    `multipart/form-data; boundary=${"b".repeat(71)}`,
    'multipart/form-data; boundary="ends with space "',
    "multipart/form-data; boundary=semi;colon<",
    'multipart/form-data; boundary="unterminated',
  ];
  for (const value of bad) {
    assert.throws(() => multipartBoundary(value), (err) => {
      assert.ok(err instanceof MultipartError);
      assert.equal(err.code, "BAD_CONTENT_TYPE");
      return true;
    }, String(value));
  }
});

Deno.test("parseParameters: quoted values keep backslashes (browsers do not escape them)", () => {
  assert.deepEqual(
    parseParameters('; name="a"; filename="C:\\dir\\x.txt"; FOO=bar'),
    new Map([["name", "a"], ["filename", "C:\\dir\\x.txt"], ["foo", "bar"]]),
  );
  assert.equal(parseParameters("; =x"), null);
  assert.equal(parseParameters("junk"), null);
});
