// Hostile input on the Unix-socket transport: a client announcing an oversized message or
// sending junk is dropped with a logged reason; the store and other clients are unaffected.
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
});
