// Mirrors xen/include/public/hvm/params.h: the HVM_PARAM_* indices of HVMOP_{set,get}_param and
// their value encodings (x86). See docs/abi-layer.md for the conventions.

/** Parameter index: how event-channel upcalls reach vCPU 0 (0 = not delivered; type in val[63:56]). */
export const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
/** The type field (HVM_PARAM_CALLBACK_TYPE_*) of the HVM_PARAM_CALLBACK_IRQ value. */
export const HVM_PARAM_CALLBACK_IRQ_TYPE_MASK: u64 = 0xFF00000000000000;

/** HVM_PARAM_CALLBACK_IRQ delivery types: val[55:0] is a GSI, a PCI INTx line or (x86) a vector. */
export const HVM_PARAM_CALLBACK_TYPE_GSI: u64 = 0;
export const HVM_PARAM_CALLBACK_TYPE_PCI_INTX: u64 = 1;
export const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

/** Parameter indices: the xenstore ring's frame and event channel (for HVM guests' xenbus). */
export const HVM_PARAM_STORE_PFN: u32 = 1;
export const HVM_PARAM_STORE_EVTCHN: u32 = 2;

/** Parameter indices: the device model's synchronous and buffered ioreq pages. */
export const HVM_PARAM_IOREQ_PFN: u32 = 5;
export const HVM_PARAM_BUFIOREQ_PFN: u32 = 6;

/** Parameter index (x86): the Viridian (Hyper-V) enlightenments offered, an HVMPV_* mask. */
export const HVM_PARAM_VIRIDIAN: u32 = 9;

/** HVM_PARAM_VIRIDIAN feature bits (HVMPV_*) and their bit numbers (_HVMPV_*). */
export const _HVMPV_base_freq: i32 = 0;
export const HVMPV_base_freq: i32 = 0x1;
export const _HVMPV_no_freq: i32 = 1;
export const HVMPV_no_freq: i32 = 0x2;
export const _HVMPV_time_ref_count: i32 = 2;
export const HVMPV_time_ref_count: i32 = 0x4;
export const _HVMPV_reference_tsc: i32 = 3;
export const HVMPV_reference_tsc: i32 = 0x8;
export const _HVMPV_hcall_remote_tlb_flush: i32 = 4;
export const HVMPV_hcall_remote_tlb_flush: i32 = 0x10;
export const _HVMPV_apic_assist: i32 = 5;
export const HVMPV_apic_assist: i32 = 0x20;
export const _HVMPV_crash_ctl: i32 = 6;
export const HVMPV_crash_ctl: i32 = 0x40;
export const _HVMPV_synic: i32 = 7;
export const HVMPV_synic: i32 = 0x80;
export const _HVMPV_stimer: i32 = 8;
export const HVMPV_stimer: i32 = 0x100;
export const _HVMPV_hcall_ipi: i32 = 9;
export const HVMPV_hcall_ipi: i32 = 0x200;
export const _HVMPV_ex_processor_masks: i32 = 10;
export const HVMPV_ex_processor_masks: i32 = 0x400;
export const _HVMPV_no_vp_limit: i32 = 11;
export const HVMPV_no_vp_limit: i32 = 0x800;
export const _HVMPV_cpu_hotplug: i32 = 12;
export const HVMPV_cpu_hotplug: i32 = 0x1000;
/** All HVMPV_* feature bits. */
export const HVMPV_feature_mask: i32 = 0x1FFF;

/** Parameter index: the virtual platform timer mode (HVMPTM_*). */
export const HVM_PARAM_TIMER_MODE: u32 = 10;

/** HVM_PARAM_TIMER_MODE values: how missed timer ticks are delivered. */
export const HVMPTM_delay_for_missed_ticks: i32 = 0;
export const HVMPTM_no_delay_for_missed_ticks: i32 = 1;
export const HVMPTM_no_missed_ticks_pending: i32 = 2;
export const HVMPTM_one_missed_tick_pending: i32 = 3;

/** Parameter indices: HPET on/off, EPT identity-map page table, ACPI S state, VM86 TSS, vpt alignment. */
export const HVM_PARAM_HPET_ENABLED: u32 = 11;
export const HVM_PARAM_IDENT_PT: u32 = 12;
export const HVM_PARAM_ACPI_S_STATE: u32 = 14;
export const HVM_PARAM_VM86_TSS: u32 = 15;
export const HVM_PARAM_VPT_ALIGN: u32 = 16;

/** Parameter indices: the PV console ring's frame and event channel. */
export const HVM_PARAM_CONSOLE_PFN: u32 = 17;
export const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;

/** Parameter index: which ACPI PM1a/TMR I/O port layout the guest sees. */
export const HVM_PARAM_ACPI_IOPORTS_LOCATION: u32 = 19;

/** Parameter indices: the paging, monitor and sharing vm_event ring frames. */
export const HVM_PARAM_PAGING_RING_PFN: u32 = 27;
export const HVM_PARAM_MONITOR_RING_PFN: u32 = 28;
export const HVM_PARAM_SHARING_RING_PFN: u32 = 29;

/** Parameter index: the SHUTDOWN_* action taken on a triple fault. */
export const HVM_PARAM_TRIPLE_FAULT_REASON: u32 = 31;

/** Parameter indices: the first frame and the number of frames reserved for ioreq servers. */
export const HVM_PARAM_IOREQ_SERVER_PFN: u32 = 32;
export const HVM_PARAM_NR_IOREQ_SERVER_PAGES: u32 = 33;

/** Parameter index: the guest-physical address of the VM Generation ID. */
export const HVM_PARAM_VM_GENERATION_ID_ADDR: u32 = 34;

/** Parameter index: the altp2m mode (XEN_ALTP2M_*). */
export const HVM_PARAM_ALTP2M: u32 = 35;

/** HVM_PARAM_ALTP2M modes. */
export const XEN_ALTP2M_disabled: i32 = 0;
export const XEN_ALTP2M_mixed: i32 = 1;
export const XEN_ALTP2M_external: i32 = 2;
export const XEN_ALTP2M_limited: i32 = 3;

/** Parameter indices: x87 FIP/FDP width, VM86 TSS with size, MCA capabilities. */
export const HVM_PARAM_X87_FIP_WIDTH: u32 = 36;
export const HVM_PARAM_VM86_TSS_SIZED: u32 = 37;
export const HVM_PARAM_MCA_CAP: u32 = 38;

/** HVM_PARAM_MCA_CAP bits: local machine-check exceptions, and all valid bits. */
export const XEN_HVM_MCA_CAP_LMCE: u64 = 1;
export const XEN_HVM_MCA_CAP_MASK: u64 = 1;

/** The number of HVM parameters (one more than the highest index). */
export const HVM_NR_PARAMS: u32 = 39;
