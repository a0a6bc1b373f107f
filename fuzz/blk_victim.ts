// The victim of target "blkfront": the reference blkfront (drivers/blk/front.ts) on xvda, doing
// valid reads and writes continuously (four requests in flight) against the hostile blkback of
// fuzz/blkfront.ts, re-attaching after each disconnect (fuzz/lib/blk.ts BlkLink, which also checks
// that the stopped device gave back every grant ref: fuzzHeld). A request completed twice counts
// as wrong; a trap is counted by the harness. The data itself is not checked: the backend is
// hostile and may return anything. Reports when told to shut down.
import { boot, evtchnUpcall, panic, printk, xsInit, xenbusWatchShutdown } from "../assembly/index";
import { BlkfrontConfig, blkRead, blkWrite } from "../drivers/blk/front";
import { fuzzInit, fuzzBelow, fuzzChance, fuzzWrong, fuzzReport } from "./lib/fuzz";
import { BlkLink } from "./lib/blk";

const INFLIGHT = 4;
/** Sectors per request at most (two pages per buffer). */
const MAX_SECTORS: u32 = 16;
const BUFS: usize = memory.data(INFLIGHT * 8192, 4096);
const bufs = new StaticArray<usize>(INFLIGHT);
const busy = new StaticArray<bool>(INFLIGHT);
let completions: u32 = 0, failures: u32 = 0;
let link: BlkLink | null = null;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  for (let i = 0; i < INFLIGHT; i++) bufs[i] = BUFS + <usize>i * 8192;
  if (xenbusWatchShutdown(onShutdown, 0) < 0) panic("cannot watch control/shutdown");
  const cfg = new BlkfrontConfig();
  cfg.ringPageOrder = 0;
  cfg.queues = 1;
  link = new BlkLink(51712, cfg, true, onUp);
  if (link!.start() < 0) panic("cannot attach xvda");
}

function onUp(l: BlkLink): void {
  for (let i = 0; i < INFLIGHT; i++) if (!busy[i]) issue(i);
}

/** A random valid read or write of up to 16 sectors into buffer `i` (if the device is up). */
function issue(i: i32): void {
  const l = link!;
  if (!l.up) return;
  const d = l.dev!;
  const n = 1 + fuzzBelow(MAX_SECTORS);
  const sector = <u64>fuzzBelow(<u32>(d.sectors - <u64>n + 1));
  const rc = fuzzChance(50) ? blkWrite(d, sector, bufs[i], n, onDone, <usize>i) : blkRead(d, sector, bufs[i], n, onDone, <usize>i);
  if (rc == 0) busy[i] = true;
}

function onDone(status: i32, arg: usize): void {
  const i = <i32>arg;
  if (!busy[i]) { fuzzWrong("blkfront completed a request twice (buffer " + i.toString() + ")"); return; }
  busy[i] = false;
  completions++;
  if (status < 0) failures++;
  issue(i);
}

function onShutdown(reason: i32, arg: usize): void {
  const l = link!;
  printk("blk victim: " + completions.toString() + " completions (" + failures.toString() + " failed), " + l.connects.toString() + " connections");
  fuzzReport();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
