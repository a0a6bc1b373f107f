// Grant table version 2 (docs/ABI.md §3, Xen 4.17's grant_table.c): set_version and its rules,
// the 16-byte entries and the separate status frames, sub-page and transitive grants, swap, the
// retired sub-ops, the status words under real threads; then the SDK and the block driver end
// to end with `grant_table.version=2` under both runners.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, closeSync, openSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { grantEntryAddr, grantStatusAddr, grantTableOp } from "../../bindings/hypervisor/gnttab.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { ARG, E, GNTST, bench, k, put } from "./fixture.js";
import {
  GE1, GE2, GNTMAP, GTF, INUSE, SELF, copy, entryFlags, getVersion, grantTransitive, grantV1, grantV2, inUse, map, op,
  physmap, pins, raceMappers, revoke, setVersion, unmap,
} from "./gnttab-fixture.js";
import { mapSharedInfo } from "./evtchn-fixture.js";
import { ROOT } from "../helpers/env.js";

/** Switches `d` to v2 and places grant frame 0 at frame 5 and status frame 0 at frame 10. */
function v2(hv: Hypervisor, d: Domain, status = true): void {
  expect(setVersion(hv, d, 2)).toEqual({ rc: 0, version: 2 });
  expect(physmap(hv, d, 0, 5)).toBe(0);
  if (status) expect(physmap(hv, d, 0, 10, true)).toBe(0);
}

/** GNTTABOP_get_status_frames of `dom` by `d` for `n` frames into a list at `list`: [call result, status, gfns]. */
function statusFrames(hv: Hypervisor, d: Domain, n: number, dom = SELF, list = ARG + 0x100, count = 1) {
  const l = put(d, ARG, "struct gnttab_get_status_frames", { nr_frames: n, dom, frame_list: BigInt(list) }, { dom: 2, frame_list: 8 });
  const rc = op(hv, d, "get_status_frames", count);
  const gfns: bigint[] = [];
  for (let i = 0; i < n && list + i * 8 + 8 <= d.bytes; i++) gfns.push(d.u64(list + i * 8));
  return { rc, status: d.view.getInt16(ARG + l.status, true), gfns };
}

describe("GNTTABOP_set_version and GNTTABOP_get_version", () => {
  it("switches both ways, reports the version, and writes it back even on failure", () => {
    const { hv, doms: [a, b, c] } = bench(3, true);
    expect(getVersion(hv, a)).toEqual({ rc: 0, version: 1 });
    expect(setVersion(hv, a, 1)).toEqual({ rc: 0, version: 1 });
    expect(setVersion(hv, a, 2)).toEqual({ rc: 0, version: 2 });
    expect(setVersion(hv, a, 2)).toEqual({ rc: 0, version: 2 });
    expect(getVersion(hv, a)).toEqual({ rc: 0, version: 2 });
    expect(setVersion(hv, a, 0)).toEqual({ rc: E.INVAL, version: 2 });
    expect(setVersion(hv, a, 3)).toEqual({ rc: E.INVAL, version: 2 });
    expect(getVersion(hv, b, 1).rc).toBe(E.PERM); // another domain's table needs privilege
    expect(getVersion(hv, c, 1)).toEqual({ rc: 0, version: 2 });
    expect(getVersion(hv, c, 77).rc).toBe(-k("XEN_ESRCH"));
    expect(setVersion(hv, a, 1)).toEqual({ rc: 0, version: 1 });
    expect(op(hv, a, "set_version", -1)).toBe(E.INVAL); // a negative count is refused first, for every sub-op
    expect(op(hv, a, "set_version", 1, a.bytes - 2)).toBe(E.FAULT);
  });

  it("is refused with -EBUSY while a grant other than the reserved ones is in use", () => {
    const { hv, doms: [a, b] } = bench();
    expect(physmap(hv, a, 0, 5)).toBe(0);
    grantV1(a, 8, 2, 40);
    grantV1(a, 1, 2, 41); // a reserved ref (xenstore's) may stay mapped across the switch
    const m = map(hv, b, 1, 8), r = map(hv, b, 1, 1);
    expect([m.status, r.status]).toEqual([GNTST.okay, GNTST.okay]);
    expect(setVersion(hv, a, 2)).toEqual({ rc: E.BUSY, version: 1 });
    expect(entryFlags(a, 8) & INUSE).toBe(INUSE); // nothing changed
    expect(unmap(hv, b, m.handle)).toBe(GNTST.okay);
    expect(setVersion(hv, a, 2)).toEqual({ rc: 0, version: 2 });
    grantV2(a, 9, 2, 42);
    const m2 = map(hv, b, 1, 9);
    expect(setVersion(hv, a, 1)).toEqual({ rc: E.BUSY, version: 2 });
    expect(unmap(hv, b, m2.handle)).toBe(GNTST.okay);
    expect(setVersion(hv, a, 1)).toEqual({ rc: 0, version: 1 });
    expect(unmap(hv, b, r.handle)).toBe(GNTST.okay);
    expect(pins(a, 1)).toBe(0);
  });

  it("carries the 8 reserved entries across (with their status) and clears every other entry", () => {
    const { hv, doms: [a, b] } = bench();
    expect(physmap(hv, a, 0, 5)).toBe(0);
    expect(physmap(hv, a, 1, 6)).toBe(0);
    for (let ref = 0; ref < 8; ref++) grantV1(a, ref, 2, 40 + ref, ref === 3 ? GTF.permit | GTF.readonly : GTF.permit);
    grantV1(a, 8, 2, 50);
    grantV1(a, 600, 2, 51); // in grant frame 1
    const r0 = map(hv, b, 1, 0); // the console's ref, mapped writable by the backend
    expect(setVersion(hv, a, 2).rc).toBe(0);
    const e0 = grantEntryAddr(a, 0);
    expect(e0).toBe(5 * 4096); // v2 layout: 16-byte entries
    expect(a.u16(e0 + GE2["hdr.flags"])).toBe(GTF.permit); // the status bits moved out of the flags
    expect(a.u16(e0 + GE2["hdr.domid"])).toBe(2);
    expect(a.u64(e0 + GE2["full_page.frame"])).toBe(40n);
    expect(a.u16(grantEntryAddr(a, 3))).toBe(GTF.permit | GTF.readonly);
    expect(a.u64(grantEntryAddr(a, 7) + GE2["full_page.frame"])).toBe(47n);
    for (const ref of [8, 255, 256 + 88]) expect(a.u32(grantEntryAddr(a, ref))).toBe(0); // cleared, both frames
    // The status frame, placed now, shows the pinned reserved entry.
    expect(inUse(a, 0)).toBe(0);
    expect(physmap(hv, a, 0, 10, true)).toBe(0);
    expect(inUse(a, 0)).toBe(INUSE);
    expect(map(hv, b, 1, 8).status).toBe(GNTST.general_error); // entry 8 is gone
    // Back to v1: the reserved entries again, GTF_reading/GTF_writing folded into the flags.
    expect(setVersion(hv, a, 1).rc).toBe(0);
    expect(a.u16(grantEntryAddr(a, 0))).toBe(GTF.permit | INUSE);
    expect(a.u32(grantEntryAddr(a, 5) + GE1.frame)).toBe(45);
    expect(a.u32(grantEntryAddr(a, 600))).toBe(0);
    expect(unmap(hv, b, r0.handle)).toBe(GNTST.okay);
    expect(a.u16(grantEntryAddr(a, 0))).toBe(GTF.permit);
  });

  it("refuses going to v1 with -ERANGE when a reserved entry does not fit v1", () => {
    const { hv, doms: [a] } = bench();
    v2(hv, a);
    grantTransitive(a, 2, 2, 3, 9);
    expect(setVersion(hv, a, 1)).toEqual({ rc: E.RANGE, version: 2 });
    grantV2(a, 2, 2, 0x1_0000_0001);
    expect(setVersion(hv, a, 1)).toEqual({ rc: E.RANGE, version: 2 });
    grantV2(a, 2, 2, 40);
    grantTransitive(a, 9, 2, 3, 9); // a transitive entry outside the reserved ones is simply dropped
    expect(setVersion(hv, a, 1)).toEqual({ rc: 0, version: 1 });
    expect(a.u32(grantEntryAddr(a, 2) + GE1.frame)).toBe(40);
    expect(a.u32(grantEntryAddr(a, 9))).toBe(0);
  });
});

describe("v2 entries and status frames", () => {
  it("holds 256 entries per frame and keeps GTF_reading/GTF_writing in the status frame", () => {
    const { hv, doms: [a, b] } = bench();
    v2(hv, a);
    grantV2(a, 8, 2, 40);
    grantV2(a, 255, 2, 41, GTF.permit | GTF.readonly);
    expect(map(hv, b, 1, 256).status).toBe(GNTST.bad_gntref); // grant frame 1 not placed
    const rw = map(hv, b, 1, 8);
    expect(rw.status).toBe(GNTST.okay);
    expect(entryFlags(a, 8)).toBe(GTF.permit); // never in the entry under v2
    expect(a.u16(10 * 4096 + 8 * 2)).toBe(INUSE); // status frame 0, word 8
    expect(map(hv, b, 1, 255).status).toBe(GNTST.general_error); // writable map of a read-only grant
    expect(inUse(a, 255)).toBe(0); // the failed pin left nothing set
    const ro = map(hv, b, 1, 255, GNTMAP.host | GNTMAP.readonly);
    expect(ro.status).toBe(GNTST.okay);
    expect(inUse(a, 255)).toBe(GTF.reading);
    a.u8.fill(0x77, 40 * 4096, 41 * 4096);
    expect(revoke(a, 8)).toBe(false); // in use: the guest's revoke puts the flags back
    expect(entryFlags(a, 8)).toBe(GTF.permit);
    expect(unmap(hv, b, rw.handle)).toBe(GNTST.okay);
    expect(unmap(hv, b, ro.handle)).toBe(GNTST.okay);
    expect([inUse(a, 8), inUse(a, 255), pins(a, 8), pins(a, 255)]).toEqual([0, 0, 0, 0]);
    expect(revoke(a, 8)).toBe(true);
    expect(map(hv, b, 1, 8).status).toBe(GNTST.general_error);
  });

  it("pins without a status frame, and writes Xen's status into one when it is placed or moved", () => {
    const { hv, doms: [a, b] } = bench();
    v2(hv, a, false);
    grantV2(a, 300 % 256, 2, 40);
    const m = map(hv, b, 1, 300 % 256);
    expect(m.status).toBe(GNTST.okay);
    a.u8.fill(0xee, 11 * 4096, 12 * 4096); // whatever the guest had there is replaced
    expect(physmap(hv, a, 0, 11, true)).toBe(0);
    expect(grantStatusAddr(a, 44)).toBe(11 * 4096 + 88);
    expect(a.u16(11 * 4096 + 88)).toBe(INUSE);
    expect(a.u16(11 * 4096 + 90)).toBe(0);
    expect(physmap(hv, a, 0, 12, true)).toBe(0); // moved
    expect(a.u16(12 * 4096 + 88)).toBe(INUSE);
    expect(unmap(hv, b, m.handle)).toBe(GNTST.okay);
    expect(a.u16(12 * 4096 + 88)).toBe(0);
    expect(a.u16(11 * 4096 + 88)).toBe(INUSE); // the old frame is the guest's again: left as it was
  });

  it("answers GNTTABOP_get_status_frames and status-frame placement as Xen does", () => {
    const { hv, doms: [a, b, c] } = bench(3, true);
    expect(physmap(hv, a, 0, 5)).toBe(0);
    expect(statusFrames(hv, a, 1).status).toBe(GNTST.general_error); // v1: no status frames
    expect(physmap(hv, a, 0, 10, true)).toBe(E.INVAL); // v1: the status bit makes it a bad shared-frame index
    v2(hv, a, false);
    expect(statusFrames(hv, a, 1)).toEqual({ rc: 0, status: GNTST.okay, gfns: [0xffff_ffff_ffff_ffffn] }); // not placed yet
    expect(physmap(hv, a, 0, 10, true)).toBe(0);
    expect(physmap(hv, a, 2, 12, true)).toBe(0);
    expect(physmap(hv, a, 4, 13, true)).toBe(E.INVAL); // 4 status frames cover all 32 grant frames
    expect(statusFrames(hv, a, 3)).toEqual({ rc: 0, status: GNTST.okay, gfns: [10n, 0xffff_ffff_ffff_ffffn, 12n] });
    expect(statusFrames(hv, a, 4).status).toBe(GNTST.general_error); // more than the table has
    expect(statusFrames(hv, a, 1, SELF, a.bytes - 4).status).toBe(GNTST.bad_virt_addr);
    expect(statusFrames(hv, a, 1, SELF, ARG + 0x100, 2).rc).toBe(E.INVAL); // count must be 1
    expect(statusFrames(hv, b, 1, 1).status).toBe(GNTST.permission_denied);
    expect(statusFrames(hv, c, 1, 1).gfns).toEqual([10n]); // privileged
    expect(statusFrames(hv, b, 1, 77).status).toBe(GNTST.bad_domain);
    expect(op(hv, a, "get_status_frames", 1, a.bytes - 8)).toBe(E.FAULT);
    // setup_table and query_size count grant frames only, and are single-struct sub-ops too.
    const l = put(a, ARG, "struct gnttab_setup_table", { dom: SELF, nr_frames: 2, frame_list: BigInt(ARG + 0x100) }, { dom: 2, frame_list: 8 });
    expect(op(hv, a, "setup_table")).toBe(0);
    expect(a.view.getInt16(ARG + l.status, true)).toBe(GNTST.okay);
    expect([a.u64(ARG + 0x100), a.u64(ARG + 0x108)]).toEqual([5n, 0xffff_ffff_ffff_ffffn]);
    expect(op(hv, a, "setup_table", 2)).toBe(E.INVAL);
    put(a, ARG, "struct gnttab_setup_table", { dom: SELF, nr_frames: 4, frame_list: BigInt(a.bytes - 8) }, { dom: 2, frame_list: 8 });
    expect(op(hv, a, "setup_table")).toBe(E.FAULT);
    const q = put(a, ARG, "struct gnttab_query_size", { dom: SELF }, { dom: 2 });
    expect(op(hv, a, "query_size")).toBe(0);
    expect([a.u32(ARG + q.nr_frames), a.u32(ARG + q.max_nr_frames)]).toEqual([1, 32]);
    expect(op(hv, a, "query_size", 0)).toBe(E.INVAL);
  });
});

describe("sub-page grants", () => {
  it("are copied only inside [page_off, page_off + length) and never mapped", () => {
    const { hv, doms: [a, b] } = bench();
    v2(hv, a);
    for (let i = 0; i < 4096; i++) a.u8[40 * 4096 + i] = i & 0xff;
    grantV2(a, 8, 2, 40, GTF.permit | GTF.sub_page | GTF.readonly, 100, 100);
    grantV2(a, 9, 2, 41, GTF.permit | GTF.sub_page, 2000, 16);
    const m = map(hv, b, 1, 8, GNTMAP.host | GNTMAP.readonly);
    expect(m.status).toBe(GNTST.general_error);
    expect([pins(a, 8), inUse(a, 8)]).toEqual([0, 0]);
    const src = (offset: number) => ({ ref: 8, dom: 1, offset }), dst = (offset: number) => ({ ref: 9, dom: 1, offset });
    const mine = (offset = 0) => ({ gmfn: 60, offset });
    expect(copy(hv, b, [
      [src(100), mine(), 100], // the whole range
      [src(99), mine(), 2], // starts before it
      [src(150), mine(), 51], // ends after it
      [src(4000), mine(), 100], // beyond the page: bad_copy_arg comes before the range
      [mine(), dst(2000), 16],
      [mine(), dst(2008), 9],
      [mine(), src(100), 4], // a read-only grant as destination
      [src(120), dst(2004), 8], // grant to grant
    ])).toEqual([GNTST.okay, GNTST.general_error, GNTST.general_error, GNTST.bad_copy_arg, GNTST.okay, GNTST.general_error, GNTST.general_error, GNTST.okay]);
    expect([...b.u8.subarray(60 * 4096, 60 * 4096 + 4)]).toEqual([100, 101, 102, 103]);
    expect([...a.u8.subarray(41 * 4096 + 2004, 41 * 4096 + 2008)]).toEqual([120, 121, 122, 123]);
    expect([pins(a, 8), pins(a, 9), inUse(a, 8), inUse(a, 9)]).toEqual([0, 0, 0, 0]);
  });

  it("means nothing to a v1 table's copy, but a v1 entry with GTF_sub_page is still not mapped (as Xen)", () => {
    const { hv, doms: [a, b] } = bench();
    expect(physmap(hv, a, 0, 5)).toBe(0);
    grantV1(a, 8, 2, 40, GTF.permit | GTF.sub_page);
    expect(map(hv, b, 1, 8).status).toBe(GNTST.general_error);
    expect(copy(hv, b, [[{ ref: 8, dom: 1, offset: 0 }, { gmfn: 60 }, 4096]])).toEqual([GNTST.okay]);
  });
});

describe("transitive grants", () => {
  /** Domain 1 grants frame 40 to domain 2 (ref 8); domain 2 grants it on to domain 3, transitively (ref 9). */
  function chain() {
    const t = bench(4);
    const [a, b, c] = t.doms;
    expect(physmap(t.hv, a, 0, 5)).toBe(0); // the target may use v1
    grantV1(a, 8, 2, 40);
    for (let i = 0; i < 4096; i++) a.u8[40 * 4096 + i] = (i * 7) & 0xff;
    v2(t.hv, b);
    grantTransitive(b, 9, 3, 1, 8);
    return { ...t, a, b, c };
  }

  it("are followed by GNTTABOP_copy in both directions, pinning both grants only during the copy", () => {
    const { hv, a, b, c } = chain();
    c.u8.set([1, 2, 3, 4], 70 * 4096);
    expect(copy(hv, c, [
      [{ ref: 9, dom: 2, offset: 16 }, { gmfn: 60 }, 8],
      [{ gmfn: 70 }, { ref: 9, dom: 2, offset: 4000 }, 4],
    ])).toEqual([GNTST.okay, GNTST.okay]);
    expect([...c.u8.subarray(60 * 4096, 60 * 4096 + 8)]).toEqual([112, 119, 126, 133, 140, 147, 154, 161]);
    expect([...a.u8.subarray(40 * 4096 + 4000, 40 * 4096 + 4004)]).toEqual([1, 2, 3, 4]); // into domain 1's frame
    expect([pins(a, 8), pins(b, 9), inUse(a, 8), inUse(b, 9)]).toEqual([0, 0, 0, 0]);
    expect(map(hv, c, 2, 9, GNTMAP.host | GNTMAP.readonly).status).toBe(GNTST.general_error); // never mapped
    expect(pins(b, 9)).toBe(0);
  });

  it("take their range from the grant they lead to", () => {
    const { hv, a, b, c } = chain();
    v2(hv, a); // now a v2 target with a sub-page grant to domain 2
    grantV2(a, 10, 2, 40, GTF.permit | GTF.sub_page, 64, 64);
    for (let i = 0; i < 4096; i++) a.u8[40 * 4096 + i] = i & 0xff;
    grantTransitive(b, 11, 3, 1, 10);
    const from = (offset: number) => ({ ref: 11, dom: 2, offset });
    expect(copy(hv, c, [[from(64), { gmfn: 60 }, 64], [from(0), { gmfn: 60 }, 8], [from(120), { gmfn: 60 }, 9]]))
      .toEqual([GNTST.okay, GNTST.general_error, GNTST.general_error]);
    expect(c.u8[60 * 4096]).toBe(64);
    expect([pins(a, 10), pins(b, 11), inUse(a, 10), inUse(b, 11)]).toEqual([0, 0, 0, 0]);
  });

  it("are checked as acquire_grant_for_copy checks them", () => {
    const { hv, a, b, c, doms } = chain();
    const d4 = doms[3];
    const from = (ref: number) => ({ ref, dom: 2, offset: 0 });
    grantTransitive(b, 10, 3, 2, 9); // points at its own granter
    grantTransitive(b, 11, 3, 77, 8); // no such domain
    grantTransitive(b, 12, 3, 1, 600); // beyond domain 1's frames
    grantV1(a, 13, 3, 41); // domain 1 granted it to domain 3, not to domain 2
    grantTransitive(b, 13, 3, 1, 13);
    v2(hv, d4);
    grantTransitive(d4, 8, 2, 1, 8); // domain 4 -> domain 1, itself offered on by domain 2:
    grantTransitive(b, 14, 3, 4, 8); // two levels
    grantTransitive(b, 15, 3, 1, 8, GTF.readonly);
    grantTransitive(b, 16, 4, 1, 8); // granted to domain 4, not to the copier
    expect(copy(hv, c, [
      [from(10), { gmfn: 60 }, 4], [from(11), { gmfn: 60 }, 4], [from(12), { gmfn: 60 }, 4], [from(13), { gmfn: 60 }, 4],
      [from(14), { gmfn: 60 }, 4], [{ gmfn: 60 }, from(15), 4], [from(16), { gmfn: 60 }, 4], [from(15), { gmfn: 60 }, 4],
    ])).toEqual([
      GNTST.general_error, GNTST.general_error, GNTST.bad_gntref, GNTST.general_error,
      GNTST.general_error, GNTST.general_error, GNTST.general_error, GNTST.okay,
    ]);
    for (const ref of [10, 11, 12, 13, 14, 15, 16]) expect([pins(b, ref), inUse(b, ref)]).toEqual([0, 0]);
    for (const ref of [8, 13]) expect([pins(a, ref), inUse(a, ref)]).toEqual([0, 0]);
    expect([pins(d4, 8), inUse(d4, 8)]).toEqual([0, 0]);
  });

  it("may lead back to the copier (a grant offered on and back, as Xen allows)", () => {
    const { hv, b, c } = chain();
    expect(physmap(hv, c, 0, 5)).toBe(0);
    grantV1(c, 8, 2, 80);
    c.u8[80 * 4096 + 5] = 42;
    grantTransitive(b, 10, 3, 3, 8);
    expect(copy(hv, c, [[{ ref: 10, dom: 2, offset: 5 }, { gmfn: 60 }, 1]])).toEqual([GNTST.okay]);
    expect(c.u8[60 * 4096]).toBe(42);
  });
});

describe("GNTTABOP_swap_grant_ref", () => {
  it.each([1, 2])("swaps two idle entries of a v%i table (and their status words)", (version) => {
    const { hv, doms: [a, b] } = bench();
    if (version === 2) v2(hv, a); else expect(physmap(hv, a, 0, 5)).toBe(0);
    const grant = version === 2 ? grantV2 : grantV1;
    grant(a, 8, 2, 40);
    grant(a, 9, 3, 41, GTF.permit | GTF.readonly);
    grant(a, 10, 2, 42);
    const m = map(hv, b, 1, 10);
    const S = put(a, ARG, "struct gnttab_swap_grant_ref", {});
    const swap = (pairs: Array<[number, number]>) => {
      pairs.forEach(([x, y], i) => { a.w32(ARG + i * S.size + S.ref_a, x); a.w32(ARG + i * S.size + S.ref_b, y); a.w16(ARG + i * S.size + S.status, 0x5555); });
      expect(op(hv, a, "swap_grant_ref", pairs.length)).toBe(0);
      return pairs.map((_p, i) => a.view.getInt16(ARG + i * S.size + S.status, true));
    };
    const before8 = [...a.u8.subarray(grantEntryAddr(a, 8), grantEntryAddr(a, 8) + (version === 2 ? 16 : 8))];
    const before9 = [...a.u8.subarray(grantEntryAddr(a, 9), grantEntryAddr(a, 9) + (version === 2 ? 16 : 8))];
    expect(swap([[8, 9], [8, 8], [8, 10], [10, 9], [8, 5000]])).toEqual([GNTST.okay, GNTST.okay, GNTST.eagain, GNTST.eagain, GNTST.bad_gntref]);
    expect([...a.u8.subarray(grantEntryAddr(a, 8), grantEntryAddr(a, 8) + before9.length)]).toEqual(before9);
    expect([...a.u8.subarray(grantEntryAddr(a, 9), grantEntryAddr(a, 9) + before8.length)]).toEqual(before8);
    expect(inUse(a, 10)).toBe(INUSE); // the busy one was left alone
    expect(map(hv, b, 1, 9).status).toBe(GNTST.okay); // ref 9 is now the grant to domain 2
    expect(unmap(hv, b, m.handle)).toBe(GNTST.okay);
    expect(op(hv, a, "swap_grant_ref", 1, a.bytes - 4)).toBe(E.FAULT);
  });
});

describe("sub-ops xenwasm does not have", () => {
  it("answers -ENOSYS for the retired and host-only ones, -EINVAL for continuation bits", () => {
    const { hv, doms: [a] } = bench();
    for (const name of ["dump_table", "transfer", "unmap_and_replace", "cache_flush"]) expect(op(hv, a, name)).toBe(E.NOSYS);
    expect(op(hv, a, "map_grant_ref", 0)).toBe(0); // an empty batch
    expect(grantTableOp(hv, a, 0x1000 | k("GNTTABOP_map_grant_ref"), ARG, 1)).toBe(E.INVAL);
    expect(grantTableOp(hv, a, 0x1000 | k("GNTTABOP_cache_flush"), ARG, 1)).toBe(E.NOSYS);
    expect(grantTableOp(hv, a, -1, ARG, 1)).toBe(E.INVAL);
  });
});

describe("v2 status words under concurrent threads", () => {
  it("balance when three domains map, access and unmap v2 grants at once", async () => {
    const ROUNDS = 2000;
    const { hv, doms } = bench(4);
    const [a, ...mappers] = doms;
    v2(hv, a);
    expect(physmap(hv, a, 0, 5)).toBe(0);
    mapSharedInfo(hv, a, 6);
    for (const m of mappers) grantV2(a, 6 + m.domid, m.domid, 40); // refs 8..10: three status words in one 32-bit word pair
    await raceMappers(hv, a, mappers, ROUNDS);
    for (const m of mappers) {
      expect(a.u32(40 * 4096 + m.domid * 4)).toBe(ROUNDS);
      expect(pins(a, 6 + m.domid)).toBe(0);
      expect(inUse(a, 6 + m.domid)).toBe(0);
      expect(entryFlags(a, 6 + m.domid)).toBe(GTF.permit); // the entries themselves were never written
    }
  });
});

// ---- The SDK and the block driver with grant_table.version=2, as a user runs them ----

const CLI = join(ROOT, "bin/xenwasm.js");
function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function fnv1a(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return "0x" + h.toString(16).padStart(8, "0");
}

describe.each(["deterministic", "threads"])("grant table v2 end to end under the %s runner", (runner) => {
  it("runs the SDK smoke guest unchanged on a v2 table", () => {
    const r = xenwasm("run", "--runner", runner, "--cmdline", "grant_table.version=2", "build/tests/sdk_smoke.wasm");
    expect(r.stdout).toContain("grant_table: version 2");
    expect(r.stdout).toMatch(/sdk_smoke: \d+ checks, 0 failed/);
    expect(r.status).toBe(0);
  });

  it("copies through sub-page and transitive grants between two guests (the SDK's calls)", () => {
    const r = xenwasm("run", "--runner", runner,
      "--cmdline", "a peer=2 grant_table.version=2", "build/tests/gnttab_v2.wasm",
      "--cmdline", "b peer=1 grant_table.version=2", "build/tests/gnttab_v2.wasm");
    expect(r.stdout, r.stderr).toMatch(/\[gnttab_v2\.1\] gnttab_v2 a: \d+ checks, 0 failed/);
    expect(r.stdout).toMatch(/\[gnttab_v2\.2\] gnttab_v2 b: \d+ checks, 0 failed/);
    expect(r.stdout).not.toContain("FAIL");
    expect(r.status).toBe(0);
  });

  it("moves random block patterns with blkfront and dom0's blkback both on v2 tables", () => {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-gntv2-"));
    try {
      const img = join(dir, "pat.img");
      closeSync(openSync(img, "w"));
      truncateSync(img, 4 << 20);
      const seed = 1 + Math.floor(Math.random() * 1e6);
      const r = xenwasm("run", "--runner", runner, "--backend-cmdline", "grant_table.version=2", "--disk", img,
        "--cmdline", `seed=${seed} ops=150 grant_table.version=2`, "build/tests/blk_pattern.wasm");
      expect(r.stdout, `seed ${seed}: ${r.stderr}`).toMatch(/\[dom0\] grant_table: version 2/);
      expect(r.stdout).toMatch(/\[blk_pattern\] grant_table: version 2/);
      expect(r.stdout).toMatch(/4 queue\(s\), ring order 4, 256 segments, persistent, flush, discard/);
      const m = /image fnv1a (0x[0-9a-f]+)/.exec(r.stdout);
      expect(m, `seed ${seed}: ${r.stdout}${r.stderr}`).not.toBeNull();
      expect(fnv1a(readFileSync(img)), `seed ${seed}`).toBe(m![1]);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
