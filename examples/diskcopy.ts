// diskcopy: copies disk xvda to xvdb through blkfront, with `qd` requests of `bs` KiB in flight,
// prints progress, the bytes copied and the throughput, flushes xvdb and powers off.
//
//   xenwasm run --disk in.img,ro --disk out.img build/examples/diskcopy.wasm
//   xenwasm run --disk in.img,ro --disk out.img --cmdline "bs=256 qd=16" build/examples/diskcopy.wasm
//
// Command line (all optional): bs=KiB (request size, default 64), qd=N (requests in flight,
// default 8), flush-every=N (flush xvdb after every N completed writes and print "durable B
// bytes" once the flush completed: the first B bytes of xvdb are then on stable storage), and blkfront's limits: ring-page-order=N queues=N indirect=N (0: direct only)
// persistent=0|1, and linger=S (stay up S seconds after the copy, for xenstore-ls to look at the
// connected devices). When xvda is read-only, diskcopy first checks that a write to it is refused.
import {
  boot, evtchnUpcall, printk, puts, putu, puti, putFixed, panic, poweroff, xsInit, now, xsErrorName,
  cmdlineGetU32, timerSet, NS_PER_SEC, xenbusWatchShutdown,
} from "../assembly/index";
import { BlkFront, BlkfrontConfig, blkfrontAttach, blkRead, blkWrite, blkFlush } from "../drivers/blk/front";
import { XEN_EOPNOTSUPP } from "../assembly/xen/errno";

const XVDA: u32 = 51712, XVDB: u32 = 51728;
let bs: u32 = 64 * 1024;
let qd: u32 = 8;
let flushEvery: u32 = 0;
let linger: u32 = 0;
let src: BlkFront | null = null, dst: BlkFront | null = null;
let ready = 0;
let total: u64 = 0; // sectors to copy
let nextSector: u64 = 0;
let doneSectors: u64 = 0;
let writesDone: u32 = 0;
let flushing = false;
let started: u64 = 0;
let lastTenth: u64 = 0;
let bufs = new Array<usize>();
let chunkSector = new Array<u64>();
let chunkLen = new Array<u32>();
let finished = false;
/** Per chunk (bs bytes of the disk): written; and how many chunks from the start are all written. */
let chunkDone = new Uint8Array(0);
let prefix: u32 = 0;

function opt(key: string, dflt: u32, lo: u32, hi: u32): u32 {
  const v = cmdlineGetU32(key, dflt);
  if (v < <i64>lo || v > <i64>hi) {
    puts("diskcopy: ");
    puts(key);
    puts(" must be ");
    putu(lo);
    puts("..");
    putu(hi);
    printk("");
    panic("bad command line");
  }
  return <u32>v;
}

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  if (xsInit() < 0) panic("diskcopy: no xenstore");
  bs = opt("bs", 64, 1, 4096) * 1024;
  qd = opt("qd", 8, 1, 256);
  flushEvery = opt("flush-every", 0, 0, 1 << 30);
  linger = opt("linger", 0, 0, 3600);
  const cfg = BlkfrontConfig.fromCmdline();
  xenbusWatchShutdown(); // the toolstack (or xenstore-write .../control/shutdown) may stop the copy
  src = blkfrontAttach(XVDA, cfg, onReady, 0);
  dst = blkfrontAttach(XVDB, cfg, onReady, 1);
}

function name(arg: usize): string { return arg == 0 ? "xvda" : "xvdb"; }

function onReady(dev: BlkFront, status: i32, arg: usize): void {
  if (status < 0) {
    puts("diskcopy: ");
    puts(name(arg));
    puts(" failed to connect: ");
    printk(xsErrorName(status));
    panic("no disk");
  }
  puts("diskcopy: ");
  puts(name(arg));
  puts(": ");
  putu(dev.sectors);
  puts(" sectors");
  puts(dev.readonly ? ", read-only" : "");
  puts(", ");
  putu(dev.nrQueues);
  puts(" queue(s), ring order ");
  putu(dev.ringOrder);
  puts(", ");
  putu(dev.maxSegs);
  puts(" segments/request");
  puts(dev.persistent ? ", persistent grants" : "");
  printk(dev.flush ? ", flush" : (dev.barrier ? ", barrier" : ""));
  if (++ready < 2) return;
  const a = src!, b = dst!;
  if (b.readonly) panic("diskcopy: xvdb is read-only");
  if (b.sectors < a.sectors) {
    puts("diskcopy: xvdb (");
    putu(b.sectors);
    puts(" sectors) is smaller than xvda (");
    putu(a.sectors);
    printk(" sectors)");
    panic("xvdb too small");
  }
  total = a.sectors;
  chunkDone = new Uint8Array(<i32>((total * 512 + <u64>bs - 1) / <u64>bs));
  for (let i: u32 = 0; i < qd; i++) {
    const raw = heap.alloc(<usize>bs + 4096);
    bufs.push((raw + 4095) & ~<usize>4095);
    chunkSector.push(0);
    chunkLen.push(0);
  }
  if (a.readonly) {
    // The backend must refuse a write to a read-only disk.
    const r = blkWrite(a, 0, bufs[0], 1, onRoWrite, 0);
    if (r < 0) { puts("diskcopy: write to read-only xvda refused at once: "); printk(xsErrorName(r)); startCopy(); }
    return;
  }
  startCopy();
}

function onRoWrite(status: i32, arg: usize): void {
  if (status == 0) panic("diskcopy: a write to read-only xvda succeeded");
  puts("diskcopy: write to read-only xvda refused: ");
  printk(xsErrorName(status));
  startCopy();
}

function startCopy(): void {
  puts("diskcopy: copying ");
  putu(total * 512);
  puts(" bytes, ");
  putu(bs / 1024);
  puts(" KiB requests, queue depth ");
  putu(qd);
  printk("");
  started = now();
  for (let i: u32 = 0; i < qd; i++) next(i);
  maybeFinish();
}

/** Starts the next chunk in buffer `i` (read from xvda, then write to xvdb). */
function next(i: u32): void {
  if (nextSector >= total) return;
  const n = <u32>min(<u64>(bs / 512), total - nextSector);
  chunkSector[i] = nextSector;
  chunkLen[i] = n;
  nextSector += n;
  const rc = blkRead(src!, chunkSector[i], bufs[i], n, onRead, i);
  if (rc < 0) fatal("read", rc);
}

function onRead(status: i32, arg: usize): void {
  const i = <u32>arg;
  if (status < 0) return fatal("read", status);
  const rc = blkWrite(dst!, chunkSector[i], bufs[i], chunkLen[i], onWritten, i);
  if (rc < 0) fatal("write", rc);
}

function onWritten(status: i32, arg: usize): void {
  const i = <u32>arg;
  if (status < 0) return fatal("write", status);
  doneSectors += chunkLen[i];
  writesDone++;
  chunkDone[<i32>(chunkSector[i] * 512 / <u64>bs)] = 1;
  while (prefix < <u32>chunkDone.length && chunkDone[prefix] != 0) prefix++;
  const tenth = doneSectors * 10 / total;
  if (tenth > lastTenth) {
    lastTenth = tenth;
    puts("diskcopy: ");
    putu(tenth * 10);
    puts("% (");
    putu(doneSectors * 512);
    printk(" bytes)");
  }
  if (flushEvery > 0 && writesDone % flushEvery == 0 && !flushing) {
    // Every write completed so far becomes durable with this flush: report the whole prefix.
    flushing = true;
    const rc = blkFlush(dst!, onPeriodicFlush, <usize>min(<u64>prefix * <u64>bs, total * 512));
    if (rc < 0 && rc != -XEN_EOPNOTSUPP) fatal("flush", rc);
    if (rc < 0) flushing = false;
  }
  next(i);
  maybeFinish();
}

function onPeriodicFlush(status: i32, arg: usize): void {
  flushing = false;
  if (status < 0) return fatal("flush", status);
  puts("diskcopy: durable ");
  putu(<u64>arg);
  printk(" bytes");
  maybeFinish();
}

function maybeFinish(): void {
  if (finished || doneSectors < total || flushing) return;
  finished = true;
  const rc = blkFlush(dst!, onFinalFlush, 0);
  if (rc == -XEN_EOPNOTSUPP) { printk("diskcopy: xvdb offers no flush"); return report(); }
  if (rc < 0) fatal("flush", rc);
}

function onFinalFlush(status: i32, arg: usize): void {
  if (status < 0) return fatal("flush", status);
  report();
}

function report(): void {
  const ns = now() - started;
  const bytes = total * 512;
  puts("diskcopy: copied ");
  putu(bytes);
  puts(" bytes in ");
  putFixed(ns / 1000, 3);
  puts(" ms, ");
  putFixed(ns > 0 ? bytes * 1000 * 100 / ns : 0, 2);
  puts(" MB/s; ");
  putu(src!.requests + dst!.requests);
  puts(" requests, ");
  putu(src!.notifies + dst!.notifies);
  printk(" notifications");
  if (linger == 0) return poweroff();
  puts("diskcopy: staying up for ");
  putu(linger);
  printk(" s (xenstore-ls shows the connected vbds)");
  timerSet(<u64>linger * NS_PER_SEC, onLinger, 0);
}

function onLinger(arg: usize): void {
  poweroff();
}

function fatal(what: string, status: i32): void {
  puts("diskcopy: ");
  puts(what);
  puts(" failed: ");
  puts(xsErrorName(status));
  puts(" (");
  puti(status);
  printk(")");
  panic("I/O error");
}

export function xen_upcall(): void {
  evtchnUpcall();
}
