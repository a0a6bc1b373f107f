// Grant-table rules (docs/ABI.md §3, §4): the checks Xen makes on map, unmap and copy, the
// GTF_reading/GTF_writing pins in the granter's entry, and checked access to mapped pages (v1
// tables; v2 is in gnttab-v2.test.ts, the security advisories in xsa-gnttab.test.ts).
import { describe, expect, it } from "vitest";
import { grantCmpxchg32, grantCopyFrom, grantCopyTo, grantLoad32, grantStore32, grantTableOp } from "../../bindings/hypervisor/gnttab.js";
import { Ctl } from "../../bindings/hypervisor/domain.js";
import { ARG, E, GNTST, bench, k, layout, put } from "./fixture.js";
import { GTF, entryFlags, grantV1, map, physmap, revoke, setVersion, unmap } from "./gnttab-fixture.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";

const SELF = k("DOMID_SELF");
const GTF_permit_access = GTF.permit, GTF_readonly = GTF.readonly, GTF_reading = GTF.reading, GTF_writing = GTF.writing;

/** Places grant frame 0 of `d` at frame 5 (once) and writes v1 entry `ref` (flags, domid, frame). */
function grant(hv: Hypervisor, d: Domain, ref: number, domid: number, frame: number, flags = GTF_permit_access): void {
  if (d.ctl[Ctl.GrantFrames] < 0) expect(physmap(hv, d, 0, 5)).toBe(0);
  grantV1(d, ref, domid, frame, flags);
}

describe("grant tables", () => {
  it("maps, pins the entry, and unpins on the last unmap", () => {
    const { hv, doms: [a, b] } = bench();
    grant(hv, a, 8, 2, 40);
    a.u8.fill(0x5a, 40 * 4096, 41 * 4096);
    const m1 = map(hv, b, 1, 8);
    expect(m1.status).toBe(GNTST.okay);
    expect(entryFlags(a, 8) & (GTF_reading | GTF_writing)).toBe(GTF_reading | GTF_writing);
    const m2 = map(hv, b, 1, 8, k("GNTMAP_host_map") | k("GNTMAP_readonly"));
    expect(m2.status).toBe(GNTST.okay);
    expect(revoke(a, 8)).toBe(false); // still in use
    expect(unmap(hv, b, m1.handle)).toBe(GNTST.okay);
    expect(entryFlags(a, 8) & (GTF_reading | GTF_writing)).toBe(GTF_reading); // a read-only map remains
    expect(unmap(hv, b, m2.handle)).toBe(GNTST.okay);
    expect(entryFlags(a, 8) & (GTF_reading | GTF_writing)).toBe(0);
    expect(unmap(hv, b, m2.handle)).toBe(GNTST.bad_handle);
    expect(revoke(a, 8)).toBe(true);
    expect(map(hv, b, 1, 8).status).toBe(GNTST.general_error); // revoked
  });

  it("answers misuse with the GNTST codes Xen uses", () => {
    const { hv, doms: [a, b, c] } = bench(3);
    grant(hv, a, 8, 2, 40);
    grant(hv, a, 9, 2, 41, GTF_permit_access | GTF_readonly);
    grant(hv, a, 10, 2, 99999);
    expect(map(hv, c, 1, 8).status).toBe(GNTST.general_error); // granted to domain 2, not 3
    expect(map(hv, b, 1, 9).status).toBe(GNTST.general_error); // writable map of a read-only grant
    expect(map(hv, b, 1, 9, k("GNTMAP_host_map") | k("GNTMAP_readonly")).status).toBe(GNTST.okay);
    expect(map(hv, b, 1, 600).status).toBe(GNTST.bad_gntref); // frame 1 of a's table not mapped
    expect(map(hv, b, 1, 1 << 30).status).toBe(GNTST.bad_gntref);
    expect(map(hv, b, 77, 8).status).toBe(GNTST.bad_domain);
    expect(map(hv, b, 1, 8, 0).status).toBe(GNTST.bad_gntref); // neither host nor device map
    expect(map(hv, b, 1, 10).status).toBe(GNTST.bad_page);
    expect(entryFlags(a, 10) & (GTF_reading | GTF_writing)).toBe(0); // a failed map leaves no pin
    expect(unmap(hv, b, 4242)).toBe(GNTST.bad_handle);
    expect(grantTableOp(hv, b, 99, ARG, 1)).toBe(E.NOSYS);
    expect(grantTableOp(hv, b, k("GNTTABOP_map_grant_ref"), ARG, -1)).toBe(E.INVAL);
    expect(grantTableOp(hv, b, k("GNTTABOP_map_grant_ref"), b.bytes - 8, 1)).toBe(E.FAULT);
    expect(setVersion(hv, b, 3)).toEqual({ rc: E.INVAL, version: 1 });
  });

  it("device maps return a bus address", () => {
    const { hv, doms: [a, b] } = bench();
    grant(hv, a, 8, 2, 40);
    const m = map(hv, b, 1, 8, k("GNTMAP_device_map"));
    expect(m.status).toBe(GNTST.okay);
    expect(m.bus).not.toBe(0n);
  });

  it("copies between grants and local frames with per-entry status", () => {
    const { hv, doms: [a, b] } = bench();
    grant(hv, a, 8, 2, 40);
    grant(hv, a, 9, 2, 41, GTF_permit_access | GTF_readonly);
    a.u8.set([1, 2, 3, 4], 41 * 4096 + 100);
    const C = layout("struct gnttab_copy");
    const copy = (i: number, f: Record<string, number | bigint>) =>
      put(b, ARG + i * C.size, "struct gnttab_copy", f, { "source.u.gmfn": 8, "dest.u.gmfn": 8, "source.domid": 2, "dest.domid": 2, "source.offset": 2, "dest.offset": 2, len: 2, flags: 2 });
    const src = k("GNTCOPY_source_gref"), dst = k("GNTCOPY_dest_gref");
    copy(0, { "source.u.ref": 9, "source.domid": 1, "source.offset": 100, "dest.u.gmfn": 50n, "dest.domid": SELF, "dest.offset": 0, len: 4, flags: src });
    copy(1, { "source.u.gmfn": 50n, "source.domid": SELF, "dest.u.ref": 9, "dest.domid": 1, len: 4, flags: dst }); // read-only grant
    copy(2, { "source.u.gmfn": 50n, "source.domid": SELF, "dest.u.ref": 8, "dest.domid": 1, "dest.offset": 4094, len: 4, flags: dst });
    copy(3, { "source.u.gmfn": 50n, "source.domid": SELF, "dest.u.ref": 8, "dest.domid": 1, "dest.offset": 8, len: 4, flags: dst });
    copy(4, { "source.u.gmfn": 50n, "source.domid": 1, "dest.u.gmfn": 51n, "dest.domid": SELF, len: 4, flags: 0 }); // foreign frame
    copy(5, { "source.u.ref": 8, "source.domid": 1, "dest.u.gmfn": 51n, "dest.domid": SELF, len: 0, flags: src });
    expect(grantTableOp(hv, b, k("GNTTABOP_copy"), ARG, 6)).toBe(0);
    const st = (i: number) => b.view.getInt16(ARG + i * C.size + C.status, true);
    expect([st(0), st(1), st(2), st(3), st(4), st(5)]).toEqual([GNTST.okay, GNTST.general_error, GNTST.bad_copy_arg, GNTST.okay, GNTST.permission_denied, GNTST.okay]);
    expect([...b.u8.subarray(50 * 4096, 50 * 4096 + 4)]).toEqual([1, 2, 3, 4]);
    expect([...a.u8.subarray(40 * 4096 + 8, 40 * 4096 + 12)]).toEqual([1, 2, 3, 4]);
    expect(entryFlags(a, 8) & (GTF_reading | GTF_writing)).toBe(0); // copies hold no pin afterwards
  });

  it("checks every access to a mapped page against the live mapping", () => {
    const { hv, doms: [a, b] } = bench();
    grant(hv, a, 8, 2, 40);
    const rw = map(hv, b, 1, 8).handle;
    const ro = map(hv, b, 1, 8, k("GNTMAP_host_map") | k("GNTMAP_readonly")).handle;
    b.u8.set([9, 8, 7, 6], 60 * 4096);
    expect(grantCopyTo(hv, b, rw, 16, 60 * 4096, 4)).toBe(0);
    expect([...a.u8.subarray(40 * 4096 + 16, 40 * 4096 + 20)]).toEqual([9, 8, 7, 6]);
    expect(grantCopyFrom(hv, b, ro, 16, 61 * 4096, 4)).toBe(0);
    expect([...b.u8.subarray(61 * 4096, 61 * 4096 + 4)]).toEqual([9, 8, 7, 6]);
    expect(grantStore32(hv, b, rw, 0, 0x1234)).toBe(0);
    expect(grantLoad32(hv, b, ro, 0, 62 * 4096)).toBe(0);
    expect(b.u32(62 * 4096)).toBe(0x1234);
    expect(grantCmpxchg32(hv, b, rw, 0, 0x1234, 0x5678, 62 * 4096)).toBe(0);
    expect(a.u32(40 * 4096)).toBe(0x5678);
    const before = b.ctl[Ctl.Violations];
    expect(grantCopyTo(hv, b, ro, 0, 60 * 4096, 4)).toBe(E.PERM); // read-only mapping
    expect(grantStore32(hv, b, ro, 0, 1)).toBe(E.PERM);
    expect(grantCopyFrom(hv, b, rw, 4090, 60 * 4096, 8)).toBe(E.FAULT); // beyond the page
    expect(grantCopyFrom(hv, b, rw, 0, b.bytes - 2, 8)).toBe(E.FAULT); // beyond local memory
    expect(grantLoad32(hv, b, rw, 2, 62 * 4096)).toBe(E.INVAL); // misaligned
    expect(grantLoad32(hv, b, 999, 0, 62 * 4096)).toBe(E.INVAL); // no such handle
    expect(unmap(hv, b, rw)).toBe(GNTST.okay);
    expect(grantStore32(hv, b, rw, 0, 1)).toBe(E.INVAL); // unmapped handle
    expect(b.ctl[Ctl.Violations] - before).toBe(7);
  });
});
