// The switch meets a real Linux network stack (docs/net.md, "The host uplink"): in a network
// namespace this file creates and removes, a Linux TAP (10.0.0.1/24) is joined to dom0's switch
// by socat (TAP <-> UDP, one frame per datagram) and `xenwasm run --uplink` runs inside the same
// namespace, so that every datagram stays on that namespace's loopback and every frame on its
// TAP. Linux's ping answers a guest's netping and gets replies from a guest; socat makes UDP
// round trips with the udpecho guest; tshark on the TAP finds every checksum valid; and a guest's
// TCP GSO frame reaches Linux segmented, with valid checksums and contiguous sequence numbers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";
import { startXenwasm, until } from "../helpers/run.js";

const which = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const missing = ["ip", "socat", "tshark", "ping"].filter((t) => !which(t));
const isRoot = process.getuid?.() === 0;
const usable = missing.length === 0 && isRoot;

const NS = `xwt-${process.pid}`;
const TAP = "xwtap0";
const TAP_MAC = "02:58:57:00:00:01";
/** The uplink's UDP ports on the namespace's loopback: xenwasm binds LOCAL, socat binds REMOTE. */
const LOCAL = 5555, REMOTE = 5556;
const inNs = (...argv: string[]) => ["ip", "netns", "exec", NS, ...argv];
const sh = (argv: string[], input?: string, timeout = 15_000) => spawnSync(argv[0], argv.slice(1), { encoding: "utf8", input, timeout });

const spawnArgv = (argv: string[], opts: Parameters<typeof spawn>[2] = {}) => spawn(argv[0], argv.slice(1), opts);

let socat: ChildProcess | undefined;
let dir = "";

/** Runs tshark on the TAP while `fn` runs and returns the capture file's path. */
async function capture(name: string, fn: () => Promise<void>): Promise<string> {
  const file = join(dir, `${name}.pcap`);
  let err = "";
  const ts = spawnArgv(inNs("tshark", "-i", TAP, "-w", file));
  ts.stderr!.on("data", (b) => (err += b));
  const done = new Promise((r) => ts.on("exit", r));
  try {
    await until("tshark capturing on the TAP", () => (/Capturing on/.test(err) ? true : undefined), 20_000, () => err);
    await fn();
    await new Promise((r) => setTimeout(r, 500)); // the last frames reach the capture
  } finally {
    ts.kill("SIGINT");
    await done;
  }
  return file;
}

/** tshark's fields of the frames in `file` that match `filter`, with IP/TCP/UDP/ICMP checksum checking on. */
function fields(file: string, filter: string, ...names: string[]): string[][] {
  const r = sh(["tshark", "-r", file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
    "-Y", filter, "-T", "fields", "-E", "separator=,", ...names.flatMap((n) => ["-e", n])]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter((l) => l.trim()).map((l) => l.split(","));
}

describe.skipIf(skipWithout(usable))("the switch's uplink and a real Linux stack", () => {
  beforeAll(async () => {
    expect(missing, `the real-peer test needs ${missing.join(", ")} (apt-get install iproute2 socat tshark iputils-ping)`).toEqual([]);
    expect(isRoot, "the real-peer test creates network namespaces: run it as root").toBe(true);
    dir = mkdtempSync(join(tmpdir(), "xenwasm-realpeer-"));
    sh(["ip", "netns", "del", NS]);
    expect(sh(["ip", "netns", "add", NS]).status).toBe(0);
    expect(sh(inNs("ip", "link", "set", "lo", "up")).status).toBe(0);
    socat = spawnArgv(inNs("socat", `TUN:10.0.0.1/24,tun-type=tap,iff-no-pi,iff-up,tun-name=${TAP}`,
      `UDP-DATAGRAM:127.0.0.1:${LOCAL},bind=127.0.0.1:${REMOTE}`), { stdio: ["ignore", "ignore", "pipe"] });
    let socatErr = "";
    socat.stderr!.on("data", (b) => (socatErr += b));
    await until("socat's TAP", () => (sh(inNs("ip", "link", "show", TAP)).status === 0 ? true : undefined), 10_000, () => socatErr);
    expect(sh(inNs("ip", "link", "set", "dev", TAP, "address", TAP_MAC)).status).toBe(0);
  }, 30_000);

  afterAll(async () => {
    socat?.kill();
    sh(["ip", "netns", "del", NS]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("Linux pings a guest, a guest pings Linux, UDP makes round trips, and tshark finds every checksum valid", async () => {
    let pingOut = "";
    const echoed: string[] = [];
    let run: ReturnType<typeof startXenwasm> | undefined;
    const file = await capture("stack", async () => {
      run = startXenwasm(["run", "--runner", "threads", "--stats", "--uplink", `local=${LOCAL},remote=${REMOTE}`, "--vif", "on",
        "--cmdline", "ip=10.0.0.2 count=3", join(ROOT, "build/examples/udpecho.wasm"),
        "--cmdline", "ip=10.0.0.3 peer=10.0.0.1 n=3 wait=500", join(ROOT, "build/examples/netping.wasm")], inNs());
      await until("udpecho listening", () => (/udpecho: listening on 10\.0\.0\.2:7/.test(run!.out()) ? true : undefined), 30_000, run.out);
      const ping = sh(inNs("ping", "-c", "3", "-W", "2", "10.0.0.2"));
      pingOut = ping.stdout + ping.stderr;
      for (let i = 0; i < 3; i++) echoed.push(sh(inNs("socat", "-t", "3", "-T", "3", "-", "UDP:10.0.0.2:7"), `xenwasm-realpeer-${i}\n`).stdout);
      const code = await Promise.race([run.exit, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
      expect(code, run.out()).toBe(0);
    });
    const out = run!.out();
    expect(out).toMatch(/xenwasm: uplink: udp 127\.0\.0\.1:5555 <-> 127\.0\.0\.1:5556/);
    // Linux's ping got every reply from the guest.
    expect(pingOut, pingOut).toMatch(/3 packets transmitted, 3 received/);
    // The guest's netping got every reply from Linux.
    expect(out).toContain("[netping] 3 packets transmitted, 3 received, 0% packet loss");
    // Every UDP datagram came back byte for byte.
    expect(echoed).toEqual([0, 1, 2].map((i) => `xenwasm-realpeer-${i}\n`));
    expect(out).toContain("[udpecho] udpecho: echoed 3 datagrams");
    expect(out).toMatch(/uplink: \d+ frames in, \d+ out; dropped in: 0 malformed, 0 oversized, 0 from another address, 0 queue full; dropped out: 0 queue full, 0 send errors/);

    // On the TAP: the guests' ICMP and UDP with valid checksums (1: good), and the replies Linux got.
    const icmp = fields(file, "icmp && ip.src==10.0.0.2", "icmp.type", "ip.checksum.status", "icmp.checksum.status");
    expect(icmp.filter((f) => f[0] === "0").length, "echo replies from the guest").toBe(3);
    for (const f of icmp) expect(f.slice(1), "IP and ICMP checksums of a guest's frame").toEqual(["1", "1"]);
    const icmp3 = fields(file, "icmp && ip.src==10.0.0.3", "icmp.type", "ip.checksum.status", "icmp.checksum.status");
    expect(icmp3.filter((f) => f[0] === "8").length, "echo requests from netping").toBe(3);
    for (const f of icmp3) expect(f.slice(1)).toEqual(["1", "1"]);
    const udp = fields(file, "udp && ip.src==10.0.0.2", "udp.srcport", "ip.checksum.status", "udp.checksum.status", "udp.length");
    expect(udp.length, "UDP echoes from the guest").toBe(3);
    for (const f of udp) {
      expect(f[0]).toBe("7");
      expect(f[1], "IP checksum").toBe("1");
      expect(["1", "2"], "a UDP checksum is valid or (IPv4) absent").toContain(f[2]);
      expect(f[3], "UDP length: 8 + 19 bytes").toBe("27");
    }
  }, 120_000);

  it("a guest's TCP GSO frames reach Linux segmented, with valid checksums and contiguous sequence numbers", async () => {
    let run: ReturnType<typeof startXenwasm> | undefined;
    const n = 4;
    const file = await capture("gso", async () => {
      run = startXenwasm(["run", "--runner", "threads", "--stats", "--uplink", `local=${LOCAL},remote=${REMOTE}`, "--vif", "on",
        "--cmdline", `role=send to=${TAP_MAC} gso-frames=1 n=${n} min=20000 max=65000 seed=3 wait=200`, join(ROOT, "build/tests/net_pattern.wasm")], inNs());
      const code = await Promise.race([run.exit, new Promise((r) => setTimeout(() => r("timeout"), 60_000))]);
      expect(code, run.out()).toBe(0);
    });
    expect(run!.out()).toContain(`net_pattern: sent ${n} frames to ${TAP_MAC}, every transmit response okay`);
    const segs = fields(file, "tcp && ip.src==10.0.0.2", "frame.len", "ip.checksum.status", "tcp.checksum.status", "tcp.seq_raw", "tcp.len", "ip.flags.df");
    // n frames of 20000..65000 bytes at MSS 1448: at least 14 segments each.
    expect(segs.length, `segments on the TAP (${segs.length})`).toBeGreaterThanOrEqual(n * 14);
    let seq = 0;
    for (const [len, ipSum, tcpSum, s, payload] of segs) {
      expect(Number(len), "a segment fits the TAP's MTU").toBeLessThanOrEqual(1514);
      expect(Number(payload)).toBeLessThanOrEqual(1448);
      expect(Number(payload)).toBeGreaterThan(0);
      expect([ipSum, tcpSum], `checksums of the segment at seq ${s}`).toEqual(["1", "1"]);
      expect(Number(s), "sequence numbers are contiguous").toBe(seq);
      seq += Number(payload);
    }
    expect(segs.filter((f) => f[4] === "1448").length, "full-MSS segments").toBeGreaterThan(n * 10);
  }, 120_000);
});
