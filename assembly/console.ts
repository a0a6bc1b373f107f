// printk-style output through the PV console ring (io/console.h `struct xencons_interface`, the
// page at start_info.console.domU.mfn, docs/ABI.md §2), with number formatting that allocates
// nothing.
//
// Ring protocol (the guest produces `out`, the console daemon in domain 0 consumes it): read
// out_cons (atomic load: the daemon's index), copy bytes into out[MASK(prod)], then publish with
// an atomic store of out_prod (sequentially consistent: the store barrier the bytes need), and
// notify the console port. out_prod is ours; out_cons is the daemon's and is distrusted (a value
// claiming more than a ring of unread bytes is treated as "ring full").
//
// When the ring is full the guest cannot wait for the daemon (guest code runs to completion), so
// it notifies and writes the rest through HYPERVISOR_console_io(CONSOLEIO_write) instead: output
// is never lost, but those bytes may appear before ring bytes the daemon has not read yet.
// Before consoleInit (or with no console page) everything goes to console_io.
//
// Output is flushed (the port notified) at every newline and by consoleFlush; put* functions
// otherwise only fill the ring.
import { xencons_interface, MASK_XENCONS_IDX } from "./xen/io/console";
import { CONSOLEIO_write } from "./xen/xen";
import { HYPERVISOR_console_io } from "./hypercall";
import { evtchnNotify } from "./evtchn";

/** Bytes of the `out` ring (2048), from the struct layout. */
const OUT_SIZE: u32 = <u32>(offsetof<xencons_interface>("in_cons") - offsetof<xencons_interface>("out"));
const OFF_OUT: usize = offsetof<xencons_interface>("out");
const OFF_OUT_CONS: usize = offsetof<xencons_interface>("out_cons");
const OFF_OUT_PROD: usize = offsetof<xencons_interface>("out_prod");

let ring: usize = 0;
let port: u32 = 0;
let dirty = false;

// Staging buffers: UTF-8 of a string chunk, digits of a number, one character.
const STAGE_SIZE: u32 = 256;
const STAGE = memory.data(<i32>STAGE_SIZE, 16);
const DIGITS = memory.data(32, 16);
const CHAR = memory.data(4, 4);

/**
 * Points the console at the ring page `ringAddr` (a frame Xen gave us at boot) and its event
 * channel `evtchn`; 0 for `ringAddr` means "no ring: use console_io". Called by boot().
 */
export function consoleInit(ringAddr: usize, evtchn: u32): void {
  ring = ringAddr;
  port = evtchn;
}

/** Copies as much of `len` bytes at `src` into the ring as fits; returns how many went in. */
function ringWrite(src: usize, len: u32): u32 {
  const cons = atomic.load<u32>(ring + OFF_OUT_CONS);
  const prod = atomic.load<u32>(ring + OFF_OUT_PROD);
  const used = prod - cons; // free-running indices: wraps at 2^32 correctly
  if (used >= OUT_SIZE) return 0; // full, or a corrupt out_cons
  const space = OUT_SIZE - used;
  const n = len < space ? len : space;
  const out = ring + OFF_OUT;
  for (let i: u32 = 0; i < n; i++) {
    store<u8>(out + <usize>MASK_XENCONS_IDX(prod + i, OUT_SIZE), load<u8>(src + <usize>i));
  }
  atomic.store<u32>(ring + OFF_OUT_PROD, prod + n); // publishes the bytes (store barrier)
  return n;
}

/** Notifies the console daemon if bytes were written since the last notification. */
export function consoleFlush(): void {
  if (dirty) {
    dirty = false;
    evtchnNotify(port);
  }
}

/**
 * Writes `len` bytes at the caller's `src` to the console: into the ring, the rest through
 * console_io if the ring is full. Flushes when the last byte is a newline.
 */
export function consoleWrite(src: usize, len: u32): void {
  if (len == 0) return;
  if (ring == 0) {
    HYPERVISOR_console_io(CONSOLEIO_write, len, src);
    return;
  }
  const n = ringWrite(src, len);
  if (n > 0) dirty = true;
  if (n < len) {
    consoleFlush();
    HYPERVISOR_console_io(CONSOLEIO_write, len - n, src + <usize>n);
  } else if (load<u8>(src + <usize>(len - 1)) == 0x0A) {
    consoleFlush();
  }
}

/** Writes one byte (ASCII character) `c` to the console. */
export function putc(c: u8): void {
  store<u8>(CHAR, c);
  consoleWrite(CHAR, 1);
}

/** Writes string `s` to the console as UTF-8, without allocating; flushes if it ends in a newline. */
export function puts(s: string): void {
  const p = changetype<usize>(s);
  const n = <u32>s.length;
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let c = <u32>load<u16>(p + (<usize>i << 1));
    if (k + 4 > STAGE_SIZE) {
      consoleWrite(STAGE, k);
      k = 0;
    }
    if (c < 0x80) {
      store<u8>(STAGE + k++, <u8>c);
      continue;
    }
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n) {
      const lo = <u32>load<u16>(p + (<usize>(i + 1) << 1));
      if (lo >= 0xDC00 && lo < 0xE000) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        i++;
      }
    }
    if (c >= 0xD800 && c < 0xE000) c = 0xFFFD; // a lone surrogate
    if (c < 0x800) {
      store<u8>(STAGE + k++, <u8>(0xC0 | (c >> 6)));
    } else if (c < 0x10000) {
      store<u8>(STAGE + k++, <u8>(0xE0 | (c >> 12)));
      store<u8>(STAGE + k++, <u8>(0x80 | ((c >> 6) & 0x3F)));
    } else {
      store<u8>(STAGE + k++, <u8>(0xF0 | (c >> 18)));
      store<u8>(STAGE + k++, <u8>(0x80 | ((c >> 12) & 0x3F)));
      store<u8>(STAGE + k++, <u8>(0x80 | ((c >> 6) & 0x3F)));
    }
    store<u8>(STAGE + k++, <u8>(0x80 | (c & 0x3F)));
  }
  consoleWrite(STAGE, k);
}

/** Writes `s` and a newline, and flushes: the everyday printk. */
export function printk(s: string): void {
  puts(s);
  putc(0x0A);
}

/**
 * Formats `v` in decimal into the caller's buffer `buf` (at least 20 bytes) and returns the
 * number of bytes written. Allocates nothing.
 */
export function fmtU64(buf: usize, v: u64): u32 {
  let n: u32 = 0;
  let t = v;
  do { n++; t /= 10; } while (t != 0);
  let i = n;
  do { store<u8>(buf + <usize>--i, <u8>(0x30 + <u32>(v % 10))); v /= 10; } while (v != 0);
  return n;
}

/**
 * Formats `v` in lower-case hexadecimal, at least `minDigits` digits (zero-padded, at most 16),
 * into the caller's buffer `buf` (at least 16 bytes); returns the number of bytes written.
 */
export function fmtHex(buf: usize, v: u64, minDigits: u32 = 1): u32 {
  let n: u32 = v == 0 ? 1 : <u32>((64 - clz(v) + 3) >> 2);
  if (minDigits > 16) minDigits = 16;
  if (n < minDigits) n = minDigits;
  for (let i: u32 = 0; i < n; i++) {
    const d = <u32>((v >> (<u64>(n - 1 - i) << 2)) & 0xF);
    store<u8>(buf + <usize>i, <u8>(d < 10 ? 0x30 + d : 0x57 + d));
  }
  return n;
}

/** Writes unsigned `v` in decimal. */
export function putu(v: u64): void {
  consoleWrite(DIGITS, fmtU64(DIGITS, v));
}

/** Writes signed `v` in decimal. */
export function puti(v: i64): void {
  if (v < 0) {
    putc(0x2D);
    putu(<u64>(-v)); // -i64.MIN_VALUE wraps to itself, which is 2^63 as a u64: still right
  } else {
    putu(<u64>v);
  }
}

/** Writes `v` as 0x-prefixed hexadecimal, at least `minDigits` digits. */
export function putx(v: u64, minDigits: u32 = 1): void {
  store<u8>(DIGITS, 0x30);
  store<u8>(DIGITS + 1, 0x78);
  consoleWrite(DIGITS, 2 + fmtHex(DIGITS + 2, v, minDigits));
}

/**
 * Writes `v / 10^decimals` as a fixed-point decimal (e.g. nanoseconds as ms with
 * `putFixed(ns / 1000, 3)`).
 */
export function putFixed(v: u64, decimals: u32): void {
  let p: u64 = 1;
  for (let i: u32 = 0; i < decimals; i++) p *= 10;
  putu(v / p);
  if (decimals == 0) return;
  putc(0x2E);
  const frac = v % p;
  const n = fmtU64(DIGITS, frac);
  for (let i = n; i < decimals; i++) putc(0x30);
  consoleWrite(DIGITS, n);
}
