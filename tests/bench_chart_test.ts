/**
 * Tests of bench/chart.ts: the SVG it renders is well-formed XML (checked by the small
 * strict parser below: deno.json has no XML library and xmllint is not always installed),
 * names every server of its input, highlights sockit's rows and escapes text.
 */
import assert from "node:assert/strict";
import { chartPanels, escapeXml, renderChart } from "../bench/chart.ts";
import type { BenchResults } from "../bench/common.ts";

/** An element of the parsed document. */
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Character data directly inside this element, entities decoded. */
  text: string;
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/;
const ENTITY = /^&(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;

function decode(raw: string, where: number): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "<") throw new Error(`'<' in character data or attribute at ${where + i}`);
    if (raw[i] !== "&") {
      out += raw[i];
      continue;
    }
    const m = ENTITY.exec(raw.slice(i));
    if (!m) throw new Error(`bare '&' at ${where + i}`);
    const body = m[0].slice(1, -1);
    out += body.startsWith("#x")
      ? String.fromCodePoint(parseInt(body.slice(2), 16))
      : body.startsWith("#")
      ? String.fromCodePoint(parseInt(body.slice(1), 10))
      : { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[body]!;
    i += m[0].length - 1;
  }
  return out;
}

/**
 * A strict well-formedness check of the XML subset an SVG uses (declaration, elements,
 * attributes, character data, comments, the five entities and character references; no
 * DTD, no CDATA). Throws on the first error; returns the root element.
 */
function parseXml(source: string): XmlElement {
  let pos = 0;
  const decl = /^<\?xml\s[^?]*\?>/.exec(source);
  if (decl) pos = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (pos < source.length) {
    if (source.startsWith("<!--", pos)) {
      const end = source.indexOf("-->", pos + 4);
      if (end < 0) throw new Error(`unterminated comment at ${pos}`);
      pos = end + 3;
    } else if (source.startsWith("</", pos)) {
      const m = /^<\/([A-Za-z_:][A-Za-z0-9_.:-]*)\s*>/.exec(source.slice(pos));
      if (!m) throw new Error(`bad end tag at ${pos}`);
      const open = stack.pop();
      if (open?.name !== m[1]) throw new Error(`</${m[1]}> closes <${open?.name}> at ${pos}`);
      pos += m[0].length;
    } else if (source[pos] === "<") {
      pos++;
      const name = NAME.exec(source.slice(pos))?.[0];
      if (!name) throw new Error(`bad tag name at ${pos}`);
      pos += name.length;
      const element: XmlElement = { name, attrs: {}, children: [], text: "" };
      for (;;) {
        const space = /^\s*/.exec(source.slice(pos))![0].length;
        pos += space;
        if (source.startsWith("/>", pos) || source[pos] === ">") break;
        if (space === 0) throw new Error(`attributes need a space before them at ${pos}`);
        const attr = /^([A-Za-z_:][A-Za-z0-9_.:-]*)\s*=\s*("[^"]*"|'[^']*')/.exec(
          source.slice(pos),
        );
        if (!attr) throw new Error(`bad attribute at ${pos}`);
        if (attr[1] in element.attrs) throw new Error(`duplicate attribute ${attr[1]} at ${pos}`);
        element.attrs[attr[1]] = decode(attr[2].slice(1, -1), pos);
        pos += attr[0].length;
      }
      if (stack.length > 0) stack.at(-1)!.children.push(element);
      else if (root === null) root = element;
      else throw new Error(`second root element <${name}>`);
      if (source.startsWith("/>", pos)) pos += 2;
      else {
        pos++;
        stack.push(element);
      }
    } else {
      const end = source.indexOf("<", pos);
      const raw = source.slice(pos, end < 0 ? source.length : end);
      if (raw.includes("]]>")) throw new Error(`']]>' in character data at ${pos}`);
      const text = decode(raw, pos);
      if (stack.length > 0) stack.at(-1)!.text += text;
      else if (text.trim() !== "") throw new Error(`text outside the root element at ${pos}`);
      pos += raw.length;
    }
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  if (root === null) throw new Error("no root element");
  return root;
}

function* walk(element: XmlElement): Generator<XmlElement> {
  yield element;
  for (const child of element.children) yield* walk(child);
}

const RESULTS: BenchResults = {
  started: "2026-11-27T12:17:00.000Z",
  command: "deno task bench --quick",
  commit: "e2d2438-dirty",
  machine: "2 CPUs, AMD EPYC, Linux 6.18, Deno 2.9.6",
  http: [
    {
      id: "1k",
      label: "1 KiB keep-alive -c64",
      metric: "reqPerSec",
      servers: [
        {
          name: "sockit",
          sockit: true,
          reqPerSec: 71902,
          mibPerSec: 72.3,
          p99Ms: 2.1,
          peakRssMiB: 80.5,
        },
        {
          name: "nginx 1w",
          sockit: false,
          reqPerSec: 65000,
          mibPerSec: 66,
          p99Ms: 1.5,
          peakRssMiB: 4.2,
        },
        {
          name: "python http.server",
          sockit: false,
          reqPerSec: null,
          mibPerSec: null,
          p99Ms: null,
          peakRssMiB: null,
        },
      ],
    },
    {
      id: "10m",
      label: "10 MiB keep-alive -c8",
      metric: "mibPerSec",
      servers: [
        { name: "sockit", sockit: true, reqPerSec: 90, mibPerSec: 900, p99Ms: 99, peakRssMiB: 90 },
        {
          name: "http-server",
          sockit: false,
          reqPerSec: 30,
          mibPerSec: 300,
          p99Ms: 300,
          peakRssMiB: 70,
        },
      ],
    },
  ],
  echo: [
    {
      name: "sockit --workers 2",
      sockit: true,
      bulkMiBps: 1086,
      pingPerSec: 11841,
      fanPerSec: 100436,
      peakRssMiB: 121.5,
    },
    {
      name: "C epoll",
      sockit: false,
      bulkMiBps: 1582,
      pingPerSec: 15669,
      fanPerSec: 159182,
      peakRssMiB: 1.6,
    },
    {
      name: 'socat <PIPE> & "friends"',
      sockit: false,
      bulkMiBps: 414,
      pingPerSec: 13095,
      fanPerSec: 43084,
      peakRssMiB: 490.5,
    },
  ],
  startup: [
    {
      name: "sockit echo-server",
      sockit: true,
      startupMs: 61,
      idleGrowthMiB: 15.7,
      idleConnections: 1000,
    },
    {
      name: "node net echo",
      sockit: false,
      startupMs: 75,
      idleGrowthMiB: 12.1,
      idleConnections: 1000,
    },
  ],
};

const serverNames = (r: BenchResults) =>
  new Set([
    ...(r.http ?? []).flatMap((l) => l.servers.map((s) => s.name)),
    ...(r.echo ?? []).map((s) => s.name),
    ...(r.startup ?? []).map((s) => s.name),
  ]);

Deno.test("bench chart: the SVG is well-formed XML with an <svg> root in the SVG namespace", () => {
  const root = parseXml(renderChart(RESULTS));
  assert.equal(root.name, "svg");
  assert.equal(root.attrs.xmlns, "http://www.w3.org/2000/svg");
  assert.ok(Number(root.attrs.height) > 0);
});

Deno.test("bench chart: every server of the input is named, in every panel it was measured in", () => {
  const root = parseXml(renderChart(RESULTS));
  const panels = [...walk(root)].filter((e) => e.attrs.class === "panel");
  assert.equal(panels.length, chartPanels(RESULTS).length);
  assert.equal(panels.length, 4); // two HTTP loads, echo, start-up
  const names = (panel: XmlElement) =>
    [...walk(panel)].filter((e) => e.attrs.class === "name").map((e) => e.text);
  assert.deepEqual(names(panels[0]), ["sockit", "nginx 1w", "python http.server"]);
  assert.deepEqual(names(panels[2]), [
    "sockit --workers 2",
    "C epoll",
    'socat <PIPE> & "friends"',
  ]);
  const everyName = new Set(panels.flatMap(names));
  for (const name of serverNames(RESULTS)) assert.ok(everyName.has(name), name);
});

Deno.test("bench chart: sockit's rows, and only they, are highlighted", () => {
  const root = parseXml(renderChart(RESULTS));
  const panelRows = [...walk(root)].filter((e) => e.attrs.class === "panel")
    .flatMap((p) => p.children.filter((c) => c.attrs.class?.startsWith("row ")));
  const highlighted = panelRows.filter((r) => r.attrs.class === "row sockit")
    .map((r) => r.children.find((c) => c.attrs.class === "name")!.text);
  assert.deepEqual(highlighted, ["sockit", "sockit", "sockit --workers 2", "sockit echo-server"]);
  const style = [...walk(root)].find((e) => e.name === "style")!.text;
  const fill = (selector: string) =>
    new RegExp(`${selector.replace(".", "\\.")} \\.bar \\{ fill: (#[0-9a-f]+)`).exec(style)?.[1];
  assert.ok(fill(".sockit") && fill(".peer") && fill(".sockit") !== fill(".peer"));
});

Deno.test("bench chart: values are labelled; a missing value is a dash without a bar", () => {
  const root = parseXml(renderChart(RESULTS));
  const rows = [...walk(root)].filter((e) => e.attrs.class?.startsWith("row "));
  const row = (name: string) =>
    rows.find((r) => r.children.some((c) => c.attrs.class === "name" && c.text === name))!;
  const values = (r: XmlElement) =>
    r.children.filter((c) => c.attrs.class === "value").map((c) => c.text);
  assert.deepEqual(values(row("nginx 1w")), ["65,000", "4.2"]);
  assert.deepEqual(values(row("python http.server")), ["–", "–"]);
  assert.equal(row("python http.server").children.filter((c) => c.name === "rect").length, 0);
  // The 10 MiB load is charted in MiB/s, the metric it is judged by.
  assert.deepEqual(values(row("http-server")), ["300", "70.0"]);
});

Deno.test("bench chart: an empty run still renders a valid document", () => {
  const root = parseXml(
    renderChart({ started: RESULTS.started, command: "x", commit: null, machine: "m" }),
  );
  assert.equal(root.name, "svg");
});

Deno.test("bench chart: escapeXml leaves no markup characters", () => {
  assert.equal(
    escapeXml(`<a href="x">&'</a>`),
    "&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;",
  );
});

Deno.test("bench chart: the strict parser used here rejects malformed XML", () => {
  for (
    const bad of [
      "<svg><g></svg>",
      "<svg>a & b</svg>",
      '<svg a="1" a="2"/>',
      "<svg a=1/>",
      "<svg/><svg/>",
      "<svg>",
      '<svg><text x="<"/></svg>',
    ]
  ) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
});

Deno.test("bench chart: docs/performance.svg (a real run, formatted by deno fmt) parses", async () => {
  const svg = await Deno.readTextFile(new URL("../docs/performance.svg", import.meta.url));
  const root = parseXml(svg);
  assert.equal(root.name, "svg");
  const sockitNames = [...walk(root)].filter((e) => e.attrs.class === "row sockit")
    .map((r) => r.children.find((c) => c.attrs.class === "name")?.text.trim());
  assert.ok(sockitNames.includes("sockit"), "sockit's rows are highlighted");
});

Deno.test("bench chart: the connection rows get a panel each: req/s or share answered, p99, RSS", () => {
  const results: BenchResults = {
    started: RESULTS.started,
    command: "deno task bench --quick --only conns,c10k",
    commit: null,
    machine: "m",
    conns: [
      {
        id: "conns",
        label: "10,000 short connections, 64 at once, 1 KiB",
        servers: [
          {
            name: "sockit",
            sockit: true,
            reqPerSec: 21928,
            p50Ms: 2.1,
            p99Ms: 7.6,
            requests: 10000,
            answered: 10000,
            peakRssMiB: 82.1,
          },
          {
            name: "nginx 1w",
            sockit: false,
            reqPerSec: 26455,
            p50Ms: 1.67,
            p99Ms: 2.77,
            requests: 10000,
            answered: 10000,
            peakRssMiB: 14.9,
          },
        ],
      },
      {
        id: "c10k",
        label: "10,000 keep-alive connections, 1 req/s each for 20 s",
        servers: [
          {
            name: "sockit",
            sockit: true,
            reqPerSec: 10000,
            p50Ms: 0.4,
            p99Ms: 196.74,
            requests: 200000,
            answered: 200000,
            peakRssMiB: 258.2,
          },
          {
            name: "nginx 1w",
            sockit: false,
            reqPerSec: 9457,
            p50Ms: 0.26,
            p99Ms: 36.47,
            requests: 50000,
            answered: 47285,
            peakRssMiB: 19.3,
          },
          {
            name: "not run",
            sockit: false,
            reqPerSec: null,
            p50Ms: null,
            p99Ms: null,
            requests: 0,
            answered: 0,
            peakRssMiB: null,
          },
        ],
      },
    ],
  };
  const root = parseXml(renderChart(results));
  const panels = [...walk(root)].filter((e) => e.attrs.class === "panel");
  assert.equal(panels.length, 2);
  const title = (p: XmlElement) => p.children.find((c) => c.attrs.class === "panel-title")!.text;
  assert.equal(title(panels[0]), "HTTP · 10,000 short connections, 64 at once, 1 KiB");
  assert.match(title(panels[1]), /10,000 keep-alive connections/);
  const values = (panel: XmlElement) =>
    panel.children.filter((c) => c.attrs.class?.startsWith("row ")).map((r) =>
      r.children.filter((c) => c.attrs.class === "value").map((c) => c.text)
    );
  assert.deepEqual(values(panels[0]), [["21,928", "7.60", "82.1"], ["26,455", "2.77", "14.9"]]);
  assert.deepEqual(values(panels[1]), [
    ["100.0", "196.74", "258.2"],
    ["94.6", "36.47", "19.3"],
    ["–", "–", "–"],
  ]);
});
