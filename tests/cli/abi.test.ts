// `xenwasm abi` as a user runs it: JSON on stdout, one-line errors and exit 2 on bad arguments.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { headersInstalled } from "../../bindings/abi/check.js";
import { loadManifest, parseManifest } from "../../bindings/abi/manifest.js";
import { ROOT, skipWithout } from "../helpers/env.js";

function xenwasm(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8", cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("xenwasm abi", () => {
  it("prints the manifest as JSON with the documented shape", () => {
    const r = xenwasm("abi");
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.arch).toBe("x86_64");
    expect(m.types["struct evtchn_alloc_unbound"]).toEqual({ size: 8, fields: { dom: 0, remote_dom: 2, port: 4 } });
    expect(m.constants.EVTCHNOP_alloc_unbound).toBe(6);
  });

  it("carries every 64-bit constant exactly, those beyond 2^53 included", () => {
    const r = xenwasm("abi");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"XEN_RUNSTATE_UPDATE":9223372036854775808');
    const built = loadManifest(ROOT);
    const big = Object.entries(built.constants).filter(([, v]) => typeof v === "bigint");
    expect(big.length, "the manifest has constants beyond 2^53").toBeGreaterThanOrEqual(10);
    for (const [name, v] of big) expect(r.stdout).toContain(`"${name}":${v}`);
    expect(parseManifest(r.stdout.trim()).constants).toEqual(built.constants);
  });

  it("--summary counts what the layer covers", () => {
    const r = xenwasm("abi", "--summary");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^xenwasm ABI layer \(x86_64\): \d+ headers, \d+ types, \d+ members, \d+ constants/);
  });

  it.skipIf(skipWithout(headersInstalled()))("--check reports agreement with the headers and exits 0", () => {
    const r = xenwasm("abi", "--check");
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/abi check against Xen [\d.]+ headers: \d+ agree, 0 differ, 0 unknown, \d+ unchecked/);
    expect(r.status).toBe(0);
  });

  it("rejects an unknown option with one line and status 2", () => {
    const r = xenwasm("abi", "--frob");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("xenwasm: abi: unknown option '--frob'\n");
  });

  it("rejects an unknown command with one line and status 2", () => {
    const r = xenwasm("frobnicate");
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("xenwasm: unknown command 'frobnicate' (try 'xenwasm help')\n");
  });

  it("prints usage for help", () => {
    const r = xenwasm("help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: xenwasm <command>/);
  });
});
