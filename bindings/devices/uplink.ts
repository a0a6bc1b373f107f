// The host uplink of dom0's switch (DESIGN §7, docs/ABI.md §7): Ethernet frames between the
// switch and the host over UDP, one frame per datagram — the convention of QEMU's `-netdev dgram`
// and `-netdev socket,udp=`, so that a Linux TAP bridged by socat, or a QEMU machine, joins the
// switch. The socket lives on the main thread (it needs Node's event loop, which dom0's vCPU
// thread never returns to); dom0 reaches it through two single-producer queues of frames in a
// SharedArrayBuffer: `toHost` (dom0's `dev.net_uplink_send` produces, the main thread sends) and
// `fromHost` (the main thread produces, `dev.net_uplink_recv` consumes). The main thread raises
// VIRQ_NET_UPLINK in dom0 when frames arrive, and dom0 wakes the main thread through a word of the
// buffer when it queues frames.
//
// Ownership: the UplinkQueues buffer is shared by dom0's thread and the main thread, each index
// written by one side only; counters are updated atomically by whichever side counts.
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import { k } from "../abi/layout.js";

/** The longest frame the uplink carries: MTU 1500 plus the Ethernet header and a VLAN tag (no FCS). */
export const UPLINK_MAX_FRAME = 1518;
/** The shortest: an Ethernet header. */
export const UPLINK_MIN_FRAME = 14;
/** Frames each direction's queue holds; beyond, new frames are dropped and counted. */
export const UPLINK_QUEUE_SLOTS = 1024;
/** The virtual IRQ the harness raises in dom0 when frames from the host are queued (Xen leaves VIRQ_ARCH_1 unused on x86). */
export const VIRQ_NET_UPLINK = k("VIRQ_ARCH_1");
/** Bytes per queue slot: a u32 length, then the frame. */
const SLOT_BYTES = 2048;

/** Counters of an uplink, in the shared buffer (index into UplinkQueues.counters). */
export const enum UplinkCounter {
  /** Frames from the host queued for dom0, and dropped: malformed (under 14 bytes), oversized, from an unexpected address, queue full. */
  RxFrames, RxMalformed, RxOversized, RxForeign, RxQueueFull,
  /** Frames dom0 sent to the host, dropped because the host queue was full, and datagrams the socket failed to send. */
  TxFrames, TxQueueFull, TxErrors,
  /** The main thread's wake word (dom0 bumps and notifies it when it queues frames). */
  TxWake,
  Count,
}

/** A single-producer, single-consumer queue of frames: [head, tail] then UPLINK_QUEUE_SLOTS slots. */
export class FrameQueue {
  private readonly idx: Int32Array;
  private readonly u8: Uint8Array;
  private readonly view: DataView;
  /** The queue in `buffer` from byte `offset` on (FrameQueue.bytes of it). */
  constructor(buffer: SharedArrayBuffer, private readonly offset: number) {
    this.idx = new Int32Array(buffer, offset, 2);
    this.u8 = new Uint8Array(buffer, offset + 8, UPLINK_QUEUE_SLOTS * SLOT_BYTES);
    this.view = new DataView(buffer, offset + 8, UPLINK_QUEUE_SLOTS * SLOT_BYTES);
  }
  /** Bytes one queue takes in the shared buffer. */
  static readonly bytes = 8 + UPLINK_QUEUE_SLOTS * SLOT_BYTES;

  /** Appends a frame (at most UPLINK_MAX_FRAME bytes); false when the queue is full. Producer only. */
  push(frame: Uint8Array): boolean {
    const head = Atomics.load(this.idx, 0), tail = Atomics.load(this.idx, 1);
    if (((tail - head) >>> 0) >= UPLINK_QUEUE_SLOTS) return false;
    const at = (tail % UPLINK_QUEUE_SLOTS) * SLOT_BYTES;
    this.view.setUint32(at, frame.length, true);
    this.u8.set(frame, at + 4);
    Atomics.store(this.idx, 1, (tail + 1) | 0); // publishes the slot (a seq-cst store orders the copy before it)
    return true;
  }

  /** Whether a frame is queued. */
  get empty(): boolean { return Atomics.load(this.idx, 0) === Atomics.load(this.idx, 1); }

  /** The next frame as a view of its slot (valid until shift), or null. Consumer only. */
  peek(): Uint8Array | null {
    const head = Atomics.load(this.idx, 0);
    if (head === Atomics.load(this.idx, 1)) return null;
    const at = (head % UPLINK_QUEUE_SLOTS) * SLOT_BYTES;
    return this.u8.subarray(at + 4, at + 4 + this.view.getUint32(at, true));
  }

  /** Releases the frame peek returned. Consumer only. */
  shift(): void { Atomics.store(this.idx, 0, (Atomics.load(this.idx, 0) + 1) | 0); }
}

/** The shared part of an uplink: both queues and the counters; crosses threads as its buffer. */
export class UplinkQueues {
  readonly toHost: FrameQueue;
  readonly fromHost: FrameQueue;
  readonly counters: Int32Array;
  /** Over `buffer` (a new one of UplinkQueues.bytes when none is given). */
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(UplinkQueues.bytes)) {
    this.counters = new Int32Array(buffer, 0, UplinkCounter.Count);
    const base = 8 * Math.ceil((UplinkCounter.Count * 4) / 8);
    this.toHost = new FrameQueue(buffer, base);
    this.fromHost = new FrameQueue(buffer, base + FrameQueue.bytes);
  }
  /** Bytes of the shared buffer. */
  static readonly bytes = 8 * Math.ceil((UplinkCounter.Count * 4) / 8) + 2 * FrameQueue.bytes;

  /** Counts one event. */
  count(c: UplinkCounter): void { Atomics.add(this.counters, c, 1); }

  /** Wakes the main thread's sender (dom0 queued frames). */
  kick(): void {
    Atomics.add(this.counters, UplinkCounter.TxWake, 1);
    Atomics.notify(this.counters, UplinkCounter.TxWake);
  }

  /** The counters by name (for --stats and the tests). */
  stats(): UplinkStats {
    const c = (i: UplinkCounter) => Atomics.load(this.counters, i);
    return {
      rxFrames: c(UplinkCounter.RxFrames), rxMalformed: c(UplinkCounter.RxMalformed), rxOversized: c(UplinkCounter.RxOversized),
      rxForeign: c(UplinkCounter.RxForeign), rxQueueFull: c(UplinkCounter.RxQueueFull),
      txFrames: c(UplinkCounter.TxFrames), txQueueFull: c(UplinkCounter.TxQueueFull), txErrors: c(UplinkCounter.TxErrors),
    };
  }
}

/** What an uplink counted: frames in (from the host) and out, and every reason a frame was dropped. */
export interface UplinkStats {
  rxFrames: number; rxMalformed: number; rxOversized: number; rxForeign: number; rxQueueFull: number;
  txFrames: number; txQueueFull: number; txErrors: number;
}

/** One end of the uplink's UDP path: an IP literal and a port. */
export interface UdpEndpoint { host: string; port: number }
/** The uplink of a run: the local address the socket binds and the remote one frames go to (and only come from). */
export interface UplinkSpec { local: UdpEndpoint; remote: UdpEndpoint }

/**
 * Parses `--uplink local=[HOST:]PORT,remote=[HOST:]PORT` (HOST an IPv4 or IPv6 literal, IPv6 in
 * brackets; 127.0.0.1 when left out; local port 0 picks a free one). Throws a one-line Error.
 */
export function parseUplinkArg(arg: string): UplinkSpec {
  const ends: Partial<Record<"local" | "remote", UdpEndpoint>> = {};
  for (const part of arg.split(",")) {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq), v = part.slice(eq + 1);
    if (eq < 0 || (key !== "local" && key !== "remote")) throw new Error(`--uplink ${arg}: expected local=[HOST:]PORT,remote=[HOST:]PORT`);
    const m = /^(?:\[([0-9a-fA-F:.]+)\]:|([0-9.]+):)?(\d+)$/.exec(v);
    const host = m ? (m[1] ?? m[2] ?? "127.0.0.1") : "";
    const port = m ? Number(m[3]) : NaN;
    if (!m || !isIP(host)) throw new Error(`--uplink ${key}=${v}: expected [HOST:]PORT with HOST an IP address, as 127.0.0.1:5555`);
    if (!(port >= (key === "local" ? 0 : 1) && port <= 65535)) throw new Error(`--uplink ${key}=${v}: the port must be ${key === "local" ? 0 : 1}..65535`);
    ends[key] = { host, port };
  }
  if (!ends.local || !ends.remote) throw new Error(`--uplink ${arg}: both local= and remote= are needed`);
  if (isIP(ends.local.host) !== isIP(ends.remote.host)) throw new Error(`--uplink ${arg}: local and remote must both be IPv4 or both IPv6`);
  return { local: ends.local, remote: ends.remote };
}

/**
 * The host side of an uplink, on the main thread: the UDP socket, the intake of datagrams into
 * `fromHost` (checked, dropped and counted when malformed, oversized, from elsewhere than the
 * remote address, or when the queue is full) and the sending of what dom0 queued in `toHost`.
 */
export class UdpUplink {
  private stopped = false;
  private pumping: Promise<void> = Promise.resolve();
  private constructor(private readonly socket: Socket, readonly queues: UplinkQueues, readonly spec: UplinkSpec, private readonly raise: () => void) {}

  /** Binds the socket of `spec` and starts moving frames; `raise` tells dom0 that frames arrived. */
  static async open(spec: UplinkSpec, queues: UplinkQueues, raise: () => void): Promise<UdpUplink> {
    const socket = createSocket({ type: isIP(spec.local.host) === 6 ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(spec.local.port, spec.local.host, () => { socket.off("error", reject); resolve(); });
    });
    const u = new UdpUplink(socket, queues, spec, raise);
    socket.on("message", (msg, from) => u.intake(msg, from.address, from.port));
    socket.on("error", () => queues.count(UplinkCounter.TxErrors));
    u.pumping = u.pump();
    return u;
  }

  /** The port the socket is bound to (the chosen one when local port 0 was asked). */
  get localPort(): number { return this.socket.address().port; }

  private intake(msg: Buffer, host: string, port: number): void {
    const q = this.queues;
    if (port !== this.spec.remote.port || host !== this.spec.remote.host) { q.count(UplinkCounter.RxForeign); return; }
    if (msg.length < UPLINK_MIN_FRAME) { q.count(UplinkCounter.RxMalformed); return; }
    if (msg.length > UPLINK_MAX_FRAME) { q.count(UplinkCounter.RxOversized); return; }
    if (!q.fromHost.push(msg)) { q.count(UplinkCounter.RxQueueFull); return; }
    q.count(UplinkCounter.RxFrames);
    this.raise();
  }

  /** Sends what dom0 queued, then sleeps on the wake word (at most 50 ms) until it queues more. */
  private async pump(): Promise<void> {
    const q = this.queues;
    while (!this.stopped) {
      const w = Atomics.load(q.counters, UplinkCounter.TxWake);
      this.sendQueued();
      const r = Atomics.waitAsync(q.counters, UplinkCounter.TxWake, w, 50);
      if (r.async) await r.value;
    }
    this.sendQueued();
  }

  private sendQueued(): void {
    const q = this.queues.toHost;
    for (let f = q.peek(); f !== null; f = q.peek()) {
      // dgram copies the bytes synchronously into its own request before send returns.
      this.socket.send(Buffer.from(f), this.spec.remote.port, this.spec.remote.host, (e) => { if (e) this.queues.count(UplinkCounter.TxErrors); });
      q.shift();
    }
  }

  /** Sends what is left, stops the pump and closes the socket. */
  async close(): Promise<void> {
    this.stopped = true;
    this.queues.kick();
    await this.pumping;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
