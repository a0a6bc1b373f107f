// The fuzz guests' common part: the seeded generator, the command line (fuzz.seed, fuzz.steps,
// fuzz.personas, fuzz.faults) and the counters that `xenwasm fuzz` reads from the one report line a guest
// prints at its end. A fuzzer (the hostile side) counts steps, violations it injected and the
// ones the victim visibly detected; either side counts what must stay zero: wrong answers (a
// victim breaking the protocol), acknowledged writes lost, grants or ports still held after a
// disconnect. Each non-zero count also prints one "fuzz-bad:" line saying what happened.
import { cmdlineGet, cmdlineGetU32, printk, puts, putu } from "../../assembly/index";

let rngState: u32 = 1;
let stepsWanted: u32 = 1000;
let personas: string = "all";
let faults = false;

/** Steps taken, violations injected, violations the victim detected (a fuzzer's counts). */
export let fuzzSteps: u32 = 0;
export let fuzzInjectedCount: u32 = 0;
export let fuzzDetectedCount: u32 = 0;
/** Must stay zero: protocol breaches by the victim, acknowledged writes lost, resources held after disconnect. */
export let fuzzWrongCount: u32 = 0;
export let fuzzLostCount: u32 = 0;
export let fuzzHeldCount: u32 = 0;
let badLines: u32 = 0;

/** Reads fuzz.seed (default 1), fuzz.steps (default 1000) and fuzz.personas (default all) from the command line. */
export function fuzzInit(): void {
  const seed = cmdlineGetU32("fuzz.seed", 1);
  rngState = seed < 0 ? 1 : <u32>seed;
  const steps = cmdlineGetU32("fuzz.steps", 1000);
  stepsWanted = steps < 0 ? 1000 : <u32>steps;
  const p = cmdlineGet("fuzz.personas");
  personas = p === null ? "all" : p;
  faults = cmdlineGet("fuzz.faults") == "1";
}

/**
 * Whether the harness injects hypercall faults in this run (fuzz.faults=1, from `xenwasm fuzz
 * --faults`): a valid request may then fail cleanly, which is not a wrong answer.
 */
export function fuzzFaults(): bool {
  return faults;
}

/** The number of steps the run asked for (fuzz.steps). */
export function fuzzStepsWanted(): u32 {
  return stepsWanted;
}

/** Whether persona `name` is enabled: fuzz.personas is "all" or a comma-separated list naming it. */
export function fuzzPersona(name: string): bool {
  if (personas == "all") return true;
  const list = personas.split(",");
  for (let i = 0; i < list.length; i++) if (list[i] == name) return true;
  return false;
}

/** The next 32 random bits (mulberry32, the harness's generator: same seed, same sequence). */
export function fuzzRand(): u32 {
  rngState += 0x6d2b79f5;
  let t = rngState;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

/** A random integer in [0, n) (0 when n is 0). */
export function fuzzBelow(n: u32): u32 {
  return n == 0 ? 0 : <u32>((<u64>fuzzRand() * <u64>n) >>> 32);
}

/** True with probability `percent`/100. */
export function fuzzChance(percent: u32): bool {
  return fuzzBelow(100) < percent;
}

/** Counts one step. */
export function fuzzStep(): void {
  fuzzSteps++;
}

/** Counts `n` violations injected into the victim's view. */
export function fuzzInjected(n: u32 = 1): void {
  fuzzInjectedCount += n;
}

/** Counts `n` violations the victim visibly detected (an error answer, a disconnect). */
export function fuzzDetected(n: u32 = 1): void {
  fuzzDetectedCount += n;
}

function bad(kind: string, what: string): void {
  if (badLines++ >= 20) return;
  puts("fuzz-bad: ");
  puts(kind);
  puts(": ");
  printk(what);
}

/** Counts a protocol breach by the victim (a wrong id, an OK for an invalid request, a duplicate answer). */
export function fuzzWrong(what: string): void {
  fuzzWrongCount++;
  bad("wrong", what);
}

/** Counts an acknowledged write whose data did not survive. */
export function fuzzLost(what: string): void {
  fuzzLostCount++;
  bad("lost", what);
}

/** Counts a grant, port or mapping the victim still held after it disconnected. */
export function fuzzHeld(what: string): void {
  fuzzHeldCount++;
  bad("held", what);
}

function field(name: string, v: u32): void {
  puts(" ");
  puts(name);
  puts("=");
  putu(v);
}

/** Prints the one line `xenwasm fuzz` reads: "fuzz-report steps=… injected=… detected=… wrong=… lost=… held=…". */
export function fuzzReport(): void {
  puts("fuzz-report");
  field("steps", fuzzSteps);
  field("injected", fuzzInjectedCount);
  field("detected", fuzzDetectedCount);
  field("wrong", fuzzWrongCount);
  field("lost", fuzzLostCount);
  field("held", fuzzHeldCount);
  printk("");
}
