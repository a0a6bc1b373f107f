// Test guest: netfront under a hostile netback (tests/guests/net_hostile_back.ts, run with
// --backend). It attaches vif 0 with the command line's netfront options (the tests give it
// net-features=none: one queue, one event channel, no scatter-gather, so every frame it is handed
// must lie inside one receive buffer page), sends 8 frames and takes what it receives. Each
// received frame must be the 60-byte pattern the hostile backend sends, lie inside one page, and
// come while the device works; transmit completions must never add up to more than the frames
// sent. Once netfront disables the device it prints the error netfront recorded in xenstore
// (error/device/vif/0/error), checks that a new send is refused, waits a little for anything that
// still comes, prints a summary and powers off. If the device is not disabled within 2 s it says
// so and powers off all the same (the test then fails on the missing line).
import {
  boot, evtchnUpcall, printk, puts, putu, puti, panic, poweroff, xsInit, xsRead, xsErrorName, XBT_NIL, XsReply,
  timerSet, NS_PER_MS,
} from "../../assembly/index";
import { NetFront, NetfrontConfig, netfrontAttach, netfrontSend, netfrontOnTxDone } from "../../drivers/net/front";
import { MAC_BROADCAST, macStore, storeBe16 } from "../../assembly/net/wire";

const SEND = 8;
/** The frame the hostile backend delivers: 60 bytes, byte k = k * 13 + 5. */
const FRAME_LEN: u32 = 60;

let dev: NetFront | null = null;
let ready = false;
let sent: u32 = 0;
let completed: u32 = 0;
let txErrors: u32 = 0;
let received: u32 = 0;
let corrupt: u32 = 0;
let outside: u32 = 0;
let afterDisabled: u32 = 0;
let completedAfter: u32 = 0;
let disabled = false;
let ticks = 0;
const BUF = memory.data(64, 8);

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  const d = netfrontAttach(0, NetfrontConfig.fromCmdline(), onReady, onRx, 0);
  netfrontOnTxDone(d, onTxDone, 0);
  dev = d;
  timerSet(NS_PER_MS, poll, 0);
}

function onReady(d: NetFront, status: i32, arg: usize): void {
  if (status < 0) { puts("net_victim: attach failed: "); puti(status); printk(""); return; }
  ready = true;
  printk("net_victim: connected; sending 8 frames");
  for (let i = 0; i < SEND; i++) {
    memory.fill(BUF, 0, 64);
    macStore(BUF, MAC_BROADCAST);
    macStore(BUF + 6, d.mac);
    storeBe16(BUF + 12, 0x88b5);
    store<u8>(BUF + 14, <u8>i);
    const rc = netfrontSend(d, BUF, 60);
    if (rc < 0) { puts("net_victim: send "); putu(i); puts(" refused: "); printk(xsErrorName(rc)); break; }
    sent++;
  }
}

function onTxDone(d: NetFront, done: u32, errors: u32, arg: usize): void {
  if (disabled || d.error != 0) completedAfter += done;
  completed += done;
  txErrors += errors;
  if (completed > sent) { puts("net_victim: COMPLETED TWICE: "); putu(completed); puts(" completions for "); putu(sent); printk(" frames"); }
}

function onRx(d: NetFront, q: u32, frame: usize, len: u32, offload: u32, gsoType: u32, gsoSize: u32, arg: usize): void {
  received++;
  if (disabled || d.error != 0 || !d.connected) afterDisabled++;
  // Without scatter-gather a frame is one receive buffer: it must not run past its page.
  if ((frame & 4095) + <usize>len > 4096) {
    outside++;
    puts("net_victim: a frame of ");
    putu(len);
    printk(" bytes runs past its receive buffer's page");
    return;
  }
  let ok = len == FRAME_LEN;
  for (let k: u32 = 0; ok && k < len; k++) if (load<u8>(frame + k) != <u8>(k * 13 + 5)) ok = false;
  if (!ok) { corrupt++; puts("net_victim: a received frame of "); putu(len); printk(" bytes is not the pattern"); }
}

/** Every millisecond: has netfront disabled the device? */
function poll(arg: usize): void {
  const d = dev!;
  ticks++;
  if (d.error != 0 && !disabled) {
    disabled = true;
    xsRead(XBT_NIL, "error/" + d.path + "/error", onError, 0);
    return;
  }
  if (ticks >= 2000) {
    printk(ready ? "net_victim: the device is still connected after 2 s" : "net_victim: the device never connected");
    summary(0);
    return;
  }
  timerSet(NS_PER_MS, poll, 0);
}

function onError(status: i32, reply: XsReply, arg: usize): void {
  const d = dev!;
  puts("net_victim: device disabled: ");
  printk(status >= 0 ? reply.str() : "(no error node: " + xsErrorName(status) + ")");
  puts("net_victim: error ");
  puti(d.error);
  puts(", connected ");
  printk(d.connected ? "yes" : "no");
  memory.fill(BUF, 0, 64);
  macStore(BUF, MAC_BROADCAST);
  const rc = netfrontSend(d, BUF, 60);
  puts("net_victim: a new send is refused: ");
  printk(rc < 0 ? xsErrorName(rc) : "NO, it was accepted");
  // The hostile backend keeps answering for a while: nothing of it may reach us now.
  timerSet(50 * NS_PER_MS, summary, 0);
}

function summary(arg: usize): void {
  puts("net_victim: sent ");
  putu(sent);
  puts(", completed ");
  putu(completed);
  puts(" (");
  putu(txErrors);
  puts(" errors), received ");
  putu(received);
  puts(" (");
  putu(corrupt);
  puts(" not the pattern, ");
  putu(outside);
  puts(" past their page); after the device was disabled: ");
  putu(afterDisabled);
  puts(" received, ");
  putu(completedAfter);
  printk(" completed");
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
