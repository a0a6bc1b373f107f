// Test guest: switches of one device's state publish in the order they were asked for. Each
// round asks for Closed and, at once, Initialising; once both are done the state must read
// Initialising. Run with `--faults 50`: a commit that fails with EAGAIN is retried, and before
// the fix the retried Closed could land after (and undo) the Initialising.
import { boot, evtchnUpcall, xsInit, xsWrite, xsRead, XBT_NIL, XsReply, xenbusSwitchState, printk, puts, putu, poweroff, panic } from "../../assembly/index";
import { XenbusStateClosed, XenbusStateInitialising } from "../../assembly/xen/io/xenbus";

const DEV = "device/order/0";
const ROUNDS: u32 = 200;
let round: u32 = 0, pending = 0, outOfOrder: u32 = 0;

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  xsWrite(XBT_NIL, DEV + "/state", XenbusStateInitialising.toString(), onCreated, 0);
}

function onCreated(status: i32, r: XsReply, arg: usize): void {
  if (status < 0) panic("cannot create the state node");
  next();
}

function next(): void {
  if (round == ROUNDS) {
    puts("xenbus order: ");
    putu(ROUNDS);
    puts(" rounds, ");
    putu(outOfOrder);
    printk(" out of order");
    poweroff();
    return;
  }
  round++;
  pending = 2;
  if (xenbusSwitchState(DEV, XenbusStateClosed, onSwitched, 0) < 0) panic("switch refused");
  if (xenbusSwitchState(DEV, XenbusStateInitialising, onSwitched, 0) < 0) panic("switch refused");
}

function onSwitched(status: i32, arg: usize): void {
  if (status < 0) panic("a switch failed");
  if (--pending == 0) xsRead(XBT_NIL, DEV + "/state", onRead, 0);
}

function onRead(status: i32, r: XsReply, arg: usize): void {
  if (status < 0) panic("cannot read the state");
  if (!r.equals(XenbusStateInitialising.toString())) outOfOrder++;
  next();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
