// Seeded fault injection (bindings/hypervisor/faults.ts): an armed domain sees its share of grant
// maps and copies, port allocations and xenstore commits fail with the errors Xen returns there,
// the same seed fails the same calls, an unarmed domain never sees a fault, and every failure is
// clean (nothing mapped, no port taken, the transaction gone).
import { describe, expect, it } from "vitest";
import { armFaults, faultsInjected } from "../../bindings/hypervisor/faults.js";
import { XenStore } from "../../bindings/xenstore/store.js";
import { Client, OK, err } from "../xenstore/client.js";
import { bench, k } from "./fixture.js";
import { allocUnbound } from "./evtchn-fixture.js";
import { copy, grantV1, map, physmap, pins, unmap } from "./gnttab-fixture.js";

const GNTST = { okay: 0, general_error: k("GNTST_general_error"), no_space: k("GNTST_no_space") };

/** 200 maps of b's grant by a (armed with `seed`, `percent`), each unmapped if it succeeded: the statuses in order. */
function mapStatuses(seed: number, percent: number): number[] {
  const { hv, doms: [a, b] } = bench(2);
  expect(physmap(hv, b, 0, 5)).toBe(0);
  grantV1(b, 8, 1, 40);
  armFaults(a, seed, percent);
  const out: number[] = [];
  for (let i = 0; i < 200; i++) {
    const m = map(hv, a, 2, 8);
    out.push(m.status);
    // A failed map takes no pin; a successful one holds one until it is unmapped.
    expect(pins(b, 8) > 0).toBe(m.status === 0);
    if (m.status === 0) expect(unmap(hv, a, m.handle)).toBe(0);
  }
  expect(faultsInjected(a)).toBe(out.filter((s) => s !== 0).length);
  return out;
}

describe("fault injection", () => {
  it("fails the armed share of grant maps with GNTST_no_space or GNTST_general_error, the same ones for the same seed", () => {
    const s = mapStatuses(7, 25);
    const failed = s.filter((x) => x !== 0);
    expect(failed.length).toBeGreaterThan(25);
    expect(failed.length).toBeLessThan(80);
    expect(new Set(failed)).toEqual(new Set([GNTST.no_space, GNTST.general_error]));
    expect(mapStatuses(7, 25)).toEqual(s);
    expect(mapStatuses(8, 25)).not.toEqual(s);
    expect(mapStatuses(7, 0).every((x) => x === 0)).toBe(true);
  });

  it("fails grant copies with GNTST_general_error and copies nothing", () => {
    const { hv, doms: [a, b] } = bench(2);
    expect(physmap(hv, b, 0, 5)).toBe(0);
    grantV1(b, 8, 1, 40);
    a.u8.fill(0x5a, 50 * 4096, 51 * 4096);
    armFaults(a, 3, 100);
    expect(copy(hv, a, [[{ gmfn: 50 }, { ref: 8, dom: 2 }, 64]])).toEqual([GNTST.general_error]);
    expect(b.u8[40 * 4096]).toBe(0);
    armFaults(a, 3, 0);
    expect(copy(hv, a, [[{ gmfn: 50 }, { ref: 8, dom: 2 }, 64]])).toEqual([0]);
    expect(b.u8[40 * 4096]).toBe(0x5a);
  });

  it("fails port allocation with -ENOSPC and takes no port; other domains are untouched", () => {
    const { hv, doms: [a, b] } = bench(2);
    armFaults(a, 1, 100);
    expect(allocUnbound(hv, a, 2)).toBe(-k("XEN_ENOSPC"));
    expect(allocUnbound(hv, b, 1)).toBeGreaterThan(0);
    armFaults(a, 1, 0);
    const p = allocUnbound(hv, a, 2);
    expect(p).toBeGreaterThan(0);
    expect(allocUnbound(hv, a, 2)).toBe(p + 1); // the failed allocations took nothing
  });

  it("fails a transaction's commit with EAGAIN through xenstored's hook, leaving the store as it was", () => {
    let fail = true;
    const store = new XenStore({ commitFault: (domid) => domid === 5 && fail });
    const c = new Client(store, 5, true); // privileged: it may write anywhere
    const tx = c.start();
    expect(c.write("/local/domain/5/x", "1", tx)).toEqual(OK);
    expect(c.end(tx, true)).toEqual(err("EAGAIN"));
    expect(c.read("/local/domain/5/x")).toEqual(err("ENOENT"));
    expect(store.usage(5)?.transactions).toBe(0);
    fail = false;
    const tx2 = c.start();
    expect(c.write("/local/domain/5/x", "1", tx2)).toEqual(OK);
    expect(c.end(tx2, true)).toEqual(OK);
    expect(c.read("/local/domain/5/x")).toEqual({ ok: "1" });
  });
});
