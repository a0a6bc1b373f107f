// Transactions through request(): ids, nesting, snapshot reads, generation-count conflicts (the
// examples in C xenstored's transaction.c), events at commit, accounting, and the cases of Xen's
// tools/tests/xenstore/test-xenstore.c and QEMU's tests/unit/test-xs-node.c.
import { describe, expect, it } from "vitest";
import { Client, ERRNAMES, OK, err, type Result } from "./client.js";
import { TX_SNAPSHOT_MAX, XenStore, XS, type XsConnection, type XsMessage, type XsQuotas } from "../../bindings/xenstore/store.js";
import { bin, bytes } from "../../bindings/xenstore/wire.js";



function setup(quotas: Partial<XsQuotas> = {}) {
  const store = new XenStore({}, quotas);
  const dom0 = new Client(store, 0);
  return { store, dom0 };
}

describe("transaction ids and errors", () => {
  it("are per connection, start at 1 and are never 0", () => {
    const { store, dom0 } = setup();
    expect(dom0.start()).toBe(1);
    expect(dom0.start()).toBe(2);
    expect(new Client(store, 0).start()).toBe(1);
    dom0.end(1, false);
    expect(dom0.start()).toBe(3);
  });

  it("refuse nesting (EBUSY), unknown ids (ENOENT), END outside a transaction (ENOENT) and END other than T/F (EINVAL)", () => {
    const { dom0 } = setup();
    const t = dom0.start();
    expect(dom0.req(XS.TRANSACTION_START, "\0", t)).toEqual(err("EBUSY"));
    expect(dom0.read("/", 77)).toEqual(err("ENOENT"));
    expect(dom0.req(XS.TRANSACTION_END, "T\0")).toEqual(err("ENOENT"));
    expect(dom0.req(XS.TRANSACTION_END, "X\0", t)).toEqual(err("EINVAL"));
    expect(dom0.req(XS.TRANSACTION_END, "T", t)).toEqual(err("EINVAL"));
    expect(dom0.req(XS.TRANSACTION_END, "TT\0", t)).toEqual(err("EINVAL"));
    expect(dom0.end(t, true)).toEqual(OK);
    expect(dom0.read("/", t)).toEqual(err("ENOENT")); // gone once ended
  });

  it("Xen test-xenstore 'ta empty' and 'ta empty x': empty transactions commit and abort", () => {
    const { dom0 } = setup();
    expect(dom0.end(dom0.start(), true)).toEqual(OK);
    expect(dom0.end(dom0.start(), false)).toEqual(OK);
  });
});

describe("isolation and commit", () => {
  it("Xen test-xenstore 'ta rmw' and 'ta rmw x': read-modify-write is private until committed", () => {
    for (const abort of [false, true]) {
      const { dom0 } = setup();
      dom0.write("xenstore-test/1/a", "a");
      const t = dom0.start();
      expect(dom0.read("xenstore-test/1/a", t)).toEqual({ ok: "a" });
      expect(dom0.write("xenstore-test/1/a", "b", t)).toEqual(OK);
      expect(dom0.read("xenstore-test/1/a", t)).toEqual({ ok: "b" });
      expect(dom0.read("xenstore-test/1/a")).toEqual({ ok: "a" });
      expect(dom0.end(t, !abort)).toEqual(OK);
      expect(dom0.read("xenstore-test/1/a")).toEqual({ ok: abort ? "a" : "b" });
    }
  });

  it("Xen test-xenstore 'ta err': a write outside after the transaction read the node makes the commit EAGAIN", () => {
    const { dom0 } = setup();
    dom0.write("xenstore-test/1/a", "a");
    const t = dom0.start();
    expect(dom0.read("xenstore-test/1/a", t)).toEqual({ ok: "a" });
    expect(dom0.write("xenstore-test/1/a", "b")).toEqual(OK);
    expect(dom0.read("xenstore-test/1/a", t)).toEqual({ ok: "a" });
    expect(dom0.write("xenstore-test/1/a", "c", t)).toEqual(OK);
    expect(dom0.read("xenstore-test/1/a", t)).toEqual({ ok: "c" });
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
    expect(dom0.read("xenstore-test/1/a")).toEqual({ ok: "b" });
    expect(dom0.read("/", t)).toEqual(err("ENOENT")); // a failed commit ends the transaction too
  });

  it("sees the store as it was at TRANSACTION_START, and a change since then to anything it read fails the commit", () => {
    const { dom0 } = setup();
    dom0.write("/a", "old");
    const t = dom0.start();
    dom0.write("/a", "new");
    dom0.write("/fresh", "x");
    expect(dom0.read("/a", t)).toEqual({ ok: "old" });
    expect(dom0.read("/fresh", t)).toEqual(err("ENOENT"));
    expect(dom0.dir("/", t)).toEqual({ ok: "tool\0a\0" });
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
  });

  it("transactions started at different times each see their own moment, however often the node changes", () => {
    const { store, dom0 } = setup();
    const t1c = new Client(store, 0);
    const t2c = new Client(store, 0);
    dom0.write("/a", "0");
    const t1 = t1c.start();
    for (let i = 1; i <= 5; i++) dom0.write("/a", String(i));
    const t2 = t2c.start();
    for (let i = 6; i <= 500; i++) dom0.write("/a", String(i));
    dom0.rm("/a");
    expect(t2c.read("/a", t2)).toEqual({ ok: "5" });
    expect(t1c.read("/a", t1)).toEqual({ ok: "0" });
    expect(t1c.end(t1, false)).toEqual(OK);
    expect(t2c.read("/b", t2)).toEqual(err("ENOENT"));
    dom0.write("/b", "new");
    expect(t2c.read("/a", t2)).toEqual({ ok: "5" }); // already in the transaction
    expect(t2c.end(t2, true)).toEqual(err("EAGAIN"));
    expect(dom0.read("/a")).toEqual(err("ENOENT"));
  });

  it("C's generation examples: unrelated writes commit, conflicting writes, creations and deletions do not", () => {
    const { store, dom0 } = setup();
    const other = new Client(store, 0);
    dom0.write("/A", "a");
    dom0.write("/B", "b");
    // 1. read A, write B, nothing else happens
    let t = dom0.start();
    dom0.read("/A", t);
    dom0.write("/B", "1", t);
    other.write("/C", "unrelated");
    expect(dom0.end(t, true)).toEqual(OK);
    expect(dom0.read("/B")).toEqual({ ok: "1" });
    // 2. a conflicting write to A
    t = dom0.start();
    dom0.read("/A", t);
    other.write("/A", "changed");
    dom0.write("/B", "2", t);
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
    expect(dom0.read("/B")).toEqual({ ok: "1" });
    // 3. a conflicting delete of A
    t = dom0.start();
    dom0.read("/A", t);
    other.rm("/A");
    dom0.write("/B", "3", t);
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
    // a node read as missing that someone creates
    t = dom0.start();
    expect(dom0.read("/A", t)).toEqual(err("ENOENT"));
    other.write("/A", "back");
    dom0.write("/B", "4", t);
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
    // 4. two interfering transactions: the first to commit wins
    const t1 = dom0.start();
    const t2 = other.start();
    dom0.read("/A", t1);
    other.read("/B", t2);
    dom0.write("/B", "t1", t1);
    other.write("/A", "t2", t2);
    expect(dom0.end(t1, true)).toEqual(OK);
    expect(other.end(t2, true)).toEqual(err("EAGAIN"));
    expect([dom0.read("/A"), dom0.read("/B")]).toEqual([{ ok: "back" }, { ok: "t1" }]);
    expect(store.check()).toEqual([]);
  });

  it("two transactions under different parents both commit; adding children to one parent conflicts", () => {
    const { store, dom0 } = setup();
    const other = new Client(store, 0);
    dom0.req(XS.MKDIR, "/x\0");
    dom0.req(XS.MKDIR, "/y\0");
    let t1 = dom0.start();
    let t2 = other.start();
    dom0.write("/x/1", "a", t1);
    other.write("/y/1", "b", t2);
    expect(dom0.end(t1, true)).toEqual(OK);
    expect(other.end(t2, true)).toEqual(OK);
    expect([dom0.dir("/x"), dom0.dir("/y")]).toEqual([{ ok: "1\0" }, { ok: "1\0" }]);
    t1 = dom0.start();
    t2 = other.start();
    dom0.write("/x/2", "a", t1);
    other.write("/x/3", "b", t2);
    expect(dom0.end(t1, true)).toEqual(OK);
    expect(other.end(t2, true)).toEqual(err("EAGAIN")); // both rewrote /x's list of children
    expect(dom0.dir("/x")).toEqual({ ok: "1\0" + "2\0" });
  });

  it("fires watch events only at commit, for what changed, and none when aborted or failed", () => {
    const { store, dom0 } = setup();
    const w = new Client(store, 0);
    w.watch("/w", "t");
    w.events();
    let t = dom0.start();
    dom0.write("/w/a", "1", t);
    dom0.write("/w/b", "2", t);
    dom0.rm("/w/a", t);
    dom0.read("/w/c", t);
    expect(w.events()).toEqual([]);
    expect(dom0.end(t, true)).toEqual(OK);
    expect(w.events()).toEqual([["/w/b", "t"]]);
    t = dom0.start();
    dom0.write("/w/b", "3", t);
    expect(dom0.end(t, false)).toEqual(OK);
    t = dom0.start();
    dom0.write("/w/b", "4", t);
    dom0.write("/w/b", "outside");
    w.events();
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
    expect(w.events()).toEqual([]);
  });

  it("sees its own creations and deletions, including in DIRECTORY", () => {
    const { dom0 } = setup();
    dom0.write("/d/keep", "");
    dom0.write("/d/gone", "");
    const t = dom0.start();
    dom0.rm("/d/gone", t);
    dom0.write("/d/new", "", t);
    expect(dom0.dir("/d", t)).toEqual({ ok: "keep\0new\0" });
    expect(dom0.dir("/d")).toEqual({ ok: "keep\0gone\0" });
    expect(dom0.read("/d/gone", t)).toEqual(err("ENOENT"));
    expect(dom0.end(t, true)).toEqual(OK);
    expect(dom0.dir("/d")).toEqual({ ok: "keep\0new\0" });
  });
});

describe("transaction accounting", () => {
  it("counts nodes at commit, not before", () => {
    const { store, dom0 } = setup();
    dom0.write("/local/domain/5", "");
    store.setPerms("/local/domain/5", ["n5"]);
    const g = new Client(store, 5);
    const t = g.start();
    g.write("a/b", "", t);
    expect(store.usage(5)?.nodes).toBe(1);
    expect(g.end(t, true)).toEqual(OK);
    expect(store.usage(5)?.nodes).toBe(3);
    const t2 = g.start();
    g.rm("a", t2);
    expect(g.end(t2, false)).toEqual(OK);
    expect(store.usage(5)?.nodes).toBe(3);
  });

  it("checks the node quota again at commit as C does (a transaction cannot fill the last slot)", () => {
    const { store, dom0 } = setup({ nodes: 3 });
    dom0.write("/local/domain/5", "");
    store.setPerms("/local/domain/5", ["n5"]);
    const g = new Client(store, 5);
    let t = g.start();
    expect(g.write("a", "", t)).toEqual(OK);
    expect(g.end(t, true)).toEqual(OK);
    t = g.start();
    expect(g.write("b", "", t)).toEqual(OK);
    expect(g.end(t, true)).toEqual(err("ENOSPC"));
    expect(g.write("b", "")).toEqual(OK); // outside a transaction the third node fits
    t = g.start();
    expect(g.write("c", "", t)).toEqual(err("ENOSPC"));
    expect(g.end(t, true)).toEqual(OK);
  });

  it("a domain at its node quota may still modify its nodes in a transaction", () => {
    const { store, dom0 } = setup({ nodes: 3 });
    dom0.write("/local/domain/5", "");
    store.setPerms("/local/domain/5", ["n5"]);
    const g = new Client(store, 5);
    g.write("a", "");
    g.write("b", "");
    expect(store.usage(5)?.nodes).toBe(3);
    const t = g.start();
    expect(g.write("a", "changed", t)).toEqual(OK);
    expect(g.write("c", "", t)).toEqual(err("ENOSPC"));
    expect(g.end(t, true)).toEqual(OK);
    expect(g.read("a")).toEqual({ ok: "changed" });
  });

  it("limits open transactions (C lets one more than the quota through) and frees them on END, RESET_WATCHES and disconnect", () => {
    const { store, dom0 } = setup();
    dom0.write("/local/domain/5", "");
    const g = new Client(store, 5);
    const ids = Array.from({ length: 11 }, () => g.start());
    expect(g.req(XS.TRANSACTION_START, "\0")).toEqual(err("ENOSPC"));
    expect(store.usage(5)?.transactions).toBe(11);
    g.end(ids[0], false);
    expect(store.usage(5)?.transactions).toBe(10);
    expect(g.req(XS.RESET_WATCHES, "\0")).toEqual(OK);
    expect(store.usage(5)?.transactions).toBe(0);
    expect(g.read("/", ids[1])).toEqual(err("ENOENT"));
    g.start();
    store.disconnect(g);
    expect(store.usage(5)?.transactions).toBe(0);
    for (let i = 0; i < 30; i++) dom0.start();
  });

  it("limits the nodes one transaction touches; past the limit the transaction can only fail", () => {
    const { store, dom0 } = setup({ transactionNodes: 3 });
    dom0.write("/local/domain/5", "");
    store.setPerms("/local/domain/5", ["n5"]);
    const g = new Client(store, 5);
    for (const n of ["x1", "x2", "x3", "x4"]) g.write(n, n);
    const t = g.start();
    expect(g.read("x1", t)).toEqual({ ok: "x1" });
    expect(g.read("x2", t)).toEqual({ ok: "x2" });
    expect(g.read("x3", t)).toEqual({ ok: "x3" });
    expect(g.read("x1", t)).toEqual({ ok: "x1" });
    expect(g.read("x4", t)).toEqual(err("ENOSPC"));
    expect(g.end(t, true)).toEqual(err("ENOMEM"));
    const t0 = dom0.start();
    for (const n of ["x1", "x2", "x3", "x4"]) expect(dom0.read(`/local/domain/5/${n}`, t0)).toEqual({ ok: n });
    expect(dom0.end(t0, true)).toEqual(OK);
  });

  it("a transaction holding nodes of a domain that is then released cannot commit them", () => {
    const { store, dom0 } = setup();
    dom0.write("/z", "");
    const t = dom0.start();
    expect(dom0.req(XS.SET_PERMS, "/z\0n5\0", t)).toEqual(OK);
    store.releaseDomain(5);
    expect(dom0.end(t, true)).toEqual(err("EAGAIN"));
    expect(store.getPerms("/z")).toEqual([{ id: 0, perms: "n" }]);
  });
});

describe("what an open transaction costs the others", () => {
  it("an idle transaction keeps at most TX_SNAPSHOT_MAX start versions, and other transactions' ends do not depend on it", () => {
    // issue 15, defect 3: with one idle transaction open, the store kept every version of every
    // path created or removed, and each TRANSACTION_END scanned them all (45 ms after 100k pairs).
    const { store, dom0 } = setup();
    const idle = new Client(store, 5, true); // a privileged guest of its own: its usage is its own
    dom0.write("/kept", "old");
    const t = idle.start();
    expect(idle.read("/kept", t)).toEqual({ ok: "old" }); // touched: no snapshot needed for it
    dom0.write("/changed", "before");
    const N = TX_SNAPSHOT_MAX + 5000;
    for (let i = 0; i < N; i++) {
      store.write(`/churn/n${i}`, "x");
      store.rm(`/churn/n${i}`);
    }
    expect(store.usage(5)!.snapshotNodes).toBe(TX_SNAPSHOT_MAX);
    // An unrelated transaction keeps nothing of the churn, before or after, and commits.
    const other = new Client(store, 0);
    const u = other.start();
    expect(other.write("/other", "v", u)).toEqual(OK);
    expect(store.usage(0)!.snapshotNodes).toBe(0);
    expect(other.end(u, true)).toEqual(OK);
    // The idle transaction still sees what it read, but no longer knows the start version of a node
    // changed after its snapshot filled up: it must not pretend, so its commit fails (EAGAIN).
    dom0.write("/late", "after");
    expect(idle.read("/kept", t)).toEqual({ ok: "old" });
    expect(idle.read("/late", t)).toEqual({ ok: "after" });
    expect(idle.end(t, true)).toEqual(err("EAGAIN"));
    expect(store.usage(5)!.snapshotNodes).toBe(0);
  });

  it("a transaction that stays within its snapshot sees its start and commits when nothing it touched changed", () => {
    const { store, dom0 } = setup();
    dom0.write("/a", "1");
    const c = new Client(store, 0);
    const t = c.start();
    for (let i = 0; i < 100; i++) store.write(`/noise${i}`, "x");
    dom0.write("/a", "2");
    expect(store.usage(0)!.snapshotNodes).toBe(102); // /a, / (its children changed) and the 100 new nodes, absent at the start
    expect(c.read("/a", t)).toEqual({ ok: "1" });
    expect(c.read("/noise7", t)).toEqual(err("ENOENT"));
    expect(c.write("/mine", "m", t)).toEqual(OK);
    expect(c.end(t, true)).toEqual(err("EAGAIN")); // it read /a, which changed
    dom0.write("/x/u", "0");
    const t3 = c.start();
    expect(c.write("/mine", "m", t3)).toEqual(OK);
    store.write("/x/u", "y"); // a node it did not touch (a new child of / would be: / changed)
    expect(c.end(t3, true)).toEqual(OK);
    expect(store.read("/mine")).toBe("m");
  });
});

describe("QEMU test-xs-node transaction cases", () => {
  // QEMU's setup(): /local/domain/1 written by dom0 and readable by the guest, /local/domain/1/some owned by it.
  function qemuSetup() {
    const { store, dom0 } = setup();
    expect(dom0.write("/local/domain/1", "")).toEqual(OK);
    expect(dom0.req(XS.SET_PERMS, "/local/domain/1\0n0\0r1\0")).toEqual(OK);
    expect(dom0.write("/local/domain/1/some", "")).toEqual(OK);
    expect(dom0.req(XS.SET_PERMS, "/local/domain/1/some\0n1\0")).toEqual(OK);
    const guest = new Client(store, 1);
    return { store, dom0, guest };
  }

  function nodeTx(fail: boolean, commit: boolean) {
    const { store, guest } = qemuSetup();
    expect(guest.watch("some", "watch")).toEqual(OK);
    expect(guest.events()).toEqual([["some", "watch"]]);
    expect(guest.write("some/relative/path", "something")).toEqual(OK);
    expect(store.usage(1)?.nodes).toBe(3);
    expect(guest.events()).toEqual([["some/relative/path", "watch"]]);
    const t = guest.start();
    if (fail) {
      expect(guest.write("some/relative/path", "another thing")).toEqual(OK);
      expect(guest.events()).toEqual([["some/relative/path", "watch"]]);
    }
    expect(guest.write("some/relative/path", "something else", t)).toEqual(OK);
    expect(guest.events()).toEqual([]);
    expect(guest.read("some/relative/path")).toEqual({ ok: fail ? "another thing" : "something" });
    expect(guest.read("some/relative/path", t)).toEqual({ ok: "something else" });
    expect(guest.end(t, commit)).toEqual(commit && fail ? err("EAGAIN") : OK);
    expect(guest.events()).toEqual(commit && !fail ? [["some/relative/path", "watch"]] : []);
    expect(store.usage(1)?.nodes).toBe(3);
    expect(guest.read("some/relative/path")).toEqual({ ok: fail ? "another thing" : commit ? "something else" : "something" });
  }

  it("tx_abort", () => {
    nodeTx(false, false);
    nodeTx(true, false);
  });
  it("tx_fail: a write after TRANSACTION_START to a node the transaction then writes fails the commit", () => nodeTx(true, true));
  it("tx_succeed", () => nodeTx(false, true));

  it("tx_rm: a subtree removed in a transaction stays until commit, then fires for its root", () => {
    const { store, guest } = qemuSetup();
    guest.watch("some", "watch");
    guest.write("some/deep/dark/relative/path", "something");
    expect(store.usage(1)?.nodes).toBe(5);
    guest.events();
    const t = guest.start();
    expect(guest.rm("some/deep/dark", t)).toEqual(OK);
    expect(store.usage(1)?.nodes).toBe(5);
    expect(guest.events()).toEqual([]);
    expect(guest.read("some/deep/dark/relative/path")).toEqual({ ok: "something" });
    expect(guest.end(t, true)).toEqual(OK);
    expect(store.usage(1)?.nodes).toBe(2);
    expect(guest.events()).toEqual([["some/deep/dark", "watch"]]);
    expect(guest.read("some/deep/dark/relative/path")).toEqual(err("ENOENT"));
  });

  function resurrect(rewrite: string) {
    const { store, guest } = qemuSetup();
    guest.write("some/deep/dark/relative/path", "something");
    guest.write("some/place/safe", "keepme");
    guest.write("some/deep/dark", "foo");
    expect(store.usage(1)?.nodes).toBe(7);
    guest.watch("some", "watch");
    guest.events();
    const t = guest.start();
    expect(guest.rm("some/deep", t)).toEqual(OK);
    expect(guest.write(rewrite, "something", t)).toEqual(OK);
    expect(store.usage(1)?.nodes).toBe(7);
    expect(guest.end(t, true)).toEqual(OK);
    return { store, guest, events: guest.events() };
  }

  // C xenstored (and so this engine) reports a transaction's removal once for its root and each
  // rewritten node for its own path; QEMU additionally reports the nodes whose data was lost.
  it("tx_resurrect: part of a removed subtree written again in the same transaction", () => {
    const { store, guest, events } = resurrect("some/deep/dark/different/path");
    expect(events).toEqual([["some/deep", "watch"], ["some/deep/dark/different/path", "watch"]]);
    expect(store.usage(1)?.nodes).toBe(7);
    expect(guest.read("some/deep/dark/relative/path")).toEqual(err("ENOENT"));
    expect(guest.read("some/deep/dark")).toEqual({ ok: "" }); // "foo" was lost
    expect(guest.read("some/deep/dark/different/path")).toEqual({ ok: "something" });
    expect(guest.read("some/place/safe")).toEqual({ ok: "keepme" });
    expect(store.check()).toEqual([]);
  });

  it("tx_resurrect2: the removed leaf itself written again", () => {
    const { store, guest, events } = resurrect("some/deep/dark/relative/path");
    expect(events).toEqual([["some/deep", "watch"], ["some/deep/dark/relative/path", "watch"]]);
    expect(store.usage(1)?.nodes).toBe(7);
    expect(guest.read("some/deep/dark/relative/path")).toEqual({ ok: "something" });
    expect(guest.read("some/deep/dark")).toEqual({ ok: "" });
    expect(store.check()).toEqual([]);
  });
});
