// `xenwasm fuzz`: runs the seeded hostile-peer campaign (bindings/fuzz/) target by target under
// one or both runners, prints a row of counters per run as it ends (or JSON), and when any
// must-be-zero counter is not zero prints what happened, the seed and the command that repeats
// the run, and exits 1.
import { ROOT, Table } from "../bench/common.js";
import { MUST_BE_ZERO, type FuzzContext, type FuzzOutcome } from "../fuzz/target.js";
import { TARGETS } from "../fuzz/targets.js";
import { optionParsers } from "./args.js";
import { tokenize, usage, type CommandSpec } from "./options.js";

/** `xenwasm fuzz`'s options (`xenwasm help fuzz`). */
export const FUZZ_SPEC: CommandSpec = {
  name: "fuzz",
  summary: "seeded hostile peers against the reference drivers and the harness, with must-be-zero counters",
  about: "runs each target's fuzz guest (build/fuzz/) against its victims: the reference drivers, xenstored, the console and the hypercall surface, and counts per run: steps, violations injected, violations the victim detected, and what must stay 0 — victim traps, grant accesses outside granted memory, grants/ports/mappings held after a disconnect, harness exceptions, acknowledged writes lost, wrong answers (protocol breaches by a victim). A run with a non-zero must-be-zero count prints the seed and a command that repeats it, and the exit status is 1",
  options: [
    { name: "target", value: "NAME[,NAME]|all", help: `the targets (default all): ${TARGETS.map((t) => t.name).join(", ")}` },
    { name: "seed", value: "S", help: "the seed of every persona's choices (default: a random one, printed)" },
    { name: "steps", value: "N", help: "hostile steps per target and runner (default 1000)" },
    { name: "runner", value: "deterministic|threads", help: "the runners (comma-separated; default both)" },
    { name: "faults", value: "PERCENT", help: "also fail this share of the victims' grant maps and copies, port allocations and xenstore commits, with the errors Xen returns there (default 0)" },
    { name: "json", help: "a JSON array of the runs on stdout (the table goes to stderr)" },
  ],
  notes: `targets: ${TARGETS.map((t) => `${t.name}: ${t.summary}`).join("; ")}`,
};

const { fail, number, words } = optionParsers("fuzz");

/** The parsed command line of `xenwasm fuzz`. */
export interface FuzzArgs { targets: string[]; seed: number; steps: number; runners: Array<"deterministic" | "threads">; faults: number; json: boolean; seedGiven: boolean }

/** Parses the arguments of `xenwasm fuzz`; throws UsageError with one line. */
export function parseFuzzArgs(argv: string[]): FuzzArgs {
  const names = TARGETS.map((t) => t.name);
  const a: FuzzArgs = { targets: names, seed: (Date.now() ^ (process.pid << 16)) >>> 0, steps: 1000, runners: ["deterministic", "threads"], faults: 0, json: false, seedGiven: false };
  for (const t of tokenize(FUZZ_SPEC, argv)) {
    if (t.kind === "positional") { fail(`unexpected argument '${t.value}'`); continue; }
    const arg = `--${t.name}`, v = t.value!;
    switch (t.name) {
      case "target": a.targets = v === "all" ? names : words(arg, v, [...names, "all"]).flatMap((n) => (n === "all" ? names : [n])); break;
      case "seed": a.seed = number(arg, v, 0, 2 ** 32 - 1); a.seedGiven = true; break;
      case "steps": a.steps = number(arg, v, 1, 100_000_000); break;
      case "runner": a.runners = words(arg, v, ["deterministic", "threads"] as const); break;
      case "faults": a.faults = number(arg, v, 0, 100); break;
      case "json": a.json = true; break;
    }
  }
  a.targets = names.filter((n) => a.targets.includes(n));
  return a;
}

/** One run's row: its target, runner, counters and time. */
interface Row extends FuzzOutcome { runner: string; seconds: number }

const COLUMNS = [
  { title: "target", value: (r: Row) => r.target, left: true },
  { title: "runner", value: (r: Row) => r.runner, left: true },
  { title: "steps", value: (r: Row) => String(r.counts.steps) },
  { title: "injected", value: (r: Row) => String(r.counts.injected) },
  { title: "detected", value: (r: Row) => String(r.counts.detected) },
  { title: "victim traps", value: (r: Row) => String(r.counts.victimTraps) },
  { title: "outside grants", value: (r: Row) => String(r.counts.outsideGrants) },
  { title: "held", value: (r: Row) => String(r.counts.held) },
  { title: "harness exc.", value: (r: Row) => String(r.counts.harnessExceptions) },
  { title: "lost", value: (r: Row) => String(r.counts.lost) },
  { title: "wrong", value: (r: Row) => String(r.counts.wrong) },
  { title: "faults", value: (r: Row) => String(r.faults) },
  { title: "s", value: (r: Row) => r.seconds.toFixed(1) },
];

/** Whether `o` broke the rule: a must-be-zero count that is not 0. */
export function failed(o: FuzzOutcome): boolean {
  return MUST_BE_ZERO.some((k) => o.counts[k] !== 0);
}

/** Runs `xenwasm fuzz` with `argv`; returns the exit status (1 when a must-be-zero count is not 0). */
export async function fuzzCommand(argv: string[]): Promise<number> {
  const a = parseFuzzArgs(argv);
  const err = (line: string) => process.stderr.write(line + "\n");
  const out = a.json ? err : (line: string) => process.stdout.write(line + "\n");
  err(`xenwasm: fuzz: seed ${a.seed}, ${a.steps} steps per target and runner${a.faults ? `, ${a.faults}% injected faults` : ""}`);
  const table = new Table<Row>(COLUMNS, out, [14, 13]);
  const rows: Row[] = [];
  for (const name of a.targets) {
    const target = TARGETS.find((t) => t.name === name)!;
    for (const runner of a.runners) {
      const ctx: FuzzContext = { seed: a.seed, steps: a.steps, runner, root: ROOT, faults: a.faults ? { seed: a.seed, percent: a.faults } : undefined };
      const started = performance.now();
      const o = await target.run(ctx);
      const row: Row = { ...o, runner, seconds: (performance.now() - started) / 1000 };
      rows.push(row);
      table.row(row);
    }
  }
  const bad = explainFailures(rows, a, err);
  if (a.json) process.stdout.write(JSON.stringify(rows.map((r) => ({ target: r.target, runner: r.runner, seed: a.seed, steps_asked: a.steps, faults_percent: a.faults, ...r.counts, faults: r.faults, seconds: r.seconds, notes: r.notes })), null, 2) + "\n");
  return bad ? 1 : 0;
}

/**
 * For each run that broke the rule, prints (with `err`) the counts that are not 0, the notes
 * that explain them and the command that repeats the run; returns how many runs broke it.
 */
export function explainFailures(rows: Array<FuzzOutcome & { runner: string }>, a: Pick<FuzzArgs, "seed" | "steps" | "faults">, err: (line: string) => void): number {
  const bad = rows.filter(failed);
  for (const r of bad) {
    err(`xenwasm: fuzz: ${r.target} (${r.runner}): ${MUST_BE_ZERO.filter((k) => r.counts[k]).map((k) => `${k} ${r.counts[k]}`).join(", ")}`);
    for (const n of r.notes.slice(0, 20)) err(`  ${n.split("\n")[0]}`);
    err(`  repeat with: npx xenwasm fuzz --target ${r.target} --runner ${r.runner} --seed ${a.seed} --steps ${a.steps}${a.faults ? ` --faults ${a.faults}` : ""}`);
  }
  return bad.length;
}

/** Usage text of `xenwasm fuzz`. */
export const FUZZ_USAGE = usage(FUZZ_SPEC);
