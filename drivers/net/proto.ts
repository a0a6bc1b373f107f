// netif wire protocol (io/netif.h) as both ends use it: limits, feature keys, and the frame
// formats in both directions, in one place (mirage-net-xen's netif.ml): a frame is one or more
// slots chained with NETTXF_more_data / NETRXF_more_data, and an extra-info slot may follow the
// first one (GSO, multicast, hash). The frontend writes transmit frames (writeTxSlot) and checks
// received ones (RxFrame.addSlot); the backend checks transmit frames (parseTxFrame) and writes
// received ones (writeRxResponse). Parsing never trusts a slot: each is a private copy, checked
// once, as Linux's xenvif_count_requests / xennet_get_responses check them.
import {
  netif_tx_request, netif_tx_response, netif_rx_request, netif_rx_response, netif_extra_info,
  NETTXF_csum_blank, NETTXF_data_validated, NETTXF_more_data, NETTXF_extra_info,
  NETRXF_data_validated, NETRXF_csum_blank, NETRXF_more_data, NETRXF_extra_info,
  XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, XEN_NETIF_EXTRA_TYPE_HASH,
  XEN_NETIF_EXTRA_TYPE_MAX, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_NR_SLOTS_MIN, XEN_NETIF_MAX_TX_SIZE, NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_DROPPED, NETIF_RSP_NULL,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, XEN_NETIF_CTRL_HASH_TYPE_IPV6, XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
} from "../../assembly/xen/io/netif";
import { PAGE_SIZE } from "../../assembly/frames";
import { macLoad, macStore, ETH_HLEN } from "../../assembly/net/wire";
/** Bytes of an Ethernet header (assembly/net's): the shortest frame either end accepts. */
export { ETH_HLEN };

/** Bytes of one transmit ring slot (union netif_tx_sring_entry). */
export const TX_SLOT: u32 = 12;
/** Bytes of a transmit response. */
export const TX_RSP: u32 = <u32>offsetof<netif_tx_response>();
/** Bytes of one receive ring slot (union netif_rx_sring_entry): a request or a response. */
export const RX_SLOT: u32 = 8;
/** The longest frame (netif.h's XEN_NETIF_MAX_TX_SIZE). */
export const MAX_FRAME: u32 = <u32>XEN_NETIF_MAX_TX_SIZE;
/** The default MTU (the `mtu` key's default): a frame of ETH_HLEN + 1500 bytes. */
export const DEFAULT_MTU: u32 = 1500;
/** Data slots a transmit frame may use and be forwarded (netif.h's XEN_NETIF_NR_SLOTS_MIN, Linux's max_skb_slots). */
export const MAX_TX_SLOTS: u32 = <u32>XEN_NETIF_NR_SLOTS_MIN;
/** Data slots beyond which a transmit frame is a fatal error, not just dropped (Linux's fatal_skb_slots). */
export const FATAL_TX_SLOTS: u32 = 20;
/** Data slots a received frame of MAX_FRAME bytes needs at most (copied into whole pages). */
export const MAX_RX_SLOTS: u32 = (MAX_FRAME + <u32>PAGE_SIZE - 1) / <u32>PAGE_SIZE;
/** Extra-info slots a frame may carry (one of each type). */
export const MAX_EXTRAS: u32 = <u32>XEN_NETIF_EXTRA_TYPE_MAX - 1;
/** Most queues either end offers or uses. */
export const MAX_QUEUES: u32 = 4;

// The xenstore keys of netif.h, as both ends spell them.
export const K_TX_RING_REF = "tx-ring-ref";
export const K_RX_RING_REF = "rx-ring-ref";
export const K_EVENT_CHANNEL = "event-channel";
export const K_EVENT_CHANNEL_TX = "event-channel-tx";
export const K_EVENT_CHANNEL_RX = "event-channel-rx";
export const K_REQUEST_RX_COPY = "request-rx-copy";
export const K_FEATURE_RX_COPY = "feature-rx-copy";
export const K_FEATURE_RX_FLIP = "feature-rx-flip";
export const K_FEATURE_RX_NOTIFY = "feature-rx-notify";
export const K_FEATURE_SG = "feature-sg";
export const K_GSO_TCPV4 = "feature-gso-tcpv4";
export const K_GSO_TCPV6 = "feature-gso-tcpv6";
export const K_NO_CSUM_OFFLOAD = "feature-no-csum-offload";
export const K_IPV6_CSUM_OFFLOAD = "feature-ipv6-csum-offload";
export const K_SPLIT_EVTCHN = "feature-split-event-channels";
export const K_MAX_QUEUES = "multi-queue-max-queues";
export const K_NUM_QUEUES = "multi-queue-num-queues";
export const K_CTRL_RING = "feature-ctrl-ring";
export const K_CTRL_RING_REF = "ctrl-ring-ref";
export const K_EVENT_CHANNEL_CTRL = "event-channel-ctrl";
export const K_MCAST_CONTROL = "feature-multicast-control";
export const K_DYN_MCAST_CONTROL = "feature-dynamic-multicast-control";
export const K_REQUEST_MCAST_CONTROL = "request-multicast-control";
export const K_MAC = "mac";
export const K_MTU = "mtu";
export const K_RATE = "rate";

/** Offload bits of a frame as the drivers' APIs carry them (not wire flags). */
export const FRAME_CSUM_BLANK: u32 = 1;
export const FRAME_DATA_VALIDATED: u32 = 2;

/** What parseTxFrame concluded. */
export const TX_OK: i32 = 0;
/** A bad frame: its slots get NETIF_RSP_ERROR and it is dropped (Linux's xenvif_tx_err). */
export const TX_DROP: i32 = 1;
/** A frontend that breaks the protocol: disconnect the vif (Linux's xenvif_fatal_tx_err). */
export const TX_FATAL: i32 = 2;

/**
 * One transmit frame as the backend acts on it: the slots copied out of the ring and checked.
 * Data slot i is `sizes[i]` bytes at `offsets[i]` of the page granted as `grefs[i]`; every ring
 * slot the frame used (data and extra) gets a response with `ids[j]` (NETIF_RSP_NULL for extras,
 * `isExtra[j]`). Allocated once per queue and refilled for each frame.
 */
export class TxFrame {
  /** Ring slots used (data + extra) and data slots. */
  nreq: u32 = 0;
  nslots: u32 = 0;
  /** The frame's length (the first slot's size). */
  len: u32 = 0;
  /** FRAME_CSUM_BLANK / FRAME_DATA_VALIDATED. */
  offload: u32 = 0;
  gsoType: u8 = 0;
  gsoSize: u16 = 0;
  /** XEN_NETIF_EXTRA_TYPE_MCAST_ADD / _DEL (0: none) and its address: a control request, not a frame. */
  mcastOp: u8 = 0;
  mcastAddr: u64 = 0;
  /** Why it was dropped or is fatal (for the log). */
  why: string = "";
  grefs: StaticArray<u32> = new StaticArray<u32>(<i32>FATAL_TX_SLOTS);
  offsets: StaticArray<u16> = new StaticArray<u16>(<i32>FATAL_TX_SLOTS);
  sizes: StaticArray<u16> = new StaticArray<u16>(<i32>FATAL_TX_SLOTS);
  ids: StaticArray<u16> = new StaticArray<u16>(<i32>(FATAL_TX_SLOTS + MAX_EXTRAS));
  isExtra: StaticArray<bool> = new StaticArray<bool>(<i32>(FATAL_TX_SLOTS + MAX_EXTRAS));
}

/**
 * Parses the frame starting at slot `first` of the `avail` transmit slots copied at `slots`
 * (TX_SLOT bytes each) into `f`. Returns the number of ring slots the frame uses (> 0) with
 * `status` in f.why empty (TX_OK) or set; the result is packed as slots | (verdict << 16), with
 * verdict TX_OK, TX_DROP or TX_FATAL. `gso` tells whether we offered GSO, `mcast` multicast
 * control. A frame whose slots run past `avail` is fatal: a frontend publishes whole frames.
 */
export function parseTxFrame(slots: usize, first: u32, avail: u32, f: TxFrame, gso: bool, mcast: bool): i32 {
  f.nreq = 0;
  f.nslots = 0;
  f.offload = 0;
  f.gsoType = 0;
  f.gsoSize = 0;
  f.mcastOp = 0;
  f.why = "";
  let i = first;
  let verdict = TX_OK;
  const r0 = changetype<netif_tx_request>(slots + <usize>(i * TX_SLOT));
  const total = <u32>r0.size;
  let flags = <u32>r0.flags;
  f.len = total;
  if (flags & NETTXF_csum_blank) f.offload |= FRAME_CSUM_BLANK;
  if (flags & NETTXF_data_validated) f.offload |= FRAME_DATA_VALIDATED;
  addData(f, i, r0);
  i++;
  // Extra-info slots right after the first (netif.h): each type at most once.
  if (flags & NETTXF_extra_info) {
    let more = true;
    while (more) {
      if (i >= first + avail) return pack(i - first, TX_FATAL, f, "missing extra info slot");
      const e = changetype<netif_extra_info>(slots + <usize>(i * TX_SLOT));
      const type = <i32>e.type;
      unchecked(f.ids[f.nreq] = changetype<netif_tx_request>(slots + <usize>(i * TX_SLOT)).id);
      unchecked(f.isExtra[f.nreq] = true);
      f.nreq++;
      i++;
      if (type == 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX) return pack(i - first, TX_FATAL, f, "invalid extra info type " + type.toString());
      if (f.nreq > 1 + MAX_EXTRAS) return pack(i - first, TX_FATAL, f, "too many extra info slots");
      if (type == XEN_NETIF_EXTRA_TYPE_GSO) {
        if (!gso) return pack(i - first, TX_FATAL, f, "GSO extra info without feature-gso");
        const gt = e.u_gso_type, gs = e.u_gso_size;
        if (gs == 0) return pack(i - first, TX_FATAL, f, "GSO size must not be zero");
        if (gt != XEN_NETIF_GSO_TYPE_TCPV4 && gt != XEN_NETIF_GSO_TYPE_TCPV6) return pack(i - first, TX_FATAL, f, "bad GSO type " + gt.toString());
        f.gsoType = gt;
        f.gsoSize = gs;
      } else if (type == XEN_NETIF_EXTRA_TYPE_MCAST_ADD || type == XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
        if (!mcast) return pack(i - first, TX_FATAL, f, "multicast extra info without multicast control");
        f.mcastOp = <u8>type;
        f.mcastAddr = macLoad(e.u_mcast_addr);
      } // XEN_NETIF_EXTRA_TYPE_HASH: the frontend's hash, which the switch does not need
      more = (<u32>e.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
    }
  }
  // The data slots after the first: sizes add up to the first slot's size (which covers them all).
  let firstLen = total;
  while (flags & NETTXF_more_data) {
    if (i >= first + avail) return pack(i - first, TX_FATAL, f, "frame runs past the published requests");
    if (f.nslots >= FATAL_TX_SLOTS) return pack(i - first, TX_FATAL, f, "more than " + FATAL_TX_SLOTS.toString() + " slots in a frame");
    const r = changetype<netif_tx_request>(slots + <usize>(i * TX_SLOT));
    flags = <u32>r.flags;
    addData(f, i, r);
    i++;
    const sz = <u32>r.size;
    if (<u32>r.offset + sz > <u32>PAGE_SIZE) return pack(i - first, TX_FATAL, f, "slot crosses a page boundary");
    if (verdict == TX_OK && sz > firstLen) { verdict = TX_DROP; f.why = "a slot is larger than the rest of the frame"; }
    if (verdict == TX_OK) firstLen -= sz;
  }
  // The first slot carries what the others do not.
  unchecked(f.sizes[0] = <u16>firstLen);
  if (<u32>unchecked(f.offsets[0]) + firstLen > <u32>PAGE_SIZE) return pack(i - first, TX_FATAL, f, "first slot crosses a page boundary");
  if (verdict != TX_OK) return pack(i - first, verdict, f, f.why);
  // A multicast control request carries no frame (Linux answers it before the size checks).
  if (f.mcastOp != 0) return pack(i - first, TX_OK, f, "");
  if (f.nslots > MAX_TX_SLOTS) return pack(i - first, TX_DROP, f, "more than " + MAX_TX_SLOTS.toString() + " slots in a frame");
  if (total < ETH_HLEN) return pack(i - first, TX_DROP, f, "frame shorter than an Ethernet header");
  return pack(i - first, TX_OK, f, "");
}

function addData(f: TxFrame, i: u32, r: netif_tx_request): void {
  if (f.nslots < FATAL_TX_SLOTS) {
    unchecked(f.grefs[f.nslots] = r.gref);
    unchecked(f.offsets[f.nslots] = r.offset);
    unchecked(f.sizes[f.nslots] = r.size);
    f.nslots++;
  }
  unchecked(f.ids[f.nreq] = r.id);
  unchecked(f.isExtra[f.nreq] = false);
  f.nreq++;
}

function pack(used: u32, verdict: i32, f: TxFrame, why: string): i32 {
  f.why = why;
  return <i32>used | (verdict << 16);
}

/** The number of ring slots parseTxFrame's result says the frame used. */
@inline export function txUsed(result: i32): u32 { return <u32>(result & 0xffff); }
/** The verdict (TX_OK, TX_DROP, TX_FATAL) in parseTxFrame's result. */
@inline export function txVerdict(result: i32): i32 { return result >> 16; }

/** Writes a transmit request into the 12 bytes at `dst` (frontend). */
export function writeTxRequest(dst: usize, gref: u32, offset: u32, flags: u32, id: u32, size: u32): void {
  const r = changetype<netif_tx_request>(dst);
  r.gref = gref;
  r.offset = <u16>offset;
  r.flags = <u16>flags;
  r.id = <u16>id;
  r.size = <u16>size;
}

/** The NETTXF_* flags of a frame's first slot for FRAME_* `offload` bits (frontend). */
export function txFlags(offload: u32): u32 {
  return ((offload & FRAME_CSUM_BLANK) != 0 ? NETTXF_csum_blank : 0) | ((offload & FRAME_DATA_VALIDATED) != 0 ? NETTXF_data_validated : 0);
}

/** Writes an extra-info slot (GSO or multicast) into the 8 (of 12) bytes at `dst`, with `id` in the id's place of a request slot. */
export function writeExtra(dst: usize, type: i32, more: bool, gsoType: u32, gsoSize: u32, mac: u64): void {
  memory.fill(dst, 0, TX_SLOT);
  const e = changetype<netif_extra_info>(dst);
  e.type = <u8>type;
  e.flags = more ? <u8>XEN_NETIF_EXTRA_FLAG_MORE : 0;
  if (type == XEN_NETIF_EXTRA_TYPE_GSO) {
    e.u_gso_size = <u16>gsoSize;
    e.u_gso_type = <u8>gsoType;
  } else macStore(e.u_mcast_addr, mac);
}

/** Writes a transmit response (backend). */
export function writeTxResponse(dst: usize, id: u16, status: i16): void {
  const r = changetype<netif_tx_response>(dst);
  r.id = id;
  r.status = status;
}

/** Writes a receive request offering the page granted as `gref` under `id` (frontend). */
export function writeRxRequest(dst: usize, id: u16, gref: u32): void {
  const r = changetype<netif_rx_request>(dst);
  r.id = id;
  r.pad = 0;
  r.gref = gref;
}

/** Writes a receive response (backend): `status` is the bytes in this slot or a NETIF_RSP_* error. */
export function writeRxResponse(dst: usize, id: u16, offset: u16, flags: u16, status: i16): void {
  const r = changetype<netif_rx_response>(dst);
  r.id = id;
  r.offset = offset;
  r.flags = flags;
  r.status = status;
}

/** The NETRXF_* flags of a received frame's first slot for FRAME_* `offload` bits (backend). */
export function rxFlags(offload: u32): u32 {
  return ((offload & FRAME_CSUM_BLANK) != 0 ? NETRXF_csum_blank | NETRXF_data_validated : 0) | ((offload & FRAME_DATA_VALIDATED) != 0 ? NETRXF_data_validated : 0);
}

/** What RxFrame.addSlot concluded about one response. */
export const RX_MORE: i32 = 0;   // the frame goes on in the next slot
export const RX_DONE: i32 = 1;   // the frame is complete
export const RX_BAD: i32 = -1;   // the backend broke the protocol (RxFrame.why says how)

/**
 * A received frame as the frontend assembles it from responses (Linux's xennet_get_responses):
 * the data slots (buffer id, offset, size), the offload bits and GSO info. Allocated once per queue.
 */
export class RxFrame {
  nslots: u32 = 0;
  len: u32 = 0;
  offload: u32 = 0;
  gsoType: u8 = 0;
  gsoSize: u16 = 0;
  /** The next response is an extra-info slot; then the frame goes on while `more`. */
  wantExtra: bool = false;
  more: bool = false;
  started: bool = false;
  /** A slot had a negative status (NETIF_RSP_ERROR / DROPPED): the frame is to be dropped, not delivered. */
  dropped: bool = false;
  why: string = "";
  ids: StaticArray<u16> = new StaticArray<u16>(<i32>(MAX_RX_SLOTS + MAX_EXTRAS));
  offsets: StaticArray<u16> = new StaticArray<u16>(<i32>MAX_RX_SLOTS);
  sizes: StaticArray<u16> = new StaticArray<u16>(<i32>MAX_RX_SLOTS);
  /** Every buffer id this frame consumed (data and extra slots), to repost. */
  nids: u32 = 0;

  /** Starts a new frame. */
  reset(): void {
    this.nslots = 0;
    this.len = 0;
    this.offload = 0;
    this.gsoType = 0;
    this.gsoSize = 0;
    this.wantExtra = false;
    this.more = false;
    this.started = false;
    this.nids = 0;
    this.dropped = false;
    this.why = "";
  }

  /**
   * Adds the response copied at `rsp`, which answers the buffer `id` (its position: the caller
   * checked it), to the frame: checks offset + size within the page, the slot count, the
   * extra-info type. `sg` says whether multi-slot frames were negotiated. Returns RX_MORE,
   * RX_DONE or RX_BAD.
   */
  addSlot(rsp: usize, id: i32, sg: bool): i32 {
    if (this.nids >= <u32>this.ids.length) return this.bad("more than " + MAX_RX_SLOTS.toString() + " slots in a frame");
    unchecked(this.ids[this.nids++] = <u16>id);
    if (this.wantExtra) {
      const e = changetype<netif_extra_info>(rsp);
      this.wantExtra = (<u32>e.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
      const type = <i32>e.type;
      if (type == 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX) return this.bad("invalid extra info type " + type.toString());
      if (type == XEN_NETIF_EXTRA_TYPE_GSO) {
        if (e.u_gso_size == 0 || (e.u_gso_type != XEN_NETIF_GSO_TYPE_TCPV4 && e.u_gso_type != XEN_NETIF_GSO_TYPE_TCPV6)) return this.bad("bad GSO extra info");
        this.gsoType = e.u_gso_type;
        this.gsoSize = e.u_gso_size;
      }
      return this.wantExtra || this.more ? RX_MORE : RX_DONE;
    }
    const r = changetype<netif_rx_response>(rsp);
    const status = <i32>r.status, offset = <u32>r.offset, flags = <u32>r.flags;
    // A negative status is a NETIF_RSP_* error for this slot (a copy into it failed): netif.h's
    // and Linux's rule is to drop the frame and go on. A size past the page is a lying backend.
    if (status < 0) this.dropped = true;
    const size: u32 = status < 0 ? 0 : <u32>status;
    if (offset + size > <u32>PAGE_SIZE) return this.bad("offset " + offset.toString() + " + size " + status.toString() + " past the page");
    if (this.nslots >= MAX_RX_SLOTS) return this.bad("more than " + MAX_RX_SLOTS.toString() + " data slots in a frame");
    if (!this.started) {
      this.started = true;
      if (flags & NETRXF_csum_blank) this.offload |= FRAME_CSUM_BLANK;
      if (flags & NETRXF_data_validated) this.offload |= FRAME_DATA_VALIDATED;
      this.wantExtra = (flags & NETRXF_extra_info) != 0;
    } else if (flags & NETRXF_extra_info) return this.bad("extra info flag on a later slot");
    unchecked(this.offsets[this.nslots] = <u16>offset);
    unchecked(this.sizes[this.nslots] = <u16>size);
    this.nslots++;
    this.len += size;
    if (this.len > MAX_FRAME) return this.bad("frame longer than " + MAX_FRAME.toString() + " bytes");
    this.more = (flags & NETRXF_more_data) != 0;
    if (this.more && !sg) return this.bad("a multi-slot frame without feature-sg");
    if (this.wantExtra || this.more) return RX_MORE;
    if (this.len < ETH_HLEN && !this.dropped) return this.bad("frame shorter than an Ethernet header");
    return RX_DONE;
  }

  private bad(why: string): i32 {
    this.why = why;
    return RX_BAD;
  }
}

/** Bytes of a control ring slot (union xen_netif_ctrl_sring_entry). */
export const CTRL_SLOT: u32 = 16;
/** The longest Toeplitz key either end uses (Linux's XEN_NETBK_MAX_HASH_KEY_SIZE). */
export const MAX_HASH_KEY: u32 = 40;

/**
 * Writes the Toeplitz hash input of the frame whose first `len` bytes are at `hdr` into `out`
 * (at least 36 bytes), as netif.h's hash types define it for the `flags` (XEN_NETIF_CTRL_HASH_TYPE_*)
 * in force: IPv4 addresses (8 bytes), plus TCP ports for IPV4_TCP (12), IPv6 addresses (32),
 * plus TCP ports for IPV6_TCP (36). Returns the input's length, 0 when no hash type applies.
 */
export function hashInput(hdr: usize, len: u32, flags: u32, out: usize): u32 {
  if (len < 14) return 0;
  const type = (<u32>load<u8>(hdr + 12) << 8) | load<u8>(hdr + 13);
  if (type == 0x0800 && len >= 34) {
    const ip = hdr + 14;
    const ihl = (<u32>load<u8>(ip) & 15) * 4;
    const frag = ((<u32>load<u8>(ip + 6) << 8) | load<u8>(ip + 7)) & 0x3fff;
    memory.copy(out, ip + 12, 8);
    if ((flags & <u32>XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP) != 0 && load<u8>(ip + 9) == 6 && frag == 0 && <u32>14 + ihl + 4 <= len) {
      memory.copy(out + 8, ip + ihl, 4);
      return 12;
    }
    return (flags & <u32>XEN_NETIF_CTRL_HASH_TYPE_IPV4) != 0 ? 8 : 0;
  }
  if (type == 0x86dd && len >= 54) {
    const ip = hdr + 14;
    memory.copy(out, ip + 8, 32);
    if ((flags & <u32>XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) != 0 && load<u8>(ip + 6) == 6 && <u32>58 <= len) {
      memory.copy(out + 32, ip + 40, 4);
      return 36;
    }
    return (flags & <u32>XEN_NETIF_CTRL_HASH_TYPE_IPV6) != 0 ? 32 : 0;
  }
  return 0;
}

export {
  NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_DROPPED, NETIF_RSP_NULL, NETTXF_more_data, NETTXF_extra_info,
  NETRXF_more_data, NETRXF_extra_info, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
  XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
};
