// `xenwasm bench event` (docs/benchmarks.md): both native references (the plain hand-off, and
// Xen's 2-level and FIFO protocols in C) hand the counter off and check it (a corrupted value
// fails them), the xenwasm side makes exactly the round trips asked with a notification each
// way, and the command prints every row with both ratios. No timing is asserted.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";

const gcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
const ev = () => import(join(ROOT, "dist/bindings/bench/event.js"));
const native = async (name = "event") => (await import(join(ROOT, "dist/bindings/bench/native.js"))).buildNative(name) as string;
const xenwasm = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });

describe("bench event", () => {
  it.skipIf(skipWithout(gcc)).each(["event", "spin"])("the native reference makes the round trips, two notifications each (%s)", async (mode) => {
    const { runNativeEvent } = await ev();
    const s = runNativeEvent(await native(), { mode, roundTrips: 5000, evtchn: "fifo" });
    expect(s.roundTrips).toBe(5000);
    expect(s.notifies).toBe(10000);
  });

  it.skipIf(skipWithout(gcc))("the native reference fails on a wrong counter, in one line", async () => {
    const r = spawnSync(await native(), ["--round-trips", "100", "--mode", "event", "--corrupt", "7"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("event: ping: expected 16, got 21\n");
    expect(spawnSync(await native(), ["--mode", "event"], { encoding: "utf8" }).status).toBe(2);
  });

  it.skipIf(skipWithout(gcc)).each([["event", "fifo"], ["spin", "fifo"], ["event", "2l"], ["spin", "2l"]])("the Xen-protocol reference makes the round trips, two notifications each (%s, %s)", async (mode, abi) => {
    const { runNativeEvent } = await ev();
    const s = runNativeEvent(await native("xen_event"), { mode, roundTrips: 5000, evtchn: abi }, undefined, abi);
    expect(s.roundTrips).toBe(5000);
    expect(s.notifies).toBe(10000);
  });

  it.skipIf(skipWithout(gcc)).each(["fifo", "2l"])("the Xen-protocol reference fails on a wrong counter, in one line (%s)", async (abi) => {
    const bin = await native("xen_event");
    const r = spawnSync(bin, ["--round-trips", "100", "--mode", "spin", "--abi", abi, "--corrupt", "7"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("xen_event: ping: expected 16, got 22\n");
    expect(spawnSync(bin, ["--round-trips", "100", "--mode", "spin"], { encoding: "utf8" }).status, "--abi is required").toBe(2);
    expect(spawnSync(bin, ["--round-trips", "100", "--mode", "spin", "--abi", "3l"], { encoding: "utf8" }).status).toBe(2);
  });

  it.each([["event", "fifo"], ["spin", "fifo"], ["event", "2l"]])("xenwasm's pingpong makes exactly the round trips asked (%s, %s)", async (mode, evtchn) => {
    const { runXenwasmEvent } = await ev();
    const s = await runXenwasmEvent({ mode, roundTrips: 3000, evtchn });
    expect(s.roundTrips).toBe(3000);
    expect(s.seconds).toBeGreaterThan(0);
    expect(s.notifies, "a notification each way per round trip").toBeGreaterThanOrEqual(6000);
  }, 60_000);

  it("the command prints the plain native row once, then per event ABI the Xen-protocol row and xenwasm's, with both ratios", () => {
    const r = xenwasm("bench", "event", "--mode", "event", "--round-trips", "2000", "--runs", "1", "--json");
    expect(r.status, r.stderr).toBe(0);
    type Row = { impl: string; evtchn: string | null; us_per_round_trip: number; ratio_vs_native?: number; ratio_vs_native_abi?: number };
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows.map((x) => [x.impl, x.evtchn])).toEqual([["native-c", null], ["native-c", "fifo"], ["xenwasm", "fifo"], ["native-c", "2l"], ["xenwasm", "2l"]]);
    const plain = rows[0];
    for (const x of rows.filter((y) => y.impl === "xenwasm")) {
      const same = rows.find((y) => y.impl === "native-c" && y.evtchn === x.evtchn)!;
      expect(x.ratio_vs_native).toBeCloseTo(x.us_per_round_trip / plain.us_per_round_trip, 6);
      expect(x.ratio_vs_native_abi).toBeCloseTo(x.us_per_round_trip / same.us_per_round_trip, 6);
    }
    expect(r.stderr).toMatch(/^impl +mode +evtchn +round trips +runs +us\/round trip +round trips\/s +vs native +vs native same ABI/m);
  }, 120_000);
});
