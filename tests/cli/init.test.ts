// `xenwasm init` as a kernel porter meets it: the package is packed (npm pack, no scripts), a
// project is scaffolded in a temporary directory and installed from the tarball, and its own
// `npm test` builds the hello kernel against `import ... from "xenwasm"` and boots it through the
// host library. Then a kernel that imports blkfront from "xenwasm/drivers/blk/front" builds and
// reads its disk's size through dom0's blkback, from the installed package alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/env.js";

const sh = (cmd: string, args: string[], cwd: string, timeout = 240_000) => {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, CI: "true", npm_config_audit: "false", npm_config_fund: "false" } });
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}\n${r.stderr}` };
};
const xenwasm = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin/xenwasm.js"), ...args], { encoding: "utf8" });

describe("xenwasm init", () => {
  let dir = "", tarball = "", proj = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "xenwasm-init-"));
    const pack = sh("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], ROOT);
    expect(pack.status, pack.out).toBe(0);
    tarball = join(dir, pack.stdout.trim().split("\n").pop()!.trim());
    proj = join(dir, "mykernel");
  }, 120_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("scaffolds a project whose npm install && npm test pass, from the packed tarball", () => {
    const r = xenwasm("init", proj, "--xenwasm", tarball);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`cd ${proj} && npm install && npm test`);
    const pkg = JSON.parse(readFileSync(join(proj, "package.json"), "utf8"));
    expect(pkg.dependencies.xenwasm).toBe(`file:${tarball}`);
    expect(JSON.parse(readFileSync(join(proj, "asconfig.json"), "utf8")).extends).toBe("xenwasm/sdk.asconfig.json");
    const install = sh("npm", ["install"], proj);
    expect(install.status, install.out).toBe(0);
    expect(install.out, "the package runs no install script").not.toMatch(/install-scripts\s+xenwasm/);
    const test = sh("npm", ["test"], proj);
    expect(test.status, test.out).toBe(0);
    expect(test.out).toMatch(/1 passed/);
  }, 300_000);

  it("a kernel in the new project imports blkfront from the package and reads its disk", () => {
    // The worked example of docs/porting.md, taken from the document itself.
    const doc = readFileSync(join(ROOT, "docs/porting.md"), "utf8");
    const block = (file: string) => {
      const m = new RegExp("```ts\\n// " + file.replace(/[./]/g, "\\$&") + "\\n([\\s\\S]*?)```").exec(doc);
      expect(m, `docs/porting.md has a block for ${file}`).not.toBeNull();
      return m![1];
    };
    writeFileSync(join(proj, "kernel/disk.ts"), block("kernel/disk.ts"));
    writeFileSync(join(proj, "test/disk.test.ts"), block("test/disk.test.ts"));
    const build = sh("npx", ["asc", "kernel/disk.ts", "--config", "asconfig.json", "--target", "release", "--outFile", "build/disk.wasm"], proj);
    expect(build.status, build.out).toBe(0);
    const test = sh("npx", ["vitest", "run", "test/disk.test.ts"], proj);
    expect(test.status, test.out).toBe(0);
  }, 300_000);

  it("refuses a directory that is not empty, in one line", () => {
    const r = xenwasm("init", proj);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`xenwasm: init: ${proj} is not empty`);
  });
});
