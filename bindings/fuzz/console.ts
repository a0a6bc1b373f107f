// Target "console": fuzz/console.ts abuses the console (garbage, endless lines, bad pointers, a
// corrupt ring, rewrites, notify storms) beside fuzz/steady.ts, whose numbered lines must all
// arrive, whole and in order.
import type { ConsoleLine } from "../host/system.js";
import { fuzzCmdline, fuzzWasm, runFuzzSystem, type FuzzTarget } from "./target.js";

/**
 * Checks the steady guest's console lines as they come: each "steady: round N" must follow the
 * one before, and no line may be one the steady guest does not print. `result()` gives the count
 * of bad lines (and of a run without a round) with notes.
 */
export class SteadyLines {
  private next = 1;
  private wrong = 0;
  private readonly notes: string[] = [];
  constructor(private readonly name = "steady") {}

  /** Takes one console line (of any domain). */
  line(l: ConsoleLine): void {
    if (l.domain !== this.name) return;
    const m = /^steady: round (\d+)$/.exec(l.text);
    if (m) {
      if (Number(m[1]) !== this.next) this.bad(`line "${l.text}" where round ${this.next} was due`);
      this.next = Number(m[1]) + 1;
    } else if (!/^steady: \d+ rounds$|^fuzz-report |^fuzz-bad: |^xenbus: /.test(l.text)) {
      this.bad(`a line no steady guest prints: ${JSON.stringify(l.text.slice(0, 80))}`);
    }
  }

  private bad(what: string): void {
    this.wrong++;
    if (this.notes.length < 10) this.notes.push(`${this.name}: ${what}`);
  }

  /** The wrong lines so far, and a run in which no round arrived. */
  result(): { wrong: number; notes: string[] } {
    return this.next === 1 ? { wrong: this.wrong + 1, notes: [...this.notes, `${this.name}: no round was printed`] } : { wrong: this.wrong, notes: this.notes };
  }
}

/** The console under garbage, endless lines, bad pointers, a corrupt ring and storms, beside a steady guest. */
export const consoleTarget: FuzzTarget = {
  name: "console",
  summary: "a guest floods and corrupts its console (console_io and its ring) beside a steady guest whose lines must arrive whole",
  run: (ctx) => {
    const steady = new SteadyLines();
    return runFuzzSystem("console", ctx, {
      config: {
        guests: [
          { wasm: fuzzWasm(ctx, "steady"), name: "steady", cmdline: fuzzCmdline(ctx) },
          { wasm: fuzzWasm(ctx, "console"), name: "fuzzer", cmdline: fuzzCmdline(ctx) },
        ],
      },
      fuzzer: "fuzzer",
      victims: ["steady"],
      stopAfterReport: ["steady"],
      onVictimLine: (l) => steady.line(l),
      check: () => steady.result(),
    });
  },
};
