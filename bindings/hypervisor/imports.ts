// Binds the hypercall families into the import object a guest module is instantiated with:
// module `xen` (docs/ABI.md §3) and the `env` imports of the AssemblyScript runtime.
import { k } from "../abi/layout.js";
import { Ctl, type Domain } from "./domain.js";
import { consoleIo } from "./console.js";
import { eventChannelOp } from "./evtchn.js";
import { grantCmpxchg32, grantCopyFrom, grantCopyTo, grantLoad32, grantStore32, grantTableOp } from "./gnttab.js";
import { hvmOp } from "./hvm.js";
import { DomainExit, type Hypervisor } from "./hypervisor.js";
import { memoryOp } from "./memory.js";
import { schedOp } from "./sched.js";
import { vcpuOp } from "./vcpu.js";
import { deviceImports, type BlockDevice } from "../devices/blk.js";
import { netDeviceImports, type PcapWriter } from "../devices/net.js";
import type { UplinkQueues } from "../devices/uplink.js";
import { xenVersion } from "./version.js";
import { tracedHypercall } from "../runner/trace.js";

/** Reads an AssemblyScript string (UTF-16, byte length at ptr-4) from guest memory, bounded. */
export function readAsString(d: Domain, ptr: number): string {
  if (!ptr || ptr < 4 || ptr > d.bytes) return "";
  const len = Math.min(d.view.getUint32(ptr - 4, true), 4096, d.bytes - ptr) & ~1;
  let s = "";
  for (let i = 0; i < len; i += 2) s += String.fromCharCode(d.view.getUint16(ptr + i, true));
  return s;
}

/** The host devices behind a domain's `dev` imports: dom0's disks, the run's capture file and its uplink. */
export interface HostDevices { disks: BlockDevice[]; capture?: PcapWriter; uplink?: UplinkQueues }

/**
 * The import object for domain `d` under hypervisor `hv`: `xen`, `env`, and `dev` (host devices,
 * docs/ABI.md §7: `dev` is dom0's, over `devices`; every other domain gets -EPERM from it).
 */
export function guestImports(hv: Hypervisor, d: Domain, devices: HostDevices = { disks: [] }, log?: (line: string) => void): WebAssembly.Imports {
  // Only the domain's own thread counts its hypercalls (others read the count once it is done).
  const n = () => d.ctl[Ctl.Hypercalls]++;
  const imports = {
    env: {
      memory: d.desc.memory!,
      abort(msg: number, file: number, line: number, col: number): never {
        const m = readAsString(d, msg), f = readAsString(d, file);
        hv.shutdown(d, k("SHUTDOWN_crash"));
        throw new DomainExit(k("SHUTDOWN_crash"), `abort: ${m || "(no message)"}${f ? ` at ${f}:${line}:${col}` : ""}`);
      },
      seed: () => hv.hooks.seed(d),
    },
    xen: {
      event_channel_op: (cmd: number, arg: number) => (n(), eventChannelOp(hv, d, cmd, arg >>> 0)),
      grant_table_op: (cmd: number, arg: number, count: number) => (n(), grantTableOp(hv, d, cmd, arg >>> 0, count)),
      sched_op: (cmd: number, arg: number) => (n(), schedOp(hv, d, cmd, arg >>> 0)),
      memory_op: (cmd: number, arg: number) => (n(), memoryOp(hv, d, cmd, arg >>> 0)),
      console_io: (cmd: number, count: number, buf: number) => (n(), consoleIo(hv, d, cmd, count, buf >>> 0)),
      xen_version: (cmd: number, arg: number) => (n(), xenVersion(hv, d, cmd, arg >>> 0)),
      vcpu_op: (cmd: number, vcpuid: number, arg: number) => (n(), vcpuOp(hv, d, cmd, vcpuid, arg >>> 0)),
      hvm_op: (cmd: number, arg: number) => (n(), hvmOp(hv, d, cmd, arg >>> 0)),
      rdtsc: () => hv.now(),
      grant_copy_from: (h: number, off: number, dst: number, len: number) => grantCopyFrom(hv, d, h, off, dst >>> 0, len),
      grant_copy_to: (h: number, off: number, src: number, len: number) => grantCopyTo(hv, d, h, off, src >>> 0, len),
      grant_load32: (h: number, off: number, out: number) => grantLoad32(hv, d, h, off, out >>> 0),
      grant_store32: (h: number, off: number, v: number) => grantStore32(hv, d, h, off, v),
      grant_cmpxchg32: (h: number, off: number, e: number, r: number, out: number) => grantCmpxchg32(hv, d, h, off, e, r, out >>> 0),
    },
    dev: { ...deviceImports(hv, d, devices.disks, log), ...netDeviceImports(hv, d, devices.capture, devices.uplink) },
  };
  // Traced: each hypercall (not rdtsc, and not the mapped-grant accesses, which are memory
  // accesses on real Xen) is a slice on the domain's track.
  const tr = hv.tracer;
  if (tr) {
    const xen = imports.xen as Record<string, (...a: number[]) => number | bigint>;
    for (const name of Object.keys(xen)) if (name !== "rdtsc" && (name === "grant_table_op" || !name.startsWith("grant_"))) xen[name] = tracedHypercall(tr, d, name, xen[name]);
  }
  return imports;
}
