// dom0: xenwasm's backend domain (DESIGN §4, §7). `xenwasm run` starts it as domain 0 whenever a
// disk or a vif is attached (or --backend names another build of it): privileged, it serves every
// vbd the toolstack creates with blkback over the harness's host disks, and every vif with
// netback on its switch, which has the host uplink when the run has one (--uplink). Its command line narrows what the backends offer, for testing frontends
// against a plain peer (`features=none` narrows both):
//   blkback: max-ring-page-order=N  multi-queue-max-queues=N  max-indirect-segments=N (0: none)
//            persistent=0|1  flush=0|1  barrier=0|1  discard=0|1
//   netback: net-sg=0|1  net-gso=0|1  net-ipv6-csum=0|1  net-split=0|1  net-queues=N
//            net-mcast=0|1  net-ctrl-ring=0|1
//   the switch: net-sink=MAC puts dom0's sink (drivers/net/sink.ts: checks test-pattern frames,
//            `xenwasm bench net`) at MAC, expecting sink-n=N frames of sink-seed=S from
//            sink-flows=F flows
import { boot, evtchnUpcall, printk, puts, puti, panic, xsInit, xenbusWatchShutdown, cmdlineGetU32, cmdlineGet } from "../../assembly/index";
import { blkbackInit, BlkbackConfig } from "../blk/back";
import { MAX_INDIRECT_SEGS, MAX_QUEUES, MAX_RING_PAGE_ORDER } from "../blk/proto";
import { netbackInit, NetbackConfig } from "../net/back";
import { MAX_QUEUES as NET_MAX_QUEUES } from "../net/proto";
import { uplinkInit } from "../net/uplink";
import { sinkInit } from "../net/sink";
import { macParse } from "../../assembly/net/addr";

function option(key: string, dflt: u32, max: u32): u32 {
  const v = cmdlineGetU32(key, dflt);
  if (v < 0 || v > <i64>max) {
    puts("dom0: ignoring bad ");
    puts(key);
    printk(" (out of range)");
    return dflt;
  }
  return <u32>v;
}

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  const rc = xsInit();
  if (rc < 0) {
    puts("dom0: xenstore unavailable: ");
    puti(rc);
    panic("no xenstore");
  }
  const none = cmdlineGet("features") == "none";
  const cfg = new BlkbackConfig();
  cfg.maxRingPageOrder = option("max-ring-page-order", none ? 0 : MAX_RING_PAGE_ORDER, MAX_RING_PAGE_ORDER);
  cfg.maxQueues = option("multi-queue-max-queues", none ? 1 : MAX_QUEUES, MAX_QUEUES);
  if (cfg.maxQueues == 0) cfg.maxQueues = 1;
  cfg.maxIndirect = option("max-indirect-segments", none ? 0 : MAX_INDIRECT_SEGS, MAX_INDIRECT_SEGS);
  if (cfg.maxIndirect <= 11) cfg.maxIndirect = 0;
  cfg.persistent = option("persistent", none ? 0 : 1, 1) == 1;
  cfg.flush = option("flush", none ? 0 : 1, 1) == 1;
  cfg.barrier = option("barrier", none ? 0 : 1, 1) == 1;
  cfg.discard = option("discard", none ? 0 : 1, 1) == 1;
  const b = blkbackInit(cfg);
  if (b < 0) {
    puts("dom0: blkback failed to start: ");
    puti(b);
    panic("blkback");
  }
  const ncfg = new NetbackConfig();
  ncfg.sg = option("net-sg", none ? 0 : 1, 1) == 1;
  ncfg.gso = option("net-gso", none ? 0 : 1, 1) == 1;
  ncfg.ipv6Csum = option("net-ipv6-csum", none ? 0 : 1, 1) == 1;
  ncfg.split = option("net-split", none ? 0 : 1, 1) == 1;
  ncfg.maxQueues = option("net-queues", none ? 1 : NET_MAX_QUEUES, NET_MAX_QUEUES);
  if (ncfg.maxQueues == 0) ncfg.maxQueues = 1;
  ncfg.mcast = option("net-mcast", none ? 0 : 1, 1) == 1;
  ncfg.ctrlRing = option("net-ctrl-ring", none ? 0 : 1, 1) == 1;
  const n = netbackInit(ncfg);
  if (n < 0) {
    puts("dom0: netback failed to start: ");
    puti(n);
    panic("netback");
  }
  const sink = cmdlineGet("net-sink");
  if (sink !== null) {
    const mac = macParse(sink);
    if (mac < 0) panic("dom0: net-sink=MAC needs a MAC as 00:16:3e:00:00:00");
    sinkInit(<u64>mac, <u32>option("sink-seed", 1, 0xffffffff), <u32>option("sink-n", 0, 0xffffffff), option("sink-flows", 0, 256));
  }
  const u = uplinkInit();
  if (u < 0) {
    puts("dom0: the switch's uplink failed to start: ");
    puti(u);
    panic("uplink");
  }
  xenbusWatchShutdown();
  printk(u > 0 ? "dom0: blkback serving backend/vbd, netback serving backend/vif, the switch has the host uplink"
    : "dom0: blkback serving backend/vbd, netback serving backend/vif");
}

export function xen_upcall(): void {
  evtchnUpcall();
}
