// The manifest generator reads the ABI modules' conventions strictly: a declaration it does not
// understand is an error naming file and line, never an entry silently left out.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanModule } from "../../bindings/abi/scan.js";

const dir = mkdtempSync(join(tmpdir(), "xenwasm-scan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scan(text: string) {
  const f = join(dir, "m.ts");
  writeFileSync(f, text);
  return scanModule(f, dir);
}

const HEAD = "// Mirrors xen/include/public/io/demo.h: test\n";

describe("scanModule", () => {
  it("reads constants, tags, classes, fields, C paths and tables", () => {
    const m = scan(HEAD + [
      "/** A constant. @since 4.19 */",
      "export const DEMO_A: u32 = 1;",
      "/** Doc.",
      " * @ctype union demo_u",
      " */",
      "@unmanaged export class demo_u {",
      "  a: u16;",
      "  __padding0: u16;",
      "  @array(4) b: u8; // @c x.b, y.c",
      "  get z(): u32 { return 0; }",
      "}",
      "/** @c demo_table[].errnum */",
      "export const demo_nums: StaticArray<i32> = [1, 2];",
    ].join("\n"));
    expect(m.header).toBe("xen/io/demo.h");
    expect(m.constants).toEqual([{ name: "DEMO_A", asType: "u32", since: "4.19" }]);
    expect(m.types).toEqual([{ asName: "demo_u", cName: "union demo_u", since: undefined, fields: [
      { asName: "a", cNames: ["a"] }, { asName: "b", cNames: ["x.b", "y.c"] },
    ] }]);
    expect(m.tables).toEqual([{ name: "demo_nums", cName: "demo_table[].errnum", element: "i32" }]);
  });

  it("requires the header line", () => {
    expect(() => scan("export const A: i32 = 1;\n")).toThrow(/m\.ts:1: first line must be/);
  });

  it("requires explicit constant types", () => {
    expect(() => scan(HEAD + "export const A = 1;\n")).toThrow(/m\.ts:2: exported constants need an explicit type/);
  });

  it("rejects a field it cannot read", () => {
    expect(() => scan(HEAD + "@unmanaged export class s {\n  a: u16; b: u16;\n}\n")).toThrow(/m\.ts:3: field declaration not understood/);
  });

  it("requires tables to name their C column", () => {
    expect(() => scan(HEAD + "export const t: StaticArray<i32> = [1];\n")).toThrow(/m\.ts:2: table t needs a "@c name\[\]\.member" doc tag/);
  });
});
