// HYPERVISOR_sched_op: yield, block, shutdown (which unwinds the guest), poll and the
// privileged remote shutdown.
import { k, layout } from "../abi/layout.js";
import { Domain, Ecs } from "./domain.js";
import { portState } from "./evtchn.js";
import { DomainExit, guarded, type Hypervisor } from "./hypervisor.js";

const E = { PERM: -k("XEN_EPERM"), INVAL: -k("XEN_EINVAL"), NOSYS: -k("XEN_ENOSYS") };
const SD = layout("struct sched_shutdown");
const POLL = layout("struct sched_poll");
const RSD = layout("struct sched_remote_shutdown");
const VI = layout("struct vcpu_info");
/** Most ports one SCHEDOP_poll may wait on (Xen allows up to the domain's max, 128 here). */
export const MAX_POLL_PORTS = 128;

/** Human names of the SHUTDOWN_* reasons. */
export const SHUTDOWN_NAMES: Record<number, string> = {
  [k("SHUTDOWN_poweroff")]: "poweroff", [k("SHUTDOWN_reboot")]: "reboot", [k("SHUTDOWN_suspend")]: "suspend",
  [k("SHUTDOWN_crash")]: "crash", [k("SHUTDOWN_watchdog")]: "watchdog", [k("SHUTDOWN_soft_reset")]: "soft_reset",
};

function validReason(r: number): boolean { return r >= 0 && r <= k("SHUTDOWN_MAX"); }

/** The `sched_op(cmd, arg)` import. */
export function schedOp(hv: Hypervisor, d: Domain, cmd: number, arg: number): number {
  // Shutdown unwinds the guest: it must not be caught by `guarded`.
  if (cmd === k("SCHEDOP_shutdown")) {
    let reason: number;
    try { reason = d.u32(arg + SD.reason); } catch { return -k("XEN_EFAULT"); }
    if (!validReason(reason)) return E.INVAL;
    hv.shutdown(d, reason);
    throw new DomainExit(reason, `shutdown: ${SHUTDOWN_NAMES[reason]}`);
  }
  return guarded(() => {
    switch (cmd) {
      case k("SCHEDOP_yield"): return 0;
      case k("SCHEDOP_block"): {
        const vi = d.vcpuInfo();
        if (vi >= 0) Atomics.store(d.u8, vi + VI.evtchn_upcall_mask, 0);
        return 0;
      }
      case k("SCHEDOP_poll"): {
        d.check(arg, POLL.size);
        const n = d.u32(arg + POLL.nr_ports);
        if (n > MAX_POLL_PORTS) return E.INVAL;
        const list = d.u64n(arg + POLL.ports);
        d.check(list, n * 4);
        const ports: number[] = [];
        for (let i = 0; i < n; i++) {
          const p = d.u32(list + i * 4);
          // Xen 4.17 (do_poll honours evtchn_usable): port 0, free and out-of-range ports are -EINVAL.
          if (p === 0 || p >= d.maxPorts() || portState(d, p) === Ecs.Free) return E.INVAL;
          ports.push(p);
        }
        const timeout = d.u64(arg + POLL.timeout);
        hv.hooks.poll(d, () => ports.some((p) => d.portPending(p)), timeout === 0n ? null : timeout);
        return 0;
      }
      case k("SCHEDOP_remote_shutdown"): {
        if (!d.privileged) return E.PERM;
        const t = hv.lookup(d, d.u16(arg + RSD.domain_id));
        if (typeof t === "number") return t;
        const reason = d.u32(arg + RSD.reason);
        if (!validReason(reason)) return E.INVAL;
        hv.shutdown(t, reason);
        return 0;
      }
      default: return E.NOSYS;
    }
  });
}
