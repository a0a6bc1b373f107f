// A seeded random source for the ring's differential tests (ring-diff, ring-batch): the
// harness's mulberry32 (bindings/runner/common.ts) with the helpers they use. Same seed, same
// sequence. They stay on it rather than fast-check because one seeded stream drives the
// AssemblyScript ring and its TypeScript model in lock step through thousands of steps, with the
// failing step named; the other randomized tests (models, the hypercall surface, copyMemory) use
// fast-check, which shrinks a failure to a minimal case.
import { rng } from "../../bindings/runner/common.js";

/** Seeded randomness: numbers in [0, 1), inclusive integer ranges, picks. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) { this.next = rng(seed); }
  /** An integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  /** One element of `a`. */
  pick<T>(a: readonly T[]): T { return a[Math.floor(this.next() * a.length)]; }
  /** `n` random bytes. */
  bytes(n: number): Uint8Array { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256); return b; }
}
