// `npm run build`: generates the ABI manifest module from assembly/xen/, compiles every
// AssemblyScript entry (the manifest, examples/*.ts, tests/guests/*.ts, fuzz/*.ts, drivers/*/main.ts) for
// both asconfig targets (release into build/, debug into build/debug/), and validates each.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { listModules, scanModule } from "../abi/scan.js";
import { manifestSource } from "../abi/source.js";
import { assembleWat, compileEntry, validateModule, type Entry } from "./compile.js";

/** The project root (this file is dist/bindings/build/main.js or bindings/build/main.ts). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes("/dist/") ? "../../.." : "../..");

/** Writes build/gen/abi-manifest.ts from the ABI modules and returns its path. */
export function generateManifestSource(root = ROOT): string {
  const out = join(root, "build/gen/abi-manifest.ts");
  const modules = listModules(join(root, "assembly/xen")).map((f) => scanModule(f, root));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, manifestSource(modules, out, join(root, "assembly/abi/writer.ts")));
  return out;
}

function entriesIn(root: string, dir: string, outDir: string): Array<[string, string]> {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).filter((f) => f.endsWith(".ts")).sort().map((f) => [join(dir, f), join(outDir, basename(f, ".ts") + ".wasm")]);
}

/** Lists every AssemblyScript program of the project as [source, output relative to build/]. */
export function programs(root = ROOT): Array<[string, string]> {
  const drivers = existsSync(join(root, "drivers"))
    ? readdirSync(join(root, "drivers")).filter((d) => existsSync(join(root, "drivers", d, "main.ts"))).map((d): [string, string] => [`drivers/${d}/main.ts`, `drivers/${d}.wasm`])
    : [];
  return [
    ["build/gen/abi-manifest.ts", "abi/manifest.wasm"],
    ...entriesIn(root, "examples", "examples"),
    ...entriesIn(root, "tests/guests", "tests"),
    ...entriesIn(root, "fuzz", "fuzz"),
    ...drivers,
  ];
}

/** Hand-written WAT guests (tests/guests/wat/*.wat) as [source, output relative to build/]. */
export function watGuests(root = ROOT): Array<[string, string]> {
  const dir = join(root, "tests/guests/wat");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".wat")).sort().map((f) => [join("tests/guests/wat", f), join("tests", basename(f, ".wat") + ".wasm")]);
}

async function main(): Promise<void> {
  const started = Date.now();
  generateManifestSource();
  const entries: Entry[] = [];
  for (const [source, out] of programs()) {
    entries.push({ source, outFile: join("build", out), target: "release" });
    entries.push({ source, outFile: join("build/debug", out), target: "debug" });
  }
  for (const e of entries) {
    await compileEntry(ROOT, e);
    await validateModule(join(ROOT, e.outFile));
  }
  const wats = watGuests();
  for (const [source, out] of wats) {
    await assembleWat(ROOT, source, join("build", out));
    await validateModule(join(ROOT, "build", out));
  }
  console.log(`built and validated ${entries.length + wats.length} modules in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: Error) => { console.error(`build: ${e.message}`); process.exit(1); });
}
