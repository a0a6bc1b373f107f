// `xenwasm bench`: the benchmarks (docs/benchmarks.md). `bench ring` compares the shared ring of
// assembly/ring.ts between two domains with a native C reference of io/ring.h; `bench blk` and
// `bench net` (bench-blk.ts, bench-net.ts) measure the split drivers.
import { benchOutput, loadNote, si } from "../bench/common.js";
import { RING_REPORT, benchReportHtml, openReport, reportMeta, ringSeries } from "../bench/html.js";
import { NativeError } from "../bench/native.js";
import { GuestLoadError } from "../runner/guest.js";
import { RING_LIMITS, RingBenchError, benchRing, ringSize, type RingConfig, type RingImpl, type RingMode, type RingResult } from "../bench/ring.js";
import { UsageError } from "./errors.js";
import { optionParsers } from "./args.js";
import { tokenize, usage, type CommandSpec } from "./options.js";
import { BENCH_BLK_USAGE, benchBlkCommand } from "./bench-blk.js";
import { BENCH_NET_USAGE, benchNetCommand } from "./bench-net.js";
import { BENCH_EVENT_USAGE, benchEventCommand } from "./bench-event.js";

/** `xenwasm bench ring`'s options (`xenwasm help bench ring`). */
export const BENCH_RING_SPEC: CommandSpec = {
  name: "bench ring",
  summary: "the shared ring between two domains, next to a native C reference",
  about: "a front and a back domain echo requests through one shared ring (threaded runner), next to the native C reference (two pthreads, gcc -O2); --slot, --ring-pages, --qd, --mode and --impl take comma-separated lists (every combination runs); the table goes to stdout (stderr with --json, which prints a JSON array on stdout), progress to stderr",
  options: [
    { name: "slot", value: "BYTES", help: "bytes per slot, 8..4032, a multiple of 8 (default 112, a blkif request)" },
    { name: "ring-pages", value: "N", help: "ring pages, 1..16 (default 1)" },
    { name: "qd", value: "N", help: "requests in flight, at most the ring's slots (default 32)" },
    { name: "mode", value: "poll|event", help: "spinning sides, or event channels with 30 us of polling before sleeping (default both)" },
    { name: "requests", value: "N", help: "requests per run (default 500000)" },
    { name: "runs", value: "N", help: "runs of each implementation; the table gives medians (default 3)" },
    { name: "impl", value: "xenwasm|native-c", help: "which implementations run (default both)" },
    { name: "json", help: "a JSON array on stdout" },
    { name: "html", value: "FILE", help: "also write the results as one self-contained HTML page (table and SVG charts, no external resources) to FILE" },
  ],
};

/** Usage text of `xenwasm bench ring`. */
export const BENCH_RING_USAGE = usage(BENCH_RING_SPEC);

/** The parsed options of `xenwasm bench ring`. */
export interface BenchRingArgs { configs: RingConfig[]; runs: number; impls: RingImpl[]; json: boolean; html: string | null }

const { fail, number, numbers, words } = optionParsers("bench ring");

/** Parses the arguments of `xenwasm bench ring`; throws UsageError with one line. */
export function parseBenchRingArgs(argv: string[]): BenchRingArgs {
  let slots = [112], pages = [1], qds = [32], modes: RingMode[] = ["poll", "event"], impls: RingImpl[] = ["native-c", "xenwasm"];
  let requests = 500_000, runs = 3, json = false, html: string | null = null;
  for (const t of tokenize(BENCH_RING_SPEC, argv)) {
    if (t.kind === "positional") { fail(`unexpected argument '${t.value}'`); continue; }
    const arg = `--${t.name}`, v = t.value!;
    switch (t.name) {
      case "slot": slots = numbers(arg, v, RING_LIMITS.slotMin, RING_LIMITS.slotMax); break;
      case "ring-pages": pages = numbers(arg, v, 1, RING_LIMITS.pagesMax); break;
      case "qd": qds = numbers(arg, v, 1, 4096); break;
      case "mode": modes = words(arg, v, ["poll", "event"] as const); break;
      case "impl": impls = words(arg, v, ["native-c", "xenwasm"] as const); break;
      case "requests": requests = number(arg, v, 1, RING_LIMITS.requestsMax); break;
      case "runs": runs = number(arg, v, 1, 100); break;
      case "json": json = true; break;
      case "html": html = v; break;
    }
  }
  for (const s of slots) if (s % 8) fail(`--slot must be a multiple of 8 (a u64 id, then u64 payload words), not '${s}'`);
  impls = (["native-c", "xenwasm"] as const).filter((i) => impls.includes(i));
  const configs: RingConfig[] = [];
  for (const slot of slots) for (const ringPages of pages) for (const qd of qds) {
    const size = ringSize(slot, ringPages);
    if (qd > size) fail(`--qd ${qd} exceeds the ring's ${size} slots (--slot ${slot} --ring-pages ${ringPages})`);
    for (const mode of modes) configs.push({ slot, ringPages, qd, requests, mode });
  }
  return { configs, runs, impls, json, html };
}

const ratio = (r: RingResult, key: "ratio_vs_native" | "notifies_ratio_vs_native") => (r[key] == null ? "" : `${r[key]!.toFixed(2)}x`);

/** The columns of the ring table. */
const COLUMNS = [
  { title: "impl", value: (r: RingResult) => r.impl, left: true },
  { title: "mode", value: (r: RingResult) => r.mode, left: true },
  { title: "slot", value: (r: RingResult) => String(r.slot) },
  { title: "pages", value: (r: RingResult) => String(r.ring_pages) },
  { title: "qd", value: (r: RingResult) => String(r.qd) },
  { title: "requests", value: (r: RingResult) => String(r.requests) },
  { title: "runs", value: (r: RingResult) => String(r.runs) },
  { title: "req/s", value: (r: RingResult) => si(r.req_per_s) },
  { title: "vs native", value: (r: RingResult) => ratio(r, "ratio_vs_native") },
  { title: "notifies/req", value: (r: RingResult) => r.notifies_per_req.toFixed(4) },
  { title: "vs native", value: (r: RingResult) => ratio(r, "notifies_ratio_vs_native") },
];

/** Runs `xenwasm bench ring` with `argv`; returns the exit status. */
export async function benchRingCommand(argv: string[]): Promise<number> {
  const a = parseBenchRingArgs(argv);
  // A wrong --html path fails here, before anything is measured.
  const report = a.html === null ? null : openReport(a.html, fail);
  const meta = reportMeta(["bench", "ring", ...argv]), notes = [loadNote()].filter((n): n is string => n !== null);
  const { err, table } = benchOutput("bench ring", COLUMNS, a.json, [8, 5, 4, 5, 3, 8, 4, 8]);
  const results = await benchRing({ configs: a.configs, runs: a.runs, impls: a.impls }, (p) => {
    if (p.kind === "no-native") { err(`xenwasm: bench ring: ${p.reason}`); notes.push(p.reason); }
    else if (p.kind === "run") {
      const c = p.cfg;
      err(`xenwasm: bench ring: ${p.impl} ${c.mode} slot=${c.slot} pages=${c.ringPages} qd=${c.qd}: run ${p.run}/${p.runs}: ` +
        `${si(c.requests / p.sample.seconds)} req/s, ${((p.sample.notifiesFront + p.sample.notifiesBack) / c.requests).toFixed(4)} notifies/req`);
    } else table.row(p.result);
  }).catch((e: Error) => {
    report?.abandon();
    // A failed check or a broken reference: one line, exit status 1 (bin/xenwasm.js prints it).
    if (e instanceof RingBenchError || e instanceof NativeError) throw new Error(`bench ring: ${e.message}`);
    if (e instanceof GuestLoadError) throw new Error(`bench ring: ${e.message} (run 'npm run build' first)`);
    throw e;
  });
  if (a.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  report?.write(benchReportHtml("xenwasm bench ring", meta, ringSeries(results), { ...RING_REPORT, notes, raw: results }));
  return 0;
}

/** Usage of `xenwasm bench`: the usage of each benchmark. */
export const BENCH_USAGE = [BENCH_RING_USAGE, BENCH_BLK_USAGE, BENCH_NET_USAGE, BENCH_EVENT_USAGE].join("\n");

/** Runs `xenwasm bench <benchmark> ...`; returns the exit status. */
export async function bench(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  switch (which) {
    case "ring": return benchRingCommand(rest);
    case "blk": return benchBlkCommand(rest);
    case "net": return benchNetCommand(rest);
    case "event": return benchEventCommand(rest);
    case undefined: throw new UsageError("bench: which benchmark? (xenwasm bench ring|blk|net|event [options])");
    default: throw new UsageError(`bench: unknown benchmark '${which}' (expected 'ring', 'blk', 'net' or 'event')`);
  }
}
