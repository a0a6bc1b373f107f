// HYPERVISOR_grant_table_op, versions 1 and 2, and the mapped-grant access imports (docs/ABI.md
// §3, §4), after Xen 4.17's xen/common/grant_table.c: one function per sub-op, named after it.
//
// Where the state lives. Grant entries are in the granter's own frames (Ctl.GrantFrames: 512
// v1 entries or 256 v2 entries per frame); in v2 the GTF_reading/GTF_writing bits live apart, in
// the status frames (Ctl.StatusFrames, one u16 per entry, 2048 per frame). Both are frames the
// guest chose with XENMEM_add_to_physmap; a frame the guest moves elsewhere, or a status frame
// after a switch back to v1, is ordinary guest memory again and the harness never writes it
// (XSA-255, XSA-379). The pin counts (Xen's active entries: readers in the low 16 bits, writers
// in the high 16) are in `Domain.active`, map handles in `Domain.maps`; both are shared buffers.
// The status bits are a function of the pins, which the harness keeps them equal to ("settle").
//
// Concurrency. Each domain's grant state changes under its lock (Ctl.Lock); a pin takes the
// granter's lock, a map or unmap both domains' (in domid order). The status word (v1: the entry's flags,
// v2: the status frame's u16) is shared with the guest, which may change its entries at any time
// from its own thread: the harness sets and clears status bits with atomic read-modify-writes on
// the enclosing 32-bit word, and pins a v1 entry with compare-and-swap on its (flags, domid) word,
// as Xen does (_set_status_v1/_v2).
import { k, layout } from "../abi/layout.js";
import {
  Ctl, Domain, GRANTS_PER_FRAME, MAP_DEVICE, MAP_HOST, MAP_LIVE, MAP_WORDS, MAP_WRITABLE, MAPTRACK_SIZE,
  MAX_GRANT_FRAMES, MAX_STATUS_FRAMES, PAGE_SIZE, lock, lockPair, unlock, unlockPair,
} from "./domain.js";
import { guarded, type Hypervisor } from "./hypervisor.js";
import { copyMemory } from "./copy.js";
import { injectFault } from "./faults.js";

const GNTST = {
  okay: k("GNTST_okay"), general_error: k("GNTST_general_error"), bad_domain: k("GNTST_bad_domain"),
  bad_gntref: k("GNTST_bad_gntref"), bad_handle: k("GNTST_bad_handle"), permission_denied: k("GNTST_permission_denied"),
  bad_page: k("GNTST_bad_page"), bad_copy_arg: k("GNTST_bad_copy_arg"), no_space: k("GNTST_no_space"),
  bad_virt_addr: k("GNTST_bad_virt_addr"), eagain: k("GNTST_eagain"),
};
const E = {
  PERM: -k("XEN_EPERM"), INVAL: -k("XEN_EINVAL"), FAULT: -k("XEN_EFAULT"), NOSYS: -k("XEN_ENOSYS"),
  BUSY: -k("XEN_EBUSY"), RANGE: -k("XEN_ERANGE"),
};
const GTF_permit_access = k("GTF_permit_access"), GTF_transitive = k("GTF_transitive"), GTF_type_mask = k("GTF_type_mask");
const GTF_readonly = k("GTF_readonly"), GTF_sub_page = k("GTF_sub_page");
const GTF_reading = k("GTF_reading"), GTF_writing = k("GTF_writing");
const GNTMAP_host_map = k("GNTMAP_host_map"), GNTMAP_device_map = k("GNTMAP_device_map"), GNTMAP_readonly = k("GNTMAP_readonly");
const GNTCOPY_source_gref = k("GNTCOPY_source_gref"), GNTCOPY_dest_gref = k("GNTCOPY_dest_gref");
const DOMID_SELF = k("DOMID_SELF");
const NR_RESERVED = k("GNTTAB_NR_RESERVED_ENTRIES");
const XENMAPIDX_grant_table_status = k("XENMAPIDX_grant_table_status");
const OP = {
  map: k("GNTTABOP_map_grant_ref"), unmap: k("GNTTABOP_unmap_grant_ref"), setup: k("GNTTABOP_setup_table"),
  copy: k("GNTTABOP_copy"), query: k("GNTTABOP_query_size"), setVersion: k("GNTTABOP_set_version"),
  statusFrames: k("GNTTABOP_get_status_frames"), getVersion: k("GNTTABOP_get_version"),
  swap: k("GNTTABOP_swap_grant_ref"), cacheFlush: k("GNTTABOP_cache_flush"),
};
/** Xen's GNTTABOP_CMD_MASK: the bits above it carry a continuation's state (cache_flush only). */
const GNTTABOP_CMD_MASK = 0xfff;
const GE1 = layout("struct grant_entry_v1");
const GE2 = layout("union grant_entry_v2");
const MAP = layout("struct gnttab_map_grant_ref");
const UNMAP = layout("struct gnttab_unmap_grant_ref");
const SETUP = layout("struct gnttab_setup_table");
const QUERY = layout("struct gnttab_query_size");
const COPY = layout("struct gnttab_copy");
const PTR = layout("struct gnttab_copy_ptr");
const SETV = layout("struct gnttab_set_version");
const GETV = layout("struct gnttab_get_version");
const GSF = layout("struct gnttab_get_status_frames");
const SWAP = layout("struct gnttab_swap_grant_ref");
/** v2 entries per grant frame (256). */
const V2_GRANTS_PER_FRAME = PAGE_SIZE / GE2.size;
/** v2 status words (grant_status_t, u16) per status frame (2048). */
const STATUS_PER_FRAME = PAGE_SIZE / 2;
/** Bus addresses handed out for GNTMAP_device_map: handle h ↔ DEV_BUS_BASE + h * PAGE_SIZE. */
export const DEV_BUS_BASE = 0x1_0000_0000;
/** What `acquire` returns for a v2 GTF_transitive entry whose status it set: the caller follows it. */
const TRANSITIVE = 1;
const INVALID_GFN = 0xffff_ffff_ffff_ffffn;

// ---- Where entries and status words are ----

/**
 * The grant-table version in force for `g` (1 or 2, GNTTABOP_set_version). The version and the
 * frame tables below are configuration words, read with plain loads on every grant operation's
 * path (an Atomics call into V8's runtime costs 15 ns; the Ctl comment in domain.ts).
 */
export function grantVersion(g: Domain): number {
  return g.ctl[Ctl.GrantVersion];
}

/**
 * Guest address of grant entry `ref` of `g` in the layout of the version in force (8-byte
 * grant_entry_v1 or 16-byte grant_entry_v2), or -1 when the frame holding it is not mapped.
 */
export function grantEntryAddr(g: Domain, ref: number): number {
  return entryAt(g, ref, grantVersion(g) === 2);
}

/**
 * Guest address of the 16-bit word holding GTF_reading/GTF_writing for `ref` of `g`: v1 the
 * entry's `flags`, v2 its grant_status_t in status frame ref / 2048. -1 when that frame is not
 * mapped (the status is then only in the pin counts, and written when the frame is placed).
 */
export function grantStatusAddr(g: Domain, ref: number): number {
  return statusAt(g, ref, grantVersion(g) === 2);
}

/** grantEntryAddr for the layout `v2` says (the caller read the version once). */
function entryAt(g: Domain, ref: number, v2: boolean): number {
  const per = v2 ? V2_GRANTS_PER_FRAME : GRANTS_PER_FRAME;
  const frame = Math.floor(ref / per);
  if (!(ref >= 0 && frame < MAX_GRANT_FRAMES)) return -1;
  const gfn = g.ctl[Ctl.GrantFrames + frame];
  return gfn < 0 ? -1 : gfn * PAGE_SIZE + (ref % per) * (v2 ? GE2.size : GE1.size);
}

/** grantStatusAddr for the layout `v2` says. */
function statusAt(g: Domain, ref: number, v2: boolean): number {
  if (!v2) {
    const e = entryAt(g, ref, false);
    return e < 0 ? -1 : e + GE1.flags;
  }
  const i = Math.floor(ref / STATUS_PER_FRAME);
  if (!(ref >= 0 && i < MAX_STATUS_FRAMES)) return -1;
  const gfn = g.ctl[Ctl.StatusFrames + i];
  return gfn < 0 ? -1 : gfn * PAGE_SIZE + (ref % STATUS_PER_FRAME) * 2;
}

/** Sets `bits` in the 16-bit word at `s` of `g` (one atomic OR on its enclosing 32-bit word). */
function statusSet(g: Domain, s: number, bits: number): void {
  Atomics.or(g.i32, s >> 2, bits << ((s & 2) << 3));
}

/** Clears `bits` in the 16-bit word at `s` of `g` (one atomic AND on its enclosing 32-bit word). */
function statusClear(g: Domain, s: number, bits: number): void {
  Atomics.and(g.i32, s >> 2, ~(bits << ((s & 2) << 3)));
}

/** Stores `value` into the 16-bit word at `s` of `g` (compare-and-swap on its enclosing word). */
function statusStore(g: Domain, s: number, value: number): void {
  const idx = s >> 2, shift = (s & 2) << 3, mask = 0xffff << shift;
  for (;;) {
    const w = Atomics.load(g.i32, idx);
    if (Atomics.compareExchange(g.i32, idx, w, (w & ~mask) | (value << shift)) === w) return;
  }
}

/** GTF_reading/GTF_writing as the pins of `ref` of `g` make them. */
function pinnedStatus(g: Domain, ref: number): number {
  const pins = Atomics.load(g.active, ref);
  return (pins & 0xffff ? GTF_reading : 0) | (pins >>> 16 ? GTF_reading | GTF_writing : 0);
}

/** Clears the GTF_reading / GTF_writing of `ref` that no pin backs any more (caller holds g's lock). */
function settle(g: Domain, ref: number): void {
  const s = statusAt(g, ref, grantVersion(g) === 2);
  if (s < 0) return;
  const clear = (GTF_reading | GTF_writing) & ~pinnedStatus(g, ref);
  if (clear) statusClear(g, s, clear);
}

/** Grant frames mapped so far (one past the highest mapped frame index). */
export function mappedFrames(d: Domain): number {
  let n = 0;
  for (let i = 0; i < MAX_GRANT_FRAMES; i++) if (Atomics.load(d.ctl, Ctl.GrantFrames + i) >= 0) n = i + 1;
  return n;
}

/** Xen's nr_grant_entries: the refs the mapped frames hold under the version in force. */
function nrGrantEntries(d: Domain): number {
  return mappedFrames(d) * (grantVersion(d) === 2 ? V2_GRANTS_PER_FRAME : GRANTS_PER_FRAME);
}

/**
 * Xen's nr_status_frames: 0 under v1; under v2 the status frames the mapped grant frames need
 * (one per 8 grant frames), or one past the highest status frame placed if that is more.
 */
function nrStatusFrames(d: Domain): number {
  if (grantVersion(d) !== 2) return 0;
  let n = Math.ceil(mappedFrames(d) * V2_GRANTS_PER_FRAME / STATUS_PER_FRAME);
  for (let i = n; i < MAX_STATUS_FRAMES; i++) if (Atomics.load(d.ctl, Ctl.StatusFrames + i) >= 0) n = i + 1;
  return n;
}

// ---- Placing frames (XENMEM_add_to_physmap, XENMAPSPACE_grant_table) ----

/**
 * XENMEM_add_to_physmap with XENMAPSPACE_grant_table: makes `gpfn` (already checked to be a
 * frame of `d` other than 0-3) grant frame `idx`, or, under v2 with XENMAPIDX_grant_table_status
 * in `idx`, status frame `idx & ~XENMAPIDX_grant_table_status`. A frame lives at one GFN only:
 * placing it again moves it and the old GFN is the guest's own memory again (XSA-379). Returns 0
 * or -XEN_EINVAL.
 */
export function addGrantFrame(hv: Hypervisor, d: Domain, idx: number, gpfn: number): number {
  lock(d.ctl, Ctl.Lock);
  try {
    const status = grantVersion(d) === 2 && Math.floor(idx / XENMAPIDX_grant_table_status) % 2 === 1;
    if (status) {
      const i = idx - XENMAPIDX_grant_table_status;
      if (i >= MAX_STATUS_FRAMES) return E.INVAL;
      placeStatusFrame(d, i, gpfn);
      hv.hooks.trace?.(`physmap ${d.domid} grant status frame ${i} @${gpfn}`);
      return 0;
    }
    if (idx >= MAX_GRANT_FRAMES) return E.INVAL; // also a status idx under v1, as Xen's shared-frame path says
    const old = Atomics.load(d.ctl, Ctl.GrantFrames + idx);
    // Xen's frame moves: its entries come along (the old frame keeps a stale copy).
    if (old >= 0 && old !== gpfn) d.u8.copyWithin(gpfn * PAGE_SIZE, old * PAGE_SIZE, old * PAGE_SIZE + PAGE_SIZE);
    else if (old < 0) d.u8.fill(0, gpfn * PAGE_SIZE, gpfn * PAGE_SIZE + PAGE_SIZE);
    Atomics.store(d.ctl, Ctl.GrantFrames + idx, gpfn);
    hv.hooks.trace?.(`physmap ${d.domid} grant frame ${idx} @${gpfn}`);
    return 0;
  } finally {
    unlock(d.ctl, Ctl.Lock);
  }
}

/** Makes `gpfn` v2 status frame `i` of `d` and writes Xen's status (from the pins) into it (caller holds d's lock). */
function placeStatusFrame(d: Domain, i: number, gpfn: number): void {
  Atomics.store(d.ctl, Ctl.StatusFrames + i, gpfn);
  d.u8.fill(0, gpfn * PAGE_SIZE, gpfn * PAGE_SIZE + PAGE_SIZE);
  for (let ref = i * STATUS_PER_FRAME; ref < (i + 1) * STATUS_PER_FRAME; ref++) {
    const st = pinnedStatus(d, ref);
    if (st) statusSet(d, gpfn * PAGE_SIZE + (ref % STATUS_PER_FRAME) * 2, st);
  }
}

// ---- Pinning (Xen's _set_status and acquire_grant_for_copy) ----

/** The frame and the byte range [acqStart, acqStart + acqLen) of the last grant `acquire` pinned on this thread. */
let acqFrame = 0, acqStart = 0, acqLen = PAGE_SIZE;
/** The (domain, ref) the last GTF_transitive entry `acquire` met points at. */
let acqTransDomid = 0, acqTransRef = 0;

/** Pin-count increment of one reader (and writer). */
function pinInc(writable: boolean): number {
  return writable ? 0x10001 : 1;
}

/**
 * Xen's _set_status_v1: checks the v1 entry at `e` (permit_access, not sub-page when `forMap`,
 * granted to `ldomid`, not read-only when `writable`) and sets GTF_reading (GTF_writing) in it
 * with compare-and-swap, giving up after 5 tries on an entry the guest keeps changing. Returns
 * the entry's flags or GNTST_general_error.
 */
function setStatusV1(g: Domain, e: number, ldomid: number, writable: boolean, forMap: boolean): number {
  const idx = (e + GE1.flags) >> 2; // flags (u16) and domid (u16) share one 32-bit word
  const mask = GTF_type_mask | (forMap ? GTF_sub_page : 0);
  for (let tries = 0; ; tries++) {
    const word = Atomics.load(g.i32, idx);
    const flags = word & 0xffff;
    if ((flags & mask) !== GTF_permit_access || word >>> 16 !== ldomid) return GNTST.general_error;
    if (writable && (flags & GTF_readonly)) return GNTST.general_error;
    const want = word | GTF_reading | (writable ? GTF_writing : 0);
    if (want === word || Atomics.compareExchange(g.i32, idx, word, want) === word) return flags;
    if (tries === 4) return GNTST.general_error; // "Shared grant entry is unstable"
  }
}

/** Whether v2 header word `word` lets `ldomid` pin the grant (a map takes only full-page permit_access). */
function v2Usable(word: number, ldomid: number, writable: boolean, forMap: boolean): boolean {
  const flags = word & 0xffff;
  const type = flags & (GTF_type_mask | (forMap ? GTF_sub_page : 0));
  return (type === GTF_permit_access || (!forMap && type === GTF_transitive)) && word >>> 16 === ldomid &&
    !(writable && (flags & GTF_readonly));
}

/**
 * Xen's _set_status_v2: checks the v2 entry at `e`, sets GTF_reading (GTF_writing) in the status
 * word, then checks the entry again (the guest revokes by clearing the flags first and reading
 * the status after: one of the two sides sees the other). Returns the flags or GNTST_general_error.
 */
function setStatusV2(g: Domain, ref: number, e: number, ldomid: number, writable: boolean, forMap: boolean): number {
  const hdr = (e + GE2["hdr.flags"]) >> 2;
  if (!v2Usable(Atomics.load(g.i32, hdr), ldomid, writable, forMap)) return GNTST.general_error;
  const s = statusAt(g, ref, true);
  if (s >= 0) statusSet(g, s, GTF_reading | (writable ? GTF_writing : 0));
  const word = Atomics.load(g.i32, hdr);
  if (!v2Usable(word, ldomid, writable, forMap)) {
    settle(g, ref);
    return GNTST.general_error;
  }
  return word & 0xffff;
}

/**
 * Pins grant `ref` of `g` for domain `ldomid`, as Xen's map_grant_ref (`forMap`: full-page
 * permit_access only) or acquire_grant_for_copy (sub-page and transitive grants too) do: checks
 * the entry, sets its status bits and counts the pin; the granted frame and range are left in
 * acqFrame/acqStart/acqLen. Returns GNTST_okay, a negative GNTST_* code (nothing held), or
 * TRANSITIVE for a v2 GTF_transitive entry (status set, no pin counted; its target is in
 * acqTransDomid/acqTransRef: the caller follows it, see transitiveSide). A transitive entry met
 * when `allowTransitive` is false (one level only, as Xen) or pointing at `g` itself is refused.
 * Allocates nothing. Caller holds g's lock.
 */
function acquire(g: Domain, ref: number, ldomid: number, writable: boolean, forMap: boolean, allowTransitive: boolean): number {
  const v2 = grantVersion(g) === 2;
  const e = entryAt(g, ref, v2);
  if (e < 0) return GNTST.bad_gntref;
  const flags = v2 ? setStatusV2(g, ref, e, ldomid, writable, forMap) : setStatusV1(g, e, ldomid, writable, forMap);
  if (flags < 0) return flags;
  if (v2 && (flags & GTF_type_mask) === GTF_transitive) {
    acqTransDomid = g.view.getUint16(e + GE2["transitive.trans_domid"], true);
    acqTransRef = g.view.getUint32(e + GE2["transitive.gref"], true);
    if (allowTransitive && acqTransDomid !== g.domid) return TRANSITIVE;
    settle(g, ref); // "transitive grant when transitivity not allowed" / "cannot be self-referential"
    return GNTST.general_error;
  }
  let frame: number;
  acqStart = 0;
  acqLen = PAGE_SIZE;
  if (v2) {
    const hi = g.view.getUint32(e + GE2["full_page.frame"] + 4, true);
    frame = hi ? Number.MAX_SAFE_INTEGER : g.view.getUint32(e + GE2["full_page.frame"], true);
    if (flags & GTF_sub_page) { // only copies get here: a map refused it above
      acqStart = g.view.getUint16(e + GE2["sub_page.page_off"], true);
      acqLen = g.view.getUint16(e + GE2["sub_page.length"], true);
    }
  } else {
    frame = g.view.getUint32(e + GE1.frame, true);
  }
  if (frame >= g.nrPages) {
    settle(g, ref);
    return GNTST.bad_page;
  }
  Atomics.add(g.active, ref, pinInc(writable));
  acqFrame = frame;
  return GNTST.okay;
}

/** Drops one pin of `ref` and clears GTF_writing / GTF_reading when their last pin goes (caller holds g's lock). */
function unpin(g: Domain, ref: number, writable: boolean): void {
  Atomics.sub(g.active, ref, pinInc(writable));
  settle(g, ref);
}

/** Takes g's lock, drops one pin of `ref`, releases the lock. */
function unpinLocked(g: Domain, ref: number, writable: boolean): void {
  lock(g.ctl, Ctl.Lock);
  try { unpin(g, ref, writable); } finally { unlock(g.ctl, Ctl.Lock); }
}

// ---- Map handles (Xen's maptrack) ----
//
// Free handles form a FIFO list linked through word 1 of each free entry (next + 1; 0 ends it), as
// Xen's maptrack free list: taking and returning a handle is O(1) whatever the table holds
// (XSA-380), and a freed handle is reused last. Ctl.MapHint holds the list: head + 1 in bits
// 0-14, tail + 1 in bits 15-29, bit 30 once the list is built (at the domain's first map). Only
// the mapping domain's operations change it, under its lock.

const MT_BUILT = 1 << 30, MT_MASK = 0x7fff, MT_TAIL_SHIFT = 15;

/** Ctl.MapHint of `d`, building the free list (every handle, in order) on first use. */
function maptrackState(d: Domain): number {
  const w = d.ctl[Ctl.MapHint];
  if (w & MT_BUILT) return w;
  for (let h = 0; h < MAPTRACK_SIZE; h++) d.maps[h * MAP_WORDS + 1] = h + 1 < MAPTRACK_SIZE ? h + 2 : 0;
  return MT_BUILT | (MAPTRACK_SIZE << MT_TAIL_SHIFT) | 1;
}

/** Takes the free handle at the head of `d`'s list; -1 when every handle is live. */
function takeHandle(d: Domain): number {
  const w = maptrackState(d);
  const head = (w & MT_MASK) - 1;
  if (head < 0) { d.ctl[Ctl.MapHint] = w; return -1; }
  const next = d.maps[head * MAP_WORDS + 1];
  d.ctl[Ctl.MapHint] = next ? (w & ~MT_MASK) | next : MT_BUILT; // the list is empty after the last one
  return head;
}

/** Appends freed handle `h` to the tail of `d`'s list. */
function putHandle(d: Domain, h: number): void {
  const w = maptrackState(d);
  const tail = ((w >>> MT_TAIL_SHIFT) & MT_MASK) - 1;
  d.maps[h * MAP_WORDS + 1] = 0;
  if (tail >= 0) d.maps[tail * MAP_WORDS + 1] = h + 1;
  const head = tail >= 0 ? w & MT_MASK : h + 1;
  d.ctl[Ctl.MapHint] = MT_BUILT | ((h + 1) << MT_TAIL_SHIFT) | head;
}

// ---- GNTTABOP_map_grant_ref, GNTTABOP_unmap_grant_ref ----

/** Writes GNTST_* code `st` into the map entry at `a`. */
function mapStatus(d: Domain, a: number, st: number): void {
  d.w16(a + MAP.status, st & 0xffff);
}

/** GNTTABOP_map_grant_ref for one entry at `a`. */
function mapGrantRef(hv: Hypervisor, d: Domain, a: number): void {
  Atomics.add(d.ctl, Ctl.GrantOps, 1);
  const flags = d.u32(a + MAP.flags), ref = d.u32(a + MAP.ref), domid = d.u16(a + MAP.dom);
  if (!(flags & (GNTMAP_host_map | GNTMAP_device_map))) return mapStatus(d, a, GNTST.bad_gntref);
  const g = hv.lookup(d, domid);
  if (typeof g === "number" || g.isHost) return mapStatus(d, a, GNTST.bad_domain);
  const writable = !(flags & GNTMAP_readonly);
  const fault = injectFault(d);
  if (fault) return mapStatus(d, a, fault & 2 ? GNTST.no_space : GNTST.general_error);
  lockPair(g, d);
  try {
    const handle = takeHandle(d);
    if (handle < 0) return mapStatus(d, a, GNTST.no_space);
    const rc = acquire(g, ref, d.domid, writable, true, false);
    if (rc !== GNTST.okay) {
      putHandle(d, handle);
      return mapStatus(d, a, rc); // always negative: a failed map never reports success (XSA-316)
    }
    const mflags = MAP_LIVE | (writable ? MAP_WRITABLE : 0) | (flags & GNTMAP_host_map ? MAP_HOST : 0) | (flags & GNTMAP_device_map ? MAP_DEVICE : 0);
    d.maps[handle * MAP_WORDS + 1] = g.domid;
    d.maps[handle * MAP_WORDS + 2] = ref;
    d.maps[handle * MAP_WORDS + 3] = acqFrame;
    Atomics.store(d.maps, handle * MAP_WORDS, mflags);
    Atomics.add(d.ctl, Ctl.LiveMaps, 1);
    d.w32(a + MAP.handle, handle);
    d.w64(a + MAP.dev_bus_addr, flags & GNTMAP_device_map ? DEV_BUS_BASE + handle * PAGE_SIZE : 0);
    hv.hooks.trace?.(`map ${d.domid} <- ${g.domid}:${ref} h${handle}${writable ? " rw" : " ro"}`);
    mapStatus(d, a, GNTST.okay);
  } finally {
    unlockPair(g, d);
  }
}

/**
 * Removes mapping `handle` of `d` whole (its host and device use together) and drops its one pin;
 * returns a GNTST_* code.
 */
export function unmapHandle(hv: Hypervisor, d: Domain, handle: number): number {
  if (!(handle >= 0 && handle < MAPTRACK_SIZE) || !(Atomics.load(d.maps, handle * MAP_WORDS) & MAP_LIVE)) return GNTST.bad_handle;
  const granter = hv.domain(d.maps[handle * MAP_WORDS + 1]); // undefined: gone, only d's state changes
  const g = granter ?? d;
  lockPair(g, d);
  try {
    const mflags = Atomics.load(d.maps, handle * MAP_WORDS);
    if (!(mflags & MAP_LIVE)) return GNTST.bad_handle;
    Atomics.store(d.maps, handle * MAP_WORDS, 0);
    Atomics.sub(d.ctl, Ctl.LiveMaps, 1);
    if (granter) unpin(granter, d.maps[handle * MAP_WORDS + 2], (mflags & MAP_WRITABLE) !== 0);
    putHandle(d, handle);
    hv.hooks.trace?.(`unmap ${d.domid} h${handle}`);
    return GNTST.okay;
  } finally {
    unlockPair(g, d);
  }
}

/**
 * GNTTABOP_unmap_grant_ref for one entry at `a`: only `handle` is used (docs/ABI.md: nothing is
 * mapped at `host_addr`, and a mapping goes whole, so `dev_bus_addr` names nothing more).
 */
function unmapGrantRef(hv: Hypervisor, d: Domain, a: number): void {
  Atomics.add(d.ctl, Ctl.GrantOps, 1);
  d.w16(a + UNMAP.status, unmapHandle(hv, d, d.u32(a + UNMAP.handle)) & 0xffff);
}

/** Unmaps every grant `d` holds (domain teardown), releasing the granters' pins. */
export function unmapAll(hv: Hypervisor, d: Domain): void {
  for (let h = 0; h < MAPTRACK_SIZE; h++) if (d.maps[h * MAP_WORDS] & MAP_LIVE) unmapHandle(hv, d, h);
}

// ---- GNTTABOP_setup_table, GNTTABOP_query_size, GNTTABOP_get_status_frames ----

/**
 * Resolves the `dom` of a table query (DOMID_SELF or a domid) for `d`: the domain, or the GNTST
 * code Xen gives (bad_domain; permission_denied for another domain unless `d` is privileged).
 */
function tableOf(hv: Hypervisor, d: Domain, dom: number): Domain | number {
  const t = hv.lookup(d, dom);
  if (typeof t === "number" || t.isHost) return GNTST.bad_domain;
  return t !== d && !d.privileged ? GNTST.permission_denied : t;
}

/** GNTTABOP_setup_table: frames are placed by add_to_physmap; reports each one's GFN (~0: not placed). */
function setupTable(hv: Hypervisor, d: Domain, a: number): number {
  d.check(a, SETUP.size);
  const n = d.u32(a + SETUP.nr_frames);
  const list = d.u64n(a + SETUP.frame_list);
  d.check(list, n * 8); // Xen's guest_handle_okay: -EFAULT before anything else
  const status = (s: number) => { d.w16(a + SETUP.status, s & 0xffff); return 0; };
  const t = tableOf(hv, d, d.u16(a + SETUP.dom));
  if (typeof t === "number") return status(t);
  if (n > MAX_GRANT_FRAMES) return status(GNTST.general_error);
  for (let i = 0; i < n; i++) {
    const gfn = Atomics.load(t.ctl, Ctl.GrantFrames + i);
    d.w64(list + i * 8, gfn < 0 ? INVALID_GFN : BigInt(gfn));
  }
  return status(GNTST.okay);
}

/** GNTTABOP_query_size: frames placed so far, and the most there may be. */
function querySize(hv: Hypervisor, d: Domain, a: number): number {
  d.check(a, QUERY.size);
  const t = tableOf(hv, d, d.u16(a + QUERY.dom));
  if (typeof t === "number") { d.w16(a + QUERY.status, t & 0xffff); return 0; }
  d.w32(a + QUERY.nr_frames, mappedFrames(t));
  d.w32(a + QUERY.max_nr_frames, MAX_GRANT_FRAMES);
  d.w16(a + QUERY.status, GNTST.okay);
  return 0;
}

/**
 * GNTTABOP_get_status_frames: the GFN of each of the first `nr_frames` v2 status frames (~0: not
 * placed). More than the table has (any under v1) → GNTST_general_error; a list entry outside the
 * caller's memory → GNTST_bad_virt_addr, as Xen's copy_to_guest failing.
 */
function getStatusFrames(hv: Hypervisor, d: Domain, a: number): number {
  d.check(a, GSF.size);
  const status = (s: number) => { d.w16(a + GSF.status, s & 0xffff); return 0; };
  const t = tableOf(hv, d, d.u16(a + GSF.dom));
  if (typeof t === "number") return status(t);
  const n = d.u32(a + GSF.nr_frames);
  if (n > nrStatusFrames(t)) return status(GNTST.general_error);
  const list = d.u64n(a + GSF.frame_list);
  let st = GNTST.okay;
  for (let i = 0; i < n; i++) {
    const at = list + i * 8;
    if (!(at + 8 <= d.bytes)) { st = GNTST.bad_virt_addr; continue; }
    const gfn = Atomics.load(t.ctl, Ctl.StatusFrames + i);
    d.w64(at, gfn < 0 ? INVALID_GFN : BigInt(gfn));
  }
  return status(st);
}

// ---- GNTTABOP_copy ----

/**
 * The two sides (0 source, 1 destination) of the GNTTABOP_copy entry being run on this thread,
 * kept in module scratch so that a copy allocates nothing (a switch batch runs thousands): the
 * domain whose memory holds the bytes and the page's address there, the byte range the grant
 * allows, the granter and ref pinned for it (ref -1: a frame side), and for a transitive grant the
 * domain and ref it led to, pinned too (ref -1: none). Stale domains stay in the arrays: only a
 * ref >= 0 makes one count (plain numbers to reset, no object stores).
 */
const sideDom: Array<Domain | null> = [null, null];
const sideAddr = new Float64Array(2);
const sideStart = new Int32Array(2), sideLen = new Int32Array(2);
const sideGrant: Array<Domain | null> = [null, null];
const sideRef = new Int32Array([-1, -1]);
const sideTrans: Array<Domain | null> = [null, null];
const sideTransRef = new Int32Array([-1, -1]);

/**
 * Resolves the domain of side `i` (its gnttab_copy_ptr at `a`) into sideDom: GNTST_bad_domain
 * for an unknown one; a frame side must be the caller's own unless the caller is privileged
 * (GNTST_permission_denied). Returns 0 or a negative GNTST_* code.
 */
function copyDomain(hv: Hypervisor, d: Domain, a: number, isGref: boolean, i: number): number {
  const t = hv.lookup(d, d.view.getUint16(a + PTR.domid, true)); // the batch was checked whole
  if (typeof t === "number" || t.isHost) return GNTST.bad_domain;
  if (!isGref && t !== d && !d.privileged) return GNTST.permission_denied;
  if (sideDom[i] !== t) sideDom[i] = t;
  return 0;
}

/** Claims a frame side `i` (u.gmfn at `a` of sideDom[i]): the whole page. Returns 0 or GNTST_bad_page. */
function frameSide(d: Domain, a: number, i: number): number {
  const gfn = d.u64n(a);
  if (gfn >= sideDom[i]!.nrPages) return GNTST.bad_page;
  sideAddr[i] = gfn * PAGE_SIZE;
  sideStart[i] = 0;
  sideLen[i] = PAGE_SIZE;
  return 0;
}

/**
 * Claims a grant side `i`: pins ref `ref` of sideDom[i] for `d` (the destination writable) as
 * Xen's acquire_grant_for_copy, following one GTF_transitive level. Returns 0 or a GNTST_* code.
 */
function grantSide(hv: Hypervisor, d: Domain, ref: number, i: number): number {
  const g = sideDom[i]!, writable = i === 1;
  lock(g.ctl, Ctl.Lock);
  let rc: number;
  try { rc = acquire(g, ref, d.domid, writable, false, true); } finally { unlock(g.ctl, Ctl.Lock); }
  let holder = g;
  if (rc === TRANSITIVE) {
    rc = transitiveSide(hv, g, ref, writable);
    if (rc === GNTST.okay) {
      holder = hv.domain(acqTransDomid)!;
      if (sideTrans[i] !== holder) sideTrans[i] = holder;
      sideTransRef[i] = acqTransRef;
    }
  }
  if (rc !== GNTST.okay) return rc;
  if (sideGrant[i] !== g) sideGrant[i] = g; // a store of an object costs a write barrier
  sideRef[i] = ref;
  if (sideDom[i] !== holder) sideDom[i] = holder;
  sideAddr[i] = acqFrame * PAGE_SIZE;
  sideStart[i] = acqStart;
  sideLen[i] = acqLen;
  return 0;
}

/**
 * Follows the GTF_transitive entry `ref` of `rd` (status already set by acquire) to grant
 * acqTransRef of domain acqTransDomid, which must permit `rd` itself; on success both are pinned
 * and acqFrame/acqStart/acqLen describe the final grant's page and range. Locks are taken one at
 * a time, as Xen drops rd's before acquiring in the other domain. Returns a GNTST_* code.
 */
function transitiveSide(hv: Hypervisor, rd: Domain, ref: number, writable: boolean): number {
  const transDomid = acqTransDomid, transRef = acqTransRef; // acquire in td may overwrite them
  const td = hv.domain(transDomid);
  let rc = GNTST.general_error; // "transitive grant referenced bad domain"
  if (td && !td.isHost) {
    lock(td.ctl, Ctl.Lock);
    try { rc = acquire(td, transRef, rd.domid, writable, false, false); } finally { unlock(td.ctl, Ctl.Lock); }
  }
  lock(rd.ctl, Ctl.Lock);
  let changed = false;
  try {
    changed = rc === GNTST.okay && grantVersion(rd) !== 2; // the table changed while unlocked
    if (rc !== GNTST.okay || changed) settle(rd, ref);
    else {
      Atomics.add(rd.active, ref, pinInc(writable));
      const s = grantStatusAddr(rd, ref); // a racing settle may have cleared it while no pin was counted
      if (s >= 0) statusSet(rd, s, GTF_reading | (writable ? GTF_writing : 0));
    }
  } finally {
    unlock(rd.ctl, Ctl.Lock);
  }
  if (changed) { unpinLocked(td!, transRef, writable); rc = GNTST.general_error; }
  acqTransDomid = transDomid;
  acqTransRef = transRef;
  return rc;
}

/** Releases what side `i` of the current copy pinned (the granter's ref, then a transitive target's). */
function releaseSide(i: number): void {
  if (sideRef[i] >= 0) unpinLocked(sideGrant[i]!, sideRef[i], i === 1);
  if (sideTransRef[i] >= 0) unpinLocked(sideTrans[i]!, sideTransRef[i], i === 1);
  sideRef[i] = sideTransRef[i] = -1;
}

/** Claims both sides of the copy entry at `a` (domains first, then source, then destination); returns 0 or a GNTST_* code. */
function claimSides(hv: Hypervisor, d: Domain, a: number, flags: number): number {
  const srcGref = (flags & GNTCOPY_source_gref) !== 0, dstGref = (flags & GNTCOPY_dest_gref) !== 0;
  let rc = copyDomain(hv, d, a + COPY.source, srcGref, 0);
  if (!rc) rc = copyDomain(hv, d, a + COPY.dest, dstGref, 1);
  if (!rc) rc = srcGref ? grantSide(hv, d, d.view.getUint32(a + COPY.source, true), 0) : frameSide(d, a + COPY.source, 0);
  if (!rc) rc = dstGref ? grantSide(hv, d, d.view.getUint32(a + COPY.dest, true), 1) : frameSide(d, a + COPY.dest, 1);
  return rc;
}

/**
 * GNTTABOP_copy for one entry at `a`, in Xen's order: domains, source grant, destination grant,
 * then the bounds: beyond the page → GNTST_bad_copy_arg, outside a sub-page grant's range →
 * GNTST_general_error. GTF_reading/GTF_writing are held only during the copy.
 */
function copyOne(hv: Hypervisor, d: Domain, a: number): void {
  Atomics.add(d.ctl, Ctl.GrantOps, 1);
  // The batch was checked whole (grantTableOp): the entry's fields are read without checks.
  const v = d.view, len = v.getUint16(a + COPY.len, true), flags = v.getUint16(a + COPY.flags, true);
  let st = GNTST.okay;
  if (len !== 0 && injectFault(d)) st = GNTST.general_error;
  else if (len !== 0) {
    try {
      st = claimSides(hv, d, a, flags);
      const srcOff = v.getUint16(a + COPY.source + PTR.offset, true), dstOff = v.getUint16(a + COPY.dest + PTR.offset, true);
      if (!st && (srcOff + len > PAGE_SIZE || dstOff + len > PAGE_SIZE)) st = GNTST.bad_copy_arg;
      if (!st && (srcOff < sideStart[0] || srcOff + len > sideStart[0] + sideLen[0])) st = GNTST.general_error;
      if (!st && (dstOff < sideStart[1] || dstOff + len > sideStart[1] + sideLen[1])) st = GNTST.general_error;
      if (!st) {
        copyMemory(sideDom[1]!, sideAddr[1] + dstOff, sideDom[0]!, sideAddr[0] + srcOff, len);
        const lo = (d.ctl[Ctl.CopyBytesLo] >>> 0) + len;
        d.ctl[Ctl.CopyBytesLo] = lo | 0;
        if (lo > 0xffffffff) d.ctl[Ctl.CopyBytesHi]++;
      }
    } finally {
      releaseSide(0);
      releaseSide(1);
    }
  }
  v.setInt16(a + COPY.status, st, true);
}

// ---- GNTTABOP_set_version, GNTTABOP_get_version ----

/** The reserved entries across a version switch, as v1 entries: (flags | domid << 16, frame) pairs. */
const reserved = new Uint32Array(2 * NR_RESERVED);

/**
 * GNTTABOP_set_version: switches `d`'s table to version 1 or 2 as Xen's gnttab_set_version does
 * and writes the version in force back (also on failure). -EINVAL for another version; -EBUSY
 * while a ref other than the reserved ones (0-7) is pinned; -ERANGE going to v1 with a reserved
 * entry v1 cannot hold (transitive, or a frame above 2^32). The reserved entries are carried
 * over (their GTF_reading/GTF_writing with them), every other entry is cleared, and going back
 * to v1 releases the status frames: the harness never writes those GFNs again.
 */
function setVersion(hv: Hypervisor, d: Domain, a: number): number {
  d.check(a, SETV.size);
  const v = d.u32(a + SETV.version);
  let res = 0;
  if (v !== 1 && v !== 2) res = E.INVAL;
  else if (v !== grantVersion(d)) {
    lock(d.ctl, Ctl.Lock);
    try { res = switchVersion(d, v); } finally { unlock(d.ctl, Ctl.Lock); }
    if (res === 0) hv.hooks.trace?.(`gnttab ${d.domid} version ${v}`);
  }
  d.w32(a + SETV.version, grantVersion(d));
  return res;
}

/** The body of set_version under d's lock (see setVersion). */
function switchVersion(d: Domain, v: number): number {
  const from = grantVersion(d);
  const n = nrGrantEntries(d);
  for (let i = NR_RESERVED; i < n; i++) if (Atomics.load(d.active, i) !== 0) return E.BUSY;
  for (let i = 0; i < NR_RESERVED; i++) {
    const e = grantEntryAddr(d, i);
    let word = 0, frame = 0;
    if (e >= 0 && from === 1) {
      word = Atomics.load(d.i32, e >> 2) >>> 0;
      frame = d.view.getUint32(e + GE1.frame, true);
    } else if (e >= 0) {
      const hdr = Atomics.load(d.i32, e >> 2) >>> 0, type = hdr & GTF_type_mask;
      if (type === GTF_transitive || (type === GTF_permit_access && d.view.getUint32(e + GE2["full_page.frame"] + 4, true) !== 0)) return E.RANGE;
      if (type === GTF_permit_access) {
        word = (hdr | pinnedStatus(d, i)) >>> 0;
        frame = d.view.getUint32(e + GE2["full_page.frame"], true);
      }
    }
    reserved[2 * i] = word;
    reserved[2 * i + 1] = frame;
  }
  if (from === 2) for (let i = 0; i < MAX_STATUS_FRAMES; i++) Atomics.store(d.ctl, Ctl.StatusFrames + i, -1);
  for (let f = 0; f < MAX_GRANT_FRAMES; f++) {
    const gfn = Atomics.load(d.ctl, Ctl.GrantFrames + f);
    if (gfn >= 0) d.u8.fill(0, gfn * PAGE_SIZE, gfn * PAGE_SIZE + PAGE_SIZE);
  }
  Atomics.store(d.ctl, Ctl.GrantVersion, v);
  for (let i = 0; i < NR_RESERVED; i++) {
    const e = grantEntryAddr(d, i);
    if (e < 0 || reserved[2 * i] === 0) continue;
    if (v === 1) {
      d.view.setUint32(e + GE1.frame, reserved[2 * i + 1], true);
      Atomics.store(d.i32, e >> 2, reserved[2 * i] | 0);
    } else {
      d.view.setUint32(e + GE2["full_page.frame"], reserved[2 * i + 1], true);
      Atomics.store(d.i32, e >> 2, (reserved[2 * i] & ~(GTF_reading | GTF_writing)) | 0);
      const s = grantStatusAddr(d, i); // no status frame is placed yet after a switch: it gets the pins when it is
      if (s >= 0) statusStore(d, s, reserved[2 * i] & (GTF_reading | GTF_writing));
    }
  }
  return 0;
}

/** GNTTABOP_get_version: the version of `dom`'s table (another domain's needs privilege: -EPERM; unknown: -ESRCH). */
function getVersion(hv: Hypervisor, d: Domain, a: number): number {
  d.check(a, GETV.size);
  const t = hv.lookup(d, d.u16(a + GETV.dom));
  if (typeof t === "number") return t;
  if (t !== d && !d.privileged) return E.PERM;
  d.w32(a + GETV.version, grantVersion(t));
  return 0;
}

// ---- GNTTABOP_swap_grant_ref ----

/**
 * GNTTABOP_swap_grant_ref for one entry at `a`: swaps two of the caller's own entries (and, under
 * v2, their status words). A ref beyond the placed frames → GNTST_bad_gntref, either one pinned →
 * GNTST_eagain, the same ref twice → GNTST_okay with nothing done.
 */
function swapGrantRef(hv: Hypervisor, d: Domain, a: number): void {
  const ra = d.u32(a + SWAP.ref_a), rb = d.u32(a + SWAP.ref_b);
  lock(d.ctl, Ctl.Lock);
  let st = GNTST.okay;
  try {
    const ea = grantEntryAddr(d, ra), eb = grantEntryAddr(d, rb);
    if (ea < 0 || eb < 0) st = GNTST.bad_gntref;
    else if (ra !== rb && (Atomics.load(d.active, ra) !== 0 || Atomics.load(d.active, rb) !== 0)) st = GNTST.eagain;
    else if (ra !== rb) {
      const size = grantVersion(d) === 2 ? GE2.size : GE1.size;
      for (let o = 0; o < size; o += 4) {
        const x = Atomics.load(d.i32, (ea + o) >> 2);
        Atomics.store(d.i32, (ea + o) >> 2, Atomics.load(d.i32, (eb + o) >> 2));
        Atomics.store(d.i32, (eb + o) >> 2, x);
      }
      if (grantVersion(d) === 2) {
        const sa = grantStatusAddr(d, ra), sb = grantStatusAddr(d, rb);
        const xa = sa < 0 ? 0 : d.view.getUint16(sa, true), xb = sb < 0 ? 0 : d.view.getUint16(sb, true);
        if (sa >= 0) statusStore(d, sa, xb);
        if (sb >= 0) statusStore(d, sb, xa);
      }
    }
  } finally {
    unlock(d.ctl, Ctl.Lock);
  }
  d.w16(a + SWAP.status, st & 0xffff);
}

// ---- The hypercall ----

/** Sub-ops that take an array of `count` structs, each with its own status. */
const BATCHED: Record<number, [number, (hv: Hypervisor, d: Domain, a: number) => void]> = {
  [OP.map]: [MAP.size, mapGrantRef],
  [OP.unmap]: [UNMAP.size, unmapGrantRef],
  [OP.copy]: [COPY.size, copyOne],
  [OP.swap]: [SWAP.size, swapGrantRef],
};
/** Sub-ops on one struct: `count` must be 1 (else -EINVAL, as Xen). */
const SINGLE: Record<number, (hv: Hypervisor, d: Domain, a: number) => number> = {
  [OP.setup]: setupTable,
  [OP.query]: querySize,
  [OP.statusFrames]: getStatusFrames,
};

/**
 * The `grant_table_op(cmd, arg, count)` import: -EINVAL for a negative count or continuation bits
 * in `cmd`, -ENOSYS for a sub-op xenwasm does not have (dump_table, transfer, unmap_and_replace,
 * cache_flush, unknown ones), -EFAULT for an array outside the caller's memory.
 */
export function grantTableOp(hv: Hypervisor, d: Domain, cmd: number, arg: number, count: number): number {
  return guarded(() => {
    if (count < 0) return E.INVAL;
    if ((cmd & ~GNTTABOP_CMD_MASK) !== 0 && (cmd & GNTTABOP_CMD_MASK) !== OP.cacheFlush) return E.INVAL;
    if (cmd === OP.setVersion) return setVersion(hv, d, arg);
    if (cmd === OP.getVersion) return getVersion(hv, d, arg);
    const single = SINGLE[cmd];
    if (single) return count !== 1 ? E.INVAL : single(hv, d, arg);
    const op = BATCHED[cmd];
    if (!op) return E.NOSYS;
    d.check(arg, count * op[0]);
    for (let i = 0; i < count; i++) op[1](hv, d, arg + i * op[0]);
    return 0;
  });
}

// ---- Mapped-grant access (docs/ABI.md §4) ----

/** The granter of the last successful `mapped`/`dmaTarget` resolution (this thread's). */
let resolved: Domain | undefined;

/** Counts a refused mapped-grant access of `d` and returns `e`. */
function violation(hv: Hypervisor, d: Domain, handle: number, e: number): number {
  Atomics.add(d.ctl, Ctl.Violations, 1);
  hv.hooks.trace?.(`violation ${d.domid} h${handle} ${e}`);
  return e;
}

/**
 * Resolves `handle` of `d` for an access of `len` bytes at `offset`: returns the address in the
 * granter (then in `resolved`) or a negative errno. Allocates nothing: it is on every ring access.
 */
function mapped(hv: Hypervisor, d: Domain, handle: number, offset: number, len: number, write: boolean): number {
  if (!(handle >= 0 && handle < MAPTRACK_SIZE)) return violation(hv, d, handle, E.INVAL);
  const flags = d.maps[handle * MAP_WORDS];
  if (!(flags & MAP_LIVE)) return violation(hv, d, handle, E.INVAL);
  if (write && !(flags & MAP_WRITABLE)) return violation(hv, d, handle, E.PERM);
  if (!(offset >= 0 && len >= 0 && offset + len <= PAGE_SIZE)) return violation(hv, d, handle, E.FAULT);
  const g = hv.domain(d.maps[handle * MAP_WORDS + 1]);
  if (!g) return violation(hv, d, handle, E.INVAL);
  if (resolved !== g) resolved = g; // a store of an object into a module variable costs a write barrier
  return d.maps[handle * MAP_WORDS + 3] * PAGE_SIZE + offset;
}

/**
 * Resolves a host device's DMA of `len` bytes at bus address `bus` for dom0 `d`: the address must
 * lie in a live GNTMAP_device_map mapping (writable when the device writes memory). Returns the
 * address in the granter (the granter is then `dmaDomain()`), or a negative errno (the refusal
 * is counted as a violation of `d`).
 */
export function dmaTarget(hv: Hypervisor, d: Domain, bus: number, len: number, write: boolean): number {
  const rel = bus - DEV_BUS_BASE;
  const handle = Math.floor(rel / PAGE_SIZE);
  if (!(rel >= 0 && Number.isSafeInteger(rel)) || !(handle < MAPTRACK_SIZE) || !(Atomics.load(d.maps, handle * MAP_WORDS) & MAP_DEVICE)) {
    Atomics.add(d.ctl, Ctl.Violations, 1);
    return E.FAULT;
  }
  return mapped(hv, d, handle, rel % PAGE_SIZE, len, write);
}

/** The granter of the last address dmaTarget returned on this thread. */
export function dmaDomain(): Domain { return resolved!; }

function localOk(d: Domain, addr: number, len: number): boolean {
  return addr >= 0 && len >= 0 && addr + len <= d.bytes;
}

/** `grant_copy_from(handle, offset, dst, len)`: mapped page → caller's memory. */
export function grantCopyFrom(hv: Hypervisor, d: Domain, handle: number, offset: number, dst: number, len: number): number {
  const addr = mapped(hv, d, handle, offset, len, false);
  if (addr < 0) return addr;
  if (!localOk(d, dst, len)) { Atomics.add(d.ctl, Ctl.Violations, 1); return E.FAULT; }
  copyMemory(d, dst, resolved!, addr, len);
  return 0;
}

/** `grant_copy_to(handle, offset, src, len)`: caller's memory → mapped page (writable maps). */
export function grantCopyTo(hv: Hypervisor, d: Domain, handle: number, offset: number, src: number, len: number): number {
  const addr = mapped(hv, d, handle, offset, len, true);
  if (addr < 0) return addr;
  if (!localOk(d, src, len)) { Atomics.add(d.ctl, Ctl.Violations, 1); return E.FAULT; }
  copyMemory(resolved!, addr, d, src, len);
  return 0;
}

function aligned(hv: Hypervisor, d: Domain, offset: number): boolean {
  if ((offset & 3) === 0) return true;
  Atomics.add(d.ctl, Ctl.Violations, 1);
  return false;
}

/** `grant_load32(handle, offset, out)`: atomic load from the mapped page into `out`. */
export function grantLoad32(hv: Hypervisor, d: Domain, handle: number, offset: number, out: number): number {
  if (!aligned(hv, d, offset)) return E.INVAL;
  const addr = mapped(hv, d, handle, offset, 4, false);
  if (addr < 0) return addr;
  if (!localOk(d, out, 4) || (out & 3)) { Atomics.add(d.ctl, Ctl.Violations, 1); return E.FAULT; }
  d.i32[out >> 2] = Atomics.load(resolved!.i32, addr >> 2);
  return 0;
}

/** `grant_store32(handle, offset, value)`: atomic store into the mapped page. */
export function grantStore32(hv: Hypervisor, d: Domain, handle: number, offset: number, value: number): number {
  if (!aligned(hv, d, offset)) return E.INVAL;
  const addr = mapped(hv, d, handle, offset, 4, true);
  if (addr < 0) return addr;
  Atomics.store(resolved!.i32, addr >> 2, value);
  return 0;
}

/** `grant_cmpxchg32(handle, offset, expected, replacement, out)`: atomic CAS; old value to `out`. */
export function grantCmpxchg32(hv: Hypervisor, d: Domain, handle: number, offset: number, expected: number, replacement: number, out: number): number {
  if (!aligned(hv, d, offset)) return E.INVAL;
  const addr = mapped(hv, d, handle, offset, 4, true);
  if (addr < 0) return addr;
  if (!localOk(d, out, 4) || (out & 3)) { Atomics.add(d.ctl, Ctl.Violations, 1); return E.FAULT; }
  Atomics.store(d.i32, out >> 2, Atomics.compareExchange(resolved!.i32, addr >> 2, expected, replacement));
  return 0;
}
