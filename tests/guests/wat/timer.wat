;; A guest written by hand from docs/ABI.md alone (no SDK): it prints through console_io, maps
;; shared_info, binds VIRQ_TIMER, arms a single-shot timer 1 ms ahead, and in the upcall checks
;; the port's pending bit, prints again and powers off. Any unexpected hypercall result traps,
;; which crashes the domain.
(module
  (import "env" "memory" (memory 32 65536 shared))
  (import "xen" "console_io" (func $console_io (param i32 i32 i32) (result i32)))
  (import "xen" "sched_op" (func $sched_op (param i32 i32) (result i32)))
  (import "xen" "memory_op" (func $memory_op (param i32 i32) (result i32)))
  (import "xen" "event_channel_op" (func $event_channel_op (param i32 i32) (result i32)))
  (import "xen" "vcpu_op" (func $vcpu_op (param i32 i32 i32) (result i32)))
  (import "xen" "rdtsc" (func $rdtsc (result i64)))

  ;; Static data lives above the first MiB (docs/ABI.md §2).
  (data (i32.const 0x100000) "hello from a WAT guest\n")
  (data (i32.const 0x100020) "timer fired: powering off\n")

  ;; Scratch structs in free low frames: shared_info goes to frame 4 (0x4000), arguments at 0x5000.
  (global $shared_info i32 (i32.const 0x4000))
  (global $port (mut i32) (i32.const 0))

  (func $ok (param $rc i32)
    (if (i32.ne (local.get $rc) (i32.const 0)) (then unreachable)))

  (func (export "xen_start") (param $start_info i32)
    ;; start_info.magic begins "xen-"
    (if (i32.ne (i32.load (local.get $start_info)) (i32.const 0x2d6e6578)) (then unreachable))
    ;; CONSOLEIO_write
    (call $ok (call $console_io (i32.const 0) (i32.const 23) (i32.const 0x100000)))
    ;; XENMEM_add_to_physmap { domid = DOMID_SELF, size, space = XENMAPSPACE_shared_info, idx = 0, gpfn = 4 }
    (i32.store16 (i32.const 0x5000) (i32.const 0x7ff0))
    (i32.store (i32.const 0x5004) (i32.const 0))
    (i64.store (i32.const 0x5008) (i64.const 0))
    (i64.store (i32.const 0x5010) (i64.const 4))
    (call $ok (call $memory_op (i32.const 7) (i32.const 0x5000)))
    ;; EVTCHNOP_bind_virq { virq = VIRQ_TIMER, vcpu = 0, port (out) }
    (i32.store (i32.const 0x5100) (i32.const 0))
    (i32.store (i32.const 0x5104) (i32.const 0))
    (call $ok (call $event_channel_op (i32.const 1) (i32.const 0x5100)))
    (global.set $port (i32.load (i32.const 0x5108)))
    ;; VCPUOP_set_singleshot_timer { timeout_abs_ns = now + 1 ms, flags = 0 } on vCPU 0
    (i64.store (i32.const 0x5200) (i64.add (call $rdtsc) (i64.const 1000000)))
    (i32.store (i32.const 0x5208) (i32.const 0))
    (call $ok (call $vcpu_op (i32.const 8) (i32.const 0) (i32.const 0x5200))))

  (func (export "xen_upcall")
    (local $word i32) (local $bit i32)
    ;; vcpu_info[0].evtchn_upcall_pending = 0
    (i32.store8 (global.get $shared_info) (i32.const 0))
    ;; evtchn_pending (shared_info + 2048), bit $port: test and clear atomically
    (local.set $word (i32.add (i32.add (global.get $shared_info) (i32.const 2048))
                              (i32.shl (i32.shr_u (global.get $port) (i32.const 5)) (i32.const 2))))
    (local.set $bit (i32.shl (i32.const 1) (i32.and (global.get $port) (i32.const 31))))
    (if (i32.eqz (i32.and (i32.atomic.rmw.and (local.get $word) (i32.xor (local.get $bit) (i32.const -1)))
                          (local.get $bit)))
      (then (return)))
    (call $ok (call $console_io (i32.const 0) (i32.const 26) (i32.const 0x100020)))
    ;; SCHEDOP_shutdown { reason = SHUTDOWN_poweroff }: does not return
    (i32.store (i32.const 0x5300) (i32.const 0))
    (drop (call $sched_op (i32.const 2) (i32.const 0x5300)))
    unreachable))
