// Event-channel calls for the hypervisor tests (evtchn, evtchn-fifo, xsa-evtchn): each writes
// its Xen struct at ARG in the caller's memory, makes the call and returns a port or the errno.
import { expect } from "vitest";
import { eventChannelOp } from "../../bindings/hypervisor/evtchn.js";
import { memoryOp } from "../../bindings/hypervisor/memory.js";
import { schedOp } from "../../bindings/hypervisor/sched.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { ARG, k, layout, put } from "./fixture.js";

/** EVTCHNOP_* number of `name`. */
export const op = (name: string) => k(`EVTCHNOP_${name}`);
export const SELF = k("DOMID_SELF");
/** The FIFO tests' frames: the control block in 20, event-array pages from 24 on. */
export const CONTROL = 20, ARRAY0 = 24;
/** A FIFO event word's MASKED bit. */
export const MASKED = 1 << 30;

/** EVTCHNOP_alloc_unbound in `dom`'s table (default the caller's) for `remote`: the port or -errno. */
export function allocUnbound(hv: Hypervisor, d: Domain, remote: number, dom = SELF): number {
  const l = put(d, ARG, "struct evtchn_alloc_unbound", { dom, remote_dom: remote }, { dom: 2, remote_dom: 2 });
  const rc = eventChannelOp(hv, d, op("alloc_unbound"), ARG);
  return rc < 0 ? rc : d.u32(ARG + l.port);
}

/** EVTCHNOP_bind_interdomain to `remote`'s port `rport`: the local port or -errno. */
export function bind(hv: Hypervisor, d: Domain, remote: number, rport: number): number {
  const l = put(d, ARG, "struct evtchn_bind_interdomain", { remote_dom: remote, remote_port: rport }, { remote_dom: 2 });
  const rc = eventChannelOp(hv, d, op("bind_interdomain"), ARG);
  return rc < 0 ? rc : d.u32(ARG + l.local_port);
}

/** An op whose struct is just a port (send, close, unmask): its result. */
export function portOp(hv: Hypervisor, d: Domain, name: string, port: number): number {
  put(d, ARG, "struct evtchn_send", { port });
  return eventChannelOp(hv, d, op(name), ARG);
}

/** Maps `d`'s shared_info at frame `gpfn` (expecting success). */
export function mapSharedInfo(hv: Hypervisor, d: Domain, gpfn = 4): void {
  put(d, ARG, "struct xen_add_to_physmap", { domid: SELF, space: k("XENMAPSPACE_shared_info"), idx: 0, gpfn }, { domid: 2, idx: 8, gpfn: 8 });
  expect(memoryOp(hv, d, k("XENMEM_add_to_physmap"), ARG)).toBe(0);
}

/** SCHEDOP_poll by `d` on `ports` (listed at 0x9000) with a timeout already past: its result. */
export function poll(hv: Hypervisor, d: Domain, ports: number[]): number {
  ports.forEach((p, i) => d.w32(0x9000 + i * 4, p));
  put(d, ARG, "struct sched_poll", { ports: 0x9000, nr_ports: ports.length, timeout: 1 }, { ports: 8, timeout: 8 });
  return schedOp(hv, d, k("SCHEDOP_poll"), ARG);
}

/** EVTCHNOP_init_control: link_bits on success, else -errno. */
export function initControl(hv: Hypervisor, d: Domain, gfn: number | bigint = CONTROL, offset = 0, vcpu = 0): number {
  const l = put(d, ARG, "struct evtchn_init_control", { control_gfn: gfn, offset, vcpu }, { control_gfn: 8 });
  const rc = eventChannelOp(hv, d, op("init_control"), ARG);
  return rc < 0 ? rc : d.u8[ARG + l.link_bits];
}

/** Fills frame `gfn` with event words `fill` (a frame of `d`) and adds it with EVTCHNOP_expand_array. */
export function expand(hv: Hypervisor, d: Domain, gfn: number, fill = MASKED): number {
  if (gfn > 3 && gfn < d.nrPages) new Int32Array(d.u8.buffer, gfn * 4096, 1024).fill(fill);
  put(d, ARG, "struct evtchn_expand_array", { array_gfn: gfn }, { array_gfn: 8 });
  return eventChannelOp(hv, d, op("expand_array"), ARG);
}

const PENDING = 1 << 31, LINKED = 1 << 29, LINK = (1 << 17) - 1;
const CB = layout("struct evtchn_fifo_control_block");

/**
 * Clears LINKED and LINK of `port`'s event word (frame ARRAY0 of `a`) with one compare-and-swap,
 * as Linux's clear_linked does while Xen may be setting LINK; returns the word before.
 */
export function unlink(a: Domain, port: number): number {
  const w = ARRAY0 * 1024 + port;
  let old = Atomics.load(a.i32, w);
  for (;;) {
    const got = Atomics.compareExchange(a.i32, w, old, old & ~(LINKED | LINK));
    if (got === old) return old;
    old = got;
  }
}

/**
 * The guest side of FIFO as Linux's consume_one_event does it, on domain `a` whose control block
 * is frame CONTROL and event array frame ARRAY0 (ports 0..1023): local heads per queue, ready
 * exchanged and re-read after each event, each word unlinked with compare-and-swap, a pending
 * unmasked event taken (PENDING cleared) and recorded in `order`.
 */
export class Consumer {
  heads = new Array<number>(16).fill(0);
  /** Events handled per port. */
  handled = new Map<number, number>();
  /** Ports handled, in order. */
  order: number[] = [];
  constructor(private readonly a: Domain) {}
  /** Drains what is ready now; returns the events handled. */
  drain(): number {
    const a = this.a, readyIdx = (CONTROL * 4096 + CB.ready) / 4;
    let n = 0;
    let ready = Atomics.exchange(a.i32, readyIdx, 0);
    while (ready) {
      const q = 31 - Math.clz32(ready & -ready);
      const port = this.heads[q] || Atomics.load(a.i32, (CONTROL * 4096 + CB.head) / 4 + q);
      const w = ARRAY0 * 1024 + port;
      const next = unlink(a, port) & LINK;
      if (!next) ready &= ~(1 << q);
      this.heads[q] = next;
      const cur = Atomics.load(a.i32, w);
      if ((cur & (PENDING | MASKED)) === PENDING && (Atomics.and(a.i32, w, ~PENDING) & PENDING)) {
        this.handled.set(port, (this.handled.get(port) ?? 0) + 1);
        this.order.push(port);
        n++;
      }
      ready |= Atomics.exchange(a.i32, readyIdx, 0);
    }
    return n;
  }
}

export { layout };
