// The package's AssemblyScript entry: `import { boot, printk } from "xenwasm"` in a kernel
// resolves here (asc looks for node_modules/xenwasm/index.ts). It is the guest SDK of assembly/;
// the drivers are imported by path, e.g. "xenwasm/drivers/blk/front" (docs/porting.md).
export * from "./assembly/index";
