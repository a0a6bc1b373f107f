// The native side of `xenwasm bench net` (bindings/bench/net-native.ts): the C reference of
// netif.h's split driver (bindings/bench/native/netif.c) with tiny frame counts, every workload
// in both modes, and Linux's veth path through iperf3. The counts must be exactly those of the
// workload and a corrupted byte must fail the run; never a timing assertion (CI machines are
// noisy). The reference needs gcc and the veth path root, `ip` and `iperf3`: outside CI the tests
// that need them are skipped without them; under CI=true they run and fail (tests/helpers/env.ts).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipWithout } from "../helpers/env.js";

const gcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;

type Cfg = { workload: "guest-guest" | "guest-sink"; len: number; gso: boolean; mode: "poll" | "event"; queues: 1 | 2; frames: number };

const api = () => import("../../dist/bindings/bench/net-native.js");
const reference = async () => {
  const { buildNative } = await import("../../dist/bindings/bench/native.js");
  return buildNative("netif") as string;
};

// Why the veth path cannot run here (vethUnavailable), or null.
const vethReason: string | null = await api().then((m) => m.vethUnavailable(), (e: Error) => `cannot load dist/bindings/bench/net-native.js (npm run build): ${e.message}`);

// Poll mode guest-guest spins three threads: on a 2-CPU machine they share the CPUs by
// timeslices, so the counts stay small (and other test files, running alongside, keep a CPU).
const CASES: Cfg[] = [];
for (const workload of ["guest-guest", "guest-sink"] as const)
  for (const mode of ["poll", "event"] as const) {
    const spin3 = workload === "guest-guest" && mode === "poll";
    CASES.push({ workload, mode, len: 64, gso: false, queues: 1, frames: spin3 ? 2_000 : 20_000 });
    CASES.push({ workload, mode, len: 1514, gso: false, queues: 2, frames: spin3 ? 601 : 3_001 });
    CASES.push({ workload, mode, len: 65535, gso: true, queues: 2, frames: spin3 ? 61 : 301 });
    CASES.push({ workload, mode, len: 9000, gso: false, queues: 1, frames: 1_000 }); // a chained non-GSO frame: 3 slots
    CASES.push({ workload, mode, len: 14, gso: false, queues: 2, frames: 1_000 }); // header only, no index
  }

describe("the native netif reference", () => {
  it.skipIf(skipWithout(gcc)).each(CASES)("$workload $mode len=$len gso=$gso queues=$queues frames=$frames: the counts of the workload", async (cfg) => {
    const { runNativeNet } = await api();
    const s = runNativeNet(await reference(), cfg);
    expect(s.frames).toBe(cfg.frames);
    expect(s.bytes).toBe(cfg.frames * cfg.len);
    expect(s.bytesCopied).toBe(cfg.frames * cfg.len); // every byte crosses once (GNTTABOP_copy)
    // Slots are whole 4 KiB pages and so are the destinations: one copy per page of the frame.
    expect(s.copyOps).toBe(cfg.frames * Math.ceil(cfg.len / 4096));
    if (cfg.len === 64) expect(s.copyOps).toBe(cfg.frames);
    if (cfg.len === 65535) expect(s.copyOps).toBeGreaterThanOrEqual(16 * cfg.frames);
    expect(s.grantOps).toBe(s.copyOps);
    expect(s.seconds).toBeGreaterThan(0);
    if (cfg.mode === "poll") expect(s.notifies).toBe(0);
    else expect(s.notifies).toBeGreaterThan(0); // at least frame 0 woke the switch
  });

  it.skipIf(skipWithout(gcc)).each([
    ["guest-guest", "poll", 64, false, 2, 777, /^netif: queue 1 frame 777: byte 63 is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}\n$/],
    ["guest-guest", "event", 65535, true, 1, 40, /^netif: queue 0 frame 40: byte 65534 is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}\n$/],
    ["guest-sink", "poll", 1514, false, 1, 999, /^netif: queue 0 frame 999: byte 1513 is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}\n$/],
    ["guest-sink", "event", 9000, false, 2, 3, /^netif: queue 1 frame 3: byte 8999 is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}\n$/],
    // The flipped byte is the frame index itself: the verifier takes it for another frame.
    ["guest-guest", "event", 18, false, 1, 5, /^netif: queue 0: frame 16777221 arrived where frame 5 was expected \(out of order or corrupt\)\n$/],
  ] as const)("%s %s len=%i gso=%s queues=%i: a byte flipped in frame %i fails the run", async (workload, mode, len, gso, queues, k, message) => {
    const { nativeNetArgs } = await api();
    const bin = await reference();
    const cfg: Cfg = { workload, mode, len, gso, queues, frames: 1000 };
    const r = spawnSync(bin, nativeNetArgs(cfg, k), { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
    expect(r.status).toBe(1);
    // The same run without the hook passes.
    const { runNativeNet } = await api();
    expect(runNativeNet(bin, cfg).frames).toBe(1000);
  });

  it.skipIf(skipWithout(gcc)).each([
    [[], /^netif: usage: netif --workload/],
    [["--workload", "guest-host", "--len", "64", "--frames", "1", "--mode", "poll", "--queues", "1"], /^netif: --workload must be guest-guest or guest-sink, not guest-host$/],
    [["--workload", "guest-sink", "--len", "13", "--frames", "1", "--mode", "poll", "--queues", "1"], /^netif: --len must be 14\.\.65535, not 13$/],
    [["--workload", "guest-sink", "--len", "65536", "--frames", "1", "--mode", "poll", "--queues", "1"], /^netif: --len must be 14\.\.65535, not 65536$/],
    [["--workload", "guest-sink", "--len", "1514", "--gso", "--frames", "1", "--mode", "poll", "--queues", "1"], /^netif: --gso needs --len above 1514, not 1514$/],
    [["--workload", "guest-sink", "--len", "64", "--frames", "0", "--mode", "poll", "--queues", "1"], /^netif: --frames must be/],
    [["--workload", "guest-sink", "--len", "64", "--frames", "1", "--mode", "busy", "--queues", "1"], /^netif: --mode must be poll or event, not busy$/],
    [["--workload", "guest-sink", "--len", "64", "--frames", "1", "--mode", "poll", "--queues", "3"], /^netif: --queues must be 1 or 2, not 3$/],
    [["--workload", "guest-sink", "--len", "64", "--frames", "1", "--mode", "poll", "--queues", "1", "--seed", "-1"], /^netif: --seed must be/],
    [["--workload", "guest-sink", "--len", "64", "--frames", "1", "--mode", "poll", "--queues", "1", "--frob", "1"], /^netif: unknown option --frob$/],
    [["--workload", "guest-sink", "--len", "64", "--frames"], /^netif: --frames needs a value$/],
    [["--workload", "guest-sink", "--len", "64", "--frames", "1", "--mode", "poll"], /^netif: usage: /], // --queues missing
  ] as const)("bad arguments %j: one line and status 2", async (args, message) => {
    const r = spawnSync(await reference(), [...args], { encoding: "utf8", timeout: 10_000 });
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.status).toBe(2);
  });
});

describe("runNativeNet checks the reference's counts", () => {
  const cfg: Cfg = { workload: "guest-guest", len: 64, gso: false, mode: "event", queues: 1, frames: 10 };
  // A stand-in for the reference that prints a chosen result line.
  function fake(line: string): { bin: string; done: () => void } {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-netfake-"));
    const bin = join(dir, "netif");
    writeFileSync(bin, `#!/bin/sh\necho '${line}'\n`);
    chmodSync(bin, 0o755);
    return { bin, done: () => rmSync(dir, { recursive: true, force: true }) };
  }

  it("builds the reference's command line", async () => {
    const { nativeNetArgs } = await api();
    expect(nativeNetArgs(cfg)).toEqual(["--workload", "guest-guest", "--len", "64", "--frames", "10", "--mode", "event", "--queues", "1"]);
    expect(nativeNetArgs({ ...cfg, gso: true, len: 65535, queues: 2, mode: "poll" }, 7)).toEqual(
      ["--workload", "guest-guest", "--len", "65535", "--gso", "--frames", "10", "--mode", "poll", "--queues", "2", "--corrupt", "7"]);
  });

  it.each([
    ["frames=9 bytes=640 ns=1000 notifies=3 copy_ops=10 bytes_copied=640", /9 frames, not 10/],
    ["frames=10 bytes=600 ns=1000 notifies=3 copy_ops=10 bytes_copied=640", /600 bytes, not 640/],
    ["frames=10 bytes=640 ns=0 notifies=3 copy_ops=10 bytes_copied=640", /a time of 0 ns/],
    ["frames=10 bytes=640 ns=1000 notifies=3 copy_ops=10 bytes_copied=639", /639 bytes copied, not 640/],
    ["frames=10 bytes=640 ns=1000 notifies=3 copy_ops=9 bytes_copied=640", /9 copy ops for 10 frames/],
    ["frames=10 bytes=640 ns=1000 copy_ops=10 bytes_copied=640", /undefined notifications/],
  ])("a result line %j is rejected", async (line, message) => {
    const { runNativeNet, NetBenchError } = await api();
    const f = fake(line);
    try {
      expect(() => runNativeNet(f.bin, cfg)).toThrow(NetBenchError);
      expect(() => runNativeNet(f.bin, cfg)).toThrow(message);
    } finally { f.done(); }
  });

  it("poll mode must not notify, and a right line passes", async () => {
    const { runNativeNet, NetBenchError } = await api();
    const f = fake("frames=10 bytes=640 ns=2000 notifies=4 copy_ops=10 bytes_copied=640");
    try {
      expect(() => runNativeNet(f.bin, { ...cfg, mode: "poll" })).toThrow(NetBenchError);
      expect(runNativeNet(f.bin, cfg)).toEqual({ seconds: 2e-6, frames: 10, bytes: 640, notifies: 4, copyOps: 10, bytesCopied: 640, grantOps: 10 });
    } finally { f.done(); }
  });
});

describe("Linux's veth path (iperf3 between two namespaces)", () => {
  const reason = vethReason;

  it.skipIf(skipWithout(reason === null))("measures udp64 and tcp for a second each and leaves no namespace behind", async () => {
    expect(reason, "runVethIperf needs root, ip and iperf3").toBeNull();
    const { runVethIperf } = await api();
    const ours = () => spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.startsWith(`xwb-${process.pid}-`));
    for (const kind of ["udp64", "tcp"] as const) {
      const r = await runVethIperf(kind, 1);
      expect(r.kind).toBe(kind);
      expect(r.frames_per_s).toBeGreaterThan(0);
      expect(r.gbit_per_s).toBeGreaterThan(0);
      expect(r.seconds).toBeGreaterThan(0.5);
      expect(Number.isFinite(r.frames_per_s) && Number.isFinite(r.gbit_per_s)).toBe(true);
      if (kind === "udp64") expect(r.gbit_per_s).toBeCloseTo((r.frames_per_s * 60 * 8) / 1e9, 6); // 60-byte frames
      expect(ours()).toEqual([]);
    }
  }, 60_000);

  it("refuses a bad duration before creating anything", async () => {
    const { runVethIperf, NetBenchError } = await api();
    if (reason !== null) await expect(runVethIperf("tcp", 1)).rejects.toThrow(NetBenchError); // and says why
    else await expect(runVethIperf("tcp", 0)).rejects.toThrow(/seconds must be a whole number/);
  });
});
