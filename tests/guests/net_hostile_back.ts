// Test backend domain (run with --backend): a hostile netback for the vif 0 of domain 1 (a
// netfront guest such as tests/guests/net_victim.ts). It negotiates like a plain backend (rx-copy,
// no scatter-gather, no GSO, no split event channels, one queue), takes up the frontend's two
// rings and its event channel, and once the frontend has sent 8 frames it answers the way its
// command line says (`mode=NAME`). Responses are written raw into the rings (BackRing would refuse
// most of these).
//
//   transmit: the first 4 requests are answered correctly; once the frontend has consumed those
//   answers (its rsp_event says so), the 5th answer is hostile, and 10 ms later the last 4 are
//   answered correctly (the frontend, disabled by then, must not complete them):
//     bad-id (an id far outside the ring), stale-id (id 200: in range, never issued), dup-id (the
//     first request's id again), rsp-prod-jump (rsp_prod + 1000 instead of an answer)
//   receive: all 8 requests are answered correctly, then one good 60-byte frame is delivered into
//   the first posted buffer; once the frontend has consumed it, the second response is hostile and a
//   good frame follows it in the same push, and 10 ms later one more (none of them may be delivered):
//     rx-status-lies (status 4097 at offset 0), rx-past-page (offset 4000, status 200), rx-short
//     (status 10: less than an Ethernet header), rx-negative (status -1, NETIF_RSP_ERROR),
//     rx-more-no-sg (NETRXF_more_data without feature-sg), rx-wrong-id (an id that is not its
//     position's), rx-rsp-prod-jump (rsp_prod + 1000)
import {
  boot, evtchnUpcall, evtchnBindInterdomain, evtchnNotify, printk, puts, puti, panic, xsInit, cmdlineGet,
  SharedPage, gnttabMap, gnttabCopyTo, xenbusSwitchState, xenbusWatchState, BackRing, timerSet, NS_PER_MS,
} from "../../assembly/index";
import { readKeys, writeKeys, Keys } from "../../drivers/common/xenbus";
import {
  TX_SLOT, RX_SLOT, writeTxResponse, writeRxResponse, NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETRXF_more_data,
  K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL, K_FEATURE_RX_COPY, K_FEATURE_RX_FLIP, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6,
  K_IPV6_CSUM_OFFLOAD, K_SPLIT_EVTCHN, K_MAX_QUEUES, K_MCAST_CONTROL, K_CTRL_RING,
} from "../../drivers/net/proto";
import { RING_HEADER_SIZE } from "../../assembly/ring";
import { GNTMAP_host_map, GNTST_okay } from "../../assembly/xen/grant_table";
import { XenbusStateInitWait, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed } from "../../assembly/xen/io/xenbus";

const FRONT_DOM: u16 = 1;
const BACK = "backend/vif/1/0";
const FRONT = "/local/domain/1/device/vif/0";
/** The frames the victim sends before the backend acts. */
const SEND = 8;
/** Header offsets (io/ring.h's sring): rsp_prod and rsp_event. */
const RSP_PROD: u32 = 8, RSP_EVENT: u32 = 12;

let mode = "";
let txPage = new SharedPage();
let rxPage = new SharedPage();
let tx: BackRing | null = null;
let rx: BackRing | null = null;
let port: i32 = -1;
let connected = false;
let closing = false;

const REQ = memory.data(16, 8);
const RSP = memory.data(8, 8);
const FRAME = memory.data(64, 8);
/** Transmit request ids in arrival order; receive buffers (id, gref) in posting order. */
const txIds = new Array<u16>();
const rxIds = new Array<u16>();
const rxGrefs = new Array<u32>();
let txRsp: u32 = 0; // transmit responses written (raw)
let rxRsp: u32 = 0; // receive responses written (raw)
let acted = false;

export function xen_start(si: i32): void {
  boot(si);
  if (xsInit() < 0) panic("no xenstore");
  const m = cmdlineGet("mode");
  mode = m === null ? "bad-id" : m;
  puts("net_hostile_back: mode ");
  printk(mode);
  for (let k = 0; k < 60; k++) store<u8>(FRAME + k, <u8>(k * 13 + 5));
  writeKeys(BACK,
    [K_FEATURE_RX_COPY, K_FEATURE_RX_FLIP, K_FEATURE_SG, K_GSO_TCPV4, K_GSO_TCPV6, K_IPV6_CSUM_OFFLOAD, K_SPLIT_EVTCHN, K_MAX_QUEUES, K_MCAST_CONTROL, K_CTRL_RING],
    ["1", "0", "0", "0", "0", "0", "0", "1", "0", "0"], onWritten, 0);
}

function onWritten(status: i32, arg: usize): void {
  if (status < 0) panic("writing features");
  xenbusSwitchState(BACK, XenbusStateInitWait);
  xenbusWatchState(FRONT, onFront, 0);
}

function onFront(state: i32, arg: usize): void {
  if (state == XenbusStateConnected && !connected) {
    connected = true;
    readKeys(FRONT, [K_TX_RING_REF, K_RX_RING_REF, K_EVENT_CHANNEL], onKeys, 0);
  } else if (state == XenbusStateClosing && !closing) {
    // netfront gave up on us (xenbus_dev_fatal): follow it down like a backend would.
    closing = true;
    xenbusSwitchState(BACK, XenbusStateClosing);
  } else if (state == XenbusStateClosed) {
    xenbusSwitchState(BACK, XenbusStateClosed);
  }
}

function onKeys(k: Keys, arg: usize): void {
  if (gnttabMap(txPage, FRONT_DOM, <u32>k.u32(K_TX_RING_REF, 0), GNTMAP_host_map) != GNTST_okay) panic("map tx");
  if (gnttabMap(rxPage, FRONT_DOM, <u32>k.u32(K_RX_RING_REF, 0), GNTMAP_host_map) != GNTST_okay) panic("map rx");
  const tp = new StaticArray<SharedPage>(1), rp = new StaticArray<SharedPage>(1);
  tp[0] = txPage;
  rp[0] = rxPage;
  const t = new BackRing(tp, TX_SLOT), r = new BackRing(rp, RX_SLOT);
  if (t.attach(0) < 0 || r.attach(0) < 0) panic("attach");
  tx = t;
  rx = r;
  port = evtchnBindInterdomain(FRONT_DOM, <u32>k.u32(K_EVENT_CHANNEL, 0), onEvent, 0);
  if (port < 0) panic("bind");
  xenbusSwitchState(BACK, XenbusStateConnected);
  printk("net_hostile_back: connected");
}

/** Takes every request of both rings (re-arming req_event like a correct backend), then acts once 8 frames came. */
function onEvent(p: u32, arg: usize): void {
  const t = tx!, r = rx!;
  for (;;) {
    while (t.copyRequest(REQ, TX_SLOT) == 1) txIds.push(load<u16>(REQ, 8)); // netif_tx_request.id
    if (t.finalCheckForRequests() <= 0) break;
  }
  for (;;) {
    while (r.copyRequest(REQ, RX_SLOT) == 1) { rxIds.push(load<u16>(REQ)); rxGrefs.push(load<u32>(REQ, 4)); }
    if (r.finalCheckForRequests() <= 0) break;
  }
  if (!acted && txIds.length >= SEND) { acted = true; act(); }
}

// ---- raw responses ---------------------------------------------------------------------------

function txRespond(id: u16, status: i16): void {
  writeTxResponse(RSP, id, status);
  txPage.copyIn(RING_HEADER_SIZE + (txRsp & (tx!.size - 1)) * TX_SLOT, RSP, 4);
  txRsp++;
}

function rxRespond(id: u16, offset: u16, flags: u16, status: i16): void {
  writeRxResponse(RSP, id, offset, flags, status);
  rxPage.copyIn(RING_HEADER_SIZE + (rxRsp & (rx!.size - 1)) * RX_SLOT, RSP, 8);
  rxRsp++;
}

/** Delivers the 60-byte pattern into the receive buffer posted `n`-th. */
function rxGood(n: i32): void {
  if (n >= rxIds.length) panic("the frontend posted too few receive buffers");
  const st = gnttabCopyTo(FRONT_DOM, rxGrefs[n], 0, FRAME, 60);
  if (st != GNTST_okay) { puts("net_hostile_back: copy into the receive buffer failed: "); puti(st); printk(""); }
  rxRespond(rxIds[n], 0, 0, 60);
}

function pushTx(prod: u32): void {
  txPage.store32(RSP_PROD, prod);
  evtchnNotify(<u32>port);
}

function pushRx(prod: u32): void {
  rxPage.store32(RSP_PROD, prod);
  evtchnNotify(<u32>port);
}

// ---- the modes -------------------------------------------------------------------------------

function isRx(): bool { return mode.startsWith("rx-"); }

function act(): void {
  if (isRx()) {
    for (let i = 0; i < SEND; i++) txRespond(txIds[i], NETIF_RSP_OKAY);
    pushTx(txRsp);
    rxGood(0);
    pushRx(rxRsp);
    waitConsumed(1);
  } else {
    for (let i = 0; i < 4; i++) txRespond(txIds[i], NETIF_RSP_OKAY);
    pushTx(txRsp);
    waitConsumed(4);
  }
}

let target: u32 = 0;
let polls = 0;

/** Waits (polling every ms) until the frontend consumed `n` responses of the ring the mode attacks. */
function waitConsumed(n: u32): void {
  target = n;
  polls = 0;
  timerSet(NS_PER_MS, poll, 0);
}

function poll(arg: usize): void {
  const page = isRx() ? rxPage : txPage;
  // netfront's final check sets rsp_event to rsp_cons + 1 once it has taken every response.
  if (page.load32(RSP_EVENT) == target + 1) { strike(); return; }
  if (++polls > 2000) { printk("net_hostile_back: the frontend never consumed our responses"); return; }
  timerSet(NS_PER_MS, poll, 0);
}

/** The hostile answer, then (10 ms later) correct ones that must not be taken any more. */
function strike(): void {
  puts("net_hostile_back: striking: ");
  printk(mode);
  if (mode == "bad-id") { txRespond(0xbeef, NETIF_RSP_OKAY); pushTx(txRsp); }
  else if (mode == "stale-id") { txRespond(200, NETIF_RSP_OKAY); pushTx(txRsp); }
  else if (mode == "dup-id") { txRespond(txIds[0], NETIF_RSP_OKAY); pushTx(txRsp); }
  else if (mode == "rsp-prod-jump") pushTx(txRsp + 1000);
  else if (mode == "rx-rsp-prod-jump") pushRx(rxRsp + 1000);
  else {
    const id = rxIds[1];
    if (mode == "rx-status-lies") rxRespond(id, 0, 0, 4097);
    else if (mode == "rx-past-page") rxRespond(id, 4000, 0, 200);
    else if (mode == "rx-short") rxRespond(id, 0, 0, 10);
    else if (mode == "rx-negative") rxRespond(id, 0, 0, NETIF_RSP_ERROR);
    else if (mode == "rx-more-no-sg") rxRespond(id, 0, <u16>NETRXF_more_data, 60);
    else if (mode == "rx-wrong-id") rxRespond(<u16>(id + 5), 0, 0, 60);
    else { puts("net_hostile_back: unknown mode "); printk(mode); panic("bad command line"); }
    rxGood(2);
    pushRx(rxRsp);
  }
  timerSet(10 * NS_PER_MS, late, 0);
}

function late(arg: usize): void {
  if (isRx()) {
    if (mode == "rx-rsp-prod-jump") return;
    rxGood(3);
    pushRx(rxRsp);
  } else {
    for (let i = 4; i < SEND; i++) txRespond(txIds[i], NETIF_RSP_OKAY);
    pushTx(mode == "rsp-prod-jump" ? txRsp + 1000 : txRsp);
  }
  printk("net_hostile_back: answered the rest");
}

export function xen_upcall(): void {
  evtchnUpcall();
}
