// The fuzzer of target "netfront": a hostile netback run in dom0's place (SystemConfig.backend)
// for vif 0 of domain 1, where fuzz/net_victim.ts runs the reference netfront
// (drivers/net/front.ts), sending and receiving continuously and attaching again after every
// disconnect. It offers rx-copy, one queue, one event channel and (per connection, at random)
// scatter-gather, takes up the frontend's rings, and then takes fuzz.steps seeded steps, a few per
// millisecond, each a valid answer or one persona's hostile action (fuzzPersona filters them):
//
//   valid       transmit requests answered NETIF_RSP_OKAY (now and then NETIF_RSP_ERROR), tagged
//               frames (fuzz/lib/net.ts, a fresh tag each) delivered into posted buffers, one
//               slot or (with scatter-gather) several, now and then a NETIF_RSP_ERROR slot
//   ids         a transmit response for an id never issued (>= the ring size) or just answered,
//               a receive response whose id is not its position's
//   op          receive statuses above the page or below an Ethernet header, offset + size past
//               the page, more_data without scatter-gather, an extra-info flag followed by
//               garbage (type 0 / 5, GSO size 0), odd transmit statuses
//   overflow    the transmit or receive rsp_prod pushed 1000 ahead, or one response beyond the
//               requests (a buffer the frontend did not post)
//   flipper     a valid response rewritten in the ring (status, offset or id) after the push
//   grants      garbage copied into a buffer of the frontend without a response, a copy through
//               a gref the frontend never granted
//   storm       32 notifications at once
//   flapper     our state jumps: Closing or Closed (the frontend must follow and let go), or
//               InitWait and straight back to Connected
//   nonconsumer for a while, neither takes requests nor answers any ("never answering")
//   slow        sleeps 5..20 ms between steps
//
// What netfront does with them is judged by the victim (a frame or completion handed over twice,
// a malformed frame, grants held after a disconnect); here a disconnect by the frontend after a
// violation counts as detected, and one that does not come within 300 ms is resynchronised by
// closing ourselves. After each disconnect it unmaps the rings and closes its port before going
// Closed (as Linux's netback), and when the frontend goes Initialising again it offers the vif
// again (InitWait). At the end it prints fuzzReport() and idles: the run ends with the victim.
import {
  boot, evtchnUpcall, evtchnBindInterdomain, evtchnNotify, evtchnClose, printk, puts, putu, panic, xsInit,
  SharedPage, gnttabMap, gnttabUnmap, gnttabCopyTo, xenbusSwitchState, xenbusWatchState, BackRing, timerSet, now, NS_PER_MS,
} from "../assembly/index";
import { readKeys, writeKeys, Keys } from "../drivers/common/xenbus";
import {
  TX_SLOT, RX_SLOT, writeTxResponse, writeRxResponse, writeExtra, NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_NULL,
  NETRXF_more_data, NETRXF_extra_info, NETTXF_extra_info, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4,
  K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_FEATURE_RX_COPY, K_FEATURE_RX_FLIP, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6,
  K_IPV6_CSUM_OFFLOAD, K_SPLIT_EVTCHN, K_MAX_QUEUES, K_MCAST_CONTROL, K_CTRL_RING,
} from "../drivers/net/proto";
import { XEN_NETIF_EXTRA_TYPE_MAX } from "../assembly/xen/io/netif";
import { GNTMAP_host_map, GNTST_okay } from "../assembly/xen/grant_table";
import {
  XenbusStateInitialising, XenbusStateInitWait, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed,
} from "../assembly/xen/io/xenbus";
import {
  fuzzInit, fuzzPersona, fuzzBelow, fuzzChance, fuzzStep, fuzzSteps, fuzzStepsWanted, fuzzInjected, fuzzDetected, fuzzReport,
} from "./lib/fuzz";
import { tagFrame, defaultMac } from "./lib/net";

const FRONT_DOM: u16 = 1;
const BACK = "backend/vif/1/0";
const FRONT = "/local/domain/1/device/vif/0";
const PER_TICK: u32 = 4;
/** A grant ref the frontend never grants. */
const NEVER_GRANTED: u32 = 0xfff0;
/** How long the frontend has to disconnect after a violation before we close ourselves. */
const RESYNC_NS: u64 = 300 * NS_PER_MS;
/** The source address of the frames we deliver. */
const SRC_MAC: u64 = 0x00163e0000fe;

// Our side: InitWait offered, connected, going down (waiting for the frontend's Closed), Closed
// (waiting for it to start again), done.
const P_INIT = 0, P_CONNECTED = 1, P_CLOSING = 2, P_CLOSED = 3, P_DONE = 4;

let phase = P_INIT;
let sg = false;
let txPage = new SharedPage();
let rxPage = new SharedPage();
let tx: BackRing | null = null;
let rx: BackRing | null = null;
let port: i32 = -1;
/** Transmit requests taken and not answered (ids, in order; extra-info slots flagged), receive buffers posted and not used. */
const txIds = new Array<u16>();
const txExtra = new Array<bool>();
const rxIds = new Array<u16>();
const rxGrefs = new Array<u32>();
/** The gref last posted at each receive position (netfront posts the same buffer at the same position). */
const posGref = new StaticArray<u32>(256);
/** The last transmit id answered (a duplicate to send), the next frame tag, when a violation awaits its disconnect. */
let lastAnswered: i32 = -1;
let nextTag: u32 = 1;
let violationAt: u64 = 0;
let nonconsumeUntil: u32 = 0;
let sleepUntil: u64 = 0;
let epochs: u32 = 0;
let offers: u32 = 0;
let reported = false;

const REQ = memory.data(16, 8);
const RSP = memory.data(16, 8);
const FRAME: usize = heap.alloc(65536);

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  offer();
  if (xenbusWatchState(FRONT, onFront, 0) < 0) panic("watch");
  timerSet(NS_PER_MS, tick, 0);
}

// ---- the connection --------------------------------------------------------------------------

/** Writes our features (scatter-gather at random) and goes InitWait. */
function offer(): void {
  phase = P_INIT;
  offers++;
  sg = fuzzChance(50);
  writeKeys(BACK,
    [K_FEATURE_RX_COPY, K_FEATURE_RX_FLIP, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6, K_IPV6_CSUM_OFFLOAD, K_SPLIT_EVTCHN, K_MAX_QUEUES, K_MCAST_CONTROL, K_CTRL_RING],
    ["1", "0", sg ? "1" : "0", "0", "0", "0", "0", "1", "0", "0"], onOffered, 0);
}

function onOffered(status: i32, arg: usize): void {
  if (status < 0) panic("writing features");
  xenbusSwitchState(BACK, XenbusStateInitWait);
}

function onFront(state: i32, arg: usize): void {
  if (phase == P_DONE) return;
  if (state == XenbusStateConnected && phase == P_INIT) {
    readKeys(FRONT, [K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL], onKeys, <usize>offers);
  } else if (state == XenbusStateClosing && (phase == P_CONNECTED || phase == P_INIT)) {
    // The frontend gave up on us (xenbus_dev_fatal): the violation was detected.
    if (violationAt != 0) fuzzDetected();
    disconnect();
    phase = P_CLOSING;
    xenbusSwitchState(BACK, XenbusStateClosing);
  } else if (state == XenbusStateClosed && phase != P_CLOSED) {
    disconnect();
    phase = P_CLOSED;
    xenbusSwitchState(BACK, XenbusStateClosed);
  } else if (state == XenbusStateInitialising && phase == P_CLOSED) {
    offer();
  }
}

function onKeys(k: Keys, arg: usize): void {
  if (phase != P_INIT || tx !== null || <u32>arg != offers) return; // a read from before a reconnect
  txPage = new SharedPage();
  rxPage = new SharedPage();
  if (gnttabMap(txPage, FRONT_DOM, <u32>k.u32(K_TX_RING_REF, 0), GNTMAP_host_map) != GNTST_okay) return giveUp();
  if (gnttabMap(rxPage, FRONT_DOM, <u32>k.u32(K_RX_RING_REF, 0), GNTMAP_host_map) != GNTST_okay) return giveUp();
  const tp = new StaticArray<SharedPage>(1), rp = new StaticArray<SharedPage>(1);
  tp[0] = txPage;
  rp[0] = rxPage;
  const t = new BackRing(tp, TX_SLOT), r = new BackRing(rp, RX_SLOT);
  if (t.attach(0) < 0 || r.attach(0) < 0) return giveUp();
  tx = t;
  rx = r;
  port = evtchnBindInterdomain(FRONT_DOM, <u32>k.u32(K_EVENT_CHANNEL, 0), onEvent, 0);
  if (port < 0) return giveUp();
  txIds.length = 0;
  txExtra.length = 0;
  rxIds.length = 0;
  rxGrefs.length = 0;
  lastAnswered = -1;
  violationAt = 0;
  nonconsumeUntil = 0;
  phase = P_CONNECTED;
  epochs++;
  xenbusSwitchState(BACK, XenbusStateConnected);
}

/** The frontend's keys did not work (it attached while we were going down): close and start over. */
function giveUp(): void {
  disconnect();
  phase = P_CLOSING;
  xenbusSwitchState(BACK, XenbusStateClosing);
}

/** Unmaps the rings and closes the port (before we go Closing or Closed, as Linux's netback). */
function disconnect(): void {
  if (port >= 0) evtchnClose(<u32>port);
  port = -1;
  tx = null;
  rx = null;
  if (txPage.bound) gnttabUnmap(txPage);
  if (rxPage.bound) gnttabUnmap(rxPage);
  violationAt = 0;
}

/** Goes down ourselves (a flap, or to resynchronise after a violation the frontend let pass). */
function goDown(state: i32): void {
  disconnect();
  phase = state == XenbusStateClosed ? P_CLOSED : P_CLOSING;
  xenbusSwitchState(BACK, state);
}

// ---- requests --------------------------------------------------------------------------------

function onEvent(p: u32, arg: usize): void {
  if (phase != P_CONNECTED || nonconsumeUntil != 0) return;
  takeRequests();
}

/** Takes every request of both rings (re-arming req_event as a correct backend does). */
function takeRequests(): void {
  const t = tx, r = rx;
  if (t === null || r === null) return;
  let extraNext = false;
  for (;;) {
    for (;;) {
      const rc = t.copyRequest(REQ, TX_SLOT);
      if (rc < 0) { goDown(XenbusStateClosing); return; } // the frontend broke its ring: not ours to judge
      if (rc == 0) break;
      txIds.push(load<u16>(REQ, 8));
      txExtra.push(extraNext);
      extraNext = !extraNext && (<u32>load<u16>(REQ, 6) & NETTXF_extra_info) != 0;
    }
    if (t.finalCheckForRequests() <= 0) break;
  }
  for (;;) {
    for (;;) {
      const rc = r.copyRequest(REQ, RX_SLOT);
      if (rc < 0) { goDown(XenbusStateClosing); return; }
      if (rc == 0) break;
      rxIds.push(load<u16>(REQ));
      rxGrefs.push(load<u32>(REQ, 4));
      posGref[load<u16>(REQ) & 255] = load<u32>(REQ, 4);
    }
    if (r.finalCheckForRequests() <= 0) break;
  }
}

// ---- responses -------------------------------------------------------------------------------

/** Answers the oldest transmit request with `status` (NETIF_RSP_NULL for an extra-info slot). */
function answerTx(status: i16): bool {
  if (txIds.length == 0) return false;
  const id = txIds.shift();
  const extra = txExtra.shift();
  writeTxResponse(RSP, id, extra ? NETIF_RSP_NULL : status);
  tx!.writeResponse(RSP, 4);
  if (!extra) lastAnswered = <i32>id;
  return true;
}

function pushTx(): void {
  if (tx!.pushResponsesAndCheckNotify()) evtchnNotify(<u32>port);
}

function pushRx(): void {
  if (rx!.pushResponsesAndCheckNotify()) evtchnNotify(<u32>port);
}

/** Delivers a tagged frame into the oldest posted buffers: one slot, or several with scatter-gather. */
function deliver(): void {
  const slots: u32 = sg ? 1 + fuzzBelow(4) : 1;
  if (<u32>rxIds.length < slots) return;
  const len: u32 = slots == 1 ? 60 + fuzzBelow(1455) : (slots - 1) * 4096 + 60 + fuzzBelow(2000);
  tagFrame(FRAME, len, defaultMac(FRONT_DOM), SRC_MAC, nextTag++);
  let done: u32 = 0;
  for (let s: u32 = 0; s < slots; s++) {
    const n = min<u32>(len - done, 4096);
    const id = rxIds.shift();
    const gref = rxGrefs.shift();
    const ok = gnttabCopyTo(FRONT_DOM, gref, 0, FRAME + done, n) == GNTST_okay;
    writeRxResponse(RSP, id, 0, s + 1 < slots ? <u16>NETRXF_more_data : 0, ok ? <i16>n : NETIF_RSP_ERROR);
    rx!.writeResponse(RSP, RX_SLOT);
    done += n;
  }
  pushRx();
}

// ---- the steps -------------------------------------------------------------------------------

function tick(arg: usize): void {
  timerSet(NS_PER_MS, tick, 0);
  if (reported || phase != P_CONNECTED) return;
  const t = now();
  if (nonconsumeUntil != 0 && fuzzSteps >= nonconsumeUntil) nonconsumeUntil = 0;
  if (violationAt != 0) {
    if (t - violationAt > RESYNC_NS) goDown(XenbusStateClosing);
    return;
  }
  if (t < sleepUntil) return;
  if (nonconsumeUntil == 0) takeRequests();
  for (let i: u32 = 0; i < PER_TICK && phase == P_CONNECTED && violationAt == 0 && now() >= sleepUntil; i++) {
    if (fuzzSteps >= fuzzStepsWanted()) { report(); return; }
    fuzzStep();
    step();
  }
}

function report(): void {
  reported = true;
  puts("netfront fuzzer: ");
  putu(epochs);
  printk(" connections");
  fuzzReport();
}

/** One step: valid answers most of the time, else one enabled persona's action. */
function step(): void {
  const k = fuzzBelow(14);
  if (k >= 4 && k < 13) {
    const p = k - 4;
    if (p == 0 && fuzzPersona("ids") && fuzzChance(30)) { badIds(); return; }
    if (p == 1 && fuzzPersona("op") && fuzzChance(40)) { badResponse(); return; }
    if (p == 2 && fuzzPersona("overflow") && fuzzChance(15)) { overflow(); return; }
    if (p == 3 && fuzzPersona("flipper") && fuzzChance(40)) { flipper(); return; }
    if (p == 4 && fuzzPersona("grants")) { grants(); return; }
    if (p == 5 && fuzzPersona("storm")) { storm(); return; }
    if (p == 6 && fuzzPersona("flapper") && fuzzChance(15)) { flapper(); return; }
    if (p == 7 && fuzzPersona("nonconsumer") && fuzzChance(10)) { nonconsumer(); return; }
    if (p == 8 && fuzzPersona("slow") && fuzzChance(20)) { slow(); return; }
  }
  if (nonconsumeUntil != 0) return; // never answering, for now
  if (k < 2 || k == 13) {
    let n = 1 + fuzzBelow(8);
    while (n-- > 0 && answerTx(fuzzChance(5) ? NETIF_RSP_ERROR : NETIF_RSP_OKAY)) {}
    pushTx();
  } else {
    if (fuzzChance(5) && rxIds.length > 0) {
      writeRxResponse(RSP, rxIds.shift(), 0, 0, NETIF_RSP_ERROR); // a valid drop
      rxGrefs.shift();
      rx!.writeResponse(RSP, RX_SLOT);
      pushRx();
    } else deliver();
  }
}

/** A violation the frontend must disconnect for (or we resynchronise after RESYNC_NS). */
function violation(): void {
  fuzzInjected();
  violationAt = now();
}

/** ids: a transmit id never issued (>= the ring size) or the one just answered; a receive id not its position's. */
function badIds(): void {
  const kind = fuzzBelow(3);
  if (kind < 2) {
    if (txIds.length == 0) return;
    const id = kind == 0 || lastAnswered < 0 ? <u16>(256 + fuzzBelow(65000)) : <u16>lastAnswered;
    txIds.shift();
    txExtra.shift();
    writeTxResponse(RSP, id, NETIF_RSP_OKAY);
    tx!.writeResponse(RSP, 4);
    pushTx();
  } else {
    if (rxIds.length == 0) return;
    const id = rxIds.shift();
    const gref = rxGrefs.shift();
    tagFrame(FRAME, 60, defaultMac(FRONT_DOM), SRC_MAC, nextTag++);
    gnttabCopyTo(FRONT_DOM, gref, 0, FRAME, 60);
    writeRxResponse(RSP, <u16>((id + 1 + fuzzBelow(200)) & 0xffff), 0, 0, 60);
    rx!.writeResponse(RSP, RX_SLOT);
    pushRx();
  }
  violation();
}

/** op: a receive response that lies (status, offset, flags, extra info), or an odd transmit status. */
function badResponse(): void {
  const kind = fuzzBelow(8);
  if (kind == 7) {
    // An odd transmit status: netfront counts it as an error, not a violation.
    if (answerTx(<i16>(fuzzChance(50) ? 2 + fuzzBelow(1000) : -3 - <i32>fuzzBelow(1000)))) pushTx();
    return;
  }
  if (rxIds.length < 2) return;
  const id = rxIds.shift();
  const gref = rxGrefs.shift();
  tagFrame(FRAME, 1514, defaultMac(FRONT_DOM), SRC_MAC, nextTag++);
  gnttabCopyTo(FRONT_DOM, gref, 0, FRAME, 1514);
  let off: u16 = 0, flags: u16 = 0, status: i16 = 60;
  if (kind == 0) status = <i16>(4097 + fuzzBelow(20000));
  else if (kind == 1) { off = <u16>(4000 + fuzzBelow(96)); status = 200; }
  else if (kind == 2) status = <i16>(1 + fuzzBelow(13));
  else if (kind == 3) { if (sg) return requeue(id, gref); flags = <u16>NETRXF_more_data; }
  else flags = <u16>NETRXF_extra_info;
  writeRxResponse(RSP, id, off, flags, status);
  rx!.writeResponse(RSP, RX_SLOT);
  if (kind >= 4) {
    // The extra-info slot that follows: type 0, type 5, or GSO of size 0.
    const eid = rxIds.shift();
    rxGrefs.shift();
    if (kind == 4) writeExtra(RSP, 0, false, 0, 0, 0);
    else if (kind == 5) writeExtra(RSP, XEN_NETIF_EXTRA_TYPE_MAX, false, 0, 0, 0);
    else writeExtra(RSP, XEN_NETIF_EXTRA_TYPE_GSO, false, XEN_NETIF_GSO_TYPE_TCPV4, 0, 0);
    store<u16>(RSP + 6, eid); // where a response's status would be: any bytes
    rx!.writeResponse(RSP, RX_SLOT);
  }
  pushRx();
  violation();
}

/** Puts a buffer back at the head of the posted list (a case that does not apply now). */
function requeue(id: u16, gref: u32): void {
  rxIds.unshift(id);
  rxGrefs.unshift(gref);
}

/** overflow: rsp_prod far ahead (transmit or receive), or one receive response beyond the requests. */
function overflow(): void {
  const kind = fuzzBelow(3);
  if (kind == 0) txPage.store32(8, tx!.rspProdPvt + 1000 + fuzzBelow(100000));
  else if (kind == 1) rxPage.store32(8, rx!.rspProdPvt + 1000 + fuzzBelow(100000));
  else {
    // Answer every posted buffer, then one more: a response for a buffer the frontend did not post.
    while (rxIds.length > 0) { writeRxResponse(RSP, rxIds.shift(), 0, 0, NETIF_RSP_ERROR); rxGrefs.shift(); rx!.writeResponse(RSP, RX_SLOT); }
    rx!.pushResponses();
    const r = rx!;
    // Fresh bytes in that position's buffer first: if the frontend reposted it meanwhile, the
    // response is legitimate after all, and must not hand over an old frame.
    const pos = r.rspProdPvt & (r.size - 1);
    tagFrame(FRAME, 60, defaultMac(FRONT_DOM), SRC_MAC, nextTag++);
    gnttabCopyTo(FRONT_DOM, posGref[pos], 0, FRAME, 60);
    writeRxResponse(RSP, <u16>pos, 0, 0, 60);
    rxPage.copyIn(r.slotOffset(r.rspProdPvt), RSP, RX_SLOT);
    rxPage.store32(8, r.rspProdPvt + 1);
  }
  evtchnNotify(<u32>port);
  violation();
}

/** flipper: a valid response, pushed, then rewritten in the ring. */
function flipper(): void {
  if (fuzzChance(50)) {
    if (!answerTx(NETIF_RSP_OKAY)) return;
    pushTx();
    const t = tx!;
    const at = t.slotOffset(t.rspProdPvt - 1);
    store<u16>(RSP, <u16>(256 + fuzzBelow(65000)));
    txPage.copyIn(at, RSP, 2); // the id: one never issued
  } else {
    if (rxIds.length == 0) return;
    deliverOne();
    const r = rx!;
    const at = r.slotOffset(r.rspProdPvt - 1);
    const kind = fuzzBelow(3);
    if (kind == 0) { store<u16>(RSP, 4097); rxPage.copyIn(at + 6, RSP, 2); }        // status past the page
    else if (kind == 1) { store<u16>(RSP, 4090); rxPage.copyIn(at + 2, RSP, 2); }   // offset near the end
    else { store<u16>(RSP, 0xbeef); rxPage.copyIn(at, RSP, 2); }                    // id
  }
  evtchnNotify(<u32>port);
  violation();
}

/** One single-slot tagged frame into the oldest posted buffer. */
function deliverOne(): void {
  const id = rxIds.shift();
  const gref = rxGrefs.shift();
  const len = 60 + fuzzBelow(1455);
  tagFrame(FRAME, len, defaultMac(FRONT_DOM), SRC_MAC, nextTag++);
  const ok = gnttabCopyTo(FRONT_DOM, gref, 0, FRAME, len) == GNTST_okay;
  writeRxResponse(RSP, id, 0, 0, ok ? <i16>len : NETIF_RSP_ERROR);
  rx!.writeResponse(RSP, RX_SLOT);
  pushRx();
}

/** grants: garbage into a posted buffer (no response), or a copy through a gref never granted. */
function grants(): void {
  fuzzInjected();
  if (fuzzChance(50) && rxIds.length > 0) {
    const i = <i32>fuzzBelow(<u32>rxIds.length);
    for (let k = 0; k < 64; k++) store<u8>(FRAME + k, <u8>fuzzBelow(256));
    gnttabCopyTo(FRONT_DOM, rxGrefs[i], <u32>fuzzBelow(4000), FRAME, 64);
  } else {
    gnttabCopyTo(FRONT_DOM, NEVER_GRANTED - fuzzBelow(16), 0, FRAME, 64);
  }
}

/** storm: 32 notifications at once. */
function storm(): void {
  for (let i = 0; i < 32; i++) evtchnNotify(<u32>port);
}

/** flapper: Closing or Closed (the frontend must follow, let go and start again), or InitWait and back. */
function flapper(): void {
  fuzzInjected();
  const kind = fuzzBelow(3);
  if (kind == 0) goDown(XenbusStateClosing);
  else if (kind == 1) goDown(XenbusStateClosed);
  else xenbusSwitchState(BACK, XenbusStateInitWait, backToConnected, <usize>epochs);
}

function backToConnected(status: i32, epoch: usize): void {
  if (phase == P_CONNECTED && <u32>epoch == epochs) xenbusSwitchState(BACK, XenbusStateConnected);
}

/** nonconsumer: for the next 50..250 steps no request is taken and none answered. */
function nonconsumer(): void {
  fuzzInjected();
  nonconsumeUntil = fuzzSteps + 50 + fuzzBelow(200);
}

/** slow: nothing for 5..20 ms. */
function slow(): void {
  sleepUntil = now() + (5 + <u64>fuzzBelow(16)) * NS_PER_MS;
}

export function xen_upcall(): void {
  evtchnUpcall();
}
