// Time: Xen system time (ns) from pvclock (docs/ABI.md §5), and one-shot timers on VIRQ_TIMER.
//
// now(): vcpu_info[0].time is written by Xen under its `version` (odd while an update is in
// progress); the reader takes version, the fields and the TSC, and retries if version was odd or
// changed. Then ns = system_time + scale(tsc - tsc_timestamp), where scale shifts by tsc_shift
// and multiplies by tsc_to_system_mul / 2^32 (a 64x32-bit product taken in two halves).
//
// Timers: a small table (MAX_TIMERS entries) sorted by deadline, equal deadlines in the order
// they were set. The earliest is programmed with VCPUOP_set_singleshot_timer; VIRQ_TIMER is bound
// on first use (so that a guest that never uses timers keeps its port numbers). A callback is a
// top-level function `(arg) => void` plus the setter's `arg`; it runs from the upcall, once.
import { vcpu_time_info, vcpu_info, VIRQ_TIMER } from "./xen/xen";
import { vcpu_set_singleshot_timer, VCPUOP_set_singleshot_timer, VCPUOP_stop_singleshot_timer } from "./xen/vcpu";
import { XEN_ENOSPC, XEN_EINVAL } from "./xen/errno";
import { HYPERVISOR_vcpu_op, readTsc } from "./hypercall";
import { vcpuInfoAddr } from "./shared";
import { evtchnBindVirq } from "./evtchn";

/** A timer callback: a top-level function called once with the setter's `arg`. */
export type TimerFn = (arg: usize) => void;

/** Nanoseconds per millisecond, microsecond and second, for deadlines. */
export const NS_PER_US: u64 = 1000;
export const NS_PER_MS: u64 = 1000 * NS_PER_US;
export const NS_PER_SEC: u64 = 1000 * NS_PER_MS;

/**
 * Xen system time in ns (since the harness started; virtual under the deterministic runner), or
 * 0 before shared_info is mapped. Allocates nothing.
 */
export function now(): u64 {
  const v = vcpuInfoAddr();
  if (v == 0) return 0;
  const t = v + offsetof<vcpu_info>("time_version");
  let version: u32;
  let tscStamp: u64;
  let system: u64;
  let mul: u32;
  let shift: i32;
  let tsc: u64;
  do {
    version = atomic.load<u32>(t + offsetof<vcpu_time_info>("version"));
    tscStamp = atomic.load<u64>(t + offsetof<vcpu_time_info>("tsc_timestamp"));
    system = atomic.load<u64>(t + offsetof<vcpu_time_info>("system_time"));
    mul = atomic.load<u32>(t + offsetof<vcpu_time_info>("tsc_to_system_mul"));
    shift = <i32>load<i8>(t + offsetof<vcpu_time_info>("tsc_shift"));
    tsc = readTsc();
  } while ((version & 1) != 0 || atomic.load<u32>(t + offsetof<vcpu_time_info>("version")) != version);
  return system + pvclockScale(tsc - tscStamp, mul, shift);
}

/** pvclock's scale: (delta shifted by `shift`) * mul / 2^32, exact for a 64-bit delta. */
export function pvclockScale(delta: u64, mul: u32, shift: i32): u64 {
  if (shift < 0) delta >>= <u64>(-shift);
  else delta <<= <u64>shift;
  const m = <u64>mul;
  return (delta >> 32) * m + (((delta & 0xFFFFFFFF) * m) >> 32);
}

/** The most timers that can be pending at once. */
export const MAX_TIMERS: i32 = 32;

const deadlines = new StaticArray<u64>(MAX_TIMERS);
const fns = new StaticArray<TimerFn | null>(MAX_TIMERS);
const args = new StaticArray<usize>(MAX_TIMERS);
const ids = new StaticArray<i32>(MAX_TIMERS);
let count: i32 = 0;
let nextId: i32 = 1;
let timerPort: i32 = -1;
let programmed: u64 = 0; // the deadline Xen's one-shot timer is set to, 0 if stopped
let firing = false;

const SSHOT_ARG = memory.data(<i32>offsetof<vcpu_set_singleshot_timer>(), 8);

/**
 * Programs Xen's one-shot timer for the earliest deadline, or stops it when none is left;
 * returns 0 or the -XEN_Exxx of VCPUOP_set_singleshot_timer.
 */
function program(): i32 {
  if (count == 0) {
    if (programmed != 0) HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, 0);
    programmed = 0;
    return 0;
  }
  const d = unchecked(deadlines[0]);
  if (d == programmed) return 0;
  const a = changetype<vcpu_set_singleshot_timer>(SSHOT_ARG);
  a.timeout_abs_ns = d;
  a.flags = 0; // a deadline already past fires at once (no VCPU_SSHOTTMR_future)
  a.__padding0 = 0;
  const rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, SSHOT_ARG);
  programmed = rc == 0 ? d : 0;
  return rc;
}

/** VIRQ_TIMER handler: runs every timer whose deadline has passed, then reprograms. */
function onTimerVirq(port: u32, arg: usize): void {
  programmed = 0; // the one-shot timer has fired
  firing = true;
  let t = now();
  while (count > 0 && unchecked(deadlines[0]) <= t) {
    const fn = unchecked(fns[0]);
    const a = unchecked(args[0]);
    removeAt(0);
    if (fn !== null) fn(a);
    t = now();
  }
  firing = false;
  program();
}

function removeAt(i: i32): void {
  for (let j = i + 1; j < count; j++) {
    unchecked(deadlines[j - 1] = deadlines[j]);
    unchecked(fns[j - 1] = fns[j]);
    unchecked(args[j - 1] = args[j]);
    unchecked(ids[j - 1] = ids[j]);
  }
  count--;
  unchecked(fns[count] = null);
}

/**
 * Calls `fn(arg)` once, from the upcall, when system time reaches `deadlineNs` (absolute, as
 * now()). Returns a timer id (> 0) for timerCancel, -XEN_ENOSPC when MAX_TIMERS are pending, or
 * the -XEN_Exxx of binding VIRQ_TIMER (first use) or of VCPUOP_set_singleshot_timer (the timer is
 * then not set). The setter owns `arg`.
 */
export function timerSetAt(deadlineNs: u64, fn: TimerFn, arg: usize = 0): i32 {
  if (timerPort < 0) {
    const p = evtchnBindVirq(<u32>VIRQ_TIMER, onTimerVirq, 0);
    if (p < 0) return p;
    timerPort = p;
  }
  if (count == MAX_TIMERS) return -XEN_ENOSPC;
  if (deadlineNs == 0) deadlineNs = 1; // 0 means "stopped" to program()
  let i = count;
  while (i > 0 && unchecked(deadlines[i - 1]) > deadlineNs) {
    unchecked(deadlines[i] = deadlines[i - 1]);
    unchecked(fns[i] = fns[i - 1]);
    unchecked(args[i] = args[i - 1]);
    unchecked(ids[i] = ids[i - 1]);
    i--;
  }
  const id = nextId;
  nextId = nextId == i32.MAX_VALUE ? 1 : nextId + 1;
  unchecked(deadlines[i] = deadlineNs);
  unchecked(fns[i] = fn);
  unchecked(args[i] = arg);
  unchecked(ids[i] = id);
  count++;
  if (!firing) {
    const rc = program();
    if (rc < 0) {
      removeAt(i);
      return rc;
    }
  }
  return id;
}

/** timerSetAt for `delayNs` from now(). */
export function timerSet(delayNs: u64, fn: TimerFn, arg: usize = 0): i32 {
  return timerSetAt(now() + delayNs, fn, arg);
}

/** Cancels the pending timer `id`; returns 0, or -XEN_EINVAL if it already fired or never existed. */
export function timerCancel(id: i32): i32 {
  for (let i = 0; i < count; i++) {
    if (unchecked(ids[i]) == id) {
      removeAt(i);
      if (!firing) program();
      return 0;
    }
  }
  return -XEN_EINVAL;
}

/** How many timers are pending. */
export function timersPending(): i32 {
  return count;
}
