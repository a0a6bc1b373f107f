// Regression tests for the Xen security advisories on grant tables (xenbits.xen.org/xsa/), one
// `it` per advisory: each names the bug and asserts Xen's fixed behaviour as xenwasm models it
// (grant frames and status frames in the guest's own memory at GFNs it chose, one pin per
// mapping, map handles instead of page-table entries). Each would fail with the bug put back.
//
// XSA-234 ("insufficient grant unmapping checks for x86 PV guests") is about the PV page-table
// entry that replace_grant_pv_mapping() rewrote without checking it was present and writable:
// xenwasm has no guest page tables (a mapping is a handle), so that path does not exist; its
// test below guards the model's counterpart, the checks an unmap makes on the handle.
import { describe, expect, it } from "vitest";
import { dmaTarget, grantTableOp, unmapAll } from "../../bindings/hypervisor/gnttab.js";
import { MAP_LIVE, MAP_WORDS, MAPTRACK_SIZE, type Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { ARG, E, GNTST, bench, k, layout, put } from "./fixture.js";
import {
  GNTMAP, GTF, INUSE, SELF, copy, grantTransitive, grantV1, grantV2, inUse, map, op, physmap, pins, revoke, setVersion, unmap,
} from "./gnttab-fixture.js";

const MAP = layout("struct gnttab_map_grant_ref");
const UNMAP = layout("struct gnttab_unmap_grant_ref");
const SENTINEL = 0xab;

/** Domain 1's table in `version`, grant frame 0 at frame 5 (and v2 status frame 0 at frame 10). */
function table(hv: Hypervisor, a: Domain, version: number): (ref: number, domid: number, frame: number, flags?: number) => void {
  if (version === 2) expect(setVersion(hv, a, 2).rc).toBe(0);
  expect(physmap(hv, a, 0, 5)).toBe(0);
  if (version === 2) expect(physmap(hv, a, 0, 10, true)).toBe(0);
  return version === 2 ? grantV2.bind(null, a) : grantV1.bind(null, a);
}

/** Live map handles of `d`. */
function liveHandles(d: Domain): number {
  let n = 0;
  for (let h = 0; h < MAPTRACK_SIZE; h++) if (d.maps[h * MAP_WORDS] & MAP_LIVE) n++;
  return n;
}

/** Whether every byte of frame `gfn` of `d` is still SENTINEL. */
function untouched(d: Domain, gfn: number): boolean {
  return d.u8.subarray(gfn * 4096, gfn * 4096 + 4096).every((b) => b === SENTINEL);
}

/** Runs map entries (dom, ref, flags) by `d` in one call; returns [status, handle] per entry (handles preset to ~0). */
function mapBatch(hv: Hypervisor, d: Domain, entries: Array<[number, number, number]>): Array<[number, number]> {
  entries.forEach(([dom, ref, flags], i) => {
    const a = ARG + i * MAP.size;
    d.u8.fill(0, a, a + MAP.size);
    d.w32(a + MAP.flags, flags);
    d.w32(a + MAP.ref, ref);
    d.w16(a + MAP.dom, dom);
    d.w32(a + MAP.handle, 0xffffffff);
  });
  expect(op(hv, d, "map_grant_ref", entries.length)).toBe(0);
  return entries.map((_e, i) => [d.view.getInt16(ARG + i * MAP.size + MAP.status, true), d.u32(ARG + i * MAP.size + MAP.handle)]);
}

describe("grant-table security advisories", () => {
  it.each([1, 2])("XSA-224 (mishandled reference counts of device+host mappings): one pin per mapping, dropped once, by its own unmap (v%i)", (version) => {
    // Xen's bug: a grant mapped GNTMAP_device_map|GNTMAP_host_map and unmapped with only the host
    // part dropped the page's counts as if both went, while the device mapping lived on (and the
    // type count was too low). Here: an unmap removes its mapping whole, each mapping holds
    // exactly one pin, the grant shows in use until the last mapping goes, and no bus address
    // outlives its mapping.
    const { hv, doms: [a, b] } = bench();
    const grant = table(hv, a, version);
    grant(8, 2, 40);
    const both = map(hv, b, 1, 8, GNTMAP.host | GNTMAP.device);
    const dev = map(hv, b, 1, 8, GNTMAP.device | GNTMAP.readonly);
    const host = map(hv, b, 1, 8, GNTMAP.host);
    expect([both.status, dev.status, host.status]).toEqual([0, 0, 0]);
    expect(pins(a, 8)).toBe(0x20003); // three readers, two of them writers
    expect(dmaTarget(hv, b, Number(both.bus), 512, true)).toBe(40 * 4096);
    // Unmap the device+host mapping as Linux's blkback does (host_addr and dev_bus_addr given).
    const l = put(b, ARG, "struct gnttab_unmap_grant_ref", { host_addr: 0x7000_0000n, dev_bus_addr: both.bus, handle: both.handle }, { host_addr: 8, dev_bus_addr: 8 });
    expect(op(hv, b, "unmap_grant_ref")).toBe(0);
    expect(b.view.getInt16(ARG + l.status, true)).toBe(GNTST.okay);
    expect(pins(a, 8)).toBe(0x10002);
    expect(dmaTarget(hv, b, Number(both.bus), 512, false)).toBe(E.FAULT); // its device part went with it
    expect(dmaTarget(hv, b, Number(dev.bus), 512, false)).toBe(40 * 4096); // the other device mapping did not
    expect(inUse(a, 8)).toBe(INUSE);
    expect(unmap(hv, b, both.handle)).toBe(GNTST.bad_handle); // nothing more to drop
    expect(unmap(hv, b, host.handle)).toBe(GNTST.okay);
    expect(inUse(a, 8)).toBe(GTF.reading); // the read-only device mapping still reads the page
    expect(revoke(a, 8)).toBe(false);
    expect(unmap(hv, b, dev.handle)).toBe(GNTST.okay);
    expect([pins(a, 8), inUse(a, 8), liveHandles(b)]).toEqual([0, 0, 0]);
    expect(dmaTarget(hv, b, Number(dev.bus), 512, false)).toBe(E.FAULT);
    expect(revoke(a, 8)).toBe(true);
  });

  it.each([1, 2])("XSA-234 (unmap did not check the mapping's presence and writability; model's counterpart): an unmap drops only what its live handle holds (v%i)", (version) => {
    const { hv, doms: [a, b] } = bench();
    const grant = table(hv, a, version);
    grant(8, 2, 40);
    const rw = map(hv, b, 1, 8), ro = map(hv, b, 1, 8, GNTMAP.host | GNTMAP.readonly);
    expect(unmap(hv, b, ro.handle)).toBe(GNTST.okay);
    expect([pins(a, 8), inUse(a, 8)]).toEqual([0x10001, INUSE]); // the writer's pin and GTF_writing stay
    for (const h of [ro.handle, 4242, MAPTRACK_SIZE, -1 >>> 0]) expect(unmap(hv, b, h)).toBe(GNTST.bad_handle);
    expect([pins(a, 8), inUse(a, 8)]).toEqual([0x10001, INUSE]); // nothing dropped twice
    const again = map(hv, b, 1, 8, GNTMAP.host | GNTMAP.readonly);
    expect(again.handle).not.toBe(ro.handle); // a freed handle is reused last (Xen's FIFO maptrack)
    expect(unmap(hv, b, rw.handle)).toBe(GNTST.okay);
    expect(inUse(a, 8)).toBe(GTF.reading);
    expect(unmap(hv, b, again.handle)).toBe(GNTST.okay);
    expect([pins(a, 8), inUse(a, 8)]).toEqual([0, 0]);
  });

  it("XSA-255 (grant table v2 -> v1 transition): the status frames stop being Xen's, and their GFNs are kept apart from the grant frames'", () => {
    // Xen's bug: switching back to v1 freed the status pages while the guest still mapped them
    // (and on Arm, status GFNs were written into the shared frames' GFN array). Here: after v2 -> v1
    // the old status GFN is the guest's own memory, which the harness never writes again, in v1
    // or after going back to v2 until a status frame is placed anew.
    const { hv, doms: [a, b] } = bench();
    table(hv, a, 2);
    grantV2(a, 8, 2, 40);
    const m = map(hv, b, 1, 8);
    expect(a.u16(10 * 4096 + 16)).toBe(INUSE);
    const sf = put(a, ARG, "struct gnttab_get_status_frames", { nr_frames: 1, dom: SELF, frame_list: BigInt(ARG + 0x100) }, { dom: 2, frame_list: 8 });
    expect(op(hv, a, "get_status_frames")).toBe(0);
    expect([a.view.getInt16(ARG + sf.status, true), a.u64(ARG + 0x100)]).toEqual([GNTST.okay, 10n]);
    const st = put(a, ARG, "struct gnttab_setup_table", { dom: SELF, nr_frames: 1, frame_list: BigInt(ARG + 0x100) }, { dom: 2, frame_list: 8 });
    expect(op(hv, a, "setup_table")).toBe(0);
    expect([a.view.getInt16(ARG + st.status, true), a.u64(ARG + 0x100)]).toEqual([GNTST.okay, 5n]); // not the status frame
    expect(setVersion(hv, a, 1)).toEqual({ rc: E.BUSY, version: 2 }); // refused while in use
    expect(unmap(hv, b, m.handle)).toBe(GNTST.okay);
    expect(setVersion(hv, a, 1).rc).toBe(0);
    a.u8.fill(SENTINEL, 10 * 4096, 11 * 4096); // the guest reuses the old status frame
    grantV1(a, 8, 2, 40);
    const m1 = map(hv, b, 1, 8);
    expect(copy(hv, b, [[{ ref: 8, dom: 1 }, { gmfn: 60 }, 8]])).toEqual([GNTST.okay]);
    expect(unmap(hv, b, m1.handle)).toBe(GNTST.okay);
    expect(physmap(hv, a, 0, 10, true)).toBe(E.INVAL); // no status frames under v1
    expect(op(hv, a, "get_status_frames")).toBe(0);
    put(a, ARG, "struct gnttab_get_status_frames", { nr_frames: 1, dom: SELF, frame_list: BigInt(ARG + 0x100) }, { dom: 2, frame_list: 8 });
    expect(op(hv, a, "get_status_frames")).toBe(0);
    expect(a.view.getInt16(ARG + sf.status, true)).toBe(GNTST.general_error);
    expect(setVersion(hv, a, 2).rc).toBe(0); // back to v2: still no status frame until one is placed
    grantV2(a, 8, 2, 40);
    const m2 = map(hv, b, 1, 8);
    expect(unmap(hv, b, m2.handle)).toBe(GNTST.okay);
    expect(untouched(a, 10)).toBe(true);
    expect(physmap(hv, a, 0, 11, true)).toBe(0);
    expect(map(hv, b, 1, 8).status).toBe(GNTST.okay);
    expect(a.u16(11 * 4096 + 16)).toBe(INUSE);
    expect(untouched(a, 10)).toBe(true);
  });

  it.each([1, 2])("XSA-316 (bad error path in GNTTABOP_map_grant_ref returned 1): every failed map entry gets a negative GNTST status and no handle (v%i)", (version) => {
    // Xen's bug: a misplaced bracket made a failing _set_status() report status 1, which Linux
    // took for success. Here every entry that fails, for any reason, reports a negative GNTST
    // code, leaves `handle` as it was, holds no maptrack entry and no pin, sets no status bit.
    const { hv, doms: [a, b] } = bench();
    const grant = table(hv, a, version);
    grant(8, 2, 40);
    grant(9, 3, 41); // granted to domain 3
    grant(10, 2, 42, GTF.permit | GTF.readonly);
    grant(11, 2, 43, GTF.permit | GTF.sub_page); // a sub-page grant (v2), or v1's flag Xen also refuses to map
    grant(12, 2, 99999); // beyond domain 1's memory
    grant(13, 2, 44, 0); // revoked
    if (version === 2) grantTransitive(a, 14, 2, 3, 8); else grant(14, 2, 45, GTF.transitive);
    const H = GNTMAP.host;
    const results = mapBatch(hv, b, [
      [1, 8, H], [1, 9, H], [1, 10, H], [1, 11, H | GNTMAP.readonly], [1, 12, H], [1, 13, H], [1, 14, H | GNTMAP.readonly],
      [1, 600, H], [77, 8, H], [1, 8, 0], [1, 8, H | GNTMAP.readonly],
    ]);
    expect(results.map(([s]) => s)).toEqual([
      GNTST.okay, GNTST.general_error, GNTST.general_error, GNTST.general_error, GNTST.bad_page, GNTST.general_error,
      GNTST.general_error, GNTST.bad_gntref, GNTST.bad_domain, GNTST.bad_gntref, GNTST.okay,
    ]);
    for (const [s, h] of results) if (s !== GNTST.okay) expect(h).toBe(0xffffffff);
    expect(liveHandles(b)).toBe(2);
    expect(pins(a, 8)).toBe(0x10002);
    for (let ref = 9; ref <= 14; ref++) expect([ref, pins(a, ref), inUse(a, ref)]).toEqual([ref, 0, 0]);
  });

  it("XSA-379 (v2 status pages left accessible after de-allocation): a status frame lives at one GFN, and none after v2 -> v1", () => {
    // Xen's bug: racing XENMEM_add_to_physmap requests could leave a status page inserted at several
    // GFNs, of which Xen removed only the one it tracked when switching back to v1. Here a frame
    // placed again moves (the old GFN is the guest's again and never written), and after v2 -> v1
    // no GFN that ever held a status frame is written. Grant frames move the same way.
    const { hv, doms: [a, b] } = bench();
    table(hv, a, 2);
    grantV2(a, 8, 2, 40);
    for (const gfn of [20, 21]) { a.u8.fill(SENTINEL, gfn * 4096, gfn * 4096 + 4096); expect(physmap(hv, a, 0, gfn, true)).toBe(0); }
    a.u8.fill(SENTINEL, 20 * 4096, 21 * 4096); // the guest takes the first GFN back after the move
    const m = map(hv, b, 1, 8);
    expect(a.u16(21 * 4096 + 16)).toBe(INUSE);
    expect(untouched(a, 20)).toBe(true);
    expect(unmap(hv, b, m.handle)).toBe(GNTST.okay);
    expect(setVersion(hv, a, 1).rc).toBe(0);
    a.u8.fill(SENTINEL, 21 * 4096, 22 * 4096);
    grantV1(a, 8, 2, 40);
    expect(physmap(hv, a, 0, 22)).toBe(0); // grant frame 0 moves from 5 to 22
    a.u8.fill(SENTINEL, 5 * 4096, 6 * 4096);
    const m1 = map(hv, b, 1, 8);
    expect(a.u16(22 * 4096 + 64) & INUSE).toBe(INUSE); // v1 entry 8 at its new place
    expect(unmap(hv, b, m1.handle)).toBe(GNTST.okay);
    for (const gfn of [5, 20, 21]) expect([gfn, untouched(a, gfn)]).toEqual([gfn, true]);
  });

  it("XSA-380 (long-running loops over the maptrack): a maximal table is mapped, churned and torn down in bounded time, correctly", () => {
    // Xen's bug: operations walked every maptrack entry, in use or not (mapkind() on each map and
    // unmap, gnttab_release_mappings() at teardown), so a domain with a large table could tie up a
    // CPU. Here taking and returning a map handle is O(1) (a FIFO free list as Xen's maptrack):
    // the whole table of 16384 handles is filled, then churned in the order a scanning allocator
    // finds slowest (each freed handle just behind where it would start looking), then released.
    const { hv, doms: [a, b] } = bench();
    for (let f = 0; f < 32; f++) expect(physmap(hv, a, f, 100 + f)).toBe(0);
    const refs = 32 * 512;
    expect(refs).toBe(MAPTRACK_SIZE);
    for (let ref = 0; ref < refs; ref++) grantV1(a, ref, 2, 200 + (ref % 64), GTF.permit | GTF.readonly);
    const t0 = performance.now();
    const BATCH = 1024, M = layout("struct gnttab_map_grant_ref");
    const handles = new Int32Array(refs);
    for (let first = 0; first < refs; first += BATCH) {
      for (let i = 0; i < BATCH; i++) {
        const at = 0x10000 + i * M.size;
        b.u8.fill(0, at, at + M.size);
        b.w32(at + M.flags, GNTMAP.host | GNTMAP.readonly);
        b.w32(at + M.ref, first + i);
        b.w16(at + M.dom, 1);
      }
      expect(grantTableOp(hv, b, k("GNTTABOP_map_grant_ref"), 0x10000, BATCH)).toBe(0);
      for (let i = 0; i < BATCH; i++) {
        expect(b.view.getInt16(0x10000 + i * M.size + M.status, true)).toBe(0);
        handles[first + i] = b.u32(0x10000 + i * M.size + M.handle);
      }
    }
    expect(new Set(handles).size).toBe(MAPTRACK_SIZE);
    expect(map(hv, b, 1, 0, GNTMAP.host | GNTMAP.readonly).status).toBe(GNTST.no_space); // the table is full
    const filled = performance.now();
    let wrong = 0; // checked by hand in the loop: expect() would cost more than the operations timed
    for (let i = refs - 1; i >= 0; i--) { // free one handle, take one: always the same one back
      b.u8.fill(0, ARG, ARG + M.size);
      b.w32(ARG + UNMAP.handle, handles[i]);
      if (grantTableOp(hv, b, k("GNTTABOP_unmap_grant_ref"), ARG, 1) !== 0 || b.view.getInt16(ARG + UNMAP.status, true) !== 0) wrong++;
      b.u8.fill(0, ARG, ARG + M.size);
      b.w32(ARG + M.flags, GNTMAP.host | GNTMAP.readonly);
      b.w32(ARG + M.ref, i);
      b.w16(ARG + M.dom, 1);
      if (grantTableOp(hv, b, k("GNTTABOP_map_grant_ref"), ARG, 1) !== 0 || b.view.getInt16(ARG + M.status, true) !== 0) wrong++;
      if (b.u32(ARG + M.handle) !== handles[i]) wrong++;
    }
    expect(wrong).toBe(0);
    const churned = performance.now();
    unmapAll(hv, b); // teardown
    const torn = performance.now();
    expect(liveHandles(b)).toBe(0);
    for (let ref = 0; ref < refs; ref++) if (pins(a, ref) !== 0 || inUse(a, ref) !== 0) expect.fail(`ref ${ref} still pinned`);
    expect(setVersion(hv, a, 2).rc).toBe(0); // nothing in use any more
    // Generous bounds for a loaded machine: this takes about 0.4 s, 0.1 s and 0.02 s; the churn with
    // the scan for a free handle xenwasm had before took 15 s.
    expect(filled - t0, "fill").toBeLessThan(3000);
    expect(churned - filled, "churn").toBeLessThan(2000);
    expect(torn - churned, "teardown").toBeLessThan(1000);
  });
});
