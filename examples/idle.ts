// idle: the smallest xenstore guest. Connects to xenstore, announces itself with
// `data/ready` = "1" (relative: /local/domain/<domid>/data/ready), reads and prints its own
// `domid` and `name`, then idles until the toolstack writes `control/shutdown`: on "poweroff"
// (or "halt") it prints and powers off, acknowledging the request first as Linux does.
//
//   xenwasm run build/examples/idle.wasm
//   xenstore-write /local/domain/1/control/shutdown poweroff     # from the host
import {
  boot, evtchnUpcall, printk, puts, puti, panic,
  xsInit, xsRead, xsWrite, XsReply, XBT_NIL, xsErrorName, xenbusWatchShutdown,
} from "../assembly/index";
import { SHUTDOWN_poweroff, SHUTDOWN_reboot } from "../assembly/xen/sched";

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  const rc = xsInit();
  if (rc < 0) {
    puts("idle: xenstore unavailable: ");
    puti(rc);
    puts("\n");
    panic("no xenstore");
  }
  // Requests go out in this order and xenstored answers in order, but nothing here relies on it.
  check(xsWrite(XBT_NIL, "data/ready", "1", onReady, 0));
  check(xsRead(XBT_NIL, "domid", onNode, 0));
  check(xsRead(XBT_NIL, "name", onNode, 1));
  check(xenbusWatchShutdown(onShutdown, 0));
}

/** Crashes with a message if submitting a request failed (the client is full or down). */
function check(rc: i32): void {
  if (rc < 0) {
    puts("idle: xenstore request refused: ");
    puti(rc);
    puts("\n");
    panic("xenstore request refused");
  }
}

function onReady(status: i32, reply: XsReply, arg: usize): void {
  if (status < 0) {
    puts("idle: writing data/ready failed: ");
    printk(xsErrorName(status));
    return;
  }
  printk("idle: data/ready = 1");
}

/** Prints the `domid` (arg 0) or `name` (arg 1) node. */
function onNode(status: i32, reply: XsReply, arg: usize): void {
  puts(arg == 0 ? "idle: domid " : "idle: name ");
  if (status < 0) {
    puts("unreadable: ");
    printk(xsErrorName(status));
    return;
  }
  printk(reply.str());
  if (arg == 1) printk("idle: waiting for control/shutdown");
}

/** Runs just before the SDK shuts the domain down on a control/shutdown request. */
function onShutdown(reason: i32, arg: usize): void {
  if (reason == SHUTDOWN_poweroff) printk("idle: control/shutdown says poweroff; powering off");
  else if (reason == SHUTDOWN_reboot) printk("idle: control/shutdown says reboot; rebooting");
}

export function xen_upcall(): void {
  evtchnUpcall();
}
