// Mirrors xen/include/public/sched.h: SCHEDOP_* sub-ops of HYPERVISOR_sched_op, their argument
// structs and the SHUTDOWN_* reasons. See docs/abi-layer.md for the conventions.
import { domid_t, guest_handle } from "./xen";

/** Sub-ops of HYPERVISOR_sched_op (SCHEDOP_*; the argument struct is named after each). */
export const SCHEDOP_yield: i32 = 0;
export const SCHEDOP_block: i32 = 1;
export const SCHEDOP_shutdown: i32 = 2;
export const SCHEDOP_poll: i32 = 3;
export const SCHEDOP_remote_shutdown: i32 = 4;
export const SCHEDOP_shutdown_code: i32 = 5;
export const SCHEDOP_watchdog: i32 = 6;
export const SCHEDOP_pin_override: i32 = 7;

/**
 * Halts the calling domain for a SHUTDOWN_* reason (SCHEDOP_shutdown, SCHEDOP_shutdown_code).
 * struct sched_shutdown { unsigned int reason; };
 */
@unmanaged export class sched_shutdown {
  reason: u32;
}
// size=4
if (offsetof<sched_shutdown>() != 4) ERROR("struct sched_shutdown: size must be 4");

/**
 * Blocks until one of the listed event-channel ports is pending or the timeout passes.
 * struct sched_poll { XEN_GUEST_HANDLE(evtchn_port_t) ports; unsigned int nr_ports;
 *                     uint64_t timeout; };
 */
@unmanaged export class sched_poll {
  ports: guest_handle;
  nr_ports: u32;
  __padding0: u32;
  timeout: u64;
}
// size=24
if (offsetof<sched_poll>() != 24) ERROR("struct sched_poll: size must be 24");

/**
 * Shuts down another domain for a SHUTDOWN_* reason (privileged).
 * struct sched_remote_shutdown { domid_t domain_id; unsigned int reason; };
 */
@unmanaged export class sched_remote_shutdown {
  domain_id: domid_t;
  __padding0: u16;
  reason: u32;
}
// size=8
if (offsetof<sched_remote_shutdown>() != 8) ERROR("struct sched_remote_shutdown: size must be 8");

/**
 * Creates (id 0), refreshes or destroys (timeout 0) a domain watchdog.
 * struct sched_watchdog { uint32_t id; uint32_t timeout; };
 */
@unmanaged export class sched_watchdog {
  id: u32;
  timeout: u32;
}
// size=8
if (offsetof<sched_watchdog>() != 8) ERROR("struct sched_watchdog: size must be 8");

/**
 * Temporarily pins the calling vCPU to a physical CPU (hardware domain only; a negative pcpu undoes it).
 * struct sched_pin_override { int32_t pcpu; };
 */
@unmanaged export class sched_pin_override {
  pcpu: i32;
}
// size=4
if (offsetof<sched_pin_override>() != 4) ERROR("struct sched_pin_override: size must be 4");

/** Shutdown reasons (`enum sched_shutdown_reason`), and the largest valid one. */
export const SHUTDOWN_poweroff: i32 = 0;
export const SHUTDOWN_reboot: i32 = 1;
export const SHUTDOWN_suspend: i32 = 2;
export const SHUTDOWN_crash: i32 = 3;
export const SHUTDOWN_watchdog: i32 = 4;
export const SHUTDOWN_soft_reset: i32 = 5;
export const SHUTDOWN_MAX: i32 = 5;
