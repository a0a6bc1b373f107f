#!/usr/bin/env node
// Entry of the `xenwasm` command: runs the compiled CLI (dist/, made by `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/bindings/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error("xenwasm: not built yet: run 'npm run build' in the xenwasm package");
  process.exit(1);
}
const { main, UsageError } = await import(cli.href);
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  console.error(`xenwasm: ${e instanceof UsageError || process.env.XENWASM_DEBUG === undefined ? e.message : e.stack}`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
}
