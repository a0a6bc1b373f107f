// Host devices (docs/ABI.md §7): the `dev` imports through which a privileged backend domain
// (dom0) drives the harness's block devices, records network captures and reaches the host's
// network through its switch's uplink. Disk data never
// passes through dom0's memory: a request names guest pages dom0 mapped with GNTMAP_device_map by their bus addresses (dev_bus_addr +
// offset), and the harness copies between the device and those pages once, checking each
// address against dom0's live device mappings. A non-privileged domain gets -XEN_EPERM.
//
// Ownership: the info struct and the segment arrays belong to the caller for the duration of
// the call. Results are 0 or -XEN_Exxx: -ENODEV (no such device), -EROFS (write or discard on a
// read-only device), -EINVAL (a range beyond the device, a length that is not whole sectors),
// -EFAULT (an address outside a live device mapping), -EIO (the host's I/O failed).

import { VIRQ_ARCH_1 } from "./xen/xen";

/** `dev.blk_info(dev, info)`: fills the blkdev_info at `info` for host block device `dev`. */
@external("dev", "blk_info")
export declare function dev_blk_info(dev: i32, info: i32): i32;

/**
 * `dev.blk_io(dev, op, sector_lo, sector_hi, segs, nsegs)`: reads (BLKDEV_READ: device → pages)
 * or writes (BLKDEV_WRITE) the sectors from `sector` on, through `nsegs` dma_seg at `segs`, in
 * order; all segments are checked before any data moves.
 */
@external("dev", "blk_io")
export declare function dev_blk_io(dev: i32, op: i32, sectorLo: i32, sectorHi: i32, segs: i32, nsegs: i32): i32;

/** `dev.blk_flush(dev)`: makes every completed write of `dev` durable (fdatasync of an image file). */
@external("dev", "blk_flush")
export declare function dev_blk_flush(dev: i32): i32;

/** `dev.blk_discard(dev, sector_lo, sector_hi, count)`: forgets `count` sectors; they read back as zeroes. */
@external("dev", "blk_discard")
export declare function dev_blk_discard(dev: i32, sectorLo: i32, sectorHi: i32, count: i32): i32;

/**
 * `dev.net_capture(addr, len)`: records the Ethernet frame of `len` bytes at `addr` (dom0's own
 * memory) in the run's capture file (pcap), timestamped with the run's clock. Returns 0, or
 * -XEN_ENODEV when the run records no capture (a zero-length call asks just that).
 */
@external("dev", "net_capture")
export declare function dev_net_capture(addr: i32, len: i32): i32;

/**
 * `dev.net_uplink_send(addr, len)`: queues the Ethernet frame of `len` bytes at `addr` (dom0's
 * own memory, UPLINK_MIN_FRAME..UPLINK_MAX_FRAME bytes, checksums complete, no GSO) for the host
 * uplink. Returns 0, -XEN_EAGAIN when the host's queue is full (the frame is dropped and
 * counted), -XEN_EINVAL for a bad length, or -XEN_ENODEV when the run has no uplink (a
 * zero-length call asks just that).
 */
@external("dev", "net_uplink_send")
export declare function dev_net_uplink_send(addr: i32, len: i32): i32;

/**
 * `dev.net_uplink_recv(addr, cap)`: moves the next frame that came from the host into dom0's
 * memory at `addr` (`cap` ≥ UPLINK_MAX_FRAME bytes) and returns its length, or 0 when none
 * waits. The harness raises VIRQ_NET_UPLINK when frames arrive.
 */
@external("dev", "net_uplink_recv")
export declare function dev_net_uplink_recv(addr: i32, cap: i32): i32;

/** The longest frame the uplink carries (MTU 1500, the Ethernet header and a VLAN tag; no FCS). */
export const UPLINK_MAX_FRAME: i32 = 1518;
/** The shortest: an Ethernet header. */
export const UPLINK_MIN_FRAME: i32 = 14;
/** The virtual IRQ the harness raises in dom0 when frames from the host wait (VIRQ_ARCH_1, unused by Xen on x86). */
export const VIRQ_NET_UPLINK: u32 = <u32>VIRQ_ARCH_1;

/** blkdev_info.flags: the device is read-only. */
export const BLKDEV_RO: u32 = 1;
/** blkdev_info.flags: blk_flush reaches stable storage. */
export const BLKDEV_FLUSH: u32 = 2;
/** blkdev_info.flags: blk_discard is supported. */
export const BLKDEV_DISCARD: u32 = 4;
/** dev_blk_io op: device → memory. */
export const BLKDEV_READ: i32 = 0;
/** dev_blk_io op: memory → device. */
export const BLKDEV_WRITE: i32 = 1;

/** What blk_info reports about a host block device (24 bytes). Sectors are 512 bytes. */
@unmanaged export class blkdev_info {
  sectors: u64;
  sector_size: u32;
  physical_sector_size: u32;
  flags: u32;
  discard_granularity: u32;
}
if (offsetof<blkdev_info>() != 24) ERROR("blkdev_info: size must be 24");

/** One DMA segment of a blk_io request (16 bytes): a bus address and a length in bytes. */
@unmanaged export class dma_seg {
  bus_addr: u64;
  len: u32;
  __pad: u32;
}
if (offsetof<dma_seg>() != 16) ERROR("dma_seg: size must be 16");

/** Reads or writes `sector` on through the `nsegs` segments at `segs` (see dev_blk_io). */
export function blkdevIo(dev: i32, write: bool, sector: u64, segs: usize, nsegs: i32): i32 {
  return dev_blk_io(dev, write ? BLKDEV_WRITE : BLKDEV_READ, <i32>(sector & 0xffffffff), <i32>(sector >> 32), <i32>segs, nsegs);
}

/** Discards `count` sectors from `sector` on (see dev_blk_discard). */
export function blkdevDiscard(dev: i32, sector: u64, count: u32): i32 {
  return dev_blk_discard(dev, <i32>(sector & 0xffffffff), <i32>(sector >> 32), <i32>count);
}
