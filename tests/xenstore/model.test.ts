// The xenstore engine against a small reference model, with fast-check's model-based testing:
// random writes, removes, reads and directory listings by one client, while another holds a
// transaction open, reads and writes in it and ends it. The model is a plain map of paths to
// values (a write creates missing ancestors with an empty value, a remove takes the subtree and
// succeeds for a missing node whose parent exists), and
// a transaction sees a copy of the map taken at TRANSACTION_START plus its own writes; its commit
// succeeds when nothing it read, wrote or listed changed since it started (the engine is
// allowed to find more conflicts than that: a parent's children list changes too). A failure
// shrinks to a minimal sequence; the seed is printed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { XenStore } from "../../bindings/xenstore/store.js";
import { Client, OK, err, type Result } from "./client.js";

const PATHS = ["/m/a", "/m/b", "/m/a/x", "/m/a/y", "/m/b/z", "/m/c"];
const VALUES = ["", "1", "two", "x".repeat(40)];

type Tree = Map<string, string>;
const parent = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";

/** Map operations as xenstored performs them. */
const tree = {
  write(t: Tree, p: string, v: string): void {
    for (let q = parent(p); q !== "/" && !t.has(q); q = parent(q)) t.set(q, "");
    t.set(p, v);
  },
  /** Removes `p`'s subtree; false (ENOENT) only when neither it nor its parent exists (C's do_rm). */
  rm(t: Tree, p: string): boolean {
    if (!t.has(p)) return parent(p) === "/" || t.has(parent(p));
    for (const q of [...t.keys()]) if (q === p || q.startsWith(`${p}/`)) t.delete(q);
    return true;
  },
  read(t: Tree, p: string): Result { return t.has(p) ? { ok: t.get(p)! } : err("ENOENT"); },
  dir(t: Tree, p: string): string[] | null {
    if (p !== "/" && !t.has(p)) return null;
    return [...t.keys()].filter((q) => parent(q) === p).map((q) => q.slice(p.length === 1 ? 1 : p.length + 1)).sort();
  },
};

interface Model { store: Tree; tx: { view: Tree; start: Tree; touched: Set<string> } | null }
interface Real { store: XenStore; a: Client; b: Client; tx: number }

const dirOf = (r: Result): string[] | null => ("ok" in r ? r.ok.split("\0").filter((x) => x).sort() : null);

/** The real store's tree below /m equals the model's. */
function check(m: Model, r: Real): void {
  for (const p of PATHS) expect(r.a.read(p), p).toEqual(tree.read(m.store, p));
}

type Cmd = fc.Command<Model, Real>;
const cmd = (name: string, check: (m: Readonly<Model>) => boolean, run: (m: Model, r: Real) => void): Cmd => ({ check, run, toString: () => name });

function commands(path: fc.Arbitrary<string>, value: fc.Arbitrary<string>) {
  return [
    fc.tuple(path, value).map(([p, v]) => cmd(`write(${p}, ${v.length})`, () => true, (m, r) => {
      expect(r.a.write(p, v)).toEqual(OK);
      tree.write(m.store, p, v);
      check(m, r);
    })),
    path.map((p) => cmd(`rm(${p})`, () => true, (m, r) => {
      expect(r.a.rm(p)).toEqual(tree.rm(m.store, p) ? OK : err("ENOENT"));
      check(m, r);
    })),
    path.map((p) => cmd(`dir(${p})`, () => true, (m, r) => {
      expect(dirOf(r.a.dir(p))).toEqual(tree.dir(m.store, p));
    })),
    fc.constant(cmd("txStart", (m) => m.tx === null, (m, r) => {
      r.tx = r.b.start();
      m.tx = { view: new Map(m.store), start: new Map(m.store), touched: new Set() };
    })),
    path.map((p) => cmd(`txRead(${p})`, (m) => m.tx !== null, (m, r) => {
      expect(r.b.read(p, r.tx)).toEqual(tree.read(m.tx!.view, p));
      m.tx!.touched.add(p);
    })),
    fc.tuple(path, value).map(([p, v]) => cmd(`txWrite(${p}, ${v.length})`, (m) => m.tx !== null, (m, r) => {
      expect(r.b.write(p, v, r.tx)).toEqual(OK);
      // C xenstored's write reads the node, and when it is new, each missing ancestor and the
      // first existing one (whose children list it changes): nothing above that.
      m.tx!.touched.add(p);
      if (!m.tx!.view.has(p)) {
        for (let q = parent(p); ; q = parent(q)) {
          m.tx!.touched.add(q);
          if (q === "/" || m.tx!.view.has(q)) break;
        }
      }
      tree.write(m.tx!.view, p, v);
      expect(r.b.read(p, r.tx)).toEqual({ ok: v });
    })),
    path.map((p) => cmd(`txDir(${p})`, (m) => m.tx !== null, (m, r) => {
      expect(dirOf(r.b.dir(p, r.tx))).toEqual(tree.dir(m.tx!.view, p));
      m.tx!.touched.add(p);
    })),
    fc.boolean().map((commit) => cmd(`txEnd(${commit})`, (m) => m.tx !== null, (m, r) => {
      const tx = m.tx!;
      m.tx = null;
      const res = r.b.end(r.tx, commit);
      if (!commit) { expect(res).toEqual(OK); check(m, r); return; }
      // Changed since the start: any touched path whose value or existence differs, or a
      // touched directory whose children differ.
      const changed = [...tx.touched].some((p) => tx.start.get(p) !== m.store.get(p) ||
        JSON.stringify(tree.dir(tx.start, p)) !== JSON.stringify(tree.dir(m.store, p)));
      if (changed) expect(res).toEqual(err("EAGAIN"));
      else if ("ok" in res) {
        // Committed: the transaction's writes are in the store.
        for (const p of tx.touched) if (tx.view.has(p) && tx.view.get(p) !== tx.start.get(p)) tree.write(m.store, p, tx.view.get(p)!);
      } else {
        // The engine may see a conflict the model does not (e.g. a parent node rewritten).
        expect(res).toEqual(err("EAGAIN"));
      }
      check(m, r);
    })),
  ];
}

describe("the xenstore engine against a model (fast-check)", () => {
  it("reads, writes, removes, listings and transaction snapshots agree with the model", () => {
    const seed = Number(process.env.XENWASM_SEED ?? Date.now() % 2 ** 31);
    console.log(`xenstore model: fast-check seed ${seed} (XENWASM_SEED=${seed} repeats it)`);
    const cmds = commands(fc.constantFrom(...PATHS), fc.constantFrom(...VALUES));
    fc.assert(fc.property(fc.commands(cmds, { maxCommands: 80 }), (cs) => {
      fc.modelRun(() => {
        const store = new XenStore();
        const a = new Client(store, 0), b = new Client(store, 0);
        return { model: { store: new Map<string, string>(), tx: null }, real: { store, a, b, tx: 0 } };
      }, cs);
    }), { seed, numRuns: 300 });
  });
});
