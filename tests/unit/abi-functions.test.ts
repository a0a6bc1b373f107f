// Runs build/tests/abi_functions.wasm (tests/guests/abi_functions.ts): every exported function and
// getter/setter of the ABI modules (assembly/xen/) called with known inputs and compared with
// values computed from Xen's C headers. The guest reports each failed check through env.fail.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

/** The functions/accessors under test, indexed by the guest's F_* numbers (id = F * 100 + case). */
const NAMES: string[] = [
  "",
  // io/ring.ts
  "io/ring.ts __RD32",
  "io/ring.ts ring_size",
  "io/ring.ts ring_slot",
  "io/ring.ts ring_free_requests",
  "io/ring.ts ring_nr_unconsumed_responses",
  "io/ring.ts ring_nr_unconsumed_requests",
  "io/ring.ts ring_request_cons_overflow",
  "io/ring.ts ring_request_prod_overflow",
  "io/ring.ts ring_response_prod_overflow",
  "io/ring.ts ring_push_needs_notify",
  "io/ring.ts XEN_FLEX_RING_SIZE",
  "io/ring.ts xen_flex_ring_mask",
  "io/ring.ts xen_flex_ring_queued",
  // io/console.ts, io/xs_wire.ts
  "io/console.ts MASK_XENCONS_IDX",
  "io/xs_wire.ts MASK_XENSTORE_IDX",
  // io/netif.ts
  "io/netif.ts xen_netif_toeplitz_hash",
  "io/netif.ts netif_extra_info get u_gso_size",
  "io/netif.ts netif_extra_info set u_gso_size",
  "io/netif.ts netif_extra_info get u_hash_value",
  "io/netif.ts netif_extra_info set u_hash_value",
  "io/netif.ts netif_extra_info get u_mcast_addr",
  "io/netif.ts xen_netif_ctrl_sring get pvt_netif_smartpoll_active",
  "io/netif.ts netif_tx_sring get pvt_netif_smartpoll_active",
  "io/netif.ts netif_rx_sring get pvt_netif_smartpoll_active",
  // grant_table.ts
  "grant_table.ts grant_entry_v2 get transitive_trans_domid",
  "grant_table.ts grant_entry_v2 set transitive_trans_domid",
  "grant_table.ts grant_entry_v2 get transitive_gref",
  "grant_table.ts grant_entry_v2 set transitive_gref",
  "grant_table.ts gnttab_copy_ptr get u_ref",
  "grant_table.ts gnttab_copy_ptr set u_ref",
  "grant_table.ts gnttab_copy get source_u_ref",
  "grant_table.ts gnttab_copy set source_u_ref",
  "grant_table.ts gnttab_copy get dest_u_ref",
  "grant_table.ts gnttab_copy set dest_u_ref",
  "grant_table.ts gnttab_cache_flush get a_ref",
  "grant_table.ts gnttab_cache_flush set a_ref",
  // xen.ts
  "xen.ts start_info get console_domU_mfn",
  "xen.ts start_info set console_domU_mfn",
  "xen.ts TI_GET_DPL",
  "xen.ts TI_GET_IF",
  "xen.ts TI_SET_DPL",
  "xen.ts TI_SET_IF",
  "xen.ts xen_pfn_to_cr3",
  "xen.ts xen_cr3_to_pfn",
  // memory.ts
  "memory.ts XENMEMF_address_bits",
  "memory.ts XENMEMF_get_address_bits",
  "memory.ts XENMEMF_node",
  "memory.ts XENMEMF_get_node",
  "memory.ts XENMEMF_exact_node",
  "memory.ts XENMEM_resource_ioreq_server_frame_ioreq",
  // vcpu.ts
  "vcpu.ts xen_vcpu_physid_to_x86_apicid",
  "vcpu.ts xen_vcpu_physid_to_x86_acpiid",
  // event_channel.ts
  "event_channel.ts evtchn_status get u_virq",
  "event_channel.ts evtchn_status get u_pirq",
];
/** Exported functions (30) plus getters/setters (24) found in assembly/xen/. */
const FUNCTION_COUNT = NAMES.length - 1;

interface Failure { id: number; got: bigint; want: bigint }

const hex = (v: bigint): string => "0x" + BigInt.asUintN(64, v).toString(16);

function describeFailure(f: Failure): string {
  const fn = Math.floor(f.id / 100);
  return `${NAMES[fn] ?? `function #${fn}`} case ${f.id % 100}: got ${hex(f.got)} (${f.got}), want ${hex(f.want)} (${f.want})`;
}

describe("ABI functions and accessors (assembly/xen)", () => {
  for (const dir of ["build", "build/debug"]) {
    it(`${dir}/tests/abi_functions.wasm: every function and accessor matches the C headers`, async () => {
      const bytes = readFileSync(join(ROOT, dir, "tests/abi_functions.wasm"));
      const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
      const failures: Failure[] = [];
      const env = {
        memory,
        abort(msg: number, file: number, line: number, col: number): never {
          throw new Error(`abort at ${line}:${col} (msg ${msg}, file ${file})`);
        },
        fail(id: number, got: bigint, want: bigint): void {
          failures.push({ id, got: BigInt.asIntN(64, got), want: BigInt.asIntN(64, want) });
        },
      };
      const { instance } = await WebAssembly.instantiate(bytes, { env });
      const ex = instance.exports as unknown as {
        run(): number; checks(): number; covered(): number; functions(): number;
      };
      const failed = ex.run();
      const report = failures.map(describeFailure).join("\n");
      expect(failures.length, report).toBe(failed);
      expect(failed, `${failed} of ${ex.checks()} checks failed:\n${report}`).toBe(0);
      expect(ex.functions()).toBe(FUNCTION_COUNT);
      expect(ex.covered()).toBe(FUNCTION_COUNT);
      expect(ex.checks()).toBeGreaterThanOrEqual(FUNCTION_COUNT);
    });
  }
});
