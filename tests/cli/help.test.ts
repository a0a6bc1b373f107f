// The CLI's option tables (bindings/cli/options.ts): `xenwasm help COMMAND` is generated from the
// same table the command parses with, every option of every command appears in it, and the
// parser's mistakes are one line and status 2, with --cmdline kept in order between guests.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

const xenwasm = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT });
const cli = async () => ({
  run: await import(join(ROOT, "dist/bindings/cli/run.js")),
  ring: await import(join(ROOT, "dist/bindings/cli/bench.js")),
  blk: await import(join(ROOT, "dist/bindings/cli/bench-blk.js")),
  net: await import(join(ROOT, "dist/bindings/cli/bench-net.js")),
  init: await import(join(ROOT, "dist/bindings/cli/init.js")),
});

describe("xenwasm help COMMAND", () => {
  it("prints each command's usage from its option table, every option in it", async () => {
    const m = await cli();
    const specs = [m.run.RUN_SPEC, m.ring.BENCH_RING_SPEC, m.blk.BENCH_BLK_SPEC, m.net.BENCH_NET_SPEC, m.init.INIT_SPEC];
    for (const spec of specs) {
      const r = xenwasm("help", ...spec.name.split(" "));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.startsWith(`xenwasm ${spec.name} `)).toBe(true);
      for (const o of spec.options as Array<{ name: string; value?: string }>) expect(r.stdout, `${spec.name} --${o.name}`).toContain(`--${o.name}${o.value ? ` ${o.value}` : ""}`);
    }
    expect(xenwasm("help").stdout).toMatch(/^\s+bench net\s+frames through dom0's switch/m);
  });

  it("a command it does not know is one line and status 2", () => {
    const r = xenwasm("help", "frob");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^xenwasm: help: no command 'frob' \(commands: abi, run, bench ring, bench blk, bench net, bench event, fuzz, init, demo\)\n$/);
  });
});

describe("parsing from the tables", () => {
  it("keeps --cmdline and --vif in order between guests", async () => {
    const { run } = await cli();
    const a = run.parseRunArgs(["--cmdline", "a=1", "x.wasm", "--vif", "on", "y.wasm", "--cmdline=b=2", "--vif", "none", "z.wasm"]);
    expect(a.guests).toEqual([
      { path: "x.wasm", cmdline: "a=1", vif: null },
      { path: "y.wasm", cmdline: "a=1", vif: {} },
      { path: "z.wasm", cmdline: "b=2", vif: null },
    ]);
  });

  const bad: Array<[string[], string]> = [
    [["run", "--stats=1", "x.wasm"], "run: --stats takes no value"],
    [["run", "--seed", "--stats", "x.wasm"], "run: --seed needs a value"],
    [["run", "-x", "x.wasm"], "run: unknown option '-x'"],
    [["bench", "net", "--runs"], "bench net: --runs needs a value"],
    [["init", "a", "b"], "init: unexpected argument 'b'"],
    [["abi", "extra"], "abi: unexpected argument 'extra'"],
  ];
  it.each(bad)("xenwasm %j: one line, status 2", (args, msg) => {
    const r = xenwasm(...args);
    expect(r.stderr).toBe(`xenwasm: ${msg}\n`);
    expect(r.status).toBe(2);
  });
});
