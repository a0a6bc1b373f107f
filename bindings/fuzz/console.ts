// Target "console": fuzz/console.ts abuses the console (garbage, endless lines, bad pointers, a
// corrupt ring, rewrites, notify storms) beside fuzz/steady.ts, whose numbered lines must all
// arrive, whole and in order.
import type { ConsoleLine } from "../host/system.js";
import { fuzzCmdline, fuzzWasm, runFuzzSystem, type FuzzTarget } from "./target.js";

/** Counts the steady guest's console lines (among `lines`) that are missing, malformed or out of order. */
export function checkSteadyLines(lines: ConsoleLine[], name = "steady"): { wrong: number; notes: string[] } {
  const notes: string[] = [];
  let next = 1, wrong = 0;
  for (const l of lines) {
    if (l.domain !== name) continue;
    const m = /^steady: round (\d+)$/.exec(l.text);
    if (m) {
      if (Number(m[1]) !== next) { wrong++; notes.push(`${name}: line "${l.text}" where round ${next} was due`); }
      next = Number(m[1]) + 1;
    } else if (!/^steady: \d+ rounds$|^fuzz-report |^fuzz-bad: |^xenbus: /.test(l.text)) {
      wrong++;
      notes.push(`${name}: a line no steady guest prints: ${JSON.stringify(l.text.slice(0, 80))}`);
    }
  }
  if (next === 1) { wrong++; notes.push(`${name}: no round was printed`); }
  return { wrong, notes };
}

/** The console under garbage, endless lines, bad pointers, a corrupt ring and storms, beside a steady guest. */
export const consoleTarget: FuzzTarget = {
  name: "console",
  summary: "a guest floods and corrupts its console (console_io and its ring) beside a steady guest whose lines must arrive whole",
  run: (ctx) => runFuzzSystem("console", ctx, {
    config: {
      guests: [
        { wasm: fuzzWasm(ctx, "steady"), name: "steady", cmdline: fuzzCmdline(ctx) },
        { wasm: fuzzWasm(ctx, "console"), name: "fuzzer", cmdline: fuzzCmdline(ctx) },
      ],
    },
    fuzzer: "fuzzer",
    victims: ["steady"],
    stopAfterReport: ["steady"],
    check: (_, lines) => checkSteadyLines(lines),
  }),
};
