// The hypervisor as one thread sees it: the domains, the clock and the runner's hooks. Each
// hypercall family lives in its own module (evtchn.ts, gnttab.ts, ...) and acts on shared
// state through `Hypervisor`; `guestImports` binds them into a guest's `xen` import module.
import { k } from "../abi/layout.js";
import { Ctl, DomState, Domain, GuestFault, type DomainDescriptor } from "./domain.js";
import type { Tracer } from "../runner/trace.js";

/** What a runner provides to the hypercalls that depend on scheduling or output. */
export interface RunnerHooks {
  /** System time in ns (virtual under the deterministic runner). */
  now(): bigint;
  /** Blocks `dom` (SCHEDOP_poll) until `ready()` or the deadline (null: none). */
  poll(dom: Domain, ready: () => boolean, deadline: bigint | null): void;
  /** Called after `dom`'s single-shot timer was armed or stopped. */
  timerChanged(dom: Domain): void;
  /** Console bytes a domain wrote (console_io or its console ring), in order. */
  console(dom: Domain, bytes: Uint8Array): void;
  /** The `Math.random` seed handed to guests (env.seed). */
  seed(dom: Domain): number;
  /** Records one event of the run's trace (deterministic runner). */
  trace?(line: string): void;
}

/** Thrown through a guest's stack to end it: SCHEDOP_shutdown, a crash, or the harness. */
export class DomainExit extends Error {
  constructor(readonly reason: number, message: string) { super(message); }
}

const ESRCH = k("XEN_ESRCH");
const DOMID_SELF = k("DOMID_SELF");

/** One thread's hypervisor: domain views by domid plus the runner hooks. */
export class Hypervisor {
  private readonly doms = new Map<number, Domain>();
  /** This thread's trace recorder while the run is traced (runner/trace.ts); set before any guest is instantiated. */
  tracer: Tracer | undefined = undefined;
  /** Whether entries into guests are timed into Ctl.CpuUs (on while traced or watched by the dashboard). */
  accounting = false;
  constructor(readonly hooks: RunnerHooks) {}

  /** Adds (or refreshes) a domain from its descriptor and returns this thread's view. */
  attach(desc: DomainDescriptor): Domain {
    const d = new Domain(desc);
    this.doms.set(desc.domid, d);
    return d;
  }

  /** The domain `domid`, or undefined if this thread does not know it. */
  domain(domid: number): Domain | undefined { return this.doms.get(domid); }

  /** Every known domain, in domid order. */
  domains(): Domain[] { return [...this.doms.values()].sort((a, b) => a.domid - b.domid); }

  /** Resolves a domid argument (DOMID_SELF → the caller); -ESRCH when unknown or dying. */
  lookup(caller: Domain, domid: number): Domain | number {
    if (domid === DOMID_SELF) return caller;
    const d = this.doms.get(domid);
    return d ? d : -ESRCH;
  }

  now(): bigint { return this.hooks.now(); }

  /** Marks `dom` shut down with `reason` (idempotent: the first reason wins). */
  shutdown(dom: Domain, reason: number): void {
    if (Atomics.compareExchange(dom.ctl, Ctl.State, DomState.Running, DomState.Shutdown) === DomState.Running ||
        Atomics.compareExchange(dom.ctl, Ctl.State, DomState.Building, DomState.Shutdown) === DomState.Building) {
      dom.ctl[Ctl.Reason] = reason;
      dom.wake();
    }
  }
}

/** Runs a hypercall body, turning a guest-memory fault into -EFAULT. */
export function guarded(fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    if (e instanceof GuestFault) return e.errno;
    throw e;
  }
}
