// The ring transport against a guest that never reads its replies or breaks the framing:
// xenstored's memory stays bounded, it stops taking that guest's requests, and a bad header
// makes it ignore the ring — the store and other clients are unaffected.
import { describe, expect, it } from "vitest";
import { layout, k } from "../../bindings/abi/layout.js";
import { bench } from "../hypervisor/fixture.js";
import { RingConnection, MAX_QUEUED_REPLIES } from "../../bindings/xenstore/ring.js";
import { XenStore } from "../../bindings/xenstore/store.js";
import { encode } from "../../bindings/xenstore/framing.js";
import type { Domain } from "../../bindings/hypervisor/domain.js";
import { Client } from "./client.js";

const XI = layout("struct xenstore_domain_interface");
const BASE = 2 * 4096;

/** Writes `bytes` into the guest's request ring and publishes them. */
function guestSend(d: Domain, bytes: Uint8Array): void {
  let prod = d.u32(BASE + XI.req_prod);
  for (const b of bytes) d.u8[BASE + XI.req + (prod++ % 1024)] = b;
  Atomics.store(d.i32, (BASE + XI.req_prod) >> 2, prod);
}

describe("xenstore ring transport", () => {
  it("stops serving a guest that never reads its replies, with bounded output", () => {
    const { doms: [a] } = bench(1);
    const logs: string[] = [];
    const store = new XenStore();
    const conn = new RingConnection(1, a, () => {}, (c, m) => store.request(c, m), (l) => logs.push(l));
    store.connect(conn);
    const req = encode({ type: k("XS_READ"), reqId: 1, txId: 0, payload: new TextEncoder().encode("/tool\0") });
    for (let i = 0; i < 200; i++) {
      const used = (d: Domain) => (d.u32(BASE + XI.req_prod) - d.u32(BASE + XI.req_cons)) >>> 0;
      if (used(a) + req.length <= 1024) guestSend(a, req);
      conn.service();
    }
    const queued = (conn as unknown as { out: unknown[] }).out.length;
    expect(queued).toBeLessThanOrEqual(MAX_QUEUED_REPLIES);
    expect(queued).toBeGreaterThan(0);
    // The request ring is left full: the guest must read before it is served again.
    expect((a.u32(BASE + XI.req_prod) - a.u32(BASE + XI.req_cons)) >>> 0).toBeGreaterThan(1024 - req.length);
    // Once it reads every reply, it is served again.
    Atomics.store(a.i32, (BASE + XI.rsp_cons) >> 2, a.u32(BASE + XI.rsp_prod));
    expect(conn.service()).toBeGreaterThan(0);
  });

  it("ignores the ring of a guest that announces an oversized message", () => {
    const { doms: [a] } = bench(1);
    const logs: string[] = [];
    const store = new XenStore();
    const conn = new RingConnection(1, a, () => {}, (c, m) => store.request(c, m), (l) => logs.push(l));
    store.connect(conn);
    const header = new Uint8Array(16);
    new DataView(header.buffer).setUint32(12, 100_000, true);
    guestSend(a, header);
    expect(conn.service()).toBe(0);
    expect(conn.broken).toMatch(/announces 100000 payload bytes/);
    expect(logs.join("\n")).toMatch(/g1 \(1\): message announces 100000 payload bytes .*ignoring its ring/);
    store.write("/tool/still", "ok");
    expect(store.read("/tool/still")).toBe("ok");
  });

  it("counts a reply delivered once it is in the ring, and holds requests at the domain's outstanding quota", () => {
    // issue 15, defect 2: no transport reported deliveries, so the count only grew (a guest's
    // CONTROL quota showed 39 against 20) and SET_QUOTA outstanding changed nothing.
    const { doms: [a] } = bench(1);
    const store = new XenStore();
    const conn = new RingConnection(1, a, () => {}, (c, m) => store.request(c, m), () => {}, () => {}, undefined,
      (c) => store.mayRead(c), (c) => store.replyDelivered(c));
    store.connect(conn);
    const tool = new Client(store, 0, true);
    expect(tool.req(k("XS_SET_QUOTA"), "1\x00outstanding\x005\x00")).toEqual({ ok: "OK\0" });
    const outstanding = () => Number(/outstanding +: +(\d+)/.exec((tool.req(k("XS_CONTROL"), "quota\x001\x00") as { ok: string }).ok)![1]);
    const req = encode({ type: k("XS_READ"), reqId: 1, txId: 0, payload: new TextEncoder().encode("/tool\0") });
    const used = (f: number, g: number) => (a.u32(BASE + f) - a.u32(BASE + g)) >>> 0;
    let served = 0;
    for (let i = 0; i < 400; i++) {
      if (used(XI.req_prod, XI.req_cons) + req.length <= 1024) guestSend(a, req);
      served += conn.service();
    }
    // Replies in the ring are delivered; the 5 beyond it wait in xenstored, and then no more
    // requests are handled: the quota holds.
    const queued = (conn as unknown as { out: unknown[] }).out.length;
    expect(queued).toBe(5);
    expect(outstanding()).toBe(5);
    const inRing = Math.floor(1024 / 23); // a 23-byte ENOENT reply each
    expect(served).toBe(inRing + 5);
    // The guest reads everything: the held requests are served and the count goes back down.
    for (let i = 0; i < 200 && used(XI.req_prod, XI.req_cons) + used(XI.rsp_prod, XI.rsp_cons) > 0; i++) {
      Atomics.store(a.i32, (BASE + XI.rsp_cons) >> 2, a.u32(BASE + XI.rsp_prod));
      served += conn.service();
    }
    Atomics.store(a.i32, (BASE + XI.rsp_cons) >> 2, a.u32(BASE + XI.rsp_prod));
    conn.service();
    expect(outstanding()).toBe(0);
    expect(used(XI.req_prod, XI.req_cons)).toBe(0);
  });

  it("answers a valid request ahead of an oversized header before it ignores the ring", () => {
    // issue 15, defect 1, on the guest ring (the framing is shared with the socket).
    const { doms: [a] } = bench(1);
    const store = new XenStore();
    const conn = new RingConnection(1, a, () => {}, (c, m) => store.request(c, m), () => {});
    store.connect(conn);
    const tool = new Client(store, 0, true);
    expect(tool.req(k("XS_MKDIR"), "/local/domain/1\0")).toEqual({ ok: "OK\0" });
    expect(tool.req(k("XS_SET_PERMS"), "/local/domain/1\0n1\0")).toEqual({ ok: "OK\0" });
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setUint32(12, 5000, true);
    guestSend(a, encode({ type: k("XS_WRITE"), reqId: 1, txId: 0, payload: new TextEncoder().encode("data/x\0applied") }));
    guestSend(a, bad);
    expect(conn.service()).toBe(1);
    expect(store.read("/local/domain/1/data/x")).toBe("applied");
    expect(a.u32(BASE + XI.rsp_prod)).toBe(16 + 3); // the reply "OK\0" is in the ring
    expect(conn.broken).toMatch(/announces 5000 payload bytes/);
  });
});
