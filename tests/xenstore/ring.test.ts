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
});
