// Mirrors xen/include/public/grant_table.h: grant entries (v1/v2), GTF_* flags, GNTTABOP_* sub-ops
// of HYPERVISOR_grant_table_op with their argument structs, GNTMAP_*/GNTCOPY_* flags and GNTST_*.
// See docs/abi-layer.md for the conventions.
import { domid_t, xen_pfn_t, guest_handle } from "./xen";

/** C `grant_ref_t`: a reference to a grant entry in a domain's grant table. */
export type grant_ref_t = u32;
/** C `grant_handle_t`: the handle that tracks a mapping made through a grant reference. */
export type grant_handle_t = u32;
/** C `grant_status_t`: one entry of a version-2 grant status frame. */
export type grant_status_t = u16;

/**
 * A version-1 grant table entry (8 bytes; a v1 table is a packed array of these).
 * struct grant_entry_v1 { uint16_t flags; domid_t domid; uint32_t frame; };
 */
@unmanaged export class grant_entry_v1 {
  flags: u16;
  domid: domid_t;
  frame: u32;
}
// size=8
if (offsetof<grant_entry_v1>() != 8) ERROR("struct grant_entry_v1: size must be 8");

/** Grant entries preserved across version changes, and the two that tools pre-populate. */
export const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
export const GNTTAB_RESERVED_CONSOLE: grant_ref_t = 0;
export const GNTTAB_RESERVED_XENSTORE: grant_ref_t = 1;

/** Grant entry types (the GTF_type_mask bits of `flags`). */
export const GTF_invalid: u16 = 0;
export const GTF_permit_access: u16 = 1;
export const GTF_accept_transfer: u16 = 2;
export const GTF_transitive: u16 = 3;
export const GTF_type_mask: u16 = 3;

/** Subflags of GTF_permit_access and GTF_transitive: bit numbers (_GTF_*) and masks (GTF_*). */
export const _GTF_readonly: i32 = 2;
export const GTF_readonly: u16 = 1 << 2;
export const _GTF_reading: i32 = 3;
export const GTF_reading: u16 = 1 << 3;
export const _GTF_writing: i32 = 4;
export const GTF_writing: u16 = 1 << 4;
export const _GTF_PWT: i32 = 5;
export const GTF_PWT: u16 = 1 << 5;
export const _GTF_PCD: i32 = 6;
export const GTF_PCD: u16 = 1 << 6;
export const _GTF_PAT: i32 = 7;
export const GTF_PAT: u16 = 1 << 7;
export const _GTF_sub_page: i32 = 8;
export const GTF_sub_page: u16 = 1 << 8;

/** Subflags of GTF_accept_transfer, written by Xen: bit numbers (_GTF_*) and masks (GTF_*). */
export const _GTF_transfer_committed: i32 = 2;
export const GTF_transfer_committed: u16 = 1 << 2;
export const _GTF_transfer_completed: i32 = 3;
export const GTF_transfer_completed: u16 = 1 << 3;

/**
 * The prefix that version-1 and version-2 grant entries share.
 * struct grant_entry_header { uint16_t flags; domid_t domid; };
 */
@unmanaged export class grant_entry_header {
  flags: u16;
  domid: domid_t;
}
// size=4
if (offsetof<grant_entry_header>() != 4) ERROR("struct grant_entry_header: size must be 4");

/**
 * A version-2 grant table entry (16 bytes, 8-aligned), flattened over its union members.
 * union grant_entry_v2 {
 *     grant_entry_header_t hdr;
 *     struct { grant_entry_header_t hdr; uint32_t pad0; uint64_t frame; } full_page;
 *     struct { grant_entry_header_t hdr; uint16_t page_off; uint16_t length;
 *              uint64_t frame; } sub_page;
 *     struct { grant_entry_header_t hdr; domid_t trans_domid; uint16_t pad0;
 *              grant_ref_t gref; } transitive;
 *     uint32_t __spacer[4];
 * };
 * Fields are named after the sub_page member; the getters read the other members' views.
 * @ctype union grant_entry_v2
 */
@unmanaged export class grant_entry_v2 {
  hdr_flags: u16; // @c hdr, hdr.flags, full_page, full_page.hdr, full_page.hdr.flags, sub_page, sub_page.hdr, sub_page.hdr.flags, transitive, transitive.hdr, transitive.hdr.flags, __spacer
  hdr_domid: domid_t; // @c hdr.domid, full_page.hdr.domid, sub_page.hdr.domid, transitive.hdr.domid
  sub_page_page_off: u16; // @c sub_page.page_off, full_page.pad0, transitive.trans_domid
  sub_page_length: u16; // @c sub_page.length, transitive.pad0
  frame: u64; // @c full_page.frame, sub_page.frame, transitive.gref

  /** The union read as `transitive.trans_domid` (GTF_transitive). */
  get transitive_trans_domid(): domid_t { return load<u16>(changetype<usize>(this), offsetof<grant_entry_v2>("sub_page_page_off")); }
  set transitive_trans_domid(v: domid_t) { store<u16>(changetype<usize>(this), v, offsetof<grant_entry_v2>("sub_page_page_off")); }
  /** The union read as `transitive.gref` (GTF_transitive). */
  get transitive_gref(): grant_ref_t { return load<u32>(changetype<usize>(this), offsetof<grant_entry_v2>("frame")); }
  set transitive_gref(v: grant_ref_t) { store<u32>(changetype<usize>(this), v, offsetof<grant_entry_v2>("frame")); }
}
// size=16
if (offsetof<grant_entry_v2>() != 16) ERROR("union grant_entry_v2: size must be 16");

/** Sub-ops of HYPERVISOR_grant_table_op (`enum grant_table_op`). */
export const GNTTABOP_map_grant_ref: i32 = 0;
export const GNTTABOP_unmap_grant_ref: i32 = 1;
export const GNTTABOP_setup_table: i32 = 2;
export const GNTTABOP_dump_table: i32 = 3;
export const GNTTABOP_transfer: i32 = 4;
export const GNTTABOP_copy: i32 = 5;
export const GNTTABOP_query_size: i32 = 6;
export const GNTTABOP_unmap_and_replace: i32 = 7;
export const GNTTABOP_set_version: i32 = 8;
export const GNTTABOP_get_status_frames: i32 = 9;
export const GNTTABOP_get_version: i32 = 10;
export const GNTTABOP_swap_grant_ref: i32 = 11;
export const GNTTABOP_cache_flush: i32 = 12;

/**
 * GNTTABOP_map_grant_ref: maps the grant entry (dom, ref) for device and/or host access.
 * struct gnttab_map_grant_ref { uint64_t host_addr; uint32_t flags; grant_ref_t ref;
 *                               domid_t dom; int16_t status; grant_handle_t handle;
 *                               uint64_t dev_bus_addr; };
 */
@unmanaged export class gnttab_map_grant_ref {
  host_addr: u64;
  flags: u32;
  ref: grant_ref_t;
  dom: domid_t;
  status: i16;
  handle: grant_handle_t;
  dev_bus_addr: u64;
}
// size=32
if (offsetof<gnttab_map_grant_ref>() != 32) ERROR("struct gnttab_map_grant_ref: size must be 32");

/**
 * GNTTABOP_unmap_grant_ref: destroys a mapping tracked by `handle`.
 * struct gnttab_unmap_grant_ref { uint64_t host_addr; uint64_t dev_bus_addr;
 *                                 grant_handle_t handle; int16_t status; };
 */
@unmanaged export class gnttab_unmap_grant_ref {
  host_addr: u64;
  dev_bus_addr: u64;
  handle: grant_handle_t;
  status: i16;
  __padding0: u16;
}
// size=24
if (offsetof<gnttab_unmap_grant_ref>() != 24) ERROR("struct gnttab_unmap_grant_ref: size must be 24");

/**
 * GNTTABOP_setup_table: sets up a grant table of at least `nr_frames` pages for `dom` and
 * writes the frame numbers to the xen_pfn_t array at `frame_list`.
 * struct gnttab_setup_table { domid_t dom; uint32_t nr_frames; int16_t status;
 *                             XEN_GUEST_HANDLE(xen_pfn_t) frame_list; };
 */
@unmanaged export class gnttab_setup_table {
  dom: domid_t;
  __padding0: u16;
  nr_frames: u32;
  status: i16;
  __padding1: u16;
  __padding2: u32;
  frame_list: guest_handle;
}
// size=24
if (offsetof<gnttab_setup_table>() != 24) ERROR("struct gnttab_setup_table: size must be 24");

/**
 * GNTTABOP_dump_table: dumps `dom`'s grant table to the Xen console (debugging only).
 * struct gnttab_dump_table { domid_t dom; int16_t status; };
 */
@unmanaged export class gnttab_dump_table {
  dom: domid_t;
  status: i16;
}
// size=4
if (offsetof<gnttab_dump_table>() != 4) ERROR("struct gnttab_dump_table: size must be 4");

/**
 * GNTTABOP_transfer: transfers frame `mfn` to the foreign domain that offered (domid, ref).
 * struct gnttab_transfer { xen_pfn_t mfn; domid_t domid; grant_ref_t ref; int16_t status; };
 */
@unmanaged export class gnttab_transfer {
  mfn: xen_pfn_t;
  domid: domid_t;
  __padding0: u16;
  ref: grant_ref_t;
  status: i16;
  __padding1: u16;
  __padding2: u32;
}
// size=24
if (offsetof<gnttab_transfer>() != 24) ERROR("struct gnttab_transfer: size must be 24");

/** GNTTABOP_copy flags: the source and/or destination is a grant reference, not a frame. */
export const _GNTCOPY_source_gref: i32 = 0;
export const GNTCOPY_source_gref: u16 = 1 << 0;
export const _GNTCOPY_dest_gref: i32 = 1;
export const GNTCOPY_dest_gref: u16 = 1 << 1;

/**
 * One end of a GNTTABOP_copy: a grant reference or a frame number, its domain and an offset.
 * struct gnttab_copy_ptr { union { grant_ref_t ref; xen_pfn_t gmfn; } u;
 *                          domid_t domid; uint16_t offset; };
 */
@unmanaged export class gnttab_copy_ptr {
  u_gmfn: xen_pfn_t; // @c u, u.gmfn, u.ref
  domid: domid_t;
  offset: u16;
  __padding0: u32;

  /** The union read as `u.ref` (with GNTCOPY_source_gref / GNTCOPY_dest_gref). */
  get u_ref(): grant_ref_t { return load<u32>(changetype<usize>(this), offsetof<gnttab_copy_ptr>("u_gmfn")); }
  set u_ref(v: grant_ref_t) { store<u64>(changetype<usize>(this), <u64>v, offsetof<gnttab_copy_ptr>("u_gmfn")); }
}
// size=16
if (offsetof<gnttab_copy_ptr>() != 16) ERROR("struct gnttab_copy_ptr: size must be 16");

/**
 * GNTTABOP_copy: copies `len` bytes between two frames or grants, as `flags` (GNTCOPY_*) says.
 * struct gnttab_copy { struct gnttab_copy_ptr source, dest; uint16_t len; uint16_t flags;
 *                      int16_t status; };
 */
@unmanaged export class gnttab_copy {
  source_u_gmfn: xen_pfn_t; // @c source, source.u, source.u.gmfn, source.u.ref
  source_domid: domid_t; // @c source.domid
  source_offset: u16; // @c source.offset
  __padding0: u32;
  dest_u_gmfn: xen_pfn_t; // @c dest, dest.u, dest.u.gmfn, dest.u.ref
  dest_domid: domid_t; // @c dest.domid
  dest_offset: u16; // @c dest.offset
  __padding1: u32;
  len: u16;
  flags: u16;
  status: i16;
  __padding2: u16;

  /** The source union read as `source.u.ref` (GNTCOPY_source_gref). */
  get source_u_ref(): grant_ref_t { return load<u32>(changetype<usize>(this), offsetof<gnttab_copy>("source_u_gmfn")); }
  set source_u_ref(v: grant_ref_t) { store<u64>(changetype<usize>(this), <u64>v, offsetof<gnttab_copy>("source_u_gmfn")); }
  /** The destination union read as `dest.u.ref` (GNTCOPY_dest_gref). */
  get dest_u_ref(): grant_ref_t { return load<u32>(changetype<usize>(this), offsetof<gnttab_copy>("dest_u_gmfn")); }
  set dest_u_ref(v: grant_ref_t) { store<u64>(changetype<usize>(this), <u64>v, offsetof<gnttab_copy>("dest_u_gmfn")); }
}
// size=40
if (offsetof<gnttab_copy>() != 40) ERROR("struct gnttab_copy: size must be 40");

/**
 * GNTTABOP_query_size: reports the current and maximum grant table sizes of `dom`, in frames.
 * struct gnttab_query_size { domid_t dom; uint32_t nr_frames; uint32_t max_nr_frames;
 *                            int16_t status; };
 */
@unmanaged export class gnttab_query_size {
  dom: domid_t;
  __padding0: u16;
  nr_frames: u32;
  max_nr_frames: u32;
  status: i16;
  __padding1: u16;
}
// size=16
if (offsetof<gnttab_query_size>() != 16) ERROR("struct gnttab_query_size: size must be 16");

/**
 * GNTTABOP_unmap_and_replace: destroys a mapping and atomically points its PTE at `new_addr`.
 * struct gnttab_unmap_and_replace { uint64_t host_addr; uint64_t new_addr;
 *                                   grant_handle_t handle; int16_t status; };
 */
@unmanaged export class gnttab_unmap_and_replace {
  host_addr: u64;
  new_addr: u64;
  handle: grant_handle_t;
  status: i16;
  __padding0: u16;
}
// size=24
if (offsetof<gnttab_unmap_and_replace>() != 24) ERROR("struct gnttab_unmap_and_replace: size must be 24");

/**
 * GNTTABOP_set_version: selects grant table version 1 or 2 (in: requested; out: in effect).
 * struct gnttab_set_version { uint32_t version; };
 */
@unmanaged export class gnttab_set_version {
  version: u32;
}
// size=4
if (offsetof<gnttab_set_version>() != 4) ERROR("struct gnttab_set_version: size must be 4");

/**
 * GNTTABOP_get_status_frames: writes the frames of `dom`'s v2 status table to `frame_list`.
 * struct gnttab_get_status_frames { uint32_t nr_frames; domid_t dom; int16_t status;
 *                                   XEN_GUEST_HANDLE(uint64_t) frame_list; };
 */
@unmanaged export class gnttab_get_status_frames {
  nr_frames: u32;
  dom: domid_t;
  status: i16;
  frame_list: guest_handle;
}
// size=16
if (offsetof<gnttab_get_status_frames>() != 16) ERROR("struct gnttab_get_status_frames: size must be 16");

/**
 * GNTTABOP_get_version: reports the grant table version in effect for `dom`.
 * struct gnttab_get_version { domid_t dom; uint16_t pad; uint32_t version; };
 */
@unmanaged export class gnttab_get_version {
  dom: domid_t;
  pad: u16;
  version: u32;
}
// size=8
if (offsetof<gnttab_get_version>() != 8) ERROR("struct gnttab_get_version: size must be 8");

/**
 * GNTTABOP_swap_grant_ref: swaps the contents of two grant entries.
 * struct gnttab_swap_grant_ref { grant_ref_t ref_a; grant_ref_t ref_b; int16_t status; };
 */
@unmanaged export class gnttab_swap_grant_ref {
  ref_a: grant_ref_t;
  ref_b: grant_ref_t;
  status: i16;
  __padding0: u16;
}
// size=12
if (offsetof<gnttab_swap_grant_ref>() != 12) ERROR("struct gnttab_swap_grant_ref: size must be 12");

/** GNTTABOP_cache_flush operations (`op`), and the flag saying `a` holds a grant reference. */
export const GNTTAB_CACHE_CLEAN: u32 = 1 << 0;
export const GNTTAB_CACHE_INVAL: u32 = 1 << 1;
export const GNTTAB_CACHE_SOURCE_GREF: u32 = 1 << 31;

/**
 * GNTTABOP_cache_flush: cleans and/or invalidates caches over part of a granted page.
 * struct gnttab_cache_flush { union { uint64_t dev_bus_addr; grant_ref_t ref; } a;
 *                             uint16_t offset; uint16_t length; uint32_t op; };
 */
@unmanaged export class gnttab_cache_flush {
  a_dev_bus_addr: u64; // @c a, a.dev_bus_addr, a.ref
  offset: u16;
  length: u16;
  op: u32;

  /** The union read as `a.ref` (with GNTTAB_CACHE_SOURCE_GREF). */
  get a_ref(): grant_ref_t { return load<u32>(changetype<usize>(this), offsetof<gnttab_cache_flush>("a_dev_bus_addr")); }
  set a_ref(v: grant_ref_t) { store<u64>(changetype<usize>(this), <u64>v, offsetof<gnttab_cache_flush>("a_dev_bus_addr")); }
}
// size=16
if (offsetof<gnttab_cache_flush>() != 16) ERROR("struct gnttab_cache_flush: size must be 16");

/** gnttab_map_grant_ref.flags: bit numbers (_GNTMAP_*) and masks (GNTMAP_*). */
export const _GNTMAP_device_map: i32 = 0;
export const GNTMAP_device_map: u32 = 1 << 0;
export const _GNTMAP_host_map: i32 = 1;
export const GNTMAP_host_map: u32 = 1 << 1;
export const _GNTMAP_readonly: i32 = 2;
export const GNTMAP_readonly: u32 = 1 << 2;
export const _GNTMAP_application_map: i32 = 3;
export const GNTMAP_application_map: u32 = 1 << 3;
export const _GNTMAP_contains_pte: i32 = 4;
export const GNTMAP_contains_pte: u32 = 1 << 4;
export const _GNTMAP_guest_avail0: i32 = 16;
export const GNTMAP_guest_avail_mask: u32 = 0xffffffff << 16;

/** Grant operation status codes (`enum grant_status`, the `status` fields); errors are negative. */
export const GNTST_okay: i16 = 0;
export const GNTST_general_error: i16 = -1;
export const GNTST_bad_domain: i16 = -2;
export const GNTST_bad_gntref: i16 = -3;
export const GNTST_bad_handle: i16 = -4;
export const GNTST_bad_virt_addr: i16 = -5;
export const GNTST_bad_dev_addr: i16 = -6;
export const GNTST_no_device_space: i16 = -7;
export const GNTST_permission_denied: i16 = -8;
export const GNTST_bad_page: i16 = -9;
export const GNTST_bad_copy_arg: i16 = -10;
export const GNTST_address_too_big: i16 = -11;
export const GNTST_eagain: i16 = -12;
export const GNTST_no_space: i16 = -13;
