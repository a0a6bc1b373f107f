// `xenwasm bench blk`: blkfront (the blkbench guest) against dom0's blkback over a RAM disk,
// under the threaded runner. Workloads: 4 KiB random reads and writes at queue depth 1 and 32,
// 64 KiB sequential reads and writes at queue depth 32. Reports throughput and, per operation,
// notifications, grant operations and bytes copied. Reads are checked sector by sector in the
// guest against a pattern the harness writes into the RAM disk first.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runThreaded } from "../runner/threaded.js";
import type { RunResult } from "../runner/common.js";

/** One blk workload. */
export interface BlkWorkload { name: string; mode: "randread" | "randwrite" | "read" | "write"; bs: number; qd: number }

/** The workloads: 4 KiB random at QD 1 and 32, 64 KiB sequential at QD 32. */
export const BLK_WORKLOADS: BlkWorkload[] = [
  { name: "4k-randread-qd1", mode: "randread", bs: 4096, qd: 1 },
  { name: "4k-randread-qd32", mode: "randread", bs: 4096, qd: 32 },
  { name: "4k-randwrite-qd1", mode: "randwrite", bs: 4096, qd: 1 },
  { name: "4k-randwrite-qd32", mode: "randwrite", bs: 4096, qd: 32 },
  { name: "64k-read-qd32", mode: "read", bs: 65536, qd: 32 },
  { name: "64k-write-qd32", mode: "write", bs: 65536, qd: 32 },
];

/** Options of one measurement. */
export interface BlkBenchOptions { root: string; ops: number; diskMiB: number; poll: boolean; frontCmdline?: string; backendCmdline?: string }

/** One measured workload (a JSON object of `--json`). */
export interface BlkResult {
  impl: "xenwasm"; workload: string; mode: string; bs: number; qd: number; poll: boolean; ops: number; seconds: number;
  iops: number; mb_per_s: number;
  /** Event-channel notifications per operation: sent by blkfront plus those that woke it. */
  notifies_per_op: number;
  /** Grant operations per operation: blkfront's grants and ends plus blkback's maps, unmaps and copies. */
  grant_ops_per_op: number;
  /** Bytes copied per operation: the DMA copy plus blkfront's bounce copies (persistent grants). */
  bytes_copied_per_op: number;
  verified_sectors: number;
}

/** Writes the blkbench pattern into a RAM disk: sector k starts with u64 k and ends with u64 ~k. */
export function fillPattern(buf: SharedArrayBuffer): void {
  const v = new BigUint64Array(buf);
  const mask = (1n << 64n) - 1n;
  for (let k = 0, i = 0; i < v.length; k++, i += 64) {
    v[i] = BigInt(k);
    v[i + 63] = ~BigInt(k) & mask;
  }
}

/** Parses the guest's result line ("blkbench: key=value ..."). */
export function parseBlkLine(line: string): Record<string, string> | null {
  const m = /blkbench: (mode=.*)$/.exec(line);
  if (!m) return null;
  return Object.fromEntries(m[1].trim().split(/\s+/).map((kv) => kv.split("=") as [string, string]));
}

/** Runs `w` once and returns its figures; throws with the run's output if it failed. */
export async function runBlkWorkload(w: BlkWorkload, o: BlkBenchOptions): Promise<BlkResult> {
  const disk = new SharedArrayBuffer(o.diskMiB << 20);
  const reads = w.mode === "randread" || w.mode === "read";
  // Filled for every workload: reads check the pattern, and writes then find the disk's pages
  // already touched (the first write to a fresh page of the RAM disk would pay a page fault).
  fillPattern(disk);
  const mod = (p: string) => new WebAssembly.Module(readFileSync(join(o.root, p)));
  const lines: string[] = [], logs: string[] = [];
  const cmdline = `mode=${w.mode} bs=${w.bs / 1024} qd=${w.qd} ops=${o.ops}${reads ? " prefilled" : ""} ${o.frontCmdline ?? ""}`.trim();
  const r: RunResult = await runThreaded({
    guests: [{ module: mod("build/examples/blkbench.wasm"), name: "blkbench", cmdline, memMiB: 64 }],
    backend: { module: mod("build/drivers/dom0.wasm"), name: "dom0", memMiB: 64, cmdline: o.backendCmdline ?? "", disks: [{ kind: "ram", buffer: disk, readonly: false }] },
    seed: 1, spin: o.poll,
    output: (l) => lines.push(l), log: (l) => logs.push(l),
  });
  const kv = lines.map(parseBlkLine).find((x) => x !== null);
  if (r.exitCode !== 0 || !kv) throw new Error(`blk workload ${w.name} failed (exit ${r.exitCode}):\n${[...lines, ...logs].join("\n")}`);
  const ops = Number(kv.ops), ns = Number(kv.ns);
  const seconds = ns / 1e9;
  const backGrantOps = r.backend?.grantOps ?? 0;
  return {
    impl: "xenwasm", workload: w.name, mode: w.mode, bs: w.bs, qd: w.qd, poll: o.poll, ops, seconds,
    iops: ops / seconds, mb_per_s: (ops * w.bs) / seconds / 1e6,
    notifies_per_op: (Number(kv.notifies) + Number(kv.events)) / ops,
    grant_ops_per_op: (Number(kv.grantops) + backGrantOps) / ops,
    bytes_copied_per_op: w.bs + Number(kv.copied) / ops,
    verified_sectors: Number(kv.verified),
  };
}
