// HYPERVISOR_vcpu_op: the single-shot timer that raises VIRQ_TIMER, VCPUOP_register_vcpu_info,
// and the pvclock time the harness publishes in vcpu_info (docs/ABI.md §5).
import { k, layout } from "../abi/layout.js";
import { Ctl, Domain, PAGE_SIZE } from "./domain.js";
import { guestFrameOk } from "./evtchn_fifo.js";
import { sendVirq } from "./evtchn.js";
import { guarded, type Hypervisor } from "./hypervisor.js";

const E = { ENOENT: -k("XEN_ENOENT"), NOSYS: -k("XEN_ENOSYS"), ETIME: -k("XEN_ETIME"), INVAL: -k("XEN_EINVAL"), NXIO: -k("XEN_ENXIO") };
const SST = layout("struct vcpu_set_singleshot_timer");
const RVI = layout("struct vcpu_register_vcpu_info");
const SI = layout("struct shared_info");
const VI = layout("struct vcpu_info");
const VTI = layout("struct vcpu_time_info");
const TIME = VI.time;
/** pvclock scale: ns = (tsc delta << 1) * 0x80000000 >> 32, i.e. the TSC counts ns. */
export const TSC_MUL = 0x80000000, TSC_SHIFT = 1;

/** The `vcpu_op(cmd, vcpuid, arg)` import. */
export function vcpuOp(hv: Hypervisor, d: Domain, cmd: number, vcpuid: number, arg: number): number {
  return guarded(() => {
    if (vcpuid !== 0) return E.ENOENT;
    switch (cmd) {
      case k("VCPUOP_set_singleshot_timer"): {
        d.check(arg, SST.size);
        const deadline = d.u64(arg + SST.timeout_abs_ns);
        const flags = d.u32(arg + SST.flags);
        if ((flags & k("VCPU_SSHOTTMR_future")) && deadline < hv.now()) return E.ETIME;
        Atomics.store(d.timer, 0, BigInt.asIntN(64, deadline));
        Atomics.store(d.ctl, Ctl.TimerArmed, 1);
        hv.hooks.timerChanged(d);
        return 0;
      }
      case k("VCPUOP_stop_singleshot_timer"):
        Atomics.store(d.ctl, Ctl.TimerArmed, 0);
        hv.hooks.timerChanged(d);
        return 0;
      case k("VCPUOP_register_vcpu_info"): return registerVcpuInfo(hv, d, arg);
      default: return E.NOSYS;
    }
  });
}

const PVCLOCK_TSC_STABLE = k("XEN_PVCLOCK_TSC_STABLE_BIT"), VIRQ_TIMER = k("VIRQ_TIMER");

/** The armed timer's deadline of `d`, or null. */
export function timerDeadline(d: Domain): bigint | null {
  return d.ctl[Ctl.TimerArmed] ? Atomics.load(d.timer, 0) : null; // TimerArmed: a plain load on every idle entry (see Ctl)
}

/** Fires `d`'s timer if it is due at `now`: disarms it and raises VIRQ_TIMER. */
export function fireTimerIfDue(d: Domain, now: bigint): boolean {
  const t = timerDeadline(d);
  if (t === null || t > now) return false;
  if (Atomics.compareExchange(d.ctl, Ctl.TimerArmed, 1, 0) !== 1) return false;
  sendVirq(d, VIRQ_TIMER);
  return true;
}

/**
 * VCPUOP_register_vcpu_info (Xen's map_vcpu_info): moves vCPU 0's vcpu_info to `mfn` + `offset`
 * for good. The current content is copied there (with no shared_info yet, the new area starts
 * zeroed, as a first shared_info does: upcalls unmasked), then every selector bit and evtchn_upcall_pending are set so that
 * nothing raised meanwhile is lost (the guest sees one spurious scan), and the time is published.
 */
function registerVcpuInfo(hv: Hypervisor, d: Domain, arg: number): number {
  d.check(arg, RVI.size);
  const gfn = d.u64n(arg + RVI.mfn), offset = d.u32(arg + RVI.offset);
  // -ENXIO: beyond the page or not aligned as vcpu_info (8: XSA-327's check).
  if (offset > PAGE_SIZE - VI.size || (offset & 7) !== 0) return E.NXIO;
  if (Atomics.load(d.ctl, Ctl.VcpuInfoRegistered) || !guestFrameOk(d, gfn)) {
    publishTime(d, hv.now()); // Xen refreshes the time even when the registration fails
    return E.INVAL;
  }
  const addr = gfn * PAGE_SIZE + offset;
  const old = d.vcpuInfo();
  if (old >= 0) d.u8.copyWithin(addr, old, old + VI.size);
  else d.u8.fill(0, addr, addr + VI.size);
  Atomics.store(d.ctl, Ctl.VcpuInfoRegistered, 1);
  Atomics.store(d.ctl, Ctl.VcpuInfo, addr);
  Atomics.store(d.i32, (addr + VI.evtchn_pending_sel) / 4, -1);
  Atomics.store(d.i32, (addr + VI.evtchn_pending_sel) / 4 + 1, -1);
  d.markEventsPending();
  publishTime(d, hv.now());
  hv.hooks.trace?.(`vcpu_info ${d.domid} @${addr}`);
  return 0;
}

/** Publishes system time `now` in `d`'s vcpu_info (pvclock version protocol). */
export function publishTime(d: Domain, now: bigint): void {
  const t0 = d.vcpuInfo();
  if (t0 < 0) return;
  const t = t0 + TIME;
  const v = d.view.getUint32(t + VTI.version, true);
  d.view.setUint32(t + VTI.version, (v + 1) | 1, true);
  d.view.setBigUint64(t + VTI.tsc_timestamp, now, true);
  d.view.setBigUint64(t + VTI.system_time, now, true);
  d.view.setUint32(t + VTI.tsc_to_system_mul, TSC_MUL, true);
  d.view.setInt8(t + VTI.tsc_shift, TSC_SHIFT);
  d.view.setUint8(t + VTI.flags, PVCLOCK_TSC_STABLE);
  d.view.setUint32(t + VTI.version, ((v + 1) | 1) + 1, true);
}

/** Writes the wall clock at system time 0 into `d`'s shared_info. */
export function publishWallclock(d: Domain, epochNs: bigint): void {
  const si = d.sharedInfo();
  if (si < 0) return;
  const v = d.view.getUint32(si + SI.wc_version, true);
  d.view.setUint32(si + SI.wc_version, (v + 1) | 1, true);
  d.view.setUint32(si + SI.wc_sec, Number(epochNs / 1_000_000_000n) >>> 0, true);
  d.view.setUint32(si + SI.wc_nsec, Number(epochNs % 1_000_000_000n), true);
  d.view.setUint32(si + SI.wc_sec_hi, Number(epochNs / 1_000_000_000n / 0x1_0000_0000n), true);
  d.view.setUint32(si + SI.wc_version, ((v + 1) | 1) + 1, true);
}
