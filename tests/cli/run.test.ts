// `xenwasm run` as a user runs it, under both runners: consoles, exit status, crash
// containment, hostile input, determinism, and one-line errors for wrong arguments.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const guest = (name: string) => `build/tests/${name}.wasm`;

describe.each(["deterministic", "threads"])("xenwasm run --runner %s", (runner) => {
  it("boots a hand-written WAT guest: console, timer, poweroff, exit 0", () => {
    const r = xenwasm("run", "--runner", runner, guest("timer"));
    expect(r.stdout).toBe("[timer] hello from a WAT guest\n[timer] timer fired: powering off\n");
    expect(r.status).toBe(0);
  });

  it("boots the hand-written FIFO and grant-v2 WAT guest (docs/ABI.md alone): sub-page copy, FIFO upcall", () => {
    const r = xenwasm("run", "--runner", runner, "--stats", guest("fifo_v2"));
    expect(r.stdout).toBe("[fifo_v2] fifo/v2 WAT guest\n[fifo_v2] sub-page grant ok\n[fifo_v2] fifo upcall: ipi delivered\n");
    expect(r.stderr).toMatch(/fifo_v2 \(1\): poweroff, .* 0 refused grant accesses, fifo event channels, grant table v2/);
    expect(r.status).toBe(0);
  });

  it("contains a crashing guest: reported by name, the others finish, exit 1", () => {
    const r = xenwasm("run", "--runner", runner, guest("crash"), guest("timer"), guest("hostile"));
    expect(r.stderr).toMatch(/xenwasm: domain crash \(1\) crashed: trap: memory access out of bounds/);
    expect(r.stdout).toContain("[crash] about to crash\n");
    expect(r.stdout).toContain("[timer] timer fired: powering off\n");
    expect(r.stdout).toContain("[hostile] hostile guest: every misuse refused\n");
    expect(r.status).toBe(1);
  });

  it("reports a domain idle forever instead of hanging (exit 4)", () => {
    const r = xenwasm("run", "--runner", runner, guest("idle"), guest("timer"));
    expect(r.stdout).toContain("[idle] waiting forever\n");
    expect(r.stdout).toContain("[timer] timer fired: powering off\n");
    expect(r.stderr).toMatch(/run stopped: every domain is idle with no event pending and no timer armed: idle$/m);
    expect(r.status).toBe(4);
  });

  it("runs the SDK's hello: console ring, pvclock, timer", () => {
    const r = xenwasm("run", "--runner", runner, "--cmdline", "greeting", "build/examples/hello.wasm");
    expect(r.stdout).toMatch(/^\[hello\] Hello from xenwasm\n/);
    expect(r.stdout).toMatch(/cmdline "greeting"/);
    expect(r.stdout).toMatch(/\[hello\] Timer fired after (\d+)\.\d+ ms; powering off\n$/);
    const ms = Number(r.stdout.match(/Timer fired after (\d+\.\d+) ms/)![1]);
    expect(ms).toBeGreaterThanOrEqual(10);
    expect(r.status).toBe(0);
  });

  it("runs pingpong: two domains, a grant and event channels, N round trips", () => {
    const r = xenwasm("run", "--runner", runner, "--stats", "--cmdline", "ping peer=2 n=500", "build/examples/pingpong.wasm", "--cmdline", "pong peer=1", "build/examples/pingpong.wasm");
    expect(r.stdout).toMatch(/\[pingpong\.1\] ping: 500 round trips in/);
    expect(r.stdout).toMatch(/\[pingpong\.2\] pong: 500 round trips in/);
    expect(r.stderr).toMatch(/pingpong\.1 \(1\): poweroff, .* 0 refused grant accesses/);
    expect(r.stderr).toMatch(/pingpong\.2 \(2\): poweroff, .* 0 refused grant accesses/);
    expect(r.status).toBe(0);
  });

  it("runs the SDK smoke guest: frames, event channels, grants, timers", () => {
    const r = xenwasm("run", "--runner", runner, "build/tests/sdk_smoke.wasm");
    expect(r.stdout).toMatch(/0 failed/);
    expect(r.status).toBe(0);
  });

  it("answers a hostile guest's misuse with Xen's codes and keeps running", () => {
    const r = xenwasm("run", "--runner", runner, "--stats", guest("hostile"));
    expect(r.stdout).toBe("[hostile] hostile guest: every misuse refused\n");
    expect(r.stderr).toMatch(/hostile \(1\): poweroff, \d+ hypercalls, \d+ events, 1 refused grant accesses/);
    expect(r.status).toBe(0);
  });
});

describe("threaded runner polling mode", () => {
  it("runs the same guest with spinning vCPUs", () => {
    const r = xenwasm("run", "--runner", "threads", "--spin", guest("timer"));
    expect(r.stdout).toBe("[timer] hello from a WAT guest\n[timer] timer fired: powering off\n");
    expect(r.status).toBe(0);
  });
});

describe("deterministic runner", () => {
  it("repeats a run exactly for the same seed (output and event trace)", () => {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-det-"));
    try {
      const runs = [1, 2].map((i) => {
        const trace = join(dir, `t${i}`);
        const r = xenwasm("run", "--seed", "42", "--event-order", trace, guest("timer"), guest("hostile"), guest("timer"));
        return { ...r, trace: readFileSync(trace, "utf8") };
      });
      console.log(`determinism: seed 42, ${runs[0].trace.split("\n").length} trace lines`);
      expect(runs[0].status).toBe(0);
      expect(runs[1].stdout).toBe(runs[0].stdout);
      expect(runs[1].trace).toBe(runs[0].trace);
      expect(runs[0].trace).toMatch(/timer 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("xenwasm run: wrong arguments get one line and status 2", () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^xenwasm: run: no guest given/],
    [["--frob", guest("timer")], /^xenwasm: run: unknown option '--frob'$/],
    [["--runner", "fast", guest("timer")], /^xenwasm: run: --runner must be 'deterministic' or 'threads', not 'fast'$/],
    [["--mem", "0", guest("timer")], /^xenwasm: run: --mem must be a whole number from 2 to 4096, not '0'$/],
    [["--seed", "x", guest("timer")], /^xenwasm: run: --seed must be a whole number/],
    [["--cmdline"], /^xenwasm: run: --cmdline needs a value$/],
    [["--spin", guest("timer")], /^xenwasm: run: --spin needs --runner threads$/],
    [["no/such.wasm"], /^xenwasm: run: no\/such\.wasm: cannot read guest: ENOENT$/],
    [["README.md"], /^xenwasm: run: README\.md: not a valid WebAssembly module$/],
    [["build/abi/manifest.wasm"], /^xenwasm: run: build\/abi\/manifest\.wasm: not a xenwasm guest: no exported function xen_start/],
  ];
  it.each(cases)("xenwasm run %j", (args, message) => {
    const r = xenwasm("run", ...args);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.status).toBe(2);
  });
});
