// The fuzzer of target "netback": a hostile netfront guest against dom0's reference netback
// (drivers/net/back.ts) and its switch, while two well-behaved guests (fuzz/net_victim.ts)
// exchange frames on the same switch. It negotiates its vif by hand (one queue, one event
// channel, rx-copy, rx-notify, scatter-gather), then takes fuzz.steps seeded steps, a few per
// millisecond, each a valid frame or one persona's hostile action (fuzzPersona filters them):
//
//   ids         a frame reusing an id still in flight, or an id far above the ring's size
//   op          malformed frames: 19 slots, a first slot smaller than the next, 10 bytes (each
//               must get NETIF_RSP_ERROR); 21 slots, offset + size past the page (first or later
//               slot), a first slot of 65535 bytes, extra info of type 0 / 5, GSO size 0, five
//               extra-info slots, more_data on the last published slot (each must disconnect us)
//   grants      a gref never granted (first or later slot: NETIF_RSP_ERROR), ending access to a
//               data page while its frame is in flight, receive requests with grefs never granted
//   overflow    the transmit req_prod (must disconnect us) or receive req_prod pushed 1000 ahead
//   flipper     a transmit slot rewritten (offset, size or gref) right after the push
//   storm       32 notifications at once
//   flapper     our state jumps: Closing, Closed, or Initialising and back to Connected
//   nonconsumer for a while neither reads transmit responses nor posts receive buffers
//   slow        sleeps 5..20 ms between steps
//
// Checks (fuzzWrong): every transmit response names an id in flight and has a NETIF_RSP_* status,
// a frame that must be refused never gets NETIF_RSP_OKAY, a fatal frame is refused or disconnects
// us within 5 s, no disconnect comes while only valid traffic was sent (faults aside), every
// receive response answers a buffer we posted and stays inside its page, and after we go back to
// Initialising from Closed netback returns to InitWait within 5 s. After each disconnect, once
// netback is Closed, each of our grants must end (gnttabEndAccess 0: dom0 unmapped our rings) and
// our event channel must be unbound (dom0 closed its end) -> else fuzzHeld. Then it reconnects.
// At the end it closes its vif, prints fuzzReport() and powers off.
import {
  boot, evtchnUpcall, evtchnAllocUnbound, evtchnNotify, evtchnClose, printk, puts, putu, panic, poweroff, xsInit,
  frameAlloc, addrToGfn, gnttabGrantAccess, gnttabEndAccess, xenbusWatchState, xenbusSwitchState,
  SharedPage, FrontRing, timerSet, now, NS_PER_MS, RING_HEADER_SIZE,
} from "../assembly/index";
import { Keys, readKeys, writeKeys } from "../drivers/common/xenbus";
import {
  TX_SLOT, RX_SLOT, TX_RSP, writeTxRequest, writeExtra, writeRxRequest, NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_DROPPED,
  NETIF_RSP_NULL, NETTXF_more_data, NETTXF_extra_info, NETRXF_extra_info, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_GSO_TYPE_TCPV4, K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_REQUEST_RX_COPY, K_FEATURE_RX_NOTIFY,
  K_FEATURE_SG, K_NO_CSUM_OFFLOAD, K_MAC,
} from "../drivers/net/proto";
import { netif_tx_response, netif_rx_response, XEN_NETIF_EXTRA_TYPE_MAX } from "../assembly/xen/io/netif";
import { EVTCHNSTAT_unbound, EVTCHNSTAT_closed } from "../assembly/xen/event_channel";
import { macParse } from "../assembly/net/addr";
import { macStore, storeBe16, MAC_BROADCAST } from "../assembly/net/wire";
import {
  XenbusStateInitialising, XenbusStateInitWait, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed,
} from "../assembly/xen/io/xenbus";
import {
  fuzzInit, fuzzFaults, fuzzPersona, fuzzBelow, fuzzChance, fuzzStep, fuzzSteps, fuzzStepsWanted, fuzzInjected, fuzzDetected,
  fuzzWrong, fuzzHeld, fuzzReport,
} from "./lib/fuzz";
import { portStatus } from "./lib/net";

const DEV = "device/vif/0";
/** A grant ref this domain never grants. */
const NEVER_GRANTED: u32 = 0xfff0;
/** Data pages for transmit frames (granted read-only), and the steps taken per millisecond tick. */
const NDATA = 24;
const PER_TICK: u32 = 6;
/** How long netback has to refuse a fatal frame or to come back to InitWait. */
const VERDICT_NS: u64 = 5000 * NS_PER_MS;

// What netback must make of a transmit slot (per id in flight).
const C_VALID: u8 = 0;     // OKAY or ERROR
const C_REFUSE: u8 = 1;    // never OKAY
const C_ANY: u8 = 2;       // not judged (flipped, a duplicate id, a page whose grant ended)

// Our connection: waiting for InitWait, negotiating, connected, going down, coming back.
const P_WAIT = 0, P_NEGOTIATING = 1, P_CONNECTED = 2, P_CLOSING = 3, P_REOPEN = 4, P_DONE = 5;

let phase = P_WAIT;
let backend = "";
let backendId: u16 = 0;
let mac: u64 = 0;
let txAddr: usize = 0;
let rxAddr: usize = 0;
let tx: FrontRing | null = null;
let rx: FrontRing | null = null;
let txRef: i32 = -1;
let rxRef: i32 = -1;
let port: i32 = -1;
const dataPage = new StaticArray<usize>(NDATA);
const dataRef = new StaticArray<i32>(NDATA);
let nextData: i32 = 0;
let rxPage = new StaticArray<usize>(0);
let rxRefs = new StaticArray<i32>(0);
/** Receive buffers posted (by id = ring position) and the ones to post with a never-granted gref. */
let rxPosted = new StaticArray<bool>(0);
let badRxPosts: u32 = 0;

/** Transmit slots in flight per id (a duplicate id has 2), their class, and the free ids of the pool. */
const inFlight = new StaticArray<u8>(65536);
const klass = new StaticArray<u8>(65536);
/** What each id in flight carries (for the messages). */
const what = new StaticArray<string>(65536);
let current = "";
/** Transmit ring positions whose slot we rewrote after the push: netback's response may already be there, and we overwrote it. */
const flipped = new StaticArray<bool>(256);
const freeIds = new Array<u16>();
/** Valid traffic only so far on this connection (a disconnect is then wrong), a fatal frame waiting for its verdict. */
let suspect = false;
let fatalAt: u64 = 0;
let fatalWhat = "";
let rxJumpAt: u64 = 0;
let reopenAt: u64 = 0;
let nonconsumeUntil: u32 = 0;
let sleepUntil: u64 = 0;
let epochs: u32 = 0;
let finishing = false;
let finishAt: u64 = 0;

const SLOT = memory.data(16, 8);
const RSP = memory.data(16, 8);

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  for (let i = 255; i >= 0; i--) freeIds.push(<u16>i);
  txAddr = frameAlloc();
  rxAddr = frameAlloc();
  for (let i = 0; i < NDATA; i++) { dataPage[i] = frameAlloc(); dataRef[i] = -1; }
  if (readKeys(DEV, ["backend", "backend-id", K_MAC], onDevice, 0) < 0) panic("readKeys");
}

function onDevice(k: Keys, arg: usize): void {
  const be = k.get("backend"), m = k.get(K_MAC);
  if (be === null || m === null || macParse(m) < 0) panic("no vif");
  backend = be!;
  backendId = <u16>k.u32("backend-id", 0);
  mac = <u64>macParse(m!);
  if (xenbusWatchState(backend, onBackState, 0) < 0) panic("watch");
  timerSet(NS_PER_MS, tick, 0);
}

// ---- the connection --------------------------------------------------------------------------

function onBackState(state: i32, arg: usize): void {
  if (phase == P_DONE) return;
  if (state == XenbusStateInitWait && (phase == P_WAIT || phase == P_REOPEN)) { reopenAt = 0; setup(); return; }
  if (state == XenbusStateConnected && phase == P_NEGOTIATING) { phase = P_CONNECTED; suspect = false; epochs++; return; }
  if (state == XenbusStateClosing && (phase == P_CONNECTED || phase == P_NEGOTIATING)) {
    // netback disconnected us: for what we sent (detected), or for nothing (wrong).
    if (suspect || fuzzFaults() || phase == P_NEGOTIATING) fuzzDetected();
    else fuzzWrong("netback disconnected a frontend that sent only valid requests");
    goDown(XenbusStateClosed);
    return;
  }
  if (state == XenbusStateClosing && phase == P_CLOSING) { xenbusSwitchState(DEV, XenbusStateClosed); return; }
  if (state == XenbusStateClosed && phase == P_CLOSING) { closed(); return; }
}

/** Takes our end down with `state` (Closing or Closed) and waits for netback's Closed. */
function goDown(state: i32): void {
  phase = P_CLOSING;
  fatalAt = 0;
  rxJumpAt = 0;
  xenbusSwitchState(DEV, state);
}

/** Grants the rings, data pages and receive buffers, allocates the port, writes the keys, goes Connected. */
function setup(): void {
  phase = P_NEGOTIATING;
  const txp = new StaticArray<SharedPage>(1), rxp = new StaticArray<SharedPage>(1);
  txp[0] = SharedPage.local(txAddr);
  rxp[0] = SharedPage.local(rxAddr);
  memory.fill(txAddr, 0, 4096);
  memory.fill(rxAddr, 0, 4096);
  const t = new FrontRing(txp, TX_SLOT), r = new FrontRing(rxp, RX_SLOT);
  if (t.init(0) < 0 || r.init(0) < 0) panic("ring init");
  tx = t;
  rx = r;
  txRef = gnttabGrantAccess(backendId, addrToGfn(txAddr), false);
  rxRef = gnttabGrantAccess(backendId, addrToGfn(rxAddr), false);
  port = evtchnAllocUnbound(backendId, onEvent, 0);
  if (txRef < 0 || rxRef < 0 || port < 0) panic("grant or port");
  for (let i = 0; i < NDATA; i++) grantData(i);
  const n = <i32>r.size;
  if (rxPage.length == 0) {
    rxPage = new StaticArray<usize>(n);
    rxRefs = new StaticArray<i32>(n);
    rxPosted = new StaticArray<bool>(n);
    for (let i = 0; i < n; i++) rxPage[i] = frameAlloc();
  }
  for (let i = 0; i < n; i++) {
    rxRefs[i] = gnttabGrantAccess(backendId, addrToGfn(rxPage[i]), false);
    if (rxRefs[i] < 0) panic("grant rx");
    rxPosted[i] = false;
  }
  // Nothing is in flight on a new ring.
  freeIds.length = 0;
  for (let i = 255; i >= 0; i--) freeIds.push(<u16>i);
  memory.fill(changetype<usize>(inFlight), 0, 65536);
  memory.fill(changetype<usize>(flipped), 0, 256);
  for (let i = 0; i < n; i++) postRx(false);
  r.pushRequests();
  writeKeys(DEV, [K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_REQUEST_RX_COPY, K_FEATURE_RX_NOTIFY, K_FEATURE_SG, K_NO_CSUM_OFFLOAD],
    [txRef.toString(), rxRef.toString(), port.toString(), "1", "1", "1", "1"], onKeysWritten, 0);
}

function grantData(i: i32): void {
  if (dataRef[i] >= 0) return;
  dataRef[i] = gnttabGrantAccess(backendId, addrToGfn(dataPage[i]), true);
  if (dataRef[i] < 0) panic("grant data");
}

function onKeysWritten(status: i32, arg: usize): void {
  if (phase != P_NEGOTIATING) return;
  if (status < 0) panic("writing the ring keys");
  xenbusSwitchState(DEV, XenbusStateConnected);
}

/** netback is Closed: it must have let go of everything; then we start again (or end). */
function closed(): void {
  if (!endGrant(txRef)) fuzzHeld("dom0 still maps our transmit ring after Closed");
  if (!endGrant(rxRef)) fuzzHeld("dom0 still maps our receive ring after Closed");
  txRef = -1;
  rxRef = -1;
  let busy = 0;
  for (let i = 0; i < NDATA; i++) { if (!endGrant(dataRef[i])) busy++; dataRef[i] = -1; }
  for (let i = 0; i < rxRefs.length; i++) { if (!endGrant(rxRefs[i])) busy++; rxRefs[i] = -1; }
  if (busy > 0) fuzzHeld(busy.toString() + " buffer grants still in use by dom0 after Closed");
  if (port >= 0) {
    const st = portStatus(<u32>port);
    if (st != EVTCHNSTAT_unbound && st != EVTCHNSTAT_closed) fuzzHeld("dom0's end of our event channel is still bound after Closed (status " + st.toString() + ")");
    evtchnClose(<u32>port);
    port = -1;
  }
  tx = null;
  rx = null;
  if (finishing) { finish(); return; }
  // Start again as a re-probed frontend: Initialising, and netback must come back to InitWait.
  phase = P_REOPEN;
  reopenAt = now();
  xenbusSwitchState(DEV, XenbusStateInitialising);
}

/** Ends grant `ref` (-1: none); false if dom0 still uses it. */
function endGrant(ref: i32): bool {
  return ref < 0 || gnttabEndAccess(<u32>ref) == 0;
}

function finish(): void {
  if (phase == P_DONE) return;
  phase = P_DONE;
  puts("netback fuzzer: ");
  putu(epochs);
  printk(" connections");
  fuzzReport();
  poweroff();
}

// ---- responses -------------------------------------------------------------------------------

function onEvent(p: u32, arg: usize): void {
  if (phase != P_CONNECTED) return;
  if (nonconsumeUntil != 0) return; // not reading anything for now
  takeTxResponses();
  takeRxResponses();
}

function takeTxResponses(): void {
  const t = tx!;
  for (;;) {
    for (;;) {
      const pos = <i32>(t.rspCons & (t.size - 1));
      const rc = t.copyResponse(RSP, TX_RSP);
      if (rc < 0) { fuzzWrong("netback's transmit rsp_prod is out of range"); goDown(XenbusStateClosing); return; }
      if (rc == 0) break;
      const r = changetype<netif_tx_response>(RSP);
      const st = <i32>r.status;
      const wasFlipped = flipped[pos];
      flipped[pos] = false;
      if (st == NETIF_RSP_NULL) continue; // an extra-info slot's answer
      const id = <i32>r.id;
      if (unchecked(inFlight[id]) == 0) {
        if (wasFlipped) continue; // our own rewrite landed on netback's response
        fuzzWrong("a transmit response for id " + id.toString() + ", which is not in flight");
        continue;
      }
      if (st != NETIF_RSP_OKAY && st != NETIF_RSP_ERROR && st != NETIF_RSP_DROPPED) fuzzWrong("transmit status " + st.toString());
      const c = unchecked(klass[id]);
      if (st == NETIF_RSP_OKAY && c == C_REFUSE) fuzzWrong("NETIF_RSP_OKAY for " + what[id] + ", which must be refused (id " + id.toString() + ")");
      if (st != NETIF_RSP_OKAY && c == C_REFUSE) fuzzDetected();
      if (--inFlight[id] == 0 && id < 256) freeIds.push(<u16>id);
    }
    const more = t.finalCheckForResponses();
    if (more <= 0) break;
  }
}

function takeRxResponses(): void {
  const r = rx!;
  let extra = false;
  let n = 0;
  for (;;) {
    for (;;) {
      const pos = <i32>(r.rspCons & (r.size - 1));
      const rc = r.copyResponse(RSP, RX_SLOT);
      if (rc < 0) { fuzzWrong("netback's receive rsp_prod is out of range"); goDown(XenbusStateClosing); return; }
      if (rc == 0) break;
      n++;
      if (!rxPosted[pos]) fuzzWrong("a receive response at " + pos.toString() + ", where no buffer was posted");
      rxPosted[pos] = false;
      if (extra) { extra = false; continue; } // an extra-info slot (we negotiate none, but tolerate them)
      const rs = changetype<netif_rx_response>(RSP);
      const st = <i32>rs.status;
      if (<i32>rs.id != pos) fuzzWrong("receive response id " + rs.id.toString() + " at position " + pos.toString());
      if (st > 0 && <u32>rs.offset + <u32>st > 4096) fuzzWrong("a receive response past its page (offset " + rs.offset.toString() + ", " + st.toString() + " bytes)");
      extra = (<u32>rs.flags & NETRXF_extra_info) != 0;
    }
    if (r.finalCheckForResponses() <= 0) break;
  }
  if (n == 0) return;
  for (let i = 0; i < n; i++) postRx(badRxPosts > 0);
  if (r.pushRequestsAndCheckNotify()) evtchnNotify(<u32>port);
}

/** Posts the buffer of the next request position (a never-granted gref when `bad`). */
function postRx(bad: bool): void {
  const r = rx!;
  if (r.free() == 0) return;
  const id = <i32>(r.reqProdPvt & (r.size - 1));
  if (bad) badRxPosts--;
  rxPosted[id] = true;
  writeRxRequest(SLOT, <u16>id, bad ? NEVER_GRANTED - <u32>id : <u32>rxRefs[id]);
  r.writeRequest(SLOT, RX_SLOT);
}

// ---- the steps -------------------------------------------------------------------------------

function tick(arg: usize): void {
  timerSet(NS_PER_MS, tick, 0);
  const t = now();
  if (phase == P_REOPEN && reopenAt != 0 && t - reopenAt > VERDICT_NS) {
    reopenAt = 0;
    fuzzWrong("netback did not come back to InitWait after the frontend went Initialising from Closed");
    finish(); // nothing more can be done with this vif
    return;
  }
  if (finishing) {
    if (t - finishAt > 5 * VERDICT_NS) { puts("netback fuzzer: "); printk("netback never reached Closed at the end"); finish(); }
    return;
  }
  if (phase != P_CONNECTED) return;
  if (nonconsumeUntil != 0 && fuzzSteps >= nonconsumeUntil) { nonconsumeUntil = 0; takeTxResponses(); takeRxResponses(); }
  if (fatalAt != 0) {
    if (t - fatalAt > VERDICT_NS) {
      // The transmit ring's header as netback left it, for the message.
      const h = "req_prod " + load<u32>(txAddr).toString() + ", req_event " + load<u32>(txAddr, 4).toString() + ", rsp_prod " + load<u32>(txAddr, 8).toString() +
        ", rsp_event " + load<u32>(txAddr, 12).toString() + ", ours " + tx!.reqProdPvt.toString();
      fuzzWrong("netback neither refused nor disconnected: " + fatalWhat + " (" + h + ")");
      fatalAt = 0;
      goDown(XenbusStateClosing);
    }
    return;
  }
  if (rxJumpAt != 0) {
    // netback notices a broken receive ring only when it needs a buffer: if nothing came for us, we close.
    if (t - rxJumpAt > 300 * NS_PER_MS) goDown(XenbusStateClosing);
    return;
  }
  if (t < sleepUntil) return;
  for (let i: u32 = 0; i < PER_TICK && phase == P_CONNECTED && fatalAt == 0 && rxJumpAt == 0 && t >= sleepUntil; i++) {
    if (fuzzSteps >= fuzzStepsWanted()) {
      finishing = true;
      finishAt = t;
      goDown(XenbusStateClosing);
      return;
    }
    fuzzStep();
    step();
  }
}

/** One step: a valid frame most of the time, else one enabled persona's action. */
function step(): void {
  const k = fuzzBelow(12);
  if (k >= 2 && k < 11) {
    const p = k - 2;
    if (p == 0 && fuzzPersona("ids")) { badIds(); return; }
    if (p == 1 && fuzzPersona("op")) { malformed(); return; }
    if (p == 2 && fuzzPersona("grants")) { grants(); return; }
    if (p == 3 && fuzzPersona("overflow") && fuzzChance(20)) { overflow(); return; }
    if (p == 4 && fuzzPersona("flipper")) { flipper(); return; }
    if (p == 5 && fuzzPersona("storm")) { storm(); return; }
    if (p == 6 && fuzzPersona("flapper") && fuzzChance(15)) { flapper(); return; }
    if (p == 7 && fuzzPersona("nonconsumer") && fuzzChance(10)) { nonconsumer(); return; }
    if (p == 8 && fuzzPersona("slow") && fuzzChance(20)) { slow(); return; }
  }
  valid();
}

/** A data page for the next frame, granted, with an Ethernet header to us (not forwarded) or to all. */
function page(): i32 {
  const i = nextData;
  nextData = (nextData + 1) % NDATA;
  grantData(i);
  const pg = dataPage[i];
  macStore(pg, fuzzChance(12) ? MAC_BROADCAST : mac);
  macStore(pg + 6, mac);
  storeBe16(pg + 12, 0x88b5);
  return i;
}

function takeId(c: u8): i32 {
  if (freeIds.length == 0) return -1;
  const id = <i32>freeIds.pop();
  inFlight[id] = 1;
  klass[id] = c;
  what[id] = current;
  return id;
}

/** Whether `slots` ring slots and ids are free (the step is then skipped otherwise). */
function room(slots: u32): bool {
  return tx!.free() >= slots && <u32>freeIds.length >= slots;
}

/** Writes a data slot with a fresh id of class `c`. */
function slot(gref: u32, offset: u32, flags: u32, size: u32, c: u8): void {
  const id = takeId(c);
  writeTxRequest(SLOT, gref, offset, flags, <u32>id, size);
  tx!.writeRequest(SLOT, TX_SLOT);
}

function extraSlot(type: i32, more: bool, gsoType: u32, gsoSize: u32): void {
  writeExtra(SLOT, type, more, gsoType, gsoSize, 0);
  tx!.writeRequest(SLOT, TX_SLOT);
}

function push(): void {
  if (tx!.pushRequestsAndCheckNotify()) evtchnNotify(<u32>port);
}

/** A frame of `n` data slots (n * 200 bytes, the first slot holding the rest), all of class `c`. */
function chain(n: u32, c: u8): void {
  for (let i: u32 = 0; i < n; i++) slot(<u32>dataRef[page()], 0, i + 1 < n ? NETTXF_more_data : 0, i == 0 ? 200 * n : 200, c);
}

/** A valid frame: one slot of 60..1514 bytes, a 2..4-slot frame, a GSO frame or a multicast subscription. */
function valid(): void {
  const kind = fuzzBelow(8);
  current = "a valid frame";
  if (kind < 5) {
    if (!room(1)) return;
    slot(<u32>dataRef[page()], 0, 0, 60 + fuzzBelow(1455), C_VALID);
  } else if (kind < 7) {
    const n = 2 + fuzzBelow(3);
    if (!room(n)) return;
    chain(n, C_VALID);
  } else if (fuzzChance(50)) {
    if (!room(2)) return;
    slot(<u32>dataRef[page()], 0, NETTXF_extra_info, 1514, C_VALID);
    extraSlot(XEN_NETIF_EXTRA_TYPE_GSO, false, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
  } else {
    if (!room(2)) return;
    slot(<u32>dataRef[page()], 0, NETTXF_extra_info, 0, C_VALID);
    writeExtra(SLOT, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, false, 0, 0, 0x01005e000001);
    tx!.writeRequest(SLOT, TX_SLOT);
  }
  push();
}

/** ids: a frame under an id still in flight (not judged), or an id far above the ring's size. */
function badIds(): void {
  if (!room(1)) return;
  let id: i32 = -1;
  if (fuzzChance(50)) {
    for (let tries = 0; tries < 8 && id < 0; tries++) {
      const c = <i32>fuzzBelow(256);
      if (inFlight[c] > 0 && inFlight[c] < 200) id = c;
    }
  }
  if (id < 0) {
    id = 256 + <i32>fuzzBelow(65536 - 256);
    if (inFlight[id] > 0) return;
    klass[id] = C_VALID;
  } else {
    klass[id] = C_ANY; // two frames under one id: their answers cannot be told apart
    suspect = true;
  }
  inFlight[id]++;
  fuzzInjected();
  writeTxRequest(SLOT, <u32>dataRef[page()], 0, 0, <u32>id, 60);
  tx!.writeRequest(SLOT, TX_SLOT);
  push();
}

/** op: a malformed frame, refused (NETIF_RSP_ERROR) or fatal (a disconnect). */
function malformed(): void {
  // Refused frames mostly: each fatal one costs a reconnection.
  const kind = fuzzChance(70) ? fuzzBelow(3) : 3 + fuzzBelow(9);
  if (!room(22)) return;
  current = "malformed frame " + kind.toString();
  fuzzInjected();
  suspect = true;
  switch (kind) {
    case 0: chain(19, C_REFUSE); break;
    case 1: slot(<u32>dataRef[page()], 0, NETTXF_more_data, 100, C_REFUSE); slot(<u32>dataRef[page()], 0, 0, 200, C_REFUSE); break;
    case 2: slot(<u32>dataRef[page()], 0, 0, 10, C_REFUSE); break;
    case 3: chain(21, C_REFUSE); fatal("a frame of 21 slots"); break;
    case 4: slot(<u32>dataRef[page()], 4000, 0, 200, C_REFUSE); fatal("offset 4000 + 200 bytes"); break;
    case 5: slot(<u32>dataRef[page()], 0, NETTXF_more_data, 300, C_REFUSE); slot(<u32>dataRef[page()], 4000, 0, 200, C_REFUSE); fatal("a later slot past its page"); break;
    case 6: slot(<u32>dataRef[page()], 0, 0, 65535, C_REFUSE); fatal("a one-slot frame of 65535 bytes"); break;
    case 7: slot(<u32>dataRef[page()], 0, NETTXF_extra_info, 60, C_REFUSE); extraSlot(0, false, 0, 0); fatal("extra info of type 0"); break;
    case 8: slot(<u32>dataRef[page()], 0, NETTXF_extra_info, 60, C_REFUSE); extraSlot(XEN_NETIF_EXTRA_TYPE_MAX, false, 0, 0); fatal("extra info of type 5"); break;
    case 9: slot(<u32>dataRef[page()], 0, NETTXF_extra_info, 60, C_REFUSE); extraSlot(XEN_NETIF_EXTRA_TYPE_GSO, false, XEN_NETIF_GSO_TYPE_TCPV4, 0); fatal("GSO size 0"); break;
    case 10: {
      slot(<u32>dataRef[page()], 0, NETTXF_extra_info, 60, C_REFUSE);
      for (let i = 0; i < 5; i++) extraSlot(XEN_NETIF_EXTRA_TYPE_GSO, i < 4, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
      fatal("five extra-info slots");
      break;
    }
    default: slot(<u32>dataRef[page()], 0, NETTXF_more_data, 300, C_REFUSE); fatal("more_data on the last published slot"); break;
  }
  push();
}

function fatal(what: string): void {
  fatalAt = now();
  fatalWhat = what;
}

/** grants: a never-granted gref (first or later slot), a data page's grant ended mid-flight, receive buffers never granted. */
function grants(): void {
  const kind = fuzzBelow(4);
  fuzzInjected();
  current = "grants case " + kind.toString();
  if (kind == 0) {
    if (!room(1)) return;
    slot(NEVER_GRANTED, 0, 0, 60, C_REFUSE);
  } else if (kind == 1) {
    if (!room(2)) return;
    slot(<u32>dataRef[page()], 0, NETTXF_more_data, 300, C_REFUSE);
    slot(NEVER_GRANTED - 1, 0, 0, 100, C_REFUSE);
  } else if (kind == 2) {
    // End a data page's grant while frames that use it may be in flight: their answers are not judged.
    if (!room(1)) return;
    const i = page();
    slot(<u32>dataRef[i], 0, 0, 60 + fuzzBelow(1455), C_ANY);
    push();
    suspect = true;
    if (gnttabEndAccess(<u32>dataRef[i]) == 0) dataRef[i] = -1;
    for (let id = 0; id < 256; id++) if (inFlight[id] > 0) klass[id] = C_ANY;
    return;
  } else {
    badRxPosts += 1 + fuzzBelow(8);
    return;
  }
  suspect = true;
  push();
}

/** overflow: req_prod far ahead, on the transmit ring (fatal) or the receive ring. */
function overflow(): void {
  fuzzInjected();
  suspect = true;
  if (fuzzChance(50)) {
    atomic.store<u32>(txAddr, tx!.reqProdPvt + 1000 + fuzzBelow(100000));
    evtchnNotify(<u32>port);
    fatal("the transmit req_prod pushed past the ring");
  } else {
    atomic.store<u32>(rxAddr, rx!.reqProdPvt + 1000 + fuzzBelow(100000));
    evtchnNotify(<u32>port);
    rxJumpAt = now();
  }
}

/** flipper: a valid one-slot frame, then its slot rewritten in the ring after the push. */
function flipper(): void {
  if (!room(1)) return;
  const t = tx!;
  const at = txAddr + RING_HEADER_SIZE + (t.reqProdPvt & (t.size - 1)) * TX_SLOT;
  flipped[<i32>(t.reqProdPvt & (t.size - 1))] = true;
  slot(<u32>dataRef[page()], 0, 0, 60 + fuzzBelow(1455), C_ANY);
  push();
  fuzzInjected();
  suspect = true;
  const kind = fuzzBelow(4);
  if (kind == 0) store<u16>(at + 4, 4000);            // offset: past the page with the size
  else if (kind == 1) store<u16>(at + 10, 10);        // size: shorter than a header
  else if (kind == 2) store<u16>(at + 10, 65535);     // size: beyond the page
  else store<u32>(at, NEVER_GRANTED - 2);              // gref: never granted
  evtchnNotify(<u32>port);
}

/** storm: 32 notifications at once. */
function storm(): void {
  for (let i = 0; i < 32; i++) evtchnNotify(<u32>port);
}

/** flapper: Closing or Closed (netback must follow and let go), or Initialising and straight back to Connected. */
function flapper(): void {
  fuzzInjected();
  suspect = true;
  const kind = fuzzBelow(3);
  if (kind == 0) goDown(XenbusStateClosing);
  else if (kind == 1) goDown(XenbusStateClosed);
  else xenbusSwitchState(DEV, XenbusStateInitialising, backToConnected, <usize>epochs);
}

/** The reversal of a flap to Initialising, once that switch is done (the two must not race). */
function backToConnected(status: i32, epoch: usize): void {
  if (phase == P_CONNECTED && <u32>epoch == epochs) xenbusSwitchState(DEV, XenbusStateConnected);
}

/** nonconsumer: for the next 50..250 steps, no response is read and no receive buffer posted. */
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
