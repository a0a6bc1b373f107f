// Every module `npm run build` produced is valid (wabt, threads on) and imports its memory as a
// shared WebAssembly.Memory, which DESIGN §1 requires of every domain.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { validateModule } from "../../bindings/build/compile.js";
import { programs } from "../../bindings/build/main.js";
import { ROOT } from "../helpers/env.js";

function wasmFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? wasmFiles(p) : p.endsWith(".wasm") ? [p] : [];
  });
}

/**
 * Imports for `mod` with `memory` as env.memory and a no-op for every function import (guests
 * import `xen.*`): V8 looks every import module up before it checks the memory, so a missing
 * module would fail with a TypeError and hide the LinkError this test is about.
 */
function stubImports(mod: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Imports {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const i of WebAssembly.Module.imports(mod)) {
    imports[i.module] ??= {};
    imports[i.module][i.name] = i.kind === "memory" ? memory : () => 0;
  }
  return imports;
}

describe("build output", () => {
  const files = wasmFiles(join(ROOT, "build"));

  it("has a release and a debug module for every AssemblyScript program", () => {
    for (const [, out] of programs()) {
      expect(files).toContain(join(ROOT, "build", out));
      expect(files).toContain(join(ROOT, "build/debug", out));
    }
  });

  it("validates every module with wabt and imports shared memory", async () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      await validateModule(f);
      const mod = new WebAssembly.Module(readFileSync(f));
      expect(WebAssembly.Module.imports(mod)).toContainEqual({ module: "env", name: "memory", kind: "memory" });
      const unshared = new WebAssembly.Memory({ initial: 64, maximum: 65536 });
      expect(() => new WebAssembly.Instance(mod, stubImports(mod, unshared)), f).toThrow(WebAssembly.LinkError);
    }
  });
});
