// Hostile peers of the net driver, through `xenwasm run` as a user runs it.
//
// A hostile netfront (tests/guests/net_hostile_front.ts) shares dom0's switch with two guests that
// ping each other. Each of its malformed frames is either dropped with NETIF_RSP_ERROR on every
// slot (and the vif keeps working: a good frame after it gets NETIF_RSP_OKAY) or disconnects that
// vif with an `error` node and Closing, as Linux's xenvif_fatal_tx_err does; whatever it does, dom0
// never touches memory it was not granted (0 refused grant accesses), nothing traps, and the two
// others lose no ping.
//
// A hostile netback (tests/guests/net_hostile_back.ts, as the backend domain) serves a netfront
// guest (tests/guests/net_victim.ts): bad, never-issued or duplicate transmit ids, receive
// responses whose size or offset lies, ids that are not their position's and jumping rsp_prod all
// disable the device with the error netfront records; no transmit completes twice, no frame
// arrives after the device was disabled, and every frame handed to the guest is the backend's
// 60-byte pattern inside one receive buffer.
//
// Four tests guard defects these cases found (each comment says which): they failed before the
// fix and pass with it.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

type Run = { status: number | null; stdout: string; stderr: string };
const runs = new Map<string, Run>();

/** Runs `xenwasm run ...args` once per distinct argument list (several tests read one run). */
function xenwasm(...args: string[]): Run {
  const key = JSON.stringify(args);
  let r = runs.get(key);
  if (!r) {
    const p = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), "run", ...args], { encoding: "utf8", cwd: ROOT, timeout: 100_000 });
    r = { status: p.status, stdout: p.stdout, stderr: p.stderr };
    runs.set(key, r);
  }
  return r;
}

const HOSTILE = "[net_hostile_front] net_hostile_front: ";

/** Two netping guests (domains 1 and 2) pinging each other, and the hostile frontend (domain 3). */
function withPingers(runner: string, hostile: string, ping = ""): Run {
  return xenwasm("--runner", runner, "--stats", "--vif", "on",
    "--cmdline", `ip=10.0.0.1 peer=10.0.0.2 n=20 interval=5 ${ping}`, "build/examples/netping.wasm",
    "--cmdline", `ip=10.0.0.2 peer=10.0.0.1 n=20 interval=5 ${ping}`, "build/examples/netping.wasm",
    "--cmdline", hostile, "build/tests/net_hostile_front.wasm");
}

/** What every hostile-frontend run must show: the others unharmed, dom0 within its grants, a clean end. */
function othersUnharmed(r: Run): void {
  const why = r.stdout + r.stderr;
  expect(r.stdout, why).toContain("[netping.1] 20 packets transmitted, 20 received, 0% packet loss\n");
  expect(r.stdout, why).toContain("[netping.2] 20 packets transmitted, 20 received, 0% packet loss\n");
  expect(r.stdout, why).not.toMatch(/\[netping\.\d\] xenbus:/); // neither netfront was disabled
  expect(r.stderr, why).toMatch(/xenwasm: dom0 \(0\): poweroff, \d+ hypercalls, \d+ events, 0 refused grant accesses, /);
  expect(r.status, why).toBe(0); // every guest powered off: nothing trapped, dom0 did not crash
}

/** The hostile frontend's own end: it closed its vif and netback followed it to Closed. */
function hostileClosedCleanly(r: Run): void {
  expect(r.stdout).toContain(`${HOSTILE}the backend is Closed; powering off\n`);
  expect(r.stdout).not.toContain("UNEXPECTED");
  expect(r.stderr).toMatch(/xenwasm: net_hostile_front \(3\): poweroff/);
}

/**
 * The hostile guest's line for netback closing its vif: the error node's text when it may read it,
 * else the refusal (xenstore gives a domain no access to dom0's error/ tree, as Xen does).
 */
function closedWith(kase: string, error: string): RegExp {
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`${esc(HOSTILE + kase)}: backend closed (with error: ${esc(error)}|the vif \\(its error node: EACCES\\))\n`);
}

// [case, the bad frame as the guest names it, slots it had]
const dropped: Array<[string, string, number]> = [
  ["many-slots", "a frame of 19 slots", 19],
  ["first-smaller", "a first slot smaller than the next", 2],
  ["bad-gref", "a gref never granted", 1],
  ["short", "a 10-byte frame", 1],
];
// [case, netback's error (errno and message), frames it counted as malformed]
const fatal: Array<[string, string, number]> = [
  ["too-many-slots", "22 bad transmit request: more than 20 slots in a frame", 1],
  ["past-page", "22 bad transmit request: first slot crosses a page boundary", 1],
  ["past-page-later", "22 bad transmit request: slot crosses a page boundary", 1],
  ["bad-extra", "22 bad transmit request: invalid extra info type 0", 1],
  ["bad-extra-max", "22 bad transmit request: invalid extra info type 5", 1],
  ["bad-gso", "22 bad transmit request: GSO size must not be zero", 1],
  ["extra-chain", "22 bad transmit request: too many extra info slots", 1],
  ["partial-frame", "22 bad transmit request: frame runs past the published requests", 1],
  ["req-prod-jump", "75 transmit ring broken (producer index out of range)", 0],
];

describe("a hostile netfront under the deterministic runner", () => {
  it.each(dropped)("case %s: the bad frame is dropped with NETIF_RSP_ERROR and the vif keeps working", (kase, name, slots) => {
    const r = withPingers("deterministic", `case=${kase}`);
    othersUnharmed(r);
    const good = `${HOSTILE}${kase}: a good frame: 1 slot answered, all NETIF_RSP_OKAY as expected\n`;
    expect(r.stdout.split(good).length - 1).toBe(2); // before and after the bad one
    expect(r.stdout).toContain(`${HOSTILE}${kase}: ${name}: ${slots} slot${slots > 1 ? "s" : ""} answered, all NETIF_RSP_ERROR as expected\n`);
    expect(r.stdout).toContain(`${HOSTILE}${kase}: vif still connected; closing it\n`);
    // netback counted the bad frame and forwarded the two good ones; no error node for this vif.
    expect(r.stdout).toMatch(/\[dom0\] netback: backend\/vif\/3\/0: disconnected, 2 frames sent, \d+ received, 0 dropped for it, 1 malformed\n/);
    expect(r.stdout).not.toContain("[dom0] xenbus: backend/vif/3/0");
    hostileClosedCleanly(r);
  });

  it.each(fatal)("case %s: netback disconnects that vif only (error node, Closing)", (kase, error, malformed) => {
    const r = withPingers("deterministic", `case=${kase}`);
    othersUnharmed(r);
    expect(r.stdout).toContain(`${HOSTILE}${kase}: a good frame: 1 slot answered, all NETIF_RSP_OKAY as expected\n`);
    // xenbus_dev_fatal: printed and written to dom0's error/backend/vif/3/0/error (which the guest
    // may not read: xenstore permissions), then Closing, which the guest saw.
    expect(r.stdout).toContain(`[dom0] xenbus: backend/vif/3/0: ${error}\n`);
    expect(r.stdout).toMatch(closedWith(kase, error));
    expect(r.stdout).toMatch(new RegExp(`\\[dom0\\] netback: backend/vif/3/0: disconnected, 1 frames sent, \\d+ received, 0 dropped for it, ${malformed} malformed\\n`));
    expect(r.stdout).not.toContain("vif still connected");
    hostileClosedCleanly(r);
  });

  it("case bad-gref-later (a never-granted gref in the second slot): the frame fails with NETIF_RSP_ERROR and dom0 stays within its grants", () => {
    const r = withPingers("deterministic", "case=bad-gref-later");
    expect(r.stdout).toContain(`${HOSTILE}bad-gref-later: a gref never granted in the second slot: 2 slots answered, all NETIF_RSP_ERROR as expected\n`);
    expect(r.stdout).toContain(`${HOSTILE}bad-gref-later: vif still connected; closing it\n`);
    expect(r.stderr).toMatch(/xenwasm: dom0 \(0\): poweroff, \d+ hypercalls, \d+ events, 0 refused grant accesses, /);
  });

  // Guards a fixed defect: netback peeks at the first 128 bytes only, so a frame whose later slot
  // names a gref the sender never granted is forwarded; the switch's copy into each receiver fails
  // and it answers the receivers' buffers with NETIF_RSP_ERROR (as Linux's netback may). netfront
  // used to treat any negative receive status as a broken backend and disable the device: one
  // broadcast frame from a hostile guest disabled every other guest's vif. It now drops the frame.
  it("case bad-gref-later: the other guests' vifs survive a frame that fails to copy", () => {
    othersUnharmed(withPingers("deterministic", "case=bad-gref-later"));
  });

  it("case no-rx-buffers: frames for a vif that never posts buffers wait, then are dropped and counted; the others keep pinging", () => {
    // The pingers stay up 1.5 s after their last reply, so that every ARP reply for the hostile
    // guest times out in the switch (500 ms) while both ends are still there.
    const r = withPingers("deterministic", "case=no-rx-buffers delay=10", "linger=1500");
    othersUnharmed(r);
    expect(r.stdout).toContain(`${HOSTILE}no-rx-buffers: sent 200 ARP requests, 200 answered NETIF_RSP_OKAY, 0 unanswered; no receive buffer ever posted\n`);
    const m = /\[dom0\] netback: backend\/vif\/3\/0: disconnected, 200 frames sent, 0 received, (\d+) dropped for it, 0 malformed \(switch: 0 without buffers, (\d+) timed out, 0 too big, 0 failed copies\)\n/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(200); // every ARP reply (and broadcasts) for it
    expect(Number(m![2])).toBe(Number(m![1]));
    hostileClosedCleanly(r);
  });

  // Guards a fixed defect: a frame waiting in a receiver's pending list keeps the sender's transmit
  // slot (back-pressure), up to PENDING_MAX (256) frames for PENDING_TIMEOUT_NS (500 ms). A guest
  // that never posts receive buffers and made another guest answer it 256 times within that time
  // (ARP requests here) held that guest's whole transmit ring: its own traffic failed with ENOSPC.
  // Now a sender keeps at most PENDING_PER_SENDER frames waiting for stalled receivers (that never
  // posted a buffer, or none for STALL_NS).
  it("case no-rx-buffers, 400 ARP requests to one guest in 8 ms: that guest keeps pinging", () => {
    othersUnharmed(withPingers("deterministic", "case=no-rx-buffers delay=10 n=400 burst=50 target=10.0.0.1", "linger=1500"));
  });

  it("case rx-bad-gref: receive buffers it never granted make the switch's copies fail for it alone", () => {
    const r = withPingers("deterministic", "case=rx-bad-gref delay=10 n=20");
    othersUnharmed(r);
    expect(r.stdout).toContain(`${HOSTILE}rx-bad-gref: sent 20 ARP requests, 20 answered NETIF_RSP_OKAY, 0 unanswered\n`);
    const m = /\[dom0\] netback: backend\/vif\/3\/0: disconnected, 20 frames sent, 0 received, (\d+) dropped for it, 0 malformed \(switch: 0 without buffers, 0 timed out, 0 too big, (\d+) failed copies\)\n/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(20);
    expect(Number(m![2])).toBe(Number(m![1]));
    hostileClosedCleanly(r);
  });

  // Guards a fixed defect: netback's refillRx ignored an impossible receive req_prod (serviceTx
  // looks at the transmit ring only): the vif stayed connected with a broken receive ring, and
  // frames for it waited and timed out. Now the vif is disconnected with an error.
  it("case rx-req-prod-jump: netback disconnects a vif whose receive req_prod jumps", () => {
    const r = withPingers("deterministic", "case=rx-req-prod-jump delay=10 n=20");
    othersUnharmed(r);
    expect(r.stdout).toMatch(/\[dom0\] xenbus: backend\/vif\/3\/0: 75 /);
    expect(r.stdout).toContain(`${HOSTILE}rx-req-prod-jump: backend closed `);
  });
});

/** The flood's own line and netback's count of it agree: every frame answered once, the malformed ones with an error. */
function floodCounted(r: Run): number {
  const m = /net_hostile_front: flood: (\d+) frames in \d+ ms, (\d+) answered NETIF_RSP_OKAY, (\d+) NETIF_RSP_ERROR \((\d+) sent malformed\)\n/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  const [frames, okay, error, malformed] = m!.slice(1).map(Number);
  expect(okay + error).toBe(frames);
  expect(error).toBe(malformed);
  expect(malformed).toBe(Math.floor(frames / 8));
  expect(r.stdout).toContain(`[dom0] netback: backend/vif/3/0: disconnected, ${okay} frames sent, `);
  expect(r.stdout).toMatch(new RegExp(`backend/vif/3/0: disconnected, ${okay} frames sent, \\d+ received, 0 dropped for it, ${malformed} malformed\\n`));
  expect(r.stdout).toContain(`${HOSTILE}flood: vif still connected; closing it\n`);
  return frames;
}

describe("a hostile netfront flooding dom0's switch", () => {
  it("deterministic: 200 ms of broadcast frames, every 8th malformed: counted, dropped, and the others keep pinging", () => {
    const r = withPingers("deterministic", "case=flood delay=10 dst=bcast");
    othersUnharmed(r);
    expect(floodCounted(r)).toBeGreaterThanOrEqual(100 * 256); // 200 ticks, each refilling a 256-slot ring
    hostileClosedCleanly(r);
  });

  // To its own MAC: netback's work only. A broadcast flood in real time may fill a receiver's pending
  // list (PENDING_MAX frames) and so drop a ping there, as a full bridge port would.
  it("threads: to itself, as fast as the ring takes them for 200 ms", () => {
    const r = withPingers("threads", "case=flood delay=10 greedy=1");
    othersUnharmed(r);
    expect(floodCounted(r)).toBeGreaterThan(1000);
    hostileClosedCleanly(r);
  });
});

describe("a hostile netfront under the threads runner", () => {
  it.each([dropped[1], dropped[2]])("case %s: dropped, and the vif keeps working", (kase, name, slots) => {
    const r = withPingers("threads", `case=${kase}`);
    othersUnharmed(r);
    expect(r.stdout).toContain(`${HOSTILE}${kase}: ${name}: ${slots} slot${slots > 1 ? "s" : ""} answered, all NETIF_RSP_ERROR as expected\n`);
    expect(r.stdout).toMatch(/\[dom0\] netback: backend\/vif\/3\/0: disconnected, 2 frames sent, \d+ received, 0 dropped for it, 1 malformed\n/);
    hostileClosedCleanly(r);
  });

  it.each([fatal[0], fatal[8]])("case %s: that vif is disconnected", (kase, error) => {
    const r = withPingers("threads", `case=${kase}`);
    othersUnharmed(r);
    expect(r.stdout).toContain(`[dom0] xenbus: backend/vif/3/0: ${error}\n`);
    expect(r.stdout).toMatch(closedWith(kase, error));
    hostileClosedCleanly(r);
  });

  it("case no-rx-buffers: its frames time out in the switch, the others keep pinging", () => {
    const r = withPingers("threads", "case=no-rx-buffers delay=10", "linger=1500");
    othersUnharmed(r);
    expect(r.stdout).toContain(`${HOSTILE}no-rx-buffers: sent 200 ARP requests, 200 answered NETIF_RSP_OKAY, 0 unanswered; no receive buffer ever posted\n`);
    // In real time some replies may still wait when it closes (dropped then, uncounted): most time out.
    const m = /\[dom0\] netback: backend\/vif\/3\/0: disconnected, 200 frames sent, 0 received, (\d+) dropped for it, 0 malformed \(switch: 0 without buffers, (\d+) timed out/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(100);
    expect(Number(m![2])).toBe(Number(m![1]));
    hostileClosedCleanly(r);
  });
});

// ---- a hostile netback -------------------------------------------------------------------------

function victim(runner: string, mode: string): Run {
  return xenwasm("--runner", runner, "--stats", "--backend", "build/tests/net_hostile_back.wasm", "--backend-cmdline", `mode=${mode}`,
    "--vif", "on", "--cmdline", "net-features=none", "build/tests/net_victim.wasm");
}

// [mode, netfront's error (errno and message), transmit completions, frames received]
const backModes: Array<[string, string, number, number]> = [
  ["bad-id", "5 transmit response id 48879 is not in flight (never issued or duplicate)", 4, 0],
  ["stale-id", "5 transmit response id 200 is not in flight (never issued or duplicate)", 4, 0],
  ["dup-id", "5 transmit response id 0 is not in flight (never issued or duplicate)", 4, 0],
  ["rsp-prod-jump", "75 transmit ring broken (rsp_prod out of range)", 4, 0],
  ["rx-status-lies", "5 malformed receive response: offset 0 + size 4097 past the page", 8, 1],
  ["rx-past-page", "5 malformed receive response: offset 4000 + size 200 past the page", 8, 1],
  ["rx-short", "5 malformed receive response: frame shorter than an Ethernet header", 8, 1],
  ["rx-more-no-sg", "5 malformed receive response: a multi-slot frame without feature-sg", 8, 1],
  ["rx-wrong-id", "5 receive response id 6 was never issued at position 1", 8, 1],
  ["rx-rsp-prod-jump", "75 receive ring broken (rsp_prod out of range)", 8, 1],
];

describe.each(["deterministic", "threads"])("a hostile netback under the %s runner", (runner) => {
  it.each(backModes)("mode %s: netfront disables the device, completes nothing twice and delivers nothing more", (mode, error, completed, received) => {
    const r = victim(runner, mode);
    const why = r.stdout + r.stderr;
    expect(r.stdout, why).toContain(`[dom0] net_hostile_back: striking: ${mode}\n`);
    expect(r.stdout, why).toContain(`[net_victim] xenbus: device/vif/0: ${error}\n`);
    expect(r.stdout, why).toContain(`[net_victim] net_victim: device disabled: ${error}\n`);
    expect(r.stdout, why).toContain(`[net_victim] net_victim: error -${error.split(" ")[0]}, connected no\n`);
    expect(r.stdout, why).toContain("[net_victim] net_victim: a new send is refused: EIO\n");
    // Each of the 8 frames completes at most once, and only what the backend answered before the
    // hostile response; the one good frame before it arrives intact, nothing after it arrives.
    expect(r.stdout, why).toContain(`[net_victim] net_victim: sent 8, completed ${completed} (0 errors), received ${received} (0 not the pattern, 0 past their page); after the device was disabled: 0 received, 0 completed\n`);
    expect(r.stdout, why).not.toContain("COMPLETED TWICE");
    expect(r.stderr, why).toMatch(/xenwasm: net_victim \(1\): poweroff, \d+ hypercalls, \d+ events, 0 refused grant accesses, /);
    expect(r.status, why).toBe(0);
  });
});

// Guards a fixed defect: netif.h defines a negative receive status as a NETIF_RSP_* error for that
// slot (Linux's netback writes one when a copy into the buffer fails; so does dom0's switch), and
// Linux's netfront drops such a frame and goes on. RxFrame.addSlot used to call it a malformed
// response and disable the device (the bad-gref-later case above shows how another guest caused it).
it("a receive response with NETIF_RSP_ERROR drops that frame only", () => {
  const r = victim("deterministic", "rx-negative");
  expect(r.stdout).not.toContain("device disabled");
  expect(r.stdout).toContain("[net_victim] net_victim: sent 8, completed 8 (0 errors), received 3 (0 not the pattern, 0 past their page);");
  expect(r.status).toBe(0);
});
