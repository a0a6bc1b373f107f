// The xenwasm guest SDK: what a kernel porter imports (`import { ... } from "xenwasm/assembly"`).
// One module per concern; the Xen ABI itself (numbers, struct layouts) is in ./xen/, imported
// from there by header (e.g. "./xen/event_channel").
//
// A minimal guest:
//   export function xen_start(si: i32): void { boot(si); printk("hello"); poweroff(); }
//   export function xen_upcall(): void { evtchnUpcall(); }
export * from "./hypercall";
export * from "./frames";
export * from "./shared";
export * from "./boot";
export * from "./cmdline";
export * from "./evtchn";
export * from "./gnttab";
export * from "./console";
export * from "./time";
export * from "./sched";
export * from "./xenstore";
export * from "./xenbus";
export * from "./ring";
export * from "./hostdev";
