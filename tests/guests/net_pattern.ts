// net_pattern: frame integrity through netfront, dom0's switch and netfront again. Two guests run
// the same binary:
//
//   xenwasm run --vif on --cmdline "role=recv n=500 seed=7" build/tests/net_pattern.wasm \
//                        --cmdline "role=send n=500 seed=7" build/tests/net_pattern.wasm
//
// The receiver broadcasts a "ready" frame every 20 ms until data arrives; the sender, once it
// hears it, sends `n` frames to the receiver's MAC: random lengths from `min` to `max` bytes
// (default 14..65535, capped to what the link carries), random contents from a generator both
// sides seed with (seed, frame index; frames under 20 bytes carry no index and must come in
// order), in order, as fast as the ring takes them. Frames with
// `gso=1` are TCP/IPv4 GSO frames (MSS `mss`, default 1448) that the switch passes on or
// segments (`v6=1`: TCP/IPv6 and XEN_NETIF_GSO_TYPE_TCPV6); the receiver then checks the TCP byte
// stream instead of frames (with `csum-blank=1`
// the shorter frames go with a blank checksum too, for the switch or the receiver to fill). The receiver checks
// every byte and the order, answers "done", and both power off. Any mismatch panics. A sender
// with `to=MAC` sends to that MAC without waiting for a "ready" frame (a peer that is no
// net_pattern guest, such as Linux behind the switch's uplink), `wait=MS` after its vif is up,
// and powers off once every frame's transmit response came back. Extra
// command-line keys go to netfront (queues=, sg=, gso=, csum=, split=, mcast=, net-features=none).
import {
  boot, evtchnUpcall, printk, puts, putu, panic, poweroff, xsInit, cmdlineGet, cmdlineGetU32, timerSet, NS_PER_MS, now,
} from "../../assembly/index";
import {
  NetFront, NetfrontConfig, netfrontAttach, netfrontSend, netfrontOnTxDone, netfrontExpectedQueue, FRAME_CSUM_BLANK,
  XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../drivers/net/front";
import { MAC_BROADCAST, macLoad, macStore } from "../../assembly/net/wire";
import { macFormat, macParse } from "../../assembly/net/addr";
import { XEN_ENOSPC } from "../../assembly/xen/errno";
import { l4ChecksumFill, checksumAdd } from "../../assembly/net/checksum";

import {
  PATTERN_ETHERTYPE as ETHERTYPE_PATTERN, PATTERN_ETHERTYPE_TINY as ETHERTYPE_TINY, KIND_READY, KIND_DATA, KIND_DONE,
  patternFill, patternCheck, patternLen, streamFill, streamCheck,
} from "../../drivers/net/pattern";

let dev: NetFront | null = null;
let sender = false;
let n: u32 = 0;
let seed: u32 = 1;
let minLen: u32 = 14;
let maxLen: u32 = 65535;
let gso = false;
/** GSO mode: send frames up to the MSS with a blank checksum too (the switch or receiver fills it). */
let blank = false;
/** GSO mode over IPv6 (`v6=1`): TCP/IPv6 frames, XEN_NETIF_GSO_TYPE_TCPV6; the IP header's length. */
let v6 = false;
let ipHdr: u32 = 20;
let mss: u32 = 1448;
let peer: u64 = 0;
/** `to=MAC`: the peer is given, not announced; frames whose transmit responses came back. */
let fixedPeer = false;
let completed: u32 = 0;
let waitNs: u64 = 0;
let started = false;
let sent: u32 = 0;
let received: u32 = 0;
let bytes: u64 = 0;
let finished = false;
let t0: u64 = 0;
/** GSO mode: the TCP stream position the receiver expects next. */
let streamAt: u64 = 0;
/** Flows mode: frames are UDP/IPv4 from `flows` source addresses; order is checked per flow. */
let flows: u32 = 0;
const flowNext = new StaticArray<u32>(256);
const perQueue = new StaticArray<u32>(8);
let streamTotal: u64 = 0;
const FRAME: usize = heap.alloc(65536);
const CHECK: usize = heap.alloc(65536);

/** The pattern bytes of frame `index` (drivers/net/pattern.ts: both ends generate the same). */
@inline function gen(index: u32, dst: usize, len: u32): void { patternFill(seed, index, dst, len); }

/** The length of frame `index`: random in [minLen, maxLen], from the same generator. */
@inline function lenOf(index: u32): u32 { return patternLen(seed, index, minLen, maxLen); }

function header(dst: u64, kind: u8): void {
  macStore(FRAME, dst);
  macStore(FRAME + 6, dev!.mac);
  store<u16>(FRAME + 12, bswap<u16>(ETHERTYPE_PATTERN));
  store<u8>(FRAME + 14, kind);
}

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  if (xsInit() < 0) panic("net_pattern: no xenstore");
  sender = cmdlineGet("role") == "send";
  n = <u32>cmdlineGetU32("n", 100);
  seed = <u32>cmdlineGetU32("seed", 1);
  minLen = <u32>cmdlineGetU32("min", 14);
  maxLen = <u32>cmdlineGetU32("max", 65535);
  gso = cmdlineGetU32("gso-frames", 0) == 1;
  blank = cmdlineGetU32("csum-blank", 0) == 1;
  v6 = cmdlineGetU32("v6", 0) == 1;
  ipHdr = v6 ? 40 : 20;
  flows = min(<u32>cmdlineGetU32("flows", 0), 256);
  for (let f: u32 = 0; f < flows; f++) unchecked(flowNext[f] = f);
  mss = <u32>cmdlineGetU32("mss", 1448);
  const to = cmdlineGet("to");
  if (to !== null) {
    const mac = macParse(to);
    if (mac < 0 || !sender) panic("net_pattern: to=MAC needs role=send and a MAC as 00:16:3e:00:00:01");
    peer = <u64>mac;
    fixedPeer = true;
    waitNs = <u64>cmdlineGetU32("wait", 0) * NS_PER_MS;
  }
  const floor: u32 = gso ? 14 + ipHdr + 21 : flows > 0 ? 46 : 14;
  if (minLen < floor) minLen = floor;
  if (maxLen < minLen) maxLen = minLen;
  dev = netfrontAttach(0, NetfrontConfig.fromCmdline(), onReady, onRx, 0);
  netfrontOnTxDone(dev!, onTxDone, 0);
}

/** Fails the run when nothing moved for 10 s (a peer that died would otherwise keep it up forever). */
let lastProgress: u64 = 0;
let quietChecks: u32 = 0;
function watchdog(arg: usize): void {
  if (finished) return;
  const p = <u64>sent + <u64>received + streamAt;
  quietChecks = p == lastProgress ? quietChecks + 1 : 0;
  lastProgress = p;
  if (quietChecks >= 10) { puts("net_pattern: no progress for 10 s (sent "); putu(sent); puts(", received "); putu(received); printk(")"); panic("stalled"); }
  timerSet(1000 * NS_PER_MS, watchdog, 0);
}

function onReady(d: NetFront, status: i32, arg: usize): void {
  timerSet(1000 * NS_PER_MS, watchdog, 0);
  if (status < 0) { puts("net_pattern: vif failed: "); putu(-status); printk(""); panic("no vif"); }
  // The largest frame this link carries as one frame.
  const cap = d.maxFrame;
  if (!gso && maxLen > cap) maxLen = cap;
  if (minLen > maxLen) minLen = maxLen;
  if (!sender) announce(0);
  else if (fixedPeer) timerSet(waitNs, startFixed, 0);
}

/** to=MAC: starts sending without a receiver's "ready". */
function startFixed(arg: usize): void {
  started = true;
  t0 = now();
  pump();
}

/** The receiver's "ready" broadcast, until the first data frame arrives. */
function announce(arg: usize): void {
  if (received > 0 || finished) return;
  // Not before the receive steering is set up: it would move flows between queues mid-stream.
  if (dev!.steeringPending) { timerSet(NS_PER_MS, announce, 0); return; }
  header(MAC_BROADCAST, KIND_READY);
  netfrontSend(dev!, FRAME, 60);
  timerSet(20 * NS_PER_MS, announce, 0);
}

function onTxDone(d: NetFront, done: u32, errors: u32, arg: usize): void {
  if (errors > 0) { puts("net_pattern: "); putu(errors); printk(" transmit errors"); panic("transmit failed"); }
  completed += done;
  if (sender && started) pump();
  if (fixedPeer && completed == n && !finished) {
    finished = true;
    puts("net_pattern: sent ");
    putu(sent);
    puts(" frames to ");
    puts(macFormat(peer));
    printk(", every transmit response okay");
    poweroff();
  }
}

/** Sends frames while the ring has room. */
function pump(): void {
  while (sent < n) {
    const rc = gso ? sendGso(sent) : sendData(sent);
    if (rc == -XEN_ENOSPC) return;
    if (rc < 0) { puts("net_pattern: send failed: -"); putu(-rc); printk(""); panic("send"); }
    sent++;
  }
}

function sendData(i: u32): i32 {
  const len = lenOf(i);
  if (len < 20 && flows == 0) {
    header(peer, 0);
    store<u16>(FRAME + 12, bswap<u16>(ETHERTYPE_TINY));
    gen(i, FRAME + 14, len - 14);
    return netfrontSend(dev!, FRAME, len);
  }
  if (flows > 0) {
    // UDP/IPv4 from 10.0.1.<flow>, port 1000 + flow, to 10.0.0.1 port 2000; no UDP checksum.
    const flow = i % flows;
    macStore(FRAME, peer);
    macStore(FRAME + 6, dev!.mac);
    store<u16>(FRAME + 12, bswap<u16>(0x0800));
    const ip = FRAME + 14;
    memory.fill(ip, 0, 28);
    store<u8>(ip, 0x45);
    store<u16>(ip + 2, bswap<u16>(<u16>(len - 14)));
    store<u8>(ip + 8, 64);
    store<u8>(ip + 9, 17);
    store<u32>(ip + 12, bswap<u32>(0x0a000100 | flow));
    store<u32>(ip + 16, bswap<u32>(0x0a000001));
    store<u16>(ip + 10, bswap<u16>(<u16>~checksumAdd(ip, 20)));
    store<u16>(ip + 20, bswap<u16>(<u16>(1000 + flow)));
    store<u16>(ip + 22, bswap<u16>(2000));
    store<u16>(ip + 24, bswap<u16>(<u16>(len - 34)));
    store<u32>(FRAME + 42, i);
    gen(i, FRAME + 46, len - 46);
    return netfrontSend(dev!, FRAME, len);
  }
  header(peer, KIND_DATA);
  store<u32>(FRAME + 15, i);
  gen(i, FRAME + 19, len - 19);
  return netfrontSend(dev!, FRAME, len);
}

/**
 * GSO mode: frame i is one TCP/IPv4 segment of lenOf(i) - 54 payload bytes (at least 1) carrying
 * the next bytes of the stream, sent as a GSO frame when it is longer than `mss` (checksum left
 * blank, as a Linux sender does).
 */
function sendGso(i: u32): i32 {
  const hdrs = 14 + ipHdr + 20;
  const payload = max<u32>(1, lenOf(i) - hdrs);
  const f = FRAME;
  macStore(f, peer);
  macStore(f + 6, dev!.mac);
  const ip = f + 14;
  memory.fill(ip, 0, ipHdr + 20);
  if (v6) {
    store<u16>(f + 12, bswap<u16>(0x86dd));
    store<u8>(ip, 0x60);
    store<u16>(ip + 4, bswap<u16>(<u16>(20 + payload)));
    store<u8>(ip + 6, 6);
    store<u8>(ip + 7, 64);
    store<u16>(ip + 8, bswap<u16>(0xfd00)); // fd00::2 -> fd00::1
    store<u8>(ip + 23, 2);
    store<u16>(ip + 24, bswap<u16>(0xfd00));
    store<u8>(ip + 39, 1);
  } else {
    store<u16>(f + 12, bswap<u16>(0x0800));
    store<u8>(ip, 0x45);
    store<u16>(ip + 2, bswap<u16>(<u16>(20 + 20 + payload)));
    store<u16>(ip + 6, bswap<u16>(0x4000));
    store<u8>(ip + 8, 64);
    store<u8>(ip + 9, 6);
    store<u32>(ip + 12, bswap<u32>(0x0a000002));
    store<u32>(ip + 16, bswap<u32>(0x0a000001));
    store<u16>(ip + 10, bswap<u16>(<u16>(~checksumAdd(ip, 20))));
  }
  const tcp = ip + ipHdr;
  store<u16>(tcp, bswap<u16>(40000));
  store<u16>(tcp + 2, bswap<u16>(5001));
  store<u32>(tcp + 4, bswap<u32>(<u32>streamTotal));
  store<u8>(tcp + 12, 0x50);
  store<u8>(tcp + 13, 0x18); // PSH, ACK
  store<u16>(tcp + 14, bswap<u16>(65535));
  streamFill(seed, streamTotal, tcp + 20, payload);
  const len = hdrs + payload;
  const rc = payload > mss
    ? netfrontSend(dev!, f, len, FRAME_CSUM_BLANK, v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4, mss)
    : blank ? netfrontSend(dev!, f, len, FRAME_CSUM_BLANK) : (l4ChecksumFill(f, len) ? netfrontSend(dev!, f, len) : -1);
  if (rc == 0) streamTotal += payload;
  return rc;
}


function onRx(d: NetFront, q: u32, frame: usize, len: u32, offload: u32, gsoType: u32, gsoSize: u32, arg: usize): void {
  const type = bswap<u16>(load<u16>(frame + 12));
  if (type == 0x0800 && load<u8>(frame + 23) == 17) return flowData(frame, len, q);
  if (type == 0x0800 || type == 0x86dd) return tcpSegment(frame, len, offload, gsoType);
  if (type == ETHERTYPE_TINY && !sender) return tinyData(frame, len);
  if (type != ETHERTYPE_PATTERN || len < 15) return;
  const kind = load<u8>(frame + 14);
  if (kind == KIND_READY && sender && !started) {
    started = true;
    peer = macLoad(frame + 6);
    puts("net_pattern: receiver ");
    puts(macFormat(peer));
    printk(" is ready, sending");
    t0 = now();
    pump();
    return;
  }
  if (kind == KIND_DONE && sender) {
    puts("net_pattern: sent ");
    putu(sent);
    printk(" frames, receiver verified them");
    finished = true;
    poweroff();
    return;
  }
  if (kind != KIND_DATA || sender) return;
  if (received == 0) t0 = now();
  peer = macLoad(frame + 6);
  const i = load<u32>(frame + 15);
  if (i != received) { puts("net_pattern: frame "); putu(i); puts(" arrived, expected "); putu(received); printk(""); panic("order"); }
  const want = lenOf(i);
  if (len != want) { puts("net_pattern: frame "); putu(i); puts(" is "); putu(len); puts(" bytes, expected "); putu(want); printk(""); panic("length"); }
  if (!patternCheck(seed, i, frame + 19, len - 19)) { puts("net_pattern: frame "); putu(i); printk(" corrupted"); panic("contents"); }
  received++;
  bytes += len;
  if (received == n) done();
}

/** A frame of 14..19 bytes: no index in it, so it must be the next one. */
function tinyData(frame: usize, len: u32): void {
  const i = received;
  if (len != lenOf(i)) { puts("net_pattern: a "); putu(len); puts("-byte frame arrived where frame "); putu(i); puts(" of "); putu(lenOf(i)); printk(" bytes was due"); panic("order"); }
  if (!patternCheck(seed, i, frame + 14, len - 14)) panic("net_pattern: contents");
  if (received == 0) t0 = now();
  peer = macLoad(frame + 6);
  received++;
  bytes += len;
  if (received == n) done();
}

/** Flows mode: a UDP frame; checks its bytes, its order within its flow, and its receive queue. */
function flowData(frame: usize, len: u32, q: u32): void {
  if (sender || flows == 0) return;
  const i = load<u32>(frame + 42);
  const flow = i % flows;
  if (i != unchecked(flowNext[flow])) { puts("net_pattern: flow "); putu(flow); puts(": frame "); putu(i); puts(", expected "); putu(unchecked(flowNext[flow])); printk(""); panic("order"); }
  unchecked(flowNext[flow] = i + flows);
  if (len != lenOf(i)) panic("net_pattern: length");
  if (!patternCheck(seed, i, frame + 46, len - 46)) panic("net_pattern: contents");
  const want = netfrontExpectedQueue(dev!, frame, len);
  if (want >= 0 && <u32>want != q) { puts("net_pattern: flow "); putu(flow); puts(" arrived on queue "); putu(q); puts(", the hash says "); putu(want); printk(""); panic("steering"); }
  if (q < 8) unchecked(perQueue[q]++);
  if (received == 0) t0 = now();
  received++;
  bytes += len;
  if (received == n) {
    puts("net_pattern: per queue");
    for (let k = 0; k < 8; k++) if (unchecked(perQueue[k]) > 0) { puts(" "); putu(k); puts(":"); putu(unchecked(perQueue[k])); }
    printk(dev!.hashActive ? " (steered by the Toeplitz hash)" : "");
    done();
  }
}

/** GSO mode: a TCP segment (or a whole GSO frame) of the stream; checks headers, checksum, bytes. */
function tcpSegment(frame: usize, len: u32, offload: u32, gsoType: u32): void {
  if (sender) return;
  const ip = frame + 14, tcp = ip + ipHdr;
  // The IP length must cover the frame exactly; an IPv4 header must verify.
  const tot: u32 = v6 ? 40 + <u32>bswap<u16>(load<u16>(ip + 4)) : <u32>bswap<u16>(load<u16>(ip + 2));
  if (14 + tot != len) { puts("net_pattern: IP length "); putu(tot); puts(" in a frame of "); putu(len); printk(""); panic("ip length"); }
  if (!v6 && checksumAdd(ip, 20) != 0xffff) panic("net_pattern: bad IP header checksum");
  const payload = tot - ipHdr - 20;
  if (gsoType == 0 && payload > mss) panic("net_pattern: a segment longer than the MSS without GSO");
  // A blank checksum is only allowed when the link said so; otherwise it must verify.
  if ((offload & FRAME_CSUM_BLANK) == 0) {
    memory.copy(CHECK, frame, len);
    l4ChecksumFill(CHECK, len);
    if (load<u16>(CHECK + (tcp - frame) + 16) != load<u16>(tcp + 16)) panic("net_pattern: bad TCP checksum");
  }
  const seq = <u64>bswap<u32>(load<u32>(tcp + 4));
  if (seq != (streamAt & 0xffffffff)) { puts("net_pattern: TCP seq "); putu(seq); puts(", expected "); putu(streamAt); printk(""); panic("seq"); }
  if (!streamCheck(seed, streamAt, tcp + 20, payload)) panic("net_pattern: stream corrupted");
  if (received == 0) t0 = now();
  streamAt += payload;
  bytes += payload;
  received++;
  peer = macLoad(frame + 6);
  // The sender's stream: the expected total is known once n frames' payloads are summed.
  if (streamAt == expectedStream()) done();
}

let expected: u64 = 0;
function expectedStream(): u64 {
  if (expected == 0) for (let i: u32 = 0; i < n; i++) expected += <u64>max<u32>(1, lenOf(i) - (14 + ipHdr + 20));
  return expected;
}

function done(): void {
  finished = true;
  puts("net_pattern: received ");
  putu(received);
  puts(gso ? " segments, " : " frames, ");
  putu(bytes);
  puts(" bytes, all verified in ");
  putu((now() - t0) / 1000);
  printk(" us");
  header(peer, KIND_DONE);
  // The done frame may find the ring full: retry until it goes.
  sendDone(0);
}

function sendDone(arg: usize): void {
  header(peer, KIND_DONE);
  if (netfrontSend(dev!, FRAME, 60) == -XEN_ENOSPC) { timerSet(NS_PER_MS, sendDone, 0); return; }
  // Stay up a little so that the done frame leaves before our vif goes.
  timerSet(5 * NS_PER_MS, off, 0);
}

function off(arg: usize): void { poweroff(); }

export function xen_upcall(): void {
  evtchnUpcall();
}
