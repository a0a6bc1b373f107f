// The switch's software offloads (Linux: skb_gso_segment on the bridge's way to a port without
// the feature): cutting a TCP GSO frame into MSS-sized segments with valid headers and
// checksums, and the flow hash that keeps a flow on one receive queue (a blank checksum is
// completed with assembly/net's l4ChecksumFill). All work on a whole frame in dom0's memory;
// nothing here allocates.
import {
  ETH_HLEN, IP_HLEN, IP6_HLEN, TCP_HLEN, ETHERTYPE_IP, ETHERTYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP, loadBe16, storeBe16,
} from "../../assembly/net/wire";
import { l4ChecksumFill, ipv4HeaderChecksumFill } from "../../assembly/net/checksum";

/** TCP flags cleared on every segment but the last (FIN, PSH) and on every segment but the first (CWR). */
const TCP_FIN: u8 = 0x01, TCP_PSH: u8 = 0x08, TCP_CWR: u8 = 0x80;

/**
 * Cuts the TCP GSO frame at `frame` (`len` bytes: Ethernet, IPv4 or IPv6 without extension
 * headers, TCP, then the payload) into segments of at most `mss` payload bytes, written to
 * `out` (at most `outSize` bytes) as records of [u32 length, u32 0, the segment's bytes padded
 * to 8]. Each segment gets the headers with its own IP length, IPv4 id (+1 per segment) and header
 * checksum, TCP sequence number, flags (FIN and PSH only on the last, CWR only on the first) and
 * a full TCP checksum. Returns the number of segments, or -1 if the frame is not such a frame.
 */
export function segmentGso(frame: usize, len: u32, mss: u32, out: usize, outSize: usize): i32 {
  const hdrs = gsoHeaders(frame, len);
  if (hdrs == 0 || mss == 0) return -1;
  const type = <u32>loadBe16(frame + 12);
  const ip = frame + ETH_HLEN;
  const ipLen: u32 = type == ETHERTYPE_IP ? (<u32>load<u8>(ip) & 15) * 4 : IP6_HLEN;
  const tcpLen = hdrs - ETH_HLEN - ipLen;
  const tcp = ip + ipLen;
  const payload = len - hdrs;
  const seq0 = bswap<u32>(load<u32>(tcp + 4));
  const id0 = <u32>loadBe16(ip + 4);
  const flags0 = load<u8>(tcp + 13);
  const count: u32 = payload == 0 ? 1 : (payload + mss - 1) / mss;
  let at: usize = 0;
  for (let s: u32 = 0; s < count; s++) {
    const n = min(mss, payload - s * mss);
    const slen = hdrs + n;
    const rec = (8 + <usize>slen + 7) & ~<usize>7;
    if (at + rec > outSize) return -1;
    store<u32>(out + at, slen);
    store<u32>(out + at, 0, 4);
    const seg = out + at + 8;
    memory.copy(seg, frame, hdrs);
    memory.copy(seg + hdrs, frame + hdrs + s * mss, n);
    const sip = seg + ETH_HLEN, stcp = sip + ipLen;
    if (type == ETHERTYPE_IP) {
      storeBe16(sip + 2, ipLen + tcpLen + n);
      storeBe16(sip + 4, (id0 + s) & 0xffff);
      ipv4HeaderChecksumFill(sip);
    } else storeBe16(sip + 4, tcpLen + n);
    store<u32>(stcp + 4, bswap<u32>(seq0 + s * mss));
    let f = flags0;
    if (s + 1 < count) f &= ~(TCP_FIN | TCP_PSH);
    if (s > 0) f &= ~TCP_CWR;
    store<u8>(stcp + 13, f);
    l4ChecksumFill(seg, slen);
    at += rec;
  }
  return <i32>count;
}

/**
 * The bytes of Ethernet, IP and TCP headers at the start of the TCP GSO frame whose first `len`
 * bytes are at `hdr`, or 0 when they are not all there or it is not IPv4/IPv6 TCP.
 */
export function gsoHeaders(hdr: usize, len: u32): u32 {
  if (len < ETH_HLEN + IP_HLEN + TCP_HLEN) return 0;
  const type = <u32>loadBe16(hdr + 12);
  const ip = hdr + ETH_HLEN;
  let ipLen: u32;
  if (type == ETHERTYPE_IP) {
    ipLen = (<u32>load<u8>(ip) & 15) * 4;
    if (ipLen < IP_HLEN || load<u8>(ip + 9) != <u8>IPPROTO_TCP) return 0;
  } else if (type == ETHERTYPE_IPV6) {
    ipLen = IP6_HLEN;
    if (load<u8>(ip + 6) != <u8>IPPROTO_TCP) return 0;
  } else return 0;
  if (ETH_HLEN + ipLen + 13 >= len) return 0;
  const tcpLen = (<u32>load<u8>(ip + ipLen + 12) >> 4) * 4;
  const total = ETH_HLEN + ipLen + tcpLen;
  return tcpLen >= TCP_HLEN && total <= len ? total : 0;
}

/**
 * A hash of the flow of the frame whose first `len` bytes are at `hdr` (IPv4 or IPv6 addresses,
 * and the ports of TCP or UDP), to pick a receive queue when the frontend set no Toeplitz hash.
 * 0 for frames that are not IP.
 */
export function flowHash(hdr: usize, len: u32): u32 {
  if (len < ETH_HLEN + IP_HLEN) return 0;
  const type = <u32>loadBe16(hdr + 12);
  const ip = hdr + ETH_HLEN;
  let from: usize, n: u32, proto: u32, l4: usize;
  if (type == ETHERTYPE_IP) {
    from = ip + 12;
    n = 8;
    proto = load<u8>(ip + 9);
    l4 = ip + (<usize>(load<u8>(ip) & 15) << 2);
  } else if (type == ETHERTYPE_IPV6 && len >= ETH_HLEN + IP6_HLEN) {
    from = ip + 8;
    n = 32;
    proto = load<u8>(ip + 6);
    l4 = ip + IP6_HLEN;
  } else return 0;
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < <usize>n; i++) h = (h ^ load<u8>(from + i)) * 0x01000193;
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4 + 4 <= hdr + len) {
    for (let i: usize = 0; i < 4; i++) h = (h ^ load<u8>(l4 + i)) * 0x01000193;
  }
  // A final avalanche (murmur3's fmix32): the queue is taken from the low bits.
  h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16;
  return h;
}
