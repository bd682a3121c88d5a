/**
 * `sockit http-serve`'s configuration, flowing one way: the flags as the CLI hands them
 * over → {@link resolveHttpConfig} (pure: every usage error is found here, once) → one
 * serialisable {@link HttpConfig} → {@link loadHttpConfig} (the I/O a config needs: the
 * served folder, the TLS certificate read or generated, write permission) →
 * `buildHandler` and the servers, in the main thread or in each `--workers` worker, which
 * receive this config and nothing else.
 *
 * ```ts
 * import { loadHttpConfig, resolveHttpConfig } from "./config.ts";
 * const config = await loadHttpConfig(resolveHttpConfig(undefined, { port: 0, quiet: true }));
 * console.log(config.root); // the built-in site, canonical
 * ```
 *
 * @module
 */
import { ConfigError, describeError, RuntimeFailure } from "../../errors.ts";
import { baseName, dirName, joinPath } from "../../paths.ts";
import {
  loadServerTls,
  resolveServerTls,
  type ServerTls,
  type ServerTlsSource,
} from "../../net/tls.ts";
import { secondsToMs } from "../../values.ts";
import { canonicalRoot, resolveSafePath } from "../files/safe_path.ts";
import {
  type CompressionSettings,
  MIN_COMPRESS_BYTES,
  parseCompressSpec,
} from "../middleware/compression.ts";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "../h1/request.ts";
import {
  BODY_TIMEOUT_MS,
  HEADER_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  WRITE_TIMEOUT_MS,
} from "../h1/timeouts.ts";
import { type AuthCredential, parseAuthSpec } from "../sharing/auth.ts";
import { MULTIPART_OVERHEAD_BYTES } from "../sharing/middleware.ts";
import { type AccessRule, anyRuleWrites, parseAccessRules } from "../sharing/access_rules.ts";
import { loadShareLinks, resolveShareConfig, type ShareConfig } from "./share_config.ts";
import { DEFAULT_MAX_UPLOAD_BYTES } from "../sharing/upload.ts";
import type { LogFormat } from "./access_log.ts";

/** Default port of http-serve. */
export const DEFAULT_HTTP_PORT = 8000;
/** Default listen address: all IPv4 interfaces. */
export const DEFAULT_HTTP_HOST = "0.0.0.0";
/**
 * Default `--shutdown-timeout`: on SIGINT/SIGTERM, in-flight responses get this long to
 * finish; then the rest are closed and the process exits 0 (same default as echo-server).
 */
export const SHUTDOWN_GRACE_MS = 5_000;
/**
 * Default `--max-connections`: 0 = unlimited. Each connection costs a file descriptor
 * and a few tens of KiB; the limit that bites first is usually `ulimit -n`, which the
 * accept loop's pause handles.
 */
export const DEFAULT_MAX_CONNECTIONS = 0;

/**
 * The built-in site: `static/` next to the sources, resolved from this module's own
 * location so it also works inside a `deno compile --include static` binary.
 */
function defaultSiteRoot(): string {
  const here = import.meta.dirname ?? new URL(".", import.meta.url).pathname;
  return joinPath(here, "..", "..", "..", "static");
}

/** Flags of `sockit http-serve`, as commander delivers them. */
export interface HttpServeFlags {
  host?: string;
  port?: number;
  /** false with --no-listing. */
  listing?: boolean;
  dotfiles?: boolean;
  logFormat?: LogFormat;
  quiet?: boolean;
  trace?: boolean;
  /** Seconds; 0 = never. */
  keepAliveTimeout?: number;
  /** Bytes. */
  maxBody?: number;
  /** Seconds; 0 = never. */
  headerTimeout?: number;
  /** Seconds; 0 = never. */
  bodyTimeout?: number;
  /** Seconds; 0 = never. */
  writeTimeout?: number;
  /** Seconds. */
  shutdownTimeout?: number;
  maxConnections?: number;
  /** --cache SECONDS (parseCacheSeconds). */
  cache?: number;
  /** `--gzip`: an alias of `--compress gzip`. */
  gzip?: boolean;
  /** `--compress [CODINGS]`: true when given bare; `br=5,gzip`, `on`, `off` (parseCompressSpec). */
  compress?: string | true;
  /** `--compress-min` bytes. */
  compressMin?: number;
  cors?: boolean;
  /** --header, repeatable, each already checked by parseHeaderFlag. */
  header?: [string, string][];
  spa?: boolean;
  /** A PEM file, or `auto` (a throw-away self-signed certificate). */
  tlsCert?: string;
  tlsKey?: string;
  /** With `--tls-cert auto`: write the generated certificate (not the key) here. */
  tlsCertOut?: string;
  /** --auth, repeatable: raw USER:PASS / USER:sha256:HEX, parsed by parseAuthSpec here. */
  auth?: string[];
  upload?: boolean;
  /** --access, repeatable: WHO@/PATH:ro|rw|none (access_rules.ts). */
  access?: string[];
  /** --share, repeatable: paths under DIR to print a share link for. */
  share?: string[];
  /** --share-ttl, ms (share_links.ts parseShareTtl). */
  shareTtl?: number;
  /** --share-uses: GETs a link allows. */
  shareUses?: number;
  /** --max-upload bytes (needs --upload). */
  maxUpload?: number;
  /** --overwrite (needs --upload). */
  overwrite?: boolean;
  qr?: boolean;
  metrics?: boolean;
  cleanUrls?: boolean;
  /** --workers: isolates sharing the port (parseWorkers; 1 = this thread only). */
  workers?: number;
  /** false with --no-http2. */
  http2?: boolean;
  /** --watch: live reload (needs a DIR). */
  watch?: boolean;
  /** `--not-found FILE` (relative to DIR), or false with `--no-not-found`. */
  notFound?: string | false;
  /** --webdav: RFC 4918 on the same port (writes need --upload). */
  webdav?: boolean;
}

/** `--upload` settings. */
export interface UploadConfig {
  /** Largest upload, bytes (`--max-upload`). */
  maxBytes: number;
  /** Replace existing files (`--overwrite`). */
  overwrite: boolean;
}

/** `http-serve FILE`: one file shared at `/NAME`, with a page at `/` (single_file.ts). */
export interface SingleFileConfig {
  /** The file's canonical path. */
  path: string;
  /** The name it is shared under: the last segment of the FILE argument. */
  name: string;
}

/** The page sent with a 404 (`--not-found`; files.ts `notFoundPage`). */
export interface NotFoundPageConfig {
  /** Raw URL path under the root ("/404.html"). */
  urlPath: string;
  /** Named with `--not-found`: must exist at start-up. The default 404.html need not. */
  explicit: boolean;
}

/** Everything http-serve runs from: validated, in milliseconds and bytes, cloneable. */
export interface HttpConfig {
  /** The folder served; canonical once {@link loadHttpConfig} ran (a single file's folder). */
  root: string;
  /** Set by {@link loadHttpConfig} when DIR is a file: only that file is shared. */
  singleFile?: SingleFileConfig;
  /** The custom 404 page; absent with `--no-not-found` (or a single file). */
  notFoundPage?: NotFoundPageConfig;
  /** No DIR was given: the built-in site is served. */
  builtInSite: boolean;
  host: string;
  port: number;
  listing: boolean;
  dotfiles: boolean;
  logFormat: LogFormat;
  quiet: boolean;
  trace: boolean;
  /** 0 = never, like the other timeouts. */
  keepAliveTimeoutMs: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  writeTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** 0 = unlimited. */
  maxConnections: number;
  limits: RequestLimits;
  /** `--cache` seconds (absent: no-cache). */
  cacheSeconds?: number;
  /** `--compress` / `--gzip`: codings, levels and minimum size; absent = off. */
  compression?: CompressionSettings;
  spa: boolean;
  cleanUrls: boolean;
  cors: boolean;
  /** `--header` pairs, in order. */
  headers: [string, string][];
  /** `--auth` users (digests only; no password is kept). */
  credentials: AuthCredential[];
  /** `--access` rules, the implied one at `/` included. */
  accessRules: AccessRule[];
  /** Share links: on with `--share` or any `--auth` (the listing's Share button). */
  share?: ShareConfig;
  /** Present with `--upload` (or an `rw` `--access` rule). */
  upload?: UploadConfig;
  metrics: boolean;
  qr: boolean;
  /** `--watch`: watch the root, inject the live-reload script into HTML pages. */
  liveReload: boolean;
  /** Isolates asked for (`--workers`); where reusePort is unavailable, 1 serves instead. */
  workers: number;
  /** HTTP/2: ALPN "h2" over TLS and the prior-knowledge preface on the plain port (h2/). */
  http2: boolean;
  /** `--tls-cert` / `--tls-key` files, or `--tls-cert auto`, resolved (tls.ts). */
  tlsSource?: ServerTlsSource;
  /** The certificate and key, read or generated by {@link loadHttpConfig}. */
  tls?: ServerTls;
  /** `--webdav`: WebDAV on the same port and root (lib/http/webdav/). */
  webdav: boolean;
}

/**
 * Pure: flags → config. Throws {@link ConfigError} for a wrong combination or value (an
 * `--auth` error never echoes the password).
 */
export function resolveHttpConfig(dir: string | undefined, flags: HttpServeFlags): HttpConfig {
  const credentials = (flags.auth ?? []).map(parseAuthSpec);
  const accessRules = parseAccessRules(flags.access ?? [], {
    users: credentials.map((c) => c.user),
  });
  // A rule granting rw turns uploads on: writing is what it was written for.
  const upload = (flags.upload ?? false) || anyRuleWrites(accessRules);
  if (!upload && flags.overwrite) throw new ConfigError("--overwrite needs --upload");
  if (!upload && flags.maxUpload !== undefined) {
    throw new ConfigError("--max-upload needs --upload");
  }
  if (upload && dir === undefined) {
    const why = flags.upload ? "--upload" : "an rw --access rule";
    throw new ConfigError(`${why} needs a DIR to store files in (not the built-in site)`);
  }
  const liveReload = flags.watch ?? false;
  if (liveReload && dir === undefined) {
    throw new ConfigError("--watch needs a DIR to watch (not the built-in site)");
  }
  const webdav = flags.webdav ?? false;
  // WebDAV locks live in one process's memory; workers could not see each other's.
  if (webdav && (flags.workers ?? 1) > 1) {
    throw new ConfigError(
      "--webdav cannot be used with --workers above 1 (locks live in one process)",
    );
  }
  const host = flags.host ?? DEFAULT_HTTP_HOST;
  const tlsSource = resolveServerTls(flags, host);
  const maxUpload = flags.maxUpload ?? DEFAULT_MAX_UPLOAD_BYTES;
  return {
    root: dir ?? defaultSiteRoot(),
    builtInSite: dir === undefined,
    notFoundPage: notFoundPage(flags.notFound),
    host,
    port: flags.port ?? DEFAULT_HTTP_PORT,
    listing: flags.listing ?? true,
    dotfiles: flags.dotfiles ?? false,
    logFormat: flags.logFormat ?? "common",
    quiet: flags.quiet ?? false,
    trace: flags.trace ?? false,
    keepAliveTimeoutMs: secondsToMs(flags.keepAliveTimeout) ?? KEEP_ALIVE_TIMEOUT_MS,
    headerTimeoutMs: secondsToMs(flags.headerTimeout) ?? HEADER_TIMEOUT_MS,
    bodyTimeoutMs: secondsToMs(flags.bodyTimeout) ?? BODY_TIMEOUT_MS,
    writeTimeoutMs: secondsToMs(flags.writeTimeout) ?? WRITE_TIMEOUT_MS,
    shutdownTimeoutMs: secondsToMs(flags.shutdownTimeout) ?? SHUTDOWN_GRACE_MS,
    maxConnections: flags.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    limits: requestLimits(flags.maxBody, upload ? maxUpload : undefined),
    cacheSeconds: flags.cache,
    compression: compressionSettings(flags),
    spa: flags.spa ?? false,
    cleanUrls: flags.cleanUrls ?? false,
    cors: flags.cors ?? false,
    headers: flags.header ?? [],
    credentials,
    accessRules,
    share: resolveShareConfig(flags, credentials.length > 0),
    upload: upload ? { maxBytes: maxUpload, overwrite: flags.overwrite ?? false } : undefined,
    metrics: flags.metrics ?? false,
    qr: flags.qr ?? false,
    liveReload,
    workers: flags.workers ?? 1,
    http2: flags.http2 ?? true,
    tlsSource,
    webdav,
  };
}

/** Default custom 404 page, served when present at the root. */
export const DEFAULT_NOT_FOUND_PAGE = "404.html";

/** `--not-found FILE` as a URL path under the root (each segment percent-encoded). */
function notFoundPage(flag: string | false | undefined): NotFoundPageConfig | undefined {
  if (flag === false) return undefined;
  const segments = (flag ?? DEFAULT_NOT_FOUND_PAGE).split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0) throw new ConfigError("--not-found needs a file name under DIR");
  return {
    urlPath: `/${segments.map(encodeURIComponent).join("/")}`,
    explicit: flag !== undefined,
  };
}

/**
 * `--compress` and `--gzip` (= `--compress gzip`) together: the union of their codings,
 * `--compress`'s levels winning. `--compress off` turns both off.
 */
function compressionSettings(flags: HttpServeFlags): CompressionSettings | undefined {
  const min = flags.compressMin ?? MIN_COMPRESS_BYTES;
  const spec = flags.compress;
  const off = typeof spec === "string" && spec.trim().toLowerCase() === "off";
  if (flags.compressMin !== undefined && (spec === undefined || off) && !flags.gzip) {
    throw new ConfigError("--compress-min needs --compress or --gzip");
  }
  if (off) return undefined;
  const gzip = flags.gzip ? parseCompressSpec("gzip", min) : undefined;
  const chosen = spec === undefined ? undefined : parseCompressSpec(spec, min);
  if (chosen === undefined) return gzip;
  return { ...chosen, levels: { ...gzip?.levels, ...chosen.levels } };
}

/**
 * --max-body, raised with --upload so an upload of --max-upload bytes (plus a form's
 * multipart framing) is not refused before the upload handler sees it.
 */
function requestLimits(maxBody: number | undefined, maxUpload: number | undefined): RequestLimits {
  let limit = maxBody ?? DEFAULT_REQUEST_LIMITS.maxBodyBytes;
  if (maxUpload !== undefined) limit = Math.max(limit, maxUpload + MULTIPART_OVERHEAD_BYTES);
  return { ...DEFAULT_REQUEST_LIMITS, maxBodyBytes: limit };
}

/**
 * The I/O a resolved config needs before serving: the folder must exist (its canonical
 * path is kept), the TLS files are read (or `--tls-cert auto` generated), and `--upload`
 * needs write permission. A missing folder or file is a {@link ConfigError}; a missing
 * built-in site or permission a {@link RuntimeFailure}.
 */
export async function loadHttpConfig(config: HttpConfig): Promise<HttpConfig> {
  const single = await singleFileOf(config);
  if (single !== undefined) {
    const tls = config.tlsSource === undefined ? undefined : await loadServerTls(config.tlsSource);
    return {
      ...config,
      root: dirName(single.path),
      singleFile: single,
      notFoundPage: undefined,
      tls,
      share: config.share && await loadShareLinks(config.share, dirName(single.path), false),
    };
  }
  const root = await checkedRoot(config);
  const page = config.notFoundPage;
  if (page?.explicit) {
    const found = await resolveSafePath(root, page.urlPath, { dotfiles: config.dotfiles })
      .catch(() => null);
    if (found === null || !found.info.isFile || found.trailingSlash) {
      throw new ConfigError(
        `--not-found '${decodeURIComponent(page.urlPath.slice(1))}': no such file under ${root}` +
          (!config.dotfiles && page.urlPath.includes("/.")
            ? " (hidden names need --dotfiles)"
            : ""),
      );
    }
  }
  const tls = config.tlsSource === undefined ? undefined : await loadServerTls(config.tlsSource);
  if (config.upload !== undefined) {
    const permission = await Deno.permissions.query({ name: "write", path: root });
    if (permission.state !== "granted") {
      throw new RuntimeFailure(
        "NO_WRITE_PERMISSION",
        `--upload needs write access to ${root}: run deno with --allow-write`,
      );
    }
  }
  const share = config.share && await loadShareLinks(config.share, root, config.dotfiles);
  return { ...config, root, tls, share };
}

/**
 * DIR names a file: what sharing it alone needs (its canonical path, the name it is shared
 * under), after refusing the flags that need a folder. Undefined for a folder or anything
 * {@link checkedRoot} will explain.
 */
async function singleFileOf(config: HttpConfig): Promise<SingleFileConfig | undefined> {
  if (config.builtInSite) return undefined;
  const info = await Deno.stat(config.root).catch(() => null);
  if (info === null || !info.isFile) return undefined;
  const needsFolder = [
    config.upload !== undefined && "--upload",
    config.liveReload && "--watch",
    config.spa && "--spa",
    config.cleanUrls && "--clean-urls",
    config.notFoundPage?.explicit && "--not-found",
    config.webdav && "--webdav",
    (config.share?.paths.length ?? 0) > 0 && "--share",
  ].find((flag) => flag !== false && flag !== undefined);
  if (needsFolder) {
    throw new ConfigError(`${needsFolder} needs a DIR; '${config.root}' is a single file`);
  }
  return { path: await Deno.realPath(config.root), name: baseName(config.root) };
}

async function checkedRoot(config: HttpConfig): Promise<string> {
  const path = config.root;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (config.builtInSite) {
      throw new RuntimeFailure(
        "NO_SITE",
        `built-in site missing at ${path}: ${describeError(err)}`,
      );
    }
    const why = err instanceof Deno.errors.NotFound ? "no such directory" : describeError(err);
    throw new ConfigError(`cannot serve '${path}': ${why}`);
  }
  if (!info.isDirectory) throw new ConfigError(`cannot serve '${path}': not a directory`);
  return await canonicalRoot(path);
}
