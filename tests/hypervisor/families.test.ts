// The smaller hypercall families (docs/ABI.md §3): memory_op, sched_op, vcpu_op timers,
// hvm_op params, xen_version, console_io and the console ring daemon, and the boot layout.
import { describe, expect, it } from "vitest";
import { memoryOp } from "../../bindings/hypervisor/memory.js";
import { schedOp } from "../../bindings/hypervisor/sched.js";
import { fireTimerIfDue, publishTime, timerDeadline } from "../../bindings/hypervisor/vcpu.js";
import { vcpuOp } from "../../bindings/hypervisor/vcpu.js";
import { hvmOp } from "../../bindings/hypervisor/hvm.js";
import { xenVersion } from "../../bindings/hypervisor/version.js";
import { consoleIo, drainConsoleRing } from "../../bindings/hypervisor/console.js";
import { eventChannelOp } from "../../bindings/hypervisor/evtchn.js";
import { DomainExit } from "../../bindings/hypervisor/hypervisor.js";
import { Ctl, DomState } from "../../bindings/hypervisor/domain.js";
import { ARG, E, bench, k, layout, put } from "./fixture.js";

const SELF = k("DOMID_SELF");
const physmap = (space: string, idx: number | bigint, gpfn: number, domid = SELF) =>
  ["struct xen_add_to_physmap", { domid, space: k(`XENMAPSPACE_${space}`), idx, gpfn }, { domid: 2, idx: 8, gpfn: 8 }] as const;

describe("memory_op", () => {
  it("places shared_info and grant frames, refusing what Xen refuses", () => {
    const { hv, doms: [a] } = bench();
    const call = (args: ReturnType<typeof physmap>) => { put(a, ARG, ...args); return memoryOp(hv, a, k("XENMEM_add_to_physmap"), ARG); };
    expect(call(physmap("shared_info", 0, 2))).toBe(E.INVAL); // the xenstore ring's frame
    expect(call(physmap("shared_info", 0, a.nrPages))).toBe(E.INVAL); // beyond memory
    expect(call(physmap("shared_info", 1, 6))).toBe(E.INVAL);
    expect(call(physmap("shared_info", 0, 6, 2))).toBe(E.PERM); // another domain
    expect(call(physmap("grant_table", 32, 7))).toBe(E.INVAL);
    expect(call(physmap("grant_table", BigInt(k("XENMAPIDX_grant_table_status")), 7))).toBe(E.INVAL); // status frames are v2's
    expect(call(physmap("gmfn", 0, 7))).toBe(E.INVAL);
    expect(call(physmap("shared_info", 0, 6))).toBe(0);
    expect(a.sharedInfo()).toBe(6 * 4096);
    expect(call(physmap("grant_table", 0, 7))).toBe(0);
    expect(a.ctl[Ctl.GrantFrames]).toBe(7);
    a.w16(ARG, SELF);
    expect(memoryOp(hv, a, k("XENMEM_current_reservation"), ARG)).toBe(a.nrPages);
    expect(memoryOp(hv, a, 9999, ARG)).toBe(E.NOSYS);
  });
});

describe("sched_op", () => {
  it("shutdown unwinds with the reason; bad reasons and unprivileged remote shutdown are refused", () => {
    const { hv, doms: [a, b] } = bench();
    put(a, ARG, "struct sched_shutdown", { reason: 42 });
    expect(schedOp(hv, a, k("SCHEDOP_shutdown"), ARG)).toBe(E.INVAL);
    put(a, ARG, "struct sched_remote_shutdown", { domain_id: 2, reason: 0 });
    expect(schedOp(hv, a, k("SCHEDOP_remote_shutdown"), ARG)).toBe(E.PERM);
    expect(schedOp(hv, a, k("SCHEDOP_yield"), 0)).toBe(0);
    put(a, ARG, "struct sched_shutdown", { reason: k("SHUTDOWN_reboot") });
    expect(() => schedOp(hv, a, k("SCHEDOP_shutdown"), ARG)).toThrow(DomainExit);
    expect(a.state).toBe(DomState.Shutdown);
    expect(a.ctl[Ctl.Reason]).toBe(k("SHUTDOWN_reboot"));
    expect(b.state).toBe(DomState.Running);
  });

  it("a privileged domain may shut another down", () => {
    const { hv, doms: [, b, c] } = bench(3, true);
    put(c, ARG, "struct sched_remote_shutdown", { domain_id: 2, reason: k("SHUTDOWN_poweroff") });
    expect(schedOp(hv, c, k("SCHEDOP_remote_shutdown"), ARG)).toBe(0);
    expect(b.state).toBe(DomState.Shutdown);
  });

  it("poll validates its ports", () => {
    const { hv, doms: [a] } = bench();
    a.w32(0x9000, 5000);
    put(a, ARG, "struct sched_poll", { ports: 0x9000, nr_ports: 1, timeout: 0 }, { ports: 8, timeout: 8 });
    expect(schedOp(hv, a, k("SCHEDOP_poll"), ARG)).toBe(E.INVAL);
    put(a, ARG, "struct sched_poll", { ports: 0x9000, nr_ports: 129, timeout: 0 }, { ports: 8, timeout: 8 });
    expect(schedOp(hv, a, k("SCHEDOP_poll"), ARG)).toBe(E.INVAL);
    put(a, ARG, "struct sched_poll", { ports: a.bytes - 2, nr_ports: 1, timeout: 0 }, { ports: 8, timeout: 8 });
    expect(schedOp(hv, a, k("SCHEDOP_poll"), ARG)).toBe(E.FAULT);
  });
});

describe("vcpu_op timers and time", () => {
  it("arms, stops and fires the single-shot timer as VIRQ_TIMER", () => {
    const { hv, doms: [a], setNow } = bench();
    put(a, ARG, ...physmap("shared_info", 0, 6));
    expect(memoryOp(hv, a, k("XENMEM_add_to_physmap"), ARG)).toBe(0);
    const bv = put(a, ARG, "struct evtchn_bind_virq", { virq: k("VIRQ_TIMER"), vcpu: 0 });
    expect(eventChannelOp(hv, a, k("EVTCHNOP_bind_virq"), ARG)).toBe(0);
    const port = a.u32(ARG + bv.port);
    setNow(1_000n);
    put(a, ARG, "struct vcpu_set_singleshot_timer", { timeout_abs_ns: 500n, flags: k("VCPU_SSHOTTMR_future") }, { timeout_abs_ns: 8 });
    expect(vcpuOp(hv, a, k("VCPUOP_set_singleshot_timer"), 0, ARG)).toBe(E.TIME);
    expect(vcpuOp(hv, a, k("VCPUOP_set_singleshot_timer"), 1, ARG)).toBe(E.NOENT);
    put(a, ARG, "struct vcpu_set_singleshot_timer", { timeout_abs_ns: 5_000n, flags: 0 }, { timeout_abs_ns: 8 });
    expect(vcpuOp(hv, a, k("VCPUOP_set_singleshot_timer"), 0, ARG)).toBe(0);
    expect(timerDeadline(a)).toBe(5_000n);
    expect(fireTimerIfDue(a, 4_999n)).toBe(false);
    expect(fireTimerIfDue(a, 5_000n)).toBe(true);
    expect(a.portPending(port)).toBe(true);
    expect(timerDeadline(a)).toBe(null);
    expect(vcpuOp(hv, a, k("VCPUOP_set_singleshot_timer"), 0, ARG)).toBe(0);
    expect(vcpuOp(hv, a, k("VCPUOP_stop_singleshot_timer"), 0, 0)).toBe(0);
    expect(timerDeadline(a)).toBe(null);
    expect(vcpuOp(hv, a, 99, 0, ARG)).toBe(E.NOSYS);
    // pvclock: an even version and system_time as published.
    publishTime(a, 123_456n);
    const t = a.sharedInfo() + layout("struct shared_info").vcpu_info + layout("struct vcpu_info").time;
    const T = layout("struct vcpu_time_info");
    expect(a.u32(t + T.version) % 2).toBe(0);
    expect(a.u64(t + T.system_time)).toBe(123_456n);
    expect(a.u32(t + T.tsc_to_system_mul)).toBe(0x80000000);
  });
});

describe("hvm_op, xen_version, console", () => {
  it("answers the boot HVM params and guards setting them", () => {
    const { hv, doms: [a] } = bench();
    const P = put(a, ARG, "struct xen_hvm_param", { domid: SELF, index: k("HVM_PARAM_STORE_PFN") }, { domid: 2 });
    expect(hvmOp(hv, a, k("HVMOP_get_param"), ARG)).toBe(0);
    expect(a.u64(ARG + P.value)).toBe(2n);
    put(a, ARG, "struct xen_hvm_param", { domid: SELF, index: k("HVM_PARAM_CONSOLE_EVTCHN") }, { domid: 2 });
    expect(hvmOp(hv, a, k("HVMOP_get_param"), ARG)).toBe(0);
    expect(a.u64(ARG + P.value)).toBe(1n);
    put(a, ARG, "struct xen_hvm_param", { domid: SELF, index: k("HVM_NR_PARAMS") }, { domid: 2 });
    expect(hvmOp(hv, a, k("HVMOP_get_param"), ARG)).toBe(E.INVAL);
    put(a, ARG, "struct xen_hvm_param", { domid: SELF, index: k("HVM_PARAM_STORE_PFN"), value: 9n }, { domid: 2, value: 8 });
    expect(hvmOp(hv, a, k("HVMOP_set_param"), ARG)).toBe(E.PERM);
    put(a, ARG, "struct xen_hvm_param", { domid: 2, index: 1 }, { domid: 2 });
    expect(hvmOp(hv, a, k("HVMOP_get_param"), ARG)).toBe(E.PERM);
  });

  it("reports version 4.17, its features and page size", () => {
    const { hv, doms: [a] } = bench();
    expect(xenVersion(hv, a, k("XENVER_version"), 0)).toBe(0x00040011);
    expect(xenVersion(hv, a, k("XENVER_pagesize"), 0)).toBe(4096);
    expect(xenVersion(hv, a, k("XENVER_extraversion"), ARG)).toBe(0);
    expect(new TextDecoder().decode(a.u8.subarray(ARG, ARG + 10))).toBe(".0-xenwasm");
    const F = put(a, ARG, "struct xen_feature_info", { submap_idx: 0 });
    expect(xenVersion(hv, a, k("XENVER_get_features"), ARG)).toBe(0);
    expect(a.u32(ARG + F.submap) & (1 << k("XENFEAT_auto_translated_physmap"))).not.toBe(0);
    expect(xenVersion(hv, a, 99, ARG)).toBe(E.NOSYS);
  });

  it("console_io writes and the console daemon drains the ring, even a corrupt one", () => {
    const { hv, doms: [a], consoles } = bench();
    a.u8.set(new TextEncoder().encode("hi\n"), 0x9000);
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), 3, 0x9000)).toBe(0);
    // Any length inside the guest's memory is written (count is Xen's unsigned int, as the
    // import's i32 carries it); a buffer that leaves memory is -EFAULT after the chunks before it.
    consoles.length = 0;
    a.u8.fill(0x41, 0x10000, 0x10000 + 200_000);
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), 200_000, 0x10000)).toBe(0);
    expect(consoles.map(([, t]) => t).join("")).toBe("A".repeat(200_000));
    const written = () => consoles.splice(0).reduce((n, [, t]) => n + t.length, 0);
    written();
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), -(2 ** 31), 0x10000)).toBe(E.FAULT); // 2^31 bytes
    expect(written()).toBe(a.bytes - 0x10000); // every whole 128-byte chunk inside memory
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), 300, a.bytes - 200)).toBe(E.FAULT);
    expect(written()).toBe(128);
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), 10, a.bytes + 1)).toBe(E.FAULT);
    expect(written()).toBe(0);
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), 0, a.bytes)).toBe(0);
    expect(consoleIo(hv, a, k("CONSOLEIO_write"), 3, 0x9000)).toBe(0);
    expect(consoleIo(hv, a, k("CONSOLEIO_read"), 1, 0x9000)).toBe(E.PERM);
    const C = layout("struct xencons_interface"), base = 3 * 4096;
    a.u8.set(new TextEncoder().encode("ring\n"), base + C.out);
    a.w32(base + C.out_prod, 5);
    expect(drainConsoleRing(hv, a)).toBe(5);
    expect(a.u32(base + C.out_cons)).toBe(5);
    a.w32(base + C.out_prod, 5 + 1_000_000); // a producer far ahead: bounded to one ring
    expect(drainConsoleRing(hv, a)).toBe(2048);
    expect(consoles.slice(0, 2)).toEqual([[1, "hi\n"], [1, "ring\n"]]);
  });

  it("lays out the boot pages as docs/ABI.md §2 says", () => {
    const { doms: [a] } = bench();
    const S = layout("struct start_info"), at = 4096;
    expect(new TextDecoder().decode(a.u8.subarray(at, at + 14))).toBe("xen-3.0-x86_64");
    expect(a.u64(at + S.nr_pages)).toBe(BigInt(a.nrPages));
    expect(a.u64(at + S.store_mfn)).toBe(2n);
    expect(a.u32(at + S.store_evtchn)).toBe(2);
    expect(a.u64(at + S["console.domU.mfn"])).toBe(3n);
    expect(a.u32(at + S["console.domU.evtchn"])).toBe(1);
    expect(a.u32(at + S.flags)).toBe(0);
  });
});
