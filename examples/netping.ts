// netping: pings a peer through netfront and dom0's switch, as ping(8) does, and prints each
// round trip and the min/avg/max summary. With proto=udp it sends UDP datagrams to a UDP echo
// server (udpecho) instead of ICMP echo requests.
//
//   xenwasm run --vif on --cmdline "ip=10.0.0.1 peer=10.0.0.2 n=10" build/examples/netping.wasm \
//                        --cmdline "ip=10.0.0.2 peer=10.0.0.1 n=10" build/examples/netping.wasm
//
// Command line: ip=A.B.C.D (ours, required), peer=A.B.C.D (required), n=N (default 10),
// interval=MS between requests after the first one's reply (default 10), size=BYTES of payload (default 56), proto=icmp|udp,
// port=N (udp, default 7), timeout=MS to wait for each reply (default 2000), wait=MS before the
// first request, linger=MS to stay up answering the peer after the last reply (default 500), and
// netfront's options (queues=, sg=, csum=, ...). Powers off when every reply came; panics
// (exit status 1) naming the requests that got no reply.
import {
  boot, evtchnUpcall, printk, puts, putu, putFixed, panic, poweroff, xsInit, cmdlineGet, cmdlineGetU32, now, timerSet,
  NS_PER_MS, NS_PER_US, xenbusWatchShutdown,
} from "../assembly/index";
import { NetStack } from "../assembly/net/stack";
import { ipParse, ipFormat } from "../assembly/net/addr";
import { NetfrontConfig } from "../drivers/net/front";
import { NetLink, netLinkAttach } from "../drivers/net/link";

let peer: u32 = 0;
let n: u32 = 10;
let interval: u64 = 10 * NS_PER_MS;
let size: u32 = 56;
let udp = false;
let port: u16 = 7;
let timeout: u64 = 2000 * NS_PER_MS;
let linger: u64 = 500 * NS_PER_MS;
let stack: NetStack | null = null;
let sent: u32 = 0;
let got: u32 = 0;
let sentAt = new StaticArray<u64>(0);
let answered = new StaticArray<bool>(0);
let minRtt: u64 = <u64>-1;
let maxRtt: u64 = 0;
let sumRtt: u64 = 0;
let finished = false;
const ID: u16 = 0x4e50;
const SRC_PORT: u16 = 40007;
const PAYLOAD: usize = heap.alloc(65536);

function ipOpt(key: string): u32 {
  const v = cmdlineGet(key);
  const ip = v === null ? -1 : ipParse(v);
  if (ip < 0) { puts("netping: "); puts(key); printk("=A.B.C.D is required"); panic("bad command line"); }
  return <u32>ip;
}

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  if (xsInit() < 0) panic("netping: no xenstore");
  const ip = ipOpt("ip");
  peer = ipOpt("peer");
  n = max<u32>(1, min<u32>(<u32>cmdlineGetU32("n", 10), 100000));
  interval = <u64>cmdlineGetU32("interval", 10) * NS_PER_MS;
  size = min<u32>(<u32>cmdlineGetU32("size", 56), 65000);
  udp = cmdlineGet("proto") == "udp";
  port = <u16>cmdlineGetU32("port", 7);
  timeout = <u64>cmdlineGetU32("timeout", 2000) * NS_PER_MS;
  linger = <u64>cmdlineGetU32("linger", 500) * NS_PER_MS;
  if (udp && size < 4) size = 4;
  sentAt = new StaticArray<u64>(<i32>n);
  answered = new StaticArray<bool>(<i32>n);
  xenbusWatchShutdown();
  netLinkAttach(0, NetfrontConfig.fromCmdline(), ip, onReady, 0);
}

function onReady(l: NetLink, status: i32, arg: usize): void {
  if (status < 0) { puts("netping: vif failed: -"); putu(-status); printk(""); panic("no vif"); }
  const s = l.stack!;
  stack = s;
  s.onEchoReply = onEchoReply;
  if (udp && s.udpBind(SRC_PORT, onUdp, 0) < 0) panic("netping: cannot bind the UDP port");
  puts("PING ");
  puts(ipFormat(peer));
  puts(udp ? " (UDP port " + port.toString() + ")" : "");
  puts(": ");
  putu(size);
  printk(" data bytes");
  timerSet(<u64>cmdlineGetU32("wait", 0) * NS_PER_MS + 1, next, 0);
}

/** Sends request number `sent` and arms the next one (or the end). */
function next(arg: usize): void {
  if (sent >= n) return;
  const seq = sent++;
  const s = stack!;
  sentAt[seq] = now();
  let rc: i32;
  if (udp) {
    for (let i: u32 = 0; i < size; i++) store<u8>(PAYLOAD + i, <u8>(i * 7 + seq));
    store<u32>(PAYLOAD, seq);
    rc = s.udpSend(peer, SRC_PORT, port, PAYLOAD, size);
  } else rc = s.ping(peer, ID, <u16>seq, size);
  if (rc < 0) { puts("netping: request "); putu(seq); puts(" not sent: -"); putu(-rc); printk(""); }
  // The first request also finds the peer (ARP, and a peer that boots later): the others follow
  // its reply, or its timeout.
  if (seq == 0) timerSet(timeout, firstTimedOut, 0);
  else if (sent < n) timerSet(interval, next, 0);
  else timerSet(timeout, end, 0);
}

function firstTimedOut(arg: usize): void {
  if (!answered[0] && sent == 1) { if (n > 1) next(0); else end(0); }
}

function reply(seq: u32, len: u32): void {
  if (seq >= n || seq >= sent || answered[seq]) return; // late, duplicate or not ours
  answered[seq] = true;
  got++;
  const rtt = now() - sentAt[seq];
  if (rtt < minRtt) minRtt = rtt;
  if (rtt > maxRtt) maxRtt = rtt;
  sumRtt += rtt;
  putu(len);
  puts(" bytes from ");
  puts(ipFormat(peer));
  puts(udp ? ": udp_seq=" : ": icmp_seq=");
  putu(seq);
  puts(" time=");
  putFixed(rtt / NS_PER_US, 3);
  printk(" ms");
  if (got == n) end(0);
  else if (seq == 0 && sent == 1) timerSet(interval, next, 0);
}

function onEchoReply(s: NetStack, src: u32, id: u16, seq: u16, len: u32, arg: usize): void {
  if (src == peer && id == ID) reply(<u32>seq, len);
}

function onUdp(s: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: u32, arg: usize): void {
  if (srcIp != peer || srcPort != port || len != size) return;
  const seq = load<u32>(data);
  for (let i: u32 = 4; i < len; i++) if (load<u8>(data + i) != <u8>(i * 7 + seq)) { printk("netping: a reply came back corrupted"); panic("corrupted reply"); }
  reply(seq, len);
}

function end(arg: usize): void {
  if (finished) return;
  finished = true;
  puts("--- ");
  puts(ipFormat(peer));
  printk(" netping statistics ---");
  putu(sent);
  puts(" packets transmitted, ");
  putu(got);
  puts(" received, ");
  putu((n - got) * 100 / n);
  printk("% packet loss");
  if (got > 0) {
    puts("rtt min/avg/max = ");
    putFixed(minRtt / NS_PER_US, 3);
    puts("/");
    putFixed(sumRtt / <u64>got / NS_PER_US, 3);
    puts("/");
    putFixed(maxRtt / NS_PER_US, 3);
    printk(" ms");
  }
  // Stay up a little: the peer may still be pinging us.
  timerSet(linger, off, 0);
}

function off(arg: usize): void {
  if (got < n) panic("netping: replies lost");
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
