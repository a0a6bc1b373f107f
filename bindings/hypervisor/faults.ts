// Seeded fault injection (issue 15): a domain armed with a percentage sees that share of its
// fault-injectable calls fail with an error Xen itself can return there, so that the SDK's and
// the drivers' error paths run. The sites: a grant map entry (GNTST_no_space, as when the
// maptrack is full, or GNTST_general_error), a grant copy entry (GNTST_general_error), a new
// port for a channel (EVTCHNOP_alloc_unbound, bind_interdomain, bind_ipi: -ENOSPC, as when the
// domain's ports are used up; not bind_virq, whose ports a kernel takes once at boot and cannot
// do without) and xenstored's commit of a transaction (EAGAIN, as when another writer got in
// first). Frames are not injected: the SDK's memory is its own linear memory, it asks Xen for
// none (XENMEM_add_to_physmap only places shared_info and grant frames at boot). The generator's state is in the
// domain's control words, so every thread draws from the same per-domain sequence.
import { Ctl, type Domain } from "./domain.js";

/** Arms `d`: `percent` (0..100) of its fault-injectable calls fail, drawn from a sequence seeded by `seed` and its domid. */
export function armFaults(d: Domain, seed: number, percent: number): void {
  if (!(Number.isInteger(percent) && percent >= 0 && percent <= 100)) throw new RangeError(`fault percentage must be 0..100, not ${percent}`);
  d.ctl[Ctl.FaultRng] = (seed ^ Math.imul(d.domid + 1, 0x9e3779b9)) | 0;
  d.ctl[Ctl.FaultPercent] = percent;
}

/**
 * Draws for one fault-injectable call of `d`: 0 when it proceeds (always, unless armed), else a
 * non-zero random number the site may use to pick among its errors; counts the faults injected.
 */
export function injectFault(d: Domain): number {
  const percent = d.ctl[Ctl.FaultPercent];
  if (percent === 0) return 0;
  // mulberry32, with its state advanced atomically: concurrent callers each get their own draw.
  let t = (Atomics.add(d.ctl, Ctl.FaultRng, 0x6d2b79f5) + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const r = (t ^ (t >>> 14)) >>> 0;
  if ((r % 100) >= percent) return 0;
  Atomics.add(d.ctl, Ctl.Faults, 1);
  return (r >>> 7) | 1;
}

/** Faults injected into `d` so far. */
export function faultsInjected(d: Domain): number {
  return d.ctl[Ctl.Faults];
}
