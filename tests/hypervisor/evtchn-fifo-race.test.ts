// FIFO event words under real concurrency: two threads send on 80 ports of domain 1 while this
// thread consumes domain 1's queues as Linux does (unlinking with compare-and-swap, masking,
// unmasking and re-prioritising ports meanwhile). Xen's linking and the guest's unlinking share
// the words; afterwards no event may be stuck (PENDING with nobody to find it) or lost.
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { eventChannelOp } from "../../bindings/hypervisor/evtchn.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { memoryOp } from "../../bindings/hypervisor/memory.js";
import { ARG, bench, k, layout, put } from "./fixture.js";
import { ARRAY0, CONTROL, Consumer } from "./evtchn-fixture.js";

const PENDING = 1 << 31, MASKED = 1 << 30, LINKED = 1 << 29, BUSY = 1 << 28;
const CB = layout("struct evtchn_fifo_control_block");
const PORTS_PER_SENDER = 40, ROUNDS = 60_000;
const SELF = k("DOMID_SELF");

function call(hv: Hypervisor, d: Domain, name: string, type: string, fields: Record<string, number>, sizes: Record<string, 1 | 2 | 4 | 8> = {}): number {
  put(d, ARG, type, fields, sizes);
  const rc = eventChannelOp(hv, d, k(`EVTCHNOP_${name}`), ARG);
  expect(rc, name).toBeGreaterThanOrEqual(0);
  return rc;
}

describe("FIFO event channels under concurrent senders", () => {
  it("loses no event and leaves no word stuck while Xen links and the guest unlinks", async () => {
    const { hv, doms } = bench(3);
    const [a, ...senders] = doms;
    put(a, ARG, "struct xen_add_to_physmap", { domid: SELF, space: k("XENMAPSPACE_shared_info"), idx: 0, gpfn: 6 }, { domid: 2, idx: 8, gpfn: 8 });
    expect(memoryOp(hv, a, k("XENMEM_add_to_physmap"), ARG)).toBe(0);
    call(hv, a, "init_control", "struct evtchn_init_control", { control_gfn: CONTROL, offset: 0, vcpu: 0 }, { control_gfn: 8 });
    new Int32Array(a.u8.buffer, ARRAY0 * 4096, 1024).fill(MASKED);
    call(hv, a, "expand_array", "struct evtchn_expand_array", { array_gfn: ARRAY0 }, { array_gfn: 8 });
    const aPorts: number[] = [];
    const sendPorts = senders.map((s) => {
      const mine: number[] = [];
      for (let i = 0; i < PORTS_PER_SENDER; i++) {
        const au = put(a, ARG, "struct evtchn_alloc_unbound", { dom: SELF, remote_dom: s.domid }, { dom: 2, remote_dom: 2 });
        expect(eventChannelOp(hv, a, k("EVTCHNOP_alloc_unbound"), ARG)).toBe(0);
        const ap = a.u32(ARG + au.port);
        const bi = put(s, ARG, "struct evtchn_bind_interdomain", { remote_dom: a.domid, remote_port: ap }, { remote_dom: 2 });
        expect(eventChannelOp(hv, s, k("EVTCHNOP_bind_interdomain"), ARG)).toBe(0);
        aPorts.push(ap);
        mine.push(s.u32(ARG + bi.local_port));
        call(hv, a, "unmask", "struct evtchn_unmask", { port: ap });
      }
      return mine;
    });
    const control = new SharedArrayBuffer(12);
    const counts = senders.map(() => new SharedArrayBuffer(PORTS_PER_SENDER * 4));
    const descriptors = hv.domains().map((d) => d.desc);
    const done = senders.map((s, i) => new Promise<{ errors: number; error: string }>((resolve, reject) => {
      const w = new Worker(new URL("./evtchn-worker.mjs", import.meta.url), { workerData: { domid: s.domid, descriptors, ports: sendPorts[i], rounds: ROUNDS, control, counts: counts[i] } });
      w.on("message", resolve);
      w.on("error", reject);
    }));
    const consumer = new Consumer(a);
    const ctl = new Int32Array(control);
    // Consume while they send, now and then masking, unmasking and moving a port between queues.
    let churn = 0;
    while (Atomics.load(ctl, 2) < senders.length) {
      consumer.drain();
      const p = aPorts[churn++ % aPorts.length];
      if (churn % 7 === 0) Atomics.or(a.i32, ARRAY0 * 1024 + p, MASKED);
      if (churn % 7 === 3) call(hv, a, "unmask", "struct evtchn_unmask", { port: aPorts[(churn - 3) % aPorts.length] });
      if (churn % 11 === 0) call(hv, a, "set_priority", "struct evtchn_set_priority", { port: p, priority: churn % 16 });
    }
    for (const r of await Promise.all(done)) expect(r).toEqual({ errors: 0, error: "" });
    for (const p of aPorts) call(hv, a, "unmask", "struct evtchn_unmask", { port: p });
    while (consumer.drain() > 0);
    // Nothing left behind: every word unlinked and not pending, every queue empty, BUSY clear.
    for (const p of aPorts) expect(Atomics.load(a.i32, ARRAY0 * 1024 + p) & (PENDING | LINKED | BUSY), `port ${p}`).toBe(0);
    expect(a.u32(CONTROL * 4096 + CB.ready)).toBe(0);
    // Every port that was sent on was handled at least once, and never more often than sent.
    senders.forEach((_, i) => {
      const c = new Int32Array(counts[i]);
      for (let j = 0; j < PORTS_PER_SENDER; j++) {
        const handled = consumer.handled.get(aPorts[i * PORTS_PER_SENDER + j]) ?? 0;
        expect(c[j]).toBeGreaterThan(0);
        expect(handled).toBeGreaterThan(0);
        expect(handled).toBeLessThanOrEqual(c[j]);
      }
    });
    // A last send after the storm is delivered: linked at the head of its queue.
    const s0 = senders[0];
    put(s0, ARG, "struct evtchn_send", { port: sendPorts[0][0] });
    expect(eventChannelOp(hv, s0, k("EVTCHNOP_send"), ARG)).toBe(0);
    expect(consumer.drain()).toBe(1);
  }, 60_000);
});
