// The threaded runner (DESIGN §3): one worker thread per guest domain on shared memory; the
// main thread builds the domains, plays the console daemon and collects the results.
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { k } from "../abi/layout.js";
import { Ctl, type Domain } from "../hypervisor/domain.js";
import { drainConsoleRing } from "../hypervisor/console.js";
import { Hypervisor, type RunnerHooks } from "../hypervisor/hypervisor.js";
import { createDom0, createGuest, createHostDom0 } from "../toolstack/builder.js";
import { attachDisks } from "../toolstack/disks.js";
import { attachVifs } from "../toolstack/vifs.js";
import { introduceDomain, releaseDomain } from "../toolstack/xenstore.js";
import { sendVirq } from "../hypervisor/evtchn.js";
import { UdpUplink, UplinkQueues, VIRQ_NET_UPLINK } from "../devices/uplink.js";
import { Xenstored } from "../xenstore/xenstored.js";
import { ConsoleLines, armRunFaults, exitCodeOf, resultOf, type DomainResult, type RunOptions, type RunResult } from "./common.js";
import type { WorkerData, WorkerMessage } from "./worker.js";
import { HARNESS_TID, Tracer, sampleCounters, traceXenbusStates, type TraceEvent } from "./trace.js";

/** How often the console daemon drains rings when no console event woke it (ms). */
export const CONSOLE_POLL_MS = 20;
/** How often the trace's counters (rings, grant maps) are sampled (ms). */
export const SAMPLE_MS = 5;
/** Idle detection: every live domain asleep with nothing pending and no timer for this long. */
export const IDLE_CHECK_MS = 250, IDLE_CHECKS = 4;

/** Runs `opts.guests`, one worker thread each, until every one has shut down. */
export async function runThreaded(opts: RunOptions): Promise<RunResult> {
  const epochNs = process.hrtime.bigint();
  const wallNs = BigInt(Date.now()) * 1_000_000n;
  const lines = new ConsoleLines(opts.output);
  const hooks: RunnerHooks = {
    now: () => process.hrtime.bigint() - epochNs,
    poll: () => { throw new Error("the main thread does not poll"); },
    timerChanged: () => {},
    console: (dom, bytes) => lines.write(dom.domid, dom.name, bytes),
    seed: () => opts.seed,
  };
  const hv = new Hypervisor(hooks);
  // The Chrome trace: this thread records the harness's services and samples; each vCPU thread
  // records its own domain and posts its events here in batches.
  const tracer = opts.traceEvents ? new Tracer(hooks.now) : undefined;
  if (tracer) tracer.tid = HARNESS_TID;
  hv.tracer = tracer;
  const traced: TraceEvent[] = [];
  let traceDropped = 0;
  const be = opts.backend;
  const dom0 = be ? createDom0(hv, { name: be.name, memMiB: be.memMiB, cmdline: be.cmdline }) : createHostDom0(hv);
  const xsd = new Xenstored(hv, dom0, opts.log);
  if (be) introduceDomain(xsd, dom0);
  const doms: Domain[] = opts.guests.map((spec, i) => {
    const d = createGuest(hv, dom0, { domid: i + 1, name: spec.name, memMiB: spec.memMiB, cmdline: spec.cmdline });
    introduceDomain(xsd, d);
    return d;
  });
  if (be && be.disks.length) attachDisks(xsd, 1, be.disks);
  if (be?.vifs?.length) attachVifs(xsd, be.vifs);
  armRunFaults(opts, hv.domains());
  /** Every domain with a vCPU: the backend domain first, then the guests. */
  const vcpus: Array<{ dom: Domain; module: WebAssembly.Module }> = [
    ...(be ? [{ dom: dom0, module: be.module }] : []),
    ...doms.map((dom, i) => ({ dom, module: opts.guests[i].module })),
  ];
  if (opts.xenstoreSocket) await xsd.listen(opts.xenstoreSocket);
  // The switch's uplink: its socket on this thread, its queues shared with dom0's.
  let uplink: UdpUplink | undefined;
  if (be?.uplink) {
    try {
      uplink = await UdpUplink.open(be.uplink, new UplinkQueues(), () => sendVirq(dom0, VIRQ_NET_UPLINK));
    } catch (e) {
      xsd.close();
      throw e;
    }
    be.onUplink?.(uplink.localPort);
  }
  opts.onStart?.({ hypervisor: hv, xenstored: xsd, domains: hv.domains() });
  const descriptors = hv.domains().map((d) => d.desc);
  const results = new Map<number, DomainResult>();
  let error: string | undefined;

  // Domain 0's user space on this thread: consoles and xenstored.
  const serviceAll = () => { let worked = false; while (xsd.service()) worked = true; return worked; };
  const drainAll = () => {
    vcpus.forEach((v) => drainConsoleRing(hv, v.dom));
    if (tracer) tracer.service("xenstored", serviceAll);
    else serviceAll();
  };
  const timer = setInterval(drainAll, CONSOLE_POLL_MS);
  const sampled = new Map<string, number>();
  const sampler = tracer ? setInterval(() => sampleCounters(tracer, hv, xsd, sampled), SAMPLE_MS) : undefined;
  const unwatch = tracer ? traceXenbusStates(tracer, xsd) : () => {};
  // Events on dom0's user ports (console, xenstore) wake the daemons up.
  let stopped = false;
  (async () => {
    while (!stopped) {
      const w = Atomics.load(dom0.ctl, Ctl.HostWake);
      const r = Atomics.waitAsync(dom0.ctl, Ctl.HostWake, w, 200);
      if (r.async) await r.value;
      drainAll();
    }
  })();

  const workerUrl = new URL("./worker.js", import.meta.url);
  const workers: Worker[] = [];
  // The deterministic runner's deadlock report, for real threads: all live vCPUs asleep with no
  // event pending and no timer, and no event delivered anywhere, for IDLE_CHECKS checks running.
  let idleChecks = 0, lastEvents = -1;
  const watchdog = setInterval(() => {
    const live = doms.filter((d) => !results.has(d.domid));
    const events = vcpus.reduce((n, v) => n + v.dom.ctl[Ctl.Events], 0);
    const asleep = (d: Domain) => Atomics.load(d.ctl, Ctl.Idle) === 1 && !d.upcallDue() && !Atomics.load(d.ctl, Ctl.TimerArmed);
    const idle = live.length > 0 && !xsd.guestsWaitForInput() && live.every(asleep) && (!be || results.has(0) || asleep(dom0));
    idleChecks = idle && events === lastEvents ? idleChecks + 1 : 0;
    lastEvents = events;
    if (idleChecks >= IDLE_CHECKS) {
      clearInterval(watchdog);
      error = `every domain is idle with no event pending and no timer armed: ${live.map((d) => d.name).join(", ")}`;
      opts.log(`run stopped: ${error}`);
      drainAll();
      for (const d of live) { lines.flush(d.domid, d.name); results.set(d.domid, { ...resultOf(d), reason: "running" }); }
      workers.forEach((w) => w.terminate());
    }
  }, IDLE_CHECK_MS);
  const exits = vcpus.map(({ dom: d, module }) => new Promise<void>((resolve) => {
    const wd: WorkerData = {
      domid: d.domid, module, domains: descriptors, epochNs, wallNs, seed: opts.seed, spin: opts.spin ?? false,
      disks: d.domid === 0 && be ? be.disks : [], pcap: d.domid === 0 ? be?.pcap : undefined,
      uplink: d.domid === 0 ? uplink?.queues.buffer : undefined,
      trace: tracer !== undefined, accounting: tracer !== undefined || opts.accounting === true,
    };
    const w = new Worker(fileURLToPath(workerUrl), { workerData: wd });
    workers.push(w);
    let reported = false;
    w.on("message", (m: WorkerMessage) => {
      if (m.type === "console") { lines.write(m.domid, d.name, m.bytes); return; }
      if (m.type === "log") { opts.log(m.message); return; }
      if (m.type === "trace") { for (const e of m.events) traced.push(e); traceDropped += m.dropped; return; }
      drainConsoleRing(hv, d);
      lines.flush(d.domid, d.name);
      if (d.domid !== 0) releaseDomain(xsd, d);
      reported = true;
      if (m.type === "error") {
        error = `harness error in domain ${d.name}: ${m.message}`;
        opts.log(error);
        results.set(d.domid, { ...resultOf(d, m.message), reason: "crash" });
      } else {
        results.set(d.domid, resultOf(d, m.message));
        if (d.ctl[Ctl.Reason] === k("SHUTDOWN_crash")) opts.log(`domain ${d.name} (${d.domid}) crashed: ${m.message}`);
      }
      // Domain 0 going down takes the host with it: every guest ends (crashed) too.
      if (d.domid === 0 && doms.some((o) => !results.has(o.domid))) for (const o of doms) hv.shutdown(o, k("SHUTDOWN_crash"));
    });
    w.on("error", (e) => { error = `worker of ${d.name} failed: ${e.message}`; opts.log(error); });
    w.on("exit", () => {
      if (!reported && !results.has(d.domid)) results.set(d.domid, { ...resultOf(d, "worker exited"), reason: "crash" });
      resolve();
    });
  }));
  await Promise.all(be ? exits.slice(1) : exits);
  if (be) {
    // The guests are gone: the backend domain powers off with them.
    hv.shutdown(dom0, k("SHUTDOWN_poweroff"));
    await exits[0];
    releaseDomain(xsd, dom0);
  }
  stopped = true;
  await uplink?.close();
  clearInterval(timer);
  clearInterval(watchdog);
  clearInterval(sampler);
  xsd.close();
  drainAll();
  if (tracer) sampleCounters(tracer, hv, xsd, sampled);
  unwatch();
  const crashed0 = be && results.get(0)?.reason === "crash" ? [results.get(0)!] : [];
  const domains = [...crashed0, ...doms.map((d) => results.get(d.domid)!)];
  const traceEvents = tracer ? [...traced, ...tracer.drain()] : undefined;
  return {
    domains, exitCode: exitCodeOf(domains, error), trace: [], error, backend: be ? results.get(0) : undefined, uplink: uplink?.queues.stats(),
    traceEvents, traceDropped: tracer ? traceDropped + tracer.dropped : undefined,
  };
}
