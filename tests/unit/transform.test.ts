// The @array transform lays out inline arrays exactly as C does and rejects what it cannot lay out.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileEntry } from "../../bindings/build/compile.js";
import { ROOT } from "../helpers/env.js";

const root = mkdtempSync(join(tmpdir(), "xenwasm-tr-"));
for (const p of ["transform", "asconfig.json"]) cpSync(join(ROOT, p), join(root, p), { recursive: true });
symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Compiles `source` and returns its exported i32 globals. */
async function globals(source: string): Promise<Record<string, number>> {
  writeFileSync(join(root, "t.ts"), source);
  await compileEntry(root, { source: "t.ts", outFile: "t.wasm", target: "release" });
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const { instance } = await WebAssembly.instantiate(readFileSync(join(root, "t.wasm")), { env: { memory, abort() {} } });
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(instance.exports)) if (v instanceof WebAssembly.Global && !k.startsWith("__")) out[k] = v.value as number;
  return out;
}

describe("@array(N)", () => {
  it("lays out C arrays inline with C alignment and size", async () => {
    const g = await globals(`
      @unmanaged class cons { @array(1024) in_: u8; @array(2048) out: u8; in_cons: u32; in_prod: u32; out_cons: u32; out_prod: u32; }
      @unmanaged class mixed { a: u8; @array(3) b: u16; c: u64; @array(5) d: u8; @array(3) __tail: u8; }
      export const CONS_SIZE: i32 = offsetof<cons>();
      export const CONS_OUT: i32 = offsetof<cons>("out");
      export const CONS_OUT_PROD: i32 = offsetof<cons>("out_prod");
      export const MIXED_B: i32 = offsetof<mixed>("b");
      export const MIXED_C: i32 = offsetof<mixed>("c");
      export const MIXED_D: i32 = offsetof<mixed>("d");
      export const MIXED_SIZE: i32 = offsetof<mixed>();
    `);
    // gcc: struct { char in[1024], out[2048]; uint32_t x4; } is 3088 bytes, out_prod at 3084;
    // struct { uint8_t a; uint16_t b[3]; uint64_t c; uint8_t d[5]; } has b@2 c@8 d@16, size 24
    // (AssemblyScript adds no tail padding: the class spells it out as __tail).
    expect(g).toEqual({ CONS_SIZE: 3088, CONS_OUT: 1024, CONS_OUT_PROD: 3084, MIXED_B: 2, MIXED_C: 8, MIXED_D: 16, MIXED_SIZE: 24 });
  });

  it("rejects a count that is not an integer literal", async () => {
    await expect(globals(`const N = 4; @unmanaged class s { @array(N) a: u8; }`)).rejects.toThrow(/@array on s\.a: expects one integer literal/);
  });

  it("rejects an element type that is not a scalar", async () => {
    await expect(globals(`@unmanaged class e { x: u32; } @unmanaged class s { @array(2) a: e; }`)).rejects.toThrow(/@array on s\.a: element type must be a scalar/);
  });
});
