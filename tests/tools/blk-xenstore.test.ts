// Debian's xenstore-ls and xenstore-read inspect a running disk system (threaded runner: dom0's
// blkback and diskcopy's blkfront, connected) through the run's xenstored socket: both ends'
// directories have libxl's layout and the negotiated keys. xenstore-write and xenstore-rm then
// detach one disk the way libxl does, and both drivers follow.
import { expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";
import { startXenwasm, until, xenstoreTool } from "../helpers/run.js";

const haveTools = existsSync("/usr/bin/xenstore-ls");
const tool = (sock: string, name: string, ...args: string[]) => xenstoreTool(sock, name, ...args).stdout;

/**
 * Starts `xenwasm run --runner threads` with diskcopy over a read-only 1 MiB RAM disk (xvda) and a
 * 2 MiB one (xvdb), staying up `linger` seconds after the copy; its xenstored socket is in a fresh
 * directory that stop() removes.
 */
function startDiskcopy(linger: number) {
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-blkxs-"));
  const sock = join(dir, "xs.sock");
  const run = startXenwasm(["run", "--runner", "threads", "--xenstore-socket", sock,
    "--disk", "ram:1M,ro", "--disk", "ram:2M", "--cmdline", `linger=${linger}`, join(ROOT, "build/examples/diskcopy.wasm")]);
  return {
    ...run, sock,
    /** Waits up to `ms` for `ok` (failing with the run's output). */
    until: (what: string, ok: () => boolean, ms: number) => until(what, () => (ok() ? true : undefined), ms, run.out),
    stop(): void {
      run.child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

it.skipIf(skipWithout(haveTools))("xenstore-ls shows the connected vbds of a running diskcopy", async () => {
  expect(haveTools, "Debian's xenstore-utils must be installed (apt-get install xenstore-utils)").toBe(true);
  const run = startDiskcopy(4);
  const sock = run.sock;
  try {
    await run.until("diskcopy is staying up", () => run.out().includes("staying up"), 20_000);
    const back = tool(sock, "xenstore-ls", "/local/domain/0/backend/vbd/1/51712");
    for (const line of ['frontend = "/local/domain/1/device/vbd/51712"', 'frontend-id = "1"', 'mode = "r"', 'physical-device = "fe:0"',
      'state = "4"', 'sectors = "2048"', 'info = "4"', 'sector-size = "512"', 'feature-persistent = "1"', 'max-ring-page-order = "4"',
      'multi-queue-max-queues = "4"', 'feature-max-indirect-segments = "256"', 'feature-flush-cache = "1"']) expect(back, back).toContain(line);
    const front = tool(sock, "xenstore-ls", "/local/domain/1/device/vbd/51728");
    for (const line of ['backend = "/local/domain/0/backend/vbd/1/51728"', 'backend-id = "0"', 'state = "4"', 'protocol = "x86_64-abi"',
      'multi-queue-num-queues = "4"', 'ring-page-order = "4"', 'feature-persistent = "1"']) expect(front, front).toContain(line);
    expect(front).toMatch(/queue-3 = ""\n\s+ring-ref0 = "\d+"/);
    expect(tool(sock, "xenstore-read", "/local/domain/0/backend/vbd/1/51728/sectors")).toBe("4096\n");
    expect(await run.exit).toBe(0);
  } finally {
    run.stop();
  }
}, 40_000);

it.skipIf(skipWithout(haveTools))("detaching a disk as libxl does (xenstore-write online=0, state=Closing) closes both ends and leaves the other disk connected", async () => {
  expect(haveTools, "Debian's xenstore-utils must be installed (apt-get install xenstore-utils)").toBe(true);
  const run = startDiskcopy(30);
  const sock = run.sock;
  const xvdb = { back: "/local/domain/0/backend/vbd/1/51728", front: "/local/domain/1/device/vbd/51728" };
  const read = (path: string) => xenstoreTool(sock, "xenstore-read", path);
  try {
    await run.until("diskcopy lingers", () => run.out().includes("staying up"), 10_000);
    tool(sock, "xenstore-write", `${xvdb.back}/online`, "0", `${xvdb.back}/state`, "5");
    await run.until("both ends of xvdb reach Closed (6)", () => read(`${xvdb.back}/state`).stdout === "6\n" && read(`${xvdb.front}/state`).stdout === "6\n", 10_000);
    expect(read("/local/domain/0/backend/vbd/1/51712/state").stdout).toBe("4\n"); // xvda stays connected
    expect(read("/local/domain/1/device/vbd/51712/state").stdout).toBe("4\n");
    tool(sock, "xenstore-rm", xvdb.back);
    tool(sock, "xenstore-rm", xvdb.front);
    await new Promise((r) => setTimeout(r, 300));
    expect(read(xvdb.back).status, "blkback must not write into a removed backend directory").not.toBe(0);
    expect(read(xvdb.front).status, "blkfront must not write into a removed device directory").not.toBe(0);
    tool(sock, "xenstore-write", "/local/domain/1/control/shutdown", "poweroff");
    expect(await run.exit, run.out()).toBe(0);
    expect(run.out()).toContain("the backend closed the device");
  } finally {
    run.stop();
  }
}, 60_000);
