// The kernel command line (start_info.cmd_line, from the harness's `--cmdline`): words separated
// by spaces, each either a flag (`ping`) or `key=value` (`peer=2`). Parsing allocates strings, so
// it belongs in boot code, not on hot paths. The line itself is owned by this module (copied out
// of start_info at boot).

let line: string = "";

/** Sets the command line (boot() does this from start_info.cmd_line). */
export function cmdlineSet(s: string): void {
  line = s;
}

/** The whole command line ("" if none). */
export function cmdline(): string {
  return line;
}

@inline function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D;
}

/** The `index`-th word of the command line (0-based), or null if there are fewer words. */
export function cmdlineWord(index: i32): string | null {
  const n = line.length;
  let i = 0;
  let w = 0;
  while (i < n) {
    while (i < n && isSpace(line.charCodeAt(i))) i++;
    if (i == n) break;
    const start = i;
    while (i < n && !isSpace(line.charCodeAt(i))) i++;
    if (w == index) return line.substring(start, i);
    w++;
  }
  return null;
}

/** Whether the command line has the word `flag` (exactly, e.g. `ping`), or a `flag=...` word. */
export function cmdlineHas(flag: string): bool {
  let w = cmdlineWord(0);
  for (let i = 1; w !== null; i++) {
    const s = w;
    if (s == flag || isKeyOf(s, flag)) return true;
    w = cmdlineWord(i);
  }
  return false;
}

/** Whether word `w` is `key=...`. */
function isKeyOf(w: string, key: string): bool {
  return w.length > key.length && w.startsWith(key) && w.charCodeAt(key.length) == 0x3D;
}

/** The value of the last `key=value` word for `key` (the text after the first '='), or null. */
export function cmdlineGet(key: string): string | null {
  let found: string | null = null;
  let w = cmdlineWord(0);
  for (let i = 1; w !== null; i++) {
    const s = w;
    if (isKeyOf(s, key)) found = s.substring(key.length + 1);
    w = cmdlineWord(i);
  }
  return found;
}

/**
 * Parses `s` as an unsigned decimal (or 0x-prefixed hexadecimal) number below 2^32; returns it,
 * or -1 if `s` is empty, malformed or too large.
 */
export function parseU32(s: string): i64 {
  const n = s.length;
  let i = 0;
  let base: u64 = 10;
  if (n > 2 && s.charCodeAt(0) == 0x30 && (s.charCodeAt(1) | 0x20) == 0x78) {
    base = 16;
    i = 2;
  }
  if (i == n) return -1;
  let v: u64 = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (base == 16 && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
    else return -1;
    v = v * base + <u64>d;
    if (v > <u64>u32.MAX_VALUE) return -1;
  }
  return <i64>v;
}

/**
 * The value of `key=value` as an unsigned 32-bit number: `dflt` if the key is absent, -1 if its
 * value is malformed or too large (so the caller can report it).
 */
export function cmdlineGetU32(key: string, dflt: u32): i64 {
  const v = cmdlineGet(key);
  if (v === null) return <i64>dflt;
  return parseU32(v);
}

/**
 * The value of `key=value` as a number in [lo, hi]: `dflt` when the key is absent, malformed or
 * out of range (a driver's optional knob: a bad value keeps the default).
 */
export function cmdlineGetInRange(key: string, dflt: u32, lo: u32, hi: u32): u32 {
  const v = cmdlineGetU32(key, dflt);
  return v < <i64>lo || v > <i64>hi ? dflt : <u32>v;
}
