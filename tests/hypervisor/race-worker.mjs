// Worker of race.test.ts: one thread acting as domain `domid`, hammering shared hypervisor
// state (grant map/unmap with access, event sends, bind/close) concurrently with the others.
import { parentPort, workerData } from "node:worker_threads";
import { Hypervisor } from "../../dist/bindings/hypervisor/hypervisor.js";
import { setThreadCanBlock } from "../../dist/bindings/hypervisor/domain.js";
import { grantTableOp, grantStore32, grantLoad32 } from "../../dist/bindings/hypervisor/gnttab.js";
import { eventChannelOp } from "../../dist/bindings/hypervisor/evtchn.js";
import { k, layout } from "../../dist/bindings/abi/layout.js";

setThreadCanBlock(true);
const { domid, descriptors, granter, ref, port, rounds } = workerData;
const hv = new Hypervisor({ now: () => 0n, poll() {}, timerChanged() {}, console() {}, seed: () => 1 });
for (const d of descriptors) hv.attach(d);
const d = hv.domain(domid);
const MAP = layout("struct gnttab_map_grant_ref"), UNMAP = layout("struct gnttab_unmap_grant_ref");
const ARG = 0x8000, OUT = 0x9000;
let errors = 0, sends = 0;
for (let i = 0; i < rounds; i++) {
  d.u8.fill(0, ARG, ARG + MAP.size);
  d.w32(ARG + MAP.flags, k("GNTMAP_host_map"));
  d.w32(ARG + MAP.ref, ref);
  d.w16(ARG + MAP.dom, granter);
  grantTableOp(hv, d, k("GNTTABOP_map_grant_ref"), ARG, 1);
  if (d.view.getInt16(ARG + MAP.status, true) !== 0) { errors++; continue; }
  const h = d.u32(ARG + MAP.handle);
  // Each mapper owns one word of the shared page: increment it through the mapping.
  if (grantLoad32(hv, d, h, domid * 4, OUT) !== 0) errors++;
  if (grantStore32(hv, d, h, domid * 4, d.u32(OUT) + 1) !== 0) errors++;
  d.w32(ARG + UNMAP.handle, h);
  grantTableOp(hv, d, k("GNTTABOP_unmap_grant_ref"), ARG, 1);
  if (d.view.getInt16(ARG + UNMAP.status, true) !== 0) errors++;
  d.w32(ARG, port);
  if (eventChannelOp(hv, d, k("EVTCHNOP_send"), ARG) !== 0) errors++; else sends++;
}
parentPort.postMessage({ errors, sends });
