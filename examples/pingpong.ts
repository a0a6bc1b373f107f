// pingpong: two domains bounce a counter through one granted page, N round trips, with an event
// channel notification for each step. Run the same binary twice (see docs/pingpong.md):
//
//   xenwasm run --cmdline "ping peer=2 n=1000" build/examples/pingpong.wasm \
//               --cmdline "pong peer=1"        build/examples/pingpong.wasm
//
// Rendezvous without xenstore (it does not exist yet), through well-known numbers:
// - ping (domain 1) writes N into a page of its own, grants it to its peer at the well-known
//   ref 8 (GNTTAB_NR_RESERVED_ENTRIES, the first ref that is not reserved), and allocates an
//   unbound port for the peer. Its first port after the boot ports (1 console, 2 xenstore) is
//   port 3: ping prints what alloc_unbound returned and crashes if it is not `port=` (default 3).
// - pong (domain 2) tries every 1 ms (a one-shot timer) to bind ping's port 3
//   (EVTCHNOP_bind_interdomain) and to map ping's ref 8 (GNTTAB_map_grant_ref, through a
//   SharedPage); once both succeed it reads N from the page and notifies ping: "ready".
// The bounce: ping writes 1, 3, 5, ... (odd), pong writes 2, 4, 6, ... (even); each notifies the
// other after writing and checks, when notified, that the counter holds exactly the value it
// expects, and panics otherwise. After N round trips (counter 2N) pong unmaps the page, sends a
// last notification, closes its port and powers off; ping, notified, ends the grant (which must
// succeed: pong unmapped before notifying), closes its port and powers off. Both print the round
// trips and the elapsed time.
//
// The page is accessed through SharedPage on both sides (local on ping, a mapped grant on pong),
// so the same load32/store32 code runs over both kinds of page.
import {
  boot, evtchnUpcall, cmdlineWord, cmdlineGetU32, printk, puts, putu, putFixed, panic, poweroff, now,
  frameAlloc, addrToGfn, SharedPage, gnttabGrantAccessRef, gnttabEndAccess, gnttabMap, gnttabUnmap,
  evtchnAllocUnbound, evtchnBindInterdomain, evtchnNotify, evtchnClose, timerSet, NS_PER_MS, NS_PER_US,
} from "../assembly/index";
import { GNTTAB_NR_RESERVED_ENTRIES, GNTMAP_host_map, GNTST_okay } from "../assembly/xen/grant_table";
import { DOMID_FIRST_RESERVED, domid_t } from "../assembly/xen/xen";
import { XEN_EBUSY } from "../assembly/xen/errno";

/** The shared page: N (written by ping before granting), then the counter. */
const OFF_N: u32 = 0;
const OFF_COUNTER: u32 = 4;
/** The well-known ref ping grants the page at: the first non-reserved ref. */
const REF: u32 = GNTTAB_NR_RESERVED_ENTRIES;
/** The most round trips (the counter reaches 2N, which must fit a u32). */
const MAX_N: u32 = 0x3FFFFFFF;
/** pong gives up after this many 1 ms attempts (10 s). */
const MAX_ATTEMPTS: u32 = 10000;

let isPing = false;
let peer: domid_t = 0;
let n: u32 = 0;
let port: i32 = -1; // our end of the channel
let remotePort: u32 = 3; // ping's port (pong side)
const page = new SharedPage(); // ping: our page; pong: ping's page, mapped
let steps: u32 = 0; // ping: odd values written; pong: even values written
let connected = false;
let attempts: u32 = 0;
let t0: u64 = 0;

/** Panics with "`what`: expected `expected`, got `got`". */
function mismatch(what: string, expected: u32, got: u32): void {
  puts(what); puts(": expected "); putu(expected); puts(", got "); putu(got); puts("\n");
  panic(what);
}

/** Panics if `rc` is an error, naming `what`. */
function check(what: string, rc: i32): void {
  if (rc < 0) {
    puts(what); puts(" failed: "); putu(<u64>(-rc)); puts(" (-errno)\n");
    panic(what);
  }
}

/** Both sides: the number of the peer domain from `peer=`, which must be a plain domain id. */
function peerFromCmdline(): domid_t {
  const p = cmdlineGetU32("peer", 0xFFFF);
  if (p < 0 || p >= <i64>DOMID_FIRST_RESERVED) panic("missing or bad peer=DOMID on the command line");
  return <domid_t>p;
}

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  const role = cmdlineWord(0);
  if (role === null || (role != "ping" && role != "pong")) panic("usage: ping peer=DOMID [n=N] | pong peer=DOMID");
  isPing = role == "ping";
  peer = peerFromCmdline();
  const p = cmdlineGetU32("port", 3);
  if (p < 0) panic("bad port=");
  remotePort = <u32>p;
  if (isPing) pingStart();
  else pongStart();
}

export function xen_upcall(): void {
  evtchnUpcall();
}

// ---------------------------------------------------------------------------------------------
// ping

function pingStart(): void {
  const nn = cmdlineGetU32("n", 1000);
  if (nn < 1 || nn > <i64>MAX_N) panic("bad n= (1 .. 2^30-1)");
  n = <u32>nn;

  const frame = frameAlloc();
  page.setLocal(frame);
  check("store N", page.store32(OFF_N, n));
  check("store counter", page.store32(OFF_COUNTER, 0));
  // The page is filled before it is granted: the grant's atomic store publishes it.
  check("gnttabGrantAccessRef(8)", gnttabGrantAccessRef(REF, peer, addrToGfn(frame), false));

  port = evtchnAllocUnbound(peer, pingEvent, 0);
  check("evtchnAllocUnbound", port);
  puts("ping: alloc_unbound for domain "); putu(peer); puts(" returned port "); putu(<u64>port); puts("\n");
  if (<u32>port != remotePort) mismatch("ping: rendezvous port (pong binds port=)", remotePort, <u32>port);
  puts("ping: granted ref "); putu(REF); puts(" to domain "); putu(peer);
  puts(", n = "); putu(n); printk(", waiting for pong");
}

/** ping's event handler: pong is ready (counter 0) or answered (counter even). */
function pingEvent(p: u32, arg: usize): void {
  const c = page.load32(OFF_COUNTER);
  check("ping: load counter", page.err);
  // Events can be spurious (Xen raises one when a port is bound): nothing new, nothing to do.
  if (steps > 0 && c == (steps << 1) - 1) return;
  const expected = steps << 1;
  if (c != expected) mismatch("ping: counter", expected, c);
  if (steps == 0) {
    t0 = now();
    printk("ping: pong is ready, bouncing");
  }
  if (steps == n) {
    pingFinish();
    return;
  }
  check("ping: store counter", page.store32(OFF_COUNTER, c + 1));
  steps++;
  check("ping: notify", evtchnNotify(p));
}

function pingFinish(): void {
  const elapsed = now() - t0;
  const rc = gnttabEndAccess(REF);
  if (rc == -XEN_EBUSY) panic("ping: end_access: grant still in use after pong's last notification");
  check("ping: gnttabEndAccess", rc);
  check("ping: evtchnClose", evtchnClose(<u32>port));
  summary("ping", elapsed);
  poweroff();
}

// ---------------------------------------------------------------------------------------------
// pong

function pongStart(): void {
  puts("pong: looking for ping (domain "); putu(peer); puts(", port "); putu(remotePort);
  puts(", ref "); putu(REF); printk(")");
  tryConnect(0);
}

/** Timer callback (and first try): bind ping's port, map ping's page, then say "ready". */
function tryConnect(arg: usize): void {
  attempts++;
  if (port < 0) {
    const p = evtchnBindInterdomain(peer, remotePort, pongEvent, 0);
    if (p >= 0) {
      port = p;
      puts("pong: bound ping's port "); putu(remotePort); puts(" as local port "); putu(<u64>p); puts("\n");
    }
  }
  if (port >= 0 && !page.bound) {
    if (gnttabMap(page, peer, REF, GNTMAP_host_map) == GNTST_okay) {
      puts("pong: mapped ping's ref "); putu(REF); puts(" (handle "); putu(page.handle); puts(")\n");
    }
  }
  if (port < 0 || !page.bound) {
    if (attempts >= MAX_ATTEMPTS) panic("pong: ping did not show up within 10 s");
    check("pong: timerSet", timerSet(NS_PER_MS, tryConnect, 0));
    return;
  }
  // Distrust the peer: N comes from ping's page.
  const nn = page.load32(OFF_N);
  check("pong: load N", page.err);
  if (nn < 1 || nn > MAX_N) mismatch("pong: n in ping's page (1 .. 2^30-1)", 1, nn);
  n = nn;
  const c = page.load32(OFF_COUNTER);
  if (c != 0) mismatch("pong: initial counter", 0, c);
  connected = true;
  puts("pong: connected after "); putu(attempts); puts(" attempt(s), n = "); putu(n); printk(", ready");
  t0 = now();
  check("pong: notify", evtchnNotify(<u32>port));
}

/** pong's event handler: ping wrote the next odd value. */
function pongEvent(p: u32, arg: usize): void {
  // Xen raises an event on the port pong binds; anything before "ready" carries no message.
  if (!connected) return;
  const c = page.load32(OFF_COUNTER);
  check("pong: load counter", page.err);
  if (c == steps << 1) return; // spurious: ping has not written since pong's last value
  const expected = (steps << 1) + 1;
  if (c != expected) mismatch("pong: counter", expected, c);
  check("pong: store counter", page.store32(OFF_COUNTER, c + 1));
  steps++;
  if (steps < n) {
    check("pong: notify", evtchnNotify(p));
    return;
  }
  // Last round: unmap first, so that ping's end_access succeeds once it sees our notification.
  const elapsed = now() - t0;
  const st = gnttabUnmap(page);
  if (st != GNTST_okay) { puts("pong: unmap status "); putu(<u64>(-st)); puts(" (-GNTST)\n"); panic("pong: unmap"); }
  check("pong: last notify", evtchnNotify(p));
  check("pong: evtchnClose", evtchnClose(p));
  summary("pong", elapsed);
  poweroff();
}

// ---------------------------------------------------------------------------------------------

/** Prints "`who`: N round trips in X ms (Y us per round trip)". */
function summary(who: string, elapsedNs: u64): void {
  puts(who); puts(": "); putu(n); puts(" round trips in ");
  putFixed(elapsedNs / NS_PER_US, 3); puts(" ms (");
  putFixed(elapsedNs / <u64>n, 3); printk(" us per round trip)");
}
