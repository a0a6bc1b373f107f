// The xenstore ring transport: a guest's `struct xenstore_domain_interface` page (frame 2) and
// its event channel to domain 0. Requests are read from `req`, replies and watch events written
// to `rsp`; indices are 32-bit atomics on the guest's shared memory (docs/misc/xenstore-ring.txt).
import { k, layout } from "../abi/layout.js";
import { FRAME_XENSTORE, PAGE_SIZE, type Domain } from "../hypervisor/domain.js";
import { Deframer, encode } from "./framing.js";
import type { XsConnection, XsMessage } from "./store.js";

const XI = layout("struct xenstore_domain_interface");
const RING = XI.rsp - XI.req; // 1024
/**
 * Flow control for a guest that does not read its replies: requests stay unread in `req` while
 * the store says the domain has its quota of undelivered replies (`outstanding`, 20 by default:
 * XenStore.mayRead, which counts a reply delivered once it is wholly in `rsp`), or while this
 * connection holds MAX_QUEUED_REPLIES messages of any kind (a bound for privileged domains, which
 * the quota exempts); watch events beyond MAX_QUEUED_EVENTS are dropped with a log line (as
 * XSA-326 has it).
 */
export const MAX_QUEUED_REPLIES = 20, MAX_QUEUED_EVENTS = 1000;
const XS_WATCH_EVENT = k("XS_WATCH_EVENT");

/** One domain's xenstore connection over its ring page; `notify` kicks the guest's store port. */
export class RingConnection implements XsConnection {
  readonly domid: number;
  readonly privileged: boolean;
  private readonly base: number;
  private readonly deframer = new Deframer();
  private readonly out: Uint8Array[] = [];
  /** Whether out[i] is a reply (it counts against the outstanding quota until delivered) or a watch event. */
  private readonly outIsReply: boolean[] = [];
  private outOffset = 0;
  /** Set when the guest broke the protocol; the connection then ignores the ring (C: bad client). */
  broken: string | null = null;

  /**
   * `mayRead` says whether the store takes another request from this connection and `delivered`
   * is told each time a reply is wholly in the guest's ring (XenStore.mayRead / replyDelivered).
   */
  constructor(readonly id: number, readonly dom: Domain, private readonly notify: () => void, private readonly onMessage: (c: RingConnection, m: XsMessage) => void, private readonly log: (line: string) => void, private readonly onSend: (m: XsMessage) => void = () => {}, gfn = FRAME_XENSTORE,
    private readonly mayRead: (c: RingConnection) => boolean = () => true, private readonly delivered: (c: RingConnection) => void = () => {}) {
    this.domid = dom.domid;
    this.privileged = dom.privileged;
    this.base = gfn * PAGE_SIZE;
  }

  private idx(field: number): number { return (this.base + field) >> 2; }

  /** Queues `msg` for the guest and writes as much as the response ring takes. */
  send(msg: XsMessage): void {
    if (this.broken) return;
    if (msg.type === XS_WATCH_EVENT && this.out.length >= MAX_QUEUED_EVENTS) {
      if (this.dropped++ === 0) this.log(`xenstored: domain ${this.dom.name} (${this.domid}) does not read its ring; dropping watch events`);
      return;
    }
    this.onSend(msg);
    this.out.push(encode(msg));
    this.outIsReply.push(msg.type !== XS_WATCH_EVENT);
    this.flush();
  }

  /** Watch events dropped because the guest did not read its ring. */
  dropped = 0;

  /** Writes queued output into `rsp` (data first, then rsp_prod with release semantics). */
  flush(): void {
    const d = this.dom;
    let wrote = false;
    while (this.out.length) {
      const cons = Atomics.load(d.i32, this.idx(XI.rsp_cons)) >>> 0;
      let prod = Atomics.load(d.i32, this.idx(XI.rsp_prod)) >>> 0;
      const used = (prod - cons) >>> 0;
      if (used > RING) { this.fail(`rsp indices corrupt (prod ${prod}, cons ${cons})`); return; }
      const space = RING - used;
      if (space === 0) break;
      const chunk = this.out[0];
      const n = Math.min(space, chunk.length - this.outOffset);
      for (let i = 0; i < n; i++) d.u8[this.base + XI.rsp + ((prod + i) % RING)] = chunk[this.outOffset + i];
      prod = (prod + n) >>> 0;
      Atomics.store(d.i32, this.idx(XI.rsp_prod), prod | 0);
      wrote = true;
      this.outOffset += n;
      if (this.outOffset === chunk.length) {
        this.out.shift();
        this.outOffset = 0;
        if (this.outIsReply.shift()) this.delivered(this);
      }
    }
    if (wrote) this.notify();
  }

  /** Whether the next request may be handled: the quota and the output bound (flow control above). */
  private mayHandle(): boolean {
    return this.mayRead(this) && this.out.length < MAX_QUEUED_REPLIES;
  }

  /** Handles the requests read but not handled yet, one at a time while mayHandle(); returns how many. */
  private handleQueued(): number {
    let handled = 0;
    while (this.requests.length && this.mayHandle() && !this.broken) {
      this.onMessage(this, this.requests.shift()!);
      handled++;
    }
    return handled;
  }

  /** Requests taken from `req` and not handled yet (at most a ring's worth). */
  private readonly requests: XsMessage[] = [];

  /**
   * Handles what the guest sent: requests wait while the guest has its quota of undelivered
   * replies (checked before each one, as C xenstored does), and `req` is read only once every
   * request taken from it was handled. Returns how many messages were handled.
   */
  service(): number {
    if (this.broken) return 0;
    this.flush();
    let handled = this.handleQueued();
    // A guest that leaves its replies unread gets no more requests read until it reads them.
    if (this.requests.length || !this.mayHandle()) { this.flush(); return handled; }
    const d = this.dom;
    const cons = Atomics.load(d.i32, this.idx(XI.req_cons)) >>> 0;
    const prod = Atomics.load(d.i32, this.idx(XI.req_prod)) >>> 0;
    const avail = (prod - cons) >>> 0;
    if (avail > RING) { this.fail(`req indices corrupt (prod ${prod}, cons ${cons})`); return 0; }
    if (avail > 0) {
      const bytes = new Uint8Array(avail);
      for (let i = 0; i < avail; i++) bytes[i] = d.u8[this.base + XI.req + ((cons + i) % RING)];
      Atomics.store(d.i32, this.idx(XI.req_cons), prod | 0);
      // Requests ahead of a broken header are handled and answered first, as C xenstored does.
      this.requests.push(...this.deframer.push(bytes));
      handled += this.handleQueued();
      this.notify(); // the guest may be waiting for ring space
    }
    this.flush();
    if (this.deframer.error && this.requests.length === 0) this.fail(this.deframer.error);
    return handled;
  }

  private fail(why: string): void {
    this.broken = why;
    this.out.length = 0;
    this.outIsReply.length = 0;
    this.requests.length = 0;
    this.log(`xenstored: domain ${this.dom.name} (${this.domid}): ${why}; ignoring its ring`);
  }
}
