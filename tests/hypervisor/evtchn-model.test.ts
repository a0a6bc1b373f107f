// FIFO event channels against a small reference model, with fast-check's model-based testing:
// random sequences of sends (from another domain and as IPIs), guest masks and unmasks, priority
// changes, closes and rebinds, and drains by a Linux-style consumer. After every step the
// harness's event words must say what the model says (pending, linked), and every drain must
// handle exactly the model's events in the model's order (priority 0 first, each queue in the
// order its events were linked). A failure shrinks to a minimal sequence; the seed is printed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { ARG, bench, put } from "./fixture.js";
import { ARRAY0, Consumer, allocUnbound, bind, expand, initControl, mapSharedInfo, op, portOp } from "./evtchn-fixture.js";
import { eventChannelOp } from "../../bindings/hypervisor/evtchn.js";

const PENDING = 1 << 31, MASKED = 1 << 30, LINKED = 1 << 29;
const NPORTS = 6;

/** What the model knows of the guest's ports: Xen's rules, written as plainly as possible. */
class Model {
  pending = new Set<number>();
  masked = new Set<number>();
  linked = new Set<number>();
  prio = new Map<number, number>();
  queues = Array.from({ length: 16 }, () => [] as number[]);
  /** Xen raising `p`: PENDING, and linked at its priority's tail unless masked or linked. */
  raise(p: number): void {
    this.pending.add(p);
    if (!this.masked.has(p) && !this.linked.has(p)) {
      this.linked.add(p);
      this.queues[this.prio.get(p) ?? 7].push(p);
    }
  }
  /** A drain: the lowest non-empty queue's head first; a masked or no longer pending event is skipped. */
  drain(): number[] {
    const out: number[] = [];
    for (;;) {
      const q = this.queues.findIndex((x) => x.length > 0);
      if (q < 0) return out;
      const p = this.queues[q].shift()!;
      this.linked.delete(p);
      if (this.pending.has(p) && !this.masked.has(p)) {
        this.pending.delete(p);
        out.push(p);
      }
    }
  }
}

/** The real system: guest 1 on FIFO with ports guestPorts[i] bound to domain 2's peerPorts[i] (or IPIs). */
interface Real { hv: Hypervisor; a: Domain; b: Domain; guestPorts: number[]; peerPorts: number[]; ipi: boolean[]; consumer: Consumer }

const word = (r: Real, p: number) => Atomics.load(r.a.i32, ARRAY0 * 1024 + p);

function check(m: Model, r: Real): void {
  for (const p of r.guestPorts) {
    const w = word(r, p);
    expect((w & PENDING) !== 0, `port ${p} pending`).toBe(m.pending.has(p));
    expect((w & MASKED) !== 0, `port ${p} masked`).toBe(m.masked.has(p));
    expect((w & LINKED) !== 0, `port ${p} linked`).toBe(m.linked.has(p));
  }
}

type Cmd = fc.Command<Model, Real>;

class Send implements Cmd {
  constructor(readonly i: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const rc = r.ipi[this.i] ? portOp(r.hv, r.a, "send", r.guestPorts[this.i]) : portOp(r.hv, r.b, "send", r.peerPorts[this.i]);
    expect(rc).toBe(0);
    m.raise(r.guestPorts[this.i]);
    check(m, r);
  }
  toString = () => `send(${this.i})`;
}

class Mask implements Cmd {
  constructor(readonly i: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const p = r.guestPorts[this.i];
    Atomics.or(r.a.i32, ARRAY0 * 1024 + p, MASKED);
    m.masked.add(p);
    check(m, r);
  }
  toString = () => `mask(${this.i})`;
}

class Unmask implements Cmd {
  constructor(readonly i: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    // As the SDK does: clear MASKED in place if not pending, else EVTCHNOP_unmask.
    const p = r.guestPorts[this.i], idx = ARRAY0 * 1024 + p;
    if (Atomics.load(r.a.i32, idx) & PENDING) expect(portOp(r.hv, r.a, "unmask", p)).toBe(0);
    else Atomics.and(r.a.i32, idx, ~MASKED);
    m.masked.delete(p);
    if (m.pending.has(p)) m.raise(p);
    check(m, r);
  }
  toString = () => `unmask(${this.i})`;
}

class SetPriority implements Cmd {
  constructor(readonly i: number, readonly q: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const p = r.guestPorts[this.i];
    put(r.a, ARG, "struct evtchn_set_priority", { port: p, priority: this.q });
    expect(eventChannelOp(r.hv, r.a, op("set_priority"), ARG)).toBe(0);
    m.prio.set(p, this.q);
    check(m, r);
  }
  toString = () => `setPriority(${this.i}, ${this.q})`;
}

class Drain implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    r.consumer.order = [];
    r.consumer.drain();
    expect(r.consumer.order).toEqual(m.drain());
    check(m, r);
  }
  toString = () => "drain";
}

/** The guest closes port i and binds a new IPI in its place: the lowest free port, never one whose word is still linked (busy). */
class Rebind implements Cmd {
  constructor(readonly i: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const p = r.guestPorts[this.i];
    expect(portOp(r.hv, r.a, "close", p)).toBe(0);
    m.pending.delete(p); // closing clears PENDING; a linked word stays linked until consumed
    m.prio.set(p, 7);
    put(r.a, ARG, "struct evtchn_bind_ipi", { vcpu: 0 });
    expect(eventChannelOp(r.hv, r.a, op("bind_ipi"), ARG)).toBe(0);
    const q = r.a.u32(ARG + 4);
    // The lowest free port that is not busy (still linked): never a port the model has linked.
    if (m.linked.has(p)) expect(q).not.toBe(p);
    // The old port, if busy, stays closed and linked: the model keeps it in its queue until a drain.
    r.guestPorts[this.i] = q;
    expect(m.linked.has(q) || m.pending.has(q)).toBe(false);
    // The guest sets a handler, which unmasks: in place, as the word is not pending.
    expect(word(r, q) & (PENDING | LINKED)).toBe(0);
    Atomics.and(r.a.i32, ARRAY0 * 1024 + q, ~MASKED);
    m.masked.delete(q);
    m.prio.set(q, 7);
    r.ipi[this.i] = true;
    check(m, r);
  }
  toString = () => `rebind(${this.i})`;
}

function setup(): Real {
  const { hv, doms: [a, b] } = bench();
  mapSharedInfo(hv, a);
  expect(initControl(hv, a)).toBe(17);
  expect(expand(hv, a, ARRAY0)).toBe(0);
  const guestPorts: number[] = [], peerPorts: number[] = [];
  for (let i = 0; i < NPORTS; i++) {
    const gp = allocUnbound(hv, a, 2);
    peerPorts.push(bind(hv, b, 1, gp));
    guestPorts.push(gp);
  }
  // bind_interdomain raised each guest port once (as Xen does); they are masked so far: start clean.
  for (const p of guestPorts) Atomics.store(a.i32, ARRAY0 * 1024 + p, 0);
  return { hv, a, b, guestPorts, peerPorts, ipi: guestPorts.map(() => false), consumer: new Consumer(a) };
}

describe("FIFO event channels against a model (fast-check)", () => {
  it("delivers exactly the model's events in the model's order, whatever the sequence", () => {
    const i = fc.integer({ min: 0, max: NPORTS - 1 });
    const commands = [
      i.map((x) => new Send(x)),
      i.map((x) => new Send(x)),
      i.map((x) => new Mask(x)),
      i.map((x) => new Unmask(x)),
      fc.tuple(i, fc.integer({ min: 0, max: 15 })).map(([x, q]) => new SetPriority(x, q)),
      fc.constant(new Drain()),
      i.map((x) => new Rebind(x)),
    ];
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`evtchn model: fast-check seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    fc.assert(fc.property(fc.commands(commands, { maxCommands: 60 }), (cmds) => {
      fc.modelRun(() => ({ model: new Model(), real: setup() }), cmds);
    }), { seed, numRuns: 300 });
  });
});
