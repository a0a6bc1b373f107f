// The Internet checksum (RFC 1071) and the helpers built on it: IPv4 header checksums, the
// TCP/UDP pseudo-headers of IPv4 and IPv6, and l4ChecksumFill, which completes the L4 checksum
// of a whole frame. The stack (stack.ts) uses them, and so does dom0's switch to fill the
// checksums a guest left blank (NETTXF_csum_blank) and to checksum the segments it cuts from a
// GSO frame.
//
// Values: a "partial sum" is the 16-bit ones'-complement sum, folded, not inverted, of the bytes
// read as big-endian words, returned as a number (0x1234 for the bytes 12 34). Sums of pieces
// add up (pass one piece's sum as the next one's `initial`) as long as every piece but the last
// has an even length. A checksum field holds the inverted sum: write it with storeBe16.
//
// Speed: the loop adds 8 bytes at a time as two 32-bit little-endian words into a 64-bit
// accumulator and swaps the bytes once at the end (a ones'-complement sum commutes with the byte
// swap, RFC 1071 §2(B)); a 64 KiB frame never overflows it. Nothing here allocates.
import {
  ether_header, iphdr, ip6_hdr, udphdr, tcphdr, ETH_HLEN, IP_HLEN, IP6_HLEN, UDP_HLEN, TCP_HLEN, VLAN_HLEN,
  ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_VLAN, IP_MF, IP_OFFMASK, IPPROTO_TCP, IPPROTO_UDP,
  loadBe16, storeBe16, ntohs, ntohl,
} from "./wire";

/** Folds a 32-bit sum of 16-bit words to 16 bits (ones'-complement end-around carry). */
@inline export function checksumFold(sum: u32): u32 {
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}

/**
 * The partial sum of `len` bytes at `addr` (the caller's memory), added to the partial sum
 * `initial`: folded to 16 bits, not inverted (see the header). An odd `len` pads the last byte
 * with a zero, so only the last piece of a checksummed run may have an odd length.
 */
export function checksumAdd(addr: usize, len: u32, initial: u32 = 0): u32 {
  let acc: u64 = 0;
  let p = addr;
  let n = len;
  while (n >= 32) {
    const a = load<u64>(p), b = load<u64>(p, 8), c = load<u64>(p, 16), d = load<u64>(p, 24);
    acc += (a & 0xFFFFFFFF) + (a >> 32) + (b & 0xFFFFFFFF) + (b >> 32)
         + (c & 0xFFFFFFFF) + (c >> 32) + (d & 0xFFFFFFFF) + (d >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    const a = load<u64>(p);
    acc += (a & 0xFFFFFFFF) + (a >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) { acc += <u64>load<u32>(p); p += 4; n -= 4; }
  if (n >= 2) { acc += <u64>load<u16>(p); p += 2; n -= 2; }
  if (n != 0) acc += <u64>load<u8>(p); // little-endian: the low byte is the word's first byte
  acc = (acc & 0xFFFFFFFF) + (acc >> 32);
  acc = (acc & 0xFFFFFFFF) + (acc >> 32);
  const le = checksumFold(<u32>acc);
  return checksumFold(<u32>bswap<u16>(<u16>le) + checksumFold(initial));
}

/**
 * The Internet checksum of `len` bytes at `addr` with the partial sum `initial` added (e.g. a
 * pseudo-header's): the value to store, big-endian, in a checksum field. Over data that
 * includes a correct checksum field it is 0.
 */
export function inetChecksum(addr: usize, len: u32, initial: u32 = 0): u16 {
  return <u16>(~checksumAdd(addr, len, initial));
}

/**
 * The partial sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) for addresses `src` and
 * `dst` (host order), protocol `proto` and L4 length `l4len` (header and data, < 2^16).
 */
export function pseudoSum4(src: u32, dst: u32, proto: u32, l4len: u32): u32 {
  return checksumFold((src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + l4len);
}

/**
 * The partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): the 16-byte addresses at `src` and
 * `dst` (the caller's memory, wire order), the upper-layer length `l4len` and `nextHeader`.
 */
export function pseudoSum6(src: usize, dst: usize, nextHeader: u32, l4len: u32): u32 {
  const s = checksumFold((l4len >> 16) + (l4len & 0xFFFF) + nextHeader);
  return checksumAdd(dst, 16, checksumAdd(src, 16, s));
}

/**
 * Computes the header checksum of the IPv4 header at `ipHdr` (caller's memory; its ihl says how
 * long it is) and writes it into the header's `check` field.
 */
export function ipv4HeaderChecksumFill(ipHdr: usize): void {
  const h = changetype<iphdr>(ipHdr);
  h.check = 0;
  h.check = bswap<u16>(inetChecksum(ipHdr, (<u32>h.version_ihl & 0xF) << 2));
}

/** Whether the `ihlBytes`-byte IPv4 header at `ipHdr` has a correct header checksum. */
export function ipv4HeaderChecksumOk(ipHdr: usize, ihlBytes: u32): bool {
  return checksumAdd(ipHdr, ihlBytes) == 0xFFFF;
}

const UDP_CHECK: usize = offsetof<udphdr>("check");
const TCP_CHECK: usize = offsetof<tcphdr>("check");

/**
 * Writes the TCP or UDP checksum (`proto`) of the `l4len`-byte segment at `l4` given its
 * pseudo-header sum `pseudo`, ignoring the field's current contents. A UDP checksum that
 * computes to 0 is sent as 0xFFFF (0 means "no checksum", RFC 768).
 */
export function l4ChecksumStore(l4: usize, l4len: u32, proto: u32, pseudo: u32): void {
  const field = l4 + (proto == IPPROTO_UDP ? UDP_CHECK : TCP_CHECK);
  store<u16>(field, 0);
  let c = <u32>inetChecksum(l4, l4len, pseudo);
  if (c == 0 && proto == IPPROTO_UDP) c = 0xFFFF;
  storeBe16(field, c);
}

/**
 * For a whole Ethernet frame of `len` bytes at `frame` (the caller's memory, at most one 802.1Q
 * tag) carrying IPv4 or IPv6 and then TCP or UDP, computes the L4 checksum and writes it into
 * the TCP/UDP header, ignoring what the field held (a blank, a pseudo-header sum, garbage).
 * Returns false, writing nothing, for any other frame: not IP, not TCP/UDP, an IPv4 fragment,
 * an IPv6 extension header (or jumbogram), or lengths that do not fit in `len`. Bytes past the
 * IP length (Ethernet padding) are not checksummed.
 */
export function l4ChecksumFill(frame: usize, len: u32): bool {
  if (len < ETH_HLEN) return false;
  let l3off = ETH_HLEN;
  let type = <u32>ntohs(changetype<ether_header>(frame).ether_type);
  if (type == ETHERTYPE_VLAN) {
    if (len < ETH_HLEN + VLAN_HLEN) return false;
    type = loadBe16(frame + ETH_HLEN + 2);
    l3off += VLAN_HLEN;
  }
  const ip = frame + l3off;
  const avail = len - l3off;
  let l4off: u32, l4len: u32, proto: u32;
  if (type == ETHERTYPE_IP) {
    if (avail < IP_HLEN) return false;
    const h = changetype<iphdr>(ip);
    const ihl = (<u32>h.version_ihl & 0xF) << 2;
    const tot = <u32>ntohs(h.tot_len);
    if ((h.version_ihl >> 4) != 4 || ihl < IP_HLEN || tot < ihl || tot > avail) return false;
    // A fragment's L4 checksum covers the whole datagram, which no one fragment has.
    if (((<u32>ntohs(h.frag_off)) & (IP_MF | IP_OFFMASK)) != 0) return false;
    proto = h.protocol;
    l4off = ihl;
    l4len = tot - ihl;
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return false;
  } else if (type == ETHERTYPE_IPV6) {
    if (avail < IP6_HLEN) return false;
    const h = changetype<ip6_hdr>(ip);
    const plen = <u32>ntohs(h.ip6_plen);
    if ((load<u8>(ip) >> 4) != 6 || plen == 0 || plen > avail - IP6_HLEN) return false;
    proto = h.ip6_nxt;
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return false;
    l4off = IP6_HLEN;
    l4len = plen;
  } else {
    return false;
  }
  const l4 = ip + l4off;
  if (proto == IPPROTO_UDP) {
    if (l4len < UDP_HLEN) return false;
    // The datagram is what UDP's own length says (the IP payload may be longer, never shorter).
    const ulen = <u32>ntohs(changetype<udphdr>(l4).len);
    if (ulen < UDP_HLEN || ulen > l4len) return false;
    l4len = ulen;
  } else {
    if (l4len < TCP_HLEN) return false;
  }
  // The pseudo-header takes the L4 length, which for UDP is its own length field: known only now.
  let pseudo: u32;
  if (type == ETHERTYPE_IP) {
    const h = changetype<iphdr>(ip);
    pseudo = pseudoSum4(ntohl(h.saddr), ntohl(h.daddr), proto, l4len);
  } else {
    pseudo = pseudoSum6(ip + offsetof<ip6_hdr>("ip6_src"), ip + offsetof<ip6_hdr>("ip6_dst"), proto, l4len);
  }
  l4ChecksumStore(l4, l4len, proto, pseudo);
  return true;
}
