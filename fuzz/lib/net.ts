// What the net targets' guests share (fuzz/netback.ts, fuzz/netfront.ts, fuzz/net_victim.ts):
// the tagged test frame the well-behaved ends exchange and check, and the event-channel status
// query the hostile ends use for their "held" checks.
//
// A tagged frame: Ethernet header (ethertype FUZZ_ETHERTYPE), then at byte 14 the magic
// FUZZ_MAGIC, at 18 the sender's tag (a number it never repeats), at 22 the frame's length, then
// from byte 26 pattern bytes derived from the tag. A receiver that sees a tag twice or out of
// order from one sender was handed a frame twice.
import { HYPERVISOR_event_channel_op } from "../../assembly/hypercall";
import { EVTCHNOP_status, evtchn_status } from "../../assembly/xen/event_channel";
import { DOMID_SELF } from "../../assembly/xen/xen";
import { macStore, storeBe16, loadBe16 } from "../../assembly/net/wire";

/** The ethertype of tagged frames (IEEE local experimental 2). */
export const FUZZ_ETHERTYPE: u32 = 0x88b6;
/** The magic at byte 14 of a tagged frame. */
export const FUZZ_MAGIC: u32 = 0x5a46574e;
/** Bytes before the pattern: Ethernet header, magic, tag, length. */
export const FUZZ_HDR: u32 = 26;

/** Writes a tagged frame of `len` (>= FUZZ_HDR) bytes at `buf`: to `dst`, from `src`, with `tag`. */
export function tagFrame(buf: usize, len: u32, dst: u64, src: u64, tag: u32): void {
  macStore(buf, dst);
  macStore(buf + 6, src);
  storeBe16(buf + 12, <u16>FUZZ_ETHERTYPE);
  store<u32>(buf + 14, FUZZ_MAGIC);
  store<u32>(buf + 18, tag);
  store<u32>(buf + 22, len);
  for (let i: u32 = FUZZ_HDR; i < len; i++) store<u8>(buf + i, <u8>(tag * 31 + i * 7));
}

/** Whether the `len` bytes at `buf` look like a tagged frame of that length (magic, ethertype and length field agree). */
export function isTagged(buf: usize, len: u32): bool {
  return len >= FUZZ_HDR && <u32>loadBe16(buf + 12) == FUZZ_ETHERTYPE && load<u32>(buf + 14) == FUZZ_MAGIC && load<u32>(buf + 22) == len;
}

/** The tag of a tagged frame. */
export function frameTag(buf: usize): u32 {
  return load<u32>(buf + 18);
}

/** Whether a tagged frame's pattern bytes are intact. */
export function patternIntact(buf: usize, len: u32): bool {
  const tag = frameTag(buf);
  for (let i: u32 = FUZZ_HDR; i < len; i++) if (load<u8>(buf + i) != <u8>(tag * 31 + i * 7)) return false;
  return true;
}

const STATUS = memory.data(24, 8);

/** EVTCHNOP_status of our own `port`: EVTCHNSTAT_* (closed, unbound, interdomain, ...) or the hypercall's error. */
export function portStatus(port: u32): i32 {
  memory.fill(STATUS, 0, 24);
  const s = changetype<evtchn_status>(STATUS);
  s.dom = <u16>DOMID_SELF;
  s.port = port;
  const rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, STATUS);
  return rc < 0 ? rc : <i32>s.status;
}

/** The MAC the toolstack gives domain `domid`'s first vif (00:16:3e:00:00:<domid>, as `--vif on`). */
export function defaultMac(domid: u32): u64 {
  return 0x00163e000000 | <u64>(domid & 0xffff);
}
