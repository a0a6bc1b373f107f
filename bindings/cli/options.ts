// The CLI's option tables: each command declares its options once (name, value, help), Node's
// util.parseArgs splits the arguments into tokens in their order (which `run`'s per-guest
// --cmdline and --vif rely on), and `xenwasm help COMMAND` prints the usage generated from the
// same table. Every mistake is one UsageError line prefixed with the command.
import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

/** An option: its name, the value it takes (none for a flag), or for a flag that may take one inline (`--name=VALUE`) that value's name in `optional`, and its help. */
export interface Opt { name: string; value?: string; optional?: string; help: string }

/** A command: its name ("run", "bench ring"), a one-line summary, its synopsis after the options, what it does, and its options. */
export interface CommandSpec { name: string; summary: string; args?: string; about: string; options: Opt[]; notes?: string }

/** An option with its value (flags have none) or a positional argument, in command-line order. */
export type Token = { kind: "option"; name: string; value?: string } | { kind: "positional"; value: string };

/**
 * Splits `argv` by `spec`'s table: unknown options, missing values (a value may not start with
 * "--", so `--slot --json` is a missing value) and values given to flags are one-line errors.
 */
export function tokenize(spec: CommandSpec, argv: string[]): Token[] {
  const table = new Map(spec.options.map((o) => [o.name, o]));
  const options = Object.fromEntries(spec.options.map((o) => [o.name, { type: o.value ? "string" as const : "boolean" as const }]));
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const out: Token[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") { out.push({ kind: "positional", value: t.value }); continue; }
    if (t.kind === "option-terminator") continue;
    const o = table.get(t.name);
    if (!o || !t.rawName.startsWith("--")) throw new UsageError(`${spec.name}: unknown option '${t.rawName}'`);
    if (o.value) {
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith("--"))) throw new UsageError(`${spec.name}: ${t.rawName} needs a value`);
      out.push({ kind: "option", name: t.name, value: t.value });
    } else if (o.optional) {
      out.push({ kind: "option", name: t.name, value: t.inlineValue ? t.value : undefined });
    } else {
      if (t.inlineValue) throw new UsageError(`${spec.name}: ${t.rawName} takes no value`);
      out.push({ kind: "option", name: t.name });
    }
  }
  return out;
}

/** The usage text of `spec`: the synopsis, what it does, one entry per option, the notes. */
export function usage(spec: CommandSpec): string {
  const synopsis = `xenwasm ${spec.name}${spec.options.length ? " [options]" : ""}${spec.args ? ` ${spec.args}` : ""}`;
  const flag = (o: Opt) => `--${o.name}${o.value ? ` ${o.value}` : o.optional ? `[=${o.optional}]` : ""}`;
  const width = Math.min(28, Math.max(0, ...spec.options.map((o) => flag(o).length)) + 2);
  const lines = [synopsis, ...wrap(spec.about, 2)];
  if (spec.options.length) lines.push("options:");
  for (const o of spec.options) {
    const f = flag(o);
    const help = wrap(o.help, 2 + width);
    if (f.length + 2 > width) lines.push(`  ${f}`, ...help);
    else lines.push(`  ${f.padEnd(width)}${help[0].trimStart()}`, ...help.slice(1));
  }
  if (spec.notes) lines.push(...wrap(spec.notes, 2));
  return lines.join("\n");
}

/** Wraps `text` at 100 columns with `indent` spaces before each line. */
function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent + line.length + 1 + word.length > 100) { lines.push(" ".repeat(indent) + line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(" ".repeat(indent) + line);
  return lines;
}
