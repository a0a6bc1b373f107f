// The net split driver end to end, through `xenwasm run` as a user runs it: guests ping each
// other and exchange UDP through dom0's switch under both runners; frames of random sizes and
// contents survive every feature combination of both ends (scatter-gather, GSO over IPv4 and
// IPv6 passed on or segmented, checksums blank or filled, queues steered by the control ring's Toeplitz hash, split
// event channels) with every byte checked by the receiver; the switch honours multicast
// subscriptions and the `rate` limit; the pcap of a run is decoded by Debian's tshark with good
// checksums and repeats byte for byte with the same seed; wrong --vif arguments get one line.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";

const CLI = join(ROOT, "bin/xenwasm.js");
function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const PATTERN = "build/tests/net_pattern.wasm";
const TSHARK = "/usr/bin/tshark";

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "xenwasm-net-")); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(["deterministic", "threads"])("net under the %s runner", (runner) => {
  it("two guests ping each other through dom0's switch", () => {
    const r = xenwasm("run", "--runner", runner, "--vif", "on",
      "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 n=5", "build/examples/netping.wasm",
      "--cmdline", "ip=10.0.0.2 peer=10.0.0.1 n=5", "build/examples/netping.wasm");
    expect(r.stdout).toMatch(/\[netping\.1\] 56 bytes from 10\.0\.0\.2: icmp_seq=4 time=[\d.]+ ms/);
    expect(r.stdout).toMatch(/\[netping\.2\] 56 bytes from 10\.0\.0\.1: icmp_seq=4 time=[\d.]+ ms/);
    expect(r.stdout).toContain("[netping.1] 5 packets transmitted, 5 received, 0% packet loss");
    expect(r.stdout).toContain("[netping.2] 5 packets transmitted, 5 received, 0% packet loss");
    expect(r.stdout).toMatch(/rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms/);
    expect(r.status, r.stderr).toBe(0);
  });

  it("three guests: ICMP and UDP (up to 30000-byte datagrams) against udpecho", () => {
    const r = xenwasm("run", "--runner", runner, "--vif", "on",
      "--cmdline", "ip=10.0.0.2 count=20", "build/examples/udpecho.wasm",
      "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 proto=udp n=10 size=30000", "build/examples/netping.wasm",
      "--cmdline", "ip=10.0.0.3 peer=10.0.0.2 proto=udp n=10 size=1000 csum=0", "build/examples/netping.wasm");
    expect(r.stdout).toContain("[udpecho] udpecho: listening on 10.0.0.2:7");
    expect(r.stdout).toContain("[udpecho] udpecho: echoed 20 datagrams");
    expect(r.stdout).toContain("[netping.2] 10 packets transmitted, 10 received, 0% packet loss");
    expect(r.stdout).toContain("[netping.3] 10 packets transmitted, 10 received, 0% packet loss");
    expect(r.stdout).toMatch(/\[netping\.2\] 30000 bytes from 10\.0\.0\.2: udp_seq=9/);
    expect(r.status, r.stderr).toBe(0);
  });

  // [dom0's command line, receiver's, sender's, both: frames and sizes, what the receiver must print]
  const combos: Array<[string, string, string, string, RegExp]> = [
    ["", "", "", "n=200", /received 200 frames/],
    ["features=none", "", "", "n=200 max=1514", /received 200 frames/],
    ["", "net-features=none", "net-features=none", "n=200 max=1514", /received 200 frames/],
    ["", "sg=0", "", "n=200 max=1514", /received 200 frames/],
    ["", "gso=0", "", "n=60 gso-frames=1", /received \d+ segments/],
    ["", "csum=0", "csum-blank=1", "n=60 gso-frames=1", /received \d+ segments/],
    ["", "", "csum-blank=1", "n=60 gso-frames=1", /received 60 segments/],
    ["", "", "", "n=40 gso-frames=1 v6=1", /received 40 segments/],
    ["", "csum=0", "csum-blank=1", "n=40 gso-frames=1 v6=1", /received \d+ segments/],
    ["", "", "", "n=400 flows=16 max=1500", /per queue .* \(steered by the Toeplitz hash\)/],
    ["net-ctrl-ring=0 net-split=0", "queues=2", "queues=1", "n=300 flows=8 max=9000", /received 300 frames/],
  ];
  it.each(combos)("frames arrive intact: dom0 '%s', receiver '%s', sender '%s', '%s'", (be, recv, send, common, expected) => {
    const seed = 1 + Math.floor(Math.random() * 1e6);
    const r = xenwasm("run", "--runner", runner, "--backend-cmdline", be, "--vif", "on",
      "--cmdline", `role=recv seed=${seed} ${common} ${recv}`, PATTERN,
      "--cmdline", `role=send seed=${seed} ${common} ${send}`, PATTERN);
    const why = `seed ${seed}:\n${r.stdout}${r.stderr}`;
    expect(r.stdout, why).toMatch(expected);
    expect(r.stdout, why).toMatch(/\[net_pattern\.1\] net_pattern: received \d+ (frames|segments), \d+ bytes, all verified/);
    expect(r.stdout, why).toContain("receiver verified them");
    expect(r.status, why).toBe(0);
  });
});

describe("dom0's switch", () => {
  it("delivers multicast only to a vif that subscribed (multicast control); floods it to one without", () => {
    const r = xenwasm("run", "--vif", "on",
      "--cmdline", "role=send ip=10.0.0.1 receivers=2 n=20", "build/tests/net_mcast.wasm",
      "--cmdline", "role=recv ip=10.0.0.2 join=239.1.1.1", "build/tests/net_mcast.wasm",
      "--cmdline", "role=recv ip=10.0.0.3 join=239.1.1.2 mcast=0", "build/tests/net_mcast.wasm");
    expect(r.stdout).toContain("[net_mcast.2] net_mcast: joined 239.1.1.1 (multicast control)");
    expect(r.stdout).toContain("[net_mcast.3] net_mcast: joined 239.1.1.2 (no multicast control)");
    // Subscribed to 239.1.1.1 only: the switch never gave it a 239.1.1.2 frame to filter.
    expect(r.stdout).toContain("[net_mcast.2] net_mcast: 239.1.1.1 20, 239.1.1.2 0, filtered by the stack 0");
    // Without multicast control every group frame is flooded to it and its stack drops the other group's.
    expect(r.stdout).toContain("[net_mcast.3] net_mcast: 239.1.1.1 0, 239.1.1.2 20, filtered by the stack 20");
    expect(r.status, r.stderr).toBe(0);
  });

  it("stops filtering when the frontend turns multicast control off at run time (feature-dynamic-multicast-control)", () => {
    const r = xenwasm("run", "--vif", "on",
      "--cmdline", "role=send ip=10.0.0.1 receivers=2 n=20", "build/tests/net_mcast.wasm",
      "--cmdline", "role=recv ip=10.0.0.2 join=239.1.1.1", "build/tests/net_mcast.wasm",
      "--cmdline", "role=recv ip=10.0.0.3 join=239.1.1.2 unfilter=1", "build/tests/net_mcast.wasm");
    expect(r.stdout).toContain("[net_mcast.3] net_mcast: request-multicast-control = 0");
    expect(r.stdout).toContain("[net_mcast.2] net_mcast: 239.1.1.1 20, 239.1.1.2 0, filtered by the stack 0");
    expect(r.stdout).toContain("[net_mcast.3] net_mcast: 239.1.1.1 0, 239.1.1.2 20, filtered by the stack 20");
    expect(r.status, r.stderr).toBe(0);
  });

  it("gives each vif its own MAC and MTU (--vif mac=,mtu=), and the frontends learn them", () => {
    const r = xenwasm("run", "--vif", "mac=00:16:3e:12:34:56,mtu=9000", "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 n=2", "build/examples/netping.wasm",
      "--vif", "on", "--cmdline", "ip=10.0.0.2 peer=10.0.0.1 n=2", "build/examples/netping.wasm");
    expect(r.stdout).toMatch(/\[netping\.1\] netfront: device\/vif\/0: connected, mac 00:16:3e:12:34:56, .*, mtu 9000\n/);
    expect(r.stdout).toMatch(/\[netping\.2\] netfront: device\/vif\/0: connected, mac 00:16:3e:00:00:02, [^\n]*multicast control\n/);
    expect(r.stdout).toContain("[netping.2] 2 packets transmitted, 2 received, 0% packet loss");
    expect(r.status, r.stderr).toBe(0);
  });

  it("shapes a vif's transmit to its `rate` (within 10%, virtual time)", () => {
    // 100 frames of 40000 bytes at 8 Mb/s (1 MB/s): about 4 s of virtual time after the 128 KiB burst.
    const r = xenwasm("run", "--vif", "on", "--cmdline", "role=recv n=100 seed=5 min=40000 max=40000", PATTERN,
      "--vif", "rate=8Mb/s", "--cmdline", "role=send n=100 seed=5 min=40000 max=40000", PATTERN);
    expect(r.stdout).toContain("rate limited");
    const m = /received 100 frames, (\d+) bytes, all verified in (\d+) us/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const bytesPerUs = Number(m![1]) / Number(m![2]);
    expect(bytesPerUs).toBeGreaterThan(0.9);
    expect(bytesPerUs).toBeLessThan(1.1);
    expect(r.status).toBe(0);
  });
});

describe.skipIf(skipWithout(existsSync(TSHARK)))("pcap", () => {
  // udpecho counts UDP datagrams only: it stays up 5 s after the third (linger) so that the ICMP
  // pinger, which nothing waits for, gets its replies too on a loaded machine (threads runner).
  const guests = (pcap: string, runner = "deterministic") => xenwasm("run", "--runner", runner, "--pcap", pcap, "--vif", "on",
    "--cmdline", "ip=10.0.0.2 count=3 linger=5000", "build/examples/udpecho.wasm",
    "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 n=3", "build/examples/netping.wasm",
    "--cmdline", "ip=10.0.0.3 peer=10.0.0.2 proto=udp n=3", "build/examples/netping.wasm");

  /** tshark's view of a capture: one line per frame with its protocols and checksum verdicts (1: good). */
  function tshark(pcap: string): string[] {
    const r = spawnSync(TSHARK, ["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
      "-T", "fields", "-e", "frame.protocols", "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "icmp.checksum.status"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim().split("\n");
  }

  it.each(["deterministic", "threads"])("tshark decodes ARP, ICMP and UDP with good checksums (%s runner)", (runner) => {
    const pcap = join(dir, `run-${runner}.pcap`);
    const r = guests(pcap, runner);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`capture written to ${pcap}`);
    const lines = tshark(pcap);
    const arp = lines.filter((l) => l.startsWith("eth:ethertype:arp"));
    const icmp = lines.filter((l) => l.startsWith("eth:ethertype:ip:icmp"));
    const udp = lines.filter((l) => l.startsWith("eth:ethertype:ip:udp"));
    expect(arp.length).toBeGreaterThanOrEqual(2); // at least a request and its reply
    expect(icmp.length).toBe(6); // 3 echo requests, 3 replies
    expect(udp.length).toBe(6);
    for (const l of icmp) expect(l.split("\t").slice(1)).toEqual(["1", "", "1"]);
    for (const l of udp) expect(l.split("\t").slice(1, 3)).toEqual(["1", "1"]);
    expect(lines.length).toBe(arp.length + 12);
  });

  it("the same seed gives the same capture, byte for byte (deterministic runner)", () => {
    const a = join(dir, "a.pcap"), b = join(dir, "b.pcap");
    expect(guests(a).status).toBe(0);
    expect(guests(b).status).toBe(0);
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
    expect(readFileSync(a).readUInt32LE(0)).toBe(0xa1b2c3d4); // libpcap, microseconds
    expect(readFileSync(a).readUInt32LE(20)).toBe(1); // LINKTYPE_ETHERNET
  });
});

describe("--vif and --pcap arguments", () => {
  it.each([
    [["--vif", "mac=01:00:5e:00:00:01"], /--vif mac=01:00:5e:00:00:01: a multicast address cannot be a vif's MAC/],
    [["--vif", "mtu=20"], /--vif mtu=20: the MTU must be 68..65521/],
    [["--vif", "rate=fast"], /--vif rate=fast: a rate is/],
    [["--vif", "colour=blue"], /--vif: unknown key 'colour'/],
    [["--pcap", "/tmp/x.pcap"], /--pcap records dom0's switch: give a guest a vif/],
    [["--vif", "mac=00:16:3e:00:00:09", "build/examples/hello.wasm"], /two vifs with the MAC 00:16:3e:00:00:09/],
  ])("%j gets one line and exit status 2", (args, message) => {
    const r = xenwasm("run", ...args, "build/examples/hello.wasm");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });
});
