// `xenwasm bench net`: frames through netfront, netback and dom0's switch (bindings/bench/net.ts)
// beside the native C reference and Linux's veth path, with a progressive table or JSON.
import { benchOutput, loadNote, si } from "../bench/common.js";
import { NET_REPORT, benchReportHtml, netSeries, openReport, reportMeta } from "../bench/html.js";
import { NET_DEFAULT_FRAMES, benchNet, type NetConfig, type NetImpl, type NetMode, type NetResult, type NetSize, type NetWorkload } from "../bench/net.js";
import { optionParsers } from "./args.js";
import { tokenize, usage, type CommandSpec } from "./options.js";

/** `xenwasm bench net`'s options (`xenwasm help bench net`). */
export const BENCH_NET_SPEC: CommandSpec = {
  name: "bench net",
  summary: "frames through dom0's switch, next to native C and Linux's veth",
  about: "frames from a guest through netfront, netback and dom0's switch to another guest's netfront (guest-guest) or to dom0's sink (guest-sink), every byte checked, threaded runner; beside the native C reference (the same netif ring work between threads, gcc -O2) and, as root with ip and iperf3, Linux's own path between two network namespaces over a veth pair (iperf3 UDP 64-byte frames and TCP); --workload, --size, --mode, --queues and --impl take comma-separated lists (every combination runs); the table goes to stdout (stderr with --json, which prints a JSON array on stdout), progress to stderr",
  options: [
    { name: "workload", value: "guest-guest|guest-sink", help: "default both" },
    { name: "size", value: "64|1514|gso", help: "64-byte frames, 1514-byte frames, 64 KiB TCP GSO frames (default all)" },
    { name: "mode", value: "poll|event", help: "spinning vCPUs, or event channels (default both)" },
    { name: "queues", value: "1|2", help: "netif queues (default 1)" },
    { name: "frames", value: "N", help: `frames per run (default per size: 64: ${NET_DEFAULT_FRAMES["64"]}, 1514: ${NET_DEFAULT_FRAMES["1514"]}, gso: ${NET_DEFAULT_FRAMES.gso})` },
    { name: "runs", value: "N", help: "runs of each implementation; rows are medians (default 3)" },
    { name: "impl", value: "xenwasm|native-c", help: "which implementations run (default both)" },
    { name: "linux-seconds", value: "N", help: "seconds of each iperf3 run on the veth path (default 3)" },
    { name: "no-linux", help: "no Linux measurement" },
    { name: "json", help: "a JSON array on stdout" },
    { name: "html", value: "FILE", help: "also write the results as one self-contained HTML page (table and SVG charts, no external resources) to FILE" },
  ],
};

/** Usage text of `xenwasm bench net`. */
export const BENCH_NET_USAGE = usage(BENCH_NET_SPEC);

/** The parsed options of `xenwasm bench net`. */
export interface BenchNetArgs { configs: NetConfig[]; runs: number; impls: NetImpl[]; linuxSeconds: number | null; json: boolean; html: string | null }

const { fail, number, numbers, words } = optionParsers("bench net");

/** Parses the arguments of `xenwasm bench net`; throws UsageError with one line. */
export function parseBenchNetArgs(argv: string[]): BenchNetArgs {
  let workloads: NetWorkload[] = ["guest-guest", "guest-sink"], sizes: NetSize[] = ["64", "1514", "gso"], modes: NetMode[] = ["poll", "event"];
  let queues = [1], impls: NetImpl[] = ["native-c", "xenwasm"], frames: number | null = null, runs = 3, linuxSeconds: number | null = 3, json = false;
  let html: string | null = null;
  for (const t of tokenize(BENCH_NET_SPEC, argv)) {
    if (t.kind === "positional") { fail(`unexpected argument '${t.value}'`); continue; }
    const arg = `--${t.name}`, v = t.value!;
    switch (t.name) {
      case "workload": workloads = words(arg, v, ["guest-guest", "guest-sink"] as const); break;
      case "size": sizes = words(arg, v, ["64", "1514", "gso"] as const); break;
      case "mode": modes = words(arg, v, ["poll", "event"] as const); break;
      case "queues": queues = numbers(arg, v, 1, 2); break;
      case "impl": impls = words(arg, v, ["native-c", "xenwasm"] as const); break;
      case "frames": frames = number(arg, v, 1, 100_000_000); break;
      case "runs": runs = number(arg, v, 1, 100); break;
      case "linux-seconds": linuxSeconds = number(arg, v, 1, 60); break;
      case "no-linux": linuxSeconds = null; break;
      case "json": json = true; break;
      case "html": html = v; break;
    }
  }
  impls = (["native-c", "xenwasm"] as const).filter((i) => impls.includes(i));
  const configs: NetConfig[] = [];
  for (const workload of workloads) for (const size of sizes) for (const q of queues) for (const mode of modes) {
    configs.push({ workload, size, mode, queues: q as 1 | 2, frames: frames ?? NET_DEFAULT_FRAMES[size] });
  }
  return { configs, runs, impls, linuxSeconds, json, html };
}

const x = (v: number | null | undefined) => (v == null ? "" : `${v.toFixed(2)}x`);
const f = (v: number | null, digits: number) => (v == null ? "" : v.toFixed(digits));

/** The columns of the net table. */
const COLUMNS = [
  { title: "impl", value: (r: NetResult) => r.impl, left: true },
  { title: "workload", value: (r: NetResult) => (r.impl === "linux-veth" ? (r.size === "64" ? "iperf3 udp" : "iperf3 tcp") : r.workload), left: true },
  { title: "size", value: (r: NetResult) => r.size, left: true },
  { title: "mode", value: (r: NetResult) => (r.impl === "linux-veth" ? "" : r.mode), left: true },
  { title: "q", value: (r: NetResult) => (r.impl === "linux-veth" ? "" : String(r.queues)) },
  { title: "frames", value: (r: NetResult) => String(r.frames) },
  { title: "frames/s", value: (r: NetResult) => si(r.frames_per_s) },
  { title: "Gbit/s", value: (r: NetResult) => r.gbit_per_s.toFixed(2) },
  { title: "vs native", value: (r: NetResult) => x(r.ratio_vs_native) },
  { title: "vs linux", value: (r: NetResult) => x(r.ratio_vs_linux) },
  { title: "notifies/frame", value: (r: NetResult) => f(r.notifies_per_frame, 3) },
  { title: "grant ops/frame", value: (r: NetResult) => f(r.grant_ops_per_frame, 2) },
  { title: "copied/frame", value: (r: NetResult) => f(r.bytes_copied_per_frame, 0) },
];

/** Runs `xenwasm bench net` with `argv`; returns the exit status. */
export async function benchNetCommand(argv: string[]): Promise<number> {
  const a = parseBenchNetArgs(argv);
  // A wrong --html path fails here, before anything is measured.
  const report = a.html === null ? null : openReport(a.html, fail);
  const meta = reportMeta(["bench", "net", ...argv]), notes = [loadNote()].filter((n): n is string => n !== null);
  const { err, table } = benchOutput("bench net", COLUMNS, a.json, [10, 11, 4, 5, 1, 7, 8]);
  const results = await benchNet({ configs: a.configs, runs: a.runs, impls: a.impls, linuxSeconds: a.linuxSeconds }, (p) => {
    if (p.kind === "note") { err(`xenwasm: bench net: ${p.message}`); notes.push(p.message); }
    else if (p.kind === "linux") err(`xenwasm: bench net: linux veth iperf3 ${p.result.kind}: ${si(p.result.frames_per_s)} frames/s, ${p.result.gbit_per_s.toFixed(2)} Gbit/s`);
    else if (p.kind === "run") {
      const c = p.cfg, s = p.sample;
      err(`xenwasm: bench net: ${p.impl} ${c.workload} ${c.size} ${c.mode} q=${c.queues}: run ${p.run}/${p.runs}: ` +
        `${si(s.frames / s.seconds)} frames/s, ${((s.bytes * 8) / s.seconds / 1e9).toFixed(2)} Gbit/s`);
    } else table.row(p.result);
  }).catch((e: Error) => {
    report?.abandon();
    // A failed check or a broken reference: one line, exit status 1 (bin/xenwasm.js prints it).
    throw new Error(`bench net: ${e.message}${/guest|wasm/.test(e.message) && /no such file|ENOENT/i.test(e.message) ? " (run 'npm run build' first)" : ""}`);
  });
  if (a.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  report?.write(benchReportHtml("xenwasm bench net", meta, netSeries(results), { ...NET_REPORT, notes, raw: results }));
  return 0;
}
