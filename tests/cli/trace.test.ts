// `xenwasm run --trace FILE.json` as a user runs it, under both runners: the file is Chrome
// trace-event JSON with a track per domain, hypercall and upcall slices, flows that start inside a
// real send and end inside the receiver's upcall, ring and grant-map counters and xenbus states;
// the deterministic runner writes the same file for the same seed.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Ev { name: string; ph: string; ts: number; dur?: number; pid: number; tid: number; id?: number; bp?: string; cat?: string; args?: Record<string, unknown> }

/** Two netping guests pinging through dom0's switch: every kind of event the trace has. */
const NETPING = (runner: string, seed: string, file: string) => ["run", "--runner", runner, "--seed", seed, "--trace", file, "--vif", "on",
  "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 n=3", "build/examples/netping.wasm", "--cmdline", "ip=10.0.0.2 peer=10.0.0.1 n=3", "build/examples/netping.wasm"];

/** Checks the structure and meaning of a trace of NETPING; returns its events. */
function checkTrace(text: string): Ev[] {
  const t = JSON.parse(text) as { traceEvents: Ev[]; otherData: Record<string, unknown> };
  const ev = t.traceEvents;
  expect(t.otherData.dropped).toBe(0);
  // A named track per domain.
  const names = ev.filter((e) => e.ph === "M" && e.name === "process_name").map((e) => `${e.pid} ${e.args!.name}`);
  expect(names).toEqual(["0 dom0 (domain 0)", "1 netping.1 (domain 1)", "2 netping.2 (domain 2)"]);
  for (const e of ev) {
    expect(["X", "s", "f", "C", "i", "M"]).toContain(e.ph);
    expect(Number.isFinite(e.ts) && e.ts >= 0).toBe(true);
    expect([0, 1, 2]).toContain(e.pid);
  }
  const slices = ev.filter((e) => e.ph === "X");
  for (const s of slices) expect(s.dur).toBeGreaterThanOrEqual(0);
  const inside = (e: Ev, pred: (s: Ev) => boolean) => slices.find((s) => s.pid === e.pid && s.tid === e.tid && s.ts <= e.ts && e.ts <= s.ts + s.dur! && pred(s));
  // Hypercall slices by sub-operation, on each domain's vCPU track.
  for (const pid of [0, 1, 2]) {
    const ops = new Set(slices.filter((s) => s.pid === pid && s.cat === "hypercall").map((s) => s.name));
    expect(ops).toContain("EVTCHNOP_send");
  }
  expect(new Set(slices.filter((s) => s.pid === 0 && s.cat === "hypercall").map((s) => s.name))).toContain("GNTTABOP_map_grant_ref");
  // Every flow ends inside an upcall of the domain it was sent to, and starts inside a send by
  // another domain (or the harness's xenstored) or an IPI of the same one.
  const starts = new Map(ev.filter((e) => e.ph === "s").map((e) => [e.id!, e]));
  const ends = ev.filter((e) => e.ph === "f");
  expect(ends.length).toBeGreaterThan(50);
  for (const f of ends) {
    expect(f.bp).toBe("e");
    const s = starts.get(f.id!);
    expect(s, `flow ${f.id} has no start`).toBeDefined();
    expect(Math.floor(f.id! / 2 ** 32)).toBe(f.pid);
    expect(s!.ts).toBeLessThanOrEqual(f.ts);
    expect(inside(f, (x) => x.name === "upcall" || x.name === "start"), `flow ${f.id} ends outside an upcall`).toBeDefined();
    expect(inside(s!, (x) => x.name === "EVTCHNOP_send" || x.cat === "harness"), `flow ${f.id} starts outside a send`).toBeDefined();
  }
  // Real traffic: a guest's sends reach dom0's upcalls and dom0's reach each guest.
  const pairs = new Set(ends.map((f) => `${starts.get(f.id!)!.pid}>${f.pid}`));
  for (const p of ["1>0", "2>0", "0>1", "0>2"]) expect(pairs).toContain(p);
  // Counters: each guest's vif rings moved (requests outstanding at some sample), dom0 mapped grants.
  const counters = ev.filter((e) => e.ph === "C");
  for (const pid of [1, 2]) {
    const tx = counters.filter((c) => c.pid === pid && /^ring vif\/0 (queue-\d )?tx$/.test(c.name));
    expect(tx.length).toBeGreaterThan(0);
  }
  expect(counters.some((c) => c.pid === 0 && c.name === "grant maps" && (c.args!.maps as number) > 0)).toBe(true);
  // xenbus: both frontends and their backends reach Connected.
  const states = ev.filter((e) => e.ph === "i" && e.cat === "xenbus").map((e) => `${e.pid} ${e.name}`);
  for (const s of ["1 vif/0 → Connected", "2 vif/0 → Connected", "0 backend vif/1/0 → Connected", "0 backend vif/2/0 → Connected"]) expect(states).toContain(s);
  return ev;
}

describe("xenwasm run --trace", () => {
  it("deterministic: a structured trace whose flows join real sends to deliveries; the same seed writes the same file", () => {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-trace-"));
    try {
      const files = [1, 2].map((i) => join(dir, `t${i}.json`));
      for (const f of files) {
        const r = xenwasm(...NETPING("deterministic", "11", f));
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toContain(`xenwasm: trace written to ${f}`);
      }
      const [a, b] = files.map((f) => readFileSync(f, "utf8"));
      checkTrace(a);
      expect(b).toBe(a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("threads: the vCPU threads' events and the harness's merge into one structured trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-trace-"));
    try {
      const f = join(dir, "t.json");
      const r = xenwasm(...NETPING("threads", "1", f));
      expect(r.status, r.stderr).toBe(0);
      const ev = checkTrace(readFileSync(f, "utf8"));
      // The harness's own services sit on a thread of their own on dom0's track.
      expect(ev.some((e) => e.pid === 0 && e.tid === 1 && e.ph === "X" && e.name === "xenstored")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npm start -- --trace DIR writes a trace of each of the demo's runs", () => {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-trace-demo-"));
    try {
      const r = xenwasm("demo", "--trace", dir);
      expect(r.status, r.stderr).toBe(0);
      for (const [name, domains] of [["hello", ["hello"]], ["pingpong", ["pingpong.1", "pingpong.2"]], ["diskcopy", ["dom0", "diskcopy"]], ["netping", ["dom0", "netping.1", "netping.2"]]] as const) {
        const t = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as { traceEvents: Ev[] };
        const names = t.traceEvents.filter((e) => e.ph === "M" && e.name === "process_name").map((e) => String(e.args!.name).replace(/ \(domain \d+\)$/, ""));
        for (const d of domains) expect(names, name).toContain(d);
        expect(t.traceEvents.filter((e) => e.ph === "X" && e.name === "upcall").length, name).toBeGreaterThan(0);
      }
      // The disk copy's ring shows requests outstanding at some sample.
      const disk = JSON.parse(readFileSync(join(dir, "diskcopy.json"), "utf8")) as { traceEvents: Ev[] };
      expect(disk.traceEvents.some((e) => e.ph === "C" && /^ring vbd\/\d+( queue-\d+)?$/.test(e.name) && (e.args!.requests as number) > 0)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a trace file in a directory that does not exist, in one line", () => {
    const r = xenwasm("run", "--trace", "/nonexistent-dir/t.json", "build/examples/hello.wasm");
    expect(r.stderr.trim().split("\n")).toEqual(["xenwasm: run: --trace /nonexistent-dir/t.json: its directory is not writable"]);
    expect(r.status).toBe(2);
  });
});
