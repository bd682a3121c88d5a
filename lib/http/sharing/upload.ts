/**
 * Storing uploads for `http-serve --upload` (`PUT /path/name` and the listing's form):
 * a streaming body→file writer that never exposes a half-written file, enforces a size
 * limit, and refuses to overwrite unless told to; plus the file-name rules for uploads.
 *
 * ```ts
 * import { UploadError, writeUploadedFile } from "./upload.ts";
 * declare const requestBody: AsyncIterable<Uint8Array>;
 * try {
 *   const saved = await writeUploadedFile("/srv/share/notes.txt", requestBody, {
 *     overwrite: false,
 *   });
 *   console.log(saved.replaced ? 204 : 201);
 * } catch (err) {
 *   if (err instanceof UploadError) console.log(err.status); // 413, 409 or 400 + err.message
 * }
 * ```
 *
 * How a file appears atomically: the body goes to a temporary file in the target's own
 * directory (same file system, so the final step is a rename, never a copy), named
 * `.sockit-upload-…` so dotfile hiding keeps it out of listings, archives and GETs. When
 * the body is complete, the temp file is
 * - hard-linked to the final name (`link(2)` fails if the name exists, so two racing
 *   uploads cannot both win and an existing file is never clobbered), then unlinked; or,
 *   with `overwrite`, renamed over the final name (`rename(2)` replaces atomically).
 * On any error — limit, conflict, a client that disconnects mid-body — the temp file is
 * removed before the error propagates. File systems without hard links fall back to a
 * check-then-rename (a tiny race between two uploads of the same new name).
 *
 * @module
 */
import { type ByteSource, writeAll } from "../../framing.ts";
import { isUploadTempName, UPLOAD_TEMP_PREFIX } from "../files/safe_path.ts";
import { parseMultipart } from "./multipart.ts";

/** Largest upload accepted unless `--max-upload` says otherwise (1 GiB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 ** 3;

/** Longest file name most file systems accept (NAME_MAX), in UTF-8 bytes. */
export const MAX_UPLOAD_NAME_BYTES = 255;

/** Stable codes of {@link UploadError}. */
export type UploadErrorCode =
  | "UPLOAD_TOO_LARGE"
  | "UPLOAD_CONFLICT"
  | "UPLOAD_BAD_NAME"
  | "UPLOAD_NO_PARENT"
  | "UPLOAD_TARGET_IS_DIRECTORY"
  | "UPLOAD_DIGEST_MISMATCH"
  | "UPLOAD_FORBIDDEN";

/** An upload that cannot be stored; `status` is the HTTP answer. */
export class UploadError extends Error {
  constructor(readonly code: UploadErrorCode, readonly status: number, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The body is larger than the limit: 413. */
export class UploadTooLargeError extends UploadError {
  constructor(readonly limit: number) {
    super("UPLOAD_TOO_LARGE", 413, `upload larger than the limit of ${limit} bytes`);
  }
}

/** The name exists and overwriting is off: 409. */
export class UploadConflictError extends UploadError {
  constructor(readonly fileName: string) {
    super("UPLOAD_CONFLICT", 409, `'${fileName}' already exists (overwriting is off)`);
  }
}

/** Options for {@link writeUploadedFile}. */
export interface WriteUploadOptions {
  /** Largest body accepted. Default {@link DEFAULT_MAX_UPLOAD_BYTES}. */
  maxBytes?: number;
  /** Replace an existing file. Default false (409). */
  overwrite?: boolean;
  /** Sees every chunk as it is written (a digest check hashes them). */
  onChunk?: (chunk: Uint8Array) => void;
  /**
   * Called once the whole body is on disk, before the file gets its name; a throw aborts
   * the upload and nothing is published (a digest mismatch).
   */
  beforePublish?: () => void;
}

/** What {@link writeUploadedFile} stored. */
export interface SavedUpload {
  path: string;
  bytes: number;
  /** True when an existing file was replaced (only with `overwrite`). */
  replaced: boolean;
}

/** A file path's folder and last name ("/a/b.txt" → "/a", "b.txt"). */
export function splitPath(path: string): { dir: string; name: string } {
  const slash = path.lastIndexOf("/");
  return {
    dir: slash <= 0 ? (slash === 0 ? "/" : ".") : path.slice(0, slash),
    name: path.slice(slash + 1),
  };
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch { /* already gone */ }
}

/**
 * `Deno.lstat`, or null when nothing is there (a missing name, or a path through a file),
 * for the write features' "does the target exist?" checks.
 */
export async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw err;
  }
}

/**
 * Streams `body` into `targetPath` (already resolved inside the served root by the
 * caller). Checks for a conflict before reading any of the body, so a 409 costs no
 * transfer, and again atomically at the end. Each chunk is written before the next is
 * requested, so chunks may be views into a reused buffer.
 */
export async function writeUploadedFile(
  targetPath: string,
  body: AsyncIterable<Uint8Array>,
  options: WriteUploadOptions = {},
): Promise<SavedUpload> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const overwrite = options.overwrite ?? false;
  const { dir, name } = splitPath(targetPath);

  const existing = await lstatOrNull(targetPath);
  if (existing?.isDirectory) {
    throw new UploadError("UPLOAD_TARGET_IS_DIRECTORY", 409, `'${name}' is a directory`);
  }
  if (existing && !overwrite) throw new UploadConflictError(name);

  const tempPath = `${dir}/${UPLOAD_TEMP_PREFIX}${randomSuffix()}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tempPath, { write: true, createNew: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      throw new UploadError("UPLOAD_NO_PARENT", 409, `the folder for '${name}' does not exist`);
    }
    throw err;
  }
  let fileOpen = true;
  try {
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw new UploadTooLargeError(maxBytes);
      options.onChunk?.(chunk);
      await writeAll(file, chunk);
    }
    options.beforePublish?.();
    // Data on disk before the name points at it, so a crash cannot leave an empty file
    // under the final name.
    await file.syncData();
    file.close();
    fileOpen = false;
    const replaced = await publishUpload(tempPath, targetPath, { overwrite });
    return { path: targetPath, bytes, replaced };
  } finally {
    if (fileOpen) {
      try {
        file.close();
      } catch { /* closed */ }
    }
    await removeQuietly(tempPath);
  }
}

/**
 * Gives a finished temp file its final name (see the module doc: link, or rename with
 * `overwrite`); resolves true if it replaced a file. Throws {@link UploadError} 409.
 */
export async function publishUpload(
  tempPath: string,
  targetPath: string,
  options: { overwrite: boolean },
): Promise<boolean> {
  const overwrite = options.overwrite;
  const name = splitPath(targetPath).name;
  if (overwrite) {
    const before = await lstatOrNull(targetPath);
    try {
      await Deno.rename(tempPath, targetPath);
    } catch (err) {
      if (err instanceof Deno.errors.IsADirectory || (await lstatOrNull(targetPath))?.isDirectory) {
        throw new UploadError("UPLOAD_TARGET_IS_DIRECTORY", 409, `'${name}' is a directory`);
      }
      throw err;
    }
    return before !== null;
  }
  try {
    await Deno.link(tempPath, targetPath);
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) throw new UploadConflictError(name);
    if (!(err instanceof Deno.errors.NotSupported || err instanceof Deno.errors.PermissionDenied)) {
      throw err;
    }
  }
  // No hard links here (some FUSE / FAT mounts): check, then rename.
  if (await lstatOrNull(targetPath)) throw new UploadConflictError(name);
  await Deno.rename(tempPath, targetPath);
  return false;
}

/** Options for {@link validateUploadName} and {@link sanitizeUploadFilename}. */
export interface UploadNameOptions {
  /** Allow names starting with `.`. Default false. */
  dotfiles?: boolean;
}

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

/**
 * Checks a single file name for an upload; returns it or throws {@link UploadError}
 * UPLOAD_BAD_NAME (400). Refused: empty, `.`/`..`, `/`, `\`, NUL and other control
 * characters, more than {@link MAX_UPLOAD_NAME_BYTES} bytes, sockit's temp prefix, and a
 * leading dot unless `dotfiles`.
 */
export function validateUploadName(name: string, options: UploadNameOptions = {}): string {
  const bad = (why: string) =>
    new UploadError("UPLOAD_BAD_NAME", 400, `invalid upload file name: ${why}`);
  if (name === "" || name === "." || name === "..") throw bad("empty, '.' or '..'");
  if (name.includes("/") || name.includes("\\")) throw bad("contains '/' or '\\'");
  if (CONTROL_CHARS.test(name)) throw bad("contains control characters");
  if (new TextEncoder().encode(name).length > MAX_UPLOAD_NAME_BYTES) {
    throw bad(`longer than ${MAX_UPLOAD_NAME_BYTES} bytes`);
  }
  if (isUploadTempName(name)) throw bad(`starts with '${UPLOAD_TEMP_PREFIX}'`);
  if (name.startsWith(".") && !(options.dotfiles ?? false)) {
    throw bad("names starting with '.' are not accepted");
  }
  return name;
}

/**
 * The name to store a form upload under: the last path component of what the client sent
 * (old browsers send `C:\Users\me\file.txt`; RFC 7578 §4.2 says to use only the last
 * part), then {@link validateUploadName}.
 */
export function sanitizeUploadFilename(raw: string, options: UploadNameOptions = {}): string {
  const base = raw.slice(Math.max(raw.lastIndexOf("/"), raw.lastIndexOf("\\")) + 1);
  return validateUploadName(base, options);
}

/** Options for {@link saveMultipartUploads}. */
export interface SaveMultipartOptions extends UploadNameOptions {
  /** Largest total of all files in the form. Default {@link DEFAULT_MAX_UPLOAD_BYTES}. */
  maxBytes?: number;
  overwrite?: boolean;
  /** Told about each file as soon as it is stored, even if a later part then fails. */
  onSaved?: (saved: SavedUpload) => void;
  /** Asked before each file is stored (the access rules); false → 403, nothing stored. */
  mayStore?: (name: string) => boolean;
}

/**
 * Stores every file part of a `multipart/form-data` body in `dir` (resolved by the
 * caller). Plain fields and file inputs left empty are skipped. Files are stored one by
 * one as they stream in; on an error, the files already complete stay and the one in
 * progress is removed. Throws `MultipartError` (400) or {@link UploadError}.
 */
export async function saveMultipartUploads(
  dir: string,
  body: ByteSource | AsyncIterable<Uint8Array>,
  boundary: string,
  options: SaveMultipartOptions = {},
): Promise<SavedUpload[]> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const saved: SavedUpload[] = [];
  let used = 0;
  for await (const part of parseMultipart(body, boundary)) {
    if (part.filename === null || part.filename === "") continue; // a field or an empty input
    const name = sanitizeUploadFilename(part.filename, options);
    if (options.mayStore && !options.mayStore(name)) {
      throw new UploadError("UPLOAD_FORBIDDEN", 403, `you may not store '${name}' here`);
    }
    const remaining = maxBytes - used;
    try {
      const result = await writeUploadedFile(`${dir.replace(/\/+$/, "")}/${name}`, part.body, {
        maxBytes: remaining,
        overwrite: options.overwrite,
      });
      used += result.bytes;
      saved.push(result);
      options.onSaved?.(result);
    } catch (err) {
      // Report the configured limit, not what was left of it for this part.
      if (err instanceof UploadTooLargeError) throw new UploadTooLargeError(maxBytes);
      throw err;
    }
  }
  return saved;
}
