// `xenwasm bench ring` as a smoke test: tiny request counts, both modes, a few configurations.
// It checks that the report is complete (every key, finite numbers, the requests asked for) and
// that a wrong answer fails the run, for the guests and for the native reference alike. Never a
// timing assertion: CI machines are noisy. The native reference needs gcc: outside CI the tests
// that need it are skipped without it; under CI=true they run and fail (tests/helpers/env.ts).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";

const gcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;

function xenwasm(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 110_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const KEYS = ["impl", "slot", "ring_pages", "ring_size", "qd", "mode", "requests", "runs", "seconds", "req_per_s", "notifies_per_req",
  "notifies_front", "notifies_back", "runs_req_per_s"];

type Row = Record<string, unknown>;

/** Every key present, every number finite and sane, the workload as asked. */
function checkRow(r: Row, want: { requests: number; runs: number }): void {
  for (const k of KEYS) expect(r, `key ${k}`).toHaveProperty(k);
  expect(["xenwasm", "native-c"]).toContain(r.impl);
  expect(["poll", "event"]).toContain(r.mode);
  for (const k of ["slot", "ring_pages", "ring_size", "qd", "requests", "runs", "seconds", "req_per_s", "notifies_per_req", "notifies_front", "notifies_back"]) {
    expect(Number.isFinite(r[k]), `${k} = ${r[k]} is a finite number`).toBe(true);
    expect(r[k] as number).toBeGreaterThanOrEqual(0);
  }
  expect(r.requests).toBe(want.requests);
  expect(r.runs).toBe(want.runs);
  expect(r.seconds as number).toBeGreaterThan(0);
  expect(r.req_per_s as number).toBeCloseTo((r.requests as number) / (r.seconds as number), 3);
  expect(r.runs_req_per_s as number[]).toHaveLength(want.runs);
  if (r.mode === "poll") expect(r.notifies_per_req).toBe(0); // nobody sleeps, nobody notifies
  else expect(r.notifies_per_req as number).toBeGreaterThan(0); // at least the first request woke the back
  expect(r.qd as number).toBeLessThanOrEqual(r.ring_size as number);
}

describe("xenwasm bench ring", () => {
  it.skipIf(skipWithout(gcc))("reports both implementations for every configuration (--json), with ratios", () => {
    const requests = 3000, runs = 1;
    const r = xenwasm(["bench", "ring", "--json", "--requests", String(requests), "--runs", String(runs), "--mode", "poll,event", "--qd", "1,32"]);
    expect(r.stderr, "progress and table go to stderr").toMatch(/^impl +mode +slot/m);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows).toHaveLength(2 * 2 * 2); // 2 qd x 2 modes x 2 implementations
    for (const row of rows) checkRow(row, { requests, runs });
    for (const qd of [1, 32]) for (const mode of ["poll", "event"]) {
      const pair = rows.filter((x) => x.qd === qd && x.mode === mode);
      expect(pair.map((x) => x.impl)).toEqual(["native-c", "xenwasm"]);
      const [native, xw] = pair;
      expect(xw.ratio_vs_native as number).toBeCloseTo((xw.req_per_s as number) / (native.req_per_s as number), 6);
      if (mode === "event") expect(Number.isFinite(xw.notifies_ratio_vs_native)).toBe(true);
      expect(native).not.toHaveProperty("ratio_vs_native");
    }
  });

  it.skipIf(skipWithout(gcc))("runs multi-page rings whose slots straddle pages, and prints the table on stdout", () => {
    // 104-byte slots over 2 pages: 64 slots, slot 38 spans ring bytes 4016..4119.
    const r = xenwasm(["bench", "ring", "--requests", "2000", "--runs", "2", "--slot", "104", "--ring-pages", "2", "--qd", "64", "--mode", "poll,event"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^impl +mode +slot +pages +qd +requests +runs +req\/s +vs native +notifies\/req +vs native$/);
    expect(lines).toHaveLength(2 + 4);
    expect(lines.slice(2).map((l) => l.split(/ +/).slice(0, 2).join(" "))).toEqual(["native-c poll", "xenwasm poll", "native-c event", "xenwasm event"]);
    for (const l of lines.slice(2)) expect(l).toMatch(/ 104 +2 +64 +2000 +2 /);
    expect(r.stderr).toMatch(/xenwasm: bench ring: xenwasm event slot=104 pages=2 qd=64: run 2\/2: /);
  });

  it("without gcc: says so in one line and reports xenwasm alone (ratio null)", () => {
    const cache = mkdtempSync(join(tmpdir(), "xenwasm-nogcc-"));
    try {
      const r = xenwasm(["bench", "ring", "--json", "--requests", "1000", "--runs", "1", "--mode", "event"], { PATH: "/nonexistent", XENWASM_CACHE_DIR: cache });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.split("\n").filter((l) => /gcc/.test(l))).toEqual(["xenwasm: bench ring: gcc not found: the native C reference is skipped, xenwasm is reported alone"]);
      const rows = JSON.parse(r.stdout) as Row[];
      expect(rows.map((x) => x.impl)).toEqual(["xenwasm"]);
      checkRow(rows[0], { requests: 1000, runs: 1 });
      expect(rows[0].ratio_vs_native).toBeNull();
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("--impl xenwasm runs the guests alone", () => {
    const r = xenwasm(["bench", "ring", "--json", "--impl", "xenwasm", "--requests", "500", "--runs", "1", "--mode", "poll"]);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows.map((x) => [x.impl, x.mode])).toEqual([["xenwasm", "poll"]]);
    expect(rows[0].ratio_vs_native).toBeNull();
  });
});

describe("bench ring: a wrong answer fails the run", () => {
  const guest = "build/examples/ringbench.wasm";
  it.each(["poll", "event"])("the front guest checks every response (%s mode)", (mode) => {
    const spin = mode === "poll" ? ["--spin"] : [];
    const r = xenwasm(["run", "--runner", "threads", ...spin,
      "--cmdline", `front peer=2 slot=112 pages=1 qd=32 n=1000 mode=${mode}`, guest,
      "--cmdline", `back peer=1 slot=112 pages=1 n=1000 mode=${mode} corrupt=777`, guest]);
    expect(r.stdout).toMatch(/\[ringbench\.1\] ringbench: response 777: payload word 12 differs from the request's echo\n/);
    expect(r.stdout).not.toMatch(/front done/);
    expect(r.status).not.toBe(0);
  });

  it("the front guest checks response ids (8-byte slots: the id is the whole request)", () => {
    const r = xenwasm(["run", "--runner", "threads", "--cmdline", "front peer=2 slot=8 pages=1 qd=100 n=300 mode=event", guest,
      "--cmdline", "back peer=1 slot=8 pages=1 n=300 mode=event corrupt=250", guest]);
    expect(r.stdout).toMatch(/ringbench: response 250: id 506 \(out of order or corrupt\)/); // 250 ^ 0x100
    expect(r.status).not.toBe(0);
  });

  it.skipIf(skipWithout(gcc))("the native reference checks every response too", async () => {
    const { buildNative } = await import("../../dist/bindings/bench/native.js");
    const bin = buildNative("ring") as string;
    for (const mode of ["poll", "event"]) {
      const ok = spawnSync(bin, ["--mode", mode, "--requests", "1000"], { encoding: "utf8" });
      expect(ok.stdout).toMatch(/^requests=1000 ns=\d+ notifies_front=\d+ notifies_back=\d+ ring_size=32\n$/);
      const bad = spawnSync(bin, ["--mode", mode, "--requests", "1000", "--corrupt", "777"], { encoding: "utf8" });
      expect(bad.stderr).toBe("ring: response 777: payload word 12 differs from the request's echo\n");
      expect(bad.status).toBe(1);
    }
  });
});

describe("xenwasm bench: wrong arguments get one line and status 2", () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^xenwasm: bench: which benchmark\? \(xenwasm bench ring\|blk\|net\|event \[options\]\)$/],
    [["disk"], /^xenwasm: bench: unknown benchmark 'disk' \(expected 'ring', 'blk', 'net' or 'event'\)$/],
    [["ring", "--frob"], /^xenwasm: bench ring: unknown option '--frob'$/],
    [["ring", "extra"], /^xenwasm: bench ring: unexpected argument 'extra'$/],
    [["ring", "--slot"], /^xenwasm: bench ring: --slot needs a value$/],
    [["ring", "--slot", "--json"], /^xenwasm: bench ring: --slot needs a value$/],
    [["ring", "--slot", "100"], /^xenwasm: bench ring: --slot must be a multiple of 8 .*, not '100'$/],
    [["ring", "--slot", "4"], /^xenwasm: bench ring: --slot must be a whole number from 8 to 4032, not '4'$/],
    [["ring", "--slot", "112,x"], /^xenwasm: bench ring: --slot must be a whole number from 8 to 4032 \(in a comma-separated list\), not 'x'$/],
    [["ring", "--ring-pages", "17"], /^xenwasm: bench ring: --ring-pages must be a whole number from 1 to 16, not '17'$/],
    [["ring", "--qd", "0"], /^xenwasm: bench ring: --qd must be a whole number from 1 to 4096, not '0'$/],
    [["ring", "--qd", "33"], /^xenwasm: bench ring: --qd 33 exceeds the ring's 32 slots \(--slot 112 --ring-pages 1\)$/],
    [["ring", "--requests", "-5"], /^xenwasm: bench ring: --requests must be a whole number from 1 to 2147483648, not '-5'$/],
    [["ring", "--runs", "0"], /^xenwasm: bench ring: --runs must be a whole number from 1 to 100, not '0'$/],
    [["ring", "--mode", "busy"], /^xenwasm: bench ring: --mode must be 'poll' or 'event', not 'busy'$/],
    [["ring", "--impl", "rust"], /^xenwasm: bench ring: --impl must be 'native-c' or 'xenwasm', not 'rust'$/],
  ];
  it.each(cases)("xenwasm bench %j", (args, message) => {
    const r = xenwasm(["bench", ...args]);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.status).toBe(2);
  });
});
