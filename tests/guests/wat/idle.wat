;; A guest that boots and then waits for an event nobody will send: the runners must report
;; that every domain is idle forever instead of hanging.
(module
  (import "env" "memory" (memory 32 65536 shared))
  (import "xen" "console_io" (func $console_io (param i32 i32 i32) (result i32)))
  (data (i32.const 0x100000) "waiting forever\n")
  (func (export "xen_start") (param i32)
    (drop (call $console_io (i32.const 0) (i32.const 16) (i32.const 0x100000))))
  (func (export "xen_upcall")))
