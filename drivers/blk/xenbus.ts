// Negotiation plumbing both blkif ends share (io/blkif.h's xenstore protocol): reading a set of
// keys of the other end's directory in one go, writing a set of our own, and parsing the
// numbers found there. The state machines themselves are in front.ts and back.ts.
//
// Ownership: a read in progress lives in a fixed pool (KEYS_POOL records, allocated once); the
// record handed to a KeysFn is valid only during the call. Values are fresh strings.
import { XBT_NIL, XsReply, xsRead, xsWrite } from "../../assembly/xenstore";
import { XEN_ENOENT, XEN_ENOSPC } from "../../assembly/xen/errno";
import { parseU32 } from "../../assembly/cmdline";

/** Called once every key of a readKeys has been read: `k.err` is the first error other than ENOENT. */
export type KeysFn = (k: Keys, arg: usize) => void;
/** Called once every write of a writeKeys has completed: the first error, or 0. */
export type WrittenFn = (status: i32, arg: usize) => void;

/** Reads of several keys in progress at once. */
export const KEYS_POOL: i32 = 16;

/** One readKeys in progress: the keys' names and values (null: absent). */
export class Keys {
  busy: bool = false;
  dir: string = "";
  names: Array<string> = new Array<string>();
  values: Array<string | null> = new Array<string | null>();
  /** Values to write (writeKeys), whether this record writes, and the next key to submit. */
  wvalues: Array<string> = new Array<string>();
  writing: bool = false;
  next: i32 = 0;
  pending: i32 = 0;
  err: i32 = 0;
  fn: KeysFn | null = null;
  wfn: WrittenFn | null = null;
  arg: usize = 0;

  /** The value of `name` (one of the names read), or null when absent. */
  get(name: string): string | null {
    for (let i = 0; i < this.names.length; i++) if (this.names[i] == name) return this.values[i];
    return null;
  }

  /** `name` as an unsigned 32-bit number: `dflt` when absent, -1 when malformed. */
  u32(name: string, dflt: u32): i64 {
    const v = this.get(name);
    return v === null ? <i64>dflt : parseU32(v);
  }
}

function makePool(): StaticArray<Keys> {
  const a = new StaticArray<Keys>(KEYS_POOL);
  for (let i = 0; i < KEYS_POOL; i++) unchecked(a[i] = new Keys());
  return a;
}
const pool = makePool();

function take(): i32 {
  for (let i = 0; i < KEYS_POOL; i++) if (!unchecked(pool[i]).busy) { unchecked(pool[i]).busy = true; return i; }
  return -1;
}

function finish(k: Keys): void {
  k.busy = false;
  const fn = k.fn, wfn = k.wfn;
  k.fn = null;
  k.wfn = null;
  if (fn !== null) fn(k, k.arg);
  else if (wfn !== null) wfn(k.err, k.arg);
}

/** Requests one readKeys/writeKeys keeps at xenstore at once (the client holds 64 in all). */
export const KEYS_WINDOW: i32 = 8;

/** Submits the record's next requests while fewer than KEYS_WINDOW are outstanding. */
function pump(slot: i32): void {
  const k = unchecked(pool[slot]);
  while (k.next < k.names.length && k.pending < KEYS_WINDOW) {
    const i = k.next++;
    const path = k.dir + "/" + k.names[i];
    const rc = k.writing ? xsWrite(XBT_NIL, path, k.wvalues[i], onWritten, <usize>slot) : xsRead(XBT_NIL, path, onRead, (<usize>slot << 8) | <usize>i);
    if (rc < 0) { if (k.err == 0) k.err = rc; continue; }
    k.pending++;
  }
  if (k.pending == 0 && k.next >= k.names.length) finish(k);
}

function onRead(status: i32, reply: XsReply, a: usize): void {
  const slot = <i32>(a >> 8);
  const k = unchecked(pool[slot]);
  const i = <i32>(a & 0xff);
  if (status >= 0) k.values[i] = reply.str();
  else if (status != -XEN_ENOENT && k.err == 0) k.err = status;
  k.pending--;
  pump(slot);
}

/**
 * Reads `names` (at most 256) under `dir` (relative to our home, or absolute) and calls
 * `fn(keys, arg)` once all replies are in. Returns 0 or -XEN_ENOSPC (then `fn` is never called).
 */
export function readKeys(dir: string, names: Array<string>, fn: KeysFn, arg: usize): i32 {
  if (names.length > 256) return -XEN_ENOSPC;
  const slot = start(dir, names, arg);
  if (slot < 0) return slot;
  const k = unchecked(pool[slot]);
  k.values = new Array<string | null>(names.length);
  k.writing = false;
  k.fn = fn;
  pump(slot);
  return 0;
}

/** Takes a record for a readKeys/writeKeys of `names` under `dir`; its slot or -XEN_ENOSPC. */
function start(dir: string, names: Array<string>, arg: usize): i32 {
  const slot = take();
  if (slot < 0) return -XEN_ENOSPC;
  const k = unchecked(pool[slot]);
  k.dir = dir;
  k.names = names;
  k.err = 0;
  k.fn = null;
  k.wfn = null;
  k.arg = arg;
  k.pending = 0;
  k.next = 0;
  return slot;
}

function onWritten(status: i32, reply: XsReply, a: usize): void {
  const k = unchecked(pool[<i32>a]);
  if (status < 0 && k.err == 0) k.err = status;
  k.pending--;
  pump(<i32>a);
}

/**
 * Writes `values[i]` at `dir/names[i]` for every i, in order (xenstored applies them in order,
 * so a peer that waits for a later state change sees them all), then calls `fn(err, arg)`.
 * Returns 0 or -XEN_ENOSPC (then `fn` is never called).
 */
export function writeKeys(dir: string, names: Array<string>, values: Array<string>, fn: WrittenFn | null, arg: usize): i32 {
  const slot = start(dir, names, arg);
  if (slot < 0) return slot;
  const k = unchecked(pool[slot]);
  k.wvalues = values;
  k.writing = true;
  k.wfn = fn;
  pump(slot);
  return 0;
}

/** Parses an unsigned decimal below 2^64 (a sector count); -1 when malformed. */
export function parseU64(s: string | null): i64 {
  if (s === null || s.length == 0 || s.length > 19) return -1;
  let v: u64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + <u64>(c - 0x30);
  }
  return <i64>v;
}

/** Strips "/local/domain/<domid>/" from an absolute path (watch events may come either way). */
export function relativePath(path: string, domid: u32): string {
  const home = "/local/domain/" + domid.toString() + "/";
  return path.startsWith(home) ? path.substring(home.length) : path;
}
