// Copies between two guests' memories (GNTTABOP_copy and the grant_copy_* imports): the one
// place that moves bytes from one domain's SharedArrayBuffer to another's.
//
// `TypedArray.prototype.set` between two SharedArrayBuffers is correct but slow: V8 copies
// shared memory with relaxed atomic word accesses (`relaxed_memmove`, 8 bytes at a time),
// about 210 ns for 3.5 KiB where `memcpy` takes about 100 (docs/benchmarks.md, "Where the time
// goes"). Node's buffer binding has `copyArrayBuffer(dst, dstOffset, src, srcOffset, len)`, a
// plain `memcpy` that accepts SharedArrayBuffers; it is internal (reached through the deprecated
// `process.binding`) and checks nothing but its argument types (a wrong type aborts the
// process), so it is used only when it exists and passes a self-test at load, and only with
// ranges the caller has already checked. Otherwise `set` does the copy. Both give a racing
// reader or writer in another thread some mix of old and new bytes, as Xen's own memcpy does.
// XENWASM_NO_NATIVE_MEMCPY=1 in the environment selects `set` (to compare, or as a way out).
// The RAM disk does not use it: there memcpy measured slower (bindings/devices/blk.ts).

type Memcpy = (dst: ArrayBufferLike, dstOffset: number, src: ArrayBufferLike, srcOffset: number, len: number) => void;

/** Node's copyArrayBuffer if it is there and copies correctly between SharedArrayBuffers. */
function nativeMemcpy(): Memcpy | undefined {
  try {
    const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
    const f = binding?.call(process, "buffer")?.copyArrayBuffer;
    if (typeof f !== "function") return undefined;
    const a = new SharedArrayBuffer(64), b = new SharedArrayBuffer(64);
    const a8 = new Uint8Array(a), b8 = new Uint8Array(b);
    for (let i = 0; i < 64; i++) a8[i] = i + 1;
    (f as Memcpy)(b, 7, a, 3, 50);
    for (let i = 0; i < 64; i++) if (b8[i] !== (i >= 7 && i < 57 ? i - 3 : 0)) return undefined;
    return f as Memcpy;
  } catch {
    return undefined;
  }
}

const memcpy = process.env.XENWASM_NO_NATIVE_MEMCPY ? undefined : nativeMemcpy();

/** Whether copies use Node's native memcpy (true) or TypedArray.prototype.set (false). */
export const NATIVE_MEMCPY = memcpy !== undefined;

/** Offsets memcpy accepts: copyArrayBuffer takes only uint32 offsets and lengths. */
const MEMCPY_LIMIT = 0x1_0000_0000;

/** A memory copyMemory reads or writes: the buffer and a byte view over the whole of it (a Domain). */
export interface Memory {
  readonly buf: ArrayBufferLike;
  readonly u8: Uint8Array;
}

/**
 * Copies `len` bytes from `src` at `srcAddr` to `dst` at `dstAddr`. The caller has checked
 * that both ranges lie inside their memories: nothing is checked here. (The buffers are passed
 * in, not read from the views: a view's `buffer` getter is a call into V8's runtime.)
 */
export function copyMemory(dst: Memory, dstAddr: number, src: Memory, srcAddr: number, len: number): void {
  if (memcpy && dstAddr + len < MEMCPY_LIMIT && srcAddr + len < MEMCPY_LIMIT) memcpy(dst.buf, dstAddr, src.buf, srcAddr, len);
  else dst.u8.set(src.u8.subarray(srcAddr, srcAddr + len), dstAddr);
}
