// Native C references of the benchmarks (bindings/bench/native/*.c): compiled with gcc -O2 on
// first use into a cache folder keyed by a hash of the source and the flags, then run as child
// processes that print one `key=value ...` line.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./common.js";

/** The gcc flags every reference is built with. */
export const NATIVE_CFLAGS = ["-O2", "-pthread", "-Wall", "-Wextra", "-Werror"];

/** A reference that failed to build or run: the message is one line (gcc's first error, or the program's). */
export class NativeError extends Error {}

/**
 * Where compiled references are kept: $XENWASM_CACHE_DIR, else $XDG_CACHE_HOME/xenwasm, else
 * ~/.cache/xenwasm (the system temp folder when there is no home).
 */
export function cacheDir(): string {
  if (process.env.XENWASM_CACHE_DIR) return process.env.XENWASM_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, "xenwasm");
  const home = homedir();
  return home ? join(home, ".cache", "xenwasm") : join(tmpdir(), "xenwasm-cache");
}

let gccFound: boolean | undefined;

/** Whether `gcc` runs (looked up once per process). */
export function gccAvailable(): boolean {
  gccFound ??= spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
  return gccFound;
}

/** The source file of reference `name` (bindings/bench/native/NAME.c). */
export function nativeSource(name: string): string {
  return join(ROOT, "bindings/bench/native", `${name}.c`);
}

/**
 * Returns the path of reference `name` compiled with gcc, building it into cacheDir() if no
 * binary for this source, the shared headers and these flags is there yet (the file name
 * carries their hash).
 * Returns null when gcc is missing; throws NativeError when gcc rejects the source.
 */
export function buildNative(name: string): string | null {
  const src = nativeSource(name);
  // The hash covers the headers the references share (common.h), so that a changed header rebuilds them.
  const h = createHash("sha256").update(readFileSync(src));
  for (const f of readdirSync(dirname(src)).filter((f) => f.endsWith(".h")).sort()) h.update(`\0${f}\0`).update(readFileSync(join(dirname(src), f)));
  const hash = h.update("\0" + NATIVE_CFLAGS.join(" ")).digest("hex").slice(0, 16);
  const dir = cacheDir();
  const bin = join(dir, `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  if (!gccAvailable()) return null;
  mkdirSync(dir, { recursive: true });
  // Built under a temporary name and renamed: concurrent runs never see a half-written binary.
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync("gcc", [...NATIVE_CFLAGS, "-o", tmp, src], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    const first = (r.stderr || r.error?.message || "").split("\n").find((l) => /error/.test(l)) ?? r.stderr.split("\n")[0];
    throw new NativeError(`gcc failed on ${src}: ${first.trim()}`);
  }
  renameSync(tmp, bin);
  return bin;
}

/**
 * Runs a built reference with `args` and returns the numbers of its `key=value` result line.
 * Throws NativeError with the program's own message when it exits non-zero (a failed check).
 */
export function runNative(bin: string, args: string[], timeoutMs = 600_000): Record<string, number> {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: timeoutMs });
  if (r.error) throw new NativeError(`${bin}: ${r.error.message}`);
  if (r.status !== 0) throw new NativeError(r.stderr.trim().split("\n")[0] || `${bin} exited with status ${r.status ?? r.signal}`);
  const out: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/(\w+)=(\d+)/g)) out[m[1]] = Number(m[2]);
  return out;
}
