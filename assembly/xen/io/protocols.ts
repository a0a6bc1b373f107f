// Mirrors xen/include/public/io/protocols.h: the ABI names a frontend writes to its "protocol" node.
// See docs/abi-layer.md for the conventions.

/** Ring ABI of 32-bit x86 guests. */
export const XEN_IO_PROTO_ABI_X86_32: string = "x86_32-abi";
/** Ring ABI of 64-bit x86 guests. */
export const XEN_IO_PROTO_ABI_X86_64: string = "x86_64-abi";
/** Ring ABI of Arm guests (32- and 64-bit share it). */
export const XEN_IO_PROTO_ABI_ARM: string = "arm-abi";
/** The native ABI: on x86_64 the header defines it as XEN_IO_PROTO_ABI_X86_64. */
export const XEN_IO_PROTO_ABI_NATIVE: string = XEN_IO_PROTO_ABI_X86_64;
