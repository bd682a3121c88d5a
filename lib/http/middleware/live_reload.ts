/**
 * `http-serve --watch` (live reload): a watcher on the served folder, an event stream
 * (Server-Sent Events) at {@link LIVE_RELOAD_PATH}, and a {@link Middleware} that injects a
 * tiny script before `</body>` of HTML pages. The script listens on the stream: a changed
 * CSS file swaps the page's stylesheets in place, any other change reloads the page.
 *
 * ```ts
 * import { compose } from "../handler.ts";
 * import { createLiveReload } from "./live_reload.ts";
 * const live = createLiveReload({ root: "/srv/site" });
 * const handler = compose([live.middleware], () => ({ status: 200, body: "hi" }));
 * console.log(typeof handler);
 * live.close(); // on shutdown: the watcher and every open event stream
 * ```
 *
 * The page side (the script, where it is injected, ETags and 304s) is live_reload_page.ts.
 *
 * @module
 */
import { describeError, RuntimeFailure } from "../../errors.ts";
import { HttpError, textResponse } from "../errors.ts";
import type { Handler, HeaderList, Middleware } from "../handler.ts";
import { LIVE_RELOAD_PATH, withLiveReloadScript } from "./live_reload_page.ts";

export {
  injectLiveReloadScript,
  LIVE_RELOAD_ETAG_SUFFIX,
  LIVE_RELOAD_PATH,
  LIVE_RELOAD_SCRIPT,
  MAX_LIVE_RELOAD_HTML_BYTES,
  withLiveReloadScript,
} from "./live_reload_page.ts";

/** Open event streams at most; one more is answered 503 (each holds a connection). */
export const MAX_LIVE_RELOAD_CLIENTS = 64;
/** Changes closer together than this make one event (an editor's save is several writes). */
export const LIVE_RELOAD_DEBOUNCE_MS = 100;
/**
 * A comment line on every open stream this often. Between writes a streaming response has
 * no clock (`h1/timeouts.ts`: "busy"), so without it a client that vanished would be
 * noticed only at the next change; it also keeps proxies from idling the stream out.
 */
export const LIVE_RELOAD_HEARTBEAT_MS = 15_000;
/** Events queued for a client that is not reading; past this they collapse into one reload. */
export const MAX_QUEUED_LIVE_RELOAD_EVENTS = 16;
/** How long the browser waits before reconnecting a dropped stream (SSE `retry:`). */
export const LIVE_RELOAD_RETRY_MS = 1_000;

/** What the injected script is told: reload the page, or swap the stylesheet at `path`. */
export interface LiveReloadEvent {
  type: "reload" | "css";
  /** The changed file, as a URL path from the served root ("/css/site.css"). */
  path: string;
}

/** A watcher as `Deno.watchFs` returns it (tests pass a fake). */
export interface FileWatcher extends AsyncIterable<{ paths: string[] }> {
  close(): void;
}

const textEncoder = new TextEncoder();

/**
 * What changed → what the page should do: only stylesheets changed → one `css` event per
 * file; anything else → one `reload` (naming the first such file).
 */
export function liveReloadEvents(paths: readonly string[]): LiveReloadEvent[] {
  if (paths.length === 0) return [];
  const other = paths.find((path) => !path.toLowerCase().endsWith(".css"));
  if (other !== undefined) return [{ type: "reload", path: other }];
  return [...new Set(paths)].map((path) => ({ type: "css", path }));
}

/**
 * A changed file's URL path from the root, or null for what never triggers a reload:
 * outside the root, a dotfile or anything under a dot folder (`.git`, editor swap files,
 * uploads in progress), an editor backup (`name~`).
 */
export function watchedPath(root: string, fsPath: string): string | null {
  const base = root.endsWith("/") ? root : `${root}/`;
  if (!fsPath.startsWith(base)) return null;
  const rel = fsPath.slice(base.length);
  if (rel === "" || rel.endsWith("~")) return null;
  if (rel.split("/").some((segment) => segment.startsWith("."))) return null;
  return `/${rel}`;
}

/** One client's event stream: a queue the connection drains, ended by the hub. */
class EventStream implements AsyncIterable<Uint8Array> {
  #queue: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  constructor(readonly onDone: (stream: EventStream) => void) {}

  push(chunk: Uint8Array): void {
    if (this.#ended) return;
    if (this.#queue.length >= MAX_QUEUED_LIVE_RELOAD_EVENTS) {
      this.#queue = [encodeEvent({ type: "reload", path: "/" })];
    } else {
      this.#queue.push(chunk);
    }
    this.#wakeUp();
  }

  end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const chunk = this.#queue.shift();
        if (chunk !== undefined) {
          yield chunk;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
      }
    } finally {
      this.#ended = true;
      this.onDone(this);
    }
  }
}

/** One SSE event: its JSON data cannot contain a line break that would end it early. */
export function encodeEvent(event: LiveReloadEvent): Uint8Array {
  return textEncoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

const NO_CHUNKS: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]: () => ({
    next: () => Promise.resolve({ done: true, value: undefined }),
  }),
};
const HEARTBEAT = textEncoder.encode(": heartbeat\n\n");
const STREAM_START = textEncoder.encode(`retry: ${LIVE_RELOAD_RETRY_MS}\n\n`);

/** The open event streams: subscribe, broadcast, heartbeat, end them all on close. */
export class LiveReloadHub {
  #streams = new Set<EventStream>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Open streams. */
  get size(): number {
    return this.#streams.size;
  }

  /** A new client's stream, or null when {@link MAX_LIVE_RELOAD_CLIENTS} are open or closed. */
  subscribe(): AsyncIterable<Uint8Array> | null {
    if (this.#closed || this.#streams.size >= MAX_LIVE_RELOAD_CLIENTS) return null;
    const stream = new EventStream((done) => {
      this.#streams.delete(done);
      if (this.#streams.size === 0) this.#stopHeartbeat();
    });
    stream.push(STREAM_START);
    this.#streams.add(stream);
    if (this.#heartbeat === undefined) {
      this.#heartbeat = setInterval(() => {
        for (const s of this.#streams) s.push(HEARTBEAT);
      }, LIVE_RELOAD_HEARTBEAT_MS);
      Deno.unrefTimer(this.#heartbeat);
    }
    return stream;
  }

  broadcast(events: readonly LiveReloadEvent[]): void {
    for (const event of events) {
      const bytes = encodeEvent(event);
      for (const stream of this.#streams) stream.push(bytes);
    }
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /** Ends every stream (their responses complete) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const stream of this.#streams) stream.end();
    this.#stopHeartbeat();
  }
}

/** The endpoint at {@link LIVE_RELOAD_PATH}: GET opens a stream, HEAD gets its headers. */
export function withLiveReloadEndpoint(hub: LiveReloadHub): Middleware {
  return (next: Handler): Handler => (req, ctx) => {
    if (req.path !== LIVE_RELOAD_PATH) return next(req, ctx);
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "METHOD_NOT_ALLOWED", `${req.method} is not allowed here`, {
        headers: [["Allow", "GET, HEAD"]],
      });
    }
    // no-transform: a compressing middleware or proxy must not buffer the stream.
    const headers: HeaderList = [
      ["Content-Type", "text/event-stream; charset=utf-8"],
      ["Cache-Control", "no-cache, no-transform"],
      ["X-Content-Type-Options", "nosniff"],
    ];
    // HEAD: the head a GET gets (chunked, no length), without a subscription.
    if (req.method === "HEAD") return { status: 200, headers, body: { stream: NO_CHUNKS } };
    const stream = hub.subscribe();
    if (stream === null) {
      return textResponse(503, "too many live-reload clients", [["Retry-After", "5"]]);
    }
    return { status: 200, headers, body: { stream } };
  };
}

/**
 * Feeds file-system changes under `root` to `onChange`, debounced by `debounceMs`:
 * returns a function that stops watching.
 */
export function watchChanges(options: {
  root: string;
  watcher: FileWatcher;
  onChange: (paths: string[]) => void;
  debounceMs?: number;
}): () => void {
  const { root, watcher, onChange } = options;
  const debounceMs = options.debounceMs ?? LIVE_RELOAD_DEBOUNCE_MS;
  let pending: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const flush = () => {
    timer = undefined;
    const paths = pending;
    pending = [];
    if (paths.length > 0) onChange(paths);
  };
  (async () => {
    try {
      for await (const event of watcher) {
        for (const fsPath of event.paths) {
          const path = watchedPath(root, fsPath);
          if (path !== null && !pending.includes(path)) pending.push(path);
        }
        if (pending.length === 0) continue;
        clearTimeout(timer);
        timer = setTimeout(flush, debounceMs);
      }
    } catch {
      // The watcher failed (the folder went away): no more reloads, serving goes on.
    }
  })();
  return () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    try {
      watcher.close();
    } catch { /* closed */ }
  };
}

/** Options for {@link createLiveReload}. */
export interface LiveReloadOptions {
  /** The served folder (canonical). */
  root: string;
  /** Starts the watcher; default `Deno.watchFs(root, { recursive: true })`. */
  watch?: (root: string) => FileWatcher;
  /** Default {@link LIVE_RELOAD_DEBOUNCE_MS}. */
  debounceMs?: number;
  /**
   * Called with the changed files' paths on disk before the pages are told, so a cache
   * can drop them (the small-file cache would serve the old bytes for up to a second).
   */
  onChange?: (fsPaths: string[]) => void;
}

/** Live reload for one server: its middleware, and `close` for shutdown. */
export interface LiveReload {
  /** The endpoint, then the injector (put it inside any compression). */
  middleware: Middleware;
  hub: LiveReloadHub;
  /** Stops watching and ends every open stream. */
  close(): void;
}

/**
 * Starts watching `options.root` and returns the middleware; throws {@link RuntimeFailure}
 * when the folder cannot be watched (e.g. the inotify limit).
 */
export function createLiveReload(options: LiveReloadOptions): LiveReload {
  const hub = new LiveReloadHub();
  let watcher: FileWatcher;
  try {
    watcher = (options.watch ?? ((root) => Deno.watchFs(root, { recursive: true })))(
      options.root,
    );
  } catch (err) {
    throw new RuntimeFailure(
      "WATCH_FAILED",
      `--watch: cannot watch ${options.root}: ${describeError(err)}`,
    );
  }
  const stop = watchChanges({
    root: options.root,
    watcher,
    debounceMs: options.debounceMs,
    onChange: (paths) => {
      const base = options.root.endsWith("/") ? options.root.slice(0, -1) : options.root;
      options.onChange?.(paths.map((path) => base + path));
      hub.broadcast(liveReloadEvents(paths));
    },
  });
  const endpoint = withLiveReloadEndpoint(hub);
  const inject = withLiveReloadScript();
  return {
    middleware: (next) => endpoint(inject(next)),
    hub,
    close() {
      stop();
      hub.close();
    },
  };
}
