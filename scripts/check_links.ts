/**
 * Dead relative links in Markdown: every `[text](path)`, `![alt](path)`, `[id]: path` and
 * `<a href>`/`<img src>` in README.md and docs/*.md must name a file or folder that exists,
 * and a `#fragment` must name a heading of the target (GitHub's slugs: lower case,
 * punctuation dropped, spaces to `-`, `-1`, `-2` … for repeats). Links with a scheme
 * (`https:`, `mailto:`) are not fetched. Code blocks and code spans are skipped.
 *
 * Run by `.ci/run` and by `tests/docs_test.ts`; prints one line per dead link and exits 1
 * if there is any:
 *
 * ```sh
 * deno run --allow-read scripts/check_links.ts            # README.md and docs/*.md
 * deno run --allow-read scripts/check_links.ts docs/http.md
 * ```
 *
 * ```ts
 * import { findDeadLinks } from "./check_links.ts";
 * const dead = await findDeadLinks(["README.md"]);
 * for (const link of dead) console.log(`${link.file}:${link.line}: ${link.reason}`);
 * ```
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A link whose target or heading does not exist. */
export interface DeadLink {
  /** The Markdown file holding the link, as given. */
  file: string;
  /** 1-based line of the link. */
  line: number;
  /** The link target as written (`docs/http.md#ranges`). */
  target: string;
  /** Why it is dead, one short phrase. */
  reason: string;
}

/** A link found in a Markdown text. */
export interface MarkdownLink {
  /** 1-based line. */
  line: number;
  /** The target as written, without `<>` or a title. */
  target: string;
}

/** The repository root: the folder above `scripts/`. */
export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** README.md and every `docs/*.md`, relative to {@link REPO_ROOT}, sorted. */
export async function defaultMarkdownFiles(root: string = REPO_ROOT): Promise<string[]> {
  const files = ["README.md"];
  try {
    for await (const entry of Deno.readDir(join(root, "docs"))) {
      if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return files.sort();
}

/**
 * Replaces fenced code blocks and code spans with spaces (keeping line breaks), so links
 * and headings are looked for in prose only.
 */
export function blankCode(markdown: string): string {
  const lines = markdown.split("\n");
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(lines[i]);
    if (fence === null && opener) {
      fence = opener[1];
      lines[i] = "";
    } else if (fence !== null) {
      if (lines[i].trim().startsWith(fence[0].repeat(fence.length))) fence = null;
      lines[i] = "";
    }
  }
  // Code spans: a run of N backticks up to the next run of exactly N (CommonMark).
  return lines.join("\n").replace(
    /(`+)([\s\S]*?[^`])\1(?!`)/g,
    (span) => span.replace(/[^\n]/g, " "),
  );
}

/** Every link target in a Markdown text: inline links and images, references, HTML. */
export function extractLinks(markdown: string): MarkdownLink[] {
  const prose = blankCode(markdown);
  const links: MarkdownLink[] = [];
  const lineOf = (index: number) => prose.slice(0, index).split("\n").length;
  const add = (index: number, raw: string) => {
    let target = raw.trim();
    if (target.startsWith("<")) target = target.slice(1, target.indexOf(">"));
    else target = target.split(/\s+/)[0]; // drop a "title"
    links.push({ line: lineOf(index), target });
  };
  // [text](target) and ![alt](target); the text may hold one level of brackets.
  for (
    const m of prose.matchAll(
      /!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()]*\)[^()\s]*)*)(?:\s+"[^"]*")?\s*\)/g,
    )
  ) {
    add(m.index!, m[1]);
  }
  // [id]: target
  for (const m of prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*(\S+)/gm)) add(m.index!, m[1]);
  // <a href="…">, <img src="…">
  for (const m of prose.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*"([^"]*)"/gi)) {
    add(m.index!, m[1]);
  }
  return links.sort((a, b) => a.line - b.line);
}

/** GitHub's anchor for a heading's text (the github-slugger rules). */
export function slugify(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images: their text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/[`*]/g, ""); // code and emphasis marks
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "").replace(
    / /g,
    "-",
  );
}

/** The anchors of a Markdown text: its headings' slugs (repeats numbered) and HTML ids. */
export function anchorsOf(markdown: string): Set<string> {
  const prose = blankCode(markdown);
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const source = markdown.split("\n");
  const lines = prose.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let text: string | null = null;
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(lines[i]);
    if (atx) text = source[i].replace(/^ {0,3}#{1,6}\s*/, "").replace(/\s+#+\s*$/, "");
    else if (i > 0 && /^ {0,3}(=+|-+)\s*$/.test(lines[i]) && lines[i - 1].trim() !== "") {
      // A setext heading, unless the line above is a table row or list item.
      if (!/^\s*([|>]|[-*+] |\d+\. )/.test(source[i - 1])) text = source[i - 1];
    }
    if (text !== null) {
      const base = slugify(text);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
  }
  for (const m of prose.matchAll(/<[a-z]+\s[^>]*?(?:id|name)\s*=\s*"([^"]+)"/gi)) {
    anchors.add(m[1]);
  }
  return anchors;
}

/**
 * The dead relative links of the given Markdown files (paths relative to `root`).
 * Targets that leave the repository count as dead: GitHub cannot show them.
 */
export async function findDeadLinks(
  files: string[],
  options: { root?: string } = {},
): Promise<DeadLink[]> {
  const root = options.root ?? REPO_ROOT;
  const texts = new Map<string, string>();
  const read = async (path: string) => {
    if (!texts.has(path)) texts.set(path, await Deno.readTextFile(path));
    return texts.get(path)!;
  };
  const dead: DeadLink[] = [];
  for (const file of files) {
    const source = resolve(root, file);
    for (const { line, target } of extractLinks(await read(source))) {
      if (target === "" || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) {
        continue;
      }
      const report = (reason: string) => dead.push({ file, line, target, reason });
      const hash = target.indexOf("#");
      const pathPart = hash === -1 ? target : target.slice(0, hash);
      const fragment = hash === -1 ? null : target.slice(hash + 1);
      let decoded: string;
      try {
        decoded = decodeURIComponent(pathPart.split("?")[0]);
      } catch {
        report("invalid percent-encoding");
        continue;
      }
      const path = decoded === ""
        ? source
        : decoded.startsWith("/")
        ? join(root, decoded)
        : resolve(dirname(source), decoded);
      if (relative(root, path).startsWith("..")) {
        report(`points outside the repository`);
        continue;
      }
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(path);
      } catch {
        report(`no such file: ${relative(root, path)}`);
        continue;
      }
      if (fragment === null || fragment === "") continue;
      if (!info.isFile || !path.endsWith(".md")) continue; // anchors only checked in Markdown
      let anchor = fragment;
      try {
        anchor = decodeURIComponent(fragment);
      } catch { /* keep as written */ }
      if (!anchorsOf(await read(path)).has(anchor.toLowerCase())) {
        report(`no heading for #${fragment} in ${relative(root, path)}`);
      }
    }
  }
  return dead;
}

/** One line for a dead link: `docs/http.md:12: dead link 'x.md' (no such file: docs/x.md)`. */
export function formatDeadLink(link: DeadLink): string {
  return `${link.file}:${link.line}: dead link '${link.target}' (${link.reason})`;
}

if (import.meta.main) {
  const files = Deno.args.length > 0 ? Deno.args : await defaultMarkdownFiles();
  const dead = await findDeadLinks(files, { root: Deno.args.length > 0 ? Deno.cwd() : REPO_ROOT });
  for (const link of dead) console.error(formatDeadLink(link));
  if (dead.length > 0) {
    console.error(`check_links: ${dead.length} dead link(s) in ${files.length} file(s)`);
    Deno.exit(1);
  }
  console.log(`check_links: no dead relative links in ${files.length} file(s)`);
}
