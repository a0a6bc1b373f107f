// Target "blkfront": a hostile blkback run in dom0's place against the reference blkfront of
// fuzz/blk_victim.ts (vbd 51712 of domain 1). It serves a 1 MiB disk of its own memory by grant
// copy, and each request it reads is a step: answered correctly, or by a persona: a response
// rewritten after it was pushed (flipper), rsp_prod jumps (overflow), ids never issued, duplicated or
// not in flight (ids), the wrong operation or odd statuses (op), copies into read-only or foreign
// grants and the ring unmapped and mapped again (grants), notification floods (storm), state jumps and
// reversals (flapper), requests left unread (nonconsumer), answers delayed (slow). A blkfront that
// disables the device (error node, Closing) counts as detected; the backend then closes as Linux's
// does (unmapping everything first) and goes back to InitWait when the victim re-attaches
// (Initialising after Closed). The victim counts what must stay zero; this side counts a grant copy
// the harness should have refused (fuzzWrong). It reports after fuzz.steps requests and keeps
// serving validly until the victim is stopped.
import {
  boot, evtchnUpcall, evtchnBindInterdomain, evtchnNotify, evtchnClose, panic, printk, xsInit, SharedPage,
  gnttabMap, gnttabUnmap, gnttabCopyFrom, gnttabCopyTo, xenbusSwitchState, xenbusWatchState, timerSet,
} from "../assembly/index";
import { blkif_request, blkif_request_indirect, blkif_request_discard } from "../assembly/xen/io/blkif";
import { GNTMAP_host_map, GNTST_okay } from "../assembly/xen/grant_table";
import {
  XenbusStateUnknown, XenbusStateInitialising, XenbusStateInitWait, XenbusStateInitialised, XenbusStateConnected,
  XenbusStateClosing, XenbusStateClosed,
} from "../assembly/xen/io/xenbus";
import {
  BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_INDIRECT, BLKIF_RSP_OKAY, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP, BLK_SLOT, BLK_RSP,
  SECTOR_SIZE, SEG_SIZE,
} from "../drivers/blk/proto";
import { Keys, readKeys, writeKeys } from "../drivers/common/xenbus";
import {
  fuzzInit, fuzzStepsWanted, fuzzRand, fuzzBelow, fuzzChance, fuzzStep, fuzzInjected, fuzzDetected, fuzzWrong,
  fuzzReport, fuzzSteps,
} from "./lib/fuzz";
import { RING_SLOTS, REQ_PROD, RSP_PROD, REQ_EVENT, putResponse, pickPersona } from "./lib/blk";

const FRONT_ID: u16 = 1;
const BACK = "backend/vbd/1/51712";
const DISK_SECTORS: u32 = 2048;
const DISK: usize = memory.data(<i32>(DISK_SECTORS * SECTOR_SIZE), 4096);
const WATCHDOG_NS: u64 = 100_000_000;

const PH_DOWN = 0, PH_INITWAIT = 1, PH_CONNECTING = 2, PH_CONNECTED = 3, PH_CLOSED = 4;
let phase = PH_DOWN;
let front = "";
let page: SharedPage = new SharedPage();
let reqCons: u32 = 0;
let ringRef: u32 = 0;
let port: i32 = -1;
let rspProd: u32 = 0;
let connects: u32 = 0;
/** A violation was injected on this connection (a disconnect by the frontend then counts as detected). */
let injectedHere = false;
let reported = false;
/** Requests read and not answered yet (slow), and the ring left unread (nonconsumer). */
let delayed: u32 = 0;
let holding = false;
let progress: u32 = 0, lastProgress: u32 = 0, stuck: u32 = 0;

const REQ: usize = memory.data(<i32>BLK_SLOT, 8);
const RSP: usize = memory.data(<i32>BLK_RSP, 8);
const SEGS: usize = memory.data(4096, 4096);
const DELAYED_IDS = new Array<u64>();
const DELAYED_OPS = new Array<u8>();
const DELAYED_STATUS = new Array<i16>();
/** Whether blkfront uses persistent grants on this connection (its data pages are then writable). */
let persistent = false;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  readKeys(BACK, ["frontend"], onBackKeys, 0);
  timerSet(WATCHDOG_NS, watchdog, 0);
}

function onBackKeys(k: Keys, arg: usize): void {
  const f = k.get("frontend");
  if (f === null) panic("no frontend for " + BACK);
  front = f!;
  if (xenbusWatchState(front, onFrontState, 0) < 0) panic("cannot watch the frontend");
  advertise();
}

/** Writes this connection's features (persistent grants and indirect segments chosen at random), then InitWait. */
function advertise(): void {
  phase = PH_INITWAIT;
  const names = ["sectors", "info", "sector-size", "physical-sector-size", "feature-flush-cache", "feature-barrier", "feature-discard",
    "feature-persistent", "feature-max-indirect-segments", "max-ring-page-order", "multi-queue-max-queues"];
  const values = [DISK_SECTORS.toString(), "0", "512", "512", fuzzChance(50) ? "1" : "0", fuzzChance(50) ? "1" : "0", fuzzChance(50) ? "1" : "0",
    fuzzChance(50) ? "1" : "0", fuzzChance(50) ? "32" : "0", "0", "1"];
  writeKeys(BACK, names, values, onAdvertised, 0);
}

function onAdvertised(status: i32, arg: usize): void {
  xenbusSwitchState(BACK, XenbusStateInitWait);
}

function onFrontState(state: i32, arg: usize): void {
  progress++;
  if ((state == XenbusStateInitialised || state == XenbusStateConnected) && phase == PH_INITWAIT) {
    phase = PH_CONNECTING;
    readKeys(front, ["ring-ref", "event-channel", "ring-page-order", "multi-queue-num-queues", "feature-persistent"], onRingKeys, 0);
  } else if (state == XenbusStateClosing) {
    // blkfront gave up (xenbus_dev_fatal) or closes: let go of everything, then Closing.
    if (injectedHere && phase == PH_CONNECTED) fuzzDetected();
    teardown();
    if (phase != PH_CLOSED) xenbusSwitchState(BACK, XenbusStateClosing);
  } else if (state == XenbusStateClosed || state == XenbusStateUnknown) {
    teardown();
    phase = PH_CLOSED;
    xenbusSwitchState(BACK, XenbusStateClosed);
  } else if (state == XenbusStateInitialising && phase == PH_CLOSED) advertise();
}

function onRingKeys(k: Keys, arg: usize): void {
  if (phase != PH_CONNECTING) return;
  const ref = k.u32("ring-ref", 0xffffffff), ev = k.u32("event-channel", 0xffffffff);
  if (ref < 0 || ref == 0xffffffff || ev < 0 || ev == 0xffffffff || k.u32("ring-page-order", 0) != 0 || k.u32("multi-queue-num-queues", 1) != 1) {
    return giveUp("the victim asked for a ring this backend does not serve");
  }
  ringRef = <u32>ref;
  persistent = k.u32("feature-persistent", 0) == 1;
  if (gnttabMap(page, FRONT_ID, ringRef, GNTMAP_host_map) != GNTST_okay) return giveUp("cannot map the victim's ring");
  reqCons = 0;
  rspProd = 0;
  port = evtchnBindInterdomain(FRONT_ID, <u32>ev, onEvent, 0);
  if (port < 0) return giveUp("cannot bind the victim's port");
  phase = PH_CONNECTED;
  connects++;
  injectedHere = false;
  holding = false;
  delayed = 0;
  DELAYED_IDS.length = 0;
  DELAYED_OPS.length = 0;
  DELAYED_STATUS.length = 0;
  xenbusSwitchState(BACK, XenbusStateConnected);
}

/**
 * The connection cannot be set up or kept (the victim's keys are stale, it ended its grants, or
 * an injected fault): let go of everything and go Closing, as Linux's xenbus_dev_fatal.
 */
function giveUp(why: string): void {
  printk("blkfront fuzzer: " + why);
  teardown();
  phase = PH_DOWN;
  xenbusSwitchState(BACK, XenbusStateClosing);
}

/** Unmaps the ring and closes the port (before any state that lets the frontend end its grants). */
function teardown(): void {
  if (port >= 0) evtchnClose(<u32>port);
  port = -1;
  if (page.bound) gnttabUnmap(page);
  page = new SharedPage();
  if (phase == PH_CONNECTED || phase == PH_CONNECTING) phase = PH_DOWN;
}

// ---- requests ----------------------------------------------------------------------------------

const PERSONAS: StaticArray<string> = ["valid", "flipper", "overflow", "ids", "op", "grants", "storm", "flapper", "nonconsumer", "slow"];
const WEIGHTS: StaticArray<u32> = [150, 3, 1, 3, 6, 10, 5, 1, 2, 6];

/** Reads the requests (raw: the responses this backend writes are its own business) and answers them. */
function onEvent(p: u32, arg: usize): void {
  progress++;
  if (holding || phase != PH_CONNECTED) return;
  for (;;) {
    const rp = page.load32(<u32>REQ_PROD);
    if (rp - reqCons > RING_SLOTS && !injectedHere) { fuzzWrong("blkfront's req_prod " + rp.toString() + " is beyond the ring (req_cons " + reqCons.toString() + ")"); return; }
    while (reqCons != rp) {
      page.copyOut(64 + (reqCons & (RING_SLOTS - 1)) * BLK_SLOT, REQ, BLK_SLOT);
      reqCons++;
      serve();
      if (phase != PH_CONNECTED || holding) return;
    }
    page.store32(<u32>REQ_EVENT, reqCons + 1);
    if (page.load32(<u32>REQ_PROD) == reqCons) break;
  }
  pushResponses();
}

/** One request read from the ring: a step (until fuzz.steps), answered as the persona picked says. */
function serve(): void {
  const req = changetype<blkif_request>(REQ);
  if (fuzzSteps >= fuzzStepsWanted()) {
    if (!reported) { reported = true; printk("blkfront fuzzer: " + connects.toString() + " connections"); fuzzReport(); }
    return answer(req.id, req.operation, perform());
  }
  fuzzStep();
  switch (pickPersona(PERSONAS, WEIGHTS)) {
    case 1: return flipper(req.id, req.operation, perform());
    case 2: return overflow(req.id, req.operation);
    case 3: return badId(req.id, req.operation);
    case 4: return badOp(req.id, req.operation);
    case 5: return grants(req.id, req.operation);
    case 6: answer(req.id, req.operation, perform()); return storm();
    case 7: answer(req.id, req.operation, perform()); return flapper();
    case 8: answer(req.id, req.operation, perform()); return nonconsumer();
    case 9: return slow(req.id, req.operation, perform());
    default: return answer(req.id, req.operation, perform());
  }
}

/** Carries out the request in REQ on our disk by grant copy; returns the status. */
function perform(): i16 {
  const op = load<u8>(REQ);
  let dataOp = op, n: u32 = 0, sector: u64 = 0;
  if (op == BLKIF_OP_INDIRECT) {
    const r = changetype<blkif_request_indirect>(REQ);
    dataOp = r.indirect_op;
    n = <u32>r.nr_segments;
    sector = r.sector_number;
    if (n == 0 || n > 512 || (dataOp != BLKIF_OP_READ && dataOp != BLKIF_OP_WRITE)) return BLKIF_RSP_ERROR;
    const gref = load<u32>(REQ + offsetof<blkif_request_indirect>("indirect_grefs"));
    if (gnttabCopyFrom(FRONT_ID, gref, 0, SEGS, n * SEG_SIZE) != GNTST_okay) return BLKIF_RSP_ERROR;
  } else if (op == BLKIF_OP_READ || op == BLKIF_OP_WRITE) {
    const r = changetype<blkif_request>(REQ);
    n = <u32>r.nr_segments;
    sector = r.sector_number;
    if (n == 0 || n > 11) return BLKIF_RSP_ERROR;
    memory.copy(SEGS, REQ + offsetof<blkif_request>("seg"), n * SEG_SIZE);
  } else if (op == 2 || op == 3 || op == 5) {
    if (op == 5 && changetype<blkif_request_discard>(REQ).sector_number >= <u64>DISK_SECTORS) return BLKIF_RSP_ERROR;
    return BLKIF_RSP_OKAY; // barrier, flush, discard: nothing to keep durable here
  } else return BLKIF_RSP_EOPNOTSUPP;
  for (let i: u32 = 0; i < n; i++) {
    const s = SEGS + <usize>(i * SEG_SIZE);
    const gref = load<u32>(s), first = <u32>load<u8>(s, 4), last = <u32>load<u8>(s, 5);
    if (first > last || last > 7) return BLKIF_RSP_ERROR;
    const len = (last - first + 1) * SECTOR_SIZE;
    if (sector + <u64>(last - first + 1) > <u64>DISK_SECTORS) return BLKIF_RSP_ERROR;
    const at = DISK + <usize>(sector * SECTOR_SIZE);
    const st = dataOp == BLKIF_OP_WRITE ? gnttabCopyFrom(FRONT_ID, gref, first * SECTOR_SIZE, at, len) : gnttabCopyTo(FRONT_ID, gref, first * SECTOR_SIZE, at, len);
    if (st != GNTST_okay) return BLKIF_RSP_ERROR;
    sector += <u64>(last - first + 1);
  }
  return BLKIF_RSP_OKAY;
}

/** Writes a response into the next response slot (not yet published). */
function answer(id: u64, op: u8, status: i16): void {
  putResponse(RSP, id, op, status);
  page.copyIn(64 + (rspProd & (RING_SLOTS - 1)) * BLK_SLOT, RSP, BLK_RSP);
  rspProd++;
}

function pushResponses(): void {
  if (phase != PH_CONNECTED) return;
  page.store32(<u32>RSP_PROD, rspProd);
  evtchnNotify(<u32>port);
}

function injected(): void {
  fuzzInjected();
  injectedHere = true;
}

/** Publishes a correct response, then keeps rewriting its id, operation and status for a while. */
function flipper(id: u64, op: u8, status: i16): void {
  const off = 64 + (rspProd & (RING_SLOTS - 1)) * BLK_SLOT;
  answer(id, op, status);
  pushResponses();
  injected();
  const flips = <u32>50 + fuzzBelow(1000);
  for (let f: u32 = 0; f < flips; f++) {
    const r = fuzzRand();
    if ((r & 3) == 0) page.store32(off, (r & 4) != 0 ? r >> 8 : <u32>id);
    else if ((r & 3) == 1) page.store32(off + 8, (<u32>op) | ((r & 0x10) != 0 ? <u32>0x10000 * <u32>(r >> 24) : 0));
    else page.store32(off + 8, <u32>op | (<u32><u16>status << 16));
  }
  // The final word is a correct response half the time, a wrong one otherwise.
  if (fuzzChance(50)) { page.store32(off, <u32>id); page.store32(off + 4, <u32>(id >> 32)); page.store32(off + 8, <u32>op | (<u32><u16>status << 16)); }
}

/**
 * rsp_prod jumps beyond the requests, or back behind anything blkfront can have consumed (more
 * than a ring below our last response): blkfront must disable the device. (A smaller step back
 * only drops answers, which no frontend can tell from a slow backend.)
 */
function overflow(id: u64, op: u8): void {
  injected();
  answer(id, op, BLKIF_RSP_OKAY);
  if (fuzzChance(70)) rspProd += RING_SLOTS + 1 + fuzzBelow(5000);
  else rspProd -= RING_SLOTS + 1 + fuzzBelow(1000);
}

/** An answer with an id never issued, one of a slot not in flight, or the same answer twice. */
function badId(id: u64, op: u8): void {
  injected();
  const kind = fuzzBelow(3);
  if (kind == 0) answer(id ^ (<u64>(1 + fuzzBelow(0xffff)) << 16), op, BLKIF_RSP_OKAY);
  else if (kind == 1) answer((id & ~<u64>0xffff) | <u64>((<u32>id + 1 + fuzzBelow(RING_SLOTS - 1)) & (RING_SLOTS - 1)), op, BLKIF_RSP_OKAY);
  else { answer(id, op, perform()); answer(id, op, BLKIF_RSP_OKAY); }
}

/** The wrong operation in the answer (fatal for blkfront), or an error or unknown status (not fatal). */
function badOp(id: u64, op: u8): void {
  const kind = fuzzBelow(3);
  if (kind == 0) { injected(); answer(id, op ^ <u8>(1 + fuzzBelow(255)), BLKIF_RSP_OKAY); }
  else if (kind == 1) answer(id, op, fuzzChance(50) ? BLKIF_RSP_ERROR : BLKIF_RSP_EOPNOTSUPP);
  else answer(id, op, <i16>(2 + fuzzBelow(1000)));
}

/**
 * Grant abuse: a write into what blkfront granted read-only (a write request's pages, unless
 * persistent) or into refs it never granted must be refused by the harness; or the ring is
 * unmapped and mapped again.
 */
function grants(id: u64, op: u8): void {
  const kind = fuzzBelow(3);
  if (kind == 0 && op == BLKIF_OP_WRITE) {
    const gref = load<u32>(REQ + offsetof<blkif_request>("seg"));
    const st = perform();
    // A write request's segment is granted read-only unless it is a persistent bounce page.
    const w = gnttabCopyTo(FRONT_ID, gref, 0, DISK, 512);
    if (w == GNTST_okay && !persistent && !injectedHere) fuzzWrong("the harness let a read-only grant (ref " + gref.toString() + ") be written");
    fuzzInjected();
    if (w != GNTST_okay) fuzzDetected();
    return answer(id, op, st);
  }
  if (kind == 1) {
    fuzzInjected();
    const gref = 4000 + fuzzBelow(60000);
    if (gnttabCopyTo(FRONT_ID, gref, 0, DISK, 512) == GNTST_okay) fuzzWrong("the harness let an ungranted ref (" + gref.toString() + ") be written");
    else fuzzDetected();
    return answer(id, op, perform());
  }
  // Unmap the ring and map it again (the frontend never notices).
  answer(id, op, perform());
  pushResponses();
  gnttabUnmap(page);
  if (gnttabMap(page, FRONT_ID, ringRef, GNTMAP_host_map) != GNTST_okay) giveUp("cannot map the victim's ring again (it ended its grant)");
}


/** Many notifications with nothing new. */
function storm(): void {
  injected();
  pushResponses();
  const n = <u32>20 + fuzzBelow(300);
  for (let i: u32 = 0; i < n; i++) evtchnNotify(<u32>port);
}

/** Our state jumps: Closing or Closed end the connection; InitWait or Initialised and back is a reversal. */
function flapper(): void {
  injected();
  const kind = fuzzBelow(5);
  if (kind == 0) xenbusSwitchState(BACK, XenbusStateClosing);
  else if (kind == 1) { pushResponses(); teardown(); phase = PH_CLOSED; xenbusSwitchState(BACK, XenbusStateClosed); }
  else if (kind == 2) { pushResponses(); teardown(); phase = PH_CLOSED; xenbusSwitchState(BACK, XenbusStateUnknown); }
  else xenbusSwitchState(BACK, kind == 3 ? XenbusStateInitWait : XenbusStateInitialised, flappedBack, connects);
}

function flappedBack(status: i32, arg: usize): void {
  if (phase == PH_CONNECTED && <u32>arg == connects) xenbusSwitchState(BACK, XenbusStateConnected);
}

/** Leaves the requests unread (and publishes nothing) for 1..5 ms. */
function nonconsumer(): void {
  pushResponses();
  holding = true;
  timerSet(<u64>(1 + fuzzBelow(5)) * 1_000_000, resume, connects);
}

function resume(arg: usize): void {
  if (<u32>arg != connects || !holding) return;
  holding = false;
  onEvent(0, 0);
}

/** Answers later (0.1..3 ms), in order with what comes after: later requests wait too. */
function slow(id: u64, op: u8, status: i16): void {
  DELAYED_IDS.push(id);
  DELAYED_OPS.push(op);
  DELAYED_STATUS.push(status);
  holding = true;
  timerSet(<u64>(100 + fuzzBelow(3000)) * 1000, answerDelayed, connects);
}

function answerDelayed(arg: usize): void {
  if (<u32>arg != connects || phase != PH_CONNECTED) return;
  for (let i = 0; i < DELAYED_IDS.length; i++) answer(DELAYED_IDS[i], DELAYED_OPS[i], DELAYED_STATUS[i]);
  DELAYED_IDS.length = 0;
  DELAYED_OPS.length = 0;
  DELAYED_STATUS.length = 0;
  holding = false;
  pushResponses();
  onEvent(0, 0);
}

/** Every 100 ms: no request nor state change for 4 s while the victim should be busy means it is stuck. */
function watchdog(arg: usize): void {
  timerSet(WATCHDOG_NS, watchdog, 0);
  if (reported || progress != lastProgress) { lastProgress = progress; stuck = 0; return; }
  if (++stuck < 40) return;
  fuzzWrong("blkfront is stuck (backend phase " + phase.toString() + ")");
  reported = true;
  fuzzReport();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
