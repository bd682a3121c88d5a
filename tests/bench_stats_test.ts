/**
 * Tests of bench/stats.ts: the pure parsing, median and target logic the benchmark report
 * stands on (the benchmark itself is `deno task bench`, not part of the test suite).
 */
import assert from "node:assert/strict";
import {
  checkTarget,
  formatRatio,
  markdownTable,
  median,
  openFilesLimitFor,
  parseEchoLoadOutput,
  parseHttpConnsOutput,
  parseOpenFilesLimit,
  parseWrkOutput,
} from "../bench/stats.ts";

Deno.test("parseWrkOutput reads the JSON line of bench/wrk_report.lua among wrk's text", () => {
  const stdout = [
    "Running 2s test @ http://127.0.0.1:8000/1k.bin",
    "Requests/sec:  71902.13",
    '{"wrk_json":1,"requests":200000,"bytes":209715200,"duration_us":2000000,' +
    '"connect_errors":1,"read_errors":2,"write_errors":0,"status_errors":3,' +
    '"timeouts":4,"p50_us":785,"p99_us":2226,"max_us":5780}',
  ].join("\n");
  const r = parseWrkOutput(stdout);
  assert.equal(r.requests, 200000);
  assert.equal(r.reqPerSec, 100000);
  assert.equal(r.mibPerSec, 100);
  assert.equal(r.p50Ms, 0.785);
  assert.equal(r.p99Ms, 2.226);
  assert.equal(r.errors, 10);
  assert.equal(r.statusErrors, 3);
});

Deno.test("parseWrkOutput fails clearly when the result line is missing", () => {
  assert.throws(() => parseWrkOutput("Requests/sec: 1\n"), /no result line/);
});

Deno.test("parseEchoLoadOutput returns numbers, and throws echo_load's own error", () => {
  const bulk = parseEchoLoadOutput(
    '{"ok":true,"mode":"bulk","bytes":268435456,"seconds":0.5,"mib_per_s":512.00}\n',
  );
  assert.deepEqual(bulk.mode, "bulk");
  assert.equal(bulk.mibPerSec, 512);
  const ping = parseEchoLoadOutput(
    '{"ok":true,"mode":"pingpong","round_trips":10,"seconds":1,"per_s":10.0,' +
      '"p50_us":56.6,"p99_us":77.4}',
  );
  assert.equal(ping.perSec, 10);
  assert.equal(ping.p99Us, 77.4);
  assert.throws(
    () => parseEchoLoadOutput('{"ok":false,"error":"bulk: echoed bytes differ: mismatch"}'),
    /echoed bytes differ/,
  );
  assert.throws(() => parseEchoLoadOutput("Segmentation fault"), /no result line/);
});

Deno.test("median handles odd, even, empty and non-finite input", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(median([NaN, 5, Infinity]), 5);
});

Deno.test("checkTarget: PASS/FAIL on the bound, SKIP (never PASS) without a measurement", () => {
  assert.equal(checkTarget("x", 1.5, 1.5, "atLeast").verdict, "PASS");
  assert.equal(checkTarget("x", 1.49, 1.5, "atLeast").verdict, "FAIL");
  assert.equal(checkTarget("x", 21, 20, "atMost", " MiB").verdict, "FAIL");
  const skipped = checkTarget("x", undefined, 1, "atLeast", "×", "no --workers");
  assert.equal(skipped.verdict, "SKIP");
  assert.match(skipped.line, /no --workers/);
  assert.equal(checkTarget("x", NaN, 1, "atLeast").verdict, "SKIP");
});

Deno.test("formatRatio and markdownTable render what the report shows", () => {
  assert.equal(formatRatio(3, 2), "1.50×");
  assert.equal(formatRatio(3, 0), "–");
  assert.equal(formatRatio(undefined, 2), "–");
  const table = markdownTable(["server", "req/s"], [["sockit", "71,902"], ["nginx", "8"]]);
  assert.equal(
    table,
    [
      "| server |  req/s |",
      "| ------ | -----: |",
      "| sockit | 71,902 |",
      "| nginx  |      8 |",
    ].join("\n"),
  );
});

Deno.test("parseHttpConnsOutput reads http_conns' JSON line in ms, and throws its error", () => {
  const r = parseHttpConnsOutput(
    '{"ok":true,"mode":"keepalive","connections":10000,"requests":200000,"sent":199990,' +
      '"answered":199980,"errors":3,"first_error":"bad answer","seconds":20.004,' +
      '"connect_s":1.25,"per_s":9997.0,"p50_us":390,"p99_us":196740,"max_us":316400}\n',
  );
  assert.deepEqual(r, {
    mode: "keepalive",
    connections: 10000,
    requests: 200000,
    sent: 199990,
    answered: 199980,
    errors: 3,
    firstError: "bad answer",
    seconds: 20.004,
    connectSeconds: 1.25,
    reqPerSec: 9997,
    p50Ms: 0.39,
    p99Ms: 196.74,
    maxMs: 316.4,
  });
  // No answer at all: http_conns prints -1 for the latencies, which are not numbers then.
  const none = parseHttpConnsOutput(
    '{"ok":true,"mode":"short","connections":64,"requests":10,"sent":0,"answered":0,' +
      '"errors":10,"first_error":"connect refused","seconds":0.01,"per_s":0.0,' +
      '"p50_us":-1,"p99_us":-1,"max_us":-1}',
  );
  assert.equal(none.answered, 0);
  assert.ok(Number.isNaN(none.p99Ms));
  assert.throws(
    () => parseHttpConnsOutput('{"ok":false,"error":"connect phase took longer than 30 s"}'),
    /^Error: http_conns: connect phase took longer than 30 s$/,
  );
  assert.throws(() => parseHttpConnsOutput(""), /no result line/);
  assert.throws(() => parseHttpConnsOutput('{"ok":true,"mode":"pipelined"}'), /unknown mode/);
});

Deno.test("parseOpenFilesLimit reads /proc/PID/limits; openFilesLimitFor stays under the hard limit", () => {
  const limits = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             63459                63459                processes ",
    "Max open files            1024                 20000                files     ",
  ].join("\n");
  assert.deepEqual(parseOpenFilesLimit(limits), { soft: 1024, hard: 20000 });
  assert.deepEqual(
    parseOpenFilesLimit(
      "Max open files            unlimited            unlimited            files",
    ),
    { soft: Infinity, hard: Infinity },
  );
  assert.throws(() => parseOpenFilesLimit("Max processes 1 1 processes"), /Max open files/);
  assert.equal(openFilesLimitFor(65536, { hard: 20000 }), 20000);
  assert.equal(openFilesLimitFor(65536, { hard: 1048576 }), 65536);
  assert.equal(openFilesLimitFor(65536, { hard: Infinity }), 65536);
  // The real file of this process parses.
  const own = parseOpenFilesLimit(Deno.readTextFileSync("/proc/self/limits"));
  assert.ok(own.soft <= own.hard && own.soft > 0);
});
