// The FIFO event-channel ABI (Xen's xen/common/event_fifo.c, docs/ABI.md §3): event words in
// guest frames (EVTCHNOP_expand_array), a control block per vCPU (EVTCHNOP_init_control), 16
// priority queues linked through the words. Xen's own state (the array's page addresses, the
// queue tails, each port's priority and last queue) lives in the domain's shared buffers; the
// event words, the heads and the ready bits live in guest memory and change only by 32-bit
// atomics, because the guest consumes its queues (on its own thread) while senders link events.
import { k, layout } from "../abi/layout.js";
import {
  Ctl, FIFO_MAX_PAGES, FIFO_QUEUES, FRAME_CONSOLE, MAX_EVTCHN_PORTS, NR_EVTCHN_PORTS, PAGE_SIZE, PORT_WORDS, PortFifo,
  lock, unlock, type Domain,
} from "./domain.js";

const PENDING = 1 << k("EVTCHN_FIFO_PENDING");
const MASKED = 1 << k("EVTCHN_FIFO_MASKED");
const LINKED = 1 << k("EVTCHN_FIFO_LINKED");
const BUSY = 1 << k("EVTCHN_FIFO_BUSY");
const LINK_MASK = k("EVTCHN_FIFO_LINK_MASK");
// (domain.ts imports this module, so its constants are not initialised yet at this module's top level.)
const WORDS_PER_PAGE = 4096 / 4;
/** The priority a port gets when it is allocated (EVTCHN_FIFO_PRIORITY_DEFAULT). */
export const FIFO_PRIORITY_DEFAULT = k("EVTCHN_FIFO_PRIORITY_DEFAULT");
const PRIORITY_MIN = k("EVTCHN_FIFO_PRIORITY_MIN");
const CB = layout("struct evtchn_fifo_control_block");
const IC = layout("struct evtchn_init_control");
const EA = layout("struct evtchn_expand_array");
const SP = layout("struct evtchn_set_priority");
const E = { INVAL: -k("XEN_EINVAL"), ENOENT: -k("XEN_ENOENT"), NOSPC: -k("XEN_ENOSPC"), OPNOTSUPP: -k("XEN_EOPNOTSUPP"), NOSYS: -k("XEN_ENOSYS"), ACCES: -k("XEN_EACCES") };

/**
 * Index in `d.i32` of `port`'s event word, or -1 when its event-array page is not there yet
 * (configuration words, plain loads: see Ctl; expand_array stores the page before the count).
 */
function wordIndex(d: Domain, port: number): number {
  const page = port >>> 10;
  if (page >= d.ctl[Ctl.FifoPages]) return -1;
  return (d.fifo[page] >>> 2) + (port & (WORDS_PER_PAGE - 1));
}

/** `port`'s priority and last queue (read under the FIFO lock on the send path). */
function fifoWord(d: Domain, port: number): number { return d.ports[port * PORT_WORDS + 3]; }

// The word try_set_link last read (Xen passes it by pointer); module scratch: allocation-free.
let seen = 0;

/** Xen's try_set_link: 1 linked, 0 the word is no longer LINKED (the guest consumed it), -1 retry. */
function trySetLink(d: Domain, idx: number, link: number): number {
  if (!(seen & LINKED)) return 0;
  const old = seen;
  seen = Atomics.compareExchange(d.i32, idx, old, (old & ~(BUSY | LINK_MASK)) | link);
  return seen === old ? 1 : -1;
}

/**
 * Xen's evtchn_fifo_set_link: points the LINK field of the word at `idx` to `link` while the word
 * is still LINKED. After a failed swap it sets BUSY (the guest's unlink keeps spinning while BUSY
 * is set, as Linux's does not: it simply retries its own compare-and-swap) and tries 4 more times.
 */
function setLink(d: Domain, idx: number, link: number): boolean {
  seen = Atomics.load(d.i32, idx);
  let r = trySetLink(d, idx, link);
  if (r >= 0) return r === 1;
  for (let t = 0; t < 4; t++) {
    seen = Atomics.or(d.i32, idx, BUSY) | BUSY;
    r = trySetLink(d, idx, link);
    if (r >= 0) {
      if (r === 0) Atomics.and(d.i32, idx, ~BUSY);
      return r === 1;
    }
  }
  Atomics.and(d.i32, idx, ~BUSY);
  return true;
}

/**
 * Raises `port` of `d` with Xen's FIFO rules (evtchn_fifo_set_pending): sets PENDING; an unmasked,
 * unlinked event is linked at the tail of its priority's queue (or becomes the head of an empty
 * queue, which sets the queue's ready bit and evtchn_upcall_pending). A port without an event
 * word yet is remembered and raised when its page is added. Returns true when it was newly
 * pending. `count`: a send, counted in Ctl.Events (not a re-raise by unmask or expand_array).
 * Safe from any thread: the queues are under d's FIFO lock.
 */
export function fifoSetPending(d: Domain, port: number, count = false): boolean {
  const idx = wordIndex(d, port);
  if (idx < 0) {
    if (count) Atomics.add(d.ctl, Ctl.Events, 1);
    Atomics.or(d.ports, port * PORT_WORDS + 3, PortFifo.PendingNoWord);
    return true;
  }
  // PENDING is set under the queue lock, as Xen does since XSA-343: the guest must not be woken
  // for an event that is not yet visibly linked. Inside the lock, the tails and the head are
  // plain reads and writes: only lock holders touch the tails, and the head is published to the
  // guest by the atomic OR of `ready` that follows it (or by the unlock).
  lock(d.ctl, Ctl.FifoLock);
  let ready = -1, cb = -1, wasPending = true;
  try {
    if (count) d.ctl[Ctl.Events]++; // under the lock: no atomic add needed
    // Set PENDING and, unless the event is masked or already linked, LINKED with LINK cleared:
    // one compare-and-swap (Xen's two test-and-sets; the guest changes the word concurrently).
    // The first swap guesses the word a consumed event leaves (0: not pending, linked or
    // masked): the line is then taken once for writing, where a load first would fetch it
    // shared and upgrade it, two transfers from the guest's core instead of one.
    let w = Atomics.compareExchange(d.i32, idx, 0, PENDING | LINKED), link = true;
    if (w !== 0) for (;;) {
      link = !(w & (MASKED | LINKED));
      const want = link ? ((w | PENDING | LINKED) & ~LINK_MASK) : (w | PENDING);
      if (want === w) break; // already pending, and masked or linked: nothing changes
      const got = Atomics.compareExchange(d.i32, idx, w, want);
      if (got === w) break;
      w = got;
    }
    wasPending = (w & PENDING) !== 0;
    if (link) {
      const info = fifoWord(d, port);
      const q = info & PortFifo.PriorityMask;
      const last = (info & PortFifo.LastMask) >>> PortFifo.LastShift;
      // If this event was the tail of the queue it was last on, that queue is empty now (the
      // guest consumed it): forget the tail, or a later event would be linked behind it.
      if (d.ctl[Ctl.FifoTails + last] === port) d.ctl[Ctl.FifoTails + last] = 0;
      if (last !== q) Atomics.store(d.ports, port * PORT_WORDS + 3, (info & ~PortFifo.LastMask) | (q << PortFifo.LastShift));
      const tail = d.ctl[Ctl.FifoTails + q];
      let linked = false;
      if (tail !== 0) {
        const t = wordIndex(d, tail);
        linked = t >= 0 && setLink(d, t, port);
      }
      cb = d.ctl[Ctl.FifoControl];
      if (!linked && cb >= 0) {
        d.i32[(cb + CB.head) / 4 + q] = port;
        ready = q;
      }
      d.ctl[Ctl.FifoTails + q] = port;
    }
  } finally {
    unlock(d.ctl, Ctl.FifoLock);
  }
  // `ready` is set in the control block the head was written to (read once, under the lock).
  if (ready >= 0) {
    if (!(Atomics.or(d.i32, cb / 4, 1 << ready) & (1 << ready))) { d.markEventsPending(); return !wasPending; }
  }
  // A vCPU asleep in SCHEDOP_poll may wait for this port, masked or not (evtchn_check_pollers).
  if (!wasPending && Atomics.load(d.ctl, Ctl.Sleeping) !== 0) d.wake();
  return !wasPending;
}

/**
 * True when `port`'s event word exists and is PENDING (Xen's evtchn_fifo_is_pending: an event
 * raised before the port had a word is remembered for expand_array, but is not pending yet).
 */
export function fifoIsPending(d: Domain, port: number): boolean {
  const idx = wordIndex(d, port);
  return idx >= 0 && (Atomics.load(d.i32, idx) & PENDING) !== 0;
}

/** True when `port`'s word is LINKED: a closed port stays busy (not reallocated) until the guest unlinks it. */
export function fifoIsBusy(d: Domain, port: number): boolean {
  const idx = wordIndex(d, port);
  return idx >= 0 && (Atomics.load(d.i32, idx) & LINKED) !== 0;
}

/** True when `port` has no event word yet or its word is MASKED (Xen's evtchn_fifo_is_masked). */
export function fifoIsMasked(d: Domain, port: number): boolean {
  const idx = wordIndex(d, port);
  return idx < 0 || (Atomics.load(d.i32, idx) & MASKED) !== 0;
}

/** Clears `port`'s PENDING bit (a linked word stays linked: the guest skips it when consuming). */
export function fifoClearPending(d: Domain, port: number): void {
  if (port >= MAX_EVTCHN_PORTS) return;
  Atomics.and(d.ports, port * PORT_WORDS + 3, ~PortFifo.PendingNoWord);
  const idx = wordIndex(d, port);
  if (idx >= 0) Atomics.and(d.i32, idx, ~PENDING);
}

/** EVTCHNOP_unmask under FIFO: clears MASKED and links the event if it is pending. */
export function fifoUnmask(d: Domain, port: number): void {
  const idx = wordIndex(d, port);
  if (idx < 0) return;
  Atomics.and(d.i32, idx, ~MASKED);
  if (Atomics.load(d.i32, idx) & PENDING) fifoSetPending(d, port);
}

/** True when frame `gfn` may hold a guest-registered Xen page (not frames 0..3, inside memory). */
export function guestFrameOk(d: Domain, gfn: number): boolean {
  return gfn > FRAME_CONSOLE && gfn < d.nrPages;
}

/**
 * EVTCHNOP_init_control: registers vCPU 0's control block at `control_gfn` + `offset` and, the
 * first time, switches the domain from 2-level to FIFO: ports already bound get the default
 * priority, and those pending in the 2-level bitmap stay pending (raised when their event-array
 * page is added). Errors in Xen's order: -ENOENT vCPU, -EINVAL offset (beyond 4096 - 72 or not
 * 8-aligned), -EINVAL already registered, -EINVAL bad frame (the domain stays 2-level, XSA-188);
 * link_bits is written only on success. Caller holds d's lock. `pending2l` reads the 2-level
 * state being left.
 */
export function initControl(d: Domain, arg: number, pending2l: (port: number) => boolean, bound: (port: number) => boolean): number {
  d.check(arg, IC.size);
  const gfn = d.u64n(arg + IC.control_gfn), offset = d.u32(arg + IC.offset), vcpu = d.u32(arg + IC.vcpu);
  if (vcpu !== 0) return E.ENOENT;
  if (offset > PAGE_SIZE - CB.size || (offset & 7) !== 0) return E.INVAL;
  if (Atomics.load(d.ctl, Ctl.FifoControl) >= 0) return E.INVAL;
  if (!guestFrameOk(d, gfn)) return E.INVAL;
  const first = !d.fifoAbi;
  if (first) {
    Atomics.store(d.ctl, Ctl.FifoPages, 0);
    for (let q = 0; q < FIFO_QUEUES; q++) Atomics.store(d.ctl, Ctl.FifoTails + q, 0);
    for (let p = 1; p < NR_EVTCHN_PORTS; p++) {
      if (!bound(p)) continue;
      const pend = !d.isUserPort(p) && pending2l(p) ? PortFifo.PendingNoWord : 0;
      Atomics.store(d.ports, p * PORT_WORDS + 3, FIFO_PRIORITY_DEFAULT | (FIFO_PRIORITY_DEFAULT << PortFifo.LastShift) | pend);
    }
  }
  Atomics.store(d.ctl, Ctl.FifoControl, gfn * PAGE_SIZE + offset);
  d.w8(arg + IC.link_bits, k("EVTCHN_FIFO_LINK_BITS"));
  if (first) Atomics.store(d.ctl, Ctl.EvtchnFifo, 1);
  return 0;
}

/**
 * EVTCHNOP_expand_array: adds the frame `array_gfn` as the next event-array page (Xen neither
 * clears it nor reads it: a guest initialises its words, Linux to MASKED) and raises the ports of
 * that page that became pending while they had no word. Caller holds d's lock.
 */
export function expandArray(d: Domain, arg: number): number {
  d.check(arg, EA.size);
  if (!d.fifoAbi) return E.OPNOTSUPP;
  const gfn = d.u64n(arg + EA.array_gfn);
  const slot = Atomics.load(d.ctl, Ctl.FifoPages);
  if (slot >= FIFO_MAX_PAGES) return E.NOSPC;
  if (!guestFrameOk(d, gfn)) return E.INVAL;
  Atomics.store(d.fifo, slot, gfn * PAGE_SIZE);
  Atomics.store(d.ctl, Ctl.FifoPages, slot + 1);
  for (let p = slot * WORDS_PER_PAGE; p < (slot + 1) * WORDS_PER_PAGE; p++) {
    if (Atomics.and(d.ports, p * PORT_WORDS + 3, ~PortFifo.PendingNoWord) & PortFifo.PendingNoWord) fifoSetPending(d, p);
  }
  return 0;
}

/**
 * EVTCHNOP_set_priority: the port's next linking goes to queue `priority` (0..15); a linked event
 * stays on its old queue until consumed. Errors in Xen's order: -EINVAL port out of range,
 * -ENOSYS under 2-level, -EACCES port not in use, -EINVAL priority.
 */
export function setPriority(d: Domain, arg: number, valid: (port: number) => boolean, inUse: (port: number) => boolean): number {
  d.check(arg, SP.size);
  const port = d.u32(arg + SP.port), priority = d.u32(arg + SP.priority);
  if (!valid(port)) return E.INVAL;
  if (!d.fifoAbi) return E.NOSYS;
  if (!inUse(port)) return E.ACCES;
  if (priority > PRIORITY_MIN) return E.INVAL;
  const i = port * PORT_WORDS + 3;
  for (;;) {
    const w = Atomics.load(d.ports, i);
    if (Atomics.compareExchange(d.ports, i, w, (w & ~PortFifo.PriorityMask) | priority) === w) return 0;
  }
}

/** Leaves the FIFO ABI (EVTCHNOP_reset): back to 2-level with no control block and no event array. */
export function fifoDestroy(d: Domain): void {
  Atomics.store(d.ctl, Ctl.EvtchnFifo, 0);
  Atomics.store(d.ctl, Ctl.FifoControl, -1);
  Atomics.store(d.ctl, Ctl.FifoPages, 0);
  for (let q = 0; q < FIFO_QUEUES; q++) Atomics.store(d.ctl, Ctl.FifoTails + q, 0);
}
