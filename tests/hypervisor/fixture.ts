// A hypervisor with a few guest domains and no runner, for calling hypercalls directly: the
// test writes a Xen struct into guest memory, calls the family's entry point and reads it back.
import { k, layout, type Layout } from "../../bindings/abi/layout.js";
import { Hypervisor, type RunnerHooks } from "../../bindings/hypervisor/hypervisor.js";
import { Ctl, DomState, type Domain } from "../../bindings/hypervisor/domain.js";
import { createGuest, createHostDom0 } from "../../bindings/toolstack/builder.js";

/** Scratch address for argument structs (a free low frame, docs/ABI.md §2). */
export const ARG = 0x8000;

/** A test bench: hypervisor, host dom0 and guests 1..n (guest 3 privileged when `privileged3`). */
export function bench(n = 2, privileged3 = false) {
  let now = 0n;
  const consoles: Array<[number, string]> = [];
  const hooks: RunnerHooks = {
    now: () => now,
    poll: () => {},
    timerChanged: () => {},
    console: (d, b) => consoles.push([d.domid, new TextDecoder().decode(b)]),
    seed: () => 1,
  };
  const hv = new Hypervisor(hooks);
  const dom0 = createHostDom0(hv);
  const doms: Domain[] = [];
  for (let i = 1; i <= n; i++) {
    const d = createGuest(hv, dom0, { domid: i, name: `g${i}`, memMiB: 2, cmdline: "", privileged: privileged3 && i === 3 });
    Atomics.store(d.ctl, Ctl.State, DomState.Running);
    doms.push(d);
  }
  return { hv, dom0, doms, consoles, setNow: (t: bigint) => { now = t; } };
}

/** Writes `fields` of C type `type` at `addr` of `d` (zeroing the struct first). */
export function put(d: Domain, addr: number, type: string, fields: Record<string, number | bigint>, sizes: Record<string, 1 | 2 | 4 | 8> = {}): Layout {
  const l = layout(type);
  d.u8.fill(0, addr, addr + l.size);
  for (const [f, v] of Object.entries(fields)) {
    if (!(f in l)) throw new Error(`${type} has no member ${f}`);
    const size = sizes[f] ?? 4;
    if (size === 1) d.w8(addr + l[f], Number(v));
    else if (size === 2) d.w16(addr + l[f], Number(v));
    else if (size === 4) d.w32(addr + l[f], Number(v));
    else d.w64(addr + l[f], BigInt(v));
  }
  return l;
}

/** Xen error numbers as the ABI returns them (negative). */
export const E = new Proxy({} as Record<string, number>, { get: (_t, name: string) => -k(`XEN_E${name}`) });
/** GNTST_* values. */
export const GNTST = new Proxy({} as Record<string, number>, { get: (_t, name: string) => k(`GNTST_${name}`) });
export { k, layout };
