// The fuzzer of target "console": a guest that abuses the console beside fuzz/steady.ts, whose
// numbered lines must still arrive whole and in order (the CLI checks them). Personas, one action
// per step, 16 steps per 1 ms tick: garbage (random bytes: NULs, invalid UTF-8, escapes, no
// newline) through console_io; longline (64 KiB without a newline); badptr (console_io with a
// buffer outside memory or a count past its end, from near the end so as not to print all of
// memory: -EFAULT); overflow (its ring's out_prod jumped
// far ahead, or moved backwards, then a notify); flipper (bytes in its ring rewritten after the
// producer moved past them); storm (notifies on the console port without output). When done it
// waits for the harness to drain its ring (settle) and reports on a line of its own.
import {
  boot, evtchnUpcall, evtchnNotify, poweroff, printk, timerSet, NS_PER_MS, console_io, consoleFrame, consolePort, gfnToAddr,
} from "../assembly/index";
import { CONSOLEIO_write } from "../assembly/xen/xen";
import { xencons_interface } from "../assembly/xen/io/console";
import { fuzzInit, fuzzSteps, fuzzStepsWanted, fuzzRand, fuzzBelow, fuzzPersona, fuzzStep, fuzzInjected, fuzzDetected, fuzzReport } from "./lib/fuzz";

const BUF_BYTES: u32 = 65536;
const BUF: usize = memory.data(<i32>BUF_BYTES, 16);
const PER_TICK: u32 = 16;
const OUT_SIZE: u32 = <u32>(offsetof<xencons_interface>("in_cons") - offsetof<xencons_interface>("out"));
const PERSONAS: StaticArray<string> = ["garbage", "longline", "badptr", "overflow", "flipper", "storm"];
let ring: usize = 0;
let memBytes: u32 = 0;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  ring = gfnToAddr(<u32>consoleFrame());
  memBytes = <u32>memory.size() << 16;
  timerSet(NS_PER_MS, tick, 0);
}

function randomBytes(n: u32): void {
  for (let i: u32 = 0; i < n; i += 4) store<u32>(BUF + <usize>i, fuzzRand());
}

function garbage(): void {
  const n = 1 + fuzzBelow(300);
  randomBytes(n);
  if (console_io(CONSOLEIO_write, <i32>n, <i32>BUF) < 0) fuzzDetected();
}

function longLine(): void {
  // Printable bytes only, and no newline: a line the harness must not hold whole for ever.
  for (let i: u32 = 0; i < BUF_BYTES; i++) store<u8>(BUF + <usize>i, <u8>(0x41 + (fuzzRand() % 26)));
  console_io(CONSOLEIO_write, <i32>BUF_BYTES, <i32>BUF);
}

function badPointer(): void {
  fuzzInjected();
  const which = fuzzBelow(4);
  let rc: i32;
  if (which == 0) rc = console_io(CONSOLEIO_write, 16, <i32>(memBytes + fuzzBelow(1 << 20)));
  else if (which == 1) rc = console_io(CONSOLEIO_write, 0x7fffffff, <i32>(memBytes - 64)); // the last 64 bytes, then the end
  else if (which == 2) rc = console_io(CONSOLEIO_write, -1, <i32>(memBytes - 16)); // 4 GiB from 16 bytes before the end
  else rc = console_io(CONSOLEIO_write, 64, -64);
  if (rc < 0) fuzzDetected();
}

function overflow(): void {
  fuzzInjected();
  const cons = atomic.load<u32>(ring + offsetof<xencons_interface>("out_cons"));
  const jump = fuzzBelow(2) == 0 ? OUT_SIZE + fuzzBelow(1 << 30) : <u32>(-<i32>(1 + fuzzBelow(4096)));
  randomBytes(64);
  memory.copy(ring + offsetof<xencons_interface>("out"), BUF, 64);
  atomic.store<u32>(ring + offsetof<xencons_interface>("out_prod"), cons + jump);
  evtchnNotify(consolePort());
  // The harness takes at most a ring's worth and moves out_cons to out_prod: detected.
  if (atomic.load<u32>(ring + offsetof<xencons_interface>("out_cons")) != cons) fuzzDetected();
}

function flipper(): void {
  fuzzInjected();
  const out = ring + offsetof<xencons_interface>("out");
  const prod = atomic.load<u32>(ring + offsetof<xencons_interface>("out_prod"));
  const cons = atomic.load<u32>(ring + offsetof<xencons_interface>("out_cons"));
  if (prod - cons >= OUT_SIZE) return;
  const n: u32 = min(32, OUT_SIZE - (prod - cons));
  for (let i: u32 = 0; i < n; i++) store<u8>(out + <usize>((prod + i) % OUT_SIZE), <u8>(0x61 + i % 26));
  atomic.store<u32>(ring + offsetof<xencons_interface>("out_prod"), prod + n);
  evtchnNotify(consolePort());
  // Rewrite what was just published, while the harness may be reading it.
  for (let k = 0; k < 200; k++) {
    for (let i: u32 = 0; i < n; i++) store<u8>(out + <usize>((prod + i) % OUT_SIZE), <u8>fuzzRand());
  }
}

function storm(): void {
  for (let i = 0; i < 100; i++) evtchnNotify(consolePort());
}

function tick(arg: usize): void {
  const wanted = fuzzStepsWanted();
  for (let i: u32 = 0; i < PER_TICK && fuzzSteps < wanted; i++) {
    const p = PERSONAS[<i32>fuzzBelow(<u32>PERSONAS.length)];
    fuzzStep();
    if (!fuzzPersona(p)) continue;
    if (p == "garbage") garbage();
    else if (p == "longline") { if (fuzzBelow(8) == 0) longLine(); else garbage(); }
    else if (p == "badptr") badPointer();
    else if (p == "overflow") overflow();
    else if (p == "flipper") flipper();
    else storm();
  }
  if (fuzzSteps < wanted) {
    timerSet(NS_PER_MS, tick, 0);
    return;
  }
  timerSet(NS_PER_MS, settle, 0);
}

// Ticks (1 ms each) the harness gets to drain what the abuse left in the ring before the report.
const SETTLE_TICKS: u32 = 20;
let settled: u32 = 0;

// Back in order before reporting: the ring drained (or, if the harness never catches up, out_prod
// put back where it consumed to) and a few quiet ticks for output still on its way, then a newline
// and the report through the ring, so that the report starts a line of its own and no garbage from
// either path lands inside it.
function settle(arg: usize): void {
  const cons = atomic.load<u32>(ring + offsetof<xencons_interface>("out_cons"));
  const prod = atomic.load<u32>(ring + offsetof<xencons_interface>("out_prod"));
  if (++settled < SETTLE_TICKS || (cons != prod && settled < 50 * SETTLE_TICKS)) {
    if (cons != prod) evtchnNotify(consolePort());
    timerSet(NS_PER_MS, settle, 0);
    return;
  }
  if (cons != prod) atomic.store<u32>(ring + offsetof<xencons_interface>("out_prod"), cons);
  printk("");
  fuzzReport();
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
