-- wrk script used by bench/run.ts: after the run, print one JSON line with exact numbers
-- (requests, bytes, duration, errors, latency percentiles in microseconds), so nothing has
-- to be parsed back out of wrk's human-readable units.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrk_json":1,"requests":%d,"bytes":%d,"duration_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
