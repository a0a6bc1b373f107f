// Hostile peers of the block driver. A hostile frontend against dom0's blkback: every bad request
// gets an error response with its id, a jumped req_prod disconnects that device only (error node,
// Closing), dom0 never touches memory it was not granted (0 refused grant accesses) and keeps
// serving the other disk. A hostile backend against blkfront: bad, duplicated or stale response
// ids, the wrong operation and an rsp_prod overflow disable the device, and every request
// completes exactly once.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.each(["deterministic", "threads"])("a hostile frontend under the %s runner", (runner) => {
  it("gets errors for bad requests, loses only its own device, and dom0 stays within its grants", () => {
    const r = xenwasm("run", "--runner", runner, "--stats", "--disk", "ram:1M", "--disk", "ram:1M", "build/tests/blk_hostile_front.wasm");
    for (const what of ["12 segments: status -1", "sector beyond the disk: status -1", "first_sect > last_sect: status -1", "last_sect 8: status -1",
      "a grant ref never granted: status -1", "a read into a read-only grant: status -1", "an unknown operation: status -2",
      "indirect with 1000 segments: status -1", "indirect with an ungranted page: status -1", "a valid read: status 0"]) {
      expect(r.stdout).toContain(`[blk_hostile_front] hostile: ${what} as expected\n`);
    }
    expect(r.stdout).toMatch(/hostile: a slot changing after the push: status -?[01] as expected/);
    expect(r.stdout).toContain("[dom0] xenbus: backend/vbd/1/51712: 75 request ring broken (producer index out of range)\n");
    expect(r.stdout).toContain("[blk_hostile_front] hostile: xvda backend is Closing\n");
    expect(r.stdout).toContain("[blk_hostile_front] blkfront: device/vbd/51712: the backend closed the device\n");
    // blkfront answered Closing with Closed, and blkback followed: the connection is fully closed.
    expect(r.stdout).toContain("[blk_hostile_front] hostile: xvda backend is Closed\n");
    // blkback kept the valid read's grant as a persistent grant and unmapped it at disconnect.
    expect(r.stdout).toContain("[dom0] blkback: backend/vbd/1/51712: connected, 1 queue, 1 ring page, persistent grants\n");
    expect(r.stdout).toContain("[blk_hostile_front] hostile: ending access to the grant blkback kept: 0 (released)\n");
    expect(r.stdout).toContain("[blk_hostile_front] hostile: xvdb still served: wrote and read back 4096 bytes\n");
    expect(r.stderr).toMatch(/xenwasm: dom0 \(0\): poweroff, \d+ hypercalls, \d+ events, 0 refused grant accesses/);
    expect(r.status).toBe(0);
  });
});

describe.each(["deterministic", "threads"])("a hostile backend under the %s runner", (runner) => {
  it.each([
    ["bad-id", "5 response id 3735879681 was never issued on this queue", 8],
    ["dup", "5 response id 0 is not in flight (duplicate?)", 7],
    ["stale", "5 response id 31 is not in flight (duplicate?)", 8],
    ["wrong-op", "5 response to request 0 has the wrong operation", 8],
    ["overflow", "75 response ring broken (rsp_prod out of range)", 8],
  ])("mode %s: the frontend disables the device and completes each request once", (mode, error, failed) => {
    const r = xenwasm("run", "--runner", runner, "--backend", "build/tests/blk_hostile_back.wasm", "--backend-cmdline", `mode=${mode}`,
      "--disk", "ram:1M", "build/tests/blk_victim.wasm");
    expect(r.stdout).toContain(`[blk_victim] xenbus: device/vbd/51712: ${error}\n`);
    expect(r.stdout).toContain(`[blk_victim] victim: 8 requests completed once each, ${failed} failed; device error -${error.split(" ")[0]} (disabled)\n`);
    expect(r.stdout).toContain("[blk_victim] victim: a new read is refused: EIO\n");
    expect(r.stdout).not.toContain("completed twice");
    expect(r.status).toBe(0);
  });
});
