// `xenwasm bench event` (docs/benchmarks.md): the native reference hands the counter off and
// checks it (a corrupted value fails it), the xenwasm side makes exactly the round trips asked
// with a notification each way, and the command prints both rows with the ratio. No timing is
// asserted.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";

const gcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
const ev = () => import(join(ROOT, "dist/bindings/bench/event.js"));
const native = async () => (await import(join(ROOT, "dist/bindings/bench/native.js"))).buildNative("event") as string;
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

  it.each([["event", "fifo"], ["spin", "fifo"], ["event", "2l"]])("xenwasm's pingpong makes exactly the round trips asked (%s, %s)", async (mode, evtchn) => {
    const { runXenwasmEvent } = await ev();
    const s = await runXenwasmEvent({ mode, roundTrips: 3000, evtchn });
    expect(s.roundTrips).toBe(3000);
    expect(s.seconds).toBeGreaterThan(0);
    expect(s.notifies, "a notification each way per round trip").toBeGreaterThanOrEqual(6000);
  }, 60_000);

  it("the command prints the native row once and xenwasm's for each event ABI, with its ratio", () => {
    const r = xenwasm("bench", "event", "--mode", "event", "--round-trips", "2000", "--runs", "1", "--json");
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ impl: string; evtchn: string | null; us_per_round_trip: number; ratio_vs_native?: number }>;
    expect(rows.map((x) => [x.impl, x.evtchn])).toEqual([["native-c", null], ["xenwasm", "fifo"], ["xenwasm", "2l"]]);
    const n = rows[0];
    for (const x of rows.slice(1)) expect(x.ratio_vs_native).toBeCloseTo(x.us_per_round_trip / n.us_per_round_trip, 6);
    expect(r.stderr).toMatch(/^impl +mode +evtchn +round trips +runs +us\/round trip/m);
  }, 120_000);
});
