// Debian's xenstore-ls inspects a running network (threaded runner: dom0's netback and three
// guests' netfronts, connected) through the run's xenstored socket: both ends' directories have
// libxl's vif layout and the negotiated keys. xenstore-write and xenstore-rm then detach one vif
// the way libxl does: both ends of it close, and the other guests stay connected; writing the
// directories again (as libxl's attach does) re-attaches it, and a guest pings it on its new vif.
import { expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";
import { startXenwasm, until, xenstoreTool } from "../helpers/run.js";

const haveTools = existsSync("/usr/bin/xenstore-ls");
const tool = (sock: string, name: string, ...args: string[]) => xenstoreTool(sock, name, ...args).stdout;

it.skipIf(skipWithout(haveTools))("xenstore-ls shows libxl's vif layout with both ends Connected; one vif detaches and re-attaches while the others stay up", async () => {
  expect(haveTools, "Debian's xenstore-utils must be installed (apt-get install xenstore-utils)").toBe(true);
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-netxs-"));
  const sock = join(dir, "xs.sock");
  // dom1 and dom2 echo UDP until shut down (dom2 re-attaches its vif); dom3 waits 6 s, then pings dom2 over UDP.
  const run = startXenwasm(["run", "--runner", "threads", "--xenstore-socket", sock, "--vif", "on",
    "--cmdline", "ip=10.0.0.2 count=0", join(ROOT, "build/examples/udpecho.wasm"),
    "--cmdline", "ip=10.0.0.3 count=0 hotplug=1", join(ROOT, "build/examples/udpecho.wasm"),
    "--cmdline", "ip=10.0.0.1 peer=10.0.0.3 proto=udp n=5 wait=6000", join(ROOT, "build/examples/netping.wasm")]);
  const read = (path: string) => xenstoreTool(sock, "xenstore-read", path);
  const vif2 = { back: "/local/domain/0/backend/vif/2/0", front: "/local/domain/2/device/vif/0" };
  try {
    await until("all three vifs connected", () => ((run.out().match(/netback: backend\/vif\/\d\/0: connected/g) ?? []).length === 3 ? true : undefined), 20_000, run.out);
    await until("both udpechos listen", () => ((run.out().match(/udpecho: listening/g) ?? []).length === 2 ? true : undefined), 20_000, run.out);
    const back = tool(sock, "xenstore-ls", "/local/domain/0/backend/vif/1/0");
    for (const line of ['frontend = "/local/domain/1/device/vif/0"', 'frontend-id = "1"', 'online = "1"', 'state = "4"',
      'mac = "00:16:3e:00:00:01"', 'handle = "0"', 'type = "vif"', 'bridge = "xenbr0"', 'feature-sg = "1"', 'feature-gso-tcpv4 = "1"',
      'feature-gso-tcpv6 = "1"', 'feature-rx-copy = "1"', 'feature-rx-flip = "0"', 'feature-ipv6-csum-offload = "1"',
      'feature-split-event-channels = "1"', 'feature-multicast-control = "1"', 'feature-ctrl-ring = "1"', 'multi-queue-max-queues = "4"']) expect(back, back).toContain(line);
    const front = tool(sock, "xenstore-ls", "/local/domain/1/device/vif/0");
    for (const line of ['backend = "/local/domain/0/backend/vif/1/0"', 'backend-id = "0"', 'state = "4"', 'mac = "00:16:3e:00:00:01"',
      'handle = "0"', 'request-rx-copy = "1"', 'feature-rx-notify = "1"', 'feature-sg = "1"', 'multi-queue-num-queues = "4"',
      'request-multicast-control = "1"']) expect(front, front).toContain(line);
    expect(front).toMatch(/queue-0 = ""\n\s+tx-ring-ref = "\d+"\n\s+rx-ring-ref = "\d+"\n\s+event-channel-tx = "\d+"\n\s+event-channel-rx = "\d+"/);
    expect(front).toMatch(/ctrl-ring-ref = "\d+"/);
    // Detach dom2's vif as libxl does; its frontend closes, then netback.
    tool(sock, "xenstore-write", `${vif2.back}/online`, "0", `${vif2.back}/state`, "5");
    await until("both ends of vif 2 reach Closed (6)", () => (read(`${vif2.back}/state`).stdout === "6\n" && read(`${vif2.front}/state`).stdout === "6\n" ? true : undefined), 10_000, run.out);
    expect(read("/local/domain/0/backend/vif/1/0/state").stdout).toBe("4\n");
    expect(read("/local/domain/3/device/vif/0/state").stdout).toBe("4\n");
    tool(sock, "xenstore-rm", vif2.back);
    tool(sock, "xenstore-rm", vif2.front);
    await new Promise((r) => setTimeout(r, 300));
    expect(read(vif2.back).status, "netback must not write into a removed backend directory").not.toBe(0);
    expect(read(vif2.front).status, "netfront must not write into a removed device directory").not.toBe(0);
    // Re-attach: libxl writes both directories again (frontend's owned by dom2, backend's by dom0).
    const frontKeys: Array<[string, string]> = [["state", "1"], ["backend", vif2.back], ["backend-id", "0"], ["handle", "0"], ["mac", "00:16:3e:00:00:02"]];
    const backKeys: Array<[string, string]> = [["frontend", vif2.front], ["frontend-id", "2"], ["online", "1"], ["state", "1"], ["mac", "00:16:3e:00:00:02"],
      ["handle", "0"], ["type", "vif"], ["bridge", "xenbr0"]];
    tool(sock, "xenstore-write", vif2.front, "");
    tool(sock, "xenstore-chmod", vif2.front, "n2", "r0");
    tool(sock, "xenstore-write", ...frontKeys.flatMap(([k, v]) => [`${vif2.front}/${k}`, v]));
    for (const [k] of frontKeys) tool(sock, "xenstore-chmod", `${vif2.front}/${k}`, "n2", "r0");
    tool(sock, "xenstore-write", vif2.back, "");
    tool(sock, "xenstore-chmod", vif2.back, "n0", "r2");
    tool(sock, "xenstore-write", ...backKeys.flatMap(([k, v]) => [`${vif2.back}/${k}`, v]));
    for (const [k] of backKeys) tool(sock, "xenstore-chmod", `${vif2.back}/${k}`, "n0", "r2");
    await until("both ends of the re-attached vif reach Connected (4)", () => (read(`${vif2.back}/state`).stdout === "4\n" && read(`${vif2.front}/state`).stdout === "4\n" ? true : undefined), 10_000, run.out);
    await until("udpecho.2 listens on its new vif", () => ((run.out().match(/\[udpecho\.2\] udpecho: listening on 10\.0\.0\.3:7/g) ?? []).length === 2 ? true : undefined), 5_000, run.out);
    // dom3 pings dom2 on its new vif: the switch forwards to the re-attached port.
    await until("netping's statistics", () => (run.out().includes("netping statistics") ? true : undefined), 30_000, run.out);
    expect(run.out()).toContain("[netping] 5 packets transmitted, 5 received, 0% packet loss");
    tool(sock, "xenstore-write", "/local/domain/1/control/shutdown", "poweroff");
    tool(sock, "xenstore-write", "/local/domain/2/control/shutdown", "poweroff");
    expect(await run.exit, run.out()).toBe(0);
    expect(run.out()).toContain("[udpecho.2] netfront: device/vif/0: the backend closed the device");
    expect((run.out().match(/netback: backend\/vif\/2\/0: connected/g) ?? []).length).toBe(2);
  } finally {
    run.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
