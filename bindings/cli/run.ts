// `xenwasm run`: boots guest modules as domains 1..N under one of the two runners, prints their
// consoles, and exits when all have shut down (0 when all powered off).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_MEM_MIB, MIN_MEM_MIB } from "../toolstack/builder.js";
import { MAX_DISKS, parseDiskArg, type DiskArg } from "../toolstack/disks.js";
import { ConfigError, XenSystem, type SystemConfig, type SystemResult } from "../host/system.js";
import { parseVifArg, type VifSpec } from "../toolstack/vifs.js";
import { parseUplinkArg, type UplinkSpec } from "../devices/uplink.js";

/** An error whose message is the whole story: printed as one line, exit status 2. */
export class UsageError extends Error {}

/** Usage text of `xenwasm run`. */
export const RUN_USAGE = `xenwasm run [--runner deterministic|threads] [--spin] [--seed N] [--mem MIB] [--stats] [--trace FILE]
            [--xenstore-socket PATH] [--disk PATH[,ro] ...] [--backend DOM0.wasm] [--backend-cmdline STR]
            [--pcap FILE] [--uplink local=[HOST:]PORT,remote=[HOST:]PORT]
            [--cmdline STR] [--vif SPEC] GUEST.wasm [[--cmdline STR] [--vif SPEC] GUEST.wasm ...]
  boots each GUEST.wasm as domains 1..N; --cmdline and --vif apply to the guests after them;
  --vif gives each such guest a vif on dom0's switch (SPEC: on, none, or mac=..,mtu=..,
  rate=10Mb/s[@50ms],queues=N,features=all|none; MACs default to 00:16:3e:00:00:<domid>);
  --pcap records every frame dom0's switch forwards (libpcap, for tshark or wireshark);
  --uplink joins the switch to the host over UDP, one Ethernet frame per datagram (QEMU's
  -netdev dgram): it binds local (HOST defaults to 127.0.0.1) and exchanges frames with remote,
  e.g. socat's TAP bridge (docs/net.md); needs --runner threads;
  --disk attaches a raw image (or ram:SIZE, a zeroed RAM disk) to the first guest as xvda, xvdb,
  ... (,ro: read-only), served by
  domain 0, a WebAssembly backend domain (build/drivers/dom0.wasm unless --backend names another;
  --backend-cmdline is its command line, e.g. "features=none");
  --spin (threads) keeps idle domains polling instead of sleeping;
  xenstored listens on --xenstore-socket (default: a per-run path, printed at start)`;

interface RunArgs {
  runner: "deterministic" | "threads"; spin: boolean; seed: number; memMiB: number; stats: boolean; trace?: string; xenstoreSocket?: string;
  guests: Array<{ path: string; cmdline: string; vif: VifSpec | null }>; disks: DiskArg[]; backend?: string; backendCmdline: string; pcap?: string;
  uplink?: UplinkSpec;
}

function intArg(opt: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined) throw new UsageError(`run: ${opt} needs a value`);
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`run: ${opt} must be a whole number from ${min} to ${max}, not '${v}'`);
  return Number(v);
}

/** Parses the arguments of `xenwasm run`; throws UsageError with one line. */
export function parseRunArgs(argv: string[]): RunArgs {
  const a: RunArgs = { runner: "deterministic", spin: false, seed: 1, memMiB: 32, stats: false, guests: [], disks: [], backendCmdline: "" };
  let cmdline = "";
  let vif: VifSpec | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => { const v = argv[++i]; if (v === undefined) throw new UsageError(`run: ${arg} needs a value`); return v; };
    switch (arg) {
      case "--runner": {
        const v = value();
        if (v !== "deterministic" && v !== "threads") throw new UsageError(`run: --runner must be 'deterministic' or 'threads', not '${v}'`);
        a.runner = v;
        break;
      }
      case "--seed": a.seed = intArg(arg, argv[++i], 0, 0xffffffff); break;
      case "--mem": a.memMiB = intArg(arg, argv[++i], MIN_MEM_MIB, MAX_MEM_MIB); break;
      case "--cmdline": cmdline = value(); break;
      case "--stats": a.stats = true; break;
      case "--spin": a.spin = true; break;
      case "--trace": a.trace = value(); break;
      case "--xenstore-socket": a.xenstoreSocket = value(); break;
      case "--disk":
        try { a.disks.push(parseDiskArg(value())); } catch (e) { throw new UsageError(`run: ${(e as Error).message}`); }
        break;
      case "--backend": a.backend = value(); break;
      case "--backend-cmdline": a.backendCmdline = value(); break;
      case "--vif":
        try { vif = parseVifArg(value()); } catch (e) { throw new UsageError(`run: ${(e as Error).message}`); }
        break;
      case "--pcap": a.pcap = value(); break;
      case "--uplink":
        try { a.uplink = parseUplinkArg(value()); } catch (e) { throw new UsageError(`run: ${(e as Error).message}`); }
        break;
      default:
        if (arg.startsWith("-")) throw new UsageError(`run: unknown option '${arg}'`);
        a.guests.push({ path: arg, cmdline, vif });
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
    runner: a.runner, seed: a.seed, spin: a.spin, pcap: a.pcap, uplink: a.uplink, xenstoreSocket: a.xenstoreSocket,
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
  try {
    result = await XenSystem.start(config).done;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`run: ${e.message}`);
    const err = e as NodeJS.ErrnoException;
    if (err.syscall === "bind" && a.uplink) throw new UsageError(`run: --uplink: cannot bind ${a.uplink.local.host}:${a.uplink.local.port}: ${err.code ?? err.message}`);
    if (err.code === "EADDRINUSE" || err.code === "EACCES" || /is not a socket/.test(err.message)) {
      throw new UsageError(`run: cannot listen on xenstore socket ${a.xenstoreSocket}: ${err.message}`);
    }
    throw e;
  } finally {
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  }
  if (a.trace) writeFileSync(a.trace, result.trace.join("\n") + "\n");
  if (a.pcap) process.stderr.write(`xenwasm: capture written to ${a.pcap} (tshark -r ${a.pcap})\n`);
  if (a.stats && result.uplink) {
    const u = result.uplink;
    process.stderr.write(`xenwasm: uplink: ${u.rxFrames} frames in, ${u.txFrames} out; dropped in: ${u.rxMalformed} malformed, ${u.rxOversized} oversized, ` +
      `${u.rxForeign} from another address, ${u.rxQueueFull} queue full; dropped out: ${u.txQueueFull} queue full, ${u.txErrors} send errors\n`);
  }
  if (a.stats) {
    for (const d of [...(result.backend ? [result.backend] : []), ...result.domains.filter((x) => x.domid !== 0)]) process.stderr.write(`xenwasm: ${d.name} (${d.domid}): ${d.reason}, ${d.hypercalls} hypercalls, ${d.events} events, ${d.violations} refused grant accesses\n`);
  }
  // Crashes were reported as they happened; name the other ways a guest did not power off.
  const bad = result.domains.filter((d) => d.reason !== "poweroff" && d.reason !== "crash");
  if (bad.length && !result.error) process.stderr.write(`xenwasm: ${bad.map((d) => `${d.name} (${d.domid}): ${d.reason}${d.message ? ` (${d.message})` : ""}`).join("; ")}\n`);
  return result.exitCode;
}
