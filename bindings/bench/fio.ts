// Linux's own block path for `xenwasm bench blk` (docs/benchmarks.md): fio on a file in tmpfs
// (/dev/shm, the same memory-backed medium as the RAM disk behind blkback), with the same block
// size, pattern and queue depth, through two engines: psync (one synchronous pread per I/O, the
// queue depth is 1 whatever is asked) and io_uring (the asked depth in flight). Run by the
// benchmark when fio is installed; the file is removed afterwards.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlkWorkload } from "./blk.js";

/** fio's engines compared. */
export type FioEngine = "psync" | "io_uring";

/** Why fio cannot run here (not installed, no tmpfs), or null. */
export function fioUnavailable(): string | null {
  if (spawnSync("fio", ["--version"], { stdio: "ignore" }).status !== 0) return "fio is not installed (Debian: apt-get install fio)";
  return null;
}

/** Runs `w` with fio's `engine` for `seconds` on a tmpfs file of `fileMiB` and returns its IOPS. */
export function runFio(w: BlkWorkload, engine: FioEngine, fileMiB: number, seconds: number): number {
  const dir = spawnSync("test", ["-d", "/dev/shm"]).status === 0 ? "/dev/shm" : tmpdir();
  const file = join(dir, `xenwasm-fio-${process.pid}`);
  try {
    const r = spawnSync("fio", [
      "--name=xenwasm", `--filename=${file}`, `--size=${fileMiB}M`, `--rw=${w.mode}`, `--bs=${w.bs}`, `--ioengine=${engine}`,
      `--iodepth=${engine === "psync" ? 1 : w.qd}`, "--time_based", `--runtime=${seconds}`, "--ramp_time=0", "--output-format=json",
    ], { encoding: "utf8", timeout: (seconds + 60) * 1000 });
    const json = r.stdout.slice(r.stdout.indexOf("{"));
    let job: { error: number; read: { iops: number }; write: { iops: number } };
    try { job = JSON.parse(json).jobs[0]; } catch { throw new Error(`fio ${engine} ${w.name}: ${(r.stderr || r.stdout).trim().split("\n")[0]}`); }
    if (r.status !== 0 || job.error) throw new Error(`fio ${engine} ${w.name} failed: ${(r.stderr || `error ${job.error}`).trim().split("\n")[0]}`);
    return w.mode === "randread" || w.mode === "read" ? job.read.iops : job.write.iops;
  } finally {
    rmSync(file, { force: true });
  }
}
