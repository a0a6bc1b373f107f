// Grant tables, versions 1 and 2 (grant_table.h, docs/ABI.md §2-§4): granting our frames to other
// domains, mapping and copying other domains' grants, and SharedPage, the one page type that
// ring and driver code is written against (DESIGN §2).
//
// Granting. The grant table lives in frames of our own memory that Xen placed there
// (XENMEM_add_to_physmap, XENMAPSPACE_grant_table). Version 1 (the default) packs 512 8-byte
// entries in a frame; version 2 (`grant_table.version=2` on the command line, as Linux's module
// parameter, chosen at boot by gnttabBoot) packs 256 16-byte entries and keeps GTF_reading /
// GTF_writing apart, in status frames (one u16 per ref, 2048 per frame) placed with
// XENMAPIDX_grant_table_status. The same calls work under both; only v2 has sub-page and
// transitive grants. The SDK maps frames on demand, up to the max_nr_frames GNTTABOP_query_size
// reports, and hands out refs from GNTTAB_NR_RESERVED_ENTRIES up; refs below that are only ever
// used through an explicit gnttabGrantAccessRef (well-known refs). Entries are shared with Xen,
// which sets GTF_reading/GTF_writing atomically while another domain maps or copies the grant,
// so the guest touches an entry's (flags, domid) word only with 32-bit atomics:
// - grant: store the body (frame, ...), then publish (flags | domid << 16) with one atomic store;
// - end access, v1: compare-and-swap the word to 0 expecting neither GTF_reading nor GTF_writing;
//   v2 (Linux's gnttab_end_foreign_access_ref_v2): clear the word, then read the status, and put
//   the word back if the grant turned out to be in use (Xen sets the status before it checks the
//   flags again, so one side always sees the other). While a mapping exists gnttabEndAccess
//   returns -XEN_EBUSY and leaves the grant in place (Xen's gnttab_end_foreign_access_ref, never
//   "pretend and leak").
//
// Mapping. A grant mapped with GNTTABOP_map_grant_ref cannot appear in our memory
// (WebAssembly cannot alias), so it is reached through its handle with the grant_* imports
// (docs/ABI.md §4). SharedPage hides which kind of page it is.
//
// Errors: ref-level functions return -XEN_Exxx; map/unmap/copy return Xen's GNTST_* status.
import { DOMID_SELF, domid_t } from "./xen/xen";
import {
  grant_entry_v1, grant_entry_v2, grant_ref_t, grant_status_t, gnttab_map_grant_ref, gnttab_unmap_grant_ref, gnttab_copy,
  gnttab_copy_ptr, gnttab_query_size, gnttab_set_version,
  GNTTABOP_map_grant_ref, GNTTABOP_unmap_grant_ref, GNTTABOP_copy, GNTTABOP_query_size, GNTTABOP_set_version,
  GNTTAB_NR_RESERVED_ENTRIES, GTF_permit_access, GTF_transitive, GTF_readonly, GTF_reading, GTF_writing, GTF_sub_page,
  GNTMAP_readonly, GNTMAP_device_map, GNTCOPY_source_gref, GNTCOPY_dest_gref,
  GNTST_okay, GNTST_general_error, GNTST_bad_copy_arg,
} from "./xen/grant_table";
import { XENMAPSPACE_grant_table, XENMAPIDX_grant_table_status } from "./xen/memory";
import { XEN_EINVAL, XEN_EBUSY, XEN_EEXIST, XEN_ENOSPC, XEN_EFAULT, XEN_EOPNOTSUPP } from "./xen/errno";
import {
  HYPERVISOR_grant_table_op, grant_copy_from, grant_copy_to, grant_load32, grant_store32, grant_cmpxchg32,
} from "./hypercall";
import { PAGE_SIZE, frameAllocForXen, addrToGfn } from "./frames";
import { addToPhysmap } from "./shared";
import { cmdlineGetInRange } from "./cmdline";
import { puts, puti, printk } from "./console";

/** Grant entries per v1 grant-table frame (512). */
export const GREFS_PER_FRAME: u32 = <u32>(PAGE_SIZE / offsetof<grant_entry_v1>());
/** Grant entries per v2 grant-table frame (256). */
export const GREFS_PER_FRAME_V2: u32 = <u32>(PAGE_SIZE / offsetof<grant_entry_v2>());
/** Status words (grant_status_t) per v2 status frame (2048). */
export const GRANT_STATUS_PER_FRAME: u32 = <u32>(PAGE_SIZE / sizeof<grant_status_t>());
/** Shift of `domid` inside the entry's first 32-bit word (flags is the low half), both versions. */
const DOMID_SHIFT: u32 = <u32>(offsetof<grant_entry_v1>("domid") << 3);
/** GTF_reading | GTF_writing: a grant in use. */
const IN_USE: u32 = <u32>(GTF_reading | GTF_writing);

let version: u32 = 1; // the table's layout, GNTTABOP_set_version
let refShift: u32 = 9; // log2 refs per grant frame: 9 (v1) or 8 (v2)
let entryShift: u32 = 3; // log2 entry size: 3 (v1) or 4 (v2)
let maxFrames: u32 = 0; // 0: not initialised
let nrFrames: u32 = 0;
let frameAddrs: usize = 0; // usize[maxFrames]: the address of each mapped grant-table frame
let nrStatus: u32 = 0; // v2 status frames placed
let statusAddrs: usize = 0; // usize[statusFramesFor(maxFrames)]: their addresses (kept across versions)
let refMap: usize = 0; // bitmap over maxFrames * GREFS_PER_FRAME refs (v1's count, the larger): set = granted by us
let refHint: u32 = GNTTAB_NR_RESERVED_ENTRIES;
let refsInUse: u32 = 0;

const OP = memory.data(2 * <i32>offsetof<gnttab_copy>(), 8); // scratch for GNTTABOP_* (two entries at most)
const OUT = memory.data(4, 4); // grant_load32 / grant_cmpxchg32 result

/** v2 status frames needed for `frames` grant frames (8 grant frames' refs per status frame). */
@inline function statusFramesFor(frames: u32): u32 {
  return (frames * GREFS_PER_FRAME_V2 + GRANT_STATUS_PER_FRAME - 1) / GRANT_STATUS_PER_FRAME;
}

/**
 * Sets up the grant table: learns max_nr_frames (GNTTABOP_query_size) and maps `initialFrames`
 * frames (with their status frames under v2). Optional: the first grant does it with one frame.
 * Returns 0 or -XEN_Exxx.
 */
export function gnttabInit(initialFrames: u32 = 1): i32 {
  if (maxFrames == 0) {
    const q = changetype<gnttab_query_size>(OP);
    memory.fill(OP, 0, offsetof<gnttab_query_size>());
    q.dom = DOMID_SELF;
    const rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, OP, 1);
    if (rc < 0) return rc;
    if (q.status != GNTST_okay || q.max_nr_frames == 0) return -XEN_EINVAL;
    const max = q.max_nr_frames;
    frameAddrs = heap.alloc(<usize>max * sizeof<usize>());
    statusAddrs = heap.alloc(<usize>statusFramesFor(max) * sizeof<usize>());
    memory.fill(statusAddrs, 0, <usize>statusFramesFor(max) * sizeof<usize>());
    const bytes = <usize>(((max * GREFS_PER_FRAME) + 31) >> 5) << 2;
    refMap = heap.alloc(bytes);
    memory.fill(refMap, 0, bytes);
    maxFrames = max;
  }
  while (nrFrames < initialFrames) {
    const rc = mapFrame();
    if (rc < 0) return rc;
  }
  return 0;
}

/**
 * Has Xen place v2 status frame `i` (at the frame it had before, if any: a frame given to Xen is
 * never reused for anything else). Returns 0 or -XEN_Exxx.
 */
function mapStatusFrame(i: u32): i32 {
  const slot = statusAddrs + (<usize>i) * sizeof<usize>();
  let frame = load<usize>(slot);
  if (frame == 0) frame = frameAllocForXen();
  const rc = addToPhysmap(XENMAPSPACE_grant_table, <u64>(XENMAPIDX_grant_table_status | i), frame);
  if (rc < 0) return rc;
  store<usize>(slot, frame);
  nrStatus = i + 1;
  return 0;
}

/** Maps grant-table frame `nrFrames` into a frame given to Xen (and, under v2, the status frame it needs); returns 0 or -XEN_Exxx. */
function mapFrame(): i32 {
  if (nrFrames >= maxFrames) return -XEN_ENOSPC;
  if (version == 2 && statusFramesFor(nrFrames + 1) > nrStatus) {
    const rc = mapStatusFrame(nrStatus);
    if (rc < 0) return rc;
  }
  const frame = frameAllocForXen();
  const rc = addToPhysmap(XENMAPSPACE_grant_table, <u64>nrFrames, frame);
  if (rc < 0) return rc;
  store<usize>(frameAddrs + (<usize>nrFrames) * sizeof<usize>(), frame);
  nrFrames++;
  return 0;
}

/**
 * Switches our grant table to `v` (1 or 2) with GNTTABOP_set_version. Xen then clears every entry
 * but the 8 reserved ones, so it is refused here with -XEN_EBUSY while we have any grant (end
 * them first), and by Xen with -XEN_EBUSY while a reserved-free ref is in use. Under v2 the status
 * frames for the frames already mapped are placed. Returns 0 or -XEN_Exxx (the version is then
 * unchanged).
 */
export function gnttabSetVersion(v: u32): i32 {
  if (v != 1 && v != 2) return -XEN_EINVAL;
  if (v == version) return 0;
  if (refsInUse != 0) return -XEN_EBUSY;
  const sv = changetype<gnttab_set_version>(OP);
  sv.version = v;
  const rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, OP, 1);
  if (rc < 0) return rc;
  if (sv.version != v) return -XEN_EINVAL;
  version = v;
  refShift = v == 2 ? 8 : 9;
  entryShift = v == 2 ? 4 : 3;
  nrStatus = 0; // back to v1, Xen took the status frames back; going to v2, none is placed yet
  refHint = GNTTAB_NR_RESERVED_ENTRIES;
  if (v == 2 && maxFrames != 0) {
    const need = statusFramesFor(nrFrames);
    for (let i: u32 = 0; i < need; i++) {
      const r = mapStatusFrame(i);
      if (r < 0) return r;
    }
  }
  return 0;
}

/** The grant-table version in force (1 or 2). */
export function gnttabVersion(): u32 {
  return version;
}

/**
 * Boot-time choice of the table version (boot() calls it once): `grant_table.version=2` on the
 * command line asks Xen for v2 and prints the outcome ("grant_table: version 2"); without it (or
 * with 1) nothing is done and the table stays v1. Falls back to v1 if Xen refuses, as Linux does.
 * Returns the version in force.
 */
export function gnttabBoot(): u32 {
  const want = cmdlineGetInRange("grant_table.version", 1, 1, 2);
  if (want == version) return version;
  const rc = gnttabSetVersion(want);
  if (rc < 0) {
    puts("grant_table: version ");
    puti(want);
    puts(" refused (");
    puti(rc);
    printk("), using version 1");
  } else {
    puts("grant_table: version ");
    puti(version);
    printk("");
  }
  return version;
}

/** Grant refs usable so far (mapped frames x refs per frame). */
export function gnttabNrRefs(): u32 {
  return nrFrames << refShift;
}

/** Grant refs currently granted by this domain. */
export function gnttabRefsInUse(): u32 {
  return refsInUse;
}

@inline function entryAddr(ref: grant_ref_t): usize {
  return load<usize>(frameAddrs + (<usize>(ref >> refShift)) * sizeof<usize>()) + (<usize>(ref & ((1 << refShift) - 1)) << entryShift);
}
/** Address of `ref`'s v2 status word (its status frame is placed whenever its grant frame is). */
@inline function statusAddr(ref: grant_ref_t): usize {
  return load<usize>(statusAddrs + (<usize>(ref / GRANT_STATUS_PER_FRAME)) * sizeof<usize>()) + (<usize>(ref % GRANT_STATUS_PER_FRAME) << 1);
}
/** GTF_reading | GTF_writing of our entry `ref` as Xen has them now (v1 flags, v2 status). */
@inline function inUseBits(ref: grant_ref_t, e: usize): u32 {
  return (version == 2 ? <u32>atomic.load<u16>(statusAddr(ref)) : atomic.load<u32>(e)) & IN_USE;
}
@inline function refOwned(ref: u32): bool {
  return (load<u32>(refMap + ((<usize>ref >> 5) << 2)) & (1 << (ref & 31))) != 0;
}
@inline function setOwned(ref: u32, on: bool): void {
  const a = refMap + ((<usize>ref >> 5) << 2);
  const w = load<u32>(a);
  store<u32>(a, on ? w | (1 << (ref & 31)) : w & ~(1 << (ref & 31)));
}

/**
 * Writes our entry `ref` (either layout) and publishes it: the body first (v1: the frame; v2: the
 * u32 at offset 4, i.e. page_off | length << 16 or trans_domid, then the u64 frame or trans gref),
 * then (flags, domid) in one atomic store.
 */
function writeEntry(ref: grant_ref_t, domid: domid_t, flags: u32, body: u64, word1: u32): void {
  const e = entryAddr(ref);
  if (version == 2) {
    atomic.store<u32>(e + offsetof<grant_entry_v2>("sub_page_page_off"), word1);
    atomic.store<u64>(e + offsetof<grant_entry_v2>("frame"), body);
  } else {
    atomic.store<u32>(e + offsetof<grant_entry_v1>("frame"), <u32>body);
  }
  atomic.store<u32>(e, flags | (<u32>domid << DOMID_SHIFT));
}

/**
 * Takes the lowest free ref at or after the hint (wrapping to the first non-reserved ref),
 * mapping one more grant-table frame when every usable ref is taken. Returns the ref (now ours)
 * or -XEN_Exxx (-XEN_ENOSPC when max_nr_frames frames are full).
 */
function allocRef(): i32 {
  if (maxFrames == 0) {
    const rc = gnttabInit(1);
    if (rc < 0) return rc;
  }
  for (;;) { // at most maxFrames times: each pass either returns or maps one more frame
    const n = nrFrames << refShift;
    if (refsInUse < n) {
      for (let i: u32 = GNTTAB_NR_RESERVED_ENTRIES; i < n; i++) {
        let ref = refHint + i - GNTTAB_NR_RESERVED_ENTRIES;
        if (ref >= n) ref -= n - GNTTAB_NR_RESERVED_ENTRIES;
        if (!refOwned(ref)) {
          setOwned(ref, true);
          refsInUse++;
          refHint = ref + 1 < n ? ref + 1 : GNTTAB_NR_RESERVED_ENTRIES;
          return <i32>ref;
        }
      }
    }
    const rc = mapFrame(); // every usable ref is taken (possibly the reserved ones too): grow
    if (rc < 0) return rc;
  }
  return -XEN_ENOSPC; // not reached: AssemblyScript does not see that for (;;) never ends
}

/**
 * Grants domain `domid` access to our frame `frame` (a GFN, see addrToGfn), read-only if
 * `readonly`, and returns the new ref (>= GNTTAB_NR_RESERVED_ENTRIES) to pass to the peer.
 * The frame stays ours; we must not free or reuse it until gnttabEndAccess succeeds.
 * Returns -XEN_ENOSPC when every ref of max_nr_frames frames is in use, or -XEN_Exxx from setup.
 */
export function gnttabGrantAccess(domid: domid_t, frame: u32, readonly: bool): i32 {
  const ref = allocRef();
  if (ref >= 0) writeEntry(<u32>ref, domid, <u32>GTF_permit_access | (readonly ? <u32>GTF_readonly : 0), <u64>frame, 0);
  return ref;
}

/**
 * Grants `domid` access to bytes [offset, offset + length) of our frame `frame` only (a v2
 * GTF_sub_page grant: the peer may copy inside that range with GNTTABOP_copy and may not map the
 * page). Returns the new ref, -XEN_EOPNOTSUPP under v1 (no sub-page grants), -XEN_EINVAL for a
 * range beyond the page, or the errors of gnttabGrantAccess. End it with gnttabEndAccess.
 */
export function gnttabGrantSubPage(domid: domid_t, frame: u32, offset: u32, length: u32, readonly: bool): i32 {
  if (version != 2) return -XEN_EOPNOTSUPP;
  if (<u64>offset + <u64>length > <u64>PAGE_SIZE) return -XEN_EINVAL;
  const ref = allocRef();
  if (ref >= 0) {
    const flags = <u32>(GTF_permit_access | GTF_sub_page) | (readonly ? <u32>GTF_readonly : 0);
    writeEntry(<u32>ref, domid, flags, <u64>frame, offset | (length << 16));
  }
  return ref;
}

/**
 * Grants `domid` transitive access to the grant `transRef` that domain `transDomid` gave us (a v2
 * GTF_transitive grant): `domid` may then copy (never map) that grant's page, inside its range,
 * through our new ref, and Xen checks both grants on every copy. Read-only if `readonly`. Returns
 * the new ref, -XEN_EOPNOTSUPP under v1, or the errors of gnttabGrantAccess. End it with
 * gnttabEndAccess before the grant it leads to goes away.
 */
export function gnttabGrantTransitive(domid: domid_t, transDomid: domid_t, transRef: grant_ref_t, readonly: bool): i32 {
  if (version != 2) return -XEN_EOPNOTSUPP;
  const ref = allocRef();
  if (ref >= 0) writeEntry(<u32>ref, domid, <u32>GTF_transitive | (readonly ? <u32>GTF_readonly : 0), <u64>transRef, <u32>transDomid);
  return ref;
}

/**
 * Grants `domid` access to `frame` through the caller-chosen, well-known `ref` (any ref,
 * including the reserved ones below GNTTAB_NR_RESERVED_ENTRIES), mapping grant-table frames up to
 * it if needed. Returns 0, -XEN_EEXIST (ref already granted), -XEN_EINVAL (ref beyond
 * max_nr_frames) or -XEN_Exxx from setup. End it with gnttabEndAccess like any other.
 */
export function gnttabGrantAccessRef(ref: grant_ref_t, domid: domid_t, frame: u32, readonly: bool): i32 {
  if (maxFrames == 0) {
    const rc = gnttabInit(1);
    if (rc < 0) return rc;
  }
  if (ref >= maxFrames << refShift) return -XEN_EINVAL;
  while (ref >= nrFrames << refShift) {
    const rc = mapFrame();
    if (rc < 0) return rc;
  }
  if (refOwned(ref)) return -XEN_EEXIST;
  setOwned(ref, true);
  refsInUse++;
  writeEntry(ref, domid, <u32>GTF_permit_access | (readonly ? <u32>GTF_readonly : 0), <u64>frame, 0);
  return 0;
}

/**
 * Revokes the grant `ref` (any kind) and frees the ref: v1 with an atomic compare-and-swap that
 * expects neither GTF_reading nor GTF_writing, v2 by clearing the flags and then reading the
 * status (see the top of this file). Returns 0, -XEN_EBUSY if the grant is still mapped (or being
 * copied) by the peer (the grant stays in place and the ref stays ours: retry after the peer
 * unmaps), or -XEN_EINVAL if `ref` is not granted by us. After 0 the frame is ours again.
 */
export function gnttabEndAccess(ref: grant_ref_t): i32 {
  if (maxFrames == 0 || ref >= nrFrames << refShift || !refOwned(ref)) return -XEN_EINVAL;
  const e = entryAddr(ref);
  if (version == 2) {
    const s = statusAddr(ref);
    if ((<u32>atomic.load<u16>(s) & IN_USE) != 0) return -XEN_EBUSY;
    const word = atomic.xchg<u32>(e, 0);
    if ((<u32>atomic.load<u16>(s) & IN_USE) != 0) { // a pin raced our clear: it stands, so does the grant
      atomic.cmpxchg<u32>(e, 0, word);
      return -XEN_EBUSY;
    }
  } else {
    let w = atomic.load<u32>(e);
    for (;;) {
      if ((w & IN_USE) != 0) return -XEN_EBUSY;
      const old = atomic.cmpxchg<u32>(e, w, 0);
      if (old == w) break;
      w = old; // Xen changed the flags meanwhile: look again
    }
  }
  setOwned(ref, false);
  refsInUse--;
  return 0;
}

/**
 * The flags (GTF_*) of our grant entry `ref` as they are now, Xen's GTF_reading/GTF_writing
 * included (from the status frame under v2), for tests and debugging.
 */
export function gnttabEntryFlags(ref: grant_ref_t): u16 {
  if (maxFrames == 0 || ref >= nrFrames << refShift) return 0;
  const e = entryAddr(ref);
  return <u16>((atomic.load<u32>(e) & 0xffff) | inUseBits(ref, e));
}

// ---------------------------------------------------------------------------------------------
// SharedPage: a 4 KiB page shared with another domain, seen as local memory or as a mapped grant.

/** SharedPage.kind: not bound to any page. */
export const PAGE_NONE: u8 = 0;
/** SharedPage.kind: a page of our own memory (typically one we granted). */
export const PAGE_LOCAL: u8 = 1;
/** SharedPage.kind: another domain's grant, mapped by gnttabMap and reached through its handle. */
export const PAGE_GRANT: u8 = 2;

/**
 * One 4 KiB page shared with another domain, so that ring and driver code is written once.
 * Either a local page (direct atomics on our memory) or a mapped grant (the grant_* imports,
 * checked by Xen against the live mapping). Offsets are bytes in the page; 32-bit operations need
 * a 4-aligned offset. Operations are sequentially consistent atomics for 32-bit words and plain
 * copies for bulk data (make the data visible before publishing an index with store32).
 *
 * Errors follow docs/ABI.md §4 for both kinds: -XEN_EINVAL (unbound page, misaligned offset),
 * -XEN_EFAULT (range outside the page), -XEN_EPERM (write through a read-only mapping).
 * Functions that return data (load32, cmpxchg32) record the first error in `err` instead (and
 * return 0); check it after a batch of accesses. Allocated once by its owner, reused: the
 * accessors allocate nothing.
 */
export class SharedPage {
  /** PAGE_NONE, PAGE_LOCAL or PAGE_GRANT. */
  kind: u8 = PAGE_NONE;
  /** Whether writes are refused (a read-only mapping). */
  readonly: bool = false;
  /** PAGE_LOCAL: the page's address in our memory. */
  addr: usize = 0;
  /** PAGE_GRANT: the map handle, the granting domain and its ref. */
  handle: u32 = 0;
  dom: domid_t = 0;
  ref: grant_ref_t = 0;
  /** PAGE_GRANT with GNTMAP_device_map: the bus address for host devices. */
  devBusAddr: u64 = 0;
  /** The first error a load32/cmpxchg32 hit (0 if none); the caller resets it. */
  err: i32 = 0;

  /** A SharedPage over our own page at `addr` (page-aligned). */
  static local(addr: usize): SharedPage {
    const p = new SharedPage();
    p.setLocal(addr);
    return p;
  }

  /** Rebinds this object to our own page at `addr`. */
  setLocal(addr: usize): void {
    this.kind = PAGE_LOCAL;
    this.readonly = false;
    this.addr = addr;
    this.handle = 0;
    this.err = 0;
  }

  /** Whether the page is bound (local, or a live mapping). */
  get bound(): bool {
    return this.kind != PAGE_NONE;
  }

  @inline private check32(offset: u32): i32 {
    if (this.kind == PAGE_NONE || (offset & 3) != 0) return -XEN_EINVAL;
    if (<usize>offset > PAGE_SIZE - 4) return -XEN_EFAULT;
    return 0;
  }

  @inline private checkRange(offset: u32, len: u32): i32 {
    if (this.kind == PAGE_NONE) return -XEN_EINVAL;
    if (<usize>len > PAGE_SIZE || <usize>offset > PAGE_SIZE - <usize>len) return -XEN_EFAULT;
    return 0;
  }

  /** Atomically loads the u32 at `offset` (0 and `err` set on error). */
  load32(offset: u32): u32 {
    if (this.kind == PAGE_LOCAL) {
      const rc = this.check32(offset);
      if (rc < 0) { this.fail(rc); return 0; }
      return atomic.load<u32>(this.addr + <usize>offset);
    }
    const rc = this.kind == PAGE_GRANT ? grant_load32(<i32>this.handle, <i32>offset, <i32>OUT) : -XEN_EINVAL;
    if (rc < 0) { this.fail(rc); return 0; }
    return load<u32>(OUT);
  }

  /** Atomically stores `value` at `offset`; returns 0 or -XEN_Exxx. */
  store32(offset: u32, value: u32): i32 {
    if (this.kind == PAGE_LOCAL) {
      const rc = this.check32(offset);
      if (rc < 0) return rc;
      atomic.store<u32>(this.addr + <usize>offset, value);
      return 0;
    }
    if (this.kind != PAGE_GRANT) return -XEN_EINVAL;
    return grant_store32(<i32>this.handle, <i32>offset, <i32>value);
  }

  /**
   * Atomically replaces the u32 at `offset` with `replacement` if it equals `expected`; returns
   * the old value (the swap happened iff it equals `expected`; 0 and `err` set on error).
   */
  cmpxchg32(offset: u32, expected: u32, replacement: u32): u32 {
    if (this.kind == PAGE_LOCAL) {
      const rc = this.check32(offset);
      if (rc < 0) { this.fail(rc); return 0; }
      return atomic.cmpxchg<u32>(this.addr + <usize>offset, expected, replacement);
    }
    const rc = this.kind == PAGE_GRANT
      ? grant_cmpxchg32(<i32>this.handle, <i32>offset, <i32>expected, <i32>replacement, <i32>OUT)
      : -XEN_EINVAL;
    if (rc < 0) { this.fail(rc); return 0; }
    return load<u32>(OUT);
  }

  /** Copies `len` bytes from our memory at `src` into the page at `offset`; returns 0 or -XEN_Exxx. */
  copyIn(offset: u32, src: usize, len: u32): i32 {
    if (this.kind == PAGE_LOCAL) {
      const rc = this.checkRange(offset, len);
      if (rc < 0) return rc;
      memory.copy(this.addr + <usize>offset, src, <usize>len);
      return 0;
    }
    if (this.kind != PAGE_GRANT) return -XEN_EINVAL;
    return grant_copy_to(<i32>this.handle, <i32>offset, <i32>src, <i32>len);
  }

  /** Copies `len` bytes of the page at `offset` to our memory at `dst`; returns 0 or -XEN_Exxx. */
  copyOut(offset: u32, dst: usize, len: u32): i32 {
    if (this.kind == PAGE_LOCAL) {
      const rc = this.checkRange(offset, len);
      if (rc < 0) return rc;
      memory.copy(dst, this.addr + <usize>offset, <usize>len);
      return 0;
    }
    if (this.kind != PAGE_GRANT) return -XEN_EINVAL;
    return grant_copy_from(<i32>this.handle, <i32>offset, <i32>dst, <i32>len);
  }

  private fail(rc: i32): void {
    if (this.err == 0) this.err = rc;
  }
}

// ---------------------------------------------------------------------------------------------
// Mapping and copying other domains' grants.

/**
 * Maps `dom`'s grant `ref` (GNTTABOP_map_grant_ref) into `page` with GNTMAP_* `flags` (at least
 * GNTMAP_host_map or GNTMAP_device_map; GNTMAP_readonly for a read-only map). Returns Xen's
 * status: GNTST_okay (the page is now PAGE_GRANT and owns the mapping until gnttabUnmap), or a
 * GNTST_* error (the page is left as it was). A page that is already bound gives
 * GNTST_general_error (unmap it first: mappings are never dropped silently).
 */
export function gnttabMap(page: SharedPage, dom: domid_t, ref: grant_ref_t, flags: u32): i16 {
  if (page.kind != PAGE_NONE) return GNTST_general_error;
  const op = changetype<gnttab_map_grant_ref>(OP);
  memory.fill(OP, 0, offsetof<gnttab_map_grant_ref>());
  op.flags = flags;
  op.ref = ref;
  op.dom = dom;
  const rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, OP, 1);
  if (rc != 0) return GNTST_general_error;
  if (op.status != GNTST_okay) return op.status;
  page.kind = PAGE_GRANT;
  page.readonly = (flags & GNTMAP_readonly) != 0;
  page.addr = 0;
  page.handle = op.handle;
  page.dom = dom;
  page.ref = ref;
  page.devBusAddr = (flags & GNTMAP_device_map) != 0 ? op.dev_bus_addr : 0;
  page.err = 0;
  return GNTST_okay;
}

/**
 * Unmaps a page that gnttabMap mapped (GNTTABOP_unmap_grant_ref by its handle) and returns Xen's
 * status; on GNTST_okay the page is unbound (PAGE_NONE) and the granter may end its grant.
 * A local page is simply unbound (GNTST_okay); an unbound page gives GNTST_general_error.
 */
export function gnttabUnmap(page: SharedPage): i16 {
  if (page.kind == PAGE_LOCAL) {
    page.kind = PAGE_NONE;
    page.addr = 0;
    return GNTST_okay;
  }
  if (page.kind != PAGE_GRANT) return GNTST_general_error;
  const op = changetype<gnttab_unmap_grant_ref>(OP);
  memory.fill(OP, 0, offsetof<gnttab_unmap_grant_ref>());
  op.host_addr = 0;
  op.dev_bus_addr = page.devBusAddr;
  op.handle = page.handle;
  const rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, OP, 1);
  if (rc != 0) return GNTST_general_error;
  if (op.status != GNTST_okay) return op.status;
  page.kind = PAGE_NONE;
  page.handle = 0;
  page.devBusAddr = 0;
  return GNTST_okay;
}

/**
 * Issues `count` (1 or 2) GNTTABOP_copy entries already written at OP; returns the first non-okay
 * status, or GNTST_okay.
 */
function runCopies(count: i32): i16 {
  const rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, OP, count);
  if (rc != 0) return GNTST_general_error;
  for (let i = 0; i < count; i++) {
    const st = changetype<gnttab_copy>(OP + <usize>i * offsetof<gnttab_copy>()).status;
    if (st != GNTST_okay) return st;
  }
  return GNTST_okay;
}

/**
 * Fills one side of a GNTTABOP_copy entry (the gnttab_copy_ptr at `side`): our own memory at
 * `local` when it is not 0, else `dom`'s grant `ref` at `offset`. Returns `grefFlag` (the
 * entry's GNTCOPY_source_gref or GNTCOPY_dest_gref) for a grant side, 0 for ours. The caller
 * owns the entry; a side in our memory must not cross a page end.
 */
export function gnttabCopySide(side: usize, local: usize, dom: domid_t, ref: grant_ref_t, offset: u32, grefFlag: u32): u32 {
  const p = changetype<gnttab_copy_ptr>(side);
  p.__padding0 = 0;
  if (local != 0) {
    p.u_gmfn = <u64>addrToGfn(local);
    p.domid = DOMID_SELF;
    p.offset = <u16>(local & (PAGE_SIZE - 1));
    return 0;
  }
  p.u_ref = ref;
  p.domid = dom;
  p.offset = <u16>offset;
  return grefFlag;
}

/** Fills copy entry `i` at OP: grant side (dom, ref, offset) and local side (our address `local`). */
function fillCopy(i: i32, fromGrant: bool, dom: domid_t, ref: grant_ref_t, gOffset: u32, local: usize, len: u32): void {
  const c = changetype<gnttab_copy>(OP + <usize>i * offsetof<gnttab_copy>());
  const src = changetype<usize>(c), dst = src + offsetof<gnttab_copy>("dest_u_gmfn");
  const flags = gnttabCopySide(src, fromGrant ? 0 : local, dom, ref, gOffset, GNTCOPY_source_gref)
    | gnttabCopySide(dst, fromGrant ? local : 0, dom, ref, gOffset, GNTCOPY_dest_gref);
  c.len = <u16>len;
  c.flags = <u16>flags;
  c.status = 0;
  c.__padding2 = 0;
}

/** Sets up one or two copy entries (two when our side crosses a page boundary) and runs them. */
function copyGrant(fromGrant: bool, dom: domid_t, ref: grant_ref_t, gOffset: u32, local: usize, len: u32): i16 {
  if (<usize>len > PAGE_SIZE || <usize>gOffset > PAGE_SIZE - <usize>len) return GNTST_bad_copy_arg;
  const inPage = <u32>(PAGE_SIZE - (local & (PAGE_SIZE - 1)));
  if (len <= inPage) {
    fillCopy(0, fromGrant, dom, ref, gOffset, local, len);
    return runCopies(1);
  }
  fillCopy(0, fromGrant, dom, ref, gOffset, local, inPage);
  fillCopy(1, fromGrant, dom, ref, gOffset + inPage, local + <usize>inPage, len - inPage);
  return runCopies(2);
}

/**
 * Copies `len` bytes at `offset` of `dom`'s grant `ref` into our memory at `dst` with
 * GNTTABOP_copy (no mapping needed; `dst` may cross a page boundary). Returns GNTST_* status.
 */
export function gnttabCopyFrom(dom: domid_t, ref: grant_ref_t, offset: u32, dst: usize, len: u32): i16 {
  return copyGrant(true, dom, ref, offset, dst, len);
}

/**
 * Copies `len` bytes from our memory at `src` to `offset` of `dom`'s grant `ref` with
 * GNTTABOP_copy (the grant must be writable). Returns GNTST_* status.
 */
export function gnttabCopyTo(dom: domid_t, ref: grant_ref_t, offset: u32, src: usize, len: u32): i16 {
  return copyGrant(false, dom, ref, offset, src, len);
}
