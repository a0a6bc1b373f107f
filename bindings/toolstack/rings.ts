// What the toolstack can see of a running system's rings and grant maps without asking anyone:
// each frontend's devices from its xenstore directory (`device/vbd|vif/<id>` with its ring-ref
// keys, as libxl lays them out), each ring's shared indices read from the granted page in the
// frontend's memory (io/ring.h's sring header), and the console and xenstore byte rings of
// every guest. Read-only: nothing here writes guest memory or the store. The trace (runner/
// trace.ts) and the dashboard (host/dashboard.ts) sample it.
import { layout } from "../abi/layout.js";
import { Ctl, FRAME_CONSOLE, FRAME_XENSTORE, PAGE_SIZE, type Domain } from "../hypervisor/domain.js";
import { grantEntryAddr, grantVersion } from "../hypervisor/gnttab.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import { watchStore } from "../xenstore/watch.js";

/** One ring's state: its producer and event indices, and what is outstanding in it. */
export interface RingSample {
  /** The frontend domain (the ring's page is in its memory). */
  domid: number;
  /** "vbd/51712", "vbd/51712 queue-1", "vif/0 tx", "vif/0 queue-1 rx", "vif/0 ctrl", "console", "xenstore". */
  name: string;
  /** "blkif", "netif-tx", "netif-rx", "netif-ctrl" (io/ring.h rings of requests), or "console", "xenstore" (byte rings). */
  kind: string;
  /** Slots (request rings) or bytes (byte rings). */
  size: number;
  /** Request rings: req_prod, rsp_prod, req_event, rsp_event. Byte rings: the guest's output (console out, xenstore req) prod/cons in req_*, the other direction in rsp_*. */
  reqProd: number;
  rspProd: number;
  reqEvent: number;
  rspEvent: number;
  /** Request rings: requests not yet answered (req_prod - rsp_prod). Byte rings: bytes not yet consumed, both directions. */
  inFlight: number;
}

const SRING = layout("struct blkif_sring");
const CONS = layout("struct xencons_interface");
const XS = layout("struct xenstore_domain_interface");
const ENTRY: Record<string, number> = {
  blkif: layout("union blkif_sring_entry").size,
  "netif-tx": layout("union netif_tx_sring_entry").size,
  "netif-rx": layout("union netif_rx_sring_entry").size,
  "netif-ctrl": layout("union xen_netif_ctrl_sring_entry").size,
};

/** io/ring.h's __CONST_RING_SIZE: the entries of a ring of `pages` pages of `entry`-byte slots (a power of two). */
export function ringSlots(pages: number, entry: number): number {
  const n = Math.floor((pages * PAGE_SIZE - SRING.ring) / entry);
  return n < 1 ? 0 : 2 ** Math.floor(Math.log2(n));
}

/** Guest address of the page `fe` granted as `ref` (a v1 or v2 full-page entry), or -1. */
function grantedPage(fe: Domain, ref: number): number {
  const e = grantEntryAddr(fe, ref);
  if (e < 0 || e + 16 > fe.bytes) return -1;
  const frame = grantVersion(fe) === 2 ? Number(fe.view.getBigUint64(e + 8, true) & 0xffffffffn) : fe.view.getUint32(e + 4, true);
  const addr = frame * PAGE_SIZE;
  return addr + PAGE_SIZE <= fe.bytes ? addr : -1;
}

function u32(d: Domain, addr: number): number {
  return Atomics.load(d.i32, addr >> 2) >>> 0;
}

function requestRing(fe: Domain, page: number, name: string, kind: string, pages: number): RingSample {
  const s: RingSample = {
    domid: fe.domid, name, kind, size: ringSlots(pages, ENTRY[kind]),
    reqProd: u32(fe, page + SRING.req_prod), rspProd: u32(fe, page + SRING.rsp_prod),
    reqEvent: u32(fe, page + SRING.req_event), rspEvent: u32(fe, page + SRING.rsp_event), inFlight: 0,
  };
  s.inFlight = (s.reqProd - s.rspProd) >>> 0;
  return s;
}

/** The rings of every live guest of `hv`: console and xenstore, then each vbd and vif found in its xenstore directory. */
export function sampleRings(hv: Hypervisor, xsd: Xenstored): RingSample[] {
  const out: RingSample[] = [];
  const store = xsd.store;
  for (const fe of hv.domains()) {
    if (fe.isHost || fe.bytes < PAGE_SIZE * 4) continue;
    if (fe.domid !== 0) {
      const c = FRAME_CONSOLE * PAGE_SIZE, x = FRAME_XENSTORE * PAGE_SIZE;
      const cons = { prod: u32(fe, c + CONS.out_prod), cons: u32(fe, c + CONS.out_cons), iprod: u32(fe, c + CONS.in_prod), icons: u32(fe, c + CONS.in_cons) };
      out.push({ domid: fe.domid, name: "console", kind: "console", size: CONS.in_cons - CONS.out, reqProd: cons.prod, reqEvent: cons.cons, rspProd: cons.iprod, rspEvent: cons.icons,
        inFlight: ((cons.prod - cons.cons) >>> 0) + ((cons.iprod - cons.icons) >>> 0) });
      const xs = { prod: u32(fe, x + XS.req_prod), cons: u32(fe, x + XS.req_cons), rprod: u32(fe, x + XS.rsp_prod), rcons: u32(fe, x + XS.rsp_cons) };
      out.push({ domid: fe.domid, name: "xenstore", kind: "xenstore", size: XS.rsp - XS.req, reqProd: xs.prod, reqEvent: xs.cons, rspProd: xs.rprod, rspEvent: xs.rcons,
        inFlight: ((xs.prod - xs.cons) >>> 0) + ((xs.rprod - xs.rcons) >>> 0) });
    }
    const base = `/local/domain/${fe.domid}/device`;
    // The request ring whose first page's grant reference is at `key`, if it is granted.
    const ringAt = (key: string, name: string, kind: string, pages: number) => {
      const ref = store.read(key);
      const page = ref === undefined ? -1 : grantedPage(fe, Number(ref));
      if (page >= 0) out.push(requestRing(fe, page, name, kind, pages));
    };
    // A device's queues: its own directory, or queue-N/ under it (multi-queue-num-queues), with their labels.
    const queuesOf = (dir: string, label: string): Array<[string, string]> => {
      const n = Number(store.read(`${dir}/multi-queue-num-queues`) ?? 1);
      return n > 1 ? Array.from({ length: n }, (_, q) => [`${dir}/queue-${q}`, `${label} queue-${q}`]) : [[dir, label]];
    };
    for (const id of store.directory(`${base}/vbd`) ?? []) {
      // 2^ring-page-order pages per ring, named ring-ref0.. when more than one (Linux's blkfront layout).
      const dir = `${base}/vbd/${id}`;
      const order = Number(store.read(`${dir}/ring-page-order`) ?? 0);
      for (const [qdir, label] of queuesOf(dir, `vbd/${id}`)) ringAt(order > 0 ? `${qdir}/ring-ref0` : `${qdir}/ring-ref`, label, "blkif", 2 ** order);
    }
    for (const id of store.directory(`${base}/vif`) ?? []) {
      const dir = `${base}/vif/${id}`;
      for (const [qdir, label] of queuesOf(dir, `vif/${id}`)) {
        ringAt(`${qdir}/tx-ring-ref`, `${label} tx`, "netif-tx", 1);
        ringAt(`${qdir}/rx-ring-ref`, `${label} rx`, "netif-rx", 1);
      }
      ringAt(`${dir}/ctrl-ring-ref`, `vif/${id} ctrl`, "netif-ctrl", 1);
    }
  }
  return out;
}

/** The grant mappings domain `d` holds now. */
export function liveMaps(d: Domain): number {
  return Atomics.load(d.ctl, Ctl.LiveMaps);
}

/** xenbus state numbers (io/xenbus.h) by name, for display. */
export const XENBUS_STATES = ["Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed", "Reconfiguring", "Reconfigured"];

/**
 * Calls `fn` with each change of a device's xenbus `state` node (a frontend's
 * /local/domain/N/device/T/ID/state or a backend's /local/domain/N/backend/T/F/ID/state): the
 * domain whose directory it is, the device ("vbd/51712", "backend vif/1/0"), the state number.
 * Returns the unwatch.
 */
export function watchXenbusStates(xsd: Xenstored, fn: (domid: number, device: string, state: number) => void): () => void {
  return watchStore(xsd.store, "/local/domain", (path) => {
    const m = /^\/local\/domain\/(\d+)\/(device|backend)\/([^/]+)\/(.+)\/state$/.exec(path);
    if (!m) return;
    const v = xsd.store.read(path);
    if (v === undefined || !/^\d+$/.test(v)) return;
    fn(Number(m[1]), m[2] === "device" ? `${m[3]}/${m[4]}` : `backend ${m[3]}/${m[4]}`, Number(v));
  });
}
