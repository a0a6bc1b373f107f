// Debian's xenstore-ls and xenstore-read inspect a running disk system (threaded runner: dom0's
// blkback and diskcopy's blkfront, connected) through the run's xenstored socket: both ends'
// directories have libxl's layout and the negotiated keys. xenstore-write and xenstore-rm then
// detach one disk the way libxl does, and both drivers follow.
import { expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";

const haveTools = existsSync("/usr/bin/xenstore-ls");
const tool = (sock: string, name: string, ...args: string[]) =>
  spawnSync(`/usr/bin/${name}`, args, { encoding: "utf8", env: { ...process.env, XENSTORED_PATH: sock }, timeout: 10_000 }).stdout;

it.skipIf(skipWithout(haveTools))("xenstore-ls shows the connected vbds of a running diskcopy", async () => {
  expect(haveTools, "Debian's xenstore-utils must be installed (apt-get install xenstore-utils)").toBe(true);
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-blkxs-"));
  const sock = join(dir, "xs.sock");
  const child = spawn(process.execPath, [join(ROOT, "bin/xenwasm.js"), "run", "--runner", "threads", "--xenstore-socket", sock,
    "--disk", "ram:1M,ro", "--disk", "ram:2M", "--cmdline", "linger=4", join(ROOT, "build/examples/diskcopy.wasm")], { cwd: ROOT });
  let out = "";
  child.stdout.on("data", (b) => (out += b));
  child.stderr.on("data", (b) => (out += b));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const end = Date.now() + 20_000;
    while (!out.includes("staying up") && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain("staying up");
    const back = tool(sock, "xenstore-ls", "/local/domain/0/backend/vbd/1/51712");
    for (const line of ['frontend = "/local/domain/1/device/vbd/51712"', 'frontend-id = "1"', 'mode = "r"', 'physical-device = "fe:0"',
      'state = "4"', 'sectors = "2048"', 'info = "4"', 'sector-size = "512"', 'feature-persistent = "1"', 'max-ring-page-order = "4"',
      'multi-queue-max-queues = "4"', 'feature-max-indirect-segments = "256"', 'feature-flush-cache = "1"']) expect(back, back).toContain(line);
    const front = tool(sock, "xenstore-ls", "/local/domain/1/device/vbd/51728");
    for (const line of ['backend = "/local/domain/0/backend/vbd/1/51728"', 'backend-id = "0"', 'state = "4"', 'protocol = "x86_64-abi"',
      'multi-queue-num-queues = "4"', 'ring-page-order = "4"', 'feature-persistent = "1"']) expect(front, front).toContain(line);
    expect(front).toMatch(/queue-3 = ""\n\s+ring-ref0 = "\d+"/);
    expect(tool(sock, "xenstore-read", "/local/domain/0/backend/vbd/1/51728/sectors")).toBe("4096\n");
    expect(await exit).toBe(0);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}, 40_000);

it.skipIf(skipWithout(haveTools))("detaching a disk as libxl does (xenstore-write online=0, state=Closing) closes both ends and leaves the other disk connected", async () => {
  expect(haveTools, "Debian's xenstore-utils must be installed (apt-get install xenstore-utils)").toBe(true);
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-blkdetach-"));
  const sock = join(dir, "xs.sock");
  const child = spawn(process.execPath, [join(ROOT, "bin/xenwasm.js"), "run", "--runner", "threads", "--xenstore-socket", sock,
    "--disk", "ram:1M,ro", "--disk", "ram:2M", "--cmdline", "linger=30", join(ROOT, "build/examples/diskcopy.wasm")], { cwd: ROOT });
  let out = "";
  child.stdout.on("data", (b) => (out += b));
  child.stderr.on("data", (b) => (out += b));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const xvdb = { back: "/local/domain/0/backend/vbd/1/51728", front: "/local/domain/1/device/vbd/51728" };
  const read = (path: string) => spawnSync("/usr/bin/xenstore-read", [path], { encoding: "utf8", env: { ...process.env, XENSTORED_PATH: sock }, timeout: 10_000 });
  const until = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 10_000;
    while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(ok(), `${what}\n${out}`).toBe(true);
  };
  try {
    await until("diskcopy lingers", () => out.includes("staying up"));
    tool(sock, "xenstore-write", `${xvdb.back}/online`, "0", `${xvdb.back}/state`, "5");
    await until("both ends of xvdb reach Closed (6)", () => read(`${xvdb.back}/state`).stdout === "6\n" && read(`${xvdb.front}/state`).stdout === "6\n");
    expect(read("/local/domain/0/backend/vbd/1/51712/state").stdout).toBe("4\n"); // xvda stays connected
    expect(read("/local/domain/1/device/vbd/51712/state").stdout).toBe("4\n");
    tool(sock, "xenstore-rm", xvdb.back);
    tool(sock, "xenstore-rm", xvdb.front);
    await new Promise((r) => setTimeout(r, 300));
    expect(read(xvdb.back).status, "blkback must not write into a removed backend directory").not.toBe(0);
    expect(read(xvdb.front).status, "blkfront must not write into a removed device directory").not.toBe(0);
    tool(sock, "xenstore-write", "/local/domain/1/control/shutdown", "poweroff");
    expect(await exit, out).toBe(0);
    expect(out).toContain("the backend closed the device");
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
