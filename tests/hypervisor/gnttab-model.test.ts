// Grant tables (v1 and v2) against a small reference model, with fast-check's model-based
// testing: domain 1 grants, revokes and re-grants refs to domain 2 (read-only or not), which maps
// them (read-only or not), unmaps, and copies from and to them. The model says which operations
// Xen allows (GNTST_okay or GNTST_general_error), whether a revoke must fail while the grant is in
// use, and what GTF_reading/GTF_writing show; the harness must agree after every step, and every
// byte copied must be the granted page's. A failure shrinks to a minimal sequence; the seed is
// printed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import type { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { GNTST, bench } from "./fixture.js";
import { GNTMAP, GTF, copy, grantV1, grantV2, inUse, map, physmap, pins, revoke, setVersion, unmap } from "./gnttab-fixture.js";

const REFS = [8, 9, 10];
/** Granted page of ref r: frame 40 + r, filled with r's byte. */
const frameOf = (ref: number) => 40 + ref;

interface Model { granted: Map<number, { ro: boolean }>; maps: Map<number, { ref: number; ro: boolean }> }
interface Real { hv: Hypervisor; a: Domain; b: Domain; version: number; handles: number[] }

/** GTF_reading / GTF_writing as the model's live mappings make them. */
function expectedInUse(m: Model, ref: number): number {
  let bits = 0;
  for (const x of m.maps.values()) if (x.ref === ref) bits |= GTF.reading | (x.ro ? 0 : GTF.writing);
  return bits;
}

function check(m: Model, r: Real): void {
  for (const ref of REFS) {
    expect(inUse(r.a, ref), `ref ${ref} status`).toBe(expectedInUse(m, ref));
    const maps = [...m.maps.values()].filter((x) => x.ref === ref);
    expect(pins(r.a, ref), `ref ${ref} pins`).toBe(maps.length + 0x10000 * maps.filter((x) => !x.ro).length);
  }
}

type Cmd = fc.Command<Model, Real>;
const cmd = (name: string, run: (m: Model, r: Real) => void, pre: (m: Readonly<Model>) => boolean = () => true): Cmd => ({ check: pre, run, toString: () => name });

const ref = fc.constantFrom(...REFS);
const commands = [
  fc.tuple(ref, fc.boolean()).map(([g, ro]) => cmd(`grant(${g}, ro=${ro})`, (m, r) => {
    const flags = GTF.permit | (ro ? GTF.readonly : 0);
    // Only a free entry is granted (the SDK never rewrites a live one).
    if (m.granted.has(g)) return;
    (r.version === 2 ? grantV2 : grantV1)(r.a, g, 2, frameOf(g), flags);
    m.granted.set(g, { ro });
    check(m, r);
  })),
  ref.map((g) => cmd(`revoke(${g})`, (m, r) => {
    const busy = [...m.maps.values()].some((x) => x.ref === g);
    if (!m.granted.has(g)) return;
    expect(revoke(r.a, g)).toBe(!busy);
    if (!busy) m.granted.delete(g);
    check(m, r);
  })),
  fc.tuple(ref, fc.boolean()).map(([g, ro]) => cmd(`map(${g}, ro=${ro})`, (m, r) => {
    const res = map(r.hv, r.b, 1, g, GNTMAP.host | (ro ? GNTMAP.readonly : 0));
    const ok = m.granted.has(g) && (ro || !m.granted.get(g)!.ro);
    expect(res.status).toBe(ok ? GNTST.okay : GNTST.general_error);
    if (ok) {
      m.maps.set(res.handle, { ref: g, ro });
      r.handles.push(res.handle);
    }
    check(m, r);
  })),
  fc.nat().map((i) => cmd(`unmap(#${i})`, (m, r) => {
    const live = [...m.maps.keys()];
    if (live.length === 0) return;
    const h = live[i % live.length];
    expect(unmap(r.hv, r.b, h)).toBe(GNTST.okay);
    expect(unmap(r.hv, r.b, h)).toBe(GNTST.bad_handle);
    m.maps.delete(h);
    check(m, r);
  })),
  fc.tuple(ref, fc.boolean()).map(([g, toGrant]) => cmd(`copy(${g}, ${toGrant ? "into" : "from"} the grant)`, (m, r) => {
    const writes = toGrant;
    const ok = m.granted.has(g) && (!writes || !m.granted.get(g)!.ro);
    const grantSide = { ref: g, dom: 1, offset: 100 }, mine = { gmfn: 60, offset: 0 };
    if (writes) r.b.u8.fill(g, 60 * 4096, 60 * 4096 + 64);
    else r.b.u8.fill(0, 60 * 4096, 60 * 4096 + 64);
    const [st] = copy(r.hv, r.b, [writes ? [mine, grantSide, 64] : [grantSide, mine, 64]]);
    expect(st).toBe(ok ? GNTST.okay : GNTST.general_error);
    if (ok && !writes) expect(r.b.u8.subarray(60 * 4096, 60 * 4096 + 64).every((x) => x === g)).toBe(true);
    // Pins and status bits are held only during the copy.
    check(m, r);
  })),
];

describe.each([1, 2])("grant table v%i against a model (fast-check)", (version) => {
  it("allows, refuses and shows in use exactly what the model says", () => {
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`gnttab v${version} model: fast-check seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    fc.assert(fc.property(fc.commands(commands, { maxCommands: 60 }), (cs) => {
      fc.modelRun(() => {
        const { hv, doms: [a, b] } = bench();
        if (version === 2) expect(setVersion(hv, a, 2).rc).toBe(0);
        expect(physmap(hv, a, 0, 5)).toBe(0);
        if (version === 2) expect(physmap(hv, a, 0, 10, true)).toBe(0);
        for (const g of REFS) a.u8.fill(g, frameOf(g) * 4096, frameOf(g) * 4096 + 4096);
        return { model: { granted: new Map(), maps: new Map() }, real: { hv, a, b, version, handles: [] } };
      }, cs);
    }), { seed, numRuns: 200 });
  });
});
