// The run's trace in the Chrome trace-event format (the JSON that Perfetto's UI and
// chrome://tracing open): a track (pid) per domain, "X" slices for hypercalls and for the
// runner's entries into a guest (start, upcall), flow arrows ("s" to "f") from each event-channel
// send to the upcall that delivered it, counters ("C") for rings and grant maps, and instants
// ("i") for xenbus state changes. docs/tracing.md describes the file.
//
// Each thread records into its own Tracer (the deterministic runner has one; the threaded runner
// one per vCPU thread plus the main thread's, merged at the end). Time is the runner's clock in
// ns (virtual under the deterministic runner, so the same seed gives the same file), made strictly
// increasing per Tracer so that slices nest and a flow's end falls inside its upcall.
import { closeSync, openSync, writeSync } from "node:fs";
import { abi } from "../abi/layout.js";
import { Ctl, type Domain } from "../hypervisor/domain.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { liveMaps, sampleRings, watchXenbusStates, XENBUS_STATES } from "../toolstack/rings.js";
import type { Xenstored } from "../xenstore/xenstored.js";

/** One trace event as the Chrome trace-event format spells it (ts and dur in µs). */
export interface TraceEvent {
  name: string;
  ph: "X" | "s" | "f" | "C" | "i" | "M";
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  dur?: number;
  id?: number;
  bp?: "e";
  s?: "t" | "p" | "g";
  args?: Record<string, unknown>;
}

/** The thread id of the harness's own services (xenstored, console daemon, sampling) on domain 0's track. */
export const HARNESS_TID = 1;
/** Events one Tracer keeps before it stops recording (a long run's file stays openable). */
export const MAX_TRACE_EVENTS = 2_000_000;
/** Events a vCPU thread batches before handing them to the main thread. */
export const TRACE_BATCH = 8192;
/** Flow ends bound to one upcall at most: sends coalesced beyond these end at the same upcall unshown. */
export const MAX_FLOWS_PER_UPCALL = 64;

/** The flow id of the `seq`-th event sent to domain `domid` (unique across threads: the receiver's counter). */
export function flowId(domid: number, seq: number): number {
  return domid * 2 ** 32 + (seq >>> 0);
}

const PREFIX: Record<string, string> = {
  event_channel_op: "EVTCHNOP_", grant_table_op: "GNTTABOP_", sched_op: "SCHEDOP_", memory_op: "XENMEM_",
  console_io: "CONSOLEIO_", xen_version: "XENVER_", vcpu_op: "VCPUOP_", hvm_op: "HVMOP_",
};
let opNames: Map<string, Map<number, string>> | undefined;

/** The name of sub-operation `cmd` of hypercall `family` ("EVTCHNOP_send"), or "family(cmd)" when the ABI has none. */
export function opName(family: string, cmd: number): string {
  if (!opNames) {
    opNames = new Map();
    const consts = Object.entries(abi().constants);
    for (const [fam, prefix] of Object.entries(PREFIX)) {
      const m = new Map<number, string>();
      // The first constant of a value wins: the command numbers come before other constants
      // that share the prefix in the headers (XENMEM_resource_*, HVMOP_altp2m_*).
      for (const [name, v] of consts) if (name.startsWith(prefix) && typeof v === "number" && !m.has(v)) m.set(v, name);
      opNames.set(fam, m);
    }
  }
  return opNames.get(family)?.get(cmd) ?? `${family}(${cmd})`;
}

/** One thread's recorder: events in order, on the runner's clock. */
export class Tracer {
  private last = -1;
  private events: TraceEvent[] = [];
  private kept = 0;
  /** Events not recorded because the Tracer was full. */
  dropped = 0;
  /** Domains this thread is running guest code of now (entered and not yet returned). */
  readonly running = new Set<number>();
  /** True inside service(): sends belong to its slice. */
  private serving = false;
  /** The thread on its domain's track the next events belong to: 0 the vCPU, HARNESS_TID the harness's services (xenstored, consoles, sampling). */
  tid = 0;

  /**
   * `clock` is the runner's time in ns; `flush`, when given, receives the events every
   * TRACE_BATCH of them (a vCPU thread posts them to the main thread).
   */
  constructor(private readonly clock: () => bigint, private readonly flush?: (events: TraceEvent[]) => void) {}

  /** The trace time now in ns: the runner's clock, or 1 ns past the last event if that is later. */
  tick(): number {
    const n = Number(this.clock());
    this.last = n > this.last ? n : this.last + 1;
    return this.last;
  }

  /** Records `e` (ts already in µs) unless the Tracer is full. */
  push(e: TraceEvent): void {
    if (this.kept >= MAX_TRACE_EVENTS) { this.dropped++; return; }
    this.kept++;
    this.events.push(e);
    if (this.flush && this.events.length >= TRACE_BATCH) this.drain();
  }

  /** Hands the events recorded so far to `flush` (or returns them when there is none) and forgets them. */
  drain(): TraceEvent[] {
    const out = this.events;
    this.events = [];
    if (this.flush && out.length) this.flush(out);
    return out;
  }

  /** A complete slice on domain `pid`'s track from `startNs` to `endNs`. */
  slice(pid: number, name: string, cat: string, startNs: number, endNs: number, args?: Record<string, unknown>): void {
    this.push({ name, ph: "X", cat, ts: startNs / 1000, dur: (endNs - startNs) / 1000, pid, tid: this.tid, args });
  }

  /**
   * A flow's start toward domain `to`, numbered by `to`'s counter: inside the sender's hypercall
   * slice, or for a send the harness makes outside any entry into `from` (a watch fired by a
   * release, say), inside a "notify" slice of its own on the harness's thread.
   */
  sendFlow(from: Domain, to: Domain): void {
    if (!this.serving && !this.running.has(from.domid)) {
      this.service("notify", () => { this.sendFlow(from, to); return true; }, from.domid);
      return;
    }
    // The time first, then the number: once the number is out, the receiver's thread may end the
    // flow at once, and its end must not come before its start.
    const ts = this.tick() / 1000;
    const seq = Atomics.add(to.ctl, Ctl.TraceSent, 1) + 1;
    this.push({ name: "event", ph: "s", cat: "evtchn", id: flowId(to.domid, seq), ts, pid: from.domid, tid: this.tid });
  }

  /**
   * Ends, inside the upcall slice `d`'s thread is in, the flows of every event sent to `d` since
   * its last upcall (at most MAX_FLOWS_PER_UPCALL, the latest); returns how many ended.
   */
  deliverFlows(d: Domain): number {
    const sent = Atomics.load(d.ctl, Ctl.TraceSent) >>> 0;
    const done = Atomics.load(d.ctl, Ctl.TraceDelivered) >>> 0;
    if (sent === done) return 0;
    Atomics.store(d.ctl, Ctl.TraceDelivered, sent | 0);
    const n = (sent - done) >>> 0;
    const first = n > MAX_FLOWS_PER_UPCALL ? (sent - MAX_FLOWS_PER_UPCALL + 1) >>> 0 : (done + 1) >>> 0;
    for (let s = first; s !== ((sent + 1) >>> 0); s = (s + 1) >>> 0) {
      this.push({ name: "event", ph: "f", bp: "e", cat: "evtchn", id: flowId(d.domid, s), ts: this.tick() / 1000, pid: d.domid, tid: this.tid });
    }
    return n;
  }

  /** A counter sample on domain `pid`'s track. */
  counter(pid: number, name: string, values: Record<string, number>): void {
    this.push({ name, ph: "C", cat: "counter", ts: this.tick() / 1000, pid, tid: this.tid, args: values });
  }

  /** An instant on domain `pid`'s track. */
  instant(pid: number, name: string, cat: string, args?: Record<string, unknown>): void {
    this.push({ name, ph: "i", s: "t", cat, ts: this.tick() / 1000, pid, tid: this.tid, args });
  }

  /**
   * Runs harness service `fn` (it returns whether it did any work) on the harness's thread of
   * domain `pid`'s track (dom0's by default), as a slice named `name` when it did work (the flows
   * it sends start inside it).
   */
  service(name: string, fn: () => boolean, pid = 0): boolean {
    const tid = this.tid, serving = this.serving;
    this.tid = HARNESS_TID;
    this.serving = true;
    const t0 = this.tick();
    try {
      const worked = fn();
      if (worked) this.slice(pid, name, "harness", t0, this.tick());
      return worked;
    } finally {
      this.tid = tid;
      this.serving = serving;
    }
  }
}

/**
 * Wraps hypercall import `fn` of `family` (its first argument the sub-operation) so that each
 * call is a slice on `d`'s track named after the sub-operation, with the result in its args.
 */
export function tracedHypercall<A extends unknown[]>(tr: Tracer, d: Domain, family: string, fn: (...a: A) => number | bigint): (...a: A) => number | bigint {
  const named = PREFIX[family] !== undefined;
  return (...a: A) => {
    const t0 = tr.tick();
    const rc = fn(...a);
    const name = named ? opName(family, a[0] as number) : family;
    tr.slice(d.domid, name, "hypercall", t0, tr.tick(), { rc: typeof rc === "bigint" ? Number(rc) : rc });
    return rc;
  };
}

/**
 * Samples every ring's occupancy and every domain's grant maps into counters on the harness's
 * thread, each only when it changed since the sample kept in `last`.
 */
export function sampleCounters(tr: Tracer, hv: Hypervisor, xsd: Xenstored, last: Map<string, number>): void {
  const tid = tr.tid;
  tr.tid = HARNESS_TID;
  try {
    const put = (pid: number, name: string, arg: string, v: number) => {
      const key = `${pid} ${name}`;
      if (last.get(key) === v) return;
      last.set(key, v);
      tr.counter(pid, name, { [arg]: v });
    };
    for (const r of sampleRings(hv, xsd)) put(r.domid, `ring ${r.name}`, r.kind === "console" || r.kind === "xenstore" ? "bytes" : "requests", r.inFlight);
    for (const d of hv.domains()) if (!d.isHost) put(d.domid, "grant maps", "maps", liveMaps(d));
  } finally {
    tr.tid = tid;
  }
}

/** Records each xenbus state change of a device as an instant on its domain's track; returns the unwatch. */
export function traceXenbusStates(tr: Tracer, xsd: Xenstored): () => void {
  return watchXenbusStates(xsd, (domid, device, state) => tr.instant(domid, `${device} → ${XENBUS_STATES[state] ?? state}`, "xenbus", { device, state }));
}

/**
 * Writes the trace file to `path`: process names (one per domain), then every event ordered by
 * time, then `meta` under "otherData"; written in pieces, so a big trace needs no one huge string.
 */
export function writeTraceFile(path: string, domains: Array<{ domid: number; name: string }>, events: TraceEvent[], meta: Record<string, unknown>): void {
  const names: TraceEvent[] = domains.flatMap((d) => [
    { name: "process_name", ph: "M", ts: 0, pid: d.domid, tid: 0, args: { name: `${d.name} (domain ${d.domid})` } },
    { name: "process_sort_index", ph: "M", ts: 0, pid: d.domid, tid: 0, args: { sort_index: d.domid } },
    { name: "thread_name", ph: "M", ts: 0, pid: d.domid, tid: 0, args: { name: "vcpu0" } },
  ] as TraceEvent[]);
  if (events.some((e) => e.tid === HARNESS_TID)) names.push({ name: "thread_name", ph: "M", ts: 0, pid: 0, tid: HARNESS_TID, args: { name: "harness (xenstored, consoles, sampling)" } });
  // A stable sort by time keeps each thread's own order (a slice before the events inside it).
  const all = [...names, ...events.slice().sort((a, b) => a.ts - b.ts)];
  const fd = openSync(path, "w");
  try {
    writeSync(fd, '{"displayTimeUnit":"ns","traceEvents":[\n');
    for (let i = 0; i < all.length; i += 10_000) {
      writeSync(fd, all.slice(i, i + 10_000).map((e) => JSON.stringify(e)).join(",\n") + (i + 10_000 < all.length ? ",\n" : "\n"));
    }
    writeSync(fd, `],"otherData":${JSON.stringify(meta)}}\n`);
  } finally {
    closeSync(fd);
  }
}
