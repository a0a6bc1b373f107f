// Mirrors xen/include/public/xen.h (x86_64): hypercall numbers, domain ids, VIRQs and the
// start_info / shared_info / vcpu_info layouts. See docs/abi-layer.md for the conventions.
// It also carries what xen.h pulls in from arch-x86/xen.h and arch-x86/xen-x86_64.h.

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
/** C `xen_callback_t` on x86_64: the address of a guest callback (an unsigned long). */
export type xen_callback_t = u64;
/** C `tsc_timestamp_t`: an RDTSC timestamp. */
export type tsc_timestamp_t = u64;

// ---------------------------------------------------------------------------------------------
// Hypercall numbers.

/** Hypercall numbers (`__HYPERVISOR_*`), the index of each hypercall in the hypercall page. */
export const __HYPERVISOR_set_trap_table: i32 = 0;
export const __HYPERVISOR_mmu_update: i32 = 1;
export const __HYPERVISOR_set_gdt: i32 = 2;
export const __HYPERVISOR_stack_switch: i32 = 3;
export const __HYPERVISOR_set_callbacks: i32 = 4;
export const __HYPERVISOR_fpu_taskswitch: i32 = 5;
export const __HYPERVISOR_sched_op_compat: i32 = 6;
export const __HYPERVISOR_platform_op: i32 = 7;
export const __HYPERVISOR_set_debugreg: i32 = 8;
export const __HYPERVISOR_get_debugreg: i32 = 9;
export const __HYPERVISOR_update_descriptor: i32 = 10;
export const __HYPERVISOR_memory_op: i32 = 12;
export const __HYPERVISOR_multicall: i32 = 13;
export const __HYPERVISOR_update_va_mapping: i32 = 14;
export const __HYPERVISOR_set_timer_op: i32 = 15;
export const __HYPERVISOR_event_channel_op_compat: i32 = 16;
export const __HYPERVISOR_xen_version: i32 = 17;
export const __HYPERVISOR_console_io: i32 = 18;
export const __HYPERVISOR_physdev_op_compat: i32 = 19;
export const __HYPERVISOR_grant_table_op: i32 = 20;
export const __HYPERVISOR_vm_assist: i32 = 21;
export const __HYPERVISOR_update_va_mapping_otherdomain: i32 = 22;
export const __HYPERVISOR_iret: i32 = 23;
export const __HYPERVISOR_vcpu_op: i32 = 24;
export const __HYPERVISOR_set_segment_base: i32 = 25;
export const __HYPERVISOR_mmuext_op: i32 = 26;
export const __HYPERVISOR_xsm_op: i32 = 27;
export const __HYPERVISOR_nmi_op: i32 = 28;
export const __HYPERVISOR_sched_op: i32 = 29;
export const __HYPERVISOR_callback_op: i32 = 30;
export const __HYPERVISOR_xenoprof_op: i32 = 31;
export const __HYPERVISOR_event_channel_op: i32 = 32;
export const __HYPERVISOR_physdev_op: i32 = 33;
export const __HYPERVISOR_hvm_op: i32 = 34;
export const __HYPERVISOR_sysctl: i32 = 35;
export const __HYPERVISOR_domctl: i32 = 36;
export const __HYPERVISOR_kexec_op: i32 = 37;
export const __HYPERVISOR_tmem_op: i32 = 38;
export const __HYPERVISOR_argo_op: i32 = 39;
export const __HYPERVISOR_xenpmu_op: i32 = 40;
export const __HYPERVISOR_dm_op: i32 = 41;
export const __HYPERVISOR_hypfs_op: i32 = 42;

/** Architecture-specific hypercall numbers (`__HYPERVISOR_arch_0` .. `_7`). */
export const __HYPERVISOR_arch_0: i32 = 48;
export const __HYPERVISOR_arch_1: i32 = 49;
export const __HYPERVISOR_arch_2: i32 = 50;
export const __HYPERVISOR_arch_3: i32 = 51;
export const __HYPERVISOR_arch_4: i32 = 52;
export const __HYPERVISOR_arch_5: i32 = 53;
export const __HYPERVISOR_arch_6: i32 = 54;
export const __HYPERVISOR_arch_7: i32 = 55;

// ---------------------------------------------------------------------------------------------
// Virtual interrupts.

/** Virtual IRQs a guest can bind to an event channel (V. = per-vCPU, G. = global). */
export const VIRQ_TIMER: i32 = 0;
export const VIRQ_DEBUG: i32 = 1;
export const VIRQ_CONSOLE: i32 = 2;
export const VIRQ_DOM_EXC: i32 = 3;
export const VIRQ_TBUF: i32 = 4;
export const VIRQ_DEBUGGER: i32 = 6;
export const VIRQ_XENOPROF: i32 = 7;
export const VIRQ_CON_RING: i32 = 8;
export const VIRQ_PCPU_STATE: i32 = 9;
export const VIRQ_MEM_EVENT: i32 = 10;
export const VIRQ_ARGO: i32 = 11;
export const VIRQ_ENOMEM: i32 = 12;
export const VIRQ_XENPMU: i32 = 13;

/** Architecture-specific virtual IRQs (`VIRQ_ARCH_0` .. `_7`). */
export const VIRQ_ARCH_0: i32 = 16;
export const VIRQ_ARCH_1: i32 = 17;
export const VIRQ_ARCH_2: i32 = 18;
export const VIRQ_ARCH_3: i32 = 19;
export const VIRQ_ARCH_4: i32 = 20;
export const VIRQ_ARCH_5: i32 = 21;
export const VIRQ_ARCH_6: i32 = 22;
export const VIRQ_ARCH_7: i32 = 23;

/** The number of virtual IRQs. */
export const NR_VIRQS: i32 = 24;

// ---------------------------------------------------------------------------------------------
// MMU updates and extended operations.

/** `mmu_update.ptr[1:0]` commands of HYPERVISOR_mmu_update. */
export const MMU_NORMAL_PT_UPDATE: i32 = 0;
export const MMU_MACHPHYS_UPDATE: i32 = 1;
export const MMU_PT_UPDATE_PRESERVE_AD: i32 = 2;
export const MMU_PT_UPDATE_NO_TRANSLATE: i32 = 3;

/** `mmuext_op.cmd` commands of HYPERVISOR_mmuext_op. */
export const MMUEXT_PIN_L1_TABLE: i32 = 0;
export const MMUEXT_PIN_L2_TABLE: i32 = 1;
export const MMUEXT_PIN_L3_TABLE: i32 = 2;
export const MMUEXT_PIN_L4_TABLE: i32 = 3;
export const MMUEXT_UNPIN_TABLE: i32 = 4;
export const MMUEXT_NEW_BASEPTR: i32 = 5;
export const MMUEXT_TLB_FLUSH_LOCAL: i32 = 6;
export const MMUEXT_INVLPG_LOCAL: i32 = 7;
export const MMUEXT_TLB_FLUSH_MULTI: i32 = 8;
export const MMUEXT_INVLPG_MULTI: i32 = 9;
export const MMUEXT_TLB_FLUSH_ALL: i32 = 10;
export const MMUEXT_INVLPG_ALL: i32 = 11;
export const MMUEXT_FLUSH_CACHE: i32 = 12;
export const MMUEXT_SET_LDT: i32 = 13;
export const MMUEXT_NEW_USER_BASEPTR: i32 = 15;
export const MMUEXT_CLEAR_PAGE: i32 = 16;
export const MMUEXT_COPY_PAGE: i32 = 17;
export const MMUEXT_FLUSH_CACHE_GLOBAL: i32 = 18;
export const MMUEXT_MARK_SUPER: i32 = 19;
export const MMUEXT_UNMARK_SUPER: i32 = 20;

/**
 * One extended MMU operation for HYPERVISOR_mmuext_op.
 * struct mmuext_op {
 *     unsigned int cmd;
 *     union { xen_pfn_t mfn; unsigned long linear_addr; } arg1;
 *     union { unsigned int nr_ents; XEN_GUEST_HANDLE(const_void) vcpumask;
 *             xen_pfn_t src_mfn; } arg2;
 * };
 * Both unions are 8 bytes; `arg2` read as `nr_ents` is its low 32 bits.
 */
@unmanaged export class mmuext_op {
  cmd: u32;
  __padding0: u32;
  arg1: u64; // @c arg1, arg1.mfn, arg1.linear_addr
  arg2: u64; // @c arg2, arg2.nr_ents, arg2.vcpumask, arg2.src_mfn
}
// size=24
if (offsetof<mmuext_op>() != 24) ERROR("struct mmuext_op: size must be 24");

/** `flags` of HYPERVISOR_update_va_mapping: which TLBs to flush (UVMF_*; they can be ORed). */
export const UVMF_NONE: u64 = 0;
export const UVMF_TLB_FLUSH: u64 = 1;
export const UVMF_INVLPG: u64 = 2;
export const UVMF_FLUSHTYPE_MASK: u64 = 3;
export const UVMF_MULTI: u64 = 0;
export const UVMF_LOCAL: u64 = 0;
export const UVMF_ALL: u64 = 4;

// ---------------------------------------------------------------------------------------------
// Console, VM assists, domain ids.

/** Commands of HYPERVISOR_console_io: write a buffer to, or read one from, the Xen console. */
export const CONSOLEIO_write: i32 = 0;
export const CONSOLEIO_read: i32 = 1;

/** Commands of HYPERVISOR_vm_assist: enable or disable a VMASST_TYPE_* assist. */
export const VMASST_CMD_enable: i32 = 0;
export const VMASST_CMD_disable: i32 = 1;

/** Assist types of HYPERVISOR_vm_assist (VMASST_TYPE_*). */
export const VMASST_TYPE_4gb_segments: i32 = 0;
export const VMASST_TYPE_4gb_segments_notify: i32 = 1;
export const VMASST_TYPE_writable_pagetables: i32 = 2;
export const VMASST_TYPE_pae_extended_cr3: i32 = 3;
export const VMASST_TYPE_architectural_iopl: i32 = 4;
export const VMASST_TYPE_runstate_update_flag: i32 = 5;
export const VMASST_TYPE_m2p_strict: i32 = 32;

/** Reserved domain ids: DOMID_FIRST_RESERVED and above never name an ordinary domain. */
export const DOMID_FIRST_RESERVED: domid_t = 0x7FF0;
export const DOMID_SELF: domid_t = 0x7FF0;
export const DOMID_IO: domid_t = 0x7FF1;
export const DOMID_XEN: domid_t = 0x7FF2;
export const DOMID_COW: domid_t = 0x7FF3;
export const DOMID_INVALID: domid_t = 0x7FF4;
export const DOMID_IDLE: domid_t = 0x7FFF;
export const DOMID_MASK: domid_t = 0x7FFF;

/**
 * One page-table or machine-to-physical update for HYPERVISOR_mmu_update.
 * struct mmu_update { uint64_t ptr; uint64_t val; };
 */
@unmanaged export class mmu_update {
  ptr: u64;
  val: u64;
}
// size=16
if (offsetof<mmu_update>() != 16) ERROR("struct mmu_update: size must be 16");

/**
 * One call of a HYPERVISOR_multicall batch; Xen writes the call's return value to `result`.
 * struct multicall_entry { xen_ulong_t op, result; xen_ulong_t args[6]; };
 */
@unmanaged export class multicall_entry {
  op: xen_ulong_t;
  result: xen_ulong_t;
  @array(6) args: u64;
}
// size=64
if (offsetof<multicall_entry>() != 64) ERROR("struct multicall_entry: size must be 64");

// ---------------------------------------------------------------------------------------------
// Time, vCPU info and the shared info page.

/**
 * Per-vCPU system time, updated by Xen under a seqlock-like `version` (odd while updating).
 * struct vcpu_time_info {
 *     uint32_t version; uint32_t pad0; uint64_t tsc_timestamp; uint64_t system_time;
 *     uint32_t tsc_to_system_mul; int8_t tsc_shift; uint8_t flags; uint8_t pad1[2];
 * };
 */
@unmanaged export class vcpu_time_info {
  version: u32;
  pad0: u32;
  tsc_timestamp: u64;
  system_time: u64;
  tsc_to_system_mul: u32;
  tsc_shift: i8;
  flags: u8;
  @array(2) pad1: u8;
}
// size=32
if (offsetof<vcpu_time_info>() != 32) ERROR("struct vcpu_time_info: size must be 32");

/** `vcpu_time_info.flags` bits: the TSC is stable across vCPUs; the guest was stopped. */
export const XEN_PVCLOCK_TSC_STABLE_BIT: i32 = 1;
export const XEN_PVCLOCK_GUEST_STOPPED: i32 = 2;

/**
 * The x86_64 architecture part of vcpu_info.
 * struct arch_vcpu_info { unsigned long cr2; unsigned long pad; };
 */
@unmanaged export class arch_vcpu_info {
  cr2: u64;
  pad: u64;
}
// size=16
if (offsetof<arch_vcpu_info>() != 16) ERROR("struct arch_vcpu_info: size must be 16");

/**
 * Per-vCPU event and time state, in shared_info or where VCPUOP_register_vcpu_info put it.
 * struct vcpu_info {
 *     uint8_t evtchn_upcall_pending; uint8_t evtchn_upcall_mask;
 *     xen_ulong_t evtchn_pending_sel; struct arch_vcpu_info arch; vcpu_time_info_t time;
 * };
 * `arch` and `time` are flattened; read `time` as a whole through vcpu_time_info at
 * `changetype<usize>(v) + offsetof<vcpu_info>("time_version")`.
 */
@unmanaged export class vcpu_info {
  evtchn_upcall_pending: u8;
  evtchn_upcall_mask: u8;
  __padding0: u16;
  __padding1: u32;
  evtchn_pending_sel: xen_ulong_t;
  arch_cr2: u64; // @c arch, arch.cr2
  arch_pad: u64; // @c arch.pad
  time_version: u32; // @c time, time.version
  time_pad0: u32; // @c time.pad0
  time_tsc_timestamp: u64; // @c time.tsc_timestamp
  time_system_time: u64; // @c time.system_time
  time_tsc_to_system_mul: u32; // @c time.tsc_to_system_mul
  time_tsc_shift: i8; // @c time.tsc_shift
  time_flags: u8; // @c time.flags
  @array(2) time_pad1: u8; // @c time.pad1
}
// size=64
if (offsetof<vcpu_info>() != 64) ERROR("struct vcpu_info: size must be 64");

/**
 * The x86_64 architecture part of shared_info: the p2m anchors published by the guest.
 * struct arch_shared_info {
 *     unsigned long max_pfn; xen_pfn_t pfn_to_mfn_frame_list_list; unsigned long nmi_reason;
 *     unsigned long p2m_cr3; unsigned long p2m_vaddr; unsigned long p2m_generation;
 * };
 */
@unmanaged export class arch_shared_info {
  max_pfn: u64;
  pfn_to_mfn_frame_list_list: xen_pfn_t;
  nmi_reason: u64;
  p2m_cr3: u64;
  p2m_vaddr: u64;
  p2m_generation: u64;
}
// size=48
if (offsetof<arch_shared_info>() != 48) ERROR("struct arch_shared_info: size must be 48");

/** The number of vcpu_info slots in shared_info (legacy multi-processor guests). */
export const XEN_LEGACY_MAX_VCPUS: i32 = 32;

/**
 * The shared info page: per-vCPU info, the 2-level event-channel bitmaps and wallclock time.
 * struct shared_info {
 *     struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
 *     xen_ulong_t evtchn_pending[sizeof(xen_ulong_t) * 8];
 *     xen_ulong_t evtchn_mask[sizeof(xen_ulong_t) * 8];
 *     uint32_t wc_version; uint32_t wc_sec; uint32_t wc_nsec; uint32_t wc_sec_hi;
 *     struct arch_shared_info arch;
 * };
 * `vcpu_info` is 32 x 64 bytes: vCPU i's vcpu_info is at
 * `changetype<usize>(s) + offsetof<shared_info>("vcpu_info") + i * offsetof<vcpu_info>()`.
 */
@unmanaged export class shared_info {
  @array(256) vcpu_info: u64; // @c vcpu_info
  @array(64) evtchn_pending: u64;
  @array(64) evtchn_mask: u64;
  wc_version: u32;
  wc_sec: u32;
  wc_nsec: u32;
  wc_sec_hi: u32;
  arch_max_pfn: u64; // @c arch, arch.max_pfn
  arch_pfn_to_mfn_frame_list_list: xen_pfn_t; // @c arch.pfn_to_mfn_frame_list_list
  arch_nmi_reason: u64; // @c arch.nmi_reason
  arch_p2m_cr3: u64; // @c arch.p2m_cr3
  arch_p2m_vaddr: u64; // @c arch.p2m_vaddr
  arch_p2m_generation: u64; // @c arch.p2m_generation
}
// size=3136
if (offsetof<shared_info>() != 3136) ERROR("struct shared_info: size must be 3136");

// ---------------------------------------------------------------------------------------------
// Start of day.

/** Set on x86: the guest is entered PV style, with a start_info page. */
export const XEN_HAVE_PV_GUEST_ENTRY: i32 = 1;
/** Set on x86: vcpu_info has `evtchn_upcall_mask`. */
export const XEN_HAVE_PV_UPCALL_MASK: i32 = 1;

/** The size of `start_info.cmd_line`, including the terminating NUL. */
export const MAX_GUEST_CMDLINE: i32 = 1024;

/**
 * The start-of-day page of a PV guest (pointed to by %rsi at entry).
 * struct start_info {
 *     char magic[32]; unsigned long nr_pages; unsigned long shared_info; uint32_t flags;
 *     xen_pfn_t store_mfn; uint32_t store_evtchn;
 *     union { struct { xen_pfn_t mfn; uint32_t evtchn; } domU;
 *             struct { uint32_t info_off; uint32_t info_size; } dom0; } console;
 *     unsigned long pt_base; unsigned long nr_pt_frames; unsigned long mfn_list;
 *     unsigned long mod_start; unsigned long mod_len; int8_t cmd_line[MAX_GUEST_CMDLINE];
 *     unsigned long first_p2m_pfn; unsigned long nr_p2m_frames;
 * };
 * The console union is laid out as its dom0 member plus `console.domU.evtchn`; the 64-bit
 * `console.domU.mfn` (over info_off and info_size) is the accessor `console_domU_mfn`.
 */
@unmanaged export class start_info {
  @array(32) magic: u8;
  nr_pages: u64;
  shared_info: u64;
  flags: u32;
  __padding0: u32;
  store_mfn: xen_pfn_t;
  store_evtchn: u32;
  __padding1: u32;
  console_dom0_info_off: u32; // @c console, console.domU, console.domU.mfn, console.dom0, console.dom0.info_off
  console_dom0_info_size: u32; // @c console.dom0.info_size
  console_domU_evtchn: u32; // @c console.domU.evtchn
  __padding2: u32;
  pt_base: u64;
  nr_pt_frames: u64;
  mfn_list: u64;
  mod_start: u64;
  mod_len: u64;
  @array(1024) cmd_line: i8;
  first_p2m_pfn: u64;
  nr_p2m_frames: u64;

  /** The union read as `console.domU.mfn`: the machine frame of the console ring (domU). */
  get console_domU_mfn(): xen_pfn_t { return load<u64>(changetype<usize>(this), offsetof<start_info>("console_dom0_info_off")); }
  set console_domU_mfn(v: xen_pfn_t) { store<u64>(changetype<usize>(this), v, offsetof<start_info>("console_dom0_info_off")); }
}
// size=1168
if (offsetof<start_info>() != 1168) ERROR("struct start_info: size must be 1168");

/** `start_info.flags` bits (SIF_*). */
export const SIF_PRIVILEGED: u32 = 1;
export const SIF_INITDOMAIN: u32 = 2;
export const SIF_MULTIBOOT_MOD: u32 = 4;
export const SIF_MOD_START_PFN: u32 = 8;
export const SIF_VIRT_P2M_4TOOLS: u32 = 16;
export const SIF_PM_MASK: u32 = 0xFF00;

/**
 * One module descriptor of a multiboot module (SIF_MULTIBOOT_MOD); mod_start == 0 ends the list.
 * struct xen_multiboot_mod_list { uint32_t mod_start; uint32_t mod_end; uint32_t cmdline;
 *                                 uint32_t pad; };
 */
@unmanaged export class xen_multiboot_mod_list {
  mod_start: u32;
  mod_end: u32;
  cmdline: u32;
  pad: u32;
}
// size=16
if (offsetof<xen_multiboot_mod_list>() != 16) ERROR("struct xen_multiboot_mod_list: size must be 16");

/** `dom0_vga_console_info.video_type` values. */
export const XEN_VGATYPE_TEXT_MODE_3: u8 = 0x03;
export const XEN_VGATYPE_VESA_LFB: u8 = 0x23;
export const XEN_VGATYPE_EFI_LFB: u8 = 0x70;

/**
 * The dom0 VGA/VESA console description at `start_info.console.dom0.info_off`.
 * struct dom0_vga_console_info {
 *     uint8_t video_type;
 *     union {
 *         struct { uint16_t font_height; uint16_t cursor_x, cursor_y; uint16_t rows, columns; }
 *             text_mode_3;
 *         struct { uint16_t width, height; uint16_t bytes_per_line; uint16_t bits_per_pixel;
 *                  uint32_t lfb_base; uint32_t lfb_size;
 *                  uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size,
 *                          rsvd_pos, rsvd_size;
 *                  uint32_t gbl_caps; uint16_t mode_attrs; uint16_t pad; uint32_t ext_lfb_base; }
 *             vesa_lfb;
 *     } u;
 * };
 * The union is laid out as `vesa_lfb`; `text_mode_3` shares its first five 16-bit words
 * (`u.text_mode_3.columns` is the low half of `lfb_base`: accessor `u_text_mode_3_columns`).
 */
@unmanaged export class dom0_vga_console_info {
  video_type: u8;
  __padding0: u8;
  __padding1: u16;
  u_vesa_lfb_width: u16; // @c u, u.vesa_lfb, u.vesa_lfb.width, u.text_mode_3, u.text_mode_3.font_height
  u_vesa_lfb_height: u16; // @c u.vesa_lfb.height, u.text_mode_3.cursor_x
  u_vesa_lfb_bytes_per_line: u16; // @c u.vesa_lfb.bytes_per_line, u.text_mode_3.cursor_y
  u_vesa_lfb_bits_per_pixel: u16; // @c u.vesa_lfb.bits_per_pixel, u.text_mode_3.rows
  u_vesa_lfb_lfb_base: u32; // @c u.vesa_lfb.lfb_base, u.text_mode_3.columns
  u_vesa_lfb_lfb_size: u32; // @c u.vesa_lfb.lfb_size
  u_vesa_lfb_red_pos: u8; // @c u.vesa_lfb.red_pos
  u_vesa_lfb_red_size: u8; // @c u.vesa_lfb.red_size
  u_vesa_lfb_green_pos: u8; // @c u.vesa_lfb.green_pos
  u_vesa_lfb_green_size: u8; // @c u.vesa_lfb.green_size
  u_vesa_lfb_blue_pos: u8; // @c u.vesa_lfb.blue_pos
  u_vesa_lfb_blue_size: u8; // @c u.vesa_lfb.blue_size
  u_vesa_lfb_rsvd_pos: u8; // @c u.vesa_lfb.rsvd_pos
  u_vesa_lfb_rsvd_size: u8; // @c u.vesa_lfb.rsvd_size
  u_vesa_lfb_gbl_caps: u32; // @c u.vesa_lfb.gbl_caps
  u_vesa_lfb_mode_attrs: u16; // @c u.vesa_lfb.mode_attrs
  u_vesa_lfb_pad: u16; // @c u.vesa_lfb.pad
  u_vesa_lfb_ext_lfb_base: u32; // @c u.vesa_lfb.ext_lfb_base

  /** The union read as `u.text_mode_3.font_height`. */
  get u_text_mode_3_font_height(): u16 { return this.u_vesa_lfb_width; }
  /** The union read as `u.text_mode_3.cursor_x`. */
  get u_text_mode_3_cursor_x(): u16 { return this.u_vesa_lfb_height; }
  /** The union read as `u.text_mode_3.cursor_y`. */
  get u_text_mode_3_cursor_y(): u16 { return this.u_vesa_lfb_bytes_per_line; }
  /** The union read as `u.text_mode_3.rows`. */
  get u_text_mode_3_rows(): u16 { return this.u_vesa_lfb_bits_per_pixel; }
  /** The union read as `u.text_mode_3.columns`. */
  get u_text_mode_3_columns(): u16 { return load<u16>(changetype<usize>(this), offsetof<dom0_vga_console_info>("u_vesa_lfb_lfb_base")); }
}
// size=40
if (offsetof<dom0_vga_console_info>() != 40) ERROR("struct dom0_vga_console_info: size must be 40");

/**
 * A 16-byte UUID, in the byte order XEN_DEFINE_UUID produces.
 * @ctype xen_uuid_t
 * typedef struct { uint8_t a[16]; } xen_uuid_t;
 */
@unmanaged export class xen_uuid_t {
  @array(16) a: u8;
}
// size=16
if (offsetof<xen_uuid_t>() != 16) ERROR("xen_uuid_t: size must be 16");

// ---------------------------------------------------------------------------------------------
// arch-x86/xen.h and arch-x86/xen-x86_64.h (x86_64).

/** The first GDT page (and its byte offset and descriptor index) that Xen reserves. */
export const FIRST_RESERVED_GDT_PAGE: i32 = 14;
export const FIRST_RESERVED_GDT_BYTE: i32 = 57344;
export const FIRST_RESERVED_GDT_ENTRY: i32 = 7168;

/** Flat segment selectors Xen provides to 64-bit PV guests (ring 3 and their aliases). */
export const FLAT_RING3_CS32: u16 = 0xe023;
export const FLAT_RING3_CS64: u16 = 0xe033;
export const FLAT_RING3_DS32: u16 = 0xe02b;
export const FLAT_RING3_DS64: u16 = 0x0000;
export const FLAT_RING3_SS32: u16 = 0xe02b;
export const FLAT_RING3_SS64: u16 = 0xe02b;
export const FLAT_KERNEL_DS64: u16 = 0x0000;
export const FLAT_KERNEL_DS32: u16 = 0xe02b;
export const FLAT_KERNEL_DS: u16 = 0x0000;
export const FLAT_KERNEL_CS64: u16 = 0xe033;
export const FLAT_KERNEL_CS32: u16 = 0xe023;
export const FLAT_KERNEL_CS: u16 = 0xe033;
export const FLAT_KERNEL_SS64: u16 = 0xe02b;
export const FLAT_KERNEL_SS32: u16 = 0xe02b;
export const FLAT_KERNEL_SS: u16 = 0xe02b;
export const FLAT_USER_DS64: u16 = 0x0000;
export const FLAT_USER_DS32: u16 = 0xe02b;
export const FLAT_USER_DS: u16 = 0x0000;
export const FLAT_USER_CS64: u16 = 0xe033;
export const FLAT_USER_CS32: u16 = 0xe023;
export const FLAT_USER_CS: u16 = 0xe033;
export const FLAT_USER_SS64: u16 = 0xe02b;
export const FLAT_USER_SS32: u16 = 0xe02b;
export const FLAT_USER_SS: u16 = 0xe02b;

/** The virtual address range Xen reserves in every 64-bit PV address space. */
export const __HYPERVISOR_VIRT_START: u64 = 0xFFFF800000000000;
export const __HYPERVISOR_VIRT_END: u64 = 0xFFFF880000000000;
export const HYPERVISOR_VIRT_START: u64 = 0xFFFF800000000000;
export const HYPERVISOR_VIRT_END: u64 = 0xFFFF880000000000;

/** Where the read-only machine-to-physical table is mapped, and its number of entries. */
export const __MACH2PHYS_VIRT_START: u64 = 0xFFFF800000000000;
export const __MACH2PHYS_VIRT_END: u64 = 0xFFFF804000000000;
export const MACH2PHYS_VIRT_START: u64 = 0xFFFF800000000000;
export const MACH2PHYS_VIRT_END: u64 = 0xFFFF804000000000;
export const MACH2PHYS_NR_ENTRIES: u64 = 0x800000000;

/** Which segment base HYPERVISOR_set_segment_base sets. */
export const SEGBASE_FS: i32 = 0;
export const SEGBASE_GS_USER: i32 = 1;
export const SEGBASE_GS_KERNEL: i32 = 2;
export const SEGBASE_GS_USER_SEL: i32 = 3;

/**
 * The frame HYPERVISOR_iret pops (top of stack at the hypercall).
 * struct iret_context { uint64_t rax, r11, rcx, flags, rip, cs, rflags, rsp, ss; };
 */
@unmanaged export class iret_context {
  rax: u64;
  r11: u64;
  rcx: u64;
  flags: u64;
  rip: u64;
  cs: u64;
  rflags: u64;
  rsp: u64;
  ss: u64;
}
// size=72
if (offsetof<iret_context>() != 72) ERROR("struct iret_context: size must be 72");

/** `iret_context.flags` bit: the guest exited in SYSCALL context (return with SYSRET). */
export const _VGCF_in_syscall: i32 = 8;
export const VGCF_in_syscall: i32 = 256;
export const VGCF_IN_SYSCALL: i32 = 256;

/**
 * The guest's general registers, as saved by Xen (x86_64).
 * struct cpu_user_regs {
 *     uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi;
 *     uint32_t error_code; uint32_t entry_vector; uint64_t rip;
 *     uint16_t cs, _pad0[1]; uint8_t saved_upcall_mask; uint8_t _pad1[3];
 *     uint64_t rflags, rsp;
 *     uint16_t ss, _pad2[3]; uint16_t es, _pad3[3]; uint16_t ds, _pad4[3];
 *     uint16_t fs, _pad5[3]; uint16_t gs, _pad6[3];
 * };
 * (Under GNU C the 64-bit registers are unions that also name eXX/_eXX; only the portable
 * 64-bit names are listed.)
 */
@unmanaged export class cpu_user_regs {
  r15: u64;
  r14: u64;
  r13: u64;
  r12: u64;
  rbp: u64;
  rbx: u64;
  r11: u64;
  r10: u64;
  r9: u64;
  r8: u64;
  rax: u64;
  rcx: u64;
  rdx: u64;
  rsi: u64;
  rdi: u64;
  error_code: u32;
  entry_vector: u32;
  rip: u64;
  cs: u16;
  @array(1) _pad0: u16;
  saved_upcall_mask: u8;
  @array(3) _pad1: u8;
  rflags: u64;
  rsp: u64;
  ss: u16;
  @array(3) _pad2: u16;
  es: u16;
  @array(3) _pad3: u16;
  ds: u16;
  @array(3) _pad4: u16;
  fs: u16;
  @array(3) _pad5: u16;
  gs: u16;
  @array(3) _pad6: u16;
}
// size=200
if (offsetof<cpu_user_regs>() != 200) ERROR("struct cpu_user_regs: size must be 200");

/** Reads the DPL (privilege level, bits 0-1) of a trap_info's flags. */
export function TI_GET_DPL(ti: trap_info): u8 { return ti.flags & 3; }
/** Reads the "clear event enable" bit (bit 2) of a trap_info's flags. */
export function TI_GET_IF(ti: trap_info): u8 { return ti.flags & 4; }
/** ORs a DPL into a trap_info's flags. */
export function TI_SET_DPL(ti: trap_info, dpl: u8): void { ti.flags |= dpl; }
/** Sets the "clear event enable" bit of a trap_info's flags when `ifl` is true. */
export function TI_SET_IF(ti: trap_info, ifl: bool): void { ti.flags |= (<u8>ifl) << 2; }

/**
 * One entry of the virtual IDT installed by HYPERVISOR_set_trap_table.
 * struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };
 */
@unmanaged export class trap_info {
  vector: u8;
  flags: u8;
  cs: u16;
  __padding0: u32;
  address: u64;
}
// size=16
if (offsetof<trap_info>() != 16) ERROR("struct trap_info: size must be 16");

/** `vcpu_guest_context.flags` bits (VGCF_*) and their bit numbers (_VGCF_*). */
export const VGCF_I387_VALID: i32 = 1;
export const VGCF_IN_KERNEL: i32 = 4;
export const _VGCF_i387_valid: i32 = 0;
export const VGCF_i387_valid: i32 = 1;
export const _VGCF_in_kernel: i32 = 2;
export const VGCF_in_kernel: i32 = 4;
export const _VGCF_failsafe_disables_events: i32 = 3;
export const VGCF_failsafe_disables_events: i32 = 8;
export const _VGCF_syscall_disables_events: i32 = 4;
export const VGCF_syscall_disables_events: i32 = 16;
export const _VGCF_online: i32 = 5;
export const VGCF_online: i32 = 32;

/**
 * The full register state of a vCPU, the argument of VCPUOP_initialise (x86_64).
 * struct vcpu_guest_context {
 *     struct { char x[512]; } fpu_ctxt; unsigned long flags; struct cpu_user_regs user_regs;
 *     struct trap_info trap_ctxt[256]; unsigned long ldt_base, ldt_ents;
 *     unsigned long gdt_frames[16], gdt_ents; unsigned long kernel_ss, kernel_sp;
 *     unsigned long ctrlreg[8]; unsigned long debugreg[8];
 *     unsigned long event_callback_eip; unsigned long failsafe_callback_eip;
 *     unsigned long syscall_callback_eip; unsigned long vm_assist;
 *     uint64_t fs_base; uint64_t gs_base_kernel; uint64_t gs_base_user;
 * };
 * `user_regs` (a cpu_user_regs) and `trap_ctxt` (256 trap_info) are reserved as u64 arrays;
 * reach them through their own classes at the field's offset.
 */
@unmanaged export class vcpu_guest_context {
  @array(64) fpu_ctxt: u64; // @c fpu_ctxt, fpu_ctxt.x
  flags: u64;
  @array(25) user_regs: u64; // @c user_regs
  @array(512) trap_ctxt: u64; // @c trap_ctxt
  ldt_base: u64;
  ldt_ents: u64;
  @array(16) gdt_frames: u64;
  gdt_ents: u64;
  kernel_ss: u64;
  kernel_sp: u64;
  @array(8) ctrlreg: u64;
  @array(8) debugreg: u64;
  event_callback_eip: u64;
  failsafe_callback_eip: u64;
  syscall_callback_eip: u64;
  vm_assist: u64;
  fs_base: u64;
  gs_base_kernel: u64;
  gs_base_user: u64;
}
// size=5168
if (offsetof<vcpu_guest_context>() != 5168) ERROR("struct vcpu_guest_context: size must be 5168");

/** `xen_cpuid_leaf.subleaf` for a leaf without sub-leaves. */
export const XEN_CPUID_NO_SUBLEAF: u32 = 0xffffffff;

/**
 * One CPUID leaf of a domain's policy.
 * struct xen_cpuid_leaf { uint32_t leaf, subleaf; uint32_t a, b, c, d; };
 */
@unmanaged export class xen_cpuid_leaf {
  leaf: u32;
  subleaf: u32;
  a: u32;
  b: u32;
  c: u32;
  d: u32;
}
// size=24
if (offsetof<xen_cpuid_leaf>() != 24) ERROR("struct xen_cpuid_leaf: size must be 24");

/**
 * One MSR of a domain's policy.
 * struct xen_msr_entry { uint32_t idx; uint32_t flags; uint64_t val; };
 */
@unmanaged export class xen_msr_entry {
  idx: u32;
  flags: u32;
  val: u64;
}
// size=16
if (offsetof<xen_msr_entry>() != 16) ERROR("struct xen_msr_entry: size must be 16");

/** The forced-emulation prefix (ud2 + "xen") and the PV CPUID instruction built from it. */
export const XEN_EMULATE_PREFIX: string = ".byte 0x0f,0x0b,0x78,0x65,0x6e ; ";
export const XEN_CPUID: string = ".byte 0x0f,0x0b,0x78,0x65,0x6e ; cpuid";

/** The I/O port of the HVM debug console (port 0xe9 hack). */
export const XEN_HVM_DEBUGCONS_IOPORT: i32 = 0xe9;

/** Turns a page frame number into a CR3 value (x86_64). */
export function xen_pfn_to_cr3(pfn: u64): u64 { return pfn << 12; }
/** Turns a CR3 value into its page frame number (x86_64). */
export function xen_cr3_to_pfn(cr3: u64): u64 { return cr3 >> 12; }
