// Host block devices (DESIGN §4): the disks behind dom0's blkback — a raw image file (flush is
// fdatasync) or a RAM disk — and the `dev` imports through which dom0 moves data straight
// between a device and the guest pages it mapped with GNTMAP_device_map: one checked copy.
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { k } from "../abi/layout.js";
import { GuestFault, type Domain } from "../hypervisor/domain.js";
import { dmaDomain, dmaTarget } from "../hypervisor/gnttab.js";
import { guarded, type Hypervisor } from "../hypervisor/hypervisor.js";

/** Bytes per sector: blkif's unit for every sector number, whatever the disk's sector size. */
export const SECTOR_SIZE = 512;
/** Bytes of one DMA segment descriptor in dom0's memory: u64 bus address, u32 length, u32 pad. */
export const DMA_SEG_SIZE = 16;
/** Most segments one blk_io call may carry (blkif's indirect limit is far below). */
export const MAX_DMA_SEGS = 4096;
/** blk_info flags: the device refuses writes; flush reaches stable storage; discard is supported. */
export const BLK_INFO_RO = 1, BLK_INFO_FLUSH = 2, BLK_INFO_DISCARD = 4;
/** blk_io operations. */
export const BLK_IO_READ = 0, BLK_IO_WRITE = 1;

const E = { PERM: -k("XEN_EPERM"), NODEV: -k("XEN_ENODEV"), ROFS: -k("XEN_EROFS"), INVAL: -k("XEN_EINVAL"), FAULT: -k("XEN_EFAULT"), IO: -k("XEN_EIO") };

/** What a host disk is made of; crosses threads (the threaded runner opens it in dom0's worker). */
export type DiskSpec =
  | { kind: "file"; path: string; readonly: boolean }
  | { kind: "ram"; buffer: SharedArrayBuffer; readonly: boolean };

/** One open host disk: byte-addressed reads and writes of whole sectors, flush and discard. */
export interface BlockDevice {
  readonly sectors: number;
  readonly readonly: boolean;
  read(pos: number, dst: Uint8Array): void;
  write(pos: number, src: Uint8Array): void;
  /** Makes every completed write durable (fdatasync for a file). */
  flush(): void;
  /** Forgets `len` bytes at `pos`: they read back as zeroes. */
  discard(pos: number, len: number): void;
  close(): void;
}

/** A raw image file: its size in whole sectors is the disk; opened read-only when `readonly`. */
export class FileDisk implements BlockDevice {
  readonly sectors: number;
  private fd: number;
  constructor(readonly path: string, readonly readonly: boolean) {
    this.fd = openSync(path, readonly ? "r" : "r+");
    this.sectors = Math.floor(fstatSync(this.fd).size / SECTOR_SIZE);
  }
  read(pos: number, dst: Uint8Array): void {
    for (let done = 0; done < dst.length;) {
      const n = readSync(this.fd, dst, done, dst.length - done, pos + done);
      if (n === 0) { dst.fill(0, done); return; }
      done += n;
    }
  }
  write(pos: number, src: Uint8Array): void {
    for (let done = 0; done < src.length;) done += writeSync(this.fd, src, done, src.length - done, pos + done);
  }
  flush(): void { fdatasyncSync(this.fd); }
  discard(pos: number, len: number): void {
    const zero = new Uint8Array(Math.min(len, 1 << 20));
    for (let done = 0; done < len; done += zero.length) this.write(pos + done, zero.subarray(0, Math.min(zero.length, len - done)));
  }
  close(): void { if (this.fd >= 0) closeSync(this.fd); this.fd = -1; }
}

/** A RAM disk over a SharedArrayBuffer (whole sectors), so that the harness can inspect it. */
export class RamDisk implements BlockDevice {
  readonly sectors: number;
  private readonly u8: Uint8Array;
  constructor(buffer: SharedArrayBuffer, readonly readonly: boolean) {
    this.u8 = new Uint8Array(buffer);
    this.sectors = Math.floor(buffer.byteLength / SECTOR_SIZE);
  }
  // TypedArray.set, not copyMemory's memcpy: between a guest page and this (mostly uncached)
  // buffer, memcpy measured 2x slower (64 KiB writes 1.45 s against 0.69 s; docs/benchmarks.md).
  read(pos: number, dst: Uint8Array): void { dst.set(this.u8.subarray(pos, pos + dst.length)); }
  write(pos: number, src: Uint8Array): void { this.u8.set(src, pos); }
  flush(): void {}
  discard(pos: number, len: number): void { this.u8.fill(0, pos, pos + len); }
  close(): void {}
}

/** Opens the disk `spec` describes. */
export function openDisk(spec: DiskSpec): BlockDevice {
  return spec.kind === "file" ? new FileDisk(spec.path, spec.readonly) : new RamDisk(spec.buffer, spec.readonly);
}

/** Per-device counters for --stats and the benchmarks. */
export interface DiskStats { reads: number; writes: number; flushes: number; discards: number; bytesRead: number; bytesWritten: number; errors: number }

/** The `dev` import module of dom0 `d` over `disks` (device n is disks[n]); see docs/ABI.md §7. */
export function deviceImports(hv: Hypervisor, d: Domain, disks: BlockDevice[], log: (line: string) => void = () => {}): Record<string, (...a: number[]) => number> {
  const stats: DiskStats[] = disks.map(() => ({ reads: 0, writes: 0, flushes: 0, discards: 0, bytesRead: 0, bytesWritten: 0, errors: 0 }));
  const disk = (n: number): BlockDevice | number => (!d.privileged ? E.PERM : n >= 0 && n < disks.length ? disks[n] : E.NODEV);
  const sector = (lo: number, hi: number) => (hi >>> 0) * 2 ** 32 + (lo >>> 0);
  /** A host I/O error: logged, counted, -EIO; a guest-memory fault: -EFAULT. */
  const failed = (e: unknown, n: number): number => {
    if (e instanceof GuestFault) return e.errno;
    if (stats[n]) stats[n].errors++;
    log(`disk ${n}: ${(e as Error).message}`);
    return E.IO;
  };

  // blk_io's per-segment scratch, allocated once: the granter and address each segment resolved to.
  const segDomain: Domain[] = new Array(MAX_DMA_SEGS);
  const segAddr = new Float64Array(MAX_DMA_SEGS), segLen = new Uint32Array(MAX_DMA_SEGS);

  /** blk_io: resolves and checks every segment first, then copies; allocates only the views it copies through. */
  function blkIo(n: number, op: number, lo: number, hi: number, segs: number, nsegs: number): number {
    try {
      const b = disk(n);
      if (typeof b === "number") return b;
      if (op !== BLK_IO_READ && op !== BLK_IO_WRITE) return E.INVAL;
      const toMemory = op === BLK_IO_READ;
      if (!toMemory && b.readonly) return E.ROFS;
      if (!(nsegs > 0 && nsegs <= MAX_DMA_SEGS)) return E.INVAL;
      segs >>>= 0;
      d.check(segs, nsegs * DMA_SEG_SIZE);
      // Resolve and check every segment before moving a byte: a bad one fails the whole request.
      let total = 0;
      for (let i = 0; i < nsegs; i++) {
        const a = segs + i * DMA_SEG_SIZE;
        const len = d.view.getUint32(a + 8, true);
        if (len === 0 || len % SECTOR_SIZE) return E.INVAL;
        const addr = dmaTarget(hv, d, d.u64n(a), len, toMemory);
        if (addr < 0) return addr;
        segDomain[i] = dmaDomain();
        segAddr[i] = addr;
        segLen[i] = len;
        total += len;
      }
      const start = sector(lo, hi);
      if (start + total / SECTOR_SIZE > b.sectors) return E.INVAL;
      let pos = start * SECTOR_SIZE;
      for (let i = 0; i < nsegs; i++) {
        const mem = segDomain[i].u8.subarray(segAddr[i], segAddr[i] + segLen[i]);
        if (toMemory) b.read(pos, mem); else b.write(pos, mem);
        pos += segLen[i];
      }
      const s = stats[n];
      if (toMemory) { s.reads++; s.bytesRead += total; } else { s.writes++; s.bytesWritten += total; }
      return 0;
    } catch (e) {
      return failed(e, n);
    }
  }

  return {
    blk_info: (n: number, out: number) => guarded(() => {
      const b = disk(n);
      if (typeof b === "number") return b;
      d.check(out >>> 0, 24);
      d.w64(out + 0, b.sectors);
      d.w32(out + 8, SECTOR_SIZE);
      d.w32(out + 12, SECTOR_SIZE);
      d.w32(out + 16, (b.readonly ? BLK_INFO_RO : 0) | BLK_INFO_FLUSH | BLK_INFO_DISCARD);
      d.w32(out + 20, SECTOR_SIZE);
      return 0;
    }),
    blk_io: blkIo,
    blk_flush: (n: number) => {
      try {
        const b = disk(n);
        if (typeof b === "number") return b;
        b.flush();
        stats[n].flushes++;
        return 0;
      } catch (e) {
        return failed(e, n);
      }
    },
    blk_discard: (n: number, lo: number, hi: number, count: number) => {
      try {
        const b = disk(n);
        if (typeof b === "number") return b;
        if (b.readonly) return E.ROFS;
        const start = sector(lo, hi), len = count >>> 0;
        if (start + len > b.sectors) return E.INVAL;
        b.discard(start * SECTOR_SIZE, len * SECTOR_SIZE);
        stats[n].discards++;
        return 0;
      } catch (e) {
        return failed(e, n);
      }
    },
  };
}
