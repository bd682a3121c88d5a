/**
 * The listing's uploader and file management in a real browser at a phone viewport
 * (375×667, mobile): a folder and a file dropped onto the page with the DevTools
 * `Input.dispatchDragEvent` (real file-system entries, so `webkitGetAsEntry` walks the
 * folder), every file on disk byte for byte with its folders, `upload.onprogress` events
 * reaching the file's size, progress bars full; a half-uploaded file (its first part sent
 * by curl) resumed from the server's offset; a second chunk whose connection drops
 * (`Fetch.failRequest`) resent from the server's offset; Cancel of a chunk in flight;
 * at most `UPLOADER_PARALLEL_FILES` files at once; a folder made from the page without
 * leaving it; Edit → Rename and Delete (a non-empty folder after a third tap); the page
 * never scrolls sideways; the script runs under a CSP that allows only its hash; and with
 * JavaScript off the plain forms upload (file input), make a folder, rename and delete.
 *
 * Set `SOCKIT_SCREENSHOT_DIR=/tmp` to keep a PNG of the phone view to look at by eye.
 * Needs Debian's `chromium` (in `.ci/run`); without it the test is ignored, with the
 * reason printed.
 *
 * ```sh
 * deno test -A tests/browser_uploader_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { curlResponse, entryNames, serveHttp, tempTree } from "./helpers.ts";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";
import {
  UPLOADER_CHUNK_BYTES,
  UPLOADER_PARALLEL_FILES,
  UPLOADER_SCRIPT,
} from "../lib/http/sharing/uploader_page.ts";
import { createHash } from "node:crypto";

/** Resolves in the page when `condition` holds; rejects with `state` after 20 s. */
function until(condition: string, state: string): string {
  return `new Promise((ok, fail) => {
    const end = Date.now() + 20000;
    const poll = () => {
      if (${condition}) return ok(true);
      if (Date.now() > end) return fail(new Error("waited for ${
    condition.replaceAll('"', "'")
  }: " + JSON.stringify(${state})));
      setTimeout(poll, 50);
    };
    poll();
  })`;
}

const ROWS_STATE =
  `[...document.querySelectorAll(".up")].map((r) => r.className + " " + r.textContent)`;
const ALL_FINISHED = `document.querySelectorAll(".up").length > 0 && ` +
  `[...document.querySelectorAll(".up")].every((r) => /done|err/.test(r.className))`;

/** Records every upload progress event of the page's XHRs as [url, loaded, total]. */
const RECORD_PROGRESS = `(() => {
  window.progress = [];
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.upload.addEventListener("progress", (e) => progress.push([String(url), e.loaded, e.total]));
    return open.apply(this, arguments);
  };
  return true;
})()`;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** The next paused request whose Content-Range starts with `rangePrefix`. */
function nextPausedFor(devtools: DevTools, rangePrefix: string): Promise<Record<string, unknown>> {
  return devtools.waitFor(
    (e) =>
      e.method === "Fetch.requestPaused" &&
      String(
        (e.params.request as { headers: Record<string, string> }).headers["Content-Range"],
      ).startsWith(rangePrefix),
    `a paused request with Content-Range: ${rangePrefix}…`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function drop(devtools: DevTools, sessionId: string, files: string[]): Promise<void> {
  const data = { items: [], files, dragOperationsMask: 1 };
  for (const type of ["dragEnter", "dragOver", "drop"]) {
    await devtools.send("Input.dispatchDragEvent", { type, x: 180, y: 300, data }, sessionId);
  }
}

await chromiumTest(
  "browser_uploader_test",
  "browser: drop a folder and files at a phone viewport; progress, resume, mkdir, delete",
  async (chromium) => {
    await using site = await tempTree({ "existing.txt": "here before" });
    const big = randomBytes(3 * 1024 * 1024 + 3);
    const resume = randomBytes(2 * 1024 * 1024);
    await using local = await tempTree({
      "trip/notes.txt": "notes from the trip",
      "trip/photos/big.bin": big,
      "trip/photos/deep/empty.txt": "",
      "single & odd #name.txt": "single",
      "resume.bin": resume,
    });
    await using server = await serveHttp(site.path, "--upload", "--quiet");
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.send("Emulation.setDeviceMetricsOverride", {
        width: 375,
        height: 667,
        deviceScaleFactor: 2,
        mobile: true,
      }, sessionId);
      await devtools.navigate(sessionId, `${server.url}/`);
      await devtools.evaluate(sessionId, RECORD_PROGRESS);

      // Drop a folder tree and a file.
      await drop(devtools, sessionId, [
        `${local.path}/trip`,
        `${local.path}/single & odd #name.txt`,
      ]);
      await devtools.evaluate(sessionId, until(ALL_FINISHED, ROWS_STATE));
      const rows = await devtools.evaluate<string[]>(sessionId, ROWS_STATE);
      assert.equal(rows.length, 4, rows.join("\n"));
      assert.ok(rows.every((r) => r.startsWith("up done")), rows.join("\n"));
      const bars = await devtools.evaluate<number[]>(
        sessionId,
        `[...document.querySelectorAll(".up progress")].map((p) => p.value)`,
      );
      assert.deepEqual(bars, [1, 1, 1, 1]);
      assert.equal(await Deno.readTextFile(`${site.path}/trip/notes.txt`), "notes from the trip");
      assert.deepEqual(await Deno.readFile(`${site.path}/trip/photos/big.bin`), big);
      assert.equal(await Deno.readTextFile(`${site.path}/trip/photos/deep/empty.txt`), "");
      assert.equal(await Deno.readTextFile(`${site.path}/single & odd #name.txt`), "single");
      // upload.onprogress reached the whole chunk (here: the whole 3 MiB file).
      const progress = await devtools.evaluate<[string, number, number][]>(sessionId, "progress");
      const bigEvents = progress.filter(([url]) => url.endsWith("/trip/photos/big.bin"));
      assert.ok(bigEvents.length >= 1, JSON.stringify(progress));
      assert.deepEqual(bigEvents.at(-1)!.slice(1), [big.length, big.length]);
      // The listing was refreshed in place: the new entries are there, no navigation.
      await devtools.evaluate(
        sessionId,
        until(`document.querySelector('body > ul a[href="trip/"]')`, `document.body.innerText`),
      );
      assert.equal(await devtools.evaluate<string>(sessionId, "location.href"), `${server.url}/`);
      const fits = await devtools.evaluate<boolean>(
        sessionId,
        "document.documentElement.scrollWidth <= innerWidth",
      );
      assert.ok(fits, "horizontal overflow at 375 px with upload rows");
      // Every row's icon is still defined after the refresh (the sprite came along).
      const undefinedIcons = await devtools.evaluate<string[]>(
        sessionId,
        `[...document.querySelectorAll("li > a svg use")].map((u) => u.getAttribute("href"))` +
          `.filter((href) => !document.querySelector(href))`,
      );
      assert.deepEqual(undefinedIcons, []);

      // A file whose first half the server already has (sent by curl) resumes there.
      const half = resume.length / 2;
      await Deno.writeFile(`${local.path}/first-half`, resume.subarray(0, half));
      const firstHalf = await curlResponse([
        "-T",
        `${local.path}/first-half`,
        "-H",
        `Content-Range: bytes 0-${half - 1}/${resume.length}`,
        `${server.url}/resume.bin`,
      ]);
      assert.equal(firstHalf.status, 308);
      await devtools.evaluate(
        sessionId,
        `document.getElementById("sockit-uploads").replaceChildren(); progress.length = 0`,
      );
      await drop(devtools, sessionId, [`${local.path}/resume.bin`]);
      await devtools.evaluate(sessionId, until(ALL_FINISHED, ROWS_STATE));
      const resumed = await devtools.evaluate<string[]>(sessionId, ROWS_STATE);
      assert.deepEqual(resumed, ["up done resume.bindone, resumed at byte 1048576"]);
      assert.deepEqual(await Deno.readFile(`${site.path}/resume.bin`), resume);
      const resumedEvents = await devtools.evaluate<[string, number, number][]>(
        sessionId,
        "progress",
      );
      assert.deepEqual(resumedEvents.at(-1)!.slice(1), [half, half], "only the rest was sent");

      // The connection drops under the second chunk (DevTools fails that request): the
      // uploader asks the server where it stands and sends only what is missing.
      const flaky = randomBytes(UPLOADER_CHUNK_BYTES + 1000);
      await Deno.writeFile(`${local.path}/flaky.bin`, flaky);
      await devtools.send("Fetch.enable", {
        patterns: [{ urlPattern: "*/flaky.bin", requestStage: "Request" }],
      }, sessionId);
      await devtools.evaluate(
        sessionId,
        `document.getElementById("sockit-uploads").replaceChildren()`,
      );
      const seen = new Set<string>();
      const nextPaused = () =>
        devtools.waitFor(
          (e) => e.method === "Fetch.requestPaused" && !seen.has(e.params.requestId as string),
          "a paused upload request",
        );
      let paused = nextPaused();
      await drop(devtools, sessionId, [`${local.path}/flaky.bin`]);
      const ranges: string[] = [];
      let dropped = false;
      // Query, chunk 1, chunk 2 (dropped), query, chunk 2 again.
      for (let i = 0; i < 5; i++) {
        const event = await paused;
        const requestId = event.requestId as string;
        seen.add(requestId);
        const headers = (event.request as { headers: Record<string, string> }).headers;
        const range = headers["Content-Range"];
        ranges.push(range);
        if (i < 4) paused = nextPaused();
        if (range.startsWith(`bytes ${UPLOADER_CHUNK_BYTES}-`) && !dropped) {
          dropped = true;
          await devtools.send(
            "Fetch.failRequest",
            { requestId, errorReason: "ConnectionReset" },
            sessionId,
          );
        } else {
          await devtools.send("Fetch.continueRequest", { requestId }, sessionId);
        }
      }
      await devtools.send("Fetch.disable", {}, sessionId);
      await devtools.evaluate(sessionId, until(ALL_FINISHED, ROWS_STATE));
      const last = `bytes ${UPLOADER_CHUNK_BYTES}-${flaky.length - 1}/${flaky.length}`;
      assert.deepEqual(ranges, [
        `bytes */${flaky.length}`,
        `bytes 0-${UPLOADER_CHUNK_BYTES - 1}/${flaky.length}`,
        last, // dropped
        `bytes */${flaky.length}`, // where are we? 308 Range: bytes=0-(chunk - 1)
        last,
      ]);
      assert.deepEqual(await devtools.evaluate<string[]>(sessionId, ROWS_STATE), [
        `up done flaky.bindone, resumed at byte ${UPLOADER_CHUNK_BYTES}`,
      ]);
      assert.deepEqual(await Deno.readFile(`${site.path}/flaky.bin`), flaky);

      // Cancel while a chunk is on its way (held by DevTools): the row says so, the request
      // is aborted, nothing is published.
      const held = randomBytes(1024 * 1024);
      await Deno.writeFile(`${local.path}/held.bin`, held);
      await devtools.send("Fetch.enable", {
        patterns: [{ urlPattern: "*/held.bin", requestStage: "Request" }],
      }, sessionId);
      await devtools.evaluate(
        sessionId,
        `document.getElementById("sockit-uploads").replaceChildren()`,
      );
      const heldQuery = nextPausedFor(devtools, "bytes */");
      await drop(devtools, sessionId, [`${local.path}/held.bin`]);
      const query = await heldQuery;
      const heldChunk = nextPausedFor(devtools, "bytes 0-");
      await devtools.send("Fetch.continueRequest", { requestId: query.requestId }, sessionId);
      await heldChunk; // the chunk is in flight now, and stays there
      await devtools.evaluate(sessionId, `document.querySelector(".up button").click()`);
      await devtools.evaluate(sessionId, until(ALL_FINISHED, ROWS_STATE));
      assert.deepEqual(await devtools.evaluate<string[]>(sessionId, ROWS_STATE), [
        "up err held.bincancelled",
      ]);
      await devtools.send("Fetch.disable", {}, sessionId);
      assert.equal(await exists(`${site.path}/held.bin`), false);
      const after = await curlResponse([
        "-X",
        "PUT",
        "-H",
        `Content-Range: bytes */${held.length}`,
        `${server.url}/held.bin`,
      ]);
      assert.equal(after.status, 308);
      assert.doesNotMatch(after.headers, /^Range:/im, "no byte of the cancelled chunk was kept");

      // UPLOADER_PARALLEL_FILES at once: with every request held, that many files have
      // asked the server, and the one past the limit is still waiting its turn.
      const names = Array.from({ length: UPLOADER_PARALLEL_FILES + 1 }, (_, i) => `par-${i}.txt`);
      for (const name of names) await Deno.writeTextFile(`${local.path}/${name}`, name);
      await devtools.send("Fetch.enable", {
        patterns: [{ urlPattern: "*/par-*", requestStage: "Request" }],
      }, sessionId);
      await devtools.evaluate(
        sessionId,
        `document.getElementById("sockit-uploads").replaceChildren()`,
      );
      const handled = new Set<string>();
      const pausedNow = () =>
        devtools.events.filter((e) =>
          e.method === "Fetch.requestPaused" && !handled.has(e.params.requestId as string) &&
          (e.params.request as { url: string }).url.includes("/par-")
        );
      await drop(devtools, sessionId, names.map((n) => `${local.path}/${n}`));
      await devtools.evaluate(
        sessionId,
        until(`document.querySelectorAll(".up").length === ${names.length}`, ROWS_STATE),
      );
      for (let i = 0; i < 400 && pausedNow().length < UPLOADER_PARALLEL_FILES; i++) {
        await new Promise((ok) => setTimeout(ok, 25));
      }
      assert.equal(pausedNow().length, UPLOADER_PARALLEL_FILES);
      const notes = await devtools.evaluate<string[]>(
        sessionId,
        `[...document.querySelectorAll(".up .note")].map((n) => n.textContent)`,
      );
      assert.deepEqual(notes, [...Array(UPLOADER_PARALLEL_FILES).fill(""), "waiting"]);
      // Let everything through until all files are done.
      for (let i = 0; i < 800; i++) {
        for (const event of pausedNow()) {
          handled.add(event.params.requestId as string);
          await devtools.send("Fetch.continueRequest", {
            requestId: event.params.requestId,
          }, sessionId);
        }
        if (await devtools.evaluate<boolean>(sessionId, ALL_FINISHED)) break;
        await new Promise((ok) => setTimeout(ok, 25));
      }
      await devtools.send("Fetch.disable", {}, sessionId);
      assert.equal(handled.size, names.length * 2, "a query and one chunk per file");
      for (const name of names) {
        assert.equal(await Deno.readTextFile(`${site.path}/${name}`), name);
      }

      // New folder from the page, without leaving it.
      await devtools.evaluate(
        sessionId,
        `(() => {
        const form = document.querySelector(".manage form.mkdir");
        form.mkdir.value = "made on a phone";
        form.requestSubmit();
      })()`,
      );
      await devtools.evaluate(
        sessionId,
        until(
          `document.querySelector('body > ul a[href="made%20on%20a%20phone/"]')`,
          `document.getElementById("sockit-status").textContent`,
        ),
      );
      assert.equal((await Deno.stat(`${site.path}/made on a phone`)).isDirectory, true);
      assert.equal(await devtools.evaluate<string>(sessionId, "location.href"), `${server.url}/`);

      // Edit → Delete, tapped twice (the first tap only arms it).
      await devtools.evaluate(
        sessionId,
        `(() => {
        document.querySelector("button.edit").click();
        const row = document.querySelector('body > ul a[href="existing.txt"]').parentNode;
        const del = row.querySelector(".ops .delete");
        del.click();
        return del.textContent;
      })()`,
      );
      assert.deepEqual(await entryNames(site.path), [
        "existing.txt",
        "flaky.bin",
        "made on a phone",
        ...names,
        "resume.bin",
        "single & odd #name.txt",
        "trip",
      ]);
      await devtools.evaluate(
        sessionId,
        `document.querySelector('body > ul a[href="existing.txt"]').parentNode.querySelector(".ops .delete").click()`,
      );
      await devtools.evaluate(
        sessionId,
        until(
          `!document.querySelector('body > ul a[href="existing.txt"]')`,
          `document.getElementById("sockit-status").textContent`,
        ),
      );
      assert.deepEqual(await entryNames(site.path), [
        "flaky.bin",
        "made on a phone",
        ...names,
        "resume.bin",
        "single & odd #name.txt",
        "trip",
      ]);
      // Rename: the row's button fills the form (old name, new name focused); submit it.
      await devtools.evaluate(
        sessionId,
        `(() => {
        const row = document.querySelector('body > ul a[href="resume.bin"]').parentNode;
        row.querySelector(".ops .rename").click();
        const form = document.querySelector(".manage form.move");
        if (document.activeElement !== form.move) throw new Error("new name not focused");
        form.move.value = "renamed on a phone.bin";
        form.querySelector("button:not([name])").click();
      })()`,
      );
      await devtools.evaluate(
        sessionId,
        until(
          `document.querySelector('body > ul a[href="renamed%20on%20a%20phone.bin"]')`,
          `document.getElementById("sockit-status").textContent`,
        ),
      );
      assert.deepEqual(await Deno.readFile(`${site.path}/renamed on a phone.bin`), resume);

      // A folder with files: Delete, Sure?, then "Not empty: delete all?" deletes it all.
      const folderOps = `document.querySelector('body > ul a[href="trip/"]').parentNode` +
        `.querySelector(".ops .delete")`;
      await devtools.evaluate(sessionId, `${folderOps}.click()`); // arm
      await devtools.evaluate(sessionId, `${folderOps}.click()`); // 409: not empty
      await devtools.evaluate(
        sessionId,
        until(`${folderOps}.textContent === "Not empty: delete all?"`, `${folderOps}.textContent`),
      );
      assert.equal(await exists(`${site.path}/trip/photos/big.bin`), true);
      await devtools.evaluate(sessionId, `${folderOps}.click()`); // recursive
      await devtools.evaluate(
        sessionId,
        until(`!document.querySelector('body > ul a[href="trip/"]')`, `document.body.innerText`),
      );
      assert.deepEqual(await entryNames(site.path), [
        "flaky.bin",
        "made on a phone",
        ...names,
        "renamed on a phone.bin",
        "single & odd #name.txt",
      ]);

      const screenshotDir = Deno.env.get("SOCKIT_SCREENSHOT_DIR");
      if (screenshotDir) {
        await devtools.evaluate(sessionId, `document.querySelector(".manage").open = true`);
        const shot = await devtools.send<{ data: string }>("Page.captureScreenshot", {
          format: "png",
          captureBeyondViewport: true,
        }, sessionId);
        const png = Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0));
        await Deno.writeFile(`${screenshotDir}/sockit-uploader-phone.png`, png);
      }
    } finally {
      await devtools.close();
    }
  },
);

await chromiumTest(
  "browser_uploader_test",
  "browser: the uploader runs under a CSP that allows only its hash",
  async (chromium) => {
    await using site = await tempTree({ "a.txt": "a" });
    const hash = createHash("sha256").update(UPLOADER_SCRIPT).digest("base64");
    const csp = `Content-Security-Policy: default-src 'self'; script-src 'sha256-${hash}'`;
    await using server = await serveHttp(site.path, "--upload", "--quiet", "--header", csp);
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.navigate(sessionId, `${server.url}/`);
      // The script ran (it adds the Edit button and shows the drop zone)…
      assert.equal(
        await devtools.evaluate<string>(
          sessionId,
          `document.querySelector("button.edit")?.textContent`,
        ),
        "Edit",
      );
      // …and works: a folder made through it.
      await devtools.evaluate(
        sessionId,
        `(() => {
        const form = document.querySelector(".manage form.mkdir");
        form.mkdir.value = "under csp";
        form.requestSubmit();
      })()`,
      );
      await devtools.evaluate(
        sessionId,
        until(
          `document.querySelector('body > ul a[href="under%20csp/"]')`,
          `document.body.innerText`,
        ),
      );
      assert.equal((await Deno.stat(`${site.path}/under csp`)).isDirectory, true);
    } finally {
      await devtools.close();
    }
  },
);

await chromiumTest(
  "browser_uploader_test",
  "browser: with JavaScript off, the plain forms upload, make a folder, rename and delete",
  async (chromium) => {
    await using site = await tempTree({ "old.txt": "old" });
    await using local = await tempTree({ "picked.txt": "picked with the file input" });
    await using server = await serveHttp(site.path, "--upload", "--quiet");
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.send("DOM.enable", {}, sessionId);
      await devtools.send("Emulation.setScriptExecutionDisabled", { value: true }, sessionId);
      await devtools.navigate(sessionId, `${server.url}/`);
      // The page's own script did not run: no Edit button, drop zone still hidden.
      assert.equal(
        await devtools.evaluate<boolean>(sessionId, `!document.querySelector("button.edit")`),
        true,
      );

      /** Runs `action` (which submits a form) and waits for the page it leads back to. */
      const submit = async (action: string) => {
        const loaded = devtools.waitFor(
          (e) => e.method === "Page.loadEventFired",
          "the listing again",
        );
        await devtools.evaluate(sessionId, action);
        await loaded;
        assert.equal(await devtools.evaluate<string>(sessionId, "location.href"), `${server.url}/`);
      };

      // Upload through the file input (DOM.setFileInputFiles is what a picker would do).
      const { root } = await devtools.send<{ root: { nodeId: number } }>(
        "DOM.getDocument",
        {},
        sessionId,
      );
      const { nodeId } = await devtools.send<{ nodeId: number }>("DOM.querySelector", {
        nodeId: root.nodeId,
        selector: "form.upload input[type=file]",
      }, sessionId);
      await devtools.send(
        "DOM.setFileInputFiles",
        { nodeId, files: [`${local.path}/picked.txt`] },
        sessionId,
      );
      await submit(`document.querySelector("form.upload button[type=submit]").click()`);
      assert.equal(
        await Deno.readTextFile(`${site.path}/picked.txt`),
        "picked with the file input",
      );

      await submit(`(() => {
        const form = document.querySelector(".manage form.mkdir");
        form.mkdir.value = "no script";
        form.querySelector("button").click();
      })()`);
      assert.equal((await Deno.stat(`${site.path}/no script`)).isDirectory, true);

      await submit(`(() => {
        const form = document.querySelector(".manage form.move");
        form.path.value = "old.txt";
        form.move.value = "no script/moved.txt";
        form.querySelector("button:not([name])").click();
      })()`);
      assert.equal(await Deno.readTextFile(`${site.path}/no script/moved.txt`), "old");

      await submit(`(() => {
        const form = document.querySelector(".manage form.move");
        form.path.value = "picked.txt";
        form.querySelector("button[name=delete]").click();
      })()`);
      assert.deepEqual(await entryNames(site.path), ["no script"]);
      const rows = await devtools.evaluate<string[]>(
        sessionId,
        `[...document.querySelectorAll("body > ul li:not(.head):not(.find) > a")].map((a) => a.textContent)`,
      );
      assert.deepEqual(rows, ["no script/"]);
    } finally {
      await devtools.close();
    }
  },
);
