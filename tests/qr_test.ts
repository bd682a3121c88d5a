import assert from "node:assert/strict";
import decodeQR from "@paulmillr/qr/decode.js";
import {
  lanUrlForQr,
  QR_BLOCK_CHARACTERS,
  QR_QUIET_ZONE_MODULES,
  qrModules,
  renderTerminalQr,
} from "../lib/http/server/lan.ts";
import { modulesFromTerminal, qrModulesImage } from "./helpers.ts";

const URL_TEXT = "http://192.168.1.23:8000/";

/** The module rows of terminal QR text (a multi-line string). */
const modulesOfText = (text: string) => modulesFromTerminal(text.replace(/\n$/, "").split("\n"));

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
  assert.equal(decodeQR(qrModulesImage(qrModules(URL_TEXT))), URL_TEXT);
  const drawn = modulesOfText(renderTerminalQr(URL_TEXT));
  const size = qrModules(URL_TEXT).length;
  // The last text row's lower half lies outside an odd-sized symbol: drop it.
  const square = drawn.slice(0, size);
  assert.deepEqual(square, qrModules(URL_TEXT));
  assert.equal(decodeQR(qrModulesImage(square)), URL_TEXT);
  const ipv6 = "http://[fd00::1234]:8080/";
  assert.equal(decodeQR(qrModulesImage(modulesOfText(renderTerminalQr(ipv6)))), ipv6);
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
