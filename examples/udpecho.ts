// udpecho: a UDP echo server (RFC 862) on a vif: every datagram to its port goes back to its
// sender, byte for byte. Runs until shut down (control/shutdown), or until it echoed `count`
// datagrams and `linger` passed.
//
//   xenwasm run --vif on --cmdline "ip=10.0.0.2 count=10" build/examples/udpecho.wasm \
//                        --cmdline "ip=10.0.0.1 peer=10.0.0.2 proto=udp n=10" build/examples/netping.wasm
//
// Command line: ip=A.B.C.D (required), port=N (default 7), count=N (0: forever), linger=MS
// (default 200), verbose=1 (a line per datagram), hotplug=1 (when the vif is detached, wait
// for it to be attached again and serve on the new one), and netfront's options.
import {
  boot, evtchnUpcall, printk, puts, putu, panic, poweroff, xsInit, cmdlineGet, cmdlineGetU32, timerSet, NS_PER_MS,
  xenbusWatchShutdown,
} from "../assembly/index";
import { NetStack } from "../assembly/net/stack";
import { ipParse, ipFormat } from "../assembly/net/addr";
import { NetfrontConfig } from "../drivers/net/front";
import { NetLink, netLinkAttach } from "../drivers/net/link";

let port: u16 = 7;
let count: u32 = 0;
let echoed: u32 = 0;
let failed: u32 = 0;
let verbose = false;
let linger: u64 = 200 * NS_PER_MS;
let ip: u32 = 0;

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  if (xsInit() < 0) panic("udpecho: no xenstore");
  const v = cmdlineGet("ip");
  const a = v === null ? -1 : ipParse(v);
  if (a < 0) { printk("udpecho: ip=A.B.C.D is required"); panic("bad command line"); }
  ip = <u32>a;
  port = <u16>cmdlineGetU32("port", 7);
  count = <u32>cmdlineGetU32("count", 0);
  linger = <u64>cmdlineGetU32("linger", 200) * NS_PER_MS;
  verbose = cmdlineGetU32("verbose", 0) == 1;
  xenbusWatchShutdown();
  const l = netLinkAttach(0, NetfrontConfig.fromCmdline(), ip, onReady, 0);
  l.hotplug = cmdlineGetU32("hotplug", 0) == 1;
}

function onReady(l: NetLink, status: i32, arg: usize): void {
  if (status < 0) { puts("udpecho: vif failed: -"); putu(-status); printk(""); panic("no vif"); }
  if (l.stack!.udpBind(port, onDatagram, 0) < 0) panic("udpecho: cannot bind the port");
  puts("udpecho: listening on ");
  puts(ipFormat(ip));
  puts(":");
  putu(port);
  printk("");
}

function onDatagram(s: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: u32, arg: usize): void {
  const rc = s.udpSend(srcIp, port, srcPort, data, len);
  if (rc < 0) failed++;
  else echoed++;
  if (verbose) {
    puts("udpecho: ");
    putu(len);
    puts(" bytes from ");
    puts(ipFormat(srcIp));
    puts(":");
    putu(srcPort);
    printk(rc < 0 ? " (echo not sent)" : "");
  }
  if (count > 0 && echoed + failed == count) {
    puts("udpecho: echoed ");
    putu(echoed);
    puts(" datagrams");
    printk(failed > 0 ? ", " + failed.toString() + " not sent" : "");
    timerSet(linger, off, 0);
  }
}

function off(arg: usize): void { poweroff(); }

export function xen_upcall(): void {
  evtchnUpcall();
}
