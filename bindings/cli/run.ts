// `xenwasm run`: boots guest modules as domains 1..N under one of the two runners, prints their
// consoles, and exits when all have shut down (0 when all powered off).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_MEM_MIB, MIN_MEM_MIB } from "../toolstack/builder.js";
import { MAX_DISKS, parseDiskArg, type DiskArg } from "../toolstack/disks.js";
import { ConfigError, XenSystem, type AbiChoice, type SystemConfig, type SystemResult } from "../host/system.js";
import { UsageError } from "./errors.js";
import { Dashboard } from "../host/dashboard.js";
import { tokenize, usage, type CommandSpec } from "./options.js";
import { parseVifArg, type VifSpec } from "../toolstack/vifs.js";
import { parseUplinkArg, type UplinkSpec } from "../devices/uplink.js";

export { UsageError };

/** `xenwasm run`'s options (the usage is generated from this table: `xenwasm help run`). */
export const RUN_SPEC: CommandSpec = {
  name: "run",
  summary: "boot guests as Xen domains and print their consoles",
  args: "GUEST.wasm [[--cmdline STR] [--vif SPEC] GUEST.wasm ...]",
  about: "boots each GUEST.wasm as domains 1..N and prints their consoles (each line prefixed with the domain's name); exits when all have shut down: 0 when all powered off, 1 when one crashed, 3 for another reason, 4 when the run was stopped (every domain idle with nothing pending); --cmdline and --vif apply to the guests after them",
  options: [
    { name: "runner", value: "deterministic|threads", help: "deterministic (default: one thread, virtual time, the seed replays the run) or threads (a thread per domain, real time)" },
    { name: "spin", help: "threads: idle domains keep polling instead of sleeping" },
    { name: "seed", value: "N", help: "the deterministic runner's seed (default 1)" },
    { name: "mem", value: "MIB", help: "memory of each domain (default 32)" },
    { name: "stats", help: "per-domain hypercalls, events, refused grant accesses and the ABIs in use at the end (and the uplink's counters)" },
    { name: "trace", value: "FILE.json", help: "writes the run's trace for Perfetto's UI or chrome://tracing (Chrome trace-event JSON): a track per domain, hypercall and upcall slices, event-channel flows, ring and grant-map counters, xenbus states (docs/tracing.md); the same seed gives the same file" },
    { name: "dashboard", optional: "PORT", help: "serves a live dashboard of the run on http://127.0.0.1:PORT/ (default: a free port, printed at start): domains, rings, event rates, grant maps, consoles and the xenstore tree, where a key can be written (docs/dashboard.md)" },
    { name: "event-order", value: "FILE", help: "writes the deterministic runner's event order (a line per step: time, what), for comparing two runs" },
    { name: "xenstore-socket", value: "PATH", help: "where xenstored listens for dom0's tools (default: a per-run path, printed at start)" },
    { name: "disk", value: "PATH[,ro]|ram:SIZE", help: "attaches a raw image (or a zeroed RAM disk) to the first guest as xvda, xvdb, ... (,ro: read-only), served by domain 0" },
    { name: "backend", value: "DOM0.wasm", help: "domain 0's WebAssembly backend domain (default build/drivers/dom0.wasm, started when there is a disk or a vif)" },
    { name: "backend-cmdline", value: "STR", help: "domain 0's command line, e.g. \"features=none\"" },
    { name: "pcap", value: "FILE", help: "records every frame dom0's switch forwards (libpcap, for tshark or wireshark)" },
    { name: "uplink", value: "local=[HOST:]PORT,remote=[HOST:]PORT", help: "threads: joins the switch to the host over UDP, one Ethernet frame per datagram (QEMU's -netdev dgram), binding local (HOST defaults to 127.0.0.1) and exchanging frames with remote, e.g. socat's TAP bridge (docs/net.md)" },
    { name: "evtchn", value: "fifo|2l", help: "the event-channel ABI every domain's SDK uses (default: FIFO, as Linux; passed as xen_fifo_events=1|0 on each command line)" },
    { name: "gnttab", value: "1|2", help: "the grant-table version every domain's SDK uses (default 1; passed as grant_table.version=N on each command line)" },
    { name: "faults", value: "PERCENT", help: "fails this share of every domain's grant maps and copies, channel port allocations and xenstore commits with the errors Xen returns there, seeded by --seed (docs/reliability.md)" },
    { name: "cmdline", value: "STR", help: "the command line of the guests after it" },
    { name: "vif", value: "SPEC", help: "a vif on dom0's switch for the guests after it: on, none, or mac=..,mtu=..,rate=10Mb/s[@50ms],queues=N,features=all|none (MACs default to 00:16:3e:00:00:<domid>)" },
  ],
};

/** Usage text of `xenwasm run`. */
export const RUN_USAGE = usage(RUN_SPEC);

interface RunArgs {
  runner: "deterministic" | "threads"; spin: boolean; seed: number; memMiB: number; stats: boolean; trace?: string; eventOrder?: string; dashboard?: number; xenstoreSocket?: string;
  guests: Array<{ path: string; cmdline: string; vif: VifSpec | null }>; disks: DiskArg[]; backend?: string; backendCmdline: string; pcap?: string;
  uplink?: UplinkSpec; abi: AbiChoice; faults?: number;
}

function intArg(opt: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`run: ${opt} must be a whole number from ${min} to ${max}, not '${v}'`);
  return Number(v);
}

/** Parses the arguments of `xenwasm run`; throws UsageError with one line. */
export function parseRunArgs(argv: string[]): RunArgs {
  const a: RunArgs = { runner: "deterministic", spin: false, seed: 1, memMiB: 32, stats: false, guests: [], disks: [], backendCmdline: "", abi: {} };
  let cmdline = "";
  let vif: VifSpec | null = null;
  const wrapped = <T>(f: () => T): T => { try { return f(); } catch (e) { throw new UsageError(`run: ${(e as Error).message}`); } };
  for (const t of tokenize(RUN_SPEC, argv)) {
    if (t.kind === "positional") { a.guests.push({ path: t.value, cmdline, vif }); continue; }
    const v = t.value!, opt = `--${t.name}`;
    switch (t.name) {
      case "runner":
        if (v !== "deterministic" && v !== "threads") throw new UsageError(`run: --runner must be 'deterministic' or 'threads', not '${v}'`);
        a.runner = v;
        break;
      case "seed": a.seed = intArg(opt, v, 0, 0xffffffff); break;
      case "mem": a.memMiB = intArg(opt, v, MIN_MEM_MIB, MAX_MEM_MIB); break;
      case "cmdline": cmdline = v; break;
      case "stats": a.stats = true; break;
      case "spin": a.spin = true; break;
      case "trace": a.trace = v; break;
      case "event-order": a.eventOrder = v; break;
      case "dashboard": a.dashboard = t.value === undefined ? 0 : intArg("--dashboard", t.value, 0, 65535); break;
      case "xenstore-socket": a.xenstoreSocket = v; break;
      case "disk": a.disks.push(wrapped(() => parseDiskArg(v))); break;
      case "backend": a.backend = v; break;
      case "backend-cmdline": a.backendCmdline = v; break;
      case "vif": vif = wrapped(() => parseVifArg(v)); break;
      case "pcap": a.pcap = v; break;
      case "uplink": a.uplink = wrapped(() => parseUplinkArg(v)); break;
      case "evtchn":
        if (v !== "fifo" && v !== "2l") throw new UsageError(`run: --evtchn must be 'fifo' or '2l', not '${v}'`);
        a.abi.evtchn = v;
        break;
      case "gnttab":
        if (v !== "1" && v !== "2") throw new UsageError(`run: --gnttab must be 1 or 2, not '${v}'`);
        a.abi.gnttab = v === "1" ? 1 : 2;
        break;
      case "faults":
        if (!/^\d+$/.test(v) || Number(v) > 100) throw new UsageError(`run: --faults must be a whole number from 0 to 100, not '${v}'`);
        a.faults = Number(v);
        break;
    }
  }
  if (a.guests.length === 0) throw new UsageError("run: no guest given (usage: xenwasm run [options] GUEST.wasm ...)");
  if (a.spin && a.runner !== "threads") throw new UsageError("run: --spin needs --runner threads");
  if (a.disks.length > MAX_DISKS) throw new UsageError(`run: at most ${MAX_DISKS} disks (xvda..xvdp), not ${a.disks.length}`);
  if (a.pcap !== undefined && !a.guests.some((g) => g.vif)) throw new UsageError("run: --pcap records dom0's switch: give a guest a vif (--vif on)");
  if (a.uplink && !a.guests.some((g) => g.vif)) throw new UsageError("run: --uplink joins dom0's switch to the host: give a guest a vif (--vif on)");
  if (a.uplink && a.runner !== "threads") throw new UsageError("run: --uplink needs --runner threads (virtual time cannot wait for a real network)");
  const macs = a.guests.map((g, i) => g.vif?.mac ?? (g.vif ? `default ${i}` : "")).filter((m) => m && !m.startsWith("default"));
  const dup = macs.find((m, i) => macs.indexOf(m) !== i);
  if (dup) throw new UsageError(`run: two vifs with the MAC ${dup}`);
  return a;
}

/** Runs `xenwasm run` with `argv` on the host library (bindings/host/system.ts); returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  const a = parseRunArgs(argv);
  let socketDir: string | undefined;
  if (!a.xenstoreSocket) {
    socketDir = mkdtempSync(join(tmpdir(), "xenwasm-"));
    a.xenstoreSocket = join(socketDir, "xenstored.sock");
  }
  const config: SystemConfig = {
    guests: a.guests.map((g) => ({ wasm: g.path, cmdline: g.cmdline, memMiB: a.memMiB, vif: g.vif ?? false })),
    runner: a.runner, seed: a.seed, spin: a.spin, pcap: a.pcap, uplink: a.uplink, xenstoreSocket: a.xenstoreSocket, abi: a.abi,
    faults: a.faults ? { seed: a.seed, percent: a.faults } : undefined,
    chromeTrace: a.trace, trace: a.eventOrder !== undefined, accounting: a.dashboard !== undefined,
    disks: a.disks.map((d) => (d.ramBytes !== undefined ? { ramBytes: d.ramBytes, readonly: d.readonly } : { path: d.path, readonly: d.readonly })),
    backend: a.backend !== undefined || a.disks.length || a.guests.some((g) => g.vif) ? { wasm: a.backend, cmdline: a.backendCmdline, memMiB: a.memMiB } : undefined,
    onUplink: (port) => {
      const u = a.uplink!, host = (h: string) => (h.includes(":") ? `[${h}]` : h);
      process.stderr.write(`xenwasm: uplink: udp ${host(u.local.host)}:${port} <-> ${host(u.remote.host)}:${u.remote.port} ` +
        `(a TAP joins with: socat TUN:10.0.0.1/24,tun-type=tap,iff-no-pi,iff-up UDP-DATAGRAM:${host(u.local.host)}:${port},bind=${host(u.remote.host)}:${u.remote.port})\n`);
    },
    onConsole: (l) => process.stdout.write(`[${l.domain}] ${l.text}\n`),
    onLog: (line) => process.stderr.write(`xenwasm: ${line}\n`),
    // Where xenstored listens, once it does (a bad configuration is reported instead).
    onReady: () => {
      process.stderr.write(`xenwasm: xenstore socket: ${a.xenstoreSocket} (XENSTORED_PATH=${a.xenstoreSocket} xenstore-ls)\n`);
      if (a.runner === "deterministic") process.stderr.write(`xenwasm: deterministic runner, seed ${a.seed}\n`);
    },
  };
  let result: SystemResult;
  let dashboard: Dashboard | undefined;
  try {
    // The dashboard listens before any domain is built: a port in use is a usage error.
    if (a.dashboard !== undefined) {
      dashboard = await Dashboard.listen(a.dashboard).catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`run: --dashboard: cannot listen on 127.0.0.1:${a.dashboard}: ${e.code ?? e.message}`);
      });
      process.stderr.write(`xenwasm: dashboard: ${dashboard.url}\n`);
    }
    const system = XenSystem.start(config);
    dashboard?.attach(system);
    result = await system.done;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`run: ${e.message}`);
    const err = e as NodeJS.ErrnoException;
    if (err.syscall === "bind" && a.uplink) throw new UsageError(`run: --uplink: cannot bind ${a.uplink.local.host}:${a.uplink.local.port}: ${err.code ?? err.message}`);
    if (err.code === "EADDRINUSE" || err.code === "EACCES" || /is not a socket/.test(err.message)) {
      throw new UsageError(`run: cannot listen on xenstore socket ${a.xenstoreSocket}: ${err.message}`);
    }
    throw e;
  } finally {
    await dashboard?.close();
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  }
  if (a.eventOrder) writeFileSync(a.eventOrder, result.trace.join("\n") + "\n");
  if (a.trace) process.stderr.write(`xenwasm: trace written to ${a.trace} (open it at https://ui.perfetto.dev or chrome://tracing)\n`);
  if (a.pcap) process.stderr.write(`xenwasm: capture written to ${a.pcap} (tshark -r ${a.pcap})\n`);
  if (a.stats && result.uplink) {
    const u = result.uplink;
    process.stderr.write(`xenwasm: uplink: ${u.rxFrames} frames in, ${u.txFrames} out; dropped in: ${u.rxMalformed} malformed, ${u.rxOversized} oversized, ` +
      `${u.rxForeign} from another address, ${u.rxQueueFull} queue full; dropped out: ${u.txQueueFull} queue full, ${u.txErrors} send errors\n`);
  }
  if (a.stats) {
    for (const d of [...(result.backend ? [result.backend] : []), ...result.domains.filter((x) => x.domid !== 0)]) process.stderr.write(`xenwasm: ${d.name} (${d.domid}): ${d.reason}, ${d.hypercalls} hypercalls, ${d.events} events, ${d.violations} refused grant accesses, ${d.evtchnAbi} event channels, grant table v${d.gnttabVersion}${a.faults ? `, ${d.faults} injected faults` : ""}\n`);
  }
  // Crashes were reported as they happened; name the other ways a guest did not power off.
  const bad = result.domains.filter((d) => d.reason !== "poweroff" && d.reason !== "crash");
  if (bad.length && !result.error) process.stderr.write(`xenwasm: ${bad.map((d) => `${d.name} (${d.domid}): ${d.reason}${d.message ? ` (${d.message})` : ""}`).join("; ")}\n`);
  return result.exitCode;
}
