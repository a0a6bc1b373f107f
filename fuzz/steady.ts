// The well-behaved guest of the hypercall, console and xenstore targets: while a fuzzer attacks
// the harness beside it, it keeps doing what any guest does and checks every answer. Every 2 ms:
// an IPI to itself (its handler must run once per notify; its port is bound again after a failure), a xenstore write read back, and a
// transaction that increments a counter (retried on EAGAIN, as Linux does), checked by a read;
// it prints "steady: round N" so that the console target can check its lines arrive whole and in
// order. Any wrong answer counts (fuzzWrong). On control/shutdown it prints its report and powers
// off.
import {
  boot, evtchnUpcall, evtchnBindIpi, evtchnNotify, panic, printk, puts, putu, xsInit, xsRead, xsWrite,
  xsTransaction, xsTxnCommit, xsTxnAbort, xsErrorName, XsReply, XsTxn, XBT_NIL, timerSet, NS_PER_MS, xenbusWatchShutdown,
} from "../assembly/index";
import { fuzzInit, fuzzFaults, fuzzReport, fuzzWrong } from "./lib/fuzz";

let ipiPort: i32 = -1;
let ipiSent: u32 = 0, ipiSeen: u32 = 0;
let round: u32 = 0;
/** The counter's value as far as this guest knows (its transactions are the only writers). */
let count: u32 = 0;
let busy = false;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  if (xsInit() < 0) panic("no xenstore");
  ipiPort = evtchnBindIpi(onIpi, 0); // may fail (-ENOSPC under injected faults): tick tries again
  if (xenbusWatchShutdown(onShutdown, 0) < 0) panic("cannot watch control/shutdown");
  xsWrite(XBT_NIL, "data/count", "0", onCountInit, 0);
}

function onCountInit(status: i32, r: XsReply, arg: usize): void {
  if (status < 0) panic("cannot write data/count");
  timerSet(2 * NS_PER_MS, tick, 0);
}

function onIpi(port: u32, arg: usize): void {
  ipiSeen++;
}

/** One round: the previous round's IPI must have arrived; then the IPI, the write and the transaction. */
function tick(arg: usize): void {
  timerSet(2 * NS_PER_MS, tick, 0);
  if (busy) return; // the previous round still waits for xenstored: the next tick tries again
  if (ipiSeen != ipiSent) fuzzWrong("an IPI was not delivered (sent " + ipiSent.toString() + ", seen " + ipiSeen.toString() + ")");
  ipiSeen = ipiSent;
  round++;
  puts("steady: round ");
  putu(round);
  printk("");
  if (ipiPort < 0) {
    ipiPort = evtchnBindIpi(onIpi, 0);
    if (ipiPort < 0 && !fuzzFaults()) fuzzWrong("no IPI port: " + xsErrorName(ipiPort));
  }
  if (ipiPort >= 0) {
    ipiSent++;
    evtchnNotify(<u32>ipiPort);
  }
  busy = true;
  const rc = xsWrite(XBT_NIL, "data/steady", round.toString(), onWritten, 0);
  if (rc < 0) { fuzzWrong("xsWrite refused: " + xsErrorName(rc)); busy = false; }
}

function onWritten(status: i32, r: XsReply, arg: usize): void {
  if (status < 0) { fuzzWrong("write of data/steady failed: " + xsErrorName(status)); busy = false; return; }
  xsRead(XBT_NIL, "data/steady", onReadBack, 0);
}

function onReadBack(status: i32, r: XsReply, arg: usize): void {
  if (status < 0) { fuzzWrong("read of data/steady failed: " + xsErrorName(status)); busy = false; return; }
  if (!r.equals(round.toString())) fuzzWrong("data/steady reads '" + r.str() + "', not " + round.toString());
  const rc = xsTransaction(txBody, onTxDone, 0);
  if (rc < 0) { fuzzWrong("transaction refused: " + xsErrorName(rc)); busy = false; }
}

function txBody(t: XsTxn): void {
  xsRead(t.id, "data/count", onTxRead, changetype<usize>(t));
}

function onTxRead(status: i32, r: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  if (status < 0) { xsTxnAbort(t, status); return; }
  const v = r.toInt(-1);
  if (v != <i64>count) { fuzzWrong("data/count reads " + v.toString() + " in a transaction, not " + count.toString()); xsTxnAbort(t, -1); return; }
  xsWrite(t.id, "data/count", (count + 1).toString(), onTxWritten, arg);
}

function onTxWritten(status: i32, r: XsReply, arg: usize): void {
  const t = changetype<XsTxn>(arg);
  if (status < 0) xsTxnAbort(t, status);
  else xsTxnCommit(t);
}

function onTxDone(status: i32, arg: usize): void {
  if (status == 0) count++;
  else if (!fuzzFaults()) fuzzWrong("the counter's transaction failed: " + xsErrorName(status));
  xsRead(XBT_NIL, "data/count", onCountRead, 0);
}

function onCountRead(status: i32, r: XsReply, arg: usize): void {
  busy = false;
  if (status < 0) { fuzzWrong("read of data/count failed: " + xsErrorName(status)); return; }
  if (r.toInt(-1) != <i64>count) fuzzWrong("data/count reads " + r.str() + " after the transaction, not " + count.toString());
}

function onShutdown(reason: i32, arg: usize): void {
  puts("steady: ");
  putu(round);
  printk(" rounds");
  fuzzReport();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
