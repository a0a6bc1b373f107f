// HYPERVISOR_memory_op: XENMEM_add_to_physmap places shared_info, grant-table frames and v2 grant
// status frames in the guest's own memory (the HVM/PVH convention of DESIGN §1); the reservation queries.
import { k, layout } from "../abi/layout.js";
import { Domain, FRAME_CONSOLE } from "./domain.js";
import { addGrantFrame } from "./gnttab.js";
import { guarded, type Hypervisor } from "./hypervisor.js";
import { publishTime } from "./vcpu.js";

const E = { PERM: -k("XEN_EPERM"), INVAL: -k("XEN_EINVAL"), NOSYS: -k("XEN_ENOSYS") };
const ATP = layout("struct xen_add_to_physmap");
const DOMID_SELF = k("DOMID_SELF");

/** XENMEM_add_to_physmap: maps shared_info (idx 0), grant frame `idx` or a v2 status frame at frame `gpfn`. */
export function addToPhysmap(hv: Hypervisor, d: Domain, arg: number): number {
  d.check(arg, ATP.size);
  const domid = d.u16(arg + ATP.domid);
  if (domid !== DOMID_SELF && domid !== d.domid) return E.PERM;
  const space = d.u32(arg + ATP.space);
  const idx = d.u64n(arg + ATP.idx);
  const gpfn = d.u64n(arg + ATP.gpfn);
  if (gpfn <= FRAME_CONSOLE || gpfn >= d.nrPages) return E.INVAL;
  if (space === k("XENMAPSPACE_shared_info")) {
    if (idx !== 0) return E.INVAL;
    d.mapSharedInfo(gpfn);
    // Xen's shared_info always carries a valid pvclock: publish it now, not at the next entry.
    publishTime(d, hv.now());
    hv.hooks.trace?.(`physmap ${d.domid} shared_info @${gpfn}`);
    return 0;
  }
  // Grant frame idx, or v2 status frame idx & ~XENMAPIDX_grant_table_status (gnttab.ts).
  if (space === k("XENMAPSPACE_grant_table")) return addGrantFrame(hv, d, idx, gpfn);
  return E.INVAL;
}

/** The `memory_op(cmd, arg)` import. */
export function memoryOp(hv: Hypervisor, d: Domain, cmd: number, arg: number): number {
  return guarded(() => {
    switch (cmd) {
      case k("XENMEM_add_to_physmap"): return addToPhysmap(hv, d, arg);
      case k("XENMEM_current_reservation"):
      case k("XENMEM_maximum_reservation"): {
        const domid = d.u16(arg);
        const t = hv.lookup(d, domid);
        if (typeof t === "number") return t;
        if (t !== d && !d.privileged) return E.PERM;
        return t.nrPages;
      }
      default: return E.NOSYS;
    }
  });
}
