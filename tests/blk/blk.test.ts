// The block split driver end to end, through `xenwasm run` as a user runs it: diskcopy copies a
// random image (cmp must agree) under both runners; the pattern guest writes, reads, discards and
// flushes random ranges under feature combinations of both ends (its final hash must equal the
// image file's); read-only disks refuse writes in the backend; a SIGKILLed harness keeps every
// write that completed before a completed flush; wrong --disk arguments get one line.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, openSync, closeSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "../helpers/env.js";

const CLI = join(ROOT, "bin/xenwasm.js");
function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "xenwasm-blk-")); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh image of `bytes` zero bytes (or random ones) at dir/name. */
function image(name: string, bytes: number, random = false): string {
  const p = join(dir, name);
  if (random) writeFileSync(p, randomBytes(bytes));
  else { closeSync(openSync(p, "w")); truncateSync(p, bytes); }
  return p;
}

function fnv1a(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return "0x" + h.toString(16).padStart(8, "0");
}

describe.each(["deterministic", "threads"])("blk under the %s runner", (runner) => {
  it("diskcopy copies xvda to xvdb (cmp agrees) and the read-only xvda refuses a write", () => {
    const src = image(`src-${runner}.img`, 6 << 20, true), dst = image(`dst-${runner}.img`, 6 << 20);
    const r = xenwasm("run", "--runner", runner, "--disk", `${src},ro`, "--disk", dst, "build/examples/diskcopy.wasm");
    expect(r.stderr).not.toMatch(/crashed/);
    expect(r.stdout).toContain("[diskcopy] diskcopy: write to read-only xvda refused: EIO\n");
    expect(r.stdout).toMatch(/\[diskcopy\] diskcopy: copied 6291456 bytes in [\d.]+ ms, [\d.]+ MB\/s/);
    expect(r.stdout).toContain("[diskcopy] diskcopy: 100% (6291456 bytes)");
    expect(r.status).toBe(0);
    expect(Buffer.compare(readFileSync(src), readFileSync(dst))).toBe(0);
  });

  // [backend command line, frontend command line, what both must have negotiated]
  const combos: Array<[string, string, RegExp]> = [
    ["", "", /4 queue\(s\), ring order 4, 256 segments, persistent, flush, discard/],
    ["features=none", "", /1 queue\(s\), ring order 0, 11 segments\n/],
    ["", "persistent=0 indirect=0 ring-page-order=0 queues=1 unaligned", /1 queue\(s\), ring order 0, 11 segments, flush, discard/],
    ["max-ring-page-order=1 multi-queue-max-queues=2 persistent=0 max-indirect-segments=32", "maxkib=400 unaligned", /2 queue\(s\), ring order 1, 32 segments, flush, discard/],
    ["flush=0 discard=0 persistent=1 max-indirect-segments=0", "queues=3 maxkib=64", /3 queue\(s\), ring order 4, 11 segments, persistent\n/],
  ];
  it.each(combos)("random patterns survive: backend '%s', frontend '%s'", (be, fe, negotiated) => {
    const img = image(`pat-${runner}.img`, 4 << 20);
    const seed = 1 + Math.floor(Math.random() * 1e6);
    const r = xenwasm("run", "--runner", runner, "--backend-cmdline", be, "--disk", img, "--cmdline", `seed=${seed} ops=150 ${fe}`, "build/tests/blk_pattern.wasm");
    expect(r.stdout, `seed ${seed}: ${r.stderr}`).toMatch(negotiated);
    const m = /image fnv1a (0x[0-9a-f]+)/.exec(r.stdout);
    expect(m, `seed ${seed}: ${r.stdout}${r.stderr}`).not.toBeNull();
    expect(fnv1a(readFileSync(img)), `seed ${seed}`).toBe(m![1]);
    expect(r.status).toBe(0);
  });

  it("serves a RAM disk (the guest checks every sector it reads)", () => {
    const r = xenwasm("run", "--runner", runner, "--disk", "ram:2M", "--cmdline", "seed=11 ops=120", "build/tests/blk_pattern.wasm");
    expect(r.stdout).toMatch(/pattern: 120 operations .* sectors verified/);
    expect(r.status).toBe(0);
  });
});

describe("crash consistency", () => {
  it("writes completed before a completed flush are in the image after SIGKILL", async () => {
    const src = image("crash-src.img", 128 << 20, true), dst = image("crash-dst.img", 128 << 20);
    const child = spawn(process.execPath, [CLI, "run", "--runner", "threads", "--disk", `${src},ro`, "--disk", dst, "--cmdline", "bs=64 qd=8 flush-every=8", "build/examples/diskcopy.wasm"], { cwd: ROOT });
    let out = "", durable = 0;
    const exited = new Promise<string | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const all = [...out.matchAll(/durable (\d+) bytes/g)];
      if (all.length && durable === 0 && Number(all[all.length - 1][1]) >= 1 << 20) {
        durable = Number(all[all.length - 1][1]);
        child.kill("SIGKILL");
      }
    });
    const signal = await exited;
    expect(durable, out).toBeGreaterThan(0);
    expect(signal).toBe("SIGKILL");
    expect(out).not.toContain("copied");
    const a = readFileSync(src).subarray(0, durable), b = readFileSync(dst).subarray(0, durable);
    expect(Buffer.compare(a, b)).toBe(0);
  }, 60_000);
});

describe("xenwasm run --disk: wrong arguments get one line", () => {
  it.each([
    [["--disk", "/nonexistent/x.img"], /^xenwasm: run: --disk \/nonexistent\/x.img: no such file\n$/],
    [["--disk", "ram:1000"], /^xenwasm: run: --disk ram:1000: a RAM disk is ram:SIZE/],
    [["--disk", ",ro"], /^xenwasm: run: --disk needs a path/],
    [["--disk", "ram:1M", "--backend", "/etc/hostname"], /^xenwasm: run: backend: \/etc\/hostname: not a valid WebAssembly module\n$/],
  ])("%j", (args, message) => {
    const r = xenwasm("run", ...args, "build/examples/diskcopy.wasm");
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });

  it("refuses an image that is not whole sectors", () => {
    const p = image("odd.img", 1000);
    const r = xenwasm("run", "--disk", p, "build/examples/diskcopy.wasm");
    expect(r.stderr).toBe(`xenwasm: run: --disk ${p}: its size (1000 bytes) is not a whole number of 512-byte sectors\n`);
    expect(r.status).toBe(2);
  });
});

describe("npm start", () => {
  it("the demo copies its generated disk image through blkfront and blkback and checks it", () => {
    const r = spawnSync(process.execPath, [CLI, "demo"], { encoding: "utf8", cwd: ROOT, timeout: 180_000 });
    expect(r.stdout).toMatch(/== diskcopy: dom0's blkback and a guest's blkfront copy a disk image/);
    expect(r.stderr).toMatch(/xenwasm: xenstore socket: \S+xenstored.sock \(XENSTORED_PATH=\S+ xenstore-ls\)/);
    expect(r.stdout).toMatch(/\[diskcopy\] diskcopy: copied 67108864 bytes in [\d.]+ ms, [\d.]+ MB\/s/);
    expect(r.stdout).toContain("demo: out.img is identical to in.img\n");
    // The net part: two guests ping each other through dom0's switch; the capture is kept for tshark.
    expect(r.stdout).toMatch(/== netping: two guests ping each other through netfront and dom0's switch/);
    expect(r.stdout).toContain("[netping.1] 5 packets transmitted, 5 received, 0% packet loss");
    expect(r.stdout).toContain("[netping.2] 5 packets transmitted, 5 received, 0% packet loss");
    const m = /demo: the switch's capture is (\S+); open it with: tshark -r \S+/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(statSync(m![1]).size).toBeGreaterThan(24 + 20 * 16);
    rmSync(dirname(m![1]), { recursive: true, force: true });
    expect(r.status).toBe(0);
  }, 200_000);
});
