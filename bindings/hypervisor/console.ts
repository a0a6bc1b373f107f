// The console: HYPERVISOR_console_io output and the console daemon that drains each domain's
// console ring (struct xencons_interface at frame 3). Bytes go to the runner's console hook.
import { k, layout } from "../abi/layout.js";
import { Ctl, Domain, FRAME_CONSOLE, PAGE_SIZE } from "./domain.js";
import { dom0End } from "./evtchn.js";
import { guarded, type Hypervisor } from "./hypervisor.js";

const E = { PERM: -k("XEN_EPERM"), FAULT: -k("XEN_EFAULT"), NOSYS: -k("XEN_ENOSYS") };
const CONS = layout("struct xencons_interface");
const OUT_SIZE = CONS.in_cons - CONS.out; // out[2048] ends where the indices begin
/** Xen's guest_console_write copies the buffer in chunks of this many bytes (its kbuf). */
const XEN_CHUNK = 128;
/** Most bytes handed to the console hook at once (a huge write reaches it in pieces). */
const HOOK_PIECE = 1 << 16;

/**
 * The `console_io(cmd, count, buf)` import. CONSOLEIO_write takes `count` as Xen's unsigned int
 * and writes any length, chunk by chunk as Xen does: a chunk that leaves the guest's memory ends
 * the call with -EFAULT, after the chunks before it were written.
 */
export function consoleIo(hv: Hypervisor, d: Domain, cmd: number, count: number, buf: number): number {
  return guarded(() => {
    if (cmd === k("CONSOLEIO_write")) {
      const n = count >>> 0;
      const room = buf >= 0 && buf <= d.bytes ? d.bytes - buf : 0;
      const ok = n <= room ? n : Math.floor(room / XEN_CHUNK) * XEN_CHUNK;
      for (let off = 0; off < ok; off += HOOK_PIECE) hv.hooks.console(d, d.u8.slice(buf + off, buf + Math.min(ok, off + HOOK_PIECE)));
      return ok === n ? 0 : E.FAULT;
    }
    if (cmd === k("CONSOLEIO_read")) return d.privileged ? 0 : E.PERM;
    return E.NOSYS;
  });
}

/**
 * Moves what `d` wrote into its console ring to the console hook; returns the byte count. The
 * daemon first consumes the event on its end of `d`'s console channel, as xenconsoled does, so
 * that the guest's next notification is newly pending and wakes it (HostWake) again: without
 * that, a chatty guest was drained only by the daemon's periodic poll, filled its ring, and
 * the SDK's console_io fallback then overtook the ring's unread bytes.
 */
export function drainConsoleRing(hv: Hypervisor, d: Domain): number {
  if (d.isHost) return 0;
  const dom0 = hv.domain(0), end = dom0End(d, d.ctl[Ctl.ConsolePort]);
  if (dom0 && end >= 0) dom0.clearPending(end);
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
