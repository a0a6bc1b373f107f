// `xenwasm bench ... --html FILE` (docs/benchmarks.md, "HTML reports"): one self-contained page
// per run, with the run's metadata, a results table and one inline SVG bar chart per metric,
// xenwasm against its references (native C, and Linux where the benchmark measures it) per
// configuration. The page loads nothing (no scripts, styles, fonts or images from elsewhere), so it
// opens offline and can be mailed or attached as it is.
//
// The generator knows nothing of the benchmarks: it takes "series" rows (a configuration, a metric
// and its unit, the three values and the ratios). Each benchmark has a small adapter below that
// maps its JSON rows (the objects `--json` prints) onto them. Every text that reaches the page goes
// through escapeHtml; the numbers in data-value attributes are the JSON numbers, unrounded, so a
// test (or a browser test) can compare the page with `--json`.
import { closeSync, existsSync, ftruncateSync, openSync, unlinkSync, writeSync } from "node:fs";
import { cpus, arch, release, type } from "node:os";
import type { BlkResult } from "./blk.js";
import type { EventResult } from "./event.js";
import { linuxFigure, type NetResult } from "./net.js";
import type { VethResult } from "./net-native.js";
import type { RingResult } from "./ring.js";

/** Where and when a report was measured: the command line, the date and the machine. */
export interface ReportMeta { command: string; date: string; node: string; cpu: string; cores: number; os: string }

/** The three implementations a chart can show, in the order of their bars. */
export type SeriesName = "xenwasm" | "native" | "linux";

/**
 * One configuration's figures for one metric: xenwasm's value, the native reference's and Linux's
 * (null or absent: not measured), xenwasm over native (`ratio`) and over Linux (`linuxRatio`).
 */
export interface Series {
  config: string;
  metric: string;
  unit: string;
  xenwasm: number | null;
  native: number | null;
  linux?: number | null;
  ratio: number | null;
  linuxRatio?: number | null;
  /** True for a time or a count per operation, where less is better. */
  lowerIsBetter?: boolean;
}

/** The legend's names of the implementations (defaults: "xenwasm", "native C", "Linux"). */
export type SeriesLabels = Partial<Record<SeriesName, string>>;

/** What a report carries besides the series: the legend's names, what was measured, notes of the run, and its rows as JSON. */
export interface ReportOptions { labels?: SeriesLabels; about?: string; notes?: string[]; raw?: unknown }

const SERIES: SeriesName[] = ["xenwasm", "native", "linux"];
const DEFAULT_LABELS: Record<SeriesName, string> = { xenwasm: "xenwasm", native: "native C", linux: "Linux" };
const COLORS: Record<SeriesName, string> = { xenwasm: "#3867a8", native: "#e07b24", linux: "#4a9b48" };

/** Escapes `s` for HTML text and quoted attribute values (also inside inline SVG). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A number for people: 3 or 4 significant digits, k, M and G from a thousand up ("23.3 M", "6.43 k", "0.0624"). */
export function formatValue(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(3))} G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))} M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))} k`;
  return String(Number(v.toPrecision(a >= 1 ? 4 : 3)));
}

const num = (v: number | null | undefined): number | null => (v == null || !Number.isFinite(v) ? null : v);
const value = (s: Series, n: SeriesName): number | null => num(n === "xenwasm" ? s.xenwasm : n === "native" ? s.native : s.linux);
const ratioText = (r: number | null | undefined) => (num(r) === null ? "" : `${Math.abs(r!) >= 0.1 || r === 0 ? r!.toFixed(2) : Number(r!.toPrecision(2))}×`);

/** Quotes one argument for a POSIX shell when it needs it. */
function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

/** The metadata of a run started now with `args` (the arguments after `xenwasm`). */
export function reportMeta(args: string[]): ReportMeta {
  const c = cpus();
  return {
    command: ["xenwasm", ...args].map(shellQuote).join(" "),
    date: new Date().toISOString(),
    node: process.version,
    cpu: c[0]?.model.trim() || "unknown",
    cores: c.length,
    os: `${type()} ${release()} ${arch()}`,
  };
}

/** The metrics of `series` in their first appearance's order, each with its rows. */
function byMetric(series: Series[]): Array<{ metric: string; unit: string; lowerIsBetter: boolean; rows: Series[] }> {
  const out = new Map<string, { metric: string; unit: string; lowerIsBetter: boolean; rows: Series[] }>();
  for (const s of series) {
    let m = out.get(s.metric);
    if (!m) out.set(s.metric, (m = { metric: s.metric, unit: s.unit, lowerIsBetter: !!s.lowerIsBetter, rows: [] }));
    m.rows.push(s);
  }
  return [...out.values()];
}

/** Tick step of about `n` ticks up to `max`: 1, 2 or 5 times a power of ten. */
function tickStep(max: number, n: number): number {
  const raw = max / n, p = 10 ** Math.floor(Math.log10(raw)), f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

const CHART = { bar: 14, barGap: 3, groupGap: 14, plotW: 440, valueW: 96, font: 12, labelMax: 46 };

/** One horizontal grouped bar chart: a group per configuration, a bar per implementation. */
function chart(metric: string, unit: string, lowerIsBetter: boolean, rows: Series[], labels: Record<SeriesName, string>, index: number): string {
  const present = SERIES.filter((n) => rows.some((s) => value(s, n) !== null));
  const shown = present.length ? present : (["xenwasm"] as SeriesName[]);
  const short = (t: string) => (t.length > CHART.labelMax ? `${t.slice(0, CHART.labelMax - 1)}…` : t);
  const ratioLine = (s: Series) => [num(s.ratio) !== null ? `${ratioText(s.ratio)} ${labels.native}` : "", num(s.linuxRatio) !== null ? `${ratioText(s.linuxRatio)} ${labels.linux}` : ""].filter(Boolean).join(", ");
  const longest = Math.max(...rows.map((s) => Math.max(short(s.config).length, ratioLine(s).length * 0.9)), 10);
  const labelW = Math.round(Math.min(340, Math.max(120, 16 + longest * 6.6)));
  const x0 = labelW + 10, { bar, barGap, groupGap, plotW, font } = CHART;
  const groupH = Math.max(shown.length * bar + (shown.length - 1) * barGap, 2 * font + 8);
  const top = 40;
  const max = Math.max(0, ...rows.flatMap((s) => shown.map((n) => value(s, n) ?? 0)));
  const step = tickStep(max > 0 ? max : 1, 5), axisMax = Math.max(step, Math.ceil((max > 0 ? max : 1) / step - 1e-9) * step);
  const xOf = (v: number) => x0 + (Math.max(0, v) / axisMax) * plotW;
  const bottom = top + rows.length * (groupH + groupGap) - groupGap + 8;
  const width = x0 + plotW + CHART.valueW, height = bottom + 46;
  const id = `chart-${index}`;
  const title = `${metric} (${unit}), ${lowerIsBetter ? "lower" : "higher"} is better`;
  const out: string[] = [];
  out.push(`<svg class="chart" data-metric="${escapeHtml(metric)}" data-unit="${escapeHtml(unit)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title">`);
  out.push(`<title id="${id}-title">${escapeHtml(title)}</title>`);
  // The legend, one swatch per implementation shown.
  let lx = x0;
  out.push(`<g class="legend">`);
  for (const n of shown) {
    out.push(`<rect x="${lx}" y="10" width="12" height="12" fill="${COLORS[n]}"></rect><text x="${lx + 17}" y="20">${escapeHtml(labels[n])}</text>`);
    lx += 17 + labels[n].length * 7 + 22;
  }
  out.push(`</g>`);
  // Grid lines and the x axis with its ticks and title.
  out.push(`<g class="axis">`);
  for (let i = 0; i * step <= axisMax + step / 2; i++) {
    const t = i * step, x = xOf(t).toFixed(1);
    out.push(`<line class="grid" x1="${x}" y1="${top - 6}" x2="${x}" y2="${bottom}"></line><text x="${x}" y="${bottom + 16}" text-anchor="middle">${escapeHtml(formatValue(t))}</text>`);
  }
  out.push(`<line class="domain" x1="${x0}" y1="${bottom}" x2="${x0 + plotW}" y2="${bottom}"></line>`);
  out.push(`<line class="domain" x1="${x0}" y1="${top - 6}" x2="${x0}" y2="${bottom}"></line>`);
  out.push(`<text class="axis-title" x="${x0 + plotW / 2}" y="${bottom + 36}" text-anchor="middle">${escapeHtml(`${metric} (${unit})`)}</text>`);
  out.push(`</g>`);
  // A group per configuration: its label and ratios on the left, a bar per implementation.
  rows.forEach((s, i) => {
    const gy = top + i * (groupH + groupGap);
    const cy = gy + groupH / 2;
    const ratios = ratioLine(s);
    out.push(`<g class="group" data-config="${escapeHtml(s.config)}">`);
    out.push(`<text class="config" x="${x0 - 8}" y="${(ratios ? cy - 2 : cy + 4).toFixed(1)}" text-anchor="end"><title>${escapeHtml(s.config)}</title>${escapeHtml(short(s.config))}</text>`);
    if (ratios) out.push(`<text class="ratio" x="${x0 - 8}" y="${(cy + font).toFixed(1)}" text-anchor="end">${escapeHtml(ratios)}</text>`);
    const barsH = shown.length * bar + (shown.length - 1) * barGap;
    shown.forEach((n, j) => {
      const y = gy + (groupH - barsH) / 2 + j * (bar + barGap);
      const v = value(s, n);
      if (v === null) {
        out.push(`<text class="missing" x="${x0 + 4}" y="${y + bar - 3}">${escapeHtml(labels[n])}: no figure</text>`);
        return;
      }
      const w = xOf(v) - x0;
      out.push(`<rect class="bar" data-config="${escapeHtml(s.config)}" data-series="${n}" data-value="${v}" x="${x0}" y="${y}" width="${w.toFixed(2)}" height="${bar}" fill="${COLORS[n]}"><title>${escapeHtml(`${labels[n]}, ${s.config}: ${formatValue(v)} ${unit}`)}</title></rect>`);
      out.push(`<text class="value" x="${(x0 + w + 4).toFixed(1)}" y="${y + bar - 3}">${escapeHtml(formatValue(v))}</text>`);
    });
    out.push(`</g>`);
  });
  out.push(`</svg>`);
  return out.join("\n");
}

/** The results table: a section per metric, a row per configuration; columns nobody measured are left out. */
function table(metrics: ReturnType<typeof byMetric>, labels: Record<SeriesName, string>): string {
  const all = metrics.flatMap((m) => m.rows);
  const present = SERIES.filter((n) => all.some((s) => value(s, n) !== null));
  const hasRatio = all.some((s) => num(s.ratio) !== null), hasLinuxRatio = all.some((s) => num(s.linuxRatio) !== null);
  const cols = 1 + present.length + (hasRatio ? 1 : 0) + (hasLinuxRatio ? 1 : 0);
  const out: string[] = [`<div class="table">`, `<table id="results">`, `<thead><tr><th scope="col">configuration</th>`];
  for (const n of present) out.push(`<th scope="col">${escapeHtml(labels[n])}</th>`);
  if (hasRatio) out.push(`<th scope="col">vs ${escapeHtml(labels.native)}</th>`);
  if (hasLinuxRatio) out.push(`<th scope="col">vs ${escapeHtml(labels.linux)}</th>`);
  out.push(`</tr></thead>`);
  for (const m of metrics) {
    out.push(`<tbody data-metric="${escapeHtml(m.metric)}">`);
    out.push(`<tr class="metric"><th scope="colgroup" colspan="${cols}">${escapeHtml(`${m.metric} (${m.unit})`)} <span class="hint">${m.lowerIsBetter ? "lower" : "higher"} is better</span></th></tr>`);
    for (const s of m.rows) {
      out.push(`<tr data-config="${escapeHtml(s.config)}" data-metric="${escapeHtml(m.metric)}"><th scope="row">${escapeHtml(s.config)}</th>`);
      for (const n of present) {
        const v = value(s, n);
        out.push(v === null ? `<td></td>` : `<td data-series="${n}" data-value="${v}">${escapeHtml(formatValue(v))}</td>`);
      }
      const r = num(s.ratio), lr = num(s.linuxRatio);
      if (hasRatio) out.push(r === null ? `<td></td>` : `<td class="ratio" data-ratio="native" data-value="${r}">${escapeHtml(ratioText(r))}</td>`);
      if (hasLinuxRatio) out.push(lr === null ? `<td></td>` : `<td class="ratio" data-ratio="linux" data-value="${lr}">${escapeHtml(ratioText(lr))}</td>`);
      out.push(`</tr>`);
    }
    out.push(`</tbody>`);
  }
  if (metrics.length === 0) out.push(`<tbody><tr><td colspan="${cols}">No results.</td></tr></tbody>`);
  out.push(`</table>`, `</div>`);
  return out.join("\n");
}

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2329; background: #fff; margin: 2em auto; max-width: 1000px; padding: 0 1em; }
h1 { font-size: 1.5em; margin: 0 0 .4em; }
p.about { max-width: 46em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .4em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0 0 1em; }
dl.meta dt { color: #5b6570; }
dl.meta dd { margin: 0; }
dl.meta code { white-space: pre-wrap; overflow-wrap: anywhere; }
code { font: 13px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f3f5f7; padding: 0 .25em; border-radius: 3px; }
ul.notes { color: #7a4b00; }
div.table { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: .5em 0 1em; }
th, td { padding: .25em .8em; border-bottom: 1px solid #e3e7eb; white-space: nowrap; }
thead th { text-align: right; border-bottom: 2px solid #b8c0c8; }
thead th:first-child, tbody th { text-align: left; font-weight: normal; }
tr.metric th { font-weight: 600; padding-top: .9em; border-bottom: 1px solid #b8c0c8; }
td { text-align: right; }
td.ratio { font-weight: 600; }
.hint { color: #5b6570; font-weight: normal; font-size: .9em; }
figure { margin: 1em 0 2em; }
svg.chart { max-width: 100%; height: auto; font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
svg.chart text { fill: #1d2329; }
svg.chart text.ratio, svg.chart text.missing { fill: #5b6570; font-size: 11px; }
svg.chart text.axis-title { font-weight: 600; }
svg.chart line.grid { stroke: #e3e7eb; }
svg.chart line.domain { stroke: #5b6570; }
details pre { background: #f3f5f7; padding: .8em; overflow: auto; font-size: 12px; }
`;

/**
 * The whole HTML page of one benchmark run: `title`, the run's metadata, notes, the results
 * table (id "results") and one chart per metric of `series`, each `<svg data-metric>` with bars
 * carrying data-config, data-series and data-value. Every text is escaped; nothing is loaded from
 * elsewhere and no script runs.
 */
export function benchReportHtml(title: string, meta: ReportMeta, series: Series[], options: ReportOptions = {}): string {
  const labels = { ...DEFAULT_LABELS, ...options.labels };
  const metrics = byMetric(series);
  const e = escapeHtml;
  const out: string[] = [
    `<!DOCTYPE html>`,
    `<html lang="en">`,
    `<head>`,
    `<meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<meta name="generator" content="xenwasm">`,
    `<title>${e(title)}</title>`,
    `<style>${STYLE}</style>`,
    `</head>`,
    `<body>`,
    `<h1>${e(title)}</h1>`,
    `<dl class="meta">`,
    `<dt>command</dt><dd><code>${e(meta.command)}</code></dd>`,
    `<dt>date</dt><dd><time datetime="${e(meta.date)}">${e(meta.date)}</time></dd>`,
    `<dt>machine</dt><dd>${e(`${meta.cpu}, ${meta.cores} ${meta.cores === 1 ? "core" : "cores"}, ${meta.os}`)}</dd>`,
    `<dt>Node.js</dt><dd>${e(meta.node)}</dd>`,
    `</dl>`,
  ];
  if (options.about) out.push(`<p class="about">${e(options.about)}</p>`);
  if (options.notes?.length) out.push(`<ul class="notes">`, ...options.notes.map((n) => `<li>${e(n)}</li>`), `</ul>`);
  out.push(`<h2>Results</h2>`);
  out.push(table(metrics, labels));
  metrics.forEach((m, i) => {
    out.push(`<h2>${e(m.metric)}</h2>`, `<figure>`, chart(m.metric, m.unit, m.lowerIsBetter, m.rows, labels, i));
    out.push(`<figcaption class="hint">${e(`${m.unit}, ${m.lowerIsBetter ? "lower" : "higher"} is better; the ratios are xenwasm's value over the reference's`)}</figcaption>`, `</figure>`);
  });
  if (options.raw !== undefined) {
    out.push(`<details>`, `<summary>The rows as JSON (what <code>--json</code> prints)</summary>`, `<pre>${e(JSON.stringify(options.raw, null, 2))}</pre>`, `</details>`);
  }
  out.push(`</body>`, `</html>`, ``);
  return out.join("\n");
}

/** An HTML report file opened before a benchmark runs: `write` fills it at the end, `abandon` gives it up. */
export interface ReportFile { write(html: string): void; abandon(): void }

/** Why `e` stopped us opening a file for writing, in a few words. */
function openError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOENT": return "its directory does not exist";
    case "ENOTDIR": return "a part of its directory is not a directory";
    case "EISDIR": return "it is a directory";
    case "EACCES": case "EPERM": return "permission denied";
    case "EROFS": return "the file system is read-only";
    default: return e.message.split("\n")[0];
  }
}

/**
 * Opens `path` for the report before the benchmark runs (a wrong path must fail before minutes of
 * measuring), without truncating a file that is already there; on failure calls `fail` with one
 * line ("--html PATH: cannot write it: ..."). An abandoned report removes the file if it created it.
 */
export function openReport(path: string, fail: (message: string) => never): ReportFile {
  const existed = existsSync(path);
  let fd: number;
  try {
    fd = openSync(path, "a");
  } catch (e) {
    return fail(`--html ${path}: cannot write it: ${openError(e as NodeJS.ErrnoException)}`);
  }
  let open = true;
  return {
    write(html: string): void {
      ftruncateSync(fd, 0);
      writeSync(fd, html);
      closeSync(fd);
      open = false;
    },
    abandon(): void {
      if (!open) return;
      closeSync(fd);
      open = false;
      if (!existed) unlinkSync(path);
    },
  };
}

// ---- the adapters: each benchmark's JSON rows as series ----

/** `bench ring`'s page: what it compares. */
export const RING_REPORT: ReportOptions = {
  about: "A front and a back domain echo requests through one shared ring (assembly/ring.ts, threaded runner); the native C reference does the same with io/ring.h between two pthreads. Rows are medians of the runs; the ratio is xenwasm's figure over native C's.",
};
/** `bench blk`'s page: what it compares, and its Linux column (fio). */
export const BLK_REPORT: ReportOptions = {
  labels: { linux: "Linux (fio)" },
  about: "blkfront in a guest against dom0's blkback over a RAM disk (threaded runner), every read sector checked. There is no native C reference; the Linux column is fio on a tmpfs file with the same block size and pattern, the better of its psync and io_uring engines (4 KiB workloads only). Rows are the median runs.",
};
/** `bench net`'s page: what it compares, and its Linux column (iperf3 over a veth pair). */
export const NET_REPORT: ReportOptions = {
  labels: { linux: "Linux (veth, iperf3)" },
  about: "Frames from a guest through netfront, netback and dom0's switch to another guest or to dom0's sink (threaded runner), every byte checked, beside the native C reference of the same netif ring work between threads. The Linux column is iperf3 between two network namespaces over a veth pair: UDP frames/s for 64-byte frames, TCP Gbit/s for GSO. Rows are medians.",
};
/** `bench event`'s page: what it compares. */
export const EVENT_REPORT: ReportOptions = {
  about: "Two domains (examples/pingpong.ts, threaded runner) bounce a counter through a granted page with an event-channel notification each way; the native C references do the same hand-off between two pthreads with the same wait policy, one with a plain pending word per side, one through Xen's own 2-level or FIFO event protocol. Rows are medians; a ratio is xenwasm's time over native C's (lower is better).",
};

/** A `bench ring` configuration's label: "slot 112, 1 page, qd 32, poll". */
export function ringConfig(r: RingResult): string {
  return `slot ${r.slot}, ${r.ring_pages} ${r.ring_pages === 1 ? "page" : "pages"}, qd ${r.qd}, ${r.mode}`;
}

/** Groups rows by `key` in their first appearance's order. */
function groups<R>(rows: R[], key: (r: R) => string): Array<[string, R[]]> {
  const m = new Map<string, R[]>();
  for (const r of rows) { const k = key(r); if (!m.has(k)) m.set(k, []); m.get(k)!.push(r); }
  return [...m.entries()];
}

/** `bench ring`'s rows as series: requests per second for every configuration, notifications per request in event mode. */
export function ringSeries(rows: RingResult[]): Series[] {
  const rate: Series[] = [], notes: Series[] = [];
  for (const [config, rs] of groups(rows, ringConfig)) {
    const x = rs.find((r) => r.impl === "xenwasm"), n = rs.find((r) => r.impl === "native-c");
    rate.push({ config, metric: "requests per second", unit: "req/s", xenwasm: x?.req_per_s ?? null, native: n?.req_per_s ?? null, ratio: x?.ratio_vs_native ?? null });
    if (rs[0].mode === "event") {
      notes.push({ config, metric: "notifications per request", unit: "notifies/req", xenwasm: x?.notifies_per_req ?? null, native: n?.notifies_per_req ?? null,
        ratio: x?.notifies_ratio_vs_native ?? null, lowerIsBetter: true });
    }
  }
  return [...rate, ...notes];
}

/** A `bench blk` row as the command reports it: a median run with fio's figures on the same workload, when measured. */
export type BlkReportRow = BlkResult & { runs?: number; fio_psync_iops?: number | null; fio_io_uring_iops?: number | null; ratio_vs_fio?: number | null };

/** `bench blk`'s rows as series: IOPS beside fio's better engine (no native reference), and MB/s. */
export function blkSeries(rows: BlkReportRow[]): Series[] {
  const iops: Series[] = [], mbs: Series[] = [];
  for (const r of rows) {
    const config = `${r.workload}, ${r.poll ? "poll" : "event"}`;
    const fio = [r.fio_psync_iops, r.fio_io_uring_iops].filter((v): v is number => num(v) !== null);
    iops.push({ config, metric: "I/O operations per second", unit: "IOPS", xenwasm: r.iops, native: null, linux: fio.length ? Math.max(...fio) : null, ratio: null, linuxRatio: r.ratio_vs_fio ?? null });
    mbs.push({ config, metric: "throughput", unit: "MB/s", xenwasm: r.mb_per_s, native: null, ratio: null });
  }
  return [...iops, ...mbs];
}

/** A `bench net` configuration's label: "guest-guest, 64 B, event, 1 queue". */
export function netConfig(r: NetResult): string {
  return `${r.workload}, ${r.size === "gso" ? "gso" : `${r.size} B`}, ${r.mode}, ${r.queues} ${r.queues === 1 ? "queue" : "queues"}`;
}

/**
 * `bench net`'s rows as series: frames per second and Gbit/s per configuration, beside native C and
 * the linux-veth row the command compared it with (iperf3 UDP frames/s for 64-byte frames, TCP
 * Gbit/s for GSO: bench/net.ts's linuxFigure).
 */
export function netSeries(rows: NetResult[]): Series[] {
  const linux: Partial<Record<VethResult["kind"], VethResult>> = {};
  for (const r of rows.filter((x) => x.impl === "linux-veth")) {
    linux[r.size === "64" ? "udp64" : "tcp"] = { kind: r.size === "64" ? "udp64" : "tcp", seconds: r.seconds, frames_per_s: r.frames_per_s, gbit_per_s: r.gbit_per_s };
  }
  const fps: Series[] = [], gbps: Series[] = [];
  for (const [config, rs] of groups(rows.filter((r) => r.impl !== "linux-veth"), netConfig)) {
    const x = rs.find((r) => r.impl === "xenwasm"), n = rs.find((r) => r.impl === "native-c");
    const l = linuxFigure(rs[0].size, linux);
    const lf = l?.unit === "frames/s" ? l.value : null, lg = l?.unit === "Gbit/s" ? l.value : null;
    fps.push({ config, metric: "frames per second", unit: "frames/s", xenwasm: x?.frames_per_s ?? null, native: n?.frames_per_s ?? null, linux: lf,
      ratio: x?.ratio_vs_native ?? null, linuxRatio: lf !== null ? x?.ratio_vs_linux ?? null : null });
    gbps.push({ config, metric: "bit rate", unit: "Gbit/s", xenwasm: x?.gbit_per_s ?? null, native: n?.gbit_per_s ?? null, linux: lg,
      ratio: x && n && n.gbit_per_s > 0 ? x.gbit_per_s / n.gbit_per_s : null, linuxRatio: lg !== null ? x?.ratio_vs_linux ?? null : null });
  }
  return [...fps, ...gbps];
}

/**
 * `bench event`'s rows as series: microseconds per round trip per mode and event ABI, each
 * xenwasm row beside the plain native hand-off of its mode ("round-trip time") and beside the
 * native run of Xen's protocol with the same ABI ("round-trip time, Xen's protocol in C").
 */
export function eventSeries(rows: EventResult[]): Series[] {
  const out: Series[] = [], abi: Series[] = [];
  const key = (r: EventResult) => `${r.mode} ${r.evtchn}`;
  const nativeOf = new Map(rows.filter((r) => r.impl === "native-c").map((r) => [key(r), r]));
  const xenwasmOf = new Map(rows.filter((r) => r.impl === "xenwasm").map((r) => [key(r), r]));
  for (const r of rows) {
    if (r.impl === "native-c") {
      // Shown beside xenwasm's rows; alone when xenwasm did not run.
      if (r.evtchn === null ? rows.some((x) => x.impl === "xenwasm" && x.mode === r.mode) : xenwasmOf.has(key(r))) continue;
      (r.evtchn === null ? out : abi).push({ config: r.evtchn === null ? `${r.mode} mode` : `${r.mode} mode, ${r.evtchn}`, metric: r.evtchn === null ? "round-trip time" : "round-trip time, Xen's protocol in C",
        unit: "µs", xenwasm: null, native: r.us_per_round_trip, ratio: null, lowerIsBetter: true });
      continue;
    }
    const config = `${r.mode} mode, ${r.evtchn ?? "fifo"}`;
    out.push({ config, metric: "round-trip time", unit: "µs", xenwasm: r.us_per_round_trip,
      native: nativeOf.get(`${r.mode} null`)?.us_per_round_trip ?? null, ratio: r.ratio_vs_native ?? null, lowerIsBetter: true });
    const same = nativeOf.get(key(r));
    if (same) abi.push({ config, metric: "round-trip time, Xen's protocol in C", unit: "µs", xenwasm: r.us_per_round_trip, native: same.us_per_round_trip, ratio: r.ratio_vs_native_abi ?? null, lowerIsBetter: true });
  }
  return [...out, ...abi];
}
