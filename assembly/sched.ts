// Scheduling and shutdown (sched.h, docs/ABI.md §3 sched_op): shutdown/poweroff/panic, yield,
// block and poll.
//
// shutdown() does not return: Xen (the harness) unwinds the guest's stack on SCHEDOP_shutdown
// and never runs guest code again. AssemblyScript has no `never` type, so these functions are
// declared `void` and end with unreachable(): if the hypercall ever returned (an unknown reason:
// -EINVAL), the trap crashes the domain instead of running on.
import { sched_shutdown, sched_poll, SCHEDOP_shutdown, SCHEDOP_yield, SCHEDOP_block, SCHEDOP_poll,
  SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_crash } from "./xen/sched";
import { HYPERVISOR_sched_op } from "./hypercall";
import { consoleFlush, puts, putc } from "./console";

const SHUTDOWN_ARG = memory.data(<i32>offsetof<sched_shutdown>(), 8);
const POLL_ARG = memory.data(<i32>offsetof<sched_poll>(), 8);
const POLL_PORT = memory.data(4, 4);

/**
 * Shuts the domain down for SHUTDOWN_* `reason` (SCHEDOP_shutdown) after flushing the console.
 * Does not return.
 */
export function shutdown(reason: u32): void {
  consoleFlush();
  changetype<sched_shutdown>(SHUTDOWN_ARG).reason = reason;
  HYPERVISOR_sched_op(SCHEDOP_shutdown, SHUTDOWN_ARG);
  unreachable();
}

/** Powers the domain off (SHUTDOWN_poweroff). Does not return. */
export function poweroff(): void {
  shutdown(<u32>SHUTDOWN_poweroff);
}

/** Reboots the domain (SHUTDOWN_reboot; the toolstack decides what that means). Does not return. */
export function reboot(): void {
  shutdown(<u32>SHUTDOWN_reboot);
}

/**
 * Prints "panic: " and `msg` on the console, then crashes the domain (SHUTDOWN_crash).
 * Does not return. Allocates nothing (a caller that builds `msg` allocates, of course).
 */
export function panic(msg: string): void {
  puts("panic: ");
  puts(msg);
  putc(0x0A);
  shutdown(<u32>SHUTDOWN_crash);
}

/** Yields the vCPU to other domains (SCHEDOP_yield); returns 0. */
export function schedYield(): i32 {
  return HYPERVISOR_sched_op(SCHEDOP_yield, 0);
}

/**
 * SCHEDOP_block: clears evtchn_upcall_mask and returns 0; the caller then returns to idle (from
 * xen_start or xen_upcall), which is where a xenwasm guest actually waits.
 */
export function schedBlock(): i32 {
  return HYPERVISOR_sched_op(SCHEDOP_block, 0);
}

/**
 * Waits until one of `nrPorts` ports in the caller's u32 array at `ports` is pending, or until
 * system time `timeoutAbsNs` (0: no timeout), without running handlers (SCHEDOP_poll; the pending
 * bit stays set: see evtchnClearPending). Returns 0 or -XEN_EINVAL (bad port, more than 128).
 */
export function schedPoll(ports: usize, nrPorts: u32, timeoutAbsNs: u64): i32 {
  const a = changetype<sched_poll>(POLL_ARG);
  a.ports = <u64>ports;
  a.nr_ports = nrPorts;
  a.__padding0 = 0;
  a.timeout = timeoutAbsNs;
  return HYPERVISOR_sched_op(SCHEDOP_poll, POLL_ARG);
}

/** schedPoll for a single port. */
export function schedPollPort(port: u32, timeoutAbsNs: u64): i32 {
  store<u32>(POLL_PORT, port);
  return schedPoll(POLL_PORT, 1, timeoutAbsNs);
}
