// Proves the ABI manifest against the real Xen public headers: turns every entry into a line of
// a C program that includes <xen/...>, compiles it with gcc, runs it and compares the numbers.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AbiManifest } from "./manifest.js";

/** One manifest entry that gcc disagrees with. */
export interface Mismatch { entry: string; manifest: string; headers: string }
/** What a check found: agreeing entries, disagreements, names the headers lack, skipped ones. */
export interface CheckResult {
  headersVersion: string;
  checked: number;
  mismatches: Mismatch[];
  /** Entries the headers do not define (gcc rejected their line). */
  unknown: string[];
  /** Entries marked newer than the headers, listed rather than checked. */
  unchecked: string[];
}

/** Options for `checkManifest`: the compiler and where the headers are. */
export interface CheckOptions { cc?: string; includeDir?: string; headersVersion?: string }

/** The directory holding Debian's libxen-dev headers (`xen/xen.h`). */
export const DEFAULT_INCLUDE = "/usr/include";

/** True when `<xen/xen.h>` exists under `includeDir`. */
export function headersInstalled(includeDir = DEFAULT_INCLUDE): boolean {
  return existsSync(join(includeDir, "xen/xen.h"));
}

/** The Xen version of the installed headers: $XEN_HEADERS_VERSION, else dpkg's libxen-dev. */
export function installedHeadersVersion(): string {
  if (process.env.XEN_HEADERS_VERSION) return process.env.XEN_HEADERS_VERSION;
  try {
    const v = execFileSync("dpkg-query", ["-W", "-f=${Version}", "libxen-dev"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const m = v.match(/^(?:\d+:)?(\d+\.\d+)/);
    if (m) return m[1];
  } catch { /* not a Debian system, or the package is absent */ }
  throw new Error("cannot tell the Xen version of the headers: install libxen-dev or set XEN_HEADERS_VERSION (e.g. 4.17)");
}

function newer(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

interface Probe { entry: string; expect: string; code: string }

function cstr(s: string): string { return JSON.stringify(s); }

/** Builds one probe per manifest number: the C expression that must print the same value. */
function probes(m: AbiManifest, skip: Set<string>): Probe[] {
  const out: Probe[] = [];
  for (const [type, t] of Object.entries(m.types)) {
    if (skip.has(type)) continue;
    out.push({ entry: `sizeof(${type})`, expect: String(t.size), code: `(long long)sizeof(${type})` });
    for (const [f, off] of Object.entries(t.fields)) {
      out.push({ entry: `offsetof(${type}, ${f})`, expect: String(off), code: `(long long)offsetof(${type}, ${f})` });
    }
  }
  for (const [name, v] of Object.entries(m.constants)) {
    if (skip.has(name)) continue;
    if (typeof v === "string") out.push({ entry: name, expect: JSON.stringify(v), code: `S:${name}` });
    else out.push({ entry: name, expect: String(v), code: `N:${name}` });
  }
  for (const [key, values] of Object.entries(m.tables)) {
    const [, base, member] = key.match(/^(\w+)\[\]\.(\w+)$/) ?? [];
    if (!base) throw new Error(`table key ${key} is not of the form name[].member`);
    out.push({ entry: `${base} rows`, expect: String(values.length), code: `(long long)(sizeof(${base}) / sizeof(${base}[0]))` });
    values.forEach((v, i) => {
      out.push(typeof v === "string"
        ? { entry: `${base}[${i}].${member}`, expect: JSON.stringify(v), code: `S:${base}[${i}].${member}` }
        : { entry: `${base}[${i}].${member}`, expect: String(v), code: `(long long)${base}[${i}].${member}` });
    });
  }
  return out;
}

const PRELUDE = (headers: string[]) => [
  "#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__",
  "#include <stddef.h>", "#include <stdint.h>", "#include <stdio.h>", "#include <errno.h>",
  "#include <xen/xen.h>",
  ...headers.map((h) => `#include <${h}>`),
  "static void num(int i, int neg, long long s, unsigned long long u) { if (neg) printf(\"%d %lld\\n\", i, s); else printf(\"%d %llu\\n\", i, u); }",
  "static void str(int i, const char *s) { printf(\"%d \\\"%s\\\"\\n\", i, s); }",
  "int main(void) {",
];

function line(p: Probe, i: number): string {
  if (p.code.startsWith("S:")) return `  str(${i}, ${p.code.slice(2)});`;
  if (p.code.startsWith("N:")) { const n = p.code.slice(2); return `  num(${i}, (${n}) < 0, (long long)(${n}), (unsigned long long)(${n}));`; }
  return `  num(${i}, 0, 0, (unsigned long long)${p.code});`;
}

/**
 * Compiles the manifest into a C program against the headers and compares every value.
 * Entries gcc rejects are reported in `unknown`; the rest are still compared.
 */
export function checkManifest(m: AbiManifest, opts: CheckOptions = {}): CheckResult {
  const cc = opts.cc ?? "gcc";
  const includeDir = opts.includeDir ?? DEFAULT_INCLUDE;
  if (!headersInstalled(includeDir)) throw new Error(`Xen headers not found under ${includeDir} (Debian: apt-get install libxen-dev)`);
  const version = opts.headersVersion ?? installedHeadersVersion();
  const unchecked = Object.entries(m.since).filter(([, v]) => newer(v, version)).map(([k]) => k).sort();
  const all = probes(m, new Set(unchecked));
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-abi-"));
  try {
    const unknown = new Set<number>();
    for (let attempt = 0; ; attempt++) {
      const prelude = PRELUDE(m.headers);
      const body = all.map((p, i) => (unknown.has(i) ? `  /* ${p.entry}: unknown */` : line(p, i)));
      writeFileSync(join(dir, "abi.c"), [...prelude, ...body, "  return 0;", "}", ""].join("\n"));
      const cc1 = spawnSync(cc, ["-std=gnu11", "-w", "-I", includeDir, "-o", join(dir, "abi"), join(dir, "abi.c")], { encoding: "utf8" });
      if (cc1.error) throw new Error(`cannot run ${cc}: ${cc1.error.message}`);
      if (cc1.status !== 0) {
        const bad = [...cc1.stderr.matchAll(/abi\.c:(\d+):\d+: error/g)].map((x) => Number(x[1]) - prelude.length - 1).filter((i) => i >= 0 && i < all.length && !unknown.has(i));
        if (bad.length === 0 || attempt > 3) throw new Error(`${cc} failed on the generated program:\n${cc1.stderr.slice(0, 4000)}`);
        bad.forEach((i) => unknown.add(i));
        continue;
      }
      const run = spawnSync(join(dir, "abi"), { encoding: "utf8", maxBuffer: 64 << 20 });
      if (run.status !== 0) throw new Error(`the generated program failed: ${run.stderr}`);
      const got = new Map<number, string>();
      for (const l of run.stdout.split("\n")) {
        const sp = l.indexOf(" ");
        if (sp > 0) got.set(Number(l.slice(0, sp)), l.slice(sp + 1));
      }
      const mismatches: Mismatch[] = [];
      all.forEach((p, i) => {
        if (unknown.has(i)) return;
        const h = got.get(i);
        if (h !== p.expect) mismatches.push({ entry: p.entry, manifest: p.expect, headers: h ?? "(no output)" });
      });
      return { headersVersion: version, checked: all.length - unknown.size, mismatches, unknown: [...unknown].map((i) => all[i].entry), unchecked };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
