// The domain builder: creates a domain's memory and hypervisor state and lays out its boot
// pages (start_info, xenstore and console rings, boot event channels) as docs/ABI.md §2 says.
import { k, layout } from "../abi/layout.js";
import {
  Ctl, DomState, Domain, FRAME_CONSOLE, FRAME_START_INFO, FRAME_XENSTORE, PAGE_SIZE, newDomainDescriptor,
} from "../hypervisor/domain.js";
import { connectPorts, freePort } from "../hypervisor/evtchn.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";

const SIF = layout("struct start_info");
/** start_info.magic for this interface. */
export const START_INFO_MAGIC = "xen-3.0-x86_64";
/** Boot ports of every guest: the console and xenstore channels to domain 0. */
export const CONSOLE_PORT = 1, STORE_PORT = 2;
/** Smallest and largest guest memory, in MiB. */
export const MIN_MEM_MIB = 2, MAX_MEM_MIB = 4096;

/** What the builder needs to create one guest. */
export interface GuestConfig { domid: number; name: string; memMiB: number; cmdline: string; privileged?: boolean }

/** Creates the host-side domain 0 (no guest memory: dom0's user space is the harness). */
export function createHostDom0(hv: Hypervisor): Domain {
  const d = hv.attach(newDomainDescriptor(0, "Domain-0", null, true));
  Atomics.store(d.ctl, Ctl.State, DomState.Running);
  return d;
}

/**
 * Creates domain 0 as a WebAssembly domain (the backend domain, DESIGN §4): privileged, with
 * boot pages like a guest's; its console and store ports 1 and 2 are connected to ports of its
 * own that belong to its user space (the harness's console daemon and xenstored).
 */
export function createDom0(hv: Hypervisor, cfg: Omit<GuestConfig, "domid" | "privileged">): Domain {
  const d = hv.attach(newDomainDescriptor(0, cfg.name, guestMemory(cfg.memMiB), true));
  d.ctl[Ctl.ConsolePort] = CONSOLE_PORT;
  d.ctl[Ctl.StorePort] = STORE_PORT;
  connectPorts(d, CONSOLE_PORT, d, CONSOLE_PORT + 2);
  connectPorts(d, STORE_PORT, d, STORE_PORT + 2);
  d.setUserPort(CONSOLE_PORT + 2, true);
  d.setUserPort(STORE_PORT + 2, true);
  writeStartInfo(d, { ...cfg, domid: 0, privileged: true });
  return d;
}

function guestMemory(memMiB: number): WebAssembly.Memory {
  if (!(memMiB >= MIN_MEM_MIB && memMiB <= MAX_MEM_MIB)) throw new Error(`memory must be ${MIN_MEM_MIB}..${MAX_MEM_MIB} MiB, not ${memMiB}`);
  const pages = memMiB * 16; // 64 KiB WebAssembly pages
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Creates guest domain `cfg.domid` with fresh zeroed memory and writes its boot pages. */
export function createGuest(hv: Hypervisor, dom0: Domain, cfg: GuestConfig): Domain {
  const d = hv.attach(newDomainDescriptor(cfg.domid, cfg.name, guestMemory(cfg.memMiB), cfg.privileged ?? false));
  // dom0's ends of the boot channels belong to its user space (console daemon, xenstored).
  const cp = freePort(dom0);
  connectPorts(d, CONSOLE_PORT, dom0, cp);
  dom0.setUserPort(cp, true);
  const sp = freePort(dom0);
  connectPorts(d, STORE_PORT, dom0, sp);
  dom0.setUserPort(sp, true);
  d.ctl[Ctl.ConsolePort] = CONSOLE_PORT;
  d.ctl[Ctl.StorePort] = STORE_PORT;
  writeStartInfo(d, cfg);
  return d;
}

/** Writes `struct start_info` at frame 1 of `d`. */
export function writeStartInfo(d: Domain, cfg: GuestConfig): void {
  const a = FRAME_START_INFO * PAGE_SIZE;
  d.u8.fill(0, a, a + PAGE_SIZE);
  const enc = new TextEncoder();
  d.u8.set(enc.encode(START_INFO_MAGIC), a + SIF.magic);
  d.w64(a + SIF.nr_pages, d.nrPages);
  d.w64(a + SIF.shared_info, 0);
  d.w32(a + SIF.flags, cfg.privileged ? k("SIF_PRIVILEGED") | k("SIF_INITDOMAIN") : 0);
  d.w64(a + SIF.store_mfn, FRAME_XENSTORE);
  d.w32(a + SIF.store_evtchn, d.ctl[Ctl.StorePort]);
  d.w64(a + SIF["console.domU.mfn"], FRAME_CONSOLE);
  d.w32(a + SIF["console.domU.evtchn"], d.ctl[Ctl.ConsolePort]);
  const cmd = enc.encode(cfg.cmdline);
  const max = k("MAX_GUEST_CMDLINE") - 1;
  if (cmd.length > max) throw new Error(`command line is ${cmd.length} bytes; Xen allows ${max}`);
  d.u8.set(cmd, a + SIF.cmd_line);
}
