// The harness's console line assembly under a guest that never writes a newline (found by
// `xenwasm fuzz --target console`): it used to keep the whole unfinished line and re-split it on
// every write, so 2 MiB without a newline took 25 s and grew without bound. A line is now emitted
// in pieces of MAX_CONSOLE_LINE characters, and every byte still arrives, in order.
import { describe, expect, it } from "vitest";
import { ConsoleLines, MAX_CONSOLE_LINE } from "../../bindings/runner/common.js";

describe("ConsoleLines", () => {
  it("emits an endless line in bounded pieces and loses no byte", () => {
    const out: string[] = [];
    const c = new ConsoleLines((l) => out.push(l));
    const chunk = new Uint8Array(128);
    const total = 2 << 20;
    for (let i = 0; i < total / 128; i++) {
      for (let j = 0; j < 128; j++) chunk[j] = 0x41 + ((i * 128 + j) % 26);
      c.write(1, "g", chunk);
    }
    // Without the bound nothing is emitted until the newline.
    expect(out.length).toBe(Math.floor(total / MAX_CONSOLE_LINE));
    c.write(1, "g", new TextEncoder().encode("tail\n"));
    c.write(1, "g", new TextEncoder().encode("next line\n"));
    expect(out.every((l) => l.startsWith("[g] ") && l.length <= MAX_CONSOLE_LINE + 4)).toBe(true);
    const text = out.slice(0, -1).map((l) => l.slice(4)).join("");
    expect(text.length).toBe(total + 4);
    for (let k = 0; k < total; k += 4099) expect(text.charCodeAt(k)).toBe(0x41 + (k % 26));
    expect(text.endsWith("tail")).toBe(true);
    expect(out.at(-1)).toBe("[g] next line");
  });

  it("keeps short lines whole and joins a line written in pieces", () => {
    const out: string[] = [];
    const c = new ConsoleLines((l) => out.push(l));
    const enc = new TextEncoder();
    c.write(2, "h", enc.encode("hel"));
    c.write(2, "h", enc.encode("lo\r\nworld\n"));
    c.write(2, "h", enc.encode("€"));
    c.flush(2, "h");
    expect(out).toEqual(["[h] hello", "[h] world", "[h] €"]);
  });
});
