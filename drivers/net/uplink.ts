// The switch's uplink (DESIGN §7, docs/ABI.md §7): a port of dom0's switch that leads to the
// host's network through the harness's `dev.net_uplink_*` device, as a Xen host's xenbr0 has its
// physical NIC. Frames from the host arrive in dom0's memory (the harness raises VIRQ_NET_UPLINK)
// and enter the switch as Pkts whose data is local (Pkt.local) — learned, forwarded and captured
// like any other; frames for the host leave through the switch's host-port path, segmented and
// with complete checksums, and are queued to the host one by one.
//
// Ownership: the uplink owns a pool of UPLINK_PKTS Pkts, each with its frame buffer in dom0's
// memory; a Pkt is lent to the switch (and its receivers' pending lists) from the moment it is
// filled until txComplete gives it back. When the pool is empty the uplink leaves frames in the
// host's queue (which then fills and drops, counted by the harness) until Pkts come back.
import { evtchnBindVirq } from "../../assembly/evtchn";
import { timerSet } from "../../assembly/time";
import { dev_net_uplink_recv, dev_net_uplink_send, UPLINK_MAX_FRAME, VIRQ_NET_UPLINK } from "../../assembly/hostdev";
import { XEN_ENODEV } from "../../assembly/xen/errno";
import { PEEK, Pkt, HostPort, flush, forward, switchAddPort } from "./switch";

/** Frames from the host that may be in the switch at once. */
export const UPLINK_PKTS: i32 = 256;
/** Bytes of each pool buffer (UPLINK_MAX_FRAME rounded up). */
const BUF: i32 = (UPLINK_MAX_FRAME + 63) & ~63;

/** The uplink's switch port. */
export class Uplink extends HostPort {
  free: Pkt | null = null;
  /** Frames the host queue refused (it was full) and frames too long for it. */
  sendFull: u64 = 0;
  sendBad: u64 = 0;
  /** A drain is due when Pkts come back (the pool ran dry with frames still queued). */
  starved: bool = false;

  constructor() {
    super();
    for (let i = 0; i < UPLINK_PKTS; i++) {
      const p = new Pkt();
      p.local = heap.alloc(<usize>BUF);
      p.nextFree = this.free;
      this.free = p;
    }
  }

  hostSend(addr: usize, len: u32): void {
    const rc = dev_net_uplink_send(<i32>addr, <i32>len);
    if (rc == 0) return;
    this.rxDropped++;
    if (rc == -XEN_ENODEV) return;
    if (len > <u32>UPLINK_MAX_FRAME) this.sendBad++;
    else this.sendFull++;
  }
  txComplete(pkt: Pkt): void {
    pkt.nextFree = this.free;
    this.free = pkt;
    if (this.starved) {
      // Not from inside the switch's flush, which is running: on the next turn.
      this.starved = false;
      timerSet(0, onDrainTimer, 0);
    }
  }
}

let uplink: Uplink | null = null;

/** The uplink's port, once uplinkInit found one. */
export function uplinkPort(): Uplink | null { return uplink; }

/**
 * Puts the host uplink on the switch when the run has one: binds VIRQ_NET_UPLINK and takes what
 * already waits. Returns 1 when there is an uplink, 0 when the run has none, or a negative
 * Xen error.
 */
export function uplinkInit(): i32 {
  if (dev_net_uplink_send(0, 0) != 0) return 0;
  const u = new Uplink();
  const port = evtchnBindVirq(VIRQ_NET_UPLINK, onVirq, 0);
  if (port < 0) return port;
  switchAddPort(u);
  uplink = u;
  drain();
  return 1;
}

function onVirq(port: u32, arg: usize): void { drain(); }
function onDrainTimer(arg: usize): void { drain(); }

/** Forwards every frame the host queued, while Pkts last. */
function drain(): void {
  const u = uplink!;
  let moved = false;
  while (true) {
    const p = u.free;
    if (p === null) { u.starved = true; break; }
    const n = dev_net_uplink_recv(<i32>p.local, BUF);
    if (n <= 0) break;
    u.free = p.nextFree;
    p.src = u;
    p.gen = u.gen;
    p.queue = 0;
    p.len = <u32>n;
    p.offload = 0;
    p.gsoType = 0;
    p.gsoSize = 0;
    p.nslots = 0;
    p.nreq = 0;
    p.refs = 0;
    p.status = 0;
    p.peeked = min(<u32>n, PEEK);
    memory.copy(p.hdr, p.local, <usize>p.peeked);
    forward(p);
    moved = true;
  }
  if (moved) flush();
}
