/**
 * HTTP/2 in a real browser: `sockit http-serve --tls-cert auto` serves the built-in site,
 * headless Chromium loads it over TLS (the throw-away certificate accepted through the
 * DevTools protocol), negotiates `h2` by ALPN, and renders the page's JPEG — proven from the
 * page (`performance` entries' `nextHopProtocol`, the decoded image) and from the server's
 * access log.
 *
 * ```sh
 * deno test -A tests/h2_browser_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer, tempTree } from "./helpers.ts";
import { BROWSER_TIMEOUT_MS, chromiumTest, DevTools, launchChromium } from "./chromium.ts";

await chromiumTest(
  "h2_browser_test",
  "h2 browser: Chromium loads the built-in site and its image over h2 (TLS, ALPN)",
  async (chromium) => {
    await using cwdTree = await tempTree();
    await using server = await startServer(
      ["http-serve", "--port", "0", "--host", "127.0.0.1", "--tls-cert", "auto"],
      { cwd: cwdTree.path },
    );
    const origin = `https://127.0.0.1:${server.port}`;
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      // The certificate is self-signed: accepted for this browser only, as -k is for curl.
      await devtools.send("Security.setIgnoreCertificateErrors", { ignore: true }, sessionId);
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.navigate(sessionId, `${origin}/`);
      type Report = {
        page: string;
        image: string;
        imageWidth: number;
        complete: boolean;
      };
      const report = await devtools.evaluate<Report>(
        sessionId,
        `(async () => {
          const img = document.querySelector("img");
          await img.decode();
          const entries = performance.getEntries();
          const image = entries.find((e) => e.name.endsWith("/sockit.jpg"));
          return { page: entries[0].nextHopProtocol, image: image?.nextHopProtocol ?? "none",
                   imageWidth: img.naturalWidth, complete: img.complete };
        })()`,
      );
      assert.deepEqual(report, { page: "h2", image: "h2", imageWidth: 800, complete: true });
      await server.waitForLine(/"GET \/sockit\.jpg HTTP\/2" 200/, BROWSER_TIMEOUT_MS);
    } finally {
      await devtools.close();
    }
  },
);
