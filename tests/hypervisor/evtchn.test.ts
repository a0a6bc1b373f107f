// Event-channel rules (docs/ABI.md §3), called directly on the hypervisor with Xen structs in
// guest memory: the codes Xen returns for misuse, and the 2-level delivery bits.
import { describe, expect, it } from "vitest";
import { eventChannelOp } from "../../bindings/hypervisor/evtchn.js";
import { Ctl } from "../../bindings/hypervisor/domain.js";
import { ARG, E, bench, k, layout, put } from "./fixture.js";
import { SELF, allocUnbound, bind, mapSharedInfo, op, portOp } from "./evtchn-fixture.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";


function status(hv: Hypervisor, d: Domain, port: number, dom = SELF) {
  const l = put(d, ARG, "struct evtchn_status", { dom, port }, { dom: 2 });
  const rc = eventChannelOp(hv, d, op("status"), ARG);
  return { rc, status: d.u32(ARG + l.status), dom: d.u16(ARG + l["u.interdomain.dom"]), port: d.u32(ARG + l["u.interdomain.port"]) };
}

describe("event channels", () => {
  it("connects an interdomain pair and reports both ends", () => {
    const { hv, doms: [a, b] } = bench();
    const p = allocUnbound(hv, a, 2);
    expect(p).toBe(3); // ports 1 and 2 are the boot console and xenstore channels
    expect(status(hv, a, p)).toMatchObject({ rc: 0, status: k("EVTCHNSTAT_unbound") });
    const q = bind(hv, b, 1, p);
    expect(q).toBeGreaterThan(2);
    expect(status(hv, a, p)).toEqual({ rc: 0, status: k("EVTCHNSTAT_interdomain"), dom: 2, port: q });
    expect(status(hv, b, q)).toEqual({ rc: 0, status: k("EVTCHNSTAT_interdomain"), dom: 1, port: p });
  });

  it("refuses a bind that Xen refuses", () => {
    const { hv, doms: [a, b, c] } = bench(3);
    const p = allocUnbound(hv, a, 2);
    expect(bind(hv, c, 1, p)).toBe(E.INVAL); // reserved for domain 2, not 3
    expect(bind(hv, b, 1, 4000)).toBe(E.INVAL); // not an unbound port
    expect(bind(hv, b, 1, 99999)).toBe(E.INVAL); // out of range
    expect(bind(hv, b, 77, p)).toBe(E.SRCH); // no such domain
    expect(allocUnbound(hv, a, 77)).toBe(E.SRCH);
    expect(allocUnbound(hv, a, 2, 2)).toBe(E.PERM); // unprivileged on another domain's table
    expect(bind(hv, b, 1, p)).toBeGreaterThan(0);
    expect(bind(hv, c, 1, p)).toBe(E.INVAL); // already interdomain
  });

  it("answers bad ports, unknown ops and bad pointers with Xen's codes", () => {
    const { hv, doms: [a] } = bench();
    expect(portOp(hv, a, "send", 0)).toBe(E.INVAL);
    expect(portOp(hv, a, "send", 4096)).toBe(E.INVAL);
    expect(portOp(hv, a, "send", 77)).toBe(E.INVAL); // free port
    expect(portOp(hv, a, "close", 77)).toBe(E.INVAL);
    expect(portOp(hv, a, "unmask", 5000)).toBe(E.INVAL);
    expect(status(hv, a, 5000).rc).toBe(E.INVAL);
    expect(status(hv, a, 1, 2).rc).toBe(E.PERM);
    expect(status(hv, a, 1, 99).rc).toBe(E.SRCH);
    expect(eventChannelOp(hv, a, 99, ARG)).toBe(E.NOSYS);
    expect(eventChannelOp(hv, a, op("bind_pirq"), ARG)).toBe(E.NOSYS);
    expect(eventChannelOp(hv, a, op("send"), a.bytes - 2)).toBe(E.FAULT);
    expect(eventChannelOp(hv, a, op("alloc_unbound"), 0xffffffff)).toBe(E.FAULT);
  });

  it("lets a privileged domain allocate in another domain's table", () => {
    const { hv, doms: [a, b, c] } = bench(3, true);
    const p = allocUnbound(hv, c, 2, 1); // domain 3 (privileged) allocates in domain 1 for domain 2
    expect(p).toBe(3);
    expect(status(hv, a, p)).toMatchObject({ rc: 0, status: k("EVTCHNSTAT_unbound") });
    expect(bind(hv, b, 1, p)).toBeGreaterThan(0);
  });

  it("binds VIRQs and IPIs with Xen's checks", () => {
    const { hv, doms: [a] } = bench();
    const virq = (v: number, vcpu = 0) => {
      const l = put(a, ARG, "struct evtchn_bind_virq", { virq: v, vcpu });
      const rc = eventChannelOp(hv, a, op("bind_virq"), ARG);
      return rc < 0 ? rc : a.u32(ARG + l.port);
    };
    const t = virq(k("VIRQ_TIMER"));
    expect(t).toBeGreaterThan(0);
    expect(virq(k("VIRQ_TIMER"))).toBe(E.EXIST);
    expect(virq(k("NR_VIRQS"))).toBe(E.INVAL);
    expect(virq(k("VIRQ_DEBUG"), 1)).toBe(E.NOENT);
    expect(status(hv, a, t).status).toBe(k("EVTCHNSTAT_virq"));
    expect(portOp(hv, a, "send", t)).toBe(E.INVAL); // a VIRQ port cannot be sent on
    put(a, ARG, "struct evtchn_bind_ipi", { vcpu: 1 });
    expect(eventChannelOp(hv, a, op("bind_ipi"), ARG)).toBe(E.NOENT);
    put(a, ARG, "struct evtchn_bind_ipi", { vcpu: 0 });
    expect(eventChannelOp(hv, a, op("bind_ipi"), ARG)).toBe(0);
    expect(portOp(hv, a, "close", t)).toBe(0);
    expect(virq(k("VIRQ_TIMER"))).toBeGreaterThan(0); // rebindable after close
  });

  it("delivers with the 2-level rules: pending, mask, selector, upcall", () => {
    const { hv, doms: [a, b] } = bench();
    mapSharedInfo(hv, b);
    const p = allocUnbound(hv, a, 2);
    const q = bind(hv, b, 1, p);
    const si = b.sharedInfo();
    const SI = layout("struct shared_info"), VI = layout("struct vcpu_info");
    b.u8[si + SI.vcpu_info + VI.evtchn_upcall_pending] = 0; // the bind raised q; start clean
    b.i32.fill(0, (si + SI.evtchn_pending) / 4, (si + SI.evtchn_pending) / 4 + 128);
    b.i32.fill(0, (si + SI.vcpu_info + VI.evtchn_pending_sel) / 4, (si + SI.vcpu_info + VI.evtchn_pending_sel) / 4 + 2);
    // Mask q: the event is recorded but raises no upcall.
    b.i32[(si + SI.evtchn_mask) / 4 + (q >> 5)] |= 1 << (q & 31);
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(b.portPending(q)).toBe(true);
    expect(b.upcallDue()).toBe(false);
    // Unmask: Xen re-raises the pending event.
    expect(portOp(hv, b, "unmask", q)).toBe(0);
    expect(b.upcallDue()).toBe(true);
    expect(b.view.getBigUint64(si + SI.vcpu_info + VI.evtchn_pending_sel, true)).toBe(1n << BigInt(q >> 6));
    // The upcall mask holds the upcall back.
    b.u8[si + SI.vcpu_info + VI.evtchn_upcall_mask] = 1;
    expect(b.upcallDue()).toBe(false);
  });

  it("wakes a sleeping vCPU (and only a sleeping one), also for a masked port that SCHEDOP_poll may wait on", () => {
    const { hv, doms: [a, b] } = bench();
    mapSharedInfo(hv, b);
    const p = allocUnbound(hv, a, 2);
    const q = bind(hv, b, 1, p);
    const si = b.sharedInfo();
    const SI = layout("struct shared_info");
    const clear = () => b.i32.fill(0, (si + SI.evtchn_pending) / 4, (si + SI.evtchn_pending) / 4 + 128);
    const wakes = () => Atomics.load(b.ctl, Ctl.Wake);
    // A polling vCPU watches evtchn_upcall_pending itself: its wake word is left alone.
    clear();
    let w = wakes();
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(wakes()).toBe(w);
    // A sleeping one is woken, masked port or not.
    Atomics.store(b.ctl, Ctl.Sleeping, 1);
    clear();
    w = wakes();
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(wakes()).toBe(w + 1);
    clear();
    b.i32[(si + SI.evtchn_mask) / 4 + (q >> 5)] |= 1 << (q & 31);
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(b.portPending(q)).toBe(true);
    expect(wakes()).toBe(w + 2);
  });

  it("records events before shared_info is mapped and raises them when it is", () => {
    const { hv, doms: [a, b] } = bench();
    const p = allocUnbound(hv, a, 2);
    const q = bind(hv, b, 1, p);
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(b.upcallDue()).toBe(false);
    mapSharedInfo(hv, b, 9);
    expect(b.portPending(q)).toBe(true);
    expect(b.upcallDue()).toBe(true);
  });

  it("close makes the peer's end unbound and reserved for the closer; reset keeps boot ports", () => {
    const { hv, doms: [a, b] } = bench();
    const p = allocUnbound(hv, a, 2);
    const q = bind(hv, b, 1, p);
    expect(portOp(hv, b, "close", q)).toBe(0);
    expect(status(hv, a, p)).toMatchObject({ status: k("EVTCHNSTAT_unbound") });
    expect(portOp(hv, a, "send", p)).toBe(0); // sending on an unbound port drops the event
    expect(bind(hv, b, 1, p)).toBeGreaterThan(0); // and domain 2 may bind it again
    put(a, ARG, "struct evtchn_reset", { dom: SELF }, { dom: 2 });
    expect(eventChannelOp(hv, a, op("reset"), ARG)).toBe(0);
    expect(status(hv, a, p).status).toBe(k("EVTCHNSTAT_closed"));
    expect(status(hv, a, 1).status).toBe(k("EVTCHNSTAT_interdomain"));
    expect(a.ctl[Ctl.ConsolePort]).toBe(1);
  });
});
