// The `xenwasm` command line. Each subcommand prints its result on stdout; a wrong argument or
// a failure prints one readable line on stderr (`xenwasm: ...`) and exits non-zero.
import { dirname, join } from "node:path";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { loadManifest, manifestToJson, type AbiManifest } from "../abi/manifest.js";
import { checkManifest, headersInstalled } from "../abi/check.js";
import { RUN_SPEC, UsageError, run } from "./run.js";
import { BENCH_RING_SPEC, bench } from "./bench.js";
import { BENCH_BLK_SPEC } from "./bench-blk.js";
import { BENCH_NET_SPEC } from "./bench-net.js";
import { BENCH_EVENT_SPEC } from "./bench-event.js";
import { INIT_SPEC, init } from "./init.js";
import { FUZZ_SPEC, fuzzCommand } from "./fuzz.js";
import { tokenize, usage, type CommandSpec } from "./options.js";

/** The package root (this file is dist/bindings/cli/main.js). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export { UsageError };

/** `xenwasm abi`'s options (`xenwasm help abi`). */
const ABI_SPEC: CommandSpec = {
  name: "abi",
  summary: "the ABI manifest as JSON, its summary, or its check against Xen's headers",
  about: "prints the ABI manifest (JSON, every integer exact): every struct size, member offset and constant of assembly/xen/, as the AssemblyScript compiler computed them",
  options: [
    { name: "summary", help: "counts per header instead of the JSON" },
    { name: "check", help: "compares every manifest entry with gcc on the Xen headers (Debian's libxen-dev); exit 1 on a difference" },
    { name: "check-if-installed", help: "the same when the headers are installed, else says how to get them" },
  ],
};

/** `xenwasm demo`'s options. */
const DEMO_SPEC: CommandSpec = {
  name: "demo",
  summary: "what npm start shows: the ABI layer, hello, pingpong, a disk copy, a ping over the switch",
  about: "the README's main job: the ABI summary, hello (deterministic runner), the two-domain pingpong, a disk copy through blkfront and dom0's blkback, and two guests pinging each other through dom0's switch with a capture for tshark (threaded runner)",
  options: [
    { name: "dashboard", optional: "PORT", help: "serves the live dashboard of each run on http://127.0.0.1:PORT/ (default: a free port, printed), the page following one run after the other, and slows the disk copy and the pings down so that there is something to watch" },
    { name: "trace", value: "DIR", help: "writes each run's trace for Perfetto's UI into DIR (hello.json, pingpong.json, diskcopy.json, netping.json)" },
  ],
};

/** Every command's table, for `xenwasm help COMMAND`. */
const COMMANDS: CommandSpec[] = [ABI_SPEC, RUN_SPEC, BENCH_RING_SPEC, BENCH_BLK_SPEC, BENCH_NET_SPEC, BENCH_EVENT_SPEC, FUZZ_SPEC, INIT_SPEC, DEMO_SPEC];

const USAGE = `usage: xenwasm <command> [options]

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(14)}${c.summary}`).join("\n")}
  help COMMAND  a command's options, from its option table (xenwasm help run, xenwasm help bench net)`;

/** `xenwasm help [COMMAND]`: the overview, or a command's usage generated from its table. */
function help(args: string[]): number {
  if (args.length === 0) { console.log(USAGE); return 0; }
  const name = args.join(" ");
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new UsageError(`help: no command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
  console.log(usage(spec));
  return 0;
}

function summary(m: AbiManifest): string {
  const fields = Object.values(m.types).reduce((n, t) => n + Object.keys(t.fields).length, 0);
  return [
    `xenwasm ABI layer (${m.arch}): ${m.headers.length} headers, ${Object.keys(m.types).length} types, ` +
      `${fields} members, ${Object.keys(m.constants).length} constants, ${Object.keys(m.tables).length} table columns`,
    `headers: ${m.headers.join(" ")}`,
  ].join("\n");
}

function abi(args: string[]): number {
  for (const t of tokenize(ABI_SPEC, args)) if (t.kind === "positional") throw new UsageError(`abi: unexpected argument '${t.value}'`);
  const m = loadManifest(ROOT);
  if (args.includes("--check-if-installed")) {
    if (headersInstalled()) args = [...args, "--check"];
    else console.log("abi check skipped: Xen headers not installed (Debian: apt-get install libxen-dev)");
  }
  if (!args.includes("--check")) {
    console.log(args.includes("--summary") ? summary(m) : manifestToJson(m));
    return 0;
  }
  if (args.includes("--summary")) console.log(summary(m));
  if (!headersInstalled()) throw new UsageError("abi --check: Xen headers not found under /usr/include/xen (Debian: apt-get install libxen-dev)");
  const r = checkManifest(m);
  for (const x of r.mismatches) console.log(`MISMATCH ${x.entry}: xenwasm ${x.manifest}, headers ${x.headers}`);
  for (const x of r.unknown) console.log(`UNKNOWN  ${x}: not defined by the Xen ${r.headersVersion} headers`);
  for (const x of r.unchecked) console.log(`unchecked ${x}: newer than the Xen ${r.headersVersion} headers (since ${m.since[x]})`);
  const bad = r.mismatches.length + r.unknown.length;
  console.log(`abi check against Xen ${r.headersVersion} headers: ${r.checked - r.mismatches.length} agree, ${r.mismatches.length} differ, ${r.unknown.length} unknown, ${r.unchecked.length} unchecked`);
  return bad ? 1 : 0;
}

/** Bytes of the demo's generated disk image. */
export const DEMO_DISK_BYTES = 64 << 20;

/**
 * The demo's disk copy: a generated image (xvda, read-only) copied to a blank one (xvdb) by the
 * diskcopy guest through blkfront and dom0's blkback; checks that the copy is identical. On a
 * terminal the system stays up a few seconds so that xenstore-ls can inspect it.
 */
async function diskDemo(guest: string, extra: string[], slow: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-demo-"));
  try {
    const src = join(dir, "in.img"), dst = join(dir, "out.img");
    const fd = openSync(src, "w");
    for (let off = 0; off < DEMO_DISK_BYTES; off += 1 << 20) writeSync(fd, randomBytes(1 << 20));
    closeSync(fd);
    closeSync(openSync(dst, "w"));
    truncateSync(dst, DEMO_DISK_BYTES);
    console.log(`disk images: ${src} (${DEMO_DISK_BYTES >> 20} MiB of random data, read-only) -> ${dst}`);
    const linger = slow ? 20 : process.stdout.isTTY ? 5 : 0;
    const rc = await run(["--runner", "threads", ...extra, "--disk", `${src},ro`, "--disk", dst, "--cmdline", `bs=256 qd=16 linger=${linger}`, guest]);
    if (rc !== 0) return rc;
    const same = Buffer.compare(readFileSync(src), readFileSync(dst)) === 0;
    console.log(same ? "demo: out.img is identical to in.img" : "demo: out.img DIFFERS from in.img");
    return same ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The demo's network: two netping guests ping each other through netfront, dom0's netback and
 * its switch (threaded runner), with a capture of every frame the switch forwards; the capture is
 * kept for tshark and the demo says where it is.
 */
async function netDemo(guest: string, extra: string[], slow: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xenwasm-demo-net-"));
  const pcap = join(dir, "switch.pcap");
  const pings = slow ? "n=200 interval=100" : "n=5";
  const rc = await run(["--runner", "threads", ...extra, "--pcap", pcap, "--vif", "on",
    "--cmdline", `ip=10.0.0.1 peer=10.0.0.2 ${pings}`, guest, "--cmdline", `ip=10.0.0.2 peer=10.0.0.1 ${pings}`, guest]);
  if (rc === 0) console.log(`demo: the switch's capture is ${pcap}; open it with: tshark -r ${pcap}`);
  return rc;
}

/** `xenwasm demo`: shows the ABI layer, then boots the example guests under both runners. */
async function demo(args: string[]): Promise<number> {
  let port: number | undefined, traceDir: string | undefined;
  for (const t of tokenize(DEMO_SPEC, args)) {
    if (t.kind === "positional") throw new UsageError(`demo: unexpected argument '${t.value}'`);
    if (t.name === "dashboard") {
      if (t.value !== undefined && !(/^\d+$/.test(t.value) && Number(t.value) <= 65535)) throw new UsageError(`demo: --dashboard port must be a whole number from 0 to 65535, not '${t.value}'`);
      port = Number(t.value ?? 0);
    }
    if (t.name === "trace") {
      traceDir = t.value!;
      if (!existsSync(traceDir) || !statSync(traceDir).isDirectory()) throw new UsageError(`demo: --trace ${traceDir}: no such directory`);
    }
  }
  // One port for every run, so that the page follows them (it reconnects to the next one).
  if (port === 0) port = await freePort();
  if (port !== undefined) console.log(`demo: the dashboard follows each run at http://127.0.0.1:${port}/`);
  const extra = (name: string) => [...(port !== undefined ? [`--dashboard=${port}`] : []), ...(traceDir ? ["--trace", join(traceDir, `${name}.json`)] : [])];
  const slow = port !== undefined;
  const ex = (name: string) => join(ROOT, "build/examples", `${name}.wasm`);
  const steps: Array<[string, () => Promise<number> | number]> = [
    ["the ABI layer", () => abi(["--summary", "--check-if-installed"])],
    ["hello, deterministic runner", () => run([...extra("hello"), ex("hello")])],
    ["pingpong, two domains, threaded runner", () => run(["--runner", "threads", ...extra("pingpong"), "--cmdline", `ping peer=2 n=${slow ? 200_000 : 10000}`, ex("pingpong"), "--cmdline", "pong peer=1", ex("pingpong")])],
    ["diskcopy: dom0's blkback and a guest's blkfront copy a disk image, threaded runner", () => diskDemo(ex("diskcopy"), extra("diskcopy"), slow)],
    ["netping: two guests ping each other through netfront and dom0's switch, threaded runner", () => netDemo(ex("netping"), extra("netping"), slow)],
  ];
  for (const [title, step] of steps) {
    console.log(`\n== ${title}`);
    const rc = await step();
    if (rc !== 0) return rc;
  }
  return 0;
}

/** A TCP port on 127.0.0.1 that is free now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "abi": return abi(rest);
    case "run": return run(rest);
    case "demo": return demo(rest);
    case "bench": return bench(rest);
    case "init": return init(rest);
    case "fuzz": return fuzzCommand(rest);
    case "help": case "--help": case "-h": return help(rest);
    case undefined: console.log(USAGE); return 2;
    default: throw new UsageError(`unknown command '${cmd}' (try 'xenwasm help')`);
  }
}
