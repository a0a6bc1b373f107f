// The hypervisor's shared state under real concurrency (the threaded runner's situation):
// several threads map, access and unmap the same grant and send events at once. Pins must
// balance, GTF flags end clear, no access is lost and no event is lost.
import { describe, expect, it } from "vitest";
import { Ctl } from "../../bindings/hypervisor/domain.js";
import { grantEntryAddr } from "../../bindings/hypervisor/gnttab.js";
import { memoryOp } from "../../bindings/hypervisor/memory.js";
import { ARG, bench, k, layout, put } from "./fixture.js";
import { raceMappers } from "./gnttab-fixture.js";

const ROUNDS = 3000;

describe("hypervisor state under concurrent threads", () => {
  it("balances grant pins and delivers every event", async () => {
    const { hv, doms } = bench(4);
    const [a, ...mappers] = doms;
    // Domain 1 grants frame 40 to domains 2..4 (refs 8..10) and offers each a channel.
    put(a, ARG, "struct xen_add_to_physmap", { domid: k("DOMID_SELF"), space: k("XENMAPSPACE_grant_table"), idx: 0, gpfn: 5 }, { domid: 2, idx: 8, gpfn: 8 });
    expect(memoryOp(hv, a, k("XENMEM_add_to_physmap"), ARG)).toBe(0);
    put(a, ARG, "struct xen_add_to_physmap", { domid: k("DOMID_SELF"), space: k("XENMAPSPACE_shared_info"), idx: 0, gpfn: 6 }, { domid: 2, idx: 8, gpfn: 8 });
    expect(memoryOp(hv, a, k("XENMEM_add_to_physmap"), ARG)).toBe(0);
    const GE = layout("struct grant_entry_v1");
    for (const m of mappers) {
      const e = grantEntryAddr(a, 6 + m.domid);
      a.w32(e + GE.frame, 40);
      Atomics.store(a.i32, e >> 2, (m.domid << 16) | k("GTF_permit_access"));
    }
    const before = a.ctl[Ctl.Events];
    await raceMappers(hv, a, mappers, ROUNDS);
    for (const m of mappers) {
      const ref = 6 + m.domid;
      expect(a.u32(40 * 4096 + m.domid * 4)).toBe(ROUNDS); // every increment landed
      expect(Atomics.load(a.active, ref)).toBe(0); // pins balanced
      expect(a.u16(grantEntryAddr(a, ref)) & (k("GTF_reading") | k("GTF_writing"))).toBe(0);
    }
    expect(a.ctl[Ctl.Events] - before).toBe(3 * ROUNDS); // every send was delivered
    expect(a.upcallDue()).toBe(true);
  });
});
