// The xenstore ring transport: a guest's `struct xenstore_domain_interface` page (frame 2) and
// its event channel to domain 0. Requests are read from `req`, replies and watch events written
// to `rsp`; indices are 32-bit atomics on the guest's shared memory (docs/misc/xenstore-ring.txt).
import { k, layout } from "../abi/layout.js";
import { FRAME_XENSTORE, PAGE_SIZE, type Domain } from "../hypervisor/domain.js";
import { Deframer, FramingError, encode } from "./framing.js";
import type { XsConnection, XsMessage } from "./store.js";

const XI = layout("struct xenstore_domain_interface");
const RING = XI.rsp - XI.req; // 1024
/**
 * Flow control for a guest that does not read its replies: requests stay unread in `req` while
 * this many messages wait for space in `rsp` (C xenstored's outstanding-request quota, 20), and
 * watch events beyond MAX_QUEUED_EVENTS are dropped with a log line (as XSA-326 has it).
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
  private outOffset = 0;
  /** Set when the guest broke the protocol; the connection then ignores the ring (C: bad client). */
  broken: string | null = null;

  constructor(readonly id: number, readonly dom: Domain, private readonly notify: () => void, private readonly onMessage: (c: RingConnection, m: XsMessage) => void, private readonly log: (line: string) => void, private readonly onSend: (m: XsMessage) => void = () => {}, gfn = FRAME_XENSTORE) {
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
      if (this.outOffset === chunk.length) { this.out.shift(); this.outOffset = 0; }
    }
    if (wrote) this.notify();
  }

  /** Reads new requests from `req`; returns how many messages were handled. */
  service(): number {
    if (this.broken) return 0;
    this.flush();
    // A guest that leaves its replies unread gets no more requests served until it reads them.
    if (this.out.length >= MAX_QUEUED_REPLIES) return 0;
    const d = this.dom;
    const cons = Atomics.load(d.i32, this.idx(XI.req_cons)) >>> 0;
    const prod = Atomics.load(d.i32, this.idx(XI.req_prod)) >>> 0;
    const avail = (prod - cons) >>> 0;
    let handled = 0;
    if (avail > RING) { this.fail(`req indices corrupt (prod ${prod}, cons ${cons})`); return 0; }
    if (avail > 0) {
      const bytes = new Uint8Array(avail);
      for (let i = 0; i < avail; i++) bytes[i] = d.u8[this.base + XI.req + ((cons + i) % RING)];
      Atomics.store(d.i32, this.idx(XI.req_cons), prod | 0);
      let msgs: XsMessage[];
      try {
        msgs = this.deframer.push(bytes);
      } catch (e) {
        if (e instanceof FramingError) { this.fail(e.message); return 0; }
        throw e;
      }
      for (const m of msgs) { this.onMessage(this, m); handled++; }
      this.notify(); // the guest may be waiting for ring space
    }
    this.flush();
    return handled;
  }

  private fail(why: string): void {
    this.broken = why;
    this.out.length = 0;
    this.log(`xenstored: domain ${this.dom.name} (${this.domid}): ${why}; ignoring its ring`);
  }
}
