// gnttab_v2: two domains exercise the SDK's version-2 grants (sub-page and transitive) through
// the same calls a driver uses, and report each check as sdk_smoke does ("ok NAME" or
// "FAIL NAME: got X, want Y", then "gnttab_v2 ROLE: N checks, M failed"; poweroff when none
// failed, crash otherwise). Run the binary twice:
//
//   xenwasm run --cmdline "a peer=2 grant_table.version=2" build/tests/gnttab_v2.wasm \
//               --cmdline "b peer=1 grant_table.version=2" build/tests/gnttab_v2.wasm
//
// The rendezvous is a page P of domain a, granted to b at the well-known ref 8; both poll it
// every millisecond (a through its own memory, b with GNTTABOP_copy through the grant):
// - a fills P (the pattern, and at OFF_SUBREF the ref of a sub-page grant of page S [256, 320)
//   it makes for b), grants P, and waits for state 2;
// - b copies P until the grant is there, checks the sub-page grant's bounds, gives a two
//   transitive grants leading to a's own grants (full page P, read-write; the sub-page of S,
//   read-only), writes their refs into P and then state 2;
// - a copies through b's transitive grants (both ways, and outside the range), then writes 3;
// - b ends its transitive grants (nothing holds them now), writes 4; a ends its own, and both
//   power off.
import {
  boot, evtchnUpcall, cmdlineWord, cmdlineGetU32, printk, puts, puti, panic, poweroff,
  frameAlloc, addrToGfn, SharedPage, timerSet, NS_PER_MS, gnttabVersion, gnttabGrantAccessRef, gnttabGrantSubPage,
  gnttabGrantTransitive, gnttabEndAccess, gnttabEntryFlags, gnttabMap, gnttabCopyFrom, gnttabCopyTo,
} from "../../assembly/index";
import {
  GNTMAP_host_map, GNTMAP_readonly, GNTST_okay, GNTST_general_error, GTF_permit_access, GTF_sub_page, GTF_transitive, GTF_readonly,
} from "../../assembly/xen/grant_table";
import { XEN_EINVAL, XEN_EBUSY } from "../../assembly/xen/errno";
import { DOMID_FIRST_RESERVED, domid_t } from "../../assembly/xen/xen";

/** P's layout: the state word, a's sub-page ref, b's two transitive refs, then a pattern from OFF_DATA on. */
const OFF_STATE: u32 = 0, OFF_SUBREF: u32 = 4, OFF_TRANS_FULL: u32 = 8, OFF_TRANS_SUB: u32 = 12, OFF_DATA: u32 = 64;
/** The well-known ref of P. */
const REF_P: u32 = 8;
/** The sub-page of S that a grants to b. */
const SUB_OFF: u32 = 256, SUB_LEN: u32 = 64;
/** Polls give up after this many 1 ms attempts (10 s). */
const MAX_POLLS: u32 = 10000;

let checks: u32 = 0, failed: u32 = 0;
let isA = false;
let peer: domid_t = 0;
let self: domid_t = 0;
let p: usize = 0; // a: P; b: a scratch copy of P's head
let s: usize = 0; // a: S
let buf: usize = 0; // scratch for copies
let subRef: u32 = 0, transFull: u32 = 0, transSub: u32 = 0;
let polls: u32 = 0;

function expect(name: string, got: i64, want: i64): void {
  checks++;
  if (got == want) { puts("ok "); printk(name); return; }
  failed++;
  puts("FAIL "); puts(name); puts(": got "); puti(got); puts(", want "); puti(want); puts("\n");
}

/** The byte the pattern has at offset `i` of a page seeded `seed`. */
@inline function pattern(seed: u32, i: u32): u8 {
  return <u8>((i * 7 + seed) & 0xff);
}

/** Whether the `len` bytes at `at` follow the pattern `seed` from page offset `from`. */
function follows(at: usize, seed: u32, from: u32, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) if (load<u8>(at + <usize>i) != pattern(seed, from + i)) return false;
  return true;
}

function finish(): void {
  puts("gnttab_v2 "); puts(isA ? "a" : "b"); puts(": "); puti(checks); puts(" checks, "); puti(failed); printk(" failed");
  if (failed != 0) panic("gnttab_v2 checks failed");
  poweroff();
}

/** Calls `fn` again in 1 ms, or panics after MAX_POLLS calls. */
function again(fn: (arg: usize) => void, what: string): void {
  if (++polls > MAX_POLLS) panic(what);
  timerSet(NS_PER_MS, fn, 0);
}

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  const role = cmdlineWord(0);
  if (role === null || (role != "a" && role != "b")) panic("usage: a peer=DOMID | b peer=DOMID");
  isA = role == "a";
  const pp = cmdlineGetU32("peer", 0xFFFF);
  if (pp < 0 || pp >= <i64>DOMID_FIRST_RESERVED) panic("missing or bad peer=DOMID");
  peer = <domid_t>pp;
  self = isA ? 1 : 2; // the rendezvous assumes a is domain 1 and b domain 2
  expect("table version", gnttabVersion(), 2);
  buf = frameAlloc();
  if (isA) aStart(); else bStart();
}

export function xen_upcall(): void {
  evtchnUpcall();
}

// ---------------------------------------------------------------------------------------------
// a

function aStart(): void {
  p = frameAlloc();
  s = frameAlloc();
  for (let i: u32 = 0; i < 4096; i++) { store<u8>(p + <usize>i, pattern(1, i)); store<u8>(s + <usize>i, pattern(2, i)); }
  checkOwnSubPage();
  const r = gnttabGrantSubPage(peer, addrToGfn(s), SUB_OFF, SUB_LEN, true);
  expect("sub-page grant for b", r >= 8 ? 1 : 0, 1);
  subRef = <u32>r;
  expect("sub-page flags", gnttabEntryFlags(subRef), GTF_permit_access | GTF_sub_page | GTF_readonly);
  atomic.store<u32>(p + OFF_STATE, 0);
  atomic.store<u32>(p + OFF_SUBREF, subRef);
  expect("grant P", gnttabGrantAccessRef(REF_P, peer, addrToGfn(p), false), 0);
  aWaitReady(0);
}

/** Sub-page grants to ourselves: the range is enforced on copies, and a map is refused. */
function checkOwnSubPage(): void {
  expect("sub-page past the page end", gnttabGrantSubPage(self, addrToGfn(s), 4000, 100, true), -XEN_EINVAL);
  const r = gnttabGrantSubPage(self, addrToGfn(s), 100, 100, true);
  expect("own sub-page grant", r >= 8 ? 1 : 0, 1);
  expect("copy inside the range", gnttabCopyFrom(self, <u32>r, 100, buf, 100), GNTST_okay);
  expect("copied bytes", follows(buf, 2, 100, 100) ? 1 : 0, 1);
  expect("copy starting before the range", gnttabCopyFrom(self, <u32>r, 99, buf, 2), GNTST_general_error);
  expect("copy ending after the range", gnttabCopyFrom(self, <u32>r, 190, buf, 11), GNTST_general_error);
  const m = new SharedPage();
  expect("map of a sub-page grant", gnttabMap(m, self, <u32>r, GNTMAP_host_map | GNTMAP_readonly), GNTST_general_error);
  expect("end own sub-page grant", gnttabEndAccess(<u32>r), 0);
}

function aWaitReady(arg: usize): void {
  if (atomic.load<u32>(p + OFF_STATE) != 2) { again(aWaitReady, "a: b never got ready"); return; }
  transFull = atomic.load<u32>(p + OFF_TRANS_FULL);
  transSub = atomic.load<u32>(p + OFF_TRANS_SUB);
  // Through b's transitive grant of our own P (a grant offered on and back, as Xen allows).
  expect("copy through the transitive grant", gnttabCopyFrom(peer, transFull, OFF_DATA + 100, buf, 200), GNTST_okay);
  expect("transitive bytes", follows(buf, 1, OFF_DATA + 100, 200) ? 1 : 0, 1);
  store<u32>(buf, 0xA5A5A5A5);
  expect("copy into P through it", gnttabCopyTo(peer, transFull, 2048, buf, 4), GNTST_okay);
  expect("landed in P", load<u32>(p + 2048), 0xA5A5A5A5);
  const m = new SharedPage();
  expect("map of a transitive grant", gnttabMap(m, peer, transFull, GNTMAP_host_map | GNTMAP_readonly), GNTST_general_error);
  // Through b's transitive grant of our sub-page: the sub-page's range, and read-only.
  expect("copy inside the sub-page, transitively", gnttabCopyFrom(peer, transSub, SUB_OFF, buf, SUB_LEN), GNTST_okay);
  expect("sub-page bytes", follows(buf, 2, SUB_OFF, SUB_LEN) ? 1 : 0, 1);
  expect("copy outside the sub-page, transitively", gnttabCopyFrom(peer, transSub, 0, buf, 8), GNTST_general_error);
  expect("copy into a read-only transitive grant", gnttabCopyTo(peer, transSub, SUB_OFF, buf, 4), GNTST_general_error);
  atomic.store<u32>(p + OFF_STATE, 3);
  polls = 0;
  aWaitDone(0);
}

function aWaitDone(arg: usize): void {
  if (atomic.load<u32>(p + OFF_STATE) != 4) { again(aWaitDone, "a: b never finished"); return; }
  // b's copy that wrote 4 may not have dropped its pin yet (another thread): busy means "later".
  const rc = gnttabEndAccess(REF_P);
  if (rc == -XEN_EBUSY) { again(aWaitDone, "a: P stayed in use"); return; }
  expect("end P", rc, 0);
  expect("end the sub-page grant", gnttabEndAccess(subRef), 0);
  finish();
}

// ---------------------------------------------------------------------------------------------
// b

function bStart(): void {
  p = frameAlloc();
  bWaitGrant(0);
}

function bWaitGrant(arg: usize): void {
  if (gnttabCopyFrom(peer, REF_P, 0, p, 16) != GNTST_okay) { again(bWaitGrant, "b: a never granted P"); return; }
  subRef = load<u32>(p + OFF_SUBREF);
  expect("a's sub-page: inside", gnttabCopyFrom(peer, subRef, SUB_OFF + 8, buf, SUB_LEN - 8), GNTST_okay);
  expect("a's sub-page bytes", follows(buf, 2, SUB_OFF + 8, SUB_LEN - 8) ? 1 : 0, 1);
  expect("a's sub-page: outside", gnttabCopyFrom(peer, subRef, SUB_OFF + SUB_LEN - 4, buf, 8), GNTST_general_error);
  const full = gnttabGrantTransitive(peer, peer, REF_P, false);
  const sub = gnttabGrantTransitive(peer, peer, subRef, true);
  expect("transitive grants", full >= 8 && sub >= 8 ? 1 : 0, 1);
  transFull = <u32>full;
  transSub = <u32>sub;
  expect("transitive flags", gnttabEntryFlags(transFull), GTF_transitive);
  store<u32>(buf, transFull);
  store<u32>(buf + 4, transSub);
  expect("publish the transitive refs", gnttabCopyTo(peer, REF_P, OFF_TRANS_FULL, buf, 8), GNTST_okay);
  store<u32>(buf, 2);
  expect("publish state 2", gnttabCopyTo(peer, REF_P, OFF_STATE, buf, 4), GNTST_okay);
  polls = 0;
  bWaitDone(0);
}

function bWaitDone(arg: usize): void {
  if (gnttabCopyFrom(peer, REF_P, OFF_STATE, buf, 4) != GNTST_okay) panic("b: lost P");
  if (load<u32>(buf) != 3) { again(bWaitDone, "b: a never finished"); return; }
  expect("end the transitive grant of P", gnttabEndAccess(transFull), 0);
  expect("end the transitive grant of the sub-page", gnttabEndAccess(transSub), 0);
  expect("end twice", gnttabEndAccess(transSub), -XEN_EINVAL);
  store<u32>(buf, 4);
  expect("publish state 4", gnttabCopyTo(peer, REF_P, OFF_STATE, buf, 4), GNTST_okay);
  finish();
}
