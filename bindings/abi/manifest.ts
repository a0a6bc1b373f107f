// Loads the compiled manifest module (build/abi/manifest.wasm, built from assembly/xen/ by
// `npm run build`) and returns the ABI manifest it computes. Owns nothing beyond the call.
import * as loader from "@assemblyscript/loader";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

/** One C type: its size and the byte offset of each member (dotted paths for nested ones). */
export interface AbiType { size: number; fields: Record<string, number> }
/** The ABI manifest printed by `xenwasm abi` (docs/abi-layer.md). */
export interface AbiManifest {
  arch: "x86_64";
  types: Record<string, AbiType>;
  /** C constants; 64-bit values beyond 2^53 are kept exact as bigint. */
  constants: Record<string, number | bigint | string>;
  /** Per-row columns of C tables, e.g. "xsd_errors[].errstring". */
  tables: Record<string, Array<number | string>>;
  /** Entries newer than some header sets: name → first Xen version that has it. */
  since: Record<string, string>;
  /** The C headers the manifest mirrors, as `#include <...>` paths. */
  headers: string[];
}

/** Parses manifest JSON, keeping integers that a double cannot hold exactly as bigint. */
export function parseManifest(json: string): AbiManifest {
  const m = JSON.parse(json) as AbiManifest;
  // JSON.parse rounds integers beyond 2^53: re-read those from the text.
  for (const match of json.matchAll(/"(\w+)":(-?\d{16,})/g)) {
    const v = BigInt(match[2]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) m.constants[match[1]] = v;
  }
  return m;
}

/**
 * The manifest as JSON text with every integer exact: a bigint constant (beyond 2^53) is written
 * with all its digits, where JSON.stringify would refuse it or, through Number, round it.
 */
export function manifestToJson(m: AbiManifest): string {
  const big = new Map<string, string>();
  const text = JSON.stringify(m, (_k, v) => {
    if (typeof v !== "bigint") return v;
    const mark = `\u0000bigint${big.size}\u0000`;
    big.set(mark, v.toString());
    return mark;
  });
  return big.size === 0 ? text : text.replace(/"\\u0000bigint\d+\\u0000"/g, (q) => big.get(JSON.parse(q))!);
}

/** Runs `wasmFile` (default: the project's build/abi/manifest.wasm) and returns its JSON text. */
export function manifestJson(wasmFile: string): string {
  if (!existsSync(wasmFile)) throw new Error(`${wasmFile} does not exist: run "npm run build" first`);
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const { exports } = loader.instantiateSync<{ manifest(): number }>(readFileSync(wasmFile), {
    env: {
      memory,
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`manifest module aborted at ${line}:${col}`);
      },
    },
  });
  return exports.__getString(exports.manifest());
}

/** Returns the manifest computed by the project's build found under `root`. */
export function loadManifest(root: string): AbiManifest {
  return parseManifest(manifestJson(join(root, "build/abi/manifest.wasm")));
}
