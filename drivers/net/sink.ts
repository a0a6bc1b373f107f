// dom0's sink (docs/benchmarks.md, `xenwasm bench net`'s guest-sink workload): a port of the
// switch with its own MAC that takes frames the way dom0's own network stack would — copied into
// dom0's memory, GSO frames whole and checksums left as they came — and checks every byte of
// every test-pattern frame (pattern.ts) and their order, as net_pattern's receiver does in a
// guest. It prints one line when `n` frames have come, and panics (taking the host down, so the
// run fails loudly) at the first frame that is wrong.
//
// Ownership: the sink is a host port of the switch (switch.ts); frames are the switch's until
// hostSend returns.
import { printk, puts, putu, panic } from "../../assembly/index";
import { now } from "../../assembly/time";
import { macLoad } from "../../assembly/net/wire";
import { HostPort, switchAddPort, switchLearnStatic } from "./switch";
import {
  PATTERN_ETHERTYPE, KIND_DATA, DATA_INDEX, DATA_PAYLOAD, FLOW_INDEX, FLOW_PAYLOAD, patternCheck, streamCheck,
} from "./pattern";

/** The sink's switch port: takes everything a guest can send (GSO, blank checksums, many slots). */
export class Sink extends HostPort {
  /** Frames and bytes checked so far (stream frames count their TCP payload), and when the first came. */
  received: u32 = 0;
  bytes: u64 = 0;
  t0: u64 = 0;
  /** Frames that were not for the sink's MAC (floods) or not test-pattern frames: ignored. */
  ignored: u64 = 0;
  private nextData: u32 = 0;
  private streamAt: u64 = 0;
  private readonly flowNext: StaticArray<u32> = new StaticArray<u32>(256);

  /** A sink at `mac` expecting `n` frames of seed `seed`; flow frames come from `flows` flows. */
  constructor(readonly mac: u64, readonly seed: u32, readonly n: u32, readonly flows: u32) {
    super();
    this.rxSg = true;
    this.rxGsoV4 = true;
    this.rxGsoV6 = true;
    this.rxCsumV4 = true;
    this.rxCsumV6 = true;
    for (let f: u32 = 0; f < min<u32>(flows, 256); f++) unchecked(this.flowNext[f] = f);
  }

  hostSend(addr: usize, len: u32): void {
    if (macLoad(addr) != this.mac || len < 14) { this.ignored++; return; }
    const type = bswap<u16>(load<u16>(addr + 12));
    if (type == PATTERN_ETHERTYPE && len >= DATA_PAYLOAD && load<u8>(addr + 14) == KIND_DATA) this.data(addr, len);
    else if (type == 0x0800 && len >= FLOW_PAYLOAD && load<u8>(addr + 23) == 17 && this.flows > 0) this.flow(addr, len);
    else if ((type == 0x0800 && len > 54 && load<u8>(addr + 23) == 6) || (type == 0x86dd && len > 74 && load<u8>(addr + 20) == 6)) this.stream(addr, len, type == 0x86dd);
    else { this.ignored++; return; }
    if (this.received == 0) this.t0 = now();
    this.received++;
    if (this.received == this.n) {
      puts("sink: received ");
      putu(this.received);
      puts(" frames, ");
      putu(this.bytes);
      puts(" bytes, all verified in ");
      putu((now() - this.t0) / 1000);
      printk(" us");
    }
  }

  private data(addr: usize, len: u32): void {
    const i = load<u32>(addr + DATA_INDEX);
    if (i != this.nextData) fail("data frame ", i, this.nextData);
    if (!patternCheck(this.seed, i, addr + DATA_PAYLOAD, len - DATA_PAYLOAD)) fail("corrupted data frame ", i, i);
    this.nextData++;
    this.bytes += len;
  }

  private flow(addr: usize, len: u32): void {
    const i = load<u32>(addr + FLOW_INDEX);
    const f = i % this.flows;
    if (f >= 256 || i != unchecked(this.flowNext[f])) fail("flow frame ", i, f < 256 ? unchecked(this.flowNext[f]) : 0);
    unchecked(this.flowNext[f] = i + this.flows);
    if (!patternCheck(this.seed, i, addr + FLOW_PAYLOAD, len - FLOW_PAYLOAD)) fail("corrupted flow frame ", i, i);
    this.bytes += len;
  }

  private stream(addr: usize, len: u32, v6: bool): void {
    const tcp = addr + 14 + (v6 ? 40 : 20);
    const payload = len - <u32>(tcp - addr) - 20;
    const seq = <u64>bswap<u32>(load<u32>(tcp + 4));
    if (seq != (this.streamAt & 0xffffffff)) fail("TCP segment at ", <u32>seq, <u32>this.streamAt);
    if (!streamCheck(this.seed, this.streamAt, tcp + 20, payload)) fail("corrupted TCP segment at ", <u32>seq, <u32>seq);
    this.streamAt += payload;
    this.bytes += payload;
  }

}

function fail(what: string, got: u32, want: u32): void {
  puts("sink: ");
  puts(what);
  putu(got);
  puts(" (expected ");
  putu(want);
  printk(")");
  panic("sink: a frame failed its check");
}

/** Puts a sink for `n` test-pattern frames of `seed` (from `flows` flows) at `mac` on the switch. */
export function sinkInit(mac: u64, seed: u32, n: u32, flows: u32): Sink {
  const s = new Sink(mac, seed, n, flows);
  switchAddPort(s);
  switchLearnStatic(mac, s);
  return s;
}
