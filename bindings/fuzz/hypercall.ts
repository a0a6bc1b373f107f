// Target "hypercall": fuzz/hypercall.ts calls every `xen` import with random and boundary
// arguments beside fuzz/steady.ts, a guest that keeps using events, xenstore and transactions and
// checks every answer. The harness must answer each call and keep the steady guest working.
import { runFuzzSystem, type FuzzTarget } from "./target.js";
import { besideSteady } from "./steady.js";

/** The hypercall surface under random and boundary arguments, beside a steady guest. */
export const hypercallTarget: FuzzTarget = {
  name: "hypercall",
  summary: "a guest calls every xen import with random and boundary arguments beside a steady guest",
  run: (ctx) => runFuzzSystem("hypercall", ctx, besideSteady(ctx, "hypercall")),
};
