// A fake xenstore client for the engine's tests: it records what the store sends it and checks,
// on every request, the one-reply rule, the echoed req_id/tx_id, the reply type and the error
// string (one of xsd_errors, nul-terminated, within XENSTORE_PAYLOAD_MAX).
import { expect } from "vitest";
import { XenStore, XS, type XsConnection, type XsMessage } from "../../bindings/xenstore/store.js";
import { bin, bytes } from "../../bindings/xenstore/wire.js";
import { abi, k } from "../../bindings/abi/layout.js";

/** The error names an XS_ERROR reply may carry. */
export const ERRNAMES = abi().tables["xsd_errors[].errstring"] as string[];
const MAX = k("XENSTORE_PAYLOAD_MAX");
/** A reply: its payload on success, the error name on XS_ERROR. */
export type Result = { ok: string } | { err: string };
export const OK: Result = { ok: "OK\0" };
export const err = (name: string): Result => ({ err: name });
let nextConn = 1;

/** A connection that keeps everything the store sends it. */
export class Client implements XsConnection {
  readonly id = nextConn++;
  readonly inbox: XsMessage[] = [];
  private seen = 0;
  private reqs = 0;
  constructor(readonly store: XenStore, readonly domid: number, readonly privileged = false) {
    store.connect(this);
  }
  send(m: XsMessage): void {
    this.inbox.push(m);
  }
  /** Sends one request with raw payload bytes and checks its single reply. */
  raw(type: number, payload: Uint8Array, txId = 0, reqId = 7000 + ++this.reqs): Result {
    const before = this.inbox.length;
    this.store.request(this, { type, reqId, txId, payload });
    const replies = this.inbox.slice(before).filter((m) => m.type !== XS.WATCH_EVENT);
    expect(replies).toHaveLength(1);
    const r = replies[0];
    expect([r.reqId, r.txId]).toEqual([reqId >>> 0, txId >>> 0]);
    expect(r.payload.length).toBeLessThanOrEqual(MAX);
    const data = bin(r.payload);
    if (r.type === XS.ERROR) {
      expect(data.endsWith("\0")).toBe(true);
      expect(ERRNAMES).toContain(data.slice(0, -1));
      return { err: data.slice(0, -1) };
    }
    expect(r.type).toBe(type);
    return { ok: data };
  }
  /** Sends one request (a string payload is encoded byte for byte). */
  req(type: number, payload: string | Uint8Array, txId = 0): Result {
    return this.raw(type, typeof payload === "string" ? bytes(payload) : payload, txId);
  }
  /** Watch events received since the last call, as [path, token]. */
  events(): Array<[string, string]> {
    const out = this.inbox.slice(this.seen).filter((m) => m.type === XS.WATCH_EVENT).map((m) => {
      expect([m.reqId, m.txId]).toEqual([0, 0]);
      const parts = bin(m.payload).split("\0");
      expect(parts).toHaveLength(3);
      expect(parts[2]).toBe("");
      return [parts[0], parts[1]] as [string, string];
    });
    this.seen = this.inbox.length;
    return out;
  }
  start(tx = 0): number {
    const r = this.req(XS.TRANSACTION_START, "\0", tx) as { ok: string };
    expect(r.ok).toMatch(/^\d+\0$/);
    return Number.parseInt(r.ok);
  }
  end(tx: number, commit: boolean) { return this.req(XS.TRANSACTION_END, commit ? "T\0" : "F\0", tx); }
  write(path: string, value: string, tx = 0) { return this.req(XS.WRITE, `${path}\0${value}`, tx); }
  read(path: string, tx = 0) { return this.req(XS.READ, `${path}\0`, tx); }
  mkdir(path: string, tx = 0) { return this.req(XS.MKDIR, `${path}\0`, tx); }
  rm(path: string, tx = 0) { return this.req(XS.RM, `${path}\0`, tx); }
  dir(path: string, tx = 0) { return this.req(XS.DIRECTORY, `${path}\0`, tx); }
  getPerms(path: string) { return this.req(XS.GET_PERMS, `${path}\0`); }
  setPerms(path: string, ...perms: string[]) { return this.req(XS.SET_PERMS, `${path}\0${perms.map((p) => `${p}\0`).join("")}`); }
  watch(path: string, token: string) { return this.req(XS.WATCH, `${path}\0${token}\0`); }
  unwatch(path: string, token: string) { return this.req(XS.UNWATCH, `${path}\0${token}\0`); }
}
