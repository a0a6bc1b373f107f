// Target "hypercall": fuzz/hypercall.ts calls every `xen` import with random and boundary
// arguments beside fuzz/steady.ts, a guest that keeps using events, xenstore and transactions and
// checks every answer. The harness must answer each call and keep the steady guest working.
import { fuzzCmdline, fuzzWasm, runFuzzSystem, type FuzzTarget } from "./target.js";

/** The hypercall surface under random and boundary arguments, beside a steady guest. */
export const hypercallTarget: FuzzTarget = {
  name: "hypercall",
  summary: "a guest calls every xen import with random and boundary arguments beside a steady guest",
  run: (ctx) => runFuzzSystem("hypercall", ctx, {
    config: {
      guests: [
        { wasm: fuzzWasm(ctx, "steady"), name: "steady", cmdline: fuzzCmdline(ctx) },
        { wasm: fuzzWasm(ctx, "hypercall"), name: "fuzzer", cmdline: fuzzCmdline(ctx) },
      ],
    },
    fuzzer: "fuzzer",
    victims: ["steady"],
    stopAfterReport: ["steady"],
  }),
};
