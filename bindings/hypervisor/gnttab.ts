// HYPERVISOR_grant_table_op (v1) and the mapped-grant access imports (docs/ABI.md §3, §4).
// Grant entries live in the granter's own frames and are pinned with atomic compare-and-swap
// on their flags, as Xen does; pin counts and map handles live in shared buffers.
import { k, layout } from "../abi/layout.js";
import {
  Ctl, Domain, GRANTS_PER_FRAME, MAP_DEVICE, MAP_HOST, MAP_LIVE, MAP_WORDS, MAP_WRITABLE, MAPTRACK_SIZE,
  MAX_GRANT_FRAMES, PAGE_SIZE, lock, lockPair, unlock,
} from "./domain.js";
import { guarded, type Hypervisor } from "./hypervisor.js";
import { copyMemory } from "./copy.js";

const GNTST = {
  okay: k("GNTST_okay"), general_error: k("GNTST_general_error"), bad_domain: k("GNTST_bad_domain"),
  bad_gntref: k("GNTST_bad_gntref"), bad_handle: k("GNTST_bad_handle"), permission_denied: k("GNTST_permission_denied"),
  bad_page: k("GNTST_bad_page"), bad_copy_arg: k("GNTST_bad_copy_arg"), no_space: k("GNTST_no_space"),
};
const E = { PERM: -k("XEN_EPERM"), INVAL: -k("XEN_EINVAL"), FAULT: -k("XEN_EFAULT"), NOSYS: -k("XEN_ENOSYS"), OPNOTSUPP: -k("XEN_EOPNOTSUPP") };
const GTF_permit_access = k("GTF_permit_access"), GTF_type_mask = k("GTF_type_mask"), GTF_readonly = k("GTF_readonly");
const GTF_reading = k("GTF_reading"), GTF_writing = k("GTF_writing");
const GNTMAP_host_map = k("GNTMAP_host_map"), GNTMAP_device_map = k("GNTMAP_device_map"), GNTMAP_readonly = k("GNTMAP_readonly");
const GNTCOPY_source_gref = k("GNTCOPY_source_gref"), GNTCOPY_dest_gref = k("GNTCOPY_dest_gref");
const DOMID_SELF = k("DOMID_SELF");
const GNTTABOP_set_version = k("GNTTABOP_set_version"), GNTTABOP_get_version = k("GNTTABOP_get_version");
const GE = layout("struct grant_entry_v1");
const MAP = layout("struct gnttab_map_grant_ref");
const UNMAP = layout("struct gnttab_unmap_grant_ref");
const SETUP = layout("struct gnttab_setup_table");
const QUERY = layout("struct gnttab_query_size");
const COPY = layout("struct gnttab_copy");
const SETV = layout("struct gnttab_set_version");
const GETV = layout("struct gnttab_get_version");
/** Bus addresses handed out for GNTMAP_device_map: handle h ↔ DEV_BUS_BASE + h * PAGE_SIZE. */
export const DEV_BUS_BASE = 0x1_0000_0000;

/** Guest address of grant entry `ref` of `g`, or -1 when its frame is not mapped. */
export function grantEntryAddr(g: Domain, ref: number): number {
  const frame = Math.floor(ref / GRANTS_PER_FRAME);
  if (!(ref >= 0 && frame < MAX_GRANT_FRAMES)) return -1;
  const gfn = Atomics.load(g.ctl, Ctl.GrantFrames + frame);
  return gfn < 0 ? -1 : gfn * PAGE_SIZE + (ref % GRANTS_PER_FRAME) * GE.size;
}

/**
 * Pins grant `ref` of `g` for `mapper`: checks the entry as Xen does, sets GTF_reading (and
 * GTF_writing) with compare-and-swap when the first pin of that kind is taken, and returns the
 * granted frame (GFN in g) or a negative GNTST_* code. Caller holds g's lock.
 */
function pin(g: Domain, ref: number, mapper: Domain, writable: boolean): number {
  const addr = grantEntryAddr(g, ref);
  if (addr < 0) return GNTST.bad_gntref;
  const idx = (addr + GE.flags) / 4; // flags (u16) and domid (u16) share one 32-bit word
  for (;;) {
    const word = Atomics.load(g.i32, idx);
    const flags = word & 0xffff, domid = word >>> 16;
    if ((flags & GTF_type_mask) !== GTF_permit_access || domid !== mapper.domid) return GNTST.general_error;
    if (writable && (flags & GTF_readonly)) return GNTST.general_error;
    const want = word | GTF_reading | (writable ? GTF_writing : 0);
    if (want === word || Atomics.compareExchange(g.i32, idx, word, want) === word) break;
  }
  const frame = g.view.getUint32(addr + GE.frame, true);
  if (frame >= g.nrPages) { settle(g, ref); return GNTST.bad_page; }
  Atomics.add(g.active, ref, writable ? 0x10001 : 1);
  return frame;
}

/** Drops one pin of `ref` and clears GTF_writing / GTF_reading when their last pin goes. */
function unpin(g: Domain, ref: number, writable: boolean): void {
  Atomics.sub(g.active, ref, writable ? 0x10001 : 1);
  settle(g, ref);
}

/** Makes the entry's GTF_reading/GTF_writing agree with the pin counts (caller holds g's lock). */
function settle(g: Domain, ref: number): void {
  const addr = grantEntryAddr(g, ref);
  if (addr < 0) return;
  const pins = Atomics.load(g.active, ref);
  const clear = (pins >>> 16 ? 0 : GTF_writing) | (pins & 0xffff ? 0 : GTF_reading);
  if (clear) Atomics.and(g.i32, (addr + GE.flags) / 4, ~clear);
}

/** GNTTABOP_map_grant_ref for one entry at `a`. */
function mapOne(hv: Hypervisor, d: Domain, a: number): void {
  Atomics.add(d.ctl, Ctl.GrantOps, 1);
  const flags = d.u32(a + MAP.flags), ref = d.u32(a + MAP.ref), domid = d.u16(a + MAP.dom);
  const status = (s: number) => { d.w16(a + MAP.status, s & 0xffff); };
  if (!(flags & (GNTMAP_host_map | GNTMAP_device_map))) return status(GNTST.bad_gntref);
  const g = hv.lookup(d, domid);
  if (typeof g === "number" || g.isHost) return status(GNTST.bad_domain);
  const writable = !(flags & GNTMAP_readonly);
  const release = lockPair(g, d);
  try {
    let handle = -1;
    const hint = d.ctl[Ctl.MapHint];
    for (let i = 0; i < MAPTRACK_SIZE; i++) {
      const h = (hint + i) % MAPTRACK_SIZE;
      if (d.maps[h * MAP_WORDS] === 0) { handle = h; break; }
    }
    if (handle < 0) return status(GNTST.no_space);
    d.ctl[Ctl.MapHint] = (handle + 1) % MAPTRACK_SIZE;
    const frame = pin(g, ref, d, writable);
    if (frame < 0) return status(frame);
    const mflags = MAP_LIVE | (writable ? MAP_WRITABLE : 0) | (flags & GNTMAP_host_map ? MAP_HOST : 0) | (flags & GNTMAP_device_map ? MAP_DEVICE : 0);
    d.maps[handle * MAP_WORDS + 1] = g.domid;
    d.maps[handle * MAP_WORDS + 2] = ref;
    d.maps[handle * MAP_WORDS + 3] = frame;
    Atomics.store(d.maps, handle * MAP_WORDS, mflags);
    d.w32(a + MAP.handle, handle);
    d.w64(a + MAP.dev_bus_addr, flags & GNTMAP_device_map ? DEV_BUS_BASE + handle * PAGE_SIZE : 0);
    hv.hooks.trace?.(`map ${d.domid} <- ${g.domid}:${ref} h${handle}${writable ? " rw" : " ro"}`);
    return status(GNTST.okay);
  } finally {
    release();
  }
}

/** Removes mapping `handle` of `d`; returns a GNTST_* code. */
export function unmapHandle(hv: Hypervisor, d: Domain, handle: number): number {
  if (!(handle >= 0 && handle < MAPTRACK_SIZE) || !(Atomics.load(d.maps, handle * MAP_WORDS) & MAP_LIVE)) return GNTST.bad_handle;
  const g = hv.domain(d.maps[handle * MAP_WORDS + 1]);
  const ref = d.maps[handle * MAP_WORDS + 2];
  const writable = (d.maps[handle * MAP_WORDS] & MAP_WRITABLE) !== 0;
  if (!g) { Atomics.store(d.maps, handle * MAP_WORDS, 0); return GNTST.okay; }
  const release = lockPair(g, d);
  try {
    if (!(Atomics.load(d.maps, handle * MAP_WORDS) & MAP_LIVE)) return GNTST.bad_handle;
    Atomics.store(d.maps, handle * MAP_WORDS, 0);
    unpin(g, ref, writable);
    hv.hooks.trace?.(`unmap ${d.domid} h${handle}`);
    return GNTST.okay;
  } finally {
    release();
  }
}

/** GNTTABOP_unmap_grant_ref for one entry at `a`. */
function unmapOne(hv: Hypervisor, d: Domain, a: number): void {
  Atomics.add(d.ctl, Ctl.GrantOps, 1);
  d.w16(a + UNMAP.status, unmapHandle(hv, d, d.u32(a + UNMAP.handle)) & 0xffff);
}

/** GNTTABOP_setup_table: v1 frames are mapped by add_to_physmap; reports their GFNs. */
function setupOne(hv: Hypervisor, d: Domain, a: number): void {
  const status = (s: number) => d.w16(a + SETUP.status, s & 0xffff);
  const domid = d.u16(a + SETUP.dom);
  if (domid !== DOMID_SELF && domid !== d.domid) return status(GNTST.permission_denied);
  const n = d.u32(a + SETUP.nr_frames);
  if (n > MAX_GRANT_FRAMES) return status(GNTST.general_error);
  const list = d.u64n(a + SETUP.frame_list);
  d.check(list, n * 8);
  for (let i = 0; i < n; i++) {
    const gfn = Atomics.load(d.ctl, Ctl.GrantFrames + i);
    d.w64(list + i * 8, gfn < 0 ? 0xffff_ffff_ffff_ffffn : BigInt(gfn));
  }
  status(GNTST.okay);
}

/** Frames mapped so far (one past the highest mapped frame index). */
export function mappedFrames(d: Domain): number {
  let n = 0;
  for (let i = 0; i < MAX_GRANT_FRAMES; i++) if (Atomics.load(d.ctl, Ctl.GrantFrames + i) >= 0) n = i + 1;
  return n;
}

/** GNTTABOP_query_size. */
function queryOne(hv: Hypervisor, d: Domain, a: number): void {
  const t = hv.lookup(d, d.u16(a + QUERY.dom));
  if (typeof t === "number") return d.w16(a + QUERY.status, GNTST.bad_domain & 0xffff);
  if (t !== d && !d.privileged) return d.w16(a + QUERY.status, GNTST.permission_denied & 0xffff);
  d.w32(a + QUERY.nr_frames, mappedFrames(t));
  d.w32(a + QUERY.max_nr_frames, MAX_GRANT_FRAMES);
  d.w16(a + QUERY.status, GNTST.okay);
}

/**
 * The two sides (0 source, 1 destination) of the GNTTABOP_copy entry being run on this thread:
 * the domain and address each resolved to, and the grant ref pinned for it (-1: none). Kept in
 * module scratch so that a copy allocates nothing (a switch batch runs thousands of entries).
 */
const sideDom: Array<Domain | null> = [null, null];
const sideAddr = new Float64Array(2);
const sideRef = new Int32Array(2);

/**
 * Resolves side `i` of a grant copy (its gnttab_copy_ptr at `a`) into sideDom/sideAddr, pinning a
 * grant side (sideRef); returns 0 or a negative GNTST_* code.
 */
function copySide(hv: Hypervisor, d: Domain, a: number, isGref: boolean, len: number, i: number): number {
  const domid = d.u16(a + 8), offset = d.u16(a + 10);
  if (offset + len > PAGE_SIZE) return GNTST.bad_copy_arg;
  const t = hv.lookup(d, domid);
  if (typeof t === "number" || t.isHost) return GNTST.bad_domain;
  if (!isGref) {
    if (t !== d && !d.privileged) return GNTST.permission_denied;
    const gfn = d.u64n(a);
    if (gfn >= t.nrPages) return GNTST.bad_page;
    sideDom[i] = t;
    sideAddr[i] = gfn * PAGE_SIZE + offset;
    return 0;
  }
  const ref = d.u32(a);
  lock(t.ctl, Ctl.Lock);
  try {
    const frame = pin(t, ref, d, i === 1);
    if (frame < 0) return frame;
    sideDom[i] = t;
    sideRef[i] = ref;
    sideAddr[i] = frame * PAGE_SIZE + offset;
    return 0;
  } finally {
    unlock(t.ctl, Ctl.Lock);
  }
}

/** GNTTABOP_copy for one entry at `a`. */
function copyOne(hv: Hypervisor, d: Domain, a: number): void {
  Atomics.add(d.ctl, Ctl.GrantOps, 1);
  const len = d.u16(a + COPY.len), flags = d.u16(a + COPY.flags);
  let st = GNTST.okay;
  if (len !== 0) {
    sideRef[0] = -1;
    sideRef[1] = -1;
    try {
      st = copySide(hv, d, a + COPY.source, (flags & GNTCOPY_source_gref) !== 0, len, 0);
      if (st === GNTST.okay) st = copySide(hv, d, a + COPY.dest, (flags & GNTCOPY_dest_gref) !== 0, len, 1);
      if (st === GNTST.okay) {
        copyMemory(sideDom[1]!, sideAddr[1], sideDom[0]!, sideAddr[0], len);
        const lo = (d.ctl[Ctl.CopyBytesLo] >>> 0) + len;
        d.ctl[Ctl.CopyBytesLo] = lo | 0;
        if (lo > 0xffffffff) d.ctl[Ctl.CopyBytesHi]++;
      }
    } finally {
      // Unpin what was pinned (the source for reading, the destination for writing).
      for (let i = 0; i < 2; i++) {
        if (sideRef[i] < 0) continue;
        const t = sideDom[i]!;
        lock(t.ctl, Ctl.Lock);
        try { unpin(t, sideRef[i], i === 1); } finally { unlock(t.ctl, Ctl.Lock); }
      }
      sideDom[0] = sideDom[1] = null;
    }
  }
  d.w16(a + COPY.status, st & 0xffff);
}

/** GNTTABOP_set_version: only version 1 is implemented. */
function setVersion(hv: Hypervisor, d: Domain, a: number): number {
  const v = d.u32(a + SETV.version);
  if (v === 1) return 0;
  d.w32(a + SETV.version, 1);
  return v === 2 ? E.OPNOTSUPP : E.INVAL;
}

/** GNTTABOP_get_version. */
function getVersion(hv: Hypervisor, d: Domain, a: number): number {
  const t = hv.lookup(d, d.u16(a + GETV.dom));
  if (typeof t === "number") return t;
  if (t !== d && !d.privileged) return E.PERM;
  d.w32(a + GETV.version, 1);
  return 0;
}

const BATCHED: Record<number, [number, (hv: Hypervisor, d: Domain, a: number) => void]> = {
  [k("GNTTABOP_map_grant_ref")]: [MAP.size, mapOne],
  [k("GNTTABOP_unmap_grant_ref")]: [UNMAP.size, unmapOne],
  [k("GNTTABOP_setup_table")]: [SETUP.size, setupOne],
  [k("GNTTABOP_query_size")]: [QUERY.size, queryOne],
  [k("GNTTABOP_copy")]: [COPY.size, copyOne],
};

/** The `grant_table_op(cmd, arg, count)` import. */
export function grantTableOp(hv: Hypervisor, d: Domain, cmd: number, arg: number, count: number): number {
  return guarded(() => {
    if (cmd === GNTTABOP_set_version) return setVersion(hv, d, arg);
    if (cmd === GNTTABOP_get_version) return getVersion(hv, d, arg);
    const op = BATCHED[cmd];
    if (!op) return E.NOSYS;
    if (count < 0) return E.INVAL;
    d.check(arg, count * op[0]);
    for (let i = 0; i < count; i++) op[1](hv, d, arg + i * op[0]);
    return 0;
  });
}

/** Unmaps every grant `d` holds (domain teardown), releasing the granters' pins. */
export function unmapAll(hv: Hypervisor, d: Domain): void {
  for (let h = 0; h < MAPTRACK_SIZE; h++) if (d.maps[h * MAP_WORDS] & MAP_LIVE) unmapHandle(hv, d, h);
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
