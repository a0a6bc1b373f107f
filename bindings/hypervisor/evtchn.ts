// HYPERVISOR_event_channel_op: one handler per sub-op, named after its struct (docs/ABI.md §3).
// Port tables live in each domain's shared buffer; a domain's lock guards its table, and an
// operation on two domains takes both locks in domid order.
import { k, layout } from "../abi/layout.js";
import { Ctl, Domain, Ecs, MAX_EVTCHN_PORTS, PORT_WORDS, PortFifo, lock, lockPair, unlock, unlockPair } from "./domain.js";
import { FIFO_PRIORITY_DEFAULT, expandArray, fifoDestroy, fifoIsBusy, initControl, setPriority } from "./evtchn_fifo.js";
import { guarded, type Hypervisor } from "./hypervisor.js";
import { injectFault } from "./faults.js";

const E = { PERM: -k("XEN_EPERM"), ENOENT: -k("XEN_ENOENT"), ESRCH: -k("XEN_ESRCH"), INVAL: -k("XEN_EINVAL"), NOSPC: -k("XEN_ENOSPC"), EXIST: -k("XEN_EEXIST"), NOSYS: -k("XEN_ENOSYS"), BUSY: -k("XEN_EBUSY") };
const DOMID_SELF = k("DOMID_SELF");
const NR_VIRQS = k("NR_VIRQS");
const AU = layout("struct evtchn_alloc_unbound");
const BI = layout("struct evtchn_bind_interdomain");
const BV = layout("struct evtchn_bind_virq");
const BIPI = layout("struct evtchn_bind_ipi");
const PORT = layout("struct evtchn_send");
const ST = layout("struct evtchn_status");
const BVCPU = layout("struct evtchn_bind_vcpu");
const RESET = layout("struct evtchn_reset");
const STAT: Record<number, number> = {
  [Ecs.Free]: k("EVTCHNSTAT_closed"), [Ecs.Reserved]: k("EVTCHNSTAT_closed"), [Ecs.Unbound]: k("EVTCHNSTAT_unbound"),
  [Ecs.Interdomain]: k("EVTCHNSTAT_interdomain"), [Ecs.Pirq]: k("EVTCHNSTAT_pirq"), [Ecs.Virq]: k("EVTCHNSTAT_virq"), [Ecs.Ipi]: k("EVTCHNSTAT_ipi"),
};

/** The state word of `port` in `d`'s table. */
export function portState(d: Domain, port: number): Ecs { return Atomics.load(d.ports, port * PORT_WORDS); }
/** Word `i` (1 or 2) of `port`: a plain load, ordered by the atomic load of its state before it (setPort writes the state last). */
function portWord(d: Domain, port: number, i: number): number { return d.ports[port * PORT_WORDS + i]; }
function setPort(d: Domain, port: number, state: Ecs, a = 0, b = 0): void {
  Atomics.store(d.ports, port * PORT_WORDS + 1, a);
  Atomics.store(d.ports, port * PORT_WORDS + 2, b);
  // FIFO: a new or closed port gets the default priority; the queue it was last linked on stays
  // known (its event word may still sit in that queue until the guest consumes it).
  const fifo = Atomics.load(d.ports, port * PORT_WORDS + 3);
  Atomics.store(d.ports, port * PORT_WORDS + 3, (fifo & PortFifo.LastMask) | FIFO_PRIORITY_DEFAULT);
  Atomics.store(d.ports, port * PORT_WORDS, state);
  if (state === Ecs.Free) {
    d.setUserPort(port, false);
    d.clearPending(port); // Xen's evtchn_free: a closed port is not pending under either ABI
    if (port < Atomics.load(d.ctl, Ctl.PortHint)) Atomics.store(d.ctl, Ctl.PortHint, port);
  }
}

/**
 * True for a port number that may be in use: below 2^17. Ports from 4096 up can only be in use
 * under FIFO (2-level never allocates them, and EVTCHNOP_reset closes them), so for ops on a
 * bound port the state check does the rest; ops that answer for free ports too use maxPorts().
 */
function validPort(port: number): boolean { return port > 0 && port < MAX_EVTCHN_PORTS; }

/**
 * Allocates a port of `d` in `state` (with word a) under d's lock, lets `bound` record it, and
 * writes it at `out` in the caller's memory; returns 0 or a negative errno.
 */
function newPort(caller: Domain, d: Domain, out: number, state: Ecs, a = 0, bound?: (port: number) => number): number {
  lock(d.ctl, Ctl.Lock);
  try {
    const port = allocPort(d);
    if (port < 0) return port;
    const rc = bound ? bound(port) : 0;
    if (rc < 0) return rc;
    setPort(d, port, state, a);
    caller.w32(out, port);
    return 0;
  } finally {
    unlock(d.ctl, Ctl.Lock);
  }
}

/**
 * Allocates the lowest free port of `d` (caller holds d's lock); -ENOSPC when full (exactly that,
 * XSA-317). Under FIFO a closed port whose word is still LINKED is busy and skipped, as in Xen.
 */
function allocPort(d: Domain): number {
  const max = d.maxPorts(), fifo = d.fifoAbi;
  let busy = max; // the hint must not pass a busy port: it frees up without a close
  for (let p = Math.max(1, Atomics.load(d.ctl, Ctl.PortHint)); p < max; p++) {
    if (portState(d, p) !== Ecs.Free) continue;
    if (fifo && fifoIsBusy(d, p)) { busy = Math.min(busy, p); continue; }
    Atomics.store(d.ctl, Ctl.PortHint, Math.min(busy, p + 1));
    return p;
  }
  Atomics.store(d.ctl, Ctl.PortHint, busy);
  return E.NOSPC;
}

/** Resolves the `dom` argument of an op on another domain's ports: self, or privileged only. */
function target(hv: Hypervisor, caller: Domain, domid: number): Domain | number {
  const d = hv.lookup(caller, domid);
  if (typeof d === "number") return d;
  if (d !== caller && !caller.privileged) return E.PERM;
  return d;
}

/** EVTCHNOP_alloc_unbound: a new port of `dom` that only `remote_dom` may bind. */
export function allocUnbound(hv: Hypervisor, caller: Domain, arg: number): number {
  caller.check(arg, AU.size);
  const d = target(hv, caller, caller.u16(arg + AU.dom));
  if (typeof d === "number") return d;
  const rdomid = caller.u16(arg + AU.remote_dom);
  const r = hv.lookup(d, rdomid);
  if (typeof r === "number") return r;
  caller.check(arg + AU.port, 4);
  if (injectFault(d)) return E.NOSPC; // fault injection: as if d's ports were used up
  return newPort(caller, d, arg + AU.port, Ecs.Unbound, r.domid);
}

/** Binds `caller` to `r`'s unbound port reserved for it; both ends become interdomain. */
export function bindInterdomainTo(caller: Domain, r: Domain, rport: number): number {
  if (!validPort(rport)) return E.INVAL;
  lockPair(caller, r);
  try {
    if (portState(r, rport) !== Ecs.Unbound || portWord(r, rport, 1) !== caller.domid) return E.INVAL;
    if (injectFault(caller)) return E.NOSPC;
    const port = allocPort(caller);
    if (port < 0) return port;
    setPort(caller, port, Ecs.Interdomain, r.domid, rport);
    setPort(r, rport, Ecs.Interdomain, caller.domid, port);
    // Xen raises the event on the local port so that neither end misses an early notification.
    caller.setPending(port);
    return port;
  } finally {
    unlockPair(caller, r);
  }
}

/** EVTCHNOP_bind_interdomain: connects a new local port to `remote_dom`'s unbound port. */
export function bindInterdomain(hv: Hypervisor, caller: Domain, arg: number): number {
  caller.check(arg, BI.size);
  const r = hv.lookup(caller, caller.u16(arg + BI.remote_dom));
  if (typeof r === "number") return r;
  const port = bindInterdomainTo(caller, r, caller.u32(arg + BI.remote_port));
  if (port < 0) return port;
  caller.w32(arg + BI.local_port, port);
  return 0;
}

/** EVTCHNOP_bind_virq: binds VIRQ `virq` of vCPU `vcpu` to a new port. */
export function bindVirq(hv: Hypervisor, caller: Domain, arg: number): number {
  caller.check(arg, BV.size);
  const virq = caller.u32(arg + BV.virq), vcpu = caller.u32(arg + BV.vcpu);
  if (virq >= NR_VIRQS) return E.INVAL;
  if (vcpu !== 0) return E.ENOENT;
  return newPort(caller, caller, arg + BV.port, Ecs.Virq, virq, (port) => {
    if (caller.ctl[Ctl.VirqPorts + virq] !== 0) return E.EXIST;
    caller.ctl[Ctl.VirqPorts + virq] = port;
    return 0;
  });
}

/** EVTCHNOP_bind_ipi: a new port for notifying vCPU `vcpu` of the caller (only vCPU 0 exists). */
export function bindIpi(hv: Hypervisor, caller: Domain, arg: number): number {
  caller.check(arg, BIPI.size);
  if (caller.u32(arg + BIPI.vcpu) !== 0) return E.ENOENT;
  if (injectFault(caller)) return E.NOSPC;
  return newPort(caller, caller, arg + BIPI.port, Ecs.Ipi);
}

/** Sends an event on `caller`'s `port`; the fast path takes no lock (state words are atomic). */
export function sendPort(hv: Hypervisor, caller: Domain, port: number): number {
  if (!validPort(port)) return E.INVAL;
  switch (portState(caller, port)) {
    case Ecs.Interdomain: {
      const r = hv.domain(portWord(caller, port, 1));
      if (r) {
        hv.tracer?.sendFlow(caller, r);
        r.setPending(portWord(caller, port, 2));
      }
      hv.hooks.trace?.(`send ${caller.domid}:${port} -> ${portWord(caller, port, 1)}:${portWord(caller, port, 2)}`);
      return 0;
    }
    case Ecs.Ipi:
      hv.tracer?.sendFlow(caller, caller);
      caller.setPending(port);
      return 0;
    case Ecs.Unbound: return 0;
    default: return E.INVAL;
  }
}

/** Closes `port` of `d`; an interdomain peer's end becomes unbound, reserved for `d`. */
export function closePort(hv: Hypervisor, d: Domain, port: number): number {
  if (!validPort(port)) return E.INVAL;
  const state = portState(d, port);
  if (state === Ecs.Free) return E.INVAL;
  if (state === Ecs.Interdomain) {
    const r = hv.domain(portWord(d, port, 1));
    const rport = portWord(d, port, 2);
    if (r) {
      lockPair(d, r);
      try {
        if (portState(r, rport) === Ecs.Interdomain && portWord(r, rport, 1) === d.domid && portWord(r, rport, 2) === port) {
          setPort(r, rport, Ecs.Unbound, d.domid);
        }
        setPort(d, port, Ecs.Free);
      } finally {
        unlockPair(d, r);
      }
      return 0;
    }
  }
  lock(d.ctl, Ctl.Lock);
  try {
    if (state === Ecs.Virq) d.ctl[Ctl.VirqPorts + portWord(d, port, 1)] = 0;
    setPort(d, port, Ecs.Free);
  } finally {
    unlock(d.ctl, Ctl.Lock);
  }
  return 0;
}

/** EVTCHNOP_close. */
export function close(hv: Hypervisor, caller: Domain, arg: number): number {
  return closePort(hv, caller, caller.u32(arg + PORT.port));
}

/** EVTCHNOP_status: reports what port `port` of domain `dom` is bound to. */
export function status(hv: Hypervisor, caller: Domain, arg: number): number {
  caller.check(arg, ST.size);
  const d = target(hv, caller, caller.u16(arg + ST.dom));
  if (typeof d === "number") return d;
  const port = caller.u32(arg + ST.port);
  if (port >= d.maxPorts()) return E.INVAL;
  const state = port === 0 ? Ecs.Reserved : portState(d, port);
  caller.w32(arg + ST.status, STAT[state]);
  caller.w32(arg + ST.vcpu, 0);
  caller.w32(arg + ST["u.interdomain.dom"], 0);
  caller.w32(arg + ST["u.interdomain.port"], 0);
  if (state === Ecs.Unbound) caller.w16(arg + ST["u.unbound.dom"], portWord(d, port, 1));
  else if (state === Ecs.Interdomain) {
    caller.w16(arg + ST["u.interdomain.dom"], portWord(d, port, 1));
    caller.w32(arg + ST["u.interdomain.port"], portWord(d, port, 2));
  } else if (state === Ecs.Virq) caller.w32(arg + ST["u.virq"], portWord(d, port, 1));
  return 0;
}

/** EVTCHNOP_unmask: clears the mask (bit or MASKED) and re-raises the event if the port is pending. */
export function unmask(hv: Hypervisor, caller: Domain, arg: number): number {
  const port = caller.u32(arg + PORT.port);
  if (port >= caller.maxPorts()) return E.INVAL;
  if (portState(caller, port) !== Ecs.Free) caller.unmask(port); // Xen: a no-op on a port not in use
  return 0;
}

/**
 * EVTCHNOP_reset: closes every port of `dom` except the boot console and xenstore ports and
 * returns a FIFO domain to the 2-level ABI (its kept ports' events are raised again there).
 */
export function reset(hv: Hypervisor, caller: Domain, arg: number): number {
  const d = target(hv, caller, caller.u16(arg + RESET.dom));
  if (typeof d === "number") return d;
  const keep = [d.ctl[Ctl.ConsolePort], d.ctl[Ctl.StorePort]];
  for (let p = 1; p < MAX_EVTCHN_PORTS; p++) if (p !== keep[0] && p !== keep[1] && portState(d, p) !== Ecs.Free) closePort(hv, d, p);
  if (d.fifoAbi) {
    lock(d.ctl, Ctl.Lock);
    try { fifoDestroy(d); } finally { unlock(d.ctl, Ctl.Lock); }
    for (const p of keep) if (p && portState(d, p) !== Ecs.Free) d.setPending(p);
  }
  return 0;
}

/** EVTCHNOP_init_control: switches `caller` to the FIFO ABI (evtchn_fifo.ts). */
export function fifoInitControl(hv: Hypervisor, caller: Domain, arg: number): number {
  lock(caller.ctl, Ctl.Lock);
  try {
    return initControl(caller, arg, (p) => caller.portPending(p), (p) => portState(caller, p) !== Ecs.Free);
  } finally {
    unlock(caller.ctl, Ctl.Lock);
  }
}

/** EVTCHNOP_expand_array: adds a page of FIFO event words. */
export function fifoExpandArray(hv: Hypervisor, caller: Domain, arg: number): number {
  lock(caller.ctl, Ctl.Lock);
  try { return expandArray(caller, arg); } finally { unlock(caller.ctl, Ctl.Lock); }
}

/** EVTCHNOP_set_priority: a port's FIFO queue (-ENOSYS under 2-level, -EINVAL bad port or priority). */
export function fifoSetPriority(hv: Hypervisor, caller: Domain, arg: number): number {
  return setPriority(caller, arg, (p) => p < caller.maxPorts(), (p) => p > 0 && portState(caller, p) !== Ecs.Free);
}

/** EVTCHNOP_bind_vcpu: only vCPU 0 exists, so binding to it is the only success. */
export function bindVcpu(hv: Hypervisor, caller: Domain, arg: number): number {
  caller.check(arg, BVCPU.size);
  const port = caller.u32(arg + BVCPU.port);
  if (!validPort(port) || portState(caller, port) === Ecs.Free) return E.INVAL;
  return caller.u32(arg + BVCPU.vcpu) === 0 ? 0 : E.ENOENT;
}

/** Closes every port of a domain that is going away (peers' ends become unbound). */
export function closeAll(hv: Hypervisor, d: Domain): void {
  for (let p = 1; p < MAX_EVTCHN_PORTS; p++) if (portState(d, p) !== Ecs.Free) closePort(hv, d, p);
}

/** Raises VIRQ `virq` of `d` if it is bound. */
export function sendVirq(d: Domain, virq: number): void {
  const port = d.ctl[Ctl.VirqPorts + virq];
  if (port) d.setPending(port);
}

const OPS: Record<number, (hv: Hypervisor, d: Domain, arg: number) => number> = {
  [k("EVTCHNOP_alloc_unbound")]: allocUnbound,
  [k("EVTCHNOP_bind_interdomain")]: bindInterdomain,
  [k("EVTCHNOP_bind_virq")]: bindVirq,
  [k("EVTCHNOP_bind_ipi")]: bindIpi,
  [k("EVTCHNOP_close")]: close,
  [k("EVTCHNOP_status")]: status,
  [k("EVTCHNOP_unmask")]: unmask,
  [k("EVTCHNOP_reset")]: reset,
  [k("EVTCHNOP_bind_vcpu")]: bindVcpu,
  [k("EVTCHNOP_init_control")]: fifoInitControl,
  [k("EVTCHNOP_expand_array")]: fifoExpandArray,
  [k("EVTCHNOP_set_priority")]: fifoSetPriority,
  // EVTCHNOP_reset_cont (14, Xen-internal: its continuation of a preempted reset). The harness's
  // reset never stops half way, so no reset is ever in progress: Xen's answer is -EBUSY.
  [14]: () => E.BUSY,
};

const EVTCHNOP_send = k("EVTCHNOP_send");
const EFAULT = -k("XEN_EFAULT");

/**
 * The `event_channel_op(cmd, arg)` import. EVTCHNOP_send, on every notification's path, goes
 * straight to sendPort (no table lookup, no closure for `guarded`): its struct is one u32.
 */
export function eventChannelOp(hv: Hypervisor, d: Domain, cmd: number, arg: number): number {
  // EVTCHNOP_send, the hot one, is answered here without the table and the guard.
  if (cmd === EVTCHNOP_send) return arg >= 0 && arg + 4 <= d.bytes ? sendPort(hv, d, d.view.getUint32(arg, true)) : EFAULT;
  const op = OPS[cmd];
  if (!op) return E.NOSYS;
  return guarded(() => op(hv, d, arg));
}

export { DOMID_SELF };

/** Connects `a`'s port `pa` and `b`'s port `pb` as an interdomain pair (the domain builder's boot channels). */
export function connectPorts(a: Domain, pa: number, b: Domain, pb: number): void {
  setPort(a, pa, Ecs.Interdomain, b.domid, pb);
  setPort(b, pb, Ecs.Interdomain, a.domid, pa);
}

/** The port of domain 0 that `d`'s `port` is bound to, or -1 when it is not an interdomain port to domain 0. */
export function dom0End(d: Domain, port: number): number {
  if (!validPort(port) || portState(d, port) !== Ecs.Interdomain || portWord(d, port, 1) !== 0) return -1;
  return portWord(d, port, 2);
}

/** The lowest free port of `d` (for the domain builder), or -ENOSPC. */
export function freePort(d: Domain): number {
  return allocPort(d);
}
