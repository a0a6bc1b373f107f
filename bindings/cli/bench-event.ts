// `xenwasm bench event`: event-channel round trips between two domains beside the native C
// reference of the same hand-off (bindings/bench/event.ts), with a progressive table or JSON.
import { benchOutput, loadNote, si } from "../bench/common.js";
import { EVENT_REPORT, benchReportHtml, eventSeries, openReport, reportMeta } from "../bench/html.js";
import { NativeError } from "../bench/native.js";
import { EventBenchError, benchEvent, type EventAbi, type EventConfig, type EventImpl, type EventMode, type EventResult } from "../bench/event.js";
import { optionParsers } from "./args.js";
import { tokenize, usage, type CommandSpec } from "./options.js";

/** `xenwasm bench event`'s options (`xenwasm help bench event`). */
export const BENCH_EVENT_SPEC: CommandSpec = {
  name: "bench event",
  summary: "event-channel round trips between two domains, next to native C threads",
  about: "two domains (examples/pingpong.ts, threaded runner) bounce a counter through a granted page with a notification each way per round trip, next to two native C references between two pthreads (gcc -O2): the plain hand-off (a pending word per side; evtchn column empty) and the same hand-off through Xen's own 2-level or FIFO event protocol (evtchn column set); the table goes to stdout (stderr with --json, which prints a JSON array on stdout), progress to stderr",
  options: [
    { name: "mode", value: "event|spin", help: "event: a side sleeps after 30 us of polling (both implementations); spin: nobody sleeps (default both)" },
    { name: "round-trips", value: "N", help: "round trips per run (default 100000)" },
    { name: "runs", value: "N", help: "runs of each implementation; rows are medians (default 3)" },
    { name: "impl", value: "xenwasm|native-c", help: "which implementations run (default both; native-c is both references)" },
    { name: "evtchn", value: "fifo|2l", help: "the event-channel ABI of xenwasm's domains and of the Xen-protocol reference: FIFO (the SDK's default) and/or 2-level (default both)" },
    { name: "json", help: "a JSON array on stdout" },
    { name: "html", value: "FILE", help: "also write the results as one self-contained HTML page (table and SVG charts, no external resources) to FILE" },
  ],
};

/** Usage text of `xenwasm bench event`. */
export const BENCH_EVENT_USAGE = usage(BENCH_EVENT_SPEC);

const { fail, number, words } = optionParsers("bench event");

/** Parses the arguments of `xenwasm bench event`; throws UsageError with one line. */
export function parseBenchEventArgs(argv: string[]): { configs: EventConfig[]; runs: number; impls: EventImpl[]; json: boolean; html: string | null } {
  let modes: EventMode[] = ["event", "spin"], impls: EventImpl[] = ["native-c", "xenwasm"], roundTrips = 100_000, runs = 3, json = false;
  let html: string | null = null;
  let abis: EventAbi[] = ["fifo", "2l"];
  for (const t of tokenize(BENCH_EVENT_SPEC, argv)) {
    if (t.kind === "positional") { fail(`unexpected argument '${t.value}'`); continue; }
    const arg = `--${t.name}`, v = t.value!;
    switch (t.name) {
      case "mode": modes = words(arg, v, ["event", "spin"] as const); break;
      case "round-trips": roundTrips = number(arg, v, 1, 1_000_000_000); break;
      case "runs": runs = number(arg, v, 1, 100); break;
      case "impl": impls = words(arg, v, ["native-c", "xenwasm"] as const); break;
      case "evtchn": abis = words(arg, v, ["fifo", "2l"] as const); break;
      case "json": json = true; break;
      case "html": html = v; break;
    }
  }
  impls = (["native-c", "xenwasm"] as const).filter((i) => impls.includes(i));
  return { configs: modes.flatMap((mode) => abis.map((evtchn) => ({ mode, roundTrips, evtchn }))), runs, impls, json, html };
}

const COLUMNS = [
  { title: "impl", value: (r: EventResult) => r.impl, left: true },
  { title: "mode", value: (r: EventResult) => r.mode, left: true },
  { title: "evtchn", value: (r: EventResult) => r.evtchn ?? "", left: true },
  { title: "round trips", value: (r: EventResult) => String(r.round_trips) },
  { title: "runs", value: (r: EventResult) => String(r.runs) },
  { title: "us/round trip", value: (r: EventResult) => r.us_per_round_trip.toFixed(3) },
  { title: "round trips/s", value: (r: EventResult) => si(r.round_trips_per_s) },
  { title: "vs native", value: (r: EventResult) => (r.ratio_vs_native == null ? "" : `${r.ratio_vs_native.toFixed(2)}x`) },
  { title: "vs native same ABI", value: (r: EventResult) => (r.ratio_vs_native_abi == null ? "" : `${r.ratio_vs_native_abi.toFixed(2)}x`) },
  { title: "notifies/rt", value: (r: EventResult) => r.notifies_per_round_trip.toFixed(2) },
];

/** Runs `xenwasm bench event` with `argv`; returns the exit status. */
export async function benchEventCommand(argv: string[]): Promise<number> {
  const a = parseBenchEventArgs(argv);
  // A wrong --html path fails here, before anything is measured.
  const report = a.html === null ? null : openReport(a.html, fail);
  const meta = reportMeta(["bench", "event", ...argv]), notes = [loadNote()].filter((n): n is string => n !== null);
  const { err, table } = benchOutput("bench event", COLUMNS, a.json, [8, 5, 6]);
  const results = await benchEvent(a, (p) => {
    if (p.kind === "note") { err(`xenwasm: bench event: ${p.message}`); notes.push(p.message); }
    else if (p.kind === "run") err(`xenwasm: bench event: ${p.impl} ${p.cfg.mode}${p.impl === "xenwasm" ? ` ${p.cfg.evtchn}` : p.abi ? ` ${p.abi} (Xen's protocol)` : ""}: run ${p.run}/${p.runs}: ${((p.sample.seconds * 1e6) / p.sample.roundTrips).toFixed(3)} us per round trip`);
    else table.row(p.result);
  }).catch((e: Error) => {
    report?.abandon();
    if (e instanceof EventBenchError || e instanceof NativeError) throw new Error(`bench event: ${e.message}`);
    throw e;
  });
  if (a.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  report?.write(benchReportHtml("xenwasm bench event", meta, eventSeries(results), { ...EVENT_REPORT, notes, raw: results }));
  return 0;
}
