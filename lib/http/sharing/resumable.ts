/**
 * Resumable uploads for `http-serve --upload`: `PUT` with `Content-Range: bytes a-b/total`
 * appends to a partial file kept in the target's folder, and the file is published (the
 * atomic link/rename of upload.ts) only when all `total` bytes are there and any
 * `Repr-Digest` matches. `Content-Range: bytes *&#47;total` asks how much is there. This
 * follows the Google/tus "resume incomplete" convention: the answer to an unfinished
 * upload is 308 with `Range: bytes=0-N` (absent when the server has nothing).
 *
 * ```ts
 * import { appendUploadRange, parseUploadContentRange, queryUploadOffset } from "./resumable.ts";
 * declare const body: AsyncIterable<Uint8Array>;
 * const range = parseUploadContentRange("bytes 0-1048575/3000000");
 * if (range?.kind === "range") {
 *   const offset = await queryUploadOffset("/srv/share/big.iso", range.total);
 *   const result = await appendUploadRange("/srv/share/big.iso", range, body, {
 *     maxBytes: 1024 ** 3,
 *     overwrite: false,
 *   });
 *   console.log(offset, result.kind); // 0 "partial" → answer 308, Range: bytes=0-1048575
 * }
 * ```
 *
 * Rules (each a precise status, {@link ResumeError}):
 * - The partial file is `.sockit-upload-part-HASH-TOTAL` (HASH: SHA-256 of the name), so
 *   the same name and total find it again from any connection; it is hidden like every
 *   upload in progress, and removed after {@link PARTIAL_UPLOAD_TTL_MS} without a write
 *   (checked whenever that name is resumed, and when a new partial starts in that folder).
 * - A range must start exactly where the partial ends: earlier (overlap) or later (gap)
 *   → 409 with `Range` saying what is there; the request changes nothing.
 * - A body longer or shorter than its range, or a `Content-Digest` (of this request's
 *   bytes) that does not match → 400 and the partial is cut back to where it was.
 * - A body cut off by a dropped connection keeps what arrived: that is what is resumed.
 * - `total` over `--max-upload` → 413; more than {@link MAX_PARTIAL_UPLOADS_PER_FOLDER}
 *   unfinished uploads in one folder → 507 for a new one.
 * - On the last range, a `Repr-Digest` (of the whole file) that does not match → 400, the
 *   partial is deleted and nothing is published.
 *
 * @module
 */
import { sha256Hex } from "../../sha256.ts";
import { writeAll } from "../../framing.ts";
import { UPLOAD_TEMP_PREFIX } from "../files/safe_path.ts";
import { checkFileDigest, DigestCheck, type ExpectedDigest } from "./digest.ts";
import {
  lstatOrNull,
  publishUpload,
  splitPath,
  UploadConflictError,
  UploadError,
} from "./upload.ts";

/** Name prefix of partial (resumable) uploads; hidden like every upload in progress. */
export const PARTIAL_UPLOAD_PREFIX = `${UPLOAD_TEMP_PREFIX}part-`;

/** A partial upload not written to for this long is deleted (24 hours). */
export const PARTIAL_UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;

/** Unfinished uploads one folder may hold; one more new one gets 507. */
export const MAX_PARTIAL_UPLOADS_PER_FOLDER = 16;

/** Folder entries one sweep for expired partials looks at, at most. */
export const MAX_PARTIAL_SWEEP_ENTRIES = 10_000;

/** Stable codes of {@link ResumeError}. */
export type ResumeErrorCode =
  | "RESUME_BAD_RANGE"
  | "RESUME_OFFSET_MISMATCH"
  | "RESUME_LENGTH_MISMATCH"
  | "RESUME_DIGEST_MISMATCH"
  | "RESUME_BUSY"
  | "RESUME_TOO_MANY";

/** A refused resumable PUT; `offset` is what the server holds (for a `Range` header). */
export class ResumeError extends Error {
  constructor(
    readonly code: ResumeErrorCode,
    readonly status: number,
    message: string,
    readonly offset: number | null = null,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A parsed upload `Content-Range`. */
export type UploadContentRange =
  | { kind: "query"; total: number }
  | { kind: "range"; first: number; last: number; total: number };

const RANGE = /^bytes (?:(\d{1,15})-(\d{1,15})|\*)\/(\d{1,15})$/;

/**
 * Pure: `bytes a-b/total` or `bytes *&#47;total`; null when malformed, when `b < a`, when
 * `b >= total` (RFC 9110 §14.4: invalid), or when the total is unknown or 0.
 */
export function parseUploadContentRange(value: string): UploadContentRange | null {
  const match = RANGE.exec(value.trim());
  if (match === null) return null;
  const total = Number(match[3]);
  if (total === 0) return null;
  if (match[1] === undefined) return { kind: "query", total };
  const first = Number(match[1]);
  const last = Number(match[2]);
  if (last < first || last >= total) return null;
  return { kind: "range", first, last, total };
}

/** Pure: the `Range` header value telling a client it may resume at `offset`, or null. */
export function resumeRangeHeader(offset: number): string | null {
  return offset > 0 ? `bytes=0-${offset - 1}` : null;
}

/** Pure: the partial file's name for `fileName` of `total` bytes. */
export function partialUploadName(fileName: string, total: number): string {
  const hash = sha256Hex(fileName).slice(0, 32);
  return `${PARTIAL_UPLOAD_PREFIX}${hash}-${total}`;
}

function partialPathFor(targetPath: string, total: number): string {
  const { dir, name } = splitPath(targetPath);
  return `${dir === "/" ? "" : dir}/${partialUploadName(name, total)}`;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch { /* already gone */ }
}

function expired(info: Deno.FileInfo, now: number, ttlMs: number): boolean {
  return (info.mtime?.getTime() ?? now) < now - ttlMs;
}

/** Options shared by the functions here. */
export interface ResumeOptions {
  /** Largest total (`--max-upload`). */
  maxBytes: number;
  overwrite: boolean;
  /** Expected digests of this request's bytes (`Content-Digest`). */
  contentDigest?: readonly ExpectedDigest[];
  /** Expected digests of the whole file (`Repr-Digest`), checked before publishing. */
  reprDigest?: readonly ExpectedDigest[];
  /** Default {@link PARTIAL_UPLOAD_TTL_MS}. */
  ttlMs?: number;
}

/** Bytes the server holds of `targetPath` of `total` bytes (0 when none, or expired). */
export async function queryUploadOffset(
  targetPath: string,
  total: number,
  ttlMs = PARTIAL_UPLOAD_TTL_MS,
): Promise<number> {
  const partial = partialPathFor(targetPath, total);
  const info = await lstatOrNull(partial);
  if (info === null || !info.isFile) return 0;
  if (expired(info, Date.now(), ttlMs)) {
    await removeQuietly(partial);
    return 0;
  }
  return info.size;
}

/**
 * Deletes expired partials in `dir` (looking at `maxEntries` entries at most, so a huge
 * folder costs a bounded sweep) and resolves how many live ones remain.
 */
export async function sweepPartialUploads(
  dir: string,
  ttlMs = PARTIAL_UPLOAD_TTL_MS,
  maxEntries = MAX_PARTIAL_SWEEP_ENTRIES,
): Promise<number> {
  const now = Date.now();
  let seen = 0;
  let live = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (++seen > maxEntries) break;
    if (!entry.isFile || !entry.name.startsWith(PARTIAL_UPLOAD_PREFIX)) continue;
    const path = `${dir === "/" ? "" : dir}/${entry.name}`;
    const info = await lstatOrNull(path);
    if (info === null) continue;
    if (expired(info, now, ttlMs)) await removeQuietly(path);
    else live++;
  }
  return live;
}

/** Partials being written now (per process): a second writer would interleave bytes. */
const writing = new Set<string>();

/** What {@link appendUploadRange} did. */
export type AppendResult =
  | { kind: "partial"; offset: number }
  | { kind: "complete"; path: string; bytes: number; replaced: boolean };

/**
 * Appends `body` (the bytes `range.first..range.last`) to the partial upload of
 * `targetPath` (resolved inside the root by the caller) and publishes the file when it is
 * complete. Throws {@link ResumeError} or `UploadError` (409 exists / is a folder, 413).
 */
export async function appendUploadRange(
  targetPath: string,
  range: { first: number; last: number; total: number },
  body: AsyncIterable<Uint8Array>,
  options: ResumeOptions,
): Promise<AppendResult> {
  const ttlMs = options.ttlMs ?? PARTIAL_UPLOAD_TTL_MS;
  const { dir, name } = splitPath(targetPath);
  if (range.total > options.maxBytes) {
    throw new UploadError(
      "UPLOAD_TOO_LARGE",
      413,
      `upload larger than the limit of ${options.maxBytes} bytes`,
    );
  }
  const existing = await lstatOrNull(targetPath);
  if (existing?.isDirectory) {
    throw new UploadError("UPLOAD_TARGET_IS_DIRECTORY", 409, `'${name}' is a directory`);
  }
  if (existing && !options.overwrite) throw new UploadConflictError(name);

  const partial = partialPathFor(targetPath, range.total);
  if (writing.has(partial)) {
    throw new ResumeError("RESUME_BUSY", 409, "another request is uploading this file now");
  }
  writing.add(partial);
  try {
    const offset = await queryUploadOffset(targetPath, range.total, ttlMs);
    if (range.first !== offset) {
      throw new ResumeError(
        "RESUME_OFFSET_MISMATCH",
        409,
        `this range starts at ${range.first}; the upload continues at byte ${offset}`,
        offset,
      );
    }
    if (offset === 0 && (await lstatOrNull(partial)) === null) {
      const live = await sweepPartialUploads(dir, ttlMs);
      if (live >= MAX_PARTIAL_UPLOADS_PER_FOLDER) {
        throw new ResumeError(
          "RESUME_TOO_MANY",
          507,
          `this folder already has ${live} unfinished uploads (limit ` +
            `${MAX_PARTIAL_UPLOADS_PER_FOLDER}); finish them or wait for them to expire`,
        );
      }
    }
    const end = await writeRange(partial, offset, range.last - range.first + 1, body, options);
    if (end < range.total) return { kind: "partial", offset: end };
    return await finish(partial, targetPath, range.total, options);
  } finally {
    writing.delete(partial);
  }
}

/** Writes exactly `want` bytes at `offset`; resolves the new end. Undoes refused bytes. */
async function writeRange(
  partial: string,
  offset: number,
  want: number,
  body: AsyncIterable<Uint8Array>,
  options: ResumeOptions,
): Promise<number> {
  let file: Deno.FsFile;
  try {
    // Only a range at 0 creates the partial: a later range whose partial vanished (swept
    // meanwhile) must not become a file with a hole of zeros at its start.
    file = await Deno.open(partial, { write: true, create: offset === 0 });
  } catch (err) {
    if (offset > 0 && err instanceof Deno.errors.NotFound) {
      throw new ResumeError("RESUME_OFFSET_MISMATCH", 409, "the partial upload expired", 0);
    }
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      throw new UploadError("UPLOAD_NO_PARENT", 409, "the folder for this upload does not exist");
    }
    throw err;
  }
  const check = await DigestCheck.create(options.contentDigest ?? []);
  let received = 0;
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    for await (const chunk of body) {
      if (received + chunk.length > want) {
        await file.truncate(offset);
        throw new ResumeError(
          "RESUME_LENGTH_MISMATCH",
          400,
          `the body is longer than its Content-Range (${want} bytes)`,
          offset,
        );
      }
      check.update(chunk);
      await writeAll(file, chunk);
      received += chunk.length;
    }
    // A dropped connection throws out of the loop above: the bytes that arrived stay.
    if (received < want) {
      await file.truncate(offset);
      throw new ResumeError(
        "RESUME_LENGTH_MISMATCH",
        400,
        `the body has ${received} bytes; its Content-Range says ${want}`,
        offset,
      );
    }
    const mismatch = check.mismatch();
    if (mismatch !== null) {
      await file.truncate(offset);
      throw new ResumeError("RESUME_DIGEST_MISMATCH", 400, `Content-Digest: ${mismatch}`, offset);
    }
    return offset + received;
  } finally {
    file.close();
  }
}

/** The last range arrived: check the whole file, then give it its name. */
async function finish(
  partial: string,
  targetPath: string,
  total: number,
  options: ResumeOptions,
): Promise<AppendResult> {
  try {
    {
      using file = await Deno.open(partial, { write: true });
      // Data on disk before the name points at it (as upload.ts does).
      await file.syncData();
    }
    const mismatch = await checkFileDigest(partial, options.reprDigest ?? []);
    if (mismatch !== null) {
      throw new ResumeError("RESUME_DIGEST_MISMATCH", 400, `Repr-Digest: ${mismatch}`, 0);
    }
    const replaced = await publishUpload(partial, targetPath, { overwrite: options.overwrite });
    return { kind: "complete", path: targetPath, bytes: total, replaced };
  } finally {
    // Published (linked or renamed) or refused: the partial is done either way.
    await removeQuietly(partial);
  }
}
