// blkif wire protocol (io/blkif.h) as both ends use it: limits, feature keys, and requests
// copied out of the ring and validated into a private BlkRequest (the peer cannot change it after
// that), plus responses. Parsing never trusts the slot: every field is checked here, once.
//
// Sector numbers are always 512-byte units, whatever the disk's sector-size (blkif.h).
import {
  blkif_request, blkif_request_discard, blkif_request_indirect, blkif_response,
  BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
  BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_OKAY,
} from "../../assembly/xen/io/blkif";
import { PAGE_SIZE } from "../../assembly/frames";

/** Bytes per blkif sector. */
export const SECTOR_SIZE: u32 = 512;
/** Sectors in one 4 KiB page: a segment's last_sect is at most 7. */
export const SECTORS_PER_PAGE: u32 = <u32>PAGE_SIZE / SECTOR_SIZE;
/** Bytes of one ring slot: the request/response union (sizeof(union blkif_sring_entry)). */
export const BLK_SLOT: u32 = <u32>offsetof<blkif_request>();
/** Bytes of a response. */
export const BLK_RSP: u32 = <u32>offsetof<blkif_response>();
/** Bytes of one struct blkif_request_segment; an indirect page holds 512 of them. */
export const SEG_SIZE: u32 = 8;
/** Segment descriptors per indirect page. */
export const SEGS_PER_INDIRECT_FRAME: u32 = <u32>PAGE_SIZE / SEG_SIZE;
/** Direct segments per request (11). */
export const DIRECT_SEGS: u32 = <u32>BLKIF_MAX_SEGMENTS_PER_REQUEST;
/** The most indirect segments either end of xenwasm offers or uses (Linux's blkback limit). */
export const MAX_INDIRECT_SEGS: u32 = 256;
/** Largest ring-page-order either end offers or uses (16 pages, Linux's XENBUS_MAX_RING_GRANT_ORDER). */
export const MAX_RING_PAGE_ORDER: u32 = 4;
/** Most queues either end offers or uses. */
export const MAX_QUEUES: u32 = 4;
/** The only protocol this x86_64 implementation speaks (io/protocols.h XEN_IO_PROTO_ABI_X86_64). */
export const PROTOCOL_X86_64: string = "x86_64-abi";

// The xenstore keys of blkif.h, as both ends spell them.
export const K_RING_REF = "ring-ref";
export const K_EVENT_CHANNEL = "event-channel";
export const K_PROTOCOL = "protocol";
export const K_RING_PAGE_ORDER = "ring-page-order";
export const K_MAX_RING_PAGE_ORDER = "max-ring-page-order";
export const K_NUM_QUEUES = "multi-queue-num-queues";
export const K_MAX_QUEUES = "multi-queue-max-queues";
export const K_PERSISTENT = "feature-persistent";
export const K_MAX_INDIRECT = "feature-max-indirect-segments";
export const K_FLUSH = "feature-flush-cache";
export const K_BARRIER = "feature-barrier";
export const K_DISCARD = "feature-discard";
export const K_DISCARD_GRAN = "discard-granularity";
export const K_DISCARD_ALIGN = "discard-alignment";
export const K_DISCARD_SECURE = "discard-secure";
export const K_SECTORS = "sectors";
export const K_INFO = "info";
export const K_SECTOR_SIZE = "sector-size";
export const K_PHYS_SECTOR_SIZE = "physical-sector-size";

/**
 * A request as the backend acts on it: the ring slot copied and validated. Segment i covers
 * sectors first[i]..last[i] of the page granted as grefs[i]; the data starts at `sector` and is
 * contiguous on the disk. Allocated once per queue and refilled for each request.
 */
export class BlkRequest {
  operation: u8 = 0;
  /** BLKIF_OP_INDIRECT: the operation its segments are for (READ or WRITE). */
  indirectOp: u8 = 0;
  handle: u16 = 0;
  id: u64 = 0;
  sector: u64 = 0;
  nrSegs: u32 = 0;
  /** Sectors the segments cover (or a discard's nr_sectors). */
  nrSectors: u64 = 0;
  discardFlag: u8 = 0;
  nrIndirectPages: u32 = 0;
  grefs: StaticArray<u32> = new StaticArray<u32>(<i32>MAX_INDIRECT_SEGS);
  first: StaticArray<u8> = new StaticArray<u8>(<i32>MAX_INDIRECT_SEGS);
  last: StaticArray<u8> = new StaticArray<u8>(<i32>MAX_INDIRECT_SEGS);
  indirectGrefs: StaticArray<u32> = new StaticArray<u32>(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);

  /** The data operation: READ or WRITE for direct, indirect, flush and barrier requests. */
  get dataOp(): u8 {
    if (this.operation == BLKIF_OP_INDIRECT) return this.indirectOp;
    return this.operation == BLKIF_OP_READ ? BLKIF_OP_READ : BLKIF_OP_WRITE;
  }
}

/**
 * Parses the slot copied at `slot` into `r`. Returns BLKIF_RSP_OKAY, BLKIF_RSP_EOPNOTSUPP (an
 * operation this end does not know) or BLKIF_RSP_ERROR (a malformed request: no segments for
 * a read/write, too many, sectors outside a page). `maxIndirect` is what we offered (0: none).
 * An indirect request's segments are not in the slot: read them with parseSegments.
 */
export function parseRequest(slot: usize, r: BlkRequest, maxIndirect: u32): i16 {
  const op = load<u8>(slot);
  r.operation = op;
  r.id = changetype<blkif_request>(slot).id;
  r.nrSegs = 0;
  r.nrSectors = 0;
  r.nrIndirectPages = 0;
  if (op == BLKIF_OP_DISCARD) {
    const d = changetype<blkif_request_discard>(slot);
    r.sector = d.sector_number;
    r.nrSectors = d.nr_sectors;
    r.discardFlag = d.flag;
    r.handle = d.handle;
    return BLKIF_RSP_OKAY;
  }
  if (op == BLKIF_OP_INDIRECT) {
    const ind = changetype<blkif_request_indirect>(slot);
    if (maxIndirect == 0) return BLKIF_RSP_EOPNOTSUPP;
    r.indirectOp = ind.indirect_op;
    r.sector = ind.sector_number;
    r.handle = ind.handle;
    const n = <u32>ind.nr_segments;
    if (r.indirectOp != BLKIF_OP_READ && r.indirectOp != BLKIF_OP_WRITE) return BLKIF_RSP_ERROR;
    if (n == 0 || n > maxIndirect) return BLKIF_RSP_ERROR;
    r.nrSegs = n;
    r.nrIndirectPages = (n + SEGS_PER_INDIRECT_FRAME - 1) / SEGS_PER_INDIRECT_FRAME;
    const grefs = slot + offsetof<blkif_request_indirect>("indirect_grefs");
    for (let i: u32 = 0; i < r.nrIndirectPages; i++) unchecked(r.indirectGrefs[i] = load<u32>(grefs + (<usize>i << 2)));
    return BLKIF_RSP_OKAY;
  }
  if (op != BLKIF_OP_READ && op != BLKIF_OP_WRITE && op != BLKIF_OP_WRITE_BARRIER && op != BLKIF_OP_FLUSH_DISKCACHE) return BLKIF_RSP_EOPNOTSUPP;
  const req = changetype<blkif_request>(slot);
  r.sector = req.sector_number;
  r.handle = req.handle;
  const n = <u32>req.nr_segments;
  // A read or write moves data; a flush or barrier may carry some (Linux: REQ_PREFLUSH with data).
  if (n > DIRECT_SEGS || (n == 0 && (op == BLKIF_OP_READ || op == BLKIF_OP_WRITE))) return BLKIF_RSP_ERROR;
  return parseSegments(slot + offsetof<blkif_request>("seg"), r, 0, n);
}

/**
 * Appends `n` segment descriptors at `src` (struct blkif_request_segment[n], our private copy)
 * to `r` from index `at`: checks first_sect <= last_sect < 8 and adds up the sectors. Returns
 * BLKIF_RSP_OKAY or BLKIF_RSP_ERROR.
 */
export function parseSegments(src: usize, r: BlkRequest, at: u32, n: u32): i16 {
  for (let i: u32 = 0; i < n; i++) {
    const s = src + <usize>(i * SEG_SIZE);
    const first = load<u8>(s, 4), last = load<u8>(s, 5);
    if (first > last || <u32>last >= SECTORS_PER_PAGE) return BLKIF_RSP_ERROR;
    unchecked(r.grefs[at + i] = load<u32>(s));
    unchecked(r.first[at + i] = first);
    unchecked(r.last[at + i] = last);
    r.nrSectors += <u64>(last - first + 1);
  }
  r.nrSegs = at + n > r.nrSegs ? at + n : r.nrSegs;
  return BLKIF_RSP_OKAY;
}

/** Writes a response (id, operation, status) into the 16 bytes at `dst`. */
export function writeResponse(dst: usize, id: u64, operation: u8, status: i16): void {
  const p = changetype<blkif_response>(dst);
  p.id = id;
  p.operation = operation;
  p.__padding0 = 0;
  p.status = status;
  p.__padding1 = 0;
}

/** Writes segment `i` (gref, first_sect, last_sect) of a request or indirect page at `segs`. */
export function writeSegment(segs: usize, i: u32, gref: u32, first: u32, last: u32): void {
  const s = segs + <usize>(i * SEG_SIZE);
  store<u32>(s, gref);
  store<u8>(s, <u8>first, 4);
  store<u8>(s, <u8>last, 5);
  store<u16>(s, 0, 6);
}

export { BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_OKAY };
