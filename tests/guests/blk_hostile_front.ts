// Test guest: a hostile blkfront against dom0's blkback. It connects xvda and xvdb with the real
// blkfront, then takes xvda's ring over (its own event handler, raw slots) and sends requests no
// correct frontend sends, one at a time, checking that each gets an error response with its id:
// too many segments, sectors beyond the disk, first/last_sect out of range, a grant ref it never
// granted, a read into a read-only grant, an unknown operation, indirect requests with too many
// segments or an ungranted descriptor page, and (threads) a slot that keeps changing after it was
// pushed. Last, it jumps req_prod: blkback must disconnect xvda (Closing) and keep serving xvdb,
// which the guest then writes and reads back through blkfront.
import {
  boot, evtchnUpcall, evtchnSetHandler, evtchnNotify, printk, puts, putu, puti, panic, poweroff, xsInit,
  frameAlloc, addrToGfn, gnttabGrantAccess, gnttabEndAccess, xenbusWatchState, xenbusStateName,
} from "../../assembly/index";
import { BlkFront, BlkfrontConfig, blkfrontAttach, blkRead, blkWrite } from "../../drivers/blk/front";
import { blkif_request, blkif_request_indirect, blkif_response, BLKIF_OP_READ, BLKIF_OP_INDIRECT, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_OKAY } from "../../assembly/xen/io/blkif";
import { XenbusStateClosing, XenbusStateClosed } from "../../assembly/xen/io/xenbus";

let a: BlkFront | null = null, b: BlkFront | null = null;
let ready = 0;
let ring: usize = 0; // xvda's (single) ring page
let port: u32 = 0;
let prod: u32 = 0, cons: u32 = 0;
let step = 0;
let data: usize = 0, dataRef: u32 = 0, roPage: usize = 0, roRef: u32 = 0, indPage: usize = 0;
let flips: u32 = 0;
let waitingClose = false;

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  const cfg = new BlkfrontConfig();
  cfg.ringPageOrder = 0;
  cfg.queues = 1; // persistent grants stay on: blkback keeps the valid read's grant mapped
  a = blkfrontAttach(51712, cfg, onReady, 0);
  b = blkfrontAttach(51728, new BlkfrontConfig(), onReady, 1);
}

function onReady(d: BlkFront, status: i32, arg: usize): void {
  if (status < 0) panic("attach failed");
  if (++ready < 2) return;
  const d0 = a!;
  ring = d0.queues[0].ring.pages[0].addr;
  port = <u32>d0.queues[0].port;
  prod = d0.queues[0].ring.reqProdPvt;
  cons = prod;
  evtchnSetHandler(port, onResponse, 0);
  data = frameAlloc();
  dataRef = <u32>gnttabGrantAccess(d0.backendId, addrToGfn(data), false);
  roPage = frameAlloc();
  roRef = <u32>gnttabGrantAccess(d0.backendId, addrToGfn(roPage), true);
  indPage = frameAlloc();
  xenbusWatchState(d0.backendPath, onBackState, 0);
  next();
}

const SLOT: usize = 112;
function slot(i: u32): usize { return ring + 64 + <usize>(i & 31) * SLOT; }

function rw(op: u8, nseg: u32, sector: u64, gref: u32, first: u8, last: u8): void {
  const r = changetype<blkif_request>(slot(prod));
  memory.fill(changetype<usize>(r), 0, SLOT);
  r.operation = op;
  r.nr_segments = <u8>nseg;
  r.handle = 51712;
  r.id = 1000 + <u64>step;
  r.sector_number = sector;
  const segs = changetype<usize>(r) + offsetof<blkif_request>("seg");
  for (let i: u32 = 0; i < min(nseg, 11); i++) {
    store<u32>(segs + <usize>i * 8, gref);
    store<u8>(segs + <usize>i * 8, first, 4);
    store<u8>(segs + <usize>i * 8, last, 5);
  }
}

function push(): void {
  prod++;
  atomic.store<u32>(ring, prod); // req_prod
  evtchnNotify(port);
}

const NAMES: StaticArray<string> = [
  "12 segments", "sector beyond the disk", "first_sect > last_sect", "last_sect 8", "a grant ref never granted",
  "a read into a read-only grant", "an unknown operation", "indirect with 1000 segments", "indirect with an ungranted page",
  "a slot changing after the push", "a valid read",
];
const EXPECT: StaticArray<i16> = [
  BLKIF_RSP_ERROR, BLKIF_RSP_ERROR, BLKIF_RSP_ERROR, BLKIF_RSP_ERROR, BLKIF_RSP_ERROR,
  BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR, BLKIF_RSP_ERROR, 99, BLKIF_RSP_OKAY,
];

function next(): void {
  const sectors = a!.sectors;
  if (step >= NAMES.length) return jump();
  switch (step) {
    case 0: rw(BLKIF_OP_READ, 12, 0, dataRef, 0, 7); break;
    case 1: rw(BLKIF_OP_READ, 1, sectors, dataRef, 0, 7); break;
    case 2: rw(BLKIF_OP_READ, 1, 0, dataRef, 5, 2); break;
    case 3: rw(BLKIF_OP_READ, 1, 0, dataRef, 0, 8); break;
    case 4: rw(BLKIF_OP_READ, 1, 0, 7777, 0, 7); break;
    case 5: rw(BLKIF_OP_READ, 1, 0, roRef, 0, 7); break;
    case 6: rw(99, 1, 0, dataRef, 0, 7); break;
    case 7: case 8: {
      const r = changetype<blkif_request_indirect>(slot(prod));
      memory.fill(changetype<usize>(r), 0, SLOT);
      r.operation = BLKIF_OP_INDIRECT;
      r.indirect_op = BLKIF_OP_READ;
      r.nr_segments = step == 7 ? 1000 : 4;
      r.id = 1000 + <u64>step;
      r.handle = 51712;
      store<u32>(changetype<usize>(r) + offsetof<blkif_request_indirect>("indirect_grefs"), step == 7 ? dataRef : 7778);
      break;
    }
    case 9: rw(BLKIF_OP_READ, 1, 0, dataRef, 0, 7); break;
    default: rw(BLKIF_OP_READ, 2, 8, dataRef, 0, 7); break;
  }
  push();
  if (step == 9) {
    // Keep rewriting the pushed slot's segment (threads: while blkback may be reading it) between
    // valid and invalid (an ungranted ref, last_sect 9); the response must still be a clean OKAY
    // or ERROR for our id. Only bytes past the 16 a response overwrites are touched.
    const seg = slot(prod - 1) + offsetof<blkif_request>("seg");
    for (flips = 0; flips < 20000; flips++) {
      atomic.store<u32>(seg, (flips & 1) != 0 ? 7777 : dataRef);
      atomic.store<u8>(seg + 5, (flips & 2) != 0 ? 9 : 7);
    }
  }
}

function onResponse(p: u32, arg: usize): void {
  for (;;) {
    const rp = atomic.load<u32>(ring + 8); // rsp_prod
    if (rp == cons) break;
    const rsp = changetype<blkif_response>(slot(cons));
    const id = rsp.id, st = rsp.status;
    cons++;
    atomic.store<u32>(ring + 12, cons + 1); // rsp_event
    if (step >= NAMES.length) continue;
    puts("hostile: ");
    puts(NAMES[step]);
    puts(": status ");
    puti(st);
    if (id != 1000 + <u64>step) { puts(" WRONG ID "); putu(id); printk(""); panic("wrong response id"); }
    const want = EXPECT[step];
    if (want == 99 ? (st != BLKIF_RSP_OKAY && st != BLKIF_RSP_ERROR) : st != want) { printk(" UNEXPECTED"); panic("unexpected status"); }
    printk(" as expected");
    step++;
    next();
  }
}

/** Jumps req_prod far beyond what the ring can hold: blkback must disconnect xvda. */
function jump(): void {
  printk("hostile: jumping req_prod by 1000");
  waitingClose = true;
  prod += 1000;
  atomic.store<u32>(ring, prod);
  evtchnNotify(port);
}

let sawClosing = false, sawClosed = false, xvdbDone = false;

/**
 * xvda's backend state: Closing (blkback's fatal error), then Closed once blkfront, seeing it,
 * closed its end. The run ends when xvda is Closed and xvdb has been checked.
 */
function onBackState(state: i32, arg: usize): void {
  if (!waitingClose && !sawClosing) return;
  if (state == XenbusStateClosed && sawClosing && !sawClosed) {
    sawClosed = true;
    printk("hostile: xvda backend is Closed");
    released();
    if (xvdbDone) poweroff();
    return;
  }
  if (!waitingClose || (state != XenbusStateClosing && state != XenbusStateClosed)) return;
  waitingClose = false;
  sawClosing = true;
  puts("hostile: xvda backend is ");
  printk(xenbusStateName(state));
  if (state == XenbusStateClosed) { sawClosed = true; released(); }
  // The other device must still work.
  for (let i = 0; i < 4096; i += 4) store<u32>(data + i, 0xabad1dea ^ i);
  const rc = blkWrite(b!, 64, data, 8, onWritten, 0);
  if (rc < 0) panic("xvdb write refused");
}

/**
 * The disconnected backend must have unmapped every grant it kept (the valid read's, a persistent
 * grant): ending our access then succeeds instead of -XEN_EBUSY.
 */
function released(): void {
  const rc = gnttabEndAccess(dataRef);
  puts("hostile: ending access to the grant blkback kept: ");
  puti(rc);
  printk(rc == 0 ? " (released)" : " (still mapped)");
}

function onWritten(status: i32, arg: usize): void {
  if (status < 0) panic("xvdb write failed");
  memory.fill(roPage, 0, 4096);
  if (blkRead(b!, 64, roPage, 8, onReadBack, 0) < 0) panic("xvdb read refused");
}

function onReadBack(status: i32, arg: usize): void {
  if (status < 0) panic("xvdb read failed");
  for (let i = 0; i < 4096; i += 4) if (load<u32>(roPage + i) != (0xabad1dea ^ i)) panic("xvdb data wrong");
  printk("hostile: xvdb still served: wrote and read back 4096 bytes");
  xvdbDone = true;
  if (sawClosed) poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
