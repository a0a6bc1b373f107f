// The host library as docs/host-api.md shows it (every example there is run here): run a system
// to its end, watch one run (consoles, the live xenstore and its watches, counters, a PV
// shutdown), disks with the backend domain, and one-line ConfigErrors. Imported from the built
// package entry, as a user's suite imports "xenwasm".
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

const lib = await import(join(ROOT, "dist/bindings/index.js")) as typeof import("../../bindings/index.js");
const { XenSystem, runSystem, ConfigError } = lib;
const ex = (name: string) => join(ROOT, "build/examples", `${name}.wasm`);

describe("the host library", () => {
  it("runs a system to its end with typed results", async () => {
    const result = await runSystem({ guests: [{ wasm: ex("hello") }] });
    expect(result.exitCode).toBe(0);
    expect(result.domains[0]).toMatchObject({ domid: 1, name: "hello", reason: "poweroff" });
    expect(result.console[0]).toEqual({ domain: "hello", text: "Hello from xenwasm" });
    expect(result.trace.length, "the deterministic runner's event order").toBeGreaterThan(0);
  });

  it("takes a guest's bytes or a compiled module as well as a path, and names it", async () => {
    const bytes = readFileSync(ex("hello"));
    const result = await runSystem({ guests: [{ wasm: new Uint8Array(bytes), name: "a" }, { wasm: new WebAssembly.Module(bytes), name: "b" }] });
    expect(result.domains.map((d) => [d.name, d.reason])).toEqual([["a", "poweroff"], ["b", "poweroff"]]);
  });

  it("watches a threaded run: consoles, the live xenstore and its watches, counters, a PV shutdown", async () => {
    const lines: string[] = [];
    const sys = XenSystem.start({
      runner: "threads",
      guests: [
        { wasm: ex("udpecho"), cmdline: "ip=10.0.0.2 count=0", vif: true },
        { wasm: ex("netping"), cmdline: "ip=10.0.0.1 peer=10.0.0.2 proto=udp n=3", vif: true },
      ],
      onConsole: (l) => lines.push(`${l.domain}: ${l.text}`),
    });
    await sys.ready();
    const seen: string[] = [];
    const unwatch = sys.xenstore.watch("/local/domain/1/control", (p) => seen.push(p));
    await sys.waitForConsole("3 packets transmitted, 3 received");
    expect(sys.xenstore.read("/local/domain/1/device/vif/0/state")).toBe("4");
    expect(sys.xenstore.directory("/local/domain/0/backend/vif")).toEqual(["1", "2"]);
    const stats = sys.stats();
    expect(stats.find((d) => d.domid === 1)).toMatchObject({ name: "udpecho", reason: "running" });
    expect(stats.find((d) => d.domid === 1)!.events).toBeGreaterThan(0);
    sys.shutdown("udpecho");
    const result = await sys.done;
    unwatch();
    expect(result.exitCode, lines.join("\n")).toBe(0);
    expect(result.domains.map((d) => d.reason)).toEqual(["poweroff", "poweroff"]);
    expect(seen[0], "a watch fires once at once").toBe("/local/domain/1/control");
    expect(seen).toContain("/local/domain/1/control/shutdown");
    expect(lines).toContain("netping: 3 packets transmitted, 3 received, 0% packet loss");
  }, 60_000);

  it("a host write reaches a guest waiting on a watch under the deterministic runner", async () => {
    const sys = XenSystem.start({ guests: [{ wasm: ex("udpecho"), cmdline: "ip=10.0.0.2 count=0", vif: true }], waitForXenstore: true });
    await sys.ready();
    await sys.waitForConsole("listening on 10.0.0.2:7");
    sys.shutdown(1);
    const result = await sys.done;
    expect(result.domains[0].reason).toBe("poweroff");
  }, 60_000);

  it("runs disks through the backend domain", async () => {
    const result = await runSystem({
      guests: [{ wasm: ex("diskcopy") }],
      disks: [{ ramBytes: 1 << 20, readonly: true }, { ramBytes: 1 << 20 }],
    });
    expect(result.exitCode).toBe(0);
    expect(result.console.some((l) => /diskcopy: copied 1048576 bytes/.test(l.text))).toBe(true);
    expect(result.backend?.reason).toBe("poweroff");
  }, 60_000);

  it("keeps only the most recent console lines (keepConsoleLines) while onConsole sees every one, and records the event order only when asked", async () => {
    const seen: string[] = [];
    const sys = XenSystem.start({ guests: [{ wasm: ex("hello") }], keepConsoleLines: 2, onConsole: (l) => seen.push(l.text) });
    const r = await sys.done;
    expect(seen.length).toBeGreaterThan(3);
    expect(seen[0]).toBe("Hello from xenwasm");
    expect(r.console.map((l) => l.text)).toEqual(seen.slice(-r.console.length));
    expect(r.console.length).toBeLessThanOrEqual(3);
    expect(lib.MAX_KEPT_CONSOLE_LINES).toBe(100_000);
    expect(r.trace.length, "the event order is recorded by default").toBeGreaterThan(0);
    expect((await runSystem({ guests: [{ wasm: ex("hello") }], trace: false })).trace, "trace: false records nothing").toEqual([]);
    await expect(runSystem({ guests: [{ wasm: ex("hello") }], keepConsoleLines: 0 })).rejects.toThrow(/keepConsoleLines must be a whole number of at least 1, not 0/);
  });

  it("rejects a configuration it cannot run with a one-line ConfigError", async () => {
    const cases: Array<[Parameters<typeof runSystem>[0], RegExp]> = [
      [{ guests: [] }, /^no guest given$/],
      [{ guests: [{ wasm: "/nonexistent.wasm" }] }, /^\/nonexistent\.wasm: cannot read guest: ENOENT$/],
      [{ guests: [{ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) }] }, /^guest 1: the module given: not a xenwasm guest: no exported function xen_start/],
      [{ guests: [{ wasm: ex("hello"), vif: true }], uplink: { local: { host: "127.0.0.1", port: 0 }, remote: { host: "127.0.0.1", port: 9 } } }, /^the uplink needs the threaded runner/],
      [{ guests: [{ wasm: ex("hello") }], pcap: "/tmp/x.pcap" }, /^a capture needs dom0's switch: give a guest a vif$/],
      [{ guests: [{ wasm: ex("hello"), memMiB: 1 }] }, /^guest 1: memory must be/],
    ];
    for (const [config, re] of cases) {
      const err = await runSystem(config).then(() => null, (e: Error) => e);
      expect(err, JSON.stringify(config.guests.map((g) => typeof g.wasm))).toBeInstanceOf(ConfigError);
      expect(err!.message).toMatch(re);
      expect(err!.message).not.toContain("\n");
    }
  });
});
