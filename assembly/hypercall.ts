// The hypercall ABI (docs/ABI.md §3): the imports of module `xen`, exactly as the harness
// provides them (i32 everywhere, pointers are guest physical addresses = linear memory offsets),
// and thin typed wrappers named after Mini-OS/Linux's HYPERVISOR_* functions.
//
// Ownership: every pointer passed here points at a struct with Xen's layout (assembly/xen/) that
// the caller owns for the duration of the call; Xen writes its results into it before returning.
// Results are Xen's: 0 (or a documented non-negative value) or -XEN_Exxx (assembly/xen/errno.ts).
// A guest imports only what it uses: an import no code reaches is dropped by the compiler.

// ---------------------------------------------------------------------------------------------
// The raw imports (docs/ABI.md §3 table). Named as the harness names them.

/** `HYPERVISOR_event_channel_op(cmd, arg)`: an EVTCHNOP_* on the evtchn_* struct at `arg`. */
@external("xen", "event_channel_op")
export declare function event_channel_op(cmd: i32, arg: i32): i32;

/** `HYPERVISOR_grant_table_op(cmd, arg, count)`: `count` GNTTABOP_* structs at `arg`, each with its own status. */
@external("xen", "grant_table_op")
export declare function grant_table_op(cmd: i32, arg: i32, count: i32): i32;

/** `HYPERVISOR_sched_op(cmd, arg)`: a SCHEDOP_*; SCHEDOP_shutdown does not return. */
@external("xen", "sched_op")
export declare function sched_op(cmd: i32, arg: i32): i32;

/** `HYPERVISOR_memory_op(cmd, arg)`: a XENMEM_* on the struct at `arg`. */
@external("xen", "memory_op")
export declare function memory_op(cmd: i32, arg: i32): i32;

/** `HYPERVISOR_console_io(cmd, count, buf)`: CONSOLEIO_write writes `count` bytes at `buf` to the host console. */
@external("xen", "console_io")
export declare function console_io(cmd: i32, count: i32, buf: i32): i32;

/** `HYPERVISOR_xen_version(cmd, arg)`: a XENVER_* query; some write a buffer at `arg`. */
@external("xen", "xen_version")
export declare function xen_version(cmd: i32, arg: i32): i32;

/** `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)`: a VCPUOP_* for vCPU `vcpuid` (only 0 exists). */
@external("xen", "vcpu_op")
export declare function vcpu_op(cmd: i32, vcpuid: i32, arg: i32): i32;

/** `HYPERVISOR_hvm_op(cmd, arg)`: HVMOP_get_param / HVMOP_set_param on a xen_hvm_param. */
@external("xen", "hvm_op")
export declare function hvm_op(cmd: i32, arg: i32): i32;

/** The TSC: ticks that vcpu_time_info converts to ns (docs/ABI.md §5). */
@external("xen", "rdtsc")
export declare function rdtsc(): i64;

/** Copies `len` bytes at `offset` of the mapped grant `handle` to local address `dst` (docs/ABI.md §4). */
@external("xen", "grant_copy_from")
export declare function grant_copy_from(handle: i32, offset: i32, dst: i32, len: i32): i32;

/** Copies `len` bytes from local address `src` to `offset` of the mapped grant `handle`. */
@external("xen", "grant_copy_to")
export declare function grant_copy_to(handle: i32, offset: i32, src: i32, len: i32): i32;

/** Atomically loads the u32 at `offset` of the mapped grant `handle` and stores it at local `out`. */
@external("xen", "grant_load32")
export declare function grant_load32(handle: i32, offset: i32, out: i32): i32;

/** Atomically stores `value` at `offset` of the mapped grant `handle`. */
@external("xen", "grant_store32")
export declare function grant_store32(handle: i32, offset: i32, value: i32): i32;

/** Atomic compare-and-swap at `offset` of the mapped grant `handle`; the old value goes to local `out`. */
@external("xen", "grant_cmpxchg32")
export declare function grant_cmpxchg32(handle: i32, offset: i32, expected: i32, replacement: i32, out: i32): i32;

// ---------------------------------------------------------------------------------------------
// Typed wrappers: pointers as usize, the caller keeps owning the argument struct.

/** Issues an EVTCHNOP_* (`cmd`) on the caller's evtchn_* struct at `arg`; returns 0 or -XEN_Exxx. */
@inline export function HYPERVISOR_event_channel_op(cmd: i32, arg: usize): i32 {
  return event_channel_op(cmd, <i32>arg);
}

/** Issues `count` GNTTABOP_* (`cmd`) entries at `arg`; returns 0 when all were processed (see each `status`) or -XEN_Exxx. */
@inline export function HYPERVISOR_grant_table_op(cmd: i32, arg: usize, count: i32): i32 {
  return grant_table_op(cmd, <i32>arg, count);
}

/** Issues a SCHEDOP_* (`cmd`) on the caller's sched_* struct at `arg` (0 if none); returns 0 or -XEN_Exxx. */
@inline export function HYPERVISOR_sched_op(cmd: i32, arg: usize): i32 {
  return sched_op(cmd, <i32>arg);
}

/** Issues a XENMEM_* (`cmd`) on the caller's struct at `arg`; returns 0, a count, or -XEN_Exxx. */
@inline export function HYPERVISOR_memory_op(cmd: i32, arg: usize): i32 {
  return memory_op(cmd, <i32>arg);
}

/** Issues a CONSOLEIO_* (`cmd`) over the caller's `count` bytes at `buf`; returns 0 or -XEN_Exxx. */
@inline export function HYPERVISOR_console_io(cmd: i32, count: u32, buf: usize): i32 {
  return console_io(cmd, <i32>count, <i32>buf);
}

/** Issues a XENVER_* (`cmd`), writing into the caller's buffer at `arg` (0 if none); returns its value or -XEN_Exxx. */
@inline export function HYPERVISOR_xen_version(cmd: i32, arg: usize): i32 {
  return xen_version(cmd, <i32>arg);
}

/** Issues a VCPUOP_* (`cmd`) for vCPU `vcpuid` on the caller's struct at `arg`; returns 0 or -XEN_Exxx. */
@inline export function HYPERVISOR_vcpu_op(cmd: i32, vcpuid: u32, arg: usize): i32 {
  return vcpu_op(cmd, <i32>vcpuid, <i32>arg);
}

/** Issues an HVMOP_* (`cmd`) on the caller's xen_hvm_param at `arg`; returns 0 or -XEN_Exxx. */
@inline export function HYPERVISOR_hvm_op(cmd: i32, arg: usize): i32 {
  return hvm_op(cmd, <i32>arg);
}

/** Reads the TSC as an unsigned tick count (docs/ABI.md §5). */
@inline export function readTsc(): u64 {
  return <u64>rdtsc();
}
