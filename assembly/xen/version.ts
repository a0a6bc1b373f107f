// Mirrors xen/include/public/version.h: XENVER_* sub-ops of HYPERVISOR_xen_version and their
// argument buffers. See docs/abi-layer.md for the conventions. XENFEAT_* are in ./features.

/** Sub-ops of HYPERVISOR_xen_version (XENVER_*). */
export const XENVER_version: i32 = 0;
export const XENVER_extraversion: i32 = 1;
export const XENVER_compile_info: i32 = 2;
export const XENVER_capabilities: i32 = 3;
export const XENVER_changeset: i32 = 4;
export const XENVER_platform_parameters: i32 = 5;
export const XENVER_get_features: i32 = 6;
export const XENVER_pagesize: i32 = 7;
export const XENVER_guest_handle: i32 = 8;
export const XENVER_commandline: i32 = 9;
export const XENVER_build_id: i32 = 10;

/**
 * Sizes of the char-array arguments: xen_extraversion_t (XENVER_extraversion),
 * xen_capabilities_info_t (XENVER_capabilities), xen_changeset_info_t (XENVER_changeset).
 */
export const XEN_EXTRAVERSION_LEN: i32 = 16;
export const XEN_CAPABILITIES_INFO_LEN: i32 = 1024;
export const XEN_CHANGESET_INFO_LEN: i32 = 64;

/**
 * How the hypervisor was built (XENVER_compile_info); each member is a NUL-terminated string.
 * struct xen_compile_info { char compiler[64]; char compile_by[16]; char compile_domain[32];
 *                           char compile_date[32]; };
 */
@unmanaged export class xen_compile_info {
  @array(64) compiler: u8;
  @array(16) compile_by: u8;
  @array(32) compile_domain: u8;
  @array(32) compile_date: u8;
}
// size=144
if (offsetof<xen_compile_info>() != 144) ERROR("struct xen_compile_info: size must be 144");

/**
 * The start of the hypervisor's virtual address range (XENVER_platform_parameters).
 * struct xen_platform_parameters { xen_ulong_t virt_start; };
 */
@unmanaged export class xen_platform_parameters {
  virt_start: u64;
}
// size=8
if (offsetof<xen_platform_parameters>() != 8) ERROR("struct xen_platform_parameters: size must be 8");

/**
 * One 32-bit submap of XENFEAT_* bits (XENVER_get_features).
 * struct xen_feature_info { unsigned int submap_idx; uint32_t submap; };
 */
@unmanaged export class xen_feature_info {
  submap_idx: u32;
  submap: u32;
}
// size=8
if (offsetof<xen_feature_info>() != 8) ERROR("struct xen_feature_info: size must be 8");

/**
 * The hypervisor's build id (XENVER_build_id): `len` is the buffer size in, the id length out.
 * struct xen_build_id { uint32_t len; unsigned char buf[XEN_FLEX_ARRAY_DIM]; };
 * `buf` is a flexible array member, which an @array field cannot express: the class ends
 * before it, and the id bytes start at `changetype<usize>(b) + offsetof<xen_build_id>()`.
 */
@unmanaged export class xen_build_id {
  len: u32;
}
// size=4
if (offsetof<xen_build_id>() != 4) ERROR("struct xen_build_id: size must be 4");
