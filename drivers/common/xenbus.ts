// Negotiation plumbing every split driver shares (blkif and netif ends alike): reading a set of
// keys of the other end's directory in one go, writing a set of our own, and parsing the
// numbers found there; how a backend finds the devices the toolstack gives it; the `queue-N/` and
// `ring-ref<i>` key names both protocols use. The state machines are in each driver's front.ts and back.ts.
//
// Ownership: a read in progress lives in a fixed pool (KEYS_POOL records, allocated once); the
// record handed to a KeysFn is valid only during the call. Values are fresh strings.
import { XBT_NIL, XsReply, xsRead, xsWrite, xsWatch, xsDirectory } from "../../assembly/xenstore";
import { xenbusUnwatchState, xenbusDevFatal } from "../../assembly/xenbus";
import { puts, printk } from "../../assembly/console";
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

/** Parses a hexadecimal number of 1 to 8 digits (a `physical-device` major or minor); -1 when malformed. */
export function parseHex(s: string): i64 {
  if (s.length == 0 || s.length > 8) return -1;
  let v: i64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (c >= 0x30 && c <= 0x39) v = v * 16 + (c - 0x30);
    else if (c >= 0x61 && c <= 0x66) v = v * 16 + (c - 0x61 + 10);
    else return -1;
  }
  return v;
}

/** The key of queue `q`'s node `key` when there are `nrQueues` queues ("queue-1/ring-ref"), else `key`. */
export function queueKey(nrQueues: u32, q: u32, key: string): string {
  return nrQueues > 1 ? "queue-" + q.toString() + "/" + key : key;
}

/** The key of ring page `i` of a ring of 2^order pages named `base`: `base` for one page, `base<i>` for more. */
export function ringRefKey(order: u32, i: u32, base: string = "ring-ref"): string {
  return order == 0 ? base : base + i.toString();
}

// ---- backend discovery -----------------------------------------------------------------------

/** Called for every `backend/<type>/<frontend>/<devid>` seen (again after each change below it). */
export type BackendFoundFn = (frontId: u32, devid: u32) => void;

/** Highest frontend domid a backend accepts (DOMID_FIRST_RESERVED - 1). */
const MAX_FRONT_DOMID: i64 = 0x7fef;

class Discovery {
  constructor(public type: string, public fn: BackendFoundFn) {}
  get dir(): string { return "backend/" + this.type; }
}
const discoveries = new Array<Discovery>();

/**
 * Watches `backend/<type>` in our home, as a Linux backend driver's xenbus watch does, and calls
 * `fn(frontId, devid)` for each device directory the toolstack creates there, and again on any
 * change inside it (the callee keeps its own per-device state and ignores what it knows). Returns
 * 0 or the xenstore error.
 */
export function watchBackends(type: string, fn: BackendFoundFn): i32 {
  const i = discoveries.length;
  discoveries.push(new Discovery(type, fn));
  const rc = xsWatch("backend/" + type, onBackendEvent, <usize>i);
  return rc < 0 ? rc : 0;
}

function onBackendEvent(path: string, arg: usize): void {
  const disc = discoveries[<i32>arg];
  const dir = disc.dir;
  const rel = relativePath(path, 0);
  // The event at registration (and a change of a whole frontend's directory): enumerate.
  if (rel == dir) { xsDirectory(XBT_NIL, rel, onListed, arg << 16); return; }
  if (!rel.startsWith(dir + "/")) return;
  const parts = rel.substring(dir.length + 1).split("/");
  const fe = parseU64(parts[0]);
  if (fe < 0 || fe > MAX_FRONT_DOMID) return;
  if (parts.length < 2) { xsDirectory(XBT_NIL, rel, onListed, (arg << 16) | (<usize>fe + 1)); return; }
  found(disc, parts[0], parts[1]);
}

/** A listing of backend/<type> (low 16 bits of arg 0: frontends) or of backend/<type>/<fe> (fe + 1: its devices). */
function onListed(status: i32, reply: XsReply, arg: usize): void {
  if (status < 0) return;
  const disc = discoveries[<i32>(arg >> 16)];
  const fe1 = arg & 0xffff;
  const names = reply.strings();
  for (let i = 0; i < names.length; i++) {
    if (fe1 == 0) {
      const fe = parseU64(names[i]);
      if (fe >= 0 && fe <= MAX_FRONT_DOMID) xsDirectory(XBT_NIL, disc.dir + "/" + names[i], onListed, (arg & ~<usize>0xffff) | (<usize>fe + 1));
    } else found(disc, (fe1 - 1).toString(), names[i]);
  }
}

function found(disc: Discovery, feName: string, devName: string): void {
  const fe = parseU64(feName), devid = parseU64(devName);
  if (fe < 0 || fe > MAX_FRONT_DOMID || devid < 0 || devid > 0xffffffff) return;
  disc.fn(<u32>fe, <u32>devid);
}

/**
 * What every frontend does when a device stops: drops the watch on the backend's state (`watch`,
 * 0 for none), then either reports `err` as Linux's xenbus_dev_fatal (an `error` node and
 * Closing: the backend broke the protocol, or setup failed) or, when not `fatal` (the backend
 * closed it), prints "<driver>: <path>: <message>". The caller fails its own pending work.
 */
export function frontendStop(driver: string, path: string, watch: i32, err: i32, message: string, fatal: bool): void {
  if (watch > 0) xenbusUnwatchState(watch);
  if (fatal) xenbusDevFatal(path, err, message);
  else { puts(driver); puts(": "); puts(path); puts(": "); printk(message); }
}
