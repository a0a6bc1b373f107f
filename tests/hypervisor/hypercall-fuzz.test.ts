// The hypercall surface under random and boundary arguments (fast-check): a guest's `xen.*`
// imports, exactly as a WebAssembly guest calls them, with random sub-ops, pointers at and
// around the ends of memory, counts, and random bytes where the pointers point. Every call must
// answer a 32-bit integer (0, a value, or -XEN_Exxx) and never throw, except SCHEDOP_shutdown,
// which unwinds the guest by design; afterwards the domain's teardown must succeed and another
// domain must still bind, send and grant as before. A failure shrinks to a minimal sequence; the
// seed is printed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { guestImports } from "../../bindings/hypervisor/imports.js";
import { DomainExit } from "../../bindings/hypervisor/hypervisor.js";
import { closeAll, eventChannelOp } from "../../bindings/hypervisor/evtchn.js";
import { unmapAll } from "../../bindings/hypervisor/gnttab.js";
import { ARG, bench, k, put } from "./fixture.js";
import { allocUnbound, bind } from "./evtchn-fixture.js";
import { map, physmap, grantV1 } from "./gnttab-fixture.js";

/** The `xen` imports with their i32 arities (rdtsc returns an i64 and takes nothing). */
const IMPORTS: Array<[string, number]> = [
  ["event_channel_op", 2], ["grant_table_op", 3], ["sched_op", 2], ["memory_op", 2], ["console_io", 3],
  ["xen_version", 2], ["vcpu_op", 3], ["hvm_op", 2], ["grant_copy_from", 4], ["grant_copy_to", 4],
  ["grant_load32", 3], ["grant_store32", 3], ["grant_cmpxchg32", 5],
];

interface Call { name: string; args: number[]; bytes: number[] }

function calls(bytes: number) {
  const i32 = fc.oneof(
    fc.integer({ min: -2, max: 20 }), // sub-ops and small counts, ports, handles
    fc.constantFrom(ARG, ARG + 4096 - 8, 0, 4, 4095, bytes - 8, bytes - 1, bytes, 0x7fffffff, -1, -(2 ** 31), 0x7ff0, 1 << 17),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  );
  return fc.record({
    which: fc.integer({ min: 0, max: IMPORTS.length - 1 }),
    args: fc.array(i32, { minLength: 5, maxLength: 5 }),
    bytes: fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 0xff)), { minLength: 64, maxLength: 64 }),
  }).map(({ which, args, bytes: b }): Call => ({ name: IMPORTS[which][0], args: args.slice(0, IMPORTS[which][1]), bytes: b }));
}

describe("the hypercall surface under random arguments (fast-check)", () => {
  it("answers every call with an integer, never throws, and leaves the other domains working", () => {
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`hypercall fuzz: fast-check seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    const probe = bench(1);
    fc.assert(fc.property(fc.array(calls(probe.doms[0].bytes), { minLength: 1, maxLength: 150 }), (seq) => {
      const { hv, doms: [a, b] } = bench(2);
      // Give the fuzzed domain something to hit: a grant from b it has mapped, and a channel to b.
      expect(physmap(hv, b, 0, 5)).toBe(0);
      grantV1(b, 8, 1, 40, k("GTF_permit_access"));
      expect(map(hv, a, 2, 8).status).toBe(0);
      bind(hv, a, 2, allocUnbound(hv, b, 1));
      const xen = guestImports(hv, a).xen as Record<string, (...args: number[]) => number>;
      for (const c of seq) {
        a.u8.set(c.bytes, ARG);
        let rc: number;
        try {
          rc = xen[c.name](...c.args);
        } catch (e) {
          // Only SCHEDOP_shutdown (2) with a valid reason leaves the guest by throwing.
          expect(e, `${c.name}(${c.args})`).toBeInstanceOf(DomainExit);
          expect(c.name === "sched_op" && c.args[0] === 2).toBe(true);
          return;
        }
        expect(Number.isInteger(rc), `${c.name}(${c.args}) -> ${rc}`).toBe(true);
        expect(rc).toBeGreaterThanOrEqual(-(2 ** 31));
        expect(rc).toBeLessThan(2 ** 31);
      }
      // The fuzzed domain dies: its teardown releases everything.
      unmapAll(hv, a);
      closeAll(hv, a);
      // b still works: a new channel with a third party (itself) and a grant of its own.
      const p = allocUnbound(hv, b, 2);
      expect(p).toBeGreaterThan(0);
      const q = bind(hv, b, 2, p);
      expect(q).toBeGreaterThan(0);
      put(b, ARG, "struct evtchn_send", { port: q });
      expect(eventChannelOp(hv, b, k("EVTCHNOP_send"), ARG)).toBe(0);
      expect(Atomics.load(b.active, 8)).toBe(0); // a's mapping of b's grant was released
    }), { seed, numRuns: 150 });
  });
});
