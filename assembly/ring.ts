// Shared I/O rings (xen/include/public/io/ring.h): the front and back ends of a
// DEFINE_RING_TYPES ring, over one page or several, local or mapped (SharedPage), with ring.h's
// semantics and the distrust a peer in another domain deserves. docs/ring.md has the API and the
// memory-ordering argument.
//
// Layout: the 64-byte `sring_header` (req_prod, req_event, rsp_prod, rsp_event, pvt, pad), then
// RING_SIZE slots of `slotSize` bytes (the request/response union: 112 for blkif), with
// RING_SIZE = __RD32((pages * 4096 - 64) / slotSize). The ring's bytes are the concatenation of
// its pages, as Xen's multi-page rings are contiguous in the granter's virtual space: byte b lives
// in page b >> 12 at offset b & 4095, and a slot that straddles two pages is copied in two parts.
//
// One ring, two directions (shared-memory-ring's Pipe(Reverse(Layout))): `Ring` is one
// implementation of "produce into the ring, consume from the ring", parametrised by which index
// pair each end produces (front: req_prod/req_event, back: rsp_prod/rsp_event) and consumes
// (the other pair). The only other difference between the ends is where a slot's life starts: the
// front produces requests into free slots (it may run RING_SIZE ahead of what it consumed), the
// back produces responses into slots whose requests it consumed (it may not run ahead at all).
// FrontRing and BackRing only add ring.h's names.
//
// Rings report, callers act: pushing returns whether the peer wants an event and sends none;
// consuming copies a slot into caller-owned memory and never interprets it (RING_COPY_REQUEST:
// the caller validates its private copy). Indices are shared words read and written only with
// single 32-bit atomics (SharedPage.load32/store32); each says which ring.h barrier it stands for.
//
// Errors. A peer whose producer index is impossible (outside [our consumer index, what we made
// available to it]) is reported with -XEN_EOVERFLOW and never followed; a SharedPage error (an
// unmapped or read-only grant) is reported as the page reported it. Both break the ring: the
// first one is kept in `err` and every later operation returns it (or false) until attach/init.
// Caller mistakes (-XEN_ENOSPC: no free slot, -XEN_EINVAL: len > slotSize) do not break it.
//
// Ownership: a Ring is allocated once by its driver and owns its pages' `err` fields (attach
// resets them). No operation allocates.
import { RING_IDX, sring_header, ring_size, ring_slot, ring_push_needs_notify,
  ring_request_cons_overflow, ring_request_prod_overflow, ring_response_prod_overflow } from "./xen/io/ring";
import { XEN_EINVAL, XEN_ENOSPC, XEN_EOVERFLOW } from "./xen/errno";
import { SharedPage } from "./gnttab";
import { PAGE_SHIFT, PAGE_SIZE } from "./frames";

/** Byte offsets of the shared header fields (io/ring.h's struct name_sring). */
const REQ_PROD: u32 = <u32>offsetof<sring_header>("req_prod");
const REQ_EVENT: u32 = <u32>offsetof<sring_header>("req_event");
const RSP_PROD: u32 = <u32>offsetof<sring_header>("rsp_prod");
const RSP_EVENT: u32 = <u32>offsetof<sring_header>("rsp_event");
const PVT: u32 = <u32>offsetof<sring_header>("pvt_pad");
/** Where the slots start (offsetof(struct name_sring, ring)): 64. */
export const RING_HEADER_SIZE: u32 = <u32>offsetof<sring_header>();
/** Pages a ring may span: keeps every byte offset within u32 arithmetic. */
export const RING_MAX_PAGES: u32 = 1 << 16;

/** Ring.end: the front end (produces requests, consumes responses). */
export const RING_FRONT: u8 = 0;
/** Ring.end: the back end (consumes requests, produces responses). */
export const RING_BACK: u8 = 1;

/**
 * The number of slots of a ring over `nrPages` pages with `slotSize`-byte slots (C
 * `__CONST_RING_SIZE`), 0 if none fits.
 */
export function ringSizeFor(nrPages: u32, slotSize: u32): u32 {
  if (nrPages == 0 || nrPages > RING_MAX_PAGES || slotSize == 0) return 0;
  return ring_size(nrPages << PAGE_SHIFT, slotSize, RING_HEADER_SIZE);
}

/**
 * One end of a shared ring: produces into one direction and consumes from the other. Use
 * FrontRing or BackRing, which name the operations after ring.h; this class is the single
 * implementation both share. Allocated once (with its pages), then attached with attach/init.
 */
export class Ring {
  /** The ring's pages, in ring order (page 0 holds the header). */
  readonly pages: StaticArray<SharedPage>;
  /** Bytes per slot: the size of the request/response union. */
  readonly slotSize: u32;
  /** RING_SIZE: the number of slots, a power of two (0 if the pages cannot hold one slot). */
  readonly size: u32;
  /** RING_FRONT or RING_BACK. */
  readonly end: u8;

  /** Our producer index in private (req_prod_pvt for a front, rsp_prod_pvt for a back). */
  prodPvt: RING_IDX = 0;
  /** Our consumer index (rsp_cons for a front, req_cons for a back); private, never shared. */
  cons: RING_IDX = 0;
  /** The producer index we last published (req_prod / rsp_prod as we stored it). */
  pushed: RING_IDX = 0;
  /** The first error that broke the ring (0 if none): -XEN_EOVERFLOW or a SharedPage error. */
  err: i32 = 0;

  // The layout this end sees: which header words it produces into and consumes from.
  private outProd: u32;
  private outEvent: u32;
  private inProd: u32;
  private inEvent: u32;
  /** How far our producer may run ahead of our consumer: RING_SIZE for a front, 0 for a back. */
  private lead: u32;
  /** The peer's producer index as last read and validated (seen - cons items are ready). */
  private seen: RING_IDX = 0;
  /** pages[0], the header page. */
  private hdr: SharedPage;

  /**
   * A ring end over `pages` (ring order, at least one) with `slotSize`-byte slots; `end` is
   * RING_FRONT or RING_BACK. It is unusable (err = -XEN_EINVAL) until attach or init succeeds.
   */
  constructor(pages: StaticArray<SharedPage>, slotSize: u32, end: u8) {
    const size = ringSizeFor(<u32>pages.length, slotSize);
    const front = end == RING_FRONT;
    this.pages = pages;
    this.hdr = pages.length > 0 ? unchecked(pages[0]) : new SharedPage();
    this.slotSize = slotSize;
    this.size = size;
    this.end = end;
    this.outProd = front ? REQ_PROD : RSP_PROD;
    this.outEvent = front ? REQ_EVENT : RSP_EVENT;
    this.inProd = front ? RSP_PROD : REQ_PROD;
    this.inEvent = front ? RSP_EVENT : REQ_EVENT;
    this.lead = front ? size : 0;
    this.err = -XEN_EINVAL;
  }

  /**
   * FRONT_RING_ATTACH / BACK_RING_ATTACH: takes up a ring whose indices all stand at `start`
   * (0 for a fresh ring) and clears any previous error and the pages' `err`. Does not touch the
   * shared page. Returns 0, or -XEN_EINVAL if no slot fits, `end` is unknown or a page is unbound.
   */
  attach(start: RING_IDX): i32 {
    this.prodPvt = start;
    this.cons = start;
    this.pushed = start;
    this.seen = start;
    if (this.size == 0 || this.end > RING_BACK) return this.err = -XEN_EINVAL;
    for (let i = 0; i < this.pages.length; i++) {
      const p = unchecked(this.pages[i]);
      if (!p.bound) return this.err = -XEN_EINVAL;
      p.err = 0;
    }
    this.err = 0;
    return 0;
  }

  /**
   * SHARED_RING_INIT then attach(start): writes the header (both producer indices `start`, both
   * event indices `start + 1`, pvt and pad zero). Only the end that sets the ring up (the front,
   * in ring.h) calls it, before advertising the ring. Returns 0 or -XEN_Exxx.
   */
  init(start: RING_IDX): i32 {
    let rc = this.attach(start);
    if (rc < 0) return rc;
    const h = this.hdr;
    for (let off = PVT; off < RING_HEADER_SIZE; off += 4) {
      rc = h.store32(off, 0);
      if (rc < 0) return this.fail(rc);
    }
    // The event indices first, the producer indices last: a peer already looking sees a
    // consistent empty ring.
    rc = h.store32(REQ_EVENT, start + 1);
    if (rc == 0) rc = h.store32(RSP_EVENT, start + 1);
    if (rc == 0) rc = h.store32(REQ_PROD, start);
    if (rc == 0) rc = h.store32(RSP_PROD, start);
    return rc < 0 ? this.fail(rc) : 0;
  }

  // -------------------------------------------------------------------------------------------
  // Producing (front: requests, back: responses).

  /**
   * Slots we may produce into now: RING_FREE_REQUESTS for a front; for a back, the requests it
   * consumed and has not answered yet.
   */
  free(): u32 {
    return this.cons + this.lead - this.prodPvt;
  }

  /** RING_FULL: no slot to produce into (free() == 0). */
  full(): bool {
    return this.free() == 0;
  }

  /**
   * Copies `len` bytes (at most slotSize) from our memory at `src` into the next slot
   * (RING_GET_REQUEST/RESPONSE at prodPvt) and advances prodPvt; the peer sees it after push.
   * Returns 0, -XEN_ENOSPC (full), -XEN_EINVAL (len > slotSize) or the ring's error.
   */
  produce(src: usize, len: u32): i32 {
    if (this.err != 0) return this.err;
    if (len > this.slotSize) return -XEN_EINVAL;
    if (this.free() == 0) return -XEN_ENOSPC;
    const rc = this.copySlot(this.prodPvt, src, len, true);
    if (rc < 0) return this.fail(rc);
    this.prodPvt++;
    return 0;
  }

  /**
   * produce for `count` whole slots at once: the same as `count` calls of produce with the
   * `slotSize`-byte slots found one after the other at `src`, but with one bulk copy per
   * contiguous run of ring bytes; the peer sees them after push. Returns 0, -XEN_ENOSPC (fewer
   * than `count` slots free: nothing is copied) or the ring's error.
   */
  produceBatch(src: usize, count: u32): i32 {
    if (this.err != 0) return this.err;
    if (count > this.free()) return -XEN_ENOSPC;
    const rc = this.copySlots(this.prodPvt, count, src, true);
    if (rc < 0) return this.fail(rc);
    this.prodPvt += count;
    return 0;
  }

  /**
   * RING_PUSH_{REQUESTS,RESPONSES}: publishes every slot produced so far. Returns 0 or the
   * ring's error.
   */
  push(): i32 {
    if (this.err != 0) return this.err;
    // xen_wmb(); prod = prod_pvt: a sequentially consistent atomic store is a release, so the
    // slot bytes copied before it are visible to a peer that reads this index with an atomic load.
    const rc = this.hdr.store32(this.outProd, this.prodPvt);
    if (rc < 0) return this.fail(rc);
    this.pushed = this.prodPvt;
    return 0;
  }

  /**
   * RING_PUSH_{REQUESTS,RESPONSES}_AND_CHECK_NOTIFY: publishes like push, then tells whether
   * the peer asked (through its event index) for an event for what was just published. The
   * caller sends it (evtchnNotify). False on error (the ring's `err` says which).
   * ring.h reads the old producer index back from the shared page; we use our private copy of
   * what we published (the same value unless the peer scribbled on our index).
   */
  pushAndCheckNotify(): bool {
    if (this.err != 0) return false;
    const old = this.pushed;
    const now = this.prodPvt;
    const h = this.hdr;
    // xen_wmb(); prod = now: release, as in push().
    const rc = h.store32(this.outProd, now);
    if (rc < 0) { this.fail(rc); return false; }
    this.pushed = now;
    // xen_mb(); event = peer's event index: both are sequentially consistent atomics, so this load
    // cannot be ordered before the store above. The peer's final check stores its event index
    // and then loads our producer index the same way: at least one of us sees the other's store,
    // so an event is never lost (docs/ring.md).
    const event = h.load32(this.outEvent);
    if (h.err != 0) { this.fail(h.err); return false; }
    return ring_push_needs_notify(now, old, event);
  }

  // -------------------------------------------------------------------------------------------
  // Consuming (front: responses, back: requests).

  /**
   * XEN_RING_NR_UNCONSUMED_{RESPONSES,REQUESTS}: reads the peer's producer index and returns how
   * many slots are ready to consume (>= 0), or -XEN_EOVERFLOW if that index is impossible: before
   * our consumer index or beyond what we made available (a front's published requests; a back's
   * published responses + RING_SIZE). This reports every case RING_RESPONSE_PROD_OVERFLOW /
   * RING_REQUEST_PROD_OVERFLOW report, and also a producer index that went backwards.
   */
  unconsumed(): i32 {
    if (this.err != 0) return this.err;
    const h = this.hdr;
    // prod = peer's index; xen_rmb(): a sequentially consistent atomic load is an acquire, so the
    // slot copies that follow see what the peer wrote before storing this index.
    const prod = h.load32(this.inProd);
    if (h.err != 0) return this.fail(h.err);
    const ready: u32 = prod - this.cons;
    const limit: u32 = this.pushed + (this.size - this.lead) - this.cons; // what we made available
    if (ready > limit) return this.fail(-XEN_EOVERFLOW);
    this.seen = prod;
    return <i32>ready;
  }

  /**
   * RING_COPY_{REQUEST,RESPONSE} and consume: copies `len` bytes (at most slotSize) of the next
   * ready slot into our memory at `dst` and advances our consumer index. The caller validates its
   * private copy; the peer can no longer change it. Re-reads the peer's producer index (through
   * unconsumed) only when the slots seen last time are used up. Returns 1 (a slot was copied),
   * 0 (nothing ready), -XEN_EINVAL (len > slotSize) or the ring's error (-XEN_EOVERFLOW...).
   */
  consume(dst: usize, len: u32): i32 {
    if (this.err != 0) return this.err;
    if (len > this.slotSize) return -XEN_EINVAL;
    if (this.seen == this.cons) {
      const n = this.unconsumed();
      if (n <= 0) return n;
    }
    const rc = this.copySlot(this.cons, dst, len, false);
    if (rc < 0) return this.fail(rc);
    this.cons++;
    return 1;
  }

  /**
   * consume for up to `max` whole slots at once: the same as up to `max` calls of consume with
   * `slotSize`-byte copies placed one after the other at `dst` (RING_COPY_* for each; the caller
   * validates its copies), but with one bulk copy per contiguous run of ring bytes (up to a page
   * end or the ring's wrap), so that a backend over mapped grants makes one grant access per run
   * instead of one per slot. Like consume it reads the peer's producer index only when the slots
   * seen last time are used up. Returns the number of slots copied (0: nothing ready) or an error
   * (the ring's: then the ring is broken, whatever was consumed before it).
   */
  consumeBatch(dst: usize, max: u32): i32 {
    if (this.err != 0) return this.err;
    let got: u32 = 0;
    while (got < max) {
      if (this.seen == this.cons) {
        const n = this.unconsumed();
        if (n < 0) return n;
        if (n == 0) break;
      }
      let count: u32 = this.seen - this.cons;
      if (count > max - got) count = max - got;
      const rc = this.copySlots(this.cons, count, dst + <usize>got * <usize>this.slotSize, false);
      if (rc < 0) return this.fail(rc);
      this.cons += count;
      got += count;
    }
    return <i32>got;
  }

  /**
   * RING_FINAL_CHECK_FOR_{RESPONSES,REQUESTS}: before going idle, returns how many slots are
   * ready (> 0: keep consuming); if none, first sets our event index to cons + 1 so that the
   * peer notifies us on its very next push, then looks again. 0 means the peer will send an
   * event; negative is the ring's error.
   */
  finalCheck(): i32 {
    let n = this.unconsumed();
    if (n != 0) return n;
    // event = cons + 1; xen_mb(): this sequentially consistent store is ordered before the load
    // of the peer's producer index in unconsumed() (see pushAndCheckNotify).
    const rc = this.hdr.store32(this.inEvent, this.cons + 1);
    if (rc < 0) return this.fail(rc);
    return this.unconsumed();
  }

  // -------------------------------------------------------------------------------------------

  /** The shared word at header offset `off` (a 4-aligned offset below 64), e.g. for tracing. */
  header(off: u32): u32 {
    return this.hdr.load32(off);
  }

  /** Byte offset of slot `idx` in the ring's bytes (RING_GET_REQUEST/RESPONSE as an offset). */
  slotOffset(idx: RING_IDX): u32 {
    return RING_HEADER_SIZE + ring_slot(idx, this.size) * this.slotSize;
  }

  /** Copies `len` bytes between our memory at `local` and slot `idx`, page by page. */
  private copySlot(idx: RING_IDX, local: usize, len: u32, toRing: bool): i32 {
    return this.copyBytes(this.slotOffset(idx), local, len, toRing);
  }

  /** Copies `count` whole slots from slot `idx` on, in runs that stop at the ring's wrap. */
  private copySlots(idx: RING_IDX, count: u32, local: usize, toRing: bool): i32 {
    while (count > 0) {
      let run = this.size - ring_slot(idx, this.size);
      if (run > count) run = count;
      const bytes = run * this.slotSize;
      const rc = this.copyBytes(this.slotOffset(idx), local, bytes, toRing);
      if (rc < 0) return rc;
      idx += run;
      count -= run;
      local += <usize>bytes;
    }
    return 0;
  }

  /** Copies `len` bytes between our memory at `local` and ring byte `off` on, page by page. */
  private copyBytes(off: u32, local: usize, len: u32, toRing: bool): i32 {
    while (len > 0) {
      const inPage = off & <u32>(PAGE_SIZE - 1);
      let n = <u32>PAGE_SIZE - inPage;
      if (n > len) n = len;
      const page = unchecked(this.pages[<i32>(off >> PAGE_SHIFT)]);
      const rc = toRing ? page.copyIn(inPage, local, n) : page.copyOut(inPage, local, n);
      if (rc < 0) return rc;
      off += n;
      local += <usize>n;
      len -= n;
    }
    return 0;
  }

  /** Breaks the ring with `rc` (the first error is kept) and returns the kept error. */
  protected fail(rc: i32): i32 {
    if (this.err == 0) this.err = rc;
    return this.err;
  }
}

/**
 * The front end of a ring (req_prod_pvt, rsp_cons): produces requests and consumes responses.
 * Usually over pages of our own memory that we grant to the backend; init() sets the ring up.
 */
export class FrontRing extends Ring {
  /** A front ring over `pages` (ring order) with `slotSize`-byte slots; call init or attach. */
  constructor(pages: StaticArray<SharedPage>, slotSize: u32) {
    super(pages, slotSize, RING_FRONT);
  }

  /** req_prod_pvt: requests produced, published or not. */
  get reqProdPvt(): RING_IDX { return this.prodPvt; }
  /** rsp_cons: responses consumed. */
  get rspCons(): RING_IDX { return this.cons; }

  /** RING_FREE_REQUESTS: request slots free now. */
  freeRequests(): u32 { return this.free(); }
  /** Copies a `len`-byte request from `src` into the next slot (see Ring.produce). */
  writeRequest(src: usize, len: u32): i32 { return this.produce(src, len); }
  /** RING_PUSH_REQUESTS (see Ring.push). */
  pushRequests(): i32 { return this.push(); }
  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: true if the backend wants an event (see Ring.pushAndCheckNotify). */
  pushRequestsAndCheckNotify(): bool { return this.pushAndCheckNotify(); }
  /** XEN_RING_NR_UNCONSUMED_RESPONSES, checked (see Ring.unconsumed). */
  unconsumedResponses(): i32 { return this.unconsumed(); }
  /** RING_COPY_RESPONSE into `dst` and consume it: 1, 0 or an error (see Ring.consume). */
  copyResponse(dst: usize, len: u32): i32 { return this.consume(dst, len); }
  /** RING_FINAL_CHECK_FOR_RESPONSES (see Ring.finalCheck). */
  finalCheckForResponses(): i32 { return this.finalCheck(); }
  /** RING_RESPONSE_PROD_OVERFLOW: could a backend have produced up to `prod`? (ring.h's test, for callers that read rsp_prod themselves) */
  responseProdOverflow(prod: RING_IDX): bool { return ring_response_prod_overflow(this.size, prod, this.cons); }
}

/**
 * The back end of a ring (rsp_prod_pvt, req_cons): consumes requests and produces responses.
 * Usually over the frontend's grants, mapped (SharedPage PAGE_GRANT); attach(0) takes it up.
 */
export class BackRing extends Ring {
  /** A back ring over `pages` (ring order) with `slotSize`-byte slots; call attach. */
  constructor(pages: StaticArray<SharedPage>, slotSize: u32) {
    super(pages, slotSize, RING_BACK);
  }

  /** rsp_prod_pvt: responses produced, published or not. */
  get rspProdPvt(): RING_IDX { return this.prodPvt; }
  /** req_cons: requests consumed. */
  get reqCons(): RING_IDX { return this.cons; }

  /** XEN_RING_NR_UNCONSUMED_REQUESTS, checked (see Ring.unconsumed); RING_HAS_UNCONSUMED_REQUESTS is `> 0`. */
  unconsumedRequests(): i32 { return this.unconsumed(); }
  /** RING_COPY_REQUEST into `dst` and consume it: 1, 0 or an error; validate the copy (see Ring.consume). */
  copyRequest(dst: usize, len: u32): i32 { return this.consume(dst, len); }
  /** RING_REQUEST_CONS_OVERFLOW: would consuming request `cons` overrun our responses? */
  requestConsOverflow(cons: RING_IDX): bool { return ring_request_cons_overflow(this.size, cons, this.prodPvt); }
  /** RING_REQUEST_PROD_OVERFLOW: could a frontend have produced up to `prod`? (ring.h's test, for callers that read req_prod themselves) */
  requestProdOverflow(prod: RING_IDX): bool { return ring_request_prod_overflow(this.size, prod, this.prodPvt); }
  /** Requests consumed and not answered yet: responses we may write now. */
  pendingResponses(): u32 { return this.free(); }
  /** Copies a `len`-byte response from `src` into the next slot (see Ring.produce). */
  writeResponse(src: usize, len: u32): i32 { return this.produce(src, len); }
  /** RING_PUSH_RESPONSES (see Ring.push). */
  pushResponses(): i32 { return this.push(); }
  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: true if the frontend wants an event (see Ring.pushAndCheckNotify). */
  pushResponsesAndCheckNotify(): bool { return this.pushAndCheckNotify(); }
  /** RING_FINAL_CHECK_FOR_REQUESTS (see Ring.finalCheck). */
  finalCheckForRequests(): i32 { return this.finalCheck(); }
}
