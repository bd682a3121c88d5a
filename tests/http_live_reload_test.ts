/**
 * `http-serve --watch`: the script injector (where it goes, where it must not), the ETag and
 * 304 rules of injected pages, the event stream with a fake watcher, and the real CLI: a
 * changed file reaches an open stream as `reload` (or `css`) within a second.
 *
 * ```sh
 * deno test -A tests/http_live_reload_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  compose,
  type Handler,
  type HttpResponse,
  type RequestContext,
} from "../lib/http/handler.ts";
import { parseRequestHead } from "../lib/http/h1/request.ts";
import {
  createLiveReload,
  type FileWatcher,
  injectLiveReloadScript,
  LIVE_RELOAD_DEBOUNCE_MS,
  LIVE_RELOAD_PATH,
  LIVE_RELOAD_SCRIPT,
  liveReloadEvents,
  MAX_LIVE_RELOAD_CLIENTS,
  MAX_LIVE_RELOAD_HTML_BYTES,
  watchedPath,
  withLiveReloadScript,
} from "../lib/http/middleware/live_reload.ts";
import { inProcessServer, serveHttp, tempTree } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CTX = {} as RequestContext;

function get(target: string, headers: Record<string, string> = {}) {
  const fields = Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`).join("");
  return parseRequestHead(enc.encode(`GET ${target} HTTP/1.1\r\nHost: x\r\n${fields}\r\n`));
}

function header(res: HttpResponse, name: string): string | undefined {
  return res.headers?.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

function bodyText(res: HttpResponse): string {
  const body = res.body;
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return dec.decode(body);
  throw new Error("body is not in memory");
}

const page = (html: string, extra: [string, string][] = []): HttpResponse => ({
  status: 200,
  headers: [["Content-Type", "text/html; charset=utf-8"], ["ETag", '"abc"'], ...extra],
  body: enc.encode(html),
});

async function injected(res: HttpResponse, req = get("/")): Promise<HttpResponse> {
  return await withLiveReloadScript()(() => res)(req, CTX);
}

Deno.test("live reload: the script goes before the last </body> (any case), else at the end", () => {
  assert.equal(
    dec.decode(injectLiveReloadScript(enc.encode("<body>a</body><!-- </body> --></BODY>\n"))),
    `<body>a</body><!-- </body> -->${LIVE_RELOAD_SCRIPT}</BODY>\n`,
  );
  assert.equal(dec.decode(injectLiveReloadScript(enc.encode("<p>x"))), `<p>x${LIVE_RELOAD_SCRIPT}`);
  assert.equal(dec.decode(injectLiveReloadScript(new Uint8Array())), LIVE_RELOAD_SCRIPT);
});

Deno.test("live reload: HTML 200 gets the script, a weak suffixed ETag, no Accept-Ranges", async () => {
  const res = await injected(page("<body>hi</body>", [["Accept-Ranges", "bytes"]]));
  assert.equal(bodyText(res), `<body>hi${LIVE_RELOAD_SCRIPT}</body>`);
  assert.equal(header(res, "etag"), 'W/"abc-live-reload"');
  assert.equal(header(res, "accept-ranges"), undefined);
  // A listing (a string body) too.
  const listing = await injected({
    status: 200,
    headers: [["Content-Type", "text/html"]],
    body: "<body></body>",
  });
  assert.equal(bodyText(listing), `<body>${LIVE_RELOAD_SCRIPT}</body>`);
});

Deno.test("live reload: non-HTML, ranges, downloads, encoded and oversized pages are untouched", async () => {
  const cases: HttpResponse[] = [
    { status: 200, headers: [["Content-Type", "text/css"]], body: "</body>" },
    { ...page("<body></body>"), status: 206, headers: [["Content-Type", "text/html"]] },
    page("<body></body>", [["Content-Range", "bytes 0-12/13"]]),
    page("<body></body>", [["Content-Disposition", 'attachment; filename="a.html"']]),
    page("<body></body>", [["Content-Encoding", "gzip"]]),
    page("x".repeat(MAX_LIVE_RELOAD_HTML_BYTES + 1)),
    { status: 404, headers: [["Content-Type", "text/html"]], body: "<body></body>" },
  ];
  for (const res of cases) assert.equal(await injected(res), res);
  // At the limit it is still injected.
  const atLimit = await injected(page("x".repeat(MAX_LIVE_RELOAD_HTML_BYTES)));
  assert.equal(bodyText(atLimit).length, MAX_LIVE_RELOAD_HTML_BYTES + LIVE_RELOAD_SCRIPT.length);
});

Deno.test("live reload: a file body is read, injected and closed", async () => {
  await using tree = await tempTree({ "big.html": "<body>big</body>" });
  const file = await Deno.open(`${tree.path}/big.html`);
  const out = await injected({ ...page(""), body: { file, offset: 6, length: 3 } });
  assert.equal(bodyText(out), `big${LIVE_RELOAD_SCRIPT}`);
  assert.throws(() => file.close(), Deno.errors.BadResource);
});

Deno.test("live reload: 304 only for a client that holds the injected page", async () => {
  const seen: (string | undefined)[] = [];
  const files: Handler = (req) => {
    const inm = req.headers.get("if-none-match");
    seen.push(inm);
    if (inm === '"abc"') return { status: 304, headers: [["ETag", '"abc"']] };
    return page("<body></body>");
  };
  const handler = compose([withLiveReloadScript()], files);
  // Our tag: translated for the file handler, 304 with our tag again.
  const ours = await handler(get("/", { "If-None-Match": 'W/"abc-live-reload"' }), CTX);
  assert.equal(ours.status, 304);
  assert.equal(header(ours, "etag"), 'W/"abc-live-reload"');
  assert.deepEqual(seen, ['"abc"']);
  // Ours among others (as a compressing middleware outside passes them): only ours count.
  seen.length = 0;
  const mixed = await handler(
    get("/", { "If-None-Match": 'W/"abc-live-reload-gzip", W/"abc-live-reload"' }),
    CTX,
  );
  assert.equal(mixed.status, 304);
  assert.deepEqual(seen, ['"abc"']);
  // The file's own tag (a copy cached before --watch): the page again, with the script.
  seen.length = 0;
  const old = await handler(get("/", { "If-None-Match": '"abc"' }), CTX);
  assert.equal(old.status, 200);
  assert.match(bodyText(old), /data-sockit-live-reload/);
  assert.deepEqual(seen, ['"abc"', undefined]);
  // A 304 for something that is not a page stays a 304.
  const css = compose(
    [withLiveReloadScript()],
    (req) =>
      req.headers.has("if-none-match")
        ? { status: 304, headers: [["ETag", '"c"']] }
        : { status: 200, headers: [["Content-Type", "text/css"]], body: "p{}" },
  );
  const kept = await css(get("/s.css", { "If-None-Match": '"c"' }), CTX);
  assert.equal(kept.status, 304);
  assert.equal(header(kept, "etag"), '"c"');
});

Deno.test("live reload: an encoded page is asked for again as identity", async () => {
  const handler = compose(
    [withLiveReloadScript()],
    (req) =>
      req.headers.get("accept-encoding") === "identity"
        ? page("<body></body>")
        : page("gz", [["Content-Encoding", "gzip"]]),
  );
  const res = await handler(get("/", { "Accept-Encoding": "gzip" }), CTX);
  assert.equal(header(res, "content-encoding"), undefined);
  assert.equal(bodyText(res), `<body>${LIVE_RELOAD_SCRIPT}</body>`);
});

Deno.test("live reload: which changes count, and what they become", () => {
  assert.equal(watchedPath("/srv", "/srv/a/b.html"), "/a/b.html");
  for (const p of ["/srv/.git/index", "/srv/a/.b.swp", "/srv/a~", "/other/x", "/srv"]) {
    assert.equal(watchedPath("/srv", p), null, p);
  }
  assert.deepEqual(liveReloadEvents(["/a.css", "/b.CSS", "/a.css"]), [
    { type: "css", path: "/a.css" },
    { type: "css", path: "/b.CSS" },
  ]);
  assert.deepEqual(liveReloadEvents(["/a.css", "/x.html", "/y.js"]), [
    { type: "reload", path: "/x.html" },
  ]);
  assert.deepEqual(liveReloadEvents([]), []);
});

/** A watcher the test feeds by hand. */
function fakeWatcher(): FileWatcher & { emit(paths: string[]): void; closed: boolean } {
  const queue: { paths: string[] }[] = [];
  let wake: (() => void) | null = null;
  const w = {
    closed: false,
    emit(paths: string[]) {
      queue.push({ paths });
      wake?.();
    },
    close() {
      w.closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      while (!w.closed) {
        const event = queue.shift();
        if (event !== undefined) yield event;
        else await new Promise<void>((resolve) => wake = resolve);
      }
    },
  };
  return w;
}

/** Reads SSE events (name and parsed data) from a response body. */
function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  let buffered = "";
  return {
    async next(
      timeoutMs = 1_000,
    ): Promise<{ event: string; data: { type: string; path: string } }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end !== -1) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) return { event, data: JSON.parse(data) };
          continue; // retry: or a heartbeat comment
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no event within ${timeoutMs} ms`)),
              Math.max(0, deadline - Date.now()),
            );
          }),
        ]).finally(() => clearTimeout(timer));
        if (chunk.done) throw new Error("event stream ended");
        buffered += dec.decode(chunk.value, { stream: true });
      }
    },
    async ended(): Promise<boolean> {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) return true;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("live reload: the event stream with a fake watcher (debounce, bound, close)", async () => {
  const watcher = fakeWatcher();
  const live = createLiveReload({ root: "/srv", watch: () => watcher });
  await using server = await inProcessServer({
    handler: compose([live.middleware], () => ({ status: 404 })),
  });
  try {
    const res = await fetch(server.url + LIVE_RELOAD_PATH);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
    const events = eventReader(res.body!);
    // Several writes of one save → one event, after the debounce.
    watcher.emit(["/srv/index.html"]);
    watcher.emit(["/srv/index.html", "/srv/.index.html.swp"]);
    const started = Date.now();
    assert.deepEqual(await events.next(), {
      event: "reload",
      data: { type: "reload", path: "/index.html" },
    });
    assert.ok(Date.now() - started >= LIVE_RELOAD_DEBOUNCE_MS - 10);
    watcher.emit(["/srv/css/site.css"]);
    assert.deepEqual(await events.next(), {
      event: "css",
      data: { type: "css", path: "/css/site.css" },
    });
    // Dotfiles alone are no change.
    watcher.emit(["/srv/.git/HEAD"]);
    await assert.rejects(events.next(300), /no event/);
    // One more client than the bound → 503.
    const more: Response[] = [];
    for (let i = 1; i < MAX_LIVE_RELOAD_CLIENTS; i++) {
      more.push(await fetch(server.url + LIVE_RELOAD_PATH));
    }
    assert.equal(live.hub.size, MAX_LIVE_RELOAD_CLIENTS);
    const refused = await fetch(server.url + LIVE_RELOAD_PATH);
    assert.equal(refused.status, 503);
    await refused.body?.cancel();
    for (const r of more) await r.body?.cancel();
    // Closing (shutdown) ends the open stream and the watcher.
    live.close();
    assert.ok(await events.ended());
    assert.ok(watcher.closed);
  } finally {
    live.close();
  }
});

Deno.test("live reload: without --watch nothing is injected and there is no endpoint", async () => {
  await using tree = await tempTree({ "index.html": "<body>x</body>" });
  await using server = await inProcessServer({ root: tree.path });
  assert.equal(await (await fetch(server.url + "/")).text(), "<body>x</body>");
  const endpoint = await fetch(server.url + LIVE_RELOAD_PATH);
  assert.equal(endpoint.status, 404);
  await endpoint.body?.cancel();
});

Deno.test("live reload: with --compress the page is compressed with the script, and revalidates", async () => {
  await using tree = await tempTree({ "index.html": `<body>${"hello ".repeat(500)}</body>` });
  await using server = await inProcessServer({
    root: tree.path,
    flags: { watch: true, compress: true, quiet: true },
  });
  const res = await fetch(server.url + "/", { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(res.headers.get("content-encoding"), "gzip");
  assert.match(await res.text(), /data-sockit-live-reload/); // fetch decompresses
  const etag = res.headers.get("etag")!;
  const again = await fetch(server.url + "/", {
    headers: { "Accept-Encoding": "gzip", "If-None-Match": etag },
  });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get("etag"), etag);
  await again.body?.cancel();
  // The event stream is never compressed; HEAD gets its head without subscribing.
  const head = await fetch(server.url + LIVE_RELOAD_PATH, {
    method: "HEAD",
    headers: { "Accept-Encoding": "gzip" },
  });
  assert.equal(head.headers.get("content-encoding"), null);
  assert.equal(head.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const stream = await fetch(server.url + LIVE_RELOAD_PATH, {
    headers: { "Accept-Encoding": "gzip" },
  });
  assert.equal(stream.headers.get("content-encoding"), null);
  const events = eventReader(stream.body!);
  // Shutdown (dispose) ends the open stream; the sanitizers check the watcher is gone.
  await server[Symbol.asyncDispose]();
  assert.ok(await events.ended());
});

Deno.test("live reload: --watch needs a DIR", async () => {
  const { resolveHttpConfig } = await import("../lib/http/server/config.ts");
  assert.throws(() => resolveHttpConfig(undefined, { watch: true }), /--watch needs a DIR/);
  assert.equal(resolveHttpConfig("/tmp", { watch: true }).liveReload, true);
  assert.equal(resolveHttpConfig("/tmp", {}).liveReload, false);
});

Deno.test("live reload: the real CLI with --watch --spa --clean-urls: pages, events, shutdown", async () => {
  await using tree = await tempTree({
    "index.html": "<html><body><h1>app</h1></body></html>",
    "about.html": "<p>about",
    "site.css": "h1 { color: red }",
    "data.json": "{}",
  });
  await using server = await serveHttp(tree.path, "--watch", "--spa", "--clean-urls", "--quiet");
  // Pages get the script: index.html, a --spa route, a --clean-urls page; JSON does not.
  for (const path of ["/", "/some/route", "/about"]) {
    const text = await (await fetch(server.url + path)).text();
    assert.match(text, /data-sockit-live-reload/, path);
  }
  assert.equal(await (await fetch(server.url + "/data.json")).text(), "{}");
  // A 304 for the injected page, by its own ETag.
  const first = await fetch(server.url + "/");
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  assert.match(etag, /^W\/".*-live-reload"$/);
  const again = await fetch(server.url + "/", { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
  await again.body?.cancel();

  const res = await fetch(server.url + LIVE_RELOAD_PATH);
  const events = eventReader(res.body!);
  try {
    let started = Date.now();
    await Deno.writeTextFile(`${tree.path}/index.html`, "<html><body><h1>v2</h1></body></html>");
    assert.deepEqual((await events.next(1_000)).data, { type: "reload", path: "/index.html" });
    assert.ok(Date.now() - started < 1_000);
    // The reload gets the new page at once (not the small-file cache's copy).
    assert.match(await (await fetch(server.url + "/")).text(), /<h1>v2<\/h1>/);
    started = Date.now();
    await Deno.writeTextFile(`${tree.path}/site.css`, "h1 { color: blue }");
    assert.deepEqual((await events.next(1_000)).data, { type: "css", path: "/site.css" });
    assert.ok(Date.now() - started < 1_000);
    // Shutdown ends the stream at once, not at the shutdown timeout.
    started = Date.now();
    await server.stop("SIGTERM");
    assert.ok(await events.ended());
    assert.ok(Date.now() - started < 2_000, `shutdown took ${Date.now() - started} ms`);
  } finally {
    await events.cancel().catch(() => {});
  }
});
