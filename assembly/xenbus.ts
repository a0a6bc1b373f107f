// xenbus: the conventions split drivers and the toolstack keep in xenstore, on top of the client
// in xenstore.ts. A device end publishes its XenbusState (io/xenbus.h) in `<dev>/state` and
// watches the other end's; devices of a type are listed under the domain's `device/<type>`;
// features are keys such as `feature-persistent` = "1"; errors go to `error/<dev>/error`. And
// the standard PV control protocol: the toolstack writes `control/shutdown`, the guest
// acknowledges by writing "" back and shuts down (docs/misc/xenstore-paths, Linux's
// drivers/xen/manage.c and xenbus_client.c behave the same way).
//
// Device paths are as Linux's `nodename`: relative to the domain's home (/local/domain/<domid>),
// e.g. "device/vif/0" for a frontend or "backend/vbd/1/51712" for a backend. Every function is
// asynchronous like the client: a top-level callback plus the caller's `arg`; errors are values
// (-XEN_Exxx). Per-call state lives in a small pool (XENBUS_MAX_CALLS), allocated once; the
// functions allocate only the path and value strings they build.
import { XenbusState, XenbusStateUnknown, XenbusStateClosing } from "./xen/io/xenbus";
import { SHUTDOWN_poweroff, SHUTDOWN_reboot } from "./xen/sched";
import { XEN_ENOENT, XEN_ENOSPC, XEN_EINVAL } from "./xen/errno";
import {
  XBT_NIL, XsReply, XsTxn, XsCallback, XsDoneFn, xsRead, xsWrite, xsDirectory, xsWatch, xsUnwatch,
  xsTransaction, xsTxnCommit, xsTxnAbort,
} from "./xenstore";
import { puts, puti, printk } from "./console";
import { shutdown } from "./sched";

/**
 * A state callback: the state read (>= 0; XenbusStateUnknown when the node is absent or not a
 * number, as Linux's xenbus_read_driver_state) or another -XEN_Exxx, and the caller's `arg`.
 */
export type XenbusStateFn = (state: i32, arg: usize) => void;
/** An integer callback: status 0 or -XEN_Exxx, the value (the default if absent or on error), `arg`. */
export type XenbusIntFn = (status: i32, value: i64, arg: usize) => void;
/** Called before the domain shuts down on a control/shutdown request, with the SHUTDOWN_* reason. */
export type XenbusShutdownHook = (reason: i32, arg: usize) => void;

/** Calls in progress at once (reads, state switches) plus state watches. */
export const XENBUS_MAX_CALLS: i32 = 32;

const NAMES: StaticArray<string> = [
  "Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed",
  "Reconfiguring", "Reconfigured",
];

/** The name of XenbusState `state` ("Connected"), or "INVALID" (as Linux's xenbus_strstate). */
export function xenbusStateName(state: i32): string {
  return state >= 0 && state < NAMES.length ? unchecked(NAMES[state]) : "INVALID";
}

/** `dir` + "/" + `node` (just `dir` when `node` is empty), as Linux's xenbus join. */
export function xenbusJoin(dir: string, node: string): string {
  return node.length == 0 ? dir : dir + "/" + node;
}

// ---- per-call state ------------------------------------------------------------------------

class Call {
  busy: bool = false;
  /** The node or device path the call is about. */
  path: string = "";
  /** A state to switch to, a recursion depth (xenbusDevFatal), or a watch id. */
  state: i32 = 0;
  depth: i32 = 0;
  stage: i32 = 0;
  watchId: i32 = 0;
  dflt: i64 = 0;
  bool: bool = false;
  stateFn: XenbusStateFn | null = null;
  intFn: XenbusIntFn | null = null;
  done: XsDoneFn | null = null;
  arg: usize = 0;
  /** A state switch, and its place in the order switches were asked for (switches of one path run in that order). */
  isSwitch: bool = false;
  seq: u32 = 0;
}

function makeCalls(): StaticArray<Call> {
  const a = new StaticArray<Call>(XENBUS_MAX_CALLS);
  for (let i = 0; i < XENBUS_MAX_CALLS; i++) unchecked(a[i] = new Call());
  return a;
}
const calls = makeCalls();

/** A free call record (marked busy), or null when all XENBUS_MAX_CALLS are in use. */
function callGet(): Call | null {
  for (let i = 0; i < XENBUS_MAX_CALLS; i++) {
    const c = unchecked(calls[i]);
    if (!c.busy) {
      c.busy = true;
      return c;
    }
  }
  return null;
}

function callPut(c: Call): void {
  c.busy = false;
  c.isSwitch = false;
  c.path = "";
  c.stateFn = null;
  c.intFn = null;
  c.done = null;
  c.arg = 0;
  c.watchId = 0;
}

@inline function ptr(c: Call): usize {
  return changetype<usize>(c);
}

@inline function callOf(arg: usize): Call {
  return changetype<Call>(arg);
}

// ---- states --------------------------------------------------------------------------------

/** The XenbusState a read of a state node gives (see XenbusStateFn). */
function stateOf(status: i32, reply: XsReply): i32 {
  if (status == -XEN_ENOENT) return XenbusStateUnknown;
  if (status < 0) return status;
  const v = reply.toInt(-1);
  return v < 0 || v > <i64>i32.MAX_VALUE ? XenbusStateUnknown : <i32>v;
}

function onStateRead(status: i32, reply: XsReply, arg: usize): void {
  const c = callOf(arg);
  const fn = c.stateFn;
  const a = c.arg;
  callPut(c);
  if (fn !== null) fn(stateOf(status, reply), a);
}

/** Reads the state node `node` (a full path) and reports it to `fn`; 0 or -XEN_Exxx (then `fn` never runs). */
function readStateNode(node: string, fn: XenbusStateFn, arg: usize): i32 {
  const c = callGet();
  if (c === null) return -XEN_ENOSPC;
  c.stateFn = fn;
  c.arg = arg;
  const rc = xsRead(XBT_NIL, node, onStateRead, ptr(c));
  if (rc < 0) {
    callPut(c);
    return rc;
  }
  return 0;
}

/**
 * Reads the XenbusState of the device end at `dir` (`<dir>/state`) and calls `fn(state, arg)`
 * once. Returns 0, or -XEN_Exxx and then `fn` is never called.
 */
export function xenbusReadState(dir: string, fn: XenbusStateFn, arg: usize = 0): i32 {
  return readStateNode(dir + "/state", fn, arg);
}

function onStateWatch(path: string, arg: usize): void {
  const c = callOf(arg);
  const fn = c.stateFn;
  if (fn === null) return;
  const rc = readStateNode(c.path, fn, c.arg);
  if (rc < 0) fn(rc, c.arg);
}

/**
 * Watches the other end's state (`<otherDir>/state`): `fn(state, arg)` runs with the state read
 * after every change, and once at registration; the same state may be reported twice. Returns a
 * watch id for xenbusUnwatchState, or -XEN_Exxx.
 */
export function xenbusWatchState(otherDir: string, fn: XenbusStateFn, arg: usize = 0): i32 {
  const c = callGet();
  if (c === null) return -XEN_ENOSPC;
  c.path = otherDir + "/state";
  c.stateFn = fn;
  c.arg = arg;
  const id = xsWatch(c.path, onStateWatch, ptr(c));
  if (id < 0) {
    callPut(c);
    return id;
  }
  c.watchId = id;
  return id;
}

/**
 * Stops a watch set by xenbusWatchState (a read already in flight may still report once).
 * Returns 0 or -XEN_ENOENT.
 */
export function xenbusUnwatchState(id: i32): i32 {
  for (let i = 0; i < XENBUS_MAX_CALLS; i++) {
    const c = unchecked(calls[i]);
    if (c.busy && c.watchId == id && id > 0) {
      xsUnwatch(id);
      callPut(c);
      return 0;
    }
  }
  return -XEN_ENOENT;
}

// Switching state: a transaction that reads `<dev>/state` first, as Linux's
// __xenbus_switch_state does. An absent node means the device is being torn down: nothing is
// written (its directory is not resurrected). An unchanged state writes nothing either (no watch
// fires needlessly). Failures to start, write or end the transaction are fatal for the device:
// they are reported with xenbusDevFatal at depth 0 only, so a failing switch to Closing does not
// recurse.
const S_START: i32 = 0;
const S_READ: i32 = 1;
const S_WRITE: i32 = 2;
const S_END: i32 = 3;
/** Waiting for an earlier switch of the same path to finish. */
const S_QUEUED: i32 = 4;
let switchSeq: u32 = 0;

function switchBody(t: XsTxn): void {
  const c = callOf(t.arg);
  c.stage = S_READ;
  const rc = xsRead(t.id, c.path + "/state", onSwitchRead, changetype<usize>(t));
  if (rc < 0) xsTxnAbort(t, rc);
}

function onSwitchRead(status: i32, reply: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  const c = callOf(t.arg);
  if (status < 0) {
    xsTxnAbort(t, status);
    return;
  }
  if (reply.isInt() && reply.toInt() == <i64>c.state) {
    xsTxnAbort(t, 0);
    return;
  }
  c.stage = S_WRITE;
  const rc = xsWrite(t.id, c.path + "/state", c.state.toString(), onSwitchWritten, arg);
  if (rc < 0) xsTxnAbort(t, rc);
}

function onSwitchWritten(status: i32, reply: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  if (status < 0) {
    xsTxnAbort(t, status);
    return;
  }
  callOf(t.arg).stage = S_END;
  xsTxnCommit(t);
}

function onSwitchDone(status: i32, arg: usize): void {
  const c = callOf(arg);
  const done = c.done;
  const a = c.arg;
  const path = c.path;
  const depth = c.depth;
  const stage = c.stage;
  callPut(c);
  startNextSwitch(path);
  if (status < 0 && stage != S_READ) {
    const what = stage == S_START ? "starting transaction" : stage == S_WRITE ? "writing new state" : "ending transaction";
    devError(path, status, what);
    if (depth == 0) switchState(path, XenbusStateClosing, 1, null, 0);
  }
  if (done !== null) done(status, a);
}

/** Whether a switch of `path` other than `self` is under way (not queued). */
function switchUnderWay(path: string, self: Call): bool {
  for (let i = 0; i < XENBUS_MAX_CALLS; i++) {
    const c = unchecked(calls[i]);
    if (c !== self && c.busy && c.isSwitch && c.stage != S_QUEUED && c.path == path) return true;
  }
  return false;
}

/** Starts the earliest switch of `path` queued behind one that just finished. */
function startNextSwitch(path: string): void {
  let best: i32 = -1;
  for (let i = 0; i < XENBUS_MAX_CALLS; i++) {
    const c = unchecked(calls[i]);
    // The earliest asked for: seq compared modulo 2^32.
    if (c.busy && c.isSwitch && c.stage == S_QUEUED && c.path == path && (best < 0 || c.seq - unchecked(calls[best]).seq > 0x80000000)) best = i;
  }
  if (best < 0) return;
  const n = unchecked(calls[best]);
  n.stage = S_START;
  const rc = xsTransaction(switchBody, onSwitchDone, ptr(n), i32.MAX_VALUE);
  if (rc < 0) onSwitchDone(rc, ptr(n));
}

function switchState(dev: string, state: XenbusState, depth: i32, done: XsDoneFn | null, arg: usize): i32 {
  const c = callGet();
  if (c === null) return -XEN_ENOSPC;
  c.path = dev;
  c.state = state;
  c.depth = depth;
  c.done = done;
  c.arg = arg;
  c.isSwitch = true;
  c.seq = ++switchSeq;
  // Switches of one device publish in the order they were asked for: a late retry of an earlier
  // one (EAGAIN) must not land after, and undo, a later one (Closed after Initialising).
  if (switchUnderWay(dev, c)) {
    c.stage = S_QUEUED;
    return 0;
  }
  c.stage = S_START;
  // Linux's xenbus_switch_state retries EAGAIN for as long as it takes: a state that is never
  // published leaves the peer waiting for ever.
  const rc = xsTransaction(switchBody, onSwitchDone, ptr(c), i32.MAX_VALUE);
  if (rc < 0) {
    callPut(c);
    return rc;
  }
  return 0;
}

/**
 * Publishes `state` in `<dev>/state` (a transaction that writes only if the node exists and
 * differs, retried on EAGAIN until it commits, as Linux's xenbus_switch_state; switches of one
 * `dev` publish in the order they were asked for) and calls `done(status, arg)` when finished: 0, or
 * the read error (-XEN_ENOENT: the device is gone; nothing written), or a failure to start,
 * write or commit, which also records the error and switches the device to Closing. Returns 0 or
 * -XEN_Exxx (then `done` is never called).
 */
export function xenbusSwitchState(dev: string, state: XenbusState, done: XsDoneFn | null = null, arg: usize = 0): i32 {
  return switchState(dev, state, 0, done, arg);
}

// ---- errors --------------------------------------------------------------------------------

/** Prints and records "<-err> <message>" in `error/<dev>/error`, as Linux's xenbus_dev_error. */
function devError(dev: string, err: i32, message: string): void {
  const text = (-err).toString() + " " + message;
  puts("xenbus: ");
  puts(dev);
  puts(": ");
  printk(text);
  const rel = dev.startsWith("/") ? dev.substring(1) : dev;
  xsWrite(XBT_NIL, "error/" + rel + "/error", text, null, 0);
}

/**
 * Reports a fatal device error as Linux's xenbus_dev_fatal: prints it, writes "<-err> <message>"
 * (err is -XEN_Exxx, so the number written is positive) to `error/<dev>/error` in the domain's
 * home, then switches `dev` to XenbusStateClosing. Fire and forget: failures are only printed.
 */
export function xenbusDevFatal(dev: string, err: i32, message: string): void {
  devError(dev, err, message);
  const rc = switchState(dev, XenbusStateClosing, 0, null, 0);
  if (rc < 0) {
    puts("xenbus: cannot switch ");
    puts(dev);
    puts(" to Closing: ");
    puti(rc);
    puts("\n");
  }
}

// ---- devices and features ------------------------------------------------------------------

/**
 * Lists the devices of `type` ("vif", "vbd") of this domain: an XS_DIRECTORY of `device/<type>`,
 * so `cb` gets the number of devices as status and their ids in `reply.strings()`, or
 * -XEN_ENOENT when the domain has none of that type. Returns the request id or -XEN_Exxx.
 */
export function xenbusEnumerate(type: string, cb: XsCallback, arg: usize = 0): i32 {
  if (type.length == 0) return -XEN_EINVAL;
  return xsDirectory(XBT_NIL, "device/" + type, cb, arg);
}

function onIntRead(status: i32, reply: XsReply, arg: usize): void {
  const c = callOf(arg);
  const fn = c.intFn;
  const a = c.arg;
  const dflt = c.dflt;
  const asBool = c.bool;
  callPut(c);
  if (fn === null) return;
  if (status == -XEN_ENOENT) {
    fn(0, dflt, a);
  } else if (status < 0) {
    fn(status, dflt, a);
  } else if (!reply.isInt()) {
    fn(-XEN_EINVAL, dflt, a);
  } else {
    const v = reply.toInt();
    fn(0, asBool ? (v != 0 ? 1 : 0) : v, a);
  }
}

function readInt(path: string, dflt: i64, asBool: bool, fn: XenbusIntFn, arg: usize): i32 {
  const c = callGet();
  if (c === null) return -XEN_ENOSPC;
  c.intFn = fn;
  c.arg = arg;
  c.dflt = dflt;
  c.bool = asBool;
  const rc = xsRead(XBT_NIL, path, onIntRead, ptr(c));
  if (rc < 0) {
    callPut(c);
    return rc;
  }
  return 0;
}

/**
 * Reads the decimal integer `<dir>/<node>` and calls `fn(status, value, arg)`: status 0 with the
 * value, or with `dflt` if the node is absent (as Linux's xenbus_read_unsigned); -XEN_EINVAL with
 * `dflt` if it is not a number; another -XEN_Exxx with `dflt`. Returns 0 or -XEN_Exxx (then `fn`
 * never runs).
 */
export function xenbusReadInt(dir: string, node: string, dflt: i64, fn: XenbusIntFn, arg: usize = 0): i32 {
  return readInt(xenbusJoin(dir, node), dflt, false, fn, arg);
}

/**
 * Reads the boolean feature key `<dir>/<name>` (e.g. the backend's "feature-persistent") and
 * calls `fn(status, 0 or 1, arg)`: 1 when it is a non-zero number, 0 when it is 0 or absent.
 * Returns 0 or -XEN_Exxx.
 */
export function xenbusReadFeature(dir: string, name: string, fn: XenbusIntFn, arg: usize = 0): i32 {
  return readInt(xenbusJoin(dir, name), 0, true, fn, arg);
}

/** Writes the decimal integer `value` at `<dir>/<node>` (in transaction `tx` or XBT_NIL); returns the request id or -XEN_Exxx. */
export function xenbusWriteInt(tx: u32, dir: string, node: string, value: i64, cb: XsCallback | null = null, arg: usize = 0): i32 {
  return xsWrite(tx, xenbusJoin(dir, node), value.toString(), cb, arg);
}

/** Advertises feature `<dir>/<name>` as "1" (or "0" when `on` is false); returns the request id or -XEN_Exxx. */
export function xenbusWriteFeature(tx: u32, dir: string, name: string, on: bool, cb: XsCallback | null = null, arg: usize = 0): i32 {
  return xsWrite(tx, xenbusJoin(dir, name), on ? "1" : "0", cb, arg);
}

// ---- control/shutdown ----------------------------------------------------------------------
// As Linux's shutdown_handler: on each watch event, a transaction reads control/shutdown; an
// absent or empty value (the watch's first event, or our own acknowledgement) is ignored; a known
// command is acknowledged by writing "" in the same transaction, and acted on once committed
// (EAGAIN: the whole transaction again); an unknown one is printed and left alone.

const SHUTDOWN_NODE = "control/shutdown";
const NONE: i32 = -1;

let shutdownWatch: i32 = 0;
let shutdownHook: XenbusShutdownHook | null = null;
let shutdownHookArg: usize = 0;
let shutdownReason: i32 = NONE;
let shuttingDown = false;
let shutdownBusy = false;
/** An event arrived while a transaction ran: read again when it ends (its read may predate the write). */
let shutdownAgain = false;

/** The SHUTDOWN_* reason of a control/shutdown command, or NONE. */
function shutdownReasonOf(reply: XsReply): i32 {
  if (reply.equals("poweroff") || reply.equals("halt")) return SHUTDOWN_poweroff;
  if (reply.equals("reboot")) return SHUTDOWN_reboot;
  return NONE;
}

function shutdownBody(t: XsTxn): void {
  shutdownReason = NONE;
  const rc = xsRead(t.id, SHUTDOWN_NODE, onShutdownRead, changetype<usize>(t));
  if (rc < 0) xsTxnAbort(t, rc);
}

function onShutdownRead(status: i32, reply: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  if (status < 0 || reply.textLen() == 0) {
    xsTxnAbort(t, 0); // absent or empty: nothing asked
    return;
  }
  const reason = shutdownReasonOf(reply);
  if (reason == NONE) {
    puts("xenbus: ignoring shutdown request: ");
    printk(reply.str());
    xsTxnAbort(t, 0);
    return;
  }
  shutdownReason = reason;
  const rc = xsWrite(t.id, SHUTDOWN_NODE, "", onShutdownAcked, arg);
  if (rc < 0) xsTxnCommit(t); // act anyway, as Linux ignores a failed acknowledgement
}

function onShutdownAcked(status: i32, reply: XsReply, arg: usize): void {
  xsTxnCommit(changetype<XsTxn>(arg));
}

function onShutdownDone(status: i32, arg: usize): void {
  shutdownBusy = false;
  const reason = shutdownReason;
  shutdownReason = NONE;
  if (reason == NONE) {
    if (status < 0) {
      puts("xenbus: reading control/shutdown failed: ");
      puti(status);
      puts("\n");
    }
    if (shutdownAgain) onShutdownEvent(SHUTDOWN_NODE, 0);
    return;
  }
  // A command was read. If the acknowledgement could not be committed the toolstack still wants
  // the domain down, so act on it anyway (Linux does too, except that it retries EAGAIN forever).
  shuttingDown = true;
  const hook = shutdownHook;
  if (hook !== null) hook(reason, shutdownHookArg);
  shutdown(<u32>reason);
}

function onShutdownEvent(path: string, arg: usize): void {
  if (shuttingDown) return;
  if (shutdownBusy) {
    shutdownAgain = true;
    return;
  }
  shutdownBusy = true;
  shutdownAgain = false;
  const rc = xsTransaction(shutdownBody, onShutdownDone, 0);
  if (rc < 0) {
    shutdownBusy = false;
    puts("xenbus: cannot handle control/shutdown: ");
    puti(rc);
    puts("\n");
  }
}

/**
 * Follows the PV control protocol: watches `control/shutdown`, and on "poweroff" or "halt" shuts
 * the domain down with SHUTDOWN_poweroff, on "reboot" with SHUTDOWN_reboot, after acknowledging
 * by writing "" to the node; other values are printed and ignored. `hook(reason, arg)`, if given,
 * runs just before the shutdown (which does not return). Also advertises `control/feature-poweroff`
 * and `control/feature-reboot` = "1" as Linux does (errors ignored: the toolstack may not allow
 * it). Returns the watch id (> 0; calling again replaces the hook and returns it) or -XEN_Exxx.
 */
export function xenbusWatchShutdown(hook: XenbusShutdownHook | null = null, arg: usize = 0): i32 {
  shutdownHook = hook;
  shutdownHookArg = arg;
  if (shutdownWatch > 0) return shutdownWatch;
  const id = xsWatch(SHUTDOWN_NODE, onShutdownEvent, 0);
  if (id < 0) return id;
  shutdownWatch = id;
  xsWrite(XBT_NIL, "control/feature-poweroff", "1", null, 0);
  xsWrite(XBT_NIL, "control/feature-reboot", "1", null, 0);
  return id;
}
