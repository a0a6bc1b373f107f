// Helpers of the grant-table suites (gnttab, gnttab-v2, xsa-gnttab): a guest's side of the grant
// table written as a guest writes it (entries of either version, published with one atomic
// store), and the grant-table sub-ops called with their structs in guest memory at ARG.
import { expect } from "vitest";
import { Worker } from "node:worker_threads";
import { grantEntryAddr, grantStatusAddr, grantTableOp } from "../../bindings/hypervisor/gnttab.js";
import { memoryOp } from "../../bindings/hypervisor/memory.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { ARG, k, layout, put } from "./fixture.js";
import { allocUnbound, bind } from "./evtchn-fixture.js";

export const SELF = k("DOMID_SELF");
export const GTF = {
  permit: k("GTF_permit_access"), transitive: k("GTF_transitive"), readonly: k("GTF_readonly"),
  sub_page: k("GTF_sub_page"), reading: k("GTF_reading"), writing: k("GTF_writing"),
};
export const INUSE = GTF.reading | GTF.writing;
export const GNTMAP = { host: k("GNTMAP_host_map"), device: k("GNTMAP_device_map"), readonly: k("GNTMAP_readonly") };
export const GE1 = layout("struct grant_entry_v1");
export const GE2 = layout("union grant_entry_v2");
const C = layout("struct gnttab_copy");
const STATUS_BIT = BigInt(k("XENMAPIDX_grant_table_status"));

/** Calls grant_table_op(`op`, ARG, count) on `d` and returns the call's result. */
export function op(hv: Hypervisor, d: Domain, name: string, count = 1, arg = ARG): number {
  return grantTableOp(hv, d, k(`GNTTABOP_${name}`), arg, count);
}

/** XENMEM_add_to_physmap(XENMAPSPACE_grant_table) of `d`: grant frame `idx` (or status frame `idx`) at `gpfn`. */
export function physmap(hv: Hypervisor, d: Domain, idx: number | bigint, gpfn: number, status = false): number {
  const i = BigInt(idx) | (status ? STATUS_BIT : 0n);
  put(d, ARG, "struct xen_add_to_physmap", { domid: SELF, space: k("XENMAPSPACE_grant_table"), idx: i, gpfn }, { domid: 2, idx: 8, gpfn: 8 });
  return memoryOp(hv, d, k("XENMEM_add_to_physmap"), ARG);
}

/** GNTTABOP_set_version(`v`) by `d`: the call's result and the version written back. */
export function setVersion(hv: Hypervisor, d: Domain, v: number): { rc: number; version: number } {
  put(d, ARG, "struct gnttab_set_version", { version: v });
  const rc = op(hv, d, "set_version");
  return { rc, version: d.u32(ARG) };
}

/** GNTTABOP_get_version of `dom` asked by `d`: the call's result and the version. */
export function getVersion(hv: Hypervisor, d: Domain, dom = SELF): { rc: number; version: number } {
  const l = put(d, ARG, "struct gnttab_get_version", { dom }, { dom: 2 });
  const rc = op(hv, d, "get_version");
  return { rc, version: d.u32(ARG + l.version) };
}

/** Writes `d`'s v1 entry `ref` as a guest does: frame, then (flags, domid) in one atomic store. */
export function grantV1(d: Domain, ref: number, domid: number, frame: number, flags = GTF.permit): void {
  const e = grantEntryAddr(d, ref);
  d.w32(e + GE1.frame, frame);
  Atomics.store(d.i32, e >> 2, (domid << 16) | flags);
}

/**
 * Writes `d`'s v2 entry `ref` as a guest does (Linux's gnttab_update_entry_v2): the body, then
 * (flags, domid) in one atomic store. A sub-page grant gives `pageOff` and `length`.
 */
export function grantV2(d: Domain, ref: number, domid: number, frame: number, flags = GTF.permit, pageOff = 0, length = 0): void {
  const e = grantEntryAddr(d, ref);
  d.w16(e + GE2["sub_page.page_off"], pageOff);
  d.w16(e + GE2["sub_page.length"], length);
  d.w64(e + GE2["full_page.frame"], frame);
  Atomics.store(d.i32, e >> 2, (domid << 16) | flags);
}

/** Writes `d`'s v2 entry `ref`: a GTF_transitive grant to `domid` of (`transDomid`, `transRef`). */
export function grantTransitive(d: Domain, ref: number, domid: number, transDomid: number, transRef: number, flags = 0): void {
  const e = grantEntryAddr(d, ref);
  d.w64(e + GE2["full_page.frame"], 0);
  d.w16(e + GE2["transitive.trans_domid"], transDomid);
  d.w16(e + GE2["transitive.pad0"], 0);
  d.w32(e + GE2["transitive.gref"], transRef);
  Atomics.store(d.i32, e >> 2, (domid << 16) | GTF.transitive | flags);
}

/** GTF_reading/GTF_writing of `d`'s `ref` where the guest sees them (v1 flags, v2 status frame; 0 if not placed). */
export function inUse(d: Domain, ref: number): number {
  const s = grantStatusAddr(d, ref);
  return s < 0 ? 0 : d.u16(s) & INUSE;
}

/** The flags half of `d`'s entry `ref` (either version). */
export function entryFlags(d: Domain, ref: number): number {
  return d.u16(grantEntryAddr(d, ref));
}

/** The pin counts of `d`'s `ref` (readers | writers << 16). */
export function pins(d: Domain, ref: number): number {
  return Atomics.load(d.active, ref);
}

/** GNTTABOP_map_grant_ref of (`dom`, `ref`) by `d`: status, handle, dev_bus_addr. */
export function map(hv: Hypervisor, d: Domain, dom: number, ref: number, flags = GNTMAP.host) {
  const l = put(d, ARG, "struct gnttab_map_grant_ref", { flags, ref, dom, handle: 0xdead }, { dom: 2 });
  expect(op(hv, d, "map_grant_ref")).toBe(0);
  return { status: d.view.getInt16(ARG + l.status, true), handle: d.u32(ARG + l.handle), bus: d.u64(ARG + l.dev_bus_addr) };
}

/** GNTTABOP_unmap_grant_ref of `handle` by `d`: the status. */
export function unmap(hv: Hypervisor, d: Domain, handle: number): number {
  const l = put(d, ARG, "struct gnttab_unmap_grant_ref", { handle });
  expect(op(hv, d, "unmap_grant_ref")).toBe(0);
  return d.view.getInt16(ARG + l.status, true);
}

/** One side of a gnttab_copy: a grant (`ref` of `dom`) or a frame (`gmfn`, `dom` default DOMID_SELF). */
export type Side = { ref: number; dom: number; offset?: number } | { gmfn: number; dom?: number; offset?: number };

/** Runs GNTTABOP_copy entries (source, destination, len) by `d` in one call and returns their statuses. */
export function copy(hv: Hypervisor, d: Domain, entries: Array<[Side, Side, number]>): number[] {
  entries.forEach(([src, dst, len], i) => {
    const a = ARG + i * C.size;
    d.u8.fill(0, a, a + C.size);
    let flags = 0;
    for (const [side, at, gref] of [[src, C.source, k("GNTCOPY_source_gref")], [dst, C.dest, k("GNTCOPY_dest_gref")]] as const) {
      if ("ref" in side) { d.w32(a + at, side.ref); flags |= gref; } else d.w64(a + at, side.gmfn);
      d.w16(a + at + 8, side.dom ?? SELF);
      d.w16(a + at + 10, side.offset ?? 0);
    }
    d.w16(a + C.len, len);
    d.w16(a + C.flags, flags);
  });
  expect(op(hv, d, "copy", entries.length)).toBe(0);
  return entries.map((_e, i) => d.view.getInt16(ARG + i * C.size + C.status, true));
}

/**
 * The granter's revoke, as Linux's gnttab_end_foreign_access_ref does it: v1 swaps the flags to 0
 * unless GTF_reading/GTF_writing are set; v2 clears the flags, then reads the status and puts
 * the flags back if the grant is in use. Returns whether the grant was revoked.
 */
export function revoke(d: Domain, ref: number): boolean {
  const e = grantEntryAddr(d, ref) >> 2;
  const w = Atomics.load(d.i32, e);
  if (grantStatusAddr(d, ref) === grantEntryAddr(d, ref)) {
    if (w & INUSE) return false;
    return Atomics.compareExchange(d.i32, e, w, 0) === w;
  }
  if (inUse(d, ref)) return false;
  Atomics.store(d.i32, e, 0);
  if (!inUse(d, ref)) return true;
  Atomics.compareExchange(d.i32, e, 0, w);
  return false;
}

/**
 * The grant race of race.test.ts and gnttab-v2.test.ts: gives each of `mappers` a channel to `a`,
 * then runs race-worker.mjs as each of them on its own thread at once, `rounds` times mapping
 * ref 6 + its domid of `a` (which the caller granted it), incrementing its word of the page
 * through the mapping, unmapping and sending an event; expects every round of every thread clean.
 */
export async function raceMappers(hv: Hypervisor, a: Domain, mappers: Domain[], rounds: number): Promise<void> {
  const ports = mappers.map((m) => bind(hv, m, a.domid, allocUnbound(hv, a, m.domid)));
  const descriptors = hv.domains().map((d) => d.desc);
  const results = await Promise.all(mappers.map((m, i) => new Promise<{ errors: number; sends: number }>((resolve, reject) => {
    const w = new Worker(new URL("./race-worker.mjs", import.meta.url), { workerData: { domid: m.domid, descriptors, granter: a.domid, ref: 6 + m.domid, port: ports[i], rounds } });
    w.on("message", resolve);
    w.on("error", reject);
  })));
  for (const r of results) expect(r).toEqual({ errors: 0, sends: rounds });
}
