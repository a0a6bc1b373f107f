// Host network devices (DESIGN §7): the capture file dom0's switch records every forwarded frame
// in (libpcap, LINKTYPE_ETHERNET), the uplink to the host (uplink.ts), and the `dev.net_*`
// imports through which dom0 reaches them.
// A capture is timestamped with the run's clock: virtual time under the deterministic runner (so
// the same seed gives the same file), wall-clock time under the threaded one.
import { closeSync, openSync, writeSync } from "node:fs";
import { k } from "../abi/layout.js";
import { Ctl, type Domain } from "../hypervisor/domain.js";
import { guarded, type Hypervisor } from "../hypervisor/hypervisor.js";
import { UPLINK_MAX_FRAME, UPLINK_MIN_FRAME, UplinkCounter, type UplinkQueues } from "./uplink.js";

const E = { PERM: -k("XEN_EPERM"), NODEV: -k("XEN_ENODEV"), INVAL: -k("XEN_EINVAL"), FAULT: -k("XEN_EFAULT"), AGAIN: -k("XEN_EAGAIN") };
/** libpcap's magic (microsecond timestamps), version 2.4, and LINKTYPE_ETHERNET. */
export const PCAP_MAGIC = 0xa1b2c3d4, PCAP_LINKTYPE_ETHERNET = 1;
/** The longest frame a capture records (netif's largest frame). */
export const PCAP_SNAPLEN = 65535;
/** Bytes buffered before they are written to the file. */
const FLUSH_BYTES = 1 << 20;

/** A libpcap file being written: frames are buffered and written in large pieces, and at close. */
export class PcapWriter {
  private fd: number;
  private buf = Buffer.alloc(FLUSH_BYTES + PCAP_SNAPLEN + 16);
  private used = 0;
  /** Frames recorded so far. */
  frames = 0;
  /** Opens (truncates) `path` and writes the global header; `epochNs` is added to every timestamp. */
  constructor(readonly path: string, private readonly epochNs: bigint = 0n) {
    this.fd = openSync(path, "w");
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8);
    h.writeUInt32LE(0, 12);
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(PCAP_LINKTYPE_ETHERNET, 20);
    writeSync(this.fd, h);
  }
  /** Records one frame seen at `ns` (the run's clock). */
  record(ns: bigint, frame: Uint8Array): void {
    const t = ns + this.epochNs;
    const b = this.buf, at = this.used, n = Math.min(frame.length, PCAP_SNAPLEN);
    b.writeUInt32LE(Number(t / 1_000_000_000n), at);
    b.writeUInt32LE(Number((t % 1_000_000_000n) / 1000n), at + 4);
    b.writeUInt32LE(n, at + 8);
    b.writeUInt32LE(frame.length, at + 12);
    b.set(frame.subarray(0, n), at + 16);
    this.used = at + 16 + n;
    this.frames++;
    if (this.used >= FLUSH_BYTES) this.flush();
  }
  /** Writes what is buffered. */
  flush(): void {
    for (let done = 0; done < this.used;) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
  /** Flushes and closes the file (idempotent). */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** What a capture is made of; crosses threads (the threaded runner opens it in dom0's worker). */
export interface CaptureSpec { path: string; epochNs: bigint }

/**
 * The `dev.net_*` imports of domain `d` (dom0's, see docs/ABI.md §7): `capture` records frames
 * when the run has one; `uplink` is the run's host uplink, when it has one.
 */
export function netDeviceImports(hv: Hypervisor, d: Domain, capture?: PcapWriter, uplink?: UplinkQueues): Record<string, (...a: number[]) => number> {
  /** Checks that [addr, addr + len) lies in d's memory; counts a refused access otherwise. */
  const inside = (addr: number, len: number) => {
    if (addr + len <= d.bytes) return true;
    Atomics.add(d.ctl, Ctl.Violations, 1);
    return false;
  };
  return {
    net_capture: (addr: number, len: number) => guarded(() => {
      if (!d.privileged) return E.PERM;
      if (!capture) return E.NODEV;
      if (!(len >= 0 && len <= PCAP_SNAPLEN)) return E.INVAL;
      if (len === 0) return 0;
      addr >>>= 0;
      if (!inside(addr, len)) return E.FAULT;
      capture.record(hv.now(), d.u8.subarray(addr, addr + len));
      return 0;
    }),
    // Queues one frame for the host; a full queue drops it (-EAGAIN, counted), as a NIC's full
    // transmit ring would. A zero-length call asks whether the run has an uplink.
    net_uplink_send: (addr: number, len: number) => guarded(() => {
      if (!d.privileged) return E.PERM;
      if (!uplink) return E.NODEV;
      if (len === 0) return 0;
      if (!(len >= UPLINK_MIN_FRAME && len <= UPLINK_MAX_FRAME)) return E.INVAL;
      addr >>>= 0;
      if (!inside(addr, len)) return E.FAULT;
      if (!uplink.toHost.push(d.u8.subarray(addr, addr + len))) { uplink.count(UplinkCounter.TxQueueFull); return E.AGAIN; }
      uplink.count(UplinkCounter.TxFrames);
      uplink.kick();
      return 0;
    }),
    // Takes the next frame from the host into [addr, addr + cap): its length, or 0 when none waits.
    net_uplink_recv: (addr: number, cap: number) => guarded(() => {
      if (!d.privileged) return E.PERM;
      if (!uplink) return E.NODEV;
      if (!(cap >= UPLINK_MAX_FRAME)) return E.INVAL;
      addr >>>= 0;
      if (!inside(addr, UPLINK_MAX_FRAME)) return E.FAULT;
      const f = uplink.fromHost.peek();
      if (f === null) return 0;
      const n = f.length;
      d.u8.set(f, addr);
      uplink.fromHost.shift();
      return n;
    }),
  };
}
