/**
 * End-to-end test in a real browser: `sockit http-serve` with no DIR serves the built-in
 * site, headless Chromium loads it, and we prove through the DevTools protocol that the
 * JPEG was decoded and rendered and that the browser fetched `/favicon.ico` and got a 200 —
 * seen from both sides, the browser's network events and the server's access log.
 *
 * Needs Debian's `chromium` (installed by `.ci/run`); without it the test is reported as
 * ignored, with the reason printed.
 *
 * ```sh
 * deno test -A tests/browser_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer, tempTree } from "./helpers.ts";
import { BROWSER_TIMEOUT_MS, chromiumTest, DevTools, launchChromium } from "./chromium.ts";

await chromiumTest(
  "browser_test",
  "browser: headless Chromium renders the built-in site's JPEG and fetches /favicon.ico",
  async (chromium) => {
    await using cwdTree = await tempTree();
    const cwd = cwdTree.path;
    await using server = await startServer(
      ["http-serve", "--port", "0", "--host", "127.0.0.1", "--log-format", "json"],
      { cwd },
    );
    const origin = `http://127.0.0.1:${server.port}`;
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Network.enable", {}, sessionId);
      await devtools.send("Page.enable", {}, sessionId);

      const responseFor = (path: string) =>
        devtools.waitFor(
          (e) =>
            e.method === "Network.responseReceived" &&
            (e.params.response as { url: string }).url === `${origin}${path}`,
          `response for ${path}`,
        );
      const pageResponse = responseFor("/");
      const imageResponse = responseFor("/sockit.jpg");
      const faviconResponse = responseFor("/favicon.ico");

      await devtools.navigate(sessionId, `${origin}/`);

      type Response = { status: number; mimeType: string };
      const page = (await pageResponse).response as Response;
      assert.equal(page.status, 200);
      assert.equal(page.mimeType, "text/html");
      const image = (await imageResponse).response as Response;
      assert.equal(image.status, 200);
      assert.equal(image.mimeType, "image/jpeg");

      // decode() rejects when the bytes are not an image the browser can draw; after it,
      // naturalWidth is the JPEG's real width (0 for a broken image).
      const evaluation = await devtools.send<{
        result: { value: unknown };
        exceptionDetails?: unknown;
      }>(
        "Runtime.evaluate",
        {
          expression: `(async () => {
            const img = document.querySelector("img");
            await img.decode();
            const box = img.getBoundingClientRect();
            return { src: img.currentSrc, complete: img.complete,
                     naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
                     shownWidth: box.width, shownHeight: box.height,
                     title: document.title,
                     icon: document.querySelector('link[rel="icon"]').getAttribute("href") };
          })()`,
          awaitPromise: true,
          returnByValue: true,
        },
        sessionId,
      );
      assert.equal(evaluation.exceptionDetails, undefined, "image did not decode");
      const img = evaluation.result.value as Record<string, unknown>;
      assert.equal(img.src, `${origin}/sockit.jpg`);
      assert.equal(img.complete, true);
      assert.equal(img.naturalWidth, 800);
      assert.equal(img.naturalHeight, 400);
      assert.ok((img.shownWidth as number) > 0 && (img.shownHeight as number) > 0);
      assert.match(img.title as string, /sockit/);
      assert.equal(img.icon, "/favicon.ico");

      // The browser asks for the favicon on its own, after the load event.
      const favicon = (await faviconResponse).response as Response;
      assert.equal(favicon.status, 200);

      // The page is self-contained: every request it made was answered 200.
      const failed = devtools.events.filter((e) => e.method === "Network.loadingFailed");
      assert.deepEqual(failed, [], "no request failed");
      const statuses = devtools.events
        .filter((e) => e.method === "Network.responseReceived")
        .map((e) => e.params.response as { url: string; status: number })
        .map((r) => `${r.status} ${r.url.replace(origin, "")}`);
      assert.deepEqual(statuses.toSorted(), ["200 /", "200 /favicon.ico", "200 /sockit.jpg"]);

      // The server's side: one JSON access-log line per request; the favicon's says
      // GET, 200 and the whole file.
      const faviconFile = await Deno.stat(new URL("../static/favicon.ico", import.meta.url));
      const logLine = await server.waitForLine(
        /"path":"\/favicon\.ico"/,
        BROWSER_TIMEOUT_MS,
      );
      const entry = JSON.parse(logLine);
      assert.equal(entry.method, "GET", logLine);
      assert.equal(entry.status, 200, logLine);
      assert.equal(entry.bytes, faviconFile.size, logLine);
    } finally {
      await devtools.close();
    }
  },
);
