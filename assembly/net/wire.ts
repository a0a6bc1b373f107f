// Wire formats of the small IPv4 stack (stack.ts) and of the checksum helpers (checksum.ts):
// Ethernet, ARP, IPv4, IPv6, ICMP, UDP and TCP headers as @unmanaged classes with the layouts of
// glibc's <net/ethernet.h>, <netinet/if_ether.h>, <netinet/ip.h>, <netinet/ip6.h>,
// <netinet/ip_icmp.h>, <netinet/udp.h> and <netinet/tcp.h>, plus the numbers those protocols use.
//
// Byte order: every multi-byte field is big-endian on the wire; the classes read and write the
// raw field (little-endian in WebAssembly), so accessors go through ntohs/ntohl and htons/htonl
// as C does. IPv4 addresses are u32 in host order (10.0.0.1 = 0x0a000001) everywhere else in
// the stack; MAC addresses are u64 with the first byte on the wire in bits 47..40.
//
// Headers inside frames are usually not aligned (IPv4 starts 14 bytes into the frame):
// WebAssembly loads and stores do not need alignment, so the classes are used in place.

/** Host to network order, 16 bits (a byte swap: WebAssembly is little-endian). */
@inline export function htons(v: u16): u16 { return bswap<u16>(v); }
/** Network to host order, 16 bits. */
@inline export function ntohs(v: u16): u16 { return bswap<u16>(v); }
/** Host to network order, 32 bits. */
@inline export function htonl(v: u32): u32 { return bswap<u32>(v); }
/** Network to host order, 32 bits. */
@inline export function ntohl(v: u32): u32 { return bswap<u32>(v); }

/** Reads the big-endian u16 at `p`. */
@inline export function loadBe16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
/** Writes `v` as a big-endian u16 at `p`. */
@inline export function storeBe16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
/** Reads the big-endian u32 at `p`. */
@inline export function loadBe32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
/** Writes `v` as a big-endian u32 at `p`. */
@inline export function storeBe32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** Reads the 6-byte MAC address at `p` (first byte into bits 47..40); reads exactly 6 bytes. */
@inline export function macLoad(p: usize): u64 {
  return (<u64>bswap<u32>(load<u32>(p)) << 16) | <u64>bswap<u16>(load<u16>(p + 4));
}
/** Writes the 48-bit MAC address `mac` as 6 bytes at `p`. */
@inline export function macStore(p: usize, mac: u64): void {
  store<u32>(p, bswap<u32>(<u32>(mac >> 16)));
  store<u16>(p + 4, bswap<u16>(<u16>mac));
}

// ---------------------------------------------------------------------------------------------
// Ethernet

/**
 * An Ethernet II header (no 802.1Q tag, no FCS).
 * struct ether_header { uint8_t ether_dhost[6]; uint8_t ether_shost[6]; uint16_t ether_type; };
 */
@unmanaged export class ether_header {
  @array(6) ether_dhost: u8;
  @array(6) ether_shost: u8;
  ether_type: u16;
}
// size=14
if (offsetof<ether_header>() != 14) ERROR("struct ether_header: size must be 14");

/** Bytes of an Ethernet header (ETH_HLEN). */
export const ETH_HLEN: u32 = <u32>offsetof<ether_header>();
/** The largest frame a link hands the stack or takes from it: 64 KiB - 1 (GSO-sized frames). */
export const ETH_FRAME_MAX: u32 = 65535;
/** The broadcast address ff:ff:ff:ff:ff:ff. */
export const MAC_BROADCAST: u64 = 0xFFFFFFFFFFFF;

/** EtherType values (ETHERTYPE_*): IPv4, ARP, 802.1Q VLAN tag, IPv6. */
export const ETHERTYPE_IP: u32 = 0x0800;
export const ETHERTYPE_ARP: u32 = 0x0806;
export const ETHERTYPE_VLAN: u32 = 0x8100;
export const ETHERTYPE_IPV6: u32 = 0x86DD;
/** Bytes an 802.1Q tag adds between the source address and the EtherType. */
export const VLAN_HLEN: u32 = 4;

/** Whether `mac` is a group (multicast or broadcast) address: the I/G bit of its first byte. */
@inline export function isGroupMac(mac: u64): bool {
  return (mac & (<u64>1 << 40)) != 0;
}

// ---------------------------------------------------------------------------------------------
// ARP (RFC 826), for Ethernet and IPv4 only

/**
 * An ARP packet for Ethernet/IPv4.
 * struct ether_arp { struct arphdr ea_hdr; // ar_hrd, ar_pro (u16), ar_hln, ar_pln (u8), ar_op (u16)
 *                    uint8_t arp_sha[6]; uint8_t arp_spa[4]; uint8_t arp_tha[6]; uint8_t arp_tpa[4]; };
 */
@unmanaged export class ether_arp {
  ar_hrd: u16;
  ar_pro: u16;
  ar_hln: u8;
  ar_pln: u8;
  ar_op: u16;
  @array(6) arp_sha: u8;
  @array(4) arp_spa: u8;
  @array(6) arp_tha: u8;
  @array(4) arp_tpa: u8;
}
// size=28
if (offsetof<ether_arp>() != 28) ERROR("struct ether_arp: size must be 28");

/** ar_hrd for Ethernet (ARPHRD_ETHER). */
export const ARPHRD_ETHER: u32 = 1;
/** ar_op values: request, reply. */
export const ARPOP_REQUEST: u32 = 1;
export const ARPOP_REPLY: u32 = 2;

// ---------------------------------------------------------------------------------------------
// IPv4 (RFC 791)

/**
 * An IPv4 header without options (options, if any, follow: the header is ihl * 4 bytes).
 * struct iphdr { uint8_t ihl:4, version:4; uint8_t tos; uint16_t tot_len; uint16_t id;
 *                uint16_t frag_off; uint8_t ttl; uint8_t protocol; uint16_t check;
 *                uint32_t saddr; uint32_t daddr; };
 */
@unmanaged export class iphdr {
  /** version in the high nibble, ihl (header length in 32-bit words) in the low one. */
  version_ihl: u8;
  tos: u8;
  tot_len: u16;
  id: u16;
  frag_off: u16;
  ttl: u8;
  protocol: u8;
  check: u16;
  saddr: u32;
  daddr: u32;
}
// size=20
if (offsetof<iphdr>() != 20) ERROR("struct iphdr: size must be 20");

/** Bytes of an IPv4 header without options. */
export const IP_HLEN: u32 = <u32>offsetof<iphdr>();
/** frag_off bits (host order): reserved, don't fragment, more fragments, the offset mask. */
export const IP_RF: u32 = 0x8000;
export const IP_DF: u32 = 0x4000;
export const IP_MF: u32 = 0x2000;
export const IP_OFFMASK: u32 = 0x1FFF;
/** The TTL of datagrams we send (Linux's default ip_default_ttl), and of those to a multicast group (IP_MULTICAST_TTL's default). */
export const IP_DEFAULT_TTL: u8 = 64;
export const IP_MULTICAST_TTL: u8 = 1;
/** IP protocol numbers (IPPROTO_*). */
export const IPPROTO_ICMP: u32 = 1;
export const IPPROTO_TCP: u32 = 6;
export const IPPROTO_UDP: u32 = 17;
/** The limited broadcast address 255.255.255.255. */
export const INADDR_BROADCAST: u32 = 0xFFFFFFFF;
/** The all-hosts group 224.0.0.1, which every multicast-capable host is a member of. */
export const INADDR_ALLHOSTS_GROUP: u32 = 0xE0000001;

/** Whether `ip` (host order) is a class D (multicast) address, 224.0.0.0/4. */
@inline export function isMulticastIp(ip: u32): bool {
  return (ip >> 28) == 0xE;
}

// ---------------------------------------------------------------------------------------------
// IPv6 (RFC 8200): only what l4ChecksumFill needs

/**
 * The fixed IPv6 header.
 * struct ip6_hdr { uint32_t ip6_flow; uint16_t ip6_plen; uint8_t ip6_nxt; uint8_t ip6_hlim;
 *                  struct in6_addr ip6_src; struct in6_addr ip6_dst; };
 */
@unmanaged export class ip6_hdr {
  ip6_flow: u32;
  ip6_plen: u16;
  ip6_nxt: u8;
  ip6_hlim: u8;
  @array(16) ip6_src: u8;
  @array(16) ip6_dst: u8;
}
// size=40
if (offsetof<ip6_hdr>() != 40) ERROR("struct ip6_hdr: size must be 40");

/** Bytes of the fixed IPv6 header. */
export const IP6_HLEN: u32 = <u32>offsetof<ip6_hdr>();

// ---------------------------------------------------------------------------------------------
// ICMP (RFC 792)

/**
 * An ICMP header, as the echo messages use it (`un.echo`); other types reuse the last 4 bytes.
 * struct icmphdr { uint8_t type; uint8_t code; uint16_t checksum;
 *                  union { struct { uint16_t id; uint16_t sequence; } echo; uint32_t gateway; ... } un; };
 */
@unmanaged export class icmphdr {
  type: u8;
  code: u8;
  checksum: u16;
  id: u16;
  sequence: u16;
}
// size=8
if (offsetof<icmphdr>() != 8) ERROR("struct icmphdr: size must be 8");

/** Bytes of an ICMP header. */
export const ICMP_HLEN: u32 = <u32>offsetof<icmphdr>();
/** ICMP types and the one code we send: echo reply, destination unreachable, echo request; port unreachable. */
export const ICMP_ECHOREPLY: u8 = 0;
export const ICMP_DEST_UNREACH: u8 = 3;
export const ICMP_ECHO: u8 = 8;
export const ICMP_PORT_UNREACH: u8 = 3;

// ---------------------------------------------------------------------------------------------
// UDP (RFC 768) and TCP (RFC 9293)

/**
 * A UDP header.
 * struct udphdr { uint16_t source; uint16_t dest; uint16_t len; uint16_t check; };
 */
@unmanaged export class udphdr {
  source: u16;
  dest: u16;
  len: u16;
  check: u16;
}
// size=8
if (offsetof<udphdr>() != 8) ERROR("struct udphdr: size must be 8");

/** Bytes of a UDP header. */
export const UDP_HLEN: u32 = <u32>offsetof<udphdr>();

/**
 * A TCP header without options (doff * 4 bytes in all).
 * struct tcphdr { uint16_t source; uint16_t dest; uint32_t seq; uint32_t ack_seq;
 *                 uint8_t res1:4, doff:4; uint8_t flags; uint16_t window; uint16_t check; uint16_t urg_ptr; };
 */
@unmanaged export class tcphdr {
  source: u16;
  dest: u16;
  seq: u32;
  ack_seq: u32;
  /** doff (header length in 32-bit words) in the high nibble. */
  doff_res1: u8;
  flags: u8;
  window: u16;
  check: u16;
  urg_ptr: u16;
}
// size=20
if (offsetof<tcphdr>() != 20) ERROR("struct tcphdr: size must be 20");

/** Bytes of a TCP header without options. */
export const TCP_HLEN: u32 = <u32>offsetof<tcphdr>();
