// Mirrors xen/include/public/io/blkif.h: the block device ring protocol (BLKIF_OP_* requests,
// responses, BLKIF_RSP_*, VDISK_*) and its blkif_sring. See docs/abi-layer.md for the conventions.
import { grant_ref_t } from "../grant_table";
import { RING_IDX, sring_header } from "./ring";

/** C `blkif_vdev_t` (a macro in the header): the virtual device handle of a request. */
export type blkif_vdev_t = u16;
/** C `blkif_sector_t` (a macro in the header): a sector number on the virtual disk. */
export type blkif_sector_t = u64;

/** Request operations (`operation`, and `indirect_op` of BLKIF_OP_INDIRECT). */
export const BLKIF_OP_READ: u8 = 0;
export const BLKIF_OP_WRITE: u8 = 1;
export const BLKIF_OP_WRITE_BARRIER: u8 = 2;
export const BLKIF_OP_FLUSH_DISKCACHE: u8 = 3;
export const BLKIF_OP_RESERVED_1: u8 = 4;
export const BLKIF_OP_DISCARD: u8 = 5;
export const BLKIF_OP_INDIRECT: u8 = 6;

/** Segments of a direct request, and indirect segment pages of a BLKIF_OP_INDIRECT request. */
export const BLKIF_MAX_SEGMENTS_PER_REQUEST: i32 = 11;
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST: i32 = 8;

/**
 * One segment of a request: a granted page and the sectors of it to transfer (inclusive).
 * struct blkif_request_segment { grant_ref_t gref; uint8_t first_sect, last_sect; };
 */
@unmanaged export class blkif_request_segment {
  gref: grant_ref_t;
  first_sect: u8;
  last_sect: u8;
  __padding0: u16;
}
// size=8
if (offsetof<blkif_request_segment>() != 8) ERROR("struct blkif_request_segment: size must be 8");

/**
 * A read/write/barrier/flush request, the ring's request type (112 bytes).
 * struct blkif_request { uint8_t operation; uint8_t nr_segments; blkif_vdev_t handle;
 *                        uint64_t id; blkif_sector_t sector_number;
 *                        struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST]; };
 * `seg` holds 11 blkif_request_segment (8 bytes, 4-aligned); segment i is at
 * `changetype<usize>(r) + offsetof<blkif_request>("seg") + i * 8`.
 */
@unmanaged export class blkif_request {
  operation: u8;
  nr_segments: u8;
  handle: blkif_vdev_t;
  __padding0: u32;
  id: u64;
  sector_number: blkif_sector_t;
  @array(22) seg: u32; // @c seg
}
// size=112
if (offsetof<blkif_request>() != 112) ERROR("struct blkif_request: size must be 112");

/** blkif_request_discard.flag: discard securely (ignored unless the backend offers discard-secure). */
export const BLKIF_DISCARD_SECURE: u8 = 1 << 0;

/**
 * A BLKIF_OP_DISCARD request, read in place of a blkif_request.
 * struct blkif_request_discard { uint8_t operation; uint8_t flag; blkif_vdev_t handle;
 *                                uint64_t id; blkif_sector_t sector_number;
 *                                uint64_t nr_sectors; };
 */
@unmanaged export class blkif_request_discard {
  operation: u8;
  flag: u8;
  handle: blkif_vdev_t;
  __padding0: u32;
  id: u64;
  sector_number: blkif_sector_t;
  nr_sectors: u64;
}
// size=32
if (offsetof<blkif_request_discard>() != 32) ERROR("struct blkif_request_discard: size must be 32");

/**
 * A BLKIF_OP_INDIRECT request, whose segments are in granted pages of blkif_request_segment.
 * struct blkif_request_indirect { uint8_t operation; uint8_t indirect_op; uint16_t nr_segments;
 *     uint64_t id; blkif_sector_t sector_number; blkif_vdev_t handle;
 *     grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
 *     (uint64_t pad; on __i386__ only) };
 */
@unmanaged export class blkif_request_indirect {
  operation: u8;
  indirect_op: u8;
  nr_segments: u16;
  __padding0: u32;
  id: u64;
  sector_number: blkif_sector_t;
  handle: blkif_vdev_t;
  __padding1: u16;
  @array(8) indirect_grefs: u32;
  __padding2: u32;
}
// size=64
if (offsetof<blkif_request_indirect>() != 64) ERROR("struct blkif_request_indirect: size must be 64");

/**
 * The response to a request, the ring's response type.
 * struct blkif_response { uint64_t id; uint8_t operation; int16_t status; };
 */
@unmanaged export class blkif_response {
  id: u64;
  operation: u8;
  __padding0: u8;
  status: i16;
  __padding1: u32;
}
// size=16
if (offsetof<blkif_response>() != 16) ERROR("struct blkif_response: size must be 16");

/** Response status codes (`blkif_response.status`). */
export const BLKIF_RSP_EOPNOTSUPP: i16 = -2;
export const BLKIF_RSP_ERROR: i16 = -1;
export const BLKIF_RSP_OKAY: i16 = 0;

/**
 * One slot of the blkif ring (DEFINE_RING_TYPES): a request or its response (112 bytes).
 * union blkif_sring_entry { struct blkif_request req; struct blkif_response rsp; };
 * Read the slot through blkif_request / blkif_response at its address.
 * @ctype union blkif_sring_entry
 */
@unmanaged export class blkif_sring_entry {
  @array(14) req: u64; // @c req, rsp
}
// size=112
if (offsetof<blkif_sring_entry>() != 112) ERROR("union blkif_sring_entry: size must be 112");

/**
 * The shared blkif ring page (DEFINE_RING_TYPES(blkif, ...)): a 64-byte header, then the ring.
 * struct blkif_sring { RING_IDX req_prod, req_event; RING_IDX rsp_prod, rsp_event;
 *     union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user;
 *             uint8_t pvt_pad[4]; } pvt;
 *     uint8_t __pad[44];
 *     union blkif_sring_entry ring[1]; };
 * `ring` is variable-length: a 4 KiB page holds ring_size(4096, 112, 64) = 32 slots; slot i
 * is at `changetype<usize>(s) + offsetof<blkif_sring>("ring") + i * offsetof<blkif_sring_entry>()`.
 */
@unmanaged export class blkif_sring extends sring_header {
  @array(14) ring: u64; // @c ring, ring[0].req, ring[0].rsp
}
// size=176
if (offsetof<blkif_sring>() != 176) ERROR("struct blkif_sring: size must be 176");

/** Bits of the backend's xenstore `info` node. */
export const VDISK_CDROM: u32 = 0x1;
export const VDISK_REMOVABLE: u32 = 0x2;
export const VDISK_READONLY: u32 = 0x4;
