;; A guest written by hand from docs/ABI.md alone (no SDK) that uses the FIFO event ABI and a
;; version-2 sub-page grant. It registers vcpu_info beside its FIFO control block, adds one page
;; of event words, binds an IPI; switches its grant table to v2, places a grant frame and a status
;; frame, grants 18 bytes of a page to itself as a read-only sub-page grant, copies them out with
;; GNTTABOP_copy (and checks that a copy outside the sub-page and a map of it are refused), prints
;; them; then sends itself the IPI and, in the upcall, consumes its FIFO queue as docs/ABI.md says,
;; prints and powers off. It must run as domain 1 (the grant names its grantee). Any unexpected
;; hypercall result traps, which crashes the domain.
(module
  (import "env" "memory" (memory 32 65536 shared))
  (import "xen" "console_io" (func $console_io (param i32 i32 i32) (result i32)))
  (import "xen" "sched_op" (func $sched_op (param i32 i32) (result i32)))
  (import "xen" "memory_op" (func $memory_op (param i32 i32) (result i32)))
  (import "xen" "event_channel_op" (func $event_channel_op (param i32 i32) (result i32)))
  (import "xen" "grant_table_op" (func $grant_table_op (param i32 i32 i32) (result i32)))
  (import "xen" "vcpu_op" (func $vcpu_op (param i32 i32 i32) (result i32)))

  (data (i32.const 0x100000) "fifo/v2 WAT guest\n")
  (data (i32.const 0x100020) "fifo upcall: ipi delivered\n")
  (data (i32.const 0x100040) "sub-page grant ok\n")

  ;; Frames (docs/ABI.md §2: 4..255 are the guest's): 4 shared_info, 6 FIFO control block (offset
  ;; 0) and vcpu_info (offset 128), 7 event-array page, 8 grant frame 0, 9 status frame 0, 10 the
  ;; granted page, 11 the copy's destination. Argument structs at 0x5000.
  (global $control i32 (i32.const 0x6000))
  (global $vcpu_info i32 (i32.const 0x6080))
  (global $array i32 (i32.const 0x7000))
  (global $port (mut i32) (i32.const 0))

  (func $ok (param $rc i32)
    (if (i32.ne (local.get $rc) (i32.const 0)) (then unreachable)))

  ;; XENMEM_add_to_physmap { domid = DOMID_SELF, space, idx, gpfn }
  (func $physmap (param $space i32) (param $idx i64) (param $gpfn i64)
    (i32.store16 (i32.const 0x5000) (i32.const 0x7ff0))
    (i32.store16 (i32.const 0x5002) (i32.const 0))
    (i32.store (i32.const 0x5004) (local.get $space))
    (i64.store (i32.const 0x5008) (local.get $idx))
    (i64.store (i32.const 0x5010) (local.get $gpfn))
    (call $ok (call $memory_op (i32.const 7) (i32.const 0x5000))))

  ;; GNTTABOP_copy of `len` bytes from offset `off` of grant ref 10 (domain self) to frame 11;
  ;; returns the entry's status.
  (func $copy (param $off i32) (param $len i32) (result i32)
    (i64.store (i32.const 0x5200) (i64.const 10))        ;; source.u.ref
    (i32.store16 (i32.const 0x5208) (i32.const 0x7ff0))  ;; source.domid = DOMID_SELF
    (i32.store16 (i32.const 0x520a) (local.get $off))    ;; source.offset
    (i64.store (i32.const 0x5210) (i64.const 11))        ;; dest.u.gmfn
    (i32.store16 (i32.const 0x5218) (i32.const 0x7ff0))  ;; dest.domid
    (i32.store16 (i32.const 0x521a) (i32.const 0))       ;; dest.offset
    (i32.store16 (i32.const 0x5220) (local.get $len))    ;; len
    (i32.store16 (i32.const 0x5222) (i32.const 1))       ;; flags = GNTCOPY_source_gref
    (call $ok (call $grant_table_op (i32.const 5) (i32.const 0x5200) (i32.const 1)))
    (i32.load16_s (i32.const 0x5224)))                   ;; status

  (func (export "xen_start") (param $start_info i32)
    (local $i i32)
    (if (i32.ne (i32.load (local.get $start_info)) (i32.const 0x2d6e6578)) (then unreachable))
    (call $ok (call $console_io (i32.const 0) (i32.const 18) (i32.const 0x100000)))
    (call $physmap (i32.const 0) (i64.const 0) (i64.const 4))           ;; shared_info at frame 4
    ;; VCPUOP_register_vcpu_info { mfn = 6, offset = 128 } on vCPU 0
    (i64.store (i32.const 0x5100) (i64.const 6))
    (i64.store (i32.const 0x5108) (i64.const 128))
    (call $ok (call $vcpu_op (i32.const 10) (i32.const 0) (i32.const 0x5100)))
    ;; EVTCHNOP_init_control { control_gfn = 6, offset = 0, vcpu = 0 } -> link_bits 17
    (i64.store (i32.const 0x5100) (i64.const 6))
    (i64.store (i32.const 0x5108) (i64.const 0))
    (i32.store8 (i32.const 0x5110) (i32.const 0))
    (call $ok (call $event_channel_op (i32.const 11) (i32.const 0x5100)))
    (if (i32.ne (i32.load8_u (i32.const 0x5110)) (i32.const 17)) (then unreachable))
    ;; One page of event words (ports 0..1023), every word MASKED, then EVTCHNOP_expand_array.
    (loop $fill
      (i32.store (i32.add (global.get $array) (i32.shl (local.get $i) (i32.const 2))) (i32.const 0x40000000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 1024))))
    (i64.store (i32.const 0x5100) (i64.const 7))
    (call $ok (call $event_channel_op (i32.const 12) (i32.const 0x5100)))
    ;; EVTCHNOP_bind_ipi { vcpu = 0 } -> port; unmask it: clear MASKED (it is not PENDING)
    (i64.store (i32.const 0x5100) (i64.const 0))
    (call $ok (call $event_channel_op (i32.const 7) (i32.const 0x5100)))
    (global.set $port (i32.load (i32.const 0x5104)))
    (drop (i32.atomic.rmw.and (i32.add (global.get $array) (i32.shl (global.get $port) (i32.const 2))) (i32.const 0xbfffffff)))

    ;; GNTTABOP_set_version { version = 2 }, then grant frame 0 at frame 8 and status frame 0 at 9.
    (i32.store (i32.const 0x5100) (i32.const 2))
    (call $ok (call $grant_table_op (i32.const 8) (i32.const 0x5100) (i32.const 1)))
    (call $physmap (i32.const 1) (i64.const 0) (i64.const 8))
    (call $physmap (i32.const 1) (i64.const 0x80000000) (i64.const 9))
    ;; The page at frame 10 holds the message at offset 100; ref 10 (0x8000 + 10 * 16) grants
    ;; domain 1 read-only access to those 18 bytes: page_off, length and frame first, then
    ;; (flags = GTF_permit_access | GTF_readonly | GTF_sub_page, domid = 1) with one atomic store.
    (memory.copy (i32.const 0xa064) (i32.const 0x100040) (i32.const 18))
    (i32.store16 (i32.const 0x80a4) (i32.const 100))
    (i32.store16 (i32.const 0x80a6) (i32.const 18))
    (i64.store (i32.const 0x80a8) (i64.const 10))
    (i32.atomic.store (i32.const 0x80a0) (i32.const 0x00010105))
    ;; A copy of the granted bytes succeeds; one byte before them is GNTST_general_error (-1).
    (call $ok (call $copy (i32.const 100) (i32.const 18)))
    (if (i32.ne (call $copy (i32.const 99) (i32.const 18)) (i32.const -1)) (then unreachable))
    ;; GTF_reading was held only during the copy: the status word of ref 10 (0x9000 + 20) is 0.
    (if (i32.ne (i32.load16_u (i32.const 0x9014)) (i32.const 0)) (then unreachable))
    ;; GNTTABOP_map_grant_ref of a sub-page grant is refused with GNTST_general_error.
    (i64.store (i32.const 0x5300) (i64.const 0))
    (i32.store (i32.const 0x5308) (i32.const 1))          ;; flags = GNTMAP_host_map
    (i32.store (i32.const 0x530c) (i32.const 10))         ;; ref
    (i32.store16 (i32.const 0x5310) (i32.const 0x7ff0))   ;; dom = DOMID_SELF
    (call $ok (call $grant_table_op (i32.const 0) (i32.const 0x5300) (i32.const 1)))
    (if (i32.ne (i32.load16_s (i32.const 0x5312)) (i32.const -1)) (then unreachable))
    (call $ok (call $console_io (i32.const 0) (i32.const 18) (i32.const 0xb000)))

    ;; EVTCHNOP_send { port }: raises our own IPI.
    (i32.store (i32.const 0x5100) (global.get $port))
    (call $ok (call $event_channel_op (i32.const 4) (i32.const 0x5100))))

  (func (export "xen_upcall")
    (local $ready i32) (local $head i32) (local $w i32) (local $old i32) (local $seen i32)
    ;; evtchn_upcall_pending = 0 (vcpu_info now lives at frame 6 + 128)
    (i32.atomic.store8 (global.get $vcpu_info) (i32.const 0))
    ;; ready: take it whole; the IPI has the default priority 7
    (local.set $ready (i32.atomic.rmw.xchg (global.get $control) (i32.const 0)))
    (if (i32.eqz (i32.and (local.get $ready) (i32.const 0x80))) (then (return)))
    (local.set $head (i32.atomic.load (i32.add (global.get $control) (i32.const 36)))) ;; head[7]
    (if (i32.ne (local.get $head) (global.get $port)) (then unreachable))
    ;; Unlink: clear LINKED and LINK with compare-and-swap; the old LINK must be 0 (queue done).
    (local.set $w (i32.add (global.get $array) (i32.shl (local.get $head) (i32.const 2))))
    (local.set $old (i32.atomic.load (local.get $w)))
    (block $done
      (loop $cas
        (local.set $seen (i32.atomic.rmw.cmpxchg (local.get $w) (local.get $old)
                                                 (i32.and (local.get $old) (i32.const 0xdffe0000))))
        (br_if $done (i32.eq (local.get $seen) (local.get $old)))
        (local.set $old (local.get $seen))
        (br $cas)))
    (if (i32.and (local.get $old) (i32.const 0x1ffff)) (then unreachable))
    ;; PENDING and not MASKED: clear PENDING, handle it
    (if (i32.ne (i32.and (local.get $old) (i32.const 0xc0000000)) (i32.const 0x80000000)) (then unreachable))
    (drop (i32.atomic.rmw.and (local.get $w) (i32.const 0x7fffffff)))
    (call $ok (call $console_io (i32.const 0) (i32.const 27) (i32.const 0x100020)))
    (i32.store (i32.const 0x5300) (i32.const 0))
    (drop (call $sched_op (i32.const 2) (i32.const 0x5300)))
    unreachable))
