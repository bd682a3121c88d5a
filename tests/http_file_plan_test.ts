/**
 * Unit tests for lib/http/file_plan.ts: every status the planner can choose (200, 206
 * single and multipart, 304, 412, 416) with the exact headers, for identity files,
 * precompressed siblings.
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatHttpDate } from "../lib/http/semantics/date.ts";
import { makeEtag } from "../lib/http/semantics/conditional.ts";
import { type FileRepresentation, planFileResponse } from "../lib/http/files/file_plan.ts";

const MTIME = Date.UTC(2026, 0, 2, 3, 4, 5) + 678;
const NOW = Date.UTC(2026, 5, 1);
const REP: FileRepresentation = {
  size: 1000,
  mtimeMs: MTIME,
  contentType: "video/mp4",
  encoding: "identity",
};
const ETAG = makeEtag({ size: 1000, mtimeMs: MTIME })!;
const LAST_MODIFIED = formatHttpDate(MTIME);
const h = (fields: Record<string, string> = {}) => new Headers(fields);
const opts = { nowMs: NOW, boundary: "BND" };

Deno.test("planFileResponse: plain GET → 200 with all representation headers", () => {
  assert.deepEqual(planFileResponse("GET", h(), REP, opts), {
    status: 200,
    headers: [
      ["Content-Type", "video/mp4"],
      ["ETag", ETAG],
      ["Last-Modified", LAST_MODIFIED],
      ["Cache-Control", "no-cache"],
      ["Accept-Ranges", "bytes"],
      ["Vary", "Accept-Encoding"],
    ],
    body: { kind: "whole", length: 1000 },
  });
});

Deno.test("planFileResponse: --cache and varyAcceptEncoding: false", () => {
  const plan = planFileResponse("HEAD", h(), REP, {
    ...opts,
    cacheSeconds: 600,
    varyAcceptEncoding: false,
  });
  const headers = new Map(plan.headers);
  assert.equal(headers.get("Cache-Control"), "public, max-age=600");
  assert.equal(headers.has("Vary"), false);
});

Deno.test("planFileResponse: no mtime → no ETag, no Last-Modified", () => {
  const plan = planFileResponse("GET", h(), { ...REP, mtimeMs: null }, opts);
  const names = plan.headers.map(([n]) => n);
  assert.ok(!names.includes("ETag") && !names.includes("Last-Modified"));
  assert.equal(plan.status, 200);
});

Deno.test("planFileResponse: a future mtime is clamped to now in Last-Modified", () => {
  const plan = planFileResponse("GET", h(), { ...REP, mtimeMs: NOW + 3_600_000 }, opts);
  assert.equal(new Map(plan.headers).get("Last-Modified"), formatHttpDate(NOW));
});

Deno.test("planFileResponse: 304 on If-None-Match, with cache-guiding headers only", () => {
  assert.deepEqual(planFileResponse("GET", h({ "if-none-match": ETAG }), REP, opts), {
    status: 304,
    headers: [["ETag", ETAG], ["Cache-Control", "no-cache"], ["Vary", "Accept-Encoding"]],
    body: { kind: "none" },
  });
});

Deno.test("planFileResponse: 304 on If-Modified-Since, without Last-Modified", () => {
  const plan = planFileResponse("HEAD", h({ "if-modified-since": LAST_MODIFIED }), REP, opts);
  assert.equal(plan.status, 304);
  assert.equal(new Map(plan.headers).has("Last-Modified"), false);
  assert.equal(new Map(plan.headers).get("ETag"), ETAG);
});

Deno.test("planFileResponse: 412 on a failed If-Match or If-Unmodified-Since", () => {
  for (
    const fields of [
      { "if-match": '"other"' },
      { "if-unmodified-since": "Thu, 01 Jan 2026 00:00:00 GMT" },
    ] as Record<string, string>[]
  ) {
    assert.deepEqual(planFileResponse("GET", h(fields), REP, opts), {
      status: 412,
      headers: [],
      body: { kind: "none" },
      message: "precondition failed",
    });
  }
});

Deno.test("planFileResponse: single range → 206 with Content-Range", () => {
  const plan = planFileResponse("GET", h({ range: "bytes=100-199" }), REP, opts);
  assert.equal(plan.status, 206);
  assert.deepEqual(plan.body, { kind: "range", start: 100, end: 199 });
  assert.deepEqual(plan.headers.slice(0, 2), [
    ["Content-Type", "video/mp4"],
    ["Content-Range", "bytes 100-199/1000"],
  ]);
  assert.equal(new Map(plan.headers).get("ETag"), ETAG);
  assert.equal(new Map(plan.headers).get("Accept-Ranges"), "bytes");
});

Deno.test("planFileResponse: several ranges → multipart/byteranges plan", () => {
  const plan = planFileResponse("GET", h({ range: "bytes=0-9,-10" }), REP, opts);
  assert.equal(plan.status, 206);
  assert.equal(new Map(plan.headers).get("Content-Type"), "multipart/byteranges; boundary=BND");
  assert.equal(plan.body.kind, "multipart");
  if (plan.body.kind !== "multipart") return;
  assert.deepEqual(plan.body.plan.parts.map((p) => [p.start, p.end]), [[0, 9], [990, 999]]);
  assert.match(new TextDecoder().decode(plan.body.plan.parts[0].head), /Content-Type: video\/mp4/);
  assert.equal(new Map(plan.headers).has("Content-Range"), false);
});

Deno.test("planFileResponse: unsatisfiable range → 416 with bytes */SIZE", () => {
  const plan = planFileResponse("GET", h({ range: "bytes=1000-" }), REP, opts);
  assert.equal(plan.status, 416);
  assert.deepEqual(plan.body, { kind: "none" });
  assert.equal(new Map(plan.headers).get("Content-Range"), "bytes */1000");
  assert.equal(plan.message, "range not satisfiable for 1000 bytes");
});

Deno.test("planFileResponse: Range is ignored for HEAD, bad syntax and stale If-Range", () => {
  for (
    const [method, fields] of [
      ["HEAD", { range: "bytes=0-9" }],
      ["GET", { range: "bytes=9-0" }],
      ["GET", { range: "pages=1-2" }],
      ["GET", { range: "bytes=0-9", "if-range": '"stale"' }],
      ["GET", { range: "bytes=0-9", "if-range": "Thu, 01 Jan 2026 00:00:00 GMT" }],
    ] as const
  ) {
    const plan = planFileResponse(method, h(fields), REP, opts);
    assert.equal(plan.status, 200, JSON.stringify(fields));
    assert.deepEqual(plan.body, { kind: "whole", length: 1000 });
  }
});

Deno.test("planFileResponse: If-Range matching by ETag or date keeps the 206", () => {
  for (const ifRange of [ETAG, LAST_MODIFIED]) {
    const plan = planFileResponse("GET", h({ range: "bytes=0-9", "if-range": ifRange }), REP, opts);
    assert.equal(plan.status, 206, ifRange);
  }
});

Deno.test("planFileResponse: conditionals come before ranges", () => {
  const plan = planFileResponse("GET", h({ range: "bytes=0-9", "if-none-match": ETAG }), REP, opts);
  assert.equal(plan.status, 304);
});

Deno.test("planFileResponse: a precompressed sibling keeps the type, adds Content-Encoding", () => {
  const rep: FileRepresentation = {
    size: 300,
    mtimeMs: MTIME,
    contentType: "text/css; charset=utf-8",
    encoding: "br",
  };
  const plan = planFileResponse("GET", h(), rep, opts);
  const headers = new Map(plan.headers);
  assert.equal(plan.status, 200);
  assert.equal(headers.get("Content-Type"), "text/css; charset=utf-8");
  assert.equal(headers.get("Content-Encoding"), "br");
  // Its own strong tag, distinct from a .gz of the same size and mtime.
  assert.equal(headers.get("ETag"), makeEtag({ size: 300, mtimeMs: MTIME }, { suffix: "br" }));
  assert.notEqual(
    headers.get("ETag"),
    new Map(planFileResponse("GET", h(), { ...rep, encoding: "gzip" }, opts).headers).get("ETag"),
  );
  assert.deepEqual(plan.body, { kind: "whole", length: 300 });
});

Deno.test("planFileResponse: a sibling serves one range, not several", () => {
  const rep: FileRepresentation = { ...REP, encoding: "gzip", contentType: "text/plain" };
  const single = planFileResponse("GET", h({ range: "bytes=0-9" }), rep, opts);
  assert.equal(single.status, 206);
  assert.equal(new Map(single.headers).get("Content-Encoding"), "gzip");
  const multi = planFileResponse("GET", h({ range: "bytes=0-9,20-29" }), rep, opts);
  assert.equal(multi.status, 200);
  assert.deepEqual(multi.body, { kind: "whole", length: 1000 });
});
