/**
 * "(Did you mean --port?)": the closest known flag or subcommand to a mistyped one, by
 * Damerau–Levenshtein distance (at most {@link MAX_SUGGEST_DISTANCE} edits, and at least 40 %
 * of the word the same), as commander words it.
 *
 * ```ts
 * import { suggestSimilar } from "./suggest.ts";
 * console.log(suggestSimilar("--prot", ["--port", "--host", "--help"])); // "\n(Did you mean --port?)"
 * console.log(suggestSimilar("--zzz", ["--port"])); // ""
 * ```
 *
 * @module
 */

/** More edits than this and a word is not a typo of another. */
export const MAX_SUGGEST_DISTANCE = 3;
/** Share of the longer word that must survive the edits. */
const MIN_SIMILARITY = 0.4;

/** Optimal string alignment distance (a swap of two neighbours is one edit). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_SUGGEST_DISTANCE) return Math.max(a.length, b.length);
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d[i] = [i];
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let j = 1; j <= b.length; j++) {
    for (let i = 1; i <= a.length; i++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * `"\n(Did you mean X?)"`, `"\n(Did you mean one of X, Y?)"` (the closest, sorted) or `""`.
 * A word starting with `--` is compared without the dashes.
 */
export function suggestSimilar(word: string, candidates: readonly string[]): string {
  const flags = word.startsWith("--");
  const strip = (s: string) => flags ? s.slice(2) : s;
  const target = strip(word);
  let best: string[] = [];
  let bestDistance = MAX_SUGGEST_DISTANCE;
  for (const candidate of new Set(candidates.map(strip))) {
    if (candidate.length <= 1) continue; // no one-letter guesses
    const distance = editDistance(target, candidate);
    const length = Math.max(target.length, candidate.length);
    if ((length - distance) / length <= MIN_SIMILARITY) continue;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = [candidate];
    } else if (distance === bestDistance) {
      best.push(candidate);
    }
  }
  const similar = best.sort((a, b) => a.localeCompare(b)).map((s) => flags ? `--${s}` : s);
  if (similar.length > 1) return `\n(Did you mean one of ${similar.join(", ")}?)`;
  if (similar.length === 1) return `\n(Did you mean ${similar[0]}?)`;
  return "";
}
