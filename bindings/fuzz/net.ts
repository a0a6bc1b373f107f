// Targets "netback" and "netfront": the net split driver's two halves under a hostile peer.
//
// netback: fuzz/netback.ts, a hostile netfront guest, attacks dom0's reference netback and its
// switch while two well-behaved guests (fuzz/net_victim.ts with peer=) exchange tagged frames on
// the same switch; dom0 and both of them are the victims.
//
// netfront: fuzz/netfront.ts runs in dom0's place as a hostile netback for the one guest,
// fuzz/net_victim.ts alone: the reference netfront sending and receiving continuously and
// attaching again after each disconnect. The run ends when the victim, told to power off once
// the fuzzer has reported, has printed its own report.
import { fuzzCmdline, fuzzWasm, runFuzzSystem, type FuzzTarget } from "./target.js";

/** dom0's netback and switch under a hostile netfront, beside two guests exchanging frames. */
export const netbackTarget: FuzzTarget = {
  name: "netback",
  summary: "a hostile netfront guest attacks dom0's netback and switch while two guests exchange frames",
  run: (ctx) => runFuzzSystem("netback", ctx, {
    config: {
      guests: [
        { wasm: fuzzWasm(ctx, "net_victim"), name: "victim1", cmdline: fuzzCmdline(ctx, "peer=2"), vif: true },
        { wasm: fuzzWasm(ctx, "net_victim"), name: "victim2", cmdline: fuzzCmdline(ctx, "peer=1"), vif: true },
        { wasm: fuzzWasm(ctx, "netback"), name: "fuzzer", cmdline: fuzzCmdline(ctx), vif: true },
      ],
    },
    fuzzer: "fuzzer",
    victims: ["dom0", "victim1", "victim2"],
    stopAfterReport: ["victim1", "victim2"],
  }),
};

/** The reference netfront under a hostile netback running in dom0's place. */
export const netfrontTarget: FuzzTarget = {
  name: "netfront",
  summary: "a hostile netback in dom0's place attacks the reference netfront of a guest that sends and receives",
  run: (ctx) => runFuzzSystem("netfront", ctx, {
    config: {
      guests: [{ wasm: fuzzWasm(ctx, "net_victim"), name: "victim", cmdline: fuzzCmdline(ctx), vif: true }],
      backend: { wasm: fuzzWasm(ctx, "netfront"), cmdline: fuzzCmdline(ctx) },
    },
    fuzzer: "dom0",
    victims: ["victim"],
    stopAfterReport: ["victim"],
  }),
};
