/**
 * Unit tests for lib/http/listing_json.ts: the JSON listing shape, sort parsing and
 * ordering, sort links, and JSON/HTML negotiation by query and Accept.
 *
 * @module
 */
import assert from "node:assert/strict";
import { acceptQuality } from "../lib/http/semantics/negotiation.ts";
import {
  DEFAULT_LISTING_SORT,
  entryType,
  listingJson,
  type ListingSourceEntry,
  parseListingSort,
  sortLinkQuery,
  sortListingEntries,
  wantsJson,
} from "../lib/http/files/listing_json.ts";
import type { ListingEntry } from "../lib/http/files/listing.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const T1 = new Date("2026-06-01T12:30:00.000Z");
const T2 = new Date("2026-11-25T09:05:00.000Z");

const ENTRIES: ListingSourceEntry[] = [
  { name: "b.txt", isDirectory: false, size: 300, modified: T0 },
  { name: "docs", isDirectory: true, size: 4096, modified: T2 },
  { name: "a.txt", isDirectory: false, size: 20, modified: T2 },
  { name: "link", isDirectory: false, isSymlink: true, size: 7, modified: T1 },
  { name: "Zeta", isDirectory: false, size: 20, modified: null },
  { name: "assets", isDirectory: true, size: null, modified: T0 },
];

const names = (entries: readonly ListingSourceEntry[]) => entries.map((e) => e.name);
const q = (text: string) => new URLSearchParams(text);

Deno.test("parseListingSort: defaults, valid values, case, unknown values fall back", () => {
  assert.deepEqual(parseListingSort(q("")), DEFAULT_LISTING_SORT);
  assert.deepEqual(parseListingSort(q("sort=size&order=desc")), { by: "size", order: "desc" });
  assert.deepEqual(parseListingSort(q("sort=TIME&order=DESC")), { by: "time", order: "desc" });
  assert.deepEqual(parseListingSort(q("sort=time")), { by: "time", order: "asc" });
  assert.deepEqual(parseListingSort(q("order=desc")), { by: "name", order: "desc" });
  assert.deepEqual(parseListingSort(q("sort=owner&order=sideways")), DEFAULT_LISTING_SORT);
});

Deno.test("sortListingEntries: by name, directories first, natural order ignoring case", () => {
  assert.deepEqual(names(sortListingEntries(ENTRIES)), [
    "assets",
    "docs",
    "a.txt",
    "b.txt",
    "link",
    "Zeta", // case does not count: not before "a.txt" as in code points
  ]);
  // Folders stay first when descending too; within each group the order flips.
  assert.deepEqual(names(sortListingEntries(ENTRIES, { by: "name", order: "desc" })), [
    "docs",
    "assets",
    "Zeta",
    "link",
    "b.txt",
    "a.txt",
  ]);
});

Deno.test("sortListingEntries: numbers in names compare as numbers, ties are total", () => {
  const entry = (name: string, isDirectory = false): ListingSourceEntry => ({
    name,
    isDirectory,
    size: 1,
    modified: null,
  });
  const input = [
    "report-10.txt",
    "report-2.txt",
    "report-1.txt",
    "report-02.txt",
    "Report-3.txt",
    "img10.png",
    "img9.png",
    "b.txt",
    "B.txt",
    "é.txt",
    "e.txt",
  ].map((name) => entry(name)).concat([entry("v10", true), entry("v9", true)]);
  const expected = [
    "v9",
    "v10",
    "B.txt", // equal to "b.txt" for the collator: code points ("B" < "b") decide
    "b.txt",
    "e.txt",
    "é.txt",
    "img9.png",
    "img10.png",
    "report-1.txt",
    "report-02.txt", // equal to "report-2" as numbers: code points put "0" first
    "report-2.txt",
    "Report-3.txt",
    "report-10.txt",
  ];
  assert.deepEqual(names(sortListingEntries(input)), expected);
  assert.deepEqual(names(sortListingEntries(input.toReversed())), expected);
  assert.deepEqual(
    names(sortListingEntries(input, { by: "name", order: "desc" })),
    [...expected.slice(0, 2).reverse(), ...expected.slice(2).reverse()],
  );
  // Equal sizes: ties by name ascending (natural) in both orders.
  assert.deepEqual(
    names(sortListingEntries(input, { by: "size", order: "desc" })),
    names(sortListingEntries(input)),
  );
});

Deno.test("sortListingEntries: by size, ties by name, unknown first ascending", () => {
  assert.deepEqual(names(sortListingEntries(ENTRIES, { by: "size", order: "asc" })), [
    "assets", // directories have no meaningful size (docs reports 4096): by name
    "docs",
    "link",
    "a.txt",
    "Zeta",
    "b.txt",
  ]);
  assert.deepEqual(names(sortListingEntries(ENTRIES, { by: "size", order: "desc" })), [
    "assets", // directories have no meaningful size: by name
    "docs",
    "b.txt",
    "a.txt", // 20 bytes, tie with Zeta: name ascending in both orders
    "Zeta",
    "link",
  ]);
});

Deno.test("sortListingEntries: by time", () => {
  assert.deepEqual(names(sortListingEntries(ENTRIES, { by: "time", order: "asc" })), [
    "assets",
    "docs",
    "Zeta", // no mtime
    "b.txt",
    "link",
    "a.txt",
  ]);
  assert.deepEqual(names(sortListingEntries(ENTRIES, { by: "time", order: "desc" })), [
    "docs",
    "assets",
    "a.txt",
    "link",
    "b.txt",
    "Zeta",
  ]);
});

Deno.test("sortListingEntries: does not mutate its input; accepts listing.ts entries", () => {
  const before = names(ENTRIES);
  sortListingEntries(ENTRIES, { by: "size", order: "desc" });
  assert.deepEqual(names(ENTRIES), before);
  const htmlEntries: ListingEntry[] = [
    { name: "b", isDirectory: false, size: 1, modified: null },
    { name: "a", isDirectory: false, size: 2, modified: null },
  ];
  const sorted: ListingEntry[] = sortListingEntries(htmlEntries, { by: "size", order: "asc" });
  assert.deepEqual(sorted.map((e) => e.name), ["b", "a"]);
});

Deno.test("entryType: symlink wins over dir", () => {
  assert.equal(entryType({ name: "x", isDirectory: false, size: 1, modified: null }), "file");
  assert.equal(entryType({ name: "x", isDirectory: true, size: 1, modified: null }), "dir");
  assert.equal(
    entryType({ name: "x", isDirectory: true, isSymlink: true, size: 1, modified: null }),
    "symlink",
  );
});

Deno.test("listingJson: the documented shape, sorted, JSON-serialisable", () => {
  const doc = listingJson("/files/", ENTRIES, { by: "size", order: "desc" });
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), {
    path: "/files/",
    sort: "size",
    order: "desc",
    entries: [
      { name: "assets", type: "dir", size: null, mtime: "2026-01-01T00:00:00.000Z" },
      { name: "docs", type: "dir", size: null, mtime: "2026-11-25T09:05:00.000Z" },
      { name: "b.txt", type: "file", size: 300, mtime: "2026-01-01T00:00:00.000Z" },
      { name: "a.txt", type: "file", size: 20, mtime: "2026-11-25T09:05:00.000Z" },
      { name: "Zeta", type: "file", size: 20, mtime: null },
      { name: "link", type: "symlink", size: 7, mtime: "2026-06-01T12:30:00.000Z" },
    ],
  });
  assert.deepEqual(listingJson("/", []), { path: "/", sort: "name", order: "asc", entries: [] });
});

Deno.test("sortLinkQuery: the sorted column flips, others start ascending", () => {
  assert.equal(sortLinkQuery(DEFAULT_LISTING_SORT, "name"), "?sort=name&order=desc");
  assert.equal(sortLinkQuery({ by: "name", order: "desc" }, "name"), "?sort=name&order=asc");
  assert.equal(sortLinkQuery(DEFAULT_LISTING_SORT, "size"), "?sort=size&order=asc");
  assert.equal(sortLinkQuery({ by: "size", order: "desc" }, "time"), "?sort=time&order=asc");
  // The link round-trips through the parser.
  assert.deepEqual(parseListingSort(q(sortLinkQuery(DEFAULT_LISTING_SORT, "time").slice(1))), {
    by: "time",
    order: "asc",
  });
});

Deno.test("acceptQuality: most specific range wins; q parsing", () => {
  assert.equal(acceptQuality("application/json", "application/json"), 1);
  assert.equal(acceptQuality("*/*;q=0.1, application/*;q=0.5", "application/json"), 0.5);
  assert.equal(acceptQuality("application/json;q=0.3, */*", "application/json"), 0.3);
  assert.equal(acceptQuality("*/*;q=0.2", "text/html"), 0.2);
  assert.equal(acceptQuality("text/plain", "text/html"), 0);
  assert.equal(acceptQuality("Application/JSON ; Q=0.7", "application/json"), 0.7);
  assert.equal(acceptQuality("application/json;q=2", "application/json"), 0);
  assert.equal(acceptQuality("application/json;charset=utf-8", "application/json"), 1);
});

Deno.test("wantsJson: ?format decides outright", () => {
  assert.equal(wantsJson(q("format=json"), null), true);
  assert.equal(wantsJson(q("format=JSON"), "text/html"), true);
  assert.equal(wantsJson(q("format=html"), "application/json"), false);
});

Deno.test("wantsJson: Accept negotiation; ties go to the more specific, then HTML", () => {
  const none = q("");
  assert.equal(wantsJson(none, null), false);
  assert.equal(wantsJson(none, ""), false);
  assert.equal(wantsJson(none, "application/json"), true);
  assert.equal(wantsJson(none, "application/json, text/plain, */*"), true); // axios
  assert.equal(wantsJson(none, "*/*"), false); // curl
  assert.equal(
    wantsJson(
      none,
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    ),
    false,
  ); // a browser
  assert.equal(wantsJson(none, "text/html;q=0.5, application/json;q=0.9"), true);
  assert.equal(wantsJson(none, "text/html, application/json"), false);
  assert.equal(wantsJson(none, "application/json;q=0"), false);
  assert.equal(wantsJson(none, "application/*"), true);
  assert.equal(wantsJson(none, "application/*, text/*"), false);
  assert.equal(wantsJson(none, "application/json;q=0.5, */*;q=0.5"), true);
});
