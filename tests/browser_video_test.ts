/**
 * End-to-end test of issue 4's promise "a browser `<video>` can seek in a large MP4": headless
 * Chromium plays an MP4 served by `sockit http-serve`, the test seeks (sets `currentTime`
 * near the end), and checks from both sides that the seek was served by range requests —
 * the browser's network events show `206 Partial Content` with a `Content-Range` that starts
 * past the bytes already fetched, and the server's access log shows the 206s.
 *
 * The MP4 is real and made without new dependencies: the same Chromium records a canvas
 * animation with `MediaRecorder` (`video/mp4;codecs=avc1`, H.264 in fragmented MP4 with an
 * `mfra` index at the end) — about 3 s and 6–10 MB of noise. Playback runs over an emulated
 * 2 MB/s link (DevTools network emulation) and without the HTTP cache, so the player cannot
 * have the whole file before the seek and every byte it gets is a request we can see.
 * Needs Debian's `chromium` (in `.ci/run`); without it the test is ignored, with the reason
 * printed.
 *
 * ```sh
 * deno test -A tests/browser_video_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { serveHttp, tempTree } from "./helpers.ts";
import { BROWSER_TIMEOUT_MS, chromiumTest, DevTools, launchChromium } from "./chromium.ts";

/** What MediaRecorder is asked to produce; H.264 in MP4 is what real sites serve. */
const RECORDING_TYPE = "video/mp4;codecs=avc1";
/** Length of the recording; recording runs in real time. */
const RECORDING_MS = 3_000;
/**
 * Encoder bitrate. Random noise does not compress, so the file comes out around this rate
 * times the length (~6–10 MB): more than Chromium fetches for `preload="metadata"` plus a
 * little playback, so seeking near the end needs a new range request.
 */
const RECORDING_BITS_PER_SECOND = 16_000_000;
/** Emulated download speed while playing (bytes/s): a few seconds for the whole file. */
const LINK_BYTES_PER_SECOND = 2_000_000;
/** Seek to this fraction of the duration. */
const SEEK_FRACTION = 0.9;

/** Runs in the page: records a noisy canvas to MP4 and returns the file as base64. */
const RECORD_SCRIPT = `(async () => {
  if (!MediaRecorder.isTypeSupported(${JSON.stringify(RECORDING_TYPE)})) {
    throw new Error("this Chromium cannot record ${RECORDING_TYPE}");
  }
  const canvas = document.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  let frame = 0;
  let running = true;
  const draw = () => {
    if (!running) return;
    const d = image.data;
    let x = (frame + 1) * 2654435761 >>> 0; // xorshift: cheap noise the encoder cannot shrink
    for (let i = 0; i < d.length; i += 4) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      d[i] = x; d[i + 1] = x >> 8; d[i + 2] = x >> 16; d[i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    frame++;
    requestAnimationFrame(draw);
  };
  draw();
  const recorder = new MediaRecorder(canvas.captureStream(30), {
    mimeType: ${JSON.stringify(RECORDING_TYPE)},
    videoBitsPerSecond: ${RECORDING_BITS_PER_SECOND},
  });
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  await new Promise((resolve) => setTimeout(resolve, ${RECORDING_MS}));
  recorder.stop();
  await stopped;
  running = false;
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
})()`;

/** Runs in the page: waits until the player knows the duration (moov and fragments read). */
const METADATA_SCRIPT = `(async () => {
  const video = document.querySelector("video");
  if (video.readyState < 1) {
    await new Promise((resolve, reject) => {
      video.onloadedmetadata = resolve;
      video.onerror = () => reject(new Error("video error " + video.error?.code + ": " + video.error?.message));
    });
  }
  return video.duration;
})()`;

/** Runs in the page: seeks, and waits until the frame there is decoded. */
const SEEK_SCRIPT = `(async () => {
  const video = document.querySelector("video");
  const failed = () => new Error("video error " + video.error?.code + ": " + video.error?.message);
  const duration = video.duration;
  video.currentTime = duration * ${SEEK_FRACTION};
  await new Promise((resolve, reject) => {
    video.onseeked = resolve;
    video.onerror = () => reject(failed());
  });
  return { duration, currentTime: video.currentTime,
           readyState: video.readyState, width: video.videoWidth, height: video.videoHeight };
})()`;

type Event = { method: string; params: Record<string, unknown> };
/** `bytes FIRST-LAST/SIZE` → numbers. */
function parseContentRange(value: string): { first: number; last: number; size: number } {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value);
  assert.ok(m, `Content-Range ${value}`);
  return { first: Number(m[1]), last: Number(m[2]), size: Number(m[3]) };
}

function header(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Access-log entries for /movie.mp4, waiting (bounded) until `count` of them are 206s. */
async function movieLogLines(
  lines: string[],
  count: number,
): Promise<{ status: number; bytes: number }[]> {
  const deadline = Date.now() + BROWSER_TIMEOUT_MS;
  for (;;) {
    const entries = lines.filter((line) => line.includes(`"path":"/movie.mp4"`))
      .map((line) => JSON.parse(line) as { status: number; bytes: number });
    const partial = entries.filter((entry) => entry.status === 206).length;
    if (partial >= count || Date.now() > deadline) return entries;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

await chromiumTest(
  "browser_video_test",
  "browser: <video> seeks in an MP4 served by http-serve, through 206 range requests",
  async (chromium) => {
    await using tree = await tempTree({
      "record.html":
        `<!doctype html><title>record</title><canvas width="640" height="360"></canvas>\n`,
      "play.html": `<!doctype html><title>play</title>` +
        `<video src="movie.mp4" preload="metadata" muted playsinline></video>\n`,
    });
    const site = tree.path;
    await using server = await serveHttp(site, "--log-format", "json");
    const origin = `http://127.0.0.1:${server.port}`;
    await using browser = await launchChromium(chromium);
    const devtools = await DevTools.connect(browser.devtoolsUrl);
    try {
      const sessionId = await devtools.openPage();
      await devtools.send("Page.enable", {}, sessionId);
      await devtools.send("Network.enable", {}, sessionId);
      // No HTTP cache: every byte the player gets comes from a request we can see,
      // never from a revalidated (304) cache entry.
      await devtools.send("Network.setCacheDisabled", { cacheDisabled: true }, sessionId);

      // 1. A real MP4, recorded by the browser itself.
      await devtools.navigate(sessionId, `${origin}/record.html`);
      const base64 = await devtools.evaluate<string>(sessionId, RECORD_SCRIPT);
      const movie = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      assert.equal(new TextDecoder().decode(movie.subarray(4, 8)), "ftyp", "an MP4 file");
      assert.ok(movie.length > 2_000_000, `only ${movie.length} bytes recorded`);
      await Deno.writeFile(`${site}/movie.mp4`, movie);

      // 2. Play it from http-serve and seek near the end.
      // A slower link than loopback, as for a real viewer: the player cannot have the
      // whole file by the time it has the metadata, so the seek needs new ranges.
      await devtools.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: 0,
        downloadThroughput: LINK_BYTES_PER_SECOND,
        uploadThroughput: -1,
      }, sessionId);
      await devtools.navigate(sessionId, `${origin}/play.html`);
      await devtools.evaluate<number>(sessionId, METADATA_SCRIPT);
      const eventsBeforeSeek = devtools.events.length;
      const seek = await devtools.evaluate<{
        duration: number;
        currentTime: number;
        readyState: number;
        width: number;
        height: number;
      }>(sessionId, SEEK_SCRIPT);
      assert.ok(
        seek.duration > RECORDING_MS / 1000 - 1 && seek.duration < RECORDING_MS / 1000 + 2,
        `duration ${seek.duration}`,
      );
      assert.ok(
        Math.abs(seek.currentTime - seek.duration * SEEK_FRACTION) < 0.5,
        JSON.stringify(seek),
      );
      assert.ok(seek.readyState >= 2, `readyState ${seek.readyState}: no frame at the seek`);
      assert.deepEqual([seek.width, seek.height], [640, 360]);

      // 3. The browser's side: only 206 range responses for movie.mp4, and one requested
      // after the seek reaches into the second half of the file.
      const movieUrl = `${origin}/movie.mp4`;
      const responses = devtools.events
        .map((event, index) => ({ event, index }))
        .filter(({ event }) =>
          event.method === "Network.responseReceived" &&
          (event.params.response as { url: string }).url === movieUrl
        )
        .map(({ event, index }) => {
          const response = event.params.response as {
            status: number;
            headers: Record<string, string>;
          };
          return { index, status: response.status, headers: response.headers };
        });
      assert.ok(responses.length >= 2, `${responses.length} responses for movie.mp4`);
      for (const response of responses) {
        assert.equal(response.status, 206, JSON.stringify(response));
        assert.equal(header(response.headers, "accept-ranges"), "bytes");
        assert.equal(
          parseContentRange(header(response.headers, "content-range")!).size,
          movie.length,
        );
      }
      const firstRange = parseContentRange(header(responses[0].headers, "content-range")!);
      assert.equal(firstRange.first, 0, "the player starts at byte 0");
      const afterSeek = responses
        .filter((r) => r.index >= eventsBeforeSeek)
        .map((r) => parseContentRange(header(r.headers, "content-range")!));
      assert.ok(
        afterSeek.some((range) => range.first > movie.length / 2),
        `no range request into the second half after the seek: ${JSON.stringify(afterSeek)}`,
      );
      const failed = devtools.events.filter((e: Event) =>
        e.method === "Network.loadingFailed" && !(e.params.canceled as boolean)
      );
      assert.deepEqual(failed, [], "a request failed (other than the player cancelling one)");

      // 4. The server's side: once the browser is gone (a player leaves responses it
      // no longer needs unread; each is logged when its connection ends), the access
      // log has a 206 line for every response the browser saw. It may have more: the
      // player cancels some requests before their answer reaches it, and may revalidate
      // one (304) even with the cache disabled.
      await devtools.close();
      await browser[Symbol.asyncDispose]();
      const logged = await movieLogLines(server.lines, responses.length);
      const statuses = logged.map((entry) => entry.status);
      const report = `browser saw ${
        JSON.stringify(responses.map((r) => header(r.headers, "content-range")))
      }, server logged ${JSON.stringify(logged.map((e) => [e.status, e.bytes]))}`;
      assert.ok(statuses.every((status) => status === 206 || status === 304), report);
      assert.ok(statuses.filter((status) => status === 206).length >= responses.length, report);
    } finally {
      await devtools.close();
    }
  },
);
