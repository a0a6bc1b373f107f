// The console: HYPERVISOR_console_io output and the console daemon that drains each domain's
// console ring (struct xencons_interface at frame 3). Bytes go to the runner's console hook.
import { k, layout } from "../abi/layout.js";
import { Domain, FRAME_CONSOLE, PAGE_SIZE } from "./domain.js";
import { guarded, type Hypervisor } from "./hypervisor.js";

const E = { PERM: -k("XEN_EPERM"), INVAL: -k("XEN_EINVAL"), NOSYS: -k("XEN_ENOSYS") };
const CONS = layout("struct xencons_interface");
const OUT_SIZE = CONS.in_cons - CONS.out; // out[2048] ends where the indices begin
/** Most bytes one console_io write may carry (Xen copies in chunks; we bound the call). */
export const MAX_CONSOLE_WRITE = 1 << 16;

/** The `console_io(cmd, count, buf)` import. */
export function consoleIo(hv: Hypervisor, d: Domain, cmd: number, count: number, buf: number): number {
  return guarded(() => {
    if (cmd === k("CONSOLEIO_write")) {
      if (count < 0 || count > MAX_CONSOLE_WRITE) return E.INVAL;
      d.check(buf, count);
      hv.hooks.console(d, d.u8.slice(buf, buf + count));
      return 0;
    }
    if (cmd === k("CONSOLEIO_read")) return d.privileged ? 0 : E.PERM;
    return E.NOSYS;
  });
}

/** Moves what `d` wrote into its console ring to the console hook; returns the byte count. */
export function drainConsoleRing(hv: Hypervisor, d: Domain): number {
  if (d.isHost) return 0;
  const base = FRAME_CONSOLE * PAGE_SIZE;
  const cons = Atomics.load(d.i32, (base + CONS.out_cons) >> 2) >>> 0;
  const prod = Atomics.load(d.i32, (base + CONS.out_prod) >> 2) >>> 0;
  const n = (prod - cons) >>> 0;
  if (n === 0) return 0;
  // A producer more than a ring ahead is corrupt: take the last ring's worth, as xenconsoled does.
  const len = Math.min(n, OUT_SIZE);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = d.u8[base + CONS.out + ((prod - len + i) >>> 0) % OUT_SIZE];
  Atomics.store(d.i32, (base + CONS.out_cons) >> 2, prod | 0);
  hv.hooks.console(d, out);
  return len;
}
