/**
 * A real browser resumes a folder download: Chromium downloads `?download=zip` through a
 * proxy that cuts the first response after 1 MiB; Chromium's download manager resumes by
 * itself with `Range` and `If-Range: <the ETag>`, and the file it saves is byte-identical
 * to the archive (checked against a direct download, and by `unzip -t`).
 *
 * Needs Debian's `chromium` (in `.ci/run`); without it the test is ignored, with the reason
 * printed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chromiumTest, DevTools, launchChromium } from "./chromium.ts";
import { mulberry32, runTool, serveHttp, sha256, tempTree } from "./helpers.ts";

/** Bytes of the first download response let through before the proxy cuts it. */
const CUT_AFTER_BYTES = 1024 * 1024;

/**
 * A TCP proxy to `port` that cuts the first connection whose request asks for a download
 * after {@link CUT_AFTER_BYTES} of response, and records every request head it forwards.
 */
function cuttingProxy(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const heads: string[] = [];
  let cut = false;
  const conns = new Set<Deno.Conn>();
  const serve = async (client: Deno.Conn) => {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.add(client).add(upstream);
    let cutHere = false;
    const close = () => {
      for (const c of [client, upstream]) {
        conns.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      }
    };
    const up = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await client.read(buf).catch(() => null);
        if (n === null) break;
        const text = new TextDecoder().decode(buf.subarray(0, n));
        if (/^GET /.test(text)) heads.push(text.slice(0, text.indexOf("\r\n\r\n")));
        if (!cut && text.includes("download=zip")) cut = cutHere = true;
        await upstream.write(buf.subarray(0, n)).catch(() => {});
      }
    })();
    const down = (async () => {
      const buf = new Uint8Array(64 * 1024);
      let sent = 0;
      for (;;) {
        const n = await upstream.read(buf).catch(() => null);
        if (n === null) break;
        const take = cutHere ? Math.min(n, CUT_AFTER_BYTES - sent) : n;
        await client.write(buf.subarray(0, take)).catch(() => {});
        sent += take;
        if (cutHere && sent >= CUT_AFTER_BYTES) break;
      }
    })();
    await Promise.race([up, down]);
    close();
    await Promise.all([up, down]);
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    heads,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

await chromiumTest(
  "browser_archive_resume_test",
  "browser: an interrupted .zip download resumes by itself and is byte-identical",
  async (chromium) => {
    const rand = mulberry32(9);
    await using site = await tempTree({
      "share/big.bin": new Uint8Array(6 * 1024 * 1024).map(() => Math.floor(rand() * 256)),
      "share/notes/a.txt": "alpha\n",
    });
    await using server = await serveHttp(site.path, "--quiet");
    await using work = await tempTree();
    const direct = `${work.path}/direct.zip`;
    await runTool("curl", ["-sSf", "-o", direct, `${server.url}/share/?download=zip`]);
    await using proxy = cuttingProxy(server.port);
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const downloads = `${work.path}/downloads`;
      await Deno.mkdir(downloads);
      await devtools.send("Browser.setDownloadBehavior", {
        behavior: "allowAndName",
        downloadPath: downloads,
        eventsEnabled: true,
      });
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.navigate(sessionId, `http://127.0.0.1:${proxy.port}/share/`);
      const finished = devtools.waitFor(
        (e) =>
          e.method === "Browser.downloadProgress" &&
          (e.params.state === "completed" || e.params.state === "canceled"),
        "end of the download",
      );
      await devtools.evaluate(
        sessionId,
        `document.querySelector('a[href="?download=zip"]').click()`,
      );
      const end = await finished;
      assert.equal(end.state, "completed", JSON.stringify(end));
      const saved = `${downloads}/${end.guid}`;
      assert.equal(
        await sha256(await Deno.readFile(saved)),
        await sha256(await Deno.readFile(direct)),
        "byte-identical to a direct download",
      );
      assert.match(await runTool("unzip", ["-t", saved]), /No errors detected/);
      // The resume asked for the rest, guarded by the ETag.
      const resumed = proxy.heads.filter((h) => h.includes("download=zip"));
      assert.equal(resumed.length, 2, resumed.join("\n---\n"));
      assert.match(resumed[1], /^range: bytes=\d+-/im);
      assert.match(resumed[1], /^if-range: "zip-[\w-]{22}"/im);
    } finally {
      await devtools.close();
    }
  },
);
