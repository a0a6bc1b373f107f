// netback: the backend half of the net split driver, as dom0 runs it next to blkback (DESIGN §7).
// It finds its vifs under `backend/vif/<frontend>/<handle>` (the toolstack writes them, libxl's
// layout), advertises netif.h's features, takes up the frontend's rings and event channels (per
// queue, one channel or split ones), and puts each vif on dom0's switch (switch.ts) as a port:
// frames the frontend transmits go into the switch, which copies frames for the vif straight
// into the receive buffers the frontend posts.
//
// Distrust: every transmit request is copied out of the ring and checked (proto.ts) before use.
// A bad frame (too short, slot sizes that do not add up, too many slots) is dropped and answered
// with NETIF_RSP_ERROR; a frontend that breaks the protocol (a slot across a page end, malformed
// extra info, a frame not wholly published, an impossible producer index, more than
// FATAL_TX_SLOTS slots) is disconnected, that vif only, with an `error` node and Closing (Linux's
// xenvif_fatal_tx_err). Grant refs it never granted fail their copies: the frame is dropped and
// counted; dom0 never touches memory it was not granted. Other vifs keep being served.
//
// Ownership: vifs live in `vifs` for the life of dom0 (their index is the `arg` of callbacks);
// queues own their ring mappings, ports, Pkt records (one per transmit slot) and pending lists.
// The frame path allocates nothing.
import {
  TX_SLOT, TX_RSP, RX_SLOT, MAX_QUEUES, DEFAULT_MTU, ETH_HLEN, MAX_FRAME, TxFrame, parseTxFrame, txUsed, txVerdict,
  TX_DROP, TX_FATAL, writeTxResponse, writeRxResponse,
  K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_EVENT_CHANNEL_TX, K_EVENT_CHANNEL_RX, K_REQUEST_RX_COPY,
  K_FEATURE_RX_COPY, K_FEATURE_RX_FLIP, K_FEATURE_RX_NOTIFY, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6,
  K_NO_CSUM_OFFLOAD, K_IPV6_CSUM_OFFLOAD, K_SPLIT_EVTCHN, K_MAX_QUEUES, K_NUM_QUEUES, K_MCAST_CONTROL,
  K_DYN_MCAST_CONTROL, K_REQUEST_MCAST_CONTROL, K_MAC, K_MTU, K_RATE, K_CTRL_RING,
  NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_NULL, XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
} from "./proto";
import { Pkt, Port, PendingList, switchStats, forward, flush, switchAddPort, switchRemovePort, switchDrain, purge, peekHeaders, setFlushHook } from "./switch";
import { CtrlRing, ctrlRingKeys } from "./ctrl";
import { Keys, readKeys, writeKeys, parseU64, queueKey, watchBackends } from "../common/xenbus";
import { macParse, macFormat } from "../../assembly/net/addr";
import { BackRing } from "../../assembly/ring";
import { SharedPage, gnttabMap, gnttabUnmap } from "../../assembly/gnttab";
import { evtchnBindInterdomain, evtchnClose, evtchnNotify } from "../../assembly/evtchn";
import { xenbusSwitchState, xenbusWatchState, xenbusUnwatchState, xenbusDevFatal } from "../../assembly/xenbus";
import { xsWatch, xsUnwatch, xsRead, XBT_NIL, XsReply } from "../../assembly/xenstore";
import { puts, printk, putu } from "../../assembly/console";
import { now, timerSet, timerSetAt, NS_PER_US } from "../../assembly/time";
import { GNTMAP_host_map, GNTST_okay } from "../../assembly/xen/grant_table";
import {
  XenbusStateInitialising, XenbusStateInitWait, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed, XenbusStateUnknown,
} from "../../assembly/xen/io/xenbus";
import { XEN_EINVAL, XEN_EOPNOTSUPP, XEN_ENOENT } from "../../assembly/xen/errno";

/** What this backend offers; dom0's command line may narrow it (drivers/dom0/main.ts). */
export class NetbackConfig {
  sg: bool = true;
  gso: bool = true;
  ipv6Csum: bool = true;
  split: bool = true;
  maxQueues: u32 = MAX_QUEUES;
  mcast: bool = true;
  ctrlRing: bool = true;

  /** Copies every setting of `o` into this configuration. */
  copyFrom(o: NetbackConfig): void {
    this.sg = o.sg;
    this.gso = o.gso;
    this.ipv6Csum = o.ipv6Csum;
    this.split = o.split;
    this.maxQueues = o.maxQueues;
    this.mcast = o.mcast;
    this.ctrlRing = o.ctrlRing;
  }
}

/** The configuration every vif probed from now on gets. */
export const netbackConfig = new NetbackConfig();

/** Vif life cycle on our side. */
const S_PROBING = 0, S_WAITING = 1, S_INITWAIT = 2, S_CONNECTING = 3, S_CONNECTED = 4, S_CLOSED = 5;

/** One queue of a vif: its two rings, their ports, and the frames in flight from it and to it. */
class VQueue {
  tx: BackRing | null = null;
  rx: BackRing | null = null;
  txPage: SharedPage = new SharedPage();
  rxPage: SharedPage = new SharedPage();
  txPort: i32 = -1;
  rxPort: i32 = -1;
  /** The transmit slots of one batch, copied out of the ring (RING_COPY_REQUEST). */
  txSlots: usize = 0;
  frame: TxFrame = new TxFrame();
  /** One Pkt per transmit slot (a frame uses at least one), and the free ones. */
  pkts: StaticArray<Pkt> = new StaticArray<Pkt>(0);
  freePkt: Pkt | null = null;
  /** Frames parsed and waiting for transmit credit (the `rate` limit), in order. */
  deferred: PendingList = new PendingList();
  /** Receive buffers taken from the ring and not used yet: ids and grefs (a FIFO). */
  rxIds: StaticArray<u16> = new StaticArray<u16>(0);
  rxGrefs: StaticArray<u32> = new StaticArray<u32>(0);
  rxHead: i32 = 0;
  rxCount: i32 = 0;
  rxSlots: usize = 0;
  pending: PendingList = new PendingList();
  /**
   * Responses written since the last push, staged in our memory (whole slots) and copied into
   * the ring in one run per push: a slot written through a mapped grant is a host call each.
   */
  txStage: usize = 0;
  txStaged: u32 = 0;
  rxStage: usize = 0;
  rxStaged: u32 = 0;
  /** The managed buffers behind txSlots, rxSlots, txStage and rxStage: collected with the queue at disconnect. */
  buffers: Array<StaticArray<u8>> = new Array<StaticArray<u8>>();
  constructor(public vif: Vif, public index: u32) {}

  /** A zeroed scratch buffer of `bytes` that lives as long as this queue; its address. */
  scratch(bytes: usize): usize {
    const b = new StaticArray<u8>(<i32>bytes);
    this.buffers.push(b);
    return changetype<usize>(b);
  }
}

/** One vif: a frontend's network interface and its port on the switch. */
export class Vif extends Port {
  id: i32;
  frontId: u32;
  handle: u32;
  path: string;
  frontPath: string = "";
  mac: u64 = 0;
  mtu: u32 = DEFAULT_MTU;
  phase: i32 = S_PROBING;
  dirty: bool = false;
  cfg: NetbackConfig = new NetbackConfig();
  queues: Array<VQueue> = new Array<VQueue>();
  /** Negotiated: the frontend may send GSO (we offered it), multicast control, split channels. */
  txGso: bool = false;
  split: bool = false;
  ctrl: CtrlRing | null = null;
  /** Credit-based transmit shaping (Linux's tx_credit_exceeded): bytes per window of usec; 0: unlimited. */
  creditBytes: u64 = 0;
  creditUsec: u64 = 0;
  remainingCredit: u64 = 0;
  windowStart: u64 = 0;
  creditTimer: i32 = 0;
  /** Frames dropped as malformed. */
  badFrames: u64 = 0;
  /** The watch on the frontend's request-multicast-control (feature-dynamic-multicast-control), 0: none. */
  mcastWatch: i32 = 0;
  /** The watch on the frontend's state (from InitWait on), 0: none. */
  frontWatch: i32 = 0;
  /** A receive ring's error, found inside the switch and acted on from a timer (0: none). */
  rxError: i32 = 0;
  constructor(id: i32, frontId: u32, handle: u32) {
    super();
    this.id = id;
    this.frontId = frontId;
    this.handle = handle;
    this.domid = <u16>frontId;
    this.path = "backend/vif/" + frontId.toString() + "/" + handle.toString();
  }

  nrRxQueues(): u32 { return <u32>this.queues.length; }
  rxQueueFor(pkt: Pkt, hash: u32, hashValid: bool): u32 {
    const n = <u32>this.queues.length;
    if (n <= 1) return 0;
    const c = this.ctrl;
    if (c !== null && c.active()) return c.queueFor(pkt.hdr, pkt.peeked, n);
    return hashValid ? hash % n : 0;
  }
  rxHas(q: u32, need: u32): bool {
    const vq = this.queues[<i32>q];
    // Buffers already taken answer most frames without reading the ring's index (a host call).
    if (<u32>vq.rxCount >= need) return true;
    const r = vq.rx;
    if (r === null) return false;
    const n = r.unconsumedRequests();
    if (n < 0) rxBroken(this, n);
    return <u32>vq.rxCount + (n > 0 ? <u32>n : 0) >= need;
  }
  rxCapacity(q: u32): u32 {
    const r = this.queues[<i32>q].rx;
    return r === null ? 0 : r.size;
  }
  takeRxBuffer(q: u32): i64 {
    const vq = this.queues[<i32>q];
    if (vq.rxCount == 0 && !refillRx(this, vq)) return -1;
    const i = vq.rxHead;
    vq.rxHead = (i + 1) % vq.rxIds.length;
    vq.rxCount--;
    return <i64>unchecked(vq.rxIds[i]) | (<i64>unchecked(vq.rxGrefs[i]) << 16);
  }
  rxRespond(q: u32, id: u16, offset: u16, flags: u16, status: i16): void {
    const vq = this.queues[<i32>q];
    if (vq.rx === null) return;
    writeRxResponse(vq.rxStage + <usize>(vq.rxStaged++) * RX_SLOT, id, offset, flags, status);
  }
  rxRespondRaw(q: u32, slot: usize): void {
    const vq = this.queues[<i32>q];
    if (vq.rx === null) return;
    memory.copy(vq.rxStage + <usize>(vq.rxStaged++) * RX_SLOT, slot, RX_SLOT);
  }
  rxPush(q: u32): void {
    const vq = this.queues[<i32>q];
    const r = vq.rx;
    const n = vq.rxStaged;
    vq.rxStaged = 0;
    if (r === null) return;
    // One copy for the batch (a response never outruns the requests it answers: at most the
    // ring's size are staged); an error breaks the ring and the next service disconnects.
    if (n > 0) r.produceBatch(vq.rxStage, n);
    if (r.pushResponsesAndCheckNotify() && vq.rxPort >= 0) evtchnNotify(<u32>vq.rxPort);
  }
  rxWantBuffers(q: u32): void {
    // Take every posted buffer first: req_event is re-armed only once the ring looks empty
    // (RING_FINAL_CHECK_FOR_REQUESTS), and a frame may need more buffers than are posted now.
    const vq = this.queues[<i32>q];
    const r = vq.rx;
    if (r === null) return;
    for (;;) {
      refillRx(this, vq);
      const more = r.finalCheckForRequests();
      if (more < 0) rxBroken(this, more);
      if (more <= 0) return;
    }
  }
  txComplete(pkt: Pkt): void {
    const vq = this.queues[<i32>pkt.queue];
    respondFrame(vq, pkt.ids, pkt.isExtra, pkt.nreq, pkt.status);
    pkt.nextFree = vq.freePkt;
    vq.freePkt = pkt;
  }
  pendingOf(q: u32): PendingList { return this.queues[<i32>q].pending; }
}

const vifs = new Array<Vif>();
const RSP = memory.data(8, 8);

// ---- discovery and negotiation ---------------------------------------------------------------

/**
 * Starts netback: watches `backend/vif` for vifs the toolstack creates. `cfg` is what every vif
 * will offer. Returns 0 or the xenstore error.
 */
export function netbackInit(cfg: NetbackConfig): i32 {
  netbackConfig.copyFrom(cfg);
  setFlushHook(pushTxResponses);
  return watchBackends("vif", found);
}

/** Vifs known so far (probing, connected or closed). */
export function netbackVifs(): i32 {
  return vifs.length;
}

function found(fe: u32, handle: u32): void {
  let v: Vif | null = null;
  for (let i = 0; i < vifs.length; i++) if (vifs[i].frontId == fe && vifs[i].handle == handle) v = vifs[i];
  if (v === null) {
    v = new Vif(vifs.length, fe, handle);
    vifs.push(v);
    probe(v);
    return;
  }
  if (v.phase == S_PROBING) v.dirty = true;
  else if (v.phase == S_WAITING) probe(v);
  else if (v.phase == S_CLOSED) xsRead(XBT_NIL, v.path + "/state", onClosedState, <usize>v.id);
}

/**
 * A closed vif whose directory the toolstack removed (libxl's detach ends with xenstore-rm) is
 * forgotten: the next directory at that path is a new device to probe (a re-attach).
 */
function onClosedState(status: i32, reply: XsReply, arg: usize): void {
  const v = vifs[<i32>arg];
  if (v.phase != S_CLOSED || status != -XEN_ENOENT) return;
  if (v.frontWatch > 0) xenbusUnwatchState(v.frontWatch);
  v.frontWatch = 0;
  v.phase = S_WAITING;
  probe(v); // the directory may already be back
}

/** xenwasm's per-vif narrowing of the offer, written by the toolstack (`--vif queues=N,features=none`). */
const K_XW_MAX_QUEUES = "xenwasm-max-queues", K_XW_FEATURES = "xenwasm-features";
const PROBE_KEYS: Array<string> = ["frontend", "frontend-id", K_MAC, K_RATE, K_MTU, K_XW_MAX_QUEUES, K_XW_FEATURES];

function probe(v: Vif): void {
  v.phase = S_PROBING;
  v.dirty = false;
  if (readKeys(v.path, PROBE_KEYS, onProbed, <usize>v.id) < 0) v.phase = S_WAITING;
}

function onProbed(k: Keys, arg: usize): void {
  const v = vifs[<i32>arg];
  const front = k.get("frontend"), feId = k.u32("frontend-id", 0xffffffff), mac = k.get(K_MAC);
  if (front === null || mac === null || feId < 0 || feId == 0xffffffff) {
    // The toolstack is still writing the directory (or it went away): wait for the next event.
    if (v.dirty) probe(v);
    else v.phase = S_WAITING;
    return;
  }
  if (<u32>feId != v.frontId) return fatal(v, -XEN_EINVAL, "frontend-id does not match the backend path");
  const m = macParse(mac);
  if (m < 0) return fatal(v, -XEN_EINVAL, "malformed mac " + mac);
  v.mac = <u64>m;
  v.frontPath = front;
  const mtu = k.u32(K_MTU, DEFAULT_MTU);
  if (mtu < 68 || mtu > <i64>(MAX_FRAME - ETH_HLEN)) return fatal(v, -XEN_EINVAL, "mtu out of range");
  v.mtu = <u32>mtu;
  // rate: "bytes,usec" (libxl), as Linux's xen_net_read_rate.
  const rate = k.get(K_RATE);
  if (rate !== null && rate.length > 0) {
    const comma = rate.indexOf(",");
    const b = comma > 0 ? parseU64(rate.substring(0, comma)) : -1, u = comma > 0 ? parseU64(rate.substring(comma + 1)) : -1;
    if (b <= 0 || u <= 0) return fatal(v, -XEN_EINVAL, "malformed rate " + rate + " (bytes,usec)");
    v.creditBytes = <u64>b;
    v.creditUsec = <u64>u;
  }
  const c = v.cfg;
  c.copyFrom(netbackConfig);
  if (k.get(K_XW_FEATURES) == "none") {
    c.sg = false; c.gso = false; c.ipv6Csum = false; c.split = false; c.mcast = false; c.ctrlRing = false; c.maxQueues = 1;
  }
  const mq = k.u32(K_XW_MAX_QUEUES, c.maxQueues);
  if (mq >= 1 && <u32>mq < c.maxQueues) c.maxQueues = <u32>mq;
  const names = new Array<string>(), values = new Array<string>();
  put(K_FEATURE_SG, c.sg, names, values);
  put(K_GSO_TCPV4, c.sg && c.gso, names, values);
  put(K_GSO_TCPV6, c.sg && c.gso, names, values);
  put(K_IPV6_CSUM_OFFLOAD, c.ipv6Csum, names, values);
  put(K_FEATURE_RX_COPY, true, names, values);
  put(K_FEATURE_RX_FLIP, false, names, values);
  put(K_MCAST_CONTROL, c.mcast, names, values);
  put(K_DYN_MCAST_CONTROL, c.mcast, names, values);
  put(K_SPLIT_EVTCHN, c.split, names, values);
  put(K_CTRL_RING, c.ctrlRing, names, values);
  names.push(K_MAX_QUEUES);
  values.push(c.maxQueues.toString());
  if (writeKeys(v.path, names, values, onFeaturesWritten, <usize>v.id) < 0) fatal(v, -XEN_EINVAL, "cannot write features");
}

function put(n: string, on: bool, names: Array<string>, values: Array<string>): void {
  names.push(n);
  values.push(on ? "1" : "0");
}

function onFeaturesWritten(status: i32, arg: usize): void {
  const v = vifs[<i32>arg];
  if (status < 0) return fatal(v, status, "writing features");
  v.phase = S_INITWAIT;
  xenbusSwitchState(v.path, XenbusStateInitWait);
  const id = xenbusWatchState(v.frontPath, onFrontState, <usize>v.id);
  if (id < 0) return fatal(v, id, "watching the frontend's state");
  v.frontWatch = id;
}

function onFrontState(state: i32, arg: usize): void {
  const v = vifs[<i32>arg];
  if (state == XenbusStateConnected) {
    if (v.phase == S_INITWAIT) {
      v.phase = S_CONNECTING;
      const names: Array<string> = [K_REQUEST_RX_COPY, K_FEATURE_RX_NOTIFY, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6,
        K_NO_CSUM_OFFLOAD, K_IPV6_CSUM_OFFLOAD, K_REQUEST_MCAST_CONTROL, K_NUM_QUEUES];
      for (let i = 0; i < ctrlRingKeys.length; i++) names.push(ctrlRingKeys[i]);
      if (readKeys(v.frontPath, names, onFrontKeys, <usize>v.id) < 0) fatal(v, -XEN_EINVAL, "reading the frontend's keys");
    }
  } else if (state == XenbusStateInitialising) {
    // A frontend that closed starts again (Linux's frontend_changed: Initialising sets the
    // backend back to InitWait, "prepare for reconnect"): the features written at probe time
    // still stand, and the watch on the frontend never stopped.
    if (v.phase == S_CLOSED || v.phase == S_INITWAIT) {
      disconnect(v);
      v.phase = S_INITWAIT;
      xenbusSwitchState(v.path, XenbusStateInitWait);
    }
  } else if (state == XenbusStateClosing) {
    disconnect(v);
    if (v.phase != S_CLOSED) xenbusSwitchState(v.path, XenbusStateClosing);
  } else if (state == XenbusStateClosed || state == XenbusStateUnknown) {
    if (v.phase == S_INITWAIT && state == XenbusStateUnknown) return;
    disconnect(v);
    v.phase = S_CLOSED;
    xenbusSwitchState(v.path, XenbusStateClosed);
  }
}

function onFrontKeys(k: Keys, arg: usize): void {
  const v = vifs[<i32>arg];
  if (v.phase != S_CONNECTING) return;
  if (k.u32(K_REQUEST_RX_COPY, 0) != 1) return fatal(v, -XEN_EOPNOTSUPP, "the frontend does not request rx-copy (page flipping is not supported)");
  if (k.u32(K_FEATURE_RX_NOTIFY, 0) != 1) return fatal(v, -XEN_EOPNOTSUPP, "feature-rx-notify is mandatory");
  const queues = k.u32(K_NUM_QUEUES, 1);
  if (queues < 1 || <u32>queues > v.cfg.maxQueues) return fatal(v, -XEN_EINVAL, "multi-queue-num-queues must be 1.." + v.cfg.maxQueues.toString());
  const c = v.cfg;
  v.rxSg = k.u32(K_FEATURE_SG, 0) == 1;
  v.rxCsumV4 = k.u32(K_NO_CSUM_OFFLOAD, 0) != 1;
  v.rxCsumV6 = k.u32(K_IPV6_CSUM_OFFLOAD, 0) == 1;
  // GSO needs scatter-gather and checksum offload (Linux's netdev_fix_features drops TSO without them).
  v.rxGsoV4 = v.rxSg && v.rxCsumV4 && k.u32(K_GSO_TCPV4, 0) == 1;
  v.rxGsoV6 = v.rxSg && v.rxCsumV6 && k.u32(K_GSO_TCPV6, 0) == 1;
  v.mcastFilter = c.mcast && k.u32(K_REQUEST_MCAST_CONTROL, 0) == 1;
  v.nmcast = 0;
  v.txGso = c.sg && c.gso;
  const nq = <u32>queues;
  // Ring keys per queue: one event channel, or split ones when both ends offer them.
  const names = new Array<string>();
  for (let q: u32 = 0; q < nq; q++) {
    names.push(queueKey(nq, q, K_TX_RING_REF));
    names.push(queueKey(nq, q, K_RX_RING_REF));
    names.push(queueKey(nq, q, K_EVENT_CHANNEL));
    names.push(queueKey(nq, q, K_EVENT_CHANNEL_TX));
    names.push(queueKey(nq, q, K_EVENT_CHANNEL_RX));
  }
  v.queues = new Array<VQueue>();
  for (let q: u32 = 0; q < nq; q++) v.queues.push(new VQueue(v, q));
  // The control ring's keys were read with the others.
  if (c.ctrlRing) {
    const ctrl = new CtrlRing(v.domid);
    const rc = ctrl.connect(k, nq, onCtrlEvent, <usize>v.id);
    if (rc < 0) {
      // It may have mapped the ring before failing (a refused port): let go of it too.
      ctrl.disconnect();
      return fatal(v, rc, "cannot take up the control ring");
    }
    v.ctrl = rc > 0 ? ctrl : null;
  }
  if (readKeys(v.frontPath, names, onRingKeys, <usize>v.id) < 0) fatal(v, -XEN_EINVAL, "reading the ring keys");
}

function onRingKeys(k: Keys, arg: usize): void {
  const v = vifs[<i32>arg];
  if (v.phase != S_CONNECTING) return;
  const nq = <u32>v.queues.length;
  for (let q: u32 = 0; q < nq; q++) {
    const vq = v.queues[<i32>q];
    const txKey = queueKey(nq, q, K_TX_RING_REF), rxKey = queueKey(nq, q, K_RX_RING_REF);
    const txRef = k.u32(txKey, 0xffffffff), rxRef = k.u32(rxKey, 0xffffffff);
    if (txRef < 0 || txRef == 0xffffffff || rxRef < 0 || rxRef == 0xffffffff) return fatal(v, -XEN_EINVAL, "missing or bad " + txKey + " or " + rxKey);
    let st = gnttabMap(vq.txPage, v.domid, <u32>txRef, GNTMAP_host_map);
    if (st != GNTST_okay) return fatal(v, -XEN_EINVAL, "cannot map " + txKey + " (GNTST " + st.toString() + ")");
    st = gnttabMap(vq.rxPage, v.domid, <u32>rxRef, GNTMAP_host_map);
    if (st != GNTST_okay) return fatal(v, -XEN_EINVAL, "cannot map " + rxKey + " (GNTST " + st.toString() + ")");
    const txp = new StaticArray<SharedPage>(1), rxp = new StaticArray<SharedPage>(1);
    unchecked(txp[0] = vq.txPage);
    unchecked(rxp[0] = vq.rxPage);
    const tx = new BackRing(txp, TX_SLOT), rx = new BackRing(rxp, RX_SLOT);
    if (tx.attach(0) < 0 || rx.attach(0) < 0) return fatal(v, -XEN_EINVAL, "ring does not fit");
    vq.tx = tx;
    vq.rx = rx;
    // Scratch and records sized to the rings, allocated once per connection.
    vq.txSlots = vq.scratch(<usize>tx.size * TX_SLOT);
    vq.pkts = new StaticArray<Pkt>(<i32>tx.size);
    vq.freePkt = null;
    for (let i = 0; i < <i32>tx.size; i++) {
      const p = new Pkt();
      p.queue = q;
      unchecked(vq.pkts[i] = p);
      p.nextFree = vq.freePkt;
      vq.freePkt = p;
    }
    vq.rxIds = new StaticArray<u16>(<i32>rx.size);
    vq.rxGrefs = new StaticArray<u32>(<i32>rx.size);
    vq.rxSlots = vq.scratch(<usize>rx.size * RX_SLOT);
    vq.txStage = vq.scratch(<usize>tx.size * TX_SLOT);
    vq.rxStage = vq.scratch(<usize>rx.size * RX_SLOT);
    memory.fill(vq.txStage, 0, <usize>tx.size * TX_SLOT);
    vq.txStaged = 0;
    vq.rxStaged = 0;
    vq.rxHead = 0;
    vq.rxCount = 0;
    const qa = <usize>((v.id << 8) | <i32>q);
    const one = k.u32(queueKey(nq, q, K_EVENT_CHANNEL), 0xffffffff);
    const tp = k.u32(queueKey(nq, q, K_EVENT_CHANNEL_TX), 0xffffffff), rp = k.u32(queueKey(nq, q, K_EVENT_CHANNEL_RX), 0xffffffff);
    if (v.cfg.split && tp >= 0 && tp != 0xffffffff && rp >= 0 && rp != 0xffffffff) {
      v.split = true;
      vq.txPort = evtchnBindInterdomain(v.domid, <u32>tp, onTxEvent, qa);
      if (vq.txPort < 0) return fatal(v, vq.txPort, "cannot bind event-channel-tx");
      vq.rxPort = evtchnBindInterdomain(v.domid, <u32>rp, onRxEvent, qa);
      if (vq.rxPort < 0) return fatal(v, vq.rxPort, "cannot bind event-channel-rx");
    } else {
      if (one < 0 || one == 0xffffffff) return fatal(v, -XEN_EINVAL, "missing or bad " + queueKey(nq, q, K_EVENT_CHANNEL));
      vq.txPort = evtchnBindInterdomain(v.domid, <u32>one, onQueueEvent, qa);
      if (vq.txPort < 0) return fatal(v, vq.txPort, "cannot bind event-channel");
      vq.rxPort = vq.txPort;
    }
  }
  v.gen++;
  v.phase = S_CONNECTED;
  v.remainingCredit = v.creditBytes;
  v.windowStart = now();
  v.lastPost = 0; // not a buffer posted yet
  switchAddPort(v);
  xenbusSwitchState(v.path, XenbusStateConnected);
  if (v.cfg.mcast) v.mcastWatch = xsWatch(v.frontPath + "/" + K_REQUEST_MCAST_CONTROL, onMcastControl, <usize>v.id);
  puts("netback: ");
  puts(v.path);
  puts(": connected, mac ");
  puts(macFormat(v.mac));
  puts(", ");
  putu(nq);
  puts(nq == 1 ? " queue" : " queues");
  puts(v.rxSg ? ", sg" : "");
  puts(v.rxGsoV4 ? ", gso-tcpv4" : "");
  puts(v.rxGsoV6 ? ", gso-tcpv6" : "");
  puts(v.rxCsumV4 ? ", csum" : ", no csum offload");
  puts(v.split ? ", split event channels" : "");
  puts(v.ctrl !== null ? ", ctrl ring" : "");
  puts(v.mcastFilter ? ", multicast control" : "");
  printk(v.creditBytes > 0 ? ", rate limited" : "");
  // Frames may already be waiting (the frontend can push before we connect).
  for (let q = 0; q < v.queues.length; q++) serviceTx(v, v.queues[q]);
  settle();
}

/** Unmaps the rings, closes the ports, takes `v` off the switch (idempotent). */
function disconnect(v: Vif): void {
  if (v.index >= 0) {
    flush(); // deliveries to or from v that are batched complete first
    switchRemovePort(v);
    puts("netback: ");
    puts(v.path);
    puts(": disconnected, ");
    putu(v.txFrames);
    puts(" frames sent, ");
    putu(v.rxFrames);
    puts(" received, ");
    putu(v.rxDropped);
    puts(" dropped for it, ");
    putu(v.badFrames);
    puts(" malformed");
    if (v.rxDropped > 0) {
      puts(" (switch: ");
      putu(switchStats.dropNoBuffer);
      puts(" without buffers, ");
      putu(switchStats.dropTimeout);
      puts(" timed out, ");
      putu(switchStats.dropTooBig);
      puts(" too big, ");
      putu(switchStats.dropCopyError);
      puts(" failed copies)");
    }
    printk("");
  }
  for (let q = 0; q < v.queues.length; q++) {
    const vq = v.queues[q];
    purge(vq.pending, null);
    purge(vq.deferred, null, false);
    if (vq.txPort >= 0) evtchnClose(<u32>vq.txPort);
    if (vq.rxPort >= 0 && vq.rxPort != vq.txPort) evtchnClose(<u32>vq.rxPort);
    vq.txPort = -1;
    vq.rxPort = -1;
    vq.tx = null;
    vq.rx = null;
    if (vq.txPage.bound) gnttabUnmap(vq.txPage);
    if (vq.rxPage.bound) gnttabUnmap(vq.rxPage);
  }
  const c = v.ctrl;
  if (c !== null) c.disconnect();
  if (v.mcastWatch > 0) xsUnwatch(v.mcastWatch);
  v.mcastWatch = 0;
  v.ctrl = null;
  v.queues = new Array<VQueue>();
  v.gen++;
  if (v.phase == S_CONNECTED || v.phase == S_CONNECTING) v.phase = S_INITWAIT;
  flush(); // the other senders whose frames waited for this vif get their responses now
}

/** Disconnects `v` for good with an error node and Closing (Linux's xenvif_fatal_tx_err / xenbus_dev_fatal). */
function fatal(v: Vif, err: i32, message: string): void {
  disconnect(v);
  v.phase = S_CLOSED;
  xenbusDevFatal(v.path, err, message);
}

// ---- multicast control -----------------------------------------------------------------------

/** feature-dynamic-multicast-control: the frontend may switch request-multicast-control at any time. */
function onMcastControl(path: string, arg: usize): void {
  xsRead(XBT_NIL, path, onMcastControlRead, arg);
}

function onMcastControlRead(status: i32, reply: XsReply, arg: usize): void {
  const v = vifs[<i32>arg];
  if (v.phase != S_CONNECTED) return;
  const on = status >= 0 && reply.str() == "1";
  if (on != v.mcastFilter) { v.mcastFilter = on; v.nmcast = 0; }
}

function mcastApply(v: Vif, add: bool, mac: u64): bool {
  for (let i = 0; i < v.nmcast; i++) {
    if (unchecked(v.mcast[i]) != mac) continue;
    if (!add) { unchecked(v.mcast[i] = unchecked(v.mcast[v.nmcast - 1])); v.nmcast--; }
    return true;
  }
  if (!add) return true; // deleting what is not there succeeds, as Linux's xenvif_mcast_del
  if (v.nmcast >= v.mcast.length) return false; // Linux's XEN_NETBK_MCAST_MAX
  unchecked(v.mcast[v.nmcast++] = mac);
  return true;
}

// ---- transmit --------------------------------------------------------------------------------

function onTxEvent(port: u32, arg: usize): void {
  const v = vifs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (v.phase == S_CONNECTED && q < v.queues.length) serviceTx(v, v.queues[q]);
  settle();
}

function onRxEvent(port: u32, arg: usize): void {
  const v = vifs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (v.phase == S_CONNECTED && q < v.queues.length) switchDrain(v, <u32>q);
  settle();
}

function onQueueEvent(port: u32, arg: usize): void {
  const v = vifs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (v.phase == S_CONNECTED && q < v.queues.length) {
    switchDrain(v, <u32>q);
    if (v.phase == S_CONNECTED) serviceTx(v, v.queues[q]);
  }
  settle();
}

function onCtrlEvent(port: u32, arg: usize): void {
  const v = vifs[<i32>arg];
  const c = v.ctrl;
  if (v.phase != S_CONNECTED || c === null) return;
  const rc = c.service();
  if (rc < 0) fatal(v, rc, "control ring broken");
}

/** Runs the switch's batch and publishes the transmit responses it made. */
function settle(): void {
  flush();
}

/** After each switch flush: publish the transmit responses written, notify senders as asked. */
function pushTxResponses(): void {
  for (let i = 0; i < vifs.length; i++) {
    const v = vifs[i];
    for (let q = 0; q < v.queues.length; q++) {
      const vq = v.queues[q];
      const n = vq.txStaged;
      if (n == 0) continue;
      vq.txStaged = 0;
      const t = vq.tx;
      if (t === null) continue;
      t.produceBatch(vq.txStage, n);
      if (t.pushResponsesAndCheckNotify() && vq.txPort >= 0) evtchnNotify(<u32>vq.txPort);
    }
  }
}

/** Answers every ring slot of a frame: `status` for data slots, NETIF_RSP_NULL for extra-info slots. */
function respondFrame(vq: VQueue, ids: StaticArray<u16>, isExtra: StaticArray<bool>, n: u32, status: i16): void {
  if (vq.tx === null) return;
  for (let i: u32 = 0; i < n; i++) {
    writeTxResponse(vq.txStage + <usize>(vq.txStaged++) * TX_SLOT, unchecked(ids[i]), unchecked(isExtra[i]) ? NETIF_RSP_NULL : status);
  }
}

/** The frames of one batch, peeked together (one copy hypercall for their headers). */
const batch = new Array<Pkt>();

/**
 * Takes every transmit request of `vq`: parses frames, answers bad ones, applies multicast
 * control, peeks the good ones' headers, charges the rate limit, and forwards them.
 */
function serviceTx(v: Vif, vq: VQueue): void {
  for (;;) {
    if (!sendDeferred(v, vq)) return; // out of credit: the credit timer resumes
    const t = vq.tx;
    if (t === null) return;
    const n = t.consumeBatch(vq.txSlots, t.size);
    if (n < 0) return fatal(v, n, "transmit ring broken (producer index out of range)");
    if (n == 0) {
      const more = t.finalCheckForRequests();
      if (more < 0) return fatal(v, more, "transmit ring broken (producer index out of range)");
      if (more == 0) return;
      continue;
    }
    batch.length = 0;
    for (let i: u32 = 0; i < <u32>n;) {
      const f = vq.frame;
      const res = parseTxFrame(vq.txSlots, i, <u32>n - i, f, v.txGso, v.mcastFilter || v.cfg.mcast);
      i += txUsed(res);
      const verdict = txVerdict(res);
      if (verdict == TX_FATAL) { v.badFrames++; return fatal(v, -XEN_EINVAL, "bad transmit request: " + f.why); }
      if (verdict == TX_DROP) {
        v.badFrames++;
        v.txDropped++;
        respondFrame(vq, f.ids, f.isExtra, f.nreq, NETIF_RSP_ERROR);
        continue;
      }
      if (f.mcastOp != 0) {
        const ok = mcastApply(v, f.mcastOp == XEN_NETIF_EXTRA_TYPE_MCAST_ADD, f.mcastAddr);
        respondFrame(vq, f.ids, f.isExtra, f.nreq, ok ? NETIF_RSP_OKAY : NETIF_RSP_ERROR);
        continue;
      }
      const p = vq.freePkt!; // one Pkt per ring slot: never exhausted
      vq.freePkt = p.nextFree;
      p.fill(f);
      p.src = v;
      p.gen = v.gen;
      batch.push(p);
    }
    // Headers of the whole batch in one hypercall; a frame whose grant fails is answered with an error.
    peekHeaders(batch);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      if (p.peeked == 0) { v.badFrames++; v.txDropped++; p.status = NETIF_RSP_ERROR; p.refs = 0; v.txComplete(p); continue; }
      if (!vq.deferred.push(p)) { p.status = NETIF_RSP_ERROR; v.txComplete(p); }
    }
    if (v.phase != S_CONNECTED) return;
  }
}

/**
 * Forwards the frames waiting for transmit credit, in order, while the credit lasts (Linux's
 * tx_credit_exceeded); false when it ran out (a timer at the next window resumes the queue).
 */
function sendDeferred(v: Vif, vq: VQueue): bool {
  const list = vq.deferred;
  while (list.count > 0) {
    const p = list.peek();
    if (v.creditBytes > 0 && creditExceeded(v, vq, p.len)) return false;
    list.shift();
    forward(p);
    if (v.phase != S_CONNECTED) return false;
  }
  return true;
}

function creditExceeded(v: Vif, vq: VQueue, size: u32): bool {
  if (v.creditTimer > 0) return true;
  const t = now();
  const next = v.windowStart + v.creditUsec * NS_PER_US;
  if (t >= next) {
    v.windowStart = t;
    addCredit(v);
  }
  if (<u64>size > v.remainingCredit) {
    v.creditTimer = timerSetAt(next, onCredit, <usize>((v.id << 8) | <i32>vq.index));
    v.windowStart = next;
    return true;
  }
  v.remainingCredit -= <u64>size;
  return false;
}

/** Linux's tx_add_credit: a window's worth more, bursting up to max(128 KiB, creditBytes). */
function addCredit(v: Vif): void {
  const maxBurst = max(<u64>131072, v.creditBytes);
  let maxCredit = v.remainingCredit + v.creditBytes;
  if (maxCredit < v.remainingCredit) maxCredit = <u64>-1;
  v.remainingCredit = min(maxCredit, maxBurst);
}

function onCredit(arg: usize): void {
  const v = vifs[<i32>(arg >> 8)];
  v.creditTimer = 0;
  if (v.phase != S_CONNECTED) return;
  addCredit(v);
  for (let q = 0; q < v.queues.length; q++) serviceTx(v, v.queues[q]);
  settle();
}

// ---- receive buffers -------------------------------------------------------------------------

/**
 * A receive ring whose producer index is impossible: the vif is disconnected (an `error` node
 * and Closing), from a timer, because this is found inside the switch, which cannot let a port
 * go in the middle of a batch.
 */
function rxBroken(v: Vif, err: i32): void {
  if (v.rxError != 0) return;
  v.rxError = err;
  timerSet(0, onRxBroken, <usize>v.id);
}

function onRxBroken(arg: usize): void {
  const v = vifs[<i32>arg];
  const err = v.rxError;
  v.rxError = 0;
  if (v.phase == S_CONNECTED) fatal(v, err, "receive ring broken (producer index out of range)");
}

/** Takes the receive requests the frontend posted into `vq`'s FIFO; false when there were none. */
function refillRx(v: Vif, vq: VQueue): bool {
  const r = vq.rx;
  if (r === null) return false;
  const room = vq.rxIds.length - vq.rxCount;
  const n = r.consumeBatch(vq.rxSlots, <u32>room);
  if (n < 0) rxBroken(v, n);
  if (n <= 0) return false;
  v.lastPost = now();
  for (let i = 0; i < n; i++) {
    const s = vq.rxSlots + <usize>i * RX_SLOT;
    const at = (vq.rxHead + vq.rxCount) % vq.rxIds.length;
    unchecked(vq.rxIds[at] = load<u16>(s));
    unchecked(vq.rxGrefs[at] = load<u32>(s, 4));
    vq.rxCount++;
  }
  return true;
}

