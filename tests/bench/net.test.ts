// `xenwasm bench net` (docs/benchmarks.md): its xenwasm runs check every frame (a wrong byte
// fails the run), its counters are plausible for the workload, and the command prints the
// table or JSON with the native reference and Linux's veth path beside xenwasm. Figures are not
// asserted: these are correctness tests of the benchmark.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, IN_CI } from "../helpers/env.js";
import { runXenwasmNet, NET_FRAME_LEN, type NetConfig, type NetResult } from "../../dist/bindings/bench/net.js";
import { vethUnavailable } from "../../dist/bindings/bench/net-native.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("bench net's xenwasm side", () => {
  const cases: NetConfig[] = [
    { workload: "guest-guest", size: "64", mode: "event", queues: 1, frames: 3000 },
    { workload: "guest-guest", size: "1514", mode: "event", queues: 2, frames: 2000 },
    { workload: "guest-guest", size: "gso", mode: "event", queues: 1, frames: 40 },
    { workload: "guest-sink", size: "64", mode: "event", queues: 2, frames: 3000 },
    { workload: "guest-sink", size: "gso", mode: "poll", queues: 1, frames: 40 },
  ];
  it.each(cases)("$workload $size $mode q=$queues: every frame verified, counters plausible", async (cfg) => {
    const s = await runXenwasmNet(cfg);
    const len = NET_FRAME_LEN[cfg.size];
    expect(s.frames).toBe(cfg.frames);
    // GSO frames count their TCP payload (the frame less 54 bytes of headers).
    expect(s.bytes).toBe(cfg.frames * (cfg.size === "gso" ? len - 54 : len));
    expect(s.seconds).toBeGreaterThan(0);
    // Each frame is copied once into its receiver (guest or sink), besides the header peek.
    expect(s.bytesCopied).toBeGreaterThanOrEqual(cfg.frames * len);
    expect(s.grantOps).toBeGreaterThanOrEqual(cfg.frames);
    if (cfg.mode === "event") expect(s.notifies).toBeGreaterThan(0);
  }, 60_000);

  it("a frame that does not match its pattern fails the run (the sink checks every byte)", () => {
    // The sink expects seed 8, the sender sends seed 7: the first frame is wrong.
    const r = xenwasm("run", "--runner", "threads", "--backend-cmdline", "net-sink=00:16:3e:00:00:00 sink-n=100 sink-seed=8", "--vif", "on",
      "--cmdline", "role=send to=00:16:3e:00:00:00 n=100 min=64 max=64 seed=7", "build/tests/net_pattern.wasm");
    expect(r.stdout).toContain("[dom0] sink: corrupted data frame 0 (expected 0)");
    expect(r.status).not.toBe(0);
  }, 60_000);
});

describe("xenwasm bench net", () => {
  it("prints the native reference, xenwasm with its ratio, and Linux's veth path as JSON", () => {
    const linux = vethUnavailable();
    if (IN_CI) expect(linux, "CI runs as root with ip and iperf3 installed").toBeNull();
    const r = xenwasm("bench", "net", "--workload", "guest-sink", "--size", "64", "--mode", "event", "--frames", "20000", "--runs", "1", "--linux-seconds", "1", "--json");
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as NetResult[];
    const native = rows.find((x) => x.impl === "native-c")!, xw = rows.find((x) => x.impl === "xenwasm")!;
    expect(native.frames).toBe(20000);
    expect(xw).toMatchObject({ workload: "guest-sink", size: "64", frame_len: 64, mode: "event", queues: 1, frames: 20000, runs: 1 });
    expect(xw.ratio_vs_native).toBeCloseTo(xw.frames_per_s / native.frames_per_s, 6);
    expect(xw.gbit_per_s).toBeCloseTo((xw.frames_per_s * 64 * 8) / 1e9, 6);
    expect(r.stderr).toMatch(/^impl +workload +size +mode +q +frames +frames\/s +Gbit\/s +vs native +vs linux/m);
    if (linux === null) {
      const veth = rows.find((x) => x.impl === "linux-veth")!;
      expect(veth.size).toBe("64");
      expect(veth.frames_per_s).toBeGreaterThan(0);
      expect(xw.ratio_vs_linux).toBeCloseTo(xw.frames_per_s / veth.frames_per_s, 6);
      expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout, "the veth namespaces are gone").not.toMatch(/xwb-/);
    } else expect(r.stderr).toContain(`Linux's veth path is not measured: ${linux}`);
  }, 120_000);

  const bad: Array<[string[], RegExp]> = [
    [["--size", "9000"], /^xenwasm: bench net: --size must be '64' or '1514' or 'gso', not '9000'$/],
    [["--queues", "3"], /^xenwasm: bench net: --queues must be a whole number from 1 to 2, not '3'$/],
    [["--workload", "guest-host"], /^xenwasm: bench net: --workload must be 'guest-guest' or 'guest-sink', not 'guest-host'$/],
    [["--frames"], /^xenwasm: bench net: --frames needs a value$/],
    [["--frob"], /^xenwasm: bench net: unknown option '--frob'$/],
  ];
  it.each(bad)("bench net %j: one line, status 2", (args, re) => {
    const r = xenwasm("bench", "net", ...args);
    expect(r.stderr.trim()).toMatch(re);
    expect(r.status).toBe(2);
  });
});
