// Test guest: a hostile netfront against dom0's netback. It negotiates its vif by hand (the keys
// drivers/net/front.ts writes: one queue, one event channel, rx-copy, rx-notify, no scatter-gather
// on receive), then, per its command line `case=NAME`, writes requests no correct frontend writes
// straight into its own rings and checks what netback made of them. Frame by frame, after one good
// frame (which must get NETIF_RSP_OKAY):
//
//   dropped (NETIF_RSP_ERROR on every data slot; a good frame after it still gets NETIF_RSP_OKAY):
//     many-slots (19 data slots, more than XEN_NETIF_NR_SLOTS_MIN), first-smaller (a later slot
//     larger than the first slot's size), bad-gref (a gref never granted), bad-gref-later (the
//     same in the second slot, the first one good; sent to the broadcast address), short (10 bytes)
//   fatal (netback disconnects the vif: an `error` node and Closing; this guest then closes its end):
//     too-many-slots (21 slots), past-page (offset + size past the page), past-page-later (the same
//     in the second slot), bad-extra (extra info type 0), bad-extra-max (XEN_NETIF_EXTRA_TYPE_MAX),
//     bad-gso (GSO extra info of size 0), extra-chain (5 extra-info slots), partial-frame
//     (more_data on the last published slot), req-prod-jump (req_prod + 1000)
//
// Its receive ring, while it sends `n` ARP requests (default 200: `burst` every `every` ms, to
// 10.0.0.1 and 10.0.0.2 in turn or to `target`) whose unicast replies come back to it:
//   no-rx-buffers (it never posts a receive buffer), rx-bad-gref (its buffers are grefs it never
//   granted), rx-req-prod-jump (no buffers, and the receive req_prod + 1000: fatal)
// And flood: every millisecond for `ms` ms (default 200; with greedy=1 also at every completion) it
// fills its transmit ring with 60-byte frames, every 8th one malformed (10 bytes), to its own MAC
// (not forwarded) or with dst=bcast to the broadcast address.
//
// Each case starts `delay` ms (default 50) after the vif connects, while the other guests of the
// run ping each other. The guest prints one line per frame and one for the case, checks that
// netback answers each slot once (never an id it was not given), and ends by closing the vif
// (Closing, then Closed once netback follows; after a fatal error it answers netback's Closing
// with Closed, as netfront does) and powering off. A line with UNEXPECTED means netback got it wrong.
import {
  boot, evtchnUpcall, evtchnAllocUnbound, evtchnNotify, printk, puts, putu, puti, panic, poweroff, xsInit, xsRead, xsErrorName,
  cmdlineGet, cmdlineGetU32, frameAlloc, addrToGfn, gnttabGrantAccess, xenbusWatchState, xenbusSwitchState,
  SharedPage, FrontRing, XBT_NIL, XsReply, timerSet, NS_PER_MS, now,
} from "../../assembly/index";
import { Keys, readKeys, writeKeys } from "../../drivers/common/xenbus";
import {
  TX_SLOT, RX_SLOT, TX_RSP, writeTxRequest, writeExtra, writeRxRequest, NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_NULL,
  NETTXF_more_data, NETTXF_extra_info, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4,
  K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_REQUEST_RX_COPY, K_FEATURE_RX_NOTIFY, K_FEATURE_SG, K_NO_CSUM_OFFLOAD, K_MAC,
} from "../../drivers/net/proto";
import { netif_tx_response, XEN_NETIF_EXTRA_TYPE_MAX } from "../../assembly/xen/io/netif";
import { macParse, ipParse } from "../../assembly/net/addr";
import { macStore, storeBe16, storeBe32, MAC_BROADCAST } from "../../assembly/net/wire";
import { XenbusStateInitWait, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed } from "../../assembly/xen/io/xenbus";

const DEV = "device/vif/0";
/** A grant ref this domain never grants (far beyond the refs it hands out). */
const NEVER_GRANTED: u32 = 0xfff0;
/** Data pages: enough for the longest frame here (21 slots), granted read-only to the backend. */
const NDATA = 24;

let kase = "";
let backend = "";
let backendId: u16 = 0;
let mac: u64 = 0;
let delay: u64 = 50 * NS_PER_MS;
let tx: FrontRing | null = null;
let rx: FrontRing | null = null;
let txAddr: usize = 0;
let port: u32 = 0;
const data = new StaticArray<u32>(NDATA); // grefs
const dataPage = new StaticArray<usize>(NDATA);
let rxPage = new StaticArray<usize>(0); // our receive buffers (their contents are never read)
let rxGref = new StaticArray<u32>(0);
let postRx = true;

/** Transmit ids: whether each is in flight, and the free ones. */
const inFlight = new StaticArray<bool>(256);
const freeIds = new Array<u16>();
/** Responses to the current frame: how many data slots it had, how many answered, and their statuses. */
let want: u32 = 0;
let got: u32 = 0;
let okays: u32 = 0;
let errors: u32 = 0;
let nulls: u32 = 0;
let unexpected: u32 = 0;

const SLOT = memory.data(16, 8);
const RSP = memory.data(8, 8);

// ---- negotiation -----------------------------------------------------------------------------

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  const c = cmdlineGet("case");
  kase = c === null ? "" : c;
  delay = <u64>cmdlineGetU32("delay", 50) * NS_PER_MS;
  postRx = kase != "no-rx-buffers" && kase != "rx-req-prod-jump";
  for (let i = 255; i >= 0; i--) freeIds.push(<u16>i);
  if (readKeys(DEV, ["backend", "backend-id", K_MAC], onDevice, 0) < 0) panic("readKeys");
}

function onDevice(k: Keys, arg: usize): void {
  const be = k.get("backend"), m = k.get(K_MAC);
  if (be === null || m === null || macParse(m) < 0) panic("no vif");
  backend = be!;
  backendId = <u16>k.u32("backend-id", 0);
  mac = <u64>macParse(m!);
  if (xenbusWatchState(backend, onBackState, 0) < 0) panic("watch");
}

let phase = 0; // 0 waiting for InitWait, 1 negotiating, 2 connected, 3 closing, 4 done
let attacked = false;
let fatalExpected = false;

function onBackState(state: i32, arg: usize): void {
  if (state == XenbusStateInitWait && phase == 0) { phase = 1; setup(); return; }
  if (state == XenbusStateConnected && phase == 1) {
    phase = 2;
    puts("net_hostile_front: connected to ");
    puts(backend);
    puts(", case ");
    printk(kase);
    timerSet(delay, start, 0);
    return;
  }
  if (state == XenbusStateClosing && phase == 2) {
    // netback disconnected us: the fatal error a case expects, or a surprise.
    phase = 3;
    // xenbus_dev_fatal's node, in the backend domain's home: error/<its device path>/error.
    const home = "/local/domain/" + backendId.toString() + "/";
    const dev = backend.startsWith(home) ? backend.substring(home.length) : backend;
    xsRead(XBT_NIL, home + "error/" + dev + "/error", onErrorNode, 0);
    return;
  }
  if (state == XenbusStateClosing && phase == 3) { xenbusSwitchState(DEV, XenbusStateClosed); return; }
  if (state == XenbusStateClosed && phase == 3) {
    phase = 4;
    printk("net_hostile_front: the backend is Closed; powering off");
    poweroff();
  }
}

function setup(): void {
  const txp = new StaticArray<SharedPage>(1), rxp = new StaticArray<SharedPage>(1);
  txAddr = frameAlloc();
  txp[0] = SharedPage.local(txAddr);
  rxp[0] = SharedPage.local(frameAlloc());
  const t = new FrontRing(txp, TX_SLOT), r = new FrontRing(rxp, RX_SLOT);
  if (t.init(0) < 0 || r.init(0) < 0) panic("ring init");
  tx = t;
  rx = r;
  const txRef = gnttabGrantAccess(backendId, addrToGfn(txAddr), false);
  const rxRef = gnttabGrantAccess(backendId, addrToGfn(rxp[0].addr), false);
  const p = evtchnAllocUnbound(backendId, onEvent, 0);
  if (txRef < 0 || rxRef < 0 || p < 0) panic("grant or port");
  port = <u32>p;
  for (let i = 0; i < NDATA; i++) {
    const page = frameAlloc();
    dataPage[i] = page;
    const ref = gnttabGrantAccess(backendId, addrToGfn(page), true);
    if (ref < 0) panic("grant data");
    data[i] = <u32>ref;
    for (let j = 0; j < 4096; j++) store<u8>(page + j, <u8>(j * 7 + i));
  }
  frameHeader(dataPage[0], mac);
  if (postRx) {
    const n = <i32>r.size;
    rxPage = new StaticArray<usize>(n);
    rxGref = new StaticArray<u32>(n);
    for (let i = 0; i < n; i++) {
      rxPage[i] = frameAlloc();
      let ref = gnttabGrantAccess(backendId, addrToGfn(rxPage[i]), false);
      if (ref < 0) panic("grant rx");
      if (kase == "rx-bad-gref") ref = <i32>(NEVER_GRANTED - <u32>i); // buffers we never granted
      rxGref[i] = <u32>ref;
      writeRxRequest(SLOT, <u16>i, <u32>ref);
      r.writeRequest(SLOT, RX_SLOT);
    }
    r.pushRequests();
  }
  writeKeys(DEV, [K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_REQUEST_RX_COPY, K_FEATURE_RX_NOTIFY, K_FEATURE_SG, K_NO_CSUM_OFFLOAD],
    [txRef.toString(), rxRef.toString(), port.toString(), "1", "1", "0", "1"], onKeysWritten, 0);
}

function onKeysWritten(status: i32, arg: usize): void {
  if (status < 0) panic("writing the ring keys");
  xenbusSwitchState(DEV, XenbusStateConnected);
}

/** A frame's Ethernet header at `page`: to `dst`, from us, type 0x88b5 (local experimental). */
function frameHeader(page: usize, dst: u64): void {
  macStore(page, dst);
  macStore(page + 6, mac);
  storeBe16(page + 12, 0x88b5);
}

// ---- the ring --------------------------------------------------------------------------------

function takeId(): u32 {
  if (freeIds.length == 0) panic("no free transmit id");
  const id = freeIds.pop();
  inFlight[id] = true;
  return id;
}

/** Writes one transmit request (a fresh id) and counts it as a data slot to be answered. */
function slot(gref: u32, offset: u32, flags: u32, size: u32): void {
  writeTxRequest(SLOT, gref, offset, flags, takeId(), size);
  if (tx!.writeRequest(SLOT, TX_SLOT) < 0) panic("transmit ring full");
  want++;
}

/** Writes an extra-info slot of `type` (answered with NETIF_RSP_NULL, which is not counted). */
function extraSlot(type: i32): void {
  writeExtra(SLOT, type, false, 0, 0, 0);
  if (tx!.writeRequest(SLOT, TX_SLOT) < 0) panic("transmit ring full");
}

function push(): void {
  tx!.pushRequests();
  evtchnNotify(port);
}

function onEvent(p: u32, arg: usize): void {
  const t = tx;
  if (t === null || phase < 2 || phase > 3) return;
  for (;;) {
    for (;;) {
      const rc = t.copyResponse(RSP, TX_RSP);
      if (rc < 0) { puts("net_hostile_front: transmit ring error "); puti(rc); printk(""); panic("ring"); }
      if (rc == 0) break;
      const r = changetype<netif_tx_response>(RSP);
      if (r.status == NETIF_RSP_NULL) { nulls++; continue; }
      const id = <i32>r.id;
      if (!inFlight[id]) {
        unexpected++;
        puts("net_hostile_front: UNEXPECTED response for id ");
        putu(id);
        printk(" (not in flight)");
        continue;
      }
      inFlight[id] = false;
      freeIds.push(<u16>id);
      got++;
      if (r.status == NETIF_RSP_OKAY) okays++;
      else if (r.status == NETIF_RSP_ERROR) errors++;
      else { puts("net_hostile_front: UNEXPECTED status "); puti(r.status); printk(""); }
    }
    const more = t.finalCheckForResponses();
    if (more < 0) panic("ring");
    if (more == 0) break;
  }
  serviceRx();
  if (kase == "flood") { if (floodGreedy || floodStopped) floodMore(); }
  // A case that pushed no slot (req-prod-jump) has no answer to wait for: only the fatal error or
  // the timeout ends it, not an event for the receive ring.
  else if (waiting && want > 0 && got == want) { waiting = false; answered(); }
}

/** Reposts every receive buffer netback filled (their contents do not matter). */
function serviceRx(): void {
  const r = rx!;
  if (!postRx) return;
  let n = 0;
  for (;;) {
    while (r.copyResponse(RSP, RX_SLOT) == 1) {
      const id = <i32>(load<u16>(RSP) & 255);
      writeRxRequest(SLOT, <u16>id, rxGref[id]);
      r.writeRequest(SLOT, RX_SLOT);
      n++;
    }
    if (r.finalCheckForResponses() <= 0) break;
  }
  if (n > 0 && r.pushRequestsAndCheckNotify()) evtchnNotify(port);
}

// ---- the cases -------------------------------------------------------------------------------

const GOOD = 0, SLOTS21 = 1, SLOTS19 = 2, FIRST_SMALLER = 3, PAST_PAGE = 4, PAST_PAGE_LATER = 5, BAD_GREF = 6,
  BAD_GREF_LATER = 7, SHORT = 8, EXTRA0 = 9, EXTRA_MAX = 10, PARTIAL = 11, JUMP = 12, BAD_GSO = 13, EXTRA_CHAIN = 14;
const OK = 0, DROP = 1, FATAL = 2;
const NAMES: StaticArray<string> = [
  "a good frame", "a frame of 21 slots", "a frame of 19 slots", "a first slot smaller than the next",
  "offset 4000 + size 200", "offset 4000 + size 200 in the second slot", "a gref never granted",
  "a gref never granted in the second slot", "a 10-byte frame", "extra info of type 0", "extra info of type 5",
  "more_data on the last published slot", "req_prod jumped by 1000", "GSO extra info of size 0",
  "5 extra info slots",
];

/** The frames of a case and what netback must do with each. */
let frames = new Array<i32>();
let verdicts = new Array<i32>();
let step = 0;
let waiting = false;

function plan(f: i32, v: i32): void {
  frames.push(f);
  verdicts.push(v);
}

function start(arg: usize): void {
  attacked = true;
  if (kase == "flood") { floodStart(); return; }
  if (kase == "no-rx-buffers" || kase == "rx-bad-gref") { arpStart(); return; }
  if (kase == "rx-req-prod-jump") {
    // Our receive ring's req_prod, far beyond what the ring holds; then frames for us come.
    atomic.store<u32>(rx!.pages[0].addr, rx!.reqProdPvt + 1000);
    evtchnNotify(port);
    fatalExpected = true;
    arpStart();
    return;
  }
  plan(GOOD, OK);
  if (kase == "too-many-slots") plan(SLOTS21, FATAL);
  else if (kase == "many-slots") { plan(SLOTS19, DROP); plan(GOOD, OK); }
  else if (kase == "first-smaller") { plan(FIRST_SMALLER, DROP); plan(GOOD, OK); }
  else if (kase == "past-page") plan(PAST_PAGE, FATAL);
  else if (kase == "past-page-later") plan(PAST_PAGE_LATER, FATAL);
  else if (kase == "bad-gref") { plan(BAD_GREF, DROP); plan(GOOD, OK); }
  else if (kase == "bad-gref-later") { plan(BAD_GREF_LATER, DROP); plan(GOOD, OK); }
  else if (kase == "short") { plan(SHORT, DROP); plan(GOOD, OK); }
  else if (kase == "bad-extra") plan(EXTRA0, FATAL);
  else if (kase == "bad-extra-max") plan(EXTRA_MAX, FATAL);
  else if (kase == "partial-frame") plan(PARTIAL, FATAL);
  else if (kase == "req-prod-jump") plan(JUMP, FATAL);
  else if (kase == "bad-gso") plan(BAD_GSO, FATAL);
  else if (kase == "extra-chain") plan(EXTRA_CHAIN, FATAL);
  else { puts("net_hostile_front: unknown case "); printk(kase); panic("bad command line"); }
  send();
}

/** A chain of `n` data slots of 100 bytes (the first one's size is the frame's, 100 * n). */
function chain(n: u32): void {
  for (let i: u32 = 0; i < n; i++) slot(data[i], 0, i + 1 < n ? NETTXF_more_data : 0, i == 0 ? 100 * n : 100);
}

/** Sends the frame of this step. */
function send(): void {
  const f = frames[step];
  fatalExpected = verdicts[step] == FATAL;
  want = 0; got = 0; okays = 0; errors = 0; nulls = 0;
  switch (f) {
    case GOOD: slot(data[0], 0, 0, 60); break;
    case SLOTS21: chain(21); break;
    case SLOTS19: chain(19); break;
    case FIRST_SMALLER: slot(data[0], 0, NETTXF_more_data, 100); slot(data[1], 0, 0, 200); break;
    case PAST_PAGE: slot(data[0], 4000, 0, 200); break;
    case PAST_PAGE_LATER: slot(data[0], 0, NETTXF_more_data, 300); slot(data[1], 4000, 0, 200); break;
    case BAD_GREF: slot(NEVER_GRANTED, 0, 0, 60); break;
    case BAD_GREF_LATER: {
      // The first slot is good and holds more than the bytes netback peeks at; the second is not ours.
      frameHeader(dataPage[2], MAC_BROADCAST);
      slot(data[2], 0, NETTXF_more_data, 300);
      slot(NEVER_GRANTED, 0, 0, 100);
      break;
    }
    case SHORT: slot(data[0], 0, 0, 10); break;
    case EXTRA0: slot(data[0], 0, NETTXF_extra_info, 60); extraSlot(0); break;
    case EXTRA_MAX: slot(data[0], 0, NETTXF_extra_info, 60); extraSlot(XEN_NETIF_EXTRA_TYPE_MAX); break;
    case PARTIAL: slot(data[0], 0, NETTXF_more_data, 300); break;
    case BAD_GSO: {
      slot(data[0], 0, NETTXF_extra_info, 60);
      writeExtra(SLOT, XEN_NETIF_EXTRA_TYPE_GSO, false, XEN_NETIF_GSO_TYPE_TCPV4, 0, 0);
      if (tx!.writeRequest(SLOT, TX_SLOT) < 0) panic("transmit ring full");
      break;
    }
    case EXTRA_CHAIN: {
      // One more extra-info slot than there are types (each flagged XEN_NETIF_EXTRA_FLAG_MORE but the last).
      slot(data[0], 0, NETTXF_extra_info, 60);
      for (let i = 0; i < 5; i++) {
        writeExtra(SLOT, XEN_NETIF_EXTRA_TYPE_GSO, i < 4, XEN_NETIF_GSO_TYPE_TCPV4, 1448, 0);
        if (tx!.writeRequest(SLOT, TX_SLOT) < 0) panic("transmit ring full");
      }
      break;
    }
    case JUMP: {
      atomic.store<u32>(txAddr, tx!.reqProdPvt + 1000); // req_prod, far beyond anything published
      evtchnNotify(port);
      waiting = true;
      timerSet(2000 * NS_PER_MS, timedOut, step);
      return;
    }
  }
  waiting = true;
  push();
  timerSet(2000 * NS_PER_MS, timedOut, step);
}

function timedOut(s: usize): void {
  if (phase != 2 || <i32>s != step || !waiting) return;
  puts("net_hostile_front: ");
  puts(kase);
  puts(": ");
  puts(NAMES[frames[step]]);
  puts(": no verdict after 2 s (");
  putu(got);
  puts(" of ");
  putu(want);
  printk(" slots answered)");
  finish();
}

/** Every data slot of the current frame was answered: check the statuses, go on. */
function answered(): void {
  const f = frames[step], v = verdicts[step];
  puts("net_hostile_front: ");
  puts(kase);
  puts(": ");
  puts(NAMES[f]);
  puts(": ");
  putu(got);
  puts(got == 1 ? " slot answered, " : " slots answered, ");
  if (okays == got) puts("all NETIF_RSP_OKAY");
  else if (errors == got) puts("all NETIF_RSP_ERROR");
  else { putu(okays); puts(" okay, "); putu(errors); puts(" error"); }
  if (nulls > 0) { puts(", "); putu(nulls); puts(" NETIF_RSP_NULL"); }
  const good = (v == OK && okays == got) || (v == DROP && errors == got);
  printk(good ? " as expected" : v == FATAL ? " UNEXPECTED (a fatal error was expected)" : " UNEXPECTED");
  step++;
  if (step < frames.length) send();
  else finish();
}

/** The vif stays up after the case: close it ourselves, as a frontend that is done. */
function finish(): void {
  if (phase != 2) return;
  puts("net_hostile_front: ");
  puts(kase);
  puts(": ");
  printk(unexpected == 0 ? "vif still connected; closing it" : "vif still connected, but netback answered ids it was not given; closing it");
  phase = 3;
  xenbusSwitchState(DEV, XenbusStateClosing);
}

function onErrorNode(status: i32, reply: XsReply, arg: usize): void {
  puts("net_hostile_front: ");
  puts(kase);
  if (!attacked) puts(": before the attack");
  if (status >= 0) {
    puts(": backend closed with error: ");
    printk(reply.str());
  } else {
    puts(": backend closed the vif (its error node: ");
    puts(xsErrorName(status));
    printk(")");
  }
  if (!fatalExpected) printk("net_hostile_front: UNEXPECTED disconnect");
  if (waiting && got > 0) { puts("net_hostile_front: the fatal frame got "); putu(got); printk(" responses"); }
  // As netfront does: the backend is Closing, so close our end and let it reach Closed.
  xenbusSwitchState(DEV, XenbusStateClosed);
}

// ---- no-rx-buffers: others send us frames we never take -------------------------------------

let arpN: u32 = 200;
let arpEvery: u64 = NS_PER_MS;
let arpBurst: u32 = 1;
let arpSent: u32 = 0;
let arpTarget: u32 = 0;

function arpStart(): void {
  arpN = <u32>cmdlineGetU32("n", 200);
  arpEvery = max<u64>(1, <u64>cmdlineGetU32("every", 1)) * NS_PER_MS;
  arpBurst = max<u32>(1, <u32>cmdlineGetU32("burst", 1));
  const t = cmdlineGet("target");
  if (t !== null) arpTarget = <u32>ipParse(t);
  want = 0; got = 0; okays = 0; errors = 0;
  arpTick(0);
}

/** Every `every` ms: `burst` ARP requests (as many as the ring takes), until `n` were sent. */
function arpTick(arg: usize): void {
  if (phase != 2) return;
  let n: u32 = 0;
  while (n < arpBurst && arpSent < arpN && freeIds.length > 0 && tx!.free() > 0) { arpRequest(); n++; }
  if (n > 0) push();
  // Then long enough for the switch to give up on every reply waiting for our buffers.
  if (arpSent >= arpN) timerSet(1000 * NS_PER_MS, arpDone, 0);
  else timerSet(arpEvery, arpTick, 0);
}

/** Writes ARP request `arpSent` (who-has 10.0.0.1 / 10.0.0.2 in turn, or `target`; tell 10.0.0.9) from a data page of its own. */
function arpRequest(): void {
  const i = 1 + <i32>(arpSent % <u32>(NDATA - 1));
  const f = dataPage[i];
  memory.fill(f, 0, 60);
  frameHeader(f, MAC_BROADCAST);
  storeBe16(f + 12, 0x0806);
  storeBe16(f + 14, 1); // Ethernet
  storeBe16(f + 16, 0x0800); // IPv4
  store<u8>(f + 18, 6);
  store<u8>(f + 19, 4);
  storeBe16(f + 20, 1); // request
  macStore(f + 22, mac);
  storeBe32(f + 28, <u32>ipParse("10.0.0.9"));
  storeBe32(f + 38, arpTarget != 0 ? arpTarget : <u32>ipParse((arpSent & 1) == 0 ? "10.0.0.1" : "10.0.0.2"));
  slot(data[i], 0, 0, 60);
  arpSent++;
}

function arpDone(arg: usize): void {
  if (phase != 2) return;
  puts("net_hostile_front: ");
  puts(kase);
  puts(": sent ");
  putu(arpSent);
  puts(" ARP requests, ");
  putu(okays);
  puts(" answered NETIF_RSP_OKAY, ");
  putu(want - got);
  printk(kase == "no-rx-buffers" ? " unanswered; no receive buffer ever posted" : " unanswered");
  finish();
}

// ---- flood: as fast as the ring takes frames --------------------------------------------------

let floodN: u32 = 0;
let floodMs: u64 = 0;
let floodGreedy = false;
let floodSent: u32 = 0;
let floodBad: u32 = 0;
let floodStarted: u64 = 0;
let floodStopped = false;
let floodDone = false;

function floodStart(): void {
  floodN = <u32>cmdlineGetU32("n", 1000000);
  floodMs = <u64>cmdlineGetU32("ms", 200);
  floodGreedy = cmdlineGetU32("greedy", 0) == 1;
  const dst = cmdlineGet("dst") == "bcast" ? MAC_BROADCAST : mac;
  frameHeader(dataPage[0], dst);
  want = 0; got = 0; okays = 0; errors = 0;
  floodStarted = now();
  floodTick(0);
}

/** Every millisecond (and, greedy, at every completion) the ring is filled up, until `ms` or `n` frames. */
function floodTick(arg: usize): void {
  if (floodStopped || phase != 2) return;
  floodMore();
  if (!floodStopped) timerSet(NS_PER_MS, floodTick, 0);
}

function floodMore(): void {
  if (!attacked || floodDone || phase != 2) return;
  if (!floodStopped && (floodSent >= floodN || now() - floodStarted >= floodMs * NS_PER_MS)) floodStopped = true;
  let n = 0;
  while (!floodStopped && floodSent < floodN && freeIds.length > 0 && tx!.free() > 0) {
    const bad = floodSent % 8 == 7;
    slot(data[0], 0, 0, bad ? 10 : 60);
    if (bad) floodBad++;
    floodSent++;
    n++;
  }
  if (n > 0) push();
  if (floodStopped && got == want) {
    floodDone = true;
    puts("net_hostile_front: flood: ");
    putu(floodSent);
    puts(" frames in ");
    putu((now() - floodStarted) / NS_PER_MS);
    puts(" ms, ");
    putu(okays);
    puts(" answered NETIF_RSP_OKAY, ");
    putu(errors);
    puts(" NETIF_RSP_ERROR (");
    putu(floodBad);
    printk(" sent malformed)");
    finish();
  }
}

export function xen_upcall(): void {
  evtchnUpcall();
}
