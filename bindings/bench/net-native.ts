// The native side of `xenwasm bench net`: the C reference of netif.h's split driver
// (bindings/bench/native/netif.c: netfront transmit, netback + bridge, netfront receive as
// pthreads of one process) and, for comparison, Linux's own path: iperf3 between two network
// namespaces joined by a veth pair.
import { execFile, spawn, spawnSync } from "node:child_process";
import { runNative } from "./native.js";

/** One workload of the reference: where frames go, their length, GSO, the mode, queues and frame count. */
export interface NetNativeConfig { workload: "guest-guest" | "guest-sink"; len: number; gso: boolean; mode: "poll" | "event"; queues: 1 | 2; frames: number }

/** What one run measured: seconds from the first frame sent to the last verified, and the counts. */
export interface NetSample { seconds: number; frames: number; bytes: number; notifies: number; copyOps: number; bytesCopied: number; grantOps: number }

/** A run whose counts are wrong (frames, bytes, copies, notifications): the message says which. */
export class NetBenchError extends Error {}

/** The reference's command line for `cfg` (and the test hook `--corrupt K`: the switch flips the last byte of frame K). */
export function nativeNetArgs(cfg: NetNativeConfig, corruptAt?: number): string[] {
  const a = ["--workload", cfg.workload, "--len", String(cfg.len), ...(cfg.gso ? ["--gso"] : []), "--frames", String(cfg.frames),
    "--mode", cfg.mode, "--queues", String(cfg.queues)];
  return corruptAt === undefined ? a : [...a, "--corrupt", String(corruptAt)];
}

/**
 * Runs the reference `bin` once for `cfg` and returns its figures (grantOps = copyOps: each memcpy
 * stands for one GNTTABOP_copy entry), throwing NativeError when a check in the reference failed
 * and NetBenchError when the counts it reports are not those of the workload.
 */
export function runNativeNet(bin: string, cfg: NetNativeConfig): NetSample {
  const r = runNative(bin, nativeNetArgs(cfg));
  const bytes = cfg.frames * cfg.len;
  const pagesPerFrame = Math.ceil(cfg.len / 4096);
  const wrong =
    r.frames !== cfg.frames ? `${r.frames} frames, not ${cfg.frames}`
    : r.bytes !== bytes ? `${r.bytes} bytes, not ${bytes}`
    : !(r.ns > 0) ? `a time of ${r.ns} ns`
    : r.bytes_copied !== bytes ? `${r.bytes_copied} bytes copied, not ${bytes}`
    : !(r.copy_ops >= cfg.frames * pagesPerFrame) ? `${r.copy_ops} copy ops for ${cfg.frames} frames of ${pagesPerFrame} pages`
    : !(r.notifies >= 0) || (cfg.mode === "poll" && r.notifies !== 0) ? `${r.notifies} notifications in ${cfg.mode} mode`
    : null;
  if (wrong !== null) throw new NetBenchError(`native-c net run (${nativeNetArgs(cfg).join(" ")}) reported ${wrong}`);
  return { seconds: r.ns / 1e9, frames: r.frames, bytes: r.bytes, notifies: r.notifies, copyOps: r.copy_ops, bytesCopied: r.bytes_copied, grantOps: r.copy_ops };
}

/** Linux's veth path as iperf3 measured it: `udp64` (UDP, 18-byte payloads: 60-byte Ethernet frames, 64 with an FCS) or `tcp` (one default stream). */
export interface VethResult {
  kind: "udp64" | "tcp";
  /** udp64: datagrams the receiver got (iperf3's packets minus lost) per second; tcp: packets the receiving veth counted (rx_packets; a GSO super-frame counts once, as a netif GSO frame) per second. */
  frames_per_s: number;
  /** udp64: those datagrams' 60-byte Ethernet frames; tcp: the receiver's TCP payload rate (iperf3's bits_per_second). */
  gbit_per_s: number;
  /** The receiver's measured seconds. */
  seconds: number;
}

/** UDP payload bytes of udp64: a 60-byte Ethernet frame (64 with the FCS). */
export const VETH_UDP_PAYLOAD = 18;
const VETH_UDP_FRAME = 14 + 20 + 8 + VETH_UDP_PAYLOAD;

function commandRuns(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
  return !r.error && r.status === 0;
}

/** Why runVethIperf cannot run here (not root, `ip` missing, `iperf3` missing), or null when it can. */
export function vethUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root: network namespaces and veth pairs need root";
  if (!commandRuns("ip", ["-V"])) return "`ip` (iproute2) not found";
  if (!commandRuns("iperf3", ["--version"])) return "`iperf3` not found";
  return null;
}

/** Runs `cmd args` with a timeout; resolves with its output, rejects with NetBenchError on failure. */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || stdout || err.message).trim().split("\n")[0];
        reject(Object.assign(new NetBenchError(`${cmd} ${args.join(" ")}: ${why}`), { stdout }));
      } else resolve({ stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let vethRuns = 0;

/** One key of parsed iperf3 JSON, or a NetBenchError naming it. */
function num(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new NetBenchError(`iperf3 JSON: ${what} is ${JSON.stringify(x)}`);
  return x;
}

interface IperfSum { seconds?: number; bits_per_second?: number; packets?: number; lost_packets?: number }
interface IperfJson { error?: string; end?: { sum?: IperfSum; sum_received?: IperfSum } }

/**
 * Measures Linux's veth path for `seconds` (a whole number): creates namespaces xwb-PID-N-a and -b
 * joined by a veth pair (10.99.X.1/24 and .2/24, addresses that exist only inside them), runs
 * `iperf3 -s -1 -J` in b and the client in a (`-u -b 0 -l 18` for udp64, defaults for tcp), parses
 * the receiver's report, and removes the namespaces, also when a step fails (NetBenchError).
 */
export async function runVethIperf(kind: "udp64" | "tcp", seconds: number): Promise<VethResult> {
  const why = vethUnavailable();
  if (why) throw new NetBenchError(`veth iperf3: ${why}`);
  if (!(seconds >= 1 && seconds <= 3600 && Number.isInteger(seconds))) throw new NetBenchError(`veth iperf3: seconds must be a whole number from 1 to 3600, not ${seconds}`);
  const n = vethRuns++;
  const nsA = `xwb-${process.pid}-${n}-a`, nsB = `xwb-${process.pid}-${n}-b`;
  const x = (process.pid + n) % 254 + 1; // the addresses exist only inside the two namespaces
  const ipA = `10.99.${x}.1`, ipB = `10.99.${x}.2`;
  const created: string[] = [];
  let server: ReturnType<typeof spawn> | null = null;
  try {
    for (const ns of [nsA, nsB]) { await run("ip", ["netns", "add", ns]); created.push(ns); }
    await run("ip", ["-n", nsA, "link", "add", "xwb0", "type", "veth", "peer", "name", "xwb1", "netns", nsB]);
    await run("ip", ["-n", nsA, "addr", "add", `${ipA}/24`, "dev", "xwb0"]);
    await run("ip", ["-n", nsB, "addr", "add", `${ipB}/24`, "dev", "xwb1"]);
    for (const [ns, dev] of [[nsA, "xwb0"], [nsB, "xwb1"], [nsA, "lo"], [nsB, "lo"]]) await run("ip", ["-n", ns, "link", "set", dev, "up"]);

    // The server: one test, JSON on stdout when it ends.
    let serverOut = "", serverErr = "";
    const srv = spawn("ip", ["netns", "exec", nsB, "iperf3", "-s", "-1", "-J", "-B", ipB], { stdio: ["ignore", "pipe", "pipe"] });
    server = srv;
    srv.stdout!.on("data", (d: Buffer) => { serverOut += d; });
    srv.stderr!.on("data", (d: Buffer) => { serverErr += d; });
    const serverDone = new Promise<number | null>((resolve) => { srv.on("close", (code) => resolve(code)); srv.on("error", () => resolve(null)); });

    const rxPackets = async () => Number((await run("ip", ["netns", "exec", nsB, "cat", "/sys/class/net/xwb1/statistics/rx_packets"])).stdout.trim());
    const before = await rxPackets();
    const clientArgs = ["netns", "exec", nsA, "iperf3", "-c", ipB, "-J", "-t", String(seconds), ...(kind === "udp64" ? ["-u", "-b", "0", "-l", String(VETH_UDP_PAYLOAD)] : [])];
    // The server needs a moment to listen: a refused connection never reached it, so retry.
    let client: IperfJson | null = null;
    for (let attempt = 0; client === null; attempt++) {
      let out: string;
      try { out = (await run("ip", clientArgs, (seconds + 20) * 1000)).stdout; }
      catch (e) { out = (e as { stdout?: string }).stdout ?? ""; if (!out) throw e; }
      const j = JSON.parse(out) as IperfJson;
      if (j.error && /refused/i.test(j.error) && attempt < 50) { await sleep(100); continue; }
      if (j.error) throw new NetBenchError(`iperf3 client: ${j.error}`);
      client = j;
    }
    const after = await rxPackets();
    const code = await Promise.race([serverDone, sleep(10_000).then(() => "timeout" as const)]);
    if (code === "timeout") throw new NetBenchError("iperf3 server did not exit after its test");
    server = null;
    if (code !== 0) throw new NetBenchError(`iperf3 server exited with status ${code}: ${(serverErr || serverOut).trim().split("\n")[0]}`);
    const srvJson = JSON.parse(serverOut) as IperfJson;
    if (srvJson.error) throw new NetBenchError(`iperf3 server: ${srvJson.error}`);
    const rec = srvJson.end?.sum_received ?? srvJson.end?.sum;
    if (!rec) throw new NetBenchError("iperf3 server JSON has no end.sum_received");
    const secs = num(rec.seconds, "end.sum_received.seconds");
    if (!(secs > 0)) throw new NetBenchError(`iperf3 measured ${secs} seconds`);
    if (kind === "udp64") {
      const got = num(rec.packets, "end.sum_received.packets") - num(rec.lost_packets, "end.sum_received.lost_packets");
      return { kind, frames_per_s: got / secs, gbit_per_s: (got * VETH_UDP_FRAME * 8) / secs / 1e9, seconds: secs };
    }
    return { kind, frames_per_s: (after - before) / secs, gbit_per_s: num(rec.bits_per_second, "end.sum_received.bits_per_second") / 1e9, seconds: secs };
  } finally {
    if (server && server.exitCode === null) server.kill("SIGKILL");
    for (const ns of created.reverse()) await run("ip", ["netns", "del", ns]).catch(() => {});
  }
}
