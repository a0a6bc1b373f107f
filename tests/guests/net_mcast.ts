// net_mcast: dom0's switch delivers multicast only to vifs that subscribed (multicast control).
//
//   xenwasm run --vif on --cmdline "role=send ip=10.0.0.1 receivers=2 n=20" net_mcast.wasm \
//     --cmdline "role=recv ip=10.0.0.2 join=239.1.1.1" net_mcast.wasm \
//     --cmdline "role=recv ip=10.0.0.3 join=239.1.1.2 mcast=0" net_mcast.wasm
//
// Receivers join their group, then broadcast "ready" (UDP port 9000) every 20 ms until the
// sender's first datagram; the sender waits for `receivers` of them, sends `n` datagrams to
// 239.1.1.1 and `n` to 239.1.1.2 (port 5000), then broadcasts "done". Each receiver prints what
// it got per group and how many multicast frames its own stack had to filter (frames the switch
// delivered although the vif did not subscribe them), then powers off. With `unfilter=1` a
// receiver turns multicast control off again at run time (request-multicast-control = 0,
// feature-dynamic-multicast-control) before it says ready.
import {
  boot, evtchnUpcall, printk, puts, putu, panic, poweroff, xsInit, cmdlineGet, cmdlineGetU32, timerSet, NS_PER_MS,
} from "../../assembly/index";
import { NetStack } from "../../assembly/net/stack";
import { xsWrite, XBT_NIL } from "../../assembly/xenstore";
import { ipParse, ipFormat } from "../../assembly/net/addr";
import { NetfrontConfig } from "../../drivers/net/front";
import { NetLink, netLinkAttach } from "../../drivers/net/link";

const G1: u32 = 0xef010101, G2: u32 = 0xef010102; // 239.1.1.1, 239.1.1.2
const DATA_PORT: u16 = 5000, CTL_PORT: u16 = 9000;
let sender = false;
let link: NetLink | null = null;
let receivers: u32 = 1;
let ready: u32 = 0;
let n: u32 = 20;
let got1: u32 = 0, got2: u32 = 0;
let started = false;
let finished = false;
const readyFrom = new Array<u32>();
const BUF: usize = heap.alloc(256);

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  if (xsInit() < 0) panic("net_mcast: no xenstore");
  sender = cmdlineGet("role") == "send";
  receivers = <u32>cmdlineGetU32("receivers", 1);
  n = <u32>cmdlineGetU32("n", 20);
  const ipS = cmdlineGet("ip");
  const ip = ipS === null ? -1 : ipParse(ipS);
  if (ip < 0) panic("net_mcast: ip= is required");
  link = netLinkAttach(0, NetfrontConfig.fromCmdline(), <u32>ip, onReady, 0);
}

function onReady(l: NetLink, status: i32, arg: usize): void {
  if (status < 0) panic("net_mcast: no vif");
  const s = l.stack!;
  s.netmask = 0xffffff00;
  if (sender) {
    s.udpBind(CTL_PORT, onCtl, 0);
    return;
  }
  const j = cmdlineGet("join");
  const g = j === null ? -1 : ipParse(j);
  if (g < 0 || s.udpJoin(<u32>g) < 0) panic("net_mcast: join=239.x.x.x is required");
  s.udpBind(DATA_PORT, onData, 0);
  s.udpBind(CTL_PORT, onCtl, 0);
  puts("net_mcast: joined ");
  puts(ipFormat(<u32>g));
  printk(l.dev!.mcast ? " (multicast control)" : " (no multicast control)");
  if (cmdlineGetU32("unfilter", 0) == 1 && l.dev!.mcast) {
    // feature-dynamic-multicast-control: turn the backend's filter off at run time.
    xsWrite(XBT_NIL, l.dev!.path + "/request-multicast-control", "0", null, 0);
    printk("net_mcast: request-multicast-control = 0");
    timerSet(50 * NS_PER_MS, announce, 0);
    return;
  }
  announce(0);
}

function announce(arg: usize): void {
  if (started || finished) return;
  store<u8>(BUF, 1);
  link!.stack!.udpSend(0xffffffff, CTL_PORT, CTL_PORT, BUF, 1);
  timerSet(20 * NS_PER_MS, announce, 0);
}

function onCtl(s: NetStack, src: u32, sport: u16, dport: u16, data: usize, len: u32, arg: usize): void {
  if (len < 1) return;
  const kind = load<u8>(data);
  if (sender && kind == 1 && !started) {
    if (readyFrom.includes(src)) return;
    readyFrom.push(src);
    if (++ready < receivers) return;
    started = true;
    for (let i: u32 = 0; i < n; i++) {
      store<u32>(BUF, i);
      if (s.udpSend(G1, DATA_PORT, DATA_PORT, BUF, 64) < 0 || s.udpSend(G2, DATA_PORT, DATA_PORT, BUF, 64) < 0) panic("net_mcast: send failed");
    }
    store<u8>(BUF, 2);
    s.udpSend(0xffffffff, CTL_PORT, CTL_PORT, BUF, 1);
    puts("net_mcast: sent ");
    putu(n);
    printk(" datagrams to each group");
    timerSet(50 * NS_PER_MS, off, 0);
  } else if (!sender && kind == 2 && !finished) {
    finished = true;
    // The data may travel on other queues than the "done" broadcast: let it land first.
    timerSet(20 * NS_PER_MS, report, 0);
  }
}

function report(arg: usize): void {
  {
    const s = link!.stack!;
    puts("net_mcast: 239.1.1.1 ");
    putu(got1);
    puts(", 239.1.1.2 ");
    putu(got2);
    puts(", filtered by the stack ");
    putu(s.rxMcastFiltered);
    printk("");
    timerSet(10 * NS_PER_MS, off, 0);
  }
}

function onData(s: NetStack, src: u32, sport: u16, dport: u16, data: usize, len: u32, arg: usize): void {
  started = true;
  // Which group it was sent to is not in the callback: the stack delivers only joined groups,
  // so count by the receiver's own group; a datagram of the other group cannot arrive here.
  const j = cmdlineGet("join");
  if (j == "239.1.1.1") got1++;
  else got2++;
}

function off(arg: usize): void { poweroff(); }

export function xen_upcall(): void {
  evtchnUpcall();
}
