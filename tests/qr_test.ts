import assert from "node:assert/strict";
import decodeQR from "@paulmillr/qr/decode.js";
import {
  lanUrlForQr,
  QR_BLOCK_CHARACTERS,
  QR_QUIET_ZONE_MODULES,
  qrModules,
  renderTerminalQr,
} from "../lib/qr.ts";

const URL_TEXT = "http://192.168.1.23:8000/";

/** Reads half-block text back into module rows (true = dark), the inverse of the renderer. */
function modulesFromTerminal(text: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.replace(/\n$/, "").split("\n")) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      // Ink is a light module: █ both light, ▀ top light, ▄ bottom light, space both dark.
      top.push(ch === "▄" || ch === " ");
      bottom.push(ch === "▀" || ch === " ");
    }
    rows.push(top, bottom);
  }
  return rows;
}

/** Draws modules as a grey-free RGBA image a camera-style decoder accepts. */
function toImage(modules: boolean[][], scale = 6, extraBorder = 4) {
  const size = modules.length + 2 * extraBorder;
  const width = size * scale;
  const data = new Uint8Array(width * width * 4).fill(255);
  for (let y = 0; y < modules.length; y++) {
    for (let x = 0; x < modules.length; x++) {
      if (!modules[y][x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const px = ((y + extraBorder) * scale + dy) * width + (x + extraBorder) * scale + dx;
          data.fill(0, px * 4, px * 4 + 3);
        }
      }
    }
  }
  return { width, height: width, data };
}

Deno.test("qr: terminal output has the symbol's dimensions and only block characters", () => {
  const text = renderTerminalQr(URL_TEXT);
  const modules = qrModules(URL_TEXT);
  const size = modules.length;
  // A version-v symbol is 17 + 4v modules wide, plus the quiet zone on both sides.
  assert.equal((size - 2 * QR_QUIET_ZONE_MODULES - 17) % 4, 0);
  assert.ok(text.endsWith("\n"));
  const lines = text.slice(0, -1).split("\n");
  assert.equal(lines.length, Math.ceil(size / 2));
  for (const line of lines) {
    assert.equal([...line].length, size);
    for (const ch of line) assert.ok(QR_BLOCK_CHARACTERS.includes(ch), `unexpected ${ch}`);
  }
  assert.equal(renderTerminalQr(URL_TEXT), text, "deterministic");
  assert.notEqual(renderTerminalQr("http://192.168.1.24:8000/"), text);
});

Deno.test("qr: the matrix and the terminal drawing both decode back to the URL", () => {
  assert.equal(decodeQR(toImage(qrModules(URL_TEXT))), URL_TEXT);
  const drawn = modulesFromTerminal(renderTerminalQr(URL_TEXT));
  const size = qrModules(URL_TEXT).length;
  // The last text row's lower half lies outside an odd-sized symbol: drop it.
  const square = drawn.slice(0, size);
  assert.deepEqual(square, qrModules(URL_TEXT));
  assert.equal(decodeQR(toImage(square)), URL_TEXT);
  const ipv6 = "http://[fd00::1234]:8080/";
  assert.equal(decodeQR(toImage(modulesFromTerminal(renderTerminalQr(ipv6)))), ipv6);
});

Deno.test("qr: lanUrlForQr picks an address a phone can reach", () => {
  const interfaces = [
    { family: "IPv4", address: "127.0.0.1" },
    { family: "IPv6", address: "::1" },
    { family: "IPv6", address: "fe80::1" },
    { family: "IPv4", address: "169.254.3.4" },
    { family: "IPv6", address: "fd00::5" },
    { family: "IPv4", address: "192.168.1.23" },
  ] as const;
  assert.equal(lanUrlForQr("0.0.0.0", 8000, interfaces), "http://192.168.1.23:8000/");
  assert.equal(lanUrlForQr("::", 8000, interfaces), "http://192.168.1.23:8000/");
  assert.equal(lanUrlForQr("::", 8000, interfaces.slice(0, 5)), "http://[fd00::5]:8000/");
  assert.equal(lanUrlForQr("0.0.0.0", 8000, interfaces.slice(0, 5)), null);
  assert.equal(lanUrlForQr("0.0.0.0", 8000, interfaces.slice(0, 2)), null);
  assert.equal(lanUrlForQr("10.1.2.3", 81, interfaces), "http://10.1.2.3:81/");
  assert.equal(lanUrlForQr("fd00::7", 81, []), "http://[fd00::7]:81/");
});
