// Target "xenstore": xenstored under a hostile guest that drives its ring by hand
// (fuzz/xenstore.ts) and a hostile client on its Unix socket (here), beside fuzz/steady.ts, whose
// xenstore use must keep working. Half the steps go to each. The socket client opens sessions of
// random length; each step sends one message or does one hostile thing: valid requests (their
// replies must come once each, in order), long paths (dom0 is exempt from the path quota),
// requests that must fail (an unknown transaction, an unknown type), watch floods, transaction storms, a message split across
// writes (partial) or sent a byte at a time (slow), not reading for a while (nonconsumer, with
// real backpressure: the socket is paused), a close in the middle of a message, and a header
// announcing more than 4096 bytes (xenstored must drop that connection only). Afterwards nothing
// of the hostile clients may be left in xenstored (watches, transactions) and the store's tree
// must check clean.
import { connect, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rng } from "../runner/common.js";
import type { XenSystem } from "../host/system.js";
import { fuzzCmdline, runFuzzSystem, zeroCounts, type FuzzContext, type FuzzCounts, type FuzzTarget } from "./target.js";
import { besideSteady } from "./steady.js";

const T = { DIRECTORY: 1, READ: 2, WATCH: 4, UNWATCH: 5, TX_START: 6, TX_END: 7, WRITE: 11, MKDIR: 12, RM: 13, WATCH_EVENT: 15, ERROR: 16 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One xenstore wire message: header (type, req_id, tx_id, len) and payload. */
function message(type: number, reqId: number, tx: number, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const h = Buffer.alloc(16);
  h.writeUInt32LE(type, 0); h.writeUInt32LE(reqId, 4); h.writeUInt32LE(tx, 8); h.writeUInt32LE(body.length, 12);
  return Buffer.concat([h, body]);
}

/** A hostile socket session: sends, tracks the replies it is owed, checks them as they come. */
class Session {
  private readonly owed: Array<{ id: number; type: number; mustFail: boolean }> = [];
  private buf = Buffer.alloc(0);
  private nextId = 1;
  readonly txs: number[] = [];
  closed = false;
  expectClose = false;
  counts: Pick<FuzzCounts, "injected" | "detected" | "wrong"> = { injected: 0, detected: 0, wrong: 0 };
  notes: string[] = [];

  private constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => this.onData(d));
    sock.on("close", () => {
      this.closed = true;
      if (this.expectClose) this.counts.detected++;
    });
    sock.on("error", () => {});
  }

  /** Connects to xenstored's socket (retrying while the run is still starting to listen). */
  static async open(path: string): Promise<Session> {
    for (let tries = 0; ; tries++) {
      try {
        return await new Promise<Session>((resolve, reject) => {
          const s = connect(path, () => resolve(new Session(s)));
          s.once("error", reject);
        });
      } catch (e) {
        if (tries >= 200) throw e;
        await sleep(25);
      }
    }
  }

  private wrong(what: string): void {
    this.counts.wrong++;
    if (this.notes.length < 10) this.notes.push(`socket client: ${what}`);
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 16) {
      const type = this.buf.readUInt32LE(0), id = this.buf.readUInt32LE(4), len = this.buf.readUInt32LE(12);
      if (len > 4096) { this.wrong(`a reply announcing ${len} bytes`); this.buf = Buffer.alloc(0); return; }
      if (this.buf.length < 16 + len) return;
      const payload = this.buf.subarray(16, 16 + len);
      this.buf = this.buf.subarray(16 + len);
      if (type === T.WATCH_EVENT) continue;
      const o = this.owed.shift();
      if (!o) { this.wrong(`an unsolicited reply (id ${id})`); continue; }
      if (id !== o.id) this.wrong(`reply id ${id} where ${o.id} was due`);
      else if (type !== T.ERROR && type !== o.type) this.wrong(`reply type ${type} to a request of type ${o.type}`);
      else if (o.mustFail) {
        if (type === T.ERROR) this.counts.detected++;
        else this.wrong(`a request xenstored must refuse (type ${o.type}) succeeded`);
      } else if (type === T.TX_START) this.txs.push(Number(payload.toString().replace(/\0.*$/s, "")));
    }
  }

  /** Sends a request (or only `bytes` of it) and owes it a reply. */
  request(type: number, tx: number, payload: string, mustFail = false): Buffer {
    const m = message(type, this.nextId, tx, payload);
    this.owed.push({ id: this.nextId++, type, mustFail });
    if (mustFail) this.counts.injected++;
    return m;
  }

  write(b: Buffer): void { if (!this.closed) this.sock.write(b); }

  /** Waits (bounded) until every owed reply came; false if some never did. */
  async settle(ms = 5000): Promise<boolean> {
    for (let t = 0; t < ms && this.owed.length && !this.closed; t += 1) await sleep(1);
    return this.owed.length === 0;
  }

  get owedCount(): number { return this.owed.length; }

  close(): Promise<void> {
    return new Promise((r) => { if (this.closed) r(); else { this.sock.once("close", () => r()); this.sock.end(); } });
  }
}

/** The socket half of the campaign: `steps` hostile steps over sessions; counts what it saw. */
export async function socketCampaign(sys: XenSystem, path: string, seed: number, steps: number): Promise<Partial<FuzzCounts> & { notes: string[] }> {
  const random = rng(seed ^ 0x5a5a5a5a);
  const int = (n: number) => Math.floor(random() * n);
  const node = () => `/fuzz/s${int(40)}`;
  const counts = zeroCounts();
  const notes: string[] = [];
  const xs = sys.xenstore;
  const base = xs.usage(0) ?? { watches: 0, transactions: 0 };
  let done = 0;
  while (done < steps) {
    const s = await Session.open(path);
    const length = 1 + int(200);
    for (let i = 0; i < length && done < steps && !s.closed; i++, done++) {
      const tx = s.txs.length && int(2) ? s.txs[int(s.txs.length)] : 0;
      switch (int(12)) {
        case 0: case 1: case 2: {
          const ops: Array<[number, string]> = [[T.WRITE, `${node()}\0${int(1e9)}`], [T.READ, `${node()}\0`], [T.MKDIR, `${node()}\0`], [T.RM, `${node()}\0`], [T.DIRECTORY, "/fuzz\0"]];
          const [type, p] = ops[int(ops.length)];
          s.write(s.request(type, tx, p));
          break;
        }
        // A long path: dom0's socket is exempt from the path quota (C's domain_max_chk), so it may succeed.
        case 3: s.write(s.request(T.WRITE, 0, `/fuzz/${"x/".repeat(1100 + int(700))}a\0v`)); break;
        case 4: s.write(s.request(T.READ, 0x40000000 + int(1000), `${node()}\0`, true)); break;
        case 5: {
          const m = s.request(T.READ, 0, `${node()}\0`, true);
          m.writeUInt32LE(30 + int(1000), 0); // no such type
          s.write(m);
          break;
        }
        case 6: for (let k = 0; k < 8; k++) s.write(s.request(T.WATCH, 0, `${node()}/w${k}\0tok${int(100)}\0`)); break;
        case 7: for (let k = 0; k < 6; k++) s.write(s.request(T.TX_START, 0, "\0")); break;
        case 8: {
          // partial, or slow: one message in pieces
          const m = s.request(T.WRITE, tx, `${node()}\0slow`);
          const piece = int(2) ? 1 + int(m.length - 1) : 1;
          for (let at = 0; at < m.length; at += piece) { s.write(m.subarray(at, at + piece)); if (piece === 1 && at % 8 === 0) await sleep(0); }
          break;
        }
        case 9: {
          // nonconsumer: 50 requests while not reading, then read again
          s.sock.pause();
          for (let k = 0; k < 50; k++) s.write(s.request(T.DIRECTORY, 0, "/fuzz\0"));
          await sleep(1 + int(20));
          s.sock.resume();
          break;
        }
        case 10: if (s.txs.length) { const id = s.txs.splice(int(s.txs.length), 1)[0]; s.write(s.request(T.TX_END, id, int(2) ? "T\0" : "F\0")); } break;
        default: {
          if (int(4) === 0) {
            // A header announcing more than XENSTORE_PAYLOAD_MAX: xenstored drops this connection.
            counts.injected++;
            s.expectClose = true;
            const h = message(T.READ, 999999, 0, "");
            h.writeUInt32LE(5000, 12);
            // Half the time a valid request goes in the same write, ahead of the header: it must
            // still be applied and answered before the connection is dropped (as C does).
            if (int(2)) { await s.settle(); s.write(h); }
            else s.write(Buffer.concat([s.request(T.WRITE, 0, `${node()}\0ahead`), h]));
            for (let t = 0; t < 5000 && !s.closed; t += 5) await sleep(5);
            if (!s.closed) { counts.wrong++; notes.push("socket client: xenstored kept a connection that announced a 5000-byte message"); }
            else if (s.owedCount) { counts.wrong++; notes.push("socket client: a request ahead of an oversized header was dropped unanswered"); }
          } else {
            // A close in the middle of a message.
            const m = message(T.WRITE, 424242, 0, `${node()}\0cut`);
            s.write(m.subarray(0, 16 + int(m.length - 16)));
            s.sock.destroy();
            s.closed = true;
          }
        }
      }
      if (i % 16 === 15) await sleep(0);
    }
    if (!s.closed && !(await s.settle())) { counts.wrong++; notes.push(`socket client: ${s.owedCount} requests never answered`); }
    await s.close();
    counts.injected += s.counts.injected; counts.detected += s.counts.detected; counts.wrong += s.counts.wrong;
    notes.push(...s.notes);
  }
  counts.steps = done;
  // Nothing of the closed sessions may stay behind in xenstored.
  await sleep(50);
  const after = xs.usage(0) ?? { watches: 0, transactions: 0 };
  if (after.watches !== base.watches || after.transactions !== base.transactions) {
    counts.held++;
    notes.push(`socket clients gone, yet dom0 holds ${after.watches - base.watches} watches and ${after.transactions - base.transactions} transactions more than before`);
  }
  return { ...counts, notes };
}

/** Waits for the guest fuzzer to end, then checks xenstored released everything it held. */
async function guestReleased(sys: XenSystem, domid: number, timeoutMs: number): Promise<Partial<FuzzCounts> & { notes: string[] }> {
  for (let t = 0; t < timeoutMs; t += 20) {
    const d = sys.stats().find((x) => x.domid === domid);
    if (!d || d.reason !== "running") break;
    await sleep(20);
  }
  await sleep(50);
  const u = sys.xenstore.usage(domid);
  if (u && (u.watches || u.transactions || u.outstanding)) return { held: 1, notes: [`the ring fuzzer is gone, yet xenstored holds for it ${u.watches} watches, ${u.transactions} transactions, ${u.outstanding} outstanding replies`] };
  return { notes: [] };
}

/** xenstored under a hostile ring client and a hostile socket client, beside a steady guest. */
export const xenstoreTarget: FuzzTarget = {
  name: "xenstore",
  summary: "a guest drives its xenstore ring by hand and a client abuses the xenstored socket (quotas, long paths, floods, partial and oversized messages) beside a steady guest",
  async run(ctx: FuzzContext) {
    const dir = mkdtempSync(join(tmpdir(), "xenwasm-fuzz-xs-"));
    const socket = join(dir, "xenstored.sock");
    const ringSteps = Math.ceil(ctx.steps / 2), socketSteps = ctx.steps - ringSteps;
    try {
      const spec = besideSteady(ctx, "xenstore", fuzzCmdline({ ...ctx, steps: ringSteps }));
      spec.config.xenstoreSocket = socket;
      return await runFuzzSystem("xenstore", ctx, {
        ...spec,
        during: async (sys) => {
          const [a, b] = await Promise.all([socketCampaign(sys, socket, ctx.seed, socketSteps), guestReleased(sys, 2, 60_000 + 20 * ctx.steps)]);
          const problems = sys.xenstore.check();
          const out = { ...a, held: (a.held ?? 0) + (b.held ?? 0), notes: [...a.notes, ...b.notes, ...problems.map((p) => `xenstored check: ${p}`)] };
          if (problems.length) out.wrong = (out.wrong ?? 0) + problems.length;
          return out;
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
