// Exercises every exported function and getter/setter of the ABI modules (assembly/xen/): the
// build only compiles what is referenced, so without this module their bodies would never be
// compiled or run. `run()` calls each with known inputs and compares the result with a value
// computed independently from the C definitions in Xen's public headers (Debian's libxen-dev
// 4.17, /usr/include/xen): the expected values below were printed by small C programs that
// include those headers and apply the C macros / inline functions / union members to the same
// inputs, compiled with gcc on x86_64 (`#define __XEN_INTERFACE_VERSION__
// __XEN_LATEST_INTERFACE_VERSION__`, `#define XEN_NETIF_DEFINE_TOEPLITZ 1`). The Toeplitz
// hash is checked against Microsoft's published RSS verification vectors ("Verifying the RSS
// Hash Calculation"), which the C header function also reproduces.
//
// Each failed check calls `env.fail(id, got, want)`; `id` is F * 100 + case, where F (1..54)
// numbers the function or accessor under test (the F_* constants below; the host test keeps
// the same table of names). `checks()` is how many checks ran, `covered()` how many distinct
// functions/accessors were checked.
//
// Scratch structs live at fixed addresses in 0x10000..0xFFFFF (below the module's data at 1 MiB,
// docs/ABI.md §2).

import { start_info, trap_info, TI_GET_DPL, TI_GET_IF, TI_SET_DPL, TI_SET_IF, xen_pfn_to_cr3, xen_cr3_to_pfn } from "../../assembly/xen/xen";
import { grant_entry_v2, gnttab_copy_ptr, gnttab_copy, gnttab_cache_flush } from "../../assembly/xen/grant_table";
import {
  XENMEMF_address_bits, XENMEMF_get_address_bits, XENMEMF_node, XENMEMF_get_node, XENMEMF_exact_node,
  XENMEM_resource_ioreq_server_frame_ioreq,
} from "../../assembly/xen/memory";
import { xen_vcpu_physid_to_x86_apicid, xen_vcpu_physid_to_x86_acpiid } from "../../assembly/xen/vcpu";
import { evtchn_status } from "../../assembly/xen/event_channel";
import {
  __RD32, ring_size, ring_slot, ring_free_requests, ring_nr_unconsumed_responses, ring_nr_unconsumed_requests,
  ring_request_cons_overflow, ring_request_prod_overflow, ring_response_prod_overflow, ring_push_needs_notify,
  XEN_FLEX_RING_SIZE, xen_flex_ring_mask, xen_flex_ring_queued,
} from "../../assembly/xen/io/ring";
import { xen_netif_toeplitz_hash, netif_extra_info, xen_netif_ctrl_sring, netif_tx_sring, netif_rx_sring } from "../../assembly/xen/io/netif";
import { MASK_XENSTORE_IDX } from "../../assembly/xen/io/xs_wire";
import { MASK_XENCONS_IDX } from "../../assembly/xen/io/console";

@external("env", "fail")
declare function fail(id: i32, got: i64, want: i64): void;

// Function / accessor numbers (F). Keep in sync with NAMES in tests/unit/abi-functions.test.ts.
// io/ring.ts
const F___RD32 = 1;
const F_ring_size = 2;
const F_ring_slot = 3;
const F_ring_free_requests = 4;
const F_ring_nr_unconsumed_responses = 5;
const F_ring_nr_unconsumed_requests = 6;
const F_ring_request_cons_overflow = 7;
const F_ring_request_prod_overflow = 8;
const F_ring_response_prod_overflow = 9;
const F_ring_push_needs_notify = 10;
const F_XEN_FLEX_RING_SIZE = 11;
const F_xen_flex_ring_mask = 12;
const F_xen_flex_ring_queued = 13;
// io/console.ts, io/xs_wire.ts
const F_MASK_XENCONS_IDX = 14;
const F_MASK_XENSTORE_IDX = 15;
// io/netif.ts
const F_xen_netif_toeplitz_hash = 16;
const F_extra_get_u_gso_size = 17;
const F_extra_set_u_gso_size = 18;
const F_extra_get_u_hash_value = 19;
const F_extra_set_u_hash_value = 20;
const F_extra_get_u_mcast_addr = 21;
const F_ctrl_sring_get_smartpoll = 22;
const F_tx_sring_get_smartpoll = 23;
const F_rx_sring_get_smartpoll = 24;
// grant_table.ts
const F_gev2_get_transitive_trans_domid = 25;
const F_gev2_set_transitive_trans_domid = 26;
const F_gev2_get_transitive_gref = 27;
const F_gev2_set_transitive_gref = 28;
const F_copy_ptr_get_u_ref = 29;
const F_copy_ptr_set_u_ref = 30;
const F_copy_get_source_u_ref = 31;
const F_copy_set_source_u_ref = 32;
const F_copy_get_dest_u_ref = 33;
const F_copy_set_dest_u_ref = 34;
const F_cache_flush_get_a_ref = 35;
const F_cache_flush_set_a_ref = 36;
// xen.ts
const F_si_get_console_domU_mfn = 37;
const F_si_set_console_domU_mfn = 38;
const F_TI_GET_DPL = 39;
const F_TI_GET_IF = 40;
const F_TI_SET_DPL = 41;
const F_TI_SET_IF = 42;
const F_xen_pfn_to_cr3 = 43;
const F_xen_cr3_to_pfn = 44;
// memory.ts
const F_XENMEMF_address_bits = 45;
const F_XENMEMF_get_address_bits = 46;
const F_XENMEMF_node = 47;
const F_XENMEMF_get_node = 48;
const F_XENMEMF_exact_node = 49;
const F_XENMEM_resource_ioreq_server_frame_ioreq = 50;
// vcpu.ts
const F_xen_vcpu_physid_to_x86_apicid = 51;
const F_xen_vcpu_physid_to_x86_acpiid = 52;
// event_channel.ts
const F_evtchn_status_get_u_virq = 53;
const F_evtchn_status_get_u_pirq = 54;
const F_COUNT = 54;

let nChecks: i32 = 0;
let nFailed: i32 = 0;
let coveredMask: u64 = 0;

/** One check: case `c` of function `f`. */
function check(f: i32, c: i32, got: i64, want: i64): void {
  nChecks++;
  coveredMask |= (<u64>1) << <u64>f;
  if (got != want) {
    nFailed++;
    fail(f * 100 + c, got, want);
  }
}

// Scratch addresses (below the 1 MiB data base).
const KEY: usize = 0x20000;   // 40-byte RSS key
const BUF: usize = 0x20100;   // hash input
const S: usize = 0x30000;     // struct under test

/**
 * The byte pattern the C program copied into each struct before reading its union members:
 * byte i = (0x11 * (i % 15 + 1)) ^ i, i = 0..31, as little-endian u64 words.
 */
function fillPattern(p: usize): void {
  store<u64>(p, 0x8f71635147312311, 0);
  store<u64>(p, 0x1ef1e3d1c7b1a391, 8);
  store<u64>(p, 0x8e9e627246562232, 16);
  store<u64>(p, 0x3d0fe2f2c6d6a2b2, 24);
}

function put(p: usize, bytes: StaticArray<u8>): void {
  for (let i = 0; i < bytes.length; i++) store<u8>(p + <usize>i, unchecked(bytes[i]));
}

// ---------------------------------------------------------------------------------------------
// io/ring.ts. Expected values: gcc with <xen/io/ring.h> and <xen/io/blkif.h>: __RD32(x);
// __CONST_RING_SIZE(blkif|netif_tx|netif_rx|xen_netif_ctrl, bytes) (entries 112/12/8/16 bytes,
// header offsetof(ring) = 64); and on a blkif front/back ring of one page (nr_ents 32) with the
// indexes set as given: RING_GET_REQUEST(&f, idx) - &sring->ring[0], RING_FREE_REQUESTS,
// XEN_RING_NR_UNCONSUMED_RESPONSES, XEN_RING_NR_UNCONSUMED_REQUESTS, RING_REQUEST_CONS_OVERFLOW,
// RING_REQUEST_PROD_OVERFLOW, RING_RESPONSE_PROD_OVERFLOW, RING_PUSH_REQUESTS_AND_CHECK_NOTIFY;
// XEN_FLEX_RING_SIZE(order); DEFINE_XEN_FLEX_RING(t): t_mask, t_queued.

function testRing(): void {
  // __RD32
  check(F___RD32, 1, __RD32(0), 0);
  check(F___RD32, 2, __RD32(1), 1);
  check(F___RD32, 3, __RD32(2), 2);
  check(F___RD32, 4, __RD32(3), 2);
  check(F___RD32, 5, __RD32(5), 4);
  check(F___RD32, 6, __RD32(0x7f), 0x40);
  check(F___RD32, 7, __RD32(0x80), 0x80);
  check(F___RD32, 8, __RD32(0xffff), 0x8000);
  check(F___RD32, 9, __RD32(0x10000), 0x10000);
  check(F___RD32, 10, __RD32(0x12345678), 0x10000000);
  check(F___RD32, 11, __RD32(0x80000000), 0x80000000);
  check(F___RD32, 12, __RD32(0xffffffff), 0x80000000);

  // ring_size(bytes, entrySize, headerSize) = __CONST_RING_SIZE
  check(F_ring_size, 1, ring_size(4096, 112, 64), 32);   // blkif, 1 page
  check(F_ring_size, 2, ring_size(8192, 112, 64), 64);   // blkif, 2 pages
  check(F_ring_size, 3, ring_size(65536, 112, 64), 512); // blkif, 16 pages
  check(F_ring_size, 4, ring_size(4096, 12, 64), 256);   // netif_tx
  check(F_ring_size, 5, ring_size(4096, 8, 64), 256);    // netif_rx
  check(F_ring_size, 6, ring_size(4096, 16, 64), 128);   // xen_netif_ctrl
  check(F_ring_size, 7, ring_size(64, 112, 64), 0);      // header only
  check(F_ring_size, 8, ring_size(175, 112, 64), 0);
  check(F_ring_size, 9, ring_size(176, 112, 64), 1);
  check(F_ring_size, 10, ring_size(288, 112, 64), 2);

  // ring_slot(idx, 32) = RING_GET_REQUEST index
  check(F_ring_slot, 1, ring_slot(0, 32), 0);
  check(F_ring_slot, 2, ring_slot(31, 32), 31);
  check(F_ring_slot, 3, ring_slot(32, 32), 0);
  check(F_ring_slot, 4, ring_slot(33, 32), 1);
  check(F_ring_slot, 5, ring_slot(0xffffffff, 32), 31);
  check(F_ring_slot, 6, ring_slot(0x12345678, 32), 24);

  // RING_FREE_REQUESTS(size 32, req_prod_pvt, rsp_cons)
  check(F_ring_free_requests, 1, ring_free_requests(32, 0, 0), 32);
  check(F_ring_free_requests, 2, ring_free_requests(32, 5, 2), 29);
  check(F_ring_free_requests, 3, ring_free_requests(32, 32, 0), 0);
  check(F_ring_free_requests, 4, ring_free_requests(32, 3, 0xfffffffe), 27);
  check(F_ring_free_requests, 5, ring_free_requests(32, 0x80000010, 0x80000000), 16);

  // XEN_RING_NR_UNCONSUMED_RESPONSES(rsp_prod, rsp_cons)
  check(F_ring_nr_unconsumed_responses, 1, ring_nr_unconsumed_responses(0, 0), 0);
  check(F_ring_nr_unconsumed_responses, 2, ring_nr_unconsumed_responses(7, 3), 4);
  check(F_ring_nr_unconsumed_responses, 3, ring_nr_unconsumed_responses(2, 0xfffffffe), 4);
  check(F_ring_nr_unconsumed_responses, 4, ring_nr_unconsumed_responses(0, 1), 0xffffffff);

  // XEN_RING_NR_UNCONSUMED_REQUESTS(size 32, req_prod, req_cons, rsp_prod_pvt)
  check(F_ring_nr_unconsumed_requests, 1, ring_nr_unconsumed_requests(32, 0, 0, 0), 0);
  check(F_ring_nr_unconsumed_requests, 2, ring_nr_unconsumed_requests(32, 10, 4, 4), 6);
  check(F_ring_nr_unconsumed_requests, 3, ring_nr_unconsumed_requests(32, 100, 4, 4), 32);
  check(F_ring_nr_unconsumed_requests, 4, ring_nr_unconsumed_requests(32, 100, 20, 0), 12);
  check(F_ring_nr_unconsumed_requests, 5, ring_nr_unconsumed_requests(32, 3, 0xfffffffe, 0xfffffff0), 5);
  check(F_ring_nr_unconsumed_requests, 6, ring_nr_unconsumed_requests(32, 40, 10, 10), 30);

  // RING_REQUEST_CONS_OVERFLOW / RING_REQUEST_PROD_OVERFLOW(size 32, x, rsp_prod_pvt)
  // and RING_RESPONSE_PROD_OVERFLOW(size 32, x, rsp_cons), same (x, base) pairs.
  check(F_ring_request_cons_overflow, 1, <i64>ring_request_cons_overflow(32, 0, 0), 0);
  check(F_ring_request_cons_overflow, 2, <i64>ring_request_cons_overflow(32, 31, 0), 0);
  check(F_ring_request_cons_overflow, 3, <i64>ring_request_cons_overflow(32, 32, 0), 1);
  check(F_ring_request_cons_overflow, 4, <i64>ring_request_cons_overflow(32, 33, 0), 1);
  check(F_ring_request_cons_overflow, 5, <i64>ring_request_cons_overflow(32, 5, 0xfffffff0), 0);
  check(F_ring_request_cons_overflow, 6, <i64>ring_request_cons_overflow(32, 0x10, 0xfffffff0), 1);
  check(F_ring_request_cons_overflow, 7, <i64>ring_request_cons_overflow(32, 0, 1), 1);
  check(F_ring_request_prod_overflow, 1, <i64>ring_request_prod_overflow(32, 0, 0), 0);
  check(F_ring_request_prod_overflow, 2, <i64>ring_request_prod_overflow(32, 31, 0), 0);
  check(F_ring_request_prod_overflow, 3, <i64>ring_request_prod_overflow(32, 32, 0), 0);
  check(F_ring_request_prod_overflow, 4, <i64>ring_request_prod_overflow(32, 33, 0), 1);
  check(F_ring_request_prod_overflow, 5, <i64>ring_request_prod_overflow(32, 5, 0xfffffff0), 0);
  check(F_ring_request_prod_overflow, 6, <i64>ring_request_prod_overflow(32, 0x10, 0xfffffff0), 0);
  check(F_ring_request_prod_overflow, 7, <i64>ring_request_prod_overflow(32, 0, 1), 1);
  check(F_ring_response_prod_overflow, 1, <i64>ring_response_prod_overflow(32, 0, 0), 0);
  check(F_ring_response_prod_overflow, 2, <i64>ring_response_prod_overflow(32, 31, 0), 0);
  check(F_ring_response_prod_overflow, 3, <i64>ring_response_prod_overflow(32, 32, 0), 0);
  check(F_ring_response_prod_overflow, 4, <i64>ring_response_prod_overflow(32, 33, 0), 1);
  check(F_ring_response_prod_overflow, 5, <i64>ring_response_prod_overflow(32, 5, 0xfffffff0), 0);
  check(F_ring_response_prod_overflow, 6, <i64>ring_response_prod_overflow(32, 0x10, 0xfffffff0), 0);
  check(F_ring_response_prod_overflow, 7, <i64>ring_response_prod_overflow(32, 0, 1), 1);

  // RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(new = req_prod_pvt, old = sring->req_prod, req_event)
  check(F_ring_push_needs_notify, 1, <i64>ring_push_needs_notify(1, 0, 1), 1);
  check(F_ring_push_needs_notify, 2, <i64>ring_push_needs_notify(5, 0, 1), 1);
  check(F_ring_push_needs_notify, 3, <i64>ring_push_needs_notify(5, 3, 4), 1);
  check(F_ring_push_needs_notify, 4, <i64>ring_push_needs_notify(5, 4, 4), 0);
  check(F_ring_push_needs_notify, 5, <i64>ring_push_needs_notify(5, 5, 4), 0);
  check(F_ring_push_needs_notify, 6, <i64>ring_push_needs_notify(5, 0, 6), 0);
  check(F_ring_push_needs_notify, 7, <i64>ring_push_needs_notify(2, 0xfffffffe, 0xffffffff), 1);
  check(F_ring_push_needs_notify, 8, <i64>ring_push_needs_notify(2, 0xfffffffe, 3), 0);
  check(F_ring_push_needs_notify, 9, <i64>ring_push_needs_notify(2, 0xfffffffe, 1), 1);
  check(F_ring_push_needs_notify, 10, <i64>ring_push_needs_notify(0, 0, 1), 0);

  // XEN_FLEX_RING_SIZE(order) = 1UL << (order + 11)
  for (let o: u32 = 0; o <= 9; o++) check(F_XEN_FLEX_RING_SIZE, <i32>o + 1, XEN_FLEX_RING_SIZE(o), (<i64>0x800) << <i64>o);
  check(F_XEN_FLEX_RING_SIZE, 21, XEN_FLEX_RING_SIZE(20), 0x80000000);

  // t_mask(idx, ring_size)
  check(F_xen_flex_ring_mask, 1, xen_flex_ring_mask(0, 2048), 0);
  check(F_xen_flex_ring_mask, 2, xen_flex_ring_mask(0x7ff, 2048), 0x7ff);
  check(F_xen_flex_ring_mask, 3, xen_flex_ring_mask(0x800, 2048), 0);
  check(F_xen_flex_ring_mask, 4, xen_flex_ring_mask(0x12345, 4096), 0x345);
  check(F_xen_flex_ring_mask, 5, xen_flex_ring_mask(0xffffffff, 1024), 0x3ff);

  // t_queued(prod, cons, ring_size)
  check(F_xen_flex_ring_queued, 1, xen_flex_ring_queued(0, 0, 2048), 0);
  check(F_xen_flex_ring_queued, 2, xen_flex_ring_queued(100, 0, 2048), 100);
  check(F_xen_flex_ring_queued, 3, xen_flex_ring_queued(2048, 0, 2048), 2048);
  check(F_xen_flex_ring_queued, 4, xen_flex_ring_queued(10, 2040, 2048), 18);
  check(F_xen_flex_ring_queued, 5, xen_flex_ring_queued(4096, 4096, 2048), 0);
  check(F_xen_flex_ring_queued, 6, xen_flex_ring_queued(0x10005, 0xfffffffd, 1024), 8);
  check(F_xen_flex_ring_queued, 7, xen_flex_ring_queued(3000, 1000, 1024), 976);
  check(F_xen_flex_ring_queued, 8, xen_flex_ring_queued(1000, 3000, 1024), 48);
}

// ---------------------------------------------------------------------------------------------
// io/console.ts, io/xs_wire.ts. Expected: gcc, MASK_XENCONS_IDX(idx, intf->in) (1024 bytes) and
// MASK_XENCONS_IDX(idx, intf->out) (2048 bytes) on a struct xencons_interface; MASK_XENSTORE_IDX.

function testConsoleXenstore(): void {
  check(F_MASK_XENCONS_IDX, 1, MASK_XENCONS_IDX(0, 1024), 0);
  check(F_MASK_XENCONS_IDX, 2, MASK_XENCONS_IDX(0x3ff, 1024), 0x3ff);
  check(F_MASK_XENCONS_IDX, 3, MASK_XENCONS_IDX(0x400, 1024), 0);
  check(F_MASK_XENCONS_IDX, 4, MASK_XENCONS_IDX(0x7ff, 1024), 0x3ff);
  check(F_MASK_XENCONS_IDX, 5, MASK_XENCONS_IDX(0xffffffff, 1024), 0x3ff);
  check(F_MASK_XENCONS_IDX, 6, MASK_XENCONS_IDX(0x12345, 1024), 0x345);
  check(F_MASK_XENCONS_IDX, 7, MASK_XENCONS_IDX(0x400, 2048), 0x400);
  check(F_MASK_XENCONS_IDX, 8, MASK_XENCONS_IDX(0x7ff, 2048), 0x7ff);
  check(F_MASK_XENCONS_IDX, 9, MASK_XENCONS_IDX(0x800, 2048), 0);
  check(F_MASK_XENCONS_IDX, 10, MASK_XENCONS_IDX(0xffffffff, 2048), 0x7ff);
  check(F_MASK_XENCONS_IDX, 11, MASK_XENCONS_IDX(0x12345, 2048), 0x345);

  check(F_MASK_XENSTORE_IDX, 1, MASK_XENSTORE_IDX(0), 0);
  check(F_MASK_XENSTORE_IDX, 2, MASK_XENSTORE_IDX(0x3ff), 0x3ff);
  check(F_MASK_XENSTORE_IDX, 3, MASK_XENSTORE_IDX(0x400), 0);
  check(F_MASK_XENSTORE_IDX, 4, MASK_XENSTORE_IDX(0x7ff), 0x3ff);
  check(F_MASK_XENSTORE_IDX, 5, MASK_XENSTORE_IDX(0x800), 0);
  check(F_MASK_XENSTORE_IDX, 6, MASK_XENSTORE_IDX(0xffffffff), 0x3ff);
  check(F_MASK_XENSTORE_IDX, 7, MASK_XENSTORE_IDX(0x12345), 0x345);
}

// ---------------------------------------------------------------------------------------------
// io/netif.ts.

/** The 40-byte RSS verification key (Microsoft, "Verifying the RSS Hash Calculation"). */
const RSS_KEY: StaticArray<u8> = [
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/** Hashes an IPv4 vector: input = src addr, dst addr, src port, dst port (network order). */
function rss4(c: i32, src: u32, dst: u32, sport: u16, dport: u16, wantIp: u32, wantTcp: u32): void {
  store<u32>(BUF, bswap<u32>(src), 0);
  store<u32>(BUF, bswap<u32>(dst), 4);
  store<u16>(BUF, bswap<u16>(sport), 8);
  store<u16>(BUF, bswap<u16>(dport), 10);
  check(F_xen_netif_toeplitz_hash, c, xen_netif_toeplitz_hash(KEY, 40, BUF, 8), wantIp);
  check(F_xen_netif_toeplitz_hash, c + 1, xen_netif_toeplitz_hash(KEY, 40, BUF, 12), wantTcp);
}

/** Hashes an IPv6 vector: input = src addr (16), dst addr (16), src port, dst port. */
function rss6(c: i32, src: StaticArray<u8>, dst: StaticArray<u8>, sport: u16, dport: u16, wantIp: u32, wantTcp: u32): void {
  put(BUF, src);
  put(BUF + 16, dst);
  store<u16>(BUF, bswap<u16>(sport), 32);
  store<u16>(BUF, bswap<u16>(dport), 34);
  check(F_xen_netif_toeplitz_hash, c, xen_netif_toeplitz_hash(KEY, 40, BUF, 32), wantIp);
  check(F_xen_netif_toeplitz_hash, c + 1, xen_netif_toeplitz_hash(KEY, 40, BUF, 36), wantTcp);
}

function testNetif(): void {
  put(KEY, RSS_KEY);
  // Microsoft RSS verification suite, IPv4 (hash over addresses / with TCP ports).
  // Destination 161.142.100.80:1766, source 66.9.149.187:2794 etc.
  rss4(1, 0x420995bb, 0xa18e6450, 2794, 1766, 0x323e8fc2, 0x51ccc178);  // 66.9.149.187 -> 161.142.100.80
  rss4(3, 0xc75c6f02, 0x41458c53, 14230, 4739, 0xd718262a, 0xc626b0ea); // 199.92.111.2 -> 65.69.140.83
  rss4(5, 0x1813c65f, 0x0c16cfb8, 12898, 38024, 0xd2d0a5de, 0x5c2b394a); // 24.19.198.95 -> 12.22.207.184
  rss4(7, 0x261bcd1e, 0xd18ea306, 48228, 2217, 0x82989176, 0xafc7327f); // 38.27.205.30 -> 209.142.163.6
  rss4(9, 0x9927a3bf, 0xcabc7f02, 44251, 1303, 0x5d1809c5, 0x10e828a2); // 153.39.163.191 -> 202.188.127.2
  // IPv6.
  rss6(11, // 3ffe:2501:200:1fff::7 :2794 -> 3ffe:2501:200:3::1 :1766
    [0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 7],
    [0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1],
    2794, 1766, 0x2cc18cd5, 0x40207d3d);
  rss6(13, // 3ffe:501:8::260:97ff:fe40:efab :14230 -> ff02::1 :4739
    [0x3f, 0xfe, 0x05, 0x01, 0, 8, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab],
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    14230, 4739, 0x0f0c461c, 0xdde51bbf);
  rss6(15, // 3ffe:1900:4545:3:200:f8ff:fe21:67cf :44251 -> fe80::200:f8ff:fe21:67cf :38024
    [0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0, 3, 0x02, 0, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf],
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf],
    44251, 38024, 0x4b61e985, 0x02d1feef);
  // Short keys and empty input, against the C header's xen_netif_toeplitz_hash (gcc) on the
  // first IPv4 TCP input (42 09 95 bb a1 8e 64 50 0a ea 06 e6).
  store<u32>(BUF, 0xbb950942, 0);
  store<u32>(BUF, 0x50648ea1, 4);
  store<u32>(BUF, 0xe606ea0a, 8);
  check(F_xen_netif_toeplitz_hash, 17, xen_netif_toeplitz_hash(KEY, 4, BUF, 12), 0x166bbb34);
  check(F_xen_netif_toeplitz_hash, 18, xen_netif_toeplitz_hash(KEY, 10, BUF, 12), 0xf88e8ea5);
  check(F_xen_netif_toeplitz_hash, 19, xen_netif_toeplitz_hash(KEY, 0, BUF, 12), 0);
  check(F_xen_netif_toeplitz_hash, 20, xen_netif_toeplitz_hash(KEY, 40, BUF, 0), 0);
  // All-ones key and input (gcc): 36 bytes -> 0, 40 bytes -> 0x55555555.
  memory.fill(KEY, 0xff, 40);
  memory.fill(BUF, 0xff, 40);
  check(F_xen_netif_toeplitz_hash, 21, xen_netif_toeplitz_hash(KEY, 40, BUF, 36), 0);
  check(F_xen_netif_toeplitz_hash, 22, xen_netif_toeplitz_hash(KEY, 40, BUF, 40), 0x55555555);

  // netif_extra_info over the pattern (gcc: memcpy pattern into struct netif_extra_info):
  // u.gso.size = 0x4731, *(uint32_t *)u.hash.value = 0x8f716351, offsetof(u.mcast.addr) = 2.
  const e = changetype<netif_extra_info>(S);
  fillPattern(S);
  check(F_extra_get_u_gso_size, 1, e.u_gso_size, 0x4731);
  check(F_extra_get_u_hash_value, 1, e.u_hash_value, 0x8f716351);
  check(F_extra_get_u_mcast_addr, 1, <i64>(e.u_mcast_addr - S), 2);
  check(F_extra_get_u_mcast_addr, 2, load<u32>(e.u_mcast_addr), 0x63514731); // addr[0..3] = 31 47 51 63
  check(F_extra_get_u_mcast_addr, 3, load<u16>(e.u_mcast_addr, 4), 0x8f71);   // addr[4..5] = 71 8f
  // gcc: e.u.gso.size = 0xbeef -> 8 bytes 0x8f716351beef2311
  e.u_gso_size = 0xbeef;
  check(F_extra_set_u_gso_size, 1, load<u64>(S), 0x8f716351beef2311);
  check(F_extra_set_u_gso_size, 2, load<u64>(S, 8), 0x1ef1e3d1c7b1a391); // next struct untouched
  check(F_extra_get_u_gso_size, 2, e.u_gso_size, 0xbeef);
  // gcc: u.hash.value = {0x78, 0x56, 0x34, 0x12} -> 0x1234567847312311
  fillPattern(S);
  e.u_hash_value = 0x12345678;
  check(F_extra_set_u_hash_value, 1, load<u64>(S), 0x1234567847312311);
  check(F_extra_set_u_hash_value, 2, load<u64>(S, 8), 0x1ef1e3d1c7b1a391);
  check(F_extra_get_u_hash_value, 2, e.u_hash_value, 0x12345678);

  // pvt.netif.smartpoll_active (offset 16 in all three rings): the pattern's byte 16 is 0x32.
  fillPattern(S);
  check(F_ctrl_sring_get_smartpoll, 1, changetype<xen_netif_ctrl_sring>(S).pvt_netif_smartpoll_active, 0x32);
  check(F_tx_sring_get_smartpoll, 1, changetype<netif_tx_sring>(S).pvt_netif_smartpoll_active, 0x32);
  check(F_rx_sring_get_smartpoll, 1, changetype<netif_rx_sring>(S).pvt_netif_smartpoll_active, 0x32);
  memory.fill(S, 0, 80);
  store<u8>(S, 1, 16);
  check(F_ctrl_sring_get_smartpoll, 2, changetype<xen_netif_ctrl_sring>(S).pvt_netif_smartpoll_active, 1);
  check(F_tx_sring_get_smartpoll, 2, changetype<netif_tx_sring>(S).pvt_netif_smartpoll_active, 1);
  check(F_rx_sring_get_smartpoll, 2, changetype<netif_rx_sring>(S).pvt_netif_smartpoll_active, 1);
}

// ---------------------------------------------------------------------------------------------
// grant_table.ts. Expected: gcc, the pattern memcpy'd into the C struct/union, then its members
// read or written.

function testGrantTable(): void {
  // union grant_entry_v2: transitive.trans_domid = 0x6351, transitive.gref = 0xc7b1a391.
  const g = changetype<grant_entry_v2>(S);
  fillPattern(S);
  check(F_gev2_get_transitive_trans_domid, 1, g.transitive_trans_domid, 0x6351);
  check(F_gev2_get_transitive_gref, 1, g.transitive_gref, 0xc7b1a391);
  // gcc: transitive.trans_domid = 0x7ff0 -> 0x8f717ff047312311 0x1ef1e3d1c7b1a391
  g.transitive_trans_domid = 0x7ff0;
  check(F_gev2_set_transitive_trans_domid, 1, load<u64>(S), 0x8f717ff047312311);
  check(F_gev2_set_transitive_trans_domid, 2, load<u64>(S, 8), 0x1ef1e3d1c7b1a391);
  check(F_gev2_get_transitive_trans_domid, 2, g.transitive_trans_domid, 0x7ff0);
  // gcc: transitive.gref = 0xdeadbeef -> 0x8f71635147312311 0x1ef1e3d1deadbeef
  fillPattern(S);
  g.transitive_gref = 0xdeadbeef;
  check(F_gev2_set_transitive_gref, 1, load<u64>(S), 0x8f71635147312311);
  check(F_gev2_set_transitive_gref, 2, load<u64>(S, 8), 0x1ef1e3d1deadbeef);
  check(F_gev2_get_transitive_gref, 2, g.transitive_gref, 0xdeadbeef);

  // struct gnttab_copy_ptr: u.ref = 0x47312311. Setting u.ref writes the low 4 bytes of the
  // union (gcc: 0x........cafef00d); C leaves the other 4 bytes of the union unspecified
  // (C11 6.2.6.1p7), so only the ref bytes and the following members are checked.
  const cp = changetype<gnttab_copy_ptr>(S);
  fillPattern(S);
  check(F_copy_ptr_get_u_ref, 1, cp.u_ref, 0x47312311);
  cp.u_ref = 0xcafef00d;
  check(F_copy_ptr_set_u_ref, 1, load<u32>(S), 0xcafef00d);
  check(F_copy_ptr_set_u_ref, 2, load<u64>(S, 8), 0x1ef1e3d1c7b1a391); // domid, offset, padding
  check(F_copy_ptr_get_u_ref, 2, cp.u_ref, 0xcafef00d);

  // struct gnttab_copy: source.u.ref (offset 0) = 0x47312311, dest.u.ref (offset 16) = 0x46562232.
  const c = changetype<gnttab_copy>(S);
  fillPattern(S);
  store<u64>(S, 0x0807060504030201, 32);
  check(F_copy_get_source_u_ref, 1, c.source_u_ref, 0x47312311);
  check(F_copy_get_dest_u_ref, 1, c.dest_u_ref, 0x46562232);
  c.source_u_ref = 0x01020304;
  check(F_copy_set_source_u_ref, 1, load<u32>(S), 0x01020304);
  check(F_copy_set_source_u_ref, 2, load<u64>(S, 8), 0x1ef1e3d1c7b1a391);  // source.domid/offset
  check(F_copy_set_source_u_ref, 3, load<u64>(S, 16), 0x8e9e627246562232); // dest untouched
  check(F_copy_get_source_u_ref, 2, c.source_u_ref, 0x01020304);
  c.dest_u_ref = 0xfffffffe;
  check(F_copy_set_dest_u_ref, 1, load<u32>(S, 16), 0xfffffffe);
  check(F_copy_set_dest_u_ref, 2, load<u64>(S, 24), 0x3d0fe2f2c6d6a2b2);   // dest.domid/offset
  check(F_copy_set_dest_u_ref, 3, load<u64>(S, 32), 0x0807060504030201);   // len, flags, status
  check(F_copy_set_dest_u_ref, 4, load<u32>(S), 0x01020304);               // source untouched
  check(F_copy_get_dest_u_ref, 2, c.dest_u_ref, 0xfffffffe);

  // struct gnttab_cache_flush: a.ref = 0x47312311.
  const cf = changetype<gnttab_cache_flush>(S);
  fillPattern(S);
  check(F_cache_flush_get_a_ref, 1, cf.a_ref, 0x47312311);
  cf.a_ref = 0x80000001;
  check(F_cache_flush_set_a_ref, 1, load<u32>(S), 0x80000001);
  check(F_cache_flush_set_a_ref, 2, load<u64>(S, 8), 0x1ef1e3d1c7b1a391); // offset, length, op
  check(F_cache_flush_get_a_ref, 2, cf.a_ref, 0x80000001);
}

// ---------------------------------------------------------------------------------------------
// xen.ts. Expected: gcc with <xen/xen.h> (x86_64): start_info.console at offset 72
// (domU.mfn at 72, domU.evtchn at 80); TI_* and xen_pfn_to_cr3 / xen_cr3_to_pfn macros.

function testXen(): void {
  const si = changetype<start_info>(S);
  memory.fill(S, 0, 1168);
  fillPattern(S + 72);
  // gcc: console.domU.mfn = 0x8f71635147312311, console.domU.evtchn = 0xc7b1a391
  check(F_si_get_console_domU_mfn, 1, <i64>si.console_domU_mfn, <i64>0x8f71635147312311);
  check(F_si_get_console_domU_mfn, 2, si.console_domU_evtchn, 0xc7b1a391);
  // gcc: console.domU.mfn = 0x0123456789abcdef -> 0x0123456789abcdef 0x1ef1e3d1c7b1a391
  si.console_domU_mfn = 0x0123456789abcdef;
  check(F_si_set_console_domU_mfn, 1, load<u64>(S, 72), 0x0123456789abcdef);
  check(F_si_set_console_domU_mfn, 2, load<u64>(S, 80), 0x1ef1e3d1c7b1a391);
  check(F_si_set_console_domU_mfn, 3, load<u64>(S, 64), 0); // store_mfn/store_evtchn untouched
  check(F_si_get_console_domU_mfn, 3, <i64>si.console_domU_mfn, 0x0123456789abcdef);
  si.console_domU_mfn = 3; // docs/ABI.md: console.domU.mfn = 3
  check(F_si_set_console_domU_mfn, 4, si.console_dom0_info_off, 3);
  check(F_si_set_console_domU_mfn, 5, si.console_dom0_info_size, 0);

  // TI_GET_DPL / TI_GET_IF on flags 0..7: DPL = flags & 3, IF = flags & 4 (4, not 1).
  const ti = changetype<trap_info>(S);
  memory.fill(S, 0, 16);
  for (let fl: u8 = 0; fl < 8; fl++) {
    ti.flags = fl;
    check(F_TI_GET_DPL, <i32>fl + 1, TI_GET_DPL(ti), fl & 3);
    check(F_TI_GET_IF, <i32>fl + 1, TI_GET_IF(ti), fl & 4);
  }
  ti.flags = 0xf8;
  check(F_TI_GET_DPL, 9, TI_GET_DPL(ti), 0);
  check(F_TI_GET_IF, 9, TI_GET_IF(ti), 0);
  // gcc: flags 0xf8, TI_SET_DPL(3) -> 0xfb, then TI_SET_IF(1) -> 0xff
  TI_SET_DPL(ti, 3);
  check(F_TI_SET_DPL, 1, ti.flags, 0xfb);
  TI_SET_IF(ti, true);
  check(F_TI_SET_IF, 1, ti.flags, 0xff);
  // gcc: flags 0, TI_SET_IF(0) -> 0; TI_SET_DPL(1) -> 1; TI_SET_DPL(2) -> 3 (ORs, never clears)
  ti.flags = 0;
  TI_SET_IF(ti, false);
  check(F_TI_SET_IF, 2, ti.flags, 0);
  TI_SET_DPL(ti, 1);
  check(F_TI_SET_DPL, 2, ti.flags, 1);
  TI_SET_DPL(ti, 2);
  check(F_TI_SET_DPL, 3, ti.flags, 3);
  // gcc: flags 0x41, TI_SET_IF(1) -> 0x45
  ti.flags = 0x41;
  TI_SET_IF(ti, true);
  check(F_TI_SET_IF, 3, ti.flags, 0x45);
  check(F_TI_SET_IF, 4, ti.vector, 0); // neighbours untouched
  check(F_TI_SET_IF, 5, ti.cs, 0);

  // xen_pfn_to_cr3 / xen_cr3_to_pfn (x86_64: unsigned long << 12, >> 12)
  check(F_xen_pfn_to_cr3, 1, xen_pfn_to_cr3(0), 0);
  check(F_xen_pfn_to_cr3, 2, xen_pfn_to_cr3(1), 0x1000);
  check(F_xen_pfn_to_cr3, 3, xen_pfn_to_cr3(0x12345), 0x12345000);
  check(F_xen_pfn_to_cr3, 4, xen_pfn_to_cr3(0xfffffffffffff), <i64>0xfffffffffffff000);
  check(F_xen_pfn_to_cr3, 5, xen_pfn_to_cr3(0xffffffffffffffff), <i64>0xfffffffffffff000);
  check(F_xen_cr3_to_pfn, 1, xen_cr3_to_pfn(0), 0);
  check(F_xen_cr3_to_pfn, 2, xen_cr3_to_pfn(1), 0);
  check(F_xen_cr3_to_pfn, 3, xen_cr3_to_pfn(0x12345), 0x12);
  check(F_xen_cr3_to_pfn, 4, xen_cr3_to_pfn(0xfffffffffffff), 0xffffffffff);
  check(F_xen_cr3_to_pfn, 5, xen_cr3_to_pfn(0xffffffffffffffff), 0xfffffffffffff);
}

// ---------------------------------------------------------------------------------------------
// memory.ts, vcpu.ts. Expected: gcc with <xen/memory.h> and <xen/vcpu.h>, unsigned inputs.

const MEMF_IN: StaticArray<u32> = [0, 1, 32, 0xff, 0x100, 0x1ff, 0x3ff20, 0xffffffff];
const MEMF_GET_ADDRESS_BITS: StaticArray<u32> = [0x0, 0x1, 0x20, 0xff, 0x0, 0xff, 0x20, 0xff];
const MEMF_NODE: StaticArray<u32> = [0x100, 0x200, 0x2100, 0x10000, 0x10100, 0x20000, 0x3ff2100, 0x0];
const MEMF_GET_NODE: StaticArray<u32> = [0xff, 0xff, 0xff, 0xff, 0x0, 0x0, 0xfe, 0xfe];
const MEMF_EXACT_NODE: StaticArray<u32> = [0x20100, 0x20200, 0x22100, 0x30000, 0x30100, 0x20000, 0x3ff2100, 0x20000];

function testMemoryVcpu(): void {
  for (let i = 0; i < MEMF_IN.length; i++) {
    const x = MEMF_IN[i];
    check(F_XENMEMF_address_bits, i + 1, XENMEMF_address_bits(x), x);
    check(F_XENMEMF_get_address_bits, i + 1, XENMEMF_get_address_bits(x), MEMF_GET_ADDRESS_BITS[i]);
    check(F_XENMEMF_node, i + 1, XENMEMF_node(x), MEMF_NODE[i]);
    check(F_XENMEMF_get_node, i + 1, XENMEMF_get_node(x), MEMF_GET_NODE[i]);
    check(F_XENMEMF_exact_node, i + 1, XENMEMF_exact_node(x), MEMF_EXACT_NODE[i]);
  }
  // Round trips the header documents: get_node(node(n)) == n, get_address_bits(address_bits(b)) == b.
  check(F_XENMEMF_get_node, 20, XENMEMF_get_node(XENMEMF_node(5) | XENMEMF_address_bits(32)), 5);
  check(F_XENMEMF_get_address_bits, 20, XENMEMF_get_address_bits(XENMEMF_exact_node(5) | XENMEMF_address_bits(32)), 32);

  check(F_XENMEM_resource_ioreq_server_frame_ioreq, 1, XENMEM_resource_ioreq_server_frame_ioreq(0), 1);
  check(F_XENMEM_resource_ioreq_server_frame_ioreq, 2, XENMEM_resource_ioreq_server_frame_ioreq(1), 2);
  check(F_XENMEM_resource_ioreq_server_frame_ioreq, 3, XENMEM_resource_ioreq_server_frame_ioreq(7), 8);
  check(F_XENMEM_resource_ioreq_server_frame_ioreq, 4, XENMEM_resource_ioreq_server_frame_ioreq(0xffffffff), 0x100000000);
  check(F_XENMEM_resource_ioreq_server_frame_ioreq, 5, XENMEM_resource_ioreq_server_frame_ioreq(0xffffffffffffffff), 0);

  check(F_xen_vcpu_physid_to_x86_apicid, 1, xen_vcpu_physid_to_x86_apicid(0), 0);
  check(F_xen_vcpu_physid_to_x86_apicid, 2, xen_vcpu_physid_to_x86_apicid(0x0000000500000003), 3);
  check(F_xen_vcpu_physid_to_x86_apicid, 3, xen_vcpu_physid_to_x86_apicid(0xfedcba9876543210), 0x76543210);
  check(F_xen_vcpu_physid_to_x86_acpiid, 1, xen_vcpu_physid_to_x86_acpiid(0), 0);
  check(F_xen_vcpu_physid_to_x86_acpiid, 2, xen_vcpu_physid_to_x86_acpiid(0x0000000500000003), 5);
  check(F_xen_vcpu_physid_to_x86_acpiid, 3, xen_vcpu_physid_to_x86_acpiid(0xfedcba9876543210), 0xfedcba98);
}

// ---------------------------------------------------------------------------------------------
// event_channel.ts. Expected: gcc, pattern memcpy'd into evtchn_status_t: u (offset 16).virq =
// u.pirq = 0x46562232.

function testEventChannel(): void {
  const st = changetype<evtchn_status>(S);
  fillPattern(S);
  check(F_evtchn_status_get_u_virq, 1, st.u_virq, 0x46562232);
  check(F_evtchn_status_get_u_pirq, 1, st.u_pirq, 0x46562232);
  memory.fill(S, 0, 24);
  store<u32>(S, 23, 16); // VIRQ_ENOMEM
  check(F_evtchn_status_get_u_virq, 2, st.u_virq, 23);
  store<u32>(S, 0x10001, 16);
  check(F_evtchn_status_get_u_pirq, 2, st.u_pirq, 0x10001);
}

/** Runs every check; returns the number that failed. */
export function run(): i32 {
  nChecks = 0;
  nFailed = 0;
  coveredMask = 0;
  testRing();
  testConsoleXenstore();
  testNetif();
  testGrantTable();
  testXen();
  testMemoryVcpu();
  testEventChannel();
  return nFailed;
}

/** How many checks the last run() made. */
export function checks(): i32 {
  return nChecks;
}

/** How many distinct functions/accessors the last run() checked (of F_COUNT). */
export function covered(): i32 {
  return <i32>popcnt<u64>(coveredMask);
}

/** The number of functions/accessors the module knows about. */
export function functions(): i32 {
  return F_COUNT;
}
