// Differential tests of assembly/ring.ts (through tests/guests/ring_diff.ts) against a tiny
// reference model of xen/include/public/io/ring.h, written straight from the macros, running over
// a separate buffer (STYLE 10, after shared-memory-ring's tests against the C macros).
//
// A seeded random sequence of operations (produce k, push, push-and-check-notify, consume k,
// final checks, respond) is applied to the AssemblyScript front and back rings, which share
// the ring's pages, and to the model. After every step the test compares the private indices,
// the four shared header words, every byte of the ring's pages, the notify decisions, the
// unconsumed counts and the consumed copies. Configurations vary per seed: slot sizes (blkif's 112,
// sizes that make slots straddle pages, a 1-slot ring), 1-4 pages in a random frame order, each end
// over local pages or over mapped grants (resolved by the grant_* stubs below to the same frames),
// start indices near 2^32 so that every index wraps.
//
// Hostile peers: the test writes impossible producer indices into the shared page; the ring must
// report -XEN_EOVERFLOW, consume nothing and stay broken. Seeds are logged; RING_SEED=n reruns one.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";
import { Rng } from "../helpers/rng.js";

const FRONT = 0;
const BACK = 1;
const HDR = 64; // offsetof(struct name_sring, ring)
const PAGE = 4096;
const FRONT_HANDLE = 1000; // tests/guests/ring_diff.ts
const BACK_HANDLE = 2000;
const FRONT_GRANT = 1;
const BACK_GRANT = 2;
const EPERM = -1, EINVAL = -22, EFAULT = -14, ENOSPC = -28, EOVERFLOW = -75;
const REQ_PROD = 0, REQ_EVENT = 4, RSP_PROD = 8, RSP_EVENT = 12;

const u32 = (x: number): number => x >>> 0;

// ---------------------------------------------------------------------------------------------
// The reference model: io/ring.h's macros over a byte buffer (the ring's bytes, pages concatenated).

class SRing {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) { this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength); }
  get req_prod(): number { return this.dv.getUint32(REQ_PROD, true); }
  set req_prod(v: number) { this.dv.setUint32(REQ_PROD, u32(v), true); }
  get req_event(): number { return this.dv.getUint32(REQ_EVENT, true); }
  set req_event(v: number) { this.dv.setUint32(REQ_EVENT, u32(v), true); }
  get rsp_prod(): number { return this.dv.getUint32(RSP_PROD, true); }
  set rsp_prod(v: number) { this.dv.setUint32(RSP_PROD, u32(v), true); }
  get rsp_event(): number { return this.dv.getUint32(RSP_EVENT, true); }
  set rsp_event(v: number) { this.dv.setUint32(RSP_EVENT, u32(v), true); }
}
interface FrontRingM { req_prod_pvt: number; rsp_cons: number; nr_ents: number; sring: SRing; slot: number }
interface BackRingM { rsp_prod_pvt: number; req_cons: number; nr_ents: number; sring: SRing; slot: number }

function __RD32(x: number): number { return x === 0 ? 0 : 2 ** Math.floor(Math.log2(x)); }
/** __CONST_RING_SIZE with the entry size given. */
const __RING_SIZE = (bytes: number, slot: number): number => __RD32(Math.floor((bytes - HDR) / slot));
/** SHARED_RING_INIT, generalised to start all indices at `i` (ring.h's is i = 0). */
function SHARED_RING_INIT(s: SRing, i: number): void {
  s.req_prod = s.rsp_prod = i;
  s.req_event = s.rsp_event = i + 1;
  s.bytes.fill(0, 16, HDR);
}
function FRONT_RING_ATTACH(s: SRing, i: number, size: number, slot: number): FrontRingM {
  return { req_prod_pvt: u32(i), rsp_cons: u32(i), nr_ents: __RING_SIZE(size, slot), sring: s, slot };
}
function BACK_RING_ATTACH(s: SRing, i: number, size: number, slot: number): BackRingM {
  return { rsp_prod_pvt: u32(i), req_cons: u32(i), nr_ents: __RING_SIZE(size, slot), sring: s, slot };
}
const RING_SIZE = (r: { nr_ents: number }): number => r.nr_ents;
const RING_FREE_REQUESTS = (r: FrontRingM): number => u32(RING_SIZE(r) - u32(r.req_prod_pvt - r.rsp_cons));
const RING_FULL = (r: FrontRingM): boolean => RING_FREE_REQUESTS(r) === 0;
const XEN_RING_NR_UNCONSUMED_RESPONSES = (r: FrontRingM): number => u32(r.sring.rsp_prod - r.rsp_cons);
function XEN_RING_NR_UNCONSUMED_REQUESTS(r: BackRingM): number {
  const req = u32(r.sring.req_prod - r.req_cons);
  const rsp = u32(RING_SIZE(r) - u32(r.req_cons - r.rsp_prod_pvt));
  return req < rsp ? req : rsp;
}
/** RING_GET_REQUEST / RING_GET_RESPONSE, as a byte offset into the ring. */
const RING_GET = (r: { nr_ents: number; slot: number }, idx: number): number => HDR + (idx & (RING_SIZE(r) - 1)) * r.slot;
const RING_REQUEST_CONS_OVERFLOW = (r: BackRingM, cons: number): boolean => u32(cons - r.rsp_prod_pvt) >= RING_SIZE(r);
const RING_REQUEST_PROD_OVERFLOW = (r: BackRingM, prod: number): boolean => u32(prod - r.rsp_prod_pvt) > RING_SIZE(r);
const RING_RESPONSE_PROD_OVERFLOW = (r: FrontRingM, prod: number): boolean => u32(prod - r.rsp_cons) > RING_SIZE(r);
function RING_PUSH_REQUESTS(r: FrontRingM): void { r.sring.req_prod = r.req_prod_pvt; }
function RING_PUSH_RESPONSES(r: BackRingM): void { r.sring.rsp_prod = r.rsp_prod_pvt; }
function RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(r: FrontRingM): boolean {
  const __old = r.sring.req_prod;
  const __new = r.req_prod_pvt;
  r.sring.req_prod = __new;
  return u32(__new - r.sring.req_event) < u32(__new - __old);
}
function RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r: BackRingM): boolean {
  const __old = r.sring.rsp_prod;
  const __new = r.rsp_prod_pvt;
  r.sring.rsp_prod = __new;
  return u32(__new - r.sring.rsp_event) < u32(__new - __old);
}
function RING_FINAL_CHECK_FOR_REQUESTS(r: BackRingM): number {
  let work = XEN_RING_NR_UNCONSUMED_REQUESTS(r);
  if (work) return work;
  r.sring.req_event = r.req_cons + 1;
  work = XEN_RING_NR_UNCONSUMED_REQUESTS(r);
  return work;
}
function RING_FINAL_CHECK_FOR_RESPONSES(r: FrontRingM): number {
  let work = XEN_RING_NR_UNCONSUMED_RESPONSES(r);
  if (work) return work;
  r.sring.rsp_event = r.rsp_cons + 1;
  work = XEN_RING_NR_UNCONSUMED_RESPONSES(r);
  return work;
}

// ---------------------------------------------------------------------------------------------
// The AssemblyScript side: tests/guests/ring_diff.ts with its own memory and grant_* stubs.

interface Guest {
  pageFrame(i: number, frame: number): void;
  create(n: number, slot: number, flags: number): number;
  init(start: number): number;
  attach(end: number, start: number): number;
  ringSize(): number;
  free(end: number): number;
  full(end: number): number;
  produce(end: number, src: number, len: number): number;
  push(end: number): number;
  pushNotify(end: number): number;
  unconsumed(end: number): number;
  consume(end: number, dst: number, len: number): number;
  finalCheck(end: number): number;
  prodPvt(end: number): number;
  cons(end: number): number;
  pushed(end: number): number;
  err(end: number): number;
  header(end: number, off: number): number;
  slotOffset(idx: number): number;
  requestConsOverflow(c: number): number;
  requestProdOverflow(p: number): number;
  responseProdOverflow(p: number): number;
  scratch(): number;
}

/** The grant_* imports (docs/ABI.md §4), resolving handle h to the frame of ring page h - base. */
class Grants {
  frames: number[] = [];
  dead = new Set<number>();
  readonlyHandles = new Set<number>();
  constructor(private mem: () => Uint8Array) {}
  private page(h: number): number | null {
    if (this.dead.has(h)) return null;
    const i = h >= BACK_HANDLE ? h - BACK_HANDLE : h - FRONT_HANDLE;
    return i >= 0 && i < this.frames.length ? this.frames[i] * PAGE : null;
  }
  imports(): Record<string, (...a: number[]) => number> {
    const word = (a: number) => new Int32Array(this.mem().buffer as SharedArrayBuffer, a, 1);
    return {
      grant_copy_from: (h, off, dst, len) => {
        const p = this.page(h);
        if (p === null) return EINVAL;
        if (off < 0 || len < 0 || off + len > PAGE) return EFAULT;
        this.mem().copyWithin(dst, p + off, p + off + len);
        return 0;
      },
      grant_copy_to: (h, off, src, len) => {
        const p = this.page(h);
        if (p === null) return EINVAL;
        if (this.readonlyHandles.has(h)) return EPERM;
        if (off < 0 || len < 0 || off + len > PAGE) return EFAULT;
        this.mem().copyWithin(p + off, src, src + len);
        return 0;
      },
      grant_load32: (h, off, out) => {
        const p = this.page(h);
        if (p === null || off & 3) return EINVAL;
        if (off < 0 || off > PAGE - 4) return EFAULT;
        Atomics.store(word(out), 0, Atomics.load(word(p + off), 0));
        return 0;
      },
      grant_store32: (h, off, v) => {
        const p = this.page(h);
        if (p === null || off & 3) return EINVAL;
        if (this.readonlyHandles.has(h)) return EPERM;
        if (off < 0 || off > PAGE - 4) return EFAULT;
        Atomics.store(word(p + off), 0, v);
        return 0;
      },
      grant_cmpxchg32: (h, off, e, r, out) => {
        const p = this.page(h);
        if (p === null || off & 3) return EINVAL;
        Atomics.store(word(out), 0, Atomics.compareExchange(word(p + off), 0, e, r));
        return 0;
      },
    };
  }
}

interface Instance { g: Guest; mem: Uint8Array; grants: Grants }

const modules = new Map<string, WebAssembly.Module>();
function instantiate(dir: string): Instance {
  let mod = modules.get(dir);
  if (!mod) {
    mod = new WebAssembly.Module(readFileSync(join(ROOT, dir, "tests/ring_diff.wasm")));
    modules.set(dir, mod);
  }
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const mem = () => new Uint8Array(memory.buffer);
  const grants = new Grants(mem);
  const xen: Record<string, (...a: number[]) => number> = {};
  for (const imp of WebAssembly.Module.imports(mod)) if (imp.module === "xen") xen[imp.name] = () => 0; // unused hypercalls
  Object.assign(xen, grants.imports());
  const env = {
    memory,
    abort(msg: number, file: number, line: number, col: number): never { throw new Error(`guest abort at ${line}:${col}`); },
  };
  const inst = new WebAssembly.Instance(mod, { env, xen });
  return { g: inst.exports as unknown as Guest, mem: mem(), grants };
}

// ---------------------------------------------------------------------------------------------
// One differential session: the AS rings and the model over the same configuration.

interface Config { pages: number; slot: number; flags: number; start: number; frames: number[] }

/**
 * expect(got, what).toBe/toEqual for the hot path: vitest's expect costs more than a ring step,
 * so it is only called (to report the difference) when the values differ.
 */
function assert<T>(got: T, what?: string) {
  return {
    toBe(want: T): void { if (!Object.is(got, want)) expect(got, what).toBe(want); },
    toEqual(want: T): void { if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, what).toEqual(want); },
  };
}

class Session {
  readonly model: Uint8Array;
  readonly s: SRing;
  front: FrontRingM;
  back: BackRingM;
  readonly size: number;
  readonly src: number;
  readonly dst: number;
  steps = 0;
  notifies = 0;
  fullHits = 0; // produce refused with -XEN_ENOSPC
  emptyHits = 0; // consume with nothing ready
  scribbles = 0; // slots rewritten after they were copied
  trace: string[] = [];

  constructor(readonly inst: Instance, readonly cfg: Config) {
    const { g, mem, grants } = inst;
    grants.frames = cfg.frames;
    for (const [i, f] of cfg.frames.entries()) {
      mem.fill(0, f * PAGE, (f + 1) * PAGE);
      g.pageFrame(i, f);
    }
    this.size = g.create(cfg.pages, cfg.slot, cfg.flags);
    this.model = new Uint8Array(cfg.pages * PAGE);
    this.s = new SRing(this.model);
    SHARED_RING_INIT(this.s, cfg.start);
    this.front = FRONT_RING_ATTACH(this.s, cfg.start, cfg.pages * PAGE, cfg.slot);
    this.back = BACK_RING_ATTACH(this.s, cfg.start, cfg.pages * PAGE, cfg.slot);
    assert(this.size, "ring size").toBe(RING_SIZE(this.front));
    assert(g.init(cfg.start), "init").toBe(0);
    this.src = g.scratch();
    this.dst = this.src + 8192;
  }

  /** The ring's bytes as the AS side sees them: its pages concatenated in ring order. */
  asBytes(): Uint8Array {
    const out = new Uint8Array(this.cfg.pages * PAGE);
    for (const [i, f] of this.cfg.frames.entries()) out.set(this.inst.mem.subarray(f * PAGE, (f + 1) * PAGE), i * PAGE);
    return out;
  }

  /** Writes `bytes` at ring byte offset `off` on both sides (a peer scribbling on the ring). */
  scribble(off: number, bytes: Uint8Array): void {
    this.model.set(bytes, off);
    for (let k = 0; k < bytes.length; k++) {
      const b = off + k;
      this.inst.mem[this.cfg.frames[Math.floor(b / PAGE)] * PAGE + (b % PAGE)] = bytes[k];
    }
  }

  /** Sets a shared header word on both sides. */
  setHeader(off: number, v: number): void {
    this.s.dv.setUint32(off, u32(v), true);
    new DataView(this.inst.mem.buffer).setUint32(this.cfg.frames[0] * PAGE + off, u32(v), true);
  }

  check(what: string): void {
    const { g } = this.inst;
    const ctx = `${what} (step ${this.steps}; last ops: ${this.trace.slice(-6).join(", ")})`;
    assert(g.err(FRONT), `front err after ${ctx}`).toBe(0);
    assert(g.err(BACK), `back err after ${ctx}`).toBe(0);
    assert([u32(g.prodPvt(FRONT)), u32(g.cons(FRONT)), u32(g.prodPvt(BACK)), u32(g.cons(BACK))], `private indices after ${ctx}`)
      .toEqual([this.front.req_prod_pvt, this.front.rsp_cons, this.back.rsp_prod_pvt, this.back.req_cons]);
    assert([u32(g.pushed(FRONT)), u32(g.pushed(BACK))], `published indices after ${ctx}`).toEqual([this.s.req_prod, this.s.rsp_prod]);
    const mem = this.inst.mem;
    const h0 = this.cfg.frames[0] * PAGE;
    const hdr = (b: Uint8Array, at: number) => Array.from(new Uint32Array(b.slice(at, at + 16).buffer));
    assert(hdr(mem, h0), `header (req_prod, req_event, rsp_prod, rsp_event) after ${ctx}`).toEqual(hdr(this.model, 0));
    for (const [i, f] of this.cfg.frames.entries()) {
      const page = mem.subarray(f * PAGE, (f + 1) * PAGE), want = this.model.subarray(i * PAGE, (i + 1) * PAGE);
      if (Buffer.compare(page, want) !== 0) {
        const at = page.findIndex((b, k) => b !== want[k]);
        expect.fail(`ring bytes differ at offset ${i * PAGE + at} (page ${i}, frame ${f}) after ${ctx}`);
      }
    }
  }

  // --- operations, each applied to both sides and compared ---

  produce(end: number, k: number, rng: Rng): void {
    const { g } = this.inst;
    for (let j = 0; j < k; j++) {
      const free = end === FRONT ? RING_FREE_REQUESTS(this.front) : u32(this.back.req_cons - this.back.rsp_prod_pvt);
      assert(u32(g.free(end)), "free slots").toBe(free);
      assert(g.full(end), "full").toBe(free === 0 ? 1 : 0);
      if (end === FRONT) assert(RING_FULL(this.front)).toBe(free === 0);
      const len = rng.next() < 0.5 ? this.cfg.slot : rng.int(1, this.cfg.slot);
      const data = rng.bytes(len);
      this.inst.mem.set(data, this.src);
      const rc = g.produce(end, this.src, len);
      if (free === 0) { assert(rc, "produce into a full ring").toBe(ENOSPC); this.fullHits++; break; }
      assert(rc, "produce").toBe(0);
      if (end === FRONT) this.model.set(data, RING_GET(this.front, this.front.req_prod_pvt++));
      else this.model.set(data, RING_GET(this.back, this.back.rsp_prod_pvt++));
      this.front.req_prod_pvt = u32(this.front.req_prod_pvt);
      this.back.rsp_prod_pvt = u32(this.back.rsp_prod_pvt);
    }
  }

  push(end: number, notify: boolean): void {
    const { g } = this.inst;
    if (!notify) {
      assert(g.push(end)).toBe(0);
      if (end === FRONT) RING_PUSH_REQUESTS(this.front); else RING_PUSH_RESPONSES(this.back);
      return;
    }
    const want = end === FRONT ? RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(this.front) : RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(this.back);
    assert(g.pushNotify(end), `notify decision (${end === FRONT ? "requests" : "responses"})`).toBe(want ? 1 : 0);
    if (want) this.notifies++;
  }

  consume(end: number, k: number, rng: Rng, scribbleAfter: boolean): void {
    const { g, mem } = this.inst;
    const want = end === FRONT ? XEN_RING_NR_UNCONSUMED_RESPONSES(this.front) : XEN_RING_NR_UNCONSUMED_REQUESTS(this.back);
    if (end === FRONT) assert(RING_RESPONSE_PROD_OVERFLOW(this.front, this.s.rsp_prod)).toBe(false);
    else assert(RING_REQUEST_PROD_OVERFLOW(this.back, this.s.req_prod)).toBe(false);
    assert(g.unconsumed(end), "unconsumed").toBe(want);
    for (let j = 0; j < k; j++) {
      const left = end === FRONT ? XEN_RING_NR_UNCONSUMED_RESPONSES(this.front) : XEN_RING_NR_UNCONSUMED_REQUESTS(this.back);
      const len = rng.next() < 0.5 ? this.cfg.slot : rng.int(1, this.cfg.slot);
      mem.fill(0xa5, this.dst, this.dst + len);
      const rc = g.consume(end, this.dst, len);
      if (left === 0) { assert(rc, "consume from an empty ring").toBe(0); assert(mem[this.dst]).toBe(0xa5); this.emptyHits++; break; }
      assert(rc, "consume").toBe(1);
      let off: number;
      if (end === FRONT) {
        off = RING_GET(this.front, this.front.rsp_cons);
        this.front.rsp_cons = u32(this.front.rsp_cons + 1);
      } else {
        assert(RING_REQUEST_CONS_OVERFLOW(this.back, this.back.req_cons)).toBe(false);
        off = RING_GET(this.back, this.back.req_cons);
        this.back.req_cons = u32(this.back.req_cons + 1);
      }
      const copy = this.model.slice(off, off + len); // RING_COPY_REQUEST / RING_COPY_RESPONSE
      assert(Buffer.compare(mem.subarray(this.dst, this.dst + len), copy), "the consumed copy").toBe(0);
      if (scribbleAfter) {
        // The peer rewrites the slot after we copied it: our private copy must not change.
        this.scribble(off, rng.bytes(len));
        this.scribbles++;
        assert(Buffer.compare(mem.subarray(this.dst, this.dst + len), copy), "the private copy after the slot changed").toBe(0);
      }
    }
  }

  finalCheck(end: number): void {
    const want = end === FRONT ? RING_FINAL_CHECK_FOR_RESPONSES(this.front) : RING_FINAL_CHECK_FOR_REQUESTS(this.back);
    assert(this.inst.g.finalCheck(end), `final check (${end === FRONT ? "responses" : "requests"})`).toBe(want);
  }

  /** The ring.h predicates exported by the rings, on indices around the live ones. */
  predicates(rng: Rng): void {
    const { g } = this.inst;
    const around = (base: number) => u32(base + rng.int(-2 * this.size - 2, 2 * this.size + 2));
    const c = around(this.back.req_cons), p = around(this.s.req_prod), r = around(this.s.rsp_prod);
    assert(g.requestConsOverflow(c)).toBe(RING_REQUEST_CONS_OVERFLOW(this.back, c) ? 1 : 0);
    assert(g.requestProdOverflow(p)).toBe(RING_REQUEST_PROD_OVERFLOW(this.back, p) ? 1 : 0);
    assert(g.responseProdOverflow(r)).toBe(RING_RESPONSE_PROD_OVERFLOW(this.front, r) ? 1 : 0);
    const i = u32(rng.int(0, 0xffffffff));
    assert(g.slotOffset(i)).toBe(RING_GET(this.front, i));
  }

  /** One random operation. */
  step(rng: Rng): void {
    this.steps++;
    const op = rng.int(0, 16);
    // Mostly small batches; sometimes one past the whole ring, to hit the full and empty edges.
    const bigK = () => (rng.next() < 0.1 ? this.size + 1 : rng.int(0, Math.min(this.size, 12)));
    let name: string;
    switch (op) {
      case 0: case 1: case 2: { const k = bigK(); this.produce(FRONT, k, rng); name = `front produce ${k}`; break; }
      case 3: this.push(FRONT, false); name = "front push"; break;
      case 4: case 5: this.push(FRONT, true); name = "front push+notify"; break;
      case 6: case 7: { const k = bigK(); this.consume(BACK, k, rng, rng.next() < 0.2); name = `back consume ${k}`; break; }
      case 8: case 9: { const k = bigK(); this.produce(BACK, k, rng); name = `back respond ${k}`; break; }
      case 10: this.push(BACK, false); name = "back push"; break;
      case 11: this.push(BACK, true); name = "back push+notify"; break;
      case 12: case 16: { const k = bigK(); this.consume(FRONT, k, rng, rng.next() < 0.2); name = `front consume ${k}`; break; }
      case 13: this.finalCheck(FRONT); name = "front final check"; break;
      case 14: this.finalCheck(BACK); name = "back final check"; break;
      case 15: this.predicates(rng); name = "predicates"; break;
      default: throw new Error(`no operation ${op}`);
    }
    this.trace.push(name);
    this.check(name);
  }
}

const SLOTS = [112, 112, 100, 16, 12, 36, 64, 200, 1000, 24, 8, 2016, 4032];

function randomConfig(rng: Rng, seedIndex: number): Config {
  const pages = rng.pick([1, 1, 1, 2, 2, 3, 4]);
  let slot = rng.pick(SLOTS);
  if (slot * 1 > pages * PAGE - HDR) slot = 112;
  const size = __RING_SIZE(pages * PAGE, slot);
  // Half the seeds start just below 2^32, so that every index wraps within the run.
  const start = seedIndex % 2 === 0 ? u32(0x100000000 - rng.int(1, 3 * size + 16)) : rng.pick([0, 0, u32(rng.int(0, 0xffffffff)), 0x7ffffff0]);
  const frames: number[] = [];
  while (frames.length < pages) {
    const f = rng.int(4, 255);
    if (!frames.includes(f)) frames.push(f);
  }
  return { pages, slot, flags: rng.int(0, 3), start, frames };
}

const SEEDS = process.env.RING_SEED ? [Number(process.env.RING_SEED)] : Array.from({ length: 128 }, (_, i) => 0x5eed0000 + i);
const STEPS = Number(process.env.RING_STEPS ?? 2500);

const describeCfg = (c: Config, size: number) =>
  `${c.pages} page(s) [frames ${c.frames.join(",")}], slot ${c.slot} B, ${size} slots, start 0x${c.start.toString(16)}, ` +
  `front ${c.flags & FRONT_GRANT ? "grant" : "local"}, back ${c.flags & BACK_GRANT ? "grant" : "local"}`;

for (const dir of ["build", "build/debug"]) {
  describe(`${dir}/tests/ring_diff.wasm: assembly/ring.ts against a model of io/ring.h`, () => {
    it(`random operation sequences (${SEEDS.length} seeds x ${STEPS} steps)`, () => {
      let wraps = 0, notifies = 0, steps = 0, full = 0, empty = 0, scribbles = 0, grants = 0, multi = 0;
      const inst = instantiate(dir);
      for (const [n, seed] of SEEDS.entries()) {
        const rng = new Rng(seed);
        const cfg = randomConfig(rng, n);
        const s = new Session(inst, cfg);
        console.log(`ring diff ${dir} seed ${seed}: ${describeCfg(cfg, s.size)}`);
        try {
          s.check("init");
          for (let i = 0; i < STEPS; i++) s.step(rng);
        } catch (e) {
          throw new Error(`seed ${seed} (RING_SEED=${seed} reruns it), ${describeCfg(cfg, s.size)}: ${(e as Error).message}`);
        }
        if (u32(s.front.req_prod_pvt) < cfg.start) wraps++;
        notifies += s.notifies;
        steps += s.steps;
        full += s.fullHits;
        empty += s.emptyHits;
        scribbles += s.scribbles;
        if (cfg.flags) grants++;
        if (cfg.pages > 1) multi++;
      }
      console.log(`ring diff ${dir}: ${SEEDS.length} seeds, ${steps} steps, ${notifies} notifications, ${full} produces refused (no free slot), ` +
        `${empty} consumes of an empty ring, ${scribbles} slots rewritten after their copy; ${wraps} runs wrapped at 2^32, ` +
        `${multi} were multi-page, ${grants} had an end over mapped grants`);
      if (!process.env.RING_SEED) {
        expect(wraps).toBeGreaterThanOrEqual(SEEDS.length / 2);
        for (const n of [notifies, full, empty, scribbles, multi, grants]) expect(n).toBeGreaterThan(0);
      }
    });

    it("full and empty edges, and notifications, step by step (blkif: 112-byte slots, 32 per page)", () => {
      const inst = instantiate(dir);
      const { g } = inst;
      const s = new Session(inst, { pages: 1, slot: 112, flags: 0, start: 0xfffffff0, frames: [9] });
      expect(s.size).toBe(32);
      const rng = new Rng(1);
      expect(g.free(FRONT)).toBe(32);
      expect(g.unconsumed(BACK)).toBe(0);
      expect(g.consume(BACK, s.dst, 112)).toBe(0);
      expect(g.free(BACK), "a back ring cannot respond before consuming").toBe(0);
      expect(g.produce(BACK, s.src, 16)).toBe(ENOSPC);
      expect(g.produce(FRONT, s.src, 113)).toBe(EINVAL);
      s.produce(FRONT, 32, rng);
      expect(g.full(FRONT)).toBe(1);
      s.produce(FRONT, 1, rng); // refused: ENOSPC
      s.push(FRONT, true); // req_event is 0xfffffff1: the backend wants an event
      s.check("fill");
      expect(s.notifies).toBe(1);
      s.consume(BACK, 33, rng, false); // all 32 across the wrap, then nothing
      s.check("drain");
      expect(u32(g.cons(BACK))).toBe(0x10);
      s.finalCheck(BACK); // none left: req_event = req_cons + 1
      expect(s.s.req_event).toBe(0x11);
      s.produce(BACK, 32, rng);
      s.push(BACK, true); // rsp_event is still 0xfffffff1: the front asked for one event
      s.check("respond");
      expect(s.notifies).toBe(2);
      s.produce(FRONT, 1, rng); // a slot is still taken by an unconsumed response
      expect(g.full(FRONT)).toBe(1);
      s.consume(FRONT, 32, rng, false);
      s.produce(FRONT, 2, rng);
      s.push(FRONT, true); // the backend's final check asked for the next request
      expect(s.notifies).toBe(3);
      s.produce(FRONT, 1, rng);
      s.push(FRONT, true); // ... and only that one
      expect(s.notifies).toBe(3);
      s.check("notify hold-off");
    });

    it("a slot straddling two pages is split across them (2 pages in reverse frame order, 100-byte slots)", () => {
      const inst = instantiate(dir);
      const { g, mem } = inst;
      const s = new Session(inst, { pages: 2, slot: 100, flags: BACK_GRANT, start: 0, frames: [41, 40] });
      expect(s.size).toBe(64);
      const rng = new Rng(2);
      s.produce(FRONT, 41, rng); // slot 40 spans ring bytes 4064..4163
      s.push(FRONT, false);
      s.consume(BACK, 41, rng, false);
      s.check("straddle");
      // Slot 40 starts 32 bytes before the end of frame 41 and goes on at the start of frame 40.
      expect(g.slotOffset(40)).toBe(4064);
      expect(Buffer.compare(mem.subarray(41 * PAGE + 4064, 42 * PAGE), s.model.subarray(4064, 4096))).toBe(0);
      expect(Buffer.compare(mem.subarray(40 * PAGE, 40 * PAGE + 68), s.model.subarray(4096, 4164))).toBe(0);
    });

    it("a ring of one slot, and pages too small for a slot", () => {
      const inst = instantiate(dir);
      const { g } = inst;
      const s = new Session(inst, { pages: 1, slot: 4032, flags: FRONT_GRANT | BACK_GRANT, start: 0xffffffff, frames: [7] });
      expect(s.size).toBe(1);
      const rng = new Rng(3);
      for (let i = 0; i < 4; i++) {
        s.produce(FRONT, 2, rng);
        s.push(FRONT, true);
        s.consume(BACK, 2, rng, false);
        s.finalCheck(BACK);
        s.produce(BACK, 2, rng);
        s.push(BACK, true);
        s.consume(FRONT, 2, rng, false);
        s.finalCheck(FRONT);
        s.check(`round ${i}`);
      }
      g.pageFrame(0, 7);
      expect(g.create(1, 4033, 0)).toBe(0);
      expect(g.init(0)).toBe(EINVAL);
      expect(g.produce(FRONT, s.src, 1)).toBe(EINVAL);
    });

    describe("hostile peers: impossible producer indices are reported, never followed", () => {
      /** A session after a random honest prefix (so indices are anywhere, and wrap). */
      function honest(seed: number, start: number, flags = 0): { s: Session; rng: Rng } {
        const rng = new Rng(seed);
        const pages = rng.pick([1, 2]);
        const s = new Session(instantiate(dir), { pages, slot: rng.pick([112, 100, 36]), flags, start, frames: [20, 21].slice(0, pages) });
        for (let i = 0; i < 200; i++) s.step(rng);
        return { s, rng };
      }

      /** Publishes, consumes and answers everything: the ring is empty and every index equal. */
      function drain(s: Session, rng: Rng): void {
        s.push(FRONT, false);
        s.consume(BACK, s.size, rng, false);
        s.produce(BACK, s.size, rng);
        s.push(BACK, false);
        s.consume(FRONT, s.size, rng, false);
        s.check("drain");
      }

      /** The end `end` must be broken with `rc`: nothing consumed or produced, nothing written to dst. */
      function expectBroken(s: Session, end: number, rc: number): void {
        const { g, mem } = s.inst;
        const cons = u32(g.cons(end)), prod = u32(g.prodPvt(end));
        const before = s.asBytes();
        mem.fill(0xa5, s.dst, s.dst + s.cfg.slot);
        expect(g.unconsumed(end)).toBe(rc);
        expect(g.consume(end, s.dst, s.cfg.slot)).toBe(rc);
        expect(g.finalCheck(end)).toBe(rc);
        expect(g.produce(end, s.src, 1)).toBe(rc);
        expect(g.pushNotify(end)).toBe(0);
        expect(g.push(end)).toBe(rc);
        expect(g.err(end)).toBe(rc);
        expect([u32(g.cons(end)), u32(g.prodPvt(end))]).toEqual([cons, prod]);
        expect(mem.subarray(s.dst, s.dst + s.cfg.slot).every((b) => b === 0xa5), "nothing copied").toBe(true);
        expect(Buffer.compare(s.asBytes(), before), "nothing written to the ring").toBe(0);
      }

      const seeds = SEEDS.slice(0, 16);

      it(`a frontend moving req_prod beyond RING_SIZE (RING_REQUEST_PROD_OVERFLOW), ${seeds.length} seeds`, () => {
        for (const [n, seed] of seeds.entries()) {
          const { s, rng } = honest(seed, n % 2 ? 0xfffffff0 : 0, n & 3);
          s.push(BACK, false); // everything answered so far is published
          const jump = u32(s.back.rsp_prod_pvt + s.size + rng.pick([1, 2, s.size, rng.int(1, 0x7fffffff)]));
          s.setHeader(REQ_PROD, jump);
          expect(RING_REQUEST_PROD_OVERFLOW(s.back, jump), `seed ${seed}`).toBe(true);
          expectBroken(s, BACK, EOVERFLOW);
          expect(s.inst.g.err(FRONT)).toBe(0);
        }
      });

      it("a frontend at exactly RING_SIZE ahead is legal; one more is not", () => {
        const { s } = honest(seeds[0], 0xffffffe0);
        const { g } = s.inst;
        s.push(BACK, false);
        s.setHeader(REQ_PROD, s.back.rsp_prod_pvt + s.size);
        expect(g.unconsumed(BACK)).toBe(XEN_RING_NR_UNCONSUMED_REQUESTS(s.back));
        s.setHeader(REQ_PROD, s.back.rsp_prod_pvt + s.size + 1);
        expect(g.unconsumed(BACK)).toBe(EOVERFLOW);
      });

      it(`a frontend moving req_prod backwards (ring.h's overflow test misses it; the ring reports it), ${seeds.length} seeds`, () => {
        for (const [n, seed] of seeds.entries()) {
          const { s, rng } = honest(seed, n % 2 ? 0xfffffff8 : 0x7ffffff8);
          if (s.back.req_cons === s.back.rsp_prod_pvt) { // consume one request, unanswered
            drain(s, rng);
            s.produce(FRONT, 1, rng);
            s.push(FRONT, false);
            s.consume(BACK, 1, rng, false);
          }
          s.push(BACK, false);
          const pending = u32(s.back.req_cons - s.back.rsp_prod_pvt);
          const back = u32(s.back.req_cons - rng.int(1, pending));
          s.setHeader(REQ_PROD, back);
          // ring.h: not an overflow, and a bogus count of stale slots (all the unanswered ones).
          expect(RING_REQUEST_PROD_OVERFLOW(s.back, back)).toBe(false);
          expect(XEN_RING_NR_UNCONSUMED_REQUESTS(s.back)).toBe(s.size - pending);
          expectBroken(s, BACK, EOVERFLOW);
        }
      });

      it(`a backend moving rsp_prod beyond RING_SIZE (RING_RESPONSE_PROD_OVERFLOW), or backwards, ${seeds.length} seeds`, () => {
        for (const [n, seed] of seeds.entries()) {
          const { s, rng } = honest(seed, n % 2 ? 0xffffffff : 5, n & 3);
          const bogus = n % 3 === 0
            ? u32(s.front.rsp_cons - rng.int(1, 0x7fffffff))
            : u32(s.front.rsp_cons + s.size + rng.pick([1, 7, rng.int(1, 0x7fffffff)]));
          s.setHeader(RSP_PROD, bogus);
          expect(RING_RESPONSE_PROD_OVERFLOW(s.front, bogus), `seed ${seed}`).toBe(true);
          expectBroken(s, FRONT, EOVERFLOW);
          expect(s.inst.g.err(BACK)).toBe(0);
        }
      });

      it("a backend answering requests that were never published (within RING_SIZE: ring.h accepts it; the ring reports it)", () => {
        const { s, rng } = honest(seeds[3], 0xfffffffa);
        drain(s, rng);
        s.produce(FRONT, 2, rng); // produced, not published
        const bogus = u32(s.front.rsp_cons + 1);
        s.setHeader(RSP_PROD, bogus);
        expect(RING_RESPONSE_PROD_OVERFLOW(s.front, bogus)).toBe(false);
        expectBroken(s, FRONT, EOVERFLOW);
      });

      it("slots validated before the peer turned hostile are still consumed; the jump is then reported", () => {
        const { s, rng } = honest(seeds[5], 0xfffffff0);
        const { g, mem } = s.inst;
        drain(s, rng);
        s.produce(FRONT, 3, rng);
        s.push(FRONT, false);
        expect(g.unconsumed(BACK)).toBe(3); // req_prod read and validated
        s.setHeader(REQ_PROD, s.back.rsp_prod_pvt + 5 * s.size);
        for (let i = 0; i < 3; i++) { // from the validated window, without looking again
          expect(g.consume(BACK, s.dst, s.cfg.slot)).toBe(1);
          const off = RING_GET(s.back, s.back.req_cons++);
          expect(Buffer.compare(mem.subarray(s.dst, s.dst + s.cfg.slot), s.model.subarray(off, off + s.cfg.slot))).toBe(0);
        }
        expect(g.consume(BACK, s.dst, 1)).toBe(EOVERFLOW);
        expect(g.err(BACK)).toBe(EOVERFLOW);
        expect(g.attach(BACK, 0)).toBe(0); // attach starts afresh
        expect(g.err(BACK)).toBe(0);
      });
    });

    describe("mapped grants: page errors are reported and break the ring", () => {
      it("an unmapped grant (-XEN_EINVAL) and a read-only grant (-XEN_EPERM)", () => {
        const inst = instantiate(dir);
        const { g, grants } = inst;
        const s = new Session(inst, { pages: 2, slot: 112, flags: BACK_GRANT, start: 0, frames: [30, 31] });
        const rng = new Rng(4);
        s.produce(FRONT, 40, rng);
        s.push(FRONT, false);
        s.consume(BACK, 10, rng, false);
        grants.readonlyHandles.add(BACK_HANDLE);
        expect(g.produce(BACK, s.src, 16)).toBe(EPERM); // slot 0 is on page 0
        expect(g.err(BACK)).toBe(EPERM);
        expect(u32(g.prodPvt(BACK))).toBe(0);
        expect(g.attach(BACK, 0)).toBe(0);
        grants.readonlyHandles.clear();
        grants.dead.add(BACK_HANDLE + 1); // page 1 unmapped under our feet
        expect(g.unconsumed(BACK)).toBe(40);
        for (let i = 0; i < 36; i++) expect(g.consume(BACK, s.dst, 112)).toBe(1); // slots 0..35 (up to ring byte 4095) are on page 0
        expect(g.consume(BACK, s.dst, 112)).toBe(EINVAL); // slot 36 starts page 1
        expect(g.err(BACK)).toBe(EINVAL);
        expect(u32(g.cons(BACK))).toBe(36);
        grants.dead.add(BACK_HANDLE);
        expect(g.attach(BACK, 0)).toBe(0);
        expect(g.unconsumed(BACK)).toBe(EINVAL); // the header page is gone
      });
    });
  });
}
