// The toolstack's xenstore layout: device directories as libxl writes them (paths, keys,
// permissions) and the Closing/Closed handshake on detach.
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../bindings/hypervisor/hypervisor.js";
import { createHostDom0 } from "../../bindings/toolstack/builder.js";
import { Xenstored } from "../../bindings/xenstore/xenstored.js";
import { attachDevice, detachDevice, xsRead, xsRequest, xsWrite } from "../../bindings/toolstack/xenstore.js";

function daemon() {
  const hv = new Hypervisor({ now: () => 0n, poll() {}, timerChanged() {}, console() {}, seed: () => 1 });
  return new Xenstored(hv, createHostDom0(hv), () => {});
}
const dev = { type: "vbd", devid: 51712, frontend: 1, backend: 0, frontKeys: { "virtual-device": "51712" }, backKeys: { mode: "w" } };

describe("toolstack device layout", () => {
  it("writes libxl's frontend and backend directories with their permissions", () => {
    const xsd = daemon();
    const p = attachDevice(xsd, dev);
    expect(p).toEqual({ front: "/local/domain/1/device/vbd/51712", back: "/local/domain/0/backend/vbd/1/51712" });
    expect(xsRead(xsd, `${p.front}/backend`)).toBe(p.back);
    expect(xsRead(xsd, `${p.front}/backend-id`)).toBe("0");
    expect(xsRead(xsd, `${p.front}/state`)).toBe("1");
    expect(xsRead(xsd, `${p.back}/frontend`)).toBe(p.front);
    expect(xsRead(xsd, `${p.back}/frontend-id`)).toBe("1");
    expect(xsRead(xsd, `${p.back}/online`)).toBe("1");
    expect(xsRead(xsd, `${p.back}/mode`)).toBe("w");
    expect(xsRequest(xsd, "GET_PERMS", p.front)).toBe("n1\0r0\0");
    expect(xsRequest(xsd, "GET_PERMS", p.back)).toBe("n0\0r1\0");
  });

  it("detach sets Closing, waits for the backend's Closed, and removes both directories", async () => {
    const xsd = daemon();
    const p = attachDevice(xsd, dev);
    let pumps = 0;
    const ok = await detachDevice(xsd, dev, async () => {
      pumps++;
      expect(xsRead(xsd, `${p.back}/state`)).toBe("5"); // Closing
      expect(xsRead(xsd, `${p.back}/online`)).toBe("0");
      xsWrite(xsd, `${p.back}/state`, "6"); // the backend closes
    });
    expect(ok).toBe(true);
    expect(pumps).toBe(1);
    expect(xsRead(xsd, p.front)).toBeUndefined();
    expect(xsRead(xsd, p.back)).toBeUndefined();
  });

  it("detach gives up after the timeout when the backend never closes", async () => {
    const xsd = daemon();
    attachDevice(xsd, dev);
    expect(await detachDevice(xsd, dev, () => new Promise((r) => setTimeout(r, 5)), 50)).toBe(false);
  });
});
