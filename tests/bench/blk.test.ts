// `xenwasm bench blk` as a smoke test: tiny counts, every workload in both modes; the output must
// be complete (every key, finite figures, the operations asked for) and the data correct (reads
// are checked sector by sector in the guest). Never a timing assertion.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const haveFio = spawnSync("fio", ["--version"], { stdio: "ignore" }).status === 0;

describe("xenwasm bench blk", () => {
  it.skipIf(skipWithout(haveFio))("puts fio's psync and io_uring IOPS on the same workload beside xenwasm's, with the ratio", () => {
    expect(haveFio, "fio must be installed (apt-get install fio)").toBe(true);
    const r = xenwasm("bench", "blk", "--workload", "4k-randread-qd32", "--mode", "event", "--runs", "1", "--ops", "2000", "--disk-mib", "16", "--fio-seconds", "1", "--json");
    expect(r.status, r.stderr).toBe(0);
    const [row] = JSON.parse(r.stdout) as Array<{ iops: number; fio_psync_iops: number; fio_io_uring_iops: number; ratio_vs_fio: number }>;
    expect(row.fio_psync_iops).toBeGreaterThan(0);
    expect(row.fio_io_uring_iops).toBeGreaterThan(0);
    expect(row.ratio_vs_fio).toBeCloseTo(row.iops / Math.max(row.fio_psync_iops, row.fio_io_uring_iops), 6);
    expect(r.stderr).toMatch(/fio 4k-randread-qd32: psync [\d.]+ [kM]? ?IOPS, io_uring/);
  }, 120_000);

  it("runs every workload in both modes and reports complete, checked figures as JSON", () => {
    const r = xenwasm("bench", "blk", "--runs", "1", "--ops", "400", "--disk-mib", "4", "--no-fio", "--json");
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((x) => `${x.workload}/${x.poll ? "poll" : "event"}`)).toEqual([
      "4k-randread-qd1/poll", "4k-randread-qd1/event", "4k-randread-qd32/poll", "4k-randread-qd32/event",
      "4k-randwrite-qd1/poll", "4k-randwrite-qd1/event", "4k-randwrite-qd32/poll", "4k-randwrite-qd32/event",
      "64k-read-qd32/poll", "64k-read-qd32/event", "64k-write-qd32/poll", "64k-write-qd32/event",
    ]);
    for (const x of rows) {
      for (const k of ["impl", "workload", "mode", "bs", "qd", "ops", "seconds", "iops", "mb_per_s", "notifies_per_op", "grant_ops_per_op", "bytes_copied_per_op", "runs"]) expect(x, k).toHaveProperty(k);
      for (const k of ["seconds", "iops", "mb_per_s", "notifies_per_op", "grant_ops_per_op", "bytes_copied_per_op"]) expect(Number.isFinite(x[k] as number), `${x.workload} ${k}`).toBe(true);
      expect(x.impl).toBe("xenwasm");
      expect(x.ops).toBe(x.qd === 1 ? 100 : 400);
      expect(x.bytes_copied_per_op as number).toBeGreaterThanOrEqual(x.bs as number);
      // Every sector read was checked against the pattern in the guest.
      if (String(x.mode).includes("read")) expect(x.verified_sectors).toBe((x.ops as number) * (x.bs as number) / 512);
    }
    expect(r.stderr).toMatch(/workload +mode +ops +runs +IOPS/);
  }, 120_000);

  it.each([
    [["--workload", "nope"], /^xenwasm: bench blk: unknown workload 'nope' \(expected 4k-randread-qd1, /],
    [["--mode", "spin"], /^xenwasm: bench blk: --mode must be 'poll' or 'event', not 'spin'\n$/],
    [["--ops", "0"], /^xenwasm: bench blk: --ops must be a whole number from 1 to 100000000, not '0'\n$/],
    [["--frobnicate"], /^xenwasm: bench blk: unknown option '--frobnicate'\n$/],
  ])("%j is refused with one line", (args, message) => {
    const r = xenwasm("bench", "blk", ...args);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });
});
