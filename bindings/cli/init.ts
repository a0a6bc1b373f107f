// `xenwasm init DIR`: scaffolds a kernel project — package.json depending on xenwasm, an
// asconfig.json that extends the SDK's preset (sdk.asconfig.json), a hello kernel, and a vitest
// test that boots it through the host library — so that `npm install && npm test` passes there.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { ROOT } from "../bench/common.js";
import { UsageError } from "./errors.js";
import { tokenize, usage, type CommandSpec } from "./options.js";

/** `xenwasm init`'s options (`xenwasm help init`). */
export const INIT_SPEC: CommandSpec = {
  name: "init",
  summary: "a new kernel project on xenwasm (docs/porting.md)",
  args: "DIR",
  about: "writes a kernel project into DIR (new or empty): package.json (xenwasm, assemblyscript and vitest), asconfig.json extending xenwasm's compiler preset, kernel/main.ts (a hello kernel), test/kernel.test.ts (boots it with the host library); then: cd DIR && npm install && npm test (docs/porting.md)",
  options: [
    { name: "xenwasm", value: "SPEC", help: "the dependency spec for xenwasm (default ^VERSION of this package; a tarball path or a file: URL works too)" },
  ],
};

/** Usage text of `xenwasm init`. */
export const INIT_USAGE = usage(INIT_SPEC);

/** The files of a new project named `name` depending on xenwasm through `spec`. */
export function scaffold(name: string, spec: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  return {
    "package.json": json({
      name, version: "0.1.0", private: true, type: "module",
      scripts: {
        build: "asc kernel/main.ts --config asconfig.json --target release --outFile build/kernel.wasm",
        test: "npm run build && vitest run",
        start: "npm run build && xenwasm run build/kernel.wasm",
      },
      dependencies: { xenwasm: spec },
      devDependencies: { assemblyscript: pkg.dependencies.assemblyscript, vitest: pkg.devDependencies.vitest },
    }),
    "asconfig.json": json({
      extends: "xenwasm/sdk.asconfig.json",
      options: { transform: ["xenwasm/transform"] },
    }),
    "kernel/main.ts": `// A xenwasm kernel: xen_start boots it, xen_upcall takes its events (docs/porting.md).
import { boot, evtchnUpcall, printk, poweroff, cmdlineGet } from "xenwasm";

export function xen_start(startInfo: i32): void {
  boot(startInfo);
  const who = cmdlineGet("name");
  printk("hello, " + (who !== null ? who : "xen"));
  poweroff();
}

export function xen_upcall(): void {
  evtchnUpcall();
}
`,
    "kernel/tsconfig.json": json({ extends: "assemblyscript/std/assembly.json", include: ["./**/*.ts"] }),
    "test/kernel.test.ts": `// Boots the kernel under xenwasm's deterministic runner and checks what it printed.
import { expect, it } from "vitest";
import { runSystem } from "xenwasm";

it("boots, greets and powers off", async () => {
  const r = await runSystem({ guests: [{ wasm: "build/kernel.wasm", cmdline: "name=world" }] });
  expect(r.console.map((l) => l.text)).toContain("hello, world");
  expect(r.domains[0].reason).toBe("poweroff");
  expect(r.exitCode).toBe(0);
});
`,
    ".gitignore": "node_modules/\nbuild/\n",
    "README.md": `# ${name}

A Xen PV kernel in AssemblyScript on [xenwasm](https://www.npmjs.com/package/xenwasm).

\`\`\`sh
npm install
npm test        # builds build/kernel.wasm and boots it (test/kernel.test.ts)
npm start       # xenwasm run build/kernel.wasm
\`\`\`
`,
  };
}

/** Runs `xenwasm init` with `argv`; returns the exit status. */
export async function init(argv: string[]): Promise<number> {
  let dir: string | undefined, spec: string | undefined;
  for (const t of tokenize(INIT_SPEC, argv)) {
    if (t.kind === "option") spec = t.value;
    else if (dir === undefined) dir = t.value;
    else throw new UsageError(`init: unexpected argument '${t.value}'`);
  }
  if (dir === undefined) throw new UsageError("init: which directory? (xenwasm init DIR)");
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length) throw new UsageError(`init: ${dir} is not empty`);
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  if (spec && /\.tgz$/.test(spec) && !spec.startsWith("file:")) spec = `file:${resolve(spec)}`;
  const name = basename(target).toLowerCase().replace(/[^a-z0-9-._~]/g, "-") || "kernel";
  for (const [file, text] of Object.entries(scaffold(name, spec ?? `^${version}`))) {
    mkdirSync(join(target, file, ".."), { recursive: true });
    writeFileSync(join(target, file), text);
  }
  console.log(`xenwasm: a kernel project in ${dir}: cd ${dir} && npm install && npm test`);
  return 0;
}
