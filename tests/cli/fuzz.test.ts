// `xenwasm fuzz` as a user runs it: every target under both runners with a random seed (logged,
// XENWASM_SEED repeats it) prints zeros in every must-be-zero column, and injects and detects
// violations, also with injected faults; a wrong argument is one line. runFuzzSystem counts a
// crashed victim and a fuzzer that never reports, and the report of a run that breaks the rule
// names the counts, explains them and prints the command that repeats the run.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";
import { runFuzzSystem, MUST_BE_ZERO } from "../../bindings/fuzz/target.js";
import { TARGETS } from "../../bindings/fuzz/targets.js";
import { explainFailures } from "../../bindings/cli/fuzz.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT, timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("xenwasm fuzz", () => {
  it("runs every target under both runners for 1000 steps with zeros in every must-be-zero column", () => {
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`xenwasm fuzz: seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    const r = xenwasm("fuzz", "--target", "all", "--steps", "1000", "--seed", String(seed), "--json");
    expect(r.stderr).toContain(`xenwasm: fuzz: seed ${seed}, 1000 steps per target and runner`);
    const rows = JSON.parse(r.stdout) as Array<Record<string, number | string>>;
    expect(rows.map((x) => `${x.target}/${x.runner}`)).toEqual(TARGETS.flatMap((t) => [`${t.name}/deterministic`, `${t.name}/threads`]));
    for (const row of rows) {
      for (const k of MUST_BE_ZERO) expect(row[k], `${row.target} ${row.runner} ${k}: ${JSON.stringify(row.notes)}`).toBe(0);
      expect(row.steps, `${row.target} ${row.runner}`).toBeGreaterThanOrEqual(1000);
      expect(row.injected, `${row.target} ${row.runner}`).toBeGreaterThan(0);
      expect(row.detected, `${row.target} ${row.runner}`).toBeGreaterThan(0);
      expect(row.seed).toBe(seed);
    }
    expect(r.status).toBe(0);
  });

  it("keeps every must-be-zero column at zero with 5% of the victims' faultable hypercalls failing", () => {
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`xenwasm fuzz --faults 5: seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    const r = xenwasm("fuzz", "--target", "all", "--steps", "500", "--seed", String(seed), "--faults", "5", "--json");
    const rows = JSON.parse(r.stdout) as Array<Record<string, number | string>>;
    expect(rows.map((x) => `${x.target}/${x.runner}`)).toEqual(TARGETS.flatMap((t) => [`${t.name}/deterministic`, `${t.name}/threads`]));
    for (const row of rows) for (const k of MUST_BE_ZERO) expect(row[k], `${row.target} ${row.runner} ${k}: ${JSON.stringify(row.notes)}`).toBe(0);
    // Faults were injected (into the victims only: the fuzzers run unharmed).
    expect(rows.reduce((n, row) => n + Number(row.faults), 0)).toBeGreaterThan(0);
    expect(r.status).toBe(0);
  });

  it("refuses a wrong argument in one line", () => {
    for (const [args, msg] of [
      [["--target", "nope"], "xenwasm: fuzz: --target must be"],
      [["--steps", "0"], "xenwasm: fuzz: --steps must be a whole number from 1"],
      [["--runner", "fast"], "xenwasm: fuzz: --runner must be 'deterministic' or 'threads', not 'fast'"],
      [["--faults", "101"], "xenwasm: fuzz: --faults must be a whole number from 0 to 100, not '101'"],
      [["extra"], "xenwasm: fuzz: unexpected argument 'extra'"],
    ] as const) {
      const r = xenwasm("fuzz", ...args);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(msg);
      expect(r.status).toBe(2);
    }
  });
});

describe("runFuzzSystem and the failure report", () => {
  it("count a victim that crashes and a fuzzer that never reports, and name them with the command that repeats the run", async () => {
    const o = await runFuzzSystem("hypercall", { seed: 1, steps: 10, runner: "deterministic", root: ROOT }, {
      config: { guests: [{ wasm: join(ROOT, "build/tests/crash.wasm"), name: "victim" }, { wasm: join(ROOT, "build/examples/hello.wasm"), name: "fuzzer" }] },
      fuzzer: "fuzzer",
      victims: ["victim"],
    });
    expect(o.counts.victimTraps).toBe(1);
    expect(o.counts.harnessExceptions).toBe(1);
    expect(o.notes.join("\n")).toMatch(/victim victim crashed: .*\n.*the fuzzer fuzzer did not report \(poweroff/);
    const lines: string[] = [];
    const clean = { ...o, target: "console", counts: { ...o.counts, victimTraps: 0, harnessExceptions: 0 }, runner: "threads" };
    expect(explainFailures([{ ...o, runner: "deterministic" }, clean], { seed: 77, steps: 10, faults: 3 }, (l) => lines.push(l))).toBe(1);
    expect(lines[0]).toBe("xenwasm: fuzz: hypercall (deterministic): victimTraps 1, harnessExceptions 1");
    expect(lines.slice(1, -1).join("\n")).toMatch(/victim victim crashed/);
    expect(lines.at(-1)).toBe("  repeat with: npx xenwasm fuzz --target hypercall --runner deterministic --seed 77 --steps 10 --faults 3");
  });
});
