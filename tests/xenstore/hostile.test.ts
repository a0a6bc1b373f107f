// Hostile clients: oversized and malformed payloads, junk paths, unknown types, quota exhaustion
// and a seeded fuzz run. Each must get one clear reply while the store and the other clients stay
// as they were.
import { describe, expect, it } from "vitest";
import { Client, ERRNAMES, OK, err, type Result } from "./client.js";
import { XenStore, XS, type XsConnection, type XsMessage } from "../../bindings/xenstore/store.js";
import { bin, bytes } from "../../bindings/xenstore/wire.js";
import { abi, k } from "../../bindings/abi/layout.js";

const MAX = k("XENSTORE_PAYLOAD_MAX");


/** A store with dom0, a hostile guest 5 and a bystander guest 7 that owns a node and watches it. */
function world() {
  const store = new XenStore();
  for (const d of [5, 7]) {
    store.mkdir(`/local/domain/${d}`);
    store.setPerms(`/local/domain/${d}`, [`n${d}`]);
  }
  store.write("/local/domain/7/data", "precious", 7);
  const dom0 = new Client(store, 0);
  const evil = new Client(store, 5);
  const victim = new Client(store, 7);
  expect(victim.req(XS.WATCH, "data\0v\0")).toEqual(OK);
  victim.events();
  return { store, dom0, evil, victim };
}

/** The state that hostile input must not change. */
function unharmed({ store, dom0, victim }: ReturnType<typeof world>) {
  expect(store.check()).toEqual([]);
  expect(dom0.req(XS.DIRECTORY, "/tool\0")).toEqual({ ok: "xenstored\0" });
  for (const p of ["/", "/tool", "/tool/xenstored", "@introduceDomain"]) expect(store.getPerms(p)).toEqual([{ id: 0, perms: "n" }]);
  expect(victim.req(XS.READ, "data\0")).toEqual({ ok: "precious" });
  expect(store.getPerms("/local/domain/7/data")).toEqual([{ id: 7, perms: "n" }]);
  victim.events();
  expect(victim.req(XS.WRITE, "data\0precious")).toEqual(OK);
  expect(victim.events()).toEqual([["data", "v"]]);
}

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("hostile input", () => {
  it("a payload over XENSTORE_PAYLOAD_MAX gets E2BIG and changes nothing; exactly the maximum is fine", () => {
    const w = world();
    const over = bytes("/local/domain/5/x\0" + "v".repeat(MAX));
    expect(w.evil.raw(XS.WRITE, over)).toEqual(err("E2BIG"));
    expect(w.dom0.raw(XS.WRITE, bytes("/big\0" + "v".repeat(MAX + 10)))).toEqual(err("E2BIG"));
    expect(w.dom0.req(XS.READ, "/big\0")).toEqual(err("ENOENT"));
    expect(w.dom0.raw(XS.WRITE, bytes("/big\0" + "v".repeat(MAX - 5)))).toEqual(OK);
    expect(w.dom0.raw(XS.READ, bytes("/big\0"))).toEqual({ ok: "v".repeat(MAX - 5) });
    expect(w.evil.raw(XS.WATCH, bytes("/x\0" + "t".repeat(MAX) + "\0"))).toEqual(err("E2BIG"));
    unharmed(w);
  });

  it("missing or extra nul terminators are EINVAL, never a guess", () => {
    const w = world();
    const { evil } = w;
    expect(evil.req(XS.READ, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.READ, "x\0y\0")).toEqual(err("EINVAL"));
    expect(evil.req(XS.READ, "x\0y")).toEqual(err("EINVAL"));
    expect(evil.req(XS.READ, "")).toEqual(err("EINVAL"));
    expect(evil.req(XS.WRITE, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.MKDIR, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.RM, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.DIRECTORY, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.GET_PERMS, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.SET_PERMS, "x\0n5")).toEqual(err("EINVAL"));
    expect(evil.req(XS.WATCH, "x\0t")).toEqual(err("EINVAL"));
    expect(evil.req(XS.WATCH, "x\0t\0extra\0")).toEqual(err("EINVAL"));
    expect(evil.req(XS.UNWATCH, "x")).toEqual(err("EINVAL"));
    expect(evil.req(XS.DIRECTORY_PART, "x\0" + "0")).toEqual(err("EINVAL"));
    expect(evil.req(XS.GET_DOMAIN_PATH, "5")).toEqual(err("EINVAL"));
    const t = Number.parseInt((evil.req(XS.TRANSACTION_START, "\0") as { ok: string }).ok);
    expect(evil.req(XS.TRANSACTION_END, "T", t)).toEqual(err("EINVAL"));
    expect(evil.req(XS.TRANSACTION_END, "", t)).toEqual(err("EINVAL"));
    expect(evil.req(XS.TRANSACTION_END, "F\0", t)).toEqual(OK);
    // a value may contain nuls: WRITE splits at the first one only
    expect(evil.req(XS.WRITE, "x\0a\0b")).toEqual(OK);
    expect(evil.req(XS.READ, "x\0")).toEqual({ ok: "a\0b" });
    unharmed(w);
  });

  it("junk paths are EINVAL for every path-taking request", () => {
    const w = world();
    const junk = ["..", "/a/../b", "/a/./b", "/a b", "/\xff", "/\x01", "\x7f", "/a//b", "//", "/a/", "", "/a\\b", "/a*", "/%2e", "a/", "@x/", "/\u00e9"];
    for (const p of junk) {
      for (const type of [XS.READ, XS.MKDIR, XS.RM, XS.DIRECTORY, XS.GET_PERMS]) expect(w.evil.req(type, `${p}\0`), `${type} ${JSON.stringify(p)}`).toEqual(err("EINVAL"));
      expect(w.evil.req(XS.WRITE, `${p}\0v`)).toEqual(err("EINVAL"));
      expect(w.evil.req(XS.WATCH, `${p}\0t\0`)).toEqual(err("EINVAL"));
      expect(w.evil.req(XS.SET_PERMS, `${p}\0n5\0`)).toEqual(err("EINVAL"));
      expect(w.evil.req(XS.DIRECTORY_PART, `${p}\0` + "0\0")).toEqual(err("EINVAL"));
    }
    unharmed(w);
  });

  it("unknown, reply-only and non-integer message types are ENOSYS", () => {
    const w = world();
    for (const type of [k("XS_WATCH_EVENT"), k("XS_ERROR"), 20, 27, 28, 1000, k("XS_INVALID"), -1, 2 ** 32, 1.5, Number.NaN]) {
      expect(w.evil.req(type, "x\0"), String(type)).toEqual(err("ENOSYS"));
      expect(w.dom0.req(type, ""), String(type)).toEqual(err("ENOSYS"));
    }
    unharmed(w);
  });

  it("every request type with an empty payload gets one reply, from privileged and unprivileged clients", () => {
    const w = world();
    for (let type = 0; type <= 30; type++) {
      w.evil.req(type, "");
      w.dom0.req(type, "");
      w.evil.req(type, "\0");
      w.dom0.req(type, "\0\0\0");
    }
    unharmed(w);
  });

  it("echoes any reqId and txId; an unknown txId is ENOENT without touching the store", () => {
    const w = world();
    expect(w.evil.raw(XS.READ, bytes("/local/domain/7/data\0"), 0, 0xffffffff)).toEqual(err("EACCES"));
    expect(w.evil.raw(XS.WRITE, bytes("x\0y"), 0xffffffff, 0)).toEqual(err("ENOENT"));
    expect(w.evil.req(XS.READ, "x\0")).toEqual(err("ENOENT"));
    unharmed(w);
  });

  it("a guest cannot reach dom0's or another guest's nodes, nor escalate", () => {
    const w = world();
    const { evil } = w;
    expect(evil.req(XS.READ, "/local/domain/7/data\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.WRITE, "/local/domain/7/data\0pwned")).toEqual(err("EACCES"));
    expect(evil.req(XS.RM, "/local/domain/7\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.SET_PERMS, "/local/domain/7/data\0n5\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.SET_PERMS, "/local/domain/5\0n0\0b5\0")).toEqual(err("EPERM"));
    expect(evil.req(XS.WRITE, "/tool/xenstored/x\0y")).toEqual(err("EACCES"));
    expect(evil.req(XS.RM, "/\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.SET_PERMS, "@releaseDomain\0n5\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.INTRODUCE, "5\0" + "1\0" + "1\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.RELEASE, "7\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.SET_TARGET, "5\0" + "7\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.CONTROL, "quota\0set\0nodes\0" + "99999\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.SET_QUOTA, "5\0nodes\0" + "0\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.SET_FEATURE, "5\0" + "3\0")).toEqual(err("EACCES"));
    expect(evil.req(XS.WATCH, "/local/domain/7/data\0spy\0")).toEqual(OK); // allowed, but blind
    expect(evil.events()).toEqual([["/local/domain/7/data", "spy"]]);
    unharmed(w);
    expect(evil.events()).toEqual([]);
  });

  it("a guest exhausting its quotas hits ENOSPC/E2BIG while other guests carry on", () => {
    const w = world();
    const { evil, store } = w;
    let r: Result = OK;
    let i = 0;
    for (; i < 2000 && "ok" in r; i++) r = evil.req(XS.WRITE, `d${i >> 6}/n${i}\0`);
    expect(r).toEqual(err("ENOSPC"));
    expect(store.usage(5)?.nodes).toBe(1000);
    for (i = 0; i < 200 && "ok" in (r = evil.req(XS.WATCH, `w${i}\0t\0`)); i++);
    expect(r).toEqual(err("E2BIG"));
    for (i = 0; i < 200 && "ok" in (r = evil.req(XS.TRANSACTION_START, "\0")); i++);
    expect(r).toEqual(err("ENOSPC"));
    expect(evil.req(XS.WRITE, "big\0" + "x".repeat(3000))).toEqual(err("ENOSPC"));
    expect(w.victim.req(XS.WRITE, "more/nodes\0fine")).toEqual(OK);
    expect(w.victim.req(XS.TRANSACTION_START, "\0")).toEqual({ ok: "1\0" });
    unharmed(w);
  });

  it("tokens are arbitrary bytes and come back exactly", () => {
    const w = world();
    const token = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join("");
    expect(w.evil.req(XS.WATCH, `mine\0${token}\0`)).toEqual(OK);
    expect(w.evil.events()).toEqual([["mine", token]]);
    expect(w.evil.req(XS.UNWATCH, `mine\0${token}\0`)).toEqual(OK);
    unharmed(w);
  });

  it("a transport hook that throws gives EIO and leaves the store consistent", () => {
    const logged: string[] = [];
    const store = new XenStore({ introduce: () => { throw new Error("ring mapping failed"); }, log: (l) => logged.push(l) });
    const dom0 = new Client(store, 0);
    expect(dom0.req(XS.INTRODUCE, "3\0" + "1\0" + "1\0")).toEqual(err("EIO"));
    expect(store.isIntroduced(3)).toBe(false);
    expect(logged.join("\n")).toContain("ring mapping failed");
    expect(dom0.req(XS.WRITE, "/x\0y")).toEqual(OK);
    expect(store.check()).toEqual([]);
  });

  it("survives a seeded fuzz run of malformed and well-formed requests from two guests", () => {
    const w = world();
    const evil2 = new Client(w.store, 6);
    w.store.mkdir("/local/domain/6");
    w.store.setPerms("/local/domain/6", ["n6", "b5"]);
    const rnd = mulberry32(0x5eed);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
    const words = [
      "", "a", "b/c", "x/y/z", "/local/domain/5/q", "/local/domain/6/shared", "/local/domain/7/data", "/", "/tool", "@releaseDomain",
      "@introduceDomain", "T", "F", "n5", "r0", "b6", "w7", "n0x5", "0", "5", "6", "7", "65536", "-1", "check", "log", "quota", "nodes",
      "../x", "a//b", "a/", "\xff\xfe", "tok", "a".repeat(300), "/local/domain/5/" + "d/".repeat(40) + "e",
    ];
    const types = [...Object.values(XS), 20, 27, 99];
    const txs: number[] = [0, 0, 0, 1, 2, 3];
    for (let n = 0; n < 4000; n++) {
      const c = rnd() < 0.5 ? w.evil : evil2;
      const parts = Array.from({ length: Math.floor(rnd() * 4) }, () => pick(words));
      let payload = parts.join("\0");
      if (rnd() < 0.8) payload += "\0";
      if (rnd() < 0.05) payload += String.fromCharCode(Math.floor(rnd() * 256)).repeat(Math.floor(rnd() * 50));
      const r = c.req(pick(types), payload, pick(txs));
      if ("ok" in r && r.ok.match(/^\d+\0$/)) txs.push(Number.parseInt(r.ok));
    }
    unharmed(w);
    // Nothing a guest did let it own nodes outside the places it may write.
    for (const d of [5, 6]) expect(w.store.usage(d)!.nodes).toBeLessThanOrEqual(1000);
    expect(w.dom0.req(XS.READ, "/local/domain/7/data\0")).toEqual({ ok: "precious" });
    expect(w.store.directory("/local/domain")).toEqual(["5", "7", "6"]);
  });
});
