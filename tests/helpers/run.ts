// Helpers for tests that drive a `xenwasm run` from outside, as a user would: start it, poll for
// a condition, and talk to its xenstored socket with Debian's xenstore-utils.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { ROOT } from "./env.js";

/** Runs Debian's xenstore tool `name` (in /usr/bin) against the xenstored socket `sock`. */
export function xenstoreTool(sock: string, name: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(`/usr/bin/${name}`, args, { encoding: "utf8", env: { ...process.env, XENSTORED_PATH: sock }, timeout: 10_000 });
}

/** A running `xenwasm` process: its stdout and stderr so far, and its exit code once it exits. */
export interface XenwasmProcess {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

/**
 * Starts `node bin/xenwasm.js ...args` in the project root, collecting its stdout and stderr
 * together; `prefix` runs it through another command (e.g. `ip netns exec NS`).
 */
export function startXenwasm(args: string[], prefix: string[] = []): XenwasmProcess {
  let out = "";
  const argv = [...prefix, process.execPath, join(ROOT, "bin/xenwasm.js"), ...args];
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT });
  child.stdout!.on("data", (b) => (out += b));
  child.stderr!.on("data", (b) => (out += b));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out: () => out, exit };
}

/**
 * Polls `fn` every 50 ms until it returns something other than undefined, and returns that;
 * after `ms` it fails the test, naming `what` (followed by `context()`, e.g. the run's output).
 */
export async function until<T>(what: string, fn: () => T | undefined, ms = 15_000, context?: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) expect.fail(`timed out waiting for ${what}${context ? `\n${context()}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
