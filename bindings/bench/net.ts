// `xenwasm bench net` (docs/benchmarks.md): frames through netfront, netback and dom0's switch
// under the threaded runner — guest to guest (two net_pattern guests) and guest to dom0's sink
// (drivers/net/sink.ts) — every frame's bytes and order checked by the receiver, side by side
// with the native C reference of the same netif ring work between threads
// (bindings/bench/native/netif.c) and, where root, `ip` and `iperf3` are there, Linux's own path
// between two network namespaces over a veth pair.
import { join } from "node:path";
import { loadGuest } from "../runner/guest.js";
import { runThreaded } from "../runner/threaded.js";
import type { DomainResult } from "../runner/common.js";
import { ROOT, alternateRuns, median, type Impl } from "./common.js";
import { buildNative } from "./native.js";
import { NetBenchError, runNativeNet, runVethIperf, vethUnavailable, type NetSample, type VethResult } from "./net-native.js";

export { NetBenchError };

/** Where frames go: from one guest to another through the switch, or from a guest to dom0's sink. */
export type NetWorkload = "guest-guest" | "guest-sink";
/** Frame sizes: 64-byte frames, 1514-byte frames (MTU 1500), and 64 KiB TCP GSO frames. */
export type NetSize = "64" | "1514" | "gso";
/** How the domains wait: `event` (event channels, sleep between events) or `poll` (spinning vCPUs). */
export type NetMode = "poll" | "event";
/** The implementations compared. */
export type NetImpl = Impl;

/** One workload of the benchmark. */
export interface NetConfig { workload: NetWorkload; size: NetSize; mode: NetMode; queues: 1 | 2; frames: number }

/** The frame length of each size (a GSO frame is the largest netif carries). */
export const NET_FRAME_LEN: Record<NetSize, number> = { "64": 64, "1514": 1514, gso: 65535 };
/** Frames per run by default, per size (about a second of work each). */
export const NET_DEFAULT_FRAMES: Record<NetSize, number> = { "64": 300_000, "1514": 100_000, gso: 3_000 };
/** The MAC of dom0's sink. */
export const SINK_MAC = "00:16:3e:00:00:00";
/** The guest both sides run (the frame-integrity test guest: the same checks as the tests). */
export const NET_GUEST = join(ROOT, "build/tests/net_pattern.wasm");
const SEED = 7;

/** One row of the report (the JSON keys of `xenwasm bench net --json`): medians over `runs`. */
export interface NetResult {
  impl: NetImpl | "linux-veth";
  workload: NetWorkload;
  size: NetSize;
  frame_len: number;
  mode: NetMode;
  queues: number;
  frames: number;
  runs: number;
  /** Median seconds from the first frame to the last one verified. */
  seconds: number;
  frames_per_s: number;
  /** Bits of the frames (GSO: of the TCP payload) per second, in units of 10^9. */
  gbit_per_s: number;
  /** Event-channel notifications (every domain, every port) per frame; native: its futex-backed notifications. */
  notifies_per_frame: number | null;
  /** Grant operations (map, unmap, copy entries) per frame; native: its copy operations. */
  grant_ops_per_frame: number | null;
  /** Bytes moved by grant copies (native: memcpy) per frame. */
  bytes_copied_per_frame: number | null;
  /** frames/s of every run, in order. */
  runs_frames_per_s: number[];
  /** xenwasm rows: frames_per_s / native-c's (null without the reference). */
  ratio_vs_native?: number | null;
  /** xenwasm rows: against Linux's veth path for the same size (UDP for 64-byte frames, TCP for GSO), or null. */
  ratio_vs_linux?: number | null;
}

/** The frame-rate figures of one xenwasm run. */
function resultLine(lines: string[], who: string): RegExpMatchArray | undefined {
  const re = who === "sink" ? /^\[dom0\] sink: received (\d+) frames, (\d+) bytes, all verified in (\d+) us$/ : /^\[netrecv\] net_pattern: received (\d+) (?:frames|segments), (\d+) bytes, all verified in (\d+) us$/;
  return lines.map((l) => l.match(re)).find((m) => m) ?? undefined;
}

/** The command line net_pattern gets for `cfg` (both ends). */
function patternArgs(cfg: NetConfig): string {
  const len = NET_FRAME_LEN[cfg.size];
  const flows = cfg.queues > 1 && cfg.size !== "gso" ? ` flows=${cfg.queues}` : "";
  return `n=${cfg.frames} seed=${SEED} min=${len} max=${len} queues=${cfg.queues}${cfg.size === "gso" ? " gso-frames=1" : ""}${flows}`;
}

/**
 * Runs the xenwasm side once under the threaded runner (spinning vCPUs in poll mode) and returns
 * what it measured; throws NetBenchError when a domain did not finish cleanly (a failed check
 * panics the receiver or the sink) or the result line is missing.
 */
export async function runXenwasmNet(cfg: NetConfig, guestPath = NET_GUEST, backendPath = join(ROOT, "build/drivers/dom0.wasm")): Promise<NetSample> {
  const { module } = loadGuest(guestPath);
  const backend = loadGuest(backendPath).module;
  const sink = cfg.workload === "guest-sink";
  const flows = cfg.queues > 1 && cfg.size !== "gso" ? cfg.queues : 0;
  const common = patternArgs(cfg);
  const guests = sink
    ? [{ module, name: "netsend", cmdline: `role=send to=${SINK_MAC} ${common}`, memMiB: 32 }]
    : [{ module, name: "netrecv", cmdline: `role=recv ${common}`, memMiB: 32 }, { module, name: "netsend", cmdline: `role=send ${common}`, memMiB: 32 }];
  const lines: string[] = [], logs: string[] = [];
  const r = await runThreaded({
    guests, seed: 1, spin: cfg.mode === "poll",
    backend: {
      module: backend, name: "dom0", memMiB: 64, disks: [],
      cmdline: sink ? `net-sink=${SINK_MAC} sink-n=${cfg.frames} sink-seed=${SEED} sink-flows=${flows}` : "",
      vifs: guests.map((_, i) => ({ frontend: i + 1, spec: {} })),
    },
    output: (l) => lines.push(l),
    log: (l) => logs.push(l),
  });
  const m = resultLine(lines, sink ? "sink" : "recv");
  if (r.exitCode !== 0 || !m) {
    const why = [...lines.filter((l) => /panic|sink: |failed|stalled|corrupt/.test(l)), ...logs][0] ?? `exit status ${r.exitCode}, no result line`;
    throw new NetBenchError(`xenwasm run failed: ${why}`);
  }
  if (Number(m[1]) !== cfg.frames) throw new NetBenchError(`xenwasm run verified ${m[1]} frames, not ${cfg.frames}`);
  const all: DomainResult[] = [...(r.backend ? [r.backend] : []), ...r.domains];
  const sum = (f: (d: DomainResult) => number) => all.reduce((n, d) => n + f(d), 0);
  return {
    seconds: Number(m[3]) / 1e6, frames: cfg.frames, bytes: Number(m[2]), notifies: sum((d) => d.events),
    copyOps: sum((d) => d.grantOps), grantOps: sum((d) => d.grantOps), bytesCopied: sum((d) => d.copyBytes),
  };
}

/** The native reference's configuration for `cfg`. */
function nativeConfig(cfg: NetConfig) {
  return { workload: cfg.workload, len: NET_FRAME_LEN[cfg.size], gso: cfg.size === "gso", mode: cfg.mode, queues: cfg.queues, frames: cfg.frames };
}

/** Folds the samples of one implementation and configuration into its report row. */
export function summarizeNet(impl: NetImpl, cfg: NetConfig, samples: NetSample[]): NetResult {
  const seconds = median(samples.map((s) => s.seconds));
  const per = (f: (s: NetSample) => number) => median(samples.map((s) => f(s) / s.frames));
  return {
    impl, workload: cfg.workload, size: cfg.size, frame_len: NET_FRAME_LEN[cfg.size], mode: cfg.mode, queues: cfg.queues, frames: cfg.frames,
    runs: samples.length, seconds, frames_per_s: median(samples.map((s) => s.frames / s.seconds)),
    gbit_per_s: median(samples.map((s) => (s.bytes * 8) / s.seconds / 1e9)),
    notifies_per_frame: per((s) => s.notifies), grant_ops_per_frame: per((s) => s.grantOps), bytes_copied_per_frame: per((s) => s.bytesCopied),
    runs_frames_per_s: samples.map((s) => s.frames / s.seconds),
  };
}

/** Linux's figure a row is compared with: veth UDP frames/s for 64-byte frames, veth TCP Gbit/s for GSO. */
export function linuxFigure(size: NetSize, linux: Partial<Record<VethResult["kind"], VethResult>>): { value: number; unit: "frames/s" | "Gbit/s" } | null {
  if (size === "64" && linux.udp64) return { value: linux.udp64.frames_per_s, unit: "frames/s" };
  if (size === "gso" && linux.tcp) return { value: linux.tcp.gbit_per_s, unit: "Gbit/s" };
  return null;
}

/** What benchNet reports while it runs. */
export type NetProgress =
  | { kind: "note"; message: string }
  | { kind: "run"; impl: NetImpl; cfg: NetConfig; run: number; runs: number; sample: NetSample }
  | { kind: "linux"; result: VethResult }
  | { kind: "result"; result: NetResult };

/** Options of benchNet: the configurations, runs of each, implementations, and whether to measure Linux's veth path (seconds per iperf3 run). */
export interface NetBenchOptions { configs: NetConfig[]; runs: number; impls: NetImpl[]; linuxSeconds: number | null }

/**
 * Runs Linux's veth path first (when asked and possible: iperf3 UDP 64-byte and TCP, the median
 * of `runs`), then every configuration `runs` times with each implementation (alternating), and
 * returns the rows: per configuration native-c first, then xenwasm with its ratios, then one
 * linux-veth row per measured kind. What cannot run (no gcc, not root, no iperf3) is reported
 * through `progress` as a note and left out.
 */
export async function benchNet(opts: NetBenchOptions, progress: (p: NetProgress) => void = () => {}): Promise<NetResult[]> {
  const linux: Partial<Record<VethResult["kind"], VethResult>> = {};
  if (opts.linuxSeconds !== null) {
    const why = vethUnavailable();
    if (why) progress({ kind: "note", message: `Linux's veth path is not measured: ${why}` });
    else {
      const kinds = new Set<VethResult["kind"]>();
      if (opts.configs.some((c) => c.size === "64")) kinds.add("udp64");
      if (opts.configs.some((c) => c.size === "gso")) kinds.add("tcp");
      for (const kind of kinds) {
        const runs: VethResult[] = [];
        for (let i = 0; i < opts.runs; i++) {
          const r = await runVethIperf(kind, opts.linuxSeconds);
          runs.push(r);
          progress({ kind: "linux", result: r });
        }
        linux[kind] = { kind, seconds: median(runs.map((r) => r.seconds)), frames_per_s: median(runs.map((r) => r.frames_per_s)), gbit_per_s: median(runs.map((r) => r.gbit_per_s)) };
      }
    }
  }
  let bin: string | null = null;
  if (opts.impls.includes("native-c")) {
    bin = buildNative("netif");
    if (bin === null) progress({ kind: "note", message: "gcc not found: the native C reference is skipped, xenwasm is reported alone" });
  }
  const results: NetResult[] = [];
  for (const cfg of opts.configs) {
    const samples = await alternateRuns(opts.impls, opts.runs, bin !== null, (impl) => (impl === "native-c" ? runNativeNet(bin!, nativeConfig(cfg)) : runXenwasmNet(cfg)),
      (impl, run, sample) => progress({ kind: "run", impl, cfg, run, runs: opts.runs, sample }));
    const native = samples["native-c"].length ? summarizeNet("native-c", cfg, samples["native-c"]) : null;
    if (native) { results.push(native); progress({ kind: "result", result: native }); }
    if (samples.xenwasm.length) {
      const x = summarizeNet("xenwasm", cfg, samples.xenwasm);
      x.ratio_vs_native = native ? x.frames_per_s / native.frames_per_s : null;
      const l = linuxFigure(cfg.size, linux);
      x.ratio_vs_linux = l ? (l.unit === "frames/s" ? x.frames_per_s : x.gbit_per_s) / l.value : null;
      results.push(x);
      progress({ kind: "result", result: x });
    }
  }
  for (const r of Object.values(linux)) {
    const row: NetResult = {
      impl: "linux-veth", workload: "guest-guest", size: r.kind === "udp64" ? "64" : "gso", frame_len: r.kind === "udp64" ? 64 : 65535, mode: "event", queues: 1,
      frames: Math.round(r.frames_per_s * r.seconds), runs: opts.runs, seconds: r.seconds, frames_per_s: r.frames_per_s, gbit_per_s: r.gbit_per_s,
      notifies_per_frame: null, grant_ops_per_frame: null, bytes_copied_per_frame: null, runs_frames_per_s: [],
    };
    results.push(row);
    progress({ kind: "result", result: row });
  }
  return results;
}
