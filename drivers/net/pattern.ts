// Test-pattern frames (docs/net.md, docs/benchmarks.md): what tests/guests/net_pattern.ts sends
// and what its receiver and dom0's sink (sink.ts) check, byte for byte. Every byte comes from a
// generator both ends seed with (seed, frame index), so a receiver checks a frame without a copy
// of it (the same kind of pattern as bench net's native reference, bindings/bench/native/netif.c:
// a per-frame start word, then a Weyl sequence written and checked a word at a time). Three
// frame kinds:
//   data frames   ethertype PATTERN_ETHERTYPE, kind byte at 14, u32 index at 15, pattern from 19;
//   flow frames   UDP/IPv4 from 10.0.1.<flow>, u32 index at 42, pattern from 46 (no UDP checksum);
//   stream frames TCP/IPv4 (or v6) whose payload is the byte stream streamByte(seed, position).
// Pure functions over memory the caller owns.

/** The ethertype of data, ready and done frames (IEEE local experimental 1). */
export const PATTERN_ETHERTYPE: u16 = 0x88b5;
/** The ethertype of frames of 14..19 bytes (no room for an index: they carry only pattern bytes). */
export const PATTERN_ETHERTYPE_TINY: u16 = 0x88b6;
/** Kinds of PATTERN_ETHERTYPE frames (the byte at 14). */
export const KIND_READY: u8 = 1, KIND_DATA: u8 = 2, KIND_DONE: u8 = 3;
/** Offsets of the index and the first pattern byte in a data frame and in a flow frame. */
export const DATA_INDEX: u32 = 15, DATA_PAYLOAD: u32 = 19, FLOW_INDEX: u32 = 42, FLOW_PAYLOAD: u32 = 46;

/** The Weyl step between two pattern words (2^32 / golden ratio). */
const STEP: u32 = 0x9E3779B9;

/** Frame `index`'s first pattern word: xorshift32 twice over the seed and index, never 0. */
@inline function start(seed: u32, index: u32): u32 {
  let x = (seed * STEP) ^ ((index + 1) * 0x85EBCA6B);
  for (let r = 0; r < 2; r++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; }
  return x == 0 ? 1 : x;
}

/**
 * Writes frame `index`'s `len` pattern bytes at `dst`: byte b is byte b % 4 of the little-endian
 * word start + (b / 4) * STEP (a Weyl sequence from a per-frame start: every byte depends on
 * the frame and its position, and both ends work a word at a time).
 */
export function patternFill(seed: u32, index: u32, dst: usize, len: u32): void {
  let w = start(seed, index);
  let b: u32 = 0;
  for (; b + 4 <= len; b += 4, w += STEP) store<u32>(dst + b, w);
  for (; b < len; b++) store<u8>(dst + b, <u8>(w >> ((b & 3) << 3)));
}

/** Whether the `len` bytes at `at` are frame `index`'s pattern. */
export function patternCheck(seed: u32, index: u32, at: usize, len: u32): bool {
  let w = start(seed, index);
  let b: u32 = 0;
  for (; b + 4 <= len; b += 4, w += STEP) if (load<u32>(at + b) != w) return false;
  for (; b < len; b++) if (load<u8>(at + b) != <u8>(w >> ((b & 3) << 3))) return false;
  return true;
}

/** The length of frame `index`: from `min` to `max`, from a generator seeded like the bytes. */
export function patternLen(seed: u32, index: u32, min: u32, max: u32): u32 {
  let x = (seed * 0x2545F491) ^ (index * 0x9E3779B1) ^ 0x165667b1;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  return min + x % (max - min + 1);
}

/** The stream's word at word position `k` (stream frames: byte p is byte p % 4 of word p / 4). */
@inline function streamWord(seed: u32, k: u64): u32 {
  return seed * STEP + <u32>k * 0x85EBCA6B + <u32>(k >> 32);
}

/** The byte at position `pos` of a stream frame's TCP byte stream. */
@inline export function streamByte(seed: u32, pos: u64): u8 {
  return <u8>(streamWord(seed, pos >> 2) >> (<u32>(pos & 3) << 3));
}

/** Writes the stream's bytes [pos, pos + len) at `dst`. */
export function streamFill(seed: u32, pos: u64, dst: usize, len: u32): void {
  let b: u32 = 0;
  for (; b < len && ((pos + b) & 3) != 0; b++) store<u8>(dst + b, streamByte(seed, pos + b));
  for (; b + 4 <= len; b += 4) store<u32>(dst + b, streamWord(seed, (pos + b) >> 2));
  for (; b < len; b++) store<u8>(dst + b, streamByte(seed, pos + b));
}

/** Whether the `len` bytes at `at` are the stream's bytes [pos, pos + len). */
export function streamCheck(seed: u32, pos: u64, at: usize, len: u32): bool {
  let b: u32 = 0;
  for (; b < len && ((pos + b) & 3) != 0; b++) if (load<u8>(at + b) != streamByte(seed, pos + b)) return false;
  for (; b + 4 <= len; b += 4) if (load<u32>(at + b) != streamWord(seed, (pos + b) >> 2)) return false;
  for (; b < len; b++) if (load<u8>(at + b) != streamByte(seed, pos + b)) return false;
  return true;
}
