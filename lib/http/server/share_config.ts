/**
 * The share-link part of http-serve's config: `--share`, `--share-ttl` and `--share-uses`
 * resolved (pure), then loaded — the per-run secret drawn and each `--share` path checked
 * on disk and signed — so the main thread and every `--workers` worker verify links with
 * the same secret, which travels in the config.
 *
 * ```ts
 * import { loadShareLinks, resolveShareConfig } from "./share_config.ts";
 * const share = resolveShareConfig({ share: ["/"], shareTtl: 3_600_000 }, false)!;
 * const loaded = await loadShareLinks(share, await Deno.realPath("."), false);
 * console.log(loaded.links?.[0].urlPath); // /.well-known/sockit/share/…/
 * ```
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import { resolveSafePath } from "../files/safe_path.ts";
import { encodePath, shareUrlPath } from "../sharing/access.ts";
import {
  DEFAULT_SHARE_TTL_MS,
  MAX_SHARE_FLAGS,
  MAX_SHARE_PATH_CHARS,
  newShareSecret,
  type ShareGrant,
  ShareSigner,
} from "../sharing/share_links.ts";

/** A `--share` link, signed at start-up. */
export interface ShareLinkConfig {
  grant: ShareGrant;
  /** `/.well-known/sockit/share/TOKEN/…`. */
  urlPath: string;
}

/** Share links, as the config carries them. */
export interface ShareConfig {
  /** `--share` paths, decoded URL paths starting with "/". */
  paths: string[];
  /** `--share-ttl` (default one day). */
  ttlMs: number;
  /** `--share-uses`; 0 = unlimited. */
  maxUses: number;
  /** The per-run HMAC secret, hex; drawn by {@link loadShareLinks}. */
  secret?: string;
  /** The `--share` links, signed by {@link loadShareLinks}. */
  links?: ShareLinkConfig[];
}

/** The flags {@link resolveShareConfig} reads. */
export interface ShareFlags {
  share?: string[];
  shareTtl?: number;
  shareUses?: number;
  workers?: number;
}

/**
 * Pure: the share settings, or undefined when links are off (no `--share`, no users).
 * `--share-uses` counts per process, so it is refused with `--workers` above 1.
 */
export function resolveShareConfig(flags: ShareFlags, hasUsers: boolean): ShareConfig | undefined {
  const paths = flags.share ?? [];
  if (paths.length === 0 && !hasUsers) {
    if (flags.shareTtl !== undefined) throw new ConfigError("--share-ttl needs --share or --auth");
    if (flags.shareUses !== undefined) {
      throw new ConfigError("--share-uses needs --share or --auth");
    }
    return undefined;
  }
  if (paths.length > MAX_SHARE_FLAGS) {
    throw new ConfigError(`too many --share paths: ${paths.length} (at most ${MAX_SHARE_FLAGS})`);
  }
  if (flags.shareUses !== undefined && (flags.workers ?? 1) > 1) {
    throw new ConfigError(
      "--share-uses counts downloads per process: use it without --workers (or --workers 1)",
    );
  }
  return {
    paths: paths.map(sharePath),
    ttlMs: flags.shareTtl ?? DEFAULT_SHARE_TTL_MS,
    maxUses: flags.shareUses ?? 0,
  };
}

/** A `--share` value as a URL path: relative to DIR, "/" added in front, `..` refused. */
function sharePath(value: string): string {
  const segments = value.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    throw new ConfigError(`invalid --share '${value}': '..' is not allowed`);
  }
  const path = "/" + segments.join("/");
  if (path.length > MAX_SHARE_PATH_CHARS) {
    throw new ConfigError(`invalid --share: longer than ${MAX_SHARE_PATH_CHARS} characters`);
  }
  return path;
}

/** Draws the secret and signs every `--share` path, which must exist under `root`. */
export async function loadShareLinks(
  share: ShareConfig,
  root: string,
  dotfiles: boolean,
  nowMs = Date.now(),
): Promise<ShareConfig> {
  const secret = share.secret ?? newShareSecret();
  const signer = new ShareSigner(secret);
  const links: ShareLinkConfig[] = [];
  for (const path of share.paths) {
    const found = await resolveSafePath(root, encodePath(path), { dotfiles }).catch(() => null);
    if (found === null || !(found.info.isFile || found.info.isDirectory)) {
      throw new ConfigError(
        `--share '${path.slice(1) || "/"}': no such file or folder under ${root}`,
      );
    }
    const kind = found.info.isDirectory ? "dir" : "file";
    const grant: ShareGrant = {
      path: kind === "dir" && !path.endsWith("/") ? `${path}/` : path,
      kind,
      expiresMs: nowMs + share.ttlMs,
      maxUses: share.maxUses,
    };
    links.push({ grant, urlPath: shareUrlPath(await signer.sign(grant), grant) });
  }
  return { ...share, secret, links };
}
