/**
 * End-to-end test of `--cors` where it matters: in a browser, which enforces CORS (Deno's
 * fetch does not). A page from one `http-serve` (one origin) calls `fetch` on a second one
 * started with `--cors` (another origin: another port): a request with a custom header
 * goes through a preflight (the server logs `OPTIONS … 204`), and the page can read the
 * body and the exposed `ETag` / `Content-Range` of a range request. The same calls to a
 * third server without `--cors` are blocked by the browser.
 *
 * Needs Debian's `chromium` (in `.ci/run`); without it the test is ignored, with the reason
 * printed.
 *
 * ```sh
 * deno test -A tests/browser_cors_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { serveHttp, tempTree } from "./helpers.ts";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";

/** Runs in the page: the cross-origin calls a web app would make; reports what it saw. */
function crossOriginScript(apiOrigin: string): string {
  return `(async () => {
    const report = {};
    try {
      const res = await fetch(${JSON.stringify(`${apiOrigin}/data.json`)}, {
        headers: { "X-Requested-With": "sockit-test" }, // not safelisted: forces a preflight
      });
      report.status = res.status;
      report.etag = res.headers.get("etag");
      report.body = await res.json();
    } catch (err) {
      report.error = String(err);
    }
    try {
      const res = await fetch(${JSON.stringify(`${apiOrigin}/data.json`)}, {
        headers: { Range: "bytes=0-4" },
      });
      report.rangeStatus = res.status;
      report.contentRange = res.headers.get("content-range");
      report.rangeBody = await res.text();
    } catch (err) {
      report.rangeError = String(err);
    }
    return report;
  })()`;
}

type Report = {
  status?: number;
  etag?: string | null;
  body?: unknown;
  error?: string;
  rangeStatus?: number;
  contentRange?: string | null;
  rangeBody?: string;
  rangeError?: string;
};

await chromiumTest(
  "browser_cors_test",
  "browser: a page on another origin can fetch from --cors, not without it",
  async (chromium) => {
    const data = JSON.stringify({ hello: "from the api" });
    await using tree = await tempTree({
      "page.html": `<!doctype html><title>app</title>\n`,
      "data.json": data,
    });
    await using app = await serveHttp(tree.path);
    await using api = await serveHttp(tree.path, "--cors");
    await using closed = await serveHttp(tree.path);
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.navigate(sessionId, `http://127.0.0.1:${app.port}/page.html`);
      const run = (origin: string) =>
        devtools.evaluate<Report>(sessionId, crossOriginScript(origin));

      const allowed = await run(`http://127.0.0.1:${api.port}`);
      assert.equal(allowed.error, undefined, JSON.stringify(allowed));
      assert.equal(allowed.status, 200);
      assert.deepEqual(allowed.body, JSON.parse(data));
      assert.match(allowed.etag ?? "", /^"[0-9a-f]+-[0-9a-f]+"$/, "ETag is exposed");
      assert.equal(allowed.rangeStatus, 206, JSON.stringify(allowed));
      assert.equal(allowed.contentRange, `bytes 0-4/${data.length}`, "Content-Range exposed");
      assert.equal(allowed.rangeBody, data.slice(0, 5));
      // The preflight went to the --cors server and was answered 204.
      await api.waitForLine(/"OPTIONS \/data\.json HTTP\/1\.1" 204 /);

      const blocked = await run(`http://127.0.0.1:${closed.port}`);
      assert.match(blocked.error ?? "", /TypeError: Failed to fetch/, JSON.stringify(blocked));
      assert.match(blocked.rangeError ?? "", /TypeError: Failed to fetch/);
    } finally {
      await devtools.close();
    }
  },
);
