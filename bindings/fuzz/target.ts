// What every `xenwasm fuzz` target shares: the counters of one run, the run's parameters, and
// runFuzzSystem, which runs a target's system (a fuzz guest against reference drivers or the
// harness) and turns its consoles and domain results into counters. Each target module
// (hypercall.ts, console.ts, xenstore.ts, blk.ts, net.ts) only says which system to run and who
// the victims are.
import { join } from "node:path";
import { XenSystem, type ConsoleLine, type FaultOptions, type SystemConfig, type SystemResult } from "../host/system.js";
import type { DomainResult } from "../runner/common.js";

/** The counters of one target's run; all but steps, injected and detected must be 0. */
export interface FuzzCounts {
  steps: number;
  injected: number;
  detected: number;
  /** Victim domains (reference drivers, the other guests) that crashed. */
  victimTraps: number;
  /** Grant accesses the harness refused a victim (memory it was not granted). */
  outsideGrants: number;
  /** Grants, ports or mappings a victim still held after a disconnect. */
  held: number;
  /** Errors of the harness itself (a host exception, a stopped run). */
  harnessExceptions: number;
  /** Acknowledged writes whose data did not survive. */
  lost: number;
  /** Protocol breaches by a victim (a wrong id, OK for an invalid request, a duplicate answer). */
  wrong: number;
}

/** The columns that must stay zero, in the table's order. */
export const MUST_BE_ZERO = ["victimTraps", "outsideGrants", "held", "harnessExceptions", "lost", "wrong"] as const;

/** The parameters of one run of one target. */
export interface FuzzContext {
  seed: number;
  steps: number;
  runner: "deterministic" | "threads";
  /** Injected hypercall faults (bindings/hypervisor/faults.ts), when asked for (--faults). */
  faults?: FaultOptions;
  /** The project root: fuzz guests are under build/fuzz/. */
  root: string;
}

/** The outcome of one target's run: its counters, the hypercall faults injected, and the lines that explain any non-zero count. */
export interface FuzzOutcome { target: string; counts: FuzzCounts; faults: number; notes: string[] }

/** One target of `xenwasm fuzz`. */
export interface FuzzTarget {
  name: string;
  /** One line for `xenwasm fuzz --help`: what is attacked and by whom. */
  summary: string;
  /** Runs the target once and counts. */
  run(ctx: FuzzContext): Promise<FuzzOutcome>;
}

/** A fuzz guest's module: build/fuzz/NAME.wasm under the project root. */
export function fuzzWasm(ctx: FuzzContext, name: string): string {
  return join(ctx.root, "build/fuzz", `${name}.wasm`);
}

/** The fuzz.* command-line words for a guest of this run. */
export function fuzzCmdline(ctx: FuzzContext, extra = ""): string {
  return `fuzz.seed=${ctx.seed} fuzz.steps=${ctx.steps}${ctx.faults ? " fuzz.faults=1" : ""}${extra ? ` ${extra}` : ""}`;
}

/** A zeroed set of counters. */
export function zeroCounts(): FuzzCounts {
  return { steps: 0, injected: 0, detected: 0, victimTraps: 0, outsideGrants: 0, held: 0, harnessExceptions: 0, lost: 0, wrong: 0 };
}

/** How runFuzzSystem reads a system: who reports, who the victims are, who is stopped when. */
export interface FuzzSystemSpec {
  config: SystemConfig;
  /** The domain (name, "dom0" for the backend) whose "fuzz-report" line carries the steps. */
  fuzzer: string;
  /** Domains whose crash or refused grant accesses count (names; "dom0" for the backend). */
  victims: string[];
  /** Domains that get the injected faults (default: the victims). */
  faultDomains?: string[];
  /** Guests asked to power off (control/shutdown) once the fuzzer has reported. */
  stopAfterReport?: string[];
  /** Host-side work during the run (for example a hostile xenstored socket client); its counters are added. */
  during?: (sys: XenSystem, ctx: FuzzContext) => Promise<Partial<FuzzCounts> & { notes?: string[] }>;
  /** Sees every console line of the victims as it comes (for a check that streams). */
  onVictimLine?: (line: ConsoleLine) => void;
  /** Checks of the finished run; its counters are added. */
  check?: (result: SystemResult) => Partial<FuzzCounts> & { notes?: string[] };
  /** Wall-clock bound of the whole run in ms (default: 60 s plus 20 ms per step). */
  timeoutMs?: number;
}

// Unanchored at the start: a fuzzer may leave a partial line of garbage before its report.
const REPORT = /fuzz-report steps=(\d+) injected=(\d+) detected=(\d+) wrong=(\d+) lost=(\d+) held=(\d+)$/;

/** Runs `spec`'s system and counts: the report lines, the victims' results, the harness's errors. */
export async function runFuzzSystem(name: string, ctx: FuzzContext, spec: FuzzSystemSpec): Promise<FuzzOutcome> {
  const counts = zeroCounts();
  const notes: string[] = [];
  // Faults go into the victims (the reference drivers' error paths), not into the fuzzer.
  const faults = ctx.faults ? { ...ctx.faults, domains: spec.faultDomains ?? spec.victims } : spec.config.faults;
  // No event-order trace: a long deterministic run must stay bounded.
  // Virtual time is free: a long run may take more than the runner's default hour of it
  // (the fuzzers' slow persona and verdicts wait in virtual milliseconds).
  const maxVirtualNs = spec.config.maxVirtualNs ?? BigInt(Math.max(3600, Math.ceil(ctx.steps / 10))) * 1_000_000_000n;
  const config: SystemConfig = { ...spec.config, runner: ctx.runner, seed: ctx.seed, faults, trace: false, maxVirtualNs };
  // xenstored reports an exception of its own as an internal error (it answers the request and goes on).
  config.onLog = (message) => {
    spec.config.onLog?.(message);
    if (/internal error/.test(message)) { counts.harnessExceptions++; notes.push(`harness: ${message}`); }
  };
  let reported = false;
  let sys: XenSystem;
  const stopped = new Set<string>();
  /** The victims' and the fuzzer's last three lines, to explain a crash or a run that does not end. */
  const lastLines = new Map<string, string[]>();
  const reports: string[] = [];
  config.onConsole = (line) => {
    spec.config.onConsole?.(line);
    if (spec.victims.includes(line.domain)) spec.onVictimLine?.(line);
    if (spec.victims.includes(line.domain) || line.domain === spec.fuzzer) {
      const last = lastLines.get(line.domain) ?? [];
      last.push(line.text);
      if (last.length > 6) last.shift();
      lastLines.set(line.domain, last);
    }
    if (line.text.startsWith("fuzz-bad: ")) notes.push(`${line.domain}: ${line.text}`);
    if (REPORT.test(line.text)) reports.push(line.text);
    if (line.domain === spec.fuzzer && REPORT.test(line.text)) {
      reported = true;
      // Stop the victims that idle until told (deferred: the console callback runs inside the run).
      setTimeout(stopWhenDone, 0);
    }
  };
  let result: SystemResult | undefined;
  const add = (extra: (Partial<FuzzCounts> & { notes?: string[] }) | undefined) => {
    if (!extra) return;
    for (const [k, v] of Object.entries(extra)) if (k !== "notes" && typeof v === "number") (counts as unknown as Record<string, number>)[k] += v;
    notes.push(...(extra.notes ?? []));
  };
  const timeoutMs = spec.timeoutMs ?? 60_000 + 20 * ctx.steps;
  let timer: NodeJS.Timeout | undefined;
  // A fuzzer that ended without a report (it crashed) leaves the victims running: stop them too.
  const stopVictims = () => {
    for (const g of spec.stopAfterReport ?? []) {
      if (stopped.has(g)) continue;
      stopped.add(g);
      try { sys.shutdown(g); } catch (e) { notes.push(`stopping ${g}: ${(e as Error).message}`); }
    }
  };
  let watcher: NodeJS.Timeout | undefined;
  // The victims stop once the fuzzer is done and the host-side work (during) has finished.
  let during: Promise<(Partial<FuzzCounts> & { notes?: string[] }) | undefined> = Promise.resolve(undefined);
  const stopWhenDone = () => { void during.finally(stopVictims).catch(() => {}); };
  try {
    sys = XenSystem.start(config);
    void sys.ready().then(() => {
      watcher = setInterval(() => {
        const f = sys.stats().find((d) => d.name === spec.fuzzer || (spec.fuzzer === "dom0" && d.domid === 0));
        if (f && f.reason !== "running") stopWhenDone();
      }, 100);
    }, () => {});
    during = spec.during ? sys.ready().then(() => spec.during!(sys, ctx)) : Promise.resolve(undefined);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Say where each domain stood: its state and its last lines.
        const where = sys.stats().map((d) => `${d.name} ${d.reason}${lastLines.has(d.name) ? `: ${lastLines.get(d.name)!.join(" | ")}` : ""}`).join("; ");
        reject(new Error(`the run did not end within ${timeoutMs} ms (${where})`));
      }, timeoutMs);
    });
    result = await Promise.race([sys.done, timeout]);
    add(await Promise.race([during, timeout]));
    if (spec.check) add(spec.check(result));
  } catch (e) {
    counts.harnessExceptions++;
    notes.push(`harness: ${(e as Error).stack ?? e}`);
  } finally {
    if (timer) clearTimeout(timer);
    if (watcher) clearInterval(watcher);
  }
  if (result) {
    if (result.error) {
      counts.harnessExceptions++;
      const where = [...lastLines].map(([name, lines]) => `${name}: ${lines.join(" | ")}`).join("; ");
      notes.push(`harness: the run stopped: ${result.error} (last lines: ${where})`);
    }
    const byName = new Map<string, DomainResult>(result.domains.map((d) => [d.name, d]));
    if (result.backend) byName.set("dom0", result.backend);
    for (const v of spec.victims) {
      const d = byName.get(v);
      if (!d) { notes.push(`victim ${v}: no such domain`); counts.harnessExceptions++; continue; }
      if (d.reason === "crash") {
        counts.victimTraps++;
        const last = (lastLines.get(v) ?? []).join(" | ");
        notes.push(`victim ${v} crashed: ${d.message ?? ""}${last ? `; its last lines: ${last}` : ""}`);
      }
      if (d.violations) { counts.outsideGrants += d.violations; notes.push(`victim ${v}: ${d.violations} refused grant accesses`); }
    }
    for (const text of reports) {
      const m = REPORT.exec(text);
      if (!m) continue;
      const [steps, injected, detected, wrong, lost, held] = m.slice(1).map(Number);
      counts.steps += steps; counts.injected += injected; counts.detected += detected;
      counts.wrong += wrong; counts.lost += lost; counts.held += held;
    }
    const f = byName.get(spec.fuzzer);
    if (!reported) {
      counts.harnessExceptions++;
      notes.push(`the fuzzer ${spec.fuzzer} did not report (${f ? `${f.reason}${f.message ? `: ${f.message}` : ""}` : "no such domain"})`);
    }
  }
  // Whatever went wrong, the last lines of the domains involved say where they stood.
  if (MUST_BE_ZERO.some((k) => counts[k] !== 0)) for (const [name, lines] of lastLines) notes.push(`${name}'s last lines: ${lines.join(" | ")}`);
  const faultsInjected = result ? [...result.domains, ...(result.backend ? [result.backend] : [])].reduce((n, d) => n + d.faults, 0) : 0;
  return { target: name, counts, faults: faultsInjected, notes };
}
