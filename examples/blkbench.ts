// blkbench: the block benchmark's guest (`xenwasm bench blk`). Drives xvda through blkfront with
// `qd` requests of `bs` KiB in flight: random or sequential reads or writes, `ops` requests, and
// prints one result line with its own counters. Reads are checked: the disk is first filled (not
// timed) with a pattern of sector numbers, and every sector read must carry its number; a write
// writes the same pattern, so a later read would check it too.
//
// Command line: mode=randread|randwrite|read|write bs=KiB qd=N ops=N seed=N, `prefilled` (the
// harness wrote the pattern into the disk already: no fill), and blkfront's ring-page-order=
// queues= indirect= persistent=.
// Output: "blkbench: mode=.. bs=.. qd=.. ops=.. bytes=.. ns=.. requests=.. notifies=.. events=..
// grantops=.. copied=.. verified=.."
import {
  boot, evtchnUpcall, printk, puts, putu, panic, poweroff, xsInit, xsErrorName, now, cmdlineGet, cmdlineGetU32, cmdlineHas,
} from "../assembly/index";
import { BlkFront, BlkfrontConfig, blkfrontAttach, blkRead, blkWrite } from "../drivers/blk/front";

let mode = "randread";
let bs: u32 = 4096, qd: u32 = 1, ops: u32 = 1000;
let rng: u32 = 1;
let dev: BlkFront | null = null;
let bufs = new Array<usize>();
let sectorOf = new Array<u64>();
let issued: u32 = 0, done: u32 = 0;
let started: u64 = 0;
let seqNext: u64 = 0;
let blocks: u64 = 0;
let write = false, random = true;
let verified: u64 = 0;
let fillNext: u64 = 0;
let base = new StaticArray<u64>(6); // counters at the start of the timed part

function opt(key: string, dflt: u32): u32 {
  const v = cmdlineGetU32(key, dflt);
  if (v <= 0) panic("blkbench: bad command line value");
  return <u32>v;
}

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  const m = cmdlineGet("mode");
  if (m !== null) mode = m;
  if (mode != "randread" && mode != "randwrite" && mode != "read" && mode != "write") panic("blkbench: mode must be randread, randwrite, read or write");
  write = mode == "randwrite" || mode == "write";
  random = mode.startsWith("rand");
  bs = opt("bs", 4) * 1024;
  qd = opt("qd", 1);
  ops = opt("ops", 1000);
  rng = opt("seed", 1) | 1;
  dev = blkfrontAttach(51712, BlkfrontConfig.fromCmdline(), onReady, 0);
}

/** Writes the pattern (each 512-byte sector's first and last words: its number) for `sector` on. */
function pattern(buf: usize, sector: u64, n: u32): void {
  for (let k: u32 = 0; k < n; k++) {
    store<u64>(buf + (<usize>k << 9), sector + k);
    store<u64>(buf + (<usize>k << 9) + 504, ~(sector + k));
  }
}

function check(buf: usize, sector: u64, n: u32): void {
  for (let k: u32 = 0; k < n; k++) {
    if (load<u64>(buf + (<usize>k << 9)) != sector + k || load<u64>(buf + (<usize>k << 9) + 504) != ~(sector + k)) {
      puts("blkbench: DATA ERROR at sector ");
      putu(sector + k);
      printk("");
      panic("data error");
    }
  }
  verified += n;
}

function onReady(d: BlkFront, status: i32, arg: usize): void {
  if (status < 0) { puts("blkbench: attach failed: "); printk(xsErrorName(status)); panic("attach"); }
  blocks = d.sectors / <u64>(bs / 512);
  if (blocks == 0) panic("blkbench: disk smaller than one block");
  for (let i: u32 = 0; i < qd; i++) {
    const raw = heap.alloc(<usize>bs + 4096);
    bufs.push((raw + 4095) & ~<usize>4095);
    sectorOf.push(0);
  }
  if (write || cmdlineHas("prefilled")) return go();
  fill();
}

/** Fills the disk with the pattern (reads check it), one block per request, qd at a time. */
function fill(): void {
  for (let i: u32 = 0; i < qd; i++) fillOne(i);
}

function fillOne(i: u32): void {
  if (fillNext >= blocks) return;
  const s = fillNext * <u64>(bs / 512);
  fillNext++;
  pattern(bufs[i], s, bs / 512);
  if (blkWrite(dev!, s, bufs[i], bs / 512, onFilled, i) < 0) panic("fill");
}

let filled: u64 = 0;
function onFilled(status: i32, arg: usize): void {
  if (status < 0) panic("fill failed");
  if (++filled == blocks) return go();
  fillOne(<u32>arg);
}

function go(): void {
  const d = dev!;
  base[0] = d.requests; base[1] = d.notifies; base[2] = d.events; base[3] = d.grantOps; base[4] = d.bytesCopied;
  started = now();
  for (let i: u32 = 0; i < qd && issued < ops; i++) issue(i);
}

function issue(i: u32): void {
  let block: u64;
  if (random) {
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    block = <u64>rng % blocks;
  } else {
    block = seqNext;
    seqNext = (seqNext + 1) % blocks;
  }
  const s = block * <u64>(bs / 512);
  sectorOf[i] = s;
  issued++;
  let rc: i32;
  if (write) {
    pattern(bufs[i], s, bs / 512);
    rc = blkWrite(dev!, s, bufs[i], bs / 512, onDone, i);
  } else rc = blkRead(dev!, s, bufs[i], bs / 512, onDone, i);
  if (rc < 0) panic("blkbench: submit failed");
}

function onDone(status: i32, arg: usize): void {
  const i = <u32>arg;
  if (status < 0) { puts("blkbench: request failed: "); printk(xsErrorName(status)); panic("I/O error"); }
  if (!write) check(bufs[i], sectorOf[i], bs / 512);
  done++;
  if (issued < ops) issue(i);
  else if (done == ops) report();
}

function report(): void {
  const ns = now() - started;
  const d = dev!;
  puts("blkbench: mode=");
  puts(mode);
  puts(" bs="); putu(bs);
  puts(" qd="); putu(qd);
  puts(" ops="); putu(ops);
  puts(" bytes="); putu(<u64>ops * bs);
  puts(" ns="); putu(ns);
  puts(" requests="); putu(d.requests - base[0]);
  puts(" notifies="); putu(d.notifies - base[1]);
  puts(" events="); putu(d.events - base[2]);
  puts(" grantops="); putu(d.grantOps - base[3]);
  puts(" copied="); putu(d.bytesCopied - base[4]);
  puts(" verified="); putu(verified);
  printk("");
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
