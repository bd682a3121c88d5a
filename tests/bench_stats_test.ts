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
  parseEchoLoadOutput,
  parseH2loadDuration,
  parseH2loadOutput,
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

/** h2load 1.52's output of a 1 s run against nginx over h2c (trimmed progress lines). */
const H2LOAD_STDOUT = `starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Application protocol: h2c
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 1.00s, 15930.00 req/s, 17.62MB/s
requests: 15930 total, 15938 started, 15930 done, 15929 succeeded, 1 failed, 2 errored, 3 timeout
status codes: 15931 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 17.62MB (18479123) total, 1.79MB (1879858) headers (space savings 38.86%), 15.56MB (16312320) data
                     min         max         mean         sd        +/- sd
time for request:       50us     37.58ms       478us      1.28ms    94.84%
time for connect:       66us       107us        91us        18us    75.00%
time to 1st byte:     2.64ms      3.00ms      2.81ms       156us    50.00%
req/s           :    3860.40     4045.44     3982.00       83.40    75.00%
`;

Deno.test("parseH2loadOutput reads h2load's summary lines", () => {
  const r = parseH2loadOutput(H2LOAD_STDOUT);
  assert.equal(r.seconds, 1);
  assert.equal(r.requests, 15930);
  assert.equal(r.succeeded, 15929);
  assert.equal(r.reqPerSec, 15930);
  assert.equal(r.mibPerSec, 18479123 / 1024 / 1024);
  assert.equal(r.meanMs, 0.478);
  assert.equal(r.maxMs, 37.58);
  assert.equal(r.headerSavingsPct, 38.86);
  assert.equal(r.errors, 6);
});

Deno.test("parseH2loadOutput leaves --warm-up-time out of the measured seconds", () => {
  // h2load -D2 --warm-up-time=1: "finished in" counts 3 s, req/s and traffic the 2 measured.
  const r = parseH2loadOutput(
    H2LOAD_STDOUT.replace("finished in 1.00s, 15930.00 req/s", "finished in 3.04s, 7965.00 req/s"),
  );
  assert.equal(r.seconds, 2);
  assert.equal(r.reqPerSec, 7965);
  assert.equal(r.mibPerSec, 18479123 / 2 / 1024 / 1024);
});

Deno.test("parseH2loadOutput throws naming the missing line when h2load failed", () => {
  const failed =
    "starting benchmark...\nspawning thread #0: 1 total client(s). 1 total requests\n" +
    "No protocol negotiated. Aborted.\n";
  assert.throws(
    () => parseH2loadOutput(failed),
    /no 'finished in' line; last line: No protocol negotiated/,
  );
  const noTraffic = H2LOAD_STDOUT.replace(/^traffic:.*$/m, "");
  assert.throws(() => parseH2loadOutput(noTraffic), /no 'traffic:' line/);
});

Deno.test("parseH2loadDuration converts h2load's units to milliseconds", () => {
  assert.equal(parseH2loadDuration("50us"), 0.05);
  assert.equal(parseH2loadDuration("37.58ms"), 37.58);
  assert.equal(parseH2loadDuration("5.00s"), 5000);
  assert.equal(parseH2loadDuration("1.5min"), 90_000);
  assert.throws(() => parseH2loadDuration("12parsecs"), /unknown duration/);
});
