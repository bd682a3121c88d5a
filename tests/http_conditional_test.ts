/**
 * Unit tests for lib/http/conditional.ts: ETag and date formats, HTTP-date parsing in all
 * three forms, entity-tag lists, the RFC 9110 §13.2.2 evaluation order, If-Range and the
 * Cache-Control value for --cache.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import {
  cacheControlValue,
  evaluateConditionals,
  fileValidators,
  makeEtag,
  MAX_CACHE_SECONDS,
  parseCacheSeconds,
  parseEntityTagList,
  rangeAllowedByIfRange,
  strongMatch,
  type Validators,
  weakMatch,
} from "../lib/http/semantics/conditional.ts";
import { formatHttpDate, parseHttpDate } from "../lib/http/semantics/date.ts";

/** RFC 9110's example instant: Sun, 06 Nov 1994 08:49:37 GMT. */
const EXAMPLE_MS = Date.UTC(1994, 10, 6, 8, 49, 37);
/** A file modified 250 ms into that second, 1234 bytes long. */
const FILE: Validators = fileValidators({ size: 1234, mtimeMs: EXAMPLE_MS + 250 });
const ETAG = FILE.etag!;
const LAST_MODIFIED = formatHttpDate(FILE.lastModifiedMs!);
const EARLIER = "Sun, 06 Nov 1994 08:49:36 GMT";
const LATER = "Sun, 06 Nov 1994 08:49:38 GMT";

function h(fields: Record<string, string>): Headers {
  return new Headers(fields);
}

Deno.test("makeEtag: strong by default, from mtime ms and size in hex", () => {
  assert.equal(makeEtag({ size: 255, mtimeMs: 4096.9 }), '"1000-ff"');
  assert.equal(ETAG, `"${(EXAMPLE_MS + 250).toString(16)}-4d2"`);
  assert.equal(
    makeEtag({ size: 255, mtimeMs: 4096 }, { weak: true, suffix: "gzip" }),
    'W/"1000-ff-gzip"',
  );
  assert.notEqual(makeEtag({ size: 1, mtimeMs: 1 }), makeEtag({ size: 2, mtimeMs: 1 }));
  assert.notEqual(makeEtag({ size: 1, mtimeMs: 1 }), makeEtag({ size: 1, mtimeMs: 2 }));
  assert.equal(makeEtag({ size: 1, mtimeMs: null }), null);
  assert.equal(makeEtag({ size: 1, mtimeMs: NaN }), null);
  assert.deepEqual(fileValidators({ size: 1, mtimeMs: null }), {
    etag: null,
    lastModifiedMs: null,
  });
});

Deno.test("formatHttpDate: IMF-fixdate, sub-seconds dropped", () => {
  assert.equal(formatHttpDate(EXAMPLE_MS + 999), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(formatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
});

Deno.test("parseHttpDate: the three forms of RFC 9110 §5.6.7", () => {
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), EXAMPLE_MS);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), EXAMPLE_MS);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), EXAMPLE_MS);
  assert.equal(parseHttpDate("Sun Nov 16 08:49:37 1994"), Date.UTC(1994, 10, 16, 8, 49, 37));
  assert.equal(parseHttpDate(" Sun, 06 Nov 1994 08:49:37 GMT "), EXAMPLE_MS);
  // Round trip with the formatter.
  const now = Math.floor(Date.now() / 1000) * 1000;
  assert.equal(parseHttpDate(formatHttpDate(now)), now);
});

Deno.test("parseHttpDate: RFC 850 two-digit years use the 50-year rule", () => {
  const in2026 = Date.UTC(2026, 5, 1);
  assert.equal(
    parseHttpDate("Friday, 01-Jan-76 00:00:00 GMT", in2026), // 2076 is exactly 50 ahead
    Date.UTC(2076, 0, 1),
  );
  assert.equal(
    parseHttpDate("Thursday, 01-Jan-77 00:00:00 GMT", in2026), // 2077 is > 50 ahead → 1977
    Date.UTC(1977, 0, 1),
  );
  assert.equal(parseHttpDate("Wednesday, 01-Jan-25 00:00:00 GMT", in2026), Date.UTC(2025, 0, 1));
});

Deno.test("parseHttpDate: a leap second and Feb 29 in leap years only", () => {
  assert.equal(
    parseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT"),
    Date.UTC(2017, 0, 1, 0, 0, 0),
  );
  assert.equal(parseHttpDate("Thu, 29 Feb 2024 00:00:00 GMT"), Date.UTC(2024, 1, 29));
  assert.equal(parseHttpDate("Tue, 29 Feb 2000 00:00:00 GMT"), Date.UTC(2000, 1, 29));
  assert.equal(parseHttpDate("Thu, 29 Feb 2100 00:00:00 GMT"), null);
  assert.equal(parseHttpDate("Wed, 29 Feb 2023 00:00:00 GMT"), null);
  // Years below 100 stay literal (Date.UTC would make 0094 into 1994).
  assert.equal(new Date(parseHttpDate("Mon, 01 Jan 0094 00:00:00 GMT")!).getUTCFullYear(), 94);
});

Deno.test("parseHttpDate: anything else is null", () => {
  for (
    const value of [
      "",
      "yesterday",
      "1994-11-06T08:49:37Z",
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 06 Nov 1994 08:49:37",
      "sun, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT",
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 06 Nov 1994 08:49:61 GMT",
      "Sun, 06 Nov 94 08:49:37 GMT",
      "Sun, 06-Nov-94 08:49:37 GMT",
      "Sunday, 06-Nov-1994 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",
      "Sun Nov  6 08:49:37 1994 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
    ]
  ) {
    assert.equal(parseHttpDate(value), null, value);
  }
});

Deno.test("parseEntityTagList: star, lists, weak tags, whitespace", () => {
  assert.equal(parseEntityTagList("*"), "*");
  assert.equal(parseEntityTagList(" * "), "*");
  assert.deepEqual(parseEntityTagList('"a"'), [{ weak: false, opaque: '"a"' }]);
  assert.deepEqual(parseEntityTagList(' "a" ,W/"b",\t"" , '), [
    { weak: false, opaque: '"a"' },
    { weak: true, opaque: '"b"' },
    { weak: false, opaque: '""' },
  ]);
  // A comma inside the quotes is part of the tag (etagc allows it).
  assert.deepEqual(parseEntityTagList('"a,b"'), [{ weak: false, opaque: '"a,b"' }]);
});

Deno.test("parseEntityTagList: invalid syntax is null", () => {
  for (
    const value of ["", ",", "a", '"a', 'w/"a"', 'W/ "a"', '"a" "b"', '"a b"', '*, "a"', '"a"x']
  ) {
    assert.equal(parseEntityTagList(value), null, value);
  }
});

Deno.test("strongMatch / weakMatch: RFC 9110 §8.8.3.2's table", () => {
  const w1 = { weak: true, opaque: '"1"' };
  const w2 = { weak: true, opaque: '"2"' };
  const s1 = { weak: false, opaque: '"1"' };
  assert.equal(strongMatch(w1, w1), false);
  assert.equal(weakMatch(w1, w1), true);
  assert.equal(strongMatch(w1, w2), false);
  assert.equal(weakMatch(w1, w2), false);
  assert.equal(strongMatch(w1, s1), false);
  assert.equal(weakMatch(w1, s1), true);
  assert.equal(strongMatch(s1, s1), true);
  assert.equal(weakMatch(s1, s1), true);
});

Deno.test("evaluateConditionals: no conditions → proceed", () => {
  assert.equal(evaluateConditionals("GET", h({}), FILE), "proceed");
});

Deno.test("evaluateConditionals: If-None-Match", () => {
  assert.equal(evaluateConditionals("GET", h({ "if-none-match": ETAG }), FILE), "not-modified");
  assert.equal(evaluateConditionals("HEAD", h({ "if-none-match": ETAG }), FILE), "not-modified");
  assert.equal(
    evaluateConditionals("GET", h({ "if-none-match": `"other", ${ETAG}` }), FILE),
    "not-modified",
  );
  // Weak comparison: W/ on the client's copy still matches.
  assert.equal(
    evaluateConditionals("GET", h({ "if-none-match": `W/${ETAG}` }), FILE),
    "not-modified",
  );
  assert.equal(evaluateConditionals("GET", h({ "if-none-match": "*" }), FILE), "not-modified");
  assert.equal(evaluateConditionals("GET", h({ "if-none-match": '"other"' }), FILE), "proceed");
  // Not GET/HEAD: a match fails the precondition instead.
  assert.equal(
    evaluateConditionals("POST", h({ "if-none-match": ETAG }), FILE),
    "precondition-failed",
  );
  // Unparsable: matches nothing, so the full response is sent.
  assert.equal(evaluateConditionals("GET", h({ "if-none-match": "garbage" }), FILE), "proceed");
  // Without an ETag only * can match.
  const noEtag = { etag: null, lastModifiedMs: FILE.lastModifiedMs };
  assert.equal(evaluateConditionals("GET", h({ "if-none-match": ETAG }), noEtag), "proceed");
  assert.equal(evaluateConditionals("GET", h({ "if-none-match": "*" }), noEtag), "not-modified");
});

Deno.test("evaluateConditionals: If-Modified-Since", () => {
  for (const date of [LAST_MODIFIED, LATER, "Sunday, 06-Nov-94 08:49:37 GMT"]) {
    assert.equal(
      evaluateConditionals("GET", h({ "if-modified-since": date }), FILE),
      "not-modified",
      date,
    );
  }
  assert.equal(
    evaluateConditionals("HEAD", h({ "if-modified-since": LATER }), FILE),
    "not-modified",
  );
  assert.equal(evaluateConditionals("GET", h({ "if-modified-since": EARLIER }), FILE), "proceed");
  // Ignored: invalid date, other methods, no Last-Modified, and when If-None-Match is present.
  assert.equal(evaluateConditionals("GET", h({ "if-modified-since": "soon" }), FILE), "proceed");
  assert.equal(evaluateConditionals("POST", h({ "if-modified-since": LATER }), FILE), "proceed");
  assert.equal(
    evaluateConditionals("GET", h({ "if-modified-since": LATER }), {
      etag: ETAG,
      lastModifiedMs: null,
    }),
    "proceed",
  );
  assert.equal(
    evaluateConditionals(
      "GET",
      h({ "if-none-match": '"other"', "if-modified-since": LATER }),
      FILE,
    ),
    "proceed",
  );
  assert.equal(
    evaluateConditionals("GET", h({ "if-none-match": ETAG, "if-modified-since": EARLIER }), FILE),
    "not-modified",
  );
});

Deno.test("evaluateConditionals: If-Match uses strong comparison", () => {
  assert.equal(evaluateConditionals("GET", h({ "if-match": ETAG }), FILE), "proceed");
  assert.equal(evaluateConditionals("GET", h({ "if-match": `"x", ${ETAG}` }), FILE), "proceed");
  assert.equal(evaluateConditionals("GET", h({ "if-match": "*" }), FILE), "proceed");
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": `W/${ETAG}` }), FILE),
    "precondition-failed",
  );
  assert.equal(evaluateConditionals("GET", h({ "if-match": '"x"' }), FILE), "precondition-failed");
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": "garbage" }), FILE),
    "precondition-failed",
  );
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": ETAG }), { etag: null, lastModifiedMs: null }),
    "precondition-failed",
  );
  // A weak current ETag never satisfies If-Match.
  const weak = { etag: `W/${ETAG}`, lastModifiedMs: FILE.lastModifiedMs };
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": `W/${ETAG}` }), weak),
    "precondition-failed",
  );
});

Deno.test("evaluateConditionals: If-Unmodified-Since", () => {
  assert.equal(
    evaluateConditionals("GET", h({ "if-unmodified-since": LAST_MODIFIED }), FILE),
    "proceed",
  );
  assert.equal(evaluateConditionals("GET", h({ "if-unmodified-since": LATER }), FILE), "proceed");
  assert.equal(
    evaluateConditionals("GET", h({ "if-unmodified-since": EARLIER }), FILE),
    "precondition-failed",
  );
  // Ignored: invalid date, no Last-Modified, and when If-Match is present.
  assert.equal(evaluateConditionals("GET", h({ "if-unmodified-since": "x" }), FILE), "proceed");
  assert.equal(
    evaluateConditionals("GET", h({ "if-unmodified-since": EARLIER }), {
      etag: ETAG,
      lastModifiedMs: null,
    }),
    "proceed",
  );
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": ETAG, "if-unmodified-since": EARLIER }), FILE),
    "proceed",
  );
});

Deno.test("evaluateConditionals: §13.2.2 order — 412 before 304", () => {
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": '"x"', "if-none-match": ETAG }), FILE),
    "precondition-failed",
  );
  assert.equal(
    evaluateConditionals(
      "GET",
      h({ "if-unmodified-since": EARLIER, "if-modified-since": LATER }),
      FILE,
    ),
    "precondition-failed",
  );
  assert.equal(
    evaluateConditionals("GET", h({ "if-match": ETAG, "if-none-match": ETAG }), FILE),
    "not-modified",
  );
});

Deno.test("evaluateConditionals: a Map with lower-case names works as the lookup", () => {
  assert.equal(
    evaluateConditionals("GET", new Map([["if-none-match", ETAG]]), FILE),
    "not-modified",
  );
});

Deno.test("rangeAllowedByIfRange: absent, or not applicable", () => {
  assert.equal(rangeAllowedByIfRange("GET", h({ range: "bytes=0-1" }), FILE), true);
  // If-Range is ignored without Range and for methods other than GET.
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": '"x"' }), FILE), true);
  assert.equal(
    rangeAllowedByIfRange("HEAD", h({ "if-range": '"x"', range: "bytes=0-1" }), FILE),
    true,
  );
});

Deno.test("rangeAllowedByIfRange: entity-tags compare strongly", () => {
  const range = "bytes=0-1";
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": ETAG, range }), FILE), true);
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": '"other"', range }), FILE), false);
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": `W/${ETAG}`, range }), FILE), false);
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": `${ETAG}, "x"`, range }), FILE), false);
  assert.equal(
    rangeAllowedByIfRange("GET", h({ "if-range": '"unterminated', range }), FILE),
    false,
  );
  assert.equal(
    rangeAllowedByIfRange("GET", h({ "if-range": ETAG, range }), {
      etag: null,
      lastModifiedMs: null,
    }),
    false,
  );
});

Deno.test("rangeAllowedByIfRange: dates must equal Last-Modified exactly", () => {
  const range = "bytes=0-1";
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": LAST_MODIFIED, range }), FILE), true);
  assert.equal(
    rangeAllowedByIfRange("GET", h({ "if-range": "Sun Nov  6 08:49:37 1994", range }), FILE),
    true,
  );
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": LATER, range }), FILE), false);
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": EARLIER, range }), FILE), false);
  assert.equal(rangeAllowedByIfRange("GET", h({ "if-range": "tomorrow", range }), FILE), false);
  assert.equal(
    rangeAllowedByIfRange("GET", h({ "if-range": LAST_MODIFIED, range }), {
      etag: ETAG,
      lastModifiedMs: null,
    }),
    false,
  );
});

Deno.test("cacheControlValue: no-cache by default, public max-age with --cache", () => {
  assert.equal(cacheControlValue(undefined), "no-cache");
  assert.equal(cacheControlValue(0), "no-cache");
  assert.equal(cacheControlValue(3600), "public, max-age=3600");
  assert.equal(cacheControlValue(1.9), "public, max-age=1");
  assert.equal(cacheControlValue(1e12), `public, max-age=${MAX_CACHE_SECONDS}`);
});

Deno.test("parseCacheSeconds: whole seconds, else a ConfigError naming the flag", () => {
  assert.equal(parseCacheSeconds("0"), 0);
  assert.equal(parseCacheSeconds("86400"), 86400);
  assert.equal(parseCacheSeconds("99999999999999"), MAX_CACHE_SECONDS);
  for (const value of ["", "-1", "1.5", "1h", " 60"]) {
    assert.throws(() => parseCacheSeconds(value), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^invalid --cache '.*': expected whole seconds/);
      assert.ok(!err.message.includes("\n"));
      return true;
    }, value);
  }
});
