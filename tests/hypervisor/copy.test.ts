// copyMemory (bindings/hypervisor/copy.ts), the copy under every grant copy, mapped-grant copy
// and RAM-disk DMA: both of its paths (Node's native memcpy and TypedArray.set) copy exactly the
// bytes asked for between two SharedArrayBuffers and touch nothing else.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { copyMemory, NATIVE_MEMCPY } from "../../bindings/hypervisor/copy.js";
import { ROOT } from "../helpers/env.js";
import { Rng } from "../helpers/rng.js";

/** Copies random ranges between two shared memories (through views at an offset) and compares with a model. */
function check(copy: typeof copyMemory, seed: number): void {
  const rng = new Rng(seed);
  const a = new Uint8Array(new SharedArrayBuffer(3 * 4096)), b = new Uint8Array(new SharedArrayBuffer(3 * 4096), 4096, 2 * 4096);
  a.set(rng.bytes(a.length));
  const model = new Uint8Array(b.length);
  for (let round = 0; round < 500; round++) {
    const len = rng.int(0, 4096), src = rng.int(0, a.length - len), dst = rng.int(0, b.length - len);
    copy(b, dst, a, src, len);
    model.set(a.subarray(src, src + len), dst);
    expect(Buffer.compare(b, model), `seed ${seed} round ${round}: ${len} bytes ${src} -> ${dst}`).toBe(0);
  }
  expect(new Uint8Array(b.buffer, 0, 4096).every((x) => x === 0)).toBe(true); // outside the view
}

describe("copyMemory", () => {
  it("uses Node's native memcpy on Node 20", () => {
    expect(NATIVE_MEMCPY).toBe(!process.env.XENWASM_NO_NATIVE_MEMCPY);
  });

  it("copies exactly the range asked for", () => {
    const seed = Date.now() % 100000;
    console.log(`copyMemory: seed ${seed}`);
    check(copyMemory, seed);
  });

  it("falls back to TypedArray.set with XENWASM_NO_NATIVE_MEMCPY=1, with the same results", () => {
    const script = `
      import { copyMemory, NATIVE_MEMCPY } from ${JSON.stringify(join(ROOT, "dist/bindings/hypervisor/copy.js"))};
      const a = new Uint8Array(new SharedArrayBuffer(64)), b = new Uint8Array(new SharedArrayBuffer(64));
      for (let i = 0; i < 64; i++) a[i] = i + 1;
      copyMemory(b, 10, a, 3, 40);
      console.log(JSON.stringify({ native: NATIVE_MEMCPY, b: Array.from(b) }));`;
    const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, XENWASM_NO_NATIVE_MEMCPY: "1" }, encoding: "utf8",
    }));
    expect(out.native).toBe(false);
    expect(out.b).toEqual(Array.from({ length: 64 }, (_, i) => (i >= 10 && i < 50 ? i - 6 : 0)));
  });
});
