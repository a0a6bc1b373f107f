// copyMemory (bindings/hypervisor/copy.ts), the copy under every grant copy and mapped-grant
// copy: both of its paths (Node's native memcpy and TypedArray.set) copy exactly the
// bytes asked for between two SharedArrayBuffers and touch nothing else.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { copyMemory, NATIVE_MEMCPY, type Memory } from "../../bindings/hypervisor/copy.js";
import fc from "fast-check";
import { ROOT } from "../helpers/env.js";

/** A memory as a Domain presents it: the buffer and a view over all of it. */
function memory(bytes: number): Memory {
  const buf = new SharedArrayBuffer(bytes);
  return { buf, u8: new Uint8Array(buf) };
}

const A = 3 * 4096, B = 2 * 4096;

/** A copy of `len` bytes from `src` in a 3-page memory to `dst` in a 2-page one, both in range. */
const copyArb = fc.integer({ min: 0, max: 4096 }).chain((len) =>
  fc.record({ len: fc.constant(len), src: fc.integer({ min: 0, max: A - len }), dst: fc.integer({ min: 0, max: B - len }) }));

describe("copyMemory", () => {
  it("uses Node's native memcpy on Node 20", () => {
    expect(NATIVE_MEMCPY).toBe(!process.env.XENWASM_NO_NATIVE_MEMCPY);
  });

  it("copies exactly the range asked for (fast-check: a failure shrinks to the smallest copies)", () => {
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`copyMemory: fast-check seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    fc.assert(fc.property(fc.uint8Array({ minLength: A, maxLength: A }), fc.array(copyArb, { minLength: 1, maxLength: 40 }), (bytes, copies) => {
      const a = memory(A), b = memory(B);
      a.u8.set(bytes);
      const model = new Uint8Array(B);
      for (const { len, src, dst } of copies) {
        copyMemory(b, dst, a, src, len);
        model.set(a.u8.subarray(src, src + len), dst);
        expect(Buffer.compare(b.u8, model), `${len} bytes ${src} -> ${dst}`).toBe(0);
      }
    }), { seed, numRuns: 100 });
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
