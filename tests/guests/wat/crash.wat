;; A guest that prints a line and then traps (out-of-bounds load): the harness must crash this
;; domain alone, report the trap with the domain's name, and keep the other domains running.
(module
  (import "env" "memory" (memory 32 65536 shared))
  (import "xen" "console_io" (func $console_io (param i32 i32 i32) (result i32)))
  (data (i32.const 0x100000) "about to crash\n")
  (func (export "xen_start") (param i32)
    (drop (call $console_io (i32.const 0) (i32.const 15) (i32.const 0x100000)))
    (drop (i32.load (i32.const -4))))
  (func (export "xen_upcall")))
