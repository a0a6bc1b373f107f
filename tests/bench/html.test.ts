// `xenwasm bench ... --html FILE` (bindings/bench/html.ts, docs/benchmarks.md "HTML reports"):
// the page is well-formed and self-contained (no script, nothing loaded from elsewhere), its table
// has a row per configuration and metric, and each chart's bars carry exactly the numbers the same
// command printed with --json. `bench ring` and `bench event` run for real on tiny counts; blk and
// net (fio, iperf3, root) are covered through their adapters on rows of their real JSON shape. A
// wrong --html path is one line and status 2 before anything runs. No timing is asserted.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";
import { benchReportHtml, blkSeries, escapeHtml, eventSeries, netSeries, ringSeries, reportMeta, BLK_REPORT, NET_REPORT, type Series } from "../../dist/bindings/bench/html.js";
import type { NetResult } from "../../dist/bindings/bench/net.js";
import type { EventResult } from "../../dist/bindings/bench/event.js";
import type { RingResult } from "../../dist/bindings/bench/ring.js";

const gcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-html-"));
  try { return f(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

// ---- a strict little HTML reader: every element closed in order, text and attributes escaped ----

interface El { name: string; attrs: Record<string, string>; children: El[]; text: string }

const VOID = new Set(["meta", "br", "hr", "img", "input", "link"]);
const unescape = (s: string) => s.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', "#39": "'", amp: "&" })[e]!);

/** Parses `html` into a tree, failing on a stray `<`, `>` or `&`, a mismatched or unclosed tag, or a malformed attribute. */
function parse(html: string): El {
  const root: El = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const re = /<!DOCTYPE html>|<(\/?)([a-z][a-z0-9-]*)([^<>]*)>/gi;
  let last = 0;
  const text = (s: string) => {
    expect(s, "text holds no raw < or >").not.toMatch(/[<>]/);
    expect(s.replace(/&(lt|gt|quot|#39|amp);/g, ""), "every & in text is an entity").not.toContain("&");
    stack[stack.length - 1].text += unescape(s);
  };
  for (let m = re.exec(html); m; m = re.exec(html)) {
    text(html.slice(last, m.index));
    last = re.lastIndex;
    if (m[0].startsWith("<!")) { expect(m.index, "the doctype comes first").toBe(0); continue; }
    const [, close, name, rest] = m;
    if (close) {
      expect(rest.trim()).toBe("");
      expect(stack.length, `</${name}> closes something`).toBeGreaterThan(1);
      expect(stack.pop()!.name, `</${name}> closes the innermost element`).toBe(name);
      continue;
    }
    const attrs: Record<string, string> = {};
    const left = rest.replace(/\s+([a-z][\w:-]*)(?:="([^"<>]*)")?/gi, (_, k: string, v: string | undefined) => {
      expect(attrs, `<${name}> repeats ${k}`).not.toHaveProperty(k);
      if (v !== undefined) expect(v.replace(/&(lt|gt|quot|#39|amp);/g, ""), `${k}'s & are entities`).not.toContain("&");
      attrs[k] = unescape(v ?? "");
      return "";
    });
    expect(left.trim(), `<${name}${rest}> has only well-formed attributes`).toBe("");
    const el: El = { name, attrs, children: [], text: "" };
    stack[stack.length - 1].children.push(el);
    if (VOID.has(name)) continue;
    stack.push(el);
    if (name === "style") { // raw text up to </style>
      const end = html.indexOf("</style>", last);
      el.text = html.slice(last, end);
      last = re.lastIndex = end;
    }
  }
  text(html.slice(last));
  expect(stack.map((e) => e.name), "every element is closed").toEqual(["#root"]);
  return root;
}

/** Every element under `el` (depth first, document order). */
function all(el: El): El[] {
  return el.children.flatMap((c) => [c, ...all(c)]);
}

/** The whole text under `el`. */
function textOf(el: El): string {
  return el.text + el.children.map(textOf).join("");
}

interface Bar { config: string; series: string; value: number }

/** What a report page shows: its tree, the table's rows per metric, and each chart's bars. */
function readReport(html: string) {
  const doc = parse(html);
  const els = all(doc);
  const head = els.find((e) => e.name === "head")!;
  const table = els.filter((e) => e.name === "table" && e.attrs.id === "results");
  expect(table, "one table#results").toHaveLength(1);
  const rows = all(table[0]).filter((e) => e.name === "tr" && "data-config" in e.attrs);
  const svgs = els.filter((e) => e.name === "svg");
  const charts = new Map<string, { svg: El; bars: Bar[] }>();
  for (const svg of svgs) {
    expect(svg.attrs, "each chart names its metric").toHaveProperty("data-metric");
    expect(charts.has(svg.attrs["data-metric"]), "one chart per metric").toBe(false);
    const bars = all(svg).filter((e) => e.name === "rect" && e.attrs.class === "bar")
      .map((b) => ({ config: b.attrs["data-config"], series: b.attrs["data-series"], value: Number(b.attrs["data-value"]) }));
    charts.set(svg.attrs["data-metric"], { svg, bars });
  }
  return { doc, els, head, rows, charts };
}

/** The checks every page passes: charset, title, self-contained, a legend and axis per chart, a printed value per bar. */
function checkPage(html: string, title: string) {
  const r = readReport(html);
  expect(html.startsWith("<!DOCTYPE html>\n")).toBe(true);
  expect(r.head.children.find((e) => e.name === "meta" && e.attrs.charset === "utf-8"), '<meta charset="utf-8">').toBeDefined();
  expect(r.head.children.filter((e) => e.name === "title").map(textOf)).toEqual([title]);
  // Self-contained: no script, no stylesheet or image from anywhere, no absolute URL at all.
  expect(r.els.filter((e) => ["script", "link", "img", "iframe", "object", "embed", "image", "use"].includes(e.name))).toEqual([]);
  for (const e of r.els) for (const k of ["src", "href", "xlink:href"]) expect(e.attrs, `<${e.name} ${k}>`).not.toHaveProperty(k);
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toMatch(/@import|url\(/);
  for (const [metric, { svg, bars }] of r.charts) {
    const texts = all(svg).filter((e) => e.name === "text");
    expect(texts.some((t) => t.attrs.class === "axis-title" && textOf(t).startsWith(metric)), `${metric}: axis title`).toBe(true);
    expect(all(svg).some((e) => e.attrs.class === "legend"), `${metric}: legend`).toBe(true);
    expect(texts.filter((t) => t.attrs.class === "value"), `${metric}: a printed value per bar`).toHaveLength(bars.length);
    for (const b of bars) expect(Number.isFinite(b.value), `${metric} ${b.config} ${b.series}`).toBe(true);
  }
  return r;
}

/** The bars a metric's chart must have for `rows`: one per implementation that has a value. */
const sortBars = (bars: Bar[]) => [...bars].sort((a, b) => `${a.config}/${a.series}`.localeCompare(`${b.config}/${b.series}`));

describe("bench ring --html", () => {
  const ringLabel = (r: Record<string, unknown>) => `slot ${r.slot}, ${r.ring_pages} page, qd ${r.qd}, ${r.mode}`;

  function checkRing(html: string, rows: Array<Record<string, unknown>>) {
    const page = checkPage(html, "xenwasm bench ring");
    const configs = [...new Set(rows.map(ringLabel))];
    const series = (impl: unknown) => (impl === "xenwasm" ? "xenwasm" : "native");
    // One table row per configuration for requests per second, one per event-mode configuration for notifications.
    expect(page.rows.filter((t) => t.attrs["data-metric"] === "requests per second").map((t) => t.attrs["data-config"])).toEqual(configs);
    expect(page.rows.filter((t) => t.attrs["data-metric"] === "notifications per request").map((t) => t.attrs["data-config"]))
      .toEqual(configs.filter((c) => c.endsWith("event")));
    const want = rows.some((r) => r.mode === "event") ? ["requests per second", "notifications per request"] : ["requests per second"];
    expect([...page.charts.keys()]).toEqual(want);
    expect(sortBars(page.charts.get("requests per second")!.bars)).toEqual(sortBars(rows.map((r) => ({ config: ringLabel(r), series: series(r.impl), value: r.req_per_s as number }))));
    if (want.length > 1) {
      expect(sortBars(page.charts.get("notifications per request")!.bars))
        .toEqual(sortBars(rows.filter((r) => r.mode === "event").map((r) => ({ config: ringLabel(r), series: series(r.impl), value: r.notifies_per_req as number }))));
    }
    // The ratios in the table are the JSON's.
    for (const r of rows.filter((x) => x.impl === "xenwasm" && x.ratio_vs_native != null)) {
      const tr = page.rows.find((t) => t.attrs["data-metric"] === "requests per second" && t.attrs["data-config"] === ringLabel(r))!;
      expect(Number(tr.children.find((c) => c.attrs["data-ratio"] === "native")!.attrs["data-value"])).toBe(r.ratio_vs_native);
    }
    return page;
  }

  it.skipIf(skipWithout(gcc))("writes the page beside --json: a row per configuration, a chart per metric, the JSON's numbers on the bars", () => withDir((dir) => {
    const file = join(dir, "ring.html");
    const r = xenwasm("bench", "ring", "--json", "--requests", "2000", "--runs", "1", "--mode", "poll,event", "--qd", "1,8", "--html", file);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(8);
    expect(r.stderr).toMatch(/^impl +mode +slot/m);
    const page = checkRing(readFileSync(file, "utf8"), rows);
    expect(page.charts.get("requests per second")!.bars.filter((b) => b.series === "native")).toHaveLength(4);
    const meta = textOf(page.els.find((e) => e.name === "dl")!);
    expect(meta).toContain(`xenwasm bench ring --json --requests 2000 --runs 1 --mode poll,event --qd 1,8 --html ${file}`);
    expect(meta).toContain(process.version);
  }));

  it("--impl xenwasm: bars for xenwasm alone, no native column; an old file is replaced, the table still goes to stdout", () => withDir((dir) => {
    const file = join(dir, "ring.html");
    writeFileSync(file, "an older report that is longer than nothing ".repeat(2000));
    const r = xenwasm("bench", "ring", "--impl", "xenwasm", "--requests", "500", "--runs", "1", "--mode", "poll", "--html", file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^impl +mode +slot +pages +qd +requests +runs +req\/s +vs native +notifies\/req +vs native\n/);
    const line = r.stdout.trim().split("\n")[2].split(/ +/);
    const html = readFileSync(file, "utf8");
    expect(html).not.toContain("older report");
    const page = checkPage(html, "xenwasm bench ring");
    const bars = page.charts.get("requests per second")!.bars;
    expect(bars.map((b) => [b.config, b.series])).toEqual([["slot 112, 1 page, qd 32, poll", "xenwasm"]]);
    expect(line.slice(0, 2)).toEqual(["xenwasm", "poll"]);
    expect(page.els.filter((e) => e.name === "th").map(textOf)).not.toContain("native C");
  }));
});

describe("bench event --html", () => {
  it("charts the round-trip time of each event ABI beside the plain native row of its mode and beside Xen's protocol in C, as --json printed them", () => withDir((dir) => {
    const file = join(dir, "event.html");
    const r = xenwasm("bench", "event", "--mode", "event", "--round-trips", "2000", "--runs", "1", "--json", "--html", file);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as EventResult[];
    const page = checkPage(readFileSync(file, "utf8"), "xenwasm bench event");
    const xw = rows.filter((x) => x.impl === "xenwasm"), plain = rows.find((x) => x.impl === "native-c" && x.evtchn === null);
    const sameAbi = (x: EventResult) => rows.find((y) => y.impl === "native-c" && y.evtchn === x.evtchn);
    expect(xw.map((x) => x.evtchn)).toEqual(["fifo", "2l"]);
    expect(page.rows.map((t) => t.attrs["data-config"])).toEqual(["event mode, fifo", "event mode, 2l", "event mode, fifo", "event mode, 2l"]);
    expect([...page.charts.keys()]).toEqual(["round-trip time", "round-trip time, Xen's protocol in C"]);
    const bars = (ref: (x: EventResult) => EventResult | undefined): Bar[] => xw.flatMap((x) => [
      { config: `event mode, ${x.evtchn}`, series: "xenwasm", value: x.us_per_round_trip },
      ...(ref(x) ? [{ config: `event mode, ${x.evtchn}`, series: "native", value: ref(x)!.us_per_round_trip }] : []),
    ]);
    expect(sortBars(page.charts.get("round-trip time")!.bars)).toEqual(sortBars(bars(() => plain)));
    expect(sortBars(page.charts.get("round-trip time, Xen's protocol in C")!.bars)).toEqual(sortBars(bars(sameAbi)));
  }), 120_000);
});

describe("a wrong --html path: one line, status 2, before anything runs", () => {
  const benches = ["ring", "blk", "net", "event"];
  it.each(benches)("bench %s --html in a missing directory", (bench) => {
    const path = "/nonexistent-xenwasm-dir/report.html";
    const r = xenwasm("bench", bench, "--html", path, "--runs", "1");
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`xenwasm: bench ${bench}: --html ${path}: cannot write it: its directory does not exist\n`);
    expect(r.status).toBe(2);
  });

  it.each(benches)("bench %s --html on a directory", (bench) => withDir((dir) => {
    const r = xenwasm("bench", bench, "--html", dir);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`xenwasm: bench ${bench}: --html ${dir}: cannot write it: it is a directory\n`);
    expect(r.status).toBe(2);
  }));

  it("--html without a value is the usual missing-value line", () => {
    const r = xenwasm("bench", "ring", "--html");
    expect(r.stderr).toBe("xenwasm: bench ring: --html needs a value\n");
    expect(r.status).toBe(2);
  });

  it.skipIf(skipWithout(gcc))("a run that fails after the check leaves no new file behind, and an old one as it was", () => withDir((dir) => {
    // A cache folder that cannot be made fails the run when it builds the native reference (status 1).
    const run = (file: string) => spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), "bench", "ring", "--requests", "100", "--runs", "1", "--html", file],
      { encoding: "utf8", cwd: ROOT, timeout: 60_000, env: { ...process.env, XENWASM_CACHE_DIR: "/dev/null/xenwasm" } });
    const fresh = join(dir, "new.html"), old = join(dir, "old.html");
    const r = run(fresh);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^xenwasm: .*\/dev\/null\/xenwasm.*\n$/m);
    expect(existsSync(fresh)).toBe(false);
    writeFileSync(old, "the last report");
    expect(run(old).status).toBe(1);
    expect(readFileSync(old, "utf8")).toBe("the last report");
  }));
});

const META = { command: "xenwasm bench test", date: "2026-12-01T00:00:00.000Z", node: "v20.0.0", cpu: "Test CPU", cores: 2, os: "Linux 6 x64" };

describe("the page generator", () => {
  it("escapes every text: labels, metric, unit, title, metadata, notes", () => {
    const nasty = `a<b & "c'>`;
    const series: Series[] = [
      { config: nasty, metric: `m<1>&"`, unit: `u<&>`, xenwasm: 3, native: 4, linux: 5, ratio: 0.75, linuxRatio: 0.6 },
      { config: "plain", metric: `m<1>&"`, unit: `u<&>`, xenwasm: 1, native: null, ratio: null },
    ];
    const html = benchReportHtml(`T <&> "x"`, { ...META, command: `xenwasm bench ring --html '<x>&.html'`, cpu: "<cpu>" }, series,
      { notes: ["note <&>"], about: "about <&>", labels: { linux: "L<&>" }, raw: [{ k: "</pre><script>" }] });
    expect(html).toContain("a&lt;b &amp; &quot;c&#39;&gt;");
    expect(html).not.toContain("a<b");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<cpu>");
    expect(html).toContain("&lt;/pre&gt;&lt;script&gt;");
    const page = checkPage(html, `T <&> "x"`);
    expect(page.rows.map((t) => t.attrs["data-config"])).toEqual([nasty, "plain"]);
    expect([...page.charts.keys()]).toEqual([`m<1>&"`]);
    expect(page.charts.get(`m<1>&"`)!.bars).toEqual([
      { config: nasty, series: "xenwasm", value: 3 }, { config: nasty, series: "native", value: 4 }, { config: nasty, series: "linux", value: 5 },
      { config: "plain", series: "xenwasm", value: 1 },
    ]);
    expect(textOf(page.doc)).toContain("note <&>");
    expect(escapeHtml(`<&>"'`)).toBe("&lt;&amp;&gt;&quot;&#39;");
  });

  it("gives a page without rows a table and no chart", () => {
    const page = checkPage(benchReportHtml("empty", META, []), "empty");
    expect(page.charts.size).toBe(0);
  });

  it("quotes the command line for a shell", () => {
    expect(reportMeta(["bench", "blk", "--front", "persistent=0 queues=2", "--html", "it's.html"]).command)
      .toBe(`xenwasm bench blk --front 'persistent=0 queues=2' --html 'it'\\''s.html'`);
  });
});

describe("the adapters of blk and net (rows of their real JSON shape)", () => {
  // `bench blk --workload 4k-randread-qd32,64k-read-qd32 --runs 1 --ops 400 --disk-mib 4 --fio-seconds 1 --json`
  const blkRows = [
    { impl: "xenwasm", workload: "4k-randread-qd32", mode: "randread", bs: 4096, qd: 32, poll: true, ops: 400, seconds: 0.103569993, iops: 3862.1224971985853, mb_per_s: 15.819253748525405, notifies_per_op: 0.23, grant_ops_per_op: 0.32, bytes_copied_per_op: 8192, verified_sectors: 3200, runs: 1, fio_psync_iops: 561789.210789, fio_io_uring_iops: 319022.977023, ratio_vs_fio: 0.006874682573156684 },
    { impl: "xenwasm", workload: "4k-randread-qd32", mode: "randread", bs: 4096, qd: 32, poll: false, ops: 400, seconds: 0.018880784, iops: 21185.560938571194, mb_per_s: 86.77605760438762, notifies_per_op: 0.26, grant_ops_per_op: 0.56, bytes_copied_per_op: 8192, verified_sectors: 3200, runs: 1, fio_psync_iops: 561789.210789, fio_io_uring_iops: 319022.977023, ratio_vs_fio: 0.03771087185675445 },
    { impl: "xenwasm", workload: "64k-read-qd32", mode: "read", bs: 65536, qd: 32, poll: true, ops: 400, seconds: 0.059408062, iops: 6733.092892341784, mb_per_s: 441.25997579251117, notifies_per_op: 0.1875, grant_ops_per_op: 5.3, bytes_copied_per_op: 131072, verified_sectors: 51200, runs: 1 },
  ] as const;

  it("blk: IOPS beside fio's better engine with ratio_vs_fio, MB/s alone; no native column", () => {
    const series = blkSeries(blkRows.map((r) => ({ ...r })));
    expect(series.filter((s) => s.unit === "IOPS").map((s) => [s.config, s.xenwasm, s.native, s.linux, s.linuxRatio])).toEqual([
      ["4k-randread-qd32, poll", 3862.1224971985853, null, 561789.210789, 0.006874682573156684],
      ["4k-randread-qd32, event", 21185.560938571194, null, 561789.210789, 0.03771087185675445],
      ["64k-read-qd32, poll", 6733.092892341784, null, null, null],
    ]);
    expect(series.filter((s) => s.unit === "MB/s").map((s) => s.xenwasm)).toEqual(blkRows.map((r) => r.mb_per_s));
    const page = checkPage(benchReportHtml("xenwasm bench blk", META, series, BLK_REPORT), "xenwasm bench blk");
    const heads = page.els.filter((e) => e.name === "thead").flatMap((h) => all(h)).filter((e) => e.name === "th").map(textOf);
    expect(heads).toEqual(["configuration", "xenwasm", "Linux (fio)", "vs Linux (fio)"]);
    expect(page.charts.get("I/O operations per second")!.bars.filter((b) => b.series === "linux").map((b) => b.value)).toEqual([561789.210789, 561789.210789]);
    expect(page.charts.get("throughput")!.bars.map((b) => b.series)).toEqual(["xenwasm", "xenwasm", "xenwasm"]);
    expect(page.rows.filter((t) => t.attrs["data-metric"] === "I/O operations per second")).toHaveLength(3);
  });

  // `bench net --workload guest-guest,guest-sink --size 64,gso --mode event --frames 2000 --runs 1 --linux-seconds 1 --json` (as root), two configurations of it.
  const netRows = [
    { impl: "native-c", workload: "guest-guest", size: "64", frame_len: 64, mode: "event", queues: 1, frames: 2000, runs: 1, seconds: 0.001946983, frames_per_s: 1027230.3353444791, gbit_per_s: 0.5259419316963733, notifies_per_frame: 0.0165, grant_ops_per_frame: 1, bytes_copied_per_frame: 64, runs_frames_per_s: [1027230.3353444791] },
    { impl: "xenwasm", workload: "guest-guest", size: "64", frame_len: 64, mode: "event", queues: 1, frames: 2000, runs: 1, seconds: 0.048438, frames_per_s: 41289.89636236013, gbit_per_s: 0.021140426937528385, notifies_per_frame: 0.37, grant_ops_per_frame: 2.004, bytes_copied_per_frame: 128.12, runs_frames_per_s: [41289.89636236013], ratio_vs_native: 0.04019536314463851, ratio_vs_linux: 0.24667482679697308 },
    { impl: "native-c", workload: "guest-sink", size: "gso", frame_len: 65535, mode: "event", queues: 1, frames: 2000, runs: 1, seconds: 0.07563429, frames_per_s: 26443.032650931207, gbit_per_s: 13.863553158230214, notifies_per_frame: 0.192, grant_ops_per_frame: 16, bytes_copied_per_frame: 65535, runs_frames_per_s: [26443.032650931207] },
    { impl: "xenwasm", workload: "guest-sink", size: "gso", frame_len: 65535, mode: "event", queues: 1, frames: 2000, runs: 1, seconds: 0.357193, frames_per_s: 5599.2138703726, gbit_per_s: 2.9331369875669457, notifies_per_frame: 0.462, grant_ops_per_frame: 32.0585, bytes_copied_per_frame: 65678, runs_frames_per_s: [5599.2138703726], ratio_vs_native: 0.21174628282189184, ratio_vs_linux: 0.30392066957886754 },
    { impl: "linux-veth", workload: "guest-guest", size: "64", frame_len: 64, mode: "event", queues: 1, frames: 167440, runs: 1, seconds: 1.000323, frames_per_s: 167385.93434320713, gbit_per_s: 0.08034524848473942, notifies_per_frame: null, grant_ops_per_frame: null, bytes_copied_per_frame: null, runs_frames_per_s: [] },
    { impl: "linux-veth", workload: "guest-guest", size: "gso", frame_len: 65535, mode: "event", queues: 1, frames: 22794, runs: 1, seconds: 1.003161, frames_per_s: 22722.175204179588, gbit_per_s: 9.650995411504237, notifies_per_frame: null, grant_ops_per_frame: null, bytes_copied_per_frame: null, runs_frames_per_s: [] },
  ] as NetResult[];

  it("net: frames/s and Gbit/s beside native C, and Linux's veth figure where the command compared with it", () => {
    const series = netSeries(netRows);
    const pick = (unit: string) => series.filter((s) => s.unit === unit).map((s) => [s.config, s.xenwasm, s.native, s.linux, s.ratio, s.linuxRatio]);
    expect(pick("frames/s")).toEqual([
      ["guest-guest, 64 B, event, 1 queue", 41289.89636236013, 1027230.3353444791, 167385.93434320713, 0.04019536314463851, 0.24667482679697308],
      ["guest-sink, gso, event, 1 queue", 5599.2138703726, 26443.032650931207, null, 0.21174628282189184, null],
    ]);
    expect(pick("Gbit/s")).toEqual([
      ["guest-guest, 64 B, event, 1 queue", 0.021140426937528385, 0.5259419316963733, null, 0.021140426937528385 / 0.5259419316963733, null],
      ["guest-sink, gso, event, 1 queue", 2.9331369875669457, 13.863553158230214, 9.650995411504237, 2.9331369875669457 / 13.863553158230214, 0.30392066957886754],
    ]);
    const page = checkPage(benchReportHtml("xenwasm bench net", META, series, NET_REPORT), "xenwasm bench net");
    expect([...page.charts.keys()]).toEqual(["frames per second", "bit rate"]);
    expect(page.charts.get("frames per second")!.bars.map((b) => `${b.series}=${b.value}`)).toEqual([
      "xenwasm=41289.89636236013", "native=1027230.3353444791", "linux=167385.93434320713", "xenwasm=5599.2138703726", "native=26443.032650931207",
    ]);
    expect(page.rows).toHaveLength(4);
    expect(textOf(page.doc)).toContain("Linux (veth, iperf3)");
  });

  it("ring and event: a reference that did not run leaves its bars out", () => {
    const ring = ringSeries([{ impl: "xenwasm", slot: 8, ring_pages: 2, ring_size: 256, qd: 16, mode: "event", requests: 10, runs: 1, seconds: 1, req_per_s: 10, notifies_per_req: 0.5, notifies_front: 3, notifies_back: 2, runs_req_per_s: [10], ratio_vs_native: null, notifies_ratio_vs_native: null }] as RingResult[]);
    expect(ring.map((s) => [s.config, s.unit, s.xenwasm, s.native, s.ratio])).toEqual([["slot 8, 2 pages, qd 16, event", "req/s", 10, null, null], ["slot 8, 2 pages, qd 16, event", "notifies/req", 0.5, null, null]]);
    const ev = eventSeries([{ impl: "native-c", mode: "spin", evtchn: null, round_trips: 5, runs: 1, us_per_round_trip: 0.4, round_trips_per_s: 2.5e6, notifies_per_round_trip: 2, runs_us: [0.4] }] as EventResult[]);
    expect(ev.map((s) => [s.config, s.xenwasm, s.native, s.lowerIsBetter])).toEqual([["spin mode", null, 0.4, true]]);
    const page = checkPage(benchReportHtml("e", META, ev), "e");
    expect(page.charts.get("round-trip time")!.bars.map((b) => b.series)).toEqual(["native"]);
  });
});
