// What the benchmarks share (docs/benchmarks.md): the package root, medians, the progressive
// text table, and the machine-load note. Each benchmark (ring.ts, ...) builds on these.
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (this file is dist/bindings/bench/common.js or bindings/bench/common.ts). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes("/dist/") ? "../../.." : "../..");

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One column of a Table: its title, how to format a row's value, and its alignment. */
export interface Column<R> { title: string; value(row: R): string; left?: boolean }

/**
 * A text table printed row by row as results arrive (the header first), so a long benchmark
 * shows its progress; every row goes to `out` as one line.
 */
export class Table<R> {
  private readonly widths: number[];
  private started = false;

  /** A table of `columns` that prints to `out`; `widths` are minimum column widths. */
  constructor(private readonly columns: Column<R>[], private readonly out: (line: string) => void, widths: number[] = []) {
    this.widths = columns.map((c, i) => Math.max(c.title.length, widths[i] ?? 0));
  }

  /** Prints `row` (and the header before the first row). */
  row(row: R): void {
    if (!this.started) {
      this.started = true;
      this.out(this.line(this.columns.map((c) => c.title)));
      this.out(this.widths.map((w) => "-".repeat(w)).join("  "));
    }
    this.out(this.line(this.columns.map((c) => c.value(row))));
  }

  private line(cells: string[]): string {
    return cells.map((s, i) => (this.columns[i].left ? s.padEnd(this.widths[i]) : s.padStart(this.widths[i]))).join("  ").trimEnd();
  }
}

/** Formats a rate with an SI prefix: 1234567 → "1.23 M". */
export function si(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  return x.toFixed(2);
}

/**
 * A one-line note when other processes keep the CPUs busy (1-minute load average above half the
 * CPU count), or null: spinning benchmarks lose their timeslices to them and the figures get
 * noisy.
 */
export function loadNote(): string | null {
  const load = loadavg()[0], n = cpus().length;
  return load > n / 2 ? `load average ${load.toFixed(2)} on ${n} CPUs: other processes compete for the CPUs, figures will be noisy` : null;
}

/**
 * The output of a `xenwasm bench` command: `err` writes a progress line to stderr, after the load
 * note (if any) headed with `command`; `table` prints to stdout, or to stderr with `json` (stdout
 * then carries the JSON array alone).
 */
export function benchOutput<R>(command: string, columns: Column<R>[], json: boolean, widths: number[]): { err: (line: string) => void; table: Table<R> } {
  const err = (line: string) => { process.stderr.write(line + "\n"); };
  const note = loadNote();
  if (note) err(`xenwasm: ${command}: note: ${note}`);
  return { err, table: new Table(columns, json ? err : (line) => { process.stdout.write(line + "\n"); }, widths) };
}

/** The implementations every benchmark compares: xenwasm and its native C reference. */
export type Impl = "xenwasm" | "native-c";

/**
 * Measures one configuration: `runs` rounds, each running the implementations of `impls` once in
 * turn (alternating, so that a noisy moment hits them alike; "native-c" is left out when
 * `haveNative` is false), reporting every sample through `onRun`; returns each one's samples.
 */
export async function alternateRuns<S>(impls: readonly Impl[], runs: number, haveNative: boolean, runOne: (impl: Impl) => S | Promise<S>, onRun: (impl: Impl, run: number, sample: S) => void): Promise<Record<Impl, S[]>> {
  const samples: Record<Impl, S[]> = { xenwasm: [], "native-c": [] };
  for (let run = 1; run <= runs; run++) {
    for (const impl of impls) {
      if (impl === "native-c" && !haveNative) continue;
      const sample = await runOne(impl);
      samples[impl].push(sample);
      onRun(impl, run, sample);
    }
  }
  return samples;
}
