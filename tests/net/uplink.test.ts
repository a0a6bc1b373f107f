// The switch's host uplink, piece by piece (docs/ABI.md §7, docs/net.md): dom0's
// `dev.net_uplink_*` imports with every error they promise, the UDP side on loopback (malformed,
// oversized, foreign and surplus datagrams dropped and counted, frames both ways byte for
// byte), and `xenwasm run --uplink`'s one-line errors.
import { describe, expect, it } from "vitest";
import { createSocket, type Socket } from "node:dgram";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { bench, E } from "../hypervisor/fixture.js";
import { Ctl } from "../../bindings/hypervisor/domain.js";
import { netDeviceImports } from "../../bindings/devices/net.js";
import { parseUplinkArg, UdpUplink, UplinkQueues, UPLINK_MAX_FRAME, UPLINK_QUEUE_SLOTS } from "../../bindings/devices/uplink.js";
import { parseRunArgs, UsageError } from "../../bindings/cli/run.js";
import { ROOT } from "../helpers/env.js";
import { until } from "../helpers/run.js";

const frame = (len: number, tag: number) => Uint8Array.from({ length: len }, (_, i) => (i * 7 + tag) & 0xff);

describe("dev.net_uplink_send and dev.net_uplink_recv", () => {
  const setup = (withUplink = true) => {
    const { hv, doms } = bench(3, true);
    const q = withUplink ? new UplinkQueues() : undefined;
    const [guest, , dom0] = doms; // domain 3 is privileged, as dom0 is
    return { hv, guest, dom0, q, dev: netDeviceImports(hv, dom0, undefined, q), guestDev: netDeviceImports(hv, guest, undefined, q) };
  };

  it("refuse an unprivileged domain (-EPERM) and answer -ENODEV when the run has no uplink", () => {
    const s = setup();
    expect(s.guestDev.net_uplink_send(0x10000, 60)).toBe(E.PERM);
    expect(s.guestDev.net_uplink_recv(0x10000, UPLINK_MAX_FRAME)).toBe(E.PERM);
    const none = setup(false);
    expect(none.dev.net_uplink_send(0, 0)).toBe(E.NODEV);
    expect(none.dev.net_uplink_recv(0x10000, UPLINK_MAX_FRAME)).toBe(E.NODEV);
    expect(s.dev.net_uplink_send(0, 0), "a zero-length send asks whether there is an uplink").toBe(0);
  });

  it("send checks the length and the address, queues the frame byte for byte, and drops with -EAGAIN when the host queue is full", () => {
    const { dev, dom0, q } = setup();
    expect(dev.net_uplink_send(0x10000, 13)).toBe(E.INVAL);
    expect(dev.net_uplink_send(0x10000, UPLINK_MAX_FRAME + 1)).toBe(E.INVAL);
    const v0 = dom0.ctl[Ctl.Violations];
    expect(dev.net_uplink_send(dom0.bytes - 10, 60)).toBe(E.FAULT);
    expect(dom0.ctl[Ctl.Violations]).toBe(v0 + 1);
    const f = frame(UPLINK_MAX_FRAME, 3);
    dom0.u8.set(f, 0x10000);
    expect(dev.net_uplink_send(0x10000, f.length)).toBe(0);
    expect(Array.from(q!.toHost.peek()!)).toEqual(Array.from(f));
    for (let i = 1; i < UPLINK_QUEUE_SLOTS; i++) expect(dev.net_uplink_send(0x10000, 60)).toBe(0);
    expect(dev.net_uplink_send(0x10000, 60)).toBe(E.AGAIN);
    expect(q!.stats()).toMatchObject({ txFrames: UPLINK_QUEUE_SLOTS, txQueueFull: 1 });
  });

  it("recv needs room for the largest frame, answers 0 when nothing waits, and moves frames in order", () => {
    const { dev, dom0, q } = setup();
    expect(dev.net_uplink_recv(0x10000, UPLINK_MAX_FRAME - 1)).toBe(E.INVAL);
    expect(dev.net_uplink_recv(dom0.bytes - 100, UPLINK_MAX_FRAME)).toBe(E.FAULT);
    expect(dev.net_uplink_recv(0x10000, UPLINK_MAX_FRAME)).toBe(0);
    q!.fromHost.push(frame(60, 1));
    q!.fromHost.push(frame(1514, 2));
    expect(dev.net_uplink_recv(0x10000, 2048)).toBe(60);
    expect(Array.from(dom0.u8.subarray(0x10000, 0x10000 + 60))).toEqual(Array.from(frame(60, 1)));
    expect(dev.net_uplink_recv(0x10000, 2048)).toBe(1514);
    expect(Array.from(dom0.u8.subarray(0x10000, 0x10000 + 1514))).toEqual(Array.from(frame(1514, 2)));
    expect(dev.net_uplink_recv(0x10000, 2048)).toBe(0);
  });
});

describe("the uplink's UDP side", () => {
  const bound = async (): Promise<Socket> => {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return s;
  };

  it("takes frames from the remote address only, drops malformed, oversized and surplus datagrams (counted), and sends dom0's frames", async () => {
    const peer = await bound(), stranger = await bound();
    const got: Buffer[] = [];
    peer.on("message", (m) => got.push(m));
    const q = new UplinkQueues();
    let raised = 0;
    const up = await UdpUplink.open({ local: { host: "127.0.0.1", port: 0 }, remote: { host: "127.0.0.1", port: peer.address().port } }, q, () => raised++);
    const to = (s: Socket, b: Uint8Array) => new Promise<void>((r) => s.send(b, up.localPort, "127.0.0.1", () => r()));
    try {
      await to(peer, new Uint8Array(5));
      await to(peer, new Uint8Array(UPLINK_MAX_FRAME + 1));
      await to(stranger, frame(60, 9));
      await to(peer, frame(60, 4));
      await to(peer, frame(UPLINK_MAX_FRAME, 5));
      await until("five datagrams counted", () => {
        const s = q.stats();
        return s.rxFrames + s.rxMalformed + s.rxOversized + s.rxForeign === 5 ? true : undefined;
      }, 5000);
      expect(q.stats()).toMatchObject({ rxFrames: 2, rxMalformed: 1, rxOversized: 1, rxForeign: 1, rxQueueFull: 0 });
      expect(raised).toBe(2);
      expect(Array.from(q.fromHost.peek()!)).toEqual(Array.from(frame(60, 4)));
      q.fromHost.shift();
      expect(Array.from(q.fromHost.peek()!)).toEqual(Array.from(frame(UPLINK_MAX_FRAME, 5)));
      q.fromHost.shift();
      // A full queue (dom0 not taking frames) drops what comes on, counted.
      for (let i = 0; i < UPLINK_QUEUE_SLOTS; i++) q.fromHost.push(frame(14, 0));
      await to(peer, frame(60, 6));
      await until("the surplus datagram counted", () => (q.stats().rxQueueFull === 1 ? true : undefined), 5000);
      // dom0's side: queued frames leave as one datagram each, in order.
      q.toHost.push(frame(60, 7));
      q.toHost.push(frame(1514, 8));
      q.kick();
      await until("two datagrams at the peer", () => (got.length === 2 ? true : undefined), 5000);
      expect(got.map((b) => Array.from(b))).toEqual([Array.from(frame(60, 7)), Array.from(frame(1514, 8))]);
    } finally {
      await up.close();
      peer.close();
      stranger.close();
    }
  });

  it("parses --uplink: ports, loopback by default, IP literals only", () => {
    expect(parseUplinkArg("local=5555,remote=5556")).toEqual({ local: { host: "127.0.0.1", port: 5555 }, remote: { host: "127.0.0.1", port: 5556 } });
    expect(parseUplinkArg("remote=[::1]:9,local=[::1]:0")).toEqual({ local: { host: "::1", port: 0 }, remote: { host: "::1", port: 9 } });
    expect(() => parseUplinkArg("local=5555")).toThrow(/both local= and remote= are needed/);
    expect(() => parseUplinkArg("local=localhost:1,remote=2")).toThrow(/HOST an IP address/);
    expect(() => parseUplinkArg("local=1,remote=0")).toThrow(/port must be 1\.\.65535/);
    expect(() => parseUplinkArg("local=1,remote=70000")).toThrow(/port must be 1\.\.65535/);
    expect(() => parseUplinkArg("local=1,remote=[::1]:2")).toThrow(/must both be IPv4 or both IPv6/);
    expect(() => parseUplinkArg("bridge=1")).toThrow(/expected local=/);
  });
});

describe("xenwasm run --uplink", () => {
  const udpecho = join(ROOT, "build/examples/udpecho.wasm");
  it("needs the threaded runner and a vif", () => {
    expect(() => parseRunArgs(["--uplink", "local=5555,remote=5556", "--vif", "on", udpecho])).toThrow(new UsageError("run: --uplink needs --runner threads (virtual time cannot wait for a real network)"));
    expect(() => parseRunArgs(["--runner", "threads", "--uplink", "local=5555,remote=5556", udpecho])).toThrow(/give a guest a vif/);
    expect(() => parseRunArgs(["--runner", "threads", "--uplink", "local=5555", "--vif", "on", udpecho])).toThrow(/^run: --uplink local=5555: both local= and remote= are needed$/);
  });

  it("a local address that is taken is one line and exit status 2", async () => {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    try {
      const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), "run", "--runner", "threads", "--uplink", `local=${s.address().port},remote=9`,
        "--vif", "on", "--cmdline", "ip=10.0.0.2 count=1", udpecho], { encoding: "utf8", timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^xenwasm: run: --uplink: cannot bind 127\\.0\\.0\\.1:${s.address().port}: EADDRINUSE$`, "m"));
    } finally {
      s.close();
    }
  });
});
