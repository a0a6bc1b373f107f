// The deterministic runner (DESIGN §3): every domain on this one thread, virtual time, and a
// seeded choice of which runnable domain goes next — same seed and binaries, same run.
import { k } from "../abi/layout.js";
import { Ctl, DomState, type Domain } from "../hypervisor/domain.js";
import { drainConsoleRing } from "../hypervisor/console.js";
import { Hypervisor, type RunnerHooks } from "../hypervisor/hypervisor.js";
import { guestImports } from "../hypervisor/imports.js";
import { fireTimerIfDue, publishWallclock, timerDeadline } from "../hypervisor/vcpu.js";
import { createDom0, createGuest, createHostDom0 } from "../toolstack/builder.js";
import { attachDisks } from "../toolstack/disks.js";
import { openDisk } from "../devices/blk.js";
import { PcapWriter } from "../devices/net.js";
import { attachVifs } from "../toolstack/vifs.js";
import { introduceDomain, releaseDomain } from "../toolstack/xenstore.js";
import { Xenstored } from "../xenstore/xenstored.js";
import { Tracer, sampleCounters, traceXenbusStates } from "./trace.js";
import { ConsoleLines, armRunFaults, enter, exitCodeOf, resultOf, rng, teardown, type DomainResult, type RunOptions, type RunResult } from "./common.js";

/** Virtual time one entry into a guest costs, so that time moves while domains run. */
export const QUANTUM_NS = 1_000n;
const DEFAULT_MAX_NS = 3_600_000_000_000n;

interface Guest { dom: Domain; start: () => void; upcall: () => void; started: boolean; done: boolean; message?: string }

/** Raised when every live domain waits with nothing pending and no timer armed. */
class Deadlock extends Error {}

/** Virtual time between two samples of the trace's counters (rings, grant maps). */
export const SAMPLE_NS = 100_000n;

/** Guest steps between two yields to the event loop (socket clients are served there). */
export const STEPS_PER_YIELD = 256;

/** Runs `opts.guests` to completion on this thread and returns the result. */
export async function runDeterministic(opts: RunOptions): Promise<RunResult> {
  let now = 0n;
  const trace: string[] = [];
  // Without a trace (RunOptions.trace false) nothing is recorded: a long run stays bounded.
  const record = opts.trace === false ? (_line: string) => {} : (line: string) => { trace.push(line); };
  const random = rng(opts.seed);
  const lines = new ConsoleLines(opts.output);
  const onStack = new Set<Domain>();
  const maxNs = opts.maxVirtualNs ?? DEFAULT_MAX_NS;
  const hooks: RunnerHooks = {
    now: () => now,
    poll: (dom, ready, deadline) => {
      onStack.add(dom);
      try {
        while (!ready() && dom.state !== DomState.Shutdown) {
          if (deadline !== null && now >= deadline) return;
          if (!step(deadline)) return;
        }
      } finally {
        onStack.delete(dom);
      }
    },
    timerChanged: () => {},
    console: (dom, bytes) => lines.write(dom.domid, dom.name, bytes),
    seed: (dom) => opts.seed * 1000 + dom.domid,
    trace: opts.trace === false ? undefined : (line) => trace.push(`${now} ${line}`),
  };
  const hv = new Hypervisor(hooks);
  // The Chrome trace: on the virtual clock, so the same seed gives the same file.
  const tracer = opts.traceEvents ? new Tracer(() => now) : undefined;
  hv.tracer = tracer;
  hv.accounting = tracer !== undefined || opts.accounting === true;
  const be = opts.backend;
  if (be?.uplink) throw new Error("the uplink needs the threaded runner: virtual time cannot wait for a real network");
  const dom0 = be ? createDom0(hv, { name: be.name, memMiB: be.memMiB, cmdline: be.cmdline }) : createHostDom0(hv);
  const xsd = new Xenstored(hv, dom0, opts.log);
  const disks = be ? be.disks.map(openDisk) : [];
  // Virtual time from 0: the same seed gives the same capture file.
  const capture = be?.pcap ? new PcapWriter(be.pcap, 0n) : undefined;
  const instantiate = (dom: Domain, module: WebAssembly.Module): Guest => {
    const inst = new WebAssembly.Instance(module, guestImports(hv, dom, dom.domid === 0 ? { disks, capture } : { disks: [] }, opts.log));
    const ex = inst.exports as { xen_start: (a: number) => void; xen_upcall: () => void };
    return { dom, start: () => ex.xen_start(4096), upcall: () => ex.xen_upcall(), started: false, done: false };
  };
  const backend: Guest[] = [];
  if (be) {
    introduceDomain(xsd, dom0);
    backend.push(instantiate(dom0, be.module));
  }
  const guests: Guest[] = [...backend, ...opts.guests.map((spec, i) => {
    const dom = createGuest(hv, dom0, { domid: i + 1, name: spec.name, memMiB: spec.memMiB, cmdline: spec.cmdline });
    introduceDomain(xsd, dom);
    return instantiate(dom, spec.module);
  })];
  if (be && be.disks.length) attachDisks(xsd, 1, be.disks);
  if (be?.vifs?.length) attachVifs(xsd, be.vifs);
  armRunFaults(opts, hv.domains());
  /** Guests other than the backend domain: the run ends when they have all shut down. */
  const domUs = guests.filter((g) => g.dom.domid !== 0);

  /** Runs domain 0's services: xenstored answers the rings that were kicked. */
  const serviceAll = () => { let worked = false; while (xsd.service()) worked = true; return worked; };
  const serviceDom0 = tracer ? () => { tracer.service("xenstored", serviceAll); } : serviceAll;
  // Counters are sampled every SAMPLE_NS of virtual time (the same seed, the same samples).
  const sampled = new Map<string, number>();
  let nextSample = 0n;
  const unwatch = tracer ? traceXenbusStates(tracer, xsd) : () => {};

  const finish = (g: Guest, message?: string) => {
    g.done = true;
    releaseDomain(xsd, g.dom);
    g.message = message;
    drainConsoleRing(hv, g.dom);
    lines.flush(g.dom.domid, g.dom.name);
    teardown(hv, g.dom);
    record(`${now} exit ${g.dom.domid} ${resultOf(g.dom).reason}`);
    if (g.dom.ctl[Ctl.Reason] === k("SHUTDOWN_crash")) opts.log(`domain ${g.dom.name} (${g.dom.domid}) crashed: ${message}`);
  };

  /** Runs one scheduling step; false when nothing can run before `until` (or ever). */
  function step(until: bigint | null): boolean {
    serviceDom0();
    const runnable = guests.filter((g) => !g.done && !onStack.has(g.dom) && (!g.started || g.dom.upcallDue()));
    if (runnable.length === 0) {
      const deadlines = guests.filter((g) => !g.done).map((g) => timerDeadline(g.dom)).filter((t): t is bigint => t !== null);
      const next = deadlines.length ? deadlines.reduce((a, b) => (a < b ? a : b)) : null;
      if (next === null || (until !== null && next > until)) {
        if (until !== null) { now = now > until ? now : until; return false; }
        if (onStack.size) return false;
        throw new Deadlock(`every domain is idle with no event pending and no timer armed: ${domUs.filter((g) => !g.done).map((g) => g.dom.name).join(", ")}`);
      }
      if (next > maxNs) throw new Deadlock(`virtual time limit reached (${maxNs} ns)`);
      if (next > now) now = next;
      for (const g of guests) if (!g.done && fireTimerIfDue(g.dom, now)) record(`${now} timer ${g.dom.domid}`);
      return true;
    }
    const g = runnable[Math.floor(random() * runnable.length)];
    now += QUANTUM_NS;
    for (const o of guests) if (!o.done) fireTimerIfDue(o.dom, now);
    const first = !g.started;
    g.started = true;
    if (first) {
      Atomics.store(g.dom.ctl, Ctl.State, DomState.Running);
      publishWallclock(g.dom, 0n);
    }
    record(`${now} ${first ? "start" : "upcall"} ${g.dom.domid}`);
    onStack.add(g.dom);
    let r;
    try {
      r = enter(hv, g.dom, first ? g.start : g.upcall, first ? "start" : "upcall");
    } finally {
      onStack.delete(g.dom);
    }
    drainConsoleRing(hv, g.dom);
    serviceDom0();
    if (tracer && now >= nextSample) {
      sampleCounters(tracer, hv, xsd, sampled);
      nextSample = now + SAMPLE_NS;
    }
    if (r.kind === "exit" || g.dom.state === DomState.Shutdown) finish(g, r.kind === "exit" ? r.message : "shut down");
    // Domain 0 going down takes the host with it: every guest ends (crashed) too.
    if (g.done && g.dom.domid === 0) for (const o of domUs) if (!o.done) hv.shutdown(o.dom, k("SHUTDOWN_crash"));
    // Remote shutdowns (privileged domains) end other guests too.
    for (const o of guests) if (!o.done && o.dom.state === DomState.Shutdown && !onStack.has(o.dom)) finish(o, g.dom.domid === 0 && g.done ? "domain 0 went down" : "shut down by another domain");
    return true;
  }

  let error: string | undefined;
  if (opts.xenstoreSocket) await xsd.listen(opts.xenstoreSocket);
  const waitForXenstore = opts.waitForXenstore ?? opts.xenstoreSocket !== undefined;
  opts.onStart?.({ hypervisor: hv, xenstored: xsd, domains: hv.domains() });
  try {
    for (let steps = 0; domUs.some((g) => !g.done); steps++) {
      try {
        step(null);
      } catch (e) {
        // Idle guests with xenstore watches wait for the outside world (xenstore-write, ...).
        if (!(e instanceof Deadlock) || !waitForXenstore || !xsd.guestsWaitForInput()) throw e;
        await new Promise<void>((resolve) => { xsd.onExternalInput = resolve; });
        xsd.onExternalInput = () => {};
        continue;
      }
      if (steps % STEPS_PER_YIELD === 0) await new Promise((r) => setImmediate(r));
    }
  } catch (e) {
    if (!(e instanceof Deadlock)) throw e;
    error = e.message;
    opts.log(`run stopped: ${e.message}`);
    for (const g of guests) if (!g.done) { drainConsoleRing(hv, g.dom); lines.flush(g.dom.domid, g.dom.name); }
    // The guests are gone: the backend domain powers off with them (xl shutdown of the host).
    for (const g of backend) if (!g.done) { hv.shutdown(g.dom, k("SHUTDOWN_poweroff")); finish(g, "the run ended"); }
  } finally {
    unwatch();
    xsd.close();
    disks.forEach((d) => d.close());
    capture?.close();
  }
  const crashed0 = backend.filter((g) => g.done && g.dom.ctl[Ctl.Reason] === k("SHUTDOWN_crash")).map((g) => resultOf(g.dom, g.message));
  const domains: DomainResult[] = [...crashed0, ...domUs.map((g) => (g.done ? resultOf(g.dom, g.message) : { ...resultOf(g.dom), reason: "running" }))];
  const backendResult = backend.length ? resultOf(dom0, backend[0].message) : undefined;
  return { domains, exitCode: exitCodeOf(domains, error), trace, error, backend: backendResult, traceEvents: tracer?.drain(), traceDropped: tracer?.dropped };
}
