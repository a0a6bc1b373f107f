// Test guest: the small IPv4 stack (assembly/net) end to end. Two NetStack instances, A
// (10.0.0.1) and B (10.0.0.2), sit back to back in this one domain on an in-memory link: a
// stack's LinkTxFn copies the frame into a slot of a queue and arms a timer that delivers the
// queue to the other stack's input() (never from inside the LinkTxFn: that would re-enter the
// sender). On the way the link checks every frame against an independent, byte-wise reference
// of the Internet checksum (IPv4 header, UDP, ICMP), fills blank checksums with l4ChecksumFill
// as dom0's switch will, and corrupts a frame when a check asks it to.
//
// The checks run as a chain of steps, one timer apart, so that each step sees the link drained
// and the stacks quiet; ARP retries and expiry wait on timers (virtual time under the
// deterministic runner). Each check prints "net_stack: ok ..."; a failed one prints
// "net_stack: FAILED ..." with the counters of both stacks and panics. At the end:
// "net_stack: all N checks passed" and poweroff.
//
// Command line: `timeouts=default` keeps Linux's ARP timing (entries 60 s, requests 1 s apart),
// for the deterministic runner; otherwise the checks use 500 ms and 20 ms so that a real-time
// run stays short.
import {
  boot, evtchnUpcall, printk, puts, putu, putx, panic, poweroff, timerSet, now, cmdlineGet, NS_PER_MS, NS_PER_SEC,
} from "../../assembly/index";
import {
  NetStack, NET_TX_CSUM_BLANK, NET_RX_CSUM_BLANK, NET_RX_DATA_VALIDATED, ipParse, ipFormat, macParse, macFormat,
  multicastMac, l4ChecksumFill, ipv4HeaderChecksumFill, checksumAdd, inetChecksum,
} from "../../assembly/net/index";
import { XEN_ENOSPC, XEN_EADDRINUSE } from "../../assembly/xen/errno";

const MAC_A: u64 = 0x00163e000001;
const MAC_B: u64 = 0x00163e000002;
const IP_A: u32 = 0x0a000001;
const IP_B: u32 = 0x0a000002;
const IP_NOBODY: u32 = 0x0a000063; // 10.0.0.99: no stack answers for it
const G1: u32 = 0xef010203; // 239.1.2.3
const G2: u32 = 0xef010204; // 239.1.2.4: another MAC
const G3: u32 = 0xef810203; // 239.129.2.3: the same MAC as G1 (only 23 bits map)
const PORT_A: u16 = 1000;
const PORT_B: u16 = 7;
const PORT_MCAST: u16 = 5000;

/** The two stacks (made by xen_start); the link's `arg` is the sender: 0 for A, 1 for B. */
let A!: NetStack;
let B!: NetStack;

/** Virtual or real time between two steps: the link drains in between (its timer is earlier). */
const STEP_NS: u64 = NS_PER_MS;

// ---------------------------------------------------------------------------------------------
// Checks

let checks: u32 = 0;

function dump(): void {
  A.printCounters("net_stack: A");
  B.printCounters("net_stack: B");
}

function ok(what: string): void {
  checks++;
  puts("net_stack: ok ");
  printk(what);
}

function expect(cond: bool, what: string): void {
  if (cond) return;
  puts("net_stack: FAILED ");
  printk(what);
  dump();
  panic("net_stack: a check failed");
}

function eq(what: string, got: i64, want: i64): void {
  if (got == want) return;
  puts("net_stack: FAILED ");
  puts(what);
  puts(": got ");
  putx(<u64>got);
  puts(", expected ");
  putx(<u64>want);
  puts("\n");
  dump();
  panic("net_stack: a check failed");
}

function after(delay: u64, fn: (arg: usize) => void): void {
  const id = timerSet(delay, fn, 0);
  if (id < 0) panic("net_stack: timerSet failed");
}

// ---------------------------------------------------------------------------------------------
// The reference checksum: RFC 1071 done the slow, obvious way (16-bit big-endian words, one at
// a time), independent of assembly/net/checksum.ts.

function refSum(p: usize, n: u32, sum: u32): u32 {
  for (let i: u32 = 0; i + 1 < n; i += 2) sum += (<u32>load<u8>(p + i) << 8) | <u32>load<u8>(p + i + 1);
  if ((n & 1) != 0) sum += <u32>load<u8>(p + n - 1) << 8;
  return sum;
}

function refFold(sum: u32): u32 {
  while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}

function be16(p: usize): u32 { return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1); }
function put16(p: usize, v: u32): void { store<u8>(p, <u8>(v >> 8)); store<u8>(p + 1, <u8>v); }
function put32(p: usize, v: u32): void { put16(p, v >> 16); put16(p + 2, v & 0xFFFF); }
function be48(p: usize): u64 { return (<u64>be16(p) << 32) | (<u64>be16(p + 2) << 16) | <u64>be16(p + 4); }

/** Whether the IPv4 header at `ip` has a correct checksum, by the reference. */
function refIpOk(ip: usize): bool {
  return refFold(refSum(ip, (<u32>load<u8>(ip) & 0xF) << 2, 0)) == 0xFFFF;
}

/** Whether the `l4len`-byte TCP/UDP segment after the IPv4 header at `ip` verifies, by the reference. */
function refL4v4Ok(ip: usize, proto: u32, l4len: u32): bool {
  const l4 = ip + ((<u32>load<u8>(ip) & 0xF) << 2);
  return refFold(refSum(ip + 12, 8, 0) + proto + l4len + refSum(l4, l4len, 0)) == 0xFFFF;
}

/** The same after a fixed IPv6 header at `ip6`. */
function refL4v6Ok(ip6: usize, proto: u32, l4len: u32): bool {
  return refFold(refSum(ip6 + 8, 32, 0) + (l4len >> 16) + (l4len & 0xFFFF) + proto + refSum(ip6 + 40, l4len, 0)) == 0xFFFF;
}

// ---------------------------------------------------------------------------------------------
// The link: a queue of frame slots, a log of what went by, reference checks and tampering.

const SLOTS: u32 = 16; // ten pings go out before the first delivery
const SLOT_SIZE: usize = 65536;
const slotMem = heap.alloc(<usize>SLOTS * SLOT_SIZE);
const slotLen = new StaticArray<u32>(SLOTS);
const slotFlags = new StaticArray<u32>(SLOTS);
const slotSide = new StaticArray<u32>(SLOTS);
let qHead: u32 = 0;
let qTail: u32 = 0;
let draining = false;

/** The log: one record per frame a stack sent. */
const LOG_MAX: i32 = 1024;
const logSide = new StaticArray<u32>(LOG_MAX);
const logType = new StaticArray<u32>(LOG_MAX);
const logArpOp = new StaticArray<u32>(LOG_MAX);
const logArpTpa = new StaticArray<u32>(LOG_MAX);
const logDst = new StaticArray<u64>(LOG_MAX);
const logTime = new StaticArray<u64>(LOG_MAX);
let logN: i32 = 0;

let refErrors: u32 = 0;
let refIpChecked: u32 = 0;
let refUdpChecked: u32 = 0;
let refIcmpChecked: u32 = 0;
let blankSeen: u32 = 0;
let blankFilled: u32 = 0;

const TAMPER_NONE = 0, TAMPER_IP_CSUM = 1, TAMPER_PAYLOAD = 2, TAMPER_MF = 3, TAMPER_OFFSET = 4;
/** Applied to A's next IPv4 frame (after any checksum fill), then reset. */
let tamper = TAMPER_NONE;
/** NET_RX_* flags for A's next IPv4 frame, then reset. */
let rxFlagsNext: u32 = 0;
/** Deliver A's next blank-checksum frame unfilled, with NET_RX_CSUM_BLANK. */
let deliverUnfilled = false;
/** Refuse every frame with -XEN_ENOSPC, as a full ring does. */
let linkFull = false;

/** A copy of A's last UDP frame to B (template for the malformed-input checks). */
const TEMPLATE_MAX: u32 = 2048;
const template = heap.alloc(TEMPLATE_MAX);
let templateLen: u32 = 0;

function refError(what: string): void {
  refErrors++;
  puts("net_stack: reference: ");
  printk(what);
}

/** Checks one frame as its sender handed it over (IPv4 header, UDP or ICMP checksum) and logs it. */
function observe(f: usize, len: u32, flags: u32, side: u32): void {
  if (logN == LOG_MAX) panic("net_stack: link log full");
  const type = be16(f + 12);
  const i = logN++;
  unchecked(logSide[i] = side);
  unchecked(logType[i] = type);
  unchecked(logDst[i] = be48(f));
  unchecked(logTime[i] = now());
  unchecked(logArpOp[i] = 0);
  if (type == 0x0806) {
    unchecked(logArpOp[i] = be16(f + 14 + 6));
    unchecked(logArpTpa[i] = (be16(f + 14 + 24) << 16) | be16(f + 14 + 26));
    return;
  }
  if (type != 0x0800) return;
  const ip = f + 14;
  const ihl = (<u32>load<u8>(ip) & 0xF) << 2;
  const tot = be16(ip + 2);
  refIpChecked++;
  if (!refIpOk(ip)) refError("IPv4 header checksum");
  const mcast = (load<u8>(ip + 16) >> 4) == 0xE;
  if (load<u8>(ip + 8) != (mcast ? 1 : 64)) refError(mcast ? "TTL to a group is not 1" : "TTL is not 64");
  if ((be16(ip + 6) & 0xFFFF) != 0x4000) refError("DF not set, or a fragment");
  if (tot + 14 != len) refError("frame length != 14 + total length");
  const proto = <u32>load<u8>(ip + 9);
  const l4 = ip + ihl;
  if (proto == 17) {
    const ulen = be16(l4 + 4);
    if ((flags & NET_TX_CSUM_BLANK) != 0) {
      if (be16(l4 + 6) != 0) refError("a blank UDP checksum field is not 0");
    } else {
      refUdpChecked++;
      if (be16(l4 + 6) == 0 || !refL4v4Ok(ip, 17, ulen)) refError("UDP checksum");
    }
    if (side == 0 && len <= TEMPLATE_MAX) { memory.copy(template, f, len); templateLen = len; }
  } else if (proto == 1) {
    refIcmpChecked++;
    if (refFold(refSum(l4, tot - ihl, 0)) != 0xFFFF) refError("ICMP checksum");
    const t = load<u8>(l4);
    if (t == 0 || t == 8) {
      // Echo data is ping()'s pattern both ways: byte i is i & 0xFF.
      for (let k: u32 = 8; k < tot - ihl; k++) if (load<u8>(l4 + k) != <u8>(k - 8)) { refError("echo data"); break; }
    }
  }
}

/** Corrupts or rewrites A's IPv4 frame in slot `f` as `tamper` says. */
function applyTamper(f: usize, len: u32): void {
  const ip = f + 14;
  if (tamper == TAMPER_IP_CSUM) store<u8>(ip + 10, load<u8>(ip + 10) ^ 0x01);
  else if (tamper == TAMPER_PAYLOAD) store<u8>(f + len - 1, load<u8>(f + len - 1) ^ 0x5A);
  else if (tamper == TAMPER_MF) { put16(ip + 6, 0x2000); ipv4HeaderChecksumFill(ip); }
  else if (tamper == TAMPER_OFFSET) { put16(ip + 6, 185); ipv4HeaderChecksumFill(ip); } // 1480 bytes in, last fragment
  tamper = TAMPER_NONE;
}

/** The LinkTxFn of both stacks: `arg` is the sender (0: A, 1: B). */
function linkTx(buf: usize, len: u32, flags: u32, arg: usize): i32 {
  if (linkFull || qTail - qHead == SLOTS) return -XEN_ENOSPC;
  if (len < 14 || len > 65535) refError("frame length out of 14..65535");
  const side = <u32>arg;
  observe(buf, len, flags, side);
  const k = qTail % SLOTS;
  const f = slotMem + <usize>k * SLOT_SIZE;
  memory.copy(f, buf, len);
  let rx: u32 = 0;
  if (side == 0 && be16(f + 12) == 0x0800) {
    if ((flags & NET_TX_CSUM_BLANK) != 0) {
      blankSeen++;
      if (deliverUnfilled) {
        rx |= NET_RX_CSUM_BLANK;
        deliverUnfilled = false;
      } else if (!l4ChecksumFill(f, len)) {
        refError("l4ChecksumFill refused a UDP frame");
      } else if (!refL4v4Ok(f + 14, 17, be16(f + 14 + 20 + 4))) {
        refError("l4ChecksumFill wrote a wrong checksum");
      } else {
        blankFilled++;
      }
    }
    applyTamper(f, len);
    rx |= rxFlagsNext;
    rxFlagsNext = 0;
  }
  unchecked(slotLen[k] = len);
  unchecked(slotFlags[k] = rx);
  unchecked(slotSide[k] = side);
  qTail++;
  if (!draining) {
    draining = true;
    after(0, drain);
  }
  return 0;
}

/** Delivers every queued frame, including those sent while delivering, to the other stack. */
function drain(arg: usize): void {
  while (qHead != qTail) {
    const k = qHead % SLOTS;
    const f = slotMem + <usize>k * SLOT_SIZE;
    const to = unchecked(slotSide[k]) == 0 ? B : A;
    to.input(f, unchecked(slotLen[k]), unchecked(slotFlags[k]));
    qHead++; // the slot is free only now: input() read it
  }
  draining = false;
}

/** ARP frames of `op` sent by `side` for target `tpa`, from log record `from` on. */
function countArp(side: u32, op: u32, tpa: u32, from: i32): i32 {
  let n = 0;
  for (let i = from; i < logN; i++) {
    if (unchecked(logType[i]) == 0x0806 && unchecked(logSide[i]) == side && unchecked(logArpOp[i]) == op && unchecked(logArpTpa[i]) == tpa) n++;
  }
  return n;
}

/** ARP frames of any kind from log record `from` on. */
function countAnyArp(from: i32): i32 {
  let n = 0;
  for (let i = from; i < logN; i++) if (unchecked(logType[i]) == 0x0806) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// What the stacks receive

/** Byte i of a test datagram of `len` bytes: depends on both, so a truncation or a shift shows. */
@inline function pat(i: u32, len: u32): u8 {
  return <u8>((i * 31) ^ (len * 7) ^ (i >> 8));
}

const DATA = heap.alloc(65536);

function sendPattern(s: NetStack, dst: u32, sport: u16, dport: u16, len: u32): i32 {
  for (let i: u32 = 0; i < len; i++) store<u8>(DATA + i, pat(i, len));
  return s.udpSend(dst, sport, dport, DATA, len);
}

// Per receiving side (0: A, 1: B): datagrams delivered and the last one's particulars.
const rxN = new StaticArray<u32>(2);
const rxSrc = new StaticArray<u32>(2);
const rxSport = new StaticArray<u32>(2);
const rxDport = new StaticArray<u32>(2);
const rxLen = new StaticArray<u32>(2);
const rxIntact = new StaticArray<bool>(2);
const rxCorrupt = new StaticArray<u32>(2);
/** The lengths of the last three datagrams B received, oldest first. */
const lastLens = new StaticArray<u32>(3);

function onUdp(s: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: u32, arg: usize): void {
  const side = <i32>arg;
  rxN[side]++;
  rxSrc[side] = srcIp;
  rxSport[side] = srcPort;
  rxDport[side] = dstPort;
  rxLen[side] = len;
  let good = true;
  for (let i: u32 = 0; i < len; i++) if (load<u8>(data + i) != pat(i, len)) { good = false; break; }
  rxIntact[side] = good;
  if (!good) rxCorrupt[side]++;
  if (side == 1) { lastLens[0] = lastLens[1]; lastLens[1] = lastLens[2]; lastLens[2] = len; }
}

/** Checks that side `side` got exactly one more datagram: `len` bytes from `src`:`sport` to `dport`, intact or not. */
function expectRx(what: string, side: i32, before: u32, src: u32, sport: u32, dport: u32, len: u32, intact: bool = true): void {
  eq(what + ": datagrams delivered", rxN[side], before + 1);
  eq(what + ": source address", rxSrc[side], src);
  eq(what + ": source port", rxSport[side], sport);
  eq(what + ": destination port", rxDport[side], dport);
  eq(what + ": length", rxLen[side], len);
  expect(rxIntact[side] == intact, what + (intact ? ": data not intact" : ": corrupted data delivered intact?"));
}

const ECHO_MAX: i32 = 32;
const echoSeq = new StaticArray<u32>(ECHO_MAX);
const echoId = new StaticArray<u32>(ECHO_MAX);
const echoLen = new StaticArray<u32>(ECHO_MAX);
const echoSrc = new StaticArray<u32>(ECHO_MAX);
let echoN: i32 = 0;

function onEcho(s: NetStack, src: u32, id: u16, seq: u16, len: u32, arg: usize): void {
  if (echoN == ECHO_MAX) return;
  echoSeq[echoN] = seq;
  echoId[echoN] = id;
  echoLen[echoN] = len;
  echoSrc[echoN] = src;
  echoN++;
}

let mcastJoins: u32 = 0;
let mcastLeaves: u32 = 0;
let mcastLastMac: u64 = 0;

function onMcast(s: NetStack, mac: u64, join: bool, arg: usize): void {
  if (join) mcastJoins++;
  else mcastLeaves++;
  mcastLastMac = mac;
}

// ---------------------------------------------------------------------------------------------
// Pure checks: addresses, checksums, l4ChecksumFill

function checkAddresses(): void {
  eq("ipParse(10.0.0.1)", ipParse("10.0.0.1"), 0x0a000001);
  eq("ipParse(255.255.255.255)", ipParse("255.255.255.255"), 0xFFFFFFFF);
  eq("ipParse(1.2.3)", ipParse("1.2.3"), -1);
  eq("ipParse(1.2.3.256)", ipParse("1.2.3.256"), -1);
  eq("ipParse(1..2.3)", ipParse("1..2.3"), -1);
  eq("ipParse(1.2.3.4x)", ipParse("1.2.3.4x"), -1);
  eq("ipParse(0001.2.3.4)", ipParse("0001.2.3.4"), -1);
  expect(ipFormat(0xc0a80a01) == "192.168.10.1", "ipFormat(0xc0a80a01)");
  eq("macParse", macParse("00:16:3E:00:00:01"), 0x00163e000001);
  eq("macParse(short)", macParse("00:16:3e:00:00"), -1);
  eq("macParse(bad digit)", macParse("00:16:3g:00:00:01"), -1);
  expect(macFormat(0x00163e0000ff) == "00:16:3e:00:00:ff", "macFormat");
  eq("multicastMac(239.129.2.3)", <i64>multicastMac(G3), 0x01005e010203);
  eq("multicastMac(224.0.0.1)", <i64>multicastMac(0xe0000001), 0x01005e000001);
  ok("addr: ipParse, ipFormat, macParse, macFormat and multicastMac (23 low bits under 01:00:5e)");
}

const SCRATCH = heap.alloc(4096);

function checkChecksum(): void {
  // RFC 1071 §3's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, whose complement is 220d.
  const v = SCRATCH;
  put32(v, 0x0001f203);
  put32(v + 4, 0xf4f5f6f7);
  eq("checksumAdd(RFC 1071 example)", checksumAdd(v, 8), 0xddf2);
  eq("inetChecksum(RFC 1071 example)", inetChecksum(v, 8), 0x220d);
  // Against the reference, every length 0..300 at every start alignment 0..7, with a carry-in.
  let x: u32 = 0x12345678;
  for (let i = 0; i < 512; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; store<u8>(v + 16 + i, <u8>x); }
  for (let off: u32 = 0; off < 8; off++) {
    for (let n: u32 = 0; n <= 300; n++) {
      const p = v + 16 + off;
      const want = refFold(refSum(p, n, 0x1234));
      const got = checksumAdd(p, n, 0x1234);
      if (got != want) {
        puts("net_stack: checksumAdd of "); putu(n); puts(" bytes at alignment "); putu(off); puts("\n");
        eq("checksumAdd vs the reference", got, want);
      }
    }
  }
  ok("checksum: checksumAdd/inetChecksum match RFC 1071's example and the reference for 0..300 bytes at 8 alignments");
}

/**
 * Builds an Ethernet frame at `f` with IPv4 (or IPv6), then TCP (proto 6) or UDP (17) with
 * `dataLen` bytes of data, a garbage checksum, an optional VLAN tag and `pad` bytes of 0xAA
 * after the IP packet; returns its length.
 */
function buildFrame(f: usize, v6: bool, proto: u32, dataLen: u32, vlan: bool, pad: u32): u32 {
  memory.fill(f, 0, 4096);
  put32(f, 0x02000000); put16(f + 4, 0x0001);
  put32(f + 6, 0x02000000); put16(f + 10, 0x0002);
  let o: usize = 12;
  if (vlan) { put16(f + o, 0x8100); put16(f + o + 2, 42); o += 4; }
  put16(f + o, v6 ? 0x86DD : 0x0800);
  const ip = f + o + 2;
  const hl: u32 = proto == 6 ? 20 : 8;
  const l4len = hl + dataLen;
  let l4: usize;
  if (v6) {
    put32(ip, 0x60000000);
    put16(ip + 4, l4len);
    store<u8>(ip + 6, <u8>proto);
    store<u8>(ip + 7, 64);
    for (let i = 0; i < 32; i++) store<u8>(ip + 8 + i, <u8>(0xfe + i * 13));
    l4 = ip + 40;
  } else {
    store<u8>(ip, 0x45);
    put16(ip + 2, 20 + l4len);
    put16(ip + 4, 0x1234);
    put16(ip + 6, 0x4000);
    store<u8>(ip + 8, 64);
    store<u8>(ip + 9, <u8>proto);
    put32(ip + 12, 0xc0a80001);
    put32(ip + 16, 0xc0a800fe);
    put16(ip + 10, (~refFold(refSum(ip, 20, 0))) & 0xFFFF);
    l4 = ip + 20;
  }
  put16(l4, 40000);
  put16(l4 + 2, 80);
  if (proto == 17) {
    put16(l4 + 4, l4len);
    put16(l4 + 6, 0xBEEF);
  } else {
    put32(l4 + 4, 0x01020304);
    put32(l4 + 8, 0x05060708);
    store<u8>(l4 + 12, 0x50);
    store<u8>(l4 + 13, 0x18);
    put16(l4 + 14, 65535);
    put16(l4 + 16, 0xBEEF);
  }
  for (let i: u32 = 0; i < dataLen; i++) store<u8>(l4 + hl + i, pat(i, dataLen));
  const end = <u32>(l4 + hl + dataLen - f);
  for (let i: u32 = 0; i < pad; i++) store<u8>(f + end + i, 0xAA);
  return end + pad;
}

function checkFill(what: string, v6: bool, proto: u32, dataLen: u32, vlan: bool, pad: u32): void {
  const f = SCRATCH;
  const len = buildFrame(f, v6, proto, dataLen, vlan, pad);
  const ip = f + (vlan ? 18 : 14);
  const l4len = (proto == 6 ? 20 : 8) + dataLen;
  expect(l4ChecksumFill(f, len), what + ": l4ChecksumFill refused it");
  const good = v6 ? refL4v6Ok(ip, proto, l4len) : refL4v4Ok(ip, proto, l4len);
  expect(good, what + ": the reference disagrees with the filled checksum");
  for (let i: u32 = 0; i < pad; i++) expect(load<u8>(f + len - pad + i) == 0xAA, what + ": padding changed");
}

function checkRefused(what: string, f: usize, len: u32): void {
  const before = checksumAdd(f, len);
  expect(!l4ChecksumFill(f, len), what + ": l4ChecksumFill accepted it");
  eq(what + ": refused frame changed", checksumAdd(f, len), before);
}

function checkL4Fill(): void {
  checkFill("IPv4/TCP", false, 6, 37, false, 0);
  checkFill("IPv4/UDP", false, 17, 100, false, 0);
  checkFill("IPv4/UDP with a VLAN tag", false, 17, 33, true, 0);
  checkFill("IPv4/TCP with a VLAN tag", false, 6, 1, true, 0);
  checkFill("IPv4/UDP padded to 60 bytes", false, 17, 3, false, 60 - 45);
  checkFill("IPv4/UDP, no data", false, 17, 0, false, 0);
  checkFill("IPv6/UDP", true, 17, 101, false, 0);
  checkFill("IPv6/TCP", true, 6, 1000, false, 0);
  checkFill("IPv6/TCP with a VLAN tag", true, 6, 7, true, 0);
  const f = SCRATCH;
  // A UDP datagram shorter than the IP payload: only UDP's own length is checksummed.
  let len = buildFrame(f, false, 17, 40, false, 0);
  put16(f + 14 + 20 + 4, 8 + 37);
  expect(l4ChecksumFill(f, len), "IPv4/UDP inside a longer IP payload: refused");
  expect(refL4v4Ok(f + 14, 17, 8 + 37), "IPv4/UDP inside a longer IP payload: the reference disagrees");
  // A UDP checksum that computes to 0 goes out as 0xFFFF (0 would mean "no checksum"): move the
  // filled checksum into a data word, so that the data sums to 0xFFFF, and fill again.
  len = buildFrame(f, false, 17, 40, false, 0);
  l4ChecksumFill(f, len);
  const w = f + 14 + 20 + 8;
  put16(w, refFold(be16(w) + be16(f + 14 + 20 + 6)));
  expect(l4ChecksumFill(f, len), "IPv4/UDP summing to zero: refused");
  eq("IPv4/UDP summing to zero: the checksum field", be16(f + 14 + 20 + 6), 0xFFFF);
  expect(refL4v4Ok(f + 14, 17, 8 + 40), "IPv4/UDP summing to zero: the reference disagrees");
  len = buildFrame(f, false, 17, 20, false, 0);
  put16(f + 12, 0x0806);
  checkRefused("ARP", f, len);
  len = buildFrame(f, false, 1, 20, false, 0);
  checkRefused("IPv4/ICMP", f, len);
  len = buildFrame(f, false, 17, 20, false, 0);
  put16(f + 14 + 6, 0x2000);
  checkRefused("IPv4 fragment", f, len);
  len = buildFrame(f, true, 17, 20, false, 0);
  store<u8>(f + 14 + 6, 0); // hop-by-hop options
  checkRefused("IPv6 extension header", f, len);
  len = buildFrame(f, false, 17, 20, false, 0);
  checkRefused("IPv4/UDP cut short", f, len - 1);
  len = buildFrame(f, true, 6, 20, false, 0);
  checkRefused("IPv6/TCP cut short", f, len - 1);
  checkRefused("a 13-byte frame", f, 13);
  // ipv4HeaderChecksumFill: a wrong field is replaced by the right one.
  len = buildFrame(f, false, 17, 20, false, 0);
  put16(f + 14 + 10, 0x5555);
  ipv4HeaderChecksumFill(f + 14);
  expect(refIpOk(f + 14), "ipv4HeaderChecksumFill");
  ok("checksum: l4ChecksumFill fills IPv4/IPv6 TCP/UDP (VLAN, padding) as the reference computes (a UDP sum of 0 as 0xFFFF); refuses ARP, ICMP, fragments, IPv6 extension headers, truncated frames");
}

// ---------------------------------------------------------------------------------------------
// The steps

let mark: i32 = 0;
let n0: u32 = 0;
let c0: u64 = 0;
let c1: u64 = 0;
let retryNs: u64 = 0;

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  A = new NetStack(MAC_A, IP_A, linkTx, 0);
  B = new NetStack(MAC_B, IP_B, linkTx, 1);
  const t = cmdlineGet("timeouts");
  const linuxTimeouts = t !== null && t == "default";
  if (!linuxTimeouts) {
    for (let i = 0; i < 2; i++) {
      const s = i == 0 ? A : B;
      s.arpTimeoutNs = 500 * NS_PER_MS;
      s.arpRetryNs = 20 * NS_PER_MS;
    }
  }
  retryNs = A.arpRetryNs;
  puts("net_stack: ARP entries last "); putu(A.arpTimeoutNs / NS_PER_MS); puts(" ms, requests ");
  putu(A.arpRetryNs / NS_PER_MS); puts(" ms apart, "); putu(A.arpTries); printk(" tries");

  checkAddresses();
  checkChecksum();
  checkL4Fill();

  eq("A binds its port", A.udpBind(PORT_A, onUdp, 0), 0);
  eq("B binds its port", B.udpBind(PORT_B, onUdp, 1), 0);
  eq("B binds the multicast port", B.udpBind(PORT_MCAST, onUdp, 1), 0);
  eq("binding a bound port", B.udpBind(PORT_B, onUdp, 1), -XEN_EADDRINUSE);
  A.onEchoReply = onEcho;
  B.onMcastMac = onMcast;

  eq("A's first datagram to B (queued behind ARP)", sendPattern(A, IP_B, PORT_A, PORT_B, 100), 0);
  eq("A: packets waiting for ARP", A.arpPending(), 1);
  after(STEP_NS, s1);
}

function s1(arg: usize): void {
  eq("A's ARP requests for B (broadcast)", countArp(0, 1, IP_B, 0), 1);
  eq("B's ARP replies to A", countArp(1, 2, IP_A, 0), 1);
  eq("the request's destination MAC", <i64>logDst[0], 0xFFFFFFFFFFFF);
  eq("the reply's destination MAC", <i64>logDst[1], <i64>MAC_A);
  eq("A.arpRequests", A.arpRequests, 1);
  eq("B.arpReplies", B.arpReplies, 1);
  eq("A: packets waiting for ARP", A.arpPending(), 0);
  eq("A's cache entry for B", A.arpLookup(IP_B), <i64>MAC_B);
  eq("B's cache entry for A (learned from the request)", B.arpLookup(IP_A), <i64>MAC_A);
  expectRx("B, first datagram", 1, 0, IP_A, PORT_A, PORT_B, 100);
  ok("arp: the first datagram waits for a request (broadcast) and a reply (unicast), then goes out");

  mark = logN;
  eq("B to A", sendPattern(B, IP_A, PORT_B, PORT_A, 200), 0);
  // The zero-copy path: the payload built in the stack's own buffer.
  const p = A.udpPayloadBuffer();
  for (let i: u32 = 0; i < 300; i++) store<u8>(p + i, pat(i, 300));
  eq("A to B (zero-copy)", A.udpSend(IP_B, PORT_A, PORT_B, p, 300), 0);
  after(STEP_NS, s2);
}

function s2(arg: usize): void {
  eq("ARP frames for the next datagrams", countAnyArp(mark), 0);
  eq("B.arpRequests", B.arpRequests, 0);
  expectRx("A, from B", 0, 0, IP_B, PORT_B, PORT_A, 200);
  expectRx("B, second datagram", 1, 1, IP_A, PORT_A, PORT_B, 300);
  ok("arp: the cache serves the next datagrams; B learned A from A's request (no request of its own)");
  expect(refUdpChecked >= 3 && refIpChecked >= 3, "the link checked the datagrams");
  eq("reference errors", refErrors, 0);
  eq("B.udpRx", B.udpRx, 2);
  eq("A.udpRx", A.udpRx, 1);
  ok("udp: datagrams both ways delivered with ports and data intact; IPv4 and UDP checksums agree with a byte-wise reference");

  c0 = refIcmpChecked;
  for (let seq: u16 = 1; seq <= 10; seq++) eq("ping", A.ping(IP_B, 0x4242, seq, 56), 0);
  after(STEP_NS, s3);
}

function s3(arg: usize): void {
  eq("echo replies", echoN, 10);
  for (let i = 0; i < 10; i++) {
    eq("echo reply: sequence", echoSeq[i], i + 1);
    eq("echo reply: id", echoId[i], 0x4242);
    eq("echo reply: data length", echoLen[i], 56);
    eq("echo reply: source", echoSrc[i], IP_B);
  }
  eq("B.icmpEchoRequests", B.icmpEchoRequests, 10);
  eq("A.icmpEchoReplies", A.icmpEchoReplies, 10);
  eq("ICMP messages the reference checked", refIcmpChecked - <u32>c0, 20);
  eq("reference errors", refErrors, 0);
  ok("icmp: 10 echo requests answered; replies match id, sequence and data; ICMP checksums agree with the reference");

  n0 = rxN[1];
  tamper = TAMPER_IP_CSUM;
  eq("send (IP header to corrupt)", sendPattern(A, IP_B, PORT_A, PORT_B, 64), 0);
  after(STEP_NS, s4);
}

function s4(arg: usize): void {
  eq("B.ipBadChecksum", B.ipBadChecksum, 1);
  eq("B: datagrams delivered", rxN[1], n0);
  ok("ipv4: a frame with a corrupted header checksum is dropped and counted");
  tamper = TAMPER_PAYLOAD;
  eq("send (data to corrupt)", sendPattern(A, IP_B, PORT_A, PORT_B, 64), 0);
  after(STEP_NS, s5);
}

function s5(arg: usize): void {
  eq("B.udpBadChecksum", B.udpBadChecksum, 1);
  eq("B: datagrams delivered", rxN[1], n0);
  ok("udp: a datagram whose checksum does not match is dropped and counted");
  tamper = TAMPER_PAYLOAD;
  rxFlagsNext = NET_RX_DATA_VALIDATED;
  eq("send (corrupted, marked validated)", sendPattern(A, IP_B, PORT_A, PORT_B, 64), 0);
  after(STEP_NS, s6);
}

function s6(arg: usize): void {
  expectRx("B, validated by the link", 1, n0, IP_A, PORT_A, PORT_B, 64, false);
  eq("B.udpBadChecksum", B.udpBadChecksum, 1);
  ok("udp: NET_RX_DATA_VALIDATED skips verification (the link's word is taken)");
  n0 = rxN[1];
  tamper = TAMPER_MF;
  eq("send (to mark MF)", sendPattern(A, IP_B, PORT_A, PORT_B, 64), 0);
  tamper = TAMPER_OFFSET;
  eq("send (to give an offset)", sendPattern(A, IP_B, PORT_A, PORT_B, 64), 0);
  after(STEP_NS, s7);
}

function s7(arg: usize): void {
  eq("B.ipFragmentsDropped", B.ipFragmentsDropped, 2);
  eq("B: datagrams delivered", rxN[1], n0);
  eq("B.ipBadChecksum (the tampered headers were re-checksummed)", B.ipBadChecksum, 1);
  ok("ipv4: fragments (MF set; offset != 0) are dropped and counted");
  c0 = refUdpChecked;
  eq("send 60000 bytes", sendPattern(A, IP_B, PORT_A, PORT_B, 60000), 0);
  after(STEP_NS, s8);
}

function s8(arg: usize): void {
  expectRx("B, 60000 bytes", 1, n0, IP_A, PORT_A, PORT_B, 60000);
  eq("UDP checksums the reference checked", refUdpChecked - <u32>c0, 1);
  eq("reference errors", refErrors, 0);
  ok("udp: a 60000-byte datagram (one 60042-byte frame) is delivered intact, its checksum verified");
  n0 = rxN[1];
  A.csumOffload = true;
  eq("send 1000 bytes, checksum blank", sendPattern(A, IP_B, PORT_A, PORT_B, 1000), 0);
  after(STEP_NS, s9);
}

function s9(arg: usize): void {
  expectRx("B, 1000 bytes filled by the link", 1, n0, IP_A, PORT_A, PORT_B, 1000);
  eq("send 60000 bytes, checksum blank", sendPattern(A, IP_B, PORT_A, PORT_B, 60000), 0);
  after(STEP_NS, s10);
}

function s10(arg: usize): void {
  expectRx("B, 60000 bytes filled by the link", 1, n0 + 1, IP_A, PORT_A, PORT_B, 60000);
  eq("blank frames seen", blankSeen, 2);
  eq("blank frames filled and verified by the reference", blankFilled, 2);
  eq("B.udpBadChecksum", B.udpBadChecksum, 1);
  eq("reference errors", refErrors, 0);
  ok("offload: A sends NET_TX_CSUM_BLANK with a zero field; l4ChecksumFill fills it; B verifies it");
  n0 = rxN[1];
  tamper = TAMPER_PAYLOAD; // after the fill
  eq("send 500 bytes, to corrupt after the fill", sendPattern(A, IP_B, PORT_A, PORT_B, 500), 0);
  deliverUnfilled = true;
  eq("send 700 bytes, delivered unfilled", sendPattern(A, IP_B, PORT_A, PORT_B, 700), 0);
  after(STEP_NS, s11);
}

function s11(arg: usize): void {
  eq("B.udpBadChecksum", B.udpBadChecksum, 2);
  expectRx("B, 700 bytes with NET_RX_CSUM_BLANK", 1, n0, IP_A, PORT_A, PORT_B, 700);
  ok("offload: a datagram corrupted after the fill is dropped; one delivered unfilled with NET_RX_CSUM_BLANK is accepted");
  A.csumOffload = false;

  eq("B joins 239.1.2.3", B.udpJoin(G1), 0);
  eq("B joins 239.1.2.3 again", B.udpJoin(G1), -XEN_EADDRINUSE);
  eq("the link is asked to receive 01:00:5e:01:02:03", mcastJoins, 1);
  eq("which MAC", <i64>mcastLastMac, 0x01005e010203);
  n0 = rxN[1];
  c0 = B.rxMcastFiltered;
  mark = logN;
  eq("A to 239.1.2.3", sendPattern(A, G1, PORT_A, PORT_MCAST, 40), 0);
  eq("A to 239.1.2.4", sendPattern(A, G2, PORT_A, PORT_MCAST, 41), 0);
  eq("A to 239.129.2.3", sendPattern(A, G3, PORT_A, PORT_MCAST, 42), 0);
  after(STEP_NS, s12);
}

function s12(arg: usize): void {
  expectRx("B, multicast", 1, n0, IP_A, PORT_A, PORT_MCAST, 40);
  eq("B: multicast filtered", B.rxMcastFiltered - c0, 2);
  eq("ARP frames for groups", countAnyArp(mark), 0);
  eq("the group's destination MAC", <i64>logDst[mark], 0x01005e010203);
  eq("the other group's destination MAC", <i64>logDst[mark + 1], 0x01005e010204);
  ok("multicast: a joined group is delivered; another group's MAC and another group on the same MAC are filtered and counted; no ARP for groups");
  eq("B leaves 239.1.2.3", B.udpLeave(G1), 0);
  eq("the link is told to drop the MAC", mcastLeaves, 1);
  eq("A to 239.1.2.3 again", sendPattern(A, G1, PORT_A, PORT_MCAST, 40), 0);
  after(STEP_NS, s13);
}

function s13(arg: usize): void {
  eq("B: multicast filtered", B.rxMcastFiltered - c0, 3);
  eq("B: datagrams delivered", rxN[1], n0 + 1);
  ok("multicast: after udpLeave the group is filtered");
  n0 = rxN[1];
  eq("A to 255.255.255.255", sendPattern(A, 0xFFFFFFFF, PORT_A, PORT_B, 20), 0);
  eq("A to an unbound port", sendPattern(A, IP_B, PORT_A, 9999, 20), 0);
  eq("A to an unbound port, broadcast", sendPattern(A, 0xFFFFFFFF, PORT_A, 9998, 20), 0);
  after(STEP_NS, s14);
}

function s14(arg: usize): void {
  expectRx("B, broadcast", 1, n0, IP_A, PORT_A, PORT_B, 20);
  eq("B.udpNoPort", B.udpNoPort, 2);
  eq("A.icmpDestUnreachable (none for the broadcast)", A.icmpDestUnreachable, 1);
  ok("udp: a broadcast is delivered; datagrams to an unbound port are counted, and answered with ICMP port unreachable unless broadcast");

  c0 = A.txDropped;
  linkFull = true;
  eq("A sends on a full link", sendPattern(A, IP_B, PORT_A, PORT_B, 20), -XEN_ENOSPC);
  linkFull = false;
  eq("A.txDropped", A.txDropped - c0, 1);
  ok("link: a full link queue is reported to the sender (-XEN_ENOSPC) and counted as a tx drop");

  mark = logN;
  c0 = A.txDropped;
  for (let seq: u16 = 1; seq <= 5; seq++) eq("ping 10.0.0.99", A.ping(IP_NOBODY, 1, seq, 8), 0);
  eq("A: packets waiting for 10.0.0.99", A.arpPending(), 3);
  eq("A.txDropped (oldest beyond 3)", A.txDropped - c0, 2);
  after(3 * retryNs + retryNs / 2 + 5 * NS_PER_MS, s15);
}

function s15(arg: usize): void {
  eq("ARP requests for 10.0.0.99", countArp(0, 1, IP_NOBODY, mark), 3);
  let prev: u64 = 0;
  let k = 0;
  for (let i = mark; i < logN; i++) {
    if (logType[i] != 0x0806 || logArpTpa[i] != IP_NOBODY) continue;
    if (k > 0) expect(logTime[i] - prev >= retryNs, "ARP requests at least arpRetryNs apart");
    prev = logTime[i];
    k++;
  }
  eq("A.arpFailures", A.arpFailures, 1);
  eq("A: packets waiting", A.arpPending(), 0);
  eq("A.txDropped (all 5)", A.txDropped - c0, 5);
  ok("arp: an address nobody answers gets 3 requests, arpRetryNs apart, then its queued packets are dropped (3 kept of 5, then those)");
  eq("A's entry for B, not expired yet", A.arpLookup(IP_B), <i64>MAC_B);
  after(A.arpTimeoutNs, s16);
}

function s16(arg: usize): void {
  eq("A's entry for B after the timeout", A.arpLookup(IP_B), -1);
  mark = logN;
  n0 = rxN[1];
  c0 = A.txDropped;
  for (let len: u32 = 33; len <= 36; len++) eq("A to B after expiry", sendPattern(A, IP_B, PORT_A, PORT_B, len), 0);
  eq("A: packets waiting for ARP (3 of 4)", A.arpPending(), 3);
  eq("A.txDropped (the oldest)", A.txDropped - c0, 1);
  after(STEP_NS, s17);
}

function s17(arg: usize): void {
  eq("A's new ARP requests for B", countArp(0, 1, IP_B, mark), 1);
  expectRx("B, after re-resolution", 1, n0 + 2, IP_A, PORT_A, PORT_B, 36);
  eq("B: the first length delivered", lastLens[0], 34);
  eq("B: the second length delivered", lastLens[1], 35);
  eq("B: corrupted datagrams", rxCorrupt[1], 1); // the one NET_RX_DATA_VALIDATED let through
  ok("arp: an entry expires after arpTimeoutNs; the next datagrams ask again, wait (the oldest of 4 dropped) and go out intact, in order");
  malformedInput();
  after(STEP_NS, s18);
}

/** Hands B bad frames directly (we are in a timer, not inside B.input: no re-entry). */
function malformedInput(): void {
  expect(templateLen >= 14 + 20 + 8, "a template frame");
  const f = SCRATCH;
  const n = templateLen;
  const drops0 = B.rxDropped;
  const mal0 = B.rxMalformed;
  n0 = rxN[1];

  B.input(f, 10, 0); // too short for Ethernet (contents irrelevant)
  eq("B.rxMalformed (10-byte frame)", B.rxMalformed - mal0, 1);

  memory.copy(f, template, n);
  put16(f + 4, 0x0099); // another host's unicast MAC
  c0 = B.rxOtherHost;
  B.input(f, n, 0);
  eq("B.rxOtherHost", B.rxOtherHost - c0, 1);

  memory.copy(f, template, n);
  put32(f, 0x01005e7f); put16(f + 4, 0x0001); // a group MAC nobody joined, to B's own address
  c0 = B.rxMcastFiltered;
  B.input(f, n, 0);
  eq("B.rxMcastFiltered (group MAC, our address)", B.rxMcastFiltered - c0, 1);

  memory.copy(f, template, n);
  store<u8>(f + 14, 0x65); // version 6 under EtherType IPv4
  B.input(f, n, 0);
  eq("B.rxMalformed (version)", B.rxMalformed - mal0, 2);

  memory.copy(f, template, n);
  put16(f + 14 + 2, n - 14 + 1); // total length beyond the frame
  ipv4HeaderChecksumFill(f + 14);
  B.input(f, n, 0);
  eq("B.rxMalformed (total length)", B.rxMalformed - mal0, 3);

  memory.copy(f, template, n);
  put16(f + 14 + 20 + 4, n - 14 - 20 + 1); // UDP length beyond the datagram
  B.input(f, n, 0);
  eq("B.rxMalformed (UDP length)", B.rxMalformed - mal0, 4);

  memory.copy(f, template, n);
  put16(f + 12, 0x88cc); // LLDP
  c0 = B.rxUnknownProto;
  B.input(f, n, 0);
  eq("B.rxUnknownProto", B.rxUnknownProto - c0, 1);

  memory.copy(f, template, n);
  B.input(f, n, 0); // and the template itself still goes through
  eq("B: datagrams delivered", rxN[1], n0 + 1);
  eq("B.rxDropped", B.rxDropped - drops0, 7);

  // An RFC 5227 probe for B's address from a host without one.
  mark = logN;
  memory.fill(f, 0, 42);
  put32(f, 0xFFFFFFFF); put16(f + 4, 0xFFFF);
  put32(f + 6, 0x02000000); put16(f + 10, 0x0077);
  put16(f + 12, 0x0806);
  put16(f + 14, 1); put16(f + 16, 0x0800); store<u8>(f + 18, 6); store<u8>(f + 19, 4); put16(f + 20, 1);
  memory.copy(f + 22, f + 6, 6); // sha
  put32(f + 38, IP_B); // tpa; spa (28..31) stays 0
  B.input(f, 42, 0);
}

function s18(arg: usize): void {
  eq("B's replies to the probe", countArp(1, 2, 0, mark), 1);
  eq("the reply's destination MAC", <i64>logDst[mark], 0x020000000077);
  eq("B's cache entry for the prober (none: it has no address)", B.arpLookup(0), -1);
  ok("input: short, misaddressed (unicast and group MACs), wrong-version, over-long and unknown frames are dropped and counted; an ARP probe is answered");

  // A dropped one frame only: B's reply to the prober, which the link hands to A (another host's MAC).
  eq("A.rxDropped", A.rxDropped, 1);
  eq("A.rxOtherHost", A.rxOtherHost, 1);
  eq("reference errors", refErrors, 0);
  dump();
  puts("net_stack: all "); putu(checks); printk(" checks passed");
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
