// Boot: what a guest's `xen_start(start_info)` calls first (docs/ABI.md §2). Reads
// `struct start_info` (xen.h), points the console at its ring, copies the command line, maps
// shared_info into a frame from the allocator, and enables event delivery with every port masked
// until a handler is set (evtchn.ts).
//
// Ownership: start_info (frame 1), the xenstore ring (frame 2) and the console ring (frame 3) are
// pages Xen gave us at boot; this module only reads start_info, and hands the ring frames to the
// console and (later) xenstore modules. The values are copied at boot and stay valid after.
import { start_info, SIF_PRIVILEGED, SIF_INITDOMAIN } from "./xen/xen";
import { XENVER_version } from "./xen/version";
import { HYPERVISOR_xen_version } from "./hypercall";
import { gfnToAddr } from "./frames";
import { sharedInfoMap } from "./shared";
import { evtchnInit, evtchnEnableUpcalls } from "./evtchn";
import { consoleInit, puts, puti, putc } from "./console";
import { cmdlineSet } from "./cmdline";
import { gnttabBoot } from "./gnttab";
import { panic } from "./sched";

/** The magic the harness writes at start_info.magic (docs/ABI.md §2). */
export const START_INFO_MAGIC: string = "xen-3.0-x86_64";

let si: usize = 0;
let pages: u64 = 0;
let siFlags: u32 = 0;
let storeMfn: u64 = 0;
let storePort: u32 = 0;
let consMfn: u64 = 0;
let consPort: u32 = 0;

/** Whether the NUL-terminated magic at `p` is START_INFO_MAGIC. */
function magicOk(p: usize): bool {
  const m = START_INFO_MAGIC;
  for (let i = 0; i < m.length; i++) {
    if (<i32>load<u8>(p + <usize>i) != m.charCodeAt(i)) return false;
  }
  return load<u8>(p + <usize>m.length) == 0;
}

/**
 * Boots the SDK from the start_info at `startInfo` (the argument of `xen_start`): checks the
 * magic, sets up the console, the command line, shared_info and event delivery. Crashes the
 * domain (SHUTDOWN_crash, with a message) if start_info is not Xen's or shared_info cannot be
 * mapped. Call it once, first.
 */
export function boot(startInfo: i32): void {
  si = <usize>startInfo;
  const s = changetype<start_info>(si);
  const magic = si + offsetof<start_info>("magic");
  if (!magicOk(magic)) panic("bad start_info magic"); // the console has no ring yet: console_io
  pages = s.nr_pages;
  siFlags = s.flags;
  storeMfn = s.store_mfn;
  storePort = s.store_evtchn;
  consMfn = s.console_domU_mfn;
  consPort = s.console_domU_evtchn;
  consoleInit(consMfn == 0 ? 0 : gfnToAddr(<u32>consMfn), consPort);

  const cl = si + offsetof<start_info>("cmd_line");
  const max = <usize>(offsetof<start_info>("first_p2m_pfn") - offsetof<start_info>("cmd_line"));
  let len: usize = 0;
  while (len < max && load<u8>(cl + len) != 0) len++;
  cmdlineSet(String.UTF8.decodeUnsafe(cl, len));
  gnttabBoot(); // grant_table.version=2 asks for a v2 table (nothing happens without it)

  const rc = sharedInfoMap();
  if (rc < 0) {
    puts("xenwasm: XENMEM_add_to_physmap(shared_info) failed: ");
    puti(rc);
    putc(0x0A);
    panic("cannot map shared_info");
  }
  evtchnInit();
  evtchnEnableUpcalls();
}

/** The start_info page (Xen's; read-only for the guest). */
export function startInfo(): start_info {
  return changetype<start_info>(si);
}

/** The domain's memory size in 4 KiB frames (start_info.nr_pages). */
export function nrPages(): u64 {
  return pages;
}

/** Whether the domain is privileged (SIF_PRIVILEGED: domain 0 or a driver domain with rights). */
export function isPrivileged(): bool {
  return (siFlags & SIF_PRIVILEGED) != 0;
}

/** Whether the domain is the initial domain (SIF_INITDOMAIN: domain 0). */
export function isInitialDomain(): bool {
  return (siFlags & SIF_INITDOMAIN) != 0;
}

/** The console ring's frame (start_info.console.domU.mfn; 3 under xenwasm). */
export function consoleFrame(): u64 {
  return consMfn;
}

/** The console ring's event channel (bound to domain 0 at boot). */
export function consolePort(): u32 {
  return consPort;
}

/** The xenstore ring's frame (start_info.store_mfn; 2 under xenwasm). */
export function xenstoreFrame(): u64 {
  return storeMfn;
}

/** The xenstore ring's event channel (bound to domain 0 at boot). */
export function xenstorePort(): u32 {
  return storePort;
}

/** Xen's version (XENVER_version): major << 16 | minor (0x00040011 for 4.17). */
export function xenVersion(): u32 {
  return <u32>HYPERVISOR_xen_version(XENVER_version, 0);
}
