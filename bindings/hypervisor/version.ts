// HYPERVISOR_xen_version: xenwasm presents the Xen 4.17 interface (docs/ABI.md §3).
import { k, layout } from "../abi/layout.js";
import { Domain } from "./domain.js";
import { guarded, type Hypervisor } from "./hypervisor.js";

const E = { NOSYS: -k("XEN_ENOSYS") };
const FI = layout("struct xen_feature_info");
const PP = layout("struct xen_platform_parameters");
const CI = layout("struct xen_compile_info");
/** The interface version xenwasm implements. */
export const XEN_MAJOR = 4, XEN_MINOR = 17;
export const EXTRAVERSION = ".0-xenwasm";
export const CAPABILITIES = "hvm-3.0-x86_64";

function writeString(d: Domain, addr: number, s: string, size: number): void {
  d.check(addr, size);
  d.u8.fill(0, addr, addr + size);
  d.u8.set(new TextEncoder().encode(s).subarray(0, size - 1), addr);
}

/** The `xen_version(cmd, arg)` import. */
export function xenVersion(hv: Hypervisor, d: Domain, cmd: number, arg: number): number {
  return guarded(() => {
    switch (cmd) {
      case k("XENVER_version"): return (XEN_MAJOR << 16) | XEN_MINOR;
      case k("XENVER_extraversion"): writeString(d, arg, EXTRAVERSION, k("XEN_EXTRAVERSION_LEN")); return 0;
      case k("XENVER_capabilities"): writeString(d, arg, CAPABILITIES, k("XEN_CAPABILITIES_INFO_LEN")); return 0;
      case k("XENVER_changeset"): writeString(d, arg, "xenwasm", k("XEN_CHANGESET_INFO_LEN")); return 0;
      case k("XENVER_compile_info"):
        d.check(arg, CI.size);
        writeString(d, arg + CI.compiler, `node ${process.version}`, CI.compile_by - CI.compiler);
        writeString(d, arg + CI.compile_by, "xenwasm", CI.compile_domain - CI.compile_by);
        writeString(d, arg + CI.compile_domain, "", CI.compile_date - CI.compile_domain);
        writeString(d, arg + CI.compile_date, "", CI.size - CI.compile_date);
        return 0;
      case k("XENVER_platform_parameters"): d.w64(arg + PP.virt_start, 0); return 0;
      case k("XENVER_get_features"): {
        d.check(arg, FI.size);
        let bits = 0;
        if (d.u32(arg + FI.submap_idx) === 0) {
          bits = (1 << k("XENFEAT_auto_translated_physmap")) | (1 << k("XENFEAT_hvm_callback_vector")) | (1 << k("XENFEAT_hvm_safe_pvclock"));
          if (d.domid === 0) bits |= 1 << k("XENFEAT_dom0");
        }
        d.w32(arg + FI.submap, bits);
        return 0;
      }
      case k("XENVER_pagesize"): return 4096;
      case k("XENVER_guest_handle"): writeString(d, arg, "", 16); return 0;
      default: return E.NOSYS;
    }
  });
}
