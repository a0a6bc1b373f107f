// `xenwasm bench ring` (docs/benchmarks.md): a frontend and a backend echo requests through one
// shared ring, as two xenwasm domains under the threaded runner (examples/ringbench.ts over
// assembly/ring.ts) and as the native C reference (bindings/bench/native/ring.c: two pthreads,
// the same ring layout and semantics), with the same workload, side by side in one run.
import { join } from "node:path";
import { loadGuest } from "../runner/guest.js";
import { runThreaded } from "../runner/threaded.js";
import { ROOT, alternateRuns, median, type Impl } from "./common.js";
import { buildNative, runNative } from "./native.js";

/** How the two sides wait: `event` (event channels, sleep between events) or `poll` (both spin). */
export type RingMode = "poll" | "event";
/** The implementations compared. */
export type RingImpl = Impl;

/** One workload: slot bytes, ring pages, requests in flight, total requests and the mode. */
export interface RingConfig { slot: number; ringPages: number; qd: number; requests: number; mode: RingMode }

/** What one run of one implementation measured. */
export interface RingSample { seconds: number; notifiesFront: number; notifiesBack: number }

/** One row of the report (the JSON keys of `xenwasm bench ring --json`): medians over `runs`. */
export interface RingResult {
  impl: RingImpl;
  slot: number;
  ring_pages: number;
  ring_size: number;
  qd: number;
  mode: RingMode;
  requests: number;
  runs: number;
  /** Median seconds from the first request to the last verified response. */
  seconds: number;
  /** requests / seconds. */
  req_per_s: number;
  /** Median event-channel notifications (both sides) per request; 0 in poll mode. */
  notifies_per_req: number;
  /** Median notifications sent by the front and by the back. */
  notifies_front: number;
  notifies_back: number;
  /** req/s of every run, in order. */
  runs_req_per_s: number[];
  /** xenwasm rows: req_per_s / native-c's req_per_s (null without the native reference). */
  ratio_vs_native?: number | null;
  /** xenwasm rows: notifies_per_req / native-c's (null without the reference or when it sent none). */
  notifies_ratio_vs_native?: number | null;
}

/** Limits of the options (the guest and the reference enforce the same). */
export const RING_LIMITS = { slotMin: 8, slotMax: 4032, pagesMax: 16, requestsMax: 2 ** 31 };

/** The built guest both domains run. */
export const RING_GUEST = join(ROOT, "build/examples/ringbench.wasm");

/** RING_SIZE for `pages` pages of `slot`-byte slots: __RD32((pages * 4096 - 64) / slot). */
export function ringSize(slot: number, pages: number): number {
  const n = Math.floor((pages * 4096 - 64) / slot);
  return n < 1 ? 0 : 2 ** Math.floor(Math.log2(n));
}

/** A benchmark run that did not complete or whose data were wrong: the message says which. */
export class RingBenchError extends Error {}

/**
 * Runs the xenwasm side once: the front as domain 1 and the back as domain 2 of the threaded
 * runner (spinning vCPUs in poll mode), and returns what the guests reported. Throws
 * RingBenchError when a domain did not power off (a failed check panics the front) or a result
 * line is missing.
 */
export async function runXenwasmRing(cfg: RingConfig, guestPath = RING_GUEST): Promise<RingSample> {
  const { module } = loadGuest(guestPath);
  const common = `slot=${cfg.slot} pages=${cfg.ringPages} n=${cfg.requests} mode=${cfg.mode}`;
  const lines: string[] = [];
  const logs: string[] = [];
  const r = await runThreaded({
    guests: [
      { module, name: "ringfront", cmdline: `front peer=2 qd=${cfg.qd} ${common}`, memMiB: 32 },
      { module, name: "ringback", cmdline: `back peer=1 ${common}`, memMiB: 32 },
    ],
    seed: 1,
    spin: cfg.mode === "poll",
    output: (l) => lines.push(l),
    log: (l) => logs.push(l),
  });
  const front = lines.map((l) => l.match(/^\[ringfront\] ringbench: front done requests=(\d+) ns=(\d+) notifies=(\d+)$/)).find((m) => m);
  const back = lines.map((l) => l.match(/^\[ringback\] ringbench: back done requests=(\d+) notifies=(\d+)$/)).find((m) => m);
  if (r.exitCode !== 0 || !front || !back) {
    const why = [...lines.filter((l) => /panic|failed|ringbench: (response|back: request)/.test(l)), ...logs][0] ?? `exit status ${r.exitCode}, no result line`;
    throw new RingBenchError(`xenwasm run failed: ${why}`);
  }
  if (Number(front[1]) !== cfg.requests || Number(back[1]) !== cfg.requests) throw new RingBenchError(`xenwasm run answered ${front[1]}/${back[1]} requests, not ${cfg.requests}`);
  return { seconds: Number(front[2]) / 1e9, notifiesFront: Number(front[3]), notifiesBack: Number(back[2]) };
}

/** The native reference's command line for `cfg` (and the test hook `--corrupt K`). */
export function nativeRingArgs(cfg: RingConfig, corruptAt?: number): string[] {
  const a = ["--slot", String(cfg.slot), "--pages", String(cfg.ringPages), "--qd", String(cfg.qd), "--requests", String(cfg.requests), "--mode", cfg.mode];
  return corruptAt === undefined ? a : [...a, "--corrupt", String(corruptAt)];
}

/** Runs the native reference `bin` once for `cfg`. Throws NativeError on a failed check. */
export function runNativeRing(bin: string, cfg: RingConfig): RingSample {
  const r = runNative(bin, nativeRingArgs(cfg));
  if (r.requests !== cfg.requests || !(r.ns > 0)) throw new RingBenchError(`native-c reported ${r.requests} requests in ${r.ns} ns, not ${cfg.requests}`);
  return { seconds: r.ns / 1e9, notifiesFront: r.notifies_front, notifiesBack: r.notifies_back };
}

/** Folds the samples of one implementation and configuration into its report row. */
export function summarize(impl: RingImpl, cfg: RingConfig, samples: RingSample[]): RingResult {
  const seconds = median(samples.map((s) => s.seconds));
  return {
    impl, slot: cfg.slot, ring_pages: cfg.ringPages, ring_size: ringSize(cfg.slot, cfg.ringPages), qd: cfg.qd, mode: cfg.mode,
    requests: cfg.requests, runs: samples.length, seconds, req_per_s: cfg.requests / seconds,
    notifies_per_req: median(samples.map((s) => (s.notifiesFront + s.notifiesBack) / cfg.requests)),
    notifies_front: median(samples.map((s) => s.notifiesFront)),
    notifies_back: median(samples.map((s) => s.notifiesBack)),
    runs_req_per_s: samples.map((s) => cfg.requests / s.seconds),
  };
}

/** What benchRing reports while it runs. */
export type RingProgress =
  | { kind: "no-native"; reason: string }
  | { kind: "run"; impl: RingImpl; cfg: RingConfig; run: number; runs: number; sample: RingSample }
  | { kind: "result"; result: RingResult };

/** Options of benchRing. */
export interface RingBenchOptions { configs: RingConfig[]; runs: number; impls: RingImpl[] }

/**
 * Runs every configuration `runs` times with each implementation (alternating, so that a noisy
 * moment hits both alike), reporting each run and each finished row through `progress`, and
 * returns the rows: per configuration native-c first, then xenwasm with its ratios. Without gcc
 * the native rows are left out (one "no-native" report says so) and the ratios are null.
 */
export async function benchRing(opts: RingBenchOptions, progress: (p: RingProgress) => void = () => {}): Promise<RingResult[]> {
  let bin: string | null = null;
  if (opts.impls.includes("native-c")) {
    bin = buildNative("ring");
    if (bin === null) progress({ kind: "no-native", reason: "gcc not found: the native C reference is skipped, xenwasm is reported alone" });
  }
  const results: RingResult[] = [];
  for (const cfg of opts.configs) {
    const samples = await alternateRuns(opts.impls, opts.runs, bin !== null, (impl) => (impl === "native-c" ? runNativeRing(bin!, cfg) : runXenwasmRing(cfg)),
      (impl, run, sample) => progress({ kind: "run", impl, cfg, run, runs: opts.runs, sample }));
    const native = samples["native-c"].length ? summarize("native-c", cfg, samples["native-c"]) : null;
    if (native) { results.push(native); progress({ kind: "result", result: native }); }
    if (samples.xenwasm.length) {
      const x = summarize("xenwasm", cfg, samples.xenwasm);
      x.ratio_vs_native = native ? x.req_per_s / native.req_per_s : null;
      x.notifies_ratio_vs_native = native && native.notifies_per_req > 0 ? x.notifies_per_req / native.notifies_per_req : null;
      results.push(x);
      progress({ kind: "result", result: x });
    }
  }
  return results;
}
