// Compiles AssemblyScript entries with asconfig.json's targets and validates each module with
// wabt (threads enabled), so that a module the harness loads is always well-formed.
import asc from "assemblyscript/asc";
import wabtInit from "wabt";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** One AssemblyScript program to build: its entry file and where the .wasm goes. */
export interface Entry { source: string; outFile: string; target: "release" | "debug" }

/** Compiles `entry` (paths relative to the project root `root`); throws with asc's diagnostics on failure. */
export async function compileEntry(root: string, entry: Entry): Promise<void> {
  mkdirSync(dirname(resolve(root, entry.outFile)), { recursive: true });
  let errors = "";
  const stream = { write(s: string | Uint8Array) { errors += typeof s === "string" ? s : Buffer.from(s).toString(); return true; } };
  // The @array transform is passed by absolute path: asc resolves a relative transform path
  // from asconfig.json as a bare module name and would not find it.
  const transform = join(root, "transform/array.js");
  const outFile = resolve(root, entry.outFile);
  const args = [entry.source, "--baseDir", root, "--config", "asconfig.json", "--target", entry.target, "--outFile", outFile, "--transform", transform];
  if (entry.target === "debug") args.push("--textFile", outFile.replace(/\.wasm$/, ".wat"));
  const { error } = await asc.main(args, { stdout: stream, stderr: stream });
  if (error) throw new Error(`asc ${entry.source} (${entry.target}) failed: ${error.message}\n${errors}`);
}

let wabt: Awaited<ReturnType<typeof wabtInit>> | null = null;

const FEATURES = { threads: true, bulk_memory: true, sign_extension: true, mutable_globals: true, sat_float_to_int: true, simd: true };

/** Assembles a hand-written WAT guest (tests/guests/wat/) into `outFile` with wabt. */
export async function assembleWat(root: string, source: string, outFile: string): Promise<void> {
  wabt ??= await wabtInit();
  const text = readFileSync(resolve(root, source), "utf8");
  const mod = wabt.parseWat(source, text, FEATURES);
  try {
    mod.resolveNames();
    (mod.validate as (f?: object) => void).call(mod, FEATURES);
    const out = resolve(root, outFile);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, mod.toBinary({ log: false }).buffer);
  } finally {
    mod.destroy();
  }
}

/** Validates a built module with wabt's validator (threads on); throws naming the file. */
export async function validateModule(file: string): Promise<void> {
  wabt ??= await wabtInit();
  const features = FEATURES;
  // A copy: a small file comes back as a slice of a pooled buffer, which wabt would read whole.
  const mod = wabt.readWasm(new Uint8Array(readFileSync(file)), { readDebugNames: false, ...features });
  try {
    (mod.validate as (f?: object) => void).call(mod, features); // typings omit the features argument
  } catch (e) {
    throw new Error(`${file}: not a valid WebAssembly module: ${(e as Error).message}`);
  } finally {
    mod.destroy();
  }
}
