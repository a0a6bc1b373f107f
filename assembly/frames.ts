// The frame allocator: page-aligned 4 KiB frames of the guest's own pseudo-physical memory, for
// Xen pages (shared_info, grant-table frames), shared rings and grant buffers.
//
// Where frames come from (docs/ABI.md §2): first frames 4..255 of the low area (the first MiB,
// which the module's data, stack and heap never use; frames 0..3 are the null page, start_info
// and the xenstore and console rings, and are never handed out). When those are gone, frames are
// cut from the AssemblyScript heap: a block of FRAMES_PER_CHUNK frames (plus one for alignment)
// is taken with heap.alloc and kept for good; its frames are recycled through a free list.
//
// Ownership: a frame returned by frameAlloc belongs to the caller until frameFree. A frame given
// to Xen (frameGiveToXen, frameAllocForXen) belongs to Xen for good: frameFree refuses it and the
// allocator never hands it out again, so no frame is ever given to Xen twice.
// This bookkeeping is private to the domain (no other domain or thread touches it): no atomics.
import { XEN_PAGE_SHIFT } from "./xen/io/ring";
import { XEN_EINVAL, XEN_EPERM } from "./xen/errno";

/** log2 of the frame size (Xen's XEN_PAGE_SHIFT). */
export const PAGE_SHIFT: u32 = <u32>XEN_PAGE_SHIFT;
/** The frame size in bytes: 4096. */
export const PAGE_SIZE: usize = (<usize>1) << PAGE_SHIFT;

/** The first frame the allocator may hand out (docs/ABI.md §2: frames 0..3 are taken at boot). */
export const LOW_FIRST_FRAME: u32 = 4;
/** One past the last frame of the low area (docs/ABI.md §2: frames 0..255, the first MiB). */
export const LOW_END_FRAME: u32 = 256;
/** How many frames one heap.alloc chunk adds once the low area is exhausted. */
export const FRAMES_PER_CHUNK: u32 = 16;

// Bitmaps over every frame of memory (the harness never grows memory, so memory.size() is the
// domain's size): bit f of `used` = frame f is handed out (to the guest or to Xen), bit f of
// `xen` = frame f belongs to Xen for good. Allocated once, on first use.
let nrFrames: u32 = 0;
let usedMap: usize = 0;
let xenMap: usize = 0;
// Frames 4..255 are taken lowest-free-first, scanning from this hint.
let lowHint: u32 = LOW_FIRST_FRAME;
// Free heap-backed frames, linked through their first word (0 ends the list).
let heapFree: usize = 0;
let heapFrames: u32 = 0;
let lowInUse: u32 = 0;

function ensureInit(): void {
  if (usedMap != 0) return;
  nrFrames = <u32>(memory.size() << (16 - PAGE_SHIFT));
  const bytes = <usize>((nrFrames + 31) >> 5) << 2;
  usedMap = heap.alloc(bytes);
  xenMap = heap.alloc(bytes);
  memory.fill(usedMap, 0, bytes);
  memory.fill(xenMap, 0, bytes);
  // Frames 0..3 are Xen's boot pages: marked used so that nothing can free or take them.
  for (let f: u32 = 0; f < LOW_FIRST_FRAME; f++) setBit(usedMap, f);
}

@inline function testBit(map: usize, f: u32): bool {
  return (load<u32>(map + ((<usize>f >> 5) << 2)) & (1 << (f & 31))) != 0;
}
@inline function setBit(map: usize, f: u32): void {
  const a = map + ((<usize>f >> 5) << 2);
  store<u32>(a, load<u32>(a) | (1 << (f & 31)));
}
@inline function clearBit(map: usize, f: u32): void {
  const a = map + ((<usize>f >> 5) << 2);
  store<u32>(a, load<u32>(a) & ~(1 << (f & 31)));
}

/** Takes one more chunk of frames from the AssemblyScript heap and puts them on the free list. */
function growFromHeap(): void {
  const block = heap.alloc(<usize>(FRAMES_PER_CHUNK + 1) << PAGE_SHIFT); // aborts when memory is exhausted
  const end = block + (<usize>(FRAMES_PER_CHUNK + 1) << PAGE_SHIFT);
  let a = (block + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  for (; a + PAGE_SIZE <= end; a += PAGE_SIZE) {
    store<usize>(a, heapFree);
    heapFree = a;
    heapFrames++;
  }
}

/**
 * Hands the caller a zeroed, page-aligned 4 KiB frame and returns its address (never 0): from
 * frames 4..255 first, then from the heap. The caller owns it until frameFree. Traps (domain
 * crash) only if memory is exhausted.
 */
export function frameAlloc(): usize {
  ensureInit();
  let addr: usize = 0;
  if (lowInUse < LOW_END_FRAME - LOW_FIRST_FRAME) {
    for (let i: u32 = 0; i < LOW_END_FRAME - LOW_FIRST_FRAME; i++) {
      let f = lowHint + i;
      if (f >= LOW_END_FRAME) f -= LOW_END_FRAME - LOW_FIRST_FRAME;
      if (!testBit(usedMap, f)) {
        setBit(usedMap, f);
        lowInUse++;
        lowHint = f + 1 < LOW_END_FRAME ? f + 1 : LOW_FIRST_FRAME;
        addr = <usize>f << PAGE_SHIFT;
        break;
      }
    }
  }
  if (addr == 0) {
    if (heapFree == 0) growFromHeap();
    addr = heapFree;
    heapFree = load<usize>(addr);
    setBit(usedMap, <u32>(addr >> PAGE_SHIFT));
  }
  memory.fill(addr, 0, PAGE_SIZE);
  return addr;
}

/**
 * Returns a frame the caller got from frameAlloc to the allocator; the caller must hold no
 * grant or ring on it any more. Returns 0, -XEN_EINVAL (not a frame address, frames 0..3, or
 * not handed out: double free) or -XEN_EPERM (the frame was given to Xen, which keeps it).
 */
export function frameFree(addr: usize): i32 {
  ensureInit();
  if ((addr & (PAGE_SIZE - 1)) != 0) return -XEN_EINVAL;
  const f = <u32>(addr >> PAGE_SHIFT);
  if (f < LOW_FIRST_FRAME || f >= nrFrames) return -XEN_EINVAL;
  if (testBit(xenMap, f)) return -XEN_EPERM;
  if (!testBit(usedMap, f)) return -XEN_EINVAL;
  clearBit(usedMap, f);
  if (f < LOW_END_FRAME) {
    lowInUse--;
    if (f < lowHint) lowHint = f;
  } else {
    store<usize>(addr, heapFree);
    heapFree = addr;
  }
  return 0;
}

/**
 * Records that the caller's frame at `addr` (from frameAlloc) now belongs to Xen (it is about to
 * be passed to XENMEM_add_to_physmap): it is never freed nor handed out again. Returns 0,
 * -XEN_EINVAL (not a frame the caller holds) or -XEN_EPERM (already given to Xen).
 */
export function frameGiveToXen(addr: usize): i32 {
  ensureInit();
  if ((addr & (PAGE_SIZE - 1)) != 0) return -XEN_EINVAL;
  const f = <u32>(addr >> PAGE_SHIFT);
  if (f < LOW_FIRST_FRAME || f >= nrFrames || !testBit(usedMap, f)) return -XEN_EINVAL;
  if (testBit(xenMap, f)) return -XEN_EPERM;
  setBit(xenMap, f);
  return 0;
}

/** Allocates a zeroed frame and records it as Xen's for good (frameGiveToXen); returns its address. */
export function frameAllocForXen(): usize {
  const addr = frameAlloc();
  frameGiveToXen(addr);
  return addr;
}

/** Whether the frame at `addr` was given to Xen (shared_info, grant-table frames). */
export function frameIsXens(addr: usize): bool {
  ensureInit();
  const f = <u32>(addr >> PAGE_SHIFT);
  return f < nrFrames && testBit(xenMap, f);
}

/** The guest frame number (GFN) of address `addr`: the number Xen's structs carry. */
@inline export function addrToGfn(addr: usize): u32 {
  return <u32>(addr >> PAGE_SHIFT);
}

/** The address of guest frame `gfn`. */
@inline export function gfnToAddr(gfn: u32): usize {
  return <usize>gfn << PAGE_SHIFT;
}

/** How many of frames 4..255 are free (statistics; heap-backed frames are not counted). */
export function framesLowFree(): u32 {
  return LOW_END_FRAME - LOW_FIRST_FRAME - lowInUse;
}

/** How many frames the allocator has taken from the heap so far (they are kept for good). */
export function framesFromHeap(): u32 {
  return heapFrames;
}
