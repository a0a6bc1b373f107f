// What both runners share: entering a guest with crash containment, tearing a domain down,
// console line assembly, the seeded random source and the result of a run.
import { k } from "../abi/layout.js";
import { Ctl, DomState, type Domain } from "../hypervisor/domain.js";
import { closeAll } from "../hypervisor/evtchn.js";
import { armFaults } from "../hypervisor/faults.js";
import { unmapAll } from "../hypervisor/gnttab.js";
import { DomainExit, type Hypervisor } from "../hypervisor/hypervisor.js";
import { SHUTDOWN_NAMES } from "../hypervisor/sched.js";
import { publishTime } from "../hypervisor/vcpu.js";
import type { DiskSpec } from "../devices/blk.js";
import type { VifAttach } from "../toolstack/vifs.js";
import type { UplinkSpec, UplinkStats } from "../devices/uplink.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import type { TraceEvent } from "./trace.js";

/** One guest to run: its compiled module and domain settings. */
export interface GuestSpec { module: WebAssembly.Module; name: string; cmdline: string; memMiB: number }

/** Options of a run. */
export interface RunOptions {
  guests: GuestSpec[];
  seed: number;
  /** Receives each console line, already prefixed (`[name] text`). */
  output(line: string): void;
  /** Receives harness messages (crashes, deadlock reports). */
  log(line: string): void;
  /** Where to expose xenstored as a Unix socket for dom0's tools (none: guests' rings only). */
  xenstoreSocket?: string;
  /**
   * Deterministic runner: when every guest waits for a xenstore watch, wait for the outside world
   * (a tool on the socket, or the host API's writes) instead of reporting a deadlock; on by
   * default when there is a socket.
   */
  waitForXenstore?: boolean;
  /** Called once the domains are built and xenstored runs, before any guest starts (this thread's view). */
  onStart?: (run: RunContext) => void;
  /** Threaded runner: idle domains spin instead of sleeping in Atomics.wait (benchmarks). */
  spin?: boolean;
  /** Deterministic runner: record the event order in the result's trace (default true). */
  trace?: boolean;
  /** Deterministic runner: stop when virtual time passes this (ns); default 1 hour. */
  maxVirtualNs?: bigint;
  /**
   * Domain 0 as a WebAssembly backend domain (DESIGN §4); without it dom0 is the harness alone.
   * `disks` are its host devices, attached to the first guest as xvda, xvdb, ...
   */
  backend?: BackendSpec;
  /** Seeded fault injection (faults.ts) in the domains listed (every domain when `domids` is absent). */
  faults?: { seed: number; percent: number; domids?: number[] };
  /** Record the run's trace in the Chrome trace-event format (trace.ts) into the result's `traceEvents`. */
  traceEvents?: boolean;
  /** Time each domain's vCPU in the guest (Ctl.CpuUs; on anyway while traced): the dashboard shows it. */
  accounting?: boolean;
}

/** Arms fault injection in `domains` as `opts.faults` asks (nothing when it does not). */
export function armRunFaults(opts: RunOptions, domains: Domain[]): void {
  const f = opts.faults;
  if (!f || f.percent === 0) return;
  for (const d of domains) if (!d.isHost && (!f.domids || f.domids.includes(d.domid))) armFaults(d, f.seed, f.percent);
}

/**
 * The backend domain 0 of a run: its module, the host disks it serves (attached to the first
 * guest), the guests' vifs on its switch, the capture file its switch records into, and its
 * switch's UDP uplink to the host (threaded runner only: virtual time cannot wait for a network).
 */
export interface BackendSpec {
  module: WebAssembly.Module; name: string; memMiB: number; cmdline: string; disks: DiskSpec[]; vifs?: VifAttach[]; pcap?: string; uplink?: UplinkSpec;
  /** Called once the uplink's socket is bound, with its local port. */
  onUplink?: (localPort: number) => void;
}

/** What a running system offers its host while it runs (RunOptions.onStart): the main thread's hypervisor, xenstored and domains. */
export interface RunContext { hypervisor: Hypervisor; xenstored: Xenstored; domains: Domain[] }

/** How one domain ended. */
export interface DomainResult {
  domid: number; name: string; reason: string; message?: string; violations: number; hypercalls: number; events: number; grantOps: number;
  /** Bytes the domain's GNTTABOP_copy entries moved. */
  copyBytes: number;
  /** Hypercall faults injected into the domain (fault injection, faults.ts). */
  faults: number;
  /** The event-channel ABI the domain ended with: "fifo" after EVTCHNOP_init_control, else "2-level". */
  evtchnAbi: "fifo" | "2-level";
  /** The grant-table version the domain ended with (GNTTABOP_set_version). */
  gnttabVersion: number;
}

/** The outcome of a run: per-domain results, the exit status, and (deterministic) the trace. */
export interface RunResult {
  domains: DomainResult[]; exitCode: number; trace: string[]; error?: string;
  /** The backend domain 0, when the run had one. */
  backend?: DomainResult;
  /** What the uplink counted, when the run had one. */
  uplink?: UplinkStats;
  /** The Chrome trace's events (RunOptions.traceEvents), and how many did not fit. */
  traceEvents?: TraceEvent[];
  traceDropped?: number;
}

/** Turns shutdown reasons into the CLI's exit status: 0 when every guest powered off. */
export function exitCodeOf(results: DomainResult[], error?: string): number {
  if (error) return 4;
  if (results.some((r) => r.reason === "crash")) return 1;
  return results.every((r) => r.reason === "poweroff") ? 0 : 3;
}

/** A 32-bit seeded generator (mulberry32): same seed, same sequence. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The longest console line the harness assembles (characters); a longer one is emitted in pieces. */
export const MAX_CONSOLE_LINE = 4096;

/** Assembles console bytes into lines per domain and hands them on with the domain's name. */
export class ConsoleLines {
  private readonly partial = new Map<number, string>();
  private readonly decoder = new Map<number, TextDecoder>();
  constructor(private readonly emit: (line: string) => void) {}

  /**
   * Adds bytes written by `d`. A line longer than MAX_CONSOLE_LINE characters is emitted in
   * pieces of that length: a guest that never writes a newline costs the harness a bounded
   * buffer and linear time, not a string that grows (and is re-split) for ever.
   */
  write(domid: number, name: string, bytes: Uint8Array): void {
    let dec = this.decoder.get(domid);
    if (!dec) this.decoder.set(domid, (dec = new TextDecoder()));
    const text = (this.partial.get(domid) ?? "") + dec.decode(bytes, { stream: true });
    const lines = text.split("\n");
    let rest = lines.pop()!;
    for (const l of lines) this.emit(`[${name}] ${l.replace(/\r$/, "")}`);
    for (; rest.length >= MAX_CONSOLE_LINE; rest = rest.slice(MAX_CONSOLE_LINE)) this.emit(`[${name}] ${rest.slice(0, MAX_CONSOLE_LINE)}`);
    this.partial.set(domid, rest);
  }

  /** Emits a domain's unfinished last line. */
  flush(domid: number, name: string): void {
    const rest = this.partial.get(domid);
    if (rest) this.emit(`[${name}] ${rest}`);
    this.partial.delete(domid);
  }
}

/** Entries into a guest between two publications of its pvclock by the runner. */
export const TIME_REFRESH = 64;

/** What happened when the harness called into a guest. */
export type Entry = { kind: "ok" } | { kind: "exit"; reason: number; message: string };
/** The result of every entry that returned: one frozen object, not one allocated per event. */
const OK: Entry = Object.freeze({ kind: "ok" });

/**
 * Calls `fn` (a guest export) for `d` after publishing the time. A trap or abort crashes the
 * domain; SCHEDOP_shutdown ends it. Errors of the harness itself propagate.
 */
export function enter(hv: Hypervisor, d: Domain, fn: () => void, what: "start" | "upcall" = "upcall"): Entry {
  return hv.accounting ? enterAccounted(hv, d, fn, what) : enterGuest(hv, d, fn);
}

/** enter() without accounting: the pvclock refresh and the guest's code, its exits and traps caught. */
function enterGuest(hv: Hypervisor, d: Domain, fn: () => void): Entry {
  // The pvclock is published when shared_info is mapped (memory.ts) and refreshed every
  // TIME_REFRESH entries: in between a guest's time stays exact, as its pvclock read scales the
  // rdtsc import's delta from tsc_timestamp 1:1 (a pair published earlier is as valid as a new
  // one), and publishing costs two clock reads' worth on every event.
  if (--d.timeRefresh <= 0) {
    publishTime(d, hv.now());
    d.timeRefresh = TIME_REFRESH;
  }
  try {
    fn();
    return OK;
  } catch (e) {
    if (e instanceof DomainExit) return { kind: "exit", reason: e.reason, message: e.message };
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      hv.shutdown(d, k("SHUTDOWN_crash"));
      return { kind: "exit", reason: k("SHUTDOWN_crash"), message: `trap: ${e.message}` };
    }
    throw e;
  }
}

/**
 * enter() for a traced or watched run: the entry is timed into the domain's Ctl.CpuUs and, when
 * traced, is a slice ("start" or "upcall") on its track that ends the flows of the events sent
 * to it since its last upcall.
 */
function enterAccounted(hv: Hypervisor, d: Domain, fn: () => void, what: "start" | "upcall"): Entry {
  const tr = hv.tracer;
  const t0 = tr?.tick() ?? 0;
  const flows = tr?.deliverFlows(d) ?? 0;
  const c0 = performance.now();
  const nested = tr?.running.has(d.domid) ?? false;
  tr?.running.add(d.domid);
  try {
    return enterGuest(hv, d, fn);
  } finally {
    if (!nested) tr?.running.delete(d.domid);
    const us = Math.round((performance.now() - c0) * 1000) + (d.ctl[Ctl.CpuUsLo] >>> 0);
    d.ctl[Ctl.CpuUsLo] = us % 2 ** 32;
    d.ctl[Ctl.CpuUsHi] += Math.floor(us / 2 ** 32);
    tr?.slice(d.domid, what, "vcpu", t0, tr.tick(), flows ? { events: flows } : undefined);
  }
}

/** Time domain `d`'s vCPU spent in the guest so far, in µs (while the run accounts it). */
export function cpuUs(d: Domain): number {
  return (d.ctl[Ctl.CpuUsHi] >>> 0) * 2 ** 32 + (d.ctl[Ctl.CpuUsLo] >>> 0);
}

/** Releases what a dead domain holds: its ports (peers' ends become unbound) and its mappings. */
export function teardown(hv: Hypervisor, d: Domain): void {
  if (Atomics.load(d.ctl, Ctl.State) !== DomState.Shutdown) hv.shutdown(d, k("SHUTDOWN_crash"));
  unmapAll(hv, d);
  closeAll(hv, d);
}

/** The result record of a finished domain. */
export function resultOf(d: Domain, message?: string): DomainResult {
  return {
    domid: d.domid, name: d.name, reason: SHUTDOWN_NAMES[d.ctl[Ctl.Reason]] ?? `reason ${d.ctl[Ctl.Reason]}`, message,
    violations: d.ctl[Ctl.Violations], hypercalls: d.ctl[Ctl.Hypercalls], events: d.ctl[Ctl.Events], grantOps: d.ctl[Ctl.GrantOps],
    copyBytes: (d.ctl[Ctl.CopyBytesHi] >>> 0) * 2 ** 32 + (d.ctl[Ctl.CopyBytesLo] >>> 0), faults: d.ctl[Ctl.Faults],
    evtchnAbi: d.ctl[Ctl.EvtchnFifo] ? "fifo" : "2-level", gnttabVersion: d.ctl[Ctl.GrantVersion],
  };
}

/** Names guests after their files, adding the domid where two share a name. */
export function domainNames(names: string[]): string[] {
  const count = new Map<string, number>();
  names.forEach((n) => count.set(n, (count.get(n) ?? 0) + 1));
  return names.map((n, i) => (count.get(n)! > 1 ? `${n}.${i + 1}` : n));
}
