// HYPERVISOR_hvm_op: HVM params, through which a guest also finds its xenstore and console pages.
import { k, layout } from "../abi/layout.js";
import { Ctl, Domain, FRAME_CONSOLE, FRAME_XENSTORE } from "./domain.js";
import { guarded, type Hypervisor } from "./hypervisor.js";

const E = { PERM: -k("XEN_EPERM"), INVAL: -k("XEN_EINVAL"), NOSYS: -k("XEN_ENOSYS") };
const P = layout("struct xen_hvm_param");

/** The value of HVM param `index` of `t` (0 for params xenwasm does not model). */
export function hvmParam(t: Domain, index: number): bigint {
  switch (index) {
    case k("HVM_PARAM_STORE_PFN"): return BigInt(FRAME_XENSTORE);
    case k("HVM_PARAM_STORE_EVTCHN"): return BigInt(t.ctl[Ctl.StorePort]);
    case k("HVM_PARAM_CONSOLE_PFN"): return BigInt(FRAME_CONSOLE);
    case k("HVM_PARAM_CONSOLE_EVTCHN"): return BigInt(t.ctl[Ctl.ConsolePort]);
    case k("HVM_PARAM_CALLBACK_IRQ"): return BigInt(t.ctl[Ctl.CallbackIrq] >>> 0);
    default: return 0n;
  }
}

/** The `hvm_op(cmd, arg)` import: HVMOP_get_param and HVMOP_set_param. */
export function hvmOp(hv: Hypervisor, d: Domain, cmd: number, arg: number): number {
  return guarded(() => {
    if (cmd !== k("HVMOP_get_param") && cmd !== k("HVMOP_set_param")) return E.NOSYS;
    d.check(arg, P.size);
    const t = hv.lookup(d, d.u16(arg + P.domid));
    if (typeof t === "number") return t;
    if (t !== d && !d.privileged) return E.PERM;
    const index = d.u32(arg + P.index);
    if (index >= k("HVM_NR_PARAMS")) return E.INVAL;
    if (cmd === k("HVMOP_get_param")) {
      d.w64(arg + P.value, hvmParam(t, index));
      return 0;
    }
    if (index !== k("HVM_PARAM_CALLBACK_IRQ")) return E.PERM;
    t.ctl[Ctl.CallbackIrq] = Number(BigInt.asUintN(32, d.u64(arg + P.value)));
    return 0;
  });
}
