// Event channels (docs/ABI.md §3 event_channel_op): binding ports, a handler table, notification,
// masking, and the upcall dispatcher that `xen_upcall` runs, over either of Xen's event ABIs:
// FIFO (event words in pages we give Xen, 16 priority queues; used whenever the harness offers
// it, as Linux does) or 2-level (bitmaps in shared_info). Drivers see the same calls under both.
//
// Handlers: AssemblyScript has no closures, so a handler is a top-level function
// `(port, arg) => void` plus a word `arg` the registrant chooses (a pointer to its state, an
// index). Handler slots come in chunks of 1024 ports, added as ports are bound (2^17 ports under
// FIFO). A port without a handler is masked, and its events are counted as spurious when they
// arrive anyway.
//
// Who writes what: Xen (the harness, possibly on another thread) sets pending bits / PENDING and
// links events (LINK, head, ready), selector bits and evtchn_upcall_pending; the guest clears
// them, unlinks what it consumes and owns the mask bits / MASKED. Every access to those words is a
// single 32-bit atomic operation (compare-and-swap for event words, as on real Xen).
//
// Errors: functions returning i32 return a port (>= 0) or 0 on success, and -XEN_Exxx on error:
// Xen's own codes (see docs/ABI.md §3), and -XEN_EINVAL for a port beyond the ABI's range.
import { shared_info, vcpu_info, DOMID_SELF, domid_t } from "./xen/xen";
import {
  evtchn_alloc_unbound, evtchn_bind_interdomain, evtchn_bind_virq, evtchn_bind_ipi, evtchn_send,
  evtchn_close, evtchn_unmask, evtchn_port_t, evtchn_init_control, evtchn_expand_array, evtchn_set_priority,
  evtchn_fifo_control_block,
  EVTCHNOP_alloc_unbound, EVTCHNOP_bind_interdomain, EVTCHNOP_bind_virq, EVTCHNOP_bind_ipi,
  EVTCHNOP_send, EVTCHNOP_close, EVTCHNOP_unmask, EVTCHNOP_init_control, EVTCHNOP_expand_array,
  EVTCHNOP_set_priority, EVTCHN_FIFO_PENDING, EVTCHN_FIFO_MASKED, EVTCHN_FIFO_LINKED, EVTCHN_FIFO_LINK_MASK,
  EVTCHN_FIFO_NR_CHANNELS, EVTCHN_FIFO_MAX_QUEUES,
} from "./xen/event_channel";
import { XEN_EINVAL, XEN_ENOSPC } from "./xen/errno";
import { HYPERVISOR_event_channel_op } from "./hypercall";
import { sharedInfoAddr, vcpuInfoAddr, vcpuInfoRegister } from "./shared";
import { frameAllocForXen, addrToGfn } from "./frames";
import { cmdlineGet } from "./cmdline";

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

const W_PENDING: u32 = 1 << EVTCHN_FIFO_PENDING;
const W_MASKED: u32 = 1 << EVTCHN_FIFO_MASKED;
const W_LINKED: u32 = 1 << EVTCHN_FIFO_LINKED;
/** Ports per handler chunk and per FIFO event-array page (4096 / sizeof(event_word_t)). */
const CHUNK_PORTS: u32 = 1024;
const MAX_CHUNKS: u32 = EVTCHN_FIFO_NR_CHANNELS / CHUNK_PORTS;
/** Bytes per handler slot: the handler (a function table index) and its arg. */
const SLOT: usize = 8;

/** Handler chunk c (ports c*1024..c*1024+1023) at handlerChunks[c], 0 until allocated. */
const handlerChunks = new StaticArray<usize>(MAX_CHUNKS);
/** FIFO event-array page c's address at arrayPages[c]. */
const arrayPages = new StaticArray<usize>(MAX_CHUNKS);
let nrArrayPages: u32 = 0;
/** Where the next port of each FIFO queue is when the last upcall stopped inside it (Linux's q->head). */
const queueHeads = new StaticArray<u32>(EVTCHN_FIFO_MAX_QUEUES);

let fifo = false;
let controlAddr: usize = 0;
let pendingAddr: usize = 0;
let maskAddr: usize = 0;
let vcpuAddr: usize = 0;
let spurious: u32 = 0;

// Scratch argument for EVTCHNOP_* (the largest struct used is 24 bytes; guest code never runs
// re-entrantly, so one buffer serves every call).
const ARG = memory.data(24, 8);

/** Whether the FIFO ABI is in use (else 2-level); decided once by evtchnInit. */
export function evtchnUsesFifo(): bool {
  return fifo;
}

/** The number of ports of the ABI in use: 2^17 under FIFO, 4096 under 2-level. */
export function evtchnMaxPorts(): u32 {
  return fifo ? EVTCHN_FIFO_NR_CHANNELS : NR_EVENT_CHANNELS;
}

/** The handler slot of `port`, allocating its chunk (zeroed: no handler) on first use; 0 when out of range. */
function slot(port: u32, create: bool): usize {
  const c = port / CHUNK_PORTS;
  if (c >= MAX_CHUNKS) return 0;
  let chunk = unchecked(handlerChunks[c]);
  if (chunk == 0) {
    if (!create) return 0;
    chunk = heap.alloc(<usize>CHUNK_PORTS * SLOT);
    memory.fill(chunk, 0, <usize>CHUNK_PORTS * SLOT);
    unchecked(handlerChunks[c] = chunk);
  }
  return chunk + <usize>(port % CHUNK_PORTS) * SLOT;
}

/** Address of `port`'s FIFO event word, or 0 when the event array does not reach it yet. */
@inline function eventWord(port: u32): usize {
  const page = port / CHUNK_PORTS;
  if (page >= nrArrayPages) return 0;
  return unchecked(arrayPages[page]) + (<usize>(port % CHUNK_PORTS) << 2);
}

/**
 * Makes the FIFO event array reach `port` (Linux's evtchn_fifo_setup): each new page is given to
 * Xen with every word MASKED. Returns 0 or -XEN_Exxx (-ENOSPC beyond 2^17 ports).
 */
function arrayCover(port: u32): i32 {
  while (port >= nrArrayPages * CHUNK_PORTS) {
    if (nrArrayPages >= MAX_CHUNKS) return -XEN_ENOSPC;
    const page = frameAllocForXen();
    for (let i: u32 = 0; i < CHUNK_PORTS; i++) store<u32>(page + (<usize>i << 2), W_MASKED);
    const a = changetype<evtchn_expand_array>(ARG);
    a.array_gfn = <u64>addrToGfn(page);
    const rc = HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, ARG);
    if (rc < 0) return rc;
    unchecked(arrayPages[nrArrayPages] = page);
    nrArrayPages++;
  }
  return 0;
}

/**
 * Switches to FIFO (EVTCHNOP_init_control with a control block in a frame given to Xen, which
 * also holds vcpu_info from offset 128 on, placed with VCPUOP_register_vcpu_info as Linux does)
 * unless the command line says `xen_fifo_events=0` (Linux's parameter) or Xen refuses; returns
 * whether FIFO is on.
 */
function fifoInit(): bool {
  const opt = cmdlineGet("xen_fifo_events");
  if (opt !== null && (opt == "0" || opt == "false" || opt == "off" || opt == "no")) return false;
  const frame = frameAllocForXen();
  vcpuInfoRegister(frame, 128); // -ENOSYS: vcpu_info stays in shared_info
  const a = changetype<evtchn_init_control>(ARG);
  a.control_gfn = <u64>addrToGfn(frame);
  a.offset = 0;
  a.vcpu = 0;
  a.link_bits = 0;
  if (HYPERVISOR_event_channel_op(EVTCHNOP_init_control, ARG) < 0) return false;
  controlAddr = frame;
  fifo = true;
  return arrayCover(CHUNK_PORTS - 1) == 0;
}

/**
 * Starts event-channel handling once shared_info is mapped: chooses the ABI (fifoInit), masks
 * every port (a port is unmasked when a handler is set, as Linux does) and keeps the addresses
 * of Xen's words. Called by boot().
 */
export function evtchnInit(): void {
  const s = sharedInfoAddr();
  pendingAddr = s + offsetof<shared_info>("evtchn_pending");
  maskAddr = s + offsetof<shared_info>("evtchn_mask");
  if (!fifo && !fifoInit()) {
    for (let w: u32 = 0; w < NR_WORDS32; w++) atomic.store<u32>(maskAddr + (<usize>w << 2), 0xFFFFFFFF);
  }
  vcpuAddr = vcpuInfoAddr();
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

/** Masks `port` (sets MASKED, or its bit in shared_info.evtchn_mask): its events stay pending, no upcall. */
export function evtchnMask(port: u32): void {
  if (fifo) {
    const w = eventWord(port);
    if (w != 0) atomic.or<u32>(w, W_MASKED);
    return;
  }
  if (port >= NR_EVENT_CHANNELS || maskAddr == 0) return;
  atomic.or<u32>(wordAddr(maskAddr, port), 1 << (port & 31));
}

/**
 * Unmasks `port`; a pending event is raised again. Under FIFO a port that is not pending is
 * unmasked in place with compare-and-swap and only a pending one costs EVTCHNOP_unmask (Linux's
 * clear_masked_cond); under 2-level always EVTCHNOP_unmask. Returns 0 or -XEN_Exxx.
 */
export function evtchnUnmask(port: u32): i32 {
  if (port >= evtchnMaxPorts()) return -XEN_EINVAL;
  if (fifo) {
    const rc = arrayCover(port);
    if (rc < 0) return rc;
    const w = eventWord(port);
    let old = atomic.load<u32>(w);
    while ((old & W_PENDING) == 0) {
      const seen = atomic.cmpxchg<u32>(w, old, old & ~W_MASKED);
      if (seen == old) return 0;
      old = seen;
    }
  }
  changetype<evtchn_unmask>(ARG).port = port;
  return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, ARG);
}

/** Whether `port` is pending (its PENDING bit, or its bit in shared_info.evtchn_pending). */
export function evtchnIsPending(port: u32): bool {
  if (fifo) {
    const w = eventWord(port);
    return w != 0 && (atomic.load<u32>(w) & W_PENDING) != 0;
  }
  if (port >= NR_EVENT_CHANNELS || pendingAddr == 0) return false;
  return (atomic.load<u32>(wordAddr(pendingAddr, port)) & (1 << (port & 31))) != 0;
}

/** Clears `port`'s pending bit and returns whether it was set (for polling code that handles events itself). */
export function evtchnClearPending(port: u32): bool {
  if (fifo) {
    const w = eventWord(port);
    return w != 0 && (atomic.and<u32>(w, ~W_PENDING) & W_PENDING) != 0;
  }
  if (port >= NR_EVENT_CHANNELS || pendingAddr == 0) return false;
  const bit: u32 = 1 << (port & 31);
  return (atomic.and<u32>(wordAddr(pendingAddr, port), ~bit) & bit) != 0;
}

/**
 * Sets the FIFO priority of `port` (0 highest .. 15 lowest; new ports have 7): its events are
 * handled before those of lower priorities. Returns 0 or -XEN_Exxx (-ENOSYS under 2-level,
 * which has no priorities; -EINVAL bad port or priority).
 */
export function evtchnSetPriority(port: u32, priority: u32): i32 {
  const a = changetype<evtchn_set_priority>(ARG);
  a.port = port;
  a.priority = priority;
  return HYPERVISOR_event_channel_op(EVTCHNOP_set_priority, ARG);
}

/**
 * Sets (or with `handler` null, removes) the handler of an already bound `port` and unmasks it
 * (masks it when removed). Used for the boot console/xenstore ports and by the bind functions.
 * The registrant owns `arg`. Returns 0 or -XEN_Exxx (from EVTCHNOP_unmask).
 */
export function evtchnSetHandler(port: u32, handler: EvtchnHandler | null, arg: usize = 0): i32 {
  if (port >= evtchnMaxPorts()) return -XEN_EINVAL;
  const sl = slot(port, true);
  store<usize>(sl, handler === null ? 0 : changetype<usize>(handler));
  store<usize>(sl, arg, sizeof<usize>());
  if (handler === null) {
    evtchnMask(port);
    return 0;
  }
  return evtchnUnmask(port);
}

/** Installs `handler` on a freshly bound port `rc` (if `rc` is a port) and passes `rc` through. */
function bound(rc: i32, port: u32, handler: EvtchnHandler | null, arg: usize): i32 {
  if (rc < 0) return rc;
  if (fifo) {
    // The port needs its event word before anything is sent on it (Linux's evtchn_fifo_setup).
    const r = arrayCover(port);
    if (r < 0) return r;
  }
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
  if (port >= evtchnMaxPorts()) return -XEN_EINVAL;
  evtchnMask(port);
  const sl = slot(port, false);
  if (sl != 0) {
    store<usize>(sl, 0);
    store<usize>(sl, 0, sizeof<usize>());
  }
  changetype<evtchn_close>(ARG).port = port;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_close, ARG);
  evtchnClearPending(port);
  return rc;
}

/** Events that arrived on a port without a handler since boot (they are dropped). */
export function evtchnSpuriousCount(): u32 {
  return spurious;
}

/** Runs `port`'s handler, or counts the event as spurious when it has none. */
@inline function dispatch(port: u32): void {
  const sl = slot(port, false);
  const h: usize = sl == 0 ? 0 : load<usize>(sl);
  if (h == 0) spurious++;
  else changetype<EvtchnHandler>(h)(port, load<usize>(sl, sizeof<usize>()));
}

/** The most passes evtchnUpcall makes before returning (the harness calls again if still pending). */
const MAX_PASSES: i32 = 16;

/**
 * The upcall dispatcher, to be called from the guest's exported `xen_upcall`: clears
 * evtchn_upcall_pending and runs the handler of every pending, unmasked port after atomically
 * clearing its pending bit, so that an event raised while the handler runs is not lost. Masked
 * ports stay pending (EVTCHNOP_unmask raises them again). Repeats while Xen raised
 * evtchn_upcall_pending again meanwhile. Allocates nothing.
 * - FIFO: takes the `ready` word and consumes each ready queue from its head, highest priority
 *   first, as Linux's __evtchn_fifo_handle_events does (unlink with compare-and-swap, follow LINK).
 * - 2-level: exchanges evtchn_pending_sel with 0 (two atomic 32-bit halves) and scans each
 *   selected word of evtchn_pending.
 */
export function evtchnUpcall(): void {
  if (vcpuAddr == 0) return;
  const upcallPending = vcpuAddr + offsetof<vcpu_info>("evtchn_upcall_pending");
  for (let pass = 0; pass < MAX_PASSES && atomic.load<u8>(upcallPending) != 0; pass++) {
    atomic.store<u8>(upcallPending, 0);
    if (fifo) fifoHandleEvents();
    else twoLevelHandleEvents();
  }
}

/** The FIFO half of evtchnUpcall: drains every ready queue. */
function fifoHandleEvents(): void {
  const readyAddr = controlAddr + offsetof<evtchn_fifo_control_block>("ready");
  let ready = atomic.xchg<u32>(readyAddr, 0);
  while (ready != 0) {
    const q = ctz(ready);
    let port = unchecked(queueHeads[q]);
    // Reached the tail last time: Xen has put a new head in the control block.
    if (port == 0) port = atomic.load<u32>(controlAddr + offsetof<evtchn_fifo_control_block>("head") + (<usize>q << 2));
    const w = eventWord(port);
    let next: u32 = 0;
    let take = false;
    if (w != 0) {
      // Unlink (clear LINKED and LINK) in one swap, Xen may be setting LINK concurrently; an event
      // that is pending and not masked is taken in the same swap (PENDING cleared before its
      // handler runs, so that an event raised meanwhile is linked again, not lost). A masked one
      // stays pending (EVTCHNOP_unmask links it again); one closed since is not pending: skipped.
      // The first swap guesses the word of an event linked alone and not masked (PENDING and
      // LINKED): the line, which Xen wrote last, is then fetched once, for writing.
      let old: u32 = W_PENDING | W_LINKED;
      for (;;) {
        take = (old & (W_PENDING | W_MASKED)) == W_PENDING;
        const clear: u32 = W_LINKED | EVTCHN_FIFO_LINK_MASK | (take ? W_PENDING : 0);
        const seen = atomic.cmpxchg<u32>(w, old, old & ~clear);
        if (seen == old) break;
        old = seen;
      }
      next = old & EVTCHN_FIFO_LINK_MASK;
    }
    // An empty queue (no link) leaves our copy of ready; Xen sets the shared bit again when it
    // links a new head.
    if (next == 0) ready &= ~(<u32>1 << q);
    unchecked(queueHeads[q] = next);
    if (take && port != 0) dispatch(port);
    // Queues Xen made ready meanwhile (a plain load first: taking the line for writing only
    // when there is something to take leaves it with the sender).
    if (atomic.load<u32>(readyAddr) != 0) ready |= atomic.xchg<u32>(readyAddr, 0);
  }
}

/** The 2-level half of evtchnUpcall: scans the words the selector names. */
function twoLevelHandleEvents(): void {
  const sel = vcpuAddr + offsetof<vcpu_info>("evtchn_pending_sel");
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
        // An OR with 0 reads the word and takes its line for writing in one transfer (a load
        // would fetch it shared, and the first AND below fetch it again).
        let l2 = atomic.or<u32>(pAddr, 0) & ~atomic.load<u32>(mAddr);
        while (l2 != 0) {
          const bit: u32 = 1 << ctz(l2);
          l2 &= l2 - 1;
          if ((atomic.and<u32>(pAddr, ~bit) & bit) == 0) continue;
          dispatch((w32 << 5) + ctz(bit));
        }
      }
    }
  }
}
