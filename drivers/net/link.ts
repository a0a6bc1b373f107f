// Puts the SDK's small IPv4 stack (assembly/net) on a netfront vif: the stack transmits through
// netfrontSend (which copies the frame at once, as the stack's LinkTxFn contract wants), receives
// what netfront delivers, and subscribes the multicast MACs of the groups it joins through
// multicast control. A kernel with its own stack does the same with its own code.
//
// Ownership: a NetLink is made once per vif by netLinkAttach and lives as long as the domain; it
// owns the NetStack, which it creates when the vif connects (the MAC is the toolstack's).
import { NetStack, NET_TX_CSUM_BLANK, NET_RX_CSUM_BLANK, NET_RX_DATA_VALIDATED } from "../../assembly/net/stack";
import { multicastMac } from "../../assembly/net/addr";
import { INADDR_ALLHOSTS_GROUP } from "../../assembly/net/wire";
import {
  NetFront, NetfrontConfig, netfrontAttach, netfrontSend, netfrontMulticast, netfrontOnClosed, netfrontRelease, FRAME_CSUM_BLANK,
} from "./front";
import { xenbusWatchState, xenbusUnwatchState } from "../../assembly/xenbus";
import { XenbusStateInitWait } from "../../assembly/xen/io/xenbus";
import { FRAME_DATA_VALIDATED } from "./proto";

/** Called once the vif is connected and the stack exists (status 0), or with the error that stopped the vif. */
export type NetLinkReadyFn = (link: NetLink, status: i32, arg: usize) => void;

/** A vif with an IPv4 stack on it. `stack` is set once the vif is connected. */
export class NetLink {
  dev: NetFront | null = null;
  stack: NetStack | null = null;
  /** Checksum offload: send UDP with blank checksums when the backend takes them. */
  offload: bool = true;
  /**
   * Hotplug: when the vif is detached (its backend closes it), wait for the toolstack to attach
   * it again (the backend reaching InitWait at the same path) and attach anew; `ready` runs again
   * with a new stack.
   */
  hotplug: bool = false;
  watch: i32 = 0;
  constructor(public handle: u32, public cfg: NetfrontConfig, public ip: u32, public ready: NetLinkReadyFn | null, public arg: usize) {}
}

const links = new Array<NetLink>();

/**
 * Attaches vif `handle` with netfront's `cfg`, and once it is connected runs an IPv4 stack with
 * address `ip` on it; `ready(link, status, arg)` runs then (or with the error). Returns the link.
 */
export function netLinkAttach(handle: u32, cfg: NetfrontConfig, ip: u32, ready: NetLinkReadyFn | null, arg: usize = 0): NetLink {
  const l = new NetLink(handle, cfg, ip, ready, arg);
  const id = links.length;
  links.push(l);
  attach(l, id);
  return l;
}

function attach(l: NetLink, id: i32): void {
  l.stack = null;
  const d = netfrontAttach(l.handle, l.cfg, onReady, onRx, <usize>id);
  netfrontOnClosed(d, onClosed, <usize>id);
  l.dev = d;
}

function onClosed(d: NetFront, status: i32, arg: usize): void {
  const l = links[<i32>arg];
  l.stack = null;
  if (!l.hotplug || d.backendPath.length == 0) return;
  // The toolstack removes both directories, then (re-attaching) writes them again: the
  // backend's InitWait at the same path says the new device is complete.
  l.watch = xenbusWatchState(d.backendPath, onBackendAgain, arg);
}

function onBackendAgain(state: i32, arg: usize): void {
  const l = links[<i32>arg];
  if (state != XenbusStateInitWait || l.watch <= 0) return;
  xenbusUnwatchState(l.watch);
  l.watch = 0;
  // The backend let go of the old device's pages: end its grants before the new one makes its own.
  const old = l.dev;
  if (old !== null) netfrontRelease(old);
  attach(l, <i32>arg);
}

function onReady(d: NetFront, status: i32, arg: usize): void {
  const l = links[<i32>arg];
  if (status == 0) {
    const s = new NetStack(d.mac, l.ip, linkTx, arg);
    s.csumOffload = l.offload && d.cfg.csum;
    s.onMcastMac = onMcastMac;
    s.onMcastArg = arg;
    l.stack = s;
    // The all-hosts group is always joined but never reported: subscribe its MAC ourselves.
    if (d.mcast) netfrontMulticast(d, multicastMac(INADDR_ALLHOSTS_GROUP), true);
  }
  const fn = l.ready;
  if (fn !== null) fn(l, status, l.arg);
}

/** The stack's LinkTxFn: netfront copies the frame before it returns. */
function linkTx(buf: usize, len: u32, flags: u32, arg: usize): i32 {
  const l = links[<i32>arg];
  return netfrontSend(l.dev!, buf, len, (flags & NET_TX_CSUM_BLANK) != 0 ? FRAME_CSUM_BLANK : 0);
}

function onRx(d: NetFront, q: u32, frame: usize, len: u32, offload: u32, gsoType: u32, gsoSize: u32, arg: usize): void {
  const s = links[<i32>arg].stack;
  if (s === null) return;
  const flags = ((offload & FRAME_CSUM_BLANK) != 0 ? NET_RX_CSUM_BLANK : 0) | ((offload & FRAME_DATA_VALIDATED) != 0 ? NET_RX_DATA_VALIDATED : 0);
  s.input(frame, len, flags);
}

function onMcastMac(stack: NetStack, mac: u64, join: bool, arg: usize): void {
  const d = links[<i32>arg].dev!;
  if (d.mcast) netfrontMulticast(d, mac, join);
}
