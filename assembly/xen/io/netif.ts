// Mirrors xen/include/public/io/netif.h: the PV network interface (tx/rx/control rings and their messages).
// See docs/abi-layer.md for the conventions.

import { grant_ref_t } from "../grant_table";
import { RING_IDX, sring_header } from "./ring";

/** Fewest ring slots per packet a backend must accept from a frontend that does not negotiate. */
export const XEN_NETIF_NR_SLOTS_MIN: i32 = 18;

/** Hash type bit numbers: IPv4, IPv4+TCP, IPv6, IPv6+TCP (also the `u.hash.type` values). */
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV4: i32 = 0;
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP: i32 = 1;
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV6: i32 = 2;
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP: i32 = 3;
/** Hash type masks for XEN_NETIF_CTRL_TYPE_{GET,SET}_HASH_FLAGS. */
export const XEN_NETIF_CTRL_HASH_TYPE_IPV4: i32 = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP: i32 = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV6: i32 = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP: i32 = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;

/** Hash algorithms for XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM: none (hashing off), Toeplitz. */
export const XEN_NETIF_CTRL_HASH_ALGORITHM_NONE: i32 = 0;
export const XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ: i32 = 1;

/**
 * The Toeplitz hash of `buflen` bytes at `buf` under the `keylen`-byte key at `key` (both
 * linear-memory addresses), as the header's `xen_netif_toeplitz_hash` computes it.
 */
export function xen_netif_toeplitz_hash(key: usize, keylen: u32, buf: usize, buflen: u32): u32 {
  let keyi: u32 = 0;
  let prefix: u64 = 0;
  let hash: u64 = 0;
  // Pre-load prefix with the first 8 bytes of the key.
  for (; keyi < 8; keyi++) {
    prefix <<= 8;
    prefix |= keyi < keylen ? <u64>load<u8>(key + keyi) : 0;
  }
  for (let bufi: u32 = 0; bufi < buflen; bufi++) {
    let byte: u32 = load<u8>(buf + bufi);
    for (let bit = 0; bit < 8; bit++) {
      if (byte & 0x80) hash ^= prefix;
      prefix <<= 1;
      byte <<= 1;
    }
    // prefix has been shifted left by 8: OR in the next key byte.
    prefix |= keyi < keylen ? <u64>load<u8>(key + keyi) : 0;
    keyi++;
  }
  // The valid part of the hash is in the upper 32 bits.
  return <u32>(hash >> 32);
}

/** Control request types (`type` of xen_netif_ctrl_request). */
export const XEN_NETIF_CTRL_TYPE_INVALID: i32 = 0;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS: i32 = 1;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS: i32 = 2;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: i32 = 3;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE: i32 = 4;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE: i32 = 5;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: i32 = 6;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM: i32 = 7;
export const XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE: i32 = 8;
export const XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING: i32 = 9;
export const XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING: i32 = 10;

/**
 * A control-ring request: `type` is XEN_NETIF_CTRL_TYPE_*, `data` its arguments.
 * struct xen_netif_ctrl_request { uint16_t id; uint16_t type; uint32_t data[3]; };
 */
@unmanaged export class xen_netif_ctrl_request {
  id: u16;
  type: u16;
  @array(3) data: u32;
}
// size=16
if (offsetof<xen_netif_ctrl_request>() != 16) ERROR("struct xen_netif_ctrl_request: size must be 16");

/** Control response status values (`status` of xen_netif_ctrl_response). */
export const XEN_NETIF_CTRL_STATUS_SUCCESS: i32 = 0;
export const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED: i32 = 1;
export const XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER: i32 = 2;
export const XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW: i32 = 3;

/**
 * A control-ring response to the request with the same `id`.
 * struct xen_netif_ctrl_response { uint16_t id; uint16_t type; uint32_t status; uint32_t data; };
 */
@unmanaged export class xen_netif_ctrl_response {
  id: u16;
  type: u16;
  status: u32;
  data: u32;
}
// size=12
if (offsetof<xen_netif_ctrl_response>() != 12) ERROR("struct xen_netif_ctrl_response: size must be 12");

/** Bit number and mask of the `flags` of xen_netif_gref: map the grant read-only. */
export const _XEN_NETIF_CTRLF_GREF_readonly: i32 = 0;
export const XEN_NETIF_CTRLF_GREF_readonly: u32 = 1 << _XEN_NETIF_CTRLF_GREF_readonly;

/**
 * One entry of the table of a XEN_NETIF_CTRL_TYPE_{ADD,DEL}_GREF_MAPPING request.
 * struct xen_netif_gref { grant_ref_t ref; uint16_t flags; uint16_t status; };
 */
@unmanaged export class xen_netif_gref {
  ref: grant_ref_t;
  flags: u16;
  status: u16;
}
// size=8
if (offsetof<xen_netif_gref>() != 8) ERROR("struct xen_netif_gref: size must be 8");

/**
 * An entry of the control shared ring: a request or a response.
 * union xen_netif_ctrl_sring_entry { struct xen_netif_ctrl_request req;
 *                                    struct xen_netif_ctrl_response rsp; };
 * @ctype union xen_netif_ctrl_sring_entry
 */
@unmanaged export class xen_netif_ctrl_sring_entry {
  @array(4) req: u32; // @c req, rsp
}
// size=16
if (offsetof<xen_netif_ctrl_sring_entry>() != 16) ERROR("union xen_netif_ctrl_sring_entry: size must be 16");

/**
 * The control shared ring page header (DEFINE_RING_TYPES(xen_netif_ctrl, ...)); entries start at `ring`.
 * struct xen_netif_ctrl_sring {
 *     RING_IDX req_prod, req_event; RING_IDX rsp_prod, rsp_event;
 *     union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user;
 *             uint8_t pvt_pad[4]; } pvt;
 *     uint8_t __pad[44];
 *     union xen_netif_ctrl_sring_entry ring[1];
 * };
 */
@unmanaged export class xen_netif_ctrl_sring extends sring_header {
  @array(4) ring: u32; // @c ring

  /** The union read as `pvt.netif.smartpoll_active`. */
  get pvt_netif_smartpoll_active(): u8 { return load<u8>(changetype<usize>(this), offsetof<xen_netif_ctrl_sring>("pvt_pad")); }
}
// size=80
if (offsetof<xen_netif_ctrl_sring>() != 80) ERROR("struct xen_netif_ctrl_sring: size must be 80");

/** Bit numbers and masks of netif_tx_request `flags`: checksum blank, data validated, more data, extra info follows. */
export const _NETTXF_csum_blank: i32 = 0;
export const NETTXF_csum_blank: u32 = 1 << _NETTXF_csum_blank;
export const _NETTXF_data_validated: i32 = 1;
export const NETTXF_data_validated: u32 = 1 << _NETTXF_data_validated;
export const _NETTXF_more_data: i32 = 2;
export const NETTXF_more_data: u32 = 1 << _NETTXF_more_data;
export const _NETTXF_extra_info: i32 = 3;
export const NETTXF_extra_info: u32 = 1 << _NETTXF_extra_info;

/** Largest packet a transmit request can describe. */
export const XEN_NETIF_MAX_TX_SIZE: i32 = 0xFFFF;

/**
 * A transmit request: a fragment of `size` bytes at `offset` in the granted page `gref`.
 * struct netif_tx_request { grant_ref_t gref; uint16_t offset; uint16_t flags;
 *                           uint16_t id; uint16_t size; };
 */
@unmanaged export class netif_tx_request {
  gref: grant_ref_t;
  offset: u16;
  flags: u16;
  id: u16;
  size: u16;
}
// size=12
if (offsetof<netif_tx_request>() != 12) ERROR("struct netif_tx_request: size must be 12");

/** Types of netif_extra_info (`type`): none (invalid), GSO, multicast add/delete, hash; and the bound. */
export const XEN_NETIF_EXTRA_TYPE_NONE: i32 = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO: i32 = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD: i32 = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL: i32 = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH: i32 = 4;
export const XEN_NETIF_EXTRA_TYPE_MAX: i32 = 5;

/** Bit number and mask of netif_extra_info `flags`: another extra info follows. */
export const _XEN_NETIF_EXTRA_FLAG_MORE: i32 = 0;
export const XEN_NETIF_EXTRA_FLAG_MORE: u32 = 1 << _XEN_NETIF_EXTRA_FLAG_MORE;

/** GSO types (`u.gso.type`): none, TCP over IPv4, TCP over IPv6. */
export const XEN_NETIF_GSO_TYPE_NONE: i32 = 0;
export const XEN_NETIF_GSO_TYPE_TCPV4: i32 = 1;
export const XEN_NETIF_GSO_TYPE_TCPV6: i32 = 2;

/**
 * Extra information that overlays a tx request or rx response slot, selected by `type`.
 * struct netif_extra_info {
 *     uint8_t type; uint8_t flags;
 *     union { struct { uint16_t size; uint8_t type; uint8_t pad; uint16_t features; } gso;
 *             struct { uint8_t addr[6]; } mcast;
 *             struct { uint8_t type; uint8_t algorithm; uint8_t value[4]; } hash;
 *             uint16_t pad[3]; } u;
 * };
 * The union is flattened byte-wise; `u_gso_size`, `u_hash_value` and `u_mcast_addr` read the
 * members that span several of its fields.
 */
@unmanaged export class netif_extra_info {
  type: u8;
  flags: u8;
  u_hash_type: u8; // @c u, u.gso, u.gso.size, u.mcast, u.mcast.addr, u.hash, u.hash.type, u.pad
  u_hash_algorithm: u8; // @c u.hash.algorithm
  u_gso_type: u8; // @c u.gso.type, u.hash.value
  u_gso_pad: u8; // @c u.gso.pad
  u_gso_features: u16; // @c u.gso.features

  /** `u.gso.size`: the maximum segment payload (XEN_NETIF_EXTRA_TYPE_GSO). */
  get u_gso_size(): u16 { return load<u16>(changetype<usize>(this), offsetof<netif_extra_info>("u_hash_type")); }
  set u_gso_size(v: u16) { store<u16>(changetype<usize>(this), v, offsetof<netif_extra_info>("u_hash_type")); }
  /** `u.hash.value` read as a little-endian u32 (XEN_NETIF_EXTRA_TYPE_HASH). */
  get u_hash_value(): u32 { return load<u32>(changetype<usize>(this), offsetof<netif_extra_info>("u_gso_type")); }
  set u_hash_value(v: u32) { store<u32>(changetype<usize>(this), v, offsetof<netif_extra_info>("u_gso_type")); }
  /** The address of the 6 bytes of `u.mcast.addr` (XEN_NETIF_EXTRA_TYPE_MCAST_{ADD,DEL}). */
  get u_mcast_addr(): usize { return changetype<usize>(this) + offsetof<netif_extra_info>("u_hash_type"); }
}
// size=8
if (offsetof<netif_extra_info>() != 8) ERROR("struct netif_extra_info: size must be 8");

/**
 * A transmit response: `status` is NETIF_RSP_*.
 * struct netif_tx_response { uint16_t id; int16_t status; };
 */
@unmanaged export class netif_tx_response {
  id: u16;
  status: i16;
}
// size=4
if (offsetof<netif_tx_response>() != 4) ERROR("struct netif_tx_response: size must be 4");

/**
 * A receive request: offers the granted page `gref` for an incoming packet.
 * struct netif_rx_request { uint16_t id; uint16_t pad; grant_ref_t gref; };
 */
@unmanaged export class netif_rx_request {
  id: u16;
  pad: u16;
  gref: grant_ref_t;
}
// size=8
if (offsetof<netif_rx_request>() != 8) ERROR("struct netif_rx_request: size must be 8");

/** Bit numbers and masks of netif_rx_response `flags`: data validated, checksum blank, more data, extra info, GSO prefix. */
export const _NETRXF_data_validated: i32 = 0;
export const NETRXF_data_validated: u32 = 1 << _NETRXF_data_validated;
export const _NETRXF_csum_blank: i32 = 1;
export const NETRXF_csum_blank: u32 = 1 << _NETRXF_csum_blank;
export const _NETRXF_more_data: i32 = 2;
export const NETRXF_more_data: u32 = 1 << _NETRXF_more_data;
export const _NETRXF_extra_info: i32 = 3;
export const NETRXF_extra_info: u32 = 1 << _NETRXF_extra_info;
export const _NETRXF_gso_prefix: i32 = 4;
export const NETRXF_gso_prefix: u32 = 1 << _NETRXF_gso_prefix;

/**
 * A receive response: `status` is the received size, or a negative NETIF_RSP_*.
 * struct netif_rx_response { uint16_t id; uint16_t offset; uint16_t flags; int16_t status; };
 */
@unmanaged export class netif_rx_response {
  id: u16;
  offset: u16;
  flags: u16;
  status: i16;
}
// size=8
if (offsetof<netif_rx_response>() != 8) ERROR("struct netif_rx_response: size must be 8");

/**
 * An entry of the transmit shared ring: a request or a response.
 * union netif_tx_sring_entry { struct netif_tx_request req; struct netif_tx_response rsp; };
 * @ctype union netif_tx_sring_entry
 */
@unmanaged export class netif_tx_sring_entry {
  @array(3) req: u32; // @c req, rsp
}
// size=12
if (offsetof<netif_tx_sring_entry>() != 12) ERROR("union netif_tx_sring_entry: size must be 12");

/**
 * The transmit shared ring page header (DEFINE_RING_TYPES(netif_tx, ...)); entries start at `ring`.
 * struct netif_tx_sring {
 *     RING_IDX req_prod, req_event; RING_IDX rsp_prod, rsp_event;
 *     union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user;
 *             uint8_t pvt_pad[4]; } pvt;
 *     uint8_t __pad[44];
 *     union netif_tx_sring_entry ring[1];
 * };
 */
@unmanaged export class netif_tx_sring extends sring_header {
  @array(3) ring: u32; // @c ring

  /** The union read as `pvt.netif.smartpoll_active`. */
  get pvt_netif_smartpoll_active(): u8 { return load<u8>(changetype<usize>(this), offsetof<netif_tx_sring>("pvt_pad")); }
}
// size=76
if (offsetof<netif_tx_sring>() != 76) ERROR("struct netif_tx_sring: size must be 76");

/**
 * An entry of the receive shared ring: a request or a response.
 * union netif_rx_sring_entry { struct netif_rx_request req; struct netif_rx_response rsp; };
 * @ctype union netif_rx_sring_entry
 */
@unmanaged export class netif_rx_sring_entry {
  @array(2) req: u32; // @c req, rsp
}
// size=8
if (offsetof<netif_rx_sring_entry>() != 8) ERROR("union netif_rx_sring_entry: size must be 8");

/**
 * The receive shared ring page header (DEFINE_RING_TYPES(netif_rx, ...)); entries start at `ring`.
 * struct netif_rx_sring {
 *     RING_IDX req_prod, req_event; RING_IDX rsp_prod, rsp_event;
 *     union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user;
 *             uint8_t pvt_pad[4]; } pvt;
 *     uint8_t __pad[44];
 *     union netif_rx_sring_entry ring[1];
 * };
 */
@unmanaged export class netif_rx_sring extends sring_header {
  @array(2) ring: u32; // @c ring

  /** The union read as `pvt.netif.smartpoll_active`. */
  get pvt_netif_smartpoll_active(): u8 { return load<u8>(changetype<usize>(this), offsetof<netif_rx_sring>("pvt_pad")); }
}
// size=72
if (offsetof<netif_rx_sring>() != 72) ERROR("struct netif_rx_sring: size must be 72");

/** Response status values: packet dropped, error, okay, and no response (auxiliary slot). */
export const NETIF_RSP_DROPPED: i16 = -2;
export const NETIF_RSP_ERROR: i16 = -1;
export const NETIF_RSP_OKAY: i16 = 0;
export const NETIF_RSP_NULL: i16 = 1;
