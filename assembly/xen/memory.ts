// Mirrors xen/include/public/memory.h: XENMEM_* sub-ops of HYPERVISOR_memory_op, their argument
// structs, XENMEMF_* and XENMAPSPACE_*. See docs/abi-layer.md for the conventions.
import { domid_t, guest_handle, xen_pfn_t, xen_ulong_t } from "./xen";

/** Sub-ops that grow, shrink or populate a domain's memory (arg: xen_memory_reservation). */
export const XENMEM_increase_reservation: i32 = 0;
export const XENMEM_decrease_reservation: i32 = 1;
export const XENMEM_populate_physmap: i32 = 6;

/** Builds the XENMEMF address-bits field: the highest address the extents may have, in bits. */
export function XENMEMF_address_bits(x: u32): u32 { return x; }
/** Reads the address-bits field of XENMEMF flags. */
export function XENMEMF_get_address_bits(x: u32): u32 { return x & 0xff; }
/** Builds the XENMEMF NUMA-node field: allocate from node `x`. */
export function XENMEMF_node(x: u32): u32 { return (x + 1) << 8; }
/** Reads the NUMA-node field of XENMEMF flags. */
export function XENMEMF_get_node(x: u32): u32 { return ((x >> 8) - 1) & 0xff; }
/** Builds XENMEMF flags that allocate only from NUMA node `n`. */
export function XENMEMF_exact_node(n: u32): u32 { return XENMEMF_node(n) | XENMEMF_exact_node_request; }

/** `xen_memory_reservation.mem_flags` bits: populate-on-demand, exact node, virtual node. */
export const XENMEMF_populate_on_demand: u32 = 0x10000;
export const XENMEMF_exact_node_request: u32 = 0x20000;
export const XENMEMF_vnode: u32 = 0x40000;

/**
 * The argument of XENMEM_{increase,decrease}_reservation and XENMEM_populate_physmap.
 * struct xen_memory_reservation {
 *     XEN_GUEST_HANDLE(xen_pfn_t) extent_start; xen_ulong_t nr_extents;
 *     unsigned int extent_order; unsigned int mem_flags; domid_t domid;
 * };
 */
@unmanaged export class xen_memory_reservation {
  extent_start: guest_handle;
  nr_extents: xen_ulong_t;
  extent_order: u32;
  mem_flags: u32;
  domid: domid_t;
  __padding0: u16;
  __padding1: u32;
}
// size=32
if (offsetof<xen_memory_reservation>() != 32) ERROR("struct xen_memory_reservation: size must be 32");

/** Atomically exchanges memory extents for new ones (PV only; arg: xen_memory_exchange). */
export const XENMEM_exchange: i32 = 11;

/**
 * The argument of XENMEM_exchange; `nr_exchanged` must be zero on entry.
 * struct xen_memory_exchange { struct xen_memory_reservation in;
 *                              struct xen_memory_reservation out; xen_ulong_t nr_exchanged; };
 * `in` and `out` are flattened; each can also be read through xen_memory_reservation.
 */
@unmanaged export class xen_memory_exchange {
  in_extent_start: guest_handle; // @c in, in.extent_start
  in_nr_extents: xen_ulong_t; // @c in.nr_extents
  in_extent_order: u32; // @c in.extent_order
  in_mem_flags: u32; // @c in.mem_flags
  in_domid: domid_t; // @c in.domid
  __padding0: u16;
  __padding1: u32;
  out_extent_start: guest_handle; // @c out, out.extent_start
  out_nr_extents: xen_ulong_t; // @c out.nr_extents
  out_extent_order: u32; // @c out.extent_order
  out_mem_flags: u32; // @c out.mem_flags
  out_domid: domid_t; // @c out.domid
  __padding2: u16;
  __padding3: u32;
  nr_exchanged: xen_ulong_t;
}
// size=72
if (offsetof<xen_memory_exchange>() != 72) ERROR("struct xen_memory_exchange: size must be 72");

/** Returns the highest machine frame of mapped RAM (arg: NULL). */
export const XENMEM_maximum_ram_page: i32 = 2;

/**
 * The domain queried by XENMEM_{current,maximum}_reservation and XENMEM_maximum_gpfn.
 * struct xen_memory_domain { domid_t domid; };
 */
@unmanaged export class xen_memory_domain {
  domid: domid_t;
}
// size=2
if (offsetof<xen_memory_domain>() != 2) ERROR("struct xen_memory_domain: size must be 2");

/** Sub-ops returning a domain's current or maximum reservation, or highest GFN (arg: xen_memory_domain). */
export const XENMEM_current_reservation: i32 = 3;
export const XENMEM_maximum_reservation: i32 = 4;
export const XENMEM_maximum_gpfn: i32 = 14;

/** Sub-ops listing the MFNs of the (compat) machine-to-phys table (arg: xen_machphys_mfn_list). */
export const XENMEM_machphys_mfn_list: i32 = 5;
export const XENMEM_machphys_compat_mfn_list: i32 = 25;

/**
 * The argument of XENMEM_machphys_mfn_list: a buffer for the 2MB extents of the M2P table.
 * struct xen_machphys_mfn_list { unsigned int max_extents;
 *                                XEN_GUEST_HANDLE(xen_pfn_t) extent_start;
 *                                unsigned int nr_extents; };
 */
@unmanaged export class xen_machphys_mfn_list {
  max_extents: u32;
  __padding0: u32;
  extent_start: guest_handle;
  nr_extents: u32;
  __padding1: u32;
}
// size=24
if (offsetof<xen_machphys_mfn_list>() != 24) ERROR("struct xen_machphys_mfn_list: size must be 24");

/** Returns where the M2P table is mapped (arg: xen_machphys_mapping). */
export const XENMEM_machphys_mapping: i32 = 12;

/**
 * The virtual range of the M2P table and the highest MFN it covers (XENMEM_machphys_mapping).
 * struct xen_machphys_mapping { xen_ulong_t v_start, v_end; xen_ulong_t max_mfn; };
 */
@unmanaged export class xen_machphys_mapping {
  v_start: xen_ulong_t;
  v_end: xen_ulong_t;
  max_mfn: xen_ulong_t;
}
// size=24
if (offsetof<xen_machphys_mapping>() != 24) ERROR("struct xen_machphys_mapping: size must be 24");

/** Source spaces of XENMEM_add_to_physmap (`enum phys_map_space`; dev_mmio is ARM-only). */
export const XENMAPSPACE_shared_info: u32 = 0;
export const XENMAPSPACE_grant_table: u32 = 1;
export const XENMAPSPACE_gmfn: u32 = 2;
export const XENMAPSPACE_gmfn_range: u32 = 3;
export const XENMAPSPACE_gmfn_foreign: u32 = 4;

/** Maps a page of a space at a GPFN (translated guests; arg: xen_add_to_physmap). */
export const XENMEM_add_to_physmap: i32 = 7;

/** ORed into `idx` with XENMAPSPACE_grant_table: map a grant status frame, not a shared one. */
export const XENMAPIDX_grant_table_status: u32 = 0x80000000;

/**
 * The argument of XENMEM_add_to_physmap.
 * struct xen_add_to_physmap { domid_t domid; uint16_t size; unsigned int space;
 *                             xen_ulong_t idx; xen_pfn_t gpfn; };
 */
@unmanaged export class xen_add_to_physmap {
  domid: domid_t;
  size: u16;
  space: u32;
  idx: xen_ulong_t;
  gpfn: xen_pfn_t;
}
// size=24
if (offsetof<xen_add_to_physmap>() != 24) ERROR("struct xen_add_to_physmap: size must be 24");

/** The batched XENMEM_add_to_physmap (arg: xen_add_to_physmap_batch). */
export const XENMEM_add_to_physmap_batch: i32 = 23;

/**
 * The union in xen_add_to_physmap_batch: the foreign domain for gmfn_foreign, else 0.
 * @ctype union xen_add_to_physmap_batch_extra
 * union xen_add_to_physmap_batch_extra { domid_t foreign_domid; uint16_t res0; };
 */
@unmanaged export class xen_add_to_physmap_batch_extra {
  foreign_domid: domid_t; // @c foreign_domid, res0
}
// size=2
if (offsetof<xen_add_to_physmap_batch_extra>() != 2) ERROR("union xen_add_to_physmap_batch_extra: size must be 2");

/**
 * The argument of XENMEM_add_to_physmap_batch; Xen writes a per-index error to `errs`.
 * struct xen_add_to_physmap_batch {
 *     domid_t domid; uint16_t space; uint16_t size;
 *     union xen_add_to_physmap_batch_extra { domid_t foreign_domid; uint16_t res0; } u;
 *     XEN_GUEST_HANDLE(xen_ulong_t) idxs; XEN_GUEST_HANDLE(xen_pfn_t) gpfns;
 *     XEN_GUEST_HANDLE(int) errs;
 * };
 */
@unmanaged export class xen_add_to_physmap_batch {
  domid: domid_t;
  space: u16;
  size: u16;
  u_foreign_domid: domid_t; // @c u, u.foreign_domid, u.res0
  idxs: guest_handle;
  gpfns: guest_handle;
  errs: guest_handle;
}
// size=32
if (offsetof<xen_add_to_physmap_batch>() != 32) ERROR("struct xen_add_to_physmap_batch: size must be 32");

/** Unmaps the page at a GPFN (translated guests; arg: xen_remove_from_physmap). */
export const XENMEM_remove_from_physmap: i32 = 15;

/**
 * The argument of XENMEM_remove_from_physmap.
 * struct xen_remove_from_physmap { domid_t domid; xen_pfn_t gpfn; };
 */
@unmanaged export class xen_remove_from_physmap {
  domid: domid_t;
  __padding0: u16;
  __padding1: u32;
  gpfn: xen_pfn_t;
}
// size=16
if (offsetof<xen_remove_from_physmap>() != 16) ERROR("struct xen_remove_from_physmap: size must be 16");

/** Sub-ops reading the domain's or the machine's E820 memory map (arg: xen_memory_map). */
export const XENMEM_memory_map: i32 = 9;
export const XENMEM_machine_memory_map: i32 = 10;

/**
 * An E820-format memory map buffer: `nr_entries` is its capacity in, the entries written out.
 * struct xen_memory_map { unsigned int nr_entries; XEN_GUEST_HANDLE(void) buffer; };
 */
@unmanaged export class xen_memory_map {
  nr_entries: u32;
  __padding0: u32;
  buffer: guest_handle;
}
// size=16
if (offsetof<xen_memory_map>() != 16) ERROR("struct xen_memory_map: size must be 16");

/** Sets another domain's memory map (arg: xen_foreign_memory_map). */
export const XENMEM_set_memory_map: i32 = 13;

/**
 * The argument of XENMEM_set_memory_map.
 * struct xen_foreign_memory_map { domid_t domid; struct xen_memory_map map; };
 */
@unmanaged export class xen_foreign_memory_map {
  domid: domid_t;
  __padding0: u16;
  __padding1: u32;
  map_nr_entries: u32; // @c map, map.nr_entries
  __padding2: u32;
  map_buffer: guest_handle; // @c map.buffer
}
// size=24
if (offsetof<xen_foreign_memory_map>() != 24) ERROR("struct xen_foreign_memory_map: size must be 24");

/** Sub-ops setting or reading a domain's populate-on-demand target (arg: xen_pod_target). */
export const XENMEM_set_pod_target: i32 = 16;
export const XENMEM_get_pod_target: i32 = 17;

/**
 * The argument of XENMEM_{set,get}_pod_target.
 * struct xen_pod_target { uint64_t target_pages; uint64_t tot_pages; uint64_t pod_cache_pages;
 *                         uint64_t pod_entries; domid_t domid; };
 */
@unmanaged export class xen_pod_target {
  target_pages: u64;
  tot_pages: u64;
  pod_cache_pages: u64;
  pod_entries: u64;
  domid: domid_t;
  __padding0: u16;
  __padding1: u32;
}
// size=40
if (offsetof<xen_pod_target>() != 40) ERROR("struct xen_pod_target: size must be 40");

/** Maps the frames of a guest resource into the caller (arg: xen_mem_acquire_resource). */
export const XENMEM_acquire_resource: i32 = 28;

/** `xen_mem_acquire_resource.type` values. */
export const XENMEM_resource_ioreq_server: u16 = 0;
export const XENMEM_resource_grant_table: u16 = 1;
export const XENMEM_resource_vmtrace_buf: u16 = 2;

/** `xen_mem_acquire_resource.id` values for XENMEM_resource_grant_table. */
export const XENMEM_resource_grant_table_id_shared: u32 = 0;
export const XENMEM_resource_grant_table_id_status: u32 = 1;

/** The `frame` of an ioreq server's buffered ioreq page. */
export const XENMEM_resource_ioreq_server_frame_bufioreq: u64 = 0;
/** The `frame` of an ioreq server's n-th synchronous ioreq page. */
export function XENMEM_resource_ioreq_server_frame_ioreq(n: u64): u64 { return 1 + n; }

/**
 * The argument of XENMEM_acquire_resource.
 * struct xen_mem_acquire_resource {
 *     domid_t domid; uint16_t type; uint32_t id; uint32_t nr_frames; uint32_t pad;
 *     uint64_t frame; XEN_GUEST_HANDLE(xen_pfn_t) frame_list;
 * };
 */
@unmanaged export class xen_mem_acquire_resource {
  domid: domid_t;
  type: u16;
  id: u32;
  nr_frames: u32;
  pad: u32;
  frame: u64;
  frame_list: guest_handle;
}
// size=32
if (offsetof<xen_mem_acquire_resource>() != 32) ERROR("struct xen_mem_acquire_resource: size must be 32");

/** Reads the guest's vNUMA topology (arg: xen_vnuma_topology_info). */
export const XENMEM_get_vnumainfo: i32 = 26;

/**
 * One vNUMA memory range.
 * struct xen_vmemrange { uint64_t start, end; unsigned int flags; unsigned int nid; };
 */
@unmanaged export class xen_vmemrange {
  start: u64;
  end: u64;
  flags: u32;
  nid: u32;
}
// size=24
if (offsetof<xen_vmemrange>() != 24) ERROR("struct xen_vmemrange: size must be 24");

/**
 * The argument of XENMEM_get_vnumainfo: counts in/out and buffers for the topology.
 * struct xen_vnuma_topology_info {
 *     domid_t domid; uint16_t pad; unsigned int nr_vnodes; unsigned int nr_vcpus;
 *     unsigned int nr_vmemranges;
 *     union { XEN_GUEST_HANDLE(uint) h; uint64_t pad; } vdistance;
 *     union { XEN_GUEST_HANDLE(uint) h; uint64_t pad; } vcpu_to_vnode;
 *     union { XEN_GUEST_HANDLE(xen_vmemrange_t) h; uint64_t pad; } vmemrange;
 * };
 */
@unmanaged export class xen_vnuma_topology_info {
  domid: domid_t;
  pad: u16;
  nr_vnodes: u32;
  nr_vcpus: u32;
  nr_vmemranges: u32;
  vdistance: guest_handle; // @c vdistance, vdistance.h, vdistance.pad
  vcpu_to_vnode: guest_handle; // @c vcpu_to_vnode, vcpu_to_vnode.h, vcpu_to_vnode.pad
  vmemrange: guest_handle; // @c vmemrange, vmemrange.h, vmemrange.pad
}
// size=40
if (offsetof<xen_vnuma_topology_info>() != 40) ERROR("struct xen_vnuma_topology_info: size must be 40");
