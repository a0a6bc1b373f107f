// Debian's xenstore-utils against the run's xenstored socket (XENSTORED_PATH), with a real guest
// (examples/idle) on the other side: the guest's nodes are visible, the tools' writes, removes,
// permission changes and watches work, and `xenstore-write .../control/shutdown poweroff` stops
// the guest and ends the run with status 0 — under both runners.
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, skipWithout } from "../helpers/env.js";
import { startXenwasm, until, xenstoreTool as tool, type XenwasmProcess } from "../helpers/run.js";

const haveTools = existsSync("/usr/bin/xenstore-read");

/** idle as domain 1, and a hostile xenstore client (never reads its replies) beside it. */
function start(runner: string, sock: string): XenwasmProcess {
  return startXenwasm(["run", "--runner", runner, "--xenstore-socket", sock,
    join(ROOT, "build/examples/idle.wasm"), join(ROOT, "build/tests/xs_hostile.wasm")]);
}

describe.each(["deterministic", "threads"])("xenstore-utils against xenwasm run --runner %s", (runner) => {
  it.skipIf(skipWithout(haveTools))("inspect, change and stop a running guest through the socket", async () => {
    expect(haveTools, "Debian's xenstore-utils must be installed (apt-get install xenstore-utils)").toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-xs-"));
    const sock = join(dir, "xs.sock");
    const run = start(runner, sock);
    try {
      await until("the socket", () => (existsSync(sock) ? true : undefined));
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      // The guest writes data/ready once it is connected.
      await until("data/ready", () => (tool(sock, "xenstore-read", "/local/domain/1/data/ready").stdout.trim() === "1" ? true : undefined));
      expect(tool(sock, "xenstore-read", "/local/domain/1/name").stdout).toBe("idle\n");
      const ls = tool(sock, "xenstore-ls", "/local/domain/1");
      expect(ls.status).toBe(0);
      expect(ls.stdout).toMatch(/^name = "idle"$/m);
      expect(ls.stdout).toMatch(/^domid = "1"$/m);
      // Tools write, list, chmod and remove.
      expect(tool(sock, "xenstore-write", "/tool/test/a", "hello").status).toBe(0);
      expect(tool(sock, "xenstore-read", "/tool/test/a").stdout).toBe("hello\n");
      expect(tool(sock, "xenstore-list", "/tool/test").stdout).toBe("a\n");
      expect(tool(sock, "xenstore-chmod", "/tool/test/a", "n1", "r2").status).toBe(0);
      expect(tool(sock, "xenstore-ls", "-p", "/tool/test").stdout).toMatch(/a = "hello"[ .]+\(n1,r2\)/);
      expect(tool(sock, "xenstore-rm", "/tool/test").status).toBe(0);
      const gone = tool(sock, "xenstore-read", "/tool/test/a");
      expect(gone.status).not.toBe(0);
      // A watch sees the registration event and a change.
      const watch = spawn("/usr/bin/xenstore-watch", ["-n", "2", "/tool/w"], { env: { ...process.env, XENSTORED_PATH: sock } });
      let events = "";
      watch.stdout.on("data", (b) => (events += b));
      const watched = new Promise((r) => watch.on("exit", r));
      await until("the watch registration event", () => (events.includes("/tool/w") ? true : undefined));
      expect(tool(sock, "xenstore-write", "/tool/w", "x").status).toBe(0);
      await watched;
      expect(events.trim().split("\n")).toEqual(["/tool/w", "/tool/w"]);
      // The standard PV control protocol stops the guest.
      expect(tool(sock, "xenstore-write", "/local/domain/1/control/shutdown", "poweroff").status).toBe(0);
      const code = await Promise.race([run.exit, new Promise((r) => setTimeout(() => r("timeout"), 15_000))]);
      expect(run.out()).toMatch(/\[idle\]/);
      expect(run.out()).toMatch(/\[xs_hostile\] xs_hostile: flooding xenstore/);
      expect(code).toBe(0);
    } finally {
      run.child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
