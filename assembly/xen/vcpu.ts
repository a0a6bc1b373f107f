// Mirrors xen/include/public/vcpu.h: VCPUOP_* sub-ops of HYPERVISOR_vcpu_op, their argument
// structs, RUNSTATE_* and VCPU_SSHOTTMR_*. See docs/abi-layer.md for the conventions.
// VCPUOP_initialise's argument, struct vcpu_guest_context, is in ./xen (arch-x86/xen.h).

/** Sub-ops of HYPERVISOR_vcpu_op (VCPUOP_*). */
export const VCPUOP_initialise: i32 = 0;
export const VCPUOP_up: i32 = 1;
export const VCPUOP_down: i32 = 2;
export const VCPUOP_is_up: i32 = 3;
export const VCPUOP_get_runstate_info: i32 = 4;
export const VCPUOP_register_runstate_memory_area: i32 = 5;
export const VCPUOP_set_periodic_timer: i32 = 6;
export const VCPUOP_stop_periodic_timer: i32 = 7;
export const VCPUOP_set_singleshot_timer: i32 = 8;
export const VCPUOP_stop_singleshot_timer: i32 = 9;
export const VCPUOP_register_vcpu_info: i32 = 10;
export const VCPUOP_send_nmi: i32 = 11;
export const VCPUOP_get_physid: i32 = 12;
export const VCPUOP_register_vcpu_time_memory_area: i32 = 13;

/**
 * A vCPU's current RUNSTATE_* and the time it has spent in each (VCPUOP_get_runstate_info).
 * struct vcpu_runstate_info { int state; uint64_t state_entry_time; uint64_t time[4]; };
 */
@unmanaged export class vcpu_runstate_info {
  state: i32;
  __padding0: u32;
  state_entry_time: u64;
  @array(4) time: u64;
}
// size=48
if (offsetof<vcpu_runstate_info>() != 48) ERROR("struct vcpu_runstate_info: size must be 48");

/** The bit of `state_entry_time` set while Xen updates a mapped vcpu_runstate_info. */
export const XEN_RUNSTATE_UPDATE: u64 = 0x8000000000000000;

/** vCPU run states (`vcpu_runstate_info.state`, and the index into its `time`). */
export const RUNSTATE_running: i32 = 0;
export const RUNSTATE_runnable: i32 = 1;
export const RUNSTATE_blocked: i32 = 2;
export const RUNSTATE_offline: i32 = 3;

/**
 * Registers guest memory that Xen keeps updated with the vCPU's vcpu_runstate_info.
 * struct vcpu_register_runstate_memory_area {
 *     union { XEN_GUEST_HANDLE(vcpu_runstate_info_t) h; struct vcpu_runstate_info *v;
 *             uint64_t p; } addr;
 * };
 */
@unmanaged export class vcpu_register_runstate_memory_area {
  addr: u64; // @c addr, addr.h, addr.v, addr.p
}
// size=8
if (offsetof<vcpu_register_runstate_memory_area>() != 8) ERROR("struct vcpu_register_runstate_memory_area: size must be 8");

/**
 * Sets the period of the vCPU's periodic VIRQ_TIMER (VCPUOP_set_periodic_timer).
 * struct vcpu_set_periodic_timer { uint64_t period_ns; };
 */
@unmanaged export class vcpu_set_periodic_timer {
  period_ns: u64;
}
// size=8
if (offsetof<vcpu_set_periodic_timer>() != 8) ERROR("struct vcpu_set_periodic_timer: size must be 8");

/**
 * Arms a one-shot VIRQ_TIMER at an absolute system time (VCPUOP_set_singleshot_timer).
 * struct vcpu_set_singleshot_timer { uint64_t timeout_abs_ns; uint32_t flags; };
 */
@unmanaged export class vcpu_set_singleshot_timer {
  timeout_abs_ns: u64;
  flags: u32;
  __padding0: u32;
}
// size=16
if (offsetof<vcpu_set_singleshot_timer>() != 16) ERROR("struct vcpu_set_singleshot_timer: size must be 16");

/** `vcpu_set_singleshot_timer.flags`: fail with -ETIME if the timeout is already past. */
export const _VCPU_SSHOTTMR_future: i32 = 0;
export const VCPU_SSHOTTMR_future: u32 = 1;

/**
 * Moves the vCPU's vcpu_info to a guest page (VCPUOP_register_vcpu_info).
 * struct vcpu_register_vcpu_info { uint64_t mfn; uint32_t offset; uint32_t rsvd; };
 */
@unmanaged export class vcpu_register_vcpu_info {
  mfn: u64;
  offset: u32;
  rsvd: u32;
}
// size=16
if (offsetof<vcpu_register_vcpu_info>() != 16) ERROR("struct vcpu_register_vcpu_info: size must be 16");

/**
 * The physical CPU id of a vCPU (VCPUOP_get_physid): x86 APIC id low, ACPI id high.
 * struct vcpu_get_physid { uint64_t phys_id; };
 */
@unmanaged export class vcpu_get_physid {
  phys_id: u64;
}
// size=8
if (offsetof<vcpu_get_physid>() != 8) ERROR("struct vcpu_get_physid: size must be 8");

/** The x86 APIC id in a vcpu_get_physid.phys_id. */
export function xen_vcpu_physid_to_x86_apicid(physid: u64): u32 { return <u32>physid; }
/** The x86 ACPI id in a vcpu_get_physid.phys_id. */
export function xen_vcpu_physid_to_x86_acpiid(physid: u64): u32 { return <u32>(physid >> 32); }

/**
 * Registers guest memory that Xen keeps updated with the vCPU's vcpu_time_info.
 * struct vcpu_register_time_memory_area {
 *     union { XEN_GUEST_HANDLE(vcpu_time_info_t) h; struct vcpu_time_info *v; uint64_t p; } addr;
 * };
 */
@unmanaged export class vcpu_register_time_memory_area {
  addr: u64; // @c addr, addr.h, addr.v, addr.p
}
// size=8
if (offsetof<vcpu_register_time_memory_area>() != 8) ERROR("struct vcpu_register_time_memory_area: size must be 8");
