// Mirrors xen/include/public/event_channel.h: EVTCHNOP_* sub-ops of HYPERVISOR_event_channel_op,
// their argument structs, and EVTCHNSTAT_*. See docs/abi-layer.md for the conventions.
import { domid_t } from "./xen";

/** Sub-op numbers of HYPERVISOR_event_channel_op (the `cmd` argument). */
export const EVTCHNOP_bind_interdomain: i32 = 0;
export const EVTCHNOP_bind_virq: i32 = 1;
export const EVTCHNOP_bind_pirq: i32 = 2;
export const EVTCHNOP_close: i32 = 3;
export const EVTCHNOP_send: i32 = 4;
export const EVTCHNOP_status: i32 = 5;
export const EVTCHNOP_alloc_unbound: i32 = 6;
export const EVTCHNOP_bind_ipi: i32 = 7;
export const EVTCHNOP_bind_vcpu: i32 = 8;
export const EVTCHNOP_unmask: i32 = 9;
export const EVTCHNOP_reset: i32 = 10;
export const EVTCHNOP_init_control: i32 = 11;
export const EVTCHNOP_expand_array: i32 = 12;
export const EVTCHNOP_set_priority: i32 = 13;

/** C `evtchn_port_t`: an event-channel port number. */
export type evtchn_port_t = u32;

/**
 * Allocates a port in domain `dom` that only `remote_dom` may bind to.
 * struct evtchn_alloc_unbound { domid_t dom, remote_dom; evtchn_port_t port; };
 */
@unmanaged export class evtchn_alloc_unbound {
  dom: domid_t;
  remote_dom: domid_t;
  port: evtchn_port_t;
}
// size=8
if (offsetof<evtchn_alloc_unbound>() != 8) ERROR("struct evtchn_alloc_unbound: size must be 8");

/**
 * Binds a local port to an unbound port that `remote_dom` allocated for the caller.
 * struct evtchn_bind_interdomain { domid_t remote_dom; evtchn_port_t remote_port;
 *                                  evtchn_port_t local_port; };
 */
@unmanaged export class evtchn_bind_interdomain {
  remote_dom: domid_t;
  __padding0: u16;
  remote_port: evtchn_port_t;
  local_port: evtchn_port_t;
}
// size=12
if (offsetof<evtchn_bind_interdomain>() != 12) ERROR("struct evtchn_bind_interdomain: size must be 12");

/**
 * Binds a virtual IRQ (VIRQ_*) on a vCPU to a new local port.
 * struct evtchn_bind_virq { uint32_t virq; uint32_t vcpu; evtchn_port_t port; };
 */
@unmanaged export class evtchn_bind_virq {
  virq: u32;
  vcpu: u32;
  port: evtchn_port_t;
}
// size=12
if (offsetof<evtchn_bind_virq>() != 12) ERROR("struct evtchn_bind_virq: size must be 12");

/** evtchn_bind_pirq.flags: the physical IRQ may be shared with other domains. */
export const BIND_PIRQ__WILL_SHARE: i32 = 1;

/**
 * Binds a physical IRQ to a new local port (not emulated by the xenwasm harness: -ENOSYS).
 * struct evtchn_bind_pirq { uint32_t pirq; uint32_t flags; evtchn_port_t port; };
 */
@unmanaged export class evtchn_bind_pirq {
  pirq: u32;
  flags: u32;
  port: evtchn_port_t;
}
// size=12
if (offsetof<evtchn_bind_pirq>() != 12) ERROR("struct evtchn_bind_pirq: size must be 12");

/**
 * Allocates a port for inter-vCPU notification on `vcpu`.
 * struct evtchn_bind_ipi { uint32_t vcpu; evtchn_port_t port; };
 */
@unmanaged export class evtchn_bind_ipi {
  vcpu: u32;
  port: evtchn_port_t;
}
// size=8
if (offsetof<evtchn_bind_ipi>() != 8) ERROR("struct evtchn_bind_ipi: size must be 8");

/**
 * Closes a local port; an interdomain peer's end returns to unbound.
 * struct evtchn_close { evtchn_port_t port; };
 */
@unmanaged export class evtchn_close {
  port: evtchn_port_t;
}
// size=4
if (offsetof<evtchn_close>() != 4) ERROR("struct evtchn_close: size must be 4");

/**
 * Sends an event to the remote end of a local port.
 * struct evtchn_send { evtchn_port_t port; };
 */
@unmanaged export class evtchn_send {
  port: evtchn_port_t;
}
// size=4
if (offsetof<evtchn_send>() != 4) ERROR("struct evtchn_send: size must be 4");

/** evtchn_status.status values: what a port is bound to. */
export const EVTCHNSTAT_closed: i32 = 0;
export const EVTCHNSTAT_unbound: i32 = 1;
export const EVTCHNSTAT_interdomain: i32 = 2;
export const EVTCHNSTAT_pirq: i32 = 3;
export const EVTCHNSTAT_virq: i32 = 4;
export const EVTCHNSTAT_ipi: i32 = 5;

/**
 * Reports the state (EVTCHNSTAT_*) of port `port` in domain `dom`.
 * struct evtchn_status {
 *     domid_t dom; evtchn_port_t port; uint32_t status; uint32_t vcpu;
 *     union { struct { domid_t dom; } unbound;
 *             struct { domid_t dom; evtchn_port_t port; } interdomain;
 *             uint32_t pirq; uint32_t virq; } u;
 * };
 * The union is laid out as its interdomain member; `u_virq`/`u_pirq` read the same word.
 */
@unmanaged export class evtchn_status {
  dom: domid_t;
  __padding0: u16;
  port: evtchn_port_t;
  status: u32;
  vcpu: u32;
  u_dom: domid_t; // @c u, u.unbound.dom, u.interdomain.dom, u.pirq, u.virq
  __padding1: u16;
  u_port: evtchn_port_t; // @c u.interdomain.port

  /** The union read as `u.virq` (EVTCHNSTAT_virq). */
  get u_virq(): u32 { return load<u32>(changetype<usize>(this), offsetof<evtchn_status>("u_dom")); }
  /** The union read as `u.pirq` (EVTCHNSTAT_pirq). */
  get u_pirq(): u32 { return load<u32>(changetype<usize>(this), offsetof<evtchn_status>("u_dom")); }
}
// size=24
if (offsetof<evtchn_status>() != 24) ERROR("struct evtchn_status: size must be 24");

/**
 * Re-targets notifications of a port to another vCPU.
 * struct evtchn_bind_vcpu { evtchn_port_t port; uint32_t vcpu; };
 */
@unmanaged export class evtchn_bind_vcpu {
  port: evtchn_port_t;
  vcpu: u32;
}
// size=8
if (offsetof<evtchn_bind_vcpu>() != 8) ERROR("struct evtchn_bind_vcpu: size must be 8");

/**
 * Unmasks a local port, re-raising the upcall if it is pending.
 * struct evtchn_unmask { evtchn_port_t port; };
 */
@unmanaged export class evtchn_unmask {
  port: evtchn_port_t;
}
// size=4
if (offsetof<evtchn_unmask>() != 4) ERROR("struct evtchn_unmask: size must be 4");

/**
 * Closes every port of domain `dom` (DOMID_SELF for the caller).
 * struct evtchn_reset { domid_t dom; };
 */
@unmanaged export class evtchn_reset {
  dom: domid_t;
}
// size=2
if (offsetof<evtchn_reset>() != 2) ERROR("struct evtchn_reset: size must be 2");

/**
 * Registers vCPU `vcpu`'s FIFO control block at `offset` in frame `control_gfn` and switches the
 * domain to the FIFO ABI; Xen returns `link_bits` (EVTCHN_FIFO_LINK_BITS).
 * struct evtchn_init_control { uint64_t control_gfn; uint32_t offset; uint32_t vcpu;
 *                              uint8_t link_bits; uint8_t _pad[7]; };
 */
@unmanaged export class evtchn_init_control {
  control_gfn: u64;
  offset: u32;
  vcpu: u32;
  link_bits: u8;
  @array(7) _pad: u8;
}
// size=24
if (offsetof<evtchn_init_control>() != 24) ERROR("struct evtchn_init_control: size must be 24");

/**
 * Adds the guest frame `array_gfn` as the next page of FIFO event words (1024 ports per page).
 * struct evtchn_expand_array { uint64_t array_gfn; };
 */
@unmanaged export class evtchn_expand_array {
  array_gfn: u64;
}
// size=8
if (offsetof<evtchn_expand_array>() != 8) ERROR("struct evtchn_expand_array: size must be 8");

/**
 * Sets a port's FIFO priority queue (0 highest .. 15 lowest; -ENOSYS under the 2-level ABI).
 * struct evtchn_set_priority { evtchn_port_t port; uint32_t priority; };
 */
@unmanaged export class evtchn_set_priority {
  port: evtchn_port_t;
  priority: u32;
}
// size=8
if (offsetof<evtchn_set_priority>() != 8) ERROR("struct evtchn_set_priority: size must be 8");

/**
 * The argument of the old multiplexed HYPERVISOR_event_channel_op_compat.
 * struct evtchn_op { uint32_t cmd; union { evtchn_alloc_unbound_t alloc_unbound; ...
 *                                          evtchn_status_t status; ... } u; };
 * The union (largest member: evtchn_status, 24 bytes, 4-aligned) is reached through `u`.
 */
@unmanaged export class evtchn_op {
  cmd: u32;
  @array(6) u: u32;
}
// size=28
if (offsetof<evtchn_op>() != 28) ERROR("struct evtchn_op: size must be 28");

// ---- The FIFO ABI (event_channel.h "FIFO ABI") ----

/** C `event_word_t`: one FIFO event word (flag bits 28..31, link in bits 0..16). */
export type event_word_t = u32;
/** Bit numbers of the FIFO event word's flags. */
export const EVTCHN_FIFO_PENDING: i32 = 31;
export const EVTCHN_FIFO_MASKED: i32 = 30;
export const EVTCHN_FIFO_LINKED: i32 = 29;
export const EVTCHN_FIFO_BUSY: i32 = 28;
/** Bits of the link field and its mask. */
export const EVTCHN_FIFO_LINK_BITS: i32 = 17;
export const EVTCHN_FIFO_LINK_MASK: u32 = (1 << EVTCHN_FIFO_LINK_BITS) - 1;
/** Ports of the FIFO ABI (2^17). */
export const EVTCHN_FIFO_NR_CHANNELS: u32 = 1 << EVTCHN_FIFO_LINK_BITS;
/** Priorities: 0 is the highest; new ports get the default. */
export const EVTCHN_FIFO_PRIORITY_MAX: u32 = 0;
export const EVTCHN_FIFO_PRIORITY_DEFAULT: u32 = 7;
export const EVTCHN_FIFO_PRIORITY_MIN: u32 = 15;
/** Priority queues per vCPU. */
export const EVTCHN_FIFO_MAX_QUEUES: i32 = 16;

/**
 * A vCPU's FIFO control block, in a guest frame registered with EVTCHNOP_init_control: Xen sets
 * bit q of `ready` when queue q becomes non-empty and `head[q]` to its first port.
 * struct evtchn_fifo_control_block { uint32_t ready; uint32_t _rsvd;
 *                                    event_word_t head[EVTCHN_FIFO_MAX_QUEUES]; };
 */
@unmanaged export class evtchn_fifo_control_block {
  ready: u32;
  _rsvd: u32;
  @array(16) head: event_word_t;
}
// size=72
if (offsetof<evtchn_fifo_control_block>() != 72) ERROR("struct evtchn_fifo_control_block: size must be 72");
