// Test guest: the frontend under a hostile backend (tests/guests/blk_hostile_back.ts). Issues 8
// reads at once on xvda and checks that each completes exactly once, that the device ends up
// disabled with an error, and that a later request is refused at once.
import { boot, evtchnUpcall, printk, puts, putu, puti, panic, poweroff, xsInit, xsErrorName, frameAlloc } from "../../assembly/index";
import { BlkFront, BlkfrontConfig, blkfrontAttach, blkRead } from "../../drivers/blk/front";

const N = 8;
const count = new StaticArray<i32>(N);
let done = 0, failed = 0;
let dev: BlkFront | null = null;
let buf: usize = 0;

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  dev = blkfrontAttach(51712, new BlkfrontConfig(), onReady, 0);
}

function onReady(d: BlkFront, status: i32, arg: usize): void {
  if (status < 0) panic("attach failed");
  printk("victim: connected; 8 reads");
  for (let i = 0; i < N; i++) {
    const rc = blkRead(d, <u64>i * 8, frameAlloc(), 8, onDone, i);
    if (rc < 0) panic("submit refused");
  }
}

function onDone(status: i32, arg: usize): void {
  const i = <i32>arg;
  count[i]++;
  if (count[i] > 1) { puts("victim: request "); putu(i); printk(" completed twice"); panic("completed twice"); }
  done++;
  if (status < 0) failed++;
  if (done < N) return;
  const d = dev!;
  puts("victim: ");
  putu(N);
  puts(" requests completed once each, ");
  putu(failed);
  puts(" failed; device error ");
  puti(d.error);
  printk(d.connected ? " (still connected)" : " (disabled)");
  const rc = blkRead(d, 0, frameAlloc(), 8, onDone, 0);
  puts("victim: a new read is refused: ");
  printk(xsErrorName(rc));
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
