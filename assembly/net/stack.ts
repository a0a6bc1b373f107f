// A small IPv4 stack for examples, tests and benchmarks — not a general TCP/IP stack: Ethernet,
// ARP, IPv4 without fragmentation, ICMP echo and UDP. A kernel porter who needs more puts their
// own stack on the link (netfront's frame API) instead.
//
// API (each declaration below says more):
//   const s = new NetStack(mac, ip, linkTx, linkArg);  // the link calls s.input(frame, len, flags)
//   s.udpBind(port, onDatagram, arg); s.udpSend(dst, srcPort, dstPort, data, len);
//   s.udpJoin(group) / s.udpLeave(group), with s.onMcastMac telling the link which MACs to receive;
//   s.ping(dst, id, seq, len), replies to s.onEchoReply;
//   settings: netmask, gateway, csumOffload, arpTimeoutNs, arpRetryNs, arpTries; arpAdd (static
//   neighbours), arpLookup; u64 counters (rxFrames ... udpBadChecksum) and printCounters.
//   Elsewhere in this folder: addr.ts (ipParse, ipFormat, macParse, macFormat, multicastMac),
//   checksum.ts (inetChecksum, checksumAdd, pseudoSum4/6, ipv4HeaderChecksumFill, l4ChecksumFill),
//   wire.ts (header layouts), arp.ts (the neighbour table); index.ts exports them all.
//
// What it does, as Linux would:
// - Ethernet: accepts frames to our MAC, broadcast, and the 01:00:5e address of a joined group
//   (224.0.0.1 is always joined); other frames are dropped and counted.
// - ARP: a neighbour cache with expiry (arpTimeoutNs, 60 s); a packet for an unresolved
//   neighbour waits (ARP_QUEUE_LEN per destination, copied) while a request goes out every
//   arpRetryNs (1 s), arpTries (3) times, then the waiting packets are dropped. Answers requests
//   for our address and learns the asker; updates an existing entry from any ARP packet;
//   answers RFC 5227 probes.
// - IPv4: checks version, header length, header checksum and total length; accepts our address,
//   255.255.255.255, the subnet broadcast (with a netmask) and joined multicast groups; drops
//   and counts fragments (MF set or offset != 0). Sends with TTL 64 (1 to a multicast group, as
//   Linux's IP_MULTICAST_TTL) and DF, without options and without fragmenting: a datagram is
//   one frame of up to 65535 bytes, for the link to carry (GSO, scatter-gather). Off-link
//   destinations go to `gateway` when a netmask and a gateway are set; by default everything is
//   on-link.
// - ICMP: answers echo requests to our address (same id, sequence and data), reports echo
//   replies to onEchoReply, counts destination-unreachable messages, and sends port unreachable
//   for a unicast datagram to a port nobody bound.
// - UDP: pseudo-header checksums, received 0 meaning "none"; a received checksum is verified
//   unless the link says the data is good (NET_RX_DATA_VALIDATED, NET_RX_CSUM_BLANK). With
//   csumOffload the checksum field is left 0 (not Linux's pseudo-header sum: the filler,
//   checksum.ts's l4ChecksumFill, ignores the field) and the frame flagged NET_TX_CSUM_BLANK for
//   the link or its peer to fill.
//
// Links: a stack sits on any link through a LinkTxFn and its `arg`; the link calls input() for
// each received frame. A link must not call input() (of any stack) from inside its LinkTxFn:
// queue the frame and deliver it later, as a real NIC does.
//
// Ownership: a NetStack lives for the life of the domain (its timers hold its address; a module
// list keeps it from the collector). It owns a 64 KiB transmit buffer and the ARP table's pool,
// allocated once in the constructor; nothing on the send and receive paths allocates. Frames
// given to input() stay the caller's (read during the call only, never kept); data handed to a
// receive callback points into that frame and is valid during the callback only. Frames given
// to the LinkTxFn are the stack's again when it returns.
//
// Not reentrant and not thread-safe: one domain drives it from one vCPU, from xen_start, event
// handlers and timers. Callbacks (UDP receive, echo reply) may send.
import {
  ether_header, ether_arp, iphdr, icmphdr, udphdr, ETH_HLEN, ETH_FRAME_MAX, MAC_BROADCAST, ETHERTYPE_IP, ETHERTYPE_ARP,
  ARPHRD_ETHER, ARPOP_REQUEST, ARPOP_REPLY, IP_HLEN, IP_DF, IP_MF, IP_OFFMASK, IP_DEFAULT_TTL, IP_MULTICAST_TTL, IPPROTO_ICMP,
  IPPROTO_UDP, INADDR_BROADCAST, INADDR_ALLHOSTS_GROUP, ICMP_HLEN, ICMP_ECHOREPLY, ICMP_ECHO, ICMP_DEST_UNREACH,
  ICMP_PORT_UNREACH, UDP_HLEN, htons, ntohs, htonl, ntohl, loadBe32, storeBe32, macLoad, macStore, isGroupMac,
  isMulticastIp,
} from "./wire";
import { checksumAdd, inetChecksum, pseudoSum4, ipv4HeaderChecksumFill, ipv4HeaderChecksumOk, l4ChecksumStore } from "./checksum";
import { multicastMac } from "./addr";
import { ArpTable, ARP_INCOMPLETE, ARP_CACHE_SIZE } from "./arp";
import { now, timerSetAt, timerCancel, NS_PER_SEC } from "../time";
import { puts, putu, putc } from "../console";
import { XEN_EINVAL, XEN_EMSGSIZE, XEN_ENOBUFS, XEN_ENOSPC, XEN_EADDRINUSE, XEN_EADDRNOTAVAIL, XEN_ENOENT } from "../xen/errno";

/**
 * Link transmit: hands the link one whole Ethernet frame at `buf` (the stack's memory, `len`
 * bytes, 14..65535). The link copies it before returning (the buffer is the stack's again at
 * once) and must not call input() from here. `flags`: NET_TX_CSUM_BLANK when the L4 checksum is
 * left for the link or its peer to fill. Returns 0, or a negative Xen errno (e.g. -XEN_ENOSPC:
 * the link's queue is full; the stack counts a tx drop and passes the error to its caller).
 */
export type LinkTxFn = (buf: usize, len: u32, flags: u32, arg: usize) => i32;
/** Echo reply callback: `len` bytes of echo data came back from `src` with `id` and `seq`. */
export type EchoReplyFn = (stack: NetStack, src: u32, id: u16, seq: u16, len: u32, arg: usize) => void;
/** UDP receive callback: `len` bytes at `data` (valid during the call only) from srcIp:srcPort. */
export type UdpRecvFn = (stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: u32, arg: usize) => void;
/** Multicast subscription callback: the link should start (`join`) or stop receiving `mac`. */
export type McastMacFn = (stack: NetStack, mac: u64, join: bool, arg: usize) => void;

/** Transmit flag: the TCP/UDP checksum field is not filled in (netif's NETTXF_csum_blank). */
export const NET_TX_CSUM_BLANK: u32 = 1;
// The NET_RX_* flags are the stack's own numbers, not netif's bits (NETRXF_data_validated is 1,
// NETRXF_csum_blank 2): a link translates by name. Both make the stack skip L4 verification.
/** Receive flag: the checksum is blank but the data is known good (netif's NETRXF_csum_blank). */
export const NET_RX_CSUM_BLANK: u32 = 1;
/** Receive flag: the data was validated by the sender or backend (NETRXF_data_validated): skip L4 checksum checks. */
export const NET_RX_DATA_VALIDATED: u32 = 2;
const RX_CSUM_SKIP: u32 = NET_RX_CSUM_BLANK | NET_RX_DATA_VALIDATED;

/** The most UDP ports one stack can bind. */
export const UDP_BINDS_MAX: i32 = 16;
/** The most multicast groups one stack can join (224.0.0.1 not included: always joined). */
export const MCAST_GROUPS_MAX: i32 = 8;
/** The largest UDP payload: what fits a 65535-byte frame. */
export const UDP_DATA_MAX: u32 = ETH_FRAME_MAX - ETH_HLEN - IP_HLEN - UDP_HLEN;
/** The largest echo payload ping() sends: what fits a 65535-byte frame. */
export const ICMP_ECHO_DATA_MAX: u32 = ETH_FRAME_MAX - ETH_HLEN - IP_HLEN - ICMP_HLEN;

/** Where the IP header and the L4 header start in a frame we build. */
const L3: usize = ETH_HLEN;
const L4: usize = ETH_HLEN + IP_HLEN;
/** Bytes of an ARP frame (Ethernet + ether_arp; the link pads to 60 if it must). */
const ARP_FRAME_LEN: u32 = ETH_HLEN + <u32>offsetof<ether_arp>();
/** The transmit buffer starts 2 bytes into its allocation so that the IP header is 16-byte aligned (Linux's NET_IP_ALIGN). */
const NET_IP_ALIGN: usize = 2;

const ARP_SHA: usize = L3 + offsetof<ether_arp>("arp_sha");
const ARP_SPA: usize = L3 + offsetof<ether_arp>("arp_spa");
const ARP_THA: usize = L3 + offsetof<ether_arp>("arp_tha");
const ARP_TPA: usize = L3 + offsetof<ether_arp>("arp_tpa");
const ETH_SRC: usize = offsetof<ether_header>("ether_shost");

/** Every stack ever made: timers hold a stack's address, so none may be collected. */
const stacks = new Array<NetStack>();

/** The ARP timer's callback: `arg` is the stack. */
function arpTimerFired(arg: usize): void {
  changetype<NetStack>(arg).arpTick();
}

/** One IPv4 host on one link (see the file header). */
export class NetStack {
  /** Our MAC (48 bits, first byte in bits 47..40) and IPv4 address (host order). */
  readonly mac: u64;
  readonly ip: u32;
  /** The on-link subnet (0: every address is on-link) and the router for the rest (0: none). */
  netmask: u32 = 0;
  gateway: u32 = 0;
  /** Send UDP with a blank checksum and NET_TX_CSUM_BLANK, for the link or peer to fill. */
  csumOffload: bool = false;
  /** How long a learned neighbour stays valid, how far apart ARP requests go, and how many. */
  arpTimeoutNs: u64 = 60 * NS_PER_SEC;
  arpRetryNs: u64 = NS_PER_SEC;
  arpTries: u32 = 3;
  /** Called for each echo reply received, with onEchoArg. */
  onEchoReply: EchoReplyFn | null = null;
  onEchoArg: usize = 0;
  /** Called when the set of multicast MACs to receive changes (udpJoin, udpLeave), with onMcastArg. */
  onMcastMac: McastMacFn | null = null;
  onMcastArg: usize = 0;

  // Counters. rxDropped counts every received frame not consumed, whatever the reason (almost
  // every reason also has its own counter below); txDropped every frame that did not reach the link
  // (link errors, ARP queue overflow, failed resolution, a full ARP cache).
  /** Frames and bytes given to input() and handed to the link. */
  rxFrames: u64 = 0;
  rxBytes: u64 = 0;
  txFrames: u64 = 0;
  txBytes: u64 = 0;
  rxDropped: u64 = 0;
  txDropped: u64 = 0;
  /** Dropped: too short, bad version/lengths, impossible addresses, at any layer. */
  rxMalformed: u64 = 0;
  /** Dropped: unicast to another MAC or IPv4 address. */
  rxOtherHost: u64 = 0;
  /** Dropped: a multicast MAC or group we have not joined. */
  rxMcastFiltered: u64 = 0;
  /** Dropped: an EtherType, ARP hardware/protocol or IP protocol we do not speak. */
  rxUnknownProto: u64 = 0;
  /** ARP requests and replies sent and received; resolutions given up after arpTries requests. */
  arpRequests: u64 = 0;
  arpReplies: u64 = 0;
  arpRequestsRx: u64 = 0;
  arpRepliesRx: u64 = 0;
  arpFailures: u64 = 0;
  /** Dropped: IPv4 header checksum wrong; a fragment. */
  ipBadChecksum: u64 = 0;
  ipFragmentsDropped: u64 = 0;
  /** ICMP: checksum wrong (dropped); echo requests and replies received; unreachables received; other types ignored; messages sent. */
  icmpBadChecksum: u64 = 0;
  icmpEchoRequests: u64 = 0;
  icmpEchoReplies: u64 = 0;
  icmpDestUnreachable: u64 = 0;
  icmpOther: u64 = 0;
  icmpTx: u64 = 0;
  /** UDP: datagrams delivered and sent; dropped for a port nobody bound or a wrong checksum. */
  udpRx: u64 = 0;
  udpTx: u64 = 0;
  udpNoPort: u64 = 0;
  udpBadChecksum: u64 = 0;

  private tx: LinkTxFn;
  private txArg: usize;
  private txBuf: usize;
  private arpBuf: usize;
  private arp: ArpTable = new ArpTable();
  private arpTimer: i32 = 0;
  private arpTimerAt: u64 = 0;
  private ipId: u16 = 0;
  private udpPort: StaticArray<u16> = new StaticArray<u16>(UDP_BINDS_MAX);
  private udpFn: StaticArray<UdpRecvFn | null> = new StaticArray<UdpRecvFn | null>(UDP_BINDS_MAX);
  private udpArg: StaticArray<usize> = new StaticArray<usize>(UDP_BINDS_MAX);
  private groups: StaticArray<u32> = new StaticArray<u32>(MCAST_GROUPS_MAX);
  private nGroups: i32 = 0;

  /**
   * A stack with MAC `mac` and address `ip` (host order) that sends through `tx(..., txArg)`.
   * Allocates its buffers (about 200 KiB) once; the stack is never freed.
   */
  constructor(mac: u64, ip: u32, tx: LinkTxFn, txArg: usize) {
    this.mac = mac & MAC_BROADCAST;
    this.ip = ip;
    this.tx = tx;
    this.txArg = txArg;
    const raw = heap.alloc(NET_IP_ALIGN + <usize>ETH_FRAME_MAX + 64 + <usize>ARP_FRAME_LEN);
    this.txBuf = raw + NET_IP_ALIGN;
    this.arpBuf = (this.txBuf + <usize>ETH_FRAME_MAX + 16) & ~<usize>15;
    stacks.push(this);
  }

  // -------------------------------------------------------------------------------------------
  // Receive

  /**
   * Takes one received Ethernet frame of `len` bytes at `frame` (the caller's, read during the
   * call only); `flags` are NET_RX_*. Everything it does is counted; it never fails.
   */
  input(frame: usize, len: u32, flags: u32): void {
    this.rxFrames++;
    this.rxBytes += len;
    if (len < ETH_HLEN) { this.malformed(); return; }
    const dst = macLoad(frame);
    const linkGroup = dst != this.mac;
    if (linkGroup && dst != MAC_BROADCAST) {
      if (!isGroupMac(dst)) { this.rxOtherHost++; this.rxDropped++; return; }
      if (!this.macJoined(dst)) { this.rxMcastFiltered++; this.rxDropped++; return; }
    }
    const type = <u32>ntohs(changetype<ether_header>(frame).ether_type);
    if (type == ETHERTYPE_IP) this.ipInput(frame, len, flags, linkGroup);
    else if (type == ETHERTYPE_ARP) this.arpInput(frame, len);
    else { this.rxUnknownProto++; this.rxDropped++; }
  }

  private malformed(): void {
    this.rxMalformed++;
    this.rxDropped++;
  }

  private ipInput(frame: usize, len: u32, flags: u32, linkGroup: bool): void {
    const ip = frame + L3;
    const avail = len - ETH_HLEN;
    if (avail < IP_HLEN) { this.malformed(); return; }
    const h = changetype<iphdr>(ip);
    const vi = <u32>h.version_ihl;
    const ihl = (vi & 0xF) << 2;
    if ((vi >> 4) != 4 || ihl < IP_HLEN || ihl > avail) { this.malformed(); return; }
    if (!ipv4HeaderChecksumOk(ip, ihl)) { this.ipBadChecksum++; this.rxDropped++; return; }
    // The frame may be longer (Ethernet pads to 60 bytes): the datagram is tot_len bytes.
    const tot = <u32>ntohs(h.tot_len);
    if (tot < ihl || tot > avail) { this.malformed(); return; }
    const src = ntohl(h.saddr);
    const dst = ntohl(h.daddr);
    if (isMulticastIp(src) || src == INADDR_BROADCAST) { this.malformed(); return; } // a martian source
    let group = false; // to a broadcast or multicast IP destination
    if (dst != this.ip) {
      if (isMulticastIp(dst)) {
        if (!this.joined(dst)) { this.rxMcastFiltered++; this.rxDropped++; return; }
      } else if (dst != INADDR_BROADCAST && !this.isSubnetBroadcast(dst)) {
        this.rxOtherHost++; this.rxDropped++; return;
      }
      group = true;
    }
    if (((<u32>ntohs(h.frag_off)) & (IP_MF | IP_OFFMASK)) != 0) { this.ipFragmentsDropped++; this.rxDropped++; return; }
    const proto = <u32>h.protocol;
    if (proto == IPPROTO_UDP) this.udpInput(ip, ihl, tot - ihl, src, dst, group || linkGroup, flags);
    else if (proto == IPPROTO_ICMP) this.icmpInput(ip, ihl, tot - ihl, src, group, flags);
    else { this.rxUnknownProto++; this.rxDropped++; }
  }

  /** `group`: the IP destination is a broadcast or multicast address. */
  private icmpInput(ip: usize, ihl: u32, l4len: u32, src: u32, group: bool, flags: u32): void {
    const l4 = ip + <usize>ihl;
    if (l4len < ICMP_HLEN) { this.malformed(); return; }
    if ((flags & RX_CSUM_SKIP) == 0 && checksumAdd(l4, l4len) != 0xFFFF) { this.icmpBadChecksum++; this.rxDropped++; return; }
    const m = changetype<icmphdr>(l4);
    const type = m.type;
    if (type == ICMP_ECHO) {
      this.icmpEchoRequests++;
      // Linux ignores echo requests sent to a broadcast or multicast address (icmp_echo_ignore_broadcasts).
      if (group) { this.rxDropped++; return; }
      // A 65535-byte datagram in a frame longer than ETH_FRAME_MAX cannot be answered in one.
      if (l4len > ICMP_HLEN + ICMP_ECHO_DATA_MAX) { this.malformed(); return; }
      this.echoReply(l4, l4len, src);
    } else if (type == ICMP_ECHOREPLY) {
      this.icmpEchoReplies++;
      const fn = this.onEchoReply;
      if (fn !== null) fn(this, src, ntohs(m.id), ntohs(m.sequence), l4len - ICMP_HLEN, this.onEchoArg);
    } else if (type == ICMP_DEST_UNREACH) {
      this.icmpDestUnreachable++;
    } else {
      this.icmpOther++;
    }
  }

  /** `group`: sent to a broadcast or multicast address, IP or Ethernet (never answered with an error, RFC 1122 §3.2.2). */
  private udpInput(ip: usize, ihl: u32, l4len: u32, src: u32, dst: u32, group: bool, flags: u32): void {
    const l4 = ip + <usize>ihl;
    if (l4len < UDP_HLEN) { this.malformed(); return; }
    const u = changetype<udphdr>(l4);
    const ulen = <u32>ntohs(u.len);
    if (ulen < UDP_HLEN || ulen > l4len) { this.malformed(); return; }
    if (u.check != 0 && (flags & RX_CSUM_SKIP) == 0 &&
        checksumAdd(l4, ulen, pseudoSum4(src, dst, IPPROTO_UDP, ulen)) != 0xFFFF) {
      this.udpBadChecksum++; this.rxDropped++; return;
    }
    const dport = ntohs(u.dest);
    const i = this.udpFind(dport);
    if (i < 0) {
      this.udpNoPort++;
      this.rxDropped++;
      if (!group) this.icmpUnreach(ICMP_PORT_UNREACH, ip, ihl, l4len, src);
      return;
    }
    this.udpRx++;
    const fn = unchecked(this.udpFn[i]);
    if (fn !== null) fn(this, src, ntohs(u.source), dport, l4 + <usize>UDP_HLEN, ulen - UDP_HLEN, unchecked(this.udpArg[i]));
  }

  private arpInput(frame: usize, len: u32): void {
    if (len < ARP_FRAME_LEN) { this.malformed(); return; }
    const a = changetype<ether_arp>(frame + L3);
    if (<u32>ntohs(a.ar_hrd) != ARPHRD_ETHER || <u32>ntohs(a.ar_pro) != ETHERTYPE_IP || a.ar_hln != 6 || a.ar_pln != 4) {
      this.rxUnknownProto++; this.rxDropped++; return;
    }
    const op = <u32>ntohs(a.ar_op);
    if (op == ARPOP_REQUEST) this.arpRequestsRx++;
    else if (op == ARPOP_REPLY) this.arpRepliesRx++;
    else { this.malformed(); return; }
    const sha = macLoad(frame + ARP_SHA);
    const spa = loadBe32(frame + ARP_SPA);
    const tpa = loadBe32(frame + ARP_TPA);
    if (isGroupMac(sha) || isMulticastIp(spa) || spa == INADDR_BROADCAST) { this.malformed(); return; }
    // Our own request reflected back by a hub or bridge, or someone else claiming our address:
    // nothing to learn (a conflict is for the administrator to see, not for us to follow).
    if (sha == this.mac || spa == this.ip) { this.rxOtherHost++; this.rxDropped++; return; }
    const forUs = tpa == this.ip;
    if (spa == 0) {
      // An RFC 5227 probe ("who has tpa?" from a host without an address): answer, learn nothing.
      if (op == ARPOP_REQUEST && forUs) this.arpSend(sha, ARPOP_REPLY, sha, 0);
      return;
    }
    const e = this.arp.update(spa, sha, now(), this.arpTimeoutNs, forUs && op == ARPOP_REQUEST);
    if (e >= 0 && this.arp.pendingCount > 0) this.flushPending(spa, sha);
    if (forUs && op == ARPOP_REQUEST) this.arpSend(sha, ARPOP_REPLY, sha, spa);
  }

  // -------------------------------------------------------------------------------------------
  // Send

  /**
   * Sends an ICMP echo request to `dst` with `id`, `seq` and `payloadLen` bytes of data (byte i
   * is i & 0xFF). Returns 0 (sent, or queued behind ARP resolution), -XEN_EMSGSIZE beyond
   * ICMP_ECHO_DATA_MAX, -XEN_EINVAL for our own address (no loopback), or the link's error.
   */
  ping(dst: u32, id: u16, seq: u16, payloadLen: u32): i32 {
    if (payloadLen > ICMP_ECHO_DATA_MAX) return -XEN_EMSGSIZE;
    if (dst == this.ip || dst == 0) return -XEN_EINVAL;
    const l4 = this.txBuf + L4;
    const m = changetype<icmphdr>(l4);
    m.type = ICMP_ECHO;
    m.code = 0;
    m.checksum = 0;
    m.id = htons(id);
    m.sequence = htons(seq);
    const d = l4 + <usize>ICMP_HLEN;
    for (let i: u32 = 0; i < payloadLen; i++) store<u8>(d + <usize>i, <u8>i);
    const n = ICMP_HLEN + payloadLen;
    m.checksum = htons(inetChecksum(l4, n));
    this.icmpTx++;
    return this.ipOutput(dst, IPPROTO_ICMP, n, 0);
  }

  /**
   * Where a caller may build up to UDP_DATA_MAX bytes of payload for udpSend(..., data = this
   * address, ...), which then sends it without copying. Every send overwrites it (ping,
   * udpSend, and the replies input() sends): fill it, then call udpSend, with no call into the
   * stack between.
   */
  udpPayloadBuffer(): usize {
    return this.txBuf + L4 + <usize>UDP_HLEN;
  }

  /**
   * Sends `len` bytes at the caller's `data` (copied) from port `srcPort` to `dst`:`dstPort`.
   * Returns 0 (sent, or queued behind ARP resolution), -XEN_EMSGSIZE beyond UDP_DATA_MAX,
   * -XEN_EINVAL for port 0 or our own or a null address, -XEN_ENOBUFS when the ARP cache is
   * full of unresolved entries, or the link's error.
   */
  udpSend(dst: u32, srcPort: u16, dstPort: u16, data: usize, len: u32): i32 {
    if (len > UDP_DATA_MAX) return -XEN_EMSGSIZE;
    if (dst == this.ip || dst == 0 || dstPort == 0) return -XEN_EINVAL;
    const l4 = this.txBuf + L4;
    const payload = l4 + <usize>UDP_HLEN;
    if (data != payload) memory.copy(payload, data, <usize>len);
    const ulen = UDP_HLEN + len;
    const u = changetype<udphdr>(l4);
    u.source = htons(srcPort);
    u.dest = htons(dstPort);
    u.len = htons(<u16>ulen);
    let flags: u32 = 0;
    if (this.csumOffload) {
      u.check = 0;
      flags = NET_TX_CSUM_BLANK;
    } else {
      l4ChecksumStore(l4, ulen, IPPROTO_UDP, pseudoSum4(this.ip, dst, IPPROTO_UDP, ulen));
    }
    this.udpTx++;
    return this.ipOutput(dst, IPPROTO_UDP, ulen, flags);
  }

  /** Answers the echo request of `l4len` bytes at `req` (in a received frame) from `src`. */
  private echoReply(req: usize, l4len: u32, src: u32): void {
    const l4 = this.txBuf + L4;
    memory.copy(l4, req, <usize>l4len);
    const m = changetype<icmphdr>(l4);
    m.type = ICMP_ECHOREPLY;
    m.code = 0;
    m.checksum = 0;
    m.checksum = htons(inetChecksum(l4, l4len));
    this.icmpTx++;
    this.ipOutput(src, IPPROTO_ICMP, l4len, 0);
  }

  /** Sends ICMP destination unreachable `code` about the datagram at `ip` to `src`: its header and 8 bytes (RFC 792). */
  private icmpUnreach(code: u8, ip: usize, ihl: u32, l4len: u32, src: u32): void {
    const l4 = this.txBuf + L4;
    const quoted = ihl + (l4len < 8 ? l4len : 8);
    const m = changetype<icmphdr>(l4);
    m.type = ICMP_DEST_UNREACH;
    m.code = code;
    m.checksum = 0;
    m.id = 0;
    m.sequence = 0;
    memory.copy(l4 + <usize>ICMP_HLEN, ip, <usize>quoted);
    const n = ICMP_HLEN + quoted;
    m.checksum = htons(inetChecksum(l4, n));
    this.icmpTx++;
    this.ipOutput(src, IPPROTO_ICMP, n, 0);
  }

  /** Puts the IPv4 and Ethernet headers in front of the `l4len` bytes at txBuf + L4 and sends the frame to `dst`. */
  private ipOutput(dst: u32, proto: u32, l4len: u32, flags: u32): i32 {
    const b = this.txBuf;
    const h = changetype<iphdr>(b + L3);
    h.version_ihl = 0x45;
    h.tos = 0;
    h.tot_len = htons(<u16>(IP_HLEN + l4len));
    h.id = htons(this.ipId++);
    h.frag_off = htons(<u16>IP_DF);
    h.ttl = isMulticastIp(dst) ? IP_MULTICAST_TTL : IP_DEFAULT_TTL;
    h.protocol = <u8>proto;
    h.saddr = htonl(this.ip);
    h.daddr = htonl(dst);
    ipv4HeaderChecksumFill(b + L3);
    macStore(b + ETH_SRC, this.mac);
    changetype<ether_header>(b).ether_type = htons(<u16>ETHERTYPE_IP);
    return this.linkOutput(b, ETH_HLEN + IP_HLEN + l4len, flags, dst);
  }

  /** Fills in the destination MAC of the frame for IPv4 `dst` and sends it, or queues it behind ARP. */
  private linkOutput(frame: usize, len: u32, flags: u32, dst: u32): i32 {
    let mac: u64;
    if (dst == INADDR_BROADCAST || this.isSubnetBroadcast(dst)) {
      mac = MAC_BROADCAST;
    } else if (isMulticastIp(dst)) {
      mac = multicastMac(dst);
    } else {
      const hop = this.gateway != 0 && ((dst ^ this.ip) & this.netmask) != 0 ? this.gateway : dst;
      const t = now();
      const m = this.arp.lookup(hop, t);
      if (m < 0) return this.resolve(hop, frame, len, flags, t);
      mac = <u64>m;
    }
    macStore(frame, mac);
    return this.linkSend(frame, len, flags);
  }

  /** Hands a frame to the link, counting it. */
  private linkSend(frame: usize, len: u32, flags: u32): i32 {
    const tx = this.tx;
    const rc = tx(frame, len, flags, this.txArg);
    if (rc < 0) {
      this.txDropped++;
      return rc;
    }
    this.txFrames++;
    this.txBytes += len;
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // ARP

  /** Queues the frame for next hop `hop`, whose MAC is unknown at time `t`, and asks for it if nobody has. */
  private resolve(hop: u32, frame: usize, len: u32, flags: u32, t: u64): i32 {
    const arp = this.arp;
    const e = arp.startResolve(hop, t);
    if (e < 0) {
      this.txDropped++;
      return -XEN_ENOBUFS;
    }
    this.txDropped += <u64>arp.enqueue(hop, frame, len, flags);
    if (unchecked(arp.tries[e]) == 0) {
      this.arpSend(MAC_BROADCAST, ARPOP_REQUEST, 0, hop);
      unchecked(arp.tries[e] = 1);
      unchecked(arp.deadline[e] = t + this.arpRetryNs);
    }
    this.arpArm(unchecked(arp.deadline[e]));
    return 0;
  }

  /** Sends the packets that waited for `ip`, now known to be at `mac`, oldest first. */
  private flushPending(ip: u32, mac: u64): void {
    const arp = this.arp;
    let i = arp.nextPending(ip);
    while (i >= 0) {
      const p = arp.pendingAddr(i);
      macStore(p, mac);
      this.linkSend(p, arp.pendingLen(i), arp.pendingFlags(i));
      arp.removePending(i);
      i = arp.nextPending(ip, i);
    }
  }

  /**
   * The ARP timer: re-sends due requests, gives up on entries that had arpTries of them
   * (dropping their packets) and re-arms for the next deadline. Run by the stack's own timer;
   * calling it at other times is harmless.
   */
  arpTick(): void {
    this.arpTimer = 0;
    const arp = this.arp;
    const t = now();
    let next = u64.MAX_VALUE;
    for (let i = 0; i < ARP_CACHE_SIZE; i++) {
      if (unchecked(arp.state[i]) != ARP_INCOMPLETE) continue;
      if (unchecked(arp.deadline[i]) <= t) {
        const ip = unchecked(arp.ip[i]);
        if (unchecked(arp.tries[i]) >= this.arpTries) {
          this.arpFailures++;
          this.txDropped += <u64>arp.dropPending(ip);
          arp.remove(i);
          continue;
        }
        this.arpSend(MAC_BROADCAST, ARPOP_REQUEST, 0, ip);
        unchecked(arp.tries[i] += 1);
        unchecked(arp.deadline[i] = t + this.arpRetryNs);
      }
      const d = unchecked(arp.deadline[i]);
      if (d < next) next = d;
    }
    if (next != u64.MAX_VALUE) this.arpArm(next);
  }

  /**
   * Makes sure the ARP timer fires by `at`. If no timer can be set (the domain's timer table is
   * full), retries happen when the next packet for an unresolved neighbour re-arms it.
   */
  private arpArm(at: u64): void {
    if (this.arpTimer > 0) {
      if (this.arpTimerAt <= at) return;
      timerCancel(this.arpTimer);
      this.arpTimer = 0;
    }
    const id = timerSetAt(at, arpTimerFired, changetype<usize>(this));
    if (id > 0) {
      this.arpTimer = id;
      this.arpTimerAt = at;
    }
  }

  /** Sends an ARP `op` to Ethernet `dstMac`, from us, about target `tha`/`tpa`. */
  private arpSend(dstMac: u64, op: u32, tha: u64, tpa: u32): void {
    const f = this.arpBuf;
    macStore(f, dstMac);
    macStore(f + ETH_SRC, this.mac);
    changetype<ether_header>(f).ether_type = htons(<u16>ETHERTYPE_ARP);
    const a = changetype<ether_arp>(f + L3);
    a.ar_hrd = htons(<u16>ARPHRD_ETHER);
    a.ar_pro = htons(<u16>ETHERTYPE_IP);
    a.ar_hln = 6;
    a.ar_pln = 4;
    a.ar_op = htons(<u16>op);
    macStore(f + ARP_SHA, this.mac);
    storeBe32(f + ARP_SPA, this.ip);
    macStore(f + ARP_THA, tha);
    storeBe32(f + ARP_TPA, tpa);
    if (op == ARPOP_REQUEST) this.arpRequests++;
    else this.arpReplies++;
    this.linkSend(f, ARP_FRAME_LEN, 0);
  }

  /** The cached MAC of `ip` (reachable and not expired, or permanent), or -1; never sends a request. */
  arpLookup(ip: u32): i64 {
    return this.arp.lookup(ip, now());
  }

  /** Adds a permanent neighbour `ip` -> `mac` (no ARP for it, ever); returns 0 or -XEN_ENOSPC. */
  arpAdd(ip: u32, mac: u64): i32 {
    return this.arp.addPermanent(ip, mac & MAC_BROADCAST, now()) < 0 ? -XEN_ENOSPC : 0;
  }

  /** How many packets wait for ARP resolution. */
  arpPending(): i32 {
    return this.arp.pendingCount;
  }

  // -------------------------------------------------------------------------------------------
  // UDP ports and multicast groups

  /**
   * Delivers datagrams for `port` to `fn(..., arg)` from now on. Returns 0, -XEN_EINVAL for port
   * 0, -XEN_EADDRINUSE if it is bound, -XEN_ENOSPC when UDP_BINDS_MAX ports are.
   */
  udpBind(port: u16, fn: UdpRecvFn, arg: usize): i32 {
    if (port == 0) return -XEN_EINVAL;
    if (this.udpFind(port) >= 0) return -XEN_EADDRINUSE;
    for (let i = 0; i < UDP_BINDS_MAX; i++) {
      if (unchecked(this.udpPort[i]) == 0) {
        unchecked(this.udpPort[i] = port);
        unchecked(this.udpFn[i] = fn);
        unchecked(this.udpArg[i] = arg);
        return 0;
      }
    }
    return -XEN_ENOSPC;
  }

  /** Stops delivering datagrams for `port`; returns 0, or -XEN_ENOENT if it was not bound. */
  udpUnbind(port: u16): i32 {
    const i = this.udpFind(port);
    if (i < 0 || port == 0) return -XEN_ENOENT;
    unchecked(this.udpPort[i] = 0);
    unchecked(this.udpFn[i] = null);
    return 0;
  }

  private udpFind(port: u16): i32 {
    for (let i = 0; i < UDP_BINDS_MAX; i++) if (unchecked(this.udpPort[i]) == port) return i;
    return -1;
  }

  /**
   * Receives datagrams sent to multicast `group` (host order) from now on (reception only: any
   * stack may send to a group). Calls onMcastMac(join) when its MAC was not wanted yet. Returns
   * 0, -XEN_EINVAL if `group` is not multicast, -XEN_EADDRINUSE if joined, -XEN_ENOSPC when
   * MCAST_GROUPS_MAX are.
   */
  udpJoin(group: u32): i32 {
    if (!isMulticastIp(group)) return -XEN_EINVAL;
    if (this.joined(group)) return -XEN_EADDRINUSE;
    if (this.nGroups == MCAST_GROUPS_MAX) return -XEN_ENOSPC;
    const mac = multicastMac(group);
    const fresh = !this.macJoined(mac);
    unchecked(this.groups[this.nGroups++] = group);
    const fn = this.onMcastMac;
    if (fresh && fn !== null) fn(this, mac, true, this.onMcastArg);
    return 0;
  }

  /**
   * Stops receiving multicast `group`; calls onMcastMac(leave) when no joined group uses its
   * MAC any more. Returns 0, or -XEN_EADDRNOTAVAIL if it was not joined.
   */
  udpLeave(group: u32): i32 {
    for (let i = 0; i < this.nGroups; i++) {
      if (unchecked(this.groups[i]) != group) continue;
      unchecked(this.groups[i] = this.groups[this.nGroups - 1]);
      this.nGroups--;
      const mac = multicastMac(group);
      const fn = this.onMcastMac;
      if (fn !== null && !this.macJoined(mac)) fn(this, mac, false, this.onMcastArg);
      return 0;
    }
    return -XEN_EADDRNOTAVAIL;
  }

  /** Whether we receive multicast `group`: joined, or the all-hosts group. */
  joined(group: u32): bool {
    if (group == INADDR_ALLHOSTS_GROUP) return true;
    for (let i = 0; i < this.nGroups; i++) if (unchecked(this.groups[i]) == group) return true;
    return false;
  }

  /** Whether some group we receive maps to Ethernet address `mac`. */
  private macJoined(mac: u64): bool {
    if (mac == multicastMac(INADDR_ALLHOSTS_GROUP)) return true;
    for (let i = 0; i < this.nGroups; i++) if (multicastMac(unchecked(this.groups[i])) == mac) return true;
    return false;
  }

  private isSubnetBroadcast(dst: u32): bool {
    return this.netmask != 0 && ~this.netmask != 0 && dst == (this.ip | ~this.netmask);
  }

  // -------------------------------------------------------------------------------------------

  /** Prints the counters on one console line, prefixed with `name`. Allocates nothing. */
  printCounters(name: string): void {
    puts(name);
    puts(": rx "); putu(this.rxFrames); puts(" frames "); putu(this.rxBytes);
    puts(" bytes (dropped "); putu(this.rxDropped); puts("), tx "); putu(this.txFrames); puts(" frames ");
    putu(this.txBytes); puts(" bytes (dropped "); putu(this.txDropped);
    puts("); arp req "); putu(this.arpRequests); puts("/"); putu(this.arpRequestsRx);
    puts(" rep "); putu(this.arpReplies); puts("/"); putu(this.arpRepliesRx);
    puts(" fail "); putu(this.arpFailures);
    puts("; ip badsum "); putu(this.ipBadChecksum); puts(" frag "); putu(this.ipFragmentsDropped);
    puts(" malformed "); putu(this.rxMalformed); puts(" otherhost "); putu(this.rxOtherHost);
    puts(" mcastfilt "); putu(this.rxMcastFiltered); puts(" unknown "); putu(this.rxUnknownProto);
    puts("; icmp echo "); putu(this.icmpEchoRequests); puts(" reply "); putu(this.icmpEchoReplies);
    puts(" unreach "); putu(this.icmpDestUnreachable); puts(" badsum "); putu(this.icmpBadChecksum);
    puts(" tx "); putu(this.icmpTx);
    puts("; udp rx "); putu(this.udpRx); puts(" tx "); putu(this.udpTx); puts(" noport "); putu(this.udpNoPort);
    puts(" badsum "); putu(this.udpBadChecksum);
    putc(0x0A);
  }
}
