// The shared_info page (xen.h `struct shared_info`): mapped by the guest into a frame of its own
// with XENMEM_add_to_physmap (docs/ABI.md §2), then read and written by both sides: Xen (the
// harness, possibly from another thread) raises pending bits, the selector and the upcall flag,
// and updates time; the guest clears what it handles and sets mask bits. Every access to a word
// both sides write goes through atomics (evtchn.ts, time.ts).
//
// Ownership: the frame belongs to Xen once mapped (frames.ts never reuses it).
import { shared_info, vcpu_info, DOMID_SELF } from "./xen/xen";
import { xen_add_to_physmap, XENMEM_add_to_physmap, XENMAPSPACE_shared_info } from "./xen/memory";
import { vcpu_register_vcpu_info, VCPUOP_register_vcpu_info } from "./xen/vcpu";
import { XEN_EINVAL } from "./xen/errno";
import { HYPERVISOR_memory_op, HYPERVISOR_vcpu_op } from "./hypercall";
import { frameAllocForXen, frameIsXens, addrToGfn } from "./frames";

let sharedAddr: usize = 0;
/** Where vCPU 0's vcpu_info is: in shared_info, or where vcpuInfoRegister placed it; 0 before either. */
let vcpuAddr: usize = 0;

// The argument of XENMEM_add_to_physmap (scratch: guest code never runs re-entrantly).
const PHYSMAP_ARG = memory.data(<i32>offsetof<xen_add_to_physmap>(), 8);

/**
 * Asks Xen to place a physmap page (`space`, `idx`) at the caller's frame `addr`
 * (XENMEM_add_to_physmap, domid DOMID_SELF); returns 0 or -XEN_Exxx. The frame must already be
 * recorded as Xen's (frames.ts frameAllocForXen).
 */
export function addToPhysmap(space: u32, idx: u64, addr: usize): i32 {
  const a = changetype<xen_add_to_physmap>(PHYSMAP_ARG);
  a.domid = DOMID_SELF;
  a.size = 0;
  a.space = space;
  a.idx = idx;
  a.gpfn = <u64>addrToGfn(addr);
  return HYPERVISOR_memory_op(XENMEM_add_to_physmap, PHYSMAP_ARG);
}

/**
 * Maps shared_info into a fresh frame given to Xen and returns 0 or the -XEN_Exxx of
 * XENMEM_add_to_physmap. Called once by boot(); a second call is a no-op returning 0.
 */
export function sharedInfoMap(): i32 {
  if (sharedAddr != 0) return 0;
  const frame = frameAllocForXen();
  const rc = addToPhysmap(XENMAPSPACE_shared_info, 0, frame);
  if (rc == 0) {
    sharedAddr = frame;
    if (vcpuAddr == 0) vcpuAddr = frame + offsetof<shared_info>("vcpu_info");
  }
  return rc;
}

/**
 * Moves vCPU 0's vcpu_info to `offset` (a multiple of 8) in the frame at `frame`, which must
 * already be Xen's (frameAllocForXen), with VCPUOP_register_vcpu_info, as Linux does for every
 * vCPU. Xen copies the current content and then marks every selector bit pending, so the next
 * upcall scans everything once. Possible once; returns 0 or -XEN_Exxx (-EINVAL: already placed,
 * bad offset or frame; -ENOSYS: a Xen without it, vcpu_info stays in shared_info).
 */
export function vcpuInfoRegister(frame: usize, offset: u32): i32 {
  if (!frameIsXens(frame) || offset > <u32>(4096 - offsetof<vcpu_info>()) || (offset & 7) != 0) return -XEN_EINVAL;
  const a = changetype<vcpu_register_vcpu_info>(PHYSMAP_ARG);
  a.mfn = <u64>addrToGfn(frame);
  a.offset = offset;
  a.rsvd = 0;
  const rc = HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, PHYSMAP_ARG);
  if (rc == 0) vcpuAddr = frame + offset;
  return rc;
}

/** The address of the mapped shared_info (0 before sharedInfoMap succeeded); Xen owns the page. */
@inline export function sharedInfoAddr(): usize {
  return sharedAddr;
}

/** The mapped shared_info as its @unmanaged struct (use atomics for words Xen writes). */
@inline export function sharedInfo(): shared_info {
  return changetype<shared_info>(sharedAddr);
}

/** The address of vCPU 0's vcpu_info: in shared_info, or where vcpuInfoRegister put it (0 before either). */
@inline export function vcpuInfoAddr(): usize {
  return vcpuAddr;
}

/** vCPU 0's vcpu_info (only vCPU 0 exists, docs/ABI.md §3); valid once shared_info is mapped or it is registered. */
@inline export function vcpuInfo(): vcpu_info {
  return changetype<vcpu_info>(vcpuInfoAddr());
}
