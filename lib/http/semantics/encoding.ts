/**
 * Content-coding negotiation (RFC 9110 §12.5.3, §8.4): read `Accept-Encoding` with its
 * q-values and list what to try, best first — a precompressed sibling (`file.br`,
 * `file.zst`, `file.gz`) or the file as is; plus which media types are worth compressing
 * (compressing on the fly is the `--compress` middleware's, middleware/compression.ts).
 *
 * ```ts
 * import { encodingCandidates } from "./encoding.ts";
 * const candidates = encodingCandidates("gzip, br;q=0.9");
 * // [{ source: "sibling", coding: "gzip", … }, …]: try file.gz, then file.br, then the
 * // file as is; always add `Vary: Accept-Encoding`.
 * console.log(candidates.map((c) => c.source));
 * ```
 *
 * @module
 */
import { parseWeightedList } from "./negotiation.ts";

/**
 * Smallest body compressed on the fly (`--compress`, `--gzip`; `--compress-min` changes
 * it). Below about 1 KiB the whole response fits
 * in one TCP segment (MSS 1460) anyway, so compression saves no round trip, while it costs
 * CPU, 18 bytes of gzip framing, and the Content-Length (the body is then chunked).
 */
export const MIN_GZIP_BYTES = 1024;

/** Content codings this server can send; `identity` means none. */
export type Coding = "br" | "zstd" | "gzip" | "identity";

/** A quality value per coding named in the header (lower-case), `*` included. */
export type AcceptEncoding = Map<string, number>;

/**
 * Parses `Accept-Encoding` (`gzip, br;q=0.9, *;q=0`) into coding → q. Names are
 * case-insensitive and `x-gzip` counts as `gzip` (§8.4.1.3). A malformed q makes that
 * element q=0 (not acceptable) rather than inventing a preference. When a coding is
 * listed twice the first wins.
 */
export function parseAcceptEncoding(header: string): AcceptEncoding {
  const result: AcceptEncoding = new Map();
  for (const { value, q } of parseWeightedList(header)) {
    const name = value === "x-gzip" ? "gzip" : value;
    if (!result.has(name)) result.set(name, q);
  }
  return result;
}

/** The q a parsed header gives `coding`: its own entry, else `*`'s, else the default. */
function qualityOf(accepted: AcceptEncoding, coding: Coding): number {
  const own = accepted.get(coding);
  if (own !== undefined) return own;
  const star = accepted.get("*");
  if (star !== undefined) return star;
  // §12.5.3: identity is acceptable unless excluded; rank it below any listed coding so
  // that `gzip` alone means "gzip, please".
  return coding === "identity" ? IDENTITY_DEFAULT_Q : 0;
}

/** Rank of identity when the header neither names it nor has `*`: acceptable, least preferred. */
const IDENTITY_DEFAULT_Q = 0.0005;

/**
 * Server preference among codings of equal q: brotli is smallest, zstd close to it and
 * faster to decode, then gzip, then none.
 */
const SERVER_PREFERENCE: readonly Coding[] = ["br", "zstd", "gzip", "identity"];

/**
 * The acceptable codings in order of the client's q-values (ties broken by the server's
 * preference br > zstd > gzip > identity). No header at all → identity only: the RFC lets us send
 * anything, but clients that send no Accept-Encoding (scripts, old tools) want bytes as is.
 * If identity is excluded (`identity;q=0` or `*;q=0`) it is absent from the list; §12.5.3
 * still lets the server send it when nothing else is available, which callers should do.
 */
export function acceptableCodings(header: string | null | undefined): Coding[] {
  if (header === null || header === undefined) return ["identity"];
  const accepted = parseAcceptEncoding(header);
  return SERVER_PREFERENCE
    .map((coding, rank) => ({ coding, rank, q: qualityOf(accepted, coding) }))
    .filter((c) => c.q > 0)
    .sort((a, b) => b.q - a.q || a.rank - b.rank)
    .map((c) => c.coding);
}

/** Something to try for a response body, in order; see {@link encodingCandidates}. */
export type EncodingCandidate =
  /** A precompressed file next to the original: `path + suffix`. */
  | { source: "sibling"; coding: "br" | "zstd" | "gzip"; suffix: ".br" | ".zst" | ".gz" }
  /** The file as it is. */
  | { source: "identity"; coding: "identity" };

/**
 * What to try for a body, best first; the caller stats siblings and takes the first that
 * exists. The list always ends with identity (even if the client excluded it: sending the
 * file as is beats a 406 for a static server, as §12.5.3 permits).
 */
export function encodingCandidates(
  acceptEncoding: string | null | undefined,
): EncodingCandidate[] {
  const candidates: EncodingCandidate[] = [];
  for (const coding of acceptableCodings(acceptEncoding)) {
    if (coding === "br") candidates.push({ source: "sibling", coding: "br", suffix: ".br" });
    else if (coding === "zstd") {
      candidates.push({ source: "sibling", coding: "zstd", suffix: ".zst" });
    } else if (coding === "gzip") {
      candidates.push({ source: "sibling", coding: "gzip", suffix: ".gz" });
    } else break; // identity: anything ranked below it is never better than the file itself
  }
  candidates.push({ source: "identity", coding: "identity" });
  return candidates;
}

/** `application/*` types that are text or otherwise compress well (most others do not). */
const COMPRESSIBLE_APPLICATION_TYPES = new Set([
  "application/json",
  "application/javascript",
  "application/ecmascript",
  "application/xml",
  "application/xhtml+xml",
  "application/wasm", // WebAssembly shrinks by half or more with gzip
  "application/x-ndjson",
  "application/x-javascript",
  "application/ld+json",
  "application/rtf",
  "application/x-sh",
  "application/x-tar", // uncompressed archive
  "application/sql",
  "application/graphql",
  "application/toml",
  "application/yaml",
  "application/x-yaml",
  "application/vnd.ms-fontobject",
]);

/**
 * Whether gzip is worth it for `contentType` (parameters like `; charset=utf-8` ignored):
 * `text/*`, JSON/XML and their `+json`/`+xml` suffix types (SVG, manifests, feeds),
 * JavaScript, WebAssembly, and uncompressed fonts (ttf/otf) and icons. Not: images,
 * audio, video, archives, woff/woff2 (already compressed), or unknown
 * `application/octet-stream` — gzipping those burns CPU for nothing.
 */
export function isCompressibleType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(";", 1)[0].trim().toLowerCase();
  if (type.startsWith("text/")) return true;
  if (type.endsWith("+json") || type.endsWith("+xml")) return true;
  if (COMPRESSIBLE_APPLICATION_TYPES.has(type)) return true;
  return type === "font/ttf" || type === "font/otf" || type === "image/x-icon" ||
    type === "image/vnd.microsoft.icon" || type === "image/bmp";
}
