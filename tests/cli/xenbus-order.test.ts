// The SDK publishes one device's state switches in the order they were asked for, even when a
// commit fails with EAGAIN and is retried (found by `xenwasm fuzz --faults`: blkfront's Closed,
// retried, landed after the re-attach's Initialising and left both ends waiting). The guest asks
// for Closed and Initialising at once, 200 times, with half the commits failing; the state must
// read Initialising after each pair. Without the ordering, 100 of 200 rounds end Closed.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

describe.each(["deterministic", "threads"])("xenbusSwitchState under --runner %s", (runner) => {
  it("publishes one device's switches in order while half the commits fail with EAGAIN", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), "run", "--runner", runner, "--faults", "50", "--seed", "4", "--stats", "build/tests/xenbus_order.wasm"], { encoding: "utf8", cwd: ROOT, timeout: 60_000 });
    expect(r.stdout).toContain("[xenbus_order] xenbus order: 200 rounds, 0 out of order\n");
    expect(r.stderr).toMatch(/xenbus_order \(1\): poweroff, .* [1-9]\d* injected faults/);
    expect(r.status).toBe(0);
  });
});
