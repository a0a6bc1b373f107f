// The xenstore client: requests and replies over the shared xenstore ring (io/xs_wire.h,
// docs/misc/xenstore.txt and xenstore-ring.txt; the page is start_info.store_mfn, frame 2, and its
// event channel start_info.store_evtchn, port 2, bound to xenstored in domain 0: docs/ABI.md §2).
//
// Who owns what on the page. We produce `req` and own req_prod; xenstored consumes it and owns
// req_cons. xenstored produces `rsp` and owns rsp_prod; we consume it and own rsp_cons. Every index
// is read and written with one 32-bit atomic operation. We keep private copies of our own indices
// (the peer could scribble on the page) and check the peer's: a producer/consumer distance above
// the ring size closes the connection (XENSTORE_ERROR_RINGIDX), as does a reply header claiming
// more than XENSTORE_PAYLOAD_MAX bytes (XENSTORE_ERROR_PROTO).
//
// Sending: a request is serialized once (header + payload, UTF-8) into a static buffer, then copied
// into `req` as space allows; the producer index is published with a sequentially consistent
// store after the bytes (the write barrier they need) and the port is notified. A message bigger
// than the free space goes in pieces: the rest follows when the port fires again (xenstored reads
// partial messages). Requests wait in a FIFO while XS_MAX_INFLIGHT are outstanding.
//
// Receiving: bytes are copied out of `rsp` into a static buffer until a whole message is there,
// then rsp_cons is published and the message dispatched: a reply completes the request with its
// req_id, an XS_WATCH_EVENT goes to the watch whose token it carries.
//
// No closures: every completion is a top-level function plus a word `arg` chosen by the caller.
// Nothing on the ring path allocates; a callback allocates only the strings it asks the reply for.
// Guest code never runs re-entrantly (docs/ABI.md §1), so the static buffers need no locking.
import {
  xenstore_domain_interface, xsd_sockmsg, XENSTORE_RING_SIZE, MASK_XENSTORE_IDX, XENSTORE_PAYLOAD_MAX,
  XENSTORE_SERVER_FEATURE_RECONNECTION, XENSTORE_SERVER_FEATURE_ERROR, XENSTORE_CONNECTED,
  XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH, XS_TRANSACTION_START,
  XS_TRANSACTION_END, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS, XS_WATCH_EVENT, XS_ERROR,
  xsd_errors_errnum, xsd_errors_errstring,
} from "./xen/io/xs_wire";
import { XEN_EINVAL, XEN_E2BIG, XEN_EIO, XEN_ENOSPC, XEN_ENOTCONN, XEN_ENODEV, XEN_ENOENT, XEN_EAGAIN } from "./xen/errno";
import { xenstoreFrame, xenstorePort } from "./boot";
import { gfnToAddr } from "./frames";
import { evtchnSetHandler, evtchnNotify } from "./evtchn";
import { puts, putu, putc } from "./console";

/** The transaction id meaning "no transaction" (Linux's XBT_NIL). */
export const XBT_NIL: u32 = 0;

/**
 * Requests outstanding at xenstored at once; more wait in the client's queue. xenstored allows a
 * domain 20 outstanding requests, and since XSA-326 counts queued watch events against the same
 * quota, the client stays well below it.
 */
export const XS_MAX_INFLIGHT: i32 = 8;
/** Requests the client holds at once, outstanding and queued (a power of two: it is in the req_id). */
export const XS_MAX_REQUESTS: i32 = 64;
/** Watches registered at once (a power of two: it is in the token). */
export const XS_MAX_WATCHES: i32 = 32;
/** Transactions run by xsTransaction at once. */
export const XS_MAX_TXNS: i32 = 8;
/** Attempts xsTransaction makes by default before giving up with -XEN_EAGAIN. */
export const XS_TXN_TRIES: i32 = 8;

/**
 * A request's completion: `status` is >= 0 on success (0, the number of entries for a directory,
 * the transaction id for a transaction start) or -XEN_Exxx; `reply` is the client's, valid only
 * during the call; `arg` is the caller's word, passed back untouched.
 */
export type XsCallback = (status: i32, reply: XsReply, arg: usize) => void;
/** A watch callback: the path that changed (a fresh string the callee owns) and the watcher's `arg`. */
export type XsWatchFn = (path: string, arg: usize) => void;
/** A completion that carries only a status (0 or -XEN_Exxx) and the caller's `arg`. */
export type XsDoneFn = (status: i32, arg: usize) => void;
/** A transaction body run by xsTransaction: issues its requests with `t.id`, then ends `t` once. */
export type XsTxnBody = (t: XsTxn) => void;

// ---- layout --------------------------------------------------------------------------------

const RING: u32 = XENSTORE_RING_SIZE;
const OFF_REQ: usize = offsetof<xenstore_domain_interface>("req");
const OFF_RSP: usize = offsetof<xenstore_domain_interface>("rsp");
const OFF_REQ_CONS: usize = offsetof<xenstore_domain_interface>("req_cons");
const OFF_REQ_PROD: usize = offsetof<xenstore_domain_interface>("req_prod");
const OFF_RSP_CONS: usize = offsetof<xenstore_domain_interface>("rsp_cons");
const OFF_RSP_PROD: usize = offsetof<xenstore_domain_interface>("rsp_prod");
const OFF_FEATURES: usize = offsetof<xenstore_domain_interface>("server_features");
const OFF_CONNECTION: usize = offsetof<xenstore_domain_interface>("connection");
const OFF_ERROR: usize = offsetof<xenstore_domain_interface>("error");
/** Bytes of struct xsd_sockmsg (16). */
const HDR: u32 = <u32>offsetof<xsd_sockmsg>();
/** The largest message either way: header + XENSTORE_PAYLOAD_MAX. */
const MSG_MAX: u32 = HDR + XENSTORE_PAYLOAD_MAX;

/** The request being sent, serialized. */
const TXBUF = memory.data(<i32>MSG_MAX, 16);
/** The reply being received; XsReply points into it while a callback runs. */
const RXBUF = memory.data(<i32>MSG_MAX, 16);

// ---- connection state ----------------------------------------------------------------------

const ST_DOWN: i32 = 0;      // xsInit not called
const ST_WAIT: i32 = 1;      // waiting for xenstored to finish a ring reconnection
const ST_UP: i32 = 2;
const ST_FAILED: i32 = 3;    // closed: a corrupt index, a protocol violation or a server error

let ring: usize = 0;
let port: u32 = 0;
let st: i32 = ST_DOWN;
let failErr: i32 = 0;
/** Our private copies of the indices we own. */
let reqProd: u32 = 0;
let rspCons: u32 = 0;
let draining = false;
/** Bytes of the current reply received so far, and its payload length once the header is in. */
let rxHave: u32 = 0;
let rxLen: u32 = 0;
/** Replies nobody asked for (unknown req_id or watch token), dropped. */
let strays: u32 = 0;

// ---- the reply -----------------------------------------------------------------------------

/**
 * A received message as a callback sees it: the header fields and the payload, which stays in the
 * client's receive buffer and is valid only until the callback returns. The accessors that return
 * strings allocate fresh ones the caller owns; the others allocate nothing.
 */
export class XsReply {
  /** XS_* type: the request's type, XS_ERROR, or XS_WATCH_EVENT. */
  type: u32 = 0;
  reqId: u32 = 0;
  txId: u32 = 0;
  /** Payload bytes. */
  len: u32 = 0;
  /** Address of the payload (the client's buffer; read-only, valid during the callback). */
  data: usize = 0;

  /** Payload length without one trailing NUL (values carry none, strings one). */
  textLen(): u32 {
    const n = this.len;
    return n > 0 && load<u8>(this.data + <usize>(n - 1)) == 0 ? n - 1 : n;
  }

  /** The payload as a string (UTF-8 decoded, one trailing NUL dropped): what XS_READ returns. */
  str(): string {
    return String.UTF8.decodeUnsafe(this.data, <usize>this.textLen());
  }

  /** Whether the payload (without a trailing NUL) is `s`; allocates nothing for ASCII `s`. */
  equals(s: string): bool {
    const n = this.textLen();
    const m = s.length;
    for (let i = 0; i < m; i++) {
      if (s.charCodeAt(i) >= 0x80) return this.str() == s;
    }
    if (<u32>m != n) return false;
    for (let i = 0; i < m; i++) {
      if (<i32>load<u8>(this.data + <usize>i) != s.charCodeAt(i)) return false;
    }
    return true;
  }

  /** Whether the payload is a decimal integer (optional sign, digits only, at most 18 digits). */
  isInt(): bool {
    return parseDec(this.data, this.textLen(), true) != i64.MIN_VALUE;
  }

  /** The payload as a decimal integer, or `dflt` if it is not one. Allocates nothing. */
  toInt(dflt: i64 = 0): i64 {
    const v = parseDec(this.data, this.textLen(), true);
    return v == i64.MIN_VALUE ? dflt : v;
  }

  /** The number of NUL-terminated strings in the payload (directory entries, permissions). */
  count(): i32 {
    let n = 0;
    const len = this.len;
    for (let i: u32 = 0; i < len; i++) if (load<u8>(this.data + <usize>i) == 0) n++;
    if (len > 0 && load<u8>(this.data + <usize>(len - 1)) != 0) n++; // an unterminated last one
    return n;
  }

  /** String `index` of a NUL-separated payload, or null if there is no such string. */
  part(index: i32): string | null {
    let start: u32 = 0;
    let k = 0;
    const len = this.len;
    for (let i: u32 = 0; i <= len; i++) {
      if (i == len || load<u8>(this.data + <usize>i) == 0) {
        if (i == len && i == start) break; // nothing after the last NUL
        if (k == index) return String.UTF8.decodeUnsafe(this.data + <usize>start, <usize>(i - start));
        k++;
        start = i + 1;
      }
    }
    return null;
  }

  /** All NUL-separated strings of the payload (a directory listing, a permission list). */
  strings(): Array<string> {
    const out = new Array<string>(0);
    let start: u32 = 0;
    const len = this.len;
    for (let i: u32 = 0; i <= len; i++) {
      if (i == len || load<u8>(this.data + <usize>i) == 0) {
        if (i == len && i == start) break;
        out.push(String.UTF8.decodeUnsafe(this.data + <usize>start, <usize>(i - start)));
        start = i + 1;
      }
    }
    return out;
  }
}

/** The reply handed to callbacks for received messages. */
const reply = new XsReply();
/** The reply handed to callbacks completed by the client itself (no payload). */
const noReply = new XsReply();

/**
 * Parses a decimal integer at `p` (`n` bytes): optional sign, 1..18 digits, nothing else.
 * Returns i64.MIN_VALUE if it is not one.
 */
function parseDec(p: usize, n: u32, signed: bool): i64 {
  let i: u32 = 0;
  let neg = false;
  if (n > 0 && signed) {
    const c = load<u8>(p);
    if (c == 0x2D || c == 0x2B) { neg = c == 0x2D; i = 1; }
  }
  if (i == n || n - i > 18) return i64.MIN_VALUE;
  let v: i64 = 0;
  for (; i < n; i++) {
    const d = <i32>load<u8>(p + <usize>i) - 0x30;
    if (d < 0 || d > 9) return i64.MIN_VALUE;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

// ---- errors --------------------------------------------------------------------------------

/** Maps the error name at `p` (`n` bytes, up to a NUL) to -XEN_Exxx through xsd_errors; unknown: -XEN_EINVAL (as Linux). */
function errnoOf(p: usize, n: u32): i32 {
  let len: u32 = 0;
  while (len < n && load<u8>(p + <usize>len) != 0) len++;
  for (let i = 0; i < xsd_errors_errstring.length; i++) {
    const name = unchecked(xsd_errors_errstring[i]);
    if (<u32>name.length != len) continue;
    let same = true;
    for (let j = 0; j < name.length; j++) {
      if (<i32>load<u8>(p + <usize>j) != name.charCodeAt(j)) { same = false; break; }
    }
    if (same) return -unchecked(xsd_errors_errnum[i]);
  }
  return -XEN_EINVAL;
}

/**
 * Maps an XS_ERROR name ("EAGAIN") to the negative Xen errno (-XEN_EAGAIN) through xs_wire.h's
 * xsd_errors table; names it does not list give -XEN_EINVAL, as in Linux.
 */
export function xsErrnoFromName(name: string): i32 {
  for (let i = 0; i < xsd_errors_errstring.length; i++) {
    if (unchecked(xsd_errors_errstring[i]) == name) return -unchecked(xsd_errors_errnum[i]);
  }
  return -XEN_EINVAL;
}

/** The xsd_errors name of `err` (-XEN_EAGAIN → "EAGAIN"; a static string), or "E?" if it has none. */
export function xsErrorName(err: i32): string {
  const e = err < 0 ? -err : err;
  for (let i = 0; i < xsd_errors_errnum.length; i++) {
    if (unchecked(xsd_errors_errnum[i]) == e) return unchecked(xsd_errors_errstring[i]);
  }
  return "E?";
}

// ---- requests ------------------------------------------------------------------------------

const R_FREE: i32 = 0;
const R_QUEUED: i32 = 1;
const R_SENDING: i32 = 2;
const R_WAITING: i32 = 3;

const IDX_MASK: u32 = <u32>XS_MAX_REQUESTS - 1;
const IDX_BITS: u32 = <u32>ctz(XS_MAX_REQUESTS);
if (XS_MAX_REQUESTS & (XS_MAX_REQUESTS - 1)) ERROR("XS_MAX_REQUESTS must be a power of two");

/** One request: its message (strings kept until serialized) and its completion. */
class Req {
  state: i32 = R_FREE;
  /** Next in the free list or the send queue, -1 at the end. */
  next: i32 = -1;
  id: u32 = 0;
  type: u32 = 0;
  tx: u32 = 0;
  /** First string, always NUL-terminated (a path, "" for a transaction start, "T"/"F"). */
  path: string = "";
  /** Second string (a value or a token), NUL-terminated if `valueNul`. */
  value: string | null = null;
  valueNul: bool = false;
  /** Further NUL-terminated strings (permissions). */
  list: Array<string> | null = null;
  cb: XsCallback | null = null;
  arg: usize = 0;
}

function makeReqs(): StaticArray<Req> {
  const a = new StaticArray<Req>(XS_MAX_REQUESTS);
  for (let i = 0; i < XS_MAX_REQUESTS; i++) {
    const r = new Req();
    r.next = i + 1 < XS_MAX_REQUESTS ? i + 1 : -1;
    unchecked(a[i] = r);
  }
  return a;
}
const reqs = makeReqs();
let freeHead: i32 = 0;
let qHead: i32 = -1;
let qTail: i32 = -1;
let inflight: i32 = 0;
let seq: u32 = 1;
/** The request being copied into the ring (-1: none), its length and how much is in. */
let cur: i32 = -1;
let txLen: u32 = 0;
let txOff: u32 = 0;

/** Drops a request's strings and callback and returns it to the free list. */
function release(idx: i32): void {
  const r = unchecked(reqs[idx]);
  if (r.state == R_SENDING || r.state == R_WAITING) inflight--;
  r.state = R_FREE;
  r.path = "";
  r.value = null;
  r.list = null;
  r.cb = null;
  r.arg = 0;
  r.next = freeHead;
  freeHead = idx;
}

/**
 * Queues one request (payload: `path`, NUL; then `value`, NUL if `valueNul`; then each of `list`,
 * NUL) and starts sending. Returns its req_id (> 0) or -XEN_Exxx, in which case `cb` is never
 * called.
 */
function submit(type: u32, tx: u32, path: string, value: string | null, valueNul: bool,
                list: Array<string> | null, cb: XsCallback | null, arg: usize): i32 {
  if (st == ST_DOWN) return -XEN_ENOTCONN;
  if (st == ST_FAILED) return failErr;
  let len = String.UTF8.byteLength(path, true);
  if (value !== null) len += String.UTF8.byteLength(value, valueNul);
  if (list !== null) {
    for (let i = 0; i < list.length; i++) len += String.UTF8.byteLength(unchecked(list[i]), true);
  }
  if (<u32>len > XENSTORE_PAYLOAD_MAX) return -XEN_E2BIG;
  const idx = freeHead;
  if (idx < 0) return -XEN_ENOSPC;
  const r = unchecked(reqs[idx]);
  freeHead = r.next;
  const id = ((seq++ << IDX_BITS) | <u32>idx) & 0x7FFFFFFF;
  r.state = R_QUEUED;
  r.next = -1;
  r.id = id == 0 ? <u32>XS_MAX_REQUESTS : id; // 0 would be a watch event's req_id; idx 0 keeps its slot
  r.type = type;
  r.tx = tx;
  r.path = path;
  r.value = value;
  r.valueNul = valueNul;
  r.list = list;
  r.cb = cb;
  r.arg = arg;
  if (qTail < 0) qHead = idx;
  else unchecked(reqs[qTail]).next = idx;
  qTail = idx;
  const rid = <i32>r.id;
  pump();
  return rid;
}

/** Writes `s` as UTF-8 at `p` (with a NUL if `nul`); returns the bytes written. */
@inline function encode(s: string, p: usize, nul: bool): usize {
  return String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p, nul);
}

/** Serializes request `r` into TXBUF; returns the message length. */
function serialize(r: Req): u32 {
  let p = TXBUF + <usize>HDR;
  p += encode(r.path, p, true);
  const v = r.value;
  if (v !== null) p += encode(v, p, r.valueNul);
  const l = r.list;
  if (l !== null) {
    for (let i = 0; i < l.length; i++) p += encode(unchecked(l[i]), p, true);
  }
  const len = <u32>(p - TXBUF) - HDR;
  const h = changetype<xsd_sockmsg>(TXBUF);
  h.type = r.type;
  h.req_id = r.id;
  h.tx_id = r.tx;
  h.len = len;
  return HDR + len;
}

/** Copies up to `n` bytes at `src` into `req`; returns how many went in, or -1 if the ring is corrupt. */
function ringPut(src: usize, n: u32): i32 {
  const cons = atomic.load<u32>(ring + OFF_REQ_CONS); // acquire: xenstored is done with bytes before cons
  const used = reqProd - cons;                         // free-running: right across 2^32
  if (used > RING) {
    fail(-XEN_EIO, "request ring index corrupt");
    return -1;
  }
  const space = RING - used;
  if (n > space) n = space;
  if (n == 0) return 0;
  const off = MASK_XENSTORE_IDX(reqProd);
  const first = n < RING - off ? n : RING - off;
  memory.copy(ring + OFF_REQ + <usize>off, src, <usize>first);
  if (n > first) memory.copy(ring + OFF_REQ, src + <usize>first, <usize>(n - first)); // wrapped
  reqProd += n;
  atomic.store<u32>(ring + OFF_REQ_PROD, reqProd); // release: publishes the bytes above
  return <i32>n;
}

/**
 * Moves queued requests into the ring while fewer than XS_MAX_INFLIGHT are outstanding and the
 * ring has space, then notifies xenstored once if anything was written.
 */
function pump(): void {
  if (st != ST_UP) return;
  let wrote = false;
  while (st == ST_UP) {
    if (cur < 0) {
      if (qHead < 0 || inflight >= XS_MAX_INFLIGHT) break;
      cur = qHead;
      const r = unchecked(reqs[cur]);
      qHead = r.next;
      if (qHead < 0) qTail = -1;
      r.next = -1;
      r.state = R_SENDING;
      inflight++;
      txLen = serialize(r);
      txOff = 0;
      r.path = ""; // serialized: the strings are no longer needed
      r.value = null;
      r.list = null;
    }
    const n = ringPut(TXBUF + <usize>txOff, txLen - txOff);
    if (n < 0) return;
    if (n > 0) wrote = true;
    txOff += <u32>n;
    if (txOff < txLen) break; // ring full: the rest goes when xenstored has read some
    unchecked(reqs[cur]).state = R_WAITING;
    cur = -1;
  }
  if (wrote) evtchnNotify(port);
}

// ---- receiving -----------------------------------------------------------------------------

/** Copies up to `n` reply bytes into `dst`; returns how many, or -1 if the ring is corrupt. */
function ringGet(dst: usize, n: u32): i32 {
  const prod = atomic.load<u32>(ring + OFF_RSP_PROD); // acquire: the bytes before prod are written
  const avail = prod - rspCons;
  if (avail > RING) {
    fail(-XEN_EIO, "reply ring index corrupt");
    return -1;
  }
  if (n > avail) n = avail;
  if (n == 0) return 0;
  const off = MASK_XENSTORE_IDX(rspCons);
  const first = n < RING - off ? n : RING - off;
  memory.copy(dst, ring + OFF_RSP + <usize>off, <usize>first);
  if (n > first) memory.copy(dst + <usize>first, ring + OFF_RSP, <usize>(n - first)); // wrapped
  rspCons += n;
  atomic.store<u32>(ring + OFF_RSP_CONS, rspCons); // release: xenstored may reuse the space
  return <i32>n;
}

/** Receives every whole message in `rsp` and dispatches each; notifies xenstored if it consumed. */
function drain(): void {
  if (draining || st != ST_UP) return;
  draining = true;
  let consumed = false;
  while (st == ST_UP) {
    if (rxHave < HDR) {
      const n = ringGet(RXBUF + <usize>rxHave, HDR - rxHave);
      if (n <= 0) break;
      consumed = true;
      rxHave += <u32>n;
      if (rxHave < HDR) break;
      rxLen = changetype<xsd_sockmsg>(RXBUF).len;
      if (rxLen > XENSTORE_PAYLOAD_MAX) {
        fail(-XEN_EIO, "reply longer than XENSTORE_PAYLOAD_MAX");
        break;
      }
    }
    const total = HDR + rxLen;
    if (rxHave < total) {
      const n = ringGet(RXBUF + <usize>rxHave, total - rxHave);
      if (n < 0) break;
      if (n > 0) { consumed = true; rxHave += <u32>n; }
      if (rxHave < total) break;
    }
    rxHave = 0;
    if (consumed) {
      // Tell xenstored about the space before running callbacks, which may take long or not return.
      consumed = false;
      evtchnNotify(port);
    }
    dispatch();
  }
  if (consumed && st == ST_UP) evtchnNotify(port);
  draining = false;
}

/** Hands the message in RXBUF to its request's callback or its watch. */
function dispatch(): void {
  const h = changetype<xsd_sockmsg>(RXBUF);
  const type = h.type;
  const id = h.req_id;
  reply.type = type;
  reply.reqId = id;
  reply.txId = h.tx_id;
  reply.len = rxLen;
  reply.data = RXBUF + <usize>HDR;
  if (type == XS_WATCH_EVENT) {
    dispatchWatch();
    return;
  }
  const idx = <i32>(id & IDX_MASK);
  const r = unchecked(reqs[idx]);
  if (r.state != R_WAITING || r.id != id) {
    strays++;
    return;
  }
  let status: i32 = 0;
  if (type == XS_ERROR) {
    status = errnoOf(reply.data, reply.len);
  } else if (type != r.type) {
    status = -XEN_EIO; // a reply of another type: the peer is confused
  } else if (type == XS_TRANSACTION_START) {
    const v = parseDec(reply.data, reply.textLen(), false);
    status = v <= 0 || v > <i64>i32.MAX_VALUE ? -XEN_EIO : <i32>v;
  } else if (type == XS_DIRECTORY) {
    status = reply.count();
  }
  const cb = r.cb;
  const arg = r.arg;
  release(idx); // before the callback, which may submit again
  if (cb !== null) cb(status, reply, arg);
}

/** Closes the connection for good and fails every pending request with `err`. */
function fail(err: i32, why: string): void {
  if (st == ST_FAILED) return;
  st = ST_FAILED;
  failErr = err;
  puts("xenstore: ");
  puts(why);
  puts("; connection closed\n");
  cur = -1;
  rxHave = 0;
  qHead = -1;
  qTail = -1;
  noReply.type = XS_ERROR;
  for (let i = 0; i < XS_MAX_REQUESTS; i++) {
    const r = unchecked(reqs[i]);
    if (r.state == R_FREE) continue;
    const cb = r.cb;
    const arg = r.arg;
    release(i);
    if (cb !== null) cb(err, noReply, arg);
  }
}

// ---- connection ----------------------------------------------------------------------------

/** The store port's handler. */
function onStoreEvent(p: u32, arg: usize): void {
  xsPoll();
}

/**
 * Starts the client on the ring and port from start_info (call after boot()): checks the indices
 * and installs the store port's handler. Returns 0 (also if already started), -XEN_ENODEV without
 * a xenstore page, -XEN_EIO if the indices are corrupt, or the error of unmasking the port.
 */
export function xsInit(): i32 {
  if (st != ST_DOWN) return st == ST_FAILED ? failErr : 0;
  const gfn = xenstoreFrame();
  if (gfn == 0 || gfn > <u64>u32.MAX_VALUE) return -XEN_ENODEV;
  ring = gfnToAddr(<u32>gfn);
  port = xenstorePort();
  const features = atomic.load<u32>(ring + OFF_FEATURES);
  if ((features & XENSTORE_SERVER_FEATURE_RECONNECTION) != 0 &&
      atomic.load<u32>(ring + OFF_CONNECTION) != XENSTORE_CONNECTED) {
    st = ST_WAIT; // someone asked for a reconnection: touch nothing until xenstored is done
  } else {
    const rc = takeIndices();
    if (rc < 0) return rc;
    st = ST_UP;
  }
  const rc = evtchnSetHandler(port, onStoreEvent, 0);
  if (rc < 0) return rc;
  xsPoll();
  return 0;
}

/** Adopts the indices on the page (they need not start at 0) after checking them. */
function takeIndices(): i32 {
  reqProd = atomic.load<u32>(ring + OFF_REQ_PROD);
  rspCons = atomic.load<u32>(ring + OFF_RSP_CONS);
  if (reqProd - atomic.load<u32>(ring + OFF_REQ_CONS) > RING ||
      atomic.load<u32>(ring + OFF_RSP_PROD) - rspCons > RING) {
    st = ST_UP; // so that fail() reports it
    fail(-XEN_EIO, "ring indices corrupt at start");
    return -XEN_EIO;
  }
  rxHave = 0;
  return 0;
}

/**
 * Runs the client once: finishes a pending reconnection, checks the server's error indicator,
 * dispatches every complete reply and sends what fits. The store port's handler calls it; a
 * kernel that polls instead of taking upcalls may call it too.
 */
export function xsPoll(): void {
  if (st == ST_WAIT) {
    if (atomic.load<u32>(ring + OFF_CONNECTION) != XENSTORE_CONNECTED) return;
    if (takeIndices() < 0) return;
    st = ST_UP;
  }
  if (st != ST_UP) return;
  const features = atomic.load<u32>(ring + OFF_FEATURES);
  if ((features & XENSTORE_SERVER_FEATURE_ERROR) != 0) {
    const e = atomic.load<u32>(ring + OFF_ERROR);
    if (e != 0) {
      puts("xenstore: server error indicator ");
      putu(e);
      putc(0x0A);
      fail(-XEN_EIO, "xenstored closed the connection");
      return;
    }
  }
  if (reqProd - atomic.load<u32>(ring + OFF_REQ_CONS) > RING) {
    fail(-XEN_EIO, "request ring index corrupt");
    return;
  }
  drain();
  pump();
}

/** Whether the client is up (xsInit succeeded and the connection has not failed). */
export function xsConnected(): bool {
  return st == ST_UP || st == ST_WAIT;
}

/** Requests outstanding at xenstored (sent or being sent). */
export function xsInFlight(): i32 {
  return inflight;
}

/** Requests waiting in the client's queue. */
export function xsQueued(): i32 {
  let n = 0;
  for (let i = qHead; i >= 0; i = unchecked(reqs[i]).next) n++;
  return n;
}

/** Messages dropped because no request or watch matched them (a confused or hostile peer). */
export function xsStrays(): u32 {
  return strays;
}

// ---- operations ----------------------------------------------------------------------------
// Each returns the request id (> 0), or -XEN_Exxx: -XEN_ENOTCONN before xsInit, -XEN_E2BIG for a
// payload above XENSTORE_PAYLOAD_MAX, -XEN_ENOSPC when XS_MAX_REQUESTS are held, -XEN_EIO once the
// connection failed. On an error return the callback is never called; otherwise it is called
// exactly once, from the upcall (or synchronously, with -XEN_EIO, if the connection fails while
// the request is submitted). Paths not starting with "/" are relative to /local/domain/<domid>.
// The strings are the caller's; the client keeps references only until the request is sent.

/** Reads `path` (XS_READ): `reply.str()` is the value; -XEN_ENOENT if it does not exist. */
export function xsRead(tx: u32, path: string, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_READ, tx, path, null, false, null, cb, arg);
}

/** Writes `value` (without a NUL, as xenstore stores it) at `path`, creating missing parents (XS_WRITE). */
export function xsWrite(tx: u32, path: string, value: string, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_WRITE, tx, path, value, false, null, cb, arg);
}

/** Creates `path` and missing parents with empty values, leaving existing values alone (XS_MKDIR). */
export function xsMkdir(tx: u32, path: string, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_MKDIR, tx, path, null, false, null, cb, arg);
}

/** Removes `path` and its children (XS_RM); not an error if it is absent but its parent exists. */
export function xsRm(tx: u32, path: string, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_RM, tx, path, null, false, null, cb, arg);
}

/**
 * Lists the children of `path` (XS_DIRECTORY): the status is their number and
 * `reply.strings()`/`reply.part(i)` their leaf names. A listing above XENSTORE_PAYLOAD_MAX fails
 * with -XEN_E2BIG (XS_DIRECTORY_PART is not used).
 */
export function xsDirectory(tx: u32, path: string, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_DIRECTORY, tx, path, null, false, null, cb, arg);
}

/** Reads the permissions of `path` (XS_GET_PERMS): `reply.strings()` is the list, owner first ("n0", "r1"). */
export function xsGetPerms(tx: u32, path: string, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_GET_PERMS, tx, path, null, false, null, cb, arg);
}

/**
 * Sets the permissions of `path` (XS_SET_PERMS) to `perms`, each "<r|w|b|n><domid>" (see
 * xsPerm); the first names the owner and the default for domains not listed. The caller keeps
 * `perms` unchanged until the callback.
 */
export function xsSetPerms(tx: u32, path: string, perms: Array<string>, cb: XsCallback | null, arg: usize = 0): i32 {
  if (perms.length == 0) return -XEN_EINVAL;
  return submit(XS_SET_PERMS, tx, path, null, false, perms, cb, arg);
}

/** Permission letters of xsPerm: none, read, write, both. */
export const XS_PERM_NONE: i32 = 0x6E; // 'n'
export const XS_PERM_READ: i32 = 0x72; // 'r'
export const XS_PERM_WRITE: i32 = 0x77; // 'w'
export const XS_PERM_BOTH: i32 = 0x62; // 'b'

/** Builds one permission string for xsSetPerms, e.g. xsPerm(XS_PERM_READ, 1) = "r1" (a fresh string). */
export function xsPerm(perm: i32, domid: u32): string {
  return String.fromCharCode(perm) + domid.toString();
}

// ---- watches -------------------------------------------------------------------------------

const W_MASK: u32 = <u32>XS_MAX_WATCHES - 1;
const W_BITS: u32 = <u32>ctz(XS_MAX_WATCHES);
if (XS_MAX_WATCHES & (XS_MAX_WATCHES - 1)) ERROR("XS_MAX_WATCHES must be a power of two");

class Watch {
  active: bool = false;
  id: u32 = 0;
  path: string = "";
  token: string = "";
  fn: XsWatchFn | null = null;
  arg: usize = 0;
  done: XsCallback | null = null;
  doneArg: usize = 0;
}

function makeWatches(): StaticArray<Watch> {
  const a = new StaticArray<Watch>(XS_MAX_WATCHES);
  for (let i = 0; i < XS_MAX_WATCHES; i++) unchecked(a[i] = new Watch());
  return a;
}
const watches = makeWatches();
let wseq: u32 = 1;

/** The live watch with id `id`, or null. */
function watchById(id: u32): Watch | null {
  const w = unchecked(watches[id & W_MASK]);
  return w.active && w.id == id ? w : null;
}

function clearWatch(w: Watch): void {
  w.active = false;
  w.path = "";
  w.token = "";
  w.fn = null;
  w.arg = 0;
  w.done = null;
  w.doneArg = 0;
}

/** XS_WATCH's reply: reports registration to the watcher; a refused watch is dropped. */
function onWatchReply(status: i32, r: XsReply, arg: usize): void {
  const w = watchById(<u32>arg);
  if (w === null) return; // removed meanwhile
  const done = w.done;
  const doneArg = w.doneArg;
  w.done = null;
  if (status < 0) clearWatch(w);
  if (done !== null) done(status, r, doneArg);
}

/**
 * Watches `path` and its children (XS_WATCH): `fn(changedPath, arg)` runs for every event, and
 * once right after registration with `path` itself (xenstore fires a new watch once), and
 * possibly spuriously. `done` (if given) reports the registration (0 or -XEN_Exxx; a refused
 * watch is removed). Returns the watch id (> 0) for xsUnwatch, or -XEN_Exxx (-XEN_ENOSPC when
 * XS_MAX_WATCHES are registered). The token is generated; the watcher owns `arg`.
 */
export function xsWatch(path: string, fn: XsWatchFn, arg: usize = 0, done: XsCallback | null = null, doneArg: usize = 0): i32 {
  let slot = -1;
  for (let i = 0; i < XS_MAX_WATCHES; i++) {
    if (!unchecked(watches[i]).active) { slot = i; break; }
  }
  if (slot < 0) return -XEN_ENOSPC;
  let id = ((wseq++ << W_BITS) | <u32>slot) & 0x7FFFFFFF;
  if (id < <u32>XS_MAX_WATCHES) id |= <u32>XS_MAX_WATCHES; // never 0, same slot
  const w = unchecked(watches[slot]);
  w.active = true;
  w.id = id;
  w.path = path;
  w.token = "xw" + id.toString();
  w.fn = fn;
  w.arg = arg;
  w.done = done;
  w.doneArg = doneArg;
  const rc = submit(XS_WATCH, XBT_NIL, path, w.token, true, null, onWatchReply, <usize>id);
  if (rc < 0) {
    clearWatch(w);
    return rc;
  }
  return <i32>id;
}

/**
 * Removes watch `id` (XS_UNWATCH): its callback never runs again, even for events already on the
 * way. `cb` (if given) gets xenstored's answer. Returns the request id (> 0) or -XEN_Exxx
 * (-XEN_ENOENT for an unknown watch); the watch is gone locally either way.
 */
export function xsUnwatch(id: i32, cb: XsCallback | null = null, arg: usize = 0): i32 {
  const w = watchById(<u32>id);
  if (w === null) return -XEN_ENOENT;
  const path = w.path;
  const token = w.token;
  clearWatch(w);
  return submit(XS_UNWATCH, XBT_NIL, path, token, true, null, cb, arg);
}

/** Parses our token "xw<id>" at `p` (`n` bytes, up to a NUL); returns the id or 0. */
function tokenId(p: usize, n: u32): u32 {
  let len: u32 = 0;
  while (len < n && load<u8>(p + <usize>len) != 0) len++;
  if (len < 3 || load<u8>(p) != 0x78 || load<u8>(p + 1) != 0x77) return 0;
  const v = parseDec(p + 2, len - 2, false);
  return v <= 0 || v > <i64>u32.MAX_VALUE ? 0 : <u32>v;
}

/** Delivers the XS_WATCH_EVENT in `reply` ("<path>\0<token>\0") to its watch. */
function dispatchWatch(): void {
  const p = reply.data;
  const n = reply.len;
  let plen: u32 = 0;
  while (plen < n && load<u8>(p + <usize>plen) != 0) plen++;
  if (plen >= n) { strays++; return; }
  const w = watchById(tokenId(p + <usize>plen + 1, n - plen - 1));
  if (w === null) { strays++; return; } // unwatched meanwhile, or not ours
  const fn = w.fn;
  if (fn !== null) fn(String.UTF8.decodeUnsafe(p, <usize>plen), w.arg);
}

// ---- transactions --------------------------------------------------------------------------

/** Starts a transaction (XS_TRANSACTION_START): the status is its id (> 0), to pass as `tx`. */
export function xsTransactionStart(cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_TRANSACTION_START, XBT_NIL, "", null, false, null, cb, arg);
}

/**
 * Ends transaction `tx` (XS_TRANSACTION_END), committing if `commit`; a commit that conflicts with
 * other writes gets -XEN_EAGAIN, and the caller should run the whole transaction again.
 */
export function xsTransactionEnd(tx: u32, commit: bool, cb: XsCallback | null, arg: usize = 0): i32 {
  return submit(XS_TRANSACTION_END, tx, commit ? "T" : "F", null, false, null, cb, arg);
}

const T_IDLE: i32 = 0;
const T_STARTING: i32 = 1;
const T_BODY: i32 = 2;
const T_ENDING: i32 = 3;

/**
 * A transaction run by xsTransaction, handed to its body. The body issues requests with `id`
 * (passing `changetype<usize>(t)` as their arg to get `t` back in their callbacks: the client
 * keeps `t` alive), then calls xsTxnCommit or xsTxnAbort once. Fields are the client's.
 */
export class XsTxn {
  /** The transaction id of the current attempt: the `tx` of the body's requests. */
  id: u32 = 0;
  /** The word given to xsTransaction. */
  arg: usize = 0;
  /** The current attempt, 1 for the first. */
  attempt: i32 = 0;
  phase: i32 = T_IDLE;
  tries: i32 = 0;
  commit: bool = false;
  result: i32 = 0;
  body: XsTxnBody | null = null;
  done: XsDoneFn | null = null;
}

function makeTxns(): StaticArray<XsTxn> {
  const a = new StaticArray<XsTxn>(XS_MAX_TXNS);
  for (let i = 0; i < XS_MAX_TXNS; i++) unchecked(a[i] = new XsTxn());
  return a;
}
const txns = makeTxns();

/**
 * Runs `body` inside a transaction and calls `done(status, arg)` once at the end: 0 when
 * committed, the status the body aborted with, or -XEN_Exxx. A commit refused with -XEN_EAGAIN
 * (another writer got in first), or a body aborting with -XEN_EAGAIN, runs the whole body again
 * in a new transaction, up to `maxTries` attempts; after that `done` gets -XEN_EAGAIN. Returns 0,
 * or -XEN_Exxx (-XEN_ENOSPC when XS_MAX_TXNS are running) and then nothing is called.
 */
export function xsTransaction(body: XsTxnBody, done: XsDoneFn | null, arg: usize = 0, maxTries: i32 = XS_TXN_TRIES): i32 {
  let t: XsTxn | null = null;
  for (let i = 0; i < XS_MAX_TXNS; i++) {
    if (unchecked(txns[i]).phase == T_IDLE) { t = unchecked(txns[i]); break; }
  }
  if (t === null) return -XEN_ENOSPC;
  t.arg = arg;
  t.attempt = 0;
  t.tries = maxTries < 1 ? 1 : maxTries;
  t.body = body;
  t.done = done;
  const rc = txnStart(t);
  if (rc < 0) {
    txnClear(t);
    return rc;
  }
  return 0;
}

function txnStart(t: XsTxn): i32 {
  t.phase = T_STARTING;
  t.id = 0;
  return xsTransactionStart(onTxnStarted, changetype<usize>(t));
}

function txnClear(t: XsTxn): void {
  t.phase = T_IDLE;
  t.id = 0;
  t.body = null;
  t.done = null;
  t.arg = 0;
}

function txnFinish(t: XsTxn, status: i32): void {
  const done = t.done;
  const arg = t.arg;
  txnClear(t);
  if (done !== null) done(status, arg);
}

function onTxnStarted(status: i32, r: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  if (status < 0) {
    txnFinish(t, status);
    return;
  }
  t.id = <u32>status;
  t.attempt++;
  t.phase = T_BODY;
  const body = t.body;
  if (body !== null) body(t);
  else xsTxnCommit(t);
}

function txnEnd(t: XsTxn, commit: bool, status: i32): void {
  if (t.phase != T_BODY) return; // ended already
  t.phase = T_ENDING;
  t.commit = commit;
  t.result = status;
  const rc = xsTransactionEnd(t.id, commit, onTxnEnded, changetype<usize>(t));
  if (rc < 0) txnFinish(t, commit ? rc : status);
}

function onTxnEnded(status: i32, r: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  const again = t.commit ? status == -XEN_EAGAIN : t.result == -XEN_EAGAIN;
  if (again && t.attempt < t.tries) {
    const rc = txnStart(t);
    if (rc < 0) txnFinish(t, rc);
    return;
  }
  txnFinish(t, t.commit ? status : t.result);
}

/** Ends the body of `t` by committing; xsTransaction retries on -XEN_EAGAIN. Ignored if `t` has ended. */
export function xsTxnCommit(t: XsTxn): void {
  txnEnd(t, true, 0);
}

/**
 * Ends the body of `t` by aborting; `done` gets `status` (0 for "nothing to change"), and
 * -XEN_EAGAIN runs the body again. Ignored if `t` has ended.
 */
export function xsTxnAbort(t: XsTxn, status: i32): void {
  txnEnd(t, false, status);
}
