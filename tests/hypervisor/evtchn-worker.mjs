// Worker of the event-channel thread tests (evtchn-fifo-race, xsa-evtchn): one thread acting as
// domain `domid`, sending EVTCHNOP_send on its `ports` round-robin until `rounds` sends were made
// or the main thread sets control[0]; counts each port's sends in `counts`, the sends made so
// far in control[1], and adds 1 to control[2] when it is done.
import { parentPort, workerData } from "node:worker_threads";
import { Hypervisor } from "../../dist/bindings/hypervisor/hypervisor.js";
import { setThreadCanBlock } from "../../dist/bindings/hypervisor/domain.js";
import { eventChannelOp } from "../../dist/bindings/hypervisor/evtchn.js";
import { k } from "../../dist/bindings/abi/layout.js";

setThreadCanBlock(true);
const { domid, descriptors, ports, rounds, control, counts } = workerData;
const hv = new Hypervisor({ now: () => 0n, poll() {}, timerChanged() {}, console() {}, seed: () => 1 });
for (const desc of descriptors) hv.attach(desc);
const d = hv.domain(domid);
const stop = new Int32Array(control), count = new Int32Array(counts);
const ARG = 0x8000, SEND = k("EVTCHNOP_send");
let errors = 0, error = "";
try {
  for (let i = 0; i < rounds && Atomics.load(stop, 0) === 0; i++) {
    const j = i % ports.length;
    d.w32(ARG, ports[j]);
    const rc = eventChannelOp(hv, d, SEND, ARG);
    if (rc !== 0) errors++;
    else Atomics.add(count, j, 1);
    Atomics.add(stop, 1, 1);
  }
} catch (e) {
  error = String(e && e.stack || e);
}
Atomics.add(stop, 2, 1); // done
parentPort.postMessage({ errors, error });
