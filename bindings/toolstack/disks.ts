// Disks as the toolstack attaches them: `--disk PATH[,ro]` arguments, Linux's xvd names and
// numbers, and the vbd directories libxl writes for a disk served by dom0's blkback.
import type { DiskSpec } from "../devices/blk.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import { attachDevice } from "./xenstore.js";

/** Disks one guest may have: xvda .. xvdp (minor numbers 0, 16, .. 240 of major 202). */
export const MAX_DISKS = 16;
/** Linux's major number of xvd disks. */
export const XVD_MAJOR = 202;
/** The major number of `physical-device` for xenwasm's host disks (minor = host device index). */
export const HOST_DISK_MAJOR = 0xfe;

/** A `--disk` argument: the image path (or a RAM disk's size in bytes) and whether the guest may only read it. */
export interface DiskArg { path: string; readonly: boolean; ramBytes?: number }

/** Largest RAM disk: 4 GiB. */
export const MAX_RAM_DISK = 4 * 1024 ** 3;

/** Parses `PATH[,ro|,rw]` or `ram:SIZE[K|M|G][,ro]` (a zeroed RAM disk); throws with a one-line message. */
export function parseDiskArg(arg: string): DiskArg {
  const m = /^(.*?)(?:,(ro|rw|r|w))?$/.exec(arg)!;
  if (!m[1]) throw new Error(`--disk needs a path, as PATH[,ro] (got '${arg}')`);
  const readonly = m[2] === "ro" || m[2] === "r";
  const ram = /^ram:(\d+)([KMG]?)$/i.exec(m[1]);
  if (m[1].startsWith("ram:")) {
    const bytes = ram ? Number(ram[1]) * ({ "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[ram[2].toUpperCase()] : NaN;
    if (!(bytes >= 512 && bytes <= MAX_RAM_DISK && bytes % 512 === 0)) throw new Error(`--disk ${m[1]}: a RAM disk is ram:SIZE with SIZE a multiple of 512 bytes up to 4G (K, M, G suffixes)`);
    return { path: m[1], readonly, ramBytes: bytes };
  }
  return { path: m[1], readonly };
}

/** Linux's name of disk `i`: xvda, xvdb, ... */
export function xvdName(i: number): string { return "xvd" + String.fromCharCode(97 + i); }

/** The `virtual-device` number of disk `i` (xvda = 51712), as blkif.h's xvd scheme. */
export function xvdNumber(i: number): number { return (XVD_MAJOR << 8) | (i << 4); }

/**
 * Attaches host disks 0..n-1 to domain `frontend` as xvda, xvdb, ... served by dom0: the frontend
 * directory `device/vbd/<vdev>` and the backend directory `backend/vbd/<frontend>/<vdev>` with
 * libxl's keys; `physical-device` names the host disk as fe:<index> (hex, as hotplug scripts write
 * major:minor), which dom0's blkback opens.
 */
export function attachDisks(xsd: Xenstored, frontend: number, disks: DiskSpec[]): void {
  if (disks.length > MAX_DISKS) throw new Error(`at most ${MAX_DISKS} disks per guest (xvda..xvdp), not ${disks.length}`);
  disks.forEach((disk, i) => {
    // `params`: the image path, or ram:<bytes> for a RAM disk.
    const params = disk.kind === "file" ? disk.path : `ram:${disk.buffer.byteLength}`;
    const vdev = xvdNumber(i);
    attachDevice(xsd, {
      type: "vbd", devid: vdev, frontend, backend: 0,
      frontKeys: { "virtual-device": String(vdev), "device-type": "disk" },
      backKeys: {
        "physical-device": `${HOST_DISK_MAJOR.toString(16)}:${i.toString(16)}`, params, mode: disk.readonly ? "r" : "w",
        type: "phy", dev: xvdName(i), "device-type": "disk", removable: "0", bootable: i === 0 ? "1" : "0", "discard-enable": "1",
      },
    });
  });
}
