/**
 * The benchmark report as a picture: turns one run's numbers (bench/out/results.json, the
 * {@link BenchResults} that bench/run.ts collects) into a self-contained SVG of horizontal
 * bars — one panel per HTTP load (req/s or MiB/s, and peak RSS per server), one per
 * connection-heavy load (req/s or share answered, p99, peak RSS), one for echo
 * (bulk, ping-pong, fan-out, peak RSS) and one for start-up and idle memory. sockit's rows
 * are highlighted. Pure string building: no DOM, no browser, no network; tested in
 * `tests/bench_chart_test.ts`.
 *
 * ```ts
 * import { renderChart } from "./chart.ts";
 * const svg = renderChart({
 *   started: "2026-01-01T12:00:00.000Z",
 *   command: "deno task bench --quick",
 *   commit: "e2d2438",
 *   machine: "2 CPUs, Linux 6.1, Deno 2.9.6",
 *   echo: [{
 *     name: "sockit",
 *     sockit: true,
 *     bulkMiBps: 1329,
 *     pingPerSec: 13834,
 *     fanPerSec: 107155,
 *     peakRssMiB: 123.9,
 *   }],
 * });
 * ```
 *
 * Re-render a saved run without measuring again:
 *
 * ```sh
 * deno run --allow-read --allow-write bench/chart.ts bench/out/results.json docs/performance.svg
 * deno fmt docs/performance.svg   # deno fmt formats SVG too; `deno task check` expects it
 * ```
 *
 * @module
 */
import type { BenchResults } from "./common.ts";
import { formatNumber } from "./stats.ts";

/** One bar column of a panel: what is measured, in what unit, with how many decimals. */
export interface ChartColumn {
  heading: string;
  /** Follows the value in the bar's tooltip ("82,820 req/s"). */
  unit: string;
  digits: number;
}

/** One server's row: a value (or null: not measured) per column. */
export interface ChartRow {
  name: string;
  sockit: boolean;
  values: (number | null)[];
}

/** A titled block of rows; every column is scaled to its own largest value. */
export interface ChartPanel {
  title: string;
  columns: ChartColumn[];
  rows: ChartRow[];
}

/** Total width of the SVG in px; panels stretch their columns to fill it. */
export const CHART_WIDTH = 960;
const PAD = 16;
const NAME_WIDTH = 170;
const ROW_HEIGHT = 20;
const BAR_HEIGHT = 13;
const PANEL_TITLE_HEIGHT = 24;
const HEADING_HEIGHT = 18;
const PANEL_GAP = 14;
/** Rough advance of one character of the 11 px value labels, to leave them room. */
const LABEL_CHAR_WIDTH = 6.6;
const COLUMN_GAP = 14;

const SOCKIT_FILL = "#e8590c";
const PEER_FILL = "#90a4b8";
const TEXT = "#212529";
const MUTED = "#6c757d";

/** Escapes text for SVG character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The panels of one run: HTTP loads in run order, the connection rows, then echo, then
 * start-up and idle.
 */
export function chartPanels(results: BenchResults): ChartPanel[] {
  const panels: ChartPanel[] = [];
  for (const load of results.http ?? []) {
    if (load.servers.length === 0) continue;
    const rate = load.metric === "mibPerSec"
      ? { heading: "MiB/s, higher is better", unit: "MiB/s", digits: 0 }
      : { heading: "requests/s, higher is better", unit: "req/s", digits: 0 };
    panels.push({
      title: `HTTP · ${load.label}`,
      columns: [rate, {
        heading: "peak RSS MiB, lower is better",
        unit: "MiB peak RSS",
        digits: 1,
      }],
      rows: load.servers.map((s) => ({
        name: s.name,
        sockit: s.sockit,
        values: [s[load.metric], s.peakRssMiB],
      })),
    });
  }
  for (const load of results.conns ?? []) {
    if (load.servers.length === 0) continue;
    // conns is judged by its request rate; c10k holds a fixed rate, so by its p99.
    const lead: ChartColumn = load.id === "conns"
      ? { heading: "requests/s, higher is better", unit: "req/s", digits: 0 }
      : { heading: "answered, % of requests", unit: "% answered", digits: 1 };
    panels.push({
      title: `HTTP · ${load.label}`,
      columns: [
        lead,
        { heading: "p99 ms, lower is better", unit: "ms p99", digits: 2 },
        { heading: "peak RSS MiB, lower is better", unit: "MiB peak RSS", digits: 1 },
      ],
      rows: load.servers.map((s) => ({
        name: s.name,
        sockit: s.sockit,
        values: [
          load.id === "conns"
            ? s.reqPerSec
            : s.requests > 0
            ? (s.answered / s.requests) * 100
            : null,
          s.p99Ms,
          s.peakRssMiB,
        ],
      })),
    });
  }
  if (results.echo && results.echo.length > 0) {
    panels.push({
      title: "Echo · 64-byte messages; bulk verified byte-exact",
      columns: [
        { heading: "bulk MiB/s", unit: "MiB/s bulk", digits: 0 },
        { heading: "ping-pong round trips/s", unit: "round trips/s", digits: 0 },
        { heading: "fan-out msgs/s", unit: "fan-out msgs/s", digits: 0 },
        { heading: "peak RSS MiB, lower is better", unit: "MiB peak RSS", digits: 1 },
      ],
      rows: results.echo.map((s) => ({
        name: s.name,
        sockit: s.sockit,
        values: [s.bulkMiBps, s.pingPerSec, s.fanPerSec, s.peakRssMiB],
      })),
    });
  }
  if (results.startup && results.startup.length > 0) {
    const idle = results.startup[0].idleConnections;
    panels.push({
      title: "Start-up and idle connections (lower is better)",
      columns: [
        { heading: "start → accepting, ms", unit: "ms to accept", digits: 0 },
        {
          heading: `RSS growth with ${idle} idle connections, MiB`,
          unit: `MiB more RSS with ${idle} idle connections`,
          digits: 1,
        },
      ],
      rows: results.startup.map((s) => ({
        name: s.name,
        sockit: s.sockit,
        values: [s.startupMs, s.idleGrowthMiB],
      })),
    });
  }
  return panels;
}

/** Options for {@link renderPanels}. */
export interface RenderOptions {
  title: string;
  /** Lines under the title: where and how the numbers were taken. */
  subtitle?: string[];
}

/** A coordinate as SVG text: at most one decimal. */
function px(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function text(
  x: number,
  y: number,
  content: string,
  attrs: Record<string, string | number> = {},
): string {
  const extra = Object.entries(attrs).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join("");
  return `<text x="${px(x)}" y="${px(y)}"${extra}>${escapeXml(content)}</text>`;
}

function panelHeight(panel: ChartPanel): number {
  return PANEL_TITLE_HEIGHT + HEADING_HEIGHT + panel.rows.length * ROW_HEIGHT;
}

function renderPanel(panel: ChartPanel, top: number): string[] {
  const out: string[] = [`<g class="panel" transform="translate(0 ${top})">`];
  out.push(text(PAD, 16, panel.title, { class: "panel-title" }));
  const columnWidth = (CHART_WIDTH - 2 * PAD - NAME_WIDTH) / panel.columns.length;
  const headingY = PANEL_TITLE_HEIGHT + 12;
  panel.columns.forEach((column, i) => {
    const x0 = PAD + NAME_WIDTH + i * columnWidth;
    out.push(text(x0, headingY, column.heading, { class: "heading" }));
  });
  const scales = panel.columns.map((column, i) => {
    const values = panel.rows.map((r) => r.values[i]).filter((v): v is number => v !== null);
    const max = Math.max(0, ...values);
    const labelRoom = Math.max(
          ...panel.rows.map((r) => formatNumber(r.values[i], column.digits).length),
        ) * LABEL_CHAR_WIDTH + 6;
    return { max, barRoom: Math.max(10, columnWidth - COLUMN_GAP - labelRoom) };
  });
  panel.rows.forEach((row, r) => {
    const y = PANEL_TITLE_HEIGHT + HEADING_HEIGHT + r * ROW_HEIGHT;
    const kind = row.sockit ? "sockit" : "peer";
    out.push(`<g class="row ${kind}">`);
    out.push(text(PAD, y + BAR_HEIGHT - 2, row.name, { class: "name" }));
    panel.columns.forEach((column, i) => {
      const value = row.values[i];
      const x0 = PAD + NAME_WIDTH + i * columnWidth;
      const label = formatNumber(value, column.digits);
      const { max, barRoom } = scales[i];
      const width = value !== null && max > 0 ? Math.max(1, (value / max) * barRoom) : 0;
      if (width > 0) {
        const tooltip = escapeXml(`${row.name}: ${label} ${column.unit}`);
        const box = `x="${px(x0)}" y="${y}" width="${px(width)}" height="${BAR_HEIGHT}"`;
        out.push(`<rect class="bar" ${box}><title>${tooltip}</title></rect>`);
      }
      out.push(text(x0 + width + 4, y + BAR_HEIGHT - 2, label, { class: "value" }));
    });
    out.push("</g>");
  });
  out.push("</g>");
  return out;
}

/** Renders panels into one standalone SVG document (a string). */
export function renderPanels(panels: ChartPanel[], options: RenderOptions): string {
  const subtitle = options.subtitle ?? [];
  const headerHeight = 30 + subtitle.length * 16 + 22;
  let height = headerHeight;
  const body: string[] = [];
  for (const panel of panels) {
    body.push(...renderPanel(panel, height));
    height += panelHeight(panel) + PANEL_GAP;
  }
  if (panels.length === 0) {
    body.push(text(PAD, height + 14, "(no measurements)", { class: "heading" }));
    height += 30;
  }
  height += PAD - PANEL_GAP;
  const legendY = 30 + subtitle.length * 16 + 8;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${CHART_WIDTH} ${height}" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(options.title)}</title>`,
    "<style>",
    `text { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 12px; fill: ${TEXT}; }`,
    ".title { font-size: 16px; font-weight: 600; }",
    `.subtitle, .heading { font-size: 11px; fill: ${MUTED}; }`,
    ".panel-title { font-size: 13px; font-weight: 600; }",
    ".value { font-size: 11px; font-variant-numeric: tabular-nums; }",
    `.peer .bar { fill: ${PEER_FILL}; }`,
    `.sockit .bar { fill: ${SOCKIT_FILL}; }`,
    ".sockit .name { font-weight: 700; }",
    "</style>",
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    text(PAD, 24, options.title, { class: "title" }),
    ...subtitle.map((line, i) => text(PAD, 42 + i * 16, line, { class: "subtitle" })),
    `<g class="legend" transform="translate(${PAD} ${legendY})">`,
    `<g class="row sockit"><rect class="bar" width="10" height="10"/>` +
    `${text(14, 9, "sockit", { class: "name" })}</g>`,
    `<g class="row peer"><rect class="bar" x="70" width="10" height="10"/>` +
    `${
      text(84, 9, "other servers (medians; each column scaled to its largest value)", {
        class: "heading",
      })
    }</g>`,
    "</g>",
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/** The whole chart of one run, titled with its date, command, commit and machine. */
export function renderChart(results: BenchResults): string {
  const when = results.started.slice(0, 16).replace("T", " ");
  return renderPanels(chartPanels(results), {
    title: `sockit benchmark, ${when} UTC`,
    subtitle: [
      `${results.command}${results.commit ? ` · commit ${results.commit}` : ""}`,
      results.machine,
    ],
  });
}

if (import.meta.main) {
  const [input = "bench/out/results.json", output] = Deno.args;
  const svg = renderChart(JSON.parse(await Deno.readTextFile(input)) as BenchResults);
  if (output) await Deno.writeTextFile(output, svg);
  else console.log(svg);
}
