// xenstored as the harness runs it: the pure store (store.ts) plus its transports — each
// guest's ring page (ring.ts) and the Unix socket (socket.ts) — serviced on the thread that
// plays domain 0 when a guest kicks its store port.
import { injectFault } from "../hypervisor/faults.js";
import type { Server } from "node:net";
import { k } from "../abi/layout.js";
import { Ctl, PORT_WORDS, type Domain } from "../hypervisor/domain.js";
import { sendPort } from "../hypervisor/evtchn.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { RingConnection } from "./ring.js";
import { listenXenstoreSocket } from "./socket.js";
import { XenStore, type XsMessage } from "./store.js";

const XS_WATCH = k("XS_WATCH"), XS_UNWATCH = k("XS_UNWATCH"), XS_RESET_WATCHES = k("XS_RESET_WATCHES");

/** The store port of guest `d` as seen from domain 0 (the other end of the guest's store port). */
function dom0StorePort(d: Domain): number {
  return d.ports[d.ctl[Ctl.StorePort] * PORT_WORDS + 2];
}

/** The xenstore daemon of one run: owns the store, the guests' ring connections and the socket. */
export class Xenstored {
  readonly store: XenStore;
  private readonly rings = new Map<number, { conn: RingConnection; port: number }>();
  private readonly guestWatches = new Map<number, number>();
  private server: Server | null = null;
  private ids = 0;
  /** Called after socket input was handled (the deterministic runner waits for it). */
  onExternalInput: () => void = () => {};

  constructor(private readonly hv: Hypervisor, private readonly dom0: Domain, private readonly log: (line: string) => void) {
    this.store = new XenStore({
      introduce: (domid) => this.hv.domain(domid) !== undefined,
      release: (domid) => this.detachDomain(domid),
      commitFault: (domid) => {
        const d = this.hv.domain(domid);
        return d !== undefined && injectFault(d) !== 0;
      },
    });
  }

  /** Counts a guest's watches from the replies it gets (XS_WATCH / XS_UNWATCH mean success). */
  private countWatches(domid: number, reply: XsMessage): void {
    if (domid === 0) return; // dom0's backends watch for devices for ever: a service, not a waiting guest
    const n = this.guestWatches.get(domid) ?? 0;
    if (reply.type === XS_WATCH) this.guestWatches.set(domid, n + 1);
    else if (reply.type === XS_UNWATCH) this.guestWatches.set(domid, Math.max(0, n - 1));
    else if (reply.type === XS_RESET_WATCHES) this.guestWatches.set(domid, 0);
  }

  /** Connects guest `d`'s xenstore ring (the toolstack calls this when it introduces `d`). */
  attachDomain(d: Domain): void {
    const port = dom0StorePort(d);
    const conn = new RingConnection(++this.ids, d, () => sendPort(this.hv, this.dom0, port), (c, m) => this.store.request(c, m), this.log,
      (reply) => this.countWatches(d.domid, reply), undefined, (c) => this.store.mayRead(c), (c) => this.store.replyDelivered(c));
    this.rings.set(d.domid, { conn, port });
    this.store.connect(conn);
  }

  /** Disconnects `domid`'s ring: its watches and transactions go. */
  detachDomain(domid: number): void {
    const r = this.rings.get(domid);
    if (!r) return;
    this.rings.delete(domid);
    this.guestWatches.delete(domid);
    this.store.disconnect(r.conn);
  }

  /** Services every ring whose store port domain 0 sees pending; true if any message was handled. */
  service(): boolean {
    let any = false;
    for (const { conn, port } of this.rings.values()) {
      if (!this.dom0.portPending(port)) continue;
      this.dom0.clearPending(port);
      if (conn.service() > 0) any = true;
    }
    return any;
  }

  /** True while some live guest has a watch registered: it may be waiting for outside input. */
  guestsWaitForInput(): boolean {
    for (const [domid, n] of this.guestWatches) if (n > 0 && this.rings.has(domid)) return true;
    return false;
  }

  /** Exposes the store on a Unix socket at `path` (mode 0600) for dom0's tools. */
  async listen(path: string): Promise<void> {
    this.server = await listenXenstoreSocket(path, () => ++this.ids, {
      connect: (c) => this.store.connect(c),
      delivered: (c) => this.store.replyDelivered(c),
      message: (c, m) => { this.store.request(c, m); this.onExternalInput(); },
      disconnect: (c) => this.store.disconnect(c),
      log: this.log,
    });
  }

  /** Stops listening and closes the socket. */
  close(): void {
    this.server?.close();
    this.server = null;
  }
}
