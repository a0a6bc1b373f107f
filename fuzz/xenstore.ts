// The fuzzer of target "xenstore" (guest ring): a guest that drives its xenstore ring by hand,
// without the SDK's client, beside fuzz/steady.ts, whose xenstore use must keep working. Each
// step sends one message (a burst for some personas), 1 ms ticks: valid requests on its own
// nodes and transactions (replies must come once each, in order, with the request's id and type
// or XS_ERROR); requests that must fail (a path over the limits, an unknown transaction, an
// unknown type), watch floods, transaction storms and node floods against the quotas, a message
// written a few bytes at a time (slow) or split across ticks (partial), notify storms, and
// periods of not reading its replies (nonconsumer). Its last step, when the overflow persona is
// on, breaks the ring for good (req_prod jumped, or a header announcing more than 4096 bytes),
// which xenstored must answer by ignoring the ring, alone.
import {
  boot, evtchnUpcall, evtchnNotify, poweroff, timerSet, NS_PER_MS, xenstoreFrame, xenstorePort, gfnToAddr,
} from "../assembly/index";
import {
  xenstore_domain_interface, XS_READ, XS_WRITE, XS_MKDIR, XS_RM, XS_DIRECTORY, XS_GET_PERMS, XS_WATCH, XS_UNWATCH,
  XS_TRANSACTION_START, XS_TRANSACTION_END, XS_WATCH_EVENT, XS_ERROR,
} from "../assembly/xen/io/xs_wire";
import {
  fuzzInit, fuzzSteps, fuzzStepsWanted, fuzzRand, fuzzBelow, fuzzPersona, fuzzStep, fuzzInjected, fuzzDetected, fuzzWrong, fuzzReport,
} from "./lib/fuzz";

const RING: u32 = 1024;
const HDR: u32 = 16;
const MSG: usize = memory.data(4096 + 16, 8);
const RSP: usize = memory.data(4096 + 16, 8);
const OFF_REQ_CONS = offsetof<xenstore_domain_interface>("req_cons");
const OFF_REQ_PROD = offsetof<xenstore_domain_interface>("req_prod");
const OFF_RSP_CONS = offsetof<xenstore_domain_interface>("rsp_cons");
const OFF_RSP_PROD = offsetof<xenstore_domain_interface>("rsp_prod");
const OFF_RSP = offsetof<xenstore_domain_interface>("rsp");
const PERSONAS: StaticArray<string> = ["valid", "valid", "valid", "bad", "watchflood", "txstorm", "quota", "slow", "partial", "nonconsumer", "storm"];

let ring: usize = 0;
let port: u32 = 0;
let nextId: u32 = 1;
/** Requests sent and not answered: id, type, whether only XS_ERROR is a right answer. */
const pendId = new StaticArray<u32>(256);
const pendType = new StaticArray<u32>(256);
const pendMustFail = new StaticArray<bool>(256);
let pendHead: u32 = 0, pendTail: u32 = 0;
/** Transactions it opened and has not ended. */
const txs = new StaticArray<u32>(32);
let nTx: i32 = 0;
let muteTicks: u32 = 0;
/** A message being sent across ticks (partial): its bytes left in MSG from `partialAt`. */
let partialLen: u32 = 0, partialAt: u32 = 0;
let broke = false;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  ring = gfnToAddr(<u32>xenstoreFrame());
  port = xenstorePort();
  timerSet(NS_PER_MS, tick, 0);
}

function space(): u32 {
  return RING - (atomic.load<u32>(ring + OFF_REQ_PROD) - atomic.load<u32>(ring + OFF_REQ_CONS));
}

/** Copies `n` bytes of MSG from `from` into the request ring and publishes them. */
function put(from: u32, n: u32): void {
  let prod = atomic.load<u32>(ring + OFF_REQ_PROD);
  for (let i: u32 = 0; i < n; i++) store<u8>(ring + <usize>(prod++ & (RING - 1)), load<u8>(MSG + <usize>(from + i)));
  atomic.store<u32>(ring + OFF_REQ_PROD, prod);
}

/** Builds a message in MSG: header and the payload `parts`, each followed by a NUL unless `raw`. */
function build(type: u32, tx: u32, a: string, b: string | null = null, raw: bool = false): u32 {
  let len: u32 = 0;
  len += <u32>String.UTF8.encodeUnsafe(changetype<usize>(a), a.length, MSG + <usize>(HDR + len), false);
  if (!raw) store<u8>(MSG + <usize>(HDR + len++), 0);
  if (b !== null) {
    len += <u32>String.UTF8.encodeUnsafe(changetype<usize>(b), b.length, MSG + <usize>(HDR + len), false);
    if (type != XS_WRITE) store<u8>(MSG + <usize>(HDR + len++), 0);
  }
  store<u32>(MSG, type);
  store<u32>(MSG, nextId, 4);
  store<u32>(MSG, tx, 8);
  store<u32>(MSG, len, 12);
  return HDR + len;
}

/** Sends the message in MSG (`n` bytes) at once when it fits, remembering what answer it needs. */
function send(n: u32, mustFail: bool): bool {
  if (space() < n || pendTail - pendHead >= 256) return false;
  const i = <i32>(pendTail++ & 255);
  pendId[i] = load<u32>(MSG, 4);
  pendType[i] = load<u32>(MSG);
  pendMustFail[i] = mustFail;
  nextId++;
  put(0, n);
  evtchnNotify(port);
  return true;
}

function node(): string {
  return "data/fz/" + fuzzBelow(40).toString();
}

function anyTx(): u32 {
  return nTx > 0 && fuzzBelow(2) == 0 ? txs[<i32>fuzzBelow(<u32>nTx)] : 0;
}

function valid(): void {
  const which = fuzzBelow(9);
  const tx = anyTx();
  if (which == 0) send(build(XS_WRITE, tx, node(), fuzzRand().toString()), false);
  else if (which == 1) send(build(XS_READ, tx, node()), false);
  else if (which == 2) send(build(XS_MKDIR, tx, node()), false);
  else if (which == 3) send(build(XS_RM, tx, node()), false);
  else if (which == 4) send(build(XS_DIRECTORY, tx, "data/fz"), false);
  else if (which == 5) send(build(XS_GET_PERMS, tx, node()), false);
  else if (which == 6) send(build(XS_TRANSACTION_START, 0, ""), false);
  else if (which == 7 && nTx > 0) {
    const k = <i32>fuzzBelow(<u32>nTx);
    const id = txs[k];
    txs[k] = txs[--nTx];
    send(build(XS_TRANSACTION_END, id, fuzzBelow(2) == 0 ? "T" : "F"), false);
  } else send(build(XS_UNWATCH, 0, node(), "tok"), false);
}

/** A request xenstored must refuse: a path past the limits, a transaction that does not exist, an unknown type. */
function bad(): void {
  fuzzInjected();
  const which = fuzzBelow(3);
  if (which == 0) {
    let p = "data/";
    const n: u32 = 2100 + fuzzBelow(1800);
    while (<u32>p.length < n) p += "abcdefghijklmnopqrstuvwxyz0123456789/";
    send(build(XS_WRITE, 0, p, "x"), true);
  } else if (which == 1) send(build(XS_READ, 0x40000000 + fuzzBelow(1000), node()), true);
  else {
    build(XS_READ, 0, node());
    store<u32>(MSG, 30 + fuzzBelow(1000)); // no such type
    send(HDR + load<u32>(MSG, 12), true);
  }
}

function watchFlood(): void {
  for (let i = 0; i < 8; i++) send(build(XS_WATCH, 0, node() + "/w" + i.toString(), "tok" + fuzzBelow(100).toString()), false);
}

function txStorm(): void {
  for (let i = 0; i < 6; i++) send(build(XS_TRANSACTION_START, 0, ""), false);
}

function quota(): void {
  const base = "data/q" + fuzzBelow(8).toString() + "/";
  for (let i = 0; i < 12; i++) send(build(XS_WRITE, 0, base + fuzzRand().toString(), "v"), false);
}

/** A request written a few bytes at a time, each with a notify. */
function slow(): void {
  const n = build(XS_WRITE, anyTx(), node(), "slow");
  if (space() < n || pendTail - pendHead >= 256) return;
  const i = <i32>(pendTail++ & 255);
  pendId[i] = nextId++;
  pendType[i] = XS_WRITE;
  pendMustFail[i] = false;
  for (let at: u32 = 0; at < n; at += 3) {
    put(at, min<u32>(3, n - at));
    evtchnNotify(port);
  }
}

/** A request whose first half goes now and the rest at the next tick. */
function partial(): void {
  const n = build(XS_READ, 0, node());
  if (space() < n || pendTail - pendHead >= 256) return;
  const i = <i32>(pendTail++ & 255);
  pendId[i] = nextId++;
  pendType[i] = XS_READ;
  pendMustFail[i] = false;
  const first = 1 + fuzzBelow(n - 1);
  put(0, first);
  evtchnNotify(port);
  partialAt = first;
  partialLen = n - first;
}

/** Reads every complete reply, checking it against the oldest request not answered. */
function drain(): void {
  for (;;) {
    const cons = atomic.load<u32>(ring + OFF_RSP_CONS);
    const prod = atomic.load<u32>(ring + OFF_RSP_PROD);
    const avail = prod - cons;
    if (avail < HDR) return;
    for (let i: u32 = 0; i < HDR; i++) store<u8>(RSP + <usize>i, load<u8>(ring + OFF_RSP + <usize>((cons + i) & (RING - 1))));
    const type = load<u32>(RSP), id = load<u32>(RSP, 4), len = load<u32>(RSP, 12);
    if (len > 4096) { fuzzWrong("a reply announcing " + len.toString() + " bytes"); atomic.store<u32>(ring + OFF_RSP_CONS, prod); return; }
    if (avail < HDR + len) return;
    for (let i: u32 = 0; i < len; i++) store<u8>(RSP + <usize>(HDR + i), load<u8>(ring + OFF_RSP + <usize>((cons + HDR + i) & (RING - 1))));
    atomic.store<u32>(ring + OFF_RSP_CONS, cons + HDR + len);
    evtchnNotify(port);
    if (type == XS_WATCH_EVENT) continue;
    if (pendHead == pendTail) { fuzzWrong("an unsolicited reply, id " + id.toString()); continue; }
    const k = <i32>(pendHead++ & 255);
    if (id != pendId[k]) fuzzWrong("reply id " + id.toString() + " where " + pendId[k].toString() + " was due");
    else if (type != XS_ERROR && type != pendType[k]) fuzzWrong("reply type " + type.toString() + " to a request of type " + pendType[k].toString());
    else if (pendMustFail[k]) {
      if (type == XS_ERROR) fuzzDetected();
      else fuzzWrong("a request xenstored must refuse (type " + pendType[k].toString() + ") succeeded");
    } else if (type == XS_TRANSACTION_START && nTx < 32) {
      // The reply is the new transaction's id, in decimal with a NUL.
      let v: u32 = 0;
      for (let i: u32 = 0; i < len; i++) {
        const c = load<u8>(RSP + <usize>(HDR + i));
        if (c < 0x30 || c > 0x39) break;
        v = v * 10 + (c - 0x30);
      }
      txs[nTx++] = v;
    }
  }
}

/** Breaks the ring for good: req_prod far ahead, or a header announcing more than XENSTORE_PAYLOAD_MAX. */
function breakRing(): void {
  fuzzInjected();
  broke = true;
  if (fuzzBelow(2) == 0) {
    atomic.store<u32>(ring + OFF_REQ_PROD, atomic.load<u32>(ring + OFF_REQ_CONS) + 5000);
  } else {
    build(XS_READ, 0, node());
    store<u32>(MSG, 5000, 12);
    if (space() >= HDR) put(0, HDR);
  }
  evtchnNotify(port);
}

function tick(arg: usize): void {
  if (muteTicks > 0) muteTicks--;
  else drain();
  if (partialLen > 0) {
    put(partialAt, partialLen);
    evtchnNotify(port);
    partialLen = 0;
  }
  const wanted = fuzzStepsWanted();
  for (let i = 0; i < 4 && fuzzSteps < wanted && partialLen == 0; i++) {
    fuzzStep();
    if (fuzzSteps == wanted && fuzzPersona("overflow")) { breakRing(); break; }
    const p = PERSONAS[<i32>fuzzBelow(<u32>PERSONAS.length)];
    if (!fuzzPersona(p)) continue;
    if (p == "valid") valid();
    else if (p == "bad") bad();
    else if (p == "watchflood") watchFlood();
    else if (p == "txstorm") txStorm();
    else if (p == "quota") quota();
    else if (p == "slow") slow();
    else if (p == "partial") partial();
    else if (p == "nonconsumer") muteTicks = 1 + fuzzBelow(30);
    else for (let j = 0; j < 100; j++) evtchnNotify(port);
  }
  if (fuzzSteps < wanted || (!broke && pendHead != pendTail && waitTicks++ < 2000)) {
    timerSet(NS_PER_MS, tick, 0);
    return;
  }
  if (!broke && pendHead != pendTail) fuzzWrong((pendTail - pendHead).toString() + " requests never answered");
  fuzzReport();
  poweroff();
}
let waitTicks: u32 = 0;

export function xen_upcall(): void {
  evtchnUpcall();
}
