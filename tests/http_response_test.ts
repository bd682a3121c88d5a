/** Unit tests for lib/http/response.ts: head formatting, Date caching, one-buffer encoding. */
import assert from "node:assert/strict";
import {
  currentHttpDate,
  encodeResponse,
  encodeResponseHead,
  formatResponseHead,
} from "../lib/http/h1/response.ts";
import { errorBody } from "../lib/http/errors.ts";
import { formatHttpDate } from "../lib/http/semantics/date.ts";
import { statusText } from "../lib/http/status.ts";

const dec = new TextDecoder();

Deno.test("formatHttpDate is IMF-fixdate", () => {
  assert.equal(
    formatHttpDate(new Date(Date.UTC(1994, 10, 6, 8, 49, 37))),
    "Sun, 06 Nov 1994 08:49:37 GMT",
  );
  assert.equal(formatHttpDate(new Date(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
});

Deno.test("currentHttpDate changes only when the second changes", () => {
  const t = Date.UTC(2026, 10, 25, 9, 5, 29);
  const a = currentHttpDate(t);
  assert.equal(a, "Wed, 25 Nov 2026 09:05:29 GMT");
  assert.equal(currentHttpDate(t + 999), a);
  assert.equal(currentHttpDate(t + 1000), "Wed, 25 Nov 2026 09:05:30 GMT");
});

Deno.test("formatResponseHead: status line, Server, Date, headers, length, Connection", () => {
  const head = formatResponseHead({
    status: 200,
    headers: [["Content-Type", "text/plain"]],
    contentLength: 5,
    keepAlive: true,
  });
  const lines = head.split("\r\n");
  assert.equal(lines[0], "HTTP/1.1 200 OK");
  assert.equal(lines[1], "Server: sockit");
  assert.match(lines[2], /^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
  assert.deepEqual(lines.slice(3), [
    "Content-Type: text/plain",
    "Content-Length: 5",
    "Connection: keep-alive",
    "",
    "",
  ]);
  const close = formatResponseHead({ status: 404, contentLength: 0, keepAlive: false });
  assert.ok(close.startsWith("HTTP/1.1 404 Not Found\r\n"));
  assert.ok(close.endsWith("Content-Length: 0\r\nConnection: close\r\n\r\n"));
});

Deno.test("no Content-Length on 1xx/204/304; chunked when the length is unknown", () => {
  for (const status of [100, 204, 304]) {
    const head = formatResponseHead({ status, contentLength: 10, keepAlive: true });
    assert.ok(!head.includes("Content-Length"), `${status}`);
  }
  const chunked = formatResponseHead({
    status: 200,
    contentLength: null,
    chunked: true,
    keepAlive: true,
  });
  assert.ok(chunked.includes("\r\nTransfer-Encoding: chunked\r\n"));
  assert.ok(!chunked.includes("Content-Length"));
});

Deno.test("encodeResponse puts head and body in one buffer, non-ASCII heads included", () => {
  const body = new Uint8Array([1, 2, 3]);
  const out = encodeResponse("HTTP/1.1 200 OK\r\n\r\n", body);
  assert.equal(dec.decode(out.subarray(0, 19)), "HTTP/1.1 200 OK\r\n\r\n");
  assert.deepEqual([...out.subarray(19)], [1, 2, 3]);
  const utf8 = encodeResponse("X: café\r\n\r\n", body);
  assert.equal(utf8.length, 12 + 3);
  assert.equal(dec.decode(utf8.subarray(0, 12)), "X: café\r\n\r\n");
  assert.equal(dec.decode(encodeResponse("H\r\n\r\n", null)), "H\r\n\r\n");
});

Deno.test("status texts and short error bodies", () => {
  assert.equal(statusText(431), "Request Header Fields Too Large");
  assert.equal(statusText(599), "Unknown");
  assert.equal(errorBody(404), "404 Not Found\n");
  assert.equal(errorBody(404, "Not Found"), "404 Not Found\n");
  assert.equal(errorBody(400, "bad thing"), "400 Bad Request: bad thing\n");
});

Deno.test("encodeResponseHead reuses the bytes of a frozen header list, and only those", () => {
  const body = new TextEncoder().encode("hello");
  const frozen = Object.freeze([Object.freeze(["Content-Type", "text/plain"])]) as [
    string,
    string,
  ][];
  const init = { status: 200, headers: frozen, contentLength: body.length, keepAlive: true };
  let first: Uint8Array, second: Uint8Array, date: string;
  do { // retried if the Date second turns in between
    date = currentHttpDate();
    first = encodeResponseHead(init, body);
    second = encodeResponseHead({ ...init }, body);
  } while (date !== currentHttpDate());
  assert.equal(second, first, "the very same buffer");
  assert.equal(dec.decode(first), dec.decode(encodeResponse(formatResponseHead(init), body)));
  assert.equal(dec.decode(second), dec.decode(encodeResponse(formatResponseHead(init), body)));
  // Anything that changes the bytes changes the answer.
  const close = dec.decode(encodeResponseHead({ ...init, keepAlive: false }, body));
  assert.match(close, /\r\nConnection: close\r\n\r\nhello$/);
  const head = dec.decode(encodeResponseHead(init, null));
  assert.match(head, /Content-Length: 5\r\nConnection: keep-alive\r\n\r\n$/);
  const other = dec.decode(encodeResponseHead(init, new TextEncoder().encode("HELLO")));
  assert.match(other, /HELLO$/);
  // A list that can still change is formatted every time.
  const open: [string, string][] = [["Content-Type", "text/plain"]];
  const a = encodeResponseHead({ ...init, headers: open }, body);
  open.push(["X-Late", "1"]);
  assert.match(dec.decode(encodeResponseHead({ ...init, headers: open }, body)), /X-Late: 1/);
  assert.notEqual(a, encodeResponseHead({ ...init, headers: open }, body));
});
