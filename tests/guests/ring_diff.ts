// ring_diff: assembly/ring.ts driven operation by operation from a test (tests/ring/), which
// applies the same operations to a reference model of io/ring.h and compares. Not a bootable
// guest: the test instantiates it directly with its own memory and stub `xen.*` imports.
//
// Setup: the test chooses the frames of the ring's pages (pageFrame, any frames of 4..255, in
// any order: page i of the ring is the frame given for i) and zeroes them, then calls create.
// Each end sees the pages either as local pages or as mapped grants whose handle is
// FRONT_HANDLE + i (front) or BACK_HANDLE + i (back): the test's grant_* stubs resolve a handle
// to the frame of page i, so both ends work on the same bytes whatever their page kind.
//
// Every operation takes `end` (0: front, 1: back, as RING_FRONT / RING_BACK) and returns what
// the Ring method returns (bool as 0/1). Buffers for produce/consume are the test's business:
// `scratch()` is a free 16 KiB area.
import { SharedPage, PAGE_GRANT } from "../../assembly/gnttab";
import { Ring, FrontRing, BackRing, RING_FRONT } from "../../assembly/ring";

const MAX_PAGES = 16;
const FRONT_HANDLE: u32 = 1000;
const BACK_HANDLE: u32 = 2000;
/** create() flags: which end sees the pages as mapped grants. */
const FRONT_GRANT: u32 = 1;
const BACK_GRANT: u32 = 2;

const frames = new StaticArray<u32>(MAX_PAGES);
const SCRATCH = memory.data(16384, 16);

let front: FrontRing | null = null;
let back: BackRing | null = null;

/** Sets the frame of ring page `i`. */
export function pageFrame(i: u32, frame: u32): void {
  frames[i] = frame;
}

function makePages(n: u32, grant: bool, handleBase: u32): StaticArray<SharedPage> {
  const pages = new StaticArray<SharedPage>(<i32>n);
  for (let i: u32 = 0; i < n; i++) {
    const p = SharedPage.local(<usize>frames[i] << 12);
    if (grant) {
      p.kind = PAGE_GRANT;
      p.addr = 0;
      p.handle = handleBase + i;
    }
    pages[i] = p;
  }
  return pages;
}

/**
 * Builds a front and a back ring over `n` pages (frames set with pageFrame) with `slotSize`-byte
 * slots; `flags`: FRONT_GRANT / BACK_GRANT. Returns the ring size, or -1 for a bad `n`.
 */
export function create(n: u32, slotSize: u32, flags: u32): i32 {
  if (n == 0 || n > <u32>MAX_PAGES) return -1;
  front = new FrontRing(makePages(n, (flags & FRONT_GRANT) != 0, FRONT_HANDLE), slotSize);
  back = new BackRing(makePages(n, (flags & BACK_GRANT) != 0, BACK_HANDLE), slotSize);
  return <i32>front!.size;
}

function ring(end: i32): Ring {
  return end == RING_FRONT ? changetype<Ring>(front!) : changetype<Ring>(back!);
}

/** The front sets the shared ring up at `start` (SHARED_RING_INIT), the back attaches at `start`. */
export function init(start: u32): i32 {
  const rc = front!.init(start);
  if (rc < 0) return rc;
  return back!.attach(start);
}
export function attach(end: i32, start: u32): i32 { return ring(end).attach(start); }
export function ringSize(): u32 { return front!.size; }
export function free(end: i32): u32 { return ring(end).free(); }
export function full(end: i32): bool { return ring(end).full(); }
export function produce(end: i32, src: usize, len: u32): i32 { return ring(end).produce(src, len); }
export function push(end: i32): i32 { return ring(end).push(); }
export function pushNotify(end: i32): bool { return ring(end).pushAndCheckNotify(); }
export function unconsumed(end: i32): i32 { return ring(end).unconsumed(); }
export function consume(end: i32, dst: usize, len: u32): i32 { return ring(end).consume(dst, len); }
export function produceBatch(end: i32, src: usize, count: u32): i32 { return ring(end).produceBatch(src, count); }
export function consumeBatch(end: i32, dst: usize, max: u32): i32 { return ring(end).consumeBatch(dst, max); }
export function finalCheck(end: i32): i32 { return ring(end).finalCheck(); }
export function prodPvt(end: i32): u32 { return ring(end).prodPvt; }
export function cons(end: i32): u32 { return ring(end).cons; }
export function pushed(end: i32): u32 { return ring(end).pushed; }
export function err(end: i32): i32 { return ring(end).err; }
export function header(end: i32, off: u32): u32 { return ring(end).header(off); }
export function slotOffset(idx: u32): u32 { return front!.slotOffset(idx); }
export function requestConsOverflow(c: u32): bool { return back!.requestConsOverflow(c); }
export function requestProdOverflow(p: u32): bool { return back!.requestProdOverflow(p); }
export function responseProdOverflow(p: u32): bool { return front!.responseProdOverflow(p); }
export function scratch(): usize { return SCRATCH; }
