// `xenwasm bench blk`: blkfront against dom0's blkback over a RAM disk (bindings/bench/blk.ts),
// with a progressive table or JSON.
import { benchOutput, loadNote, median, si, ROOT } from "../bench/common.js";
import { BLK_REPORT, benchReportHtml, blkSeries, openReport, reportMeta } from "../bench/html.js";
import { BLK_WORKLOADS, runBlkWorkload, type BlkResult, type BlkWorkload } from "../bench/blk.js";
import { optionParsers } from "./args.js";
import { fioUnavailable, runFio, type FioEngine } from "../bench/fio.js";
import { tokenize, usage, type CommandSpec } from "./options.js";

/** `xenwasm bench blk`'s options (`xenwasm help bench blk`). */
export const BENCH_BLK_SPEC: CommandSpec = {
  name: "bench blk",
  summary: "blkfront against dom0's blkback over a RAM disk",
  about: "blkfront (a guest) against dom0's blkback over a RAM disk, threaded runner; the table goes to stdout (stderr with --json, which prints a JSON array on stdout), progress to stderr",
  options: [
    { name: "workload", value: "NAME,...", help: `${BLK_WORKLOADS.map((w) => w.name).join(", ")} (default: all)` },
    { name: "mode", value: "poll|event", help: "a list (default poll,event)" },
    { name: "ops", value: "N", help: "requests per run (default 200000; a quarter at queue depth 1)" },
    { name: "runs", value: "N", help: "runs per workload and mode; the median is reported (default 3)" },
    { name: "disk-mib", value: "N", help: "the RAM disk's size (default 256)" },
    { name: "front", value: "STR", help: "blkfront's options, e.g. \"persistent=0\"" },
    { name: "back", value: "STR", help: "dom0's command line, e.g. \"features=none\"" },
    { name: "fio-seconds", value: "N", help: "seconds of each fio run (Linux's own block path on a tmpfs file, psync and io_uring; default 2)" },
    { name: "no-fio", help: "no fio measurement" },
    { name: "json", help: "a JSON array on stdout" },
    { name: "html", value: "FILE", help: "also write the results as one self-contained HTML page (table and SVG charts, no external resources) to FILE" },
  ],
};

/** Usage text of `xenwasm bench blk`. */
export const BENCH_BLK_USAGE = usage(BENCH_BLK_SPEC);

/** The parsed options of `xenwasm bench blk`. */
export interface BenchBlkArgs { workloads: BlkWorkload[]; modes: Array<"poll" | "event">; ops: number; runs: number; diskMiB: number; front: string; back: string; json: boolean; fioSeconds: number | null; html: string | null }

const { fail, number, words } = optionParsers("bench blk");

/** Parses the arguments of `xenwasm bench blk`; throws UsageError with one line. */
export function parseBenchBlkArgs(argv: string[]): BenchBlkArgs {
  const a: BenchBlkArgs = { workloads: BLK_WORKLOADS, modes: ["poll", "event"], ops: 200_000, runs: 3, diskMiB: 256, front: "", back: "", json: false, fioSeconds: 2, html: null };
  for (const t of tokenize(BENCH_BLK_SPEC, argv)) {
    if (t.kind === "positional") { fail(`unexpected argument '${t.value}'`); continue; }
    const arg = `--${t.name}`, v = t.value!;
    switch (t.name) {
      case "workload":
        a.workloads = v.split(",").map((n) => BLK_WORKLOADS.find((w) => w.name === n) ?? fail(`unknown workload '${n}' (expected ${BLK_WORKLOADS.map((w) => w.name).join(", ")})`));
        break;
      case "mode": a.modes = words(arg, v, ["poll", "event"] as const); break;
      case "ops": a.ops = number(arg, v, 1, 100_000_000); break;
      case "runs": a.runs = number(arg, v, 1, 100); break;
      case "disk-mib": a.diskMiB = number(arg, v, 1, 4096); break;
      case "front": a.front = v; break;
      case "back": a.back = v; break;
      case "fio-seconds": a.fioSeconds = number(arg, v, 1, 60); break;
      case "no-fio": a.fioSeconds = null; break;
      case "json": a.json = true; break;
      case "html": a.html = v; break;
    }
  }
  for (const w of a.workloads) if (w.bs > a.diskMiB << 20) fail(`--disk-mib ${a.diskMiB} is smaller than one ${w.bs}-byte block`);
  return a;
}

/** A workload's median figures over its runs, and fio's on the same workload (when it ran). */
export type BlkRow = BlkResult & { runs: number; fio_psync_iops?: number | null; fio_io_uring_iops?: number | null; ratio_vs_fio?: number | null };

const fioCell = (v: number | null | undefined) => (v == null ? "" : si(v));

const COLUMNS = [
  { title: "workload", value: (r: BlkRow) => r.workload, left: true },
  { title: "mode", value: (r: BlkRow) => (r.poll ? "poll" : "event"), left: true },
  { title: "ops", value: (r: BlkRow) => String(r.ops) },
  { title: "runs", value: (r: BlkRow) => String(r.runs) },
  { title: "IOPS", value: (r: BlkRow) => si(r.iops) },
  { title: "MB/s", value: (r: BlkRow) => r.mb_per_s.toFixed(0) },
  { title: "notifies/op", value: (r: BlkRow) => r.notifies_per_op.toFixed(3) },
  { title: "grant ops/op", value: (r: BlkRow) => r.grant_ops_per_op.toFixed(3) },
  { title: "bytes copied/op", value: (r: BlkRow) => r.bytes_copied_per_op.toFixed(0) },
  { title: "fio psync", value: (r: BlkRow) => fioCell(r.fio_psync_iops) },
  { title: "fio io_uring", value: (r: BlkRow) => fioCell(r.fio_io_uring_iops) },
  { title: "vs fio", value: (r: BlkRow) => (r.ratio_vs_fio == null ? "" : `${r.ratio_vs_fio.toFixed(2)}x`) },
];

/** Runs `xenwasm bench blk` with `argv`; returns the exit status. */
export async function benchBlkCommand(argv: string[]): Promise<number> {
  const a = parseBenchBlkArgs(argv);
  // A wrong --html path fails here, before anything is measured.
  const report = a.html === null ? null : openReport(a.html, fail);
  const meta = reportMeta(["bench", "blk", ...argv]), notes = [loadNote()].filter((n): n is string => n !== null);
  try {
    const rows = await measureBlk(a, notes);
    report?.write(benchReportHtml("xenwasm bench blk", meta, blkSeries(rows), { ...BLK_REPORT, notes, raw: rows }));
    return 0;
  } catch (e) {
    report?.abandon();
    throw e;
  }
}

/** Runs the workloads of `a` (fio first), printing the table or the JSON; returns the rows and adds what was not measured to `notes`. */
async function measureBlk(a: BenchBlkArgs, notes: string[]): Promise<BlkRow[]> {
  const { err, table } = benchOutput("bench blk", COLUMNS, a.json, [18, 5, 7, 4, 8, 6]);
  const rows: BlkRow[] = [];
  // Linux's own path on the same workloads (4 KiB random I/O), once per workload: the median of --runs.
  const fio = new Map<string, { psync: number; io_uring: number }>();
  if (a.fioSeconds !== null) {
    const why = fioUnavailable();
    if (why) { err(`xenwasm: bench blk: fio is not measured: ${why}`); notes.push(`fio is not measured: ${why}`); }
    else for (const w of a.workloads.filter((x) => x.bs === 4096)) {
      const runs = (engine: FioEngine) => median(Array.from({ length: a.runs }, () => runFio(w, engine, a.diskMiB, a.fioSeconds!)));
      const f = { psync: runs("psync"), io_uring: runs("io_uring") };
      fio.set(w.name, f);
      err(`xenwasm: bench blk: fio ${w.name}: psync ${si(f.psync)} IOPS, io_uring ${si(f.io_uring)} IOPS`);
    }
  }
  for (const w of a.workloads) for (const mode of a.modes) {
    const samples: BlkResult[] = [];
    const ops = w.qd === 1 ? Math.max(1, Math.floor(a.ops / 4)) : a.ops;
    for (let run = 1; run <= a.runs; run++) {
      let r: BlkResult;
      try {
        r = await runBlkWorkload(w, { root: ROOT, ops, diskMiB: a.diskMiB, poll: mode === "poll", frontCmdline: a.front, backendCmdline: a.back });
      } catch (e) {
        throw new Error(`bench blk: ${(e as Error).message}`);
      }
      samples.push(r);
      err(`xenwasm: bench blk: ${w.name} ${mode}: run ${run}/${a.runs}: ${si(r.iops)} IOPS, ${r.mb_per_s.toFixed(0)} MB/s`);
    }
    // The median run by time; its counters are reported with it.
    const mid = median(samples.map((s) => s.seconds));
    const pick = samples.reduce((b, s) => (Math.abs(s.seconds - mid) < Math.abs(b.seconds - mid) ? s : b));
    const row: BlkRow = { ...pick, seconds: mid, iops: pick.ops / mid, mb_per_s: (pick.ops * pick.bs) / mid / 1e6, runs: a.runs };
    const f = fio.get(w.name);
    if (f) Object.assign(row, { fio_psync_iops: f.psync, fio_io_uring_iops: f.io_uring, ratio_vs_fio: row.iops / Math.max(f.psync, f.io_uring) });
    rows.push(row);
    table.row(row);
  }
  if (a.json) process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
  return rows;
}
