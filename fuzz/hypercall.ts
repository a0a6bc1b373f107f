// The fuzzer of target "hypercall": a guest that calls every `xen` import with random and
// boundary arguments (sub-ops just past the known ones, pointers outside its memory, huge and
// negative counts, random bytes where the pointers point, small domids, ports and refs that hit
// the other domains), fuzz.steps calls in batches of 64 per 1 ms tick, beside the steady guest.
// The harness must answer every call with a 32-bit value and keep itself and the other domains
// running (the CLI counts the steady guest's wrong answers and crashes and the harness's errors).
// It spares what it needs to keep running and to report — its console, xenstore and timer ports,
// its one-shot timer, its shared_info and event-array placement, SCHEDOP_block/poll/shutdown — and points every
// pointer Xen writes through into a scratch area, so that a write the guest asked for cannot
// corrupt its own code's data (that would be the guest's bug, not the harness's).
import {
  boot, evtchnUpcall, poweroff, timerSet, NS_PER_MS,
  event_channel_op, grant_table_op, sched_op, memory_op, console_io, xen_version, vcpu_op, hvm_op,
  grant_copy_from, grant_copy_to, grant_load32, grant_store32, grant_cmpxchg32,
} from "../assembly/index";
import {
  EVTCHNOP_close, EVTCHNOP_reset, EVTCHNOP_expand_array, EVTCHNOP_alloc_unbound, EVTCHNOP_bind_ipi,
} from "../assembly/xen/event_channel";
import {
  GNTTABOP_setup_table, GNTTABOP_get_status_frames, GNTTABOP_copy, GNTCOPY_dest_gref,
  gnttab_setup_table, gnttab_get_status_frames, gnttab_copy,
} from "../assembly/xen/grant_table";
import { SCHEDOP_block, SCHEDOP_shutdown, SCHEDOP_poll } from "../assembly/xen/sched";
import { XENMEM_add_to_physmap } from "../assembly/xen/memory";
import { VCPUOP_set_singleshot_timer, VCPUOP_stop_singleshot_timer } from "../assembly/xen/vcpu";
import { fuzzInit, fuzzSteps, fuzzStepsWanted, fuzzRand, fuzzBelow, fuzzChance, fuzzStep, fuzzInjected, fuzzDetected, fuzzReport } from "./lib/fuzz";

const SCRATCH_BYTES: u32 = 65536;
const SCRATCH: usize = memory.data(<i32>SCRATCH_BYTES, 4096);
/** Batches of calls: a tick every millisecond lets the steady guest run in between. */
const BATCH: u32 = 64;
/** Ports this fuzzer allocated itself: the only ones it may close. */
const mine = new StaticArray<u32>(64);
let nMine: i32 = 0;
let memBytes: u32 = 0;

export function xen_start(si: i32): void {
  boot(si);
  fuzzInit();
  memBytes = <u32>memory.size() << 16;
  timerSet(NS_PER_MS, tick, 0);
}

/** A pointer Xen may read or write: somewhere in the scratch area, or not in memory at all. */
function pointer(): i32 {
  switch (fuzzBelow(8)) {
    case 0: return <i32>memBytes; // just past the end
    case 1: return 0x7fffffff;
    case 2: return -1;
    case 3: return <i32>0x80000000;
    case 4: return <i32>(SCRATCH + 4096 - 8); // the end of a page
    default: return <i32>(SCRATCH + <usize>(fuzzBelow(SCRATCH_BYTES / 2) & ~7));
  }
}

/** An integer argument: small (sub-ops, ports, counts), a boundary value, or anything. */
function integer(): i32 {
  switch (fuzzBelow(4)) {
    case 0: return <i32>fuzzBelow(24) - 2;
    case 1: {
      const b = fuzzBelow(8);
      return b == 0 ? 0x7fffffff : b == 1 ? -1 : b == 2 ? <i32>0x80000000 : b == 3 ? 0x7ff0 : b == 4 ? 1 << 17 : b == 5 ? 4095 : b == 6 ? 4096 : 65536;
    }
    case 2: return <i32>fuzzBelow(5);
    default: return <i32>fuzzRand();
  }
}

/** A count of entries or bytes: small enough to stay in the scratch area, or absurd. */
function count(max: u32): i32 {
  return fuzzChance(80) ? <i32>fuzzBelow(max + 1) : integer();
}

/** Fills the first bytes of `p` (when it is in the scratch area) with random bytes and small ids. */
function fill(p: i32): void {
  if (!inScratch(p, 256)) return;
  const a = <usize><u32>p;
  for (let i: usize = 0; i < 256; i += 4) store<u32>(a + i, fuzzRand());
  // Small values where domids, ports, refs and flags live, so that calls reach the other domains.
  for (let i = 0; i < 6; i++) {
    const v = fuzzBelow(6);
    store<u16>(a + <usize>(fuzzBelow(24) * 2), v == 5 ? 0x7ff0 : <u16>v);
  }
}

/** Whether `p` points into the scratch area with `n` bytes of room. */
function inScratch(p: i32, n: u32): bool {
  const a = <u64><u32>p; // 64-bit: p + n must not wrap around
  return a >= <u64>SCRATCH && a + <u64>n <= <u64>(SCRATCH + SCRATCH_BYTES);
}

/** Keeps a call from hitting what the fuzzer needs: its boot ports, and writes through pointers inside structs. */
function tame(op: i32, cmd: i32, p: i32, n: i32): bool {
  if (op == 0) {
    if (cmd == EVTCHNOP_reset) return false;
    if (cmd == EVTCHNOP_close && inScratch(p, 4)) {
      // Only a port of its own making, or one that does not exist.
      store<u32>(<usize><u32>p, nMine > 0 && fuzzChance(70) ? mine[<i32>fuzzBelow(<u32>nMine)] : 0x20000 + fuzzBelow(1000));
    }
    // New event-array pages the SDK does not know would have Xen link ports its FIFO consumer
    // cannot find (Linux, too, adds them only through its own expand_array).
    if (cmd == EVTCHNOP_expand_array) return false;
  } else if (op == 1) {
    if (cmd == GNTTABOP_setup_table && inScratch(p, 24)) changetype<gnttab_setup_table>(<usize><u32>p).frame_list = <u64>(SCRATCH + 32768);
    if (cmd == GNTTABOP_get_status_frames && inScratch(p, 16)) changetype<gnttab_get_status_frames>(<usize><u32>p).frame_list = <u64>(SCRATCH + 32768);
    if (cmd == GNTTABOP_copy && n > 0 && inScratch(p, <u32>n * 40)) {
      // A local destination is a frame number: keep it in the scratch area.
      for (let i = 0; i < n; i++) {
        const c = changetype<gnttab_copy>(<usize><u32>p + <usize>i * 40);
        if (!(c.flags & GNTCOPY_dest_gref)) c.dest_u_gmfn = <u64>((SCRATCH >> 12) + fuzzBelow(16));
      }
    }
  } else if (op == 2) {
    if (cmd == SCHEDOP_block || cmd == SCHEDOP_shutdown || cmd == SCHEDOP_poll) return false;
  } else if (op == 3) {
    if (cmd == XENMEM_add_to_physmap) return false; // would move its shared_info or grant frames
  } else if (op == 6) {
    if (cmd == VCPUOP_set_singleshot_timer || cmd == VCPUOP_stop_singleshot_timer) return false; // its own tick
  }
  return true;
}

function oneCall(): void {
  const op = <i32>fuzzBelow(13);
  const cmd = integer(), p = pointer();
  fill(p);
  let n = count(64);
  // Grant entries are at most 40 bytes (gnttab_copy): a batch that starts in the scratch area
  // stays in it, as Xen writes every entry's status.
  if (op == 1 && n > 0 && inScratch(p, 8) && !inScratch(p, <u32>n * 40)) n = <i32>fuzzBelow(16);
  if (!tame(op, cmd, p, n)) return;
  const outside = <u32>p >= memBytes;
  let rc: i32 = 0;
  switch (op) {
    case 0: rc = event_channel_op(cmd, p); break;
    case 1: rc = grant_table_op(cmd, p, n); break;
    case 2: rc = sched_op(cmd, p); break;
    case 3: rc = memory_op(cmd, p); break;
    case 4: {
      // Xen writes whatever lies in memory: a huge count goes with a pointer outside it, or the
      // console would carry all of the guest's memory.
      const len = count(256);
      rc = console_io(cmd, len, len > 4096 || len < 0 ? <i32>memBytes + <i32>fuzzBelow(4096) : p);
      break;
    }
    case 5: rc = xen_version(cmd, p); break;
    case 6: rc = vcpu_op(cmd, integer() & 1, p); break;
    case 7: rc = hvm_op(cmd, p); break;
    case 8: rc = grant_copy_from(integer(), integer(), p, count(4096)); break;
    case 9: rc = grant_copy_to(integer(), integer(), p, count(4096)); break;
    case 10: rc = grant_load32(integer(), integer(), p); break;
    case 11: rc = grant_store32(integer(), integer(), integer()); break;
    default: rc = grant_cmpxchg32(integer(), integer(), integer(), integer(), p); break;
  }
  // A port it just made is its own to close later.
  if (op == 0 && rc == 0 && (cmd == EVTCHNOP_alloc_unbound || cmd == EVTCHNOP_bind_ipi) && nMine < 64 && inScratch(p, 8)) {
    mine[nMine++] = load<u32>(<usize><u32>p, 4) // evtchn_alloc_unbound.port and evtchn_bind_ipi.port are both at 4;
  }
  if (outside) {
    fuzzInjected();
    if (rc < 0) fuzzDetected();
  }
}

function tick(arg: usize): void {
  const wanted = fuzzStepsWanted();
  for (let i: u32 = 0; i < BATCH && fuzzSteps < wanted; i++) {
    oneCall();
    fuzzStep();
  }
  if (fuzzSteps < wanted) {
    timerSet(NS_PER_MS, tick, 0);
    return;
  }
  fuzzReport();
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
