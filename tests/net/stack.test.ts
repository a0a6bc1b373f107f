// The small IPv4 stack (assembly/net) through `xenwasm run` as a user runs it: the net_stack
// guest wires two stacks back to back over an in-memory link and checks ARP (resolution, cache,
// retries, expiry), ICMP echo, UDP both ways (checksums against a byte-wise reference, 60000-byte
// datagrams, offload with l4ChecksumFill), IPv4 drops (bad header checksum, fragments), multicast
// filtering and malformed input; it panics on the first failed check. Under both runners, and
// once with Linux's ARP timing (60 s entries, 1 s retries) in virtual time.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

const CLI = join(ROOT, "bin/xenwasm.js");
function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The checks the guest runs; a check that disappears (or fails) makes the count differ. */
const CHECKS = 21;

const SHORT = "ARP entries last 500 ms, requests 20 ms apart, 3 tries";
const LINUX = "ARP entries last 60000 ms, requests 1000 ms apart, 3 tries";
const runs: Array<[string, string[], string]> = [
  ["deterministic", ["--runner", "deterministic"], SHORT],
  ["threads", ["--runner", "threads"], SHORT],
  ["deterministic, Linux's ARP timing", ["--runner", "deterministic", "--cmdline", "timeouts=default"], LINUX],
];

describe.each(runs)("net_stack under the %s runner", (_name, args, timing) => {
  it("passes every check and powers off", () => {
    const r = xenwasm("run", ...args, "build/tests/net_stack.wasm");
    const out = r.stdout + r.stderr;
    expect(r.stdout).toContain(`[net_stack] net_stack: ${timing}\n`);
    expect(out).not.toMatch(/FAILED|panic|crashed/);
    expect(r.stdout).toContain(`[net_stack] net_stack: all ${CHECKS} checks passed\n`);
    expect(r.stdout.match(/net_stack: ok /g)?.length, out).toBe(CHECKS);
    expect(r.stdout).toContain("net_stack: ok arp: the first datagram waits for a request (broadcast) and a reply (unicast), then goes out\n");
    expect(r.stdout).toContain("net_stack: ok icmp: 10 echo requests answered; replies match id, sequence and data; ICMP checksums agree with the reference\n");
    expect(r.stdout).toContain("net_stack: ok udp: a 60000-byte datagram (one 60042-byte frame) is delivered intact, its checksum verified\n");
    expect(r.stdout).toContain("net_stack: ok offload: A sends NET_TX_CSUM_BLANK with a zero field; l4ChecksumFill fills it; B verifies it\n");
    expect(r.stdout).toContain("net_stack: ok arp: an entry expires after arpTimeoutNs;");
    expect(r.status, out).toBe(0);
  });
});
