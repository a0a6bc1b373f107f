;; A hostile guest: it hands the harness bad pointers, bad ports, unknown ops and bad handles,
;; and checks each answer is Xen's error code; then it powers off. A wrong answer traps.
(module
  (import "env" "memory" (memory 32 65536 shared))
  (import "xen" "event_channel_op" (func $evtchn (param i32 i32) (result i32)))
  (import "xen" "grant_table_op" (func $gnttab (param i32 i32 i32) (result i32)))
  (import "xen" "memory_op" (func $memory_op (param i32 i32) (result i32)))
  (import "xen" "console_io" (func $console_io (param i32 i32 i32) (result i32)))
  (import "xen" "sched_op" (func $sched_op (param i32 i32) (result i32)))
  (import "xen" "vcpu_op" (func $vcpu_op (param i32 i32 i32) (result i32)))
  (import "xen" "grant_load32" (func $load32 (param i32 i32 i32) (result i32)))
  (data (i32.const 0x100000) "hostile guest: every misuse refused\n")
  (func $expect (param $got i32) (param $want i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then unreachable)))
  (func (export "xen_start") (param i32)
    ;; -EFAULT (14): struct beyond memory
    (call $expect (call $evtchn (i32.const 6) (i32.const -8)) (i32.const -14))
    (call $expect (call $console_io (i32.const 0) (i32.const 100) (i32.const -50)) (i32.const -14))
    ;; -ENOSYS (38): unknown sub-ops
    (call $expect (call $evtchn (i32.const 1234) (i32.const 0x5000)) (i32.const -38))
    (call $expect (call $memory_op (i32.const 999) (i32.const 0x5000)) (i32.const -38))
    (call $expect (call $sched_op (i32.const 999) (i32.const 0x5000)) (i32.const -38))
    ;; -EINVAL (22): send on a port that is not in use
    (i32.store (i32.const 0x5000) (i32.const 3000))
    (call $expect (call $evtchn (i32.const 4) (i32.const 0x5000)) (i32.const -22))
    ;; -ENOENT (2): vCPU 1 does not exist
    (call $expect (call $vcpu_op (i32.const 8) (i32.const 1) (i32.const 0x5000)) (i32.const -2))
    ;; unmap of a handle never mapped: call succeeds, status GNTST_bad_handle (-4)
    (i32.store (i32.const 0x5010) (i32.const 77))
    (call $expect (call $gnttab (i32.const 1) (i32.const 0x5000) (i32.const 1)) (i32.const 0))
    (call $expect (i32.load16_s (i32.const 0x5014)) (i32.const -4))
    ;; mapped-grant access through a handle that does not exist: -EINVAL
    (call $expect (call $load32 (i32.const 5) (i32.const 0) (i32.const 0x5100)) (i32.const -22))
    ;; shutdown with an unknown reason: -EINVAL, then a real poweroff
    (i32.store (i32.const 0x5200) (i32.const 99))
    (call $expect (call $sched_op (i32.const 2) (i32.const 0x5200)) (i32.const -22))
    (drop (call $console_io (i32.const 0) (i32.const 36) (i32.const 0x100000)))
    (i32.store (i32.const 0x5200) (i32.const 0))
    (drop (call $sched_op (i32.const 2) (i32.const 0x5200)))
    unreachable)
  (func (export "xen_upcall")))
