// Mirrors xen/include/public/io/ring.h: the shared producer/consumer ring index type and the
// ring arithmetic of its macros, as pure functions. See docs/abi-layer.md for the conventions.
//
// ring.h itself defines no concrete struct: DEFINE_RING_TYPES(name, req, rsp) declares
// `struct name_sring { RING_IDX req_prod, req_event, rsp_prod, rsp_event;
// union { ... uint8_t pvt_pad[4]; } pvt; uint8_t __pad[44]; union name_sring_entry ring[1]; }`,
// a 64-byte header followed by the ring. Each ring gets its class in its protocol's module
// (e.g. `blkif_sring` in io/blkif.ts). The front/back private structs (`name_front_ring`,
// `name_back_ring`) are local to each end and hold a native pointer, so they are not mirrored:
// the functions below take their fields as arguments instead.

/** C `RING_IDX`: a free-running ring index (wraps at 2^32; mask with the ring size to use). */
export type RING_IDX = u32;

/**
 * The 64-byte header every DEFINE_RING_TYPES ring page starts with; each protocol's ring class
 * (`blkif_sring`, `netif_tx_sring`, ...) extends it with its `ring` array.
 * struct name_sring { RING_IDX req_prod, req_event; RING_IDX rsp_prod, rsp_event;
 *     union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user;
 *             uint8_t pvt_pad[4]; } pvt;
 *     uint8_t __pad[44]; ... };
 * @noctype
 */
@unmanaged export class sring_header {
  req_prod: RING_IDX;
  req_event: RING_IDX;
  rsp_prod: RING_IDX;
  rsp_event: RING_IDX;
  @array(4) pvt_pad: u8; // @c pvt, pvt.pvt_pad, pvt.netif, pvt.netif.smartpoll_active, pvt.tapif_user, pvt.tapif_user.msg
  @array(44) __pad: u8; // @c __pad
}
// size=64
if (offsetof<sring_header>() != 64) ERROR("sring header: size must be 64");

/** The page shift of ring protocols and hypercall interfaces: 4 KiB whatever the guest uses. */
export const XEN_PAGE_SHIFT: i32 = 12;

/** C `__RD32(x)`: rounds a 32-bit value down to a power of two (0 stays 0). */
export function __RD32(x: u32): u32 {
  return x == 0 ? 0 : (<u32>1) << (31 - <u32>clz<u32>(x));
}

/**
 * C `__CONST_RING_SIZE(name, bytes)`: the number of entries of a ring of `bytes` bytes whose
 * header (the offset of `ring`, 64 for every DEFINE_RING_TYPES ring) is `headerSize` bytes and
 * whose entries (the request/response union) are `entrySize` bytes, rounded down to a power of 2.
 */
export function ring_size(bytes: u32, entrySize: u32, headerSize: u32): u32 {
  return bytes < headerSize ? 0 : __RD32((bytes - headerSize) / entrySize);
}

/** The slot of free-running index `idx` in a ring of `size` entries, as RING_GET_REQUEST uses it. */
export function ring_slot(idx: RING_IDX, size: u32): u32 {
  return idx & (size - 1);
}

/** C `RING_FREE_REQUESTS(r)`: free request slots of a front ring, from its private indexes. */
export function ring_free_requests(size: u32, req_prod_pvt: RING_IDX, rsp_cons: RING_IDX): u32 {
  return size - (req_prod_pvt - rsp_cons);
}

/** C `XEN_RING_NR_UNCONSUMED_RESPONSES(r)`: responses published by the back end and not yet consumed. */
export function ring_nr_unconsumed_responses(rsp_prod: RING_IDX, rsp_cons: RING_IDX): u32 {
  return rsp_prod - rsp_cons;
}

/**
 * C `XEN_RING_NR_UNCONSUMED_REQUESTS(r)`: requests the back end may consume, bounded by the
 * ring size so that an ill-behaved front end cannot make it overrun its responses.
 */
export function ring_nr_unconsumed_requests(size: u32, req_prod: RING_IDX, req_cons: RING_IDX, rsp_prod_pvt: RING_IDX): u32 {
  const req: u32 = req_prod - req_cons;
  const rsp: u32 = size - (req_cons - rsp_prod_pvt);
  return req < rsp ? req : rsp;
}

/** C `RING_REQUEST_CONS_OVERFLOW(r, cons)`: would consuming request `cons` overflow the ring? */
export function ring_request_cons_overflow(size: u32, cons: RING_IDX, rsp_prod_pvt: RING_IDX): bool {
  return cons - rsp_prod_pvt >= size;
}

/** C `RING_REQUEST_PROD_OVERFLOW(r, prod)`: does a front end claim more requests than fit? */
export function ring_request_prod_overflow(size: u32, prod: RING_IDX, rsp_prod_pvt: RING_IDX): bool {
  return prod - rsp_prod_pvt > size;
}

/** C `RING_RESPONSE_PROD_OVERFLOW(r, prod)`: does a back end claim more responses than fit? */
export function ring_response_prod_overflow(size: u32, prod: RING_IDX, rsp_cons: RING_IDX): bool {
  return prod - rsp_cons > size;
}

/**
 * The notify test of RING_PUSH_{REQUESTS,RESPONSES}_AND_CHECK_NOTIFY: after moving the producer
 * index from `oldProd` to `newProd`, does the peer's `event` index (req_event/rsp_event) ask for
 * an event-channel notification?
 */
export function ring_push_needs_notify(newProd: RING_IDX, oldProd: RING_IDX, event: RING_IDX): bool {
  return newProd - event < newProd - oldProd;
}

/** C `XEN_FLEX_RING_SIZE(order)`: the bytes of one of the two rings of a 2^order-page flex ring. */
export function XEN_FLEX_RING_SIZE(order: u32): u32 {
  return (<u32>1) << (order + <u32>XEN_PAGE_SHIFT - 1);
}

/** C `name##_mask(idx, ring_size)` of DEFINE_XEN_FLEX_RING: an index reduced into the ring. */
export function xen_flex_ring_mask(idx: RING_IDX, ring_size: RING_IDX): RING_IDX {
  return idx & (ring_size - 1);
}

/** C `name##_queued(prod, cons, ring_size)` of DEFINE_XEN_FLEX_RING: bytes ready to be read. */
export function xen_flex_ring_queued(prod: RING_IDX, cons: RING_IDX, ring_size: RING_IDX): RING_IDX {
  if (prod == cons) return 0;
  prod = xen_flex_ring_mask(prod, ring_size);
  cons = xen_flex_ring_mask(cons, ring_size);
  if (prod == cons) return ring_size;
  return prod > cons ? prod - cons : ring_size - (cons - prod);
}
