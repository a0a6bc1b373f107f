// The host library (docs/host-api.md): build a Xen system — guests with their command lines and
// memory, host disks, vifs on dom0's switch, a backend domain 0, the runner and its seed — run
// it, follow its consoles and its live xenstore, and await how each domain ended. `xenwasm run`
// is built on it (bindings/cli/run.ts): one path, not two.
//
// Ownership: a XenSystem owns its run (domains, xenstored, the files it opens) until `done`
// settles; the caller owns the config it passed and the callbacks it gave.
import { accessSync, constants, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GuestLoadError, compileGuest, loadGuest } from "../runner/guest.js";
import { domainNames, type BackendSpec, type DomainResult, type GuestSpec, type RunContext, type RunOptions, type RunResult } from "../runner/common.js";
import { runDeterministic } from "../runner/deterministic.js";
import { runThreaded } from "../runner/threaded.js";
import { MAX_MEM_MIB, MIN_MEM_MIB } from "../toolstack/builder.js";
import { MAX_DISKS } from "../toolstack/disks.js";
import { SECTOR_SIZE, type DiskSpec } from "../devices/blk.js";
import type { VifSpec } from "../toolstack/vifs.js";
import type { UplinkSpec, UplinkStats } from "../devices/uplink.js";
import { Ctl, DomState, type Domain } from "../hypervisor/domain.js";
import { cpuUs, resultOf } from "../runner/common.js";
import { liveMaps, sampleRings, type RingSample } from "../toolstack/rings.js";
import { writeTraceFile } from "../runner/trace.js";
import type { XsUsage } from "../xenstore/store.js";
import { watchStore } from "../xenstore/watch.js";

/** A guest's WebAssembly: a path to its .wasm file, its bytes, or a compiled module. */
export type WasmSource = string | Uint8Array | WebAssembly.Module;

/** One guest domain (domains 1, 2, ... in the order given). */
export interface GuestConfig {
  wasm: WasmSource;
  /** Its name in console lines and results (default: the file's name, or "guest<domid>"). */
  name?: string;
  /** Its command line (start_info.cmd_line), e.g. "ip=10.0.0.2 count=3". */
  cmdline?: string;
  /** Memory in MiB (default 32). */
  memMiB?: number;
  /** A vif on dom0's switch: true for the defaults (MAC 00:16:3e:00:00:<domid>), or its settings. */
  vif?: boolean | VifSpec;
}

/** A host disk for domain 1 (xvda, xvdb, ... in order): a raw image file, or a zeroed RAM disk. */
export type DiskConfig = { path: string; readonly?: boolean } | { ramBytes: number; readonly?: boolean };

/** A system to run. */
export interface SystemConfig {
  guests: GuestConfig[];
  /** "deterministic" (default: virtual time, one thread, same seed → same run) or "threads" (a thread per domain). */
  runner?: "deterministic" | "threads";
  /** The deterministic runner's seed (default 1). */
  seed?: number;
  /** Threaded runner: idle vCPUs spin instead of sleeping. */
  spin?: boolean;
  /** Deterministic runner: the virtual time limit in ns (default one hour). */
  maxVirtualNs?: bigint;
  disks?: DiskConfig[];
  /**
   * Domain 0 as a WebAssembly backend domain: started whenever there is a disk, a vif or this
   * option; `wasm` defaults to the package's build/drivers/dom0.wasm.
   */
  backend?: { wasm?: WasmSource; cmdline?: string; memMiB?: number };
  /** A libpcap file for every frame dom0's switch forwards. */
  pcap?: string;
  /** The switch's UDP uplink to the host (threaded runner). */
  uplink?: UplinkSpec;
  /** Called with the uplink's bound local port once it listens. */
  onUplink?: (localPort: number) => void;
  /** A Unix socket path where xenstored listens for dom0's tools (Debian's xenstore-utils). */
  xenstoreSocket?: string;
  /** Deterministic runner: guests idle on a xenstore watch wait for outside writes rather than end the run (default: with a socket). */
  waitForXenstore?: boolean;
  /** Each console line as it arrives. */
  onConsole?: (line: ConsoleLine) => void;
  /** Harness messages (crashes, deadlock reports). */
  onLog?: (message: string) => void;
  /** Called once the domains are built and xenstored runs, before any guest starts. */
  onReady?: () => void;
  /**
   * The ABIs the SDK in every domain (guests and dom0) should choose, passed on their command
   * lines as Linux's parameters: `xen_fifo_events=1|0` and `grant_table.version=1|2`. The
   * harness offers both ABIs of each; a kernel that is not the SDK may ignore the words.
   */
  abi?: AbiChoice;
  /** Deterministic runner: whether to record the event order in `result.trace` (default true; off, a long run stays bounded). */
  trace?: boolean;
  /** The console lines XenSystem keeps for `console` and the result (the most recent; default MAX_KEPT_CONSOLE_LINES). */
  keepConsoleLines?: number;
  /** Seeded hypercall fault injection (bindings/hypervisor/faults.ts): `percent` of the chosen calls fail with an error Xen can return. */
  faults?: FaultOptions;
  /**
   * Writes the run's trace in the Chrome trace-event format (Perfetto's UI, chrome://tracing) to
   * this file when the run ends: a track per domain, hypercall and upcall slices, event flows,
   * ring and grant-map counters, xenbus states (docs/tracing.md).
   */
  chromeTrace?: string;
  /** Time each domain's vCPU in the guest (`domains()`'s cpuUs; on anyway with chromeTrace): the dashboard asks for it. */
  accounting?: boolean;
}

/**
 * Which share (`percent`, 0..100) of the fault-injectable hypercalls fail, the `seed` that picks
 * them, and in which domains (names or domids, "dom0" for the backend; default: all).
 */
export interface FaultOptions { seed: number; percent: number; domains?: Array<string | number> }

/** The event-channel ABI ("fifo" or "2l") and grant-table version (1 or 2) the domains are asked to use. */
export interface AbiChoice { evtchn?: "fifo" | "2l"; gnttab?: 1 | 2 }

/** The command-line words that ask the SDK for `abi` (empty when nothing is asked). */
export function abiCmdline(abi: AbiChoice | undefined): string {
  if (abi?.evtchn !== undefined && abi.evtchn !== "fifo" && abi.evtchn !== "2l") throw new ConfigError(`event-channel ABI must be 'fifo' or '2l', not '${abi.evtchn}'`);
  if (abi?.gnttab !== undefined && abi.gnttab !== 1 && abi.gnttab !== 2) throw new ConfigError(`grant-table version must be 1 or 2, not '${abi.gnttab}'`);
  const words: string[] = [];
  if (abi?.evtchn) words.push(`xen_fifo_events=${abi.evtchn === "fifo" ? 1 : 0}`);
  if (abi?.gnttab) words.push(`grant_table.version=${abi.gnttab}`);
  return words.join(" ");
}

function withAbi(cmdline: string, abi: string): string {
  return abi ? (cmdline ? `${cmdline} ${abi}` : abi) : cmdline;
}

/** One domain as XenSystem.domains() shows it: its counters, plus state, memory, CPU time and grant maps. */
export interface DomainStatus extends DomainResult {
  state: "building" | "running" | "shutdown";
  memBytes: number;
  cpuUs: number;
  grantMaps: number;
}

/** A console line of a domain. */
export interface ConsoleLine { domain: string; text: string }

/** How the run ended: each guest's result, the backend's, the exit status the CLI would give, the trace. */
export interface SystemResult {
  /** 0 when every guest powered off; 1 a crash; 3 another reason; 4 the run was stopped (deadlock, harness error). */
  exitCode: number;
  domains: DomainResult[];
  backend?: DomainResult;
  /** Why the run was stopped, when it was. */
  error?: string;
  /** Deterministic runner: the event order (time, what). */
  trace: string[];
  uplink?: UplinkStats;
  /** The console lines in order (the last MAX_KEPT_CONSOLE_LINES; onConsole sees every one). */
  console: ConsoleLine[];
}

/** A configuration the library cannot run: the message is one line. */
export class ConfigError extends Error {}

/** The backend domain built with the package (`npm run build`). */
export const DEFAULT_BACKEND = join(dirname(fileURLToPath(import.meta.url)), "../../../build/drivers/dom0.wasm");

/** Compiles a guest or backend; a file is checked as a xenwasm guest (its messages name the file, `prefix` goes before them). */
function compile(src: WasmSource, prefix: string): { module: WebAssembly.Module; file?: string } {
  try {
    if (src instanceof WebAssembly.Module) return { module: src };
    if (typeof src === "string") return { module: loadGuest(src).module, file: src };
    return { module: compileGuest(new Uint8Array(src), "the module given").module };
  } catch (e) {
    if (e instanceof GuestLoadError) throw new ConfigError(`${prefix}${e.message}`);
    throw e;
  }
}

function checkDisk(d: DiskConfig): DiskSpec {
  const ro = d.readonly ?? false;
  if ("ramBytes" in d) {
    if (!(Number.isInteger(d.ramBytes) && d.ramBytes >= SECTOR_SIZE && d.ramBytes % SECTOR_SIZE === 0)) throw new ConfigError(`disk ram:${d.ramBytes}: a RAM disk is a whole number of ${SECTOR_SIZE}-byte sectors`);
    return { kind: "ram", buffer: new SharedArrayBuffer(d.ramBytes), readonly: ro };
  }
  let st;
  try { st = statSync(d.path); } catch (e) { throw new ConfigError(`--disk ${d.path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`); }
  if (!st.isFile()) throw new ConfigError(`--disk ${d.path}: not a regular file`);
  if (st.size < SECTOR_SIZE || st.size % SECTOR_SIZE) throw new ConfigError(`--disk ${d.path}: its size (${st.size} bytes) is not a whole number of ${SECTOR_SIZE}-byte sectors`);
  try { accessSync(d.path, ro ? constants.R_OK : constants.R_OK | constants.W_OK); } catch {
    throw new ConfigError(`--disk ${d.path}: not ${ro ? "readable" : "readable and writable (add ,ro for a read-only disk)"}`);
  }
  return { kind: "file", path: d.path, readonly: ro };
}

/** Resolves `faults`' domain names to domids (guests are 1.. in `names`' order, the backend "dom0" is 0); throws ConfigError. */
function faultDomains(faults: FaultOptions | undefined, names: string[]): { seed: number; percent: number; domids?: number[] } | undefined {
  if (!faults) return undefined;
  if (!(Number.isInteger(faults.percent) && faults.percent >= 0 && faults.percent <= 100)) throw new ConfigError(`fault percentage must be 0..100, not ${faults.percent}`);
  const domids = faults.domains?.map((n) => {
    if (typeof n === "number") return n;
    if (n === "dom0") return 0;
    const i = names.indexOf(n);
    if (i < 0) throw new ConfigError(`fault injection: no domain named ${n}`);
    return i + 1;
  });
  return { seed: faults.seed >>> 0, percent: faults.percent, domids };
}

/** The runner options of `config`; throws ConfigError. */
function runOptions(config: SystemConfig, output: (line: ConsoleLine) => void, onStart: (run: RunContext) => void): RunOptions {
  if (config.guests.length === 0) throw new ConfigError("no guest given");
  if (config.keepConsoleLines !== undefined && !(Number.isInteger(config.keepConsoleLines) && config.keepConsoleLines >= 1)) throw new ConfigError(`keepConsoleLines must be a whole number of at least 1, not ${config.keepConsoleLines}`);
  const runner = config.runner ?? "deterministic";
  if (config.spin && runner !== "threads") throw new ConfigError("spin needs the threaded runner");
  if (config.uplink && runner !== "threads") throw new ConfigError("the uplink needs the threaded runner (virtual time cannot wait for a real network)");
  if (config.chromeTrace !== undefined) {
    try { accessSync(dirname(config.chromeTrace) || ".", constants.W_OK); } catch { throw new ConfigError(`--trace ${config.chromeTrace}: its directory is not writable`); }
  }
  const disks = config.disks ?? [];
  if (disks.length > MAX_DISKS) throw new ConfigError(`at most ${MAX_DISKS} disks (xvda..xvdp), not ${disks.length}`);
  const loaded = config.guests.map((g, i) => {
    const mem = g.memMiB ?? 32;
    if (!(Number.isInteger(mem) && mem >= MIN_MEM_MIB && mem <= MAX_MEM_MIB)) throw new ConfigError(`guest ${i + 1}: memory must be ${MIN_MEM_MIB}..${MAX_MEM_MIB} MiB, not ${mem}`);
    return { g, mem, ...compile(g.wasm, typeof g.wasm === "string" ? "" : `guest ${i + 1}: `) };
  });
  const names = domainNames(loaded.map(({ g, file }, i) => g.name ?? (file ? basename(file).replace(/\.wasm$/, "") : `guest${i + 1}`)));
  const abi = abiCmdline(config.abi);
  const guests: GuestSpec[] = loaded.map(({ g, mem, module }, i) => ({ module, name: names[i], cmdline: withAbi(g.cmdline ?? "", abi), memMiB: mem }));
  const vifs = config.guests.flatMap((g, i) => (g.vif ? [{ frontend: i + 1, spec: g.vif === true ? {} : g.vif }] : []));
  if ((config.pcap !== undefined || config.uplink) && vifs.length === 0) throw new ConfigError(`${config.pcap !== undefined ? "a capture" : "the uplink"} needs dom0's switch: give a guest a vif`);
  let backend: BackendSpec | undefined;
  if (disks.length || vifs.length || config.backend) {
    const b = config.backend ?? {};
    const { module } = b.wasm ? compile(b.wasm, "backend: ") : (() => {
      try { return compile(DEFAULT_BACKEND, "backend: "); } catch (e) { throw new ConfigError(`${(e as Error).message} (run npm run build)`); }
    })();
    if (config.pcap !== undefined) {
      try { accessSync(dirname(config.pcap) || ".", constants.W_OK); } catch { throw new ConfigError(`--pcap ${config.pcap}: its directory is not writable`); }
    }
    backend = {
      module, name: "dom0", memMiB: b.memMiB ?? 32, cmdline: withAbi(b.cmdline ?? "", abi), disks: disks.map(checkDisk), vifs,
      pcap: config.pcap, uplink: config.uplink, onUplink: config.onUplink,
    };
  }
  return {
    guests, seed: config.seed ?? 1, spin: config.spin, maxVirtualNs: config.maxVirtualNs, trace: config.trace, backend, faults: faultDomains(config.faults, names),
    traceEvents: config.chromeTrace !== undefined, accounting: config.accounting,
    xenstoreSocket: config.xenstoreSocket, waitForXenstore: config.waitForXenstore,
    output: (line) => {
      const m = /^\[([^\]]*)\] ?(.*)$/s.exec(line);
      output(m ? { domain: m[1], text: m[2] } : { domain: "", text: line });
    },
    log: (message) => config.onLog?.(message),
    onStart,
  };
}

/** The live xenstore of a running system, as dom0's toolstack sees it (watches fire as for a guest's write). */
export interface HostXenstore {
  /** The value at `path`, or undefined when there is no such node. */
  read(path: string): string | undefined;
  /** Writes `value` at `path` (missing parents created as dom0 would). */
  write(path: string, value: string): void;
  /** Removes `path` and what is below it. */
  rm(path: string): void;
  /** The children of `path`, or undefined when there is no such node. */
  directory(path: string): string[] | undefined;
  /** Calls `fn(path)` for every change at or below `path` (and once at once, as XS_WATCH does); returns the unwatch. */
  watch(path: string, fn: (path: string) => void): () => void;
  /** What domain `domid` uses of its xenstore quotas (nodes, watches, transactions, ...), or undefined once it is gone. */
  usage(domid: number): XsUsage | undefined;
  /** Checks the store's tree and node accounting (C's check_store); returns the problems found (and repaired). */
  check(): string[];
}

/** The console lines a XenSystem keeps (the most recent); older ones were already given to onConsole. */
export const MAX_KEPT_CONSOLE_LINES = 100_000;

/**
 * A running system: started by XenSystem.start, it runs until every guest has shut down (or
 * the run is stopped); meanwhile its consoles, xenstore and counters can be read.
 */
export class XenSystem {
  /** Settles when the run ends: how each domain ended (rejects with ConfigError for a bad config, or a harness error). */
  readonly done: Promise<SystemResult>;
  private readonly lines: ConsoleLine[] = [];
  /** Lines dropped from the front of `lines` (beyond MAX_KEPT_CONSOLE_LINES). */
  private dropped = 0;
  private readonly waiters = new Set<() => void>();
  private run: RunContext | undefined;
  private readonly started: Promise<RunContext>;

  private constructor(config: SystemConfig) {
    let resolveStart!: (r: RunContext) => void, rejectStart!: (e: unknown) => void;
    this.started = new Promise((res, rej) => { resolveStart = res; rejectStart = rej; });
    this.started.catch(() => {});
    const output = (line: ConsoleLine) => {
      this.lines.push(line);
      // Like Xen's console ring, keep the most recent lines only: a guest that prints for ever
      // must not grow the harness without bound (every line still reaches onConsole).
      const keep = config.keepConsoleLines ?? MAX_KEPT_CONSOLE_LINES;
      if (this.lines.length >= keep + (keep >> 2) + 1) {
        const n = this.lines.length - keep;
        this.lines.splice(0, n);
        this.dropped += n;
      }
      config.onConsole?.(line);
      for (const w of [...this.waiters]) w();
    };
    this.done = (async () => {
      const opts = runOptions(config, output, (run) => { this.run = run; config.onReady?.(); resolveStart(run); });
      const r: RunResult = await ((config.runner ?? "deterministic") === "threads" ? runThreaded(opts) : runDeterministic(opts));
      if (config.chromeTrace !== undefined && r.traceEvents) {
        const doms = new Map<number, string>([[0, r.backend?.name ?? "dom0"]]);
        for (const d of r.domains) doms.set(d.domid, d.name);
        writeTraceFile(config.chromeTrace, [...doms].map(([domid, name]) => ({ domid, name })), r.traceEvents,
          { runner: config.runner ?? "deterministic", seed: config.seed ?? 1, dropped: r.traceDropped ?? 0 });
      }
      return { exitCode: r.exitCode, domains: r.domains, backend: r.backend, error: r.error, trace: r.trace, uplink: r.uplink, console: this.lines };
    })();
    this.done.then(() => rejectStart(new Error("the run ended before it started")), rejectStart);
    this.done.catch(() => {});
  }

  /** Builds the system of `config` and starts running it. */
  static start(config: SystemConfig): XenSystem {
    return new XenSystem(config);
  }

  /** Resolves once the domains are built and xenstored runs (rejects if the run could not start). */
  async ready(): Promise<void> {
    await this.started;
  }

  /** The console lines so far (the last MAX_KEPT_CONSOLE_LINES of them). */
  get console(): readonly ConsoleLine[] { return this.lines; }

  /** Resolves with the first console line (so far or to come) that matches; rejects after `timeoutMs` or when the run ends first. */
  waitForConsole(match: RegExp | string, timeoutMs = 30_000): Promise<ConsoleLine> {
    const test = (l: ConsoleLine) => (typeof match === "string" ? l.text.includes(match) : match.test(l.text));
    return new Promise((resolve, reject) => {
      let i = 0;
      const check = () => {
        // `i` counts every line ever printed: lines dropped meanwhile are skipped.
        for (i = Math.max(i, this.dropped); i - this.dropped < this.lines.length; i++) {
          const l = this.lines[i - this.dropped];
          if (test(l)) { finish(); resolve(l); return; }
        }
      };
      const timer = setTimeout(() => { finish(); reject(new Error(`no console line matched ${match} within ${timeoutMs} ms`)); }, timeoutMs);
      const finish = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      this.done.then(() => { check(); if (this.waiters.has(check)) { finish(); reject(new Error(`the run ended without a console line matching ${match}`)); } }, (e) => { finish(); reject(e); });
      check();
    });
  }

  /** The live xenstore (after ready()). */
  get xenstore(): HostXenstore {
    const run = this.need();
    const store = run.xenstored.store;
    // Writes from outside may be what idle guests wait for (deterministic runner).
    const poke = () => run.xenstored.onExternalInput();
    return {
      read: (path) => store.read(path),
      write: (path, value) => { store.write(path, value); poke(); },
      rm: (path) => { store.rm(path); poke(); },
      directory: (path) => store.directory(path),
      watch: (path, fn) => watchStore(store, path, fn),
      usage: (domid) => store.usage(domid),
      check: () => store.check(),
    };
  }

  /** How each domain stands now (hypercalls, events, grant operations, refused accesses, shutdown reason once down). */
  stats(): DomainResult[] {
    return this.need().domains.map(liveResult);
  }

  /**
   * Every domain now, dom0 first: its state, memory, time on CPU (µs, when the config asked for
   * `accounting` or a trace), hypercalls, events, grant maps held and ABIs (the dashboard's rows).
   */
  domains(): DomainStatus[] {
    return this.need().hypervisor.domains().map((d) => {
      const state = Atomics.load(d.ctl, Ctl.State);
      return {
        ...liveResult(d),
        state: state === DomState.Shutdown ? "shutdown" : state === DomState.Running ? "running" : "building",
        memBytes: d.isHost ? 0 : d.bytes, cpuUs: cpuUs(d), grantMaps: liveMaps(d),
      };
    });
  }

  /** Every ring of every guest now (console, xenstore, each vbd and vif queue): indices and what is outstanding. */
  rings(): RingSample[] {
    const run = this.need();
    return sampleRings(run.hypervisor, run.xenstored);
  }

  /** Asks guest `domain` (name or domid) to shut down the PV way: writes its control/shutdown. */
  shutdown(domain: string | number, reason: "poweroff" | "reboot" | "suspend" | "halt" = "poweroff"): void {
    const run = this.need();
    const d = run.domains.find((x) => (typeof domain === "number" ? x.domid === domain : x.name === domain));
    if (!d || d.domid === 0) throw new ConfigError(`no guest ${domain}`);
    this.xenstore.write(`/local/domain/${d.domid}/control/shutdown`, reason);
  }

  private need(): RunContext {
    if (!this.run) throw new Error("the system is not running yet: await ready() first");
    return this.run;
  }
}

/** Domain `d`'s result so far: its shutdown reason once it is down, "running" before. */
function liveResult(d: Domain): DomainResult {
  const r = resultOf(d);
  return Atomics.load(d.ctl, Ctl.State) === DomState.Shutdown ? r : { ...r, reason: "running" };
}

/** Runs `config` to its end (XenSystem.start(config).done). */
export function runSystem(config: SystemConfig): Promise<SystemResult> {
  return XenSystem.start(config).done;
}
