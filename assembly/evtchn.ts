// Event channels, 2-level ABI (docs/ABI.md §3 event_channel_op): binding ports, a handler table,
// notification, masking, and the upcall dispatcher that `xen_upcall` runs.
//
// Handlers: AssemblyScript has no closures, so a handler is a top-level function
// `(port, arg) => void` plus a word `arg` the registrant chooses (a pointer to its state, an
// index). The table has one slot per port (4096); a port without a handler is masked, and its
// events are counted as spurious when they arrive anyway.
//
// Who writes what: Xen (the harness, possibly on another thread) sets pending bits, selector
// bits and evtchn_upcall_pending; the guest clears them and owns the mask bits. Every access to
// those words is a single atomic operation (32-bit halves of Xen's 64-bit words: wasm32
// AssemblyScript, and 4-byte alignment is what 32-bit atomics need).
//
// Errors: functions returning i32 return a port (>= 0) or 0 on success, and -XEN_Exxx on error:
// Xen's own codes (see docs/ABI.md §3), and -XEN_EINVAL for a port >= NR_EVENT_CHANNELS.
import { shared_info, vcpu_info, DOMID_SELF, domid_t } from "./xen/xen";
import {
  evtchn_alloc_unbound, evtchn_bind_interdomain, evtchn_bind_virq, evtchn_bind_ipi, evtchn_send,
  evtchn_close, evtchn_unmask, evtchn_port_t,
  EVTCHNOP_alloc_unbound, EVTCHNOP_bind_interdomain, EVTCHNOP_bind_virq, EVTCHNOP_bind_ipi,
  EVTCHNOP_send, EVTCHNOP_close, EVTCHNOP_unmask,
} from "./xen/event_channel";
import { XEN_EINVAL } from "./xen/errno";
import { HYPERVISOR_event_channel_op } from "./hypercall";
import { sharedInfoAddr, vcpuInfoAddr } from "./shared";

/** A port's event handler: a top-level function called with the port and the registrant's `arg`. */
export type EvtchnHandler = (port: u32, arg: usize) => void;

/** Bytes of shared_info.evtchn_pending: 64 xen_ulong_t. */
const PENDING_BYTES: usize = offsetof<shared_info>("evtchn_mask") - offsetof<shared_info>("evtchn_pending");
/** The number of ports of the 2-level ABI: one bit of evtchn_pending each (4096 on x86_64). */
export const NR_EVENT_CHANNELS: u32 = <u32>(PENDING_BYTES << 3);
/** 32-bit words in evtchn_pending (and evtchn_mask). */
const NR_WORDS32: u32 = NR_EVENT_CHANNELS >> 5;
/** 32-bit halves of evtchn_pending_sel (a xen_ulong_t: one bit per 64-bit pending word). */
const SEL_HALVES: u32 = <u32>(sizeof<u64>() >> 2);

const handlers = new StaticArray<EvtchnHandler | null>(NR_EVENT_CHANNELS);
const handlerArgs = new StaticArray<usize>(NR_EVENT_CHANNELS);

let pendingAddr: usize = 0;
let maskAddr: usize = 0;
let vcpuAddr: usize = 0;
let spurious: u32 = 0;

// Scratch argument for EVTCHNOP_* (the largest struct used is 12 bytes; guest code never runs
// re-entrantly, so one buffer serves every call).
const ARG = memory.data(16, 8);

/**
 * Starts event-channel handling once shared_info is mapped: masks every port (a port is unmasked
 * when a handler is set, as Linux does) and keeps the bitmap addresses. Called by boot().
 */
export function evtchnInit(): void {
  const s = sharedInfoAddr();
  pendingAddr = s + offsetof<shared_info>("evtchn_pending");
  maskAddr = s + offsetof<shared_info>("evtchn_mask");
  vcpuAddr = vcpuInfoAddr();
  for (let w: u32 = 0; w < NR_WORDS32; w++) atomic.store<u32>(maskAddr + (<usize>w << 2), 0xFFFFFFFF);
}

/** Enables upcalls: clears vcpu_info.evtchn_upcall_mask, so that the harness calls `xen_upcall`. */
export function evtchnEnableUpcalls(): void {
  atomic.store<u8>(vcpuAddr + offsetof<vcpu_info>("evtchn_upcall_mask"), 0);
}

/** Disables upcalls: sets vcpu_info.evtchn_upcall_mask; events stay pending until re-enabled. */
export function evtchnDisableUpcalls(): void {
  atomic.store<u8>(vcpuAddr + offsetof<vcpu_info>("evtchn_upcall_mask"), 1);
}

@inline function wordAddr(base: usize, port: u32): usize {
  return base + ((<usize>port >> 5) << 2);
}

/** Masks `port` (sets its bit in shared_info.evtchn_mask): its events stay pending, no upcall. */
export function evtchnMask(port: u32): void {
  if (port >= NR_EVENT_CHANNELS || maskAddr == 0) return;
  atomic.or<u32>(wordAddr(maskAddr, port), 1 << (port & 31));
}

/** Unmasks `port` with EVTCHNOP_unmask, which re-raises the upcall if it is pending; 0 or -XEN_Exxx. */
export function evtchnUnmask(port: u32): i32 {
  if (port >= NR_EVENT_CHANNELS) return -XEN_EINVAL;
  changetype<evtchn_unmask>(ARG).port = port;
  return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, ARG);
}

/** Whether `port` is pending in shared_info.evtchn_pending. */
export function evtchnIsPending(port: u32): bool {
  if (port >= NR_EVENT_CHANNELS || pendingAddr == 0) return false;
  return (atomic.load<u32>(wordAddr(pendingAddr, port)) & (1 << (port & 31))) != 0;
}

/** Clears `port`'s pending bit and returns whether it was set (for polling code that handles events itself). */
export function evtchnClearPending(port: u32): bool {
  if (port >= NR_EVENT_CHANNELS || pendingAddr == 0) return false;
  const bit: u32 = 1 << (port & 31);
  return (atomic.and<u32>(wordAddr(pendingAddr, port), ~bit) & bit) != 0;
}

/**
 * Sets (or with `handler` null, removes) the handler of an already bound `port` and unmasks it
 * (masks it when removed). Used for the boot console/xenstore ports and by the bind functions.
 * The registrant owns `arg`. Returns 0 or -XEN_Exxx (from EVTCHNOP_unmask).
 */
export function evtchnSetHandler(port: u32, handler: EvtchnHandler | null, arg: usize = 0): i32 {
  if (port >= NR_EVENT_CHANNELS) return -XEN_EINVAL;
  unchecked(handlers[port] = handler);
  unchecked(handlerArgs[port] = arg);
  if (handler === null) {
    evtchnMask(port);
    return 0;
  }
  return evtchnUnmask(port);
}

/** Installs `handler` on a freshly bound port `rc` (if `rc` is a port) and passes `rc` through. */
function bound(rc: i32, port: u32, handler: EvtchnHandler | null, arg: usize): i32 {
  if (rc < 0) return rc;
  if (handler !== null) {
    const r = evtchnSetHandler(port, handler, arg);
    if (r < 0) return r;
  }
  return <i32>port;
}

/**
 * Allocates a port that only `remoteDom` may bind (EVTCHNOP_alloc_unbound, dom = DOMID_SELF) and,
 * if given, installs `handler` on it. Returns the port or -XEN_Exxx (-ESRCH unknown domain,
 * -ENOSPC no free port).
 */
export function evtchnAllocUnbound(remoteDom: domid_t, handler: EvtchnHandler | null = null, arg: usize = 0): i32 {
  const a = changetype<evtchn_alloc_unbound>(ARG);
  a.dom = DOMID_SELF;
  a.remote_dom = remoteDom;
  a.port = 0;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, ARG);
  return bound(rc, a.port, handler, arg);
}

/**
 * Binds a new local port to `remotePort`, an unbound port that `remoteDom` allocated for us
 * (EVTCHNOP_bind_interdomain), and installs `handler`. Returns the local port or -XEN_Exxx
 * (-ESRCH unknown domain, -EINVAL remote port not unbound for us).
 */
export function evtchnBindInterdomain(remoteDom: domid_t, remotePort: evtchn_port_t, handler: EvtchnHandler | null = null, arg: usize = 0): i32 {
  const a = changetype<evtchn_bind_interdomain>(ARG);
  a.remote_dom = remoteDom;
  a.__padding0 = 0;
  a.remote_port = remotePort;
  a.local_port = 0;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, ARG);
  return bound(rc, a.local_port, handler, arg);
}

/**
 * Binds virtual IRQ `virq` (VIRQ_*) of vCPU 0 to a new port (EVTCHNOP_bind_virq) and installs
 * `handler`. Returns the port or -XEN_Exxx (-EINVAL not a per-domain VIRQ, -EEXIST already bound).
 */
export function evtchnBindVirq(virq: u32, handler: EvtchnHandler | null = null, arg: usize = 0): i32 {
  const a = changetype<evtchn_bind_virq>(ARG);
  a.virq = virq;
  a.vcpu = 0;
  a.port = 0;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, ARG);
  return bound(rc, a.port, handler, arg);
}

/**
 * Allocates an IPI port on vCPU 0 (EVTCHNOP_bind_ipi; notifying it raises it locally) and
 * installs `handler`. Returns the port or -XEN_Exxx.
 */
export function evtchnBindIpi(handler: EvtchnHandler | null = null, arg: usize = 0): i32 {
  const a = changetype<evtchn_bind_ipi>(ARG);
  a.vcpu = 0;
  a.port = 0;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, ARG);
  return bound(rc, a.port, handler, arg);
}

/**
 * Sends an event to the other end of `port` (EVTCHNOP_send). Returns 0 (also for an unbound
 * port: the event is dropped) or -XEN_EINVAL (port not in use, or a VIRQ port).
 */
export function evtchnNotify(port: u32): i32 {
  changetype<evtchn_send>(ARG).port = port;
  return HYPERVISOR_event_channel_op(EVTCHNOP_send, ARG);
}

/**
 * Closes `port` (EVTCHNOP_close): masks it, drops its handler and any pending event first, so no
 * handler runs for it afterwards. Returns 0 or -XEN_EINVAL (port not in use).
 */
export function evtchnClose(port: u32): i32 {
  if (port >= NR_EVENT_CHANNELS) return -XEN_EINVAL;
  evtchnMask(port);
  unchecked(handlers[port] = null);
  unchecked(handlerArgs[port] = 0);
  changetype<evtchn_close>(ARG).port = port;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_close, ARG);
  evtchnClearPending(port);
  return rc;
}

/** Events that arrived on a port without a handler since boot (they are dropped). */
export function evtchnSpuriousCount(): u32 {
  return spurious;
}

/** The most passes evtchnUpcall makes before returning (the harness calls again if still pending). */
const MAX_PASSES: i32 = 16;

/**
 * The upcall dispatcher, to be called from the guest's exported `xen_upcall`: clears
 * evtchn_upcall_pending, exchanges evtchn_pending_sel with 0 (two atomic 32-bit halves), and for
 * every selected word runs the handler of each pending, unmasked port after atomically clearing
 * its pending bit. Masked ports stay pending (EVTCHNOP_unmask re-raises them). Repeats while Xen
 * raised evtchn_upcall_pending again meanwhile. Allocates nothing.
 */
export function evtchnUpcall(): void {
  if (vcpuAddr == 0) return;
  const upcallPending = vcpuAddr + offsetof<vcpu_info>("evtchn_upcall_pending");
  const sel = vcpuAddr + offsetof<vcpu_info>("evtchn_pending_sel");
  for (let pass = 0; pass < MAX_PASSES && atomic.load<u8>(upcallPending) != 0; pass++) {
    atomic.store<u8>(upcallPending, 0);
    for (let half: u32 = 0; half < SEL_HALVES; half++) {
      let l1 = atomic.xchg<u32>(sel + (<usize>half << 2), 0);
      while (l1 != 0) {
        const l1i = ctz(l1);
        l1 &= l1 - 1;
        // Selector bit l1i of this half stands for 64-bit pending word (half * 32 + l1i), that is
        // two 32-bit words of ports.
        const word64 = (half << 5) + l1i;
        for (let w: u32 = 0; w < 2; w++) {
          const w32 = (word64 << 1) + w;
          if (w32 >= NR_WORDS32) break;
          const pAddr = pendingAddr + (<usize>w32 << 2);
          const mAddr = maskAddr + (<usize>w32 << 2);
          let l2 = atomic.load<u32>(pAddr) & ~atomic.load<u32>(mAddr);
          while (l2 != 0) {
            const bit: u32 = 1 << ctz(l2);
            l2 &= l2 - 1;
            // Clear before handling, so that an event raised while the handler runs is not lost.
            if ((atomic.and<u32>(pAddr, ~bit) & bit) == 0) continue;
            const port = (w32 << 5) + ctz(bit);
            const h = unchecked(handlers[port]);
            if (h === null) spurious++;
            else h(port, unchecked(handlerArgs[port]));
          }
        }
      }
    }
  }
}
