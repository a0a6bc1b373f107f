// Hostile input on the Unix-socket transport: a client announcing an oversized message or
// sending junk is dropped with a logged reason, after the valid requests ahead of it were
// answered; replies count as delivered once written; a client that never reads stops being read
// (bounded output) and loses nothing when it reads again; the store and other clients are
// unaffected.
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { createHostDom0 } from "../../bindings/toolstack/builder.js";
import { Xenstored } from "../../bindings/xenstore/xenstored.js";
import { Deframer, encode } from "../../bindings/xenstore/framing.js";
import { k } from "../../bindings/abi/layout.js";

const dir = mkdtempSync(join(tmpdir(), "xenwasm-sock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function client(path: string) {
  const s = connect(path);
  const d = new Deframer();
  const msgs: Array<{ type: number; text: string }> = [];
  s.on("data", (b) => d.push(new Uint8Array(b)).forEach((m) => msgs.push({ type: m.type, text: new TextDecoder().decode(m.payload) })));
  const closed = new Promise<void>((r) => s.on("close", () => r()));
  return { s, msgs, closed };
}
const until = async (f: () => boolean) => { for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10)); };
const enc = new TextEncoder();
async function daemon(name: string) {
  const logs: string[] = [];
  const hv = new Hypervisor({ now: () => 0n, poll() {}, timerChanged() {}, console() {}, seed: () => 1 });
  const xsd = new Xenstored(hv, createHostDom0(hv), (l) => logs.push(l));
  const path = join(dir, name);
  await xsd.listen(path);
  return { xsd, path, logs };
}

describe("xenstored socket transport", () => {
  it("drops a client that announces an oversized message and keeps serving others", async () => {
    const logs: string[] = [];
    const hv = new Hypervisor({ now: () => 0n, poll() {}, timerChanged() {}, console() {}, seed: () => 1 });
    const xsd = new Xenstored(hv, createHostDom0(hv), (l) => logs.push(l));
    const path = join(dir, "xs.sock");
    await xsd.listen(path);
    try {
      const good = client(path);
      const bad = client(path);
      const header = new Uint8Array(16);
      new DataView(header.buffer).setUint32(12, 100_000, true); // len far above 4096
      bad.s.write(header);
      await bad.closed;
      expect(logs.join("\n")).toMatch(/announces 100000 payload bytes \(max 4096\)/);
      const enc = new TextEncoder();
      good.s.write(encode({ type: k("XS_WRITE"), reqId: 7, txId: 0, payload: enc.encode("/tool/x\0v") }));
      good.s.write(encode({ type: k("XS_READ"), reqId: 8, txId: 0, payload: enc.encode("/tool/x\0") }));
      good.s.write(encode({ type: k("XS_READ"), reqId: 9, txId: 0, payload: enc.encode("no//such\0") }));
      await until(() => good.msgs.length >= 3);
      expect(good.msgs).toEqual([{ type: k("XS_WRITE"), text: "OK\0" }, { type: k("XS_READ"), text: "v" }, { type: k("XS_ERROR"), text: "EINVAL\0" }]);
      good.s.destroy();
    } finally {
      xsd.close();
    }
  });

  it("answers a valid request that arrives in the same read as an oversized header, then drops the client", async () => {
    // issue 15, defect 1: the WRITE was dropped unanswered and unapplied when the next header
    // (announcing 5000 bytes) came in the same chunk.
    const { xsd, path, logs } = await daemon("same-read.sock");
    try {
      const c = client(path);
      const bad = new Uint8Array(16);
      const v = new DataView(bad.buffer);
      v.setUint32(0, k("XS_READ"), true);
      v.setUint32(4, 2, true);
      v.setUint32(12, 5000, true);
      const write = encode({ type: k("XS_WRITE"), reqId: 1, txId: 0, payload: enc.encode("/probe1/a\0applied") });
      const both = new Uint8Array(write.length + bad.length);
      both.set(write);
      both.set(bad, write.length);
      c.s.write(both);
      await c.closed;
      expect(c.msgs).toEqual([{ type: k("XS_WRITE"), text: "OK\0" }]);
      expect(xsd.store.read("/probe1/a")).toBe("applied");
      expect(logs.join("\n")).toMatch(/announces 5000 payload bytes \(max 4096\); closing it/);
    } finally {
      xsd.close();
    }
  });

  it("counts each reply as delivered once written: dom0's outstanding count returns to 0", async () => {
    // issue 15, defect 2: the count only grew (CONTROL quota 0 showed millions against a quota of 20).
    const { xsd, path } = await daemon("outstanding.sock");
    try {
      const c = client(path);
      for (let i = 0; i < 300; i++) c.s.write(encode({ type: k("XS_READ"), reqId: i, txId: 0, payload: enc.encode("/local\0") }));
      await until(() => c.msgs.length >= 300);
      expect(c.msgs).toHaveLength(300);
      c.s.write(encode({ type: k("XS_CONTROL"), reqId: 999, txId: 0, payload: enc.encode("quota\x000\0") }));
      await until(() => c.msgs.length >= 301);
      expect(c.msgs[300].text).toMatch(/outstanding +: +0 \(quota/);
      c.s.destroy();
    } finally {
      xsd.close();
    }
  });

  it("stops reading a client that never reads its replies, and loses nothing when it does", async () => {
    // issue 15, defect 4: 50,000 unread 4 KB replies grew the process by 105 MB for good.
    const { xsd, path } = await daemon("unread.sock");
    try {
      xsd.store.write("/big", "x".repeat(4000));
      let handled = 0;
      xsd.onExternalInput = () => { handled++; };
      const N = 2000;
      const c = client(path);
      c.s.pause(); // a client that does not read
      const req = (i: number) => encode({ type: k("XS_READ"), reqId: i, txId: 0, payload: enc.encode("/big\0") });
      for (let i = 0; i < N; i++) c.s.write(req(i));
      await new Promise((r) => setTimeout(r, 500));
      // At most the output bound (256 KiB) plus what the kernel's socket buffers hold was answered.
      expect(handled).toBeGreaterThan(0);
      expect(handled).toBeLessThan(N / 2);
      c.s.resume();
      await until(() => c.msgs.length >= N);
      expect(c.msgs).toHaveLength(N);
      expect(c.msgs.every((m) => m.type === k("XS_READ") && m.text.length === 4000)).toBe(true);
      expect(handled).toBe(N);
      c.s.destroy();
    } finally {
      xsd.close();
    }
  });
});
