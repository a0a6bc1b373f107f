// The FIFO event-channel ABI (docs/ABI.md §3 "FIFO"), called directly on the hypervisor: the
// setup ops' errors, linking into priority queues, masking, ports without an event word, moving
// between queues, the switch from 2-level and back, VCPUOP_register_vcpu_info and SCHEDOP_poll.
import { describe, expect, it } from "vitest";
import { eventChannelOp } from "../../bindings/hypervisor/evtchn.js";
import { Ctl, type Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { vcpuOp } from "../../bindings/hypervisor/vcpu.js";
import { schedOp } from "../../bindings/hypervisor/sched.js";
import { ARG, E, bench, k, layout, put } from "./fixture.js";
import { ARRAY0, CONTROL, MASKED, SELF, allocUnbound, expand, initControl, mapSharedInfo, op, poll, portOp, unlink } from "./evtchn-fixture.js";

const PENDING = 1 << 31, LINKED = 1 << 29, BUSY = 1 << 28, LINK = (1 << 17) - 1;
const CB = layout("struct evtchn_fifo_control_block");
const SI = layout("struct shared_info");
const VI = layout("struct vcpu_info");

function setPriority(hv: Hypervisor, d: Domain, port: number, priority: number): number {
  put(d, ARG, "struct evtchn_set_priority", { port, priority });
  return eventChannelOp(hv, d, op("set_priority"), ARG);
}
function ipi(hv: Hypervisor, d: Domain): number {
  const l = put(d, ARG, "struct evtchn_bind_ipi", { vcpu: 0 });
  const rc = eventChannelOp(hv, d, op("bind_ipi"), ARG);
  return rc < 0 ? rc : d.u32(ARG + l.port);
}
const word = (d: Domain, port: number, page = ARRAY0) => Atomics.load(d.i32, (page * 4096 + (port % 1024) * 4) / 4 + Math.floor(port / 1024) * 1024);
const setWord = (d: Domain, port: number, v: number) => Atomics.store(d.i32, ARRAY0 * 1024 + port, v);
const ready = (d: Domain) => d.u32(CONTROL * 4096 + CB.ready);
const head = (d: Domain, q: number) => d.u32(CONTROL * 4096 + CB.head + q * 4);
const upcall = (d: Domain) => d.u8[d.vcpuInfo() + VI.evtchn_upcall_pending];

/** A domain switched to FIFO with one event-array page (ports 0..1023) and shared_info mapped. */
function fifoDomain() {
  const b = bench();
  const [a] = b.doms;
  mapSharedInfo(b.hv, a);
  expect(initControl(b.hv, a)).toBe(17);
  expect(expand(b.hv, a, ARRAY0)).toBe(0);
  return { ...b, a };
}

/** Consumes the head of queue `q` as Linux's consume_one_event does; returns the port or 0. */
function consume(d: Domain, q: number, local: number[]): number {
  let h = local[q] || head(d, q);
  if (!h) return 0;
  const idx = ARRAY0 * 1024 + h;
  local[q] = unlink(d, h) & LINK;
  if (!local[q]) Atomics.and(d.i32, CONTROL * 1024 + CB.ready / 4, ~(1 << q));
  Atomics.and(d.i32, idx, ~PENDING);
  return h;
}

describe("FIFO event channels: setup", () => {
  it("EVTCHNOP_init_control checks its arguments in Xen's order and returns link_bits", () => {
    const { hv, doms: [a] } = bench();
    expect(initControl(hv, a, CONTROL, 4)).toBe(E.INVAL); // offset not 8-aligned
    expect(initControl(hv, a, CONTROL, 4096 - 64)).toBe(E.INVAL); // block would leave the page
    expect(initControl(hv, a, CONTROL, 0, 1)).toBe(E.NOENT); // no vCPU 1
    expect(initControl(hv, a, 0)).toBe(E.INVAL); // not a frame the guest may give
    expect(initControl(hv, a, a.nrPages)).toBe(E.INVAL);
    expect(a.fifoAbi).toBe(false); // failures leave the domain on 2-level
    expect(initControl(hv, a, CONTROL, 4096 - 72)).toBe(17);
    expect(a.fifoAbi).toBe(true);
    expect(initControl(hv, a)).toBe(E.INVAL); // once per vCPU
  });

  it("EVTCHNOP_expand_array and set_priority answer as Xen does", () => {
    const { hv, doms: [a] } = bench();
    expect(expand(hv, a, ARRAY0)).toBe(E.OPNOTSUPP); // not FIFO yet
    expect(setPriority(hv, a, 1, 3)).toBe(E.NOSYS); // 2-level has no priorities
    expect(initControl(hv, a)).toBe(17);
    expect(expand(hv, a, 2)).toBe(E.INVAL); // a boot page
    for (let i = 0; i < 128; i++) expect(expand(hv, a, ARRAY0 + i)).toBe(0);
    expect(expand(hv, a, 200)).toBe(E.NOSPC); // 128 pages: 2^17 ports
    expect(setPriority(hv, a, 1, 16)).toBe(E.INVAL);
    expect(setPriority(hv, a, 1 << 17, 3)).toBe(E.INVAL);
    expect(setPriority(hv, a, 1, 15)).toBe(0);
    expect(eventChannelOp(hv, a, op("init_control"), a.bytes - 8)).toBe(E.FAULT);
  });

  it("allocates ports up to 2^17 under FIFO and only 4096 under 2-level", () => {
    const { hv, doms: [a, b] } = bench();
    for (let i = 3; i < 4096; i++) expect(allocUnbound(hv, b, 1)).toBe(i);
    expect(allocUnbound(hv, b, 1)).toBe(E.NOSPC);
    expect(portOp(hv, b, "unmask", 4096)).toBe(E.INVAL);
    expect(initControl(hv, a)).toBe(17);
    for (let i = 3; i < 5000; i++) allocUnbound(hv, a, 2);
    expect(allocUnbound(hv, a, 2)).toBe(5000);
    expect(portOp(hv, a, "close", 4097)).toBe(0);
    expect(allocUnbound(hv, a, 2)).toBe(4097); // the lowest free port again
    expect(portOp(hv, a, "unmask", (1 << 17) - 1)).toBe(0);
    expect(portOp(hv, a, "unmask", 1 << 17)).toBe(E.INVAL);
  });
});

describe("FIFO event channels: delivery", () => {
  it("links events into their priority queue, sets ready and the upcall", () => {
    const { hv, a } = fifoDomain();
    const p = ipi(hv, a), q = ipi(hv, a), r = ipi(hv, a);
    for (const x of [p, q, r]) expect(portOp(hv, a, "unmask", x)).toBe(0);
    expect(setPriority(hv, a, r, 2)).toBe(0);
    a.u8[a.vcpuInfo() + VI.evtchn_upcall_pending] = 0;
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(word(a, p) & (PENDING | LINKED)).toBe(PENDING | LINKED);
    expect(head(a, 7)).toBe(p);
    expect(ready(a)).toBe(1 << 7);
    expect(upcall(a)).toBe(1);
    expect(a.upcallDue()).toBe(true);
    expect(portOp(hv, a, "send", q)).toBe(0);
    expect(word(a, p) & LINK).toBe(q); // q linked behind p
    expect(head(a, 7)).toBe(p);
    expect(portOp(hv, a, "send", r)).toBe(0);
    expect(head(a, 2)).toBe(r);
    expect(ready(a)).toBe((1 << 7) | (1 << 2));
    // A second send of a pending port changes nothing.
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(word(a, p) & LINK).toBe(q);
    // Consume queue 7 as Linux does: p then q, and the ready bit goes.
    const local: number[] = [];
    expect(consume(a, 7, local)).toBe(p);
    expect(consume(a, 7, local)).toBe(q);
    expect(ready(a)).toBe(1 << 2);
    // The queue is empty now and its tail (q) unlinked: the next event becomes the head.
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(head(a, 7)).toBe(p);
    expect(word(a, q) & LINK).toBe(0);
  });

  it("keeps a masked event pending but unlinked until EVTCHNOP_unmask", () => {
    const { hv, a } = fifoDomain();
    const p = ipi(hv, a);
    expect(word(a, p)).toBe(MASKED); // Xen leaves the guest's initial word alone
    a.u8[a.vcpuInfo() + VI.evtchn_upcall_pending] = 0;
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(word(a, p)).toBe(MASKED | PENDING);
    expect(ready(a)).toBe(0);
    expect(upcall(a)).toBe(0);
    expect(portOp(hv, a, "unmask", p)).toBe(0);
    expect(word(a, p)).toBe(PENDING | LINKED);
    expect(head(a, 7)).toBe(p);
    expect(upcall(a)).toBe(1);
  });

  it("remembers events on ports without an event word and raises them when the page is added", () => {
    const { hv, a } = fifoDomain();
    for (let i = 3; i < 1100; i++) ipi(hv, a);
    expect(portOp(hv, a, "unmask", 1050)).toBe(0); // no word: nothing to unmask yet
    expect(portOp(hv, a, "send", 1050)).toBe(0);
    expect(a.portPending(1050)).toBe(false); // remembered, but without a word nothing is pending (Xen)
    expect(a.portMasked(1050)).toBe(true);
    expect(expand(hv, a, ARRAY0 + 1, 0)).toBe(0); // the guest's words for 1024..2047 start unmasked
    expect(word(a, 1050) & (PENDING | LINKED)).toBe(PENDING | LINKED);
    expect(head(a, 7)).toBe(1050);
  });

  it("keeps 2-level events pending across the switch to FIFO", () => {
    const { hv, doms: [a] } = bench();
    mapSharedInfo(hv, a);
    const p = ipi(hv, a);
    expect(portOp(hv, a, "send", p)).toBe(0);
    expect(initControl(hv, a)).toBe(17);
    expect(expand(hv, a, ARRAY0, 0)).toBe(0);
    expect(word(a, p) & (PENDING | LINKED)).toBe(PENDING | LINKED);
    expect(head(a, 7)).toBe(p);
  });

  it("moves a port between queues only once the guest consumed it from the old one", () => {
    const { hv, a } = fifoDomain();
    const p = ipi(hv, a), q = ipi(hv, a);
    for (const x of [p, q]) portOp(hv, a, "unmask", x);
    portOp(hv, a, "send", p);
    expect(setPriority(hv, a, p, 3)).toBe(0); // while linked on queue 7
    portOp(hv, a, "send", p);
    expect(head(a, 3)).toBe(0); // still on queue 7
    const local: number[] = [];
    expect(consume(a, 7, local)).toBe(p);
    portOp(hv, a, "send", q); // queue 7 is empty and its tail (p) was invalidated on the move
    portOp(hv, a, "send", p);
    expect(head(a, 3)).toBe(p);
    expect(word(a, p) & LINK).toBe(0);
    expect(head(a, 7)).toBe(q);
    expect(ready(a)).toBe((1 << 3) | (1 << 7));
  });

  it("does not link behind a tail the guest is unlinking (BUSY) and ends with BUSY clear", () => {
    const { hv, a } = fifoDomain();
    const p = ipi(hv, a), q = ipi(hv, a);
    for (const x of [p, q]) portOp(hv, a, "unmask", x);
    portOp(hv, a, "send", p);
    // The guest consumed p (LINKED clear) while Xen still has it as the tail.
    setWord(a, p, word(a, p) & ~LINKED);
    portOp(hv, a, "send", q);
    expect(head(a, 7)).toBe(q);
    expect(word(a, p) & (BUSY | LINK)).toBe(0);
  });

  it("closing a linked port clears PENDING and keeps it busy until the guest unlinks it; reuse has the default priority", () => {
    const { hv, a } = fifoDomain();
    const p = ipi(hv, a);
    portOp(hv, a, "unmask", p);
    expect(setPriority(hv, a, p, 1)).toBe(0);
    portOp(hv, a, "send", p);
    expect(portOp(hv, a, "close", p)).toBe(0);
    expect(setPriority(hv, a, p, 1)).toBe(E.ACCES); // not in use
    expect(word(a, p) & (PENDING | LINKED)).toBe(LINKED);
    const other = ipi(hv, a);
    expect(other).toBe(p + 1); // p is busy: still on queue 1
    const local: number[] = [];
    expect(consume(a, 1, local)).toBe(p); // a stale entry, not pending: the guest skips it
    expect(ipi(hv, a)).toBe(p);
    portOp(hv, a, "unmask", p);
    portOp(hv, a, "send", p);
    expect(head(a, 7)).toBe(p);
  });

  it("EVTCHNOP_reset returns the domain to 2-level, which may switch to FIFO again", () => {
    const { hv, a } = fifoDomain();
    for (let i = 3; i < 4200; i++) ipi(hv, a);
    put(a, ARG, "struct evtchn_reset", { dom: SELF }, { dom: 2 });
    expect(eventChannelOp(hv, a, op("reset"), ARG)).toBe(0);
    expect(a.fifoAbi).toBe(false);
    expect(a.maxPorts()).toBe(4096);
    expect(ipi(hv, a)).toBe(3);
    expect(a.ctl[Ctl.FifoControl]).toBe(-1);
    expect(initControl(hv, a)).toBe(17);
  });
});

describe("VCPUOP_register_vcpu_info", () => {
  const reg = (hv: Hypervisor, d: Domain, mfn: number, offset: number, vcpu = 0) => {
    put(d, ARG, "struct vcpu_register_vcpu_info", { mfn, offset }, { mfn: 8 });
    return vcpuOp(hv, d, k("VCPUOP_register_vcpu_info"), vcpu, ARG);
  };

  it("moves vcpu_info once, with Xen's checks, and delivery follows it", () => {
    const { hv, doms: [a, b] } = bench();
    mapSharedInfo(hv, a);
    const si = a.sharedInfo();
    a.u8[si + SI.vcpu_info + VI.evtchn_upcall_mask] = 1;
    expect(reg(hv, a, 30, 4096 - 56)).toBe(E.NXIO); // leaves the page
    expect(reg(hv, a, 30, 4)).toBe(E.NXIO); // not aligned as vcpu_info (XSA-327)
    expect(reg(hv, a, 1, 0)).toBe(E.INVAL);
    expect(reg(hv, a, 30, 0, 1)).toBe(E.NOENT);
    expect(reg(hv, a, 30, 128)).toBe(0);
    const vi = 30 * 4096 + 128;
    expect(a.vcpuInfo()).toBe(vi);
    expect(a.u8[vi + VI.evtchn_upcall_mask]).toBe(1); // copied
    expect(a.u8[vi + VI.evtchn_upcall_pending]).toBe(1); // and everything marked pending
    expect(a.u32(vi + VI.evtchn_pending_sel)).toBe(0xffffffff);
    expect(a.u32(vi + VI.time + layout("struct vcpu_time_info").version) % 2).toBe(0);
    expect(reg(hv, a, 31, 0)).toBe(E.INVAL); // once
    // Delivery now goes to the new place; upcallDue reads it.
    a.u8[vi + VI.evtchn_upcall_mask] = 0;
    a.w32(vi + VI.evtchn_pending_sel, 0);
    a.w32(vi + VI.evtchn_pending_sel + 4, 0);
    a.u8[vi + VI.evtchn_upcall_pending] = 0;
    expect(a.upcallDue()).toBe(false);
    const p = allocUnbound(hv, a, 2);
    const l = put(b, ARG, "struct evtchn_bind_interdomain", { remote_dom: 1, remote_port: p }, { remote_dom: 2 });
    expect(eventChannelOp(hv, b, op("bind_interdomain"), ARG)).toBe(0);
    expect(portOp(hv, b, "send", b.u32(ARG + l.local_port))).toBe(0);
    expect(a.u32(vi + VI.evtchn_pending_sel)).toBe(1);
    expect(a.upcallDue()).toBe(true);
    expect(a.u8[si + SI.vcpu_info + VI.evtchn_upcall_pending]).toBe(0); // the old place is left alone
    // SCHEDOP_block clears the mask in the registered vcpu_info.
    a.u8[vi + VI.evtchn_upcall_mask] = 1;
    expect(schedOp(hv, a, k("SCHEDOP_block"), 0)).toBe(0);
    expect(a.u8[vi + VI.evtchn_upcall_mask]).toBe(0);
  });

  it("works before shared_info is mapped and keeps its place when shared_info is", () => {
    const { hv, doms: [a] } = bench();
    expect(reg(hv, a, 30, 0)).toBe(0);
    expect(a.upcallDue()).toBe(true);
    mapSharedInfo(hv, a, 9);
    expect(a.vcpuInfo()).toBe(30 * 4096);
  });
});

describe("SCHEDOP_poll under FIFO", () => {
  it("accepts bound ports beyond 4096 and refuses port 0, free ports and ports beyond 2^17", () => {
    const { hv, a } = fifoDomain();
    for (let i = 3; i <= 5000; i++) ipi(hv, a);
    expect(poll(hv, a, [5000])).toBe(0); // bound, no event word yet: it waits (here: the timeout)
    expect(poll(hv, a, [5001])).toBe(E.INVAL); // free
    expect(poll(hv, a, [0])).toBe(E.INVAL);
    expect(poll(hv, a, [1 << 17])).toBe(E.INVAL);
  });
});
