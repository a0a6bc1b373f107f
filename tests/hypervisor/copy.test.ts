// copyMemory (bindings/hypervisor/copy.ts), the copy under every grant copy and mapped-grant
// copy: both of its paths (Node's native memcpy and TypedArray.set) copy exactly the
// bytes asked for between two SharedArrayBuffers and touch nothing else.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { copyMemory, NATIVE_MEMCPY, type Memory } from "../../bindings/hypervisor/copy.js";
import { ROOT } from "../helpers/env.js";
import { Rng } from "../helpers/rng.js";

/** A memory as a Domain presents it: the buffer and a view over all of it. */
function memory(bytes: number): Memory {
  const buf = new SharedArrayBuffer(bytes);
  return { buf, u8: new Uint8Array(buf) };
}

/** Copies random ranges between two shared memories and compares the destination with a model. */
function check(seed: number): void {
  const rng = new Rng(seed);
  const a = memory(3 * 4096), b = memory(2 * 4096);
  a.u8.set(rng.bytes(a.u8.length));
  const model = new Uint8Array(b.u8.length);
  for (let round = 0; round < 500; round++) {
    const len = rng.int(0, 4096), src = rng.int(0, a.u8.length - len), dst = rng.int(0, b.u8.length - len);
    copyMemory(b, dst, a, src, len);
    model.set(a.u8.subarray(src, src + len), dst);
    expect(Buffer.compare(b.u8, model), `seed ${seed} round ${round}: ${len} bytes ${src} -> ${dst}`).toBe(0);
  }
}

describe("copyMemory", () => {
  it("uses Node's native memcpy on Node 20", () => {
    expect(NATIVE_MEMCPY).toBe(!process.env.XENWASM_NO_NATIVE_MEMCPY);
  });

  it("copies exactly the range asked for", () => {
    const seed = Date.now() % 100000;
    console.log(`copyMemory: seed ${seed}`);
    check(seed);
  });

  it("falls back to TypedArray.set with XENWASM_NO_NATIVE_MEMCPY=1, with the same results", () => {
    const script = `
      import { copyMemory, NATIVE_MEMCPY } from ${JSON.stringify(join(ROOT, "dist/bindings/hypervisor/copy.js"))};
      const m = () => { const buf = new SharedArrayBuffer(64); return { buf, u8: new Uint8Array(buf) }; };
      const a = m(), b = m();
      for (let i = 0; i < 64; i++) a.u8[i] = i + 1;
      copyMemory(b, 10, a, 3, 40);
      console.log(JSON.stringify({ native: NATIVE_MEMCPY, b: Array.from(b.u8) }));`;
    const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, XENWASM_NO_NATIVE_MEMCPY: "1" }, encoding: "utf8",
    }));
    expect(out.native).toBe(false);
    expect(out.b).toEqual(Array.from({ length: 64 }, (_, i) => (i >= 10 && i < 50 ? i - 6 : 0)));
  });
});
