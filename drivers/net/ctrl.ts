// The netif control ring, backend side (netif.h "Control messages"; Linux's xen-netback hash.c):
// the frontend picks the hash algorithm (Toeplitz), the hash types, the key and the mapping table
// from hash to queue; netback then steers each received frame to the queue the table names for
// its flow. Every request is copied out of the ring and checked; a value out of range gets
// XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER (or BUFFER_OVERFLOW) and changes nothing. The key and
// the table are read from the frontend's grants with GNTTABOP_copy into our own memory.
//
// Ownership: a CtrlRing belongs to its vif (back.ts) for one connection; it owns the ring mapping,
// its port, and the key and table it copied.
import {
  xen_netif_ctrl_request, xen_netif_ctrl_response, xen_netif_toeplitz_hash,
  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
  XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, XEN_NETIF_CTRL_HASH_TYPE_IPV6, XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
  XEN_NETIF_CTRL_STATUS_SUCCESS, XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED, XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
  XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW,
} from "../../assembly/xen/io/netif";
import { Keys } from "../common/xenbus";
import { K_CTRL_RING_REF, K_EVENT_CHANNEL_CTRL, CTRL_SLOT, MAX_HASH_KEY, hashInput } from "./proto";
import { BackRing } from "../../assembly/ring";
import { SharedPage, gnttabMap, gnttabUnmap, gnttabCopyFrom } from "../../assembly/gnttab";
import { evtchnBindInterdomain, evtchnClose, evtchnNotify, EvtchnHandler } from "../../assembly/evtchn";
import { GNTMAP_host_map, GNTST_okay } from "../../assembly/xen/grant_table";
import { XEN_EINVAL } from "../../assembly/xen/errno";
import { PAGE_SIZE } from "../../assembly/frames";

/** What back.ts reads with the frontend's other keys. */
export const ctrlRingKeys: Array<string> = [K_CTRL_RING_REF, K_EVENT_CHANNEL_CTRL];

/** Bytes of a control response. */
const CTRL_RSP: u32 = <u32>offsetof<xen_netif_ctrl_response>();
/** The largest mapping table (Linux's XEN_NETBK_MAX_HASH_MAPPING_SIZE). */
export const MAX_HASH_MAPPING: u32 = 128;
/** Hash types we compute. */
export const HASH_TYPES: u32 = <u32>(XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);

const REQ = memory.data(<i32>CTRL_SLOT, 8);
const RSP = memory.data(<i32>CTRL_SLOT, 8);
const HASHIN = memory.data(36, 8);
const TABLE_IN = memory.data(<i32>(MAX_HASH_MAPPING * 4), 8);

/** The backend end of one vif's control ring and the hash settings the frontend made through it. */
export class CtrlRing {
  page: SharedPage = new SharedPage();
  ring: BackRing | null = null;
  port: i32 = -1;
  algorithm: u32 = <u32>XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
  flags: u32 = 0;
  /** The Toeplitz key: a managed buffer (collected with the ring: a vif reconnects any number of times) and its address. */
  keyBuf: StaticArray<u8> = new StaticArray<u8>(<i32>MAX_HASH_KEY);
  key: usize = changetype<usize>(this.keyBuf);
  mappingSize: u32 = 0;
  mapping: StaticArray<u32> = new StaticArray<u32>(<i32>MAX_HASH_MAPPING);
  /** The number of queues of the vif (mapping entries must be below it). */
  nrQueues: u32 = 1;
  /** Requests answered, and of them refused. */
  requests: u64 = 0;
  refused: u64 = 0;
  constructor(public domid: u16) {
    memory.fill(this.key, 0, MAX_HASH_KEY);
  }

  /**
   * Takes up the ring named by the frontend's keys (read into `k`), for a vif of `nrQueues`
   * queues. Returns 1 (connected), 0 (the frontend set up no control ring) or -XEN_Exxx.
   */
  connect(k: Keys, nrQueues: u32, handler: EvtchnHandler, arg: usize): i32 {
    const ref = k.u32(K_CTRL_RING_REF, 0xffffffff), ev = k.u32(K_EVENT_CHANNEL_CTRL, 0xffffffff);
    if (ref == 0xffffffff && ev == 0xffffffff) return 0;
    if (ref < 0 || ref == 0xffffffff || ev < 0 || ev == 0xffffffff) return -XEN_EINVAL;
    this.nrQueues = nrQueues;
    if (gnttabMap(this.page, this.domid, <u32>ref, GNTMAP_host_map) != GNTST_okay) return -XEN_EINVAL;
    const pages = new StaticArray<SharedPage>(1);
    unchecked(pages[0] = this.page);
    const ring = new BackRing(pages, CTRL_SLOT);
    if (ring.attach(0) < 0) return -XEN_EINVAL;
    this.ring = ring;
    const port = evtchnBindInterdomain(this.domid, <u32>ev, handler, arg);
    if (port < 0) return port;
    this.port = port;
    return 1;
  }

  /** Unmaps the ring and closes its port (idempotent). */
  disconnect(): void {
    if (this.port >= 0) evtchnClose(<u32>this.port);
    this.port = -1;
    this.ring = null;
    if (this.page.bound) gnttabUnmap(this.page);
  }

  /** Whether frames are steered by the frontend's hash (Toeplitz with at least one hash type). */
  active(): bool {
    return this.algorithm == <u32>XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ && this.flags != 0;
  }

  /**
   * The receive queue for the frame whose first `len` bytes are at `hdr`: the mapping table's
   * entry for the Toeplitz hash of its addresses (and ports, for TCP when asked), or hash mod
   * `n` without a table; queue 0 for frames the hash types do not cover.
   */
  queueFor(hdr: usize, len: u32, n: u32): u32 {
    const inLen = hashInput(hdr, len, this.flags, HASHIN);
    if (inLen == 0) return 0;
    const h = xen_netif_toeplitz_hash(this.key, MAX_HASH_KEY, HASHIN, inLen);
    if (this.mappingSize == 0) return h % n;
    const q = unchecked(this.mapping[<i32>(h % this.mappingSize)]);
    return q < n ? q : 0;
  }

  /** Answers every request on the ring; returns 0, or the ring's error (the caller disconnects the vif). */
  service(): i32 {
    for (;;) {
      const ring = this.ring;
      if (ring === null) return 0;
      for (;;) {
        const rc = ring.copyRequest(REQ, CTRL_SLOT);
        if (rc < 0) return rc;
        if (rc == 0) break;
        const req = changetype<xen_netif_ctrl_request>(REQ);
        const rsp = changetype<xen_netif_ctrl_response>(RSP);
        rsp.id = req.id;
        rsp.type = req.type;
        rsp.data = 0;
        rsp.status = this.handle(req, rsp);
        this.requests++;
        if (rsp.status != <u32>XEN_NETIF_CTRL_STATUS_SUCCESS) this.refused++;
        const w = ring.writeResponse(RSP, CTRL_RSP);
        if (w < 0) return w;
      }
      if (ring.pushResponsesAndCheckNotify()) evtchnNotify(<u32>this.port);
      const more = ring.finalCheckForRequests();
      if (more < 0) return more;
      if (more == 0) return 0;
    }
    return 0; // not reached
  }

  private handle(req: xen_netif_ctrl_request, rsp: xen_netif_ctrl_response): u32 {
    const d0 = load<u32>(REQ, 4), d1 = load<u32>(REQ, 8), d2 = load<u32>(REQ, 12);
    const type = <i32>req.type;
    if (type == XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM) {
      if (d0 != <u32>XEN_NETIF_CTRL_HASH_ALGORITHM_NONE && d0 != <u32>XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      this.algorithm = d0;
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    if (type == XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS) {
      if (this.algorithm == <u32>XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
      rsp.data = HASH_TYPES;
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    if (type == XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS) {
      if (this.algorithm == <u32>XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
      if ((d0 & ~HASH_TYPES) != 0) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      this.flags = d0;
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    if (type == XEN_NETIF_CTRL_TYPE_SET_HASH_KEY) {
      if (d1 > <u32>PAGE_SIZE) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      if (d1 > MAX_HASH_KEY) return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
      // A new key replaces the old one whole; octets not given are zero.
      if (d1 > 0 && gnttabCopyFrom(this.domid, d0, 0, HASHIN, d1) != GNTST_okay) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      memory.fill(this.key, 0, MAX_HASH_KEY);
      memory.copy(this.key, HASHIN, d1);
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    if (type == XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE) {
      rsp.data = MAX_HASH_MAPPING;
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    if (type == XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE) {
      if (d0 > MAX_HASH_MAPPING) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      this.mappingSize = d0;
      for (let i = 0; i < <i32>MAX_HASH_MAPPING; i++) unchecked(this.mapping[i] = 0);
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    if (type == XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING) {
      const len = d1, off = d2;
      if (len > <u32>PAGE_SIZE / 4) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      if (off > this.mappingSize || len > this.mappingSize - off) return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
      if (len > 0 && gnttabCopyFrom(this.domid, d0, 0, TABLE_IN, len * 4) != GNTST_okay) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      // All entries are checked before any is taken: a bad table changes nothing.
      for (let i: u32 = 0; i < len; i++) if (load<u32>(TABLE_IN + <usize>i * 4) >= this.nrQueues) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      for (let i: u32 = 0; i < len; i++) unchecked(this.mapping[<i32>(off + i)] = load<u32>(TABLE_IN + <usize>i * 4));
      return XEN_NETIF_CTRL_STATUS_SUCCESS;
    }
    // XEN_NETIF_CTRL_TYPE_{GET_GREF_MAPPING_SIZE,ADD_GREF_MAPPING,DEL_GREF_MAPPING} and unknown types.
    return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
  }
}

export { XEN_NETIF_CTRL_STATUS_SUCCESS };
