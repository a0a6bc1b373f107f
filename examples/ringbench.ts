// ringbench: the xenwasm side of `xenwasm bench ring` (docs/benchmarks.md). One binary, two
// domains: a frontend that keeps `qd` requests in flight through one shared ring (assembly/ring.ts
// FrontRing over pages of its own) and a backend that echoes each one (BackRing over the mapped
// grants). The native C reference (bindings/bench/native/ring.c) runs the same workload.
//
//   xenwasm run --runner threads [--spin] \
//     --cmdline "front peer=2 slot=112 pages=1 qd=32 n=100000 mode=event" build/examples/ringbench.wasm \
//     --cmdline "back peer=1 slot=112 pages=1 n=100000 mode=event"        build/examples/ringbench.wasm
//
// | word       | side  | meaning                                                                  |
// |------------|-------|--------------------------------------------------------------------------|
// | front/back | first | the role                                                                 |
// | peer=D     | both  | the other domain's id                                                    |
// | slot=B     | both  | bytes per slot, 8..4032 and a multiple of 8 (112: a blkif request)       |
// | pages=P    | both  | ring pages, 1..16                                                        |
// | qd=Q       | front | requests in flight, 1..RING_SIZE                                         |
// | n=N        | both  | requests, 1..2^31                                                        |
// | mode=M     | both  | `event` (event channels, sleep between events) or `poll` (both spin)     |
// | port=P     | both  | the rendezvous port (default 3)                                          |
// | corrupt=K  | back  | test hook: flip a bit of response K's last word (the front must catch it) |
//
// Rendezvous as pingpong's (docs/pingpong.md): the front grants its ring pages at the well-known
// refs 8, 9, ... (page i at ref 8 + i) and allocates port 3 for the back; the back retries every
// 1 ms to bind that port and map the refs, attaches its BackRing and notifies the front: "ready".
//
// A request is the slot: a u64 id (0, 1, 2, ...), then (slot - 8) / 8 u64 payload words
// `payload(id, i)`. The back copies the request out (RING_COPY_REQUEST), checks that ids come in
// order, and answers in the same slot layout: id ^ ID_FLIP and every word xor `mask(id)`. The
// front checks every response against the id it expects next and every word: a mismatch panics
// the front (the run fails).
//
// Rounds. Each side works in rounds (frontStep, backStep): copy out every ready slot with one
// Ring.consumeBatch, handle them, copy the answers (or new requests) in with one
// Ring.produceBatch, push. Over mapped grants that is one grant access per run of slots instead
// of one per slot. The rounds are functions called over and over, not loops inside one call:
// V8 tiers a WebAssembly function up from its baseline code when it is called, never while a call
// is running, so the work must not sit in a loop that never returns (poll mode). Both sides print one result line (`ringbench: front done ...`,
// `ringbench: back done ...`) with the notifications they sent for ring traffic (the ready and
// bye notifications are not counted).
//
// Modes. event: ring.h's protocol: push-and-check-notify (sending only what the peer's event
// index asks for), rounds until the final check finds nothing, then return to idle (the runner
// sleeps in Atomics.wait until the peer's EVTCHNOP_send). poll: no notifications at all; each
// side spins on its rounds in one long call into the guest (the front in its "ready" handler, the
// back in its connect timer callback) until the work is done, and the runner runs with --spin so
// that neither side ever sleeps in between.
//
// Timing: the front measures from the back's "ready" to its last verified response (Xen system
// time, `now()`), and prints it on its result line.
//
// End: the back, after its last push, unmaps the ring, sends "bye", closes its port and powers
// off; the front, once every response is verified, ends its grants (retrying at each event while
// the back still maps them: -XEN_EBUSY), closes its port and powers off.
import {
  boot, evtchnUpcall, cmdlineWord, cmdlineGetU32, cmdlineGet, puts, putu, printk, panic, poweroff, now,
  frameAlloc, addrToGfn, SharedPage, gnttabGrantAccessRef, gnttabEndAccess, gnttabMap, gnttabUnmap,
  evtchnAllocUnbound, evtchnBindInterdomain, evtchnNotify, evtchnClose, timerSet, NS_PER_MS,
  FrontRing, BackRing, ringSizeFor, HYPERVISOR_event_channel_op,
} from "../assembly/index";
import { GNTTAB_NR_RESERVED_ENTRIES, GNTMAP_host_map, GNTST_okay } from "../assembly/xen/grant_table";
import { DOMID_FIRST_RESERVED, DOMID_SELF, domid_t } from "../assembly/xen/xen";
import { XEN_EBUSY } from "../assembly/xen/errno";
import { evtchn_status, EVTCHNOP_status, EVTCHNSTAT_interdomain } from "../assembly/xen/event_channel";

/** The well-known ref of ring page 0 (page i is at FIRST_REF + i). */
const FIRST_REF: u32 = GNTTAB_NR_RESERVED_ENTRIES;
/** Limits of the command line's numbers. */
const MIN_SLOT: u32 = 8, MAX_SLOT: u32 = 4032, MAX_PAGES: u32 = 16, MAX_N: u32 = 0x80000000;
/** The back gives up connecting after this many 1 ms attempts (10 s). */
const MAX_ATTEMPTS: u32 = 10000;
/** Poll mode: rounds without progress between two checks that the peer is still there. */
const PEER_CHECK_POLLS: u32 = 4096;
/** The back's response id is the request id xor this. */
const ID_FLIP: u64 = 0xFFFF_FFFF_0000_0000;

let isFront = false;
let poll = false;
let peer: domid_t = 0;
let slot: u32 = 0;
let words: u32 = 0; // payload words per slot
let nPages: u32 = 0;
let n: u32 = 0;
let qd: u32 = 0;
let port: i32 = -1;
let remotePort: u32 = 3;
let corruptAt: i64 = -1;

let pages: StaticArray<SharedPage> = new StaticArray<SharedPage>(0);
let front: FrontRing | null = null;
let back: BackRing | null = null;
/** The back's private copies of a batch of requests, answered in place: RING_SIZE slots. */
let batchBuf: usize = 0;
/** The front's requests under construction (qd slots) and private copies of responses (RING_SIZE slots). */
let reqBuf: usize = 0;
let rspBuf: usize = 0;

const WAIT_READY: u8 = 0, RUNNING: u8 = 1, DONE: u8 = 2;
let state: u8 = WAIT_READY;
let sent: u32 = 0; // front: requests produced
let done: u32 = 0; // front: responses verified; back: requests answered
let notifies: u64 = 0; // ring notifications sent (not ready/bye)
let t0: u64 = 0;
let elapsed: u64 = 0;
let ended: u32 = 0; // front: grants ended so far
let attempts: u32 = 0;

/** Request payload words: word i of request id is (id + 1) * PAY_MUL + i * PAY_STEP. */
const PAY_MUL: u64 = 0x9E3779B97F4A7C15, PAY_STEP: u64 = 0xBF58476D1CE4E5B9;

/** Request payload word `i` of request `id` (the loops below step through the words by adding PAY_STEP). */
@inline function payload(id: u64, i: u32): u64 {
  return (id + 1) * PAY_MUL + <u64>i * PAY_STEP;
}

/** What the back xors every payload word of request `id` with. */
@inline function mask(id: u64): u64 {
  return (id ^ 0xA5A5A5A5A5A5A5A5) * 0x94D049BB133111EB;
}

const STATUS = memory.data(<i32>offsetof<evtchn_status>(), 8);

/**
 * Whether our port is still connected to the peer (EVTCHNOP_status): a peer that crashed or
 * closed its end leaves ours unbound. Poll mode asks when nothing moves, so that a side never
 * spins forever for a dead peer.
 */
function peerConnected(): bool {
  const st = changetype<evtchn_status>(STATUS);
  memory.fill(STATUS, 0, offsetof<evtchn_status>());
  st.dom = DOMID_SELF;
  st.port = <u32>port;
  return HYPERVISOR_event_channel_op(EVTCHNOP_status, STATUS) == 0 && st.status == <u32>EVTCHNSTAT_interdomain;
}

/** Panics if `rc` is an error, naming `what` (inlined: it is on every round's path). */
@inline function check(what: string, rc: i32): void {
  if (rc < 0) failed(what, rc);
}

/** Panics about `what`, which returned the error `rc`. */
function failed(what: string, rc: i32): void {
  puts("ringbench: "); puts(what); puts(" failed: -"); putu(<u64>(-rc)); puts("\n");
  panic(what);
}

/** The u32 `key=` of the command line within [min, max], or panics naming the range. */
function arg(key: string, dflt: u32, min: u32, max: u32): u32 {
  const v = cmdlineGetU32(key, dflt);
  if (v < <i64>min || v > <i64>max) {
    puts("ringbench: bad "); puts(key); puts("= (expected "); putu(min); puts(" .. "); putu(max); puts(")\n");
    panic("bad command line");
  }
  return <u32>v;
}

/** Boot: reads the role and the workload from the command line, then sets up the front or the back. */
export function xen_start(startInfo: i32): void {
  boot(startInfo);
  const role = cmdlineWord(0);
  if (role === null || (role != "front" && role != "back")) panic("usage: front|back peer=D slot=B pages=P [qd=Q] n=N mode=poll|event");
  isFront = role == "front";
  peer = <domid_t>arg("peer", 0xFFFF, 0, <u32>DOMID_FIRST_RESERVED - 1);
  slot = arg("slot", 112, MIN_SLOT, MAX_SLOT);
  if ((slot & 7) != 0) panic("slot= must be a multiple of 8");
  words = (slot - 8) >> 3;
  nPages = arg("pages", 1, 1, MAX_PAGES);
  n = arg("n", 1000, 1, MAX_N);
  remotePort = arg("port", 3, 1, 4095);
  const m = cmdlineGet("mode");
  if (m === null || (m != "poll" && m != "event")) panic("mode= must be poll or event");
  poll = m == "poll";
  if (isFront) {
    const size = ringSizeFor(nPages, slot);
    if (size == 0) panic("no slot fits");
    qd = arg("qd", 32, 1, size);
    frontStart();
  } else {
    if (cmdlineGet("corrupt") !== null) corruptAt = <i64>arg("corrupt", 0, 0, MAX_N);
    backStart();
  }
}

/** The event-channel upcall: runs the handlers of pending ports (the ring work happens there). */
export function xen_upcall(): void {
  evtchnUpcall();
}

// ---------------------------------------------------------------------------------------------
// front

function frontStart(): void {
  pages = new StaticArray<SharedPage>(<i32>nPages);
  for (let i: u32 = 0; i < nPages; i++) pages[i] = SharedPage.local(frameAlloc());
  const f = new FrontRing(pages, slot);
  check("ring init", f.init(0));
  reqBuf = heap.alloc(<usize>qd * slot);
  rspBuf = heap.alloc(<usize>f.size * slot);
  front = f;
  // The ring is set up before it is granted: each grant's atomic store publishes its page.
  for (let i: u32 = 0; i < nPages; i++) check("grant ring page", gnttabGrantAccessRef(FIRST_REF + i, peer, addrToGfn(pages[i].addr), false));
  port = evtchnAllocUnbound(peer, frontEvent, 0);
  check("evtchnAllocUnbound", port);
  if (<u32>port != remotePort) panic("rendezvous port: alloc_unbound did not return port=");
  puts("ringbench: front ready: "); putu(f.size); puts(" slots of "); putu(slot); puts(" bytes on "); putu(nPages);
  puts(" page(s), qd "); putu(qd); puts(", "); putu(n); puts(poll ? " requests, poll" : " requests, event"); printk("");
}

/** The front's event handler: the back's "ready", responses (event mode), or its "bye". */
function frontEvent(p: u32, arg: usize): void {
  if (state == WAIT_READY) {
    state = RUNNING;
    t0 = now();
    if (poll) frontPoll();
    else frontRun();
  } else if (state == RUNNING) {
    if (!poll) frontRun();
  } else {
    frontFinish();
  }
}

/** Poll mode: spins on frontStep until every response is in (or the back went away). */
function frontPoll(): void {
  let idle: u32 = 0;
  while (done < n) {
    const before = done;
    frontStep();
    if (done != before || ++idle < PEER_CHECK_POLLS) continue;
    idle = 0;
    if (!peerConnected()) {
      frontStep(); // the back pushes its last responses before it closes its port
      if (done == before) panic("front: the back went away");
    }
  }
  frontDone();
}

/**
 * Event mode: frontStep until the final check says the back will notify (then back to idle:
 * the runner sleeps until the next event), or until every response is in.
 */
function frontRun(): void {
  const f = front!;
  for (;;) {
    frontStep();
    if (done == n) { frontDone(); return; }
    const more = f.finalCheckForResponses();
    check("finalCheckForResponses", more);
    if (more == 0) return;
  }
}

/**
 * One round of the front: copies out the responses ready now (one consumeBatch: one bulk copy
 * per contiguous run of slots) and verifies each, then refills up to qd requests in flight (one
 * produceBatch) and pushes them, notifying the back if its event index asks for it (event
 * mode). Both modes call it in their loop, so that it is one function called over and over: V8
 * tiers up functions when they are called, never a loop that is already running.
 */
function frontStep(): void {
  const f = front!;
  const k = f.consumeBatch(rspBuf, f.size);
  check("consumeBatch", k);
  for (let j: i32 = 0; j < k; j++) verify(done++, rspBuf + <usize>j * slot);
  let c = qd - (sent - done);
  if (c > n - sent) c = n - sent;
  if (c == 0) return;
  for (let j: u32 = 0; j < c; j++) fill(sent++, reqBuf + <usize>j * slot);
  check("produceBatch", f.produceBatch(reqBuf, c));
  if (poll) check("pushRequests", f.pushRequests());
  else if (f.pushRequestsAndCheckNotify()) { notifies++; check("notify", evtchnNotify(<u32>port)); }
  else check("pushRequestsAndCheckNotify", f.err);
}

/** Every response is in: print the result line, then end the grants. */
function frontDone(): void {
  elapsed = now() - t0;
  state = DONE;
  puts("ringbench: front done requests="); putu(n); puts(" ns="); putu(elapsed); puts(" notifies="); putu(notifies); printk("");
  frontFinish();
}

/** Writes request `id` at `r`: the id, then its payload words. */
@inline function fill(id: u64, r: usize): void {
  store<u64>(r, id);
  let p = payload(id, 0);
  const end = r + 8 + (<usize>words << 3);
  for (let a = r + 8; a < end; a += 8) {
    store<u64>(a, p);
    p += PAY_STEP;
  }
}

/** Checks the response at `r` against request `id`; panics on any difference. */
@inline function verify(id: u64, r: usize): void {
  const got = load<u64>(r);
  if (got != (id ^ ID_FLIP)) badResponse(id, got ^ ID_FLIP, -1);
  const m = mask(id);
  let p = payload(id, 0);
  let diff: u64 = 0;
  const end = r + 8 + (<usize>words << 3);
  for (let a = r + 8; a < end; a += 8) {
    diff |= load<u64>(a) ^ p ^ m;
    p += PAY_STEP;
  }
  if (diff != 0) {
    for (let i: u32 = 0; i < words; i++) if (load<u64>(r + 8 + (<usize>i << 3)) != (payload(id, i) ^ m)) badResponse(id, id, <i32>i);
  }
}

/** Panics about response `id`: its id was `got` (word < 0) or payload word `word` differs. */
function badResponse(id: u64, got: u64, word: i32): void {
  puts("ringbench: response "); putu(id);
  if (word < 0) { puts(": id "); putu(got); printk(" (out of order or corrupt)"); panic("response id mismatch"); }
  puts(": payload word "); putu(<u64>word); printk(" differs from the request's echo");
  panic("response payload mismatch");
}

/** Ends the grants (those the back no longer maps), then closes the port and powers off. */
function frontFinish(): void {
  while (ended < nPages) {
    const rc = gnttabEndAccess(FIRST_REF + ended);
    if (rc == -XEN_EBUSY) return; // the back still maps it: its "bye" comes after the unmap
    check("gnttabEndAccess", rc);
    ended++;
  }
  check("evtchnClose", evtchnClose(<u32>port));
  poweroff();
}

// ---------------------------------------------------------------------------------------------
// back

function backStart(): void {
  pages = new StaticArray<SharedPage>(<i32>nPages);
  for (let i: u32 = 0; i < nPages; i++) pages[i] = new SharedPage();
  back = new BackRing(pages, slot);
  if (back!.size == 0) panic("no slot fits");
  batchBuf = heap.alloc(<usize>back!.size * slot);
  tryConnect(0);
}

/** Timer callback (and first try): bind the front's port, map its ring pages, attach, "ready". */
function tryConnect(arg: usize): void {
  attempts++;
  if (port < 0) {
    const p = evtchnBindInterdomain(peer, remotePort, backEvent, 0);
    if (p >= 0) port = p;
  }
  let mapped: u32 = 0;
  if (port >= 0) {
    for (let i: u32 = 0; i < nPages; i++) {
      if (!pages[i].bound) gnttabMap(pages[i], peer, FIRST_REF + i, GNTMAP_host_map);
      if (pages[i].bound) mapped++;
    }
  }
  if (mapped < nPages) {
    if (attempts >= MAX_ATTEMPTS) panic("back: the front did not show up within 10 s");
    check("timerSet", timerSet(NS_PER_MS, tryConnect, 0));
    return;
  }
  check("ring attach", back!.attach(0));
  state = RUNNING;
  check("notify ready", evtchnNotify(<u32>port));
  if (poll) backPoll(); // spins here until done
}

/** The back's event handler: requests (event mode); anything before "ready" carries nothing. */
function backEvent(p: u32, arg: usize): void {
  if (state == RUNNING && !poll) backRun();
}

/** Poll mode: spins on backStep until all n requests are answered (or the front went away). */
function backPoll(): void {
  let idle: u32 = 0;
  while (done < n) {
    const before = done;
    backStep();
    if (done != before || ++idle < PEER_CHECK_POLLS) continue;
    idle = 0;
    if (!peerConnected()) panic("back: the front went away");
  }
  backFinish();
}

/**
 * Event mode: backStep until the final check says the front will notify (then back to idle), or
 * until all n requests are answered.
 */
function backRun(): void {
  const b = back!;
  for (;;) {
    backStep();
    if (done == n) { backFinish(); return; }
    const more = b.finalCheckForRequests();
    check("finalCheckForRequests", more);
    if (more == 0) return;
  }
}

/**
 * One round of the back: copies out the requests ready now (one consumeBatch: one grant copy
 * per contiguous run of slots instead of one per request: RING_COPY_REQUEST for each), answers
 * each in place, writes the answers back (one produceBatch) and pushes them, notifying the front
 * if its event index asks for it (event mode).
 */
function backStep(): void {
  const b = back!;
  const k = b.consumeBatch(batchBuf, b.size);
  check("consumeBatch", k);
  if (k == 0) return;
  for (let j: i32 = 0; j < k; j++) echo(done++, batchBuf + <usize>j * slot);
  check("produceBatch", b.produceBatch(batchBuf, <u32>k));
  if (poll) check("pushResponses", b.pushResponses());
  else if (b.pushResponsesAndCheckNotify()) { notifies++; check("notify", evtchnNotify(<u32>port)); }
  else check("pushResponsesAndCheckNotify", b.err);
}

/** Turns the private copy of request `id` at `r` into its response (in place). */
@inline function echo(id: u64, r: usize): void {
  const got = load<u64>(r);
  if (got != id) badRequest(id, got);
  store<u64>(r, id ^ ID_FLIP);
  const m = mask(id);
  const end = r + 8 + (<usize>words << 3);
  for (let a = r + 8; a < end; a += 8) store<u64>(a, load<u64>(a) ^ m);
  if (<i64>id == corruptAt) store<u64>(r + slot - 8, load<u64>(r + slot - 8) ^ 0x100); // the test hook: the last word
}

/** Panics about request `id`, which carried id `got`. */
function badRequest(id: u64, got: u64): void {
  puts("ringbench: back: request "); putu(id); puts(" has id "); putu(got); printk("");
  panic("request id mismatch");
}

/** Unmaps the ring first, so that the front can end its grants when it sees "bye". */
function backFinish(): void {
  state = DONE;
  for (let i: u32 = 0; i < nPages; i++) {
    const st = gnttabUnmap(pages[i]);
    if (st != GNTST_okay) panic("back: unmap");
  }
  puts("ringbench: back done requests="); putu(n); puts(" notifies="); putu(notifies); printk("");
  check("notify bye", evtchnNotify(<u32>port));
  check("evtchnClose", evtchnClose(<u32>port));
  poweroff();
}
