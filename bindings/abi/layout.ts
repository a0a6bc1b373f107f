// The host's view of the Xen ABI: struct offsets and constants read from the compiled manifest
// (assembly/xen/ through build/abi/manifest.wasm), so the harness and the guest SDK share one
// definition of every number. Loaded once per thread, on first use.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadManifest, type AbiManifest } from "./manifest.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes("/dist/") ? "../../.." : "../..");

let manifest: AbiManifest | null = null;

/** The ABI manifest of this package's build (loaded on first call). */
export function abi(): AbiManifest {
  return (manifest ??= loadManifest(ROOT));
}

/** Layout of one C struct: `size` and each member's offset by C member name. */
export type Layout = Readonly<Record<string, number>> & { readonly size: number };

/** Returns the layout of C type `type` ("struct evtchn_send"); throws if the ABI lacks it. */
export function layout(type: string): Layout {
  const t = abi().types[type];
  if (!t) throw new Error(`ABI manifest has no ${type}`);
  return Object.freeze({ ...t.fields, size: t.size }) as Layout;
}

/** Returns integer constant `name` (e.g. "XEN_EINVAL", "GNTST_bad_gntref"); throws if absent. */
export function k(name: string): number {
  const v = abi().constants[name];
  if (typeof v !== "number") throw new Error(`ABI manifest has no integer constant ${name}`);
  return v;
}

/** Returns string constant `name` (e.g. "XEN_IO_PROTO_ABI_X86_64"). */
export function ks(name: string): string {
  const v = abi().constants[name];
  if (typeof v !== "string") throw new Error(`ABI manifest has no string constant ${name}`);
  return v;
}
