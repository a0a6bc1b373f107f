// `xenwasm bench event` (docs/benchmarks.md): the round-trip latency of an event-channel hand-off
// between two domains (examples/pingpong.ts under the threaded runner: a counter in a granted
// page, a notification each way per round trip, each side checking the counter) beside the
// native C reference of the same hand-off between two pthreads (bindings/bench/native/event.c),
// in event mode (vCPUs sleep between events after 30 us of polling, as the reference's threads
// do) and spin mode (nobody sleeps).
import { join } from "node:path";
import { loadGuest } from "../runner/guest.js";
import { runThreaded } from "../runner/threaded.js";
import { ROOT, alternateRuns, median, type Impl } from "./common.js";
import { buildNative, runNative } from "./native.js";
import { abiCmdline } from "../host/system.js";

/** How the two sides wait: `event` (sleep after 30 us of polling) or `spin` (never sleep). */
export type EventMode = "event" | "spin";
/** The implementations compared. */
export type EventImpl = Impl;
/** The event-channel ABI the domains' SDK uses (FIFO, its default, or 2-level). */
export type EventAbi = "fifo" | "2l";
/** One configuration: the mode, the round trips per run and the event ABI (xenwasm only). */
export interface EventConfig { mode: EventMode; roundTrips: number; evtchn: EventAbi }
/** What one run measured. */
export interface EventSample { seconds: number; roundTrips: number; notifies: number }

/** One row of the report (the JSON keys of `xenwasm bench event --json`): medians over `runs`. */
export interface EventResult {
  impl: EventImpl;
  mode: EventMode;
  /** The event-channel ABI of xenwasm's domains (null for native-c). */
  evtchn: EventAbi | null;
  round_trips: number;
  runs: number;
  /** Median microseconds per round trip (two notifications and two wake-ups). */
  us_per_round_trip: number;
  round_trips_per_s: number;
  /** Notifications per round trip (2: one each way). */
  notifies_per_round_trip: number;
  /** us per round trip of every run, in order. */
  runs_us: number[];
  /** xenwasm rows: us_per_round_trip / native-c's (null without the reference): lower is better. */
  ratio_vs_native?: number | null;
}

/** A run that did not complete or whose counter went wrong: the message says which. */
export class EventBenchError extends Error {}

/** The guest both domains run. */
export const EVENT_GUEST = join(ROOT, "build/examples/pingpong.wasm");

/** Runs pingpong once under the threaded runner (spinning vCPUs in spin mode). */
export async function runXenwasmEvent(cfg: EventConfig, guestPath = EVENT_GUEST): Promise<EventSample> {
  const { module } = loadGuest(guestPath);
  const lines: string[] = [], logs: string[] = [];
  const r = await runThreaded({
    guests: [
      { module, name: "ping", cmdline: `ping peer=2 n=${cfg.roundTrips} ${abiCmdline({ evtchn: cfg.evtchn })}`, memMiB: 32 },
      { module, name: "pong", cmdline: `pong peer=1 ${abiCmdline({ evtchn: cfg.evtchn })}`, memMiB: 32 },
    ],
    seed: 1, spin: cfg.mode === "spin",
    output: (l) => lines.push(l),
    log: (l) => logs.push(l),
  });
  const m = lines.map((l) => /^\[ping\] ping: (\d+) round trips in ([\d.]+) ms/.exec(l)).find((x) => x);
  if (r.exitCode !== 0 || !m) throw new EventBenchError(`xenwasm run failed: ${[...lines.filter((l) => /expected|failed|panic/.test(l)), ...logs][0] ?? `exit status ${r.exitCode}`}`);
  if (Number(m[1]) !== cfg.roundTrips) throw new EventBenchError(`pingpong made ${m[1]} round trips, not ${cfg.roundTrips}`);
  return { seconds: Number(m[2]) / 1e3, roundTrips: cfg.roundTrips, notifies: r.domains.reduce((n, d) => n + d.events, 0) };
}

/** Runs the native reference `bin` once. */
export function runNativeEvent(bin: string, cfg: EventConfig, corruptAt?: number): EventSample {
  const r = runNative(bin, ["--round-trips", String(cfg.roundTrips), "--mode", cfg.mode, ...(corruptAt === undefined ? [] : ["--corrupt", String(corruptAt)])]);
  if (r.round_trips !== cfg.roundTrips || !(r.ns > 0)) throw new EventBenchError(`native-c reported ${r.round_trips} round trips in ${r.ns} ns`);
  return { seconds: r.ns / 1e9, roundTrips: r.round_trips, notifies: r.notifies };
}

/** Folds the samples of one implementation and configuration into its row. */
export function summarizeEvent(impl: EventImpl, cfg: EventConfig, samples: EventSample[]): EventResult {
  const us = samples.map((s) => (s.seconds * 1e6) / s.roundTrips);
  const med = median(us);
  return {
    impl, mode: cfg.mode, evtchn: impl === "xenwasm" ? cfg.evtchn : null, round_trips: cfg.roundTrips, runs: samples.length, us_per_round_trip: med, round_trips_per_s: 1e6 / med,
    notifies_per_round_trip: median(samples.map((s) => s.notifies / s.roundTrips)), runs_us: us,
  };
}

/** What benchEvent reports while it runs. */
export type EventProgress =
  | { kind: "note"; message: string }
  | { kind: "run"; impl: EventImpl; cfg: EventConfig; run: number; runs: number; sample: EventSample }
  | { kind: "result"; result: EventResult };

/**
 * Runs each configuration `runs` times with each implementation (alternating) and returns the
 * rows, native first; without gcc the native rows are left out (a note says so). The native
 * reference has no event ABI: it runs with the first configuration of each mode, and the other
 * ABIs of that mode are compared with that row.
 */
export async function benchEvent(opts: { configs: EventConfig[]; runs: number; impls: EventImpl[] }, progress: (p: EventProgress) => void = () => {}): Promise<EventResult[]> {
  let bin: string | null = null;
  if (opts.impls.includes("native-c")) {
    bin = buildNative("event");
    if (bin === null) progress({ kind: "note", message: "gcc not found: the native C reference is skipped, xenwasm is reported alone" });
  }
  const results: EventResult[] = [];
  const nativeOf = new Map<EventMode, EventResult | null>();
  for (const cfg of opts.configs) {
    const first = !nativeOf.has(cfg.mode);
    const samples = await alternateRuns(opts.impls, opts.runs, bin !== null && first, (impl) => (impl === "native-c" ? runNativeEvent(bin!, cfg) : runXenwasmEvent(cfg)),
      (impl, run, sample) => progress({ kind: "run", impl, cfg, run, runs: opts.runs, sample }));
    if (first) nativeOf.set(cfg.mode, samples["native-c"].length ? summarizeEvent("native-c", cfg, samples["native-c"]) : null);
    const native = nativeOf.get(cfg.mode) ?? null;
    if (native && first) { results.push(native); progress({ kind: "result", result: native }); }
    if (samples.xenwasm.length) {
      const x = summarizeEvent("xenwasm", cfg, samples.xenwasm);
      x.ratio_vs_native = native ? x.us_per_round_trip / native.us_per_round_trip : null;
      results.push(x);
      progress({ kind: "result", result: x });
    }
  }
  return results;
}
