// The ABI manifest agrees with gcc on Debian's libxen-dev headers, entry by entry, and covers
// every header the foundation issue names.
import { describe, expect, it } from "vitest";
import { loadManifest } from "../../bindings/abi/manifest.js";
import { checkManifest, headersInstalled } from "../../bindings/abi/check.js";
import { ROOT, skipWithout } from "../helpers/env.js";

const REQUIRED_HEADERS = [
  "xen/xen.h", "xen/event_channel.h", "xen/grant_table.h", "xen/sched.h", "xen/memory.h",
  "xen/version.h", "xen/vcpu.h", "xen/hvm/params.h", "xen/hvm/hvm_op.h", "xen/errno.h",
  "xen/io/ring.h", "xen/io/blkif.h", "xen/io/netif.h", "xen/io/xs_wire.h", "xen/io/xenbus.h",
  "xen/io/console.h", "xen/io/protocols.h",
];

describe("ABI manifest", () => {
  const m = loadManifest(ROOT);

  it("mirrors every header of the ABI layer", () => {
    expect([...m.headers].sort()).toEqual(expect.arrayContaining(REQUIRED_HEADERS));
  });

  it("spells types as C does and has plausible sizes", () => {
    for (const [name, t] of Object.entries(m.types)) {
      expect(name).toMatch(/^(struct |union )?\w+$/);
      expect(t.size).toBeGreaterThan(0);
      for (const off of Object.values(t.fields)) expect(off).toBeLessThan(t.size);
    }
    expect(m.types["struct evtchn_status"].fields["u.interdomain.port"]).toBe(20);
  });

  it.skipIf(skipWithout(headersInstalled()))("agrees with gcc on the Xen headers (libxen-dev)", () => {
    const r = checkManifest(m);
    console.log(`abi check: ${r.checked} entries agree with the Xen ${r.headersVersion} headers; unchecked (newer): ${r.unchecked.join(", ") || "none"}`);
    expect(r.mismatches).toEqual([]);
    expect(r.unknown).toEqual([]);
    // Only entries the manifest marks as newer than the headers may go unchecked.
    for (const name of r.unchecked) expect(m.since[name]).toBeDefined();
    expect(r.checked).toBeGreaterThan(500);
  });
});
