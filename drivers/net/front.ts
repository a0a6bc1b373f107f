// netfront: the frontend half of the net split driver, for kernels (DESIGN §7). A kernel attaches
// a vif (`device/vif/<handle>`), gets a callback once it is connected, then transmits frames
// (from scatter-gather buffers, with offload flags) and receives them through a callback. The
// driver posts and refills its receive buffers itself. Features are negotiated as io/netif.h
// describes; each is used only when both ends offer it: rx-copy (the only receive mode),
// feature-rx-notify, scatter-gather, GSO both ways, checksum offload, multi-queue (transmit queue
// chosen per flow), split event channels, multicast control.
//
// Distrust: a response is copied out of the ring and checked (proto.ts). A transmit response must
// name a request in flight; a receive response must name a posted buffer, stay inside the page
// and form a well-shaped frame. Anything else (an id never issued or already answered, a size or
// offset that lies, an impossible rsp_prod) disables the device: the error goes to xenstore and
// the device to Closing. No transmit completes twice, and the stack is handed only bytes of our
// own receive buffers, never more than the backend said it wrote.
//
// Ownership: a NetFront is created by netfrontAttach and lives as long as the kernel keeps it; it
// owns its ring pages, transmit and receive pages (each granted to the backend once, for the
// connection's life: the backend only copies them), ports, and its reassembly buffer. Once the
// device has stopped and the backend has let go (its state Closed, or InitWait again),
// netfrontRelease ends those grants, closes the ports and frees the pages (Linux's
// xennet_disconnect_backend); a kernel then attaches the vif again for a new connection. netfrontSend
// copies the frame before it returns, so the caller's buffers are free again at once. The frame
// a receive callback sees is valid only during the call.
import {
  TX_SLOT, RX_SLOT, ETH_HLEN, MAX_FRAME, MAX_QUEUES, MAX_TX_SLOTS, DEFAULT_MTU, TxFrame,
  K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_EVENT_CHANNEL_TX, K_EVENT_CHANNEL_RX, K_REQUEST_RX_COPY,
  K_FEATURE_RX_COPY, K_FEATURE_RX_NOTIFY, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6, K_NO_CSUM_OFFLOAD, K_IPV6_CSUM_OFFLOAD,
  K_SPLIT_EVTCHN, K_MAX_QUEUES, K_NUM_QUEUES, K_MCAST_CONTROL, K_REQUEST_MCAST_CONTROL, K_MAC, K_MTU,
  FRAME_CSUM_BLANK, RxFrame, RX_MORE, RX_DONE, RX_BAD, writeTxRequest, writeExtra, writeRxRequest, txFlags,
  K_CTRL_RING, K_CTRL_RING_REF, K_EVENT_CHANNEL_CTRL, CTRL_SLOT, MAX_HASH_KEY, hashInput,
  NETIF_RSP_OKAY, NETIF_RSP_NULL, NETTXF_more_data, NETTXF_extra_info, XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
} from "./proto";
import { Keys, readKeys, writeKeys, queueKey, frontendStop } from "../common/xenbus";
import { macParse, macFormat } from "../../assembly/net/addr";
import { FrontRing } from "../../assembly/ring";
import { SharedPage, gnttabGrantAccess, gnttabEndAccess } from "../../assembly/gnttab";
import { frameAlloc, frameFree, addrToGfn, PAGE_SIZE } from "../../assembly/frames";
import { evtchnAllocUnbound, evtchnNotify, evtchnClose } from "../../assembly/evtchn";
import { xenbusSwitchState, xenbusWatchState, xenbusUnwatchState } from "../../assembly/xenbus";
import {
  XenbusStateInitialising, XenbusStateInitWait, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed, XenbusStateUnknown,
} from "../../assembly/xen/io/xenbus";
import {
  netif_tx_response, xen_netif_ctrl_request, xen_netif_ctrl_response, xen_netif_toeplitz_hash,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, XEN_NETIF_CTRL_STATUS_SUCCESS,
} from "../../assembly/xen/io/netif";
import { puts, printk } from "../../assembly/console";
import { cmdlineGetInRange, cmdlineGet } from "../../assembly/cmdline";
import { XEN_EINVAL, XEN_EIO, XEN_ENODEV, XEN_ENOSPC, XEN_EMSGSIZE, XEN_EOPNOTSUPP } from "../../assembly/xen/errno";

/** A received frame: `len` bytes at `frame` (ours, valid during the call), FRAME_* `offload` bits, GSO type and size (0: none). */
export type NetRxFn = (dev: NetFront, queue: u32, frame: usize, len: u32, offload: u32, gsoType: u32, gsoSize: u32, arg: usize) => void;
/** Attach completion: the device (connected when `status` is 0) or the error that stopped it. */
export type NetReadyFn = (dev: NetFront, status: i32, arg: usize) => void;
/** Transmit completions: the backend answered `done` frames (of them `errors` failed); room for more. */
export type NetTxDoneFn = (dev: NetFront, done: u32, errors: u32, arg: usize) => void;

/** What the frontend asks for at most; the backend's offer narrows each. */
export class NetfrontConfig {
  queues: u32 = MAX_QUEUES;
  sg: bool = true;
  gso: bool = true;
  /** Receive frames with blank checksums (and transmit with them when csum is on). */
  csum: bool = true;
  split: bool = true;
  mcast: bool = true;
  /** With several queues: set up the control ring and steer received flows with a Toeplitz hash. */
  ctrl: bool = true;

  /**
   * The defaults narrowed by the kernel command line: `queues=N sg=0|1 gso=0|1 csum=0|1 split=0|1
   * mcast=0|1 ctrl=0|1`, or `net-features=none` for a frontend that asks for nothing optional.
   */
  static fromCmdline(): NetfrontConfig {
    const c = new NetfrontConfig();
    const none = cmdlineGet("net-features") == "none";
    c.queues = cmdlineGetInRange("queues", none ? 1 : c.queues, 1, MAX_QUEUES);
    c.sg = cmdlineGetInRange("sg", none ? 0 : 1, 0, 1) == 1;
    c.gso = cmdlineGetInRange("gso", none ? 0 : 1, 0, 1) == 1;
    c.csum = cmdlineGetInRange("csum", none ? 0 : 1, 0, 1) == 1;
    c.split = cmdlineGetInRange("split", none ? 0 : 1, 0, 1) == 1;
    c.mcast = cmdlineGetInRange("mcast", none ? 0 : 1, 0, 1) == 1;
    c.ctrl = cmdlineGetInRange("ctrl", none ? 0 : 1, 0, 1) == 1;
    return c;
  }
}

const P_INIT = 0, P_CONNECTING = 1, P_CONNECTED = 2, P_DEAD = 3;

/** Per-queue counters a kernel can read. */
export class NetQueueStats {
  txFrames: u64 = 0;
  txBytes: u64 = 0;
  txErrors: u64 = 0;
  rxFrames: u64 = 0;
  rxBytes: u64 = 0;
  /** Received frames dropped because the backend answered a slot with an error status. */
  rxErrors: u64 = 0;
  /** Notifications sent to the backend and events received from it. */
  notifies: u64 = 0;
  events: u64 = 0;
}

/** One queue: a transmit ring and a receive ring, their ports, and the pages behind each slot. */
class NQueue {
  tx: FrontRing;
  rx: FrontRing;
  txRef: i32 = -1;
  rxRef: i32 = -1;
  /** One port, or the transmit and receive ports of split event channels. */
  txPort: i32 = -1;
  rxPort: i32 = -1;
  /** Transmit buffers: page and gref per id, the free ids, and what is in flight per id. */
  txPage: StaticArray<usize>;
  txGref: StaticArray<u32>;
  txBusy: StaticArray<u8>; // 0 free, 1 first slot of a frame, 2 a later slot or a control request
  txFree: Array<u16> = new Array<u16>();
  /**
   * Receive buffers, by ring position (as Linux's netfront): the buffer posted at request index
   * i is rxPage[i & mask], its id is i & mask, and the response at index i answers it (a backend
   * answers receive requests in order; an extra-info response carries no id of its own).
   */
  rxPage: StaticArray<usize>;
  rxGref: StaticArray<u32>;
  rxPosted: StaticArray<bool>;
  rxFrame: RxFrame = new RxFrame();
  stats: NetQueueStats = new NetQueueStats();
  produced: bool = false;
  constructor(tx: FrontRing, rx: FrontRing) {
    this.tx = tx;
    this.rx = rx;
    const nt = <i32>tx.size, nr = <i32>rx.size;
    this.txPage = new StaticArray<usize>(nt);
    this.txGref = new StaticArray<u32>(nt);
    this.txBusy = new StaticArray<u8>(nt);
    this.rxPage = new StaticArray<usize>(nr);
    this.rxGref = new StaticArray<u32>(nr);
    this.rxPosted = new StaticArray<bool>(nr);
    for (let i = nt - 1; i >= 0; i--) this.txFree.push(<u16>i);
  }
}

/** A virtual network interface as the kernel sees it. Fields below `mac` are valid once connected. */
export class NetFront {
  id: i32;
  handle: u32;
  path: string;
  backendPath: string = "";
  backendId: u16 = 0;
  cfg: NetfrontConfig;
  phase: i32 = P_INIT;
  /** The error that disabled the device (0 while it works). */
  error: i32 = 0;
  ready: NetReadyFn | null;
  readyArg: usize;
  rx: NetRxFn | null = null;
  rxArg: usize = 0;
  /** Called once when the device stops after it had connected (the backend closed it, or an error). */
  closed: NetReadyFn | null = null;
  closedArg: usize = 0;
  txDone: NetTxDoneFn | null = null;
  txDoneArg: usize = 0;
  watch: i32 = 0;

  /** Our MAC address (the toolstack's `mac`) and the MTU (the backend's `mtu`, default 1500). */
  mac: u64 = 0;
  mtu: u32 = DEFAULT_MTU;
  /** Negotiated: multi-slot frames both ways, GSO we may send (v4, v6), checksum offload we may send, multicast control. */
  sg: bool = false;
  gsoV4: bool = false;
  gsoV6: bool = false;
  csumV6: bool = false;
  mcast: bool = false;
  split: bool = false;
  nrQueues: u32 = 1;
  queues: Array<NQueue> = new Array<NQueue>();
  /** Reassembly of multi-slot received frames (MAX_FRAME bytes, allocated once). */
  assembly: usize = 0;
  /** The control ring (several queues and feature-ctrl-ring), its port, and the hash it set up. */
  ctrl: FrontRing | null = null;
  ctrlPort: i32 = -1;
  ctrlStep: i32 = 0;
  /** A page granted for control requests that pass a table or key by grant. */
  ctrlPage: usize = 0;
  ctrlPageRef: i32 = -1;
  /** The control ring's page and its gref (-1: none). */
  ctrlRingPage: usize = 0;
  ctrlRingRef: i32 = -1;
  /** Grants netfrontRelease could not end yet (the backend still had them mapped), with their pages. */
  heldRefs: Array<i32> = new Array<i32>();
  heldPages: Array<usize> = new Array<usize>();
  /** Once the backend accepted every step: receive steering by Toeplitz hash (flags, table size, table). */
  hashActive: bool = false;
  hashFlags: u32 = 0;
  hashTableSize: u32 = 0;
  hashTable: StaticArray<u32> = new StaticArray<u32>(0);

  constructor(id: i32, handle: u32, cfg: NetfrontConfig, ready: NetReadyFn | null, arg: usize) {
    this.id = id;
    this.handle = handle;
    this.path = "device/vif/" + handle.toString();
    this.cfg = cfg;
    this.ready = ready;
    this.readyArg = arg;
  }

  /** Whether the device is connected and working. */
  get connected(): bool { return this.phase == P_CONNECTED; }
  /**
   * Whether the control ring's setup is still going on: until it ends, the backend may move a
   * flow from one receive queue to another (frames of one flow can then arrive out of order).
   */
  get steeringPending(): bool { return this.ctrl !== null && !this.hashActive && this.ctrlStep < 100; }
  /** The counters of queue `q`. */
  stats(q: u32): NetQueueStats { return this.queues[<i32>q].stats; }
  /** The largest frame netfrontSend accepts: 64 KiB with scatter-gather, else the MTU's. */
  get maxFrame(): u32 { return this.sg ? MAX_FRAME : min(<u32>PAGE_SIZE, this.mtu + ETH_HLEN); }
}

const devs = new Array<NetFront>();
const SLOT = memory.data(16, 8);
/** A one-entry scatter-gather list for netfrontSend. */
const IOV1 = memory.data(8, 4);

// ---- attach and negotiation ------------------------------------------------------------------

/**
 * Attaches the vif `handle` (its frontend directory `device/vif/<handle>`) and negotiates with its
 * backend; `ready(dev, status, arg)` runs once, when it is connected (0) or failed (-XEN_Exxx);
 * `rx` receives frames from then on. Returns the device, which the caller keeps.
 */
export function netfrontAttach(handle: u32, cfg: NetfrontConfig, ready: NetReadyFn | null, rx: NetRxFn | null, arg: usize = 0): NetFront {
  const d = new NetFront(devs.length, handle, cfg, ready, arg);
  d.rx = rx;
  d.rxArg = arg;
  devs.push(d);
  // A vif attached again after it closed starts over, as Linux's xenbus probe does: a backend
  // that is Closed goes back to InitWait when it sees Initialising (netback's "prepare for
  // reconnect"). Unchanged at first boot, where the toolstack wrote Initialising.
  xenbusSwitchState(d.path, XenbusStateInitialising);
  const rc = readKeys(d.path, ["backend", "backend-id", K_MAC], onDeviceKeys, <usize>d.id);
  if (rc < 0) fail(d, rc, "reading the device directory");
  return d;
}

/** Calls `fn(dev, done, errors, arg)` whenever transmit responses free ring room. */
export function netfrontOnTxDone(d: NetFront, fn: NetTxDoneFn | null, arg: usize = 0): void {
  d.txDone = fn;
  d.txDoneArg = arg;
}

function onDeviceKeys(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  const be = k.get("backend"), beId = k.u32("backend-id", 0xffffffff), mac = k.get(K_MAC);
  if (be === null || beId < 0 || beId > 0x7fef) return fail(d, -XEN_ENODEV, "no backend for " + d.path);
  const m = mac === null ? -1 : macParse(mac);
  if (m < 0) return fail(d, -XEN_EINVAL, "missing or malformed mac");
  d.mac = <u64>m;
  d.backendPath = be;
  d.backendId = <u16>beId;
  d.assembly = heap.alloc(MAX_FRAME);
  const id = xenbusWatchState(be, onBackState, <usize>d.id);
  if (id < 0) return fail(d, id, "watching the backend's state");
  d.watch = id;
}

function onBackState(state: i32, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase == P_DEAD) {
    // A stopped device still follows its backend down: Closing is answered with Closed (Linux's
    // netback_changed -> xenbus_frontend_closed), so that the backend reaches Closed, lets go of
    // our pages, and can be met again by a new attach.
    if (state == XenbusStateClosing) xenbusSwitchState(d.path, XenbusStateClosed);
    return;
  }
  if ((state == XenbusStateInitWait || state == XenbusStateConnected) && d.phase == P_INIT) {
    d.phase = P_CONNECTING; // from here on, one negotiation only
    const rc = readKeys(d.backendPath, [K_FEATURE_RX_COPY, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6, K_IPV6_CSUM_OFFLOAD,
      K_SPLIT_EVTCHN, K_MAX_QUEUES, K_MCAST_CONTROL, K_MTU, K_CTRL_RING], onBackFeatures, <usize>d.id);
    if (rc < 0) fail(d, rc, "reading the backend's features");
  } else if (state == XenbusStateConnected && d.phase == P_CONNECTING && d.queues.length > 0) {
    connected(d);
  } else if (state == XenbusStateClosing || state == XenbusStateClosed || state == XenbusStateUnknown) {
    if (d.phase == P_INIT) return; // a backend that has not started yet (Unknown before it exists)
    // The backend (or the toolstack detaching the vif) ends the connection: close our end so that
    // the backend can reach Closed (Linux's netback_changed -> xenbus_frontend_closed).
    fail(d, -XEN_EIO, "the backend closed the device", false);
    xenbusSwitchState(d.path, XenbusStateClosed);
  }
}

function onBackFeatures(k: Keys, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase == P_DEAD) return;
  if (k.u32(K_FEATURE_RX_COPY, 0) != 1) return fail(d, -XEN_EOPNOTSUPP, "the backend does not offer feature-rx-copy (page flipping is not supported)");
  const mtu = k.u32(K_MTU, DEFAULT_MTU), maxQ = k.u32(K_MAX_QUEUES, 1);
  if (mtu < 68 || mtu > <i64>(MAX_FRAME - ETH_HLEN) || maxQ < 0) return fail(d, -XEN_EINVAL, "malformed mtu or multi-queue-max-queues");
  const c = d.cfg;
  d.mtu = <u32>mtu;
  d.sg = c.sg && k.u32(K_FEATURE_SG, 0) == 1;
  d.gsoV4 = d.sg && c.gso && k.u32(K_GSO_TCPV4, 0) == 1;
  d.gsoV6 = d.sg && c.gso && k.u32(K_GSO_TCPV6, 0) == 1;
  d.csumV6 = c.csum && k.u32(K_IPV6_CSUM_OFFLOAD, 0) == 1;
  d.split = c.split && k.u32(K_SPLIT_EVTCHN, 0) == 1;
  d.mcast = c.mcast && k.u32(K_MCAST_CONTROL, 0) == 1;
  const ctrl = c.ctrl && k.u32(K_CTRL_RING, 0) == 1;
  d.nrQueues = max(<u32>1, min(<u32>maxQ, c.queues));
  const names = new Array<string>(), values = new Array<string>();
  for (let q: u32 = 0; q < d.nrQueues; q++) {
    const txp = new StaticArray<SharedPage>(1), rxp = new StaticArray<SharedPage>(1);
    unchecked(txp[0] = SharedPage.local(frameAlloc()));
    unchecked(rxp[0] = SharedPage.local(frameAlloc()));
    const tx = new FrontRing(txp, TX_SLOT), rx = new FrontRing(rxp, RX_SLOT);
    if (tx.init(0) < 0 || rx.init(0) < 0) return fail(d, -XEN_EINVAL, "ring setup");
    const nq = new NQueue(tx, rx);
    d.queues.push(nq);
    nq.txRef = gnttabGrantAccess(d.backendId, addrToGfn(unchecked(txp[0]).addr), false);
    nq.rxRef = gnttabGrantAccess(d.backendId, addrToGfn(unchecked(rxp[0]).addr), false);
    if (nq.txRef < 0 || nq.rxRef < 0) return fail(d, -XEN_ENOSPC, "granting the rings");
    // The buffers: a page per slot, granted once (the backend copies into and out of them).
    for (let i = 0; i < nq.txPage.length; i++) {
      const page = frameAlloc();
      const ref = gnttabGrantAccess(d.backendId, addrToGfn(page), true);
      if (ref < 0) { frameFree(page); return fail(d, ref, "granting transmit buffers"); }
      unchecked(nq.txPage[i] = page);
      unchecked(nq.txGref[i] = <u32>ref);
    }
    for (let i = 0; i < nq.rxPage.length; i++) {
      const page = frameAlloc();
      const ref = gnttabGrantAccess(d.backendId, addrToGfn(page), false);
      if (ref < 0) { frameFree(page); return fail(d, ref, "granting receive buffers"); }
      unchecked(nq.rxPage[i] = page);
      unchecked(nq.rxGref[i] = <u32>ref);
    }
    const qa = <usize>((d.id << 8) | <i32>q);
    names.push(queueKey(d.nrQueues, q, K_TX_RING_REF)); values.push(nq.txRef.toString());
    names.push(queueKey(d.nrQueues, q, K_RX_RING_REF)); values.push(nq.rxRef.toString());
    if (d.split) {
      nq.txPort = evtchnAllocUnbound(d.backendId, onTxEvent, qa);
      nq.rxPort = evtchnAllocUnbound(d.backendId, onRxEvent, qa);
      if (nq.txPort < 0 || nq.rxPort < 0) return fail(d, min(nq.txPort, nq.rxPort), "allocating event channels");
      names.push(queueKey(d.nrQueues, q, K_EVENT_CHANNEL_TX)); values.push(nq.txPort.toString());
      names.push(queueKey(d.nrQueues, q, K_EVENT_CHANNEL_RX)); values.push(nq.rxPort.toString());
    } else {
      nq.txPort = evtchnAllocUnbound(d.backendId, onQueueEvent, qa);
      nq.rxPort = nq.txPort;
      if (nq.txPort < 0) return fail(d, nq.txPort, "allocating an event channel");
      names.push(queueKey(d.nrQueues, q, K_EVENT_CHANNEL)); values.push(nq.txPort.toString());
    }
  }
  if (d.nrQueues > 1) { names.push(K_NUM_QUEUES); values.push(d.nrQueues.toString()); }
  if (ctrl && d.nrQueues > 1) {
    const rc = ctrlSetup(d);
    if (rc < 0) return fail(d, rc, "setting up the control ring");
    names.push(K_CTRL_RING_REF); values.push(rc.toString());
    names.push(K_EVENT_CHANNEL_CTRL); values.push(d.ctrlPort.toString());
  }
  names.push(K_REQUEST_RX_COPY); values.push("1");
  names.push(K_FEATURE_RX_NOTIFY); values.push("1");
  names.push(K_FEATURE_SG); values.push(c.sg ? "1" : "0");
  names.push(K_GSO_TCPV4); values.push(c.sg && c.gso ? "1" : "0");
  names.push(K_GSO_TCPV6); values.push(c.sg && c.gso ? "1" : "0");
  names.push(K_NO_CSUM_OFFLOAD); values.push(c.csum ? "0" : "1");
  names.push(K_IPV6_CSUM_OFFLOAD); values.push(c.csum ? "1" : "0");
  if (d.mcast) { names.push(K_REQUEST_MCAST_CONTROL); values.push("1"); }
  const rc = writeKeys(d.path, names, values, onFrontKeysWritten, <usize>d.id);
  if (rc < 0) fail(d, rc, "writing the ring keys");
}

function onFrontKeysWritten(status: i32, arg: usize): void {
  const d = devs[<i32>arg];
  if (d.phase == P_DEAD) return;
  if (status < 0) return fail(d, status, "writing the ring keys");
  // Post every receive buffer before the backend connects (Linux's xennet_alloc_rx_buffers).
  for (let q = 0; q < d.queues.length; q++) {
    const nq = d.queues[q];
    for (let i = 0; i < nq.rxPage.length; i++) postRx(d, nq);
    nq.rx.pushRequests();
  }
  // netfront goes straight to Connected (Linux's xennet_connect); the backend follows.
  xenbusSwitchState(d.path, XenbusStateConnected);
}

function connected(d: NetFront): void {
  d.phase = P_CONNECTED;
  puts("netfront: ");
  puts(d.path);
  puts(": connected, mac ");
  puts(macFormat(d.mac));
  puts(", ");
  puts(d.nrQueues.toString());
  puts(d.nrQueues == 1 ? " queue" : " queues");
  puts(d.sg ? ", sg" : "");
  puts(d.gsoV4 ? ", gso-tcpv4" : "");
  puts(d.gsoV6 ? ", gso-tcpv6" : "");
  puts(d.cfg.csum ? ", csum" : "");
  puts(d.split ? ", split event channels" : "");
  puts(d.mcast ? ", multicast control" : "");
  printk(d.mtu != DEFAULT_MTU ? ", mtu " + d.mtu.toString() : "");
  if (d.ctrl !== null) ctrlNext(d);
  const ready = d.ready;
  d.ready = null;
  if (ready !== null) ready(d, 0, d.readyArg);
  // Anything that arrived before the callback was set up.
  for (let q = 0; q < d.queues.length; q++) { serviceRx(d, d.queues[q]); serviceTx(d, d.queues[q]); }
}

/**
 * Disables `d` with `err`: with `fatal` the error goes to xenstore and the device to Closing
 * (xenbus_dev_fatal), else it is only printed; the attach callback reports `err` if it has not
 * run yet. Frames in flight are simply forgotten (their pages stay granted: never reused).
 */
function fail(d: NetFront, err: i32, message: string, fatal: bool = true): void {
  if (d.phase == P_DEAD) return;
  d.phase = P_DEAD;
  d.error = err;
  // The watch on the backend's state stays until netfrontRelease (see onBackState).
  frontendStop("netfront", d.path, 0, err, message, fatal);
  const ready = d.ready;
  d.ready = null;
  if (ready !== null) ready(d, err, d.readyArg);
  else {
    const closed = d.closed;
    d.closed = null;
    if (closed !== null) closed(d, err, d.closedArg);
  }
}

/**
 * Lets go of a stopped device `d` (Linux's xennet_disconnect_backend): drops the watch on the
 * backend, closes its ports, ends every grant it made (rings, buffers, control pages) and frees
 * the pages whose grant ended. Call it once the backend has unmapped our rings (its state Closed,
 * or InitWait again); a grant the backend still maps stays, with its page, and a later call
 * tries again. Returns the number of grants still held, or -XEN_EINVAL while the device works.
 */
export function netfrontRelease(d: NetFront): i32 {
  if (d.phase != P_DEAD) return -XEN_EINVAL;
  if (d.watch > 0) xenbusUnwatchState(d.watch);
  d.watch = 0;
  // Grants that could not end before, then everything the connection set up.
  const refs = d.heldRefs, pages = d.heldPages;
  d.heldRefs = new Array<i32>();
  d.heldPages = new Array<usize>();
  for (let i = 0; i < refs.length; i++) endGrant(d, refs[i], pages[i]);
  for (let q = 0; q < d.queues.length; q++) {
    const nq = d.queues[q];
    if (nq.txPort >= 0) evtchnClose(<u32>nq.txPort);
    if (nq.rxPort >= 0 && nq.rxPort != nq.txPort) evtchnClose(<u32>nq.rxPort);
    nq.txPort = -1;
    nq.rxPort = -1;
    endGrant(d, nq.txRef, nq.tx.pages[0].addr);
    endGrant(d, nq.rxRef, nq.rx.pages[0].addr);
    nq.txRef = -1;
    nq.rxRef = -1;
    for (let i = 0; i < nq.txPage.length; i++) {
      const page = unchecked(nq.txPage[i]);
      if (page != 0) endGrant(d, <i32>unchecked(nq.txGref[i]), page);
      unchecked(nq.txPage[i] = 0);
    }
    for (let i = 0; i < nq.rxPage.length; i++) {
      const page = unchecked(nq.rxPage[i]);
      if (page != 0) endGrant(d, <i32>unchecked(nq.rxGref[i]), page);
      unchecked(nq.rxPage[i] = 0);
    }
  }
  d.queues = new Array<NQueue>();
  if (d.ctrlPort >= 0) evtchnClose(<u32>d.ctrlPort);
  d.ctrlPort = -1;
  if (d.ctrlRingPage != 0) endGrant(d, d.ctrlRingRef, d.ctrlRingPage);
  if (d.ctrlPage != 0) endGrant(d, d.ctrlPageRef, d.ctrlPage);
  d.ctrlRingPage = 0;
  d.ctrlRingRef = -1;
  d.ctrlPage = 0;
  d.ctrlPageRef = -1;
  d.ctrl = null;
  if (d.assembly != 0) heap.free(d.assembly);
  d.assembly = 0;
  return d.heldRefs.length;
}

/** Ends the grant `ref` of `page` (-1: never granted) and frees the page, or keeps both in d.held* while the backend maps it. */
function endGrant(d: NetFront, ref: i32, page: usize): void {
  if (ref >= 0 && gnttabEndAccess(<u32>ref) != 0) {
    d.heldRefs.push(ref);
    d.heldPages.push(page);
    return;
  }
  frameFree(page);
}

/** Calls `fn(dev, error, arg)` once if the connected device stops (the backend closed it: -XEN_EIO, or an error). */
export function netfrontOnClosed(d: NetFront, fn: NetReadyFn | null, arg: usize = 0): void {
  d.closed = fn;
  d.closedArg = arg;
}

// ---- transmit --------------------------------------------------------------------------------

/**
 * Sends one frame of `len` bytes at `buf` (our memory) with FRAME_* `offload` bits and, for a
 * GSO frame, `gsoType` (XEN_NETIF_GSO_TYPE_TCPV4/V6) and `gsoSize` (the segment payload). The
 * frame is copied before this returns. Returns 0 (queued), -XEN_ENOSPC (no room in the ring: retry
 * after a NetTxDoneFn), -XEN_EMSGSIZE (longer than maxFrame), -XEN_EOPNOTSUPP (GSO not
 * negotiated), -XEN_EINVAL or -XEN_ENODEV / -XEN_EIO (not connected, or disabled).
 */
export function netfrontSend(d: NetFront, buf: usize, len: u32, offload: u32 = 0, gsoType: u32 = 0, gsoSize: u32 = 0): i32 {
  store<u32>(IOV1, <u32>buf);
  store<u32>(IOV1, len, 4);
  return netfrontSendv(d, IOV1, 1, offload, gsoType, gsoSize);
}

/**
 * netfrontSend for a frame gathered from `niov` pieces: `iov` holds (u32 address, u32 length)
 * pairs, in order. The pieces are copied before this returns.
 */
export function netfrontSendv(d: NetFront, iov: usize, niov: u32, offload: u32 = 0, gsoType: u32 = 0, gsoSize: u32 = 0): i32 {
  if (d.phase != P_CONNECTED) return d.error != 0 ? -XEN_EIO : -XEN_ENODEV;
  let len: u32 = 0;
  for (let i: u32 = 0; i < niov; i++) len += load<u32>(iov + <usize>i * 8, 4);
  if (len < ETH_HLEN) return -XEN_EINVAL;
  if (gsoType != 0) {
    if (!((gsoType == XEN_NETIF_GSO_TYPE_TCPV4 && d.gsoV4) || (gsoType == XEN_NETIF_GSO_TYPE_TCPV6 && d.gsoV6))) return -XEN_EOPNOTSUPP;
    if (gsoSize == 0 || gsoSize > 0xffff) return -XEN_EINVAL;
  } else if (len > d.maxFrame) return -XEN_EMSGSIZE;
  if (len > MAX_FRAME) return -XEN_EMSGSIZE;
  const nq = d.queues[<i32>txQueue(d, iov)];
  const slots = (len + <u32>PAGE_SIZE - 1) / <u32>PAGE_SIZE;
  const need = slots + (gsoType != 0 ? 1 : 0);
  if (slots > MAX_TX_SLOTS) return -XEN_EMSGSIZE;
  if (<u32>nq.txFree.length < slots || nq.tx.free() < need) return -XEN_ENOSPC;
  // Gather the pieces into the slots' pages, a page per slot.
  let piece: u32 = 0, pieceOff: u32 = 0;
  for (let s: u32 = 0; s < slots; s++) {
    const id = nq.txFree.pop();
    const page = unchecked(nq.txPage[id]);
    const n = min(len - s * <u32>PAGE_SIZE, <u32>PAGE_SIZE);
    let filled: u32 = 0;
    while (filled < n) {
      const pa = <usize>load<u32>(iov + <usize>piece * 8), pl = load<u32>(iov + <usize>piece * 8, 4);
      const take = min(pl - pieceOff, n - filled);
      memory.copy(page + filled, pa + pieceOff, take);
      filled += take;
      pieceOff += take;
      if (pieceOff == pl) { piece++; pieceOff = 0; }
    }
    unchecked(nq.txBusy[id] = s == 0 ? 1 : 2);
    let flags: u32 = s + 1 < slots ? NETTXF_more_data : 0;
    if (s == 0) flags |= txFlags(offload) | (gsoType != 0 ? NETTXF_extra_info : 0);
    writeTxRequest(SLOT, unchecked(nq.txGref[id]), 0, flags, id, s == 0 ? len : n);
    nq.tx.writeRequest(SLOT, TX_SLOT);
    if (s == 0 && gsoType != 0) {
      writeExtra(SLOT, XEN_NETIF_EXTRA_TYPE_GSO, false, gsoType, gsoSize, 0);
      nq.tx.writeRequest(SLOT, TX_SLOT);
    }
  }
  nq.stats.txFrames++;
  nq.stats.txBytes += len;
  pushTx(d, nq);
  return 0;
}

/**
 * Subscribes (`add`) or unsubscribes the multicast address `mac` on the backend (multicast
 * control: MCAST_ADD / MCAST_DEL extra info on an empty transmit request, as netif.h defines).
 * Returns 0, -XEN_EOPNOTSUPP (not negotiated), -XEN_ENOSPC (ring full) or -XEN_ENODEV.
 */
export function netfrontMulticast(d: NetFront, mac: u64, add: bool): i32 {
  if (d.phase != P_CONNECTED) return d.error != 0 ? -XEN_EIO : -XEN_ENODEV;
  if (!d.mcast) return -XEN_EOPNOTSUPP;
  const nq = d.queues[0];
  if (nq.txFree.length == 0 || nq.tx.free() < 2) return -XEN_ENOSPC;
  const id = nq.txFree.pop();
  unchecked(nq.txBusy[id] = 2);
  writeTxRequest(SLOT, unchecked(nq.txGref[id]), 0, NETTXF_extra_info, id, 0);
  nq.tx.writeRequest(SLOT, TX_SLOT);
  writeExtra(SLOT, add ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD : XEN_NETIF_EXTRA_TYPE_MCAST_DEL, false, 0, 0, mac);
  nq.tx.writeRequest(SLOT, TX_SLOT);
  pushTx(d, nq);
  return 0;
}

/** Transmit slots free on the queue a frame would use now (the least over all queues). */
export function netfrontTxRoom(d: NetFront): u32 {
  let room: u32 = 0xffffffff;
  for (let q = 0; q < d.queues.length; q++) room = min(room, <u32>d.queues[q].txFree.length);
  return d.queues.length > 0 ? room : 0;
}

/** Publishes what was produced and notifies the backend if its event index asks for it. */
function pushTx(d: NetFront, nq: NQueue): void {
  if (nq.tx.pushRequestsAndCheckNotify()) {
    evtchnNotify(<u32>nq.txPort);
    nq.stats.notifies++;
  }
}

/**
 * The transmit queue of a frame: a hash of its IPv4/IPv6 addresses and ports (the flow), so a
 * flow stays in order on one queue; queue 0 for anything else or a single queue.
 */
function txQueue(d: NetFront, iov: usize): u32 {
  if (d.nrQueues == 1) return 0;
  const p = <usize>load<u32>(iov), plen = load<u32>(iov, 4);
  if (plen < 38) return 0;
  const type = (<u32>load<u8>(p + 12) << 8) | load<u8>(p + 13);
  let h: u32 = 0x811c9dc5;
  if (type == 0x0800) {
    for (let i: usize = 26; i < 38; i++) h = (h ^ load<u8>(p + i)) * 0x01000193; // addresses and ports (IHL 5)
  } else if (type == 0x86dd && plen >= 58) {
    for (let i: usize = 22; i < 58; i++) h = (h ^ load<u8>(p + i)) * 0x01000193;
  } else return 0;
  return h % d.nrQueues;
}

function onTxEvent(port: u32, arg: usize): void {
  const d = devs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (d.phase != P_CONNECTED || q >= d.queues.length) return;
  d.queues[q].stats.events++;
  serviceTx(d, d.queues[q]);
}

function onRxEvent(port: u32, arg: usize): void {
  const d = devs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (d.phase != P_CONNECTED || q >= d.queues.length) return;
  d.queues[q].stats.events++;
  serviceRx(d, d.queues[q]);
}

function onQueueEvent(port: u32, arg: usize): void {
  const d = devs[<i32>(arg >> 8)];
  const q = <i32>(arg & 0xff);
  if (d.phase != P_CONNECTED || q >= d.queues.length) return;
  const nq = d.queues[q];
  nq.stats.events++;
  serviceRx(d, nq);
  if (d.phase == P_CONNECTED) serviceTx(d, nq);
}

/** Takes every transmit response: frees the buffers, counts errors, tells the kernel. */
function serviceTx(d: NetFront, nq: NQueue): void {
  let done: u32 = 0, errors: u32 = 0;
  for (;;) {
    for (;;) {
      const rc = nq.tx.copyResponse(SLOT, 4);
      if (rc < 0) return fail(d, rc, "transmit ring broken (rsp_prod out of range)");
      if (rc == 0) break;
      const r = changetype<netif_tx_response>(SLOT);
      if (r.status == NETIF_RSP_NULL) continue; // an extra-info slot's answer
      const id = <i32>r.id;
      if (id >= nq.txBusy.length || unchecked(nq.txBusy[id]) == 0) return fail(d, -XEN_EIO, "transmit response id " + id.toString() + " is not in flight (never issued or duplicate)");
      if (unchecked(nq.txBusy[id]) == 1) {
        done++;
        if (r.status != NETIF_RSP_OKAY) { errors++; nq.stats.txErrors++; }
      }
      unchecked(nq.txBusy[id] = 0);
      nq.txFree.push(<u16>id);
    }
    const more = nq.tx.finalCheckForResponses();
    if (more < 0) return fail(d, more, "transmit ring broken (rsp_prod out of range)");
    if (more == 0) break;
  }
  const fn = d.txDone;
  if (done + errors > 0 && fn !== null) fn(d, done, errors, d.txDoneArg);
}

// ---- receive ---------------------------------------------------------------------------------

/** Posts the buffer of the next request position (every buffer returns to the same position). */
function postRx(d: NetFront, nq: NQueue): void {
  const id = <u16>(nq.rx.reqProdPvt & (nq.rx.size - 1));
  unchecked(nq.rxPosted[id] = true);
  writeRxRequest(SLOT, id, unchecked(nq.rxGref[id]));
  nq.rx.writeRequest(SLOT, RX_SLOT);
  nq.produced = true;
}

/** Takes every receive response, hands whole frames to the kernel, and reposts the buffers. */
function serviceRx(d: NetFront, nq: NQueue): void {
  const f = nq.rxFrame;
  for (;;) {
    for (;;) {
      const pos = <i32>(nq.rx.rspCons & (nq.rx.size - 1));
      const rc = nq.rx.copyResponse(SLOT, RX_SLOT);
      if (rc < 0) return fail(d, rc, "receive ring broken (rsp_prod out of range)");
      if (rc == 0) break;
      if (!unchecked(nq.rxPosted[pos])) return fail(d, -XEN_EIO, "receive response at " + pos.toString() + " for a buffer not posted");
      const id = <i32>load<u16>(SLOT);
      if (!f.wantExtra && id != pos) return fail(d, -XEN_EIO, "receive response id " + id.toString() + " was never issued at position " + pos.toString());
      unchecked(nq.rxPosted[pos] = false);
      const st = f.addSlot(SLOT, pos, d.sg);
      if (st == RX_BAD) return fail(d, -XEN_EIO, "malformed receive response: " + f.why);
      if (st == RX_MORE) continue;
      if (f.dropped) nq.stats.rxErrors++;
      else deliver(d, nq, f);
      if (d.phase != P_CONNECTED) return;
      // The frame's buffers go back to the backend (to the positions they came from).
      for (let i: u32 = 0; i < f.nids; i++) postRx(d, nq);
      f.reset();
    }
    const more = nq.rx.finalCheckForResponses();
    if (more < 0) return fail(d, more, "receive ring broken (rsp_prod out of range)");
    if (more == 0) break;
  }
  if (nq.produced) {
    nq.produced = false;
    if (nq.rx.pushRequestsAndCheckNotify()) {
      evtchnNotify(<u32>nq.rxPort);
      nq.stats.notifies++;
    }
  }
}

function deliver(d: NetFront, nq: NQueue, f: RxFrame): void {
  // The data slots are the ids that are not extra-info slots: the first id, then (after extras) the rest.
  let frame: usize;
  const extras = f.nids - f.nslots;
  if (f.nslots == 1) {
    frame = unchecked(nq.rxPage[unchecked(f.ids[0])]) + <usize>unchecked(f.offsets[0]);
  } else {
    frame = d.assembly;
    let at: usize = 0;
    for (let s: u32 = 0; s < f.nslots; s++) {
      const id = unchecked(f.ids[s == 0 ? 0 : s + extras]);
      const n = <usize>unchecked(f.sizes[s]);
      memory.copy(frame + at, unchecked(nq.rxPage[id]) + <usize>unchecked(f.offsets[s]), n);
      at += n;
    }
  }
  nq.stats.rxFrames++;
  nq.stats.rxBytes += f.len;
  const fn = d.rx;
  if (fn !== null) fn(d, <u32>d.queues.indexOf(nq), frame, f.len, f.offload, f.gsoType, f.gsoSize, d.rxArg);
}

// ---- the control ring: receive steering by Toeplitz hash --------------------------------------

/** The Toeplitz key netfront sets (the usual RSS key), and the size of the mapping table it asks for. */
export const NETFRONT_HASH_KEY: StaticArray<u8> = [
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
  0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];
export const NETFRONT_HASH_TABLE: u32 = 64;

/** Sets up the control ring page (granted), its port, and the page requests pass data in; returns the ring's gref. */
function ctrlSetup(d: NetFront): i32 {
  const pages = new StaticArray<SharedPage>(1);
  unchecked(pages[0] = SharedPage.local(frameAlloc()));
  const ring = new FrontRing(pages, CTRL_SLOT);
  if (ring.init(0) < 0) return -XEN_EINVAL;
  d.ctrlRingPage = unchecked(pages[0]).addr;
  const ref = gnttabGrantAccess(d.backendId, addrToGfn(d.ctrlRingPage), false);
  if (ref < 0) return ref;
  d.ctrlRingRef = ref;
  d.ctrlPage = frameAlloc();
  d.ctrlPageRef = gnttabGrantAccess(d.backendId, addrToGfn(d.ctrlPage), true);
  if (d.ctrlPageRef < 0) return d.ctrlPageRef;
  const port = evtchnAllocUnbound(d.backendId, onCtrlEvent, <usize>d.id);
  if (port < 0) return port;
  d.ctrl = ring;
  d.ctrlPort = port;
  return ref;
}

/** Sends one control request (the next step of the setup) and notifies the backend. */
function ctrlSend(d: NetFront, type: i32, d0: u32, d1: u32, d2: u32): void {
  const r = changetype<xen_netif_ctrl_request>(SLOT);
  r.id = <u16>d.ctrlStep;
  r.type = <u16>type;
  store<u32>(SLOT, d0, 4);
  store<u32>(SLOT, d1, 8);
  store<u32>(SLOT, d2, 12);
  const ring = d.ctrl!;
  ring.writeRequest(SLOT, CTRL_SLOT);
  if (ring.pushRequestsAndCheckNotify()) evtchnNotify(<u32>d.ctrlPort);
}

/**
 * The setup, one request at a time: Toeplitz, the hash types the backend has, our key, the
 * largest table up to NETFRONT_HASH_TABLE entries, and the table (entry i: queue i mod queues).
 */
function ctrlNext(d: NetFront): void {
  const step = d.ctrlStep;
  if (step == 0) ctrlSend(d, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
  else if (step == 1) ctrlSend(d, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0);
  else if (step == 2) ctrlSend(d, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, d.hashFlags, 0, 0);
  else if (step == 3) {
    for (let i = 0; i < NETFRONT_HASH_KEY.length; i++) store<u8>(d.ctrlPage + i, unchecked(NETFRONT_HASH_KEY[i]));
    ctrlSend(d, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, <u32>d.ctrlPageRef, <u32>NETFRONT_HASH_KEY.length, 0);
  } else if (step == 4) ctrlSend(d, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
  else if (step == 5) ctrlSend(d, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, d.hashTableSize, 0, 0);
  else if (step == 6) {
    d.hashTable = new StaticArray<u32>(<i32>d.hashTableSize);
    for (let i: u32 = 0; i < d.hashTableSize; i++) {
      unchecked(d.hashTable[i] = i % d.nrQueues);
      store<u32>(d.ctrlPage + <usize>i * 4, i % d.nrQueues);
    }
    ctrlSend(d, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, <u32>d.ctrlPageRef, d.hashTableSize, 0);
  } else {
    d.hashActive = true;
    puts("netfront: ");
    puts(d.path);
    puts(": receive steering by Toeplitz hash, ");
    puts(d.hashTableSize.toString());
    printk("-entry table");
  }
}

function onCtrlEvent(port: u32, arg: usize): void {
  const d = devs[<i32>arg];
  const ring = d.ctrl;
  if (d.phase != P_CONNECTED || ring === null) return;
  for (;;) {
    const rc = ring.copyResponse(SLOT, <u32>offsetof<xen_netif_ctrl_response>());
    if (rc < 0) return fail(d, rc, "control ring broken (rsp_prod out of range)");
    if (rc == 0) break;
    const r = changetype<xen_netif_ctrl_response>(SLOT);
    if (<i32>r.id != d.ctrlStep) return fail(d, -XEN_EIO, "control response id " + r.id.toString() + " was never issued");
    if (r.status != XEN_NETIF_CTRL_STATUS_SUCCESS) {
      // The backend refused a step: keep its default steering (not an error of the device).
      puts("netfront: ");
      puts(d.path);
      puts(": control request ");
      puts(d.ctrlStep.toString());
      puts(" refused with status ");
      printk(r.status.toString());
      d.ctrlStep = 100;
      return;
    }
    if (d.ctrlStep == 1) d.hashFlags = r.data;
    if (d.ctrlStep == 4) d.hashTableSize = min(r.data, NETFRONT_HASH_TABLE);
    d.ctrlStep++;
    if (d.ctrlStep == 5 && d.hashTableSize == 0) d.ctrlStep = 7; // no table: hash mod queues
    ctrlNext(d);
  }
  ring.finalCheckForResponses();
}

/**
 * The receive queue the backend should steer the frame at `frame` (`len` bytes) to, by the
 * hash netfront set up (for tests and diagnostics); -1 when no steering is active or no hash
 * type applies to the frame.
 */
export function netfrontExpectedQueue(d: NetFront, frame: usize, len: u32): i32 {
  if (!d.hashActive) return -1;
  const n = hashInput(frame, len, d.hashFlags, HASH_IN);
  if (n == 0) return -1;
  const key = changetype<usize>(NETFRONT_HASH_KEY);
  const h = xen_netif_toeplitz_hash(key, <u32>NETFRONT_HASH_KEY.length, HASH_IN, n);
  return d.hashTableSize == 0 ? <i32>(h % d.nrQueues) : <i32>unchecked(d.hashTable[<i32>(h % d.hashTableSize)]);
}
const HASH_IN = memory.data(40, 8);

export { FRAME_CSUM_BLANK, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6, XEN_EMSGSIZE };
