// The conformance check is not a test that cannot fail: a copy of the ABI layer with deliberate
// mistakes (a dropped padding member, a padding field of the wrong width, a wrong constant, a
// name the headers lack) is rebuilt and each mistake is reported; the compile-time size check
// rejects a struct of the wrong size on its own.
import { afterAll, describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateManifestSource } from "../../bindings/build/main.js";
import { compileEntry } from "../../bindings/build/compile.js";
import { manifestJson, parseManifest } from "../../bindings/abi/manifest.js";
import { checkManifest, headersInstalled } from "../../bindings/abi/check.js";
import { ROOT, skipWithout } from "../helpers/env.js";

function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-mut-"));
  for (const p of ["assembly", "transform", "asconfig.json"]) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

function edit(root: string, file: string, from: string, to: string): void {
  const p = join(root, file);
  const s = readFileSync(p, "utf8");
  if (!s.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}: update this test`);
  writeFileSync(p, s.replace(from, to));
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("deliberate ABI mistakes", () => {
  it.skipIf(skipWithout(headersInstalled()))("are each reported by the gcc conformance check", async () => {
    const root = copyProject();
    dirs.push(root);
    const ev = "assembly/xen/event_channel.ts";
    // 1. Drop a padding member, 2. widen a padding field (each with the size check that would
    //    otherwise stop the build removed).
    edit(root, ev, "  @array(7) _pad: u8;\n", "");
    edit(root, ev, 'if (offsetof<evtchn_init_control>() != 24) ERROR("struct evtchn_init_control: size must be 24");', "");
    edit(root, ev, "  remote_dom: domid_t;\n  __padding0: u16;\n", "  remote_dom: domid_t;\n  __padding0: u32;\n");
    edit(root, ev, 'if (offsetof<evtchn_bind_interdomain>() != 12) ERROR("struct evtchn_bind_interdomain: size must be 12");', "");
    // 3. A wrong constant; 4. a constant the headers do not define.
    edit(root, ev, "export const EVTCHNOP_send: i32 = 4;", "export const EVTCHNOP_send: i32 = 5;\nexport const EVTCHNOP_frobnicate: i32 = 99;");
    generateManifestSource(root);
    await compileEntry(root, { source: "build/gen/abi-manifest.ts", outFile: "build/abi/manifest.wasm", target: "release" });
    const r = checkManifest(parseManifest(manifestJson(join(root, "build/abi/manifest.wasm"))));
    const entries = r.mismatches.map((x) => x.entry);
    expect(r.mismatches).toContainEqual({ entry: "sizeof(struct evtchn_init_control)", manifest: "17", headers: "24" });
    expect(r.mismatches).toContainEqual({ entry: "offsetof(struct evtchn_bind_interdomain, remote_port)", manifest: "8", headers: "4" });
    expect(entries).toContain("sizeof(struct evtchn_bind_interdomain)");
    expect(r.mismatches.find((x) => x.entry === "EVTCHNOP_send")).toEqual({ entry: "EVTCHNOP_send", manifest: "5", headers: "4" });
    expect(r.unknown).toEqual(["EVTCHNOP_frobnicate"]);
  });

  it("a dropped padding member alone fails the build at the struct's size check", async () => {
    const root = copyProject();
    dirs.push(root);
    edit(root, "assembly/xen/event_channel.ts", "  @array(7) _pad: u8;\n", "");
    generateManifestSource(root);
    await expect(compileEntry(root, { source: "build/gen/abi-manifest.ts", outFile: "build/abi/manifest.wasm", target: "release" }))
      .rejects.toThrow(/struct evtchn_init_control: size must be 24/);
  });
});
