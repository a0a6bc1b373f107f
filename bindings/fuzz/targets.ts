// The targets of `xenwasm fuzz`, in the order `--target all` runs them.
import type { FuzzTarget } from "./target.js";
import { hypercallTarget } from "./hypercall.js";
import { consoleTarget } from "./console.js";
import { xenstoreTarget } from "./xenstore.js";
import { netbackTarget, netfrontTarget } from "./net.js";
import { blkbackTarget, blkfrontTarget } from "./blk.js";

/** Every target, by the name --target takes. */
export const TARGETS: FuzzTarget[] = [hypercallTarget, consoleTarget, xenstoreTarget, blkbackTarget, blkfrontTarget, netbackTarget, netfrontTarget];
