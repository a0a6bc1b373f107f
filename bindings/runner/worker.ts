// One vCPU of the threaded runner: runs one guest domain on its own thread. Hypercalls act on
// the shared state directly; an idle domain sleeps in Atomics.wait on its wake word.
import { parentPort, workerData } from "node:worker_threads";
import { Ctl, DomState, setThreadCanBlock, type Domain, type DomainDescriptor } from "../hypervisor/domain.js";
import { Hypervisor, type RunnerHooks } from "../hypervisor/hypervisor.js";
import { guestImports } from "../hypervisor/imports.js";
import { fireTimerIfDue, publishWallclock, timerDeadline } from "../hypervisor/vcpu.js";
import { enter, teardown } from "./common.js";
import { openDisk, type DiskSpec } from "../devices/blk.js";
import { PcapWriter } from "../devices/net.js";
import { UplinkQueues } from "../devices/uplink.js";
import { Tracer, type TraceEvent } from "./trace.js";

/** What the main thread hands a worker. */
export interface WorkerData { domid: number; module: WebAssembly.Module; domains: DomainDescriptor[]; epochNs: bigint; wallNs: bigint; seed: number; spin: boolean; disks: DiskSpec[]; pcap?: string; /** dom0: the shared queues of the run's uplink. */ uplink?: SharedArrayBuffer;
  /** Record this domain's Chrome trace events (posted in batches); time its vCPU in the guest. */ trace: boolean; accounting: boolean }

/** Messages a worker posts to the main thread. */
export type WorkerMessage =
  | { type: "console"; domid: number; bytes: Uint8Array }
  | { type: "log"; domid: number; message: string }
  | { type: "trace"; domid: number; events: TraceEvent[]; dropped: number }
  | { type: "exit"; domid: number; message?: string }
  | { type: "error"; domid: number; message: string };

const data = workerData as WorkerData;
/** How long an idle vCPU polls its wake word before it sleeps in Atomics.wait (ns). */
export const SPIN_BEFORE_WAIT_NS = 30_000n;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
setThreadCanBlock(true);

const now = () => process.hrtime.bigint() - data.epochNs;
/** Polling rounds between two looks at the clock (reading it costs more than a round). */
const CLOCK_EVERY = 32;

/**
 * Sleeps in Atomics.wait while `dom`'s wake word is `w`, at most `ms`, flagged Sleeping so that
 * an event wakes it (raiseSel); `ready` is looked at once more after the flag is up, so that an
 * event raised just before is not slept through.
 */
function sleep(dom: Domain, w: number, ms: number, ready: () => boolean): void {
  Atomics.store(dom.ctl, Ctl.Sleeping, 1);
  if (!ready()) Atomics.wait(dom.ctl, Ctl.Wake, w, ms);
  Atomics.store(dom.ctl, Ctl.Sleeping, 0);
}
const hooks: RunnerHooks = {
  now,
  poll: (dom, ready, deadline) => {
    while (!ready() && dom.state !== DomState.Shutdown) {
      const w = Atomics.load(dom.ctl, Ctl.Wake);
      if (ready()) return;
      const t = now();
      if (deadline !== null && t >= deadline) return;
      if (data.spin) continue;
      Atomics.store(dom.ctl, Ctl.Idle, deadline === null && timerDeadline(dom) === null ? 1 : 0);
      sleep(dom, w, deadline === null ? 1000 : Math.max(0, Number(deadline - t) / 1e6), ready);
      Atomics.store(dom.ctl, Ctl.Idle, 0);
    }
  },
  timerChanged: () => {},
  console: (dom, bytes) => post({ type: "console", domid: dom.domid, bytes }),
  seed: (dom) => data.seed * 1000 + dom.domid,
};

const hv = new Hypervisor(hooks);
for (const desc of data.domains) hv.attach(desc);
const d = hv.domain(data.domid)!;
// Traced: the events go to the main thread in batches, and the rest before the exit message.
const tracer = data.trace ? new Tracer(now, (events) => post({ type: "trace", domid: d.domid, events, dropped: 0 })) : undefined;
hv.tracer = tracer;
hv.accounting = data.accounting;
const flushTrace = () => { if (tracer) { tracer.drain(); post({ type: "trace", domid: d.domid, events: [], dropped: tracer.dropped }); } };
// Host disks are opened on the thread of the domain that drives them (dom0's).
const disks = data.disks.map(openDisk);
// The capture is written by dom0's thread too, with wall-clock timestamps.
const capture = data.pcap ? new PcapWriter(data.pcap, data.wallNs) : undefined;
try {
  const inst = new WebAssembly.Instance(data.module, guestImports(hv, d, { disks, capture, uplink: data.uplink ? new UplinkQueues(data.uplink) : undefined }, (message) => post({ type: "log", domid: d.domid, message })));
  const ex = inst.exports as { xen_start: (a: number) => void; xen_upcall: () => void };
  // One function object for every upcall (not a closure allocated per event).
  const upcall = ex.xen_upcall;
  Atomics.store(d.ctl, Ctl.State, DomState.Running);
  let r = enter(hv, d, () => ex.xen_start(4096), "start");
  publishWallclock(d, data.wallNs);
  // On every event's path: State and TimerArmed are read with plain loads and Idle (which only
  // the watchdog reads, every few ms) is written with plain stores, as an Atomics call costs
  // 15-25 ns (the Ctl comment in domain.ts); the stores that order a sleep stay atomic.
  while (r.kind === "ok" && d.ctl[Ctl.State] !== DomState.Shutdown) {
    if (d.ctl[Ctl.TimerArmed]) fireTimerIfDue(d, now()); // the clock only when a timer is armed
    if (d.upcallDue()) { d.ctl[Ctl.Idle] = 0; r = enter(hv, d, upcall); continue; }
    const w = Atomics.load(d.ctl, Ctl.Wake);
    if (d.upcallDue() || d.ctl[Ctl.State] === DomState.Shutdown) continue;
    const deadline = timerDeadline(d);
    if (data.spin) {
      // Polling mode: never sleep; poll the wake word (every event bumps it) and look at the
      // clock only now and then, for the timer.
      d.ctl[Ctl.Idle] = deadline === null ? 1 : 0;
      for (let i = 1; Atomics.load(d.ctl, Ctl.Wake) === w && !d.upcallDue(); i++) if (i % CLOCK_EVERY === 0 && deadline !== null && now() >= deadline) break;
      continue;
    }
    // Spin a little before sleeping: an event that comes within SPIN_BEFORE_WAIT_NS (a peer's
    // answer) is taken without the wake-up latency of Atomics.wait/notify.
    const spinUntil = now() + SPIN_BEFORE_WAIT_NS;
    for (let i = 1; Atomics.load(d.ctl, Ctl.Wake) === w && !d.upcallDue(); i++) if (i % CLOCK_EVERY === 0 && now() >= spinUntil) break;
    if (Atomics.load(d.ctl, Ctl.Wake) !== w || d.upcallDue()) continue;
    const wait = deadline === null ? 1000 : Math.max(0, Number(deadline - now()) / 1e6);
    Atomics.store(d.ctl, Ctl.Idle, deadline === null ? 1 : 0);
    if (wait > 0) sleep(d, w, wait, () => d.upcallDue());
    Atomics.store(d.ctl, Ctl.Idle, 0);
  }
  teardown(hv, d);
  disks.forEach((b) => b.close());
  capture?.close();
  flushTrace();
  post({ type: "exit", domid: d.domid, message: r.kind === "exit" ? r.message : "shut down by another domain" });
} catch (e) {
  teardown(hv, d);
  disks.forEach((b) => b.close());
  capture?.close();
  flushTrace();
  post({ type: "error", domid: d.domid, message: (e as Error).stack ?? String(e) });
}
