// The steady guest (fuzz/steady.ts) as the victim of the hypercall, console and xenstore
// targets: the system that runs a fuzzer guest beside it, and the check of its console lines.
import type { ConsoleLine } from "../host/system.js";
import { fuzzCmdline, fuzzWasm, type FuzzContext, type FuzzSystemSpec } from "./target.js";

/**
 * The system of a target whose fuzzer guest (build/fuzz/`fuzzer`.wasm, domain 2, named "fuzzer")
 * runs beside the steady guest (domain 1, the victim, stopped once the fuzzer has reported).
 */
export function besideSteady(ctx: FuzzContext, fuzzer: string, fuzzerCmdline = fuzzCmdline(ctx)): FuzzSystemSpec {
  return {
    config: {
      guests: [
        { wasm: fuzzWasm(ctx, "steady"), name: "steady", cmdline: fuzzCmdline(ctx) },
        { wasm: fuzzWasm(ctx, fuzzer), name: "fuzzer", cmdline: fuzzerCmdline },
      ],
    },
    fuzzer: "fuzzer",
    victims: ["steady"],
    stopAfterReport: ["steady"],
  };
}

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
