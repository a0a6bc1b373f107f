// Reads the ABI modules of assembly/xen/ (written to the conventions of docs/abi-layer.md) and
// lists what they declare: the C header each mirrors, its constants, tables and wire structs.
// It reads names only; every number in the manifest comes from the compiler (see source.ts).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** One exported constant of an ABI module. */
export interface ConstDecl { name: string; asType: string; since?: string }
/** One exported table (StaticArray) of an ABI module, keyed by its C name `@c`. */
export interface TableDecl { name: string; cName: string; element: "i32" | "string" }
/** One member of a wire struct: the AssemblyScript field and the C member paths at its offset. */
export interface FieldDecl { asName: string; cNames: string[] }
/**
 * One @unmanaged wire struct and the C type it mirrors (`cName` null: a layout shared by several
 * C types through `extends`, doc tag `@noctype`). `base` is the class it extends, if any.
 */
export interface TypeDecl { asName: string; cName: string | null; fields: FieldDecl[]; since?: string; base?: string }
/** Everything one ABI module declares. */
export interface ModuleDecl { file: string; header: string; constants: ConstDecl[]; tables: TableDecl[]; types: TypeDecl[] }

const HEADER = /^\/\/ Mirrors xen\/include\/public\/(\S+?):?\s/;
const CONST = /^export const (\w+)\s*:\s*([\w<>]+)\s*=/;
const CLASS = /^@unmanaged export class (\w+)(?:\s+extends\s+(\w+))?\s*\{/;
const FIELD = /^ {2}(?:@array\(\d+\)\s+)?(\w+)\s*:\s*(\w+)\s*;\s*(?:\/\/\s*@c\s+(.+?))?\s*$/;

/** Lists the .ts files below `dir`, sorted, so the manifest's order is stable. */
export function listModules(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listModules(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

function tag(doc: string[], name: string): string | undefined {
  for (const line of doc) {
    const m = line.match(new RegExp(`@${name}\\s+(.+?)\\s*(\\*/)?$`));
    if (m) return m[1];
  }
  return undefined;
}

/** Parses one ABI module; throws with file:line on a declaration that breaks the conventions. */
export function scanModule(file: string, root: string): ModuleDecl {
  const lines = readFileSync(file, "utf8").split("\n");
  const rel = relative(root, file);
  const header = lines[0].match(HEADER);
  if (!header) throw new Error(`${rel}:1: first line must be "// Mirrors xen/include/public/<header>"`);
  const mod: ModuleDecl = { file, header: `xen/${header[1]}`, constants: [], tables: [], types: [] };
  let doc: string[] = [];
  let inDoc = false;
  let current: TypeDecl | null = null;
  lines.forEach((line, i) => {
    const where = `${rel}:${i + 1}`;
    if (current) {
      if (line.startsWith("}")) { mod.types.push(current); current = null; return; }
      const f = line.match(FIELD);
      if (f && (!f[1].startsWith("__") || f[3])) {
        current.fields.push({ asName: f[1], cNames: f[3] ? f[3].split(",").map((s) => s.trim()) : [f[1]] });
      } else if (!f && /^ {2}(@array|\w+\s*:)/.test(line) && !/^ {2}(get|set|static)\b/.test(line)) {
        throw new Error(`${where}: field declaration not understood: ${line.trim()}`);
      }
      return;
    }
    if (line.startsWith("/**")) { inDoc = true; doc = []; }
    if (inDoc) { doc.push(line); if (line.includes("*/")) inDoc = false; return; }
    const c = line.match(CONST);
    if (c) {
      const table = c[2].match(/^StaticArray<(i32|string)>$/);
      if (table) {
        const cName = tag(doc, "c");
        if (!cName) throw new Error(`${where}: table ${c[1]} needs a "@c name[].member" doc tag`);
        mod.tables.push({ name: c[1], cName, element: table[1] as "i32" | "string" });
      } else {
        mod.constants.push({ name: c[1], asType: c[2], since: tag(doc, "since") });
      }
    } else if (/^export const /.test(line)) {
      throw new Error(`${where}: exported constants need an explicit type: ${line.trim()}`);
    }
    const k = line.match(CLASS);
    if (k) {
      const cName = doc.some((l) => /@noctype\b/.test(l)) ? null : tag(doc, "ctype") ?? `struct ${k[1]}`;
      current = { asName: k[1], cName, fields: [], since: tag(doc, "since"), base: k[2] };
    }
    if (!line.startsWith("@") && line.trim() !== "") doc = [];
  });
  if (current) throw new Error(`${rel}: class ${(current as TypeDecl).asName} is not closed by a "}" line`);
  return mod;
}

/**
 * Resolves `extends` across modules: returns the fields of `t` with those of its base classes
 * first, as AssemblyScript lays them out. Throws on a base that is not an ABI class.
 */
export function allFields(t: TypeDecl, modules: ModuleDecl[]): FieldDecl[] {
  if (!t.base) return t.fields;
  const base = modules.flatMap((m) => m.types).find((x) => x.asName === t.base);
  if (!base) throw new Error(`class ${t.asName} extends ${t.base}, which is not an @unmanaged class of assembly/xen`);
  return [...allFields(base, modules), ...t.fields];
}
