import assert from "node:assert/strict";
import {
  HttpMetrics,
  METRICS_CONTENT_TYPE,
  METRICS_PATH,
  STATUS_CLASSES,
} from "../lib/http/sharing/metrics.ts";

interface Family {
  help: string;
  type: string;
  samples: Map<string, number>;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every sample must belong to a
 * family announced by HELP and TYPE just before it, with a valid name, labels and value.
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  const families = new Map<string, Family>();
  let current: string | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
      assert.ok(!families.has(m[1]), `family ${m[1]} declared once`);
      families.set(m[1], { help: m[2], type: "", samples: new Map() });
      current = m[1];
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line))) {
      assert.equal(m[1], current, "TYPE follows its HELP");
      families.get(m[1])!.type = m[2];
    } else if (
      (m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"\})? (\S+)$/.exec(
        line,
      ))
    ) {
      assert.equal(m[1], current, `sample ${line} under its family`);
      const value = Number(m[3]);
      assert.ok(Number.isFinite(value), `numeric value in ${line}`);
      families.get(m[1])!.samples.set(m[2] ?? "", value);
    } else {
      assert.fail(`not a valid exposition line: ${JSON.stringify(line)}`);
    }
  }
  return families;
}

Deno.test("metrics: path and content type constants", () => {
  assert.equal(METRICS_PATH, "/.well-known/sockit/metrics");
  assert.match(METRICS_CONTENT_TYPE, /^text\/plain; version=0\.0\.4/);
});

Deno.test("metrics: fresh counters render every family at zero", () => {
  const families = parseExposition(new HttpMetrics().render());
  const requests = families.get("sockit_http_requests_total")!;
  assert.equal(requests.type, "counter");
  assert.deepEqual(
    [...requests.samples.keys()],
    STATUS_CLASSES.map((c) => `{class="${c}"}`),
  );
  assert.ok([...requests.samples.values()].every((v) => v === 0));
  assert.equal(families.get("sockit_http_sent_bytes_total")!.samples.get(""), 0);
  assert.equal(families.get("sockit_http_open_connections")!.type, "gauge");
  assert.equal(families.get("sockit_uptime_seconds")!.type, "gauge");
});

Deno.test("metrics: responses by class, bytes, connections and uptime", () => {
  let clock = 1000;
  const metrics = new HttpMetrics({ now: () => clock });
  metrics.connectionOpened();
  metrics.connectionOpened();
  metrics.connectionOpened();
  metrics.connectionClosed();
  for (const status of [101, 200, 204, 206, 304, 404, 401, 413, 500, 999, 0]) {
    metrics.recordResponse(status, 100);
  }
  metrics.addBytesSent(5);
  metrics.addBytesSent(-3); // ignored
  clock += 2500;

  const families = parseExposition(metrics.render());
  const requests = families.get("sockit_http_requests_total")!.samples;
  assert.equal(requests.get('{class="1xx"}'), 1);
  assert.equal(requests.get('{class="2xx"}'), 3);
  assert.equal(requests.get('{class="3xx"}'), 1);
  assert.equal(requests.get('{class="4xx"}'), 3);
  assert.equal(requests.get('{class="5xx"}'), 1);
  assert.equal(metrics.requests("4xx"), 3);
  assert.equal(families.get("sockit_http_sent_bytes_total")!.samples.get(""), 1105);
  assert.equal(families.get("sockit_http_open_connections")!.samples.get(""), 2);
  assert.equal(families.get("sockit_http_connections_total")!.samples.get(""), 3);
  assert.equal(families.get("sockit_uptime_seconds")!.samples.get(""), 2.5);
  const start = families.get("sockit_start_time_seconds")!.samples.get("")!;
  assert.ok(Math.abs(start - Date.now() / 1000) < 60);

  metrics.connectionClosed();
  metrics.connectionClosed();
  metrics.connectionClosed(); // one too many must not go negative
  assert.equal(metrics.openConnections, 0);
});
