// Test backend domain (run with --backend): a hostile blkback for the vbd 51712 of domain 1. It
// negotiates like a plain backend (one page, 11 segments, no features), then answers requests
// the way its command line says: mode=bad-id (ids out of range), dup (answers the first request
// twice, in place of the second), wrong-op (the wrong operation), overflow (rsp_prod jumps by
// 1000), stale (an id of a slot with no request in flight). Responses are written raw into the
// ring (BackRing would refuse most of these).
import {
  boot, evtchnUpcall, evtchnBindInterdomain, evtchnNotify, printk, puts, panic, xsInit, cmdlineGet,
  SharedPage, gnttabMap, xenbusSwitchState, xenbusWatchState, BackRing,
} from "../../assembly/index";
import { readKeys, writeKeys, Keys } from "../../drivers/common/xenbus";
import { blkif_request, blkif_response } from "../../assembly/xen/io/blkif";
import { GNTMAP_host_map, GNTST_okay } from "../../assembly/xen/grant_table";
import { XenbusStateInitWait, XenbusStateInitialised, XenbusStateConnected } from "../../assembly/xen/io/xenbus";

const BACK = "backend/vbd/1/51712";
const FRONT = "/local/domain/1/device/vbd/51712";
let mode = "";
let ring: BackRing | null = null;
let page = new SharedPage();
let port: i32 = -1;
let connected = false;
let answered = 0;
const REQ = memory.data(112, 8);
const RSP = memory.data(16, 8);

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  const m = cmdlineGet("mode");
  mode = m === null ? "bad-id" : m;
  puts("hostile backend: mode ");
  printk(mode);
  writeKeys(BACK, ["sectors", "info", "sector-size", "feature-flush-cache"], ["2048", "0", "512", "0"], onWritten, 0);
}

function onWritten(status: i32, arg: usize): void {
  xenbusSwitchState(BACK, XenbusStateInitWait);
  xenbusWatchState(FRONT, onFront, 0);
}

function onFront(state: i32, arg: usize): void {
  if (state == XenbusStateInitialised && !connected) {
    connected = true;
    readKeys(FRONT, ["ring-ref", "event-channel"], onKeys, 0);
  }
}

function onKeys(k: Keys, arg: usize): void {
  const pages = new StaticArray<SharedPage>(1);
  pages[0] = page;
  if (gnttabMap(page, 1, <u32>k.u32("ring-ref", 0), GNTMAP_host_map) != GNTST_okay) panic("map");
  ring = new BackRing(pages, 112);
  ring!.attach(0);
  port = evtchnBindInterdomain(1, <u32>k.u32("event-channel", 0), onEvent, 0);
  if (port < 0) panic("bind");
  xenbusSwitchState(BACK, XenbusStateConnected);
}

let rspProd: u32 = 0;
let firstId: u64 = 0;

function respond(id: u64, op: u8, status: i16): void {
  const r = changetype<blkif_response>(RSP);
  r.id = id;
  r.operation = op;
  r.status = status;
  page.copyIn(64 + (rspProd & 31) * 112, RSP, 16);
  rspProd++;
}

function onEvent(p: u32, arg: usize): void {
  const rg = ring!;
  // Hostile in its answers only: it re-arms req_event like a correct backend, so it sees every request.
  for (;;) {
  while (rg.copyRequest(REQ, 112) == 1) {
    const req = changetype<blkif_request>(REQ);
    answered++;
    if (mode == "bad-id") respond(0xdead0000 + <u64>answered, req.operation, 0);
    else if (mode == "wrong-op") respond(req.id, req.operation ^ 1, 0);
    else if (mode == "stale") respond(31, req.operation, 0); // slot 31: nothing in flight there
    else if (mode == "dup") {
      if (answered == 1) firstId = req.id;
      respond(answered == 2 ? firstId : req.id, req.operation, 0);
    } else respond(req.id, req.operation, 0);
  }
  page.store32(4, rg.reqCons + 1); // req_event
  if (rg.unconsumedRequests() <= 0) break;
  }
  page.store32(8, mode == "overflow" ? rspProd + 1000 : rspProd);
  evtchnNotify(<u32>port);
}

export function xen_upcall(): void {
  evtchnUpcall();
}
