// The toolstack's xenstore work, done as libxl does it: through xenstore requests of a
// privileged dom0 client. Introducing a domain writes /local/domain/N (owned by N: name, domid,
// control/shutdown, data, device); attaching a device writes the frontend and backend
// directories with libxl's layout and permissions; detaching runs the Closing/Closed handshake.
import { k } from "../abi/layout.js";
import { Ctl, FRAME_XENSTORE, type Domain } from "../hypervisor/domain.js";
import { domainPath } from "../xenstore/path.js";
import type { XsConnection, XsMessage } from "../xenstore/store.js";
import type { Xenstored } from "../xenstore/xenstored.js";

const enc = new TextEncoder(), dec = new TextDecoder();
const XS_ERROR = k("XS_ERROR"), XS_WATCH_EVENT = k("XS_WATCH_EVENT");

/** An error reply (XS_ERROR) to a toolstack request: `code` is the xsd_errors name. */
export class XenstoreError extends Error {
  constructor(readonly code: string, what: string) { super(`${what}: ${code}`); }
}

/** The toolstack's own privileged connection to the store (acts as domain 0). */
class ToolstackConnection implements XsConnection {
  readonly domid = 0;
  readonly privileged = true;
  reply: XsMessage | null = null;
  readonly events: string[][] = [];
  constructor(readonly id: number) {}
  send(msg: XsMessage): void {
    if (msg.type === XS_WATCH_EVENT) this.events.push(dec.decode(msg.payload).split("\0"));
    else this.reply = msg;
  }
}

const conns = new WeakMap<Xenstored, ToolstackConnection>();
let reqIds = 0;

function conn(xsd: Xenstored): ToolstackConnection {
  let c = conns.get(xsd);
  if (!c) {
    c = new ToolstackConnection(-1);
    xsd.store.connect(c);
    conns.set(xsd, c);
  }
  return c;
}

/** Sends one request as dom0 and returns the reply payload; throws XenstoreError on XS_ERROR. */
export function xsRequest(xsd: Xenstored, type: string, ...args: string[]): string {
  const c = conn(xsd);
  c.reply = null;
  const payload = enc.encode(args.map((a) => a + "\0").join(""));
  const msg: XsMessage = { type: k(`XS_${type}`), reqId: ++reqIds, txId: 0, payload: type === "WRITE" ? payload.subarray(0, payload.length - 1) : payload };
  xsd.store.request(c, msg);
  const r = c.reply as XsMessage | null;
  if (!r) throw new Error(`xenstore ${type} ${args[0] ?? ""}: no reply`);
  const text = dec.decode(r.payload);
  if (r.type === XS_ERROR) throw new XenstoreError(text.replace(/\0+$/, ""), `xenstore ${type} ${args[0] ?? ""}`);
  return text;
}

/** Writes `value` at `path` and sets its permissions (libxl style: owner first, e.g. "n1", "r0"). */
export function xsWrite(xsd: Xenstored, path: string, value: string, perms?: string[]): void {
  xsRequest(xsd, "WRITE", path, value);
  if (perms) xsRequest(xsd, "SET_PERMS", path, ...perms);
}

/** Reads `path`, or undefined when it does not exist. */
export function xsRead(xsd: Xenstored, path: string): string | undefined {
  try {
    return xsRequest(xsd, "READ", path);
  } catch (e) {
    if (e instanceof XenstoreError && e.code === "ENOENT") return undefined;
    throw e;
  }
}


/** Introduces `d`: writes its /local/domain/N nodes (owned by N) and connects its ring. */
export function introduceDomain(xsd: Xenstored, d: Domain): void {
  const base = domainPath(d.domid);
  const own = [`n${d.domid}`];
  xsWrite(xsd, base, "", own);
  xsWrite(xsd, `${base}/name`, d.name, own);
  xsWrite(xsd, `${base}/domid`, String(d.domid), own);
  for (const dir of ["control", "data", "device"]) xsWrite(xsd, `${base}/${dir}`, "", own);
  xsWrite(xsd, `${base}/control/shutdown`, "", own);
  xsd.attachDomain(d);
  xsRequest(xsd, "INTRODUCE", String(d.domid), String(FRAME_XENSTORE), String(d.ctl[Ctl.StorePort]));
}

/** Releases `d` (its watches and transactions go) and removes its /local/domain/N tree. */
export function releaseDomain(xsd: Xenstored, d: Domain): void {
  try {
    xsRequest(xsd, "RELEASE", String(d.domid));
  } catch (e) {
    if (!(e instanceof XenstoreError)) throw e;
  }
  xsd.detachDomain(d.domid);
  try { xsRequest(xsd, "RM", domainPath(d.domid)); } catch (e) { if (!(e instanceof XenstoreError)) throw e; }
}

/** A split device between a frontend and a backend domain (libxl's layout). */
export interface DeviceSpec {
  type: string;
  devid: number;
  frontend: number;
  backend: number;
  frontKeys?: Record<string, string>;
  backKeys?: Record<string, string>;
}

/** The frontend and backend directories of `dev`. */
export function devicePaths(dev: DeviceSpec): { front: string; back: string } {
  return {
    front: `${domainPath(dev.frontend)}/device/${dev.type}/${dev.devid}`,
    back: `${domainPath(dev.backend)}/backend/${dev.type}/${dev.frontend}/${dev.devid}`,
  };
}

/** XenbusState values (io/xenbus.h). */
export const XenbusState = {
  Initialising: k("XenbusStateInitialising"), InitWait: k("XenbusStateInitWait"), Initialised: k("XenbusStateInitialised"),
  Connected: k("XenbusStateConnected"), Closing: k("XenbusStateClosing"), Closed: k("XenbusStateClosed"),
};

/**
 * Writes the device's two directories as libxl does: the frontend's owned by the frontend and
 * readable by the backend, the backend's owned by the backend and readable by the frontend, in
 * one transaction so that neither end sees half a device.
 */
export function attachDevice(xsd: Xenstored, dev: DeviceSpec): { front: string; back: string } {
  const p = devicePaths(dev);
  const fperm = [`n${dev.frontend}`, `r${dev.backend}`], bperm = [`n${dev.backend}`, `r${dev.frontend}`];
  xsWrite(xsd, p.front, "", fperm);
  for (const [key, v] of Object.entries({ state: String(XenbusState.Initialising), backend: p.back, "backend-id": String(dev.backend), ...dev.frontKeys })) {
    xsWrite(xsd, `${p.front}/${key}`, v, fperm);
  }
  xsWrite(xsd, p.back, "", bperm);
  for (const [key, v] of Object.entries({ frontend: p.front, "frontend-id": String(dev.frontend), online: "1", state: String(XenbusState.Initialising), ...dev.backKeys })) {
    xsWrite(xsd, `${p.back}/${key}`, v, bperm);
  }
  return p;
}

/**
 * Detaches `dev` as libxl does: `online` = 0 and backend state Closing, then waits (calling
 * `pump` to let the domains run) until the backend reports Closed, and removes both directories.
 * Returns false if the backend did not close within `timeoutMs` (the directories are removed anyway).
 */
export async function detachDevice(xsd: Xenstored, dev: DeviceSpec, pump: () => Promise<void>, timeoutMs = 5000): Promise<boolean> {
  const p = devicePaths(dev);
  xsWrite(xsd, `${p.back}/online`, "0");
  xsWrite(xsd, `${p.back}/state`, String(XenbusState.Closing));
  const deadline = Date.now() + timeoutMs;
  let closed = false;
  while (Date.now() < deadline) {
    if (xsRead(xsd, `${p.back}/state`) === String(XenbusState.Closed)) { closed = true; break; }
    await pump();
  }
  for (const path of [p.front, p.back]) try { xsRequest(xsd, "RM", path); } catch (e) { if (!(e instanceof XenstoreError)) throw e; }
  return closed;
}
