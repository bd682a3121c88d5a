/**
 * The listing's Share button in headless Chromium: a logged-in user (Authorization set on
 * every request through DevTools) clicks it, the page stays where it is, and the field shows
 * a link that then works without any password. Needs Debian's `chromium`; without it the
 * test is ignored, with the reason printed.
 *
 * ```sh
 * deno test -A tests/browser_share_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { curlResponse, serveHttp, tempTree } from "./helpers.ts";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";

await chromiumTest(
  "browser_share_test",
  "browser: Share this folder shows a working link without leaving the page",
  async (chromium) => {
    await using tree = await tempTree({ "photos/cat.txt": "meow\n", "other.txt": "x" });
    await using server = await serveHttp(tree.path, "--auth", "alice:s3cret", "--quiet");
    const page = `${server.url}/photos/`;
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.send("Network.enable", {}, sessionId);
      await devtools.send("Network.setExtraHTTPHeaders", {
        headers: { Authorization: `Basic ${btoa("alice:s3cret")}` },
      }, sessionId);
      await devtools.navigate(sessionId, page);
      const link = await devtools.evaluate<string>(
        sessionId,
        `(async () => {
          const field = document.querySelector(".share-url");
          if (!field || !field.hidden) return "no hidden field";
          document.querySelector(".share button").click();
          for (let i = 0; i < 200 && field.value === ""; i++) {
            await new Promise((r) => setTimeout(r, 25));
          }
          return field.value;
        })()`,
      );
      assert.equal(await devtools.evaluate<string>(sessionId, "location.href"), page);
      assert.match(link, new RegExp(`^${server.url}/\\.well-known/sockit/share/[^/]+/$`));
      const shared = await curlResponse([`${link}cat.txt`]);
      assert.equal(shared.status, 200);
      assert.equal(shared.body, "meow\n");
      assert.equal((await curlResponse([`${server.url}/photos/cat.txt`])).status, 401);
      assert.equal((await curlResponse([`${link}../other.txt`, "--path-as-is"])).status, 404);
    } finally {
      await devtools.close();
    }
  },
);
