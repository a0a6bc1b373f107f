// Test-pattern frames (docs/net.md, docs/benchmarks.md): what tests/guests/net_pattern.ts sends
// and what its receiver and dom0's sink (sink.ts) check, byte for byte. Every byte comes from a
// generator both ends seed with (seed, frame index), so a receiver checks a frame without a copy
// of it. Three frame kinds:
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

@inline function start(seed: u32, index: u32): u32 {
  const x = (seed * 0x9E3779B1) ^ (index * 0x85EBCA6B) ^ 0x27d4eb2f;
  return x == 0 ? 1 : x;
}

/** Writes frame `index`'s `len` pattern bytes at `dst` (xorshift32 seeded by seed and index). */
export function patternFill(seed: u32, index: u32, dst: usize, len: u32): void {
  let x = start(seed, index);
  for (let i: u32 = 0; i < len; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    store<u8>(dst + i, <u8>x);
  }
}

/** Whether the `len` bytes at `at` are frame `index`'s pattern. */
export function patternCheck(seed: u32, index: u32, at: usize, len: u32): bool {
  let x = start(seed, index);
  for (let i: u32 = 0; i < len; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    if (load<u8>(at + i) != <u8>x) return false;
  }
  return true;
}

/** The length of frame `index`: from `min` to `max`, from a generator seeded like the bytes. */
export function patternLen(seed: u32, index: u32, min: u32, max: u32): u32 {
  let x = (seed * 0x2545F491) ^ (index * 0x9E3779B1) ^ 0x165667b1;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  return min + x % (max - min + 1);
}

/** The byte at position `pos` of a stream frame's TCP byte stream. */
@inline export function streamByte(seed: u32, pos: u64): u8 {
  return <u8>((pos * 131 + (pos >> 8) * 7 + <u64>seed) & 0xff);
}
