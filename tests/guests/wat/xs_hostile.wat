;; A hostile xenstore client: it sends 40 READs and never reads the replies. xenstored must stop
;; serving it once 20 replies wait (bounded output) while other domains keep their xenstore; the
;; guest powers off on a timer 20 ms later.
(module
  (import "env" "memory" (memory 32 65536 shared))
  (import "xen" "event_channel_op" (func $evtchn (param i32 i32) (result i32)))
  (import "xen" "memory_op" (func $memory_op (param i32 i32) (result i32)))
  (import "xen" "vcpu_op" (func $vcpu_op (param i32 i32 i32) (result i32)))
  (import "xen" "sched_op" (func $sched_op (param i32 i32) (result i32)))
  (import "xen" "console_io" (func $console_io (param i32 i32 i32) (result i32)))
  (import "xen" "rdtsc" (func $rdtsc (result i64)))
  (data (i32.const 0x100000) "xs_hostile: flooding xenstore\n")
  ;; xenstore ring page: frame 2. req at 0x2000, req_cons 0x2800, req_prod 0x2804.
  (func $put (param $i i32) (param $b i32)
    (i32.store8 (i32.add (i32.const 0x2000) (i32.and (local.get $i) (i32.const 1023))) (local.get $b)))
  (func $kick
    (i32.store (i32.const 0x5000) (i32.const 2))
    (drop (call $evtchn (i32.const 4) (i32.const 0x5000))))
  (func (export "xen_start") (param i32)
    (local $p i32) (local $n i32)
    (drop (call $console_io (i32.const 0) (i32.const 30) (i32.const 0x100000)))
    ;; 50 READ requests of "/x\0" (16-byte header + 3 bytes), never consuming replies.
    (loop $more
      (call $put (local.get $p) (i32.const 2))                      ;; type XS_READ (2)
      (call $put (i32.add (local.get $p) (i32.const 1)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 2)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 3)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 4)) (local.get $n)) ;; req_id
      (call $put (i32.add (local.get $p) (i32.const 5)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 6)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 7)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 8)) (i32.const 0)) ;; tx_id 0
      (call $put (i32.add (local.get $p) (i32.const 9)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 10)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 11)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 12)) (i32.const 3)) ;; len 3
      (call $put (i32.add (local.get $p) (i32.const 13)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 14)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 15)) (i32.const 0))
      (call $put (i32.add (local.get $p) (i32.const 16)) (i32.const 0x2f)) ;; "/x\0"
      (call $put (i32.add (local.get $p) (i32.const 17)) (i32.const 0x78))
      (call $put (i32.add (local.get $p) (i32.const 18)) (i32.const 0))
      (local.set $p (i32.add (local.get $p) (i32.const 19)))
      (i32.atomic.store (i32.const 0x2804) (local.get $p))
      (call $kick)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $n) (i32.const 40))))
    ;; shared_info at frame 4, VIRQ_TIMER, a 20 ms timer to power off
    (i32.store16 (i32.const 0x5100) (i32.const 0x7ff0))
    (i32.store (i32.const 0x5104) (i32.const 0))
    (i64.store (i32.const 0x5108) (i64.const 0))
    (i64.store (i32.const 0x5110) (i64.const 4))
    (drop (call $memory_op (i32.const 7) (i32.const 0x5100)))
    (i32.store (i32.const 0x5200) (i32.const 0))
    (i32.store (i32.const 0x5204) (i32.const 0))
    (drop (call $evtchn (i32.const 1) (i32.const 0x5200)))
    (i64.store (i32.const 0x5300) (i64.add (call $rdtsc) (i64.const 20000000)))
    (i32.store (i32.const 0x5308) (i32.const 0))
    (drop (call $vcpu_op (i32.const 8) (i32.const 0) (i32.const 0x5300))))
  (func (export "xen_upcall")
    (i32.store (i32.const 0x5400) (i32.const 0))
    (drop (call $sched_op (i32.const 2) (i32.const 0x5400)))
    unreachable))
