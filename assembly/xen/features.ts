// Mirrors xen/include/public/features.h: the XENFEAT_* bits reported by XENVER_get_features.
// See docs/abi-layer.md for the conventions. Feature n is bit (n % 32) of submap n / 32.

/** Feature bit numbers (XENFEAT_*) as returned in xen_feature_info.submap. */
export const XENFEAT_writable_page_tables: i32 = 0;
export const XENFEAT_writable_descriptor_tables: i32 = 1;
export const XENFEAT_auto_translated_physmap: i32 = 2;
export const XENFEAT_supervisor_mode_kernel: i32 = 3;
export const XENFEAT_pae_pgdir_above_4gb: i32 = 4;
export const XENFEAT_mmu_pt_update_preserve_ad: i32 = 5;
export const XENFEAT_highmem_assist: i32 = 6;
export const XENFEAT_gnttab_map_avail_bits: i32 = 7;
export const XENFEAT_hvm_callback_vector: i32 = 8;
export const XENFEAT_hvm_safe_pvclock: i32 = 9;
export const XENFEAT_hvm_pirqs: i32 = 10;
export const XENFEAT_dom0: i32 = 11;
export const XENFEAT_memory_op_vnode_supported: i32 = 13;
export const XENFEAT_linux_rsdp_unrestricted: i32 = 15;
export const XENFEAT_not_direct_mapped: i32 = 16;
export const XENFEAT_direct_mapped: i32 = 17;

/** The number of 32-bit feature submaps (xen_feature_info.submap_idx ranges below it). */
export const XENFEAT_NR_SUBMAPS: i32 = 1;
