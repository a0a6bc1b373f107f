// blkback: the backend half of the block split driver, as dom0 runs it (DESIGN §4). It finds its
// devices under `backend/vbd/<frontend>/<devid>` (the toolstack writes them, libxl's layout),
// opens the host disk named by `physical-device`, advertises blkif.h's features, takes up the
// frontend's rings and event channels, and answers requests: data moves by one checked DMA copy
// between the host disk and the frontend's granted pages (mapped GNTMAP_device_map, assembly/hostdev).
//
// Distrust: every request is copied out of the ring and validated (proto.ts) before use; a bad
// request gets BLKIF_RSP_ERROR (or EOPNOTSUPP); a broken ring (an impossible producer index) or a
// bad negotiation value disconnects that device only: an `error` node and Closing, as Linux's
// xenbus_dev_fatal. Other devices keep being served.
//
// Ownership: devices live in `devs` for the life of dom0 (their index is the `arg` of every
// callback); queues own their ring mappings and ports; a device owns its persistent mappings.
// The request path allocates nothing: per-request scratch is static.
import {
  BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
  BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_OKAY, BLK_SLOT, BLK_RSP, BlkRequest, parseRequest, parseSegments,
  writeResponse, SECTOR_SIZE, SEG_SIZE, SEGS_PER_INDIRECT_FRAME, MAX_INDIRECT_SEGS, MAX_RING_PAGE_ORDER, MAX_QUEUES,
  PROTOCOL_X86_64, K_EVENT_CHANNEL, K_PROTOCOL, K_RING_PAGE_ORDER, K_MAX_RING_PAGE_ORDER,
  K_NUM_QUEUES, K_MAX_QUEUES, K_PERSISTENT, K_MAX_INDIRECT, K_FLUSH, K_BARRIER, K_DISCARD, K_DISCARD_GRAN,
  K_DISCARD_ALIGN, K_DISCARD_SECURE, K_SECTORS, K_INFO, K_SECTOR_SIZE, K_PHYS_SECTOR_SIZE,
} from "./proto";
import { Keys, readKeys, writeKeys, parseHex, queueKey, ringRefKey, watchBackends } from "../common/xenbus";
import { BackRing } from "../../assembly/ring";
import { SharedPage, gnttabMap, gnttabUnmap, gnttabCopyFrom } from "../../assembly/gnttab";
import { HYPERVISOR_grant_table_op } from "../../assembly/hypercall";
import { evtchnBindInterdomain, evtchnClose, evtchnNotify } from "../../assembly/evtchn";
import { xenbusSwitchState, xenbusWatchState, xenbusDevFatal } from "../../assembly/xenbus";
import { puts, printk, putu } from "../../assembly/console";
import { blkdev_info, dma_seg, dev_blk_info, dev_blk_flush, blkdevIo, blkdevDiscard, BLKDEV_RO } from "../../assembly/hostdev";
import {
  gnttab_map_grant_ref, gnttab_unmap_grant_ref, GNTTABOP_map_grant_ref, GNTTABOP_unmap_grant_ref,
  GNTMAP_device_map, GNTMAP_host_map, GNTMAP_readonly, GNTST_okay,
} from "../../assembly/xen/grant_table";
import {
  XenbusStateInitialising, XenbusStateInitWait, XenbusStateInitialised, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed, XenbusStateUnknown,
} from "../../assembly/xen/io/xenbus";
import { VDISK_READONLY, VDISK_REMOVABLE, VDISK_CDROM } from "../../assembly/xen/io/blkif";
import { XEN_EINVAL } from "../../assembly/xen/errno";

/** What this backend offers; dom0's command line may narrow it (drivers/dom0/main.ts). */
export class BlkbackConfig {
  maxRingPageOrder: u32 = MAX_RING_PAGE_ORDER;
  maxQueues: u32 = MAX_QUEUES;
  /** feature-max-indirect-segments; 0 offers no indirect requests. */
  maxIndirect: u32 = MAX_INDIRECT_SEGS;
  persistent: bool = true;
  flush: bool = true;
  barrier: bool = true;
  discard: bool = true;
  /** Persistent grants kept mapped per device (Linux's max_persistent_grants). */
  maxPersistent: i32 = 1056;

  /** Copies every setting of `o` into this configuration. */
  copyFrom(o: BlkbackConfig): void {
    this.maxRingPageOrder = o.maxRingPageOrder;
    this.maxQueues = o.maxQueues;
    this.maxIndirect = o.maxIndirect;
    this.persistent = o.persistent;
    this.flush = o.flush;
    this.barrier = o.barrier;
    this.discard = o.discard;
    this.maxPersistent = o.maxPersistent;
  }
}

/** The configuration every device probed from now on gets. */
export const blkbackConfig = new BlkbackConfig();

/** A persistent grant: kept mapped (writable, device map) until the device disconnects. */
class PGrant {
  constructor(public handle: u32, public bus: u64) {}
}

/** One queue: a ring (2^order pages of the frontend's) and its event channel. */
class Queue {
  ring: BackRing | null = null;
  pages: StaticArray<SharedPage> = new StaticArray<SharedPage>(0);
  port: i32 = -1;
  req: BlkRequest = new BlkRequest();
  constructor(public dev: i32, public index: u32) {}
}

/** Device life cycle on our side. */
// S_CLOSED: our state is Closed (the frontend closed); S_FAILED: Closing after a fatal error.
const S_PROBING = 0, S_WAITING = 1, S_INITWAIT = 2, S_CONNECTING = 3, S_CONNECTED = 4, S_CLOSED = 5, S_FAILED = 6;

/** One virtual block device: a frontend's vbd and the host disk behind it. */
export class BlkBackDev {
  path: string;
  frontPath: string = "";
  hostDev: i32 = -1;
  sectors: u64 = 0;
  readonly: bool = false;
  phase: i32 = S_PROBING;
  /** An event arrived while probing: probe again if this attempt finds the directory incomplete. */
  dirty: bool = false;
  nrQueues: u32 = 0;
  ringOrder: u32 = 0;
  persistent: bool = false;
  queues: Array<Queue> = new Array<Queue>();
  pgrants: Map<u32, PGrant> = new Map<u32, PGrant>();
  cfg: BlkbackConfig = new BlkbackConfig();
  /** Requests answered, and of them errors, for the log at disconnect. */
  served: u64 = 0;
  errors: u64 = 0;
  constructor(public id: i32, public frontId: u32, public devid: u32) {
    this.path = "backend/vbd/" + frontId.toString() + "/" + devid.toString();
  }
}

const devs = new Array<BlkBackDev>();

// ---- per-request scratch (the request path allocates nothing) --------------------------------
const SLOT = memory.data(<i32>BLK_SLOT, 8);
const RSP = memory.data(<i32>BLK_RSP, 8);
const INDIRECT = memory.data(<i32>(MAX_INDIRECT_SEGS * SEG_SIZE), 4096); // page-aligned: one GNTTABOP_copy entry per page
const MAPS = memory.data(<i32>(MAX_INDIRECT_SEGS * <u32>offsetof<gnttab_map_grant_ref>()), 8);
const UNMAPS = memory.data(<i32>(MAX_INDIRECT_SEGS * <u32>offsetof<gnttab_unmap_grant_ref>()), 8);
const DMA = memory.data(<i32>(MAX_INDIRECT_SEGS * <u32>offsetof<dma_seg>()), 8);
const INFO = memory.data(<i32>offsetof<blkdev_info>(), 8);
/** Per segment: index of its map op (or -1: a persistent grant already mapped). */
const SEG_MAP = new StaticArray<i32>(<i32>MAX_INDIRECT_SEGS);

// ---- discovery -------------------------------------------------------------------------------

/**
 * Starts blkback: watches `backend/vbd` for devices the toolstack creates. `cfg` is what every
 * device will offer. Returns 0 or the xenstore error.
 */
export function blkbackInit(cfg: BlkbackConfig): i32 {
  blkbackConfig.copyFrom(cfg);
  return watchBackends("vbd", found);
}

/** Devices known so far (probing, connected or closed). */
export function blkbackDevices(): i32 {
  return devs.length;
}

function findDev(frontId: u32, devid: u32): BlkBackDev | null {
  for (let i = 0; i < devs.length; i++) {
    const d = devs[i];
    if (d.frontId == frontId && d.devid == devid) return d;
  }
  return null;
}

function found(fe: u32, devid: u32): void {
  let d = findDev(fe, devid);
  if (d === null) {
    d = new BlkBackDev(devs.length, fe, devid);
    devs.push(d);
    probe(d);
    return;
  }
  if (d.phase == S_PROBING) d.dirty = true;
  else if (d.phase == S_WAITING) probe(d);
}

const PROBE_KEYS: Array<string> = ["frontend", "frontend-id", "physical-device", "mode", "removable", "device-type"];

function probe(d: BlkBackDev): void {
  d.phase = S_PROBING;
  d.dirty = false;
  if (readKeys(d.path, PROBE_KEYS, onProbed, <usize>d.id) < 0) d.phase = S_WAITING;
}

function onProbed(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  const front = k.get("frontend"), feId = k.u32("frontend-id", 0xffffffff), phys = k.get("physical-device"), mode = k.get("mode");
  if (front === null || phys === null || mode === null || feId < 0 || feId == 0xffffffff) {
    // The toolstack is still writing the directory (or it went away): wait for the next event.
    if (d.dirty) probe(d);
    else d.phase = S_WAITING;
    return;
  }
  if (<u32>feId != d.frontId) return fatal(d, -XEN_EINVAL, "frontend-id does not match the backend path");
  // physical-device is "major:minor" in hex; xenwasm's host disks are major fe, minor = disk index.
  const colon = phys.indexOf(":");
  const minor = colon > 0 ? parseHex(phys.substring(colon + 1)) : -1;
  if (colon <= 0 || parseHex(phys.substring(0, colon)) != 0xfe || minor < 0) return fatal(d, -XEN_EINVAL, "physical-device " + phys + " is not a xenwasm host disk (fe:N)");
  const rc = dev_blk_info(<i32>minor, <i32>INFO);
  if (rc < 0) return fatal(d, rc, "cannot open host disk " + phys);
  const info = changetype<blkdev_info>(INFO);
  d.hostDev = <i32>minor;
  d.frontPath = front;
  d.sectors = info.sectors;
  d.readonly = mode != "w" || (info.flags & BLKDEV_RO) != 0;
  const c = d.cfg;
  c.copyFrom(blkbackConfig);
  c.discard = c.discard && !d.readonly;
  const names = new Array<string>(), values = new Array<string>();
  put(K_FLUSH, c.flush ? "1" : "0", names, values);
  put(K_BARRIER, c.barrier ? "1" : "0", names, values);
  put(K_PERSISTENT, c.persistent ? "1" : "0", names, values);
  if (c.maxIndirect > 0) put(K_MAX_INDIRECT, c.maxIndirect.toString(), names, values);
  if (c.maxRingPageOrder > 0) put(K_MAX_RING_PAGE_ORDER, c.maxRingPageOrder.toString(), names, values);
  if (c.maxQueues > 1) put(K_MAX_QUEUES, c.maxQueues.toString(), names, values);
  if (c.discard) {
    put(K_DISCARD, "1", names, values);
    put(K_DISCARD_GRAN, info.discard_granularity.toString(), names, values);
    put(K_DISCARD_ALIGN, "0", names, values);
    put(K_DISCARD_SECURE, "0", names, values);
  }
  put(K_SECTORS, d.sectors.toString(), names, values);
  // info: VDISK_READONLY, and VDISK_REMOVABLE / VDISK_CDROM as the toolstack describes the disk.
  const info_ = (d.readonly ? VDISK_READONLY : 0) | (k.get("removable") == "1" ? VDISK_REMOVABLE : 0) | (k.get("device-type") == "cdrom" ? VDISK_CDROM : 0);
  put(K_INFO, info_.toString(), names, values);
  put(K_SECTOR_SIZE, info.sector_size.toString(), names, values);
  put(K_PHYS_SECTOR_SIZE, info.physical_sector_size.toString(), names, values);
  if (writeKeys(d.path, names, values, onFeaturesWritten, <usize>d.id) < 0) fatal(d, -XEN_EINVAL, "cannot write features");
}

function put(n: string, v: string, names: Array<string>, values: Array<string>): void {
  names.push(n);
  values.push(v);
}

function onFeaturesWritten(status: i32, arg: usize): void {
  const d = devs[<i32>arg];
  if (status < 0) return fatal(d, status, "writing features");
  d.phase = S_INITWAIT;
  xenbusSwitchState(d.path, XenbusStateInitWait);
  const id = xenbusWatchState(d.frontPath, onFrontState, <usize>d.id);
  if (id < 0) return fatal(d, id, "watching the frontend's state");
}

// ---- connection ------------------------------------------------------------------------------

function onFrontState(state: i32, arg: usize): void {
  const d = devs[<i32>arg];
  if (state == XenbusStateInitialised || state == XenbusStateConnected) {
    if (d.phase == S_INITWAIT) {
      d.phase = S_CONNECTING;
      const names: Array<string> = [K_RING_PAGE_ORDER, K_NUM_QUEUES, K_PROTOCOL, K_PERSISTENT];
      if (readKeys(d.frontPath, names, onFrontKeys, <usize>d.id) < 0) fatal(d, -XEN_EINVAL, "reading the frontend's keys");
    }
  } else if (state == XenbusStateInitialising) {
    // A frontend that closed starts again (Linux's frontend_changed: "prepare for reconnect"):
    // only once we are Closed too; the features we wrote at probe time still stand.
    if (d.phase == S_CLOSED) {
      d.phase = S_INITWAIT;
      xenbusSwitchState(d.path, XenbusStateInitWait);
    }
  } else if (state == XenbusStateClosing) {
    disconnect(d);
    if (d.phase != S_CLOSED && d.phase != S_FAILED) xenbusSwitchState(d.path, XenbusStateClosing);
  } else if (state == XenbusStateClosed || state == XenbusStateUnknown) {
    disconnect(d);
    d.phase = S_CLOSED;
    xenbusSwitchState(d.path, XenbusStateClosed);
  }
}

function onFrontKeys(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase != S_CONNECTING) return;
  const order = k.u32(K_RING_PAGE_ORDER, 0), queues = k.u32(K_NUM_QUEUES, 1), pers = k.u32(K_PERSISTENT, 0);
  const proto = k.get(K_PROTOCOL);
  if (order < 0 || <u32>order > d.cfg.maxRingPageOrder) return fatal(d, -XEN_EINVAL, "ring-page-order " + (k.get(K_RING_PAGE_ORDER) as string) + " above max-ring-page-order");
  if (queues < 1 || <u32>queues > d.cfg.maxQueues) return fatal(d, -XEN_EINVAL, "multi-queue-num-queues must be 1.." + d.cfg.maxQueues.toString());
  if (proto !== null && proto != PROTOCOL_X86_64) return fatal(d, -XEN_EINVAL, "unsupported protocol " + proto);
  d.ringOrder = <u32>order;
  d.nrQueues = <u32>queues;
  d.persistent = d.cfg.persistent && pers == 1;
  const names = new Array<string>();
  for (let q: u32 = 0; q < d.nrQueues; q++) {
    names.push(queueKey(d.nrQueues, q, K_EVENT_CHANNEL));
    for (let i: u32 = 0; i < (<u32>1 << d.ringOrder); i++) names.push(queueKey(d.nrQueues, q, ringRefKey(d.ringOrder, i)));
  }
  if (readKeys(d.frontPath, names, onRingKeys, <usize>d.id) < 0) fatal(d, -XEN_EINVAL, "reading the ring keys");
}

function onRingKeys(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase != S_CONNECTING) return;
  const pages = <u32>1 << d.ringOrder;
  for (let q: u32 = 0; q < d.nrQueues; q++) {
    const queue = new Queue(d.id, q);
    d.queues.push(queue);
    queue.pages = new StaticArray<SharedPage>(<i32>pages);
    for (let i: u32 = 0; i < pages; i++) {
      const key = queueKey(d.nrQueues, q, ringRefKey(d.ringOrder, i));
      const ref = k.u32(key, 0xffffffff);
      if (ref < 0 || ref == 0xffffffff) return fatal(d, -XEN_EINVAL, "missing or bad " + key);
      const p = new SharedPage();
      unchecked(queue.pages[i] = p);
      const st = gnttabMap(p, <u16>d.frontId, <u32>ref, GNTMAP_host_map);
      if (st != GNTST_okay) return fatal(d, -XEN_EINVAL, "cannot map " + key + " (GNTST " + st.toString() + ")");
    }
    const ring = new BackRing(queue.pages, BLK_SLOT);
    if (ring.attach(0) < 0) return fatal(d, -XEN_EINVAL, "ring does not fit");
    queue.ring = ring;
    const evKey = queueKey(d.nrQueues, q, K_EVENT_CHANNEL);
    const remote = k.u32(evKey, 0xffffffff);
    if (remote < 0 || remote == 0xffffffff) return fatal(d, -XEN_EINVAL, "missing or bad " + evKey);
    const port = evtchnBindInterdomain(<u16>d.frontId, <u32>remote, onQueueEvent, <usize>((d.id << 8) | <i32>q));
    if (port < 0) return fatal(d, port, "cannot bind " + evKey);
    queue.port = port;
  }
  d.phase = S_CONNECTED;
  xenbusSwitchState(d.path, XenbusStateConnected);
  puts("blkback: ");
  puts(d.path);
  puts(": connected, ");
  putu(d.nrQueues);
  puts(d.nrQueues == 1 ? " queue, " : " queues, ");
  putu(pages);
  puts(pages == 1 ? " ring page" : " ring pages");
  printk(d.persistent ? ", persistent grants" : "");
  // Requests may already be waiting (the frontend can push before we connect).
  for (let q = 0; q < d.queues.length; q++) serviceQueue(d, d.queues[q]);
}

/** Unmaps the rings and persistent grants and closes the ports of `d` (idempotent). */
function disconnect(d: BlkBackDev): void {
  for (let q = 0; q < d.queues.length; q++) {
    const queue = d.queues[q];
    if (queue.port >= 0) evtchnClose(<u32>queue.port);
    queue.port = -1;
    queue.ring = null;
    for (let i = 0; i < queue.pages.length; i++) if (unchecked(queue.pages[i]).bound) gnttabUnmap(unchecked(queue.pages[i]));
  }
  d.queues = new Array<Queue>();
  // The persistent grants, unmapped in batches of the UNMAPS buffer's size.
  const grants = d.pgrants.values();
  for (let i = 0; i < grants.length; i += <i32>MAX_INDIRECT_SEGS) {
    const n = min(grants.length - i, <i32>MAX_INDIRECT_SEGS);
    for (let j = 0; j < n; j++) fillUnmap(j, grants[i + j].handle, grants[i + j].bus);
    HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, UNMAPS, n);
  }
  d.pgrants.clear();
  if (d.phase == S_CONNECTED || d.phase == S_CONNECTING) d.phase = S_INITWAIT;
}

/**
 * Disconnects `d` for good with an error node and Closing (Linux's xenbus_dev_fatal). The watch
 * on the frontend's state stays: when the frontend answers with Closed, so does the backend.
 */
function fatal(d: BlkBackDev, err: i32, message: string): void {
  disconnect(d);
  d.phase = S_FAILED;
  xenbusDevFatal(d.path, err, message);
}

// ---- requests --------------------------------------------------------------------------------

function onQueueEvent(port: u32, arg: usize): void {
  const d = devs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (d.phase == S_CONNECTED && q < d.queues.length) serviceQueue(d, d.queues[q]);
}

/** Answers every request on `queue`'s ring, then re-arms req_event (RING_FINAL_CHECK_FOR_REQUESTS). */
function serviceQueue(d: BlkBackDev, queue: Queue): void {
  for (;;) {
    const ring = queue.ring;
    if (ring === null) return;
    for (;;) {
      const rc = ring.copyRequest(SLOT, BLK_SLOT);
      if (rc < 0) return fatal(d, rc, "request ring broken (producer index out of range)");
      if (rc == 0) break;
      const req = queue.req;
      const st = handle(d, req);
      d.served++;
      if (st != BLKIF_RSP_OKAY) d.errors++;
      writeResponse(RSP, req.id, req.operation, st);
      const w = ring.writeResponse(RSP, BLK_RSP);
      if (w < 0) return fatal(d, w, "response ring broken");
    }
    if (ring.pushResponsesAndCheckNotify()) evtchnNotify(<u32>queue.port);
    const more = ring.finalCheckForRequests();
    if (more < 0) return fatal(d, more, "request ring broken (producer index out of range)");
    if (more == 0) return;
  }
}

/** Validates and carries out the request in SLOT; returns the response status. */
function handle(d: BlkBackDev, r: BlkRequest): i16 {
  const st = parseRequest(SLOT, r, d.cfg.maxIndirect);
  if (st != BLKIF_RSP_OKAY) return st;
  const op = r.operation;
  if (op == BLKIF_OP_DISCARD) return discard(d, r);
  if (op == BLKIF_OP_FLUSH_DISKCACHE) {
    if (!d.cfg.flush) return BLKIF_RSP_EOPNOTSUPP;
    // A flush first makes earlier writes durable, then writes what it carries (REQ_PREFLUSH).
    if (dev_blk_flush(d.hostDev) < 0) return BLKIF_RSP_ERROR;
    return r.nrSegs == 0 ? BLKIF_RSP_OKAY : transfer(d, r);
  }
  if (op == BLKIF_OP_WRITE_BARRIER) {
    if (!d.cfg.barrier) return BLKIF_RSP_EOPNOTSUPP;
    // Requests are answered in order, so everything before the barrier is done: write, then flush.
    if (r.nrSegs > 0) {
      const t = transfer(d, r);
      if (t != BLKIF_RSP_OKAY) return t;
    }
    return dev_blk_flush(d.hostDev) < 0 ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY;
  }
  if (op == BLKIF_OP_INDIRECT) {
    // Copy the segment pages once (GNTTABOP_copy), then validate our copy.
    for (let p: u32 = 0; p < r.nrIndirectPages; p++) {
      const n = min(SEGS_PER_INDIRECT_FRAME, r.nrSegs - p * SEGS_PER_INDIRECT_FRAME);
      if (gnttabCopyFrom(<u16>d.frontId, unchecked(r.indirectGrefs[p]), 0, INDIRECT, n * SEG_SIZE) != GNTST_okay) return BLKIF_RSP_ERROR;
      if (parseSegments(INDIRECT, r, p * SEGS_PER_INDIRECT_FRAME, n) != BLKIF_RSP_OKAY) return BLKIF_RSP_ERROR;
    }
  }
  return transfer(d, r);
}

/** Moves the data of a read or write (direct or indirect) between the host disk and the grants. */
function transfer(d: BlkBackDev, r: BlkRequest): i16 {
  const write = r.dataOp == BLKIF_OP_WRITE;
  if (write && d.readonly) return BLKIF_RSP_ERROR;
  if (r.sector >= d.sectors || r.nrSectors > d.sectors - r.sector) return BLKIF_RSP_ERROR;
  const n = r.nrSegs;
  // Map what is not mapped yet, in one hypercall.
  let nmap = 0;
  const mapSize = offsetof<gnttab_map_grant_ref>();
  for (let i: u32 = 0; i < n; i++) {
    const gref = unchecked(r.grefs[i]);
    if (d.persistent && d.pgrants.has(gref)) { unchecked(SEG_MAP[i] = -1); continue; }
    const m = changetype<gnttab_map_grant_ref>(MAPS + <usize>nmap * mapSize);
    m.host_addr = 0;
    m.flags = GNTMAP_device_map | (write && !d.persistent ? GNTMAP_readonly : 0);
    m.ref = gref;
    m.dom = <u16>d.frontId;
    m.status = 0;
    m.handle = 0;
    m.dev_bus_addr = 0;
    unchecked(SEG_MAP[i] = nmap);
    nmap++;
  }
  let ok = true;
  if (nmap > 0) {
    if (HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, MAPS, nmap) != 0) ok = false;
    for (let j = 0; j < nmap; j++) if (changetype<gnttab_map_grant_ref>(MAPS + <usize>j * mapSize).status != GNTST_okay) ok = false;
  }
  let status = BLKIF_RSP_ERROR;
  if (ok) {
    for (let i: u32 = 0; i < n; i++) {
      const j = unchecked(SEG_MAP[i]);
      const bus = j < 0 ? d.pgrants.get(unchecked(r.grefs[i])).bus : changetype<gnttab_map_grant_ref>(MAPS + <usize>j * mapSize).dev_bus_addr;
      const s = changetype<dma_seg>(DMA + <usize>i * offsetof<dma_seg>());
      const first = <u32>unchecked(r.first[i]);
      s.bus_addr = bus + <u64>(first * SECTOR_SIZE);
      s.len = (<u32>unchecked(r.last[i]) - first + 1) * SECTOR_SIZE;
      s.__pad = 0;
    }
    status = blkdevIo(d.hostDev, write, r.sector, DMA, <i32>n) == 0 ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
  }
  // Keep new mappings as persistent grants (while there is room), unmap the rest.
  let nunmap = 0;
  for (let j = 0; j < nmap; j++) {
    const m = changetype<gnttab_map_grant_ref>(MAPS + <usize>j * mapSize);
    if (m.status != GNTST_okay) continue;
    if (ok && d.persistent && d.pgrants.size < d.cfg.maxPersistent && !d.pgrants.has(m.ref)) {
      d.pgrants.set(m.ref, new PGrant(m.handle, m.dev_bus_addr));
      continue;
    }
    fillUnmap(nunmap++, m.handle, m.dev_bus_addr);
  }
  if (nunmap > 0) HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, UNMAPS, nunmap);
  return status;
}

/** Writes unmap op `i` of the UNMAPS batch (at most MAX_INDIRECT_SEGS) for mapping `handle` at `bus`. */
function fillUnmap(i: i32, handle: u32, bus: u64): void {
  const u = changetype<gnttab_unmap_grant_ref>(UNMAPS + <usize>i * offsetof<gnttab_unmap_grant_ref>());
  u.host_addr = 0;
  u.dev_bus_addr = bus;
  u.handle = handle;
  u.status = 0;
}

function discard(d: BlkBackDev, r: BlkRequest): i16 {
  if (!d.cfg.discard) return BLKIF_RSP_EOPNOTSUPP;
  if (d.readonly) return BLKIF_RSP_ERROR;
  if (r.sector >= d.sectors || r.nrSectors > d.sectors - r.sector) return BLKIF_RSP_ERROR;
  let sector = r.sector, left = r.nrSectors;
  while (left > 0) {
    const n = left > 0x40000000 ? <u32>0x40000000 : <u32>left;
    if (blkdevDiscard(d.hostDev, sector, n) < 0) return BLKIF_RSP_ERROR;
    sector += n;
    left -= n;
  }
  return BLKIF_RSP_OKAY;
}

