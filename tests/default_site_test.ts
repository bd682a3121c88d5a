/**
 * The built-in site (`static/`): its files are real (a JPEG a decoder accepts, an ICO with
 * the usual sizes, a page that links both), and `sockit http-serve` with no DIR finds them
 * relative to its own code, not the working directory — the property that makes the site
 * work inside a `deno compile`d binary. The server runs with exactly the permissions the
 * compiled binary gets (scripts/compile.ts), so a missing permission fails here too.
 *
 * ```sh
 * deno test -A tests/default_site_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { RUNTIME_PERMISSIONS } from "../scripts/compile.ts";
import { MAIN, ROOT, startServer, tempTree } from "./helpers.ts";

const SITE = `${ROOT}static/`;
/** The files the page needs, with the Content-Type each must be served with. */
const SITE_FILES: { path: string; file: string; type: RegExp }[] = [
  { path: "/", file: "index.html", type: /^text\/html; charset=utf-8$/i },
  { path: "/sockit.jpg", file: "sockit.jpg", type: /^image\/jpeg$/ },
  { path: "/favicon.ico", file: "favicon.ico", type: /^image\/(x-icon|vnd\.microsoft\.icon)$/ },
];

/** Width and height from a JPEG's first start-of-frame segment (baseline or progressive). */
function jpegSize(bytes: Uint8Array): { width: number; height: number } {
  assert.equal(bytes[0], 0xff, "JPEG must start with SOI");
  assert.equal(bytes[1], 0xd8, "JPEG must start with SOI");
  assert.deepEqual([...bytes.subarray(-2)], [0xff, 0xd9], "JPEG must end with EOI");
  let at = 2;
  while (at + 9 < bytes.length) {
    assert.equal(bytes[at], 0xff, `JPEG marker expected at byte ${at}`);
    const marker = bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return {
        height: (bytes[at + 5] << 8) | bytes[at + 6],
        width: (bytes[at + 7] << 8) | bytes[at + 8],
      };
    }
    at += 2 + length;
  }
  throw new Error("JPEG has no start-of-frame segment");
}

/** The image sizes listed in an ICO directory (0 in the byte means 256). */
function icoSizes(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint16(0, true), 0, "ICO reserved field");
  assert.equal(view.getUint16(2, true), 1, "ICO type must be 1 (icon)");
  const count = view.getUint16(4, true);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const entry = 6 + 16 * i;
    const size = bytes[entry] || 256;
    const dataLength = view.getUint32(entry + 8, true);
    const dataOffset = view.getUint32(entry + 12, true);
    assert.ok(dataOffset + dataLength <= bytes.length, `ICO image ${i} lies inside the file`);
    sizes.push(size);
  }
  return sizes;
}

Deno.test("default site: the JPEG is a real 800x400 JPEG of a sensible size", async () => {
  const jpeg = await Deno.readFile(`${SITE}sockit.jpg`);
  assert.deepEqual(jpegSize(jpeg), { width: 800, height: 400 });
  assert.ok(jpeg.length > 2_000 && jpeg.length < 60_000, `${jpeg.length} bytes`);
});

Deno.test("default site: favicon.ico is a real icon with 16, 32 and 48 px images", async () => {
  const sizes = icoSizes(await Deno.readFile(`${SITE}favicon.ico`));
  for (const size of [16, 32, 48]) assert.ok(sizes.includes(size), `sizes: ${sizes}`);
});

Deno.test("default site: the page links the favicon and shows the image with its size", async () => {
  const html = await Deno.readTextFile(`${SITE}index.html`);
  assert.match(html, /<link rel="icon" href="\/favicon\.ico"/);
  assert.match(html, /<img src="sockit\.jpg"\s+width="800"\s+height="400"\s+alt="[^"]+"/);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  // Every local reference must exist in static/: the site is self-contained.
  for (const [, ref] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    if (/^(https?:|mailto:|#)/.test(ref)) continue;
    const file = ref.replace(/^\//, "");
    await Deno.stat(`${SITE}${file}`).catch(() => assert.fail(`index.html references ${ref}`));
  }
});

Deno.test("default site: http-serve with no DIR serves static/ from any working directory", async () => {
  // A decoy static/ in the working directory: the server must not pick it up.
  await using decoy = await tempTree({ "static/index.html": "decoy: served from the cwd" });
  const cwd = decoy.path;
  await using server = await startServer([], {
    command: new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...RUNTIME_PERMISSIONS,
        MAIN,
        "http-serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
      ],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  });
  for (const { path, file, type } of SITE_FILES) {
    const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
    const body = await res.bytes();
    assert.equal(res.status, 200, `${path}: status`);
    assert.match(res.headers.get("content-type") ?? "", type, `${path}: content-type`);
    const expected = await Deno.readFile(`${SITE}${file}`);
    assert.equal(body.length, expected.length, `${path}: length`);
    assert.deepEqual(body, expected, `${path}: bytes equal static/${file}`);
  }
  assert.equal(server.stderr(), "", "nothing on stderr (no permission prompt or warning)");
});
