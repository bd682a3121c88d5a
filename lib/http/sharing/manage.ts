/**
 * File management for `http-serve --upload`: delete, make a folder, move/rename — the
 * file-system side, with every refusal a {@link ManageError} carrying its HTTP status.
 * Paths are URL paths below the served root (still percent-encoded, as in a request);
 * the HTTP forms that reach these are in manage_middleware.ts.
 *
 * ```ts
 * import { deleteEntry, ManageError, makeFolder, moveEntry } from "./manage.ts";
 * const opts = { root: "/srv/share", dotfiles: false, overwrite: false };
 * try {
 *   await makeFolder("/photos/", "2026", opts); // → "/srv/share/photos/2026"
 *   await moveEntry("/notes.txt", "/photos/2026/notes.txt", opts);
 *   await deleteEntry("/old/", { ...opts, recursive: false }); // only if empty
 * } catch (err) {
 *   if (err instanceof ManageError) console.log(err.status, err.code);
 * }
 * ```
 *
 * Security decisions, explicit:
 * - A *source* (what is deleted or moved) must be visible to GET: resolveSafePath's rules
 *   (inside the root after symlinks, no dotfiles without `dotfiles`, never an upload in
 *   progress); anything else is 404, so a client learns no more than GET tells it.
 * - The operation acts on the entry in its folder (the parent's real path + the name), not
 *   on where a symlink leads: deleting an in-root link removes the link, not its target.
 * - A *target* (new folder, move destination) names a place the client chose: `..`, an
 *   encoded `/`, a dotfile (without `dotfiles`), sockit's temp prefix, or a parent that is
 *   really outside the root (symlink) → 403; a parent that does not exist → 409.
 * - The root itself is never deleted or moved (403).
 *
 * @module
 */
import { isInsideRoot, resolveSafePath, safePathSegments } from "../files/safe_path.ts";
import { lstatOrNull, UploadError, validateUploadName } from "./upload.ts";

/** Stable codes of {@link ManageError}. */
export type ManageErrorCode =
  | "MANAGE_NOT_FOUND"
  | "MANAGE_NO_PARENT"
  | "MANAGE_NOT_EMPTY"
  | "MANAGE_EXISTS"
  | "MANAGE_INTO_ITSELF"
  | "MANAGE_FORBIDDEN"
  | "MANAGE_BAD_NAME"
  | "MANAGE_CROSS_DEVICE"
  | "MANAGE_HAS_HIDDEN";

/** A refused file operation; `status` is the HTTP answer. */
export class ManageError extends Error {
  constructor(readonly code: ManageErrorCode, readonly status: number, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Options every operation takes. */
export interface ManageOptions {
  /** Canonical root (see `canonicalRoot`). */
  root: string;
  /** Names starting with "." may be sources and targets. Default false. */
  dotfiles?: boolean;
  /** A move may replace an existing file (`--overwrite`). Default false. */
  overwrite?: boolean;
}

/** An existing entry, as it sits in its folder. */
export interface ExistingEntry {
  /** Real path of the parent folder + the entry's name (a symlink stays a symlink). */
  path: string;
  /** lstat of `path`. */
  info: Deno.FileInfo;
  segments: string[];
}

/** A place to create something. */
export interface NewEntry {
  /** Real path of the parent + the new name. */
  path: string;
  /** lstat of `path`, or null when nothing is there yet. */
  existing: Deno.FileInfo | null;
  segments: string[];
}

function encodeSegments(segments: readonly string[]): string {
  return "/" + segments.map((s) => encodeURIComponent(s)).join("/");
}

/** The existing entry `rawPath` names, under GET's visibility rules (else 404). */
export async function resolveExisting(
  rawPath: string,
  options: ManageOptions,
): Promise<ExistingEntry> {
  const dotfiles = options.dotfiles ?? false;
  const segments = safePathSegments(rawPath, { dotfiles });
  if (segments !== null && segments.length === 0) {
    throw new ManageError("MANAGE_FORBIDDEN", 403, "the shared folder itself cannot be changed");
  }
  const notFound = new ManageError("MANAGE_NOT_FOUND", 404, "no such file or folder");
  if (segments === null || (await resolveSafePath(options.root, rawPath, { dotfiles })) === null) {
    throw notFound;
  }
  const parent = await resolveSafePath(options.root, encodeSegments(segments.slice(0, -1)), {
    dotfiles,
  });
  if (parent === null) throw notFound;
  const path = `${parent.path === "/" ? "" : parent.path}/${segments.at(-1)}`;
  const info = await lstatOrNull(path);
  if (info === null) throw notFound;
  return { path, info, segments };
}

/**
 * Where a new entry at `segments` (decoded) would go: its name checked, its parent an
 * existing folder really inside the root.
 */
export async function resolveNew(
  segments: readonly string[],
  options: ManageOptions,
): Promise<NewEntry> {
  const dotfiles = options.dotfiles ?? false;
  if (segments.length === 0) {
    throw new ManageError("MANAGE_FORBIDDEN", 403, "the shared folder itself cannot be replaced");
  }
  for (const segment of segments) checkName(segment, dotfiles);
  const parentSegments = segments.slice(0, -1);
  const parent = await resolveSafePath(options.root, encodeSegments(parentSegments), { dotfiles });
  if (parent === null || !parent.info.isDirectory) {
    // Missing, or there but refused: a symlink leading out of the root is forbidden, not
    // absent, since the client named it on purpose.
    const candidate = `${options.root}/${parentSegments.join("/")}`;
    let real: string | null = null;
    try {
      real = await Deno.realPath(candidate);
    } catch { /* missing */ }
    if (real !== null && !isInsideRoot(options.root, real)) {
      throw new ManageError("MANAGE_FORBIDDEN", 403, "the target is outside the shared folder");
    }
    if (real !== null && parent === null && !dotfiles) {
      throw new ManageError("MANAGE_FORBIDDEN", 403, "the target folder is hidden");
    }
    throw new ManageError("MANAGE_NO_PARENT", 409, "the target's folder does not exist");
  }
  const path = `${parent.path === "/" ? "" : parent.path}/${segments.at(-1)}`;
  return { path, existing: await lstatOrNull(path), segments: [...segments] };
}

/** 400 for names no file system should get, 403 for names this server keeps to itself. */
function checkName(name: string, dotfiles: boolean): void {
  if (name === "." || name === "..") {
    throw new ManageError("MANAGE_FORBIDDEN", 403, "'.' and '..' are not allowed");
  }
  try {
    validateUploadName(name, { dotfiles: true });
  } catch (err) {
    if (err instanceof UploadError) {
      throw new ManageError(
        err.message.includes("sockit-upload") ? "MANAGE_FORBIDDEN" : "MANAGE_BAD_NAME",
        err.message.includes("sockit-upload") ? 403 : 400,
        err.message.replace("upload file name", "name"),
      );
    }
    throw err;
  }
  if (name.startsWith(".") && !dotfiles) {
    throw new ManageError("MANAGE_FORBIDDEN", 403, "names starting with '.' are not allowed");
  }
}

/**
 * Pure: a move target as the client wrote it (decoded text, e.g. a form field) → decoded
 * segments. Absolute ("/a/b") is from the root; anything else is relative to `baseSegments`
 * (the source's folder), so a bare name renames in place. `..`, `.`, NUL and schemes are
 * refused (403 / 400).
 */
export function targetSegments(target: string, baseSegments: readonly string[]): string[] {
  if (target === "") throw new ManageError("MANAGE_BAD_NAME", 400, "empty target");
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    throw new ManageError("MANAGE_BAD_NAME", 400, "the target must be a path, not a URL");
  }
  const out = target.startsWith("/") ? [] : [...baseSegments];
  for (const segment of target.split("/")) {
    if (segment === "") continue;
    if (segment === "." || segment === ".." || segment.includes("\\")) {
      throw new ManageError("MANAGE_FORBIDDEN", 403, "'.', '..' and '\\' are not allowed");
    }
    out.push(segment);
  }
  return out;
}

/** Options for {@link deleteEntry}. */
export interface DeleteOptions extends ManageOptions {
  /** Delete a folder with everything in it. Default false (409 if not empty). */
  recursive?: boolean;
}

/** Deletes the file, link or folder at `rawPath`; resolves the real path removed. */
export async function deleteEntry(rawPath: string, options: DeleteOptions): Promise<string> {
  const entry = await resolveExisting(rawPath, options);
  if (entry.info.isDirectory && options.recursive && !options.dotfiles) {
    // The client cannot see hidden entries, so it cannot mean to delete them (a `.git`).
    if (await containsHiddenEntry(entry.path)) {
      throw new ManageError(
        "MANAGE_HAS_HIDDEN",
        409,
        "the folder holds hidden entries (names starting with '.'), which this server does not show",
      );
    }
  }
  try {
    await Deno.remove(entry.path, { recursive: entry.info.isDirectory && options.recursive });
  } catch (err) {
    if (entry.info.isDirectory && !(err instanceof Deno.errors.NotFound)) {
      const left = await lstatOrNull(entry.path);
      if (left !== null && !(err instanceof Deno.errors.PermissionDenied)) {
        throw new ManageError(
          "MANAGE_NOT_EMPTY",
          409,
          "the folder is not empty (add recursive=1 to delete it with its contents)",
        );
      }
    }
    if (err instanceof Deno.errors.NotFound) {
      throw new ManageError("MANAGE_NOT_FOUND", 404, "no such file or folder");
    }
    throw err;
  }
  return entry.path;
}

/** Creates folder `name` in the folder `parentRawPath`; resolves its real path. */
export async function makeFolder(
  parentRawPath: string,
  name: string,
  options: ManageOptions,
): Promise<string> {
  const parentSegments = safePathSegments(parentRawPath, { dotfiles: options.dotfiles });
  if (parentSegments === null) {
    throw new ManageError("MANAGE_NOT_FOUND", 404, "no such folder");
  }
  if (name.includes("/")) {
    throw new ManageError("MANAGE_BAD_NAME", 400, "a folder name cannot contain '/'");
  }
  const target = await resolveNew([...parentSegments, name], options);
  if (target.existing !== null) {
    throw new ManageError("MANAGE_EXISTS", 409, `'${name}' already exists`);
  }
  try {
    await Deno.mkdir(target.path);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new ManageError("MANAGE_EXISTS", 409, `'${name}' already exists`);
    }
    throw err;
  }
  return target.path;
}

/** What {@link moveEntry} did. */
export interface MoveResult {
  from: string;
  to: string;
  /** Decoded segments of the new place. */
  segments: string[];
  /** An existing file was replaced (only with `overwrite`). */
  replaced: boolean;
}

/**
 * Moves `fromRawPath` to `target` (decoded; see {@link targetSegments}). Files take the
 * no-clobber route uploads take (link, then unlink: fails if the name appeared);
 * folders and links are renamed after a check. A folder is never replaced, nor moved
 * into itself.
 */
export async function moveEntry(
  fromRawPath: string,
  target: string,
  options: ManageOptions,
): Promise<MoveResult> {
  const source = await resolveExisting(fromRawPath, options);
  const segments = targetSegments(target, source.segments.slice(0, -1));
  const dest = await resolveNew(segments, options);
  const result = { from: source.path, to: dest.path, segments: dest.segments };
  if (dest.path === source.path) return { ...result, replaced: false };
  if (dest.path.startsWith(source.path + "/")) {
    throw new ManageError("MANAGE_INTO_ITSELF", 409, "a folder cannot move into itself");
  }
  const name = segments.at(-1);
  if (dest.existing !== null) {
    if (!options.overwrite || dest.existing.isDirectory || source.info.isDirectory) {
      throw new ManageError("MANAGE_EXISTS", 409, `'${name}' already exists`);
    }
  }
  try {
    if (
      dest.existing === null && source.info.isFile && await linkIfSupported(source.path, dest.path)
    ) {
      await Deno.remove(source.path);
    } else {
      await Deno.rename(source.path, dest.path);
    }
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new ManageError("MANAGE_EXISTS", 409, `'${name}' already exists`);
    }
    if (err instanceof Error && /EXDEV|cross-device/i.test(err.message)) {
      throw new ManageError("MANAGE_CROSS_DEVICE", 409, "cannot move across file systems");
    }
    throw err;
  }
  return { ...result, replaced: dest.existing !== null };
}

/** Hard-links `from` to `to` (fails if `to` exists); false where links are unsupported. */
async function linkIfSupported(from: string, to: string): Promise<boolean> {
  try {
    await Deno.link(from, to);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotSupported || err instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw err;
  }
}

/** True when a name below `dir` (symlinks not followed) starts with ".". */
async function containsHiddenEntry(dir: string): Promise<boolean> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) return true;
    if (entry.isDirectory && await containsHiddenEntry(`${dir}/${entry.name}`)) return true;
  }
  return false;
}
