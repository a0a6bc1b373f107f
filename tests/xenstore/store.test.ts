// The xenstored engine through request(), as C xenstored answers: payload formats, paths,
// permissions, watches, domains, features, quotas and the toolstack API. Each client is a fake
// connection that records what the store sends it.
import { describe, expect, it } from "vitest";
import { Client, ERRNAMES, OK, err, type Result } from "./client.js";
import { DEFAULT_QUOTAS, XenStore, XS, XsError, type XsConnection, type XsHooks, type XsMessage, type XsQuotas } from "../../bindings/xenstore/store.js";
import { bin, bytes } from "../../bindings/xenstore/wire.js";
import { abi, k } from "../../bindings/abi/layout.js";



/** A relative path of exactly `n` chars in components of at most 100 (a long name would overflow its parent's node-size quota). */
function longPath(n: number, c = "a"): string {
  const parts: string[] = [];
  let left = n;
  while (left > 0) {
    const len = Math.min(100, left - (parts.length ? 1 : 0));
    parts.push(c.repeat(len));
    left -= len + (parts.length > 1 ? 1 : 0);
  }
  const p = parts.join("/");
  expect(p.length).toBe(n);
  return p;
}

/** A store, a dom0 client, and guests whose homes /local/domain/<domid> they own ("n<domid>"). */
function setup(guests: number[] = [5], hooks: XsHooks = {}, quotas: Partial<XsQuotas> = {}) {
  const store = new XenStore(hooks, quotas);
  const dom0 = new Client(store, 0);
  const g = guests.map((d) => {
    store.mkdir(`/local/domain/${d}`);
    store.setPerms(`/local/domain/${d}`, [`n${d}`]);
    return new Client(store, d);
  });
  return { store, dom0, g };
}

describe("initial tree", () => {
  it("is C xenstored's: /, /tool, /tool/xenstored and the two special nodes, all n0 and owned by dom0", () => {
    const { store, dom0 } = setup([]);
    expect(dom0.dir("/")).toEqual({ ok: "tool\0" });
    expect(dom0.dir("/tool")).toEqual({ ok: "xenstored\0" });
    expect(dom0.dir("/tool/xenstored")).toEqual({ ok: "" });
    expect(dom0.read("/")).toEqual({ ok: "" });
    for (const p of ["/", "/tool", "/tool/xenstored", "@introduceDomain", "@releaseDomain"]) expect(dom0.getPerms(p)).toEqual({ ok: "n0\0" });
    expect(dom0.read("/local")).toEqual(err("ENOENT"));
    expect(store.usage(0)?.nodes).toBe(5);
    expect(store.check()).toEqual([]);
  });
});

describe("payload formats", () => {
  it("WRITE takes binary data after the path, READ returns it without a terminator", () => {
    const { dom0 } = setup([]);
    expect(dom0.req(XS.WRITE, "/a\0x\0y\0")).toEqual(OK);
    expect(dom0.read("/a")).toEqual({ ok: "x\0y\0" });
    expect(dom0.write("/a", "")).toEqual(OK);
    expect(dom0.read("/a")).toEqual({ ok: "" });
  });

  it("WRITE and MKDIR create missing parents with empty values; MKDIR leaves an existing value alone", () => {
    const { dom0 } = setup([]);
    expect(dom0.write("/a/b/c", "v")).toEqual(OK);
    expect(dom0.read("/a")).toEqual({ ok: "" });
    expect(dom0.read("/a/b")).toEqual({ ok: "" });
    expect(dom0.mkdir("/a/b/c")).toEqual(OK);
    expect(dom0.read("/a/b/c")).toEqual({ ok: "v" });
    expect(dom0.mkdir("/m/n")).toEqual(OK);
    expect(dom0.read("/m/n")).toEqual({ ok: "" });
  });

  it("DIRECTORY lists children in creation order, each nul-terminated; a leaf gives an empty payload", () => {
    const { dom0 } = setup([]);
    for (const c of ["z", "a", "m"]) dom0.write(`/d/${c}`, "");
    expect(dom0.dir("/d")).toEqual({ ok: "z\0a\0m\0" });
    dom0.rm("/d/a");
    expect(dom0.dir("/d")).toEqual({ ok: "z\0m\0" });
    expect(dom0.dir("/d/z")).toEqual({ ok: "" });
  });

  it("RM removes a subtree; a missing node is fine if its parent exists, else ENOENT; / cannot go", () => {
    const { dom0 } = setup([]);
    dom0.write("/a/b/c", "x");
    expect(dom0.rm("/a/b")).toEqual(OK);
    expect(dom0.read("/a/b/c")).toEqual(err("ENOENT"));
    expect(dom0.dir("/a")).toEqual({ ok: "" });
    expect(dom0.rm("/a/nothing")).toEqual(OK);
    expect(dom0.rm("/nothing/deeper")).toEqual(err("ENOENT"));
    expect(dom0.rm("/")).toEqual(err("EINVAL"));
  });

  it("errors reply XS_ERROR with the xsd_errors name and the request's reqId and txId", () => {
    const { dom0 } = setup([]);
    const before = dom0.inbox.length;
    dom0.store.request(dom0, { type: XS.READ, reqId: 0xfffffffe, txId: 0, payload: bytes("/nope\0") });
    const r = dom0.inbox[before];
    expect(r).toEqual({ type: k("XS_ERROR"), reqId: 0xfffffffe, txId: 0, payload: bytes("ENOENT\0") });
  });

  it("GET_DOMAIN_PATH normalises the domid; anything but 0..65535 is EINVAL", () => {
    const { g: [guest] } = setup();
    expect(guest.req(XS.GET_DOMAIN_PATH, "7\0")).toEqual({ ok: "/local/domain/7\0" });
    expect(guest.req(XS.GET_DOMAIN_PATH, "007\0")).toEqual({ ok: "/local/domain/7\0" });
    expect(guest.req(XS.GET_DOMAIN_PATH, "65535\0")).toEqual({ ok: "/local/domain/65535\0" });
    expect(guest.req(XS.GET_DOMAIN_PATH, "65536\0")).toEqual(err("EINVAL"));
    expect(guest.req(XS.GET_DOMAIN_PATH, "7x\0")).toEqual(err("EINVAL"));
    expect(guest.req(XS.GET_DOMAIN_PATH, "-1\0")).toEqual(err("EINVAL"));
    expect(guest.req(XS.GET_DOMAIN_PATH, "7")).toEqual(err("EINVAL"));
  });
});

describe("paths", () => {
  it("relative paths are under /local/domain/<domid of the connection>", () => {
    const { dom0, g: [guest] } = setup();
    expect(guest.write("x/y", "1")).toEqual(OK);
    expect(dom0.read("/local/domain/5/x/y")).toEqual({ ok: "1" });
    expect(guest.read("/local/domain/5/x/y")).toEqual({ ok: "1" });
    expect(dom0.write("rel", "0")).toEqual(OK);
    expect(dom0.read("/local/domain/0/rel")).toEqual({ ok: "0" });
  });

  it("refuses invalid characters, empty paths, double and trailing slashes", () => {
    const { dom0 } = setup([]);
    for (const p of ["/a b", "/a.b", "/a\tb", "/\u00e4", "", "/a//b", "//", "/a/", "a/", "/a+b", "/a:b"]) {
      expect(dom0.write(p, "x"), p).toEqual(err("EINVAL"));
      expect(dom0.read(p), p).toEqual(err("EINVAL"));
    }
    expect(dom0.write("/ok-_@/A9", "x")).toEqual(OK);
    expect(dom0.dir("/")).toEqual({ ok: "tool\0ok-_@\0" });
  });

  it("limits absolute paths to XENSTORE_ABS_PATH_MAX for everyone", () => {
    const { dom0 } = setup([]);
    const max = k("XENSTORE_ABS_PATH_MAX");
    expect(max).toBe(3072);
    expect(dom0.write("/" + "a".repeat(max - 1), "x")).toEqual(OK);
    expect(dom0.write("/" + "b".repeat(max), "x")).toEqual(err("EINVAL"));
  });

  it("limits unprivileged paths to XENSTORE_REL_PATH_MAX below /local/domain/<domid>/, not dom0's", () => {
    const { dom0, g: [guest] } = setup();
    const rel = k("XENSTORE_REL_PATH_MAX");
    expect(rel).toBe(2048);
    expect(guest.write(longPath(rel, "a"), "x")).toEqual(OK);
    expect(guest.write(longPath(rel + 1, "b"), "x")).toEqual(err("EINVAL"));
    expect(guest.write("/local/domain/5/" + longPath(rel, "c"), "x")).toEqual(OK);
    expect(guest.write("/local/domain/5/" + longPath(rel + 1, "d"), "x")).toEqual(err("EINVAL"));
    expect(guest.read("/" + "e".repeat(rel + 1))).toEqual(err("EINVAL"));
    expect(guest.read("/" + "e".repeat(rel - 1))).toEqual(err("EACCES")); // valid, and "/" is not readable
    expect(dom0.write("/local/domain/5/" + "f".repeat(rel + 1), "x")).toEqual(OK);
  });

  it("special @ paths only for WATCH, UNWATCH and the permission requests", () => {
    const { dom0 } = setup([]);
    expect(dom0.read("@introduceDomain")).toEqual(err("EINVAL"));
    expect(dom0.write("@introduceDomain", "x")).toEqual(err("EINVAL"));
    expect(dom0.mkdir("@foo")).toEqual(err("EINVAL"));
    expect(dom0.rm("@releaseDomain")).toEqual(err("EINVAL"));
    expect(dom0.dir("@releaseDomain")).toEqual(err("EINVAL"));
    expect(dom0.getPerms("@releaseDomain")).toEqual({ ok: "n0\0" });
    expect(dom0.getPerms("@nosuch")).toEqual(err("ENOENT"));
    expect(dom0.watch("@introduceDomain", "t")).toEqual(OK);
    expect(dom0.unwatch("@introduceDomain", "t")).toEqual(OK);
    expect(dom0.write("/a@b", "x")).toEqual(OK); // '@' is only special in first position
  });
});

describe("permissions", () => {
  it("the owner has full access; others get the first entry naming them, else the default", () => {
    const { dom0, g: [g5, g6, g7] } = setup([5, 6, 7]);
    dom0.write("/p", "v");
    expect(dom0.setPerms("/p", "n5", "r6", "w7")).toEqual(OK);
    expect(g5.read("/p")).toEqual({ ok: "v" });
    expect(g5.write("/p", "5")).toEqual(OK);
    expect(g6.read("/p")).toEqual({ ok: "5" });
    expect(g6.write("/p", "6")).toEqual(err("EACCES"));
    expect(g7.read("/p")).toEqual(err("EACCES"));
    expect(g7.write("/p", "7")).toEqual(OK);
    expect(dom0.setPerms("/p", "r0", "b6")).toEqual(OK);
    expect(g7.read("/p")).toEqual({ ok: "7" });
    expect(g7.write("/p", "x")).toEqual(err("EACCES"));
    expect(g6.write("/p", "6")).toEqual(OK);
    expect(dom0.setPerms("/p", "n0", "n6")).toEqual(OK);
    expect(g6.read("/p")).toEqual(err("EACCES"));
  });

  it("a connection flagged privileged sees and changes everything, like dom0", () => {
    const { store, dom0 } = setup([]);
    const priv = new Client(store, 9, true);
    dom0.write("/secret", "s");
    expect(priv.read("/secret")).toEqual({ ok: "s" });
    expect(priv.setPerms("/secret", "n3")).toEqual(OK);
    expect(priv.req(XS.CONTROL, "check\0")).toEqual(OK);
  });

  it("an unreadable parent masks ENOENT as EACCES", () => {
    const { dom0, g: [guest] } = setup();
    dom0.write("/secret/here", "x");
    dom0.write("/open/here", "x");
    dom0.setPerms("/open", "r0");
    expect(guest.read("/secret/missing")).toEqual(err("EACCES"));
    expect(guest.read("/secret/a/b/c")).toEqual(err("EACCES"));
    expect(guest.read("/open/missing")).toEqual(err("ENOENT"));
    expect(guest.read("/open/here")).toEqual(err("EACCES"));
    expect(guest.dir("/open")).toEqual({ ok: "here\0" });
  });

  it("creating a node needs write access to its nearest existing ancestor; nothing is created otherwise", () => {
    const { dom0, g: [guest] } = setup();
    dom0.setPerms("/local/domain/5", "n0", "r5");
    expect(guest.write("x/y", "1")).toEqual(err("EACCES"));
    expect(dom0.dir("/local/domain/5")).toEqual({ ok: "" });
    dom0.setPerms("/local/domain/5", "n0", "b5");
    expect(guest.write("x/y", "1")).toEqual(OK);
  });

  it("new nodes copy the parent's permissions, with an unprivileged creator as owner", () => {
    const { dom0, store, g: [, g6] } = setup([5, 6]);
    dom0.setPerms("/local/domain/5", "n5", "b6");
    expect(g6.write("/local/domain/5/by6/leaf", "x")).toEqual(OK);
    expect(dom0.getPerms("/local/domain/5/by6")).toEqual({ ok: "n6\0b6\0" });
    expect(dom0.getPerms("/local/domain/5/by6/leaf")).toEqual({ ok: "n6\0b6\0" });
    expect(dom0.write("/local/domain/5/by0", "x")).toEqual(OK);
    expect(dom0.getPerms("/local/domain/5/by0")).toEqual({ ok: "n5\0b6\0" });
    expect(store.usage(6)?.nodes).toBe(3); // its home, by6 and leaf
    expect(store.usage(5)?.nodes).toBe(2); // its home and by0
  });

  it("SET_PERMS needs write and ownership; only a privileged client changes the owner", () => {
    const { dom0, store, g: [g5, g6] } = setup([5, 6]);
    g5.write("mine", "x");
    expect(g6.setPerms("/local/domain/5/mine", "n6")).toEqual(err("EACCES"));
    dom0.setPerms("/local/domain/5/mine", "n5", "w6");
    expect(g6.setPerms("/local/domain/5/mine", "n5", "b6")).toEqual(err("EACCES"));
    expect(g5.setPerms("mine", "r5", "r6")).toEqual(OK);
    expect(g5.setPerms("mine", "n6")).toEqual(err("EPERM"));
    expect(g5.getPerms("mine")).toEqual({ ok: "r5\0r6\0" });
    expect(dom0.setPerms("/local/domain/5/mine", "n6")).toEqual(OK);
    expect(g5.read("mine")).toEqual(err("EACCES"));
    expect(store.usage(5)?.nodes).toBe(1);
    expect(store.usage(6)?.nodes).toBe(2); // its home and "mine"
  });

  it("parses permission strings as C (letter, then a whole strtol number) and prints them with %i", () => {
    const { dom0 } = setup([]);
    dom0.write("/p", "");
    for (const bad of ["x5", "r", "r5x", "5", "rr5", "r 5 "]) expect(dom0.setPerms("/p", bad), bad).toEqual(err("EINVAL"));
    expect(dom0.req(XS.SET_PERMS, "/p\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.SET_PERMS, "/p")).toEqual(err("EINVAL"));
    expect(dom0.setPerms("/p", "b0x10", "w010", "r 7")).toEqual(OK);
    expect(dom0.getPerms("/p")).toEqual({ ok: "b16\0w8\0r7\0" });
    expect(dom0.setPerms("/p", "n0", "r4294967295")).toEqual(OK);
    expect(dom0.getPerms("/p")).toEqual({ ok: "n0\0r-1\0" });
  });

  it("refuses an owner that does not exist (ENOENT) and ignores entries for domains that do not", () => {
    const exists = new Set([0, 5]);
    const { dom0, store } = setup([5], { domainExists: (d) => exists.has(d) });
    dom0.write("/p", "v");
    expect(dom0.setPerms("/p", "n9")).toEqual(err("ENOENT"));
    expect(dom0.setPerms("/p", "n0", "r9")).toEqual(OK);
    expect(dom0.getPerms("/p")).toEqual({ ok: "n0\0r9\0" });
    exists.add(9); // domain 9 appears later: the entry made for a domain that did not exist stays dead
    const g9 = new Client(store, 9);
    expect(g9.read("/p")).toEqual(err("EACCES"));
    expect(dom0.setPerms("/p", "n0", "r9")).toEqual(OK);
    expect(g9.read("/p")).toEqual({ ok: "v" });
  });

  it("SET_TARGET lets a domain act for its target (device model style)", () => {
    const { dom0, store, g: [g5, g7] } = setup([5, 7]);
    g5.write("dm", "x");
    dom0.write("/granted", "y");
    dom0.setPerms("/granted", "n0", "r5");
    expect(g7.read("/local/domain/5/dm")).toEqual(err("EACCES"));
    expect(dom0.req(XS.SET_TARGET, "7\0" + "5\0")).toEqual(err("ENOENT"));
    store.introduceDomain(5);
    store.introduceDomain(7);
    expect(g7.req(XS.SET_TARGET, "7\0" + "5\0")).toEqual(err("EACCES"));
    expect(dom0.req(XS.SET_TARGET, "7\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.SET_TARGET, "7\0" + "5\0")).toEqual(OK);
    expect(g7.read("/local/domain/5/dm")).toEqual({ ok: "x" });
    expect(g7.write("/local/domain/5/dm", "by7")).toEqual(OK);
    expect(g7.read("/granted")).toEqual({ ok: "y" });
    expect(g5.read("/local/domain/7")).toEqual(err("EACCES"));
    store.releaseDomain(5);
    expect(g7.read("/granted")).toEqual(err("EACCES"));
    // The link goes with the target: a new domain 5 is nothing to domain 7.
    store.introduceDomain(5);
    store.write("/local/domain/5/new", "mine", 5);
    expect(new Client(store, 5).read("/local/domain/5/new")).toEqual({ ok: "mine" });
    expect(g7.read("/local/domain/5/new")).toEqual(err("EACCES"));
  });
});

describe("watches", () => {
  it("fire once at registration, after the OK, with the path as given (relative stays relative)", () => {
    const { g: [guest] } = setup();
    const before = guest.inbox.length;
    expect(guest.watch("some/where", "tok")).toEqual(OK);
    expect(guest.inbox.slice(before).map((m) => m.type)).toEqual([XS.WATCH, XS.WATCH_EVENT]);
    expect(guest.events()).toEqual([["some/where", "tok"]]);
    expect(guest.watch("/local/domain/5/abs", "t2")).toEqual(OK);
    expect(guest.events()).toEqual([["/local/domain/5/abs", "t2"]]);
  });

  it("fire on create, modify, delete and permission change, for the path and below, not for look-alikes", () => {
    const { dom0, store } = setup([]);
    const w = new Client(store, 0);
    w.watch("/a", "A");
    w.events();
    dom0.write("/a/b", "1");
    dom0.write("/a/b", "2");
    dom0.write("/ab", "look-alike");
    dom0.setPerms("/a/b", "n0", "r3");
    dom0.rm("/a/b");
    dom0.write("/other", "x");
    expect(w.events()).toEqual([["/a/b", "A"], ["/a/b", "A"], ["/a/b", "A"], ["/a/b", "A"]]);
    const root = new Client(store, 0);
    root.watch("/", "R");
    expect(root.events()).toEqual([["/", "R"]]);
    dom0.write("/z", "");
    expect(root.events()).toEqual([["/z", "R"]]);
  });

  it("the writer sees its own event before its reply, as C queues them", () => {
    const { dom0 } = setup([]);
    dom0.watch("/a", "A");
    dom0.events();
    const before = dom0.inbox.length;
    dom0.write("/a", "x");
    expect(dom0.inbox.slice(before).map((m) => m.type)).toEqual([XS.WATCH_EVENT, XS.WRITE]);
  });

  it("a write that creates parents fires once, for the written path; MKDIR of an existing node fires nothing", () => {
    const { dom0, store } = setup([]);
    const w = new Client(store, 0);
    w.watch("/a/b", "B");
    w.watch("/a", "A");
    w.events();
    dom0.write("/a/b/c", "x");
    expect(w.events()).toEqual([["/a/b/c", "B"], ["/a/b/c", "A"]]);
    dom0.mkdir("/a/b");
    expect(w.events()).toEqual([]);
  });

  it("RM fires the removed root for watchers at or above it, and each removed child for a watch on exactly its path", () => {
    const { dom0, store } = setup([]);
    dom0.write("/r/x/y", "1");
    dom0.write("/r/z", "2");
    const w = new Client(store, 0);
    for (const [p, t] of [["/", "top"], ["/r", "root"], ["/r/x", "x"], ["/r/x/y", "y"], ["/r/x/y/never", "never"], ["/r/zz", "zz"]]) w.watch(p, t);
    w.events();
    dom0.rm("/r");
    expect(w.events()).toEqual([["/r/x/y", "y"], ["/r/x", "x"], ["/r", "top"], ["/r", "root"]]);
  });

  it("only go to watchers that may read the node or its parent", () => {
    const { dom0, g: [guest] } = setup();
    dom0.write("/secret/x", "");
    dom0.write("/pub/x", "");
    dom0.setPerms("/pub", "n0", "r5");
    guest.watch("/", "all");
    guest.events();
    dom0.write("/secret/x/y", "hidden"); // node and parent n0
    dom0.write("/pub/x", "parent readable");
    dom0.write("/pub/y", "node inherits r5");
    expect(guest.events()).toEqual([["/pub/x", "all"], ["/pub/y", "all"]]);
  });

  it("a permission change that takes read access away still notifies, judged on the old permissions", () => {
    const { dom0, g: [guest] } = setup();
    dom0.write("/n", "");
    dom0.setPerms("/n", "n0", "r5");
    guest.watch("/n", "t");
    guest.events();
    dom0.setPerms("/n", "n0");
    expect(guest.events()).toEqual([["/n", "t"]]);
    dom0.write("/n", "now unreadable");
    expect(guest.events()).toEqual([]);
  });

  it("refuse a duplicate (path, token), also when one was given relative; UNWATCH removes exactly one", () => {
    const { g: [guest] } = setup();
    expect(guest.watch("w", "t")).toEqual(OK);
    expect(guest.watch("w", "t")).toEqual(err("EEXIST"));
    expect(guest.watch("/local/domain/5/w", "t")).toEqual(err("EEXIST"));
    expect(guest.watch("w", "u")).toEqual(OK);
    expect(guest.unwatch("/local/domain/5/w", "t")).toEqual(OK);
    expect(guest.unwatch("w", "t")).toEqual(err("ENOENT"));
    guest.events();
    guest.write("w", "x");
    expect(guest.events()).toEqual([["w", "u"]]);
  });

  it("ignore the transaction id, even an unknown one", () => {
    const { g: [guest] } = setup();
    expect(guest.req(XS.WATCH, "w\0t\0", 4242)).toEqual(OK);
    expect(guest.req(XS.UNWATCH, "w\0t\0", 4242)).toEqual(OK);
    expect(guest.req(XS.READ, "w\0", 4242)).toEqual(err("ENOENT"));
  });

  it("@introduceDomain/@releaseDomain reach privileged watchers, and unprivileged ones only with read access to the special node", () => {
    const { dom0, store, g: [g5] } = setup([5, 6]);
    const tool = new Client(store, 0);
    tool.watch("@introduceDomain", "in");
    tool.watch("@releaseDomain", "out");
    g5.watch("@introduceDomain", "in");
    g5.watch("@releaseDomain", "out");
    expect(g5.events()).toEqual([["@introduceDomain", "in"], ["@releaseDomain", "out"]]);
    tool.events();
    store.introduceDomain(6);
    store.releaseDomain(6);
    expect(tool.events()).toEqual([["@introduceDomain", "in"], ["@releaseDomain", "out"]]);
    expect(g5.events()).toEqual([]);
    dom0.setPerms("@releaseDomain", "n0", "r5");
    expect(g5.events()).toEqual([["@releaseDomain", "out"]]); // the permission change itself
    expect(tool.events()).toEqual([["@releaseDomain", "out"]]);
    store.introduceDomain(6);
    store.releaseDomain(6);
    expect(g5.events()).toEqual([["@releaseDomain", "out"]]);
    store.introduceDomain(0); // dom0 is never announced
    expect(tool.events()).toEqual([["@introduceDomain", "in"], ["@releaseDomain", "out"]]);
  });

  it("RESET_WATCHES and disconnect drop a client's watches", () => {
    const { store, g: [guest] } = setup();
    guest.watch("a", "1");
    guest.watch("b", "2");
    expect(store.usage(5)?.watches).toBe(2);
    expect(guest.req(XS.RESET_WATCHES, "\0")).toEqual(OK);
    expect(store.usage(5)?.watches).toBe(0);
    guest.events();
    guest.write("a", "x");
    expect(guest.events()).toEqual([]);
    guest.watch("a", "1");
    store.disconnect(guest);
    expect(store.usage(5)?.watches).toBe(0);
    const other = new Client(store, 5);
    other.write("a", "y");
    expect(guest.events()).toEqual([["a", "1"]]); // only the registration event
  });

  it("drop an event that would exceed XENSTORE_PAYLOAD_MAX, as C does", () => {
    const { dom0 } = setup([]);
    const token = "t".repeat(k("XENSTORE_PAYLOAD_MAX") - "/w".length - 2);
    expect(dom0.watch("/w", token)).toEqual(OK);
    expect(dom0.events()).toEqual([["/w", token]]);
    dom0.write("/w", "fits exactly");
    dom0.write("/w/child", "too long");
    expect(dom0.events()).toEqual([["/w", token]]);
  });
});

describe("domains", () => {
  it("INTRODUCE asks the transport, marks the domain introduced and fires @introduceDomain", () => {
    const calls: Array<[number, bigint, number]> = [];
    const { dom0, store, g: [guest] } = setup([5], { introduce: (d, mfn, port) => { calls.push([d, mfn, port]); return d !== 9; } });
    dom0.watch("@introduceDomain", "in");
    dom0.events();
    expect(dom0.req(XS.IS_DOMAIN_INTRODUCED, "5\0")).toEqual({ ok: "F\0" });
    expect(dom0.req(XS.INTRODUCE, "5\0" + "12345678901\0" + "3\0")).toEqual(OK);
    expect(calls).toEqual([[5, 12345678901n, 3]]);
    expect(dom0.events()).toEqual([["@introduceDomain", "in"]]);
    expect(dom0.req(XS.IS_DOMAIN_INTRODUCED, "5\0")).toEqual({ ok: "T\0" });
    expect(store.isIntroduced(5)).toBe(true);
    expect(dom0.req(XS.INTRODUCE, "9\0" + "1\0" + "3\0")).toEqual(err("EINVAL"));
    expect(store.isIntroduced(9)).toBe(false);
    expect(dom0.req(XS.INTRODUCE, "6\0" + "1\0" + "0\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.INTRODUCE, "6\0" + "1\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.INTRODUCE, "x\0" + "1\0" + "3\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.INTRODUCE, "40000\0" + "1\0" + "3\0")).toEqual(err("EINVAL")); // no such domain by default
    expect(guest.req(XS.INTRODUCE, "6\0" + "1\0" + "3\0")).toEqual(err("EACCES"));
    expect(calls).toHaveLength(2);
  });

  it("a second INTRODUCE resets the domain's watches and transactions without a second event", () => {
    const { dom0, store, g: [guest] } = setup();
    expect(dom0.req(XS.INTRODUCE, "5\0" + "1\0" + "3\0")).toEqual(OK);
    guest.watch("w", "t");
    const tx = guest.req(XS.TRANSACTION_START, "\0");
    dom0.watch("@introduceDomain", "in");
    dom0.events();
    expect(dom0.req(XS.INTRODUCE, "5\0" + "1\0" + "4\0")).toEqual(OK);
    expect(dom0.events()).toEqual([]);
    expect(store.usage(5)).toMatchObject({ watches: 0, transactions: 0 });
    expect(guest.read("w", Number.parseInt((tx as { ok: string }).ok))).toEqual(err("ENOENT"));
  });

  it("RELEASE detaches, drops the domain's watches and transactions and fires @releaseDomain", () => {
    const released: number[] = [];
    const { dom0, store, g: [guest] } = setup([5], { release: (d) => released.push(d) });
    expect(dom0.req(XS.RELEASE, "5\0")).toEqual(err("ENOENT"));
    store.introduceDomain(5);
    guest.watch("w", "t");
    guest.req(XS.TRANSACTION_START, "\0");
    dom0.watch("@releaseDomain", "out");
    dom0.events();
    guest.events();
    expect(guest.req(XS.RELEASE, "5\0")).toEqual(err("EACCES"));
    expect(dom0.req(XS.RELEASE, "0\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.RELEASE, "5\0")).toEqual(OK);
    expect(released).toEqual([5]);
    expect(dom0.events()).toEqual([["@releaseDomain", "out"]]);
    expect(dom0.req(XS.IS_DOMAIN_INTRODUCED, "5\0")).toEqual({ ok: "F\0" });
    expect(store.usage(5)).toBeUndefined();
    dom0.write("/local/domain/5/w", "after");
    expect(guest.events()).toEqual([]);
  });

  it("a released domain's nodes stay, owned by dom0, and a reused domid inherits no permission or quota", () => {
    const { dom0, store, g: [guest] } = setup([5], {}, { nodes: 4 });
    store.introduceDomain(5);
    expect(guest.write("a", "1")).toEqual(OK);
    expect(guest.write("b", "2")).toEqual(OK);
    expect(guest.write("c", "3")).toEqual(OK);
    expect(guest.write("d", "4")).toEqual(err("ENOSPC"));
    dom0.write("/shared", "s");
    dom0.setPerms("/shared", "n0", "r5");
    expect(guest.read("/shared")).toEqual({ ok: "s" });
    expect(dom0.req(XS.SET_QUOTA, "5\0watches\0" + "1\0")).toEqual(OK);
    store.releaseDomain(5);
    expect(dom0.read("/local/domain/5/a")).toEqual({ ok: "1" });
    expect(dom0.getPerms("/local/domain/5/a")).toEqual({ ok: "n0\0" });
    expect(store.usage(0)?.nodes).toBe(12); // 5 initial, /local, /local/domain, /shared and the released domain's 4
    const reborn = new Client(store, 5);
    store.introduceDomain(5);
    expect(store.usage(5)).toMatchObject({ nodes: 0, watches: 0, transactions: 0 });
    expect(store.quotas(5)).toEqual(store.quotas()); // per-domain quotas went with the old domain
    expect(reborn.read("/local/domain/5/a")).toEqual(err("EACCES"));
    expect(reborn.read("/shared")).toEqual(err("EACCES"));
    expect(dom0.getPerms("/shared")).toEqual({ ok: "n0\0r5\0" }); // still listed, no longer honoured
    dom0.setPerms("/shared", "n0", "r5"); // the toolstack grants it afresh
    expect(reborn.read("/shared")).toEqual({ ok: "s" });
    expect(store.check()).toEqual([]);
  });

  it("IS_DOMAIN_INTRODUCED, RESUME and SET_TARGET are privileged; DOMID_SELF is always introduced", () => {
    const { dom0, store, g: [guest] } = setup();
    expect(guest.req(XS.IS_DOMAIN_INTRODUCED, "5\0")).toEqual(err("EACCES"));
    expect(dom0.req(XS.IS_DOMAIN_INTRODUCED, `${k("DOMID_SELF")}\0`)).toEqual({ ok: "T\0" });
    expect(dom0.req(XS.IS_DOMAIN_INTRODUCED, "5")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.RESUME, "5\0")).toEqual(err("ENOENT"));
    store.introduceDomain(5);
    expect(dom0.req(XS.RESUME, "5\0")).toEqual(OK);
    expect(dom0.req(XS.RESUME, "0\0")).toEqual(err("EINVAL"));
    expect(guest.req(XS.RESUME, "5\0")).toEqual(err("EACCES"));
  });

  it("GET_FEATURE tells a domain its own features; only dom0 asks about others and sets them before INTRODUCE", () => {
    const supported = k("XENSTORE_SERVER_FEATURE_RECONNECTION") | k("XENSTORE_SERVER_FEATURE_ERROR");
    const { dom0, store, g: [guest] } = setup();
    expect(guest.req(XS.GET_FEATURE, "")).toEqual({ ok: `${supported}\0` });
    expect(guest.req(XS.GET_FEATURE, "5\0")).toEqual(err("EACCES"));
    expect(guest.req(XS.SET_FEATURE, "5\0" + "1\0")).toEqual(err("EACCES"));
    expect(dom0.req(XS.SET_FEATURE, "6\0" + "1\0")).toEqual(OK);
    expect(dom0.req(XS.GET_FEATURE, "6\0")).toEqual({ ok: "1\0" });
    expect(store.features(6)).toBe(1);
    expect(dom0.req(XS.SET_FEATURE, "6\0" + "64\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.SET_FEATURE, "6\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.GET_FEATURE, "6\0" + "7\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.GET_FEATURE, "40000\0")).toEqual(err("ENOENT"));
    store.introduceDomain(6);
    expect(dom0.req(XS.SET_FEATURE, "6\0" + "0\0")).toEqual(err("EBUSY"));
    expect(new Client(store, 6).req(XS.GET_FEATURE, "")).toEqual({ ok: "1\0" });
  });

  it("GET_QUOTA/SET_QUOTA read and set global and per-domain quotas (privileged only)", () => {
    const { dom0, store, g: [guest] } = setup();
    expect(dom0.req(XS.GET_QUOTA, "")).toEqual({ ok: "nodes watches outstanding transactions transaction-nodes node-permissions path-max node-size\0" });
    expect(dom0.req(XS.GET_QUOTA, "nodes\0")).toEqual({ ok: "1000\0" });
    expect(dom0.req(XS.GET_QUOTA, "watches\0")).toEqual({ ok: "128\0" });
    expect(dom0.req(XS.GET_QUOTA, "5\0node-size\0")).toEqual({ ok: "2048\0" });
    expect(dom0.req(XS.GET_QUOTA, "bogus\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.GET_QUOTA, "40000\0nodes\0")).toEqual(err("ENOENT"));
    expect(dom0.req(XS.GET_QUOTA, "1\0nodes\0x\0")).toEqual(err("EINVAL"));
    expect(guest.req(XS.GET_QUOTA, "nodes\0")).toEqual(err("EACCES"));
    expect(guest.req(XS.SET_QUOTA, "5\0nodes\0" + "99999\0")).toEqual(err("EACCES"));
    expect(dom0.req(XS.SET_QUOTA, "5\0nodes\0" + "2\0")).toEqual(OK);
    expect(dom0.req(XS.SET_QUOTA, "5\0nodes\0" + "two\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.SET_QUOTA, "nodes\0")).toEqual(err("EINVAL"));
    expect(guest.write("a", "")).toEqual(OK);
    expect(guest.write("b", "")).toEqual(err("ENOSPC"));
    expect(dom0.req(XS.GET_QUOTA, "nodes\0")).toEqual({ ok: "1000\0" });
    expect(dom0.req(XS.SET_QUOTA, "watches\0" + "1\0")).toEqual(OK);
    expect(store.quotas(7).watches).toBe(1); // new domains start from the global values
    expect(store.quotas(5).watches).toBe(128);
    expect(dom0.req(XS.SET_QUOTA, "5\0nodes\0" + "0\0")).toEqual(OK); // 0 disables the check
    expect(guest.write("b", "")).toEqual(OK);
  });

  it("CONTROL runs check, log, print, quota and help for privileged clients; anything else is EINVAL", () => {
    const lines: string[] = [];
    const { dom0, g: [guest] } = setup([5], { log: (l) => lines.push(l) });
    expect(dom0.req(XS.CONTROL, "check\0")).toEqual(OK);
    expect(dom0.req(XS.CONTROL, "check\0extra\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.CONTROL, "log\0")).toEqual({ ok: "Log switch settings:\nobj     : on\nio      : on\nwrl     : off\nacc     : off\ntdb     : off\n\0" });
    expect(dom0.req(XS.CONTROL, "log\0on\0")).toEqual(OK);
    expect(dom0.req(XS.CONTROL, "log\0+wrl\0")).toEqual(OK);
    expect((dom0.req(XS.CONTROL, "log\0") as { ok: string }).ok).toContain("wrl     : on\n");
    expect(dom0.req(XS.CONTROL, "log\0+nope\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.CONTROL, "print\0hello\0")).toEqual(OK);
    expect(lines).toEqual(["control: hello"]);
    expect((dom0.req(XS.CONTROL, "quota\0") as { ok: string }).ok).toMatch(/^Quota settings:\nnodes {12}: {5}1000 Nodes per domain\n/);
    expect((dom0.req(XS.CONTROL, "quota\0" + "5\0") as { ok: string }).ok).toMatch(/^Domain 5:\nnodes {12}: {8}1 \(quota {5}1000\)\n/);
    expect(dom0.req(XS.CONTROL, "quota\0set\0nodes\0" + "0\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.CONTROL, "help\0")).toEqual({ ok: expect.stringContaining("check") as unknown as string });
    expect(dom0.req(XS.CONTROL, "bogus\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.CONTROL, "check")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.CONTROL, "")).toEqual(err("EINVAL"));
    expect(guest.req(XS.CONTROL, "check\0")).toEqual(err("EACCES"));
    expect(dom0.req(k("XS_DEBUG"), "check\0")).toEqual(OK);
  });
});

describe("quotas", () => {
  it("defaults are C xenstored's", () => {
    expect(DEFAULT_QUOTAS).toEqual({ nodes: 1000, watches: 128, outstanding: 20, transactions: 10, transactionNodes: 1024, nodePermissions: 5, pathMax: 2048, nodeSize: 2048 });
    expect(new XenStore().quotas()).toEqual(DEFAULT_QUOTAS);
  });

  it("a domain owns at most 1000 nodes; a write that would need more creates nothing; dom0 is exempt", () => {
    const { dom0, store, g: [guest] } = setup();
    // 988 leaves in 10 directories (a flat directory would hit the node-size quota first) and the home.
    for (let i = 0; i < 988; i++) expect(guest.write(`g${Math.floor(i / 100)}/n${i}`, "")).toEqual(OK);
    expect(store.usage(5)?.nodes).toBe(999);
    expect(guest.write("deep/er", "")).toEqual(err("ENOSPC"));
    expect(guest.read("deep")).toEqual(err("ENOENT"));
    expect(guest.write("last", "")).toEqual(OK);
    expect(guest.write("more", "")).toEqual(err("ENOSPC"));
    expect(guest.write("g0/n1", "modify is fine")).toEqual(OK);
    expect(guest.rm("g0/n1")).toEqual(OK);
    expect(guest.write("more", "")).toEqual(OK);
    for (let i = 0; i < 1100; i++) expect(dom0.write(`/big/${i}`, "")).toEqual(OK);
    expect(dom0.write("/local/domain/5/by-dom0", "")).toEqual(OK); // privileged writers are not limited by the owner's count
    expect(store.usage(5)?.nodes).toBe(1001);
    expect(store.check()).toEqual([]);
  });

  it("a node is at most 2048 bytes, header and permissions included, for unprivileged writers", () => {
    const { dom0, g: [guest] } = setup();
    const room = 2048 - 16 - 8; // header, one permission entry
    expect(guest.write("v", "x".repeat(room))).toEqual(OK);
    expect(guest.write("v", "x".repeat(room + 1))).toEqual(err("ENOSPC"));
    expect(guest.write("w", "x".repeat(room + 1))).toEqual(err("ENOSPC"));
    expect(guest.read("w")).toEqual(err("ENOENT"));
    expect(guest.setPerms("v", "n5", "r0")).toEqual(err("ENOSPC")); // one more entry no longer fits
    expect(dom0.write("/local/domain/5/v", "x".repeat(4000))).toEqual(OK);
  });

  it("a parent's list of children counts too, so a flat directory fills up", () => {
    const { dom0, g: [guest] } = setup();
    const room = 2048 - 16 - 8; // the home directory: header and one permission entry
    expect(guest.write("a".repeat(room - 1), "")).toEqual(OK); // name and its nul fill the home exactly
    expect(guest.write("b", "")).toEqual(err("ENOSPC"));
    expect(guest.read("b")).toEqual(err("ENOENT"));
    expect(dom0.write("/local/domain/5/b", "")).toEqual(OK); // privileged writers are not limited
  });

  it("a node has at most 5 permission entries from an unprivileged client", () => {
    const { dom0, g: [guest] } = setup();
    guest.write("p", "");
    expect(guest.setPerms("p", "n5", "r1", "r2", "r3", "r4")).toEqual(OK);
    expect(guest.setPerms("p", "n5", "r1", "r2", "r3", "r4", "r6")).toEqual(err("ENOSPC"));
    expect(dom0.setPerms("/local/domain/5/p", "n5", "r1", "r2", "r3", "r4", "r6", "r7")).toEqual(OK);
  });

  it("watches: C lets an unprivileged domain register one more than the quota, then E2BIG", () => {
    const { dom0, g: [guest] } = setup();
    for (let i = 0; i <= 128; i++) expect(guest.watch(`w${i}`, "t")).toEqual(OK);
    expect(guest.watch("w-too-many", "t")).toEqual(err("E2BIG"));
    for (let i = 0; i < 300; i++) expect(dom0.watch(`/w${i}`, "t")).toEqual(OK);
  });

  it("outstanding replies: mayRead() stops an unprivileged domain at 20 undelivered replies", () => {
    const { store, dom0, g: [guest] } = setup();
    for (let i = 0; i < 20; i++) {
      expect(store.mayRead(guest)).toBe(true);
      guest.read("x");
    }
    expect(store.mayRead(guest)).toBe(false);
    store.replyDelivered(guest);
    expect(store.mayRead(guest)).toBe(true);
    for (let i = 0; i < 50; i++) dom0.read("/");
    expect(store.mayRead(dom0)).toBe(true);
  });

  it("a reply longer than XENSTORE_PAYLOAD_MAX is E2BIG", () => {
    const { dom0 } = setup([]);
    const name = (i: number) => `${String(i).padStart(4, "0")}${"c".repeat(60)}`;
    for (let i = 0; i < 70; i++) dom0.write(`/big/${name(i)}`, "");
    expect(dom0.dir("/big")).toEqual(err("E2BIG"));
  });
});

describe("DIRECTORY_PART", () => {
  it("returns the generation, the children from an offset, and an empty string once complete", () => {
    const { dom0 } = setup([]);
    dom0.write("/d/a", "");
    const first = dom0.req(XS.DIRECTORY_PART, "/d\0" + "0\0") as { ok: string };
    const [gen, ...rest] = first.ok.split("\0");
    expect(rest).toEqual(["a", "", ""]);
    dom0.write("/d/bb", "");
    const second = (dom0.req(XS.DIRECTORY_PART, "/d\0" + "0\0") as { ok: string }).ok;
    expect(second).toMatch(/^\d+\0a\0bb\0\0$/);
    expect(second.split("\0")[0]).not.toBe(gen); // adding a child changes the generation
    const g2 = second.split("\0")[0];
    expect(dom0.req(XS.DIRECTORY_PART, "/d\0" + "2\0")).toEqual({ ok: `${g2}\0bb\0\0` });
    expect(dom0.req(XS.DIRECTORY_PART, "/d\0" + "5\0")).toEqual({ ok: `${g2}\0\0` });
    expect(dom0.req(XS.DIRECTORY_PART, "/d\0" + "99\0")).toEqual({ ok: `${g2}\0\0` });
    expect(dom0.req(XS.DIRECTORY_PART, "/d\0")).toEqual(err("EINVAL"));
    expect(dom0.req(XS.DIRECTORY_PART, "/nope\0" + "0\0")).toEqual(err("ENOENT"));
  });

  it("pages through a directory too long for one reply, each part within XENSTORE_PAYLOAD_MAX", () => {
    const { dom0 } = setup([]);
    const names = Array.from({ length: 150 }, (_, i) => `${String(i).padStart(3, "0")}${"x".repeat(50)}`);
    for (const n of names) dom0.write(`/big/${n}`, "");
    let off = 0;
    const got: string[] = [];
    let gen: string | undefined;
    for (let parts = 0; parts < 10; parts++) {
      const r = dom0.req(XS.DIRECTORY_PART, `/big\0${off}\0`) as { ok: string };
      expect(r.ok.length).toBeLessThanOrEqual(k("XENSTORE_PAYLOAD_MAX"));
      const [g, ...items] = r.ok.split("\0");
      gen ??= g;
      expect(g).toBe(gen);
      const done = r.ok.endsWith("\0\0");
      const chunk = items.slice(0, done ? -2 : -1);
      got.push(...chunk);
      off += chunk.reduce((n, c) => n + c.length + 1, 0);
      if (done) break;
    }
    expect(got).toEqual(names);
  });
});

describe("toolstack API", () => {
  it("reads, writes, lists and removes with dom0 semantics; missing nodes are undefined", () => {
    const store = new XenStore();
    store.write("/vm/name", "guest-ä");
    expect(store.read("/vm/name")).toBe("guest-ä");
    expect(store.read("/vm/none")).toBeUndefined();
    expect(store.directory("/vm")).toEqual(["name"]);
    expect(store.directory("/none")).toBeUndefined();
    store.mkdir("/vm/dir");
    expect(store.directory("/vm")).toEqual(["name", "dir"]);
    store.rm("/vm");
    expect(store.read("/vm/name")).toBeUndefined();
    expect(store.getPerms("/none")).toBeUndefined();
  });

  it("throws XsError with the xsd_errors name and number", () => {
    const store = new XenStore();
    let e: unknown;
    try { store.write("/bad path", "x"); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(XsError);
    expect((e as XsError).code).toBe("EINVAL");
    expect((e as XsError).errno).toBe(22);
    expect(() => store.rm("/no/parent")).toThrow(expect.objectContaining({ code: "ENOENT", errno: 2 }));
    expect(() => store.setPerms("/", [])).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => store.releaseDomain(0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => store.introduceDomain(70000)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("sets permissions from objects or strings and gives ownership with write(.., owner)", () => {
    const store = new XenStore();
    const guest = new Client(store, 5);
    store.write("/local/domain/5/name", "g", 5);
    expect(store.getPerms("/local/domain/5/name")).toEqual([{ id: 5, perms: "n" }]);
    expect(store.getPerms("/local/domain/5")).toEqual([{ id: 0, perms: "n" }]); // created parents stay dom0's
    expect(store.usage(5)?.nodes).toBe(1);
    expect(guest.read("name")).toEqual({ ok: "g" });
    store.setPerms("/local/domain/5", [{ id: 0, perms: "n" }, "r5"]);
    expect(store.getPerms("/local/domain/5")).toEqual([{ id: 0, perms: "n" }, { id: 5, perms: "r" }]);
    expect(guest.write("x", "")).toEqual(err("EACCES"));
    store.write("/local/domain/5/name", "again", 0);
    expect(guest.read("name")).toEqual(err("EACCES"));
    expect(store.usage(5)?.nodes).toBe(0);
  });

  it("fires watches like a request would", () => {
    const store = new XenStore();
    const w = new Client(store, 0);
    w.watch("/vm", "t");
    w.events();
    store.write("/vm/a", "1");
    store.setPerms("/vm/a", ["n0", "r1"]);
    store.rm("/vm");
    store.mkdir("/vm");
    expect(w.events()).toEqual([["/vm/a", "t"], ["/vm/a", "t"], ["/vm", "t"], ["/vm", "t"]]);
  });
});
