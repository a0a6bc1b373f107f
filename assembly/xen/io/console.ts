// Mirrors xen/include/public/io/console.h: the shared console ring page of a PV console.
// See docs/abi-layer.md for the conventions.

/** C `XENCONS_RING_IDX`: a free-running index into a console ring. */
export type XENCONS_RING_IDX = u32;

/**
 * Reduces a free-running index to a byte offset in a console ring of `ringSize` bytes (C
 * passes the ring array and takes its sizeof: 1024 for `in`, 2048 for `out`).
 */
@inline export function MASK_XENCONS_IDX(idx: XENCONS_RING_IDX, ringSize: u32): XENCONS_RING_IDX {
  return idx & (ringSize - 1);
}

/**
 * The console page: `in` carries input to the guest, `out` the guest's output.
 * struct xencons_interface {
 *     char in[1024]; char out[2048];
 *     XENCONS_RING_IDX in_cons, in_prod; XENCONS_RING_IDX out_cons, out_prod;
 * };
 */
@unmanaged export class xencons_interface {
  @array(1024) in_: u8; // @c in
  @array(2048) out: u8;
  in_cons: XENCONS_RING_IDX;
  in_prod: XENCONS_RING_IDX;
  out_cons: XENCONS_RING_IDX;
  out_prod: XENCONS_RING_IDX;
}
// size=3088
if (offsetof<xencons_interface>() != 3088) ERROR("struct xencons_interface: size must be 3088");
