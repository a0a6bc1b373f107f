// Mirrors xen/include/public/xen.h (x86_64): hypercall numbers, domain ids, VIRQs and the
// start_info / shared_info / vcpu_info layouts. See docs/abi-layer.md for the conventions.

/** C `domid_t`: a domain id. */
export type domid_t = u16;
/** C `xen_ulong_t` on x86_64: an unsigned long. */
export type xen_ulong_t = u64;
/** C `xen_pfn_t` on x86_64: a (pseudo-)physical frame number. */
export type xen_pfn_t = u64;
/**
 * C `XEN_GUEST_HANDLE(T)` on x86_64: an 8-byte pointer. In xenwasm it carries a guest linear
 * memory address (zero-extended), so a field of this type is always written as a u64.
 */
export type guest_handle = u64;
