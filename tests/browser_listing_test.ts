/**
 * The listing page in a real browser, at a phone viewport (375×667, mobile, as
 * `Emulation.setDeviceMetricsOverride` sets it) and at 1280 px, light and dark: the page
 * never scrolls sideways (`scrollWidth <= innerWidth`), the breadcrumb, the tar link, the
 * upload form and every entry link are visible and inside the viewport, links are tall
 * enough to tap, icons are drawn, and rows come in natural order with folders first.
 *
 * Set `SOCKIT_SCREENSHOT_DIR=/tmp` to keep a PNG of each view to look at by eye.
 * Needs Debian's `chromium` (in `.ci/run`); without it the test is ignored, with the reason
 * printed.
 *
 * ```sh
 * SOCKIT_SCREENSHOT_DIR=/tmp deno test -A tests/browser_listing_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serveHttp, tempTree } from "./helpers.ts";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";

/** What the page reports about its own layout. */
interface Layout {
  scrollWidth: number;
  innerWidth: number;
  rows: string[];
  hidden: string[];
  shortestLinkPx: number;
  icons: number;
  drawnIcons: number;
}

/** Runs in the page: every link that must be reachable, and whether it is on screen. */
const LAYOUT_SCRIPT = `(() => {
  const links = [...document.querySelectorAll("h1 .crumbs a, li > a, .actions a, .upload input, .upload button")];
  const hidden = links.filter((el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width < 1 || box.height < 1 || box.left < 0 || box.right > innerWidth ||
      style.visibility !== "visible" || style.display === "none";
  }).map((el) => el.textContent || el.outerHTML);
  const rowLinks = [...document.querySelectorAll("li:not(.head) > a")];
  const icons = [...document.querySelectorAll("li > a svg.i")];
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth,
    rows: rowLinks.map((a) => a.textContent),
    hidden,
    shortestLinkPx: Math.min(...rowLinks.map((a) => a.getBoundingClientRect().height)),
    icons: icons.length,
    drawnIcons: icons.filter((svg) => svg.getBoundingClientRect().width >= 16).length,
  };
})()`;

const HOSTILE = `<b>&"'.txt`;
const LONG = "a-very-long-file-name-without-any-spaces-that-could-overflow-a-phone-screen.tar.gz";

await chromiumTest(
  "browser_listing_test",
  "browser: the listing fits a 375 px phone and a 1280 px desktop, every link visible",
  async (chromium) => {
    const dir = "photos & notes/2026";
    await using tree = await tempTree({
      [`${dir}/report-10.txt`]: "x".repeat(2048),
      [`${dir}/report-2.txt`]: "two",
      [`${dir}/Report-1.md`]: "one",
      [`${dir}/holiday.JPG`]: "jpg",
      [`${dir}/clip.mp4`]: "mp4",
      [`${dir}/song.mp3`]: "mp3",
      [`${dir}/paper.pdf`]: "pdf",
      [`${dir}/${LONG}`]: "tgz",
      [`${dir}/${HOSTILE}`]: "hostile",
      [`${dir}/data.bin`]: "bin",
      [`${dir}/zeta`]: null,
      [`${dir}/Alpha`]: null,
      [`${dir}/album 10`]: null,
      [`${dir}/album 9`]: null,
    });
    await using server = await serveHttp(tree.path, "--upload", "--quiet");
    const url = `${server.url}/photos%20%26%20notes/2026/`;
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    const screenshotDir = Deno.env.get("SOCKIT_SCREENSHOT_DIR");
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.send("Network.enable", {}, sessionId);
      const views = [
        { name: "phone", width: 375, height: 667, mobile: true, scale: 2, dark: false },
        { name: "phone-dark", width: 375, height: 667, mobile: true, scale: 2, dark: true },
        { name: "desktop", width: 1280, height: 800, mobile: false, scale: 1, dark: false },
      ];
      for (const view of views) {
        await devtools.send("Emulation.setDeviceMetricsOverride", {
          width: view.width,
          height: view.height,
          deviceScaleFactor: view.scale,
          mobile: view.mobile,
        }, sessionId);
        await devtools.send("Emulation.setEmulatedMedia", {
          features: [{ name: "prefers-color-scheme", value: view.dark ? "dark" : "light" }],
        }, sessionId);
        await devtools.navigate(sessionId, url);
        const layout = await devtools.evaluate<Layout>(sessionId, LAYOUT_SCRIPT);
        const where = `${view.name}: ${JSON.stringify(layout)}`;
        assert.equal(layout.innerWidth, view.width, where);
        assert.ok(layout.scrollWidth <= layout.innerWidth, `horizontal overflow at ${where}`);
        assert.deepEqual(layout.hidden, [], `links not fully visible at ${where}`);
        assert.deepEqual(layout.rows, [
          "../",
          "album 9/",
          "album 10/",
          "Alpha/",
          "zeta/",
          HOSTILE,
          LONG,
          "clip.mp4",
          "data.bin",
          "holiday.JPG",
          "paper.pdf",
          "Report-1.md",
          "report-2.txt",
          "report-10.txt",
          "song.mp3",
        ], where);
        assert.ok(layout.shortestLinkPx >= 44, `tap target under 44 px at ${where}`);
        assert.equal(layout.drawnIcons, layout.icons, `an icon not drawn at ${where}`);
        assert.equal(layout.icons, layout.rows.length, where);
        const crumbs = await devtools.evaluate<[string, string][]>(
          sessionId,
          `[...document.querySelectorAll("h1 .crumbs a")].map((a) => [a.textContent, a.href])`,
        );
        assert.deepEqual(crumbs, [
          ["/", `${server.url}/`],
          ["photos & notes", `${server.url}/photos%20%26%20notes/`],
          ["2026", `${server.url}/photos%20%26%20notes/2026/`],
        ]);
        const shot = await devtools.send<{ data: string }>("Page.captureScreenshot", {
          format: "png",
          captureBeyondViewport: true,
        }, sessionId);
        const png = Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0));
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
        if (screenshotDir) {
          await Deno.writeFile(join(screenshotDir, `sockit-listing-${view.name}.png`), png);
        }
      }
      // Self-contained: the page and its favicon are the only requests.
      const requested = devtools.events
        .filter((e) => e.method === "Network.requestWillBeSent")
        .map((e) => (e.params.request as { url: string }).url)
        .filter((u) => !u.endsWith("/favicon.ico"));
      assert.deepEqual(new Set(requested), new Set([url]));
    } finally {
      await devtools.close();
    }
  },
);
