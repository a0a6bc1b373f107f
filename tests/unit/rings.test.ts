// The toolstack's view of rings: io/ring.h's ring sizes, from the entry layouts of the headers.
import { describe, expect, it } from "vitest";
import { ringSlots } from "../../bindings/toolstack/rings.js";

describe("ringSlots (io/ring.h __CONST_RING_SIZE)", () => {
  it("gives Linux's ring sizes for blkif, netif tx/rx and the multi-page blkif ring", () => {
    expect(ringSlots(1, 112)).toBe(32); // BLK_RING_SIZE for one page
    expect(ringSlots(16, 112)).toBe(512); // ring-page-order 4
    expect(ringSlots(1, 12)).toBe(256); // NET_TX_RING_SIZE
    expect(ringSlots(1, 8)).toBe(256); // NET_RX_RING_SIZE
    expect(ringSlots(1, 4096)).toBe(0); // an entry bigger than the page after the header
  });
});
