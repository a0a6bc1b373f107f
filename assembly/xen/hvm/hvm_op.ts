// Mirrors xen/include/public/hvm/hvm_op.h: HVMOP_* sub-ops of HYPERVISOR_hvm_op and their
// argument structs (x86). See docs/abi-layer.md for the conventions. HVM_PARAM_* are in ./params.
import { domid_t, guest_handle } from "../xen";

/** Sub-ops setting and reading an HVM parameter (arg: xen_hvm_param; index: HVM_PARAM_*). */
export const HVMOP_set_param: i32 = 0;
export const HVMOP_get_param: i32 = 1;

/**
 * The argument of HVMOP_{set,get}_param.
 * struct xen_hvm_param { domid_t domid; uint16_t pad; uint32_t index; uint64_t value; };
 */
@unmanaged export class xen_hvm_param {
  domid: domid_t;
  pad: u16;
  index: u32;
  value: u64;
}
// size=16
if (offsetof<xen_hvm_param>() != 16) ERROR("struct xen_hvm_param: size must be 16");

/**
 * HVMOP_altp2m_{set,get}_suppress_ve: the "suppress #VE" bit of one gfn in a view.
 * struct xen_hvm_altp2m_suppress_ve { uint16_t view; uint8_t suppress_ve; uint8_t pad1;
 *                                     uint32_t pad2; uint64_t gfn; };
 */
@unmanaged export class xen_hvm_altp2m_suppress_ve {
  view: u16;
  suppress_ve: u8;
  pad1: u8;
  pad2: u32;
  gfn: u64;
}
// size=16
if (offsetof<xen_hvm_altp2m_suppress_ve>() != 16) ERROR("struct xen_hvm_altp2m_suppress_ve: size must be 16");

/**
 * HVMOP_altp2m_set_suppress_ve_multi: the "suppress #VE" bit of a gfn range in a view.
 * struct xen_hvm_altp2m_suppress_ve_multi { uint16_t view; uint8_t suppress_ve; uint8_t pad1;
 *     int32_t first_error; uint64_t first_gfn; uint64_t last_gfn; uint64_t first_error_gfn; };
 */
@unmanaged export class xen_hvm_altp2m_suppress_ve_multi {
  view: u16;
  suppress_ve: u8;
  pad1: u8;
  first_error: i32;
  first_gfn: u64;
  last_gfn: u64;
  first_error_gfn: u64;
}
// size=32
if (offsetof<xen_hvm_altp2m_suppress_ve_multi>() != 32) ERROR("struct xen_hvm_altp2m_suppress_ve_multi: size must be 32");

/** Flushes the TLBs of all vCPUs (arg: NULL). */
export const HVMOP_flush_tlbs: i32 = 5;

/** Memory types (`hvmmem_type_t`) reported by HVMOP_get_mem_type. */
export const HVMMEM_ram_rw: i32 = 0;
export const HVMMEM_ram_ro: i32 = 1;
export const HVMMEM_mmio_dm: i32 = 2;
export const HVMMEM_unused: i32 = 3;
export const HVMMEM_ioreq_server: i32 = 4;

/** Hints that a guest pagetable is about to be destroyed (arg: xen_hvm_pagetable_dying). */
export const HVMOP_pagetable_dying: i32 = 9;

/**
 * The argument of HVMOP_pagetable_dying.
 * struct xen_hvm_pagetable_dying { domid_t domid; uint16_t pad[3]; uint64_t gpa; };
 */
@unmanaged export class xen_hvm_pagetable_dying {
  domid: domid_t;
  @array(3) pad: u16;
  gpa: u64;
}
// size=16
if (offsetof<xen_hvm_pagetable_dying>() != 16) ERROR("struct xen_hvm_pagetable_dying: size must be 16");

/** Reads Xen's system time in nanoseconds since boot (arg: xen_hvm_get_time). */
export const HVMOP_get_time: i32 = 10;

/**
 * The argument of HVMOP_get_time.
 * struct xen_hvm_get_time { uint64_t now; };
 */
@unmanaged export class xen_hvm_get_time {
  now: u64;
}
// size=8
if (offsetof<xen_hvm_get_time>() != 8) ERROR("struct xen_hvm_get_time: size must be 8");

/** Writes a record to the Xen trace buffer (arg: xen_hvm_xentrace). */
export const HVMOP_xentrace: i32 = 11;

/**
 * The argument of HVMOP_xentrace.
 * struct xen_hvm_xentrace { uint16_t event, extra_bytes;
 *                           uint8_t extra[TRACE_EXTRA_MAX * sizeof(uint32_t)]; };
 * TRACE_EXTRA_MAX (trace.h) is 7, so `extra` is 28 bytes.
 */
@unmanaged export class xen_hvm_xentrace {
  event: u16;
  extra_bytes: u16;
  @array(28) extra: u8;
}
// size=32
if (offsetof<xen_hvm_xentrace>() != 32) ERROR("struct xen_hvm_xentrace: size must be 32");

/** Reads the hvmmem_type_t of a guest frame (arg: xen_hvm_get_mem_type). */
export const HVMOP_get_mem_type: i32 = 15;

/**
 * The argument of HVMOP_get_mem_type.
 * struct xen_hvm_get_mem_type { domid_t domid; uint16_t mem_type; uint16_t pad[2];
 *                               uint64_t pfn; };
 */
@unmanaged export class xen_hvm_get_mem_type {
  domid: domid_t;
  mem_type: u16;
  @array(2) pad: u16;
  pfn: u64;
}
// size=16
if (offsetof<xen_hvm_get_mem_type>() != 16) ERROR("struct xen_hvm_get_mem_type: size must be 16");

/** Sets the vector used for event-channel upcalls on one vCPU (x86; arg: xen_hvm_evtchn_upcall_vector). */
export const HVMOP_set_evtchn_upcall_vector: i32 = 23;

/**
 * The argument of HVMOP_set_evtchn_upcall_vector.
 * struct xen_hvm_evtchn_upcall_vector { uint32_t vcpu; uint8_t vector; };
 */
@unmanaged export class xen_hvm_evtchn_upcall_vector {
  vcpu: u32;
  vector: u8;
  __padding0: u8;
  __padding1: u16;
}
// size=8
if (offsetof<xen_hvm_evtchn_upcall_vector>() != 8) ERROR("struct xen_hvm_evtchn_upcall_vector: size must be 8");

/** Sends a guest-requested vm_event to the monitor (arg: NULL). */
export const HVMOP_guest_request_vm_event: i32 = 24;

/** Performs an altp2m operation (arg: xen_hvm_altp2m_op). */
export const HVMOP_altp2m: i32 = 25;

/** The interface version expected in `xen_hvm_altp2m_op.version`. */
export const HVMOP_ALTP2M_INTERFACE_VERSION: u32 = 0x00000001;

/**
 * HVMOP_altp2m_{get,set}_domain_state: altp2m on or off for a domain.
 * struct xen_hvm_altp2m_domain_state { uint8_t state; };
 */
@unmanaged export class xen_hvm_altp2m_domain_state {
  state: u8;
}
// size=1
if (offsetof<xen_hvm_altp2m_domain_state>() != 1) ERROR("struct xen_hvm_altp2m_domain_state: size must be 1");

/**
 * HVMOP_altp2m_vcpu_enable_notify: the #VE info page of a vCPU.
 * struct xen_hvm_altp2m_vcpu_enable_notify { uint32_t vcpu_id; uint32_t pad; uint64_t gfn; };
 */
@unmanaged export class xen_hvm_altp2m_vcpu_enable_notify {
  vcpu_id: u32;
  pad: u32;
  gfn: u64;
}
// size=16
if (offsetof<xen_hvm_altp2m_vcpu_enable_notify>() != 16) ERROR("struct xen_hvm_altp2m_vcpu_enable_notify: size must be 16");

/**
 * HVMOP_altp2m_vcpu_disable_notify: the vCPU to stop notifying.
 * struct xen_hvm_altp2m_vcpu_disable_notify { uint32_t vcpu_id; };
 */
@unmanaged export class xen_hvm_altp2m_vcpu_disable_notify {
  vcpu_id: u32;
}
// size=4
if (offsetof<xen_hvm_altp2m_vcpu_disable_notify>() != 4) ERROR("struct xen_hvm_altp2m_vcpu_disable_notify: size must be 4");

/**
 * HVMOP_altp2m_{create,destroy,switch}_p2m: a view and its default access.
 * struct xen_hvm_altp2m_view { uint16_t view; uint16_t hvmmem_default_access; };
 */
@unmanaged export class xen_hvm_altp2m_view {
  view: u16;
  hvmmem_default_access: u16;
}
// size=4
if (offsetof<xen_hvm_altp2m_view>() != 4) ERROR("struct xen_hvm_altp2m_view: size must be 4");

/**
 * HVMOP_altp2m_{set,get}_mem_access: the access (xenmem_access_t) of one gfn in a view.
 * struct xen_hvm_altp2m_mem_access { uint16_t view; uint16_t access; uint32_t pad;
 *                                    uint64_t gfn; };
 */
@unmanaged export class xen_hvm_altp2m_mem_access {
  view: u16;
  access: u16;
  pad: u32;
  gfn: u64;
}
// size=16
if (offsetof<xen_hvm_altp2m_mem_access>() != 16) ERROR("struct xen_hvm_altp2m_mem_access: size must be 16");

/**
 * HVMOP_altp2m_set_mem_access_multi: the access of a list of pfns in a view.
 * struct xen_hvm_altp2m_set_mem_access_multi { uint16_t view; uint16_t pad; uint32_t nr;
 *     uint64_t opaque; XEN_GUEST_HANDLE(const_uint64) pfn_list;
 *     XEN_GUEST_HANDLE(const_uint8) access_list; };
 */
@unmanaged export class xen_hvm_altp2m_set_mem_access_multi {
  view: u16;
  pad: u16;
  nr: u32;
  opaque: u64;
  pfn_list: guest_handle;
  access_list: guest_handle;
}
// size=32
if (offsetof<xen_hvm_altp2m_set_mem_access_multi>() != 32) ERROR("struct xen_hvm_altp2m_set_mem_access_multi: size must be 32");

/**
 * HVMOP_altp2m_change_gfn: remaps `old_gfn` to `new_gfn`'s frame in a view (~0 reverts).
 * struct xen_hvm_altp2m_change_gfn { uint16_t view; uint16_t pad1; uint32_t pad2;
 *                                    uint64_t old_gfn; uint64_t new_gfn; };
 */
@unmanaged export class xen_hvm_altp2m_change_gfn {
  view: u16;
  pad1: u16;
  pad2: u32;
  old_gfn: u64;
  new_gfn: u64;
}
// size=24
if (offsetof<xen_hvm_altp2m_change_gfn>() != 24) ERROR("struct xen_hvm_altp2m_change_gfn: size must be 24");

/**
 * HVMOP_altp2m_get_p2m_idx: the view a vCPU is using.
 * struct xen_hvm_altp2m_get_vcpu_p2m_idx { uint32_t vcpu_id; uint16_t altp2m_idx; };
 */
@unmanaged export class xen_hvm_altp2m_get_vcpu_p2m_idx {
  vcpu_id: u32;
  altp2m_idx: u16;
  __padding0: u16;
}
// size=8
if (offsetof<xen_hvm_altp2m_get_vcpu_p2m_idx>() != 8) ERROR("struct xen_hvm_altp2m_get_vcpu_p2m_idx: size must be 8");

/**
 * HVMOP_altp2m_set_visibility: whether a view is visible to the guest.
 * struct xen_hvm_altp2m_set_visibility { uint16_t altp2m_idx; uint8_t visible; uint8_t pad; };
 */
@unmanaged export class xen_hvm_altp2m_set_visibility {
  altp2m_idx: u16;
  visible: u8;
  pad: u8;
}
// size=4
if (offsetof<xen_hvm_altp2m_set_visibility>() != 4) ERROR("struct xen_hvm_altp2m_set_visibility: size must be 4");

/** `xen_hvm_altp2m_op.cmd` values (HVMOP_altp2m_*). */
export const HVMOP_altp2m_get_domain_state: u32 = 1;
export const HVMOP_altp2m_set_domain_state: u32 = 2;
export const HVMOP_altp2m_vcpu_enable_notify: u32 = 3;
export const HVMOP_altp2m_create_p2m: u32 = 4;
export const HVMOP_altp2m_destroy_p2m: u32 = 5;
export const HVMOP_altp2m_switch_p2m: u32 = 6;
export const HVMOP_altp2m_set_mem_access: u32 = 7;
export const HVMOP_altp2m_change_gfn: u32 = 8;
export const HVMOP_altp2m_set_mem_access_multi: u32 = 9;
export const HVMOP_altp2m_set_suppress_ve: u32 = 10;
export const HVMOP_altp2m_get_suppress_ve: u32 = 11;
export const HVMOP_altp2m_get_mem_access: u32 = 12;
export const HVMOP_altp2m_vcpu_disable_notify: u32 = 13;
export const HVMOP_altp2m_get_p2m_idx: u32 = 14;
export const HVMOP_altp2m_set_suppress_ve_multi: u32 = 15;
export const HVMOP_altp2m_set_visibility: u32 = 16;

/**
 * The argument of HVMOP_altp2m: a command and its per-command struct in `u`.
 * struct xen_hvm_altp2m_op {
 *     uint32_t version; uint32_t cmd; domid_t domain; uint16_t pad1; uint32_t pad2;
 *     union { struct xen_hvm_altp2m_domain_state domain_state; ...
 *             struct xen_hvm_altp2m_suppress_ve_multi suppress_ve_multi; ...
 *             uint8_t pad[64]; } u;
 * };
 * The union (64 bytes, 8-aligned) is reached through `u`, read through the member's class.
 */
@unmanaged export class xen_hvm_altp2m_op {
  version: u32;
  cmd: u32;
  domain: domid_t;
  pad1: u16;
  pad2: u32;
  @array(8) u: u64; // @c u, u.pad, u.domain_state, u.enable_notify, u.view, u.mem_access, u.change_gfn, u.set_mem_access_multi, u.suppress_ve, u.suppress_ve_multi, u.disable_notify, u.get_vcpu_p2m_idx, u.set_visibility
}
// size=80
if (offsetof<xen_hvm_altp2m_op>() != 80) ERROR("struct xen_hvm_altp2m_op: size must be 80");
