// Target "blkback": a hostile blkfront against dom0's reference blkback (drivers/blk/back.ts).
// xvda is driven by hand (its own handshake, raw ring slots); each step is a valid request or a
// persona's attack: a slot rewritten after the push (flipper), req_prod jumps (overflow), duplicate
// and boundary ids (ids), unknown operations and malformed requests (op), ungranted, read-only and
// revoked grants (grants), notification floods (storm), state jumps and reversals (flapper),
// responses left unread for a while (nonconsumer), requests pushed late or notified early (slow).
// Every response must carry an id in flight and the request's operation, and an invalid request
// must not get OKAY (fuzzWrong). When blkback disconnects (or is made to), the fuzzer closes,
// checks that blkback let go of every grant and of its port (fuzzHeld), and reconnects
// (Closed -> Initialising, as Linux's frontend). Meanwhile xvdb is written and read back through the
// reference blkfront with valid requests only; acknowledged writes are verified at the end (fuzzLost).
import {
  boot, evtchnUpcall, evtchnAllocUnbound, evtchnNotify, evtchnClose, panic, poweroff, printk, xsInit,
  frameAlloc, addrToGfn, gnttabGrantAccess, gnttabEndAccess, xenbusSwitchState, xenbusWatchState, timerSet,
  HYPERVISOR_event_channel_op,
} from "../assembly/index";
import { evtchn_status, EVTCHNOP_status, EVTCHNSTAT_interdomain } from "../assembly/xen/event_channel";
import { DOMID_SELF } from "../assembly/xen/xen";
import { blkif_response } from "../assembly/xen/io/blkif";
import {
  XenbusStateUnknown, XenbusStateInitialising, XenbusStateInitWait, XenbusStateInitialised, XenbusStateConnected,
  XenbusStateClosing, XenbusStateClosed,
} from "../assembly/xen/io/xenbus";
import { XEN_EBUSY } from "../assembly/xen/errno";
import {
  BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_RSP_OKAY, BLKIF_RSP_ERROR,
  BLKIF_RSP_EOPNOTSUPP, writeSegment,
} from "../drivers/blk/proto";
import { blkif_request, blkif_request_discard } from "../assembly/xen/io/blkif";
import { BlkfrontConfig, blkRead, blkWrite } from "../drivers/blk/front";
import { Keys, readKeys, writeKeys } from "../drivers/common/xenbus";
import {
  fuzzInit, fuzzStepsWanted, fuzzRand, fuzzBelow, fuzzChance, fuzzStep, fuzzInjected, fuzzDetected, fuzzWrong,
  fuzzLost, fuzzHeld, fuzzReport, fuzzFaults, fuzzSteps,
} from "./lib/fuzz";
import {
  RING_SLOTS, REQ_PROD, REQ_EVENT, RSP_PROD, RSP_EVENT, ringSlot, putRequest, putSeg, putIndirect, pickPersona,
  patternFill, patternCheck, BlkLink,
} from "./lib/blk";

const VDEV_A: u32 = 51712, VDEV_B: u32 = 51728;
const FRONT_A = "device/vbd/51712";
const STEP_NS: u64 = 10_000;
const WATCHDOG_NS: u64 = 100_000_000;
/** Watchdog periods (100 ms) without progress before the backend counts as stuck. */
const STUCK_TICKS: u32 = 40;

// ---- xvda: the hostile connection --------------------------------------------------------------

const PH_WAIT_INITWAIT = 0, PH_CONNECTING = 1, PH_CONNECTED = 2, PH_CLOSING = 3, PH_FINISHING = 4, PH_DONE = 5;
let phase = PH_WAIT_INITWAIT;
let backA = "";
let backId: u16 = 0;
let sectorsA: u64 = 0;
const ring: usize = frameAlloc();
let ringRef: i32 = -1;
let port: i32 = -1;
const NPAGES = 4;
const pages = new StaticArray<usize>(NPAGES);
const refs = new StaticArray<i32>(NPAGES);
let roPage: usize = 0, roRef: i32 = -1;
let indPage: usize = 0, indRef: i32 = -1;
let reqProd: u32 = 0, rspCons: u32 = 0;
/** Responses ignored for now (nonconsumer), a disconnect awaited (overflow, flapper). */
let holding = false;
let awaitingClose = false;
let tickPending = false;
let connects: u32 = 0;

/** Requests in flight: id, whether OKAY (1), a failure (2) or anything (0) is expected, operation, what. */
const EXPECT_ANY: u8 = 0, EXPECT_OK: u8 = 1, EXPECT_FAIL: u8 = 2;
const flightId = new Array<u64>();
const flightExpect = new Array<u8>();
const flightOp = new Array<u8>();
const flightWhat = new Array<string>();

// xvdb: the tracked disk, and the end of the run.
const NBLOCKS: u32 = 256;
const UNKNOWN: u32 = 0xffffffff;
/** Per 4 KiB block of xvdb: the generation last acknowledged (0: never written; UNKNOWN: a write failed). */
const gens = new StaticArray<u32>(<i32>NBLOCKS);
let nextGen: u32 = 1;
let xbBusy = false;
/** The generation of the xvdb write in flight. */
let xbGen: u32 = 0;
const wbuf: usize = frameAlloc(), rbuf: usize = frameAlloc();
let verifyAt: i32 = -1;
let verified: u32 = 0;
let verifyTries: u32 = 0;
let finished = false;
let progress: u32 = 0, lastProgress: u32 = 0, stuck: u32 = 0;
let xvdb: BlkLink | null = null;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  for (let i = 0; i < NPAGES; i++) { pages[i] = frameAlloc(); refs[i] = -1; }
  roPage = frameAlloc();
  indPage = frameAlloc();
  // Two queues of two pages: multi-page and multi-queue rings, with few enough grant maps per
  // connection that xvdb keeps reconnecting under injected map faults.
  const cfg = new BlkfrontConfig();
  cfg.ringPageOrder = 1;
  cfg.queues = 2;
  xvdb = new BlkLink(VDEV_B, cfg, false, onXvdbUp);
  xvdb!.start();
  readKeys(FRONT_A, ["backend", "backend-id"], onDeviceKeys, 0);
  timerSet(WATCHDOG_NS, watchdog, 0);
}

function onDeviceKeys(k: Keys, arg: usize): void {
  const be = k.get("backend"), id = k.u32("backend-id", 0xffffffff);
  if (be === null || id < 0 || id > 0x7fef) panic("xvda has no backend");
  backA = be!;
  backId = <u16>id;
  if (xenbusWatchState(backA, onBackState, 0) < 0) panic("cannot watch xvda's backend");
}

/** Grants every page of the connection afresh, allocates the port and publishes the ring. */
function connect(): void {
  phase = PH_CONNECTING;
  memory.fill(ring, 0, 4096);
  store<u32>(ring + REQ_EVENT, 1); // SHARED_RING_INIT
  store<u32>(ring + RSP_EVENT, 1);
  ringRef = gnttabGrantAccess(backId, addrToGfn(ring), false);
  for (let i = 0; i < NPAGES; i++) refs[i] = gnttabGrantAccess(backId, addrToGfn(pages[i]), false);
  roRef = gnttabGrantAccess(backId, addrToGfn(roPage), true);
  indRef = gnttabGrantAccess(backId, addrToGfn(indPage), true);
  if (ringRef < 0 || roRef < 0 || indRef < 0) panic("out of grant refs");
  port = evtchnAllocUnbound(backId, onEvent, 0);
  if (port < 0) panic("out of ports");
  reqProd = 0;
  rspCons = 0;
  clearFlight();
  const names = ["ring-ref", "event-channel", "protocol", "feature-persistent"];
  const values = [ringRef.toString(), port.toString(), "x86_64-abi", fuzzChance(50) ? "1" : "0"];
  writeKeys(FRONT_A, names, values, onKeysWritten, 0);
}

function onKeysWritten(status: i32, arg: usize): void {
  if (status < 0) panic("cannot write xvda's keys");
  xenbusSwitchState(FRONT_A, XenbusStateInitialised);
}

function onBackState(state: i32, arg: usize): void {
  progress++;
  if (state == XenbusStateInitWait && phase == PH_WAIT_INITWAIT) connect();
  else if (state == XenbusStateConnected && phase == PH_CONNECTING) readKeys(backA, ["sectors"], onSectors, 0);
  else if (state == XenbusStateClosing && phase != PH_CLOSING && phase != PH_DONE) lostConnection();
  else if (state == XenbusStateClosed && phase != PH_WAIT_INITWAIT && phase != PH_DONE) closed();
}

function onSectors(k: Keys, arg: usize): void {
  if (phase != PH_CONNECTING) return;
  const s = k.u32("sectors", 0);
  if (s <= 64) panic("xvda too small");
  sectorsA = <u64>s;
  phase = PH_CONNECTED;
  connects++;
  xenbusSwitchState(FRONT_A, XenbusStateConnected);
  schedule();
}

/** blkback went Closing: what is in flight is dropped; close our end as Linux's blkfront does. */
function lostConnection(): void {
  if (awaitingClose) fuzzDetected();
  awaitingClose = false;
  holding = false;
  clearFlight();
  if (phase != PH_FINISHING) phase = PH_CLOSING;
  xenbusSwitchState(FRONT_A, XenbusStateClosed);
}

/**
 * blkback is Closed: every grant of ours must be ended at once (blkback unmapped it) and our port
 * no longer bound to it; then start again (Initialising), or finish.
 */
function closed(): void {
  if (awaitingClose) fuzzDetected();
  awaitingClose = false;
  holding = false;
  clearFlight();
  endGrant(ringRef, "the ring");
  ringRef = -1;
  for (let i = 0; i < NPAGES; i++) { if (endGrant(refs[i], "a data page")) pages[i] = frameAlloc(); refs[i] = -1; }
  if (endGrant(roRef, "the read-only page")) roPage = frameAlloc();
  roRef = -1;
  if (endGrant(indRef, "the descriptor page")) indPage = frameAlloc();
  indRef = -1;
  if (port >= 0) {
    const st = changetype<evtchn_status>(STATUS);
    st.dom = DOMID_SELF;
    st.port = <u32>port;
    if (HYPERVISOR_event_channel_op(EVTCHNOP_status, STATUS) == 0 && st.status == <u32>EVTCHNSTAT_interdomain) fuzzHeld("blkback is Closed but its port is still bound to ours");
    evtchnClose(<u32>port);
    port = -1;
  }
  if (phase == PH_FINISHING) { phase = PH_DONE; verifyAll(); return; }
  phase = PH_WAIT_INITWAIT;
  xenbusSwitchState(FRONT_A, XenbusStateInitialising);
}
const STATUS: usize = memory.data(<i32>offsetof<evtchn_status>(), 8);

/** Ends our grant `ref`; true (and fuzzHeld) when blkback still has it mapped (the page is then given up). */
function endGrant(ref: i32, what: string): bool {
  if (ref < 0) return false;
  if (gnttabEndAccess(<u32>ref) != -XEN_EBUSY) return false;
  fuzzHeld("blkback is Closed but still maps " + what + " (ref " + ref.toString() + ")");
  return true;
}

// ---- responses ---------------------------------------------------------------------------------

function clearFlight(): void {
  flightId.length = 0;
  flightExpect.length = 0;
  flightOp.length = 0;
  flightWhat.length = 0;
}

function track(id: u64, expect: u8, op: u8, what: string): void {
  flightId.push(id);
  flightExpect.push(expect);
  flightOp.push(op);
  flightWhat.push(what);
}

function onEvent(p: u32, arg: usize): void {
  if (holding || phase != PH_CONNECTED) return;
  progress++;
  for (;;) {
    const rp = atomic.load<u32>(ring + RSP_PROD);
    if (rp - rspCons > reqProd - rspCons) {
      fuzzWrong("rsp_prod " + rp.toString() + " is ahead of the requests pushed (" + reqProd.toString() + ")");
      awaitingClose = true; // nothing sane to read: close and start again
      xenbusSwitchState(FRONT_A, XenbusStateClosing);
      return;
    }
    while (rspCons != rp) {
      const r = changetype<blkif_response>(ringSlot(ring, rspCons));
      answer(r.id, r.operation, r.status);
      rspCons++;
    }
    atomic.store<u32>(ring + RSP_EVENT, rspCons + 1);
    if (atomic.load<u32>(ring + RSP_PROD) == rspCons) break;
  }
  if (flightId.length == 0 && !awaitingClose) schedule();
}

/** Checks one response against the requests in flight. */
function answer(id: u64, op: u8, status: i16): void {
  let i = 0;
  while (i < flightId.length && flightId[i] != id) i++;
  if (i == flightId.length) { fuzzWrong("response id " + id.toString() + " matches no request in flight"); return; }
  const expect = flightExpect[i], want = flightOp[i], what = flightWhat[i];
  flightId.splice(i, 1);
  flightExpect.splice(i, 1);
  flightOp.splice(i, 1);
  flightWhat.splice(i, 1);
  if (op != want) fuzzWrong("response to " + what + " has operation " + op.toString() + ", not " + want.toString());
  if (status != BLKIF_RSP_OKAY && status != BLKIF_RSP_ERROR && status != BLKIF_RSP_EOPNOTSUPP) fuzzWrong("response to " + what + " has status " + status.toString());
  else if (expect == EXPECT_FAIL) {
    if (status == BLKIF_RSP_OKAY) fuzzWrong("OKAY for " + what);
    else fuzzDetected();
  } else if (expect == EXPECT_OK && status != BLKIF_RSP_OKAY && !fuzzFaults()) fuzzWrong("status " + status.toString() + " for " + what);
}

// ---- steps ---------------------------------------------------------------------------------------

function schedule(): void {
  if (tickPending) return;
  tickPending = true;
  timerSet(STEP_NS, tick, 0);
}

function tick(arg: usize): void {
  tickPending = false;
  xvdbStep();
  if (phase != PH_CONNECTED || holding || awaitingClose || flightId.length > 0) return;
  if (fuzzSteps >= fuzzStepsWanted()) return finish();
  fuzzStep();
  switch (pickPersona(PERSONAS, WEIGHTS)) {
    case 1: flipper(); break;
    case 2: overflow(); break;
    case 3: ids(); break;
    case 4: badOp(); break;
    case 5: grants(); break;
    case 6: storm(); break;
    case 7: flapper(); break;
    case 8: nonconsumer(); break;
    case 9: slow(); break;
    default: valid(); break;
  }
  if (flightId.length == 0 && !awaitingClose && !holding) schedule();
}

const PERSONAS: StaticArray<string> = ["valid", "flipper", "overflow", "ids", "op", "grants", "storm", "flapper", "nonconsumer", "slow"];
const WEIGHTS: StaticArray<u32> = [30, 10, 1, 10, 12, 12, 6, 2, 6, 6];

let nextId: u64 = 1;

function push(): void {
  atomic.store<u32>(ring + REQ_PROD, reqProd);
  evtchnNotify(<u32>port);
}

/** Writes a valid request (read, write, indirect, flush or discard) into the next slot; returns its op. */
function writeValid(id: u64): u8 {
  const slot = ringSlot(ring, reqProd);
  const kind = fuzzBelow(10);
  if (kind == 0) {
    putRequest(slot, BLKIF_OP_FLUSH_DISKCACHE, id, 0, 0, <u16>VDEV_A);
    return BLKIF_OP_FLUSH_DISKCACHE;
  }
  if (kind == 1) {
    putRequest(slot, BLKIF_OP_DISCARD, id, 0, 0, <u16>VDEV_A);
    const d = changetype<blkif_request_discard>(slot);
    const n = 1 + <u64>fuzzBelow(64);
    d.sector_number = <u64>fuzzBelow(<u32>(sectorsA - n));
    d.nr_sectors = n;
    return BLKIF_OP_DISCARD;
  }
  const op = fuzzChance(50) ? BLKIF_OP_WRITE : BLKIF_OP_READ;
  // One descriptor page: only the first request of a batch may be indirect.
  const indirect = kind == 2 && flightId.length == 0;
  const n: u32 = indirect ? 12 + fuzzBelow(40) : 1 + fuzzBelow(11);
  let sectors: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const first = fuzzBelow(8), last = first + fuzzBelow(8 - first);
    const gref = <u32>refs[fuzzBelow(NPAGES)];
    if (indirect) writeSegment(indPage, i, gref, first, last);
    else { if (i == 0) putRequest(slot, op, id, 0, <u8>n, <u16>VDEV_A); putSeg(slot, i, gref, first, last); }
    sectors += <u64>(last - first + 1);
  }
  const sector = <u64>fuzzBelow(<u32>(sectorsA - sectors));
  if (indirect) putIndirect(slot, op, id, sector, <u16>n, <u32>indRef, <u16>VDEV_A);
  else changetype<blkif_request>(slot).sector_number = sector;
  return indirect ? 6 : op;
}

/** Queues one valid request (not yet pushed). */
function queueValid(id: u64, what: string): void {
  const op = writeValid(id);
  track(id, EXPECT_OK, op, what);
  reqProd++;
}

function valid(): void {
  queueValid(nextId++, "a valid request");
  push();
}

/** A valid request whose sector and segments keep changing after the push (only bytes a response does not overwrite). */
function flipper(): void {
  const slot = ringSlot(ring, reqProd);
  const id = nextId++;
  const op = writeValid(id);
  track(id, EXPECT_ANY, op, "a request rewritten after the push");
  reqProd++;
  push();
  fuzzInjected();
  const flips: u32 = 100 + fuzzBelow(2000);
  for (let f: u32 = 0; f < flips; f++) {
    const r = fuzzRand();
    switch (r & 3) {
      case 0: atomic.store<u64>(slot + 16, (r & 4) != 0 ? sectorsA + 8 : <u64>(r >> 20)); break;
      case 1: atomic.store<u32>(slot + 24 + <usize>((r >> 8) % 11) * 8, (r & 4) != 0 ? 0x7777 : <u32>refs[(r >> 4) & 3]); break;
      case 2: atomic.store<u8>(slot + 29 + <usize>((r >> 8) % 11) * 8, <u8>((r >> 16) & 15)); break;
      default: atomic.store<u8>(slot + 28 + <usize>((r >> 8) % 11) * 8, <u8>((r >> 16) & 7)); break;
    }
  }
}

/** req_prod jumps beyond the ring (forwards or backwards): blkback must disconnect. */
function overflow(): void {
  fuzzInjected();
  awaitingClose = true;
  const bad = fuzzChance(70) ? reqProd + RING_SLOTS + 1 + fuzzBelow(5000) : reqProd - 1 - fuzzBelow(1000);
  atomic.store<u32>(ring + REQ_PROD, bad);
  evtchnNotify(<u32>port);
}

/** Several valid requests sharing one id, or ids at the edges of 64 bits: each gets its answer. */
function ids(): void {
  const n: u32 = 1 + fuzzBelow(4);
  const edge = fuzzBelow(4);
  const id: u64 = edge == 0 ? 0 : edge == 1 ? 0xffffffffffffffff : edge == 2 ? <u64>fuzzRand() << 32 : nextId++;
  for (let i: u32 = 0; i < n; i++) queueValid(id, "a request with a shared id");
  if (n > 1) fuzzInjected();
  push();
}

/** A malformed request: blkback must answer ERROR or EOPNOTSUPP, never OKAY. */
function badOp(): void {
  const slot = ringSlot(ring, reqProd);
  const id = nextId++;
  const kind = fuzzBelow(8);
  let op: u8 = BLKIF_OP_READ;
  let what = "";
  const gref = <u32>refs[0];
  switch (kind) {
    case 0: op = <u8>(7 + fuzzBelow(249)); putRequest(slot, op, id, 0, 1, <u16>VDEV_A); putSeg(slot, 0, gref, 0, 7); what = "an unknown operation"; break;
    case 1: putRequest(slot, op, id, 0, 0, <u16>VDEV_A); what = "a read without segments"; break;
    case 2: putRequest(slot, op, id, 0, <u8>(12 + fuzzBelow(244)), <u16>VDEV_A); what = "too many direct segments"; break;
    case 3: putRequest(slot, op, id, sectorsA - <u64>fuzzBelow(4), 2, <u16>VDEV_A); putSeg(slot, 0, gref, 0, 7); putSeg(slot, 1, gref, 0, 7); what = "sectors beyond the disk"; break;
    case 4: { const f: u32 = 1 + fuzzBelow(7); putRequest(slot, op, id, 0, 1, <u16>VDEV_A); putSeg(slot, 0, gref, f, f - 1); what = "first_sect > last_sect"; break; }
    case 5: putRequest(slot, op, id, 0, 1, <u16>VDEV_A); putSeg(slot, 0, gref, 0, 8 + fuzzBelow(248)); what = "last_sect beyond the page"; break;
    case 6: op = 6; putIndirect(slot, fuzzChance(50) ? BLKIF_OP_FLUSH_DISKCACHE : <u8>(7 + fuzzBelow(200)), id, 0, 4, <u32>indRef, <u16>VDEV_A); what = "an indirect request of a bad operation"; break;
    default: {
      op = BLKIF_OP_DISCARD;
      putRequest(slot, op, id, 0, 0, <u16>VDEV_A);
      const d = changetype<blkif_request_discard>(slot);
      d.sector_number = sectorsA - 1;
      d.nr_sectors = 2 + <u64>fuzzBelow(1000);
      what = "a discard beyond the disk";
    }
  }
  fuzzInjected();
  track(id, EXPECT_FAIL, op, what);
  reqProd++;
  push();
}

/** Grants misused: a ref never granted, a read into a read-only page, a descriptor page never granted, a grant revoked at once. */
function grants(): void {
  const slot = ringSlot(ring, reqProd);
  const id = nextId++;
  const kind = fuzzBelow(4);
  fuzzInjected();
  if (kind == 0) {
    putRequest(slot, BLKIF_OP_READ, id, 0, 1, <u16>VDEV_A);
    putSeg(slot, 0, 3000 + fuzzBelow(60000), 0, 7);
    track(id, EXPECT_FAIL, BLKIF_OP_READ, "a ref never granted");
  } else if (kind == 1) {
    putRequest(slot, BLKIF_OP_READ, id, <u64>fuzzBelow(64), 1, <u16>VDEV_A);
    putSeg(slot, 0, <u32>roRef, 0, 7);
    track(id, EXPECT_FAIL, BLKIF_OP_READ, "a read into a read-only grant");
  } else if (kind == 2) {
    putIndirect(slot, BLKIF_OP_READ, id, 0, 4, 3000 + fuzzBelow(60000), <u16>VDEV_A);
    track(id, EXPECT_FAIL, 6, "an ungranted descriptor page");
  } else {
    const op = writeValid(id);
    track(id, EXPECT_ANY, op, "a request whose grants are revoked at once");
    reqProd++;
    push();
    // End access to every data page now (blkback may be mapping them): refused ones stay granted.
    for (let i = 0; i < NPAGES; i++) {
      if (gnttabEndAccess(<u32>refs[i]) == 0) refs[i] = gnttabGrantAccess(backId, addrToGfn(pages[i]), false);
      if (refs[i] < 0) panic("out of grant refs");
    }
    return;
  }
  reqProd++;
  push();
}

/** A flood of notifications, with or without a request: only real requests get answers. */
function storm(): void {
  if (fuzzChance(50)) queueValid(nextId++, "a request in a storm");
  atomic.store<u32>(ring + REQ_PROD, reqProd);
  const n: u32 = 20 + fuzzBelow(300);
  for (let i: u32 = 0; i < n; i++) evtchnNotify(<u32>port);
  fuzzInjected();
}

/** Our state jumps: Closing, Closed or Unknown make blkback disconnect; others are ignored and reverted. */
function flapper(): void {
  fuzzInjected();
  const kind = fuzzBelow(6);
  if (kind < 3) {
    awaitingClose = true;
    xenbusSwitchState(FRONT_A, kind == 0 ? XenbusStateClosing : kind == 1 ? XenbusStateClosed : XenbusStateUnknown);
    return;
  }
  xenbusSwitchState(FRONT_A, kind == 3 ? XenbusStateInitialising : kind == 4 ? XenbusStateInitialised : XenbusStateInitWait, flappedBack, connects);
  valid(); // still served
}

/**
 * The reversal's second half: back to Connected, unless a later step asked for a disconnect
 * meanwhile (its Closing, Closed or Unknown went out after our reversal, and a Connected after
 * it would undo it: blkback, reading the state once both were written, would rightly see only
 * Connected, and we would wait for a disconnect we cancelled ourselves).
 */
function flappedBack(status: i32, arg: usize): void {
  if (phase == PH_CONNECTED && !awaitingClose && <u32>arg == connects) xenbusSwitchState(FRONT_A, XenbusStateConnected);
}

/** Fills the ring with valid requests and leaves the responses unread for 1..5 ms. */
function nonconsumer(): void {
  const n: u32 = 8 + fuzzBelow(RING_SLOTS - 8);
  for (let i: u32 = 0; i < n; i++) queueValid(nextId++, "a request whose response waits");
  push();
  holding = true;
  timerSet(<u64>(1 + fuzzBelow(5)) * 1_000_000, release, 0);
}

function release(arg: usize): void {
  if (!holding) return;
  holding = false;
  onEvent(0, 0);
}

/** Requests published late: notified before req_prod moves, or req_prod moved long before the notify. */
function slow(): void {
  const n: u32 = 1 + fuzzBelow(4);
  for (let i: u32 = 0; i < n; i++) queueValid(nextId++, "a request published late");
  if (fuzzChance(50)) evtchnNotify(<u32>port); // an event with nothing new yet
  else atomic.store<u32>(ring + REQ_PROD, reqProd);
  timerSet(<u64>(100 + fuzzBelow(3000)) * 1000, slowPush, connects);
}

function slowPush(arg: usize): void {
  if (phase == PH_CONNECTED && <u32>arg == connects) push();
}

// ---- xvdb: valid requests only, every acknowledged write checked ------------------------------


function onXvdbUp(l: BlkLink): void {
  if (phase == PH_DONE) verifyNext();
}

/** At most one xvdb request at a time: a new write, or a read-back of an acknowledged block. */
function xvdbStep(): void {
  if (xbBusy || !xvdb!.up || phase == PH_DONE || !fuzzChance(40)) return;
  const b = fuzzBelow(NBLOCKS);
  const g = unchecked(gens[b]);
  xbBusy = true;
  if (fuzzChance(60) || g == 0 || g == UNKNOWN) {
    const gen = nextGen++;
    patternFill(wbuf, 4096, b, gen);
    xbGen = gen;
    if (blkWrite(xvdb!.dev!, <u64>b * 8, wbuf, 8, onXbWritten, b) < 0) xbBusy = false;
  } else if (blkRead(xvdb!.dev!, <u64>b * 8, rbuf, 8, onXbRead, b) < 0) xbBusy = false;
}

function onXbWritten(status: i32, arg: usize): void {
  xbBusy = false;
  unchecked(gens[<i32>arg] = status == 0 ? xbGen : UNKNOWN);
}

function onXbRead(status: i32, arg: usize): void {
  xbBusy = false;
  const b = <u32>arg, g = unchecked(gens[b]);
  if (status == 0 && g != 0 && g != UNKNOWN && !patternCheck(rbuf, 4096, b, g)) fuzzLost("xvdb block " + b.toString() + ": acknowledged write of generation " + g.toString() + " not read back");
}

// ---- the end -----------------------------------------------------------------------------------

/** All steps taken: close xvda cleanly (its grants are checked once blkback is Closed), then verify xvdb. */
function finish(): void {
  phase = PH_FINISHING;
  xenbusSwitchState(FRONT_A, XenbusStateClosed);
}

/** Reads every acknowledged block of xvdb back, one at a time (waiting for xvdb to be up). */
function verifyAll(): void {
  verifyAt = -1;
  verifyNext();
}


function verifyNext(): void {
  if (xbBusy) { timerSet(1_000_000, verifyLater, 0); return; }
  if (!xvdb!.up) return; // onXvdbUp resumes
  for (;;) {
    verifyAt++;
    if (verifyAt >= <i32>NBLOCKS) return done();
    const g = unchecked(gens[verifyAt]);
    if (g != 0 && g != UNKNOWN) break;
  }
  xbBusy = true;
  if (blkRead(xvdb!.dev!, <u64>verifyAt * 8, rbuf, 8, onVerifyRead, <usize>verifyAt) < 0) { xbBusy = false; verifyAt--; }
}

function verifyLater(arg: usize): void {
  verifyNext();
}

function onVerifyRead(status: i32, arg: usize): void {
  xbBusy = false;
  const b = <u32>arg, g = unchecked(gens[b]);
  if (status != 0) {
    // Under injected faults a read may fail: try the block again (xvdb reconnects if it must).
    if (++verifyTries > 1000) { fuzzLost("xvdb block " + b.toString() + " cannot be read back"); verifyTries = 0; }
    else verifyAt--;
  } else {
    verifyTries = 0;
    verified++;
    if (!patternCheck(rbuf, 4096, b, g)) fuzzLost("xvdb block " + b.toString() + ": acknowledged write of generation " + g.toString() + " lost");
  }
  verifyNext();
}


function done(): void {
  if (finished) return;
  finished = true;
  printk("blkback fuzzer: " + connects.toString() + " connections of xvda, " + verified.toString() + " xvdb blocks verified, xvdb reconnected " + xvdb!.disconnects.toString() + " times");
  fuzzReport();
  poweroff();
}

// ---- watchdog ----------------------------------------------------------------------------------


/** Every 100 ms: a backend that answers nothing and changes no state for 4 s while we wait is stuck. */
function watchdog(arg: usize): void {
  if (finished) return;
  timerSet(WATCHDOG_NS, watchdog, 0);
  if (phase == PH_DONE) {
    // Verifying xvdb: it must keep connecting (injected faults may keep it down: then say so).
    const p = verified + xvdb!.connects;
    if (p != lastProgress || xbBusy) { lastProgress = p; stuck = 0; return; }
    if (++stuck < STUCK_TICKS) return;
    if (fuzzFaults()) printk("blkback fuzzer: xvdb stays disconnected under injected faults; " + (NBLOCKS - <u32>verifyAt).toString() + " blocks left unverified");
    else fuzzWrong("xvdb does not reconnect: " + (NBLOCKS - <u32>verifyAt).toString() + " blocks left unverified");
    return done();
  }
  if (progress != lastProgress || (phase == PH_CONNECTED && !awaitingClose && flightId.length == 0)) {
    lastProgress = progress;
    stuck = 0;
    return;
  }
  if (++stuck < STUCK_TICKS) return;
  fuzzWrong("blkback is stuck (phase " + phase.toString() + ", " + flightId.length.toString() + " requests unanswered" + (awaitingClose ? ", a disconnect awaited" : "") + ")");
  phase = PH_DONE;
  lastProgress = 0xffffffff;
  verifyAll();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
