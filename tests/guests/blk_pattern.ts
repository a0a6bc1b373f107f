// Test guest: data integrity through blkfront/blkback. Writes seeded patterns to random ranges of
// xvda (qd requests at once, each in its own stripe so none overlap), reads ranges back and
// checks them against a per-sector model, discards some ranges (they must read back as zeroes),
// flushes now and then, reads the whole disk at the end and prints an FNV-1a hash of its
// expected content; the test hashes the image file and compares.
//
// Command line: seed=N ops=N maxkib=N qd=N, blkfront's ring-page-order= queues= indirect=
// persistent=, and `unaligned` (buffers start 512 bytes into a page: first_sect != 0).
import {
  boot, evtchnUpcall, printk, puts, putu, putx, panic, poweroff, xsInit, xsErrorName, cmdlineGetU32, cmdlineHas,
} from "../../assembly/index";
import { BlkFront, BlkfrontConfig, blkfrontAttach, blkRead, blkWrite, blkFlush, blkDiscard } from "../../drivers/blk/front";
import { XEN_EOPNOTSUPP } from "../../assembly/xen/errno";

let seed: u32 = 1, ops: u32 = 200, maxSectors: u32 = 256, qd: u32 = 4;
let unaligned = false;
let dev: BlkFront | null = null;
let gen: StaticArray<u16> = new StaticArray<u16>(0); // per sector: 0 = zero, else the generation written
let rng: u32 = 0;
let issued: u32 = 0, completed: u32 = 0, discards: u32 = 0, flushes: u32 = 0, verified: u64 = 0;
let bufs = new Array<usize>();
let slotSector = new Array<u64>(), slotCount = new Array<u32>(), slotKind = new Array<i32>(), slotGen = new Array<u16>();
let generation: u16 = 0;
let finalPass = false;
let finalSector: u64 = 0;
let hash: u32 = 0x811c9dc5;

function next32(): u32 {
  rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
  return rng;
}

/** The 32-bit word `w` of sector `s` written in generation `g` (0: zeroes). */
@inline function word(s: u64, g: u16, w: u32): u32 {
  if (g == 0) return 0;
  let x = seed ^ (<u32>s * 0x9e3779b1) ^ (<u32>g * 0x85ebca6b) ^ (w * 0xc2b2ae35);
  x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16;
  return x | 1;
}

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  seed = <u32>cmdlineGetU32("seed", 1);
  rng = seed | 1;
  ops = <u32>cmdlineGetU32("ops", 200);
  maxSectors = <u32>cmdlineGetU32("maxkib", 128) * 2;
  qd = <u32>cmdlineGetU32("qd", 4);
  unaligned = cmdlineHas("unaligned");
  dev = blkfrontAttach(51712, BlkfrontConfig.fromCmdline(), onReady, 0);
}

function onReady(d: BlkFront, status: i32, arg: usize): void {
  if (status < 0) { puts("pattern: attach failed: "); printk(xsErrorName(status)); panic("attach"); }
  puts("pattern: connected: ");
  putu(d.nrQueues);
  puts(" queue(s), ring order ");
  putu(d.ringOrder);
  puts(", ");
  putu(d.maxSegs);
  puts(" segments");
  puts(d.persistent ? ", persistent" : "");
  puts(d.flush ? ", flush" : "");
  printk(d.discard ? ", discard" : "");
  gen = new StaticArray<u16>(<i32>d.sectors);
  for (let i: u32 = 0; i < qd; i++) {
    const raw = heap.alloc(<usize>maxSectors * 512 + 8192);
    bufs.push(((raw + 4095) & ~<usize>4095) + (unaligned ? 512 : 0));
    slotSector.push(0); slotCount.push(0); slotKind.push(0); slotGen.push(0);
  }
  // The disk starts as the model says: all zero (the test gives a zeroed image).
  for (let i: u32 = 0; i < qd; i++) start(i);
}

function fill(buf: usize, s: u64, n: u32, g: u16): void {
  for (let k: u32 = 0; k < n; k++) for (let w: u32 = 0; w < 128; w++) store<u32>(buf + (<usize>k << 9) + (<usize>w << 2), word(s + k, g, w));
}

function check(buf: usize, s: u64, n: u32): void {
  for (let k: u32 = 0; k < n; k++) {
    const g = unchecked(gen[<i32>(s + k)]);
    for (let w: u32 = 0; w < 128; w++) {
      const v = load<u32>(buf + (<usize>k << 9) + (<usize>w << 2));
      if (v != word(s + k, g, w)) {
        puts("pattern: MISMATCH at sector ");
        putu(s + k);
        puts(" word ");
        putu(w);
        puts(": got 0x");
        putx(v);
        puts(", generation ");
        putu(g);
        puts(" expects 0x");
        putx(word(s + k, g, w));
        printk("");
        panic("data mismatch");
      }
    }
  }
  verified += n;
}

/** Starts the next operation in slot `i` (in stripe i of the disk, so slots never overlap). */
function start(i: u32): void {
  const d = dev!;
  if (issued >= ops) { if (completed == issued && !finalPass) finish(); return; }
  issued++;
  const stripe = d.sectors / <u64>qd;
  const count = 1 + next32() % min(maxSectors, <u32>stripe);
  const sector = <u64>i * stripe + <u64>(next32() % <u32>(stripe - count + 1));
  slotSector[i] = sector;
  slotCount[i] = count;
  const r = next32() % 100;
  let rc: i32;
  if (r < 45) {
    generation = generation == 0xffff ? 1 : generation + 1;
    slotGen[i] = generation;
    slotKind[i] = 0;
    fill(bufs[i], sector, count, generation);
    rc = blkWrite(d, sector, bufs[i], count, onDone, i);
  } else if (r < 90) {
    slotKind[i] = 1;
    rc = blkRead(d, sector, bufs[i], count, onDone, i);
  } else if (r < 95) {
    slotKind[i] = 2;
    rc = blkDiscard(d, sector, count, false, onDone, i);
    if (rc == -XEN_EOPNOTSUPP) { slotKind[i] = 1; rc = blkRead(d, sector, bufs[i], count, onDone, i); }
  } else {
    slotKind[i] = 3;
    rc = blkFlush(d, onDone, i);
    if (rc == -XEN_EOPNOTSUPP) { slotKind[i] = 1; rc = blkRead(d, sector, bufs[i], count, onDone, i); }
  }
  if (rc < 0) { puts("pattern: submit failed: "); printk(xsErrorName(rc)); panic("submit"); }
}

function onDone(status: i32, arg: usize): void {
  const i = <u32>arg;
  if (status < 0) { puts("pattern: request failed: "); printk(xsErrorName(status)); panic("I/O error"); }
  completed++;
  const kind = slotKind[i];
  const s = slotSector[i], n = slotCount[i];
  if (kind == 0) for (let k: u32 = 0; k < n; k++) unchecked(gen[<i32>(s + k)] = slotGen[i]);
  else if (kind == 1) check(bufs[i], s, n);
  else if (kind == 2) { discards++; for (let k: u32 = 0; k < n; k++) unchecked(gen[<i32>(s + k)] = 0); }
  else flushes++;
  start(i);
}

/** Reads the whole disk back, checking and hashing it. */
function finish(): void {
  finalPass = true;
  finalSector = 0;
  readNext();
}

function readNext(): void {
  const d = dev!;
  if (finalSector >= d.sectors) {
    puts("pattern: ");
    putu(ops);
    puts(" operations (");
    putu(discards);
    puts(" discards, ");
    putu(flushes);
    puts(" flushes), ");
    putu(verified);
    puts(" sectors verified, image fnv1a ");
    putx(hash, 8);
    printk("");
    poweroff();
    return;
  }
  const n = <u32>min(<u64>maxSectors, d.sectors - finalSector);
  slotCount[0] = n;
  const rc = blkRead(d, finalSector, bufs[0], n, onFinalRead, 0);
  if (rc < 0) panic("final read");
}

function onFinalRead(status: i32, arg: usize): void {
  if (status < 0) panic("final read failed");
  const n = slotCount[0];
  check(bufs[0], finalSector, n);
  const b = bufs[0];
  for (let k: usize = 0; k < <usize>n * 512; k++) { hash ^= load<u8>(b + k); hash *= 0x01000193; }
  finalSector += n;
  readNext();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
