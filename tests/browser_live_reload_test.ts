/**
 * `http-serve --watch` in a real browser: headless Chromium opens a page; editing its HTML
 * reloads it within a second, editing its stylesheet changes the computed style within a
 * second without a reload.
 *
 * Needs Debian's `chromium` (installed by `.ci/run`); without it the test is reported as
 * ignored, with the reason printed.
 *
 * ```sh
 * deno test -A tests/browser_live_reload_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { LIVE_RELOAD_PATH } from "../lib/http/middleware/live_reload.ts";
import { serveHttp, tempTree } from "./helpers.ts";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";

/** The page changes within this long of the edit (the promise). */
const WITHIN_MS = 1_000;

const html = (title: string) =>
  `<!doctype html><html><head><link rel="stylesheet" href="/site.css"></head>` +
  `<body><h1>${title}</h1></body></html>\n`;

await chromiumTest(
  "browser_live_reload_test",
  "browser: --watch reloads an edited page and swaps an edited stylesheet in place",
  async (chromium) => {
    await using tree = await tempTree({
      "index.html": html("one"),
      "site.css": "h1 { color: rgb(255, 0, 0) }\n",
    });
    await using server = await serveHttp(tree.path, "--watch", "--quiet");
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Network.enable", {}, sessionId);
      await devtools.send("Page.enable", {}, sessionId);
      const streamOpen = () =>
        devtools.waitFor(
          (e) =>
            e.method === "Network.responseReceived" &&
            (e.params.response as { url: string }).url === `${server.url}${LIVE_RELOAD_PATH}`,
          "the live-reload event stream",
        );

      let open = streamOpen();
      await devtools.navigate(sessionId, `${server.url}/`);
      await open;
      assert.equal(await devtools.evaluate<string>(sessionId, "document.title || 'x'"), "x");

      // 1. The HTML changes: the page reloads with the new text.
      open = streamOpen();
      const reloaded = devtools.waitFor(
        (e) => e.method === "Page.loadEventFired",
        "reload after the edit",
        WITHIN_MS,
      );
      let started = Date.now();
      await Deno.writeTextFile(`${tree.path}/index.html`, html("two"));
      await reloaded;
      assert.equal(
        await devtools.evaluate<string>(sessionId, "document.querySelector('h1').textContent"),
        "two",
      );
      assert.ok(Date.now() - started < WITHIN_MS, `reloaded after ${Date.now() - started} ms`);
      await open; // the reloaded page listens again

      // 2. The CSS changes: the computed colour follows, the page is not reloaded.
      await devtools.evaluate(sessionId, "window.sameDocument = true");
      started = Date.now();
      await Deno.writeTextFile(`${tree.path}/site.css`, "h1 { color: rgb(0, 0, 255) }\n");
      const color = await devtools.evaluate<string>(
        sessionId,
        `new Promise((resolve) => {
          const t0 = performance.now();
          const tick = () => {
            const c = getComputedStyle(document.querySelector("h1")).color;
            if (c === "rgb(0, 0, 255)" || performance.now() - t0 > ${WITHIN_MS}) resolve(c);
            else setTimeout(tick, 10);
          };
          tick();
        })`,
      );
      assert.equal(color, "rgb(0, 0, 255)");
      assert.ok(Date.now() - started < WITHIN_MS + 200, `styled after ${Date.now() - started} ms`);
      assert.equal(await devtools.evaluate<boolean>(sessionId, "window.sameDocument"), true);
      assert.equal(
        await devtools.evaluate<number>(
          sessionId,
          "document.querySelectorAll('link[rel=stylesheet]').length",
        ),
        1,
        "the old stylesheet was removed",
      );
    } finally {
      await devtools.close();
    }
  },
);
