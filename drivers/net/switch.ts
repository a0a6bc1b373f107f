// dom0's switch (DESIGN §7): a learning Ethernet bridge over the vifs, as a Xen host's xenbr0.
// netback (back.ts) hands it each transmitted frame as a Pkt that still lives in the sender's
// grants; the switch learns the source MAC, picks the destinations (the port that MAC was last
// seen on, or every other port for broadcast, unknown unicast and multicast that a port
// subscribed to), picks each destination's receive queue by flow hash, and moves the frame with
// GNTTABOP_copy straight from the sender's transmit grants into the receiver's posted receive
// buffers: one copy, never through dom0's memory, batched across frames and destinations into
// one hypercall. Only the first bytes of a frame are copied into dom0 to read its headers, and
// the slow paths (a blank checksum for a vif that cannot take one, a GSO frame for a vif that
// cannot take GSO) build the result in dom0's memory and copy it out from there.
//
// The host uplink (uplink.ts) is a port too, but of another kind (`host`): its frames come from
// dom0's memory (Pkt.local) rather than a sender's grants, and frames for it leave the way they
// would on a wire (GSO segmented, checksums complete), copied into dom0's memory and handed to
// the port's hostSend.
//
// A destination without posted buffers does not stall the switch: its frames wait in that
// queue's pending list (the sender's transmit slots stay held: back-pressure, as Linux's rx queue
// stops the bridge) until it posts buffers, at most PENDING_MAX frames and PENDING_TIMEOUT_NS;
// beyond either they are dropped and counted. The sender gets its transmit responses when every
// destination has its copy (or has dropped it).
//
// Ownership: Ports (vif queues) are owned by back.ts and registered here; a Pkt belongs to the
// sender's queue (one per transmit slot, allocated at connect) and is lent to the destinations'
// pending lists until its reference count drops to zero. The forwarding path allocates nothing.
import { gnttab_copy, GNTTABOP_copy, GNTCOPY_source_gref, GNTCOPY_dest_gref, GNTST_okay } from "../../assembly/xen/grant_table";
import { HYPERVISOR_grant_table_op } from "../../assembly/hypercall";
import { gnttabCopySide } from "../../assembly/gnttab";
import { PAGE_SIZE } from "../../assembly/frames";
import { now, timerSet, NS_PER_MS } from "../../assembly/time";
import { dev_net_capture } from "../../assembly/hostdev";
import {
  ETH_HLEN, FRAME_CSUM_BLANK, FRAME_DATA_VALIDATED, MAX_FRAME, MAX_RX_SLOTS, FATAL_TX_SLOTS, MAX_EXTRAS, TxFrame,
  rxFlags, writeRxResponse, NETRXF_more_data, NETRXF_extra_info,
  NETIF_RSP_OKAY, NETIF_RSP_ERROR, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4, RX_SLOT,
} from "./proto";
import { netif_extra_info } from "../../assembly/xen/io/netif";
import { macLoad, isGroupMac, MAC_BROADCAST } from "../../assembly/net/wire";
import { segmentGso, flowHash, gsoHeaders } from "./offload";
import { l4ChecksumFill } from "../../assembly/net/checksum";

/** Bytes of a frame's start copied into dom0 to read its headers (Ethernet, IP, TCP/UDP ports). */
export const PEEK: u32 = 128;
/** Frames one destination queue holds while it has no receive buffers. */
export const PENDING_MAX: i32 = 256;
/** How long a frame waits for receive buffers before it is dropped (Linux's rx_drain_timeout is 10 s). */
export const PENDING_TIMEOUT_NS: u64 = 500 * NS_PER_MS;
/**
 * Frames of one sender that may wait in the pending lists of stalled receivers: beyond it such
 * frames are dropped, so that a guest that posts no buffers cannot hold a sender's whole
 * transmit ring. A receiver is stalled when it never posted a buffer, or posted none for
 * STALL_NS: long enough that a live receiver on a busy machine (a descheduled vCPU) keeps
 * getting back-pressure, never drops.
 */
export const PENDING_PER_SENDER: i32 = 128;
export const STALL_NS: u64 = 200 * NS_PER_MS;
/** Learned MAC addresses age out after this long without a frame from them (Linux bridge: 300 s). */
export const AGEING_NS: u64 = 300_000 * NS_PER_MS;

/**
 * A frame in flight: where it lives in the sender's grants (copied from the TxFrame), its
 * headers, and how many destinations still hold it. One per transmit slot of its queue.
 */
export class Pkt {
  /** The sending port, its transmit queue, and the port's connection generation when the frame was taken. */
  src: Port | null = null;
  queue: u32 = 0;
  gen: u32 = 0;
  /** The frame in dom0's memory (a frame from a host port), or 0: it lives in the sender's grants. */
  local: usize = 0;
  len: u32 = 0;
  offload: u32 = 0;
  gsoType: u8 = 0;
  gsoSize: u16 = 0;
  nslots: u32 = 0;
  grefs: StaticArray<u32> = new StaticArray<u32>(<i32>FATAL_TX_SLOTS);
  offsets: StaticArray<u16> = new StaticArray<u16>(<i32>FATAL_TX_SLOTS);
  sizes: StaticArray<u16> = new StaticArray<u16>(<i32>FATAL_TX_SLOTS);
  /** Transmit responses owed: ids and whether each is an extra-info slot (NETIF_RSP_NULL). */
  nreq: u32 = 0;
  ids: StaticArray<u16> = new StaticArray<u16>(<i32>(FATAL_TX_SLOTS + MAX_EXTRAS));
  isExtra: StaticArray<bool> = new StaticArray<bool>(<i32>(FATAL_TX_SLOTS + MAX_EXTRAS));
  /** The first `peeked` bytes of the frame, in dom0's memory. */
  hdr: usize = 0;
  /** The buffer behind `hdr`: managed, so it goes with the Pkt (netback makes new ones at every connection). */
  hdrBuf: StaticArray<u8> = new StaticArray<u8>(<i32>PEEK);
  constructor() { this.hdr = changetype<usize>(this.hdrBuf); }
  peeked: u32 = 0;
  /** Destinations that still hold the frame, the response status, and when it entered a pending list. */
  refs: i32 = 0;
  status: i16 = NETIF_RSP_OKAY;
  since: u64 = 0;
  nextFree: Pkt | null = null;

  /** Takes the frame's slots from a parsed TxFrame. */
  fill(f: TxFrame): void {
    this.len = f.len;
    this.offload = f.offload;
    this.gsoType = f.gsoType;
    this.gsoSize = f.gsoSize;
    this.nslots = f.nslots;
    for (let i: u32 = 0; i < f.nslots; i++) {
      unchecked(this.grefs[i] = unchecked(f.grefs[i]));
      unchecked(this.offsets[i] = unchecked(f.offsets[i]));
      unchecked(this.sizes[i] = unchecked(f.sizes[i]));
    }
    this.nreq = f.nreq;
    for (let i: u32 = 0; i < f.nreq; i++) {
      unchecked(this.ids[i] = unchecked(f.ids[i]));
      unchecked(this.isExtra[i] = unchecked(f.isExtra[i]));
    }
    this.refs = 0;
    this.status = NETIF_RSP_OKAY;
    this.peeked = 0;
  }

  /** The destination MAC (the frame's first 6 bytes, from the peek). */
  get dst(): u64 { return macLoad(this.hdr); }
  /** The source MAC. */
  get srcMac(): u64 { return macLoad(this.hdr + 6); }
}

/**
 * What the switch needs of one vif (a switch port): its identity and what it can take. back.ts
 * subclasses it (Vif); the switch calls these methods to use the vif's receive rings.
 */
export abstract class Port {
  /** The frontend's domain. */
  domid: u16 = 0;
  /** Index in the switch's port table (-1: not on the switch). */
  index: i32 = -1;
  gen: u32 = 0;
  /** What the frontend can receive: multi-slot frames, GSO frames (v4/v6), blank checksums (v4/v6). */
  rxSg: bool = false;
  rxGsoV4: bool = false;
  rxGsoV6: bool = false;
  rxCsumV4: bool = false;
  rxCsumV6: bool = false;
  /** Multicast control: deliver group frames only when subscribed (mcast holds the addresses). */
  mcastFilter: bool = false;
  mcast: StaticArray<u64> = new StaticArray<u64>(64);
  nmcast: i32 = 0;
  /** Entries of this port's frames in receivers' pending lists (switch-owned). */
  held: i32 = 0;
  /** When this port's frontend last posted receive buffers (the owner updates it; 0: never). */
  lastPost: u64 = 0;
  /** Counters: frames and bytes delivered to this port, frames dropped for it (no buffers, too big, timeout). */
  rxFrames: u64 = 0;
  rxBytes: u64 = 0;
  rxDropped: u64 = 0;
  /** Frames this port sent into the switch, and of them dropped as malformed. */
  txFrames: u64 = 0;
  txDropped: u64 = 0;
  /**
   * A host port (the uplink): it takes frames as they would be on a wire (no GSO, checksums
   * complete) through hostSend, from dom0's memory, instead of receive rings; it never waits.
   */
  host: bool = false;

  /** A host port's output: sends the frame of `len` bytes at `addr` (dom0's memory, the switch's until the call returns). */
  hostSend(addr: usize, len: u32): void {}

  /** Receive queues of this port. */
  abstract nrRxQueues(): u32;
  /** The receive queue for a flow with `hash` (the ctrl ring's Toeplitz mapping, or hash mod queues). */
  abstract rxQueueFor(pkt: Pkt, hash: u32, hashValid: bool): u32;
  /** Takes one posted receive buffer of queue `q`: its id in the low 16 bits, gref above; -1 when none. */
  abstract takeRxBuffer(q: u32): i64;
  /** Whether queue `q` has at least `need` posted buffers now (taken already or still in the ring). */
  abstract rxHas(q: u32, need: u32): bool;
  /** The most buffers queue `q` can ever have posted at once (its ring's size). */
  abstract rxCapacity(q: u32): u32;
  /** Writes one receive response on queue `q` (the buffer came from takeRxBuffer). */
  abstract rxRespond(q: u32, id: u16, offset: u16, flags: u16, status: i16): void;
  /** Writes the 8-byte response slot at `slot` (an extra-info slot) on queue `q`, taking one buffer's place. */
  abstract rxRespondRaw(q: u32, slot: usize): void;
  /** Publishes queue `q`'s responses and notifies the frontend if it asked. */
  abstract rxPush(q: u32): void;
  /** Asks the frontend to notify us when it posts buffers on `q` (re-arm req_event). */
  abstract rxWantBuffers(q: u32): void;
  /** Answers the sender side: the frame's transmit responses (called once its last destination is done). */
  abstract txComplete(pkt: Pkt): void;
  /** The pending list of receive queue `q`. */
  abstract pendingOf(q: u32): PendingList;

  /** Whether a group frame to `mac` is for this port (broadcast always; multicast if not filtered or subscribed). */
  wantsGroup(mac: u64): bool {
    if (mac == MAC_BROADCAST || !this.mcastFilter) return true;
    for (let i = 0; i < this.nmcast; i++) if (unchecked(this.mcast[i]) == mac) return true;
    return false;
  }
}

/**
 * A port without receive rings (`host`): the uplink (uplink.ts) and dom0's sink (sink.ts). Frames
 * reach it through hostSend; the switch never asks it for buffers, and frames it sends into the
 * switch come back through txComplete (a no-op here).
 */
export abstract class HostPort extends Port {
  private readonly noPending: PendingList = new PendingList();
  constructor() {
    super();
    this.host = true;
  }
  nrRxQueues(): u32 { return 1; }
  rxQueueFor(pkt: Pkt, hash: u32, hashValid: bool): u32 { return 0; }
  takeRxBuffer(q: u32): i64 { return -1; }
  rxHas(q: u32, need: u32): bool { return true; }
  rxCapacity(q: u32): u32 { return 0xffffffff; }
  rxRespond(q: u32, id: u16, offset: u16, flags: u16, status: i16): void {}
  rxRespondRaw(q: u32, slot: usize): void {}
  rxPush(q: u32): void {}
  rxWantBuffers(q: u32): void {}
  txComplete(pkt: Pkt): void {}
  pendingOf(q: u32): PendingList { return this.noPending; }
}

/** Frames waiting for a queue's receive buffers: a ring of Pkt references (allocated at connect). */
export class PendingList {
  items: StaticArray<Pkt | null> = new StaticArray<Pkt | null>(PENDING_MAX);
  head: i32 = 0;
  count: i32 = 0;

  push(p: Pkt): bool {
    if (this.count >= PENDING_MAX) return false;
    unchecked(this.items[(this.head + this.count) % PENDING_MAX] = p);
    this.count++;
    return true;
  }
  peek(): Pkt { return unchecked(this.items[this.head])!; }
  shift(): Pkt {
    const p = unchecked(this.items[this.head])!;
    unchecked(this.items[this.head] = null);
    this.head = (this.head + 1) % PENDING_MAX;
    this.count--;
    return p;
  }
}

// ---- the port table and MAC learning ---------------------------------------------------------

/** Ports on the switch (null: a free index). */
const ports = new Array<Port | null>();
/** The forwarding table: MAC → port index, and when it was last seen (parallel arrays, linear probing). */
const FDB_SIZE: i32 = 1024;
const fdbMac = new StaticArray<u64>(FDB_SIZE);
const fdbPort = new StaticArray<i32>(FDB_SIZE);
const fdbSeen = new StaticArray<u64>(FDB_SIZE);
const FDB_EMPTY: u64 = 0xffff_ffff_ffff_ffff;
/** The "last seen" of an entry that never ages (switchLearnStatic). */
const FDB_STATIC: u64 = 0xffff_ffff_ffff_ffff;
function initFdb(): bool { for (let i = 0; i < FDB_SIZE; i++) unchecked(fdbMac[i] = FDB_EMPTY); return true; }
let fdbReady = initFdb();

/** Switch-wide counters: frames forwarded, flooded, dropped (per reason), bytes copied, copy hypercalls, captured. */
export class SwitchStats {
  forwarded: u64 = 0;
  flooded: u64 = 0;
  dropNoBuffer: u64 = 0;
  dropTimeout: u64 = 0;
  dropTooBig: u64 = 0;
  dropCopyError: u64 = 0;
  bytesCopied: u64 = 0;
  copyOps: u64 = 0;
  copyCalls: u64 = 0;
  segmented: u64 = 0;
  checksumsFilled: u64 = 0;
  captured: u64 = 0;
}
export const switchStats = new SwitchStats();

/** Puts `p` on the switch (it gets an index); its earlier learned addresses are forgotten. */
export function switchAddPort(p: Port): void {
  p.held = 0;
  for (let i = 0; i < ports.length; i++) if (ports[i] === null) { ports[i] = p; p.index = i; return; }
  p.index = ports.length;
  ports.push(p);
}

/** Tells the switch that `mac` is on port `p` (on the switch) for good: a static entry that never ages (Linux: bridge fdb add ... static). */
export function switchLearnStatic(mac: u64, p: Port): void {
  learnAt(mac, p.index, FDB_STATIC);
}

/** Takes `p` off the switch: forgets its addresses and drops the frames pending for it or from it. */
export function switchRemovePort(p: Port): void {
  if (p.index < 0) return;
  for (let i = 0; i < FDB_SIZE; i++) if (unchecked(fdbPort[i]) == p.index) unchecked(fdbMac[i] = FDB_EMPTY);
  rehash();
  ports[p.index] = null;
  p.index = -1;
  // Frames from `p` waiting elsewhere: their grants are going away.
  for (let i = 0; i < ports.length; i++) {
    const o = ports[i];
    if (o === null) continue;
    for (let q: u32 = 0; q < o.nrRxQueues(); q++) purge(o.pendingOf(q), p);
  }
}

/**
 * Drops every frame from `from` (or every frame, when `from` is null) in `list`: a receiver's
 * pending list (`pending`: the frames count in their senders' `held`), or another list of frames.
 */
export function purge(list: PendingList, from: Port | null, pending: bool = true): void {
  const n = list.count;
  for (let i = 0; i < n; i++) {
    const pkt = list.shift();
    if (from === null || pkt.src === from) {
      if (pending) pkt.src!.held--;
      release(pkt);
    } else list.push(pkt);
  }
}

/** Rebuilds the table's probe chains after removals. */
function rehash(): void {
  for (let i = 0; i < FDB_SIZE; i++) {
    const mac = unchecked(fdbMac[i]);
    if (mac == FDB_EMPTY) continue;
    const port = unchecked(fdbPort[i]), seen = unchecked(fdbSeen[i]);
    unchecked(fdbMac[i] = FDB_EMPTY);
    learnAt(mac, port, seen);
  }
}

@inline function slotOf(mac: u64): i32 {
  return <i32>(((mac * 0x9E3779B97F4A7C15) >> 54) & <u64>(FDB_SIZE - 1));
}

function learnAt(mac: u64, port: i32, t: u64): void {
  let i = slotOf(mac);
  for (let n = 0; n < FDB_SIZE; n++) {
    const m = unchecked(fdbMac[i]);
    if (m == mac || m == FDB_EMPTY) {
      unchecked(fdbMac[i] = mac);
      unchecked(fdbPort[i] = port);
      unchecked(fdbSeen[i] = t);
      return;
    }
    i = (i + 1) & (FDB_SIZE - 1);
  }
  // Full: forget everything (the bridge floods until it relearns) rather than refuse to learn.
  for (let j = 0; j < FDB_SIZE; j++) unchecked(fdbMac[j] = FDB_EMPTY);
  unchecked(fdbMac[slotOf(mac)] = mac);
  unchecked(fdbPort[slotOf(mac)] = port);
  unchecked(fdbSeen[slotOf(mac)] = t);
}

/** The port `mac` was last seen on within AGEING_NS, or -1. */
function lookup(mac: u64, t: u64): i32 {
  let i = slotOf(mac);
  for (let n = 0; n < FDB_SIZE; n++) {
    const m = unchecked(fdbMac[i]);
    if (m == FDB_EMPTY) return -1;
    if (m == mac) {
      const seen = unchecked(fdbSeen[i]);
      return seen != FDB_STATIC && t - seen > AGEING_NS ? -1 : unchecked(fdbPort[i]);
    }
    i = (i + 1) & (FDB_SIZE - 1);
  }
  return -1;
}

// ---- capture ---------------------------------------------------------------------------------

/** Whether the host records frames (dev.net_capture answers a zero-length probe with 0). */
let capturing: i32 = -1;
function captureOn(): bool {
  if (capturing < 0) capturing = dev_net_capture(0, 0) == 0 ? 1 : 0;
  return capturing == 1;
}

// ---- the copy batch --------------------------------------------------------------------------

const COPY_SIZE: usize = offsetof<gnttab_copy>();
/** Copy entries one hypercall carries at most. */
const BATCH: i32 = 512;
const COPIES = memory.data(<i32>(<usize>BATCH * COPY_SIZE), 8);
let ncopies: i32 = 0;
/** The delivery whose copies are being added (its count is not known yet). */
let building: Delivery | null = null;

/**
 * A delivery in the batch: pkt (or a frame in dom0's memory: local != 0) to one queue of one
 * port, its copy entries [first, first + count), and the receive buffers it took.
 */
class Delivery {
  pkt: Pkt | null = null;
  port: Port | null = null;
  q: u32 = 0;
  local: usize = 0;
  len: u32 = 0;
  offload: u32 = 0;
  gsoType: u8 = 0;
  gsoSize: u16 = 0;
  first: i32 = 0;
  count: i32 = 0;
  nbufs: u32 = 0;
  ids: StaticArray<u16> = new StaticArray<u16>(<i32>(MAX_RX_SLOTS + 1));
  /** A capture: the frame is copied into dom0 at `local` and handed to dev.net_capture. */
  capture: bool = false;
  /** For a host port: the frame is copied into dom0 at `local` and handed to the port's hostSend. */
  host: bool = false;
}
const MAX_DELIVERIES: i32 = 256;
function makeDeliveries(): StaticArray<Delivery> {
  const a = new StaticArray<Delivery>(MAX_DELIVERIES);
  for (let i = 0; i < MAX_DELIVERIES; i++) unchecked(a[i] = new Delivery());
  return a;
}
const deliveries = makeDeliveries();
let ndeliveries: i32 = 0;
/** Ports whose receive queues got responses in this batch (to push and notify once each). */
const touched = new Array<Port>();
const touchedQ = new Array<u32>();
/** dom0 memory for the captures of the current batch (a bump arena). */
const ARENA_SIZE: usize = 4 * <usize>MAX_FRAME;
const arena: usize = (heap.alloc(ARENA_SIZE + PAGE_SIZE) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
let arenaUsed: usize = 0;

/**
 * Takes `len` bytes of the arena (flushing the batch when it is full). A frame over half a page
 * starts on a page, as the senders' transmit slots do, so that each slot is one copy entry
 * rather than two (one per destination page it straddles).
 */
function arenaTake(len: u32): usize {
  if (len > <u32>PAGE_SIZE / 2) arenaUsed = (arenaUsed + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (arenaUsed + <usize>len > ARENA_SIZE) flush();
  const a = arena + arenaUsed;
  arenaUsed += (<usize>len + 7) & ~<usize>7;
  return a;
}

/** Appends one copy entry: source (domid+gref, or our address) to destination (domid+gref, or our address). */
function addCopy(srcDom: u16, srcRef: u32, srcOff: u32, srcLocal: usize, dstDom: u16, dstRef: u32, dstOff: u32, dstLocal: usize, len: u32): void {
  const c = changetype<gnttab_copy>(COPIES + <usize>ncopies * COPY_SIZE);
  const src = changetype<usize>(c), dst = src + offsetof<gnttab_copy>("dest_u_gmfn");
  const flags = gnttabCopySide(src, srcLocal, srcDom, srcRef, srcOff, GNTCOPY_source_gref)
    | gnttabCopySide(dst, dstLocal, dstDom, dstRef, dstOff, GNTCOPY_dest_gref);
  c.len = <u16>len;
  c.flags = <u16>flags;
  c.status = 0;
  c.__padding2 = 0;
  ncopies++;
}

/**
 * Adds the copies that move `len` bytes of the frame (pkt's grants, or our memory at `local`)
 * into a sequence of destination chunks. Destination: either the receive pages `d.ids` (grefs in
 * `grefs`) of `port`, page by page, or our memory at `dstLocal` (a capture or a slow path).
 * Every entry stays inside one source slot, one destination page, and one of our pages.
 */
function addFrameCopies(pkt: Pkt | null, local: usize, len: u32, dstDom: u16, grefs: StaticArray<u32> | null, dstLocal: usize): void {
  if (pkt !== null && local == 0) {
    // A frame from a host port is in our memory; so is a frame the peek read whole (up to PEEK
    // bytes): copying from our copy pins one grant per entry instead of two.
    if (pkt.local != 0) local = pkt.local;
    else if (pkt.peeked == pkt.len && dstLocal != pkt.hdr) local = pkt.hdr;
  }
  let srcSlot: u32 = 0, srcOff: u32 = 0; // position in the source
  let done: u32 = 0;
  while (done < len) {
    // Source run: what is left of the current slot (or of our current page).
    let srcRef: u32 = 0, srcPos: u32 = 0, srcAddr: usize = 0, run: u32;
    if (local != 0) {
      srcAddr = local + done;
      run = <u32>PAGE_SIZE - <u32>(srcAddr & (PAGE_SIZE - 1));
    } else {
      const p = pkt!;
      while (srcOff >= <u32>unchecked(p.sizes[srcSlot])) { srcSlot++; srcOff = 0; }
      srcRef = unchecked(p.grefs[srcSlot]);
      srcPos = <u32>unchecked(p.offsets[srcSlot]) + srcOff;
      run = <u32>unchecked(p.sizes[srcSlot]) - srcOff;
    }
    // Destination run: what is left of the current receive page (or of our current page).
    let dstRef: u32 = 0, dstPos: u32 = 0, dstAddr: usize = 0;
    if (dstLocal != 0) {
      dstAddr = dstLocal + done;
      run = min(run, <u32>PAGE_SIZE - <u32>(dstAddr & (PAGE_SIZE - 1)));
    } else {
      dstRef = unchecked(grefs![<i32>(done / <u32>PAGE_SIZE)]);
      dstPos = done % <u32>PAGE_SIZE;
      run = min(run, <u32>PAGE_SIZE - dstPos);
    }
    run = min(run, len - done);
    if (ncopies >= BATCH) flushCopies();
    addCopy(pkt !== null ? pkt.src!.domid : 0, srcRef, srcPos, srcAddr, dstDom, dstRef, dstPos, dstAddr, run);
    done += run;
    if (local == 0) srcOff += run;
  }
}

/** Runs the copy entries gathered so far (one hypercall) without completing deliveries. */
function flushCopies(): void {
  if (ncopies == 0) return;
  // Deliveries whose entries span two hypercalls keep their statuses: entries are checked by
  // index after each call, so record failures into the deliveries now.
  HYPERVISOR_grant_table_op(GNTTABOP_copy, COPIES, ncopies);
  switchStats.copyCalls++;
  switchStats.copyOps += <u64>ncopies;
  for (let i = 0; i < ndeliveries; i++) {
    const d = unchecked(deliveries[i]);
    const end = d === building ? ncopies : d.first + d.count;
    for (let j = max(d.first, 0); j < min(end, ncopies); j++) {
      if (changetype<gnttab_copy>(COPIES + <usize>j * COPY_SIZE).status != GNTST_okay) d.len = 0xffffffff; // failed
    }
    d.first -= ncopies;
  }
  ncopies = 0;
}

const GRBUF = new StaticArray<u32>(<i32>(MAX_RX_SLOTS + 1));

/** Starts a delivery record of `len` bytes to `port` queue `q`; null when the batch is full (flush and retry). */
function newDelivery(): Delivery {
  if (ndeliveries >= MAX_DELIVERIES) flush();
  const d = unchecked(deliveries[ndeliveries++]);
  d.first = ncopies;
  d.count = 0;
  d.nbufs = 0;
  d.capture = false;
  d.host = false;
  d.pkt = null;
  d.port = null;
  d.local = 0;
  return d;
}

/**
 * Copies a frame into `port`'s queue `q` now: takes receive buffers (one per page, one more for a
 * GSO extra-info slot) and adds the copies. The caller checked there are enough buffers.
 */
function deliverNow(pkt: Pkt | null, local: usize, len: u32, offload: u32, gsoType: u8, gsoSize: u16, port: Port, q: u32): void {
  const d = newDelivery();
  d.pkt = pkt;
  d.port = port;
  d.q = q;
  d.local = local;
  d.len = len;
  d.offload = offload;
  d.gsoType = gsoType;
  d.gsoSize = gsoSize;
  const pages = (len + <u32>PAGE_SIZE - 1) / <u32>PAGE_SIZE;
  const bufs = pages + (gsoType != 0 ? 1 : 0);
  let g: u32 = 0;
  for (let i: u32 = 0; i < bufs; i++) {
    const b = port.takeRxBuffer(q);
    unchecked(d.ids[i] = <u16>(b & 0xffff));
    // The extra-info slot takes the second buffer; data goes to the others.
    if (!(gsoType != 0 && i == 1)) unchecked(GRBUF[g++] = <u32>(b >> 16));
  }
  d.nbufs = bufs;
  if (pkt !== null) pkt.refs++;
  d.first = ncopies;
  building = d;
  addFrameCopies(pkt, local, len, port.domid, GRBUF, 0);
  building = null;
  d.count = ncopies - d.first;
}

/** Adds a capture of the frame (into the arena) to the batch. */
function capture(pkt: Pkt): void {
  const buf = arenaTake(pkt.len);
  const d = newDelivery();
  d.capture = true;
  d.local = buf;
  d.len = pkt.len;
  d.offload = pkt.offload;
  d.first = ncopies;
  building = d;
  addFrameCopies(pkt, 0, pkt.len, 0, null, buf);
  building = null;
  d.count = ncopies - d.first;
}

/** Adds the copy of `pkt` into dom0's memory for host port `p` to the batch (sent at flush). */
function toHostLater(pkt: Pkt, p: Port): void {
  const buf = arenaTake(pkt.len);
  const d = newDelivery();
  d.host = true;
  d.port = p;
  d.local = buf;
  d.len = pkt.len;
  d.pkt = pkt;
  pkt.refs++;
  d.first = ncopies;
  building = d;
  addFrameCopies(pkt, 0, pkt.len, 0, null, buf);
  building = null;
  d.count = ncopies - d.first;
}

/** Hands a frame already in dom0's memory (a slow path's result) to `p`: its hostSend, or queue `q`'s receive buffers. */
function deliverLocal(addr: usize, len: u32, offload: u32, gsoType: u8, gsoSize: u16, p: Port, q: u32): void {
  if (!p.host) { deliverNow(null, addr, len, offload, gsoType, gsoSize, p, q); return; }
  p.hostSend(addr, len);
  p.rxFrames++;
  p.rxBytes += len;
}

/**
 * Completes the batch: runs the copies, writes each destination's receive responses (an error
 * status where a copy failed), pushes and notifies each touched queue once, hands captures to
 * the host, and releases the frames (transmit responses once their last destination is done).
 */
export function flush(): void {
  flushCopies();
  for (let i = 0; i < ndeliveries; i++) {
    const d = unchecked(deliveries[i]);
    if (d.capture) {
      if (d.len == 0xffffffff) continue;
      // A capture shows the frame as it would be on a wire: a checksum left blank is filled in.
      if ((d.offload & FRAME_CSUM_BLANK) != 0) l4ChecksumFill(d.local, d.len);
      dev_net_capture(<i32>d.local, <i32>d.len);
      switchStats.captured++;
      continue;
    }
    if (d.host) {
      const hp = d.port!;
      if (d.len == 0xffffffff) { switchStats.dropCopyError++; hp.rxDropped++; d.pkt!.status = NETIF_RSP_ERROR; }
      else { hp.hostSend(d.local, d.len); hp.rxFrames++; hp.rxBytes += d.len; switchStats.bytesCopied += d.len; }
      release(d.pkt!);
      continue;
    }
    const port = d.port!;
    const failed = d.len == 0xffffffff;
    const len = failed ? 0 : d.len;
    if (failed) { switchStats.dropCopyError++; port.rxDropped++; }
    else { port.rxFrames++; port.rxBytes += len; switchStats.bytesCopied += len; }
    let left = len;
    for (let b: u32 = 0, data: u32 = 0; b < d.nbufs; b++) {
      const id = unchecked(d.ids[b]);
      if (d.gsoType != 0 && b == 1) {
        // The GSO extra-info slot (netif.h: right after the first data slot).
        const e = changetype<netif_extra_info>(EXTRA);
        memory.fill(EXTRA, 0, RX_SLOT);
        e.type = <u8>XEN_NETIF_EXTRA_TYPE_GSO;
        e.u_gso_type = d.gsoType;
        e.u_gso_size = d.gsoSize;
        store<u16>(EXTRA + 6, 0);
        port.rxRespondRaw(d.q, EXTRA);
        continue;
      }
      const n = min(left, <u32>PAGE_SIZE);
      let flags: u32 = data == 0 ? rxFlags(d.offload) | (d.gsoType != 0 ? NETRXF_extra_info : 0) : 0;
      if (data + 1 < d.nbufs - (d.gsoType != 0 ? 1 : 0)) flags |= NETRXF_more_data;
      port.rxRespond(d.q, id, 0, <u16>flags, failed ? NETIF_RSP_ERROR : <i16>n);
      left -= n;
      data++;
    }
    touch(port, d.q);
    const pkt = d.pkt;
    if (pkt !== null) {
      if (failed) pkt.status = NETIF_RSP_ERROR;
      release(pkt);
    }
  }
  ndeliveries = 0;
  arenaUsed = 0;
  for (let i = 0; i < touched.length; i++) touched[i].rxPush(touchedQ[i]);
  touched.length = 0;
  touchedQ.length = 0;
  const hook = flushHook;
  if (hook !== null) hook();
}

const EXTRA = memory.data(<i32>RX_SLOT, 8);

function touch(port: Port, q: u32): void {
  for (let i = 0; i < touched.length; i++) if (touched[i] === port && touchedQ[i] == q) return;
  touched.push(port);
  touchedQ.push(q);
}

/** Drops one destination's hold on `pkt`; the last one answers the sender. */
function release(pkt: Pkt): void {
  // A frame dropped for one destination still counts as sent for the sender (NETIF_RSP_OKAY):
  // the sender's frame was fine, as when Linux's bridge drops a frame for a full port.
  pkt.refs--;
  if (pkt.refs <= 0) {
    const src = pkt.src;
    if (src !== null && src.gen == pkt.gen && src.index >= 0) src.txComplete(pkt);
  }
}

/** Called at the end of every flush (netback publishes the transmit responses it wrote). */
let flushHook: (() => void) | null = null;

/** Sets the function flush() calls when it is done. */
export function setFlushHook(fn: () => void): void {
  flushHook = fn;
}

// ---- forwarding ------------------------------------------------------------------------------

/** Where the one-byte copies that check a frame's later grants (peekHeaders) go. */
const VALIDATE = memory.data(8, 8);

/** Where each frame's peek copies start in a peekHeaders batch. */
const PEEK_FIRST = new StaticArray<i32>(1024);

/**
 * Copies the first PEEK bytes (or the whole frame, if shorter) of each frame in `pkts` into its
 * `hdr`, in as few hypercalls as the batch allows; sets `peeked` to the bytes read, or 0 where a
 * copy failed (a grant the sender never gave, or a range outside it).
 */
export function peekHeaders(pkts: Array<Pkt>): void {
  flush();
  let start = 0;
  while (start < pkts.length) {
    let end = start;
    while (end < pkts.length && end - start < PEEK_FIRST.length && ncopies + 4 <= BATCH) {
      const p = pkts[end];
      if (end > start && ncopies + 4 + <i32>p.nslots > BATCH) break;
      unchecked(PEEK_FIRST[end - start] = ncopies);
      addFrameCopies(p, 0, min(p.len, PEEK), 0, null, p.hdr);
      // Every later slot's grant is checked now too (one byte of it), as Linux's netback maps or
      // copies every slot before it answers: a frame that reaches no receiver (or only full
      // ones) is never read again, and must not be answered NETIF_RSP_OKAY with a bad grant.
      if (p.local == 0) {
        for (let s: u32 = 1; s < p.nslots; s++) {
          const off = <u32>unchecked(p.offsets[s]) + <u32>unchecked(p.sizes[s]);
          addCopy(p.src!.domid, unchecked(p.grefs[s]), off > 0 ? off - 1 : 0, 0, 0, 0, 0, VALIDATE, 1);
        }
      }
      end++;
    }
    if (ncopies > 0) {
      HYPERVISOR_grant_table_op(GNTTABOP_copy, COPIES, ncopies);
      switchStats.copyCalls++;
      switchStats.copyOps += <u64>ncopies;
    }
    for (let i = start; i < end; i++) {
      const p = pkts[i];
      const from = unchecked(PEEK_FIRST[i - start]);
      const to = i + 1 < end ? unchecked(PEEK_FIRST[i + 1 - start]) : ncopies;
      let ok = true;
      for (let j = from; j < to; j++) if (changetype<gnttab_copy>(COPIES + <usize>j * COPY_SIZE).status != GNTST_okay) ok = false;
      p.peeked = ok ? min(p.len, PEEK) : 0;
    }
    ncopies = 0;
    start = end;
  }
}

/**
 * Forwards the frames `pkts[0..n)` of one sender (their headers peeked): learns, picks the
 * destinations, delivers or queues, captures. Call flush() when the caller's batch is done. A
 * frame with no destination is answered at once.
 */
export function forward(pkt: Pkt): void {
  const src = pkt.src!;
  const t = now();
  const dst = pkt.dst, smac = pkt.srcMac;
  src.txFrames++;
  if (!isGroupMac(smac)) learnAt(smac, src.index, t);
  pkt.refs = 1; // held by the forwarding itself until the end of this call
  if (captureOn()) capture(pkt);
  const hash = flowHash(pkt.hdr, pkt.peeked);
  if (!isGroupMac(dst)) {
    const to = lookup(dst, t);
    if (to >= 0 && to != src.index) {
      const p = ports[to];
      if (p !== null) { toPort(pkt, p, hash); switchStats.forwarded++; }
    } else if (to < 0) flood(pkt, src, dst, hash);
  } else flood(pkt, src, dst, hash);
  release(pkt);
}

function flood(pkt: Pkt, src: Port, dst: u64, hash: u32): void {
  switchStats.flooded++;
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i];
    if (p === null || p === src) continue;
    if (isGroupMac(dst) && !p.wantsGroup(dst)) continue;
    toPort(pkt, p, hash);
  }
}

/** Sends `pkt` to port `p`: now (fast or slow path), into its pending list, or dropped. */
function toPort(pkt: Pkt, p: Port, hash: u32): void {
  if (p.host) {
    if (slow(pkt, p)) slowPath(pkt, p, 0);
    else toHostLater(pkt, p);
    return;
  }
  const q = p.rxQueueFor(pkt, hash, hash != 0);
  const need = buffersNeeded(pkt, p);
  // A frame that needs more buffers than the ring holds (a GSO frame with a tiny MSS) never fits.
  if (need < 0 || <u32>need > p.rxCapacity(q)) { p.rxDropped++; switchStats.dropTooBig++; return; }
  const list = p.pendingOf(q);
  if (list.count == 0 && p.rxHas(q, <u32>need)) { send(pkt, p, q); return; }
  // Wait for buffers (back-pressure), or drop when the list is full, or when the receiver has
  // posted nothing for a while and the sender already has many frames waiting.
  const t = now();
  const src = pkt.src!;
  const stalled = p.lastPost == 0 || t - p.lastPost > STALL_NS;
  if (list.count >= PENDING_MAX || (src.held >= PENDING_PER_SENDER && stalled)) { p.rxDropped++; switchStats.dropNoBuffer++; return; }
  pkt.since = t;
  list.push(pkt);
  src.held++;
  pkt.refs++;
  armDrain();
  // Ask for an event when buffers come, then look again: they may have come just before we asked.
  if (list.count == 1) switchDrain(p, q);
}

/** Whether `pkt` is a GSO frame of a type `p` did not negotiate: the switch segments it for `p`. */
@inline function mustSegment(pkt: Pkt, p: Port): bool {
  const gso = pkt.gsoType;
  return gso != 0 && !(gso == XEN_NETIF_GSO_TYPE_TCPV4 ? p.rxGsoV4 : p.rxGsoV6);
}

/** Whether `p` must get `pkt` through the slow path (it cannot take the frame's GSO or blank checksum). */
function slow(pkt: Pkt, p: Port): bool {
  if (mustSegment(pkt, p)) return true;
  if ((pkt.offload & FRAME_CSUM_BLANK) == 0) return false;
  const v6 = pkt.peeked >= 14 && load<u8>(pkt.hdr + 12) == 0x86 && load<u8>(pkt.hdr + 13) == 0xdd;
  return !(v6 ? p.rxCsumV6 : p.rxCsumV4);
}

/**
 * Receive buffers `p` needs for `pkt` (one per page of each frame it gets, one more for a GSO
 * extra-info slot); -1 when `p` cannot take it at all (a frame over one page without
 * scatter-gather, or a GSO frame the switch cannot segment).
 */
function buffersNeeded(pkt: Pkt, p: Port): i32 {
  if (mustSegment(pkt, p)) {
    // Segments: each carries the headers and up to gsoSize payload bytes.
    const hdrs = gsoHeaders(pkt.hdr, pkt.peeked);
    if (hdrs == 0 || pkt.len <= hdrs) return -1;
    const segLen = hdrs + <u32>pkt.gsoSize;
    if (segLen > <u32>PAGE_SIZE && !p.rxSg) return -1;
    const segs = (pkt.len - hdrs + <u32>pkt.gsoSize - 1) / <u32>pkt.gsoSize;
    return <i32>(segs * bufsFor(segLen, 0));
  }
  if (pkt.len > <u32>PAGE_SIZE && !p.rxSg) return -1;
  return <i32>bufsFor(pkt.len, pkt.gsoType);
}

@inline function bufsFor(len: u32, gso: u8): u32 {
  return (len + <u32>PAGE_SIZE - 1) / <u32>PAGE_SIZE + (gso != 0 ? 1 : 0);
}

/** Delivers `pkt` to `p`'s queue `q` (the caller checked its buffers): fast path or slow path. */
function send(pkt: Pkt, p: Port, q: u32): void {
  if (slow(pkt, p)) slowPath(pkt, p, q);
  else deliverNow(pkt, 0, pkt.len, pkt.offload, pkt.gsoType, pkt.gsoSize, p, q);
}

/** Scratch for the slow paths: the whole frame in dom0's memory, and the segments cut from it. */
const SLOW: usize = heap.alloc(MAX_FRAME);
const SEGS_SIZE: usize = 2 * <usize>MAX_FRAME;
const SEGS: usize = heap.alloc(SEGS_SIZE);

/**
 * The slow path for a receiver that cannot take the frame as it is (Linux: skb_gso_segment and
 * skb_checksum_help on the way to the port): copies it into dom0 (one hypercall, now), segments a
 * GSO frame or fills a blank checksum, and delivers the result from dom0's memory.
 */
function slowPath(pkt: Pkt, p: Port, q: u32): void {
  flush(); // run what is batched: the copy below is synchronous, and SLOW and SEGS are reused
  addFrameCopies(pkt, 0, pkt.len, 0, null, SLOW);
  const n = ncopies;
  HYPERVISOR_grant_table_op(GNTTABOP_copy, COPIES, n);
  switchStats.copyCalls++;
  switchStats.copyOps += <u64>n;
  ncopies = 0;
  for (let j = 0; j < n; j++) if (changetype<gnttab_copy>(COPIES + <usize>j * COPY_SIZE).status != GNTST_okay) {
    pkt.status = NETIF_RSP_ERROR;
    p.rxDropped++;
    switchStats.dropCopyError++;
    return;
  }
  if (mustSegment(pkt, p)) {
    // Segment: every segment gets its own headers and full checksums.
    const segs = segmentGso(SLOW, pkt.len, pkt.gsoSize, SEGS, SEGS_SIZE);
    if (segs < 0) { p.rxDropped++; switchStats.dropTooBig++; return; }
    switchStats.segmented++;
    let at: usize = 0;
    for (let s = 0; s < segs; s++) {
      const slen = load<u32>(SEGS + at);
      deliverLocal(SEGS + at + 8, slen, FRAME_DATA_VALIDATED, 0, 0, p, q);
      at += 8 + ((<usize>slen + 7) & ~<usize>7);
    }
  } else {
    if (l4ChecksumFill(SLOW, pkt.len)) switchStats.checksumsFilled++;
    deliverLocal(SLOW, pkt.len, (pkt.offload & ~FRAME_CSUM_BLANK) | FRAME_DATA_VALIDATED, pkt.gsoType, pkt.gsoSize, p, q);
  }
  flush();
}

/**
 * Delivers what waits on `p`'s queue `q` while it has buffers (called when the frontend posted
 * some), then re-arms its event if frames are still waiting. Call flush() afterwards.
 */
export function switchDrain(p: Port, q: u32): void {
  const list = p.pendingOf(q);
  while (list.count > 0) {
    const pkt = list.peek();
    const need = <u32>buffersNeeded(pkt, p);
    if (!p.rxHas(q, need)) {
      p.rxWantBuffers(q);
      if (!p.rxHas(q, need)) break; // the frontend's next post notifies us
    }
    list.shift();
    pkt.src!.held--;
    send(pkt, p, q);
    release(pkt); // the pending list's hold; the delivery took its own
  }
}

let drainTimer: i32 = 0;

function armDrain(): void {
  if (drainTimer > 0) return;
  drainTimer = timerSet(PENDING_TIMEOUT_NS / 2, onDrainTimer, 0);
}

/** Drops frames that waited longer than PENDING_TIMEOUT_NS for buffers. */
function onDrainTimer(arg: usize): void {
  drainTimer = 0;
  const t = now();
  let waiting = false;
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i];
    if (p === null) continue;
    for (let q: u32 = 0; q < p.nrRxQueues(); q++) {
      const list = p.pendingOf(q);
      switchDrain(p, q);
      while (list.count > 0 && t - list.peek().since >= PENDING_TIMEOUT_NS) {
        const pkt = list.shift();
        pkt.src!.held--;
        release(pkt);
        p.rxDropped++;
        switchStats.dropTimeout++;
      }
      if (list.count > 0) waiting = true;
    }
  }
  flush();
  if (waiting) armDrain();
}

