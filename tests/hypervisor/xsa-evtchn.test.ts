// Regression tests for Xen's event-channel security advisories: each names the bug it guards
// against and asserts Xen's fixed behaviour on the harness (hypercalls called directly; the
// races run on real threads with the worker evtchn-worker.mjs).
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { closeAll, eventChannelOp, portState } from "../../bindings/hypervisor/evtchn.js";
import { Ecs, type Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { ARG, E, bench, k, put } from "./fixture.js";
import { ARRAY0, CONTROL, SELF, allocUnbound, bind, expand, initControl, mapSharedInfo, op, poll } from "./evtchn-fixture.js";

function reset(hv: Hypervisor, caller: Domain, dom = SELF): number {
  put(caller, ARG, "struct evtchn_reset", { dom }, { dom: 2 });
  return eventChannelOp(hv, caller, op("reset"), ARG);
}
function status(hv: Hypervisor, d: Domain, port: number) {
  const l = put(d, ARG, "struct evtchn_status", { dom: SELF, port }, { dom: 2 });
  const rc = eventChannelOp(hv, d, op("status"), ARG);
  return { rc, status: d.u32(ARG + l.status), dom: d.u16(ARG + l["u.unbound.dom"]) };
}

/** Runs evtchn-worker.mjs as `d`, sending on `ports` until told to stop. */
function sender(hv: Hypervisor, d: Domain, ports: number[]) {
  const control = new SharedArrayBuffer(12), counts = new SharedArrayBuffer(ports.length * 4);
  const ctl = new Int32Array(control);
  const done = new Promise<{ errors: number; error: string }>((resolve, reject) => {
    const w = new Worker(new URL("./evtchn-worker.mjs", import.meta.url), { workerData: { domid: d.domid, descriptors: hv.domains().map((x) => x.desc), ports, rounds: 1e9, control, counts } });
    w.on("message", resolve);
    w.on("error", reject);
  });
  return { sends: () => Atomics.load(ctl, 1), stop: () => { Atomics.store(ctl, 0, 1); return done; } };
}
const spinUntil = (cond: () => boolean) => { const end = Date.now() + 10_000; while (!cond() && Date.now() < end); expect(cond()).toBe(true); };

describe("Xen event-channel advisories", () => {
  it("XSA-188 (use after free in FIFO init_control's error path): a bad control frame leaves the domain on 2-level, usable", () => {
    const { hv, doms: [a] } = bench();
    const p = allocUnbound(hv, a, 2);
    expect(initControl(hv, a, 0xfffffffffffffffen)).toBe(E.INVAL);
    expect(a.fifoAbi).toBe(false);
    expect(expand(hv, a, ARRAY0)).toBe(E.OPNOTSUPP); // the FIFO state was torn down, not left dangling
    put(a, ARG, "struct evtchn_set_priority", { port: p, priority: 3 });
    expect(eventChannelOp(hv, a, op("set_priority"), ARG)).toBe(E.NOSYS);
    expect(initControl(hv, a)).toBe(17); // a later init is a first init again
    expect(expand(hv, a, ARRAY0)).toBe(0);
    expect(initControl(hv, a, CONTROL + 1)).toBe(E.INVAL); // once per vCPU
  });

  it("XSA-221 (NULL dereference polling ports never allocated): every port polls to a clean answer", () => {
    const { hv, doms: [a] } = bench();
    const bound = allocUnbound(hv, a, 2);
    expect(poll(hv, a, [bound])).toBe(0); // bound, not pending: waits for the timeout
    for (let p = 32; p <= 4096; p++) if (p !== bound) expect(poll(hv, a, [p])).toBe(E.INVAL);
    const many = Array.from({ length: 129 }, () => bound);
    expect(poll(hv, a, many)).toBe(E.INVAL);
    expect(initControl(hv, a)).toBe(17);
    for (const p of [4096, 70000, 131071, 131072, 0xffffffff]) expect(poll(hv, a, [p])).toBe(E.INVAL);
  });

  it("XSA-317 (port allocation ignored an error and handed out a port with no backing): exhaustion is exactly -ENOSPC", () => {
    const { hv, doms: [a, b] } = bench();
    let last = 0, rc = 0;
    while ((rc = allocUnbound(hv, b, 1)) > 0) last = rc;
    expect(rc).toBe(E.NOSPC);
    expect(last).toBe(4095);
    expect(status(hv, b, 4095)).toMatchObject({ rc: 0, status: k("EVTCHNSTAT_unbound") });
    expect(initControl(hv, a)).toBe(17);
    while ((rc = allocUnbound(hv, a, 2)) > 0) last = rc;
    expect(rc).toBe(E.NOSPC);
    expect(last).toBe(131071); // independent of how many event-array pages exist (none here)
    expect(portState(a, 131071)).toBe(Ecs.Unbound);
  });

  it("XSA-343 (races with evtchn_reset): reset of a FIFO domain leaves consistent 2-level state while another thread keeps sending to it", async () => {
    const { hv, doms: [a, b] } = bench();
    mapSharedInfo(hv, a, 6);
    const aPort = allocUnbound(hv, a, 2);
    const bPort = bind(hv, b, 1, aPort);
    const s = sender(hv, b, [bPort]);
    for (let round = 0; round < 50; round++) {
      expect(initControl(hv, a)).toBe(17);
      expect(expand(hv, a, ARRAY0)).toBe(0);
      const before = s.sends();
      spinUntil(() => s.sends() > before + 20); // sends land on the FIFO domain
      expect(reset(hv, a)).toBe(0);
      expect(a.fifoAbi).toBe(false);
      // b's end was made unbound, reserved for a; sends to it are dropped meanwhile.
      expect(portState(b, bPort)).toBe(Ecs.Unbound);
      expect(bind(hv, a, 2, bPort)).toBe(aPort);
    }
    expect(await s.stop()).toEqual({ errors: 0, error: "" });
    // After the last reset: 2-level rules, no FIFO op works, ports stop at 4096 again.
    put(a, ARG, "struct evtchn_set_priority", { port: aPort, priority: 1 });
    expect(eventChannelOp(hv, a, op("set_priority"), ARG)).toBe(E.NOSYS);
    expect(expand(hv, a, ARRAY0)).toBe(E.OPNOTSUPP);
    expect(a.maxPorts()).toBe(4096);
    expect(reset(hv, b, 1)).toBe(E.PERM); // an unprivileged domain may not reset another
    const p2 = allocUnbound(hv, b, 1);
    expect(reset(hv, b)).toBe(0);
    expect(status(hv, b, p2)).toMatchObject({ rc: 0, status: k("EVTCHNSTAT_closed") });
    expect(status(hv, a, aPort)).toMatchObject({ rc: 0, status: k("EVTCHNSTAT_unbound"), dom: 2 });
  });

  it("XSA-344 (reset and teardown not preemptible over 2^17 ports): a maximal reset finishes while other domains keep running", async () => {
    const { hv, doms: [a, b, c] } = bench(3);
    expect(initControl(hv, a)).toBe(17);
    while (allocUnbound(hv, a, 2) > 0);
    const cPort = allocUnbound(hv, c, 2);
    const bPort = bind(hv, b, 3, cPort);
    const s = sender(hv, b, [bPort]);
    spinUntil(() => s.sends() > 0);
    const before = s.sends();
    expect(reset(hv, a)).toBe(0);
    const during = s.sends() - before;
    expect(await s.stop()).toEqual({ errors: 0, error: "" });
    expect(during).toBeGreaterThan(0); // b's sends to c went on while a's 131071 ports closed
    expect(a.fifoAbi).toBe(false);
    for (let p = 3; p < 131072; p++) if (portState(a, p) !== Ecs.Free) expect.fail(`port ${p} still open`);
    expect(eventChannelOp(hv, a, 14, ARG)).toBe(E.BUSY); // EVTCHNOP_reset_cont: no reset in progress
    // Teardown of a domain holding every port: all closed, the peers' ends unbound.
    expect(initControl(hv, a)).toBe(17);
    while (allocUnbound(hv, a, 2) > 0);
    closeAll(hv, a);
    expect(portState(a, 131071)).toBe(Ecs.Free);
  }, 60_000);
});
