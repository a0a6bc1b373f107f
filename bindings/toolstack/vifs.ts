// Vifs as the toolstack attaches them: `--vif` arguments, Xen's MAC range, and the vif directories
// libxl writes for a network interface served by dom0's netback on its switch (xenbr0).
import type { Xenstored } from "../xenstore/xenstored.js";
import { attachDevice, detachDevice, type DeviceSpec } from "./xenstore.js";

/** What one guest's vif is made of: its MAC, MTU, transmit rate limit, and what its backend offers at most. */
export interface VifSpec {
  /** "xx:xx:xx:xx:xx:xx"; by default 00:16:3e:00:00:<domid> (Xen's OUI, as `xl` picks from it). */
  mac?: string;
  mtu?: number;
  /** Credit-based shaping: `bytes` per `usec` (libxl's `rate` key, "bytes,usec"). */
  rate?: { bytes: number; usec: number };
  /** The most queues netback offers this vif (default: dom0's setting). */
  queues?: number;
  /** `none`: netback offers this vif no optional feature (a plain peer for the frontend). */
  features?: "all" | "none";
}

/** The vif of one guest: the spec and the frontend domain. */
export interface VifAttach { frontend: number; spec: VifSpec }

/** Xen's organisationally unique identifier, the first three bytes of every MAC `xl` makes. */
export const XEN_OUI = "00:16:3e";

/** The default MAC of domain `domid`'s first vif. */
export function defaultMac(domid: number): string {
  return `${XEN_OUI}:${((domid >> 16) & 0x7f).toString(16).padStart(2, "0")}:${((domid >> 8) & 0xff).toString(16).padStart(2, "0")}:${(domid & 0xff).toString(16).padStart(2, "0")}`;
}

const UNITS: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };

/**
 * Parses a `--vif` argument: `on` (defaults), `none` (no vif for the guests after it), or a comma
 * list of `mac=xx:..`, `mtu=N`, `rate=N[K|M|G](b|B)/s[@N(ms|us)]` (libxl's rate and window),
 * `queues=N`, `features=all|none`. Returns null for `none`; throws with a one-line message.
 */
export function parseVifArg(arg: string): VifSpec | null {
  if (arg === "none") return null;
  const spec: VifSpec = {};
  if (arg === "on" || arg === "") return spec;
  for (const part of arg.split(",")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq), v = eq < 0 ? "" : part.slice(eq + 1);
    switch (key) {
      case "mac":
        if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v)) throw new Error(`--vif mac=${v}: a MAC is six hex bytes, as 00:16:3e:00:00:01`);
        if (parseInt(v.slice(0, 2), 16) & 1) throw new Error(`--vif mac=${v}: a multicast address cannot be a vif's MAC`);
        spec.mac = v.toLowerCase();
        break;
      case "mtu": {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 68 || n > 65521) throw new Error(`--vif mtu=${v}: the MTU must be 68..65521`);
        spec.mtu = n;
        break;
      }
      case "rate": {
        // libxl's syntax: RATE[/INTERVAL], RATE as N[KMG][bB]/s, INTERVAL as N[mu]s (default 50ms).
        const m = /^(\d+(?:\.\d+)?)([kmg]?)([bB])\/s(?:@(\d+)(ms|us))?$/i.exec(v);
        if (!m) throw new Error(`--vif rate=${v}: a rate is N[K|M|G]b/s or N[K|M|G]B/s, optionally @N(ms|us) for the interval`);
        const perSec = Number(m[1]) * UNITS[m[2].toLowerCase()] / (m[3] === "b" ? 8 : 1);
        const usec = m[4] ? Number(m[4]) * (m[5] === "ms" ? 1000 : 1) : 50_000;
        const bytes = Math.floor(perSec * usec / 1e6);
        if (!(bytes >= 1 && usec >= 1 && usec <= 10_000_000)) throw new Error(`--vif rate=${v}: too small for a ${usec} us interval`);
        spec.rate = { bytes, usec };
        break;
      }
      case "queues": {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 4) throw new Error(`--vif queues=${v}: 1 to 4 queues`);
        spec.queues = n;
        break;
      }
      case "features":
        if (v !== "all" && v !== "none") throw new Error(`--vif features=${v}: 'all' or 'none'`);
        spec.features = v;
        break;
      default:
        throw new Error(`--vif: unknown key '${key}' (mac, mtu, rate, queues, features)`);
    }
  }
  return spec;
}

/** The libxl device of `v` (handle 0: each guest has one vif). */
export function vifDevice(v: VifAttach): DeviceSpec {
  const mac = v.spec.mac ?? defaultMac(v.frontend);
  const back: Record<string, string> = {
    mac, handle: "0", type: "vif", bridge: "xenbr0", script: "/etc/xen/scripts/vif-bridge", "hotplug-status": "connected",
  };
  if (v.spec.mtu !== undefined) back.mtu = String(v.spec.mtu);
  if (v.spec.rate) back.rate = `${v.spec.rate.bytes},${v.spec.rate.usec}`;
  // xenwasm's per-vif narrowing of what netback offers (a Linux host sets it per module, not per vif).
  if (v.spec.queues !== undefined) back["xenwasm-max-queues"] = String(v.spec.queues);
  if (v.spec.features === "none") back["xenwasm-features"] = "none";
  const front: Record<string, string> = { handle: "0", mac };
  if (v.spec.mtu !== undefined) front.mtu = String(v.spec.mtu);
  return { type: "vif", devid: 0, frontend: v.frontend, backend: 0, frontKeys: front, backKeys: back };
}

/** Attaches each guest's vif (`device/vif/0`, `backend/vif/<domid>/0`), served by dom0's netback. */
export function attachVifs(xsd: Xenstored, vifs: VifAttach[]): void {
  const macs = new Set<string>();
  for (const v of vifs) {
    const dev = vifDevice(v);
    const mac = dev.frontKeys!.mac;
    if (macs.has(mac)) throw new Error(`two vifs with the MAC ${mac}`);
    macs.add(mac);
    attachDevice(xsd, dev);
  }
}

/** Detaches `v` as libxl does (online 0, Closing, wait for Closed, remove both directories). */
export function detachVif(xsd: Xenstored, v: VifAttach, pump: () => Promise<void>, timeoutMs?: number): Promise<boolean> {
  return detachDevice(xsd, vifDevice(v), pump, timeoutMs);
}
