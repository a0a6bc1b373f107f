// What the block fuzz guests share: the raw single-page blkif ring as a hostile end writes it
// (slot addresses, header words, request and response fields), the persona picker, the data
// pattern of tracked writes, and BlkLink, which keeps a reference blkfront device attached: it
// re-attaches after each disconnect (frontend Closed, then Initialising, as a Linux frontend that
// is probed again) and, when asked, checks that the stopped device gave back every grant ref.
import {
  blkif_request, blkif_request_indirect, blkif_response,
} from "../../assembly/xen/io/blkif";
import { XenbusStateUnknown, XenbusStateInitialising, XenbusStateClosing, XenbusStateClosed } from "../../assembly/xen/io/xenbus";
import { xenbusSwitchState, xenbusWatchState } from "../../assembly/xenbus";
import { gnttabRefsInUse } from "../../assembly/gnttab";
import { timerSet } from "../../assembly/time";
import { BlkFront, BlkfrontConfig, blkfrontAttach } from "../../drivers/blk/front";
import { Keys, readKeys } from "../../drivers/common/xenbus";
import { writeSegment, BLK_SLOT } from "../../drivers/blk/proto";
import { fuzzBelow, fuzzPersona, fuzzHeld } from "./fuzz";

/** Slots of a one-page blkif ring (4096 - 64 header bytes, 112-byte slots, rounded down to 2^n). */
export const RING_SLOTS: u32 = 32;
/** Header words of the shared ring (offsets in the ring page). */
export const REQ_PROD: usize = 0, REQ_EVENT: usize = 4, RSP_PROD: usize = 8, RSP_EVENT: usize = 12;

/** The address of slot `idx` (any ring index; it wraps) of the ring page at `ring`. */
export function ringSlot(ring: usize, idx: u32): usize {
  return ring + 64 + <usize>(idx & (RING_SLOTS - 1)) * <usize>BLK_SLOT;
}

/** Writes a direct request header into `slot` (segments cleared; add them with putSeg). */
export function putRequest(slot: usize, op: u8, id: u64, sector: u64, nsegs: u8, handle: u16): void {
  memory.fill(slot, 0, BLK_SLOT);
  const r = changetype<blkif_request>(slot);
  r.operation = op;
  r.nr_segments = nsegs;
  r.handle = handle;
  r.id = id;
  r.sector_number = sector;
}

/** Writes segment `i` of the direct request in `slot`. */
export function putSeg(slot: usize, i: u32, gref: u32, first: u32, last: u32): void {
  writeSegment(slot + offsetof<blkif_request>("seg"), i, gref, first, last);
}

/** Writes an indirect request into `slot` whose descriptors are in the page granted as `gref`. */
export function putIndirect(slot: usize, indirectOp: u8, id: u64, sector: u64, nsegs: u16, gref: u32, handle: u16): void {
  memory.fill(slot, 0, BLK_SLOT);
  const r = changetype<blkif_request_indirect>(slot);
  r.operation = 6; // BLKIF_OP_INDIRECT
  r.indirect_op = indirectOp;
  r.nr_segments = nsegs;
  r.id = id;
  r.sector_number = sector;
  r.handle = handle;
  store<u32>(slot + offsetof<blkif_request_indirect>("indirect_grefs"), gref);
}

/** Writes a response (id, operation, status) into `slot`. */
export function putResponse(slot: usize, id: u64, op: u8, status: i16): void {
  const r = changetype<blkif_response>(slot);
  r.id = id;
  r.operation = op;
  r.__padding0 = 0;
  r.status = status;
  r.__padding1 = 0;
}

/**
 * Picks one of `names` among those fuzz.personas enables, with the given weights; "valid" (an
 * ordinary action) is always enabled. Returns the index, or -1 when nothing is enabled.
 */
export function pickPersona(names: StaticArray<string>, weights: StaticArray<u32>): i32 {
  let total: u32 = 0;
  for (let i = 0; i < names.length; i++) if (names[i] == "valid" || fuzzPersona(names[i])) total += weights[i];
  if (total == 0) return -1;
  let r = fuzzBelow(total);
  for (let i = 0; i < names.length; i++) {
    if (names[i] != "valid" && !fuzzPersona(names[i])) continue;
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return -1;
}

/** The 32-bit word `i` of block `block`'s contents at generation `gen` (tracked writes). */
export function patternWord(block: u32, gen: u32, i: u32): u32 {
  let x = (block * 0x9e3779b1) ^ (gen * 0x85ebca6b) ^ (i * 0xc2b2ae35);
  x ^= x >>> 16;
  x *= 0x7feb352d;
  return x ^ (x >>> 15);
}

/** Fills `len` bytes at `buf` with block `block`'s pattern at generation `gen`. */
export function patternFill(buf: usize, len: u32, block: u32, gen: u32): void {
  for (let i: u32 = 0; i < len; i += 4) store<u32>(buf + i, patternWord(block, gen, i >> 2));
}

/** Whether the `len` bytes at `buf` hold block `block`'s pattern at generation `gen`. */
export function patternCheck(buf: usize, len: u32, block: u32, gen: u32): bool {
  for (let i: u32 = 0; i < len; i += 4) if (load<u32>(buf + i) != patternWord(block, gen, i >> 2)) return false;
  return true;
}

/** Called by a BlkLink when its device is connected (again). */
export type BlkLinkFn = (link: BlkLink) => void;

const links = new Array<BlkLink>();

/**
 * A reference blkfront device kept attached across disconnects. The owner issues I/O on `dev`
 * while `up`; `onUp` runs at each (re)connection. With `checkRefs`, each time the stopped device
 * has been closed by the backend, the guest's grant refs in use must be back to their count
 * before the attach (else fuzzHeld).
 */
export class BlkLink {
  dev: BlkFront | null = null;
  backendPath: string = "";
  /** Connections made, and disconnects seen (attach failures included). */
  connects: u32 = 0;
  disconnects: u32 = 0;
  /** Grant refs in use before the last attach; reattachPending and tries: the re-attach in progress. */
  baseline: u32 = 0;
  reattachPending: bool = false;
  tries: u32 = 0;
  /** The backend's state as last seen. */
  backState: i32 = -1;
  private index: i32;
  constructor(public vdev: u32, public cfg: BlkfrontConfig, public checkRefs: bool, public onUp: BlkLinkFn) {
    this.index = links.length;
    links.push(this);
  }

  /** The frontend directory of the device. */
  get path(): string { return "device/vbd/" + this.vdev.toString(); }
  /** Whether the device is connected now. */
  get up(): bool { const d = this.dev; return d !== null && d.connected; }

  /** Finds the backend, watches its state and attaches; returns 0 or the xenstore error. */
  start(): i32 {
    return readKeys(this.path, ["backend"], onLinkKeys, <usize>this.index);
  }

  /** Attaches the device (again), first noting the grant refs in use for the check after its disconnect. */
  attach(): void {
    if (this.checkRefs) this.baseline = gnttabRefsInUse();
    this.dev = blkfrontAttach(this.vdev, this.cfg, onLinkReady, <usize>this.index);
  }
}

function onLinkKeys(k: Keys, arg: usize): void {
  const l = links[<i32>arg];
  const be = k.get("backend");
  if (be === null) return;
  l.backendPath = be;
  xenbusWatchState(be, onLinkBackState, arg);
  l.attach();
}

function onLinkReady(dev: BlkFront, status: i32, arg: usize): void {
  const l = links[<i32>arg];
  if (dev !== l.dev) return;
  if (status == 0) {
    l.connects++;
    l.onUp(l);
  }
}

/**
 * The backend's state: Closing with our device already stopped gets our Closed (what blkfront
 * does itself while it runs); Closed (or Unknown) leads to the re-attach once our device has
 * stopped (blkfront's own watch, which stops it and ends its grants, may run after this one).
 */
function onLinkBackState(state: i32, arg: usize): void {
  const l = links[<i32>arg];
  const d = l.dev;
  l.backState = state;
  if (d === null) return;
  if (state == XenbusStateClosing) { if (d.dead) xenbusSwitchState(l.path, XenbusStateClosed); }
  else if ((state == XenbusStateClosed || state == XenbusStateUnknown) && !l.reattachPending) {
    l.reattachPending = true;
    l.tries = 0;
    timerSet(200_000, reattach, arg);
  }
}

function reattach(arg: usize): void {
  const l = links[<i32>arg];
  const d = l.dev!;
  if (l.backState != XenbusStateClosed && l.backState != XenbusStateUnknown) {
    l.reattachPending = false; // the backend moved on meanwhile
    return;
  }
  if (!d.dead) {
    // Not stopped yet: blkfront's own watch stops it soon. A device attached again that still
    // waits for InitWait is never stopped: say Initialising again, in case the backend missed it.
    if (++l.tries < 50) { timerSet(1_000_000, reattach, arg); return; }
    l.tries = 0;
    l.reattachPending = false;
    xenbusSwitchState(l.path, XenbusStateInitialising);
    return;
  }
  if (l.checkRefs) {
    const inUse = gnttabRefsInUse();
    if (inUse != l.baseline) {
      if (++l.tries < 200) { timerSet(1_000_000, reattach, arg); return; }
      fuzzHeld("blkfront " + l.path + " still holds " + (<i32>(inUse - l.baseline)).toString() + " grant refs after the backend closed");
    }
  }
  l.tries = 0;
  l.reattachPending = false;
  l.disconnects++;
  xenbusSwitchState(l.path, XenbusStateInitialising);
  l.attach();
}
