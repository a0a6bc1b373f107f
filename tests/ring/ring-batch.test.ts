// Differential tests of the batch operations of assembly/ring.ts (Ring.produceBatch and
// Ring.consumeBatch, through tests/guests/ring_diff.ts) against the per-slot operations that
// tests/ring/ring-diff.test.ts proves against a model of io/ring.h.
//
// Two instances of the guest run the same seeded operation sequence over the same configuration:
// instance B with produce/consume slot by slot (the reference), instance A with produceBatch and
// consumeBatch. After every step the test compares the return values, the consumed copies, both
// ends' private and published indices and every byte of the ring's pages. Configurations: slot
// sizes that make slots straddle pages, 1-4 pages in random frame orders, either end over mapped
// grants, start indices near 2^32 (the batch runs split at the ring's wrap and at page ends).
// Then the error cases: -XEN_ENOSPC copies nothing, a hostile producer index and an unmapped
// grant break the ring as the per-slot operations do.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";
import { Rng } from "../helpers/rng.js";

const FRONT = 0, BACK = 1;
const PAGE = 4096;
const FRONT_HANDLE = 1000, BACK_HANDLE = 2000; // tests/guests/ring_diff.ts
const FRONT_GRANT = 1, BACK_GRANT = 2;
const EINVAL = -22, EFAULT = -14, ENOSPC = -28, EOVERFLOW = -75;
const REQ_PROD = 0;
/** Where the test keeps the batch buffers in each instance's memory (below the guest's 1 MiB). */
const SRC = 0x80000, DST = 0xc0000;

const u32 = (x: number): number => x >>> 0;

interface Guest {
  pageFrame(i: number, frame: number): void;
  create(n: number, slot: number, flags: number): number;
  init(start: number): number;
  free(end: number): number;
  produce(end: number, src: number, len: number): number;
  produceBatch(end: number, src: number, count: number): number;
  push(end: number): number;
  pushNotify(end: number): number;
  unconsumed(end: number): number;
  consume(end: number, dst: number, len: number): number;
  consumeBatch(end: number, dst: number, max: number): number;
  finalCheck(end: number): number;
  prodPvt(end: number): number;
  cons(end: number): number;
  pushed(end: number): number;
  err(end: number): number;
}

/** One instance of the guest with its own memory; grant handle h reaches the frame of ring page h - base. */
class Inst {
  readonly g: Guest;
  readonly memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  frames: number[] = [];
  dead = new Set<number>();

  constructor(mod: WebAssembly.Module) {
    const page = (h: number): number | null => {
      if (this.dead.has(h)) return null;
      const i = h >= BACK_HANDLE ? h - BACK_HANDLE : h - FRONT_HANDLE;
      return i >= 0 && i < this.frames.length ? this.frames[i] * PAGE : null;
    };
    const word = (a: number) => new Int32Array(this.memory.buffer as SharedArrayBuffer, a, 1);
    const xen: Record<string, (...a: number[]) => number> = {};
    for (const imp of WebAssembly.Module.imports(mod)) if (imp.module === "xen") xen[imp.name] = () => 0;
    Object.assign(xen, {
      grant_copy_from: (h: number, off: number, dst: number, len: number) => {
        const p = page(h);
        if (p === null) return EINVAL;
        if (off < 0 || len < 0 || off + len > PAGE) return EFAULT;
        this.mem.copyWithin(dst, p + off, p + off + len);
        return 0;
      },
      grant_copy_to: (h: number, off: number, src: number, len: number) => {
        const p = page(h);
        if (p === null) return EINVAL;
        if (off < 0 || len < 0 || off + len > PAGE) return EFAULT;
        this.mem.copyWithin(p + off, src, src + len);
        return 0;
      },
      grant_load32: (h: number, off: number, out: number) => {
        const p = page(h);
        if (p === null || off & 3) return EINVAL;
        Atomics.store(word(out), 0, Atomics.load(word(p + off), 0));
        return 0;
      },
      grant_store32: (h: number, off: number, v: number) => {
        const p = page(h);
        if (p === null || off & 3) return EINVAL;
        Atomics.store(word(p + off), 0, v);
        return 0;
      },
    });
    const env = { memory: this.memory, abort(_m: number, _f: number, line: number, col: number): never { throw new Error(`guest abort at ${line}:${col}`); } };
    this.g = new WebAssembly.Instance(mod, { env, xen }).exports as unknown as Guest;
  }

  get mem(): Uint8Array { return new Uint8Array(this.memory.buffer); }

  /** The ring's bytes: its pages concatenated in ring order. */
  ringBytes(): Uint8Array {
    const out = new Uint8Array(this.frames.length * PAGE);
    for (const [i, f] of this.frames.entries()) out.set(this.mem.subarray(f * PAGE, (f + 1) * PAGE), i * PAGE);
    return out;
  }
}


interface Config { pages: number; slot: number; flags: number; start: number; frames: number[] }

/** A (batch) and B (per slot) over the same configuration. */
class Pair {
  readonly size: number;
  steps = 0;
  batchesSplit = 0; // batches whose slots wrapped around the ring or crossed a page
  constructor(readonly a: Inst, readonly b: Inst, readonly cfg: Config) {
    let size = 0;
    for (const x of [a, b]) {
      x.frames = cfg.frames;
      x.dead.clear();
      for (const [i, f] of cfg.frames.entries()) { x.mem.fill(0, f * PAGE, (f + 1) * PAGE); x.g.pageFrame(i, f); }
      size = x.g.create(cfg.pages, cfg.slot, cfg.flags);
      expect(x.g.init(cfg.start)).toBe(0);
    }
    this.size = size;
  }

  /** Compares both instances: indices, errors and the ring's bytes. */
  check(what: string): void {
    for (const end of [FRONT, BACK]) {
      const st = (x: Inst) => [u32(x.g.prodPvt(end)), u32(x.g.cons(end)), u32(x.g.pushed(end)), x.g.err(end)];
      expect(st(this.a), `${end === FRONT ? "front" : "back"} (prodPvt, cons, pushed, err) after ${what}`).toEqual(st(this.b));
    }
    const ra = this.a.ringBytes(), rb = this.b.ringBytes();
    if (Buffer.compare(ra, rb) !== 0) expect.fail(`ring bytes differ at offset ${ra.findIndex((v, i) => v !== rb[i])} after ${what}`);
  }

  /** Does a batch of `k` slots from slot index `idx` on wrap around the ring or cross a page? */
  private split(idx: number, k: number): boolean {
    if (k < 2) return false;
    const first = u32(idx) % this.size;
    const off = 64 + first * this.cfg.slot, bytes = k * this.cfg.slot;
    return first + k > this.size || Math.floor(off / PAGE) !== Math.floor((off + bytes - 1) / PAGE);
  }

  produce(end: number, k: number, rng: Rng): void {
    const slot = this.cfg.slot;
    const data = rng.bytes(k * slot);
    this.a.mem.set(data, SRC);
    const free = u32(this.b.g.free(end));
    const idx = this.a.g.prodPvt(end);
    const rc = this.a.g.produceBatch(end, SRC, k);
    if (k > free) { expect(rc, "produceBatch beyond the free slots").toBe(ENOSPC); return; }
    expect(rc, "produceBatch").toBe(0);
    if (this.split(idx, k)) this.batchesSplit++;
    for (let j = 0; j < k; j++) {
      this.b.mem.set(data.subarray(j * slot, (j + 1) * slot), SRC);
      expect(this.b.g.produce(end, SRC, slot), "produce").toBe(0);
    }
  }

  consume(end: number, k: number): void {
    const slot = this.cfg.slot;
    this.a.mem.fill(0xa5, DST, DST + (k + 1) * slot);
    const idx = this.a.g.cons(end);
    const got = this.a.g.consumeBatch(end, DST, k);
    let want = 0;
    while (want < k) {
      const rc = this.b.g.consume(end, DST + want * slot, slot);
      if (rc !== 1) { expect(rc, "consume").toBe(0); break; }
      want++;
    }
    expect(got, `consumeBatch(max ${k})`).toBe(want);
    if (this.split(idx, want)) this.batchesSplit++;
    const ca = this.a.mem.subarray(DST, DST + want * slot), cb = this.b.mem.subarray(DST, DST + want * slot);
    expect(Buffer.compare(ca, cb), "the consumed copies").toBe(0);
    expect(this.a.mem[DST + want * slot], "nothing written past the batch").toBe(0xa5);
  }

  step(rng: Rng): void {
    this.steps++;
    const k = rng.next() < 0.1 ? this.size + 1 : rng.int(0, this.size);
    const op = rng.int(0, 9);
    let name: string;
    const both = (f: (g: Guest) => number) => expect(f(this.a.g), "the same result from both").toBe(f(this.b.g));
    switch (op) {
      case 0: case 1: this.produce(FRONT, k, rng); name = `front produceBatch ${k}`; break;
      case 2: both((g) => g.pushNotify(FRONT)); name = "front push+notify"; break;
      case 3: case 4: this.consume(BACK, k); name = `back consumeBatch ${k}`; break;
      case 5: this.produce(BACK, k, rng); name = `back produceBatch ${k}`; break;
      case 6: both((g) => g.push(BACK)); name = "back push"; break;
      case 7: case 8: this.consume(FRONT, k); name = `front consumeBatch ${k}`; break;
      default: { const end = rng.pick([FRONT, BACK]); both((g) => g.finalCheck(end)); name = `${end === FRONT ? "front" : "back"} final check`; break; }
    }
    this.check(`${name} (step ${this.steps})`);
  }
}

const SLOTS = [112, 100, 8, 24, 200, 1000, 2016, 4032];

function randomConfig(rng: Rng, n: number): Config {
  const pages = rng.pick([1, 1, 2, 3, 4]);
  const slot = rng.pick(SLOTS);
  const frames: number[] = [];
  while (frames.length < pages) { const f = rng.int(4, 100); if (!frames.includes(f)) frames.push(f); }
  const start = n % 2 === 0 ? u32(0x100000000 - rng.int(1, 300)) : rng.pick([0, u32(rng.int(0, 0xffffffff))]);
  return { pages, slot, flags: rng.int(0, 3), start, frames };
}

const SEEDS = process.env.RING_SEED ? [Number(process.env.RING_SEED)] : Array.from({ length: 64 }, (_, i) => 0xba7c0000 + i);
const STEPS = 600;

for (const dir of ["build", "build/debug"]) {
  describe(`${dir}/tests/ring_diff.wasm: batch operations against the per-slot ones`, () => {
    const mod = new WebAssembly.Module(readFileSync(join(ROOT, dir, "tests/ring_diff.wasm")));

    it(`random sequences of produceBatch / consumeBatch (${SEEDS.length} seeds x ${STEPS} steps)`, () => {
      const a = new Inst(mod), b = new Inst(mod);
      let split = 0;
      for (const [n, seed] of SEEDS.entries()) {
        const rng = new Rng(seed);
        const cfg = randomConfig(rng, n);
        const p = new Pair(a, b, cfg);
        try {
          for (let i = 0; i < STEPS; i++) p.step(rng);
        } catch (e) {
          throw new Error(`seed ${seed} (RING_SEED=${seed} reruns it), ${cfg.pages} page(s) [${cfg.frames}], slot ${cfg.slot}, flags ${cfg.flags}, start 0x${cfg.start.toString(16)}: ${(e as Error).message}`);
        }
        split += p.batchesSplit;
      }
      console.log(`ring batch ${dir}: ${SEEDS.length} seeds, ${split} batches split at the ring's wrap or a page end`);
      if (!process.env.RING_SEED) expect(split).toBeGreaterThan(0);
    });

    it("produceBatch beyond the free slots copies nothing; consumeBatch of an empty ring returns 0", () => {
      const p = new Pair(new Inst(mod), new Inst(mod), { pages: 1, slot: 112, flags: BACK_GRANT, start: 0, frames: [7] });
      const { g } = p.a;
      expect(g.consumeBatch(BACK, DST, 32)).toBe(0);
      expect(g.produceBatch(FRONT, SRC, 33)).toBe(ENOSPC);
      expect(g.produceBatch(BACK, SRC, 1)).toBe(ENOSPC); // no request consumed yet
      expect(u32(g.prodPvt(FRONT))).toBe(0);
      expect(g.err(FRONT)).toBe(0);
      expect(p.a.ringBytes().every((v, i) => i < 64 || v === 0)).toBe(true);
      expect(g.produceBatch(FRONT, SRC, 32)).toBe(0);
      expect(g.push(FRONT)).toBe(0);
      expect(g.consumeBatch(BACK, DST, 5)).toBe(5);
      expect(g.consumeBatch(BACK, DST, 100)).toBe(27);
      expect(g.consumeBatch(BACK, DST, 100)).toBe(0);
    });

    it("a hostile producer index and an unmapped grant break the ring, as for consume", () => {
      const p = new Pair(new Inst(mod), new Inst(mod), { pages: 2, slot: 112, flags: BACK_GRANT, start: 0, frames: [21, 20] });
      const { g } = p.a;
      expect(g.produceBatch(FRONT, SRC, 40)).toBe(0);
      expect(g.push(FRONT)).toBe(0);
      new DataView(p.a.memory.buffer).setUint32(21 * PAGE + REQ_PROD, 1000, true); // req_prod far beyond RING_SIZE
      expect(g.consumeBatch(BACK, DST, 64)).toBe(EOVERFLOW);
      expect(g.consumeBatch(BACK, DST, 64)).toBe(EOVERFLOW);
      expect(g.err(BACK)).toBe(EOVERFLOW);
      expect(u32(g.cons(BACK))).toBe(0);

      const q = new Pair(new Inst(mod), new Inst(mod), { pages: 2, slot: 112, flags: BACK_GRANT, start: 0, frames: [30, 31] });
      const h = q.a.g;
      expect(h.produceBatch(FRONT, SRC, 40)).toBe(0);
      expect(h.push(FRONT)).toBe(0);
      q.a.dead.add(BACK_HANDLE + 1); // the second page's grant is gone: slots 36.. (ring byte 4096 on) are unreachable
      expect(h.consumeBatch(BACK, DST, 64)).toBe(EINVAL);
      expect(h.err(BACK)).toBe(EINVAL);
      expect(u32(h.cons(BACK))).toBe(0);
      expect(h.produceBatch(BACK, SRC, 1)).toBe(EINVAL);
    });
  });
}
