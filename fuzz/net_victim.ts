// The well-behaved netfront of the net targets: the reference netfront (drivers/net/front.ts)
// sending and receiving tagged frames (fuzz/lib/net.ts) every millisecond, checking what it is
// handed, and attaching its vif again after every disconnect.
//
//   peer=D  (target "netback"): exchanges frames with domain D's vif through dom0's switch while
//           a hostile frontend attacks dom0; a frame from D must be intact and its tag above the
//           last one (else it came twice), frames must keep coming (no 3 s without one while
//           connected), and dom0 must never disconnect us (unless faults are injected).
//   alone   (target "netfront"): sends to the broadcast address and takes what a hostile backend
//           (fuzz/netfront.ts, in dom0's place) delivers; a tagged frame's tag must be above the
//           last one's (a frame handed twice).
//
// Either way: a frame handed to us must be 14..65535 bytes and, unless it was reassembled, lie
// inside one page; transmit completions must never exceed the frames sent on that connection, and
// with one queue the free transmit ids plus the frames in flight must stay what they were at
// connection time (a completion delivered twice, an id freed twice) -> fuzzWrong. After each
// disconnect, once the backend has let go (Closed), netfrontRelease must end every grant of the
// old connection and our grant refs in use must be what they were before it attached -> else
// fuzzHeld. On control/shutdown it prints its counts and fuzzReport() and powers off.
import {
  boot, evtchnUpcall, printk, puts, putu, panic, xsInit, cmdlineGetU32, timerSet, now, NS_PER_MS,
  xenbusWatchShutdown, xenbusWatchState, xenbusUnwatchState, gnttabRefsInUse,
} from "../assembly/index";
import {
  NetFront, NetfrontConfig, netfrontAttach, netfrontSend, netfrontOnTxDone, netfrontOnClosed, netfrontRelease, netfrontTxRoom,
} from "../drivers/net/front";
import { MAC_BROADCAST, macLoad } from "../assembly/net/wire";
import { XenbusStateClosed, XenbusStateUnknown } from "../assembly/xen/io/xenbus";
import { fuzzInit, fuzzFaults, fuzzRand, fuzzWrong, fuzzHeld, fuzzReport } from "./lib/fuzz";
import { tagFrame, isTagged, frameTag, patternIntact, defaultMac } from "./lib/net";

/** No frame from the peer for this long, while connected, is a stall (pair mode). */
const STALL_NS: u64 = 3000 * NS_PER_MS;
const BUF: usize = heap.alloc(2048);

let peerDom: u32 = 0;
let peerMac: u64 = 0;
let dev: NetFront | null = null;
let connected = false;
/** Grant refs in use before the current device attached. */
let baseline: u32 = 0;
/** Frames sent and completions seen on the current connection. */
let sentConn: u32 = 0;
let doneConn: u32 = 0;
/** Free transmit ids once connected (nothing in flight): with one queue, free ids + frames in flight must stay this. */
let roomAtConnect: u32 = 0;
let nextTag: u32 = 1;
let lastTag: u32 = 0;
let lastRxAt: u64 = 0;
let stalled = false;
let backWatch: i32 = 0;
let attaches: u32 = 0, disconnects: u32 = 0, sent: u32 = 0, received: u32 = 0, fromPeer: u32 = 0;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  peerDom = <u32>cmdlineGetU32("peer", 0);
  peerMac = peerDom != 0 ? defaultMac(peerDom) : 0;
  if (xenbusWatchShutdown(onShutdown, 0) < 0) panic("cannot watch control/shutdown");
  attach(0);
  timerSet(NS_PER_MS, tick, 0);
}

/** Attaches vif 0 afresh (a new NetFront each time, as a kernel re-probing the device). */
function attach(arg: usize): void {
  baseline = gnttabRefsInUse();
  sentConn = 0;
  doneConn = 0;
  connected = false;
  attaches++;
  const d = netfrontAttach(0, NetfrontConfig.fromCmdline(), onReady, onRx, 0);
  netfrontOnTxDone(d, onTxDone, 0);
  netfrontOnClosed(d, onClosed, 0);
  dev = d;
}

function onReady(d: NetFront, status: i32, arg: usize): void {
  if (d !== dev) return;
  if (status < 0) { stopped(d, status); return; }
  connected = true;
  roomAtConnect = netfrontTxRoom(d);
  lastRxAt = now();
  stalled = false;
}

function onClosed(d: NetFront, status: i32, arg: usize): void {
  if (d === dev) stopped(d, status);
}

/** The device stopped (or never connected): wait until the backend lets go, then release and attach again. */
function stopped(d: NetFront, status: i32): void {
  connected = false;
  disconnects++;
  if (peerDom != 0 && !fuzzFaults()) fuzzWrong("dom0 disconnected a well-behaved frontend (" + status.toString() + ")");
  if (d.backendPath.length == 0) { letGo(d); return; }
  backWatch = xenbusWatchState(d.backendPath, onBackState, 0);
  if (backWatch < 0) letGo(d);
}

function onBackState(state: i32, arg: usize): void {
  const d = dev!;
  if (backWatch <= 0) return;
  // Closed: the backend has unmapped our rings (InitWait alone may be a hostile backend's jump).
  if (state == XenbusStateClosed || state == XenbusStateUnknown || state < 0) {
    xenbusUnwatchState(backWatch);
    backWatch = 0;
    letGo(d);
  }
}

/** The backend let go of the old connection: every grant must end, and our refs in use be back to the baseline. */
function letGo(d: NetFront): void {
  const held = netfrontRelease(d);
  const inUse = gnttabRefsInUse();
  if (held != 0) fuzzHeld("netfront still holds " + held.toString() + " grants after the backend let go");
  else if (inUse != baseline) fuzzHeld("grant refs in use " + inUse.toString() + " after the disconnect, " + baseline.toString() + " before the attach");
  timerSet(NS_PER_MS, attach, 0);
}

/** Every millisecond: a frame or two, and (pair mode) the stall check. */
function tick(arg: usize): void {
  timerSet(NS_PER_MS, tick, 0);
  const d = dev;
  if (d === null || !connected || !d.connected) return;
  for (let i = 0; i < 2; i++) {
    const maxLen = min<u32>(1514, d.maxFrame);
    const len = 60 + fuzzRand() % (maxLen - 59);
    tagFrame(BUF, len, peerDom != 0 ? peerMac : MAC_BROADCAST, d.mac, nextTag);
    if (netfrontSend(d, BUF, len) != 0) break;
    nextTag++;
    sentConn++;
    sent++;
  }
  checkIds(d);
  if (peerDom != 0 && !stalled && !fuzzFaults() && now() - lastRxAt > STALL_NS) {
    stalled = true;
    fuzzWrong("no frame from the peer for " + ((now() - lastRxAt) / NS_PER_MS).toString() + " ms");
  }
}

function onTxDone(d: NetFront, done: u32, errors: u32, arg: usize): void {
  if (d !== dev) { fuzzWrong("a completion for a device that was replaced"); return; }
  doneConn += done;
  if (doneConn > sentConn) fuzzWrong("transmit completions (" + doneConn.toString() + ") exceed the frames sent (" + sentConn.toString() + ")");
  else checkIds(d);
}

/** With one queue every frame we send takes one transmit id until its completion: the free ids must add up. */
function checkIds(d: NetFront): void {
  if (d.nrQueues != 1 || !d.connected) return;
  const room = netfrontTxRoom(d), inFlight = sentConn - doneConn;
  if (room + inFlight != roomAtConnect) fuzzWrong(room.toString() + " free transmit ids with " + inFlight.toString() + " frames in flight, " + roomAtConnect.toString() + " at the start (an id freed twice or never)");
}

function onRx(d: NetFront, q: u32, frame: usize, len: u32, offload: u32, gsoType: u32, gsoSize: u32, arg: usize): void {
  received++;
  if (d !== dev || !connected) { fuzzWrong("a frame handed over while the device was not connected"); return; }
  if (len < 14 || len > 65535) { fuzzWrong("a frame of " + len.toString() + " bytes handed over"); return; }
  if (frame != d.assembly && (frame & 4095) + <usize>len > 4096) { fuzzWrong("a frame of " + len.toString() + " bytes runs past its receive page"); return; }
  if (!isTagged(frame, len)) return;
  if (peerDom != 0) {
    if (macLoad(frame + 6) != peerMac) return; // the fuzzer's broadcasts
    fromPeer++;
    lastRxAt = now();
    stalled = false;
    if (!patternIntact(frame, len)) fuzzWrong("a frame from the peer came corrupted");
  }
  const tag = frameTag(frame);
  if (tag <= lastTag) fuzzWrong("frame " + tag.toString() + " handed over twice or out of order (after " + lastTag.toString() + ")");
  lastTag = tag;
}

function onShutdown(reason: i32, arg: usize): void {
  puts("net_victim: ");
  putu(attaches);
  puts(" attaches, ");
  putu(disconnects);
  puts(" disconnects, ");
  putu(sent);
  puts(" frames sent, ");
  putu(received);
  puts(" received");
  if (peerDom != 0) { puts(", "); putu(fromPeer); puts(" from the peer"); }
  printk("");
  fuzzReport();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
