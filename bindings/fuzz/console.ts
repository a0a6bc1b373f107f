// Target "console": fuzz/console.ts abuses the console (garbage, endless lines, bad pointers, a
// corrupt ring, rewrites, notify storms) beside fuzz/steady.ts, whose numbered lines must all
// arrive, whole and in order.
import { runFuzzSystem, type FuzzTarget } from "./target.js";
import { SteadyLines, besideSteady } from "./steady.js";

/** The console under garbage, endless lines, bad pointers, a corrupt ring and storms, beside a steady guest. */
export const consoleTarget: FuzzTarget = {
  name: "console",
  summary: "a guest floods and corrupts its console (console_io and its ring) beside a steady guest whose lines must arrive whole",
  run: (ctx) => {
    const steady = new SteadyLines();
    return runFuzzSystem("console", ctx, { ...besideSteady(ctx, "console"), onVictimLine: (l) => steady.line(l), check: () => steady.result() });
  },
};
