// assembly/ring.ts under real concurrency: a front end and a back end in two worker threads, as
// under the threaded runner. The front runs over local pages of its own shared memory; the back
// has its own memory and reaches the ring only as mapped grants (grant_* stubs doing 32-bit
// Atomics and copies on the front's memory, as the harness does). An "event channel" is a pending
// word per end: notify = store 1 + Atomics.notify, idle = exchange it with 0, else Atomics.wait.
//
// Each end follows ring.h's protocol only: push-and-check-notify, consume until empty, final check,
// then sleep. A lost wakeup (a notify decision or a final check ordered wrongly) leaves both ends
// asleep and fails on the wait timeout; every request and response carries a sequence number and
// a payload derived from it, which the receiver checks on its private copy.
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

const WORKER = String.raw`
const { workerData: w, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const FRONT = 0, BACK = 1, PAGE = 4096, BACK_HANDLE = 2000, BACK_GRANT = 2;
const ev = new Int32Array(w.events);
const fail = (msg) => { throw new Error((w.end === FRONT ? "front: " : "back: ") + msg); };
let seed = w.seed | 0;
const rand = (n) => { // mulberry32, 0..n-1
  let t = (seed = (seed + 0x6d2b79f5) | 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (((t ^ (t >>> 14)) >>> 0) % n);
};
const ringMem = w.frontMemory;
const memory = w.end === FRONT ? ringMem : new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
const ring8 = () => new Uint8Array(ringMem.buffer);
const ring32 = () => new Int32Array(ringMem.buffer);
const own8 = () => new Uint8Array(memory.buffer);
const own32 = () => new Int32Array(memory.buffer);
const page = (h) => { const i = h - BACK_HANDLE; return i >= 0 && i < w.frames.length ? w.frames[i] * PAGE : -1; };
const xen = {
  grant_copy_from(h, off, dst, len) { const p = page(h); if (p < 0) return -22; if (off + len > PAGE) return -14; own8().set(ring8().subarray(p + off, p + off + len), dst); return 0; },
  grant_copy_to(h, off, src, len) { const p = page(h); if (p < 0) return -22; if (off + len > PAGE) return -14; ring8().set(own8().subarray(src, src + len), p + off); return 0; },
  grant_load32(h, off, out) { const p = page(h); if (p < 0 || off & 3) return -22; Atomics.store(own32(), out >> 2, Atomics.load(ring32(), (p + off) >> 2)); return 0; },
  grant_store32(h, off, v) { const p = page(h); if (p < 0 || off & 3) return -22; Atomics.store(ring32(), (p + off) >> 2, v); return 0; },
  grant_cmpxchg32() { return -38; },
};
const mod = new WebAssembly.Module(fs.readFileSync(w.wasm));
for (const imp of WebAssembly.Module.imports(mod)) if (imp.module === "xen" && !xen[imp.name]) xen[imp.name] = () => 0;
const g = new WebAssembly.Instance(mod, { env: { memory, abort() { fail("guest abort"); } }, xen }).exports;

w.frames.forEach((f, i) => g.pageFrame(i, f));
const size = g.create(w.frames.length, w.slot, w.end === FRONT ? 0 : BACK_GRANT);
const src = g.scratch(), dst = src + 8192;
const me = w.end, peer = 1 - w.end;
const stats = { notifies: 0, sleeps: 0, batches: 0 };
const notify = () => { stats.notifies++; Atomics.store(ev, peer, 1); Atomics.notify(ev, peer); };
const sleep = () => {
  if (Atomics.exchange(ev, me, 0) === 1) return; // an event is already pending
  stats.sleeps++;
  if (Atomics.wait(ev, me, 0, w.timeoutMs) === "timed-out") fail("asleep for " + w.timeoutMs + " ms: lost wakeup? " + JSON.stringify(state()));
  Atomics.store(ev, me, 0);
};
const state = () => ({ prodPvt: g.prodPvt(me) >>> 0, cons: g.cons(me) >>> 0, pushed: g.pushed(me) >>> 0,
  req_prod: g.header(me, 0) >>> 0, req_event: g.header(me, 4) >>> 0, rsp_prod: g.header(me, 8) >>> 0, rsp_event: g.header(me, 12) >>> 0 });
const payload = (seq, i) => (seq * 31 + i * 7 + (seq >>> 8)) & 255;
const dv = () => new DataView(memory.buffer);

if (me === FRONT) {
  if (g.init(w.start) !== 0) fail("init");
  parentPort.postMessage({ ready: true });
  let sent = 0, done = 0;
  while (done < w.count) {
    const batch = 1 + rand(size);
    let k = 0;
    while (sent < w.count && k < batch && g.free(FRONT) > 0) {
      const m = own8();
      dv().setUint32(src, sent, true);
      for (let i = 4; i < w.slot; i++) m[src + i] = payload(sent, i);
      if (g.produce(FRONT, src, w.slot) !== 0) fail("produce");
      sent++; k++;
    }
    if (k > 0) { stats.batches++; if (g.pushNotify(FRONT)) notify(); }
    let r;
    while ((r = g.consume(FRONT, dst, 16)) > 0) {
      const seq = dv().getUint32(dst, true), status = dv().getInt32(dst + 4, true);
      if (seq !== done || status !== (done ^ 0x5a5a)) fail("response " + done + " is " + seq + "/" + status);
      done++;
    }
    if (r < 0) fail("consume: " + r);
    if (done === w.count || (sent < w.count && g.free(FRONT) > 0)) continue;
    const n = g.finalCheck(FRONT);
    if (n < 0) fail("final check: " + n);
    if (n === 0) sleep();
  }
} else {
  if (g.attach(BACK, w.start) !== 0) fail("attach");
  let handled = 0;
  while (handled < w.count) {
    const batch = 1 + rand(size);
    let k = 0, r = 0;
    while (k < batch && (r = g.consume(BACK, dst, w.slot)) > 0) {
      const m = own8();
      const seq = dv().getUint32(dst, true);
      if (seq !== handled) fail("request " + handled + " has sequence " + seq);
      for (let i = 4; i < w.slot; i++) if (m[dst + i] !== payload(seq, i)) fail("request " + seq + " byte " + i);
      dv().setUint32(src, seq, true);
      dv().setInt32(src + 4, seq ^ 0x5a5a, true);
      if (g.produce(BACK, src, 16) !== 0) fail("respond");
      handled++; k++;
    }
    if (r < 0) fail("consume: " + r);
    if (k > 0) { stats.batches++; if (g.pushNotify(BACK)) notify(); }
    if (handled === w.count || k === batch) continue;
    const n = g.finalCheck(BACK);
    if (n < 0) fail("final check: " + n);
    if (n === 0) sleep();
  }
}
parentPort.postMessage({ done: true, stats, state: state() });
`;

interface Stats { notifies: number; sleeps: number; batches: number }
interface Result { stats: Stats; state: Record<string, number> }

function runEnd(data: Record<string, unknown>, onReady?: () => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: data });
    worker.on("message", (m: { ready?: boolean; done?: boolean } & Result) => {
      if (m.ready) onReady?.();
      if (m.done) resolve(m);
    });
    worker.on("error", reject);
    worker.on("exit", (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)); });
  });
}

interface Case { name: string; slot: number; frames: number[]; start: number; count: number }
const CASES: Case[] = [
  { name: "blkif ring: one page, 112-byte slots (32)", slot: 112, frames: [12], start: 0, count: 100_000 },
  { name: "two pages in reverse frame order, 100-byte slots (64, some straddling), indices wrapping at 2^32", slot: 100, frames: [31, 30], start: 0xffff0000, count: 100_000 },
  { name: "a one-slot ring", slot: 4032, frames: [40], start: 0xfffffff0, count: 20_000 },
];

for (const dir of ["build", "build/debug"]) {
  describe(`${dir}/tests/ring_diff.wasm: front and back in two threads, back over mapped grants`, () => {
    for (const [n, c] of CASES.entries()) {
      it(`${c.name}: ${c.count} round trips, no lost wakeup`, async () => {
        const frontMemory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
        const events = new SharedArrayBuffer(8);
        const common = { wasm: join(ROOT, dir, "tests/ring_diff.wasm"), frontMemory, events, slot: c.slot, frames: c.frames, start: c.start, count: c.count, timeoutMs: 10_000 };
        const seed = 0x7e5700 + n;
        console.log(`ring threads ${dir} seed ${seed}: ${c.name}`);
        let startBack!: () => void;
        const backStarted = new Promise<Result>((resolve, reject) => { startBack = () => runEnd({ ...common, end: 1, seed: seed + 1 }).then(resolve, reject); });
        const front = runEnd({ ...common, end: 0, seed }, () => startBack());
        const [f, b] = await Promise.all([front, backStarted]);
        console.log(`ring threads ${dir}: front ${JSON.stringify(f.stats)}, back ${JSON.stringify(b.stats)}`);
        const end = (c.start + c.count) >>> 0;
        expect(f.state).toMatchObject({ prodPvt: end, cons: end, req_prod: end, rsp_prod: end });
        expect(b.state).toMatchObject({ prodPvt: end, cons: end });
        expect(f.stats.notifies + b.stats.notifies).toBeGreaterThan(0);
      });
    }
  });
}
