// `xenwasm bench event` (docs/benchmarks.md): the round-trip latency of an event-channel hand-off
// between two domains (examples/pingpong.ts under the threaded runner: a counter in a granted
// page, a notification each way per round trip, each side checking the counter) beside two
// native C references between two pthreads: the plain hand-off (bindings/bench/native/event.c,
// one pending word per side) and the same hand-off through Xen's own event protocol, 2-level or
// FIFO, as Xen and a guest kernel run it natively (bindings/bench/native/xen_event.c). Both in
// event mode (vCPUs sleep between events after 30 us of polling, as the references' threads do)
// and spin mode (nobody sleeps).
import { join } from "node:path";
import { loadGuest } from "../runner/guest.js";
import { runThreaded } from "../runner/threaded.js";
import { ROOT, median, type Impl } from "./common.js";
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
  /**
   * The event-channel ABI: xenwasm's domains', or for native-c the Xen protocol its threads run
   * (null: the plain hand-off of event.c, one pending word per side).
   */
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
  /** xenwasm rows: us_per_round_trip / the plain native hand-off's (null without it): lower is better. */
  ratio_vs_native?: number | null;
  /** xenwasm rows: us_per_round_trip / the native row of the same event ABI (Xen's protocol in C). */
  ratio_vs_native_abi?: number | null;
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

/**
 * Runs a native reference once: `bin` built from event.c (the plain hand-off), or with `abi` from
 * xen_event.c (Xen's protocol of that ABI).
 */
export function runNativeEvent(bin: string, cfg: EventConfig, corruptAt?: number, abi?: EventAbi): EventSample {
  const r = runNative(bin, ["--round-trips", String(cfg.roundTrips), "--mode", cfg.mode, ...(abi ? ["--abi", abi] : []), ...(corruptAt === undefined ? [] : ["--corrupt", String(corruptAt)])]);
  if (r.round_trips !== cfg.roundTrips || !(r.ns > 0)) throw new EventBenchError(`native-c reported ${r.round_trips} round trips in ${r.ns} ns`);
  return { seconds: r.ns / 1e9, roundTrips: r.round_trips, notifies: r.notifies };
}

/** Folds the samples of one implementation and configuration into its row (`evtchn` null: the plain native hand-off). */
export function summarizeEvent(impl: EventImpl, cfg: EventConfig, samples: EventSample[], evtchn: EventAbi | null = cfg.evtchn): EventResult {
  const us = samples.map((s) => (s.seconds * 1e6) / s.roundTrips);
  const med = median(us);
  return {
    impl, mode: cfg.mode, evtchn, round_trips: cfg.roundTrips, runs: samples.length, us_per_round_trip: med, round_trips_per_s: 1e6 / med,
    notifies_per_round_trip: median(samples.map((s) => s.notifies / s.roundTrips)), runs_us: us,
  };
}

/** What benchEvent reports while it runs (`abi` on a native run: Xen's protocol; absent: the plain hand-off). */
export type EventProgress =
  | { kind: "note"; message: string }
  | { kind: "run"; impl: EventImpl; abi?: EventAbi; cfg: EventConfig; run: number; runs: number; sample: EventSample }
  | { kind: "result"; result: EventResult };

/**
 * Runs each configuration `runs` times with each implementation, alternating run by run, and
 * returns the rows: per mode the plain native hand-off first, then per event ABI the native row
 * of Xen's protocol and xenwasm's row with both ratios. Without gcc the native rows are left out
 * (a note says so).
 */
export async function benchEvent(opts: { configs: EventConfig[]; runs: number; impls: EventImpl[] }, progress: (p: EventProgress) => void = () => {}): Promise<EventResult[]> {
  let plain: string | null = null, xen: string | null = null;
  if (opts.impls.includes("native-c")) {
    plain = buildNative("event");
    xen = plain === null ? null : buildNative("xen_event");
    if (plain === null) progress({ kind: "note", message: "gcc not found: the native C references are skipped, xenwasm is reported alone" });
  }
  const withNative = plain !== null && xen !== null;
  const results: EventResult[] = [];
  const plainOf = new Map<EventMode, EventResult | null>();
  for (const cfg of opts.configs) {
    const first = !plainOf.has(cfg.mode);
    const s = { plain: [] as EventSample[], xen: [] as EventSample[], xenwasm: [] as EventSample[] };
    for (let run = 1; run <= opts.runs; run++) {
      const keep = (into: EventSample[], impl: EventImpl, sample: EventSample, abi?: EventAbi) => {
        into.push(sample);
        progress({ kind: "run", impl, abi, cfg, run, runs: opts.runs, sample });
      };
      if (withNative) {
        if (first) keep(s.plain, "native-c", runNativeEvent(plain!, cfg));
        keep(s.xen, "native-c", runNativeEvent(xen!, cfg, undefined, cfg.evtchn), cfg.evtchn);
      }
      if (opts.impls.includes("xenwasm")) keep(s.xenwasm, "xenwasm", await runXenwasmEvent(cfg));
    }
    const emit = (r: EventResult) => { results.push(r); progress({ kind: "result", result: r }); };
    if (first) {
      const p = s.plain.length ? summarizeEvent("native-c", cfg, s.plain, null) : null;
      plainOf.set(cfg.mode, p);
      if (p) emit(p);
    }
    const native = plainOf.get(cfg.mode) ?? null;
    const abiRow = s.xen.length ? summarizeEvent("native-c", cfg, s.xen) : null;
    if (abiRow) emit(abiRow);
    if (s.xenwasm.length) {
      const x = summarizeEvent("xenwasm", cfg, s.xenwasm);
      x.ratio_vs_native = native ? x.us_per_round_trip / native.us_per_round_trip : null;
      x.ratio_vs_native_abi = abiRow ? x.us_per_round_trip / abiRow.us_per_round_trip : null;
      emit(x);
    }
  }
  return results;
}
