// The examples and the split drivers under each event-channel ABI (FIFO, 2-level) and grant-table
// version (1, 2), under both runners, chosen as a user does: `xenwasm run --evtchn --gnttab`.
// --stats names the ABIs each domain ended with, so a run that silently fell back would fail.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

const combos = ["deterministic", "threads"].flatMap((runner) => ["fifo", "2l"].flatMap((evtchn) => ["1", "2"].map((gnttab) => ({ runner, evtchn, gnttab }))));
const abiOf = (evtchn: string, gnttab: string) => `${evtchn === "fifo" ? "fifo" : "2-level"} event channels, grant table v${gnttab}`;

describe.each(combos)("--runner $runner --evtchn $evtchn --gnttab $gnttab", ({ runner, evtchn, gnttab }) => {
  const abi = ["--runner", runner, "--evtchn", evtchn, "--gnttab", gnttab, "--stats"];
  const used = abiOf(evtchn, gnttab);

  it("blkfront/blkback verify a pattern on a RAM disk", () => {
    const r = xenwasm("run", ...abi, "--disk", "ram:16M", "--cmdline", "seed=3 ops=300", "build/tests/blk_pattern.wasm");
    expect(r.stdout, r.all).toMatch(/pattern: 300 operations .* sectors verified/);
    expect(r.stderr).toContain(`blk_pattern (1): poweroff, `);
    expect(r.stderr).toMatch(new RegExp(`blk_pattern \\(1\\): poweroff, .* 0 refused grant accesses, ${used}`));
    expect(r.stderr).toMatch(new RegExp(`dom0 \\(0\\): poweroff, .* 0 refused grant accesses, ${used}`));
    expect(r.status).toBe(0);
  });

  it("every example runs: hello, diskcopy, udpecho with netping, ringbench, blkbench", () => {
    const runs: Array<[string[], RegExp]> = [
      [["build/examples/hello.wasm"], /\[hello\] Timer fired after/],
      [["--disk", "ram:1M", "--disk", "ram:1M", "build/examples/diskcopy.wasm"], /diskcopy: copied 1048576 bytes/],
      [["--vif", "on", "--cmdline", "ip=10.0.0.2 count=3", "build/examples/udpecho.wasm", "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 proto=udp n=3", "build/examples/netping.wasm"], /3 packets transmitted, 3 received/],
      [["--cmdline", "front peer=2 slot=112 pages=1 qd=32 n=20000 mode=event", "build/examples/ringbench.wasm", "--cmdline", "back peer=1 slot=112 pages=1 n=20000 mode=event", "build/examples/ringbench.wasm"], /ringbench: front done requests=20000/],
      [["--disk", "ram:16M", "--cmdline", "mode=read bs=4 qd=8 ops=2000", "build/examples/blkbench.wasm"], /blkbench: mode=read .* ops=2000 .* verified=16000/],
    ];
    for (const [args, want] of runs) {
      const r = xenwasm("run", ...abi, ...args);
      expect(r.stdout, r.all).toMatch(want);
      // Every domain, dom0 included, ended with the ABIs asked for.
      const lines = r.stderr.split("\n").filter((l) => / \(\d+\): \w+, \d+ hypercalls/.test(l));
      expect(lines.length, r.all).toBeGreaterThan(0);
      for (const l of lines) expect(l).toContain(used);
      expect(r.status, r.all).toBe(0);
    }
  });

  it("two netfronts ping each other through netback's switch", () => {
    const r = xenwasm("run", ...abi, "--vif", "on",
      "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 n=3", "build/examples/netping.wasm",
      "--cmdline", "ip=10.0.0.2 peer=10.0.0.1 n=3", "build/examples/netping.wasm");
    expect(r.stdout, r.all).toMatch(/\[netping\.1\] 3 packets transmitted, 3 received/);
    expect(r.stdout).toMatch(/\[netping\.2\] 3 packets transmitted, 3 received/);
    expect(r.stderr).toMatch(new RegExp(`netping\\.1 \\(1\\): poweroff, .*${used}`));
    expect(r.status).toBe(0);
  });
});

describe.each(["deterministic", "threads"])("the event ABIs under --runner %s", (runner) => {
  it.each(["fifo", "2l"])("pingpong and the SDK smoke guest with --evtchn %s", (evtchn) => {
    const p = xenwasm("run", "--runner", runner, "--evtchn", evtchn, "--stats",
      "--cmdline", "ping peer=2 n=2000", "build/examples/pingpong.wasm", "--cmdline", "pong peer=1", "build/examples/pingpong.wasm");
    expect(p.stdout, p.all).toMatch(/ping: 2000 round trips/);
    expect(p.stderr).toMatch(new RegExp(`pingpong\\.2 \\(2\\): poweroff, .*${evtchn === "fifo" ? "fifo" : "2-level"} event channels`));
    const s = xenwasm("run", "--runner", runner, "--evtchn", evtchn, "build/tests/sdk_smoke.wasm");
    expect(s.stdout, s.all).toMatch(/sdk_smoke: \d+ checks, 0 failed/);
    expect(s.status).toBe(0);
  });
});

describe("ABI options", () => {
  it("refuses unknown choices with one line", () => {
    for (const [opt, v] of [["--evtchn", "3l"], ["--gnttab", "3"]]) {
      const r = xenwasm("run", opt, v, "build/examples/hello.wasm");
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`run: ${opt} must be`);
    }
  });
});
