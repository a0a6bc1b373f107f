// blkfront: the frontend half of the block split driver, for kernels (DESIGN §4). A kernel
// attaches a vbd (`device/vbd/<vdev>`), gets a callback once it is connected, then reads, writes,
// flushes and discards asynchronously with completion callbacks. Requests beyond ring capacity
// wait in a queue; requests larger than one ring request are split (11 segments, or up to the
// backend's feature-max-indirect-segments with indirect descriptors); pieces go round-robin over
// the queues (multi-queue). Features are negotiated as io/blkif.h describes; each is used only when
// both ends offer it.
//
// Distrust: a response is copied out of the ring, and its id must name a request in flight on
// that queue with the same operation; anything else (ids out of range, duplicated or never issued,
// a wrong operation, an impossible rsp_prod) disables the device: every pending request completes
// once with -XEN_EIO, the error is written to xenstore and the device goes Closing. No request
// ever completes twice.
//
// Ownership: a BlkFront is created by blkfrontAttach and lives as long as the kernel keeps it; it
// owns its ring pages, grants, ports, bounce pages (persistent grants) and request records, and
// gives them back when it stops (grants the backend still maps: once it lets go). The
// caller's buffers must stay untouched until their callback runs. Buffers are in our own memory,
// 512-byte aligned; with persistent grants data is copied through granted bounce pages (as Linux
// does), otherwise the buffer's pages are granted for the request's duration.
import {
  BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
  BLKIF_RSP_OKAY, BLKIF_RSP_EOPNOTSUPP, BLK_SLOT, BLK_RSP, SECTOR_SIZE, SECTORS_PER_PAGE, DIRECT_SEGS,
  MAX_INDIRECT_SEGS, MAX_RING_PAGE_ORDER, MAX_QUEUES, PROTOCOL_X86_64,
  writeSegment, K_EVENT_CHANNEL, K_PROTOCOL, K_RING_PAGE_ORDER, K_MAX_RING_PAGE_ORDER, K_NUM_QUEUES, K_MAX_QUEUES,
  K_PERSISTENT, K_MAX_INDIRECT, K_FLUSH, K_BARRIER, K_DISCARD, K_DISCARD_GRAN, K_DISCARD_ALIGN, K_DISCARD_SECURE,
  K_SECTORS, K_INFO, K_SECTOR_SIZE, K_PHYS_SECTOR_SIZE,
} from "./proto";
import { Keys, readKeys, writeKeys, parseU64, queueKey, ringRefKey, frontendStop } from "../common/xenbus";
import { FrontRing } from "../../assembly/ring";
import { SharedPage, gnttabGrantAccess, gnttabEndAccess } from "../../assembly/gnttab";
import { frameAlloc, frameFree, addrToGfn, PAGE_SIZE } from "../../assembly/frames";
import { evtchnAllocUnbound, evtchnClose, evtchnNotify } from "../../assembly/evtchn";
import { xenbusSwitchState, xenbusWatchState, xenbusUnwatchState } from "../../assembly/xenbus";
import { blkif_request, blkif_request_discard, blkif_request_indirect, blkif_response, VDISK_READONLY, BLKIF_DISCARD_SECURE } from "../../assembly/xen/io/blkif";
import {
  XenbusStateInitWait, XenbusStateInitialised, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed, XenbusStateUnknown,
} from "../../assembly/xen/io/xenbus";
import { puts, printk } from "../../assembly/console";
import { cmdlineGetInRange } from "../../assembly/cmdline";
import { timerSet } from "../../assembly/time";
import { XEN_EINVAL, XEN_EIO, XEN_ENODEV, XEN_EOPNOTSUPP, XEN_ENOSPC } from "../../assembly/xen/errno";

/** A request's completion: 0, or -XEN_EIO (the backend failed it, or the device was disabled), -XEN_EOPNOTSUPP. */
export type BlkDoneFn = (status: i32, arg: usize) => void;
/** Attach completion: the device (connected when `status` is 0) or the error that stopped it. */
export type BlkReadyFn = (dev: BlkFront, status: i32, arg: usize) => void;

/** What the frontend asks for at most; the backend's offer narrows each. */
export class BlkfrontConfig {
  ringPageOrder: u32 = MAX_RING_PAGE_ORDER;
  queues: u32 = MAX_QUEUES;
  /** Segments per indirect request; 0 (or a backend without the feature) uses direct requests only. */
  indirect: u32 = MAX_INDIRECT_SEGS;
  persistent: bool = true;

  /**
   * The defaults narrowed by the kernel command line's `ring-page-order=N queues=N indirect=N
   * persistent=0|1` (values out of range keep the default), as the examples take them.
   */
  static fromCmdline(): BlkfrontConfig {
    const c = new BlkfrontConfig();
    c.ringPageOrder = cmdlineGetInRange("ring-page-order", c.ringPageOrder, 0, MAX_RING_PAGE_ORDER);
    c.queues = cmdlineGetInRange("queues", c.queues, 1, MAX_QUEUES);
    c.indirect = cmdlineGetInRange("indirect", c.indirect, 0, MAX_INDIRECT_SEGS);
    c.persistent = cmdlineGetInRange("persistent", 1, 0, 1) == 1;
    return c;
  }
}

/** Bounce pages (persistent grants) a device keeps at most. */
export const MAX_PERSISTENT_PAGES: i32 = 1024;

const OP_RW: u8 = 0, OP_FLUSH: u8 = 1, OP_DISCARD: u8 = 2;
const P_INIT = 0, P_INITIALISED = 1, P_CONNECTED = 2, P_DEAD = 3;

/** One kernel request, possibly split into several ring requests (pieces). */
class BlkOp {
  kind: u8 = OP_RW;
  write: bool = false;
  sector: u64 = 0;
  buf: usize = 0;
  nsectors: u64 = 0;
  /** Sectors issued so far (RW); 1 once a flush or discard is issued. */
  issued: u64 = 0;
  outstanding: i32 = 0;
  status: i32 = 0;
  done: bool = false;
  cb: BlkDoneFn | null = null;
  arg: usize = 0;
  next: BlkOp | null = null;
}

/** A request in flight on a ring slot (Linux's blk_shadow). */
class Shadow {
  inUse: bool = false;
  operation: u8 = 0;
  op: BlkOp | null = null;
  nsegs: u32 = 0;
  /** Per segment: the gref, our data address, and (persistent) the bounce page. */
  grefs: StaticArray<u32> = new StaticArray<u32>(<i32>MAX_INDIRECT_SEGS);
  data: StaticArray<usize> = new StaticArray<usize>(<i32>MAX_INDIRECT_SEGS);
  lens: StaticArray<u32> = new StaticArray<u32>(<i32>MAX_INDIRECT_SEGS);
  bounce: StaticArray<i32> = new StaticArray<i32>(<i32>MAX_INDIRECT_SEGS);
  /** The indirect descriptor page (allocated on first use) and its gref while granted (-1: none). */
  indirectPage: usize = 0;
  indirectRef: i32 = -1;
}

/** One queue: a ring, its event channel, and a shadow per slot. */
class FQueue {
  ring: FrontRing;
  port: i32 = -1;
  refs: StaticArray<i32>;
  shadows: StaticArray<Shadow>;
  free: Array<i32> = new Array<i32>();
  produced: bool = false;
  constructor(ring: FrontRing, nrPages: i32) {
    this.ring = ring;
    this.refs = new StaticArray<i32>(nrPages);
    this.shadows = new StaticArray<Shadow>(<i32>ring.size);
    for (let i = 0; i < <i32>ring.size; i++) {
      unchecked(this.shadows[i] = new Shadow());
      this.free.push(<i32>ring.size - 1 - i);
    }
    for (let i = 0; i < nrPages; i++) unchecked(this.refs[i] = -1);
  }
}

/** A virtual block device as the kernel sees it. Fields below `sectors` are valid once connected. */
export class BlkFront {
  id: i32;
  vdev: u32;
  path: string;
  backendPath: string = "";
  backendId: u16 = 0;
  cfg: BlkfrontConfig;
  phase: i32 = P_INIT;
  /** The error that disabled the device (0 while it works). */
  error: i32 = 0;
  ready: BlkReadyFn | null;
  readyArg: usize;
  watch: i32 = 0;

  /** Disk size in 512-byte sectors. */
  sectors: u64 = 0;
  sectorSize: u32 = 512;
  physicalSectorSize: u32 = 512;
  /** VDISK_* bits of the backend's `info`. */
  info: u32 = 0;
  flush: bool = false;
  barrier: bool = false;
  discard: bool = false;
  discardGranularity: u32 = 0;
  discardAlignment: u32 = 0;
  discardSecure: bool = false;
  persistent: bool = false;
  /** Segments per ring request (11, or the negotiated indirect limit). */
  maxSegs: u32 = DIRECT_SEGS;
  nrQueues: u32 = 1;
  ringOrder: u32 = 0;

  queues: Array<FQueue> = new Array<FQueue>();
  head: BlkOp | null = null;
  tail: BlkOp | null = null;
  spare: BlkOp | null = null;
  nextQueue: u32 = 0;
  /** Bounce pages: addresses, grefs, and the free list (indices). */
  bounceAddr: Array<usize> = new Array<usize>();
  bounceRef: Array<u32> = new Array<u32>();
  bounceFree: Array<i32> = new Array<i32>();

  /** Ring requests sent, notifications sent and received, grant operations (grant + end), bytes copied (bounce). */
  requests: u64 = 0;
  notifies: u64 = 0;
  events: u64 = 0;
  grantOps: u64 = 0;
  bytesCopied: u64 = 0;
  /** Grants the backend still had mapped when we ended them (retried once the device stops). */
  leaked: u32 = 0;
  /**
   * After the device stopped: grants still to end (the backend had them mapped) and the frame to
   * free once each is ended (0: the caller's buffer), retried at each backend state change.
   */
  deferredRefs: Array<u32> = new Array<u32>();
  deferredFrames: Array<usize> = new Array<usize>();
  /** A retry of the deferred grants is scheduled (every 10 ms, as Linux's deferred end-access timer). */
  retrying: bool = false;

  constructor(id: i32, vdev: u32, cfg: BlkfrontConfig, ready: BlkReadyFn | null, arg: usize) {
    this.id = id;
    this.vdev = vdev;
    this.path = "device/vbd/" + vdev.toString();
    this.cfg = cfg;
    this.ready = ready;
    this.readyArg = arg;
  }

  /** Whether the device is connected and working. */
  get connected(): bool { return this.phase == P_CONNECTED; }
  /** Whether the device stopped for good (an error, or the backend closed it); attach again to reconnect. */
  get dead(): bool { return this.phase == P_DEAD; }
  /** Grants the stopped device still waits to end (0 once the backend let go of all of them). */
  get grantsHeld(): i32 { return this.deferredRefs.length; }
  /** Whether the backend said the disk is read-only. */
  get readonly(): bool { return (this.info & VDISK_READONLY) != 0; }
}

const devs = new Array<BlkFront>();
const RSPBUF = memory.data(<i32>BLK_RSP, 8);
const REQBUF = memory.data(<i32>BLK_SLOT, 8);

// ---- attach and negotiation ------------------------------------------------------------------

/**
 * Attaches the vbd `vdev` (its frontend directory `device/vbd/<vdev>`) and negotiates with its
 * backend; `ready(dev, status, arg)` runs once, when it is connected (0) or failed (-XEN_Exxx).
 * Returns the device, which the caller keeps.
 */
export function blkfrontAttach(vdev: u32, cfg: BlkfrontConfig, ready: BlkReadyFn | null, arg: usize = 0): BlkFront {
  const d = new BlkFront(devs.length, vdev, cfg, ready, arg);
  devs.push(d);
  const rc = readKeys(d.path, ["backend", "backend-id"], onDeviceKeys, <usize>d.id);
  if (rc < 0) fail(d, rc, "reading the device directory");
  return d;
}

function onDeviceKeys(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  const be = k.get("backend"), beId = k.u32("backend-id", 0xffffffff);
  if (be === null || beId < 0 || beId > 0x7fef) return fail(d, -XEN_ENODEV, "no backend for " + d.path);
  d.backendPath = be;
  d.backendId = <u16>beId;
  const id = xenbusWatchState(be, onBackState, <usize>d.id);
  if (id < 0) return fail(d, id, "watching the backend's state");
  d.watch = id;
}

function onBackState(state: i32, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase == P_DEAD) return endDeferred(d);
  if (state == XenbusStateInitWait && d.phase == P_INIT) {
    d.phase = P_INITIALISED; // from here on, one negotiation only
    const rc = readKeys(d.backendPath, [K_MAX_RING_PAGE_ORDER, K_MAX_QUEUES, K_PERSISTENT, K_MAX_INDIRECT], onBackFeatures, <usize>d.id);
    if (rc < 0) fail(d, rc, "reading the backend's features");
  } else if (state == XenbusStateConnected && d.phase == P_INITIALISED && d.queues.length > 0) {
    const rc = readKeys(d.backendPath, [K_SECTORS, K_INFO, K_SECTOR_SIZE, K_PHYS_SECTOR_SIZE, K_FLUSH, K_BARRIER, K_DISCARD, K_DISCARD_GRAN, K_DISCARD_ALIGN, K_DISCARD_SECURE], onBackInfo, <usize>d.id);
    if (rc < 0) fail(d, rc, "reading the disk's properties");
  } else if ((state == XenbusStateClosed || state == XenbusStateUnknown) && d.phase == P_INIT) {
    // Attached again after a disconnect: the backend is still Closed and goes back to InitWait
    // once it sees us Initialising (Linux's blkback); nothing is set up yet, nothing to close.
  } else if (state == XenbusStateClosing || state == XenbusStateClosed || state == XenbusStateUnknown) {
    // The backend (or the toolstack detaching the disk) ends the connection: fail what is
    // pending and close our end, so that the backend can reach Closed (Linux's blkfront_closing).
    fail(d, -XEN_EIO, "the backend closed the device", false);
    xenbusSwitchState(d.path, XenbusStateClosed);
  }
}

function onBackFeatures(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase == P_DEAD) return;
  const maxOrder = k.u32(K_MAX_RING_PAGE_ORDER, 0), maxQueues = k.u32(K_MAX_QUEUES, 1);
  const pers = k.u32(K_PERSISTENT, 0), maxInd = k.u32(K_MAX_INDIRECT, 0);
  if (maxOrder < 0 || maxQueues < 0 || pers < 0 || maxInd < 0) return fail(d, -XEN_EINVAL, "malformed backend feature");
  d.ringOrder = min(<u32>maxOrder, min(d.cfg.ringPageOrder, MAX_RING_PAGE_ORDER));
  d.nrQueues = max(<u32>1, min(<u32>maxQueues, min(d.cfg.queues, MAX_QUEUES)));
  d.persistent = d.cfg.persistent && pers == 1;
  const ind = min(<u32>maxInd, min(d.cfg.indirect, MAX_INDIRECT_SEGS));
  d.maxSegs = ind > DIRECT_SEGS ? ind : DIRECT_SEGS;
  // The rings: 2^order pages each, granted to the backend; one unbound port per queue.
  const pages = <i32>(1 << d.ringOrder);
  const names = new Array<string>(), values = new Array<string>();
  for (let q: u32 = 0; q < d.nrQueues; q++) {
    const sp = new StaticArray<SharedPage>(pages);
    for (let i = 0; i < pages; i++) unchecked(sp[i] = SharedPage.local(frameAlloc()));
    const ring = new FrontRing(sp, BLK_SLOT);
    if (ring.init(0) < 0) return fail(d, -XEN_EINVAL, "ring setup");
    const fq = new FQueue(ring, pages);
    d.queues.push(fq);
    for (let i = 0; i < pages; i++) {
      const ref = gnttabGrantAccess(d.backendId, addrToGfn(unchecked(sp[i]).addr), false);
      if (ref < 0) return fail(d, ref, "granting the ring");
      unchecked(fq.refs[i] = ref);
      names.push(queueKey(d.nrQueues, q, ringRefKey(d.ringOrder, <u32>i)));
      values.push(ref.toString());
    }
    const port = evtchnAllocUnbound(d.backendId, onQueueEvent, <usize>((d.id << 8) | <i32>q));
    if (port < 0) return fail(d, port, "allocating an event channel");
    fq.port = port;
    names.push(queueKey(d.nrQueues, q, K_EVENT_CHANNEL));
    values.push(port.toString());
  }
  names.push(K_PROTOCOL);
  values.push(PROTOCOL_X86_64);
  names.push(K_PERSISTENT);
  values.push(d.persistent ? "1" : "0");
  if (d.ringOrder > 0) { names.push(K_RING_PAGE_ORDER); values.push(d.ringOrder.toString()); }
  if (d.nrQueues > 1) { names.push(K_NUM_QUEUES); values.push(d.nrQueues.toString()); }
  const rc = writeKeys(d.path, names, values, onFrontKeysWritten, <usize>d.id);
  if (rc < 0) fail(d, rc, "writing the ring keys");
}

function onFrontKeysWritten(status: i32, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase == P_DEAD) return;
  if (status < 0) return fail(d, status, "writing the ring keys");
  xenbusSwitchState(d.path, XenbusStateInitialised);
}

function onBackInfo(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase != P_INITIALISED) return;
  const sectors = parseU64(k.get(K_SECTORS));
  const info = k.u32(K_INFO, 0), ss = k.u32(K_SECTOR_SIZE, 512), pss = k.u32(K_PHYS_SECTOR_SIZE, 512);
  if (sectors < 0 || info < 0 || ss < 512 || pss < 512 || (ss & (ss - 1)) != 0) return fail(d, -XEN_EINVAL, "malformed sectors, info or sector-size");
  d.sectors = <u64>sectors;
  d.info = <u32>info;
  d.sectorSize = <u32>ss;
  d.physicalSectorSize = <u32>pss;
  d.flush = k.u32(K_FLUSH, 0) == 1;
  d.barrier = k.u32(K_BARRIER, 0) == 1;
  d.discard = k.u32(K_DISCARD, 0) == 1;
  const gran = k.u32(K_DISCARD_GRAN, 0), align = k.u32(K_DISCARD_ALIGN, 0);
  d.discardGranularity = gran > 0 ? <u32>gran : 0;
  d.discardAlignment = align > 0 ? <u32>align : 0;
  d.discardSecure = k.u32(K_DISCARD_SECURE, 0) == 1;
  d.phase = P_CONNECTED;
  xenbusSwitchState(d.path, XenbusStateConnected);
  const ready = d.ready;
  d.ready = null;
  if (ready !== null) ready(d, 0, d.readyArg);
  kick(d);
}

/**
 * Disables `d` with `err`: every pending request completes once with -XEN_EIO; with `fatal` the
 * error goes to xenstore and the device to Closing (xenbus_dev_fatal), else it is only printed;
 * the attach callback reports `err` if it has not run yet.
 */
function fail(d: BlkFront, err: i32, message: string, fatal: bool = true): void {
  if (d.phase == P_DEAD) return;
  d.phase = P_DEAD;
  d.error = err;
  // The watch on the backend's state stays while grants wait for the backend to unmap them.
  frontendStop("blkfront", d.path, 0, err, message, fatal);
  // Requests in flight: complete each op once; their grants are ended below.
  for (let q = 0; q < d.queues.length; q++) {
    const fq = d.queues[q];
    for (let i = 0; i < fq.shadows.length; i++) {
      const s = unchecked(fq.shadows[i]);
      if (!s.inUse) continue;
      s.inUse = false;
      for (let j: u32 = 0; j < s.nsegs; j++) if (unchecked(s.bounce[j]) < 0) deferEnd(d, unchecked(s.grefs[j]), 0);
      s.nsegs = 0;
      const op = s.op;
      s.op = null;
      if (op !== null) {
        op.outstanding--;
        op.status = -XEN_EIO;
        complete(d, op);
      }
    }
  }
  let op = d.head;
  d.head = null;
  d.tail = null;
  while (op !== null) {
    const next = op.next;
    op.issued = op.kind == OP_RW ? op.nsectors : 1;
    op.status = -XEN_EIO;
    op.outstanding = 0;
    complete(d, op);
    op = next;
  }
  teardown(d);
  const ready = d.ready;
  d.ready = null;
  if (ready !== null) ready(d, err, d.readyArg);
}

/**
 * Frees what the stopped device `d` holds, as Linux's blkif_free: closes its ports and ends
 * access to its rings, bounce pages and descriptor pages (freeing each frame once its grant is
 * ended). A grant the backend still has mapped is retried at each backend state change
 * (Linux's deferred gnttab_end_foreign_access); the watch goes once none is left.
 */
function teardown(d: BlkFront): void {
  for (let q = 0; q < d.queues.length; q++) {
    const fq = d.queues[q];
    if (fq.port >= 0) evtchnClose(<u32>fq.port);
    fq.port = -1;
    for (let i = 0; i < fq.refs.length; i++) {
      const ref = unchecked(fq.refs[i]);
      if (ref >= 0) deferEnd(d, <u32>ref, fq.ring.pages[i].addr);
      else frameFree(fq.ring.pages[i].addr);
    }
    for (let i = 0; i < fq.shadows.length; i++) {
      const s = unchecked(fq.shadows[i]);
      if (s.indirectRef >= 0) deferEnd(d, <u32>s.indirectRef, s.indirectPage);
      else if (s.indirectPage != 0) frameFree(s.indirectPage);
      s.indirectRef = -1;
      s.indirectPage = 0;
    }
  }
  d.queues = new Array<FQueue>();
  for (let b = 0; b < d.bounceRef.length; b++) deferEnd(d, d.bounceRef[b], d.bounceAddr[b]);
  d.bounceAddr = new Array<usize>();
  d.bounceRef = new Array<u32>();
  d.bounceFree = new Array<i32>();
  endDeferred(d);
}

function deferEnd(d: BlkFront, ref: u32, frame: usize): void {
  d.deferredRefs.push(ref);
  d.deferredFrames.push(frame);
}

/**
 * Ends every deferred grant the backend has let go of; drops the backend watch once none is left,
 * else tries again in 10 ms.
 */
function endDeferred(d: BlkFront): void {
  const refs = new Array<u32>(), frames = new Array<usize>();
  for (let i = 0; i < d.deferredRefs.length; i++) {
    const rc = gnttabEndAccess(d.deferredRefs[i]);
    if (rc == 0) { if (d.deferredFrames[i] != 0) frameFree(d.deferredFrames[i]); }
    else if (rc != -XEN_EINVAL) { refs.push(d.deferredRefs[i]); frames.push(d.deferredFrames[i]); }
  }
  d.deferredRefs = refs;
  d.deferredFrames = frames;
  if (refs.length == 0 && d.watch > 0) {
    xenbusUnwatchState(d.watch);
    d.watch = 0;
  }
  // The backend may let go without changing state (a grant copy that was in progress): retry.
  if (refs.length > 0 && !d.retrying) {
    d.retrying = true;
    timerSet(10_000_000, retryDeferred, <usize>d.id);
  }
}

function retryDeferred(arg: usize): void {
  const d = devs[<i32>arg];
  d.retrying = false;
  endDeferred(d);
}

// ---- the kernel's API ------------------------------------------------------------------------

function newOp(d: BlkFront, kind: u8, cb: BlkDoneFn | null, arg: usize): BlkOp {
  let op = d.spare;
  if (op !== null) d.spare = op.next;
  else op = new BlkOp();
  op.kind = kind;
  op.write = false;
  op.sector = 0;
  op.buf = 0;
  op.nsectors = 0;
  op.issued = 0;
  op.outstanding = 0;
  op.status = 0;
  op.done = false;
  op.cb = cb;
  op.arg = arg;
  op.next = null;
  return op;
}

function enqueue(d: BlkFront, op: BlkOp): i32 {
  if (d.tail === null) d.head = op;
  else d.tail!.next = op;
  d.tail = op;
  kick(d);
  return 0;
}

function checkRw(d: BlkFront, sector: u64, buf: usize, nsectors: u32): i32 {
  if (d.phase != P_CONNECTED) return d.error != 0 ? -XEN_EIO : -XEN_ENODEV;
  if (nsectors == 0 || (buf & (<usize>SECTOR_SIZE - 1)) != 0) return -XEN_EINVAL;
  if (sector >= d.sectors || <u64>nsectors > d.sectors - sector) return -XEN_EINVAL;
  return 0;
}

/**
 * Reads `nsectors` 512-byte sectors from `sector` into our memory at `buf` (512-aligned) and
 * calls `cb(status, arg)` when done. Returns 0 (queued) or -XEN_EINVAL / -XEN_ENODEV / -XEN_EIO
 * (then `cb` is never called).
 */
export function blkRead(d: BlkFront, sector: u64, buf: usize, nsectors: u32, cb: BlkDoneFn | null, arg: usize = 0): i32 {
  return rw(d, false, sector, buf, nsectors, cb, arg);
}

/** Writes `nsectors` sectors from `buf` at `sector`, like blkRead. Not durable until a flush completes. */
export function blkWrite(d: BlkFront, sector: u64, buf: usize, nsectors: u32, cb: BlkDoneFn | null, arg: usize = 0): i32 {
  return rw(d, true, sector, buf, nsectors, cb, arg);
}

function rw(d: BlkFront, write: bool, sector: u64, buf: usize, nsectors: u32, cb: BlkDoneFn | null, arg: usize): i32 {
  const rc = checkRw(d, sector, buf, nsectors);
  if (rc < 0) return rc;
  const op = newOp(d, OP_RW, cb, arg);
  op.write = write;
  op.sector = sector;
  op.buf = buf;
  op.nsectors = nsectors;
  return enqueue(d, op);
}

/**
 * Makes every write that completed before this call durable (feature-flush-cache, or a barrier
 * when the backend only has that); `cb` runs when it is. Returns 0, or -XEN_EOPNOTSUPP when the
 * backend offers neither (its writes are then as durable as they will get).
 */
export function blkFlush(d: BlkFront, cb: BlkDoneFn | null, arg: usize = 0): i32 {
  if (d.phase != P_CONNECTED) return d.error != 0 ? -XEN_EIO : -XEN_ENODEV;
  if (!d.flush && !d.barrier) return -XEN_EOPNOTSUPP;
  return enqueue(d, newOp(d, OP_FLUSH, cb, arg));
}

/**
 * Discards `nsectors` sectors from `sector` (feature-discard; `secure` asks for discard-secure,
 * ignored when not offered). Returns 0, -XEN_EOPNOTSUPP without the feature, or -XEN_EINVAL.
 */
export function blkDiscard(d: BlkFront, sector: u64, nsectors: u64, secure: bool, cb: BlkDoneFn | null, arg: usize = 0): i32 {
  if (d.phase != P_CONNECTED) return d.error != 0 ? -XEN_EIO : -XEN_ENODEV;
  if (!d.discard) return -XEN_EOPNOTSUPP;
  if (nsectors == 0 || sector >= d.sectors || nsectors > d.sectors - sector) return -XEN_EINVAL;
  const op = newOp(d, OP_DISCARD, cb, arg);
  op.sector = sector;
  op.nsectors = nsectors;
  op.write = secure && d.discardSecure;
  return enqueue(d, op);
}

/** Kernel requests not yet completed (queued or in flight). */
export function blkPending(d: BlkFront): i32 {
  let n = 0;
  let op = d.head;
  while (op !== null) { n++; op = op.next; }
  for (let q = 0; q < d.queues.length; q++) n += <i32>(d.queues[q].ring.size) - d.queues[q].free.length;
  return n;
}

// ---- issuing ---------------------------------------------------------------------------------

/** Issues queued work while some queue has a free slot, then notifies the backend as asked. */
function kick(d: BlkFront): void {
  if (d.phase != P_CONNECTED) return;
  while (d.head !== null) {
    const op = d.head!;
    // Round-robin over the queues, skipping full ones.
    let fq: FQueue | null = null, qi: u32 = 0;
    for (let t: u32 = 0; t < d.nrQueues; t++) {
      const i = (d.nextQueue + t) % d.nrQueues;
      if (d.queues[<i32>i].free.length > 0) { fq = d.queues[<i32>i]; qi = i; break; }
    }
    if (fq === null) break;
    d.nextQueue = (qi + 1) % d.nrQueues;
    const rc = issue(d, fq, qi, op);
    if (rc < 0) break; // out of grants or bounce pages: wait for completions
    if (op.kind == OP_RW ? op.issued >= op.nsectors : op.issued > 0) {
      d.head = op.next;
      if (d.head === null) d.tail = null;
    }
  }
  for (let q = 0; q < d.queues.length; q++) {
    const fq = d.queues[q];
    if (!fq.produced) continue;
    fq.produced = false;
    if (fq.ring.pushRequestsAndCheckNotify()) {
      evtchnNotify(<u32>fq.port);
      d.notifies++;
    }
  }
}

/** Takes a bounce page (granted once, read-write); -1 when MAX_PERSISTENT_PAGES are all busy. */
function takeBounce(d: BlkFront): i32 {
  if (d.bounceFree.length > 0) return d.bounceFree.pop();
  if (d.bounceAddr.length >= MAX_PERSISTENT_PAGES) return -1;
  const page = frameAlloc();
  const ref = gnttabGrantAccess(d.backendId, addrToGfn(page), false);
  if (ref < 0) return -1;
  d.grantOps++;
  d.bounceAddr.push(page);
  d.bounceRef.push(<u32>ref);
  return d.bounceAddr.length - 1;
}

/** Puts the next piece of `op` on queue `fq` (index `qi`); 0, or -XEN_ENOSPC to retry later. */
function issue(d: BlkFront, fq: FQueue, qi: u32, op: BlkOp): i32 {
  const slot = fq.free[fq.free.length - 1];
  const s = unchecked(fq.shadows[slot]);
  const id: u64 = (<u64>qi << 16) | <u64>slot;
  memory.fill(REQBUF, 0, BLK_SLOT);
  if (op.kind == OP_DISCARD) {
    const r = changetype<blkif_request_discard>(REQBUF);
    r.operation = BLKIF_OP_DISCARD;
    r.flag = op.write ? BLKIF_DISCARD_SECURE : 0;
    r.handle = <u16>d.vdev;
    r.id = id;
    r.sector_number = op.sector;
    r.nr_sectors = op.nsectors;
    s.operation = BLKIF_OP_DISCARD;
    s.nsegs = 0;
    op.issued = 1;
  } else if (op.kind == OP_FLUSH) {
    const r = changetype<blkif_request>(REQBUF);
    r.operation = d.flush ? BLKIF_OP_FLUSH_DISKCACHE : BLKIF_OP_WRITE_BARRIER;
    r.handle = <u16>d.vdev;
    r.id = id;
    s.operation = r.operation;
    s.nsegs = 0;
    op.issued = 1;
  } else {
    // Segments: one per page the next sectors touch, up to maxSegs.
    let sector = op.sector + op.issued;
    let addr = op.buf + <usize>(op.issued * SECTOR_SIZE);
    let left = op.nsectors - op.issued;
    let n: u32 = 0;
    const segs = REQBUF + offsetof<blkif_request>("seg");
    while (left > 0 && n < d.maxSegs) {
      const first = <u32>((addr & (PAGE_SIZE - 1)) / SECTOR_SIZE);
      const count = <u32>min(<u64>(SECTORS_PER_PAGE - first), left);
      const len = count * SECTOR_SIZE;
      let gref: i32;
      if (d.persistent) {
        const b = takeBounce(d);
        if (b < 0) break;
        unchecked(s.bounce[n] = b);
        gref = <i32>d.bounceRef[b];
        if (op.write) {
          memory.copy(d.bounceAddr[b] + <usize>(first * SECTOR_SIZE), addr, len);
          d.bytesCopied += len;
        }
      } else {
        gref = gnttabGrantAccess(d.backendId, addrToGfn(addr), op.write);
        if (gref < 0) break;
        d.grantOps++;
        unchecked(s.bounce[n] = -1);
      }
      unchecked(s.grefs[n] = <u32>gref);
      unchecked(s.data[n] = addr);
      unchecked(s.lens[n] = len);
      n++;
      addr += <usize>len;
      left -= count;
    }
    if (n == 0) return -XEN_ENOSPC;
    s.nsegs = n;
    const covered = op.nsectors - op.issued - left;
    if (n <= DIRECT_SEGS) {
      const r = changetype<blkif_request>(REQBUF);
      r.operation = op.write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
      r.nr_segments = <u8>n;
      r.handle = <u16>d.vdev;
      r.id = id;
      r.sector_number = sector;
      for (let i: u32 = 0; i < n; i++) writeSeg(segs, s, i);
      s.operation = r.operation;
    } else {
      if (s.indirectPage == 0) s.indirectPage = frameAlloc();
      for (let i: u32 = 0; i < n; i++) writeSeg(s.indirectPage, s, i);
      // With persistent grants the descriptor page stays granted for the slot's life (as Linux).
      if (s.indirectRef < 0) {
        const ref = gnttabGrantAccess(d.backendId, addrToGfn(s.indirectPage), true);
        if (ref < 0) { release(d, s); return -XEN_ENOSPC; }
        d.grantOps++;
        s.indirectRef = ref;
      }
      const ref = s.indirectRef;
      const r = changetype<blkif_request_indirect>(REQBUF);
      r.operation = BLKIF_OP_INDIRECT;
      r.indirect_op = op.write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
      r.nr_segments = <u16>n;
      r.id = id;
      r.sector_number = sector;
      r.handle = <u16>d.vdev;
      store<u32>(REQBUF + offsetof<blkif_request_indirect>("indirect_grefs"), <u32>ref);
      s.operation = BLKIF_OP_INDIRECT;
    }
    op.issued += covered;
  }
  const rc = fq.ring.writeRequest(REQBUF, BLK_SLOT);
  if (rc < 0) { release(d, s); fail(d, rc, "request ring broken"); return rc; }
  fq.free.pop();
  s.inUse = true;
  s.op = op;
  op.outstanding++;
  fq.produced = true;
  d.requests++;
  return 0;
}

function writeSeg(segs: usize, s: Shadow, i: u32): void {
  const first = <u32>((unchecked(s.data[i]) & (PAGE_SIZE - 1)) / SECTOR_SIZE);
  writeSegment(segs, i, unchecked(s.grefs[i]), first, first + unchecked(s.lens[i]) / SECTOR_SIZE - 1);
}

/** Gives back a shadow's grants and bounce pages (copying read data out of bounce pages first if `read`). */
function release(d: BlkFront, s: Shadow, read: bool = false): void {
  for (let i: u32 = 0; i < s.nsegs; i++) {
    const b = unchecked(s.bounce[i]);
    if (b >= 0) {
      if (read) {
        const addr = unchecked(s.data[i]);
        memory.copy(addr, d.bounceAddr[b] + (addr & (PAGE_SIZE - 1)), unchecked(s.lens[i]));
        d.bytesCopied += unchecked(s.lens[i]);
      }
      d.bounceFree.push(b);
    } else {
      d.grantOps++;
      if (gnttabEndAccess(unchecked(s.grefs[i])) < 0) { d.leaked++; deferEnd(d, unchecked(s.grefs[i]), 0); }
    }
  }
  s.nsegs = 0;
  if (s.indirectRef >= 0 && !d.persistent) {
    d.grantOps++;
    if (gnttabEndAccess(<u32>s.indirectRef) < 0) { d.leaked++; deferEnd(d, <u32>s.indirectRef, s.indirectPage); s.indirectPage = 0; }
    s.indirectRef = -1;
  }
}

// ---- completions -----------------------------------------------------------------------------

function onQueueEvent(port: u32, arg: usize): void {
  const d = devs[<i32>(arg >> 8)];
  const qi = <i32>(arg & 0xff);
  if (d.phase != P_CONNECTED || qi >= d.queues.length) return;
  const fq = d.queues[qi];
  d.events++;
  for (;;) {
    for (;;) {
      const rc = fq.ring.copyResponse(RSPBUF, BLK_RSP);
      if (rc < 0) return fail(d, rc, "response ring broken (rsp_prod out of range)");
      if (rc == 0) break;
      const rsp = changetype<blkif_response>(RSPBUF);
      const id = rsp.id;
      const slot = <i32>(id & 0xffff);
      if ((id >> 16) != <u64>qi || slot >= fq.shadows.length) return fail(d, -XEN_EIO, "response id " + id.toString() + " was never issued on this queue");
      const s = unchecked(fq.shadows[slot]);
      if (!s.inUse) return fail(d, -XEN_EIO, "response id " + id.toString() + " is not in flight (duplicate?)");
      if (rsp.operation != s.operation) return fail(d, -XEN_EIO, "response to request " + id.toString() + " has the wrong operation");
      s.inUse = false;
      const op = s.op!;
      s.op = null;
      const ok = rsp.status == BLKIF_RSP_OKAY;
      release(d, s, ok && op.kind == OP_RW && !op.write);
      fq.free.push(slot);
      op.outstanding--;
      if (!ok && op.status == 0) op.status = rsp.status == BLKIF_RSP_EOPNOTSUPP ? -XEN_EOPNOTSUPP : -XEN_EIO;
      complete(d, op);
      if (d.phase != P_CONNECTED) return;
    }
    const more = fq.ring.finalCheckForResponses();
    if (more < 0) return fail(d, more, "response ring broken (rsp_prod out of range)");
    if (more == 0) break;
  }
  kick(d);
}

/** Runs `op`'s callback once it is fully issued and answered, and recycles it. */
function complete(d: BlkFront, op: BlkOp): void {
  if (op.done || op.outstanding > 0) return;
  if (op.kind == OP_RW ? op.issued < op.nsectors : op.issued == 0) return;
  op.done = true;
  const cb = op.cb;
  const status = op.status, arg = op.arg;
  op.cb = null;
  op.next = d.spare;
  d.spare = op;
  if (cb !== null) cb(status, arg);
}

