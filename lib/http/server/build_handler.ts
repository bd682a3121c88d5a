/**
 * The one place where http-serve's handler is assembled from its config: the static-file
 * handler and the middleware around it, in their one order. The main thread, every
 * `--workers` worker and the tests build it here alike.
 *
 * Order, outermost first: methods no handler implements get 501 (as the parser's own
 * refusals, before any feature); the health endpoint (no `--header`, no auth, not
 * logged); `--header` reaches every other answer; CORS sits outside any auth,
 * since browsers send no credentials on a preflight; the access layer (`--auth`, `--access`,
 * share links) comes before anything that looks at the path or method (the metrics endpoint
 * included) and tells the rest what this client may read and write (`ctx.access`); `--compress` then sees
 * every answer below it, as finished; then `--watch`'s live-reload stream and script
 * injection (so compression sees the page with the script); then the metrics
 * endpoint, uploads, the zip/tar download, clean URLs, and the files themselves.
 *
 * ```ts
 * import { buildHandler } from "./build_handler.ts";
 * import { loadHttpConfig, resolveHttpConfig } from "./config.ts";
 * const config = await loadHttpConfig(resolveHttpConfig(undefined, { cors: true }));
 * const { handler } = buildHandler(config);
 * console.log(typeof handler);
 * ```
 *
 * @module
 */
import { SmallFileCache } from "../files/file_cache.ts";
import { staticFiles } from "../files/files.ts";
import { singleFile } from "../files/single_file.ts";
import { compose, type Handler, lazyMiddleware, type Middleware } from "../handler.ts";
import { KNOWN_METHODS, KNOWN_METHODS_WITH_WEBDAV, withKnownMethods } from "../methods.ts";
import { withCompression } from "../middleware/compression.ts";
import { withCors, withResponseHeaders } from "../middleware/cors.ts";
import { createLiveReload } from "../middleware/live_reload.ts";
import { HttpMetrics } from "../sharing/metrics.ts";
import { withFileManagement } from "../sharing/manage_middleware.ts";
import {
  listingActionsHtml,
  UPLOAD_ALLOWED_METHODS,
  withCleanUrls,
  withHealthEndpoint,
  withMetricsEndpoint,
  withUploads,
} from "../sharing/middleware.ts";
import { DAV_READ_METHODS, DAV_WRITE_METHODS } from "../webdav/context.ts";
import type { HttpConfig } from "./config.ts";
import { withAccess } from "../sharing/access.ts";
import { parseAccessRules } from "../sharing/access_rules.ts";
import { shareButtonHtml } from "../sharing/share_button.ts";

/** The handler and the parts of it the server needs to see. */
export interface BuiltHandler {
  handler: Handler;
  /** `--metrics`: counted per connection and response by the server. */
  metrics?: HttpMetrics;
  /** Releases what the handler holds open (`--watch`: the watcher, its event streams). */
  close?: () => void;
}

/** Settings {@link buildHandler} reads; any {@link HttpConfig} has them. */
export type HandlerConfig = Pick<
  HttpConfig,
  | "root"
  | "listing"
  | "dotfiles"
  | "cacheSeconds"
  | "compression"
  | "spa"
  | "cleanUrls"
  | "cors"
  | "headers"
  | "credentials"
  | "accessRules"
  | "share"
  | "upload"
  | "metrics"
  | "liveReload"
  | "singleFile"
  | "notFoundPage"
  | "webdav"
>;

/** Builds the handler `config` describes (the root must be canonical: see loadHttpConfig). */
export function buildHandler(config: HandlerConfig): BuiltHandler {
  const { root, dotfiles, upload, singleFile: single } = config;
  // A single file has no folder to list, archive or clean-URL (config.ts refuses the rest).
  const listing = config.listing && single === undefined;
  const fileCache = new SmallFileCache();
  const metrics = config.metrics ? new HttpMetrics() : undefined;
  const liveReload = config.liveReload
    ? createLiveReload({
      root,
      // An edited page is served fresh at once, not from memory for up to a second.
      onChange: (paths) => paths.forEach((path) => fileCache.forgetFile(path)),
    })
    : undefined;
  const middleware: Middleware[] = [
    withKnownMethods(config.webdav ? KNOWN_METHODS_WITH_WEBDAV : KNOWN_METHODS),
    // Before --auth: a load balancer has no password, and "ok" tells no more than the port.
    withHealthEndpoint(),
    ...(config.headers.length > 0 ? [withResponseHeaders(config.headers)] : []),
    ...(config.cors
      ? [withCors({
        allowMethods: config.webdav
          ? (upload ? DAV_WRITE_METHODS : DAV_READ_METHODS)
          : upload
          ? UPLOAD_ALLOWED_METHODS
          : undefined,
      })]
      : []),
    // --auth, --access and share links: who may read and write where (sets ctx.access).
    ...(needsAccessLayer(config) ? [withAccess(accessOptions(config))] : []),
    // Inside auth and CORS (their answers are tiny), outside every body it compresses.
    ...(config.compression ? [withCompression(config.compression)] : []),
    // --watch: inside compression (it must see identity HTML), after auth (the event
    // stream is as private as the files), outside everything that produces pages.
    ...(liveReload ? [liveReload.middleware] : []),
    ...(metrics ? [withMetricsEndpoint(metrics)] : []),
    // --webdav: before uploads (it owns PUT then), after auth, compression and live reload
    // (multistatus is XML: compressed like any text, never given the reload script).
    // Loaded by the first request WebDAV changes (anything but GET, HEAD and POST).
    ...(config.webdav && single === undefined
      ? [lazyMiddleware(
        (req) => req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST",
        async () => {
          const [{ withWebDav }, { LockManager }, { DeadPropertyStore }] = await Promise.all([
            import("../webdav/middleware.ts"),
            import("../webdav/locks.ts"),
            import("../webdav/dead_props.ts"),
          ]);
          return withWebDav({
            root,
            dotfiles,
            locks: new LockManager(),
            props: new DeadPropertyStore(),
            write: upload ? { maxBytes: upload.maxBytes } : undefined,
            onChanged: (path) => fileCache.forgetTree(path),
          });
        },
      )]
      : []),
    // --upload's delete / move / mkdir / resumable PUT, and the cross-site write check for
    // every write feature, so it sits right outside the uploads.
    ...(upload
      ? [withFileManagement({
        root,
        dotfiles,
        maxBytes: upload.maxBytes,
        overwrite: upload.overwrite,
        cors: config.cors,
        onChanged: (path) => fileCache.forgetFile(path),
      })]
      : []),
    ...(upload
      ? [withUploads({
        root,
        dotfiles,
        maxBytes: upload.maxBytes,
        overwrite: upload.overwrite,
        // A replaced file is forgotten at once, not served from memory for up to a second.
        onStored: (path) => fileCache.forgetFile(path),
      })]
      : []),
    // The zip/tar download, loaded by the first request with a query (`?download=zip`).
    ...(listing
      ? [lazyMiddleware(
        (req) => req.query !== "",
        async () =>
          (await import("../sharing/archive_download.ts")).withArchiveDownload({ root, dotfiles }),
      )]
      : []),
    ...(config.cleanUrls ? [withCleanUrls({ root, dotfiles })] : []),
  ];
  if (single !== undefined) {
    const files = singleFile({ ...single, cacheSeconds: config.cacheSeconds, fileCache });
    return { handler: compose(middleware, files), metrics, close: liveReload?.close };
  }
  const files = staticFiles({
    root,
    listing,
    dotfiles,
    cacheSeconds: config.cacheSeconds,
    spa: config.spa,
    listingActionsHtml: listingActionsHtml({ tar: listing, upload: upload !== undefined }),
    userActionsHtml: config.share ? shareButtonHtml() : undefined,
    fileCache,
    notFoundPage: config.notFoundPage?.urlPath,
  });
  return { handler: compose(middleware, files), metrics, close: liveReload?.close };
}

function needsAccessLayer(config: HandlerConfig): boolean {
  return config.credentials.length > 0 || config.share !== undefined ||
    (config.accessRules ?? []).some((rule) => !rule.implied);
}

function accessOptions(config: HandlerConfig): Parameters<typeof withAccess>[0] {
  const share = config.share;
  return {
    credentials: config.credentials,
    // A hand-built config may have no rules: the implied one keeps --auth's meaning.
    rules: config.accessRules?.length
      ? config.accessRules
      : parseAccessRules([], { users: config.credentials.map((c) => c.user) }),
    share: share?.secret === undefined
      ? undefined
      : { secret: share.secret, ttlMs: share.ttlMs, maxUses: share.maxUses },
  };
}
