// hello: the smallest useful guest. Boots, prints a greeting with its memory size and command
// line through the console ring, arms a 10 ms one-shot timer, prints the elapsed time when it
// fires, and powers off.
//
//   xenwasm run build/examples/hello.wasm --cmdline "greeting=hi"
import {
  boot, evtchnUpcall, nrPages, cmdline, xenVersion, isPrivileged,
  puts, putu, putFixed, printk, now, timerSet, NS_PER_MS, NS_PER_US, poweroff, panic,
} from "../assembly/index";

/** When the timer was set (system time, ns). */
let armedAt: u64 = 0;

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  printk("Hello from xenwasm");
  const v = xenVersion();
  puts("  Xen "); putu(v >> 16); puts("."); putu(v & 0xFFFF);
  puts(", nr_pages "); putu(nrPages());
  puts(" ("); putu(nrPages() >> 8); puts(" MiB)");
  puts(isPrivileged() ? ", privileged" : "");
  puts(", cmdline \""); puts(cmdline()); puts("\"\n");

  armedAt = now();
  puts("  system time "); putFixed(armedAt / NS_PER_US, 3); puts(" ms, setting a 10 ms timer\n");
  const id = timerSet(10 * NS_PER_MS, onTimer, 0);
  if (id < 0) panic("cannot set the timer");
}

/** The timer callback: reports how long it took and powers off. */
function onTimer(arg: usize): void {
  const elapsed = now() - armedAt;
  puts("Timer fired after ");
  putFixed(elapsed / NS_PER_US, 3);
  printk(" ms; powering off");
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
