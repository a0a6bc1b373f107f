// sdk_smoke: one guest that exercises the SDK core against the harness and reports each check.
// Prints "ok NAME" or "FAIL NAME: got X, want Y" per check and a last line
// "sdk_smoke: N checks, M failed"; powers off when none failed, crashes otherwise.
//
//   xenwasm run build/tests/sdk_smoke.wasm --cmdline "self=1"
//
// `self=` is this domain's id (default 1): the grant checks grant a page to ourselves and map it
// back, which Xen allows, so that end_access-while-mapped can be tested without a second domain.
// Stages: xen_start (frames, command line, SharedPage, event channels, grants), then an IPI
// handler (event delivery), then timers (order, cancel), then the report.
import {
  boot, evtchnUpcall, cmdline, cmdlineGet, cmdlineGetU32, cmdlineHas, cmdlineWord, parseU32, puts, puti, printk,
  poweroff, panic, now, sharedInfoAddr, vcpuInfoAddr,
  frameAlloc, frameFree, frameIsXens, framesLowFree, addrToGfn, PAGE_SIZE, LOW_FIRST_FRAME, LOW_END_FRAME,
  evtchnAllocUnbound, evtchnBindIpi, evtchnNotify, evtchnClose, evtchnIsPending, NR_EVENT_CHANNELS,
  evtchnUsesFifo, evtchnMaxPorts, evtchnSetPriority,
  gnttabGrantAccess, gnttabGrantAccessRef, gnttabEndAccess, gnttabEntryFlags, gnttabMap, gnttabUnmap,
  gnttabCopyFrom, gnttabCopyTo, SharedPage, PAGE_GRANT,
  timerSet, timerSetAt, timerCancel, timersPending, NS_PER_MS, fmtU64, fmtHex, pvclockScale,
} from "../../assembly/index";
import { XEN_EINVAL, XEN_EPERM, XEN_EBUSY, XEN_EEXIST, XEN_EFAULT } from "../../assembly/xen/errno";
import { GNTTAB_NR_RESERVED_ENTRIES, GNTMAP_host_map, GNTMAP_readonly, GNTST_okay, GTF_reading, GTF_writing,
  GTF_permit_access } from "../../assembly/xen/grant_table";
import { domid_t } from "../../assembly/xen/xen";

let checks: u32 = 0;
let failed: u32 = 0;

function expect(name: string, got: i64, want: i64): void {
  checks++;
  if (got == want) {
    puts("ok "); printk(name);
  } else {
    failed++;
    puts("FAIL "); puts(name); puts(": got "); puti(got); puts(", want "); puti(want); puts("\n");
  }
}

function expectTrue(name: string, cond: bool): void {
  expect(name, cond ? 1 : 0, 1);
}

let self: domid_t = 1;

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  printk("sdk_smoke: start");
  const s = cmdlineGetU32("self", 1);
  if (s < 0) panic("bad self=");
  self = <domid_t>s;
  expectTrue("shared_info mapped outside frames 0..3", sharedInfoAddr() >= (<usize>LOW_FIRST_FRAME << 12));
  // FIFO unless the command line says xen_fifo_events=0; then vcpu_info sits beside the control block.
  const fifo = cmdlineGet("xen_fifo_events") != "0";
  expectTrue("event ABI as the command line asks", evtchnUsesFifo() == fifo);
  expectTrue("vcpu_info placed", fifo ? frameIsXens(vcpuInfoAddr() & ~<usize>4095) && vcpuInfoAddr() != sharedInfoAddr() + 64 : vcpuInfoAddr() != 0);
  expectTrue("shared_info frame is Xen's", frameIsXens(sharedInfoAddr()));
  checkCmdline();
  checkFormatting();
  checkConsoleOverflow();
  checkFrames();
  checkSharedPage();
  checkEvtchn();
  checkGrants();
  // Event delivery: an IPI to ourselves runs its handler from the next upcall.
  const ipi = evtchnBindIpi(onIpi, 0x1234);
  expectTrue("bind_ipi returns a port", ipi > 0);
  expect("notify ipi", evtchnNotify(<u32>ipi), 0);
  expectTrue("ipi pending before the upcall", evtchnIsPending(<u32>ipi));
}

export function xen_upcall(): void {
  evtchnUpcall();
}

function checkCmdline(): void {
  puts("cmdline: \""); puts(cmdline()); printk("\"");
  expect("parseU32 decimal", parseU32("4096"), 4096);
  expect("parseU32 hex", parseU32("0x1F"), 31);
  expect("parseU32 malformed", parseU32("12a"), -1);
  expect("parseU32 too large", parseU32("4294967296"), -1);
  expect("parseU32 empty", parseU32(""), -1);
  expectTrue("cmdlineGet absent key", cmdlineGet("no-such-key") === null);
  expectTrue("cmdlineHas absent flag", !cmdlineHas("no-such-flag"));
  expectTrue("cmdlineWord past the end", cmdlineWord(1000) === null);
}

/** Writes 3000 bytes without a newline: more than the 2048-byte ring, so the rest goes to console_io. */
function checkConsoleOverflow(): void {
  puts("console overflow: ");
  for (let i = 0; i < 60; i++) puts("0123456789012345678901234567890123456789012345678.");
  printk("");
  expectTrue("console survived overflow", true);
}

function checkFormatting(): void {
  const buf = heap.alloc(32);
  expect("fmtU64 0", fmtU64(buf, 0), 1);
  expect("fmtU64 u64 max length", fmtU64(buf, u64.MAX_VALUE), 20);
  expect("fmtHex padding", fmtHex(buf, 0xAB, 4), 4);
  expect("fmtHex digit", load<u8>(buf + 2), 0x61);
  heap.free(buf);
  expect("pvclockScale identity (ABI §5)", pvclockScale(123456789, 0x80000000, 1), 123456789);
  expect("pvclockScale right shift", pvclockScale(1000, 0x80000000, -1), 250);
}

function checkFrames(): void {
  const lowFree = framesLowFree();
  // Take every low frame and a few more: the rest come from the heap.
  const n = <i32>lowFree + 20;
  const got = new StaticArray<usize>(n);
  let aligned = true, zeroed = true, outsideBoot = true, distinct = true;
  let low: u32 = 0;
  for (let i = 0; i < n; i++) {
    const a = frameAlloc();
    unchecked(got[i] = a);
    if ((a & (PAGE_SIZE - 1)) != 0) aligned = false;
    if ((a >> 12) < <usize>LOW_FIRST_FRAME) outsideBoot = false;
    if ((a >> 12) < <usize>LOW_END_FRAME) low++;
    for (let k: usize = 0; k < PAGE_SIZE; k += 8) if (load<u64>(a + k) != 0) { zeroed = false; break; }
    store<u64>(a, 0xDEADBEEF); // dirty it: the next owner must get it zeroed again
    for (let j = 0; j < i; j++) if (unchecked(got[j]) == a) distinct = false;
  }
  expectTrue("frames page-aligned", aligned);
  expectTrue("frames zeroed", zeroed);
  expectTrue("frames never 0..3", outsideBoot);
  expectTrue("frames distinct", distinct);
  expect("low frames handed out first", low, lowFree);
  expect("low area exhausted", framesLowFree(), 0);
  expect("free frame 3 refused", frameFree(0x3000), -XEN_EINVAL);
  expect("free unaligned refused", frameFree(unchecked(got[0]) + 4), -XEN_EINVAL);
  expect("free Xen's shared_info frame refused", frameFree(sharedInfoAddr()), -XEN_EPERM);
  let freed = 0;
  for (let i = 0; i < n; i++) if (frameFree(unchecked(got[i])) == 0) freed++;
  expect("free every frame", freed, n);
  expect("double free refused", frameFree(unchecked(got[0])), -XEN_EINVAL);
  expect("low frames back", framesLowFree(), lowFree);
  const again = frameAlloc();
  expect("reallocated frame zeroed", load<u64>(again), 0);
  frameFree(again);
}

function checkSharedPage(): void {
  const a = frameAlloc();
  const p = SharedPage.local(a);
  expect("local store32", p.store32(8, 0x11223344), 0);
  expect("local load32", p.load32(8), 0x11223344);
  expect("local cmpxchg32 hit", p.cmpxchg32(8, 0x11223344, 5), 0x11223344);
  expect("local cmpxchg32 miss", p.cmpxchg32(8, 0x11223344, 6), 5);
  expect("local store32 misaligned", p.store32(2, 1), -XEN_EINVAL);
  expect("local store32 past the page", p.store32(4096, 1), -XEN_EFAULT);
  p.load32(4094);
  expect("local load32 error recorded", p.err, -XEN_EINVAL);
  expect("local copyOut past the page", p.copyOut(4000, a, 200), -XEN_EFAULT);
  expect("local copyIn", p.copyIn(100, a + 8, 4), 0);
  expect("local copyIn landed", load<u32>(a + 100), 5);
  expect("unmap of a local page unbinds it", gnttabUnmap(p), GNTST_okay);
  expect("unbound store32", p.store32(0, 1), -XEN_EINVAL);
  frameFree(a);
}

function checkEvtchn(): void {
  const port = evtchnAllocUnbound(0);
  expectTrue("alloc_unbound for domain 0 returns a port", port > 2);
  expect("close", evtchnClose(<u32>port), 0);
  expect("close again", evtchnClose(<u32>port), -XEN_EINVAL);
  expect("close out of range", evtchnClose(evtchnMaxPorts()), -XEN_EINVAL);
  expect("port range of the ABI", evtchnMaxPorts(), evtchnUsesFifo() ? 1 << 17 : NR_EVENT_CHANNELS);
  const ipi = evtchnBindIpi();
  expect("priorities exist only under FIFO", evtchnSetPriority(<u32>ipi, 3), evtchnUsesFifo() ? 0 : -38);
  expect("priority range", evtchnSetPriority(<u32>ipi, 16), evtchnUsesFifo() ? -XEN_EINVAL : -38);
  expect("close ipi", evtchnClose(<u32>ipi), 0);
}

function checkGrants(): void {
  const a = frameAlloc();
  store<u32>(a, 0xC0FFEE);
  const ref = gnttabGrantAccess(self, addrToGfn(a), false);
  expectTrue("grant_access skips the reserved refs", ref >= <i32>GNTTAB_NR_RESERVED_ENTRIES);
  expect("grant entry flags", gnttabEntryFlags(<u32>ref), GTF_permit_access);
  expect("explicit ref already granted", gnttabGrantAccessRef(<u32>ref, self, addrToGfn(a), false), -XEN_EEXIST);

  const m = new SharedPage();
  expect("map own grant", gnttabMap(m, self, <u32>ref, GNTMAP_host_map), GNTST_okay);
  expect("mapped page kind", m.kind, PAGE_GRANT);
  expect("mapped load32", m.load32(0), 0xC0FFEE);
  expect("mapped store32", m.store32(4, 77), 0);
  expect("mapped store32 landed locally", load<u32>(a + 4), 77);
  expect("mapped cmpxchg32", m.cmpxchg32(4, 77, 78), 77);
  expect("mapped store32 past the page", m.store32(4096, 1), -XEN_EFAULT);
  expect("map into a bound page refused", gnttabMap(m, self, <u32>ref, GNTMAP_host_map), -1);
  expectTrue("entry shows reading|writing while mapped", (gnttabEntryFlags(<u32>ref) & (GTF_reading | GTF_writing)) == (GTF_reading | GTF_writing));
  expect("end_access while mapped is busy", gnttabEndAccess(<u32>ref), -XEN_EBUSY);
  expect("entry still granted after busy", gnttabEntryFlags(<u32>ref) & GTF_permit_access, GTF_permit_access);

  const dst = frameAlloc();
  expect("copy from grant across a page boundary", gnttabCopyFrom(self, <u32>ref, 0, dst + 4094, 8), GNTST_okay);
  expect("copy landed", load<u16>(dst + 4094) | (<u32>load<u16>(dst + 4096) << 16), 0xC0FFEE);
  store<u32>(dst, 99);
  expect("copy to grant", gnttabCopyTo(self, <u32>ref, 8, dst, 4), GNTST_okay);
  expect("copy to grant landed", load<u32>(a + 8), 99);

  expect("unmap", gnttabUnmap(m), GNTST_okay);
  expect("mapped access after unmap", m.store32(0, 1), -XEN_EINVAL);
  expect("end_access after unmap", gnttabEndAccess(<u32>ref), 0);
  expect("entry cleared", gnttabEntryFlags(<u32>ref), 0);
  expect("end_access twice", gnttabEndAccess(<u32>ref), -XEN_EINVAL);
  expectTrue("map after end_access fails", gnttabMap(m, self, <u32>ref, GNTMAP_host_map) != GNTST_okay);

  const ro = gnttabGrantAccess(self, addrToGfn(a), true);
  expect("writable map of a read-only grant fails", gnttabMap(m, self, <u32>ro, GNTMAP_host_map), -1);
  expect("read-only map", gnttabMap(m, self, <u32>ro, GNTMAP_host_map | GNTMAP_readonly), GNTST_okay);
  expect("write through a read-only map", m.store32(0, 1), -XEN_EPERM);
  expect("unmap read-only", gnttabUnmap(m), GNTST_okay);
  expect("end read-only grant", gnttabEndAccess(<u32>ro), 0);

  expect("well-known reserved ref", gnttabGrantAccessRef(0, self, addrToGfn(a), true), 0);
  expect("end well-known reserved ref", gnttabEndAccess(0), 0);
  frameFree(dst);
  frameFree(a);
}

// ---------------------------------------------------------------------------------------------
// Stage 2: event delivery, then timers.

let order: u32 = 0;
let started: u64 = 0;

function onIpi(port: u32, arg: usize): void {
  expect("ipi handler arg", arg, 0x1234);
  expectTrue("ipi pending bit cleared before the handler", !evtchnIsPending(port));
  expect("close ipi", evtchnClose(port), 0);
  started = now();
  // Absolute deadlines: the order must not depend on how long the guest takes between the calls.
  expectTrue("timer 2 ms", timerSetAt(started + 2 * NS_PER_MS, onLate, 2) > 0);
  expectTrue("timer 1 ms", timerSetAt(started + NS_PER_MS, onEarly, 1) > 0);
  const c = timerSet(NS_PER_MS, onCancelled, 3);
  expect("cancel", timerCancel(c), 0);
  expect("cancel twice", timerCancel(c), -XEN_EINVAL);
  expect("timers pending", timersPending(), 2);
}

function onEarly(arg: usize): void {
  expect("earlier timer first", order++, 0);
  expectTrue("1 ms passed", now() - started >= NS_PER_MS);
}

function onCancelled(arg: usize): void {
  expect("cancelled timer never runs", 1, 0);
}

function onLate(arg: usize): void {
  expect("later timer second", order++, 1);
  expectTrue("2 ms passed", now() - started >= 2 * NS_PER_MS);
  puts("sdk_smoke: "); puti(checks); puts(" checks, "); puti(failed); printk(" failed");
  if (failed != 0) panic("sdk_smoke failed");
  poweroff();
}
