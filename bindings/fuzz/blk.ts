// Targets "blkback" and "blkfront": the block split driver's two halves under a hostile peer.
// blkback: fuzz/blkback.ts, a hostile blkfront guest with two RAM disks, attacks dom0's reference
// blkback on xvda and keeps xvdb in valid use (its acknowledged writes verified at the end).
// blkfront: fuzz/blkfront.ts runs in dom0's place as a hostile blkback against fuzz/blk_victim.ts,
// the reference blkfront doing valid I/O and re-attaching after each disconnect.
import { fuzzCmdline, fuzzWasm, runFuzzSystem, type FuzzTarget } from "./target.js";

/** Size of each RAM disk of the block targets. */
const DISK_BYTES = 4 << 20;

/** dom0's reference blkback against a hostile frontend guest. */
export const blkbackTarget: FuzzTarget = {
  name: "blkback",
  summary: "a hostile blkfront guest attacks dom0's blkback on xvda while xvdb stays in valid use",
  run: (ctx) => runFuzzSystem("blkback", ctx, {
    config: {
      guests: [{ wasm: fuzzWasm(ctx, "blkback"), name: "fuzzer", cmdline: fuzzCmdline(ctx) }],
      disks: [{ ramBytes: DISK_BYTES }, { ramBytes: DISK_BYTES }],
    },
    fuzzer: "fuzzer",
    victims: ["dom0"],
  }),
};

/** The reference blkfront against a hostile blkback run in dom0's place. */
export const blkfrontTarget: FuzzTarget = {
  name: "blkfront",
  summary: "a hostile blkback in dom0's place attacks the reference blkfront of a guest doing valid I/O",
  run: (ctx) => runFuzzSystem("blkfront", ctx, {
    config: {
      guests: [{ wasm: fuzzWasm(ctx, "blk_victim"), name: "victim", cmdline: fuzzCmdline(ctx) }],
      disks: [{ ramBytes: DISK_BYTES }],
      backend: { wasm: fuzzWasm(ctx, "blkfront"), cmdline: fuzzCmdline(ctx) },
    },
    fuzzer: "dom0",
    victims: ["victim"],
    stopAfterReport: ["victim"],
  }),
};
