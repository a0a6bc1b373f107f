// Loads and checks a guest module before any domain is built, so that a wrong file gets one
// clear line instead of a stack trace (docs/ABI.md §1).
import { readFileSync, statSync } from "node:fs";
import { LOW_AREA_BYTES } from "../hypervisor/domain.js";

/** Imports the harness provides. */
export const PROVIDED_IMPORTS: Record<string, Set<string>> = {
  env: new Set(["memory", "abort", "seed"]),
  xen: new Set(["event_channel_op", "grant_table_op", "sched_op", "memory_op", "console_io", "xen_version", "vcpu_op", "hvm_op", "rdtsc",
    "grant_copy_from", "grant_copy_to", "grant_load32", "grant_store32", "grant_cmpxchg32"]),
  dev: new Set(["blk_info", "blk_io", "blk_flush", "blk_discard", "net_capture", "net_uplink_send", "net_uplink_recv"]),
};

/** A guest module that passed the checks. */
export interface GuestModule { path: string; module: WebAssembly.Module }

/** Thrown for a module that is not a valid guest: the message is one line naming the file. */
export class GuestLoadError extends Error {}

function leb(bytes: Uint8Array, pos: { i: number }, signed = false): number {
  let result = 0, shift = 0, b: number;
  do {
    b = bytes[pos.i++];
    if (b === undefined) throw new GuestLoadError("truncated");
    result |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80 && shift < 35);
  if (signed && shift < 32 && (b & 0x40)) result |= -1 << shift;
  return result;
}

/** Offsets of the module's active data segments with constant offsets (for the low-area rule). */
export function activeDataOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const pos = { i: 8 };
  while (pos.i < bytes.length) {
    const id = bytes[pos.i++];
    const size = leb(bytes, pos);
    const end = pos.i + size;
    if (id === 11) {
      const count = leb(bytes, pos);
      for (let s = 0; s < count; s++) {
        const flags = leb(bytes, pos);
        if (flags === 1) { const n = leb(bytes, pos); pos.i += n; continue; }
        if (flags === 2) leb(bytes, pos);
        if (bytes[pos.i] === 0x41) { pos.i++; out.push(leb(bytes, pos, true) >>> 0); }
        while (bytes[pos.i] !== 0x0b) pos.i++;
        pos.i++;
        const n = leb(bytes, pos);
        pos.i += n;
      }
    }
    pos.i = end;
  }
  return out;
}

/** Reads, compiles and checks `path` as a xenwasm guest; throws GuestLoadError. */
export function loadGuest(path: string): GuestModule {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new GuestLoadError(`${path}: cannot read guest: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return compileGuest(bytes, path);
}

/** Compiles and checks `bytes` as a xenwasm guest (`path` names it in messages); throws GuestLoadError. */
export function compileGuest(bytes: Uint8Array<ArrayBuffer>, path: string): GuestModule {
  if (!WebAssembly.validate(bytes)) throw new GuestLoadError(`${path}: not a valid WebAssembly module`);
  const module = new WebAssembly.Module(bytes);
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const name of ["xen_start", "xen_upcall"]) {
    if (exports.get(name) !== "function") throw new GuestLoadError(`${path}: not a xenwasm guest: no exported function ${name} (docs/ABI.md §1)`);
  }
  let memory = false;
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === "env" && imp.name === "memory") { memory = imp.kind === "memory"; continue; }
    if (!PROVIDED_IMPORTS[imp.module]?.has(imp.name)) throw new GuestLoadError(`${path}: imports ${imp.module}.${imp.name}, which xenwasm does not provide (docs/ABI.md §3)`);
  }
  if (!memory) throw new GuestLoadError(`${path}: not a xenwasm guest: it must import its memory as env.memory (shared)`);
  let offsets: number[];
  try { offsets = activeDataOffsets(bytes); } catch { throw new GuestLoadError(`${path}: malformed data section`); }
  const low = offsets.find((o) => o < LOW_AREA_BYTES);
  if (low !== undefined) throw new GuestLoadError(`${path}: has data at 0x${low.toString(16)}, inside the first MiB reserved for Xen pages (build with --memoryBase 1048576)`);
  return { path, module };
}
