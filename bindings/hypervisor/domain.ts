// A domain as the hypervisor sees it: its pseudo-physical memory and its hypervisor state, both
// in SharedArrayBuffers so that every thread of the threaded runner acts on the same state.
// `DomainDescriptor` is what crosses threads; `Domain` is one thread's view of it.
import { k, layout } from "../abi/layout.js";
import { fifoClearPending, fifoIsMasked, fifoIsPending, fifoSetPending, fifoUnmask } from "./evtchn_fifo.js";

/** Number of event-channel ports of the 2-level ABI on x86_64 (64 × 64). */
export const NR_EVTCHN_PORTS = 4096;
/** Number of ports of the FIFO ABI (2^EVTCHN_FIFO_LINK_BITS): the size of every port table. */
export const MAX_EVTCHN_PORTS = 1 << 17;
/** Event-array pages of the FIFO ABI (1024 event words each). */
export const FIFO_MAX_PAGES = MAX_EVTCHN_PORTS / 1024;
/** FIFO priority queues per vCPU. */
export const FIFO_QUEUES = 16;
/** Grant-table frames a domain may map (v1: 512 entries each). */
export const MAX_GRANT_FRAMES = 32;
/** Grant entries per v1 frame. */
export const GRANTS_PER_FRAME = 512;
/** Grant status frames of v2 (2-byte status per entry, 256 v2 entries per grant frame). */
export const MAX_STATUS_FRAMES = 4;
/** Map handles per domain (Xen's maptrack): room for a backend's persistent grants on many devices. */
export const MAPTRACK_SIZE = 16384;
/** Frames 0..3 are the null page, start_info, the xenstore ring and the console ring. */
export const FRAME_START_INFO = 1;
export const FRAME_XENSTORE = 2;
export const FRAME_CONSOLE = 3;
/** The low area (frames 0..255) a guest's own data must stay above. */
export const LOW_AREA_BYTES = 1 << 20;
export const PAGE_SIZE = 4096;

/**
 * Control words of a domain (indices into `ctl`, an Int32Array over the control buffer).
 *
 * Configuration words (SharedInfoGfn, VcpuInfo, EvtchnFifo, FifoControl, FifoPages, the FIFO
 * page table `fifo`, GrantVersion, GrantFrames, StatusFrames, TimerArmed, the user-port bitmap,
 * and a port's words once its state has been read) change only when a guest sets itself up,
 * and the event and grant paths read them with plain loads: an `Atomics` call is a call into V8's runtime (about 15 ns for a load, 25 for a read-modify-write
 * on Node 20 and 24), where a plain load of a typed array is one instruction, and on x86 the
 * value is the same (a sequentially consistent load is a plain `mov` there). The words that
 * order a hand-off (event words, pending and mask bits, `ready`, evtchn_upcall_pending,
 * Sleeping, Wake, the locks, a port's state) keep their atomics.
 */
export const enum Ctl {
  /** DomState. */
  State = 0,
  /** SHUTDOWN_* reason once State is Shutdown. */
  Reason = 1,
  /** 1 when privileged (dom0). */
  Privileged = 2,
  NrPages = 3,
  /** GFN of shared_info, -1 while unmapped. */
  SharedInfoGfn = 4,
  /** (5: unused; Wake moved to its own cache line, below.) */
  /** 1 while a single-shot timer is armed (deadline in `timer[0]`). */
  TimerArmed = 6,
  Domid = 7,
  ConsolePort = 8,
  StorePort = 9,
  /** HVM_PARAM_CALLBACK_IRQ as last set. */
  CallbackIrq = 11,
  /** Per-domain lock for its event-channel and grant state. */
  Lock = 12,
  /** (10, 13, 14, 15, 17..20: unused; the counters moved to their own cache line, below.) */
  /** Futex word of dom0's user space (xenstored, console daemon): bumped on events to user ports. */
  HostWake = 16,
  /** Grant-table version in force (1 or 2; GNTTABOP_set_version). */
  GrantVersion = 21,
  /** 1 once the domain switched to the FIFO event ABI (EVTCHNOP_init_control), 0 for 2-level. */
  EvtchnFifo = 22,
  /** Guest address of vCPU 0's vcpu_info (in shared_info, or where VCPUOP_register_vcpu_info put it), -1 while there is none. */
  VcpuInfo = 23,
  /** GFN of v2 grant status frame i at StatusFrames + i (i < MAX_STATUS_FRAMES), -1 while unmapped. */
  StatusFrames = 24,
  /** Guest address of vCPU 0's FIFO control block, -1 before EVTCHNOP_init_control. */
  FifoControl = 28,
  /** 1 once VCPUOP_register_vcpu_info placed vcpu_info (it never moves back). */
  VcpuInfoRegistered = 30,
  /** FIFO event-array pages added so far (EVTCHNOP_expand_array). */
  FifoPages = 31,

  /** GFN of grant frame i at GrantFrames + i, -1 while unmapped. */
  GrantFrames = 32,
  /** Port bound to VIRQ v at VirqPorts + v, 0 when unbound. */
  VirqPorts = 64,
  /** The lowest port that may be free (ports below it are all in use): where allocation searches from. */
  PortHint = 88,
  // The words other threads write on every event get cache lines of their own (64 bytes, 16
  // words): the domain's own thread writes the words above (counters, Idle) all the time, and a
  // line written by two cores moves between them on every write.
  /** Futex word: bumped on every event for this domain; an idle worker polls it, then waits on it. */
  Wake = 96,
  /**
   * 1 while the vCPU's thread is (about to be) in Atomics.wait on Wake: wake() notifies only
   * then. The sleeper sets it before its wait compares Wake, the waker reads it after bumping
   * Wake (both sequentially consistent), so one of them always sees the other: no lost wake-up.
   */
  Sleeping = 97,
  /** Events delivered to this domain, for --stats (written by the senders' threads). */
  Events = 112,
  /**
   * Lock of the FIFO queues (tails, links, head and ready words) and, after it, the tail port of
   * each of the 16 queues (0: empty): written by the senders on every FIFO event, so they share
   * the senders' line with Events instead of adding lines that move between cores.
   */
  FifoLock = 113,
  FifoTails = 114,
  // The words the domain's own thread writes all the time (counters, its maptrack) get a line of
  // their own too: other threads read the setup words above (shared_info, vcpu_info, the ABI in
  // force) on every event, and those must not share a line with a counter that changes at every
  // hypercall.
  /** Hypercalls made, for --stats. */
  Hypercalls = 144,
  /** 1 while the vCPU sleeps with no timer armed (threaded runner's idle detection). */
  Idle = 145,
  /** The maptrack's first-in-first-out free list: head + 1 in bits 0–14, tail + 1 in bits 15–29, bit 30 once built (gnttab.ts). */
  MapHint = 146,
  /** Grant maps, unmaps and copies this domain made (entries), for the benchmarks. */
  GrantOps = 147,
  /** Bytes this domain's GNTTABOP_copy entries moved, low and high 32 bits (only its own thread writes them). */
  CopyBytesLo = 148,
  CopyBytesHi = 149,
  /** Count of refused mapped-grant accesses (docs/ABI.md §4). */
  Violations = 150,
  /** Fault injection (faults.ts): the share of calls that fail (0: off), the generator's state, the faults injected. */
  FaultPercent = 151,
  FaultRng = 152,
  Faults = 153,
  /** Trace (runner/trace.ts): events sent to this domain while tracing (senders' threads), and those its upcalls ended. */
  TraceSent = 154,
  TraceDelivered = 155,
  /** Time this domain's vCPU spent in the guest, in µs, low and high 32 bits (kept while the run accounts it: trace or dashboard). */
  CpuUsLo = 156,
  CpuUsHi = 157,
  /** Grant mappings this domain holds now (its maptrack's live entries). */
  LiveMaps = 158,
  Size = 160,
}

/** Domain life cycle. */
export const enum DomState { Building = 0, Running = 1, Shutdown = 2 }

/** Port states (Xen's ECS_*). */
export const enum Ecs { Free = 0, Reserved = 1, Unbound = 2, Interdomain = 3, Pirq = 4, Virq = 5, Ipi = 6 }

/** Words per port in the event-channel table: state, remote domid / virq, remote port, FIFO word (PortFifo). */
export const PORT_WORDS = 4;
/**
 * Fields of a port's fourth word, Xen's per-channel FIFO state: its priority, the queue it was
 * last linked on (Xen's last_priority), and "pending while it had no event word" (Xen's
 * evtchn->pending, re-raised when EVTCHNOP_expand_array adds its page).
 */
export const enum PortFifo { PriorityMask = 0xf, LastShift = 8, LastMask = 0xf00, PendingNoWord = 0x10000 }
/** Words per maptrack entry: flags (0 = free), granter domid, ref, granter frame (GFN). */
export const MAP_WORDS = 4;
/** Maptrack flag bits (word 0). */
export const MAP_LIVE = 1, MAP_WRITABLE = 2, MAP_HOST = 4, MAP_DEVICE = 8;

/** Everything that makes a domain, transferable to another thread. */
export interface DomainDescriptor {
  domid: number;
  name: string;
  /** The domain's pseudo-physical memory; null for the host's domain 0. */
  memory: WebAssembly.Memory | null;
  /** Control words, then the shadow pending bitmap (before shared_info is mapped). */
  control: SharedArrayBuffer;
  /** Event-channel table: MAX_EVTCHN_PORTS × PORT_WORDS int32. */
  evtchn: SharedArrayBuffer;
  /** The guest addresses of the FIFO event-array pages (FIFO_MAX_PAGES words). */
  fifo: SharedArrayBuffer;
  /** Active grant pins of this domain's grant entries: readers (low 16) | writers (high 16). */
  active: SharedArrayBuffer;
  /** Mappings this domain holds: MAPTRACK_SIZE × MAP_WORDS int32. */
  maptrack: SharedArrayBuffer;
  /** Timer deadline (ns, system time) as one BigInt64. */
  timer: SharedArrayBuffer;
}

const SHADOW_WORDS = NR_EVTCHN_PORTS / 32;
const USER_WORDS = MAX_EVTCHN_PORTS / 32;
// The control buffer: Ctl words, the shadow pending bitmap (2-level), then the user-port bitmap
// and the user ports' pending bitmap (docs/ABI.md §7: ports bound by dom0's user space).
const CONTROL_WORDS = Ctl.Size + SHADOW_WORDS + 2 * USER_WORDS;

/** Creates the shared buffers of a new domain (state Building). `memory` null: host dom0. */
export function newDomainDescriptor(domid: number, name: string, memory: WebAssembly.Memory | null, privileged: boolean): DomainDescriptor {
  const d: DomainDescriptor = {
    domid, name, memory,
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    evtchn: new SharedArrayBuffer(MAX_EVTCHN_PORTS * PORT_WORDS * 4),
    fifo: new SharedArrayBuffer(FIFO_MAX_PAGES * 4),
    active: new SharedArrayBuffer(MAX_GRANT_FRAMES * GRANTS_PER_FRAME * 4),
    maptrack: new SharedArrayBuffer(MAPTRACK_SIZE * MAP_WORDS * 4),
    timer: new SharedArrayBuffer(8),
  };
  const ctl = new Int32Array(d.control);
  ctl[Ctl.Domid] = domid;
  ctl[Ctl.Privileged] = privileged ? 1 : 0;
  ctl[Ctl.NrPages] = memory ? memory.buffer.byteLength / PAGE_SIZE : 0;
  ctl[Ctl.SharedInfoGfn] = -1;
  ctl[Ctl.VcpuInfo] = -1;
  ctl[Ctl.FifoControl] = -1;
  ctl[Ctl.PortHint] = 1;
  ctl[Ctl.GrantVersion] = 1;
  for (let i = 0; i < MAX_STATUS_FRAMES; i++) ctl[Ctl.StatusFrames + i] = -1;
  for (let i = 0; i < MAX_GRANT_FRAMES; i++) ctl[Ctl.GrantFrames + i] = -1;
  return d;
}

const SI = layout("struct shared_info");
const VI = layout("struct vcpu_info");
const PENDING = SI.evtchn_pending;
const MASK = SI.evtchn_mask;
const EFAULT = k("XEN_EFAULT");

/** Thrown by a guest-memory access outside the domain's memory; hypercalls turn it into -EFAULT. */
export class GuestFault extends Error {
  readonly errno = -EFAULT;
}

/** One thread's view of a domain: typed views over its shared buffers and guest-memory access. */
export class Domain {
  readonly domid: number;
  readonly name: string;
  readonly desc: DomainDescriptor;
  readonly ctl: Int32Array;
  /** Pending bits recorded while shared_info is unmapped (and for the host's dom0). */
  readonly shadow: Int32Array;
  /** Ports consumed by dom0's user space (the harness's xenstored and console daemon), one bit each. */
  readonly userPorts: Int32Array;
  /** Pending bits of the user ports: never in shared_info, so the domain's kernel never sees them. */
  readonly userPending: Int32Array;
  readonly ports: Int32Array;
  /** FIFO event-array page addresses (written at EVTCHNOP_expand_array, read by every sender). */
  readonly fifo: Int32Array;
  readonly active: Int32Array;
  /** Entries into the guest left before the runner publishes the pvclock again (this thread's view). */
  timeRefresh = 0;
  readonly maps: Int32Array;
  readonly timer: BigInt64Array;
  /** Guest memory (empty for the host's dom0) and views over it. */
  readonly buf: ArrayBufferLike;
  readonly u8: Uint8Array;
  /** 16-bit view (evtchn_upcall_pending and evtchn_upcall_mask read in one load). */
  readonly h16: Uint16Array;
  readonly i32: Int32Array;
  readonly view: DataView;
  readonly bytes: number;

  constructor(desc: DomainDescriptor) {
    this.desc = desc;
    this.domid = desc.domid;
    this.name = desc.name;
    this.ctl = new Int32Array(desc.control, 0, Ctl.Size);
    this.shadow = new Int32Array(desc.control, Ctl.Size * 4, SHADOW_WORDS);
    this.userPorts = new Int32Array(desc.control, (Ctl.Size + SHADOW_WORDS) * 4, USER_WORDS);
    this.userPending = new Int32Array(desc.control, (Ctl.Size + SHADOW_WORDS + USER_WORDS) * 4, USER_WORDS);
    this.ports = new Int32Array(desc.evtchn);
    this.fifo = new Int32Array(desc.fifo);
    this.active = new Int32Array(desc.active);
    this.maps = new Int32Array(desc.maptrack);
    this.timer = new BigInt64Array(desc.timer);
    const buf: ArrayBufferLike = desc.memory ? desc.memory.buffer : new SharedArrayBuffer(0);
    this.buf = buf;
    this.u8 = new Uint8Array(buf);
    this.h16 = new Uint16Array(buf, 0, buf.byteLength >>> 1);
    this.i32 = new Int32Array(buf);
    this.view = new DataView(buf);
    this.bytes = buf.byteLength;
  }

  /** True for the host-side domain 0 (no guest memory; dom0 services run in the harness). */
  get isHost(): boolean { return this.desc.memory === null; }
  get privileged(): boolean { return this.ctl[Ctl.Privileged] === 1; }
  get state(): DomState { return Atomics.load(this.ctl, Ctl.State); }
  get nrPages(): number { return this.ctl[Ctl.NrPages]; }

  /** Throws GuestFault unless [addr, addr+len) lies inside guest memory. */
  check(addr: number, len: number): void {
    if (!(addr >= 0 && len >= 0 && addr + len <= this.bytes)) throw new GuestFault(`guest address ${addr}+${len} outside ${this.bytes} bytes`);
  }
  u16(a: number): number { this.check(a, 2); return this.view.getUint16(a, true); }
  u32(a: number): number { this.check(a, 4); return this.view.getUint32(a, true); }
  s32(a: number): number { this.check(a, 4); return this.view.getInt32(a, true); }
  u64(a: number): bigint { this.check(a, 8); return this.view.getBigUint64(a, true); }
  /** Reads a u64 that must fit a double (addresses, frame numbers). */
  u64n(a: number): number {
    this.check(a, 8);
    const hi = this.view.getUint32(a + 4, true);
    return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + this.view.getUint32(a, true);
  }
  w8(a: number, v: number): void { this.check(a, 1); this.view.setUint8(a, v); }
  w16(a: number, v: number): void { this.check(a, 2); this.view.setUint16(a, v, true); }
  w32(a: number, v: number): void { this.check(a, 4); this.view.setUint32(a, v >>> 0, true); }
  ws32(a: number, v: number): void { this.check(a, 4); this.view.setInt32(a, v, true); }
  w64(a: number, v: bigint | number): void { this.check(a, 8); this.view.setBigUint64(a, BigInt.asUintN(64, BigInt(v)), true); }

  /** Guest physical address of shared_info, or -1 while unmapped. */
  sharedInfo(): number {
    const g = this.ctl[Ctl.SharedInfoGfn]; // a configuration word: a plain load (see Ctl)
    return g < 0 ? -1 : g * PAGE_SIZE;
  }

  /** Guest address of vCPU 0's vcpu_info (shared_info's, or the registered one), or -1 while there is none. */
  vcpuInfo(): number { return Atomics.load(this.ctl, Ctl.VcpuInfo); }

  /** True under the FIFO event ABI (after EVTCHNOP_init_control, until EVTCHNOP_reset). */
  get fifoAbi(): boolean { return Atomics.load(this.ctl, Ctl.EvtchnFifo) !== 0; }

  /** The number of valid ports under the domain's event ABI (4096 for 2-level, 2^17 for FIFO). */
  maxPorts(): number { return this.fifoAbi ? MAX_EVTCHN_PORTS : NR_EVTCHN_PORTS; }

  /**
   * True when an upcall is due: a vcpu_info exists, its upcall is pending and not masked. The
   * idle loop's test: vcpu_info's address is a configuration word (a plain read, see Ctl),
   * and evtchn_upcall_pending and evtchn_upcall_mask, adjacent bytes at an
   * 8-aligned address, are read with one atomic 16-bit load.
   */
  upcallDue(): boolean {
    const vi = this.ctl[Ctl.VcpuInfo];
    if (vi < 0) return false;
    const v = Atomics.load(this.h16, (vi + VI.evtchn_upcall_pending) >>> 1);
    return (v & 0xff) !== 0 && (v >>> 8) === 0;
  }

  /**
   * Sets evtchn_upcall_pending (Xen's vcpu_mark_events_pending) and wakes the domain if it sleeps:
   * a polling vCPU watches evtchn_upcall_pending itself (upcallDue). See raiseSel for the order.
   */
  markEventsPending(): void {
    this.upcallAt(this.ctl[Ctl.VcpuInfo]);
  }

  /** Sets evtchn_upcall_pending in the vcpu_info at `vi` (if there is one), then wakes a sleeper: the order raiseSel explains. */
  private upcallAt(vi: number): void {
    if (vi >= 0) Atomics.store(this.u8, vi + VI.evtchn_upcall_pending, 1);
    if (Atomics.load(this.ctl, Ctl.Sleeping) !== 0) this.wake();
  }

  /**
   * Hands `port` to dom0's user space (as binding it through /dev/xen/evtchn does): its events
   * wake the harness's services (HostWake) and never reach the domain's own upcall.
   */
  setUserPort(port: number, on: boolean): void {
    const bit = 1 << (port & 31);
    if (on) Atomics.or(this.userPorts, port >>> 5, bit);
    else { Atomics.and(this.userPorts, port >>> 5, ~bit); Atomics.and(this.userPending, port >>> 5, ~bit); }
  }

  /** True when `port` belongs to dom0's user space (setUserPort). */
  isUserPort(port: number): boolean {
    return (this.userPorts[port >>> 5] & (1 << (port & 31))) !== 0;
  }

  /** True when `port` is pending (FIFO event word; 2-level: shared_info, or the shadow bitmap before it is mapped). */
  portPending(port: number): boolean {
    const si = this.sharedInfo();
    const bit = 1 << (port & 31);
    if (this.isUserPort(port)) return (Atomics.load(this.userPending, port >>> 5) & bit) !== 0;
    if (this.fifoAbi) return fifoIsPending(this, port);
    if (port >= NR_EVTCHN_PORTS) return false;
    if (si < 0) return (Atomics.load(this.shadow, port >>> 5) & bit) !== 0;
    return (Atomics.load(this.i32, (si + PENDING) / 4 + (port >>> 5)) & bit) !== 0;
  }

  /** Clears `port`'s pending bit (host dom0 services consume their events this way). */
  clearPending(port: number): void {
    const si = this.sharedInfo();
    const bit = 1 << (port & 31);
    if (this.isUserPort(port)) { Atomics.and(this.userPending, port >>> 5, ~bit); return; }
    if (this.fifoAbi) { fifoClearPending(this, port); return; }
    if (port >= NR_EVTCHN_PORTS) return;
    if (si < 0) Atomics.and(this.shadow, port >>> 5, ~bit);
    else Atomics.and(this.i32, (si + PENDING) / 4 + (port >>> 5), ~bit);
  }

  /**
   * Marks `port` pending with the rules of the domain's event ABI (2-level here, FIFO in
   * evtchn_fifo.ts); returns true when it was newly pending. Safe from any thread.
   */
  setPending(port: number): boolean {
    const word = port >>> 5, bit = 1 << (port & 31);
    if (this.isUserPort(port)) {
      Atomics.add(this.ctl, Ctl.Events, 1);
      const old = Atomics.or(this.userPending, word, bit);
      if (old & bit) return false;
      this.hostWake();
      return true;
    }
    // FIFO counts the event under its queue lock, with a plain increment.
    if (this.ctl[Ctl.EvtchnFifo] !== 0) return fifoSetPending(this, port, true);
    Atomics.add(this.ctl, Ctl.Events, 1);
    const si = this.sharedInfo();
    if (si < 0) {
      const old = Atomics.or(this.shadow, word, bit);
      if (old & bit) return false;
      this.wake();
      return true;
    }
    const old = Atomics.or(this.i32, (si + PENDING) / 4 + word, bit);
    if (old & bit) return false;
    // A masked port raises no upcall, but a vCPU asleep in SCHEDOP_poll may be waiting for it.
    if (Atomics.load(this.i32, (si + MASK) / 4 + word) & bit) {
      if (Atomics.load(this.ctl, Ctl.Sleeping) !== 0) this.wake();
      return false;
    }
    this.raiseSel(port >>> 6);
    return true;
  }

  /** True when `port` is masked (FIFO: MASKED or no event word yet; 2-level: its evtchn_mask bit). */
  portMasked(port: number): boolean {
    if (this.fifoAbi) return fifoIsMasked(this, port);
    const si = this.sharedInfo();
    if (si < 0 || port >= NR_EVTCHN_PORTS) return false;
    return (Atomics.load(this.i32, (si + MASK) / 4 + (port >>> 5)) & (1 << (port & 31))) !== 0;
  }

  /**
   * Sets evtchn_pending_sel bit `sel` and evtchn_upcall_pending, then wakes the domain if it
   * sleeps: a polling vCPU watches evtchn_upcall_pending itself (upcallDue), so the wake word, a
   * cache line more to move between cores on every event, is touched only for a sleeper. The
   * sleeper sets Sleeping and then looks at upcallDue once more before Atomics.wait; this store of
   * evtchn_upcall_pending comes before the load of Sleeping (both sequentially consistent), so
   * one side always sees the other.
   */
  raiseSel(sel: number): void {
    const vi = this.ctl[Ctl.VcpuInfo];
    if (vi < 0) return;
    Atomics.or(this.i32, (vi + VI.evtchn_pending_sel) / 4 + (sel >>> 5), 1 << (sel & 31));
    this.upcallAt(vi);
  }

  /** Clears the mask of `port` and re-raises it if it is pending (EVTCHNOP_unmask, either ABI). */
  unmask(port: number): void {
    if (this.fifoAbi) { fifoUnmask(this, port); return; }
    if (port >= NR_EVTCHN_PORTS) return;
    const si = this.sharedInfo();
    const word = port >>> 5, bit = 1 << (port & 31);
    if (si < 0) return;
    Atomics.and(this.i32, (si + MASK) / 4 + word, ~bit);
    if (Atomics.load(this.i32, (si + PENDING) / 4 + word) & bit) this.raiseSel(port >>> 6);
  }

  /**
   * Wakes the domain's vCPU: bumps its wake word, which a polling vCPU sees, and notifies it only
   * when it sleeps in Atomics.wait (threaded runner; Atomics.notify costs even with no waiter).
   */
  wake(): void {
    Atomics.add(this.ctl, Ctl.Wake, 1);
    if (Atomics.load(this.ctl, Ctl.Sleeping) !== 0) Atomics.notify(this.ctl, Ctl.Wake);
  }

  /** Wakes dom0's user space (the harness thread serving user ports). */
  hostWake(): void {
    Atomics.add(this.ctl, Ctl.HostWake, 1);
    Atomics.notify(this.ctl, Ctl.HostWake);
  }

  /**
   * Makes the frame at `gfn` this domain's shared_info: Xen's state so far (shadow pending bits,
   * or the previous frame's content) is copied in, and upcalls are raised for what is pending.
   * vcpu_info stays where VCPUOP_register_vcpu_info put it, if it did.
   */
  mapSharedInfo(gfn: number): void {
    const old = this.sharedInfo();
    const si = gfn * PAGE_SIZE;
    if (old === si) return;
    if (old >= 0) this.u8.copyWithin(si, old, old + SI.size);
    else {
      this.u8.fill(0, si, si + PAGE_SIZE);
      for (let w = 0; w < this.shadow.length; w++) this.i32[(si + PENDING) / 4 + w] = Atomics.exchange(this.shadow, w, 0);
    }
    Atomics.store(this.ctl, Ctl.SharedInfoGfn, gfn);
    if (!Atomics.load(this.ctl, Ctl.VcpuInfoRegistered)) Atomics.store(this.ctl, Ctl.VcpuInfo, si + SI.vcpu_info);
    if (this.fifoAbi) {
      // Queues that became ready while there was no vcpu_info still need their upcall.
      const cb = Atomics.load(this.ctl, Ctl.FifoControl);
      if (cb >= 0 && Atomics.load(this.i32, cb / 4) !== 0) this.markEventsPending();
      return;
    }
    for (let w = 0; w < NR_EVTCHN_PORTS / 32; w++) {
      const p = Atomics.load(this.i32, (si + PENDING) / 4 + w) & ~Atomics.load(this.i32, (si + MASK) / 4 + w);
      if (p) this.raiseSel(w >>> 1);
    }
  }
}

/**
 * A lock on an Int32Array word (0 free, 1 held, 2 held with waiters: Drepper's futex mutex):
 * spins a little, then marks the word contended and sleeps in Atomics.wait where the thread may
 * block. Only a contended unlock pays for Atomics.notify, which costs even when nobody waits.
 */
export function lock(words: Int32Array, index: number): void {
  if (Atomics.compareExchange(words, index, 0, 1) === 0) return;
  for (let spins = 0; ; spins++) {
    if (spins < 100) {
      if (Atomics.load(words, index) === 0 && Atomics.compareExchange(words, index, 0, 1) === 0) return;
      continue;
    }
    // Contended: mark it (2) so that the holder's unlock notifies, and sleep while it stays marked.
    if (Atomics.exchange(words, index, 2) === 0) return;
    if (canBlock) Atomics.wait(words, index, 2, 1);
  }
}

/** Releases a lock taken with `lock`, waking one waiter if the word says there are any. */
export function unlock(words: Int32Array, index: number): void {
  if (Atomics.exchange(words, index, 0) === 2) Atomics.notify(words, index, 1);
}

/**
 * Takes the locks of `a` and `b` (one domain or two) in domid order (no deadlock), allocating
 * nothing: map and unmap are on every backend request's path. Release with unlockPair(a, b).
 */
export function lockPair(a: Domain, b: Domain): void {
  const first = a.domid <= b.domid ? a : b;
  lock(first.ctl, Ctl.Lock);
  if (b !== a) lock((first === a ? b : a).ctl, Ctl.Lock);
}

/** Releases what lockPair(a, b) took. */
export function unlockPair(a: Domain, b: Domain): void {
  if (b !== a) unlock(b.ctl, Ctl.Lock);
  unlock(a.ctl, Ctl.Lock);
}

// The main thread of Node.js may not Atomics.wait; workers may.
let canBlock = false;
/** Declares whether this thread may block in Atomics.wait (true in runner workers). */
export function setThreadCanBlock(v: boolean): void { canBlock = v; }
