// Builds the ABI manifest JSON (docs/abi-layer.md) inside the compiled manifest module, so that
// every size, offset and constant in it is the value the AssemblyScript compiler computed.
// Used only by the generated build/gen/abi-manifest.ts; not part of a guest kernel.

let types = "";
let fields = "";
let constants = "";
let tables = "";
let since = "";
let headers = "";

/** Quotes `s` as a JSON string. */
function q(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

function sep(s: string): string { return s.length ? s + "," : s; }

let open = false;

function closeType(): void {
  if (!open) return;
  types += fields + "}}";
  fields = "";
  open = false;
}

/** Starts the entry of C type `name` (e.g. "struct evtchn_send") whose size is `size`. */
export function T(name: string, size: usize): void {
  if (open) { closeType(); types += ","; }
  open = true;
  types += q(name) + ":{\"size\":" + size.toString() + ",\"fields\":{";
}

/** Adds member `name` (a C member name or dotted path) at byte `offset` to the current type. */
export function F(name: string, offset: usize): void {
  fields = sep(fields) + q(name) + ":" + offset.toString();
}

/** Records a signed integer constant. */
export function C(name: string, value: i64): void {
  constants = sep(constants) + q(name) + ":" + value.toString();
}

/** Records an unsigned 64-bit constant. */
export function CU(name: string, value: u64): void {
  constants = sep(constants) + q(name) + ":" + value.toString();
}

/** Records a string constant. */
export function CS(name: string, value: string): void {
  constants = sep(constants) + q(name) + ":" + q(value);
}

/** Records a table of integers, e.g. the errnum column of xs_wire.h's xsd_errors. */
export function TI(name: string, values: StaticArray<i32>): void {
  let s = "";
  for (let i = 0; i < values.length; i++) s = sep(s) + values[i].toString();
  tables = sep(tables) + q(name) + ":[" + s + "]";
}

/** Records a table of strings, e.g. the errstring column of xs_wire.h's xsd_errors. */
export function TS(name: string, values: StaticArray<string>): void {
  let s = "";
  for (let i = 0; i < values.length; i++) s = sep(s) + q(values[i]);
  tables = sep(tables) + q(name) + ":[" + s + "]";
}

/** Marks entry `name` as introduced by Xen `version`, newer than some header sets. */
export function SINCE(name: string, version: string): void {
  since = sep(since) + q(name) + ":" + q(version);
}

/** Records that the manifest covers C header `path` (e.g. "xen/event_channel.h"). */
export function H(path: string): void {
  headers = sep(headers) + q(path);
}

/** Returns the finished manifest JSON. */
export function finish(): string {
  closeType();
  return "{\"arch\":\"x86_64\",\"types\":{" + types + "},\"constants\":{" + constants +
    "},\"tables\":{" + tables + "},\"since\":{" + since + "},\"headers\":[" + headers + "]}";
}
