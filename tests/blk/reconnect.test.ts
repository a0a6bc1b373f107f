// Reconnecting after a disconnect, as Linux's block drivers do (found by `xenwasm fuzz`, targets
// blkback and blkfront, persona flapper):
// - blkback: a frontend that closed and goes Initialising again gets InitWait (Linux's
//   frontend_changed, "prepare for reconnect"); before the fix it stayed Closed for good.
// - blkfront: a stopped device gives back its ring grants, bounce pages, descriptor pages and
//   ports once the backend lets go of them (Linux's blkif_free); before the fix every disconnect
//   leaked them (the victim's grant refs in use never went back).
// - blkfront: a device attached again while the backend is still Closed waits for InitWait; before
//   the fix it took that Closed for a disconnect and closed at once.
// The fuzz guests (build/fuzz/) are run with only the flapper persona, which makes one end close
// while connected, over and over.
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/env.js";

const target = () => import("../../dist/bindings/fuzz/target.js");

async function run(which: "blkback" | "blkfront", runner: "deterministic" | "threads") {
  const t = await target();
  const ctx = { seed: 3, steps: 2000, runner, root: ROOT };
  const cmdline = t.fuzzCmdline(ctx, "fuzz.personas=flapper");
  const lines: string[] = [];
  const onConsole = (l: { domain: string; text: string }) => { lines.push(`[${l.domain}] ${l.text}`); };
  const spec = which === "blkback"
    ? { config: { guests: [{ wasm: t.fuzzWasm(ctx, "blkback"), name: "fuzzer", cmdline }], disks: [{ ramBytes: 1 << 20 }, { ramBytes: 1 << 20 }], onConsole }, fuzzer: "fuzzer", victims: ["dom0"] }
    : { config: { guests: [{ wasm: t.fuzzWasm(ctx, "blk_victim"), name: "victim", cmdline }], disks: [{ ramBytes: 1 << 20 }], backend: { wasm: t.fuzzWasm(ctx, "blkfront"), cmdline }, onConsole }, fuzzer: "dom0", victims: ["victim"], stopAfterReport: ["victim"] };
  const o = await t.runFuzzSystem(which, ctx, spec);
  return { counts: o.counts, notes: o.notes, out: lines.join("\n") };
}

function connections(out: string, re: RegExp): number {
  const m = re.exec(out);
  return m ? Number(m[1]) : 0;
}

describe.each(["deterministic", "threads"] as const)("under the %s runner", (runner) => {
  it("blkback goes back to InitWait each time its frontend closes and starts again", async () => {
    const r = await run("blkback", runner);
    expect(r.notes).toEqual([]);
    expect(r.counts).toMatchObject({ steps: 2000, wrong: 0, held: 0, lost: 0, victimTraps: 0, outsideGrants: 0, harnessExceptions: 0 });
    // The flapper closed xvda several times; each time the fuzzer connected again.
    expect(connections(r.out, /blkback fuzzer: (\d+) connections of xvda/)).toBeGreaterThan(3);
  }, 120_000);

  it("blkfront gives back every grant after each disconnect and attaches again while the backend is Closed", async () => {
    const r = await run("blkfront", runner);
    expect(r.notes).toEqual([]);
    expect(r.counts).toMatchObject({ steps: 2000, wrong: 0, held: 0, victimTraps: 0, outsideGrants: 0, harnessExceptions: 0 });
    // At least one disconnect and a second connection (before the fix the re-attach closed itself).
    expect(connections(r.out, /blk victim: \d+ completions \(\d+ failed\), (\d+) connections/)).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
