import assert from "node:assert/strict";
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  MAX_UPLOAD_NAME_BYTES,
  sanitizeUploadFilename,
  saveMultipartUploads,
  UploadConflictError,
  UploadError,
  type UploadErrorCode,
  UploadTooLargeError,
  validateUploadName,
  writeUploadedFile,
} from "../lib/http/sharing/upload.ts";
import { isUploadTempName, UPLOAD_TEMP_PREFIX } from "../lib/http/files/safe_path.ts";
import { multipartBoundary, MultipartError } from "../lib/http/sharing/multipart.ts";
import { entryNames, tempTree } from "./helpers.ts";

const enc = new TextEncoder();

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === "string" ? enc.encode(p) : p;
}

/** A body that sends `parts`, then fails like a client that disconnected. */
async function* brokenBody(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield enc.encode(p);
  throw new Deno.errors.ConnectionReset("client went away");
}

function isUploadError(code: UploadErrorCode, status: number) {
  return (err: unknown) => {
    assert.ok(err instanceof UploadError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    return true;
  };
}

Deno.test("upload: a streamed body lands under its name, nothing else left behind", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
  const saved = await writeUploadedFile(`${dir}/data.bin`, chunks("head:", big, ":tail"));
  assert.deepEqual(saved, { path: `${dir}/data.bin`, bytes: big.length + 10, replaced: false });
  const stored = await Deno.readFile(`${dir}/data.bin`);
  assert.equal(stored.length, big.length + 10);
  assert.deepEqual(stored.subarray(5, 5 + big.length), big);
  assert.deepEqual(await entryNames(dir), ["data.bin"]);
  assert.equal(DEFAULT_MAX_UPLOAD_BYTES, 1024 ** 3);
});

Deno.test("upload: over the limit → 413, temp file removed, target never created", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  await assert.rejects(
    () => writeUploadedFile(`${dir}/x.txt`, chunks("12345", "67890", "1"), { maxBytes: 10 }),
    (err) => err instanceof UploadTooLargeError && err.status === 413 && err.limit === 10,
  );
  assert.deepEqual(await entryNames(dir), []);
  // Exactly at the limit is fine.
  await writeUploadedFile(`${dir}/x.txt`, chunks("12345", "67890"), { maxBytes: 10 });
  assert.equal(await Deno.readTextFile(`${dir}/x.txt`), "1234567890");
});

Deno.test("upload: existing name → 409 before reading the body; overwrite replaces", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  await Deno.writeTextFile(`${dir}/a.txt`, "original");
  let pulled = false;
  const body = (async function* () {
    pulled = true;
    yield enc.encode("new");
  })();
  await assert.rejects(
    () => writeUploadedFile(`${dir}/a.txt`, body),
    isUploadError("UPLOAD_CONFLICT", 409),
  );
  assert.equal(pulled, false, "a conflict costs no transfer");
  assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "original");

  const saved = await writeUploadedFile(`${dir}/a.txt`, chunks("new"), { overwrite: true });
  assert.equal(saved.replaced, true);
  assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "new");
  assert.deepEqual(await entryNames(dir), ["a.txt"]);
});

Deno.test("upload: a racing upload that wins the name → 409 for the loser, winner intact", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  // The name is free at the start; another upload creates it while this body streams.
  const body = (async function* () {
    yield enc.encode("loser");
    await Deno.writeTextFile(`${dir}/race.txt`, "winner");
    yield enc.encode(" data");
  })();
  await assert.rejects(
    () => writeUploadedFile(`${dir}/race.txt`, body),
    (err) => err instanceof UploadConflictError,
  );
  assert.equal(await Deno.readTextFile(`${dir}/race.txt`), "winner");
  assert.deepEqual(await entryNames(dir), ["race.txt"]);
});

Deno.test("upload: the half-written file is never visible; an aborted body leaves nothing", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  let seenDuring: string[] = [];
  const body = (async function* () {
    yield enc.encode("part one");
    seenDuring = await entryNames(dir);
    throw new Deno.errors.ConnectionReset("client went away");
  })();
  await assert.rejects(
    () => writeUploadedFile(`${dir}/movie.mp4`, body),
    Deno.errors.ConnectionReset,
  );
  assert.equal(seenDuring.length, 1);
  assert.ok(seenDuring[0].startsWith(UPLOAD_TEMP_PREFIX), "only a hidden temp file meanwhile");
  assert.ok(isUploadTempName(seenDuring[0]));
  assert.deepEqual(await entryNames(dir), [], "temp removed, no partial file");
  await assert.rejects(() => writeUploadedFile(`${dir}/x`, brokenBody("a", "b")));
  assert.deepEqual(await entryNames(dir), []);
});

Deno.test("upload: directories and missing parents are 409", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  await Deno.mkdir(`${dir}/sub`);
  await assert.rejects(
    () => writeUploadedFile(`${dir}/sub`, chunks("x"), { overwrite: true }),
    isUploadError("UPLOAD_TARGET_IS_DIRECTORY", 409),
  );
  await assert.rejects(
    () => writeUploadedFile(`${dir}/missing/x.txt`, chunks("x")),
    isUploadError("UPLOAD_NO_PARENT", 409),
  );
  assert.deepEqual(await entryNames(dir), ["sub"]);
  assert.deepEqual(await entryNames(`${dir}/sub`), []);
});

Deno.test("upload names: validation and sanitising", () => {
  assert.equal(validateUploadName("report 2024.pdf"), "report 2024.pdf");
  assert.equal(validateUploadName("ünïcode ☕.txt"), "ünïcode ☕.txt");
  assert.equal(validateUploadName(".env", { dotfiles: true }), ".env");
  for (
    const bad of [
      "",
      ".",
      "..",
      "a/b",
      "a\\b",
      "nul\0byte",
      "new\nline",
      ".hidden",
      `${UPLOAD_TEMP_PREFIX}x`,
      "é".repeat(MAX_UPLOAD_NAME_BYTES / 2 + 1),
    ]
  ) {
    assert.throws(() => validateUploadName(bad), isUploadError("UPLOAD_BAD_NAME", 400), bad);
  }
  assert.throws(
    () => validateUploadName(`${UPLOAD_TEMP_PREFIX}x`, { dotfiles: true }),
    isUploadError("UPLOAD_BAD_NAME", 400),
  );
  assert.equal(sanitizeUploadFilename("C:\\Users\\me\\notes.txt"), "notes.txt");
  assert.equal(sanitizeUploadFilename("../../etc/passwd"), "passwd");
  assert.equal(sanitizeUploadFilename("photo.jpg"), "photo.jpg");
  for (const bad of ["../", "dir/..", "a/.hidden", "x\\", ""]) {
    assert.throws(() => sanitizeUploadFilename(bad), isUploadError("UPLOAD_BAD_NAME", 400), bad);
  }
});

Deno.test("saveMultipartUploads: a browser-style form stores its files", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  const form = new FormData();
  form.append("note", "ignored field");
  form.append("files", new File(["alpha"], "a.txt"));
  form.append("files", new File([new Uint8Array(200_000).fill(9)], "C:\\fake\\b.bin"));
  form.append("files", new File([], "")); // an empty file input
  const response = new Response(form);
  const saved = await saveMultipartUploads(
    dir,
    response.body!,
    multipartBoundary(response.headers.get("content-type")),
  );
  assert.deepEqual(saved.map((s) => [s.path, s.bytes]), [
    [`${dir}/a.txt`, 5],
    [`${dir}/b.bin`, 200_000],
  ]);
  assert.deepEqual(await entryNames(dir), ["a.txt", "b.bin"]);
  assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "alpha");
});

Deno.test("saveMultipartUploads: limit over all files, bad names, malformed body", async () => {
  await using tree = await tempTree();
  const dir = tree.path;
  const form = new FormData();
  form.append("f", new File(["12345"], "one.txt"));
  form.append("f", new File(["67890"], "two.txt"));
  let response = new Response(form);
  const boundary = multipartBoundary(response.headers.get("content-type"));
  const told: string[] = [];
  await assert.rejects(
    () =>
      saveMultipartUploads(dir, response.body!, boundary, {
        maxBytes: 8,
        onSaved: (saved) => told.push(saved.path),
      }),
    (err) => err instanceof UploadTooLargeError && err.limit === 8,
  );
  // The first file was complete and stays (and was reported); the second is gone.
  assert.deepEqual(await entryNames(dir), ["one.txt"]);
  assert.deepEqual(told, [`${dir}/one.txt`]);

  const evil = new FormData();
  evil.append("f", new File(["x"], ".bashrc"));
  response = new Response(evil);
  await assert.rejects(
    () =>
      saveMultipartUploads(
        dir,
        response.body!,
        multipartBoundary(response.headers.get("content-type")),
      ),
    isUploadError("UPLOAD_BAD_NAME", 400),
  );

  await assert.rejects(
    () => saveMultipartUploads(dir, chunks("--b\r\nbroken"), "b"),
    (err) => err instanceof MultipartError && err.code === "TRUNCATED_BODY",
  );
  assert.deepEqual(await entryNames(dir), ["one.txt"]);
});
