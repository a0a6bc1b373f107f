// xenstored without transport: the node tree, permissions, watches, transactions, quotas and domain
// bookkeeping of C xenstored (tools/xenstored/{core,domain,transaction,watch,control}.c), driven
// one decoded message at a time. Rings, sockets, event channels and timers live in the transports,
// which hand each complete request to `request()` and write out whatever `send()` receives
// (STYLE.md 7: QEMU's xenstore_impl.c versus xen_xenstore.c).
//
// Faithful to C xenstored in payload formats, error names and the order in which they are checked,
// with these decisions (each is also in the report that introduced this file):
// - A transaction sees the store as it was at TRANSACTION_START (docs/misc/xenstore.txt: "the whole
//   db is copied") and its commit fails with EAGAIN when any node it read or wrote changed since
//   then. C xenstored copies lazily and only checks changes after the first access; here each
//   open transaction keeps the start version of every node changed since it started and not yet
//   touched by it (its snapshot), so the check covers the whole transaction. What that costs is
//   bounded as C's is: a change pays one map lookup per open transaction, a transaction's end
//   nothing beyond itself, and a transaction's snapshot holds at most TX_SNAPSHOT_MAX nodes: past
//   that it can no longer tell what it would have seen, and fails with EAGAIN at its next first
//   access of a changed node (issue 15: an idle transaction used to make every other transaction's
//   end scan all changes made meanwhile).
// - A request longer than XENSTORE_PAYLOAD_MAX gets E2BIG (C drops the connection; that is the
//   transport's call, this engine only sees decoded messages).
// - Paths longer than XENSTORE_ABS_PATH_MAX are refused for everyone, the path-max quota (2048
//   below /local/domain/<domid>/) only for unprivileged clients, as newer C does.
// - When a domain is released its nodes stay (the toolstack removes them) and pass to dom0, as C's
//   --keep-orphans does; its watches, transactions, accounting and SET_TARGET links go, and
//   permission entries naming it are ignored from then on (C's generation check), so a reused
//   domid inherits nothing.
// - No memory quota, write rate limit or watch-event timeout (they need clocks and byte
//   accounting of output queues, which belong to the transport), and no dropping of duplicate
//   pending events (there is no output queue here).
import { PERM, type Asker, type Perm, type XsPerm, formatPerm, fromXsPerm, parsePerm, permFor, toXsPerm } from "./perms.js";
import { baseName, childPath, domainPath, isChild, localOffset, parentOf, shapeError, validChars } from "./path.js";
import {
  DOMID_FIRST_RESERVED, DOMID_SELF, E, PAYLOAD_MAX, REL_PATH_MAX, SUPPORTED_FEATURES, XS, XsError, type XsMessage,
  bin, bytes, cAtoi, cStrtol, countNuls, fail, getStrings, onearg, parseDomid, strings,
} from "./wire.js";

export { XS, XsError, type XsMessage } from "./wire.js";
export { formatPerm, parsePerm, type XsPerm, type XsPermLetter } from "./perms.js";

/** A client of the store: a domain's ring or a socket connection; `send` queues one message to it (the store keeps no reference to the payload). */
export interface XsConnection { readonly id: number; readonly domid: number; readonly privileged: boolean; send(msg: XsMessage): void }

/** What the store asks of the transport and the toolstack; every hook is optional. */
export interface XsHooks {
  /** INTRODUCE from a privileged client: the transport should attach domain `domid`'s ring (frame `mfn`, port); return false to fail with EINVAL. */
  introduce?(domid: number, mfn: bigint, port: number): boolean;
  /** RELEASE (or `releaseDomain()`) of an introduced domain: the transport detaches `domid`'s ring. */
  release?(domid: number): void;
  /** Whether domain `domid` exists (the hypervisor's view); default: every domid below DOMID_FIRST_RESERVED. */
  domainExists?(domid: number): boolean;
  /** Receives CONTROL "print" lines and internal errors; default: dropped. */
  log?(line: string): void;
  /** Fault injection (bindings/hypervisor/faults.ts): true when domain `domid`'s commit should fail with EAGAIN. */
  commitFault?(domid: number): boolean;
}

/** Per-domain limits (C xenstored's hard quotas); 0 disables a check. Privileged clients are exempt from all of them. */
export interface XsQuotas {
  /** Nodes a domain may own. */
  nodes: number;
  /** Watches of a domain (C lets one more through: the check is "more than"). */
  watches: number;
  /** Replies sent but not yet delivered, before `mayRead()` says stop. */
  outstanding: number;
  /** Open transactions of a domain (checked as "more than", like watches). */
  transactions: number;
  /** Nodes one transaction may touch. */
  transactionNodes: number;
  /** Permission entries per node. */
  nodePermissions: number;
  /** Path length below /local/domain/<domid>/. */
  pathMax: number;
  /** Bytes of a node: 16 + 8 per permission + data + children names with their nuls. */
  nodeSize: number;
}

/** C xenstored's default quotas. */
export const DEFAULT_QUOTAS: Readonly<XsQuotas> = Object.freeze({
  nodes: 1000, watches: 128, outstanding: 20, transactions: 10, transactionNodes: 1024,
  nodePermissions: 5, pathMax: REL_PATH_MAX, nodeSize: 2048,
});

/** What a domain currently uses of its quotas. */
export interface XsUsage {
  nodes: number; watches: number; transactions: number; outstanding: number;
  /** Start versions of changed nodes kept for the domain's open transactions (at most TX_SNAPSHOT_MAX each). */
  snapshotNodes: number;
}

/** Wire names of the quotas (GET_QUOTA/SET_QUOTA, CONTROL quota), in C's order, with C's descriptions. */
const QUOTA_NAMES: ReadonlyArray<readonly [string, keyof XsQuotas, string]> = [
  ["nodes", "nodes", "Nodes per domain"],
  ["watches", "watches", "Watches per domain"],
  ["outstanding", "outstanding", "Outstanding requests per domain"],
  ["transactions", "transactions", "Active transactions per domain"],
  ["transaction-nodes", "transactionNodes", "Max. number of accessed nodes per transaction"],
  ["node-permissions", "nodePermissions", "Max. number of permissions per node"],
  ["path-max", "pathMax", "Max. length of a node path"],
  ["node-size", "nodeSize", "Max. size of a node"],
];

/** C's trace switches, which CONTROL log reports and toggles (nothing is traced here). */
const TRACE_SWITCHES = ["obj", "io", "wrl", "acc", "tdb"];

/** A stored node; never mutated once stored (a change stores a new object), so snapshots can share it. */
interface Node { readonly perms: readonly Perm[]; readonly data: Uint8Array; readonly children: readonly string[]; readonly gen: number }
type Draft = Omit<Node, "gen">;
/** Start versions a transaction keeps of nodes changed since it started (then it gives up: see the top). */
export const TX_SNAPSHOT_MAX = 10_000;
/** C's NO_GENERATION: the generation of a node that does not exist. */
const NO_GEN = -1;
const EMPTY = new Uint8Array(0);
const OK = strings("OK");
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

interface Watch { readonly path: string; readonly token: string; readonly prefix: number }

/** One node a transaction touched: its view of the node and the generation it must still have at commit. */
interface Entry { node: Node | null; readonly base: number; modified: boolean; fire: boolean; exact: boolean; readonly perms: readonly Perm[] | null }
interface Tx {
  readonly id: number;
  /** Generation at TRANSACTION_START: the transaction sees the store as it was then. */
  readonly start: number;
  readonly accessed: Map<string, Entry>;
  /** Set when an operation inside failed half way (C's trans->fail): commit gives ENOMEM. */
  fail: boolean;
  /** Set when a domain whose nodes it holds was released: commit gives EAGAIN. */
  conflict: boolean;
  nodeCreated: boolean;
  /** Change of each owner's node count if it commits. */
  readonly nodeDelta: Map<number, number>;
  /** The version at TRANSACTION_START of each node changed since and not yet in `accessed`. */
  readonly snapshot: Map<string, Node | null>;
  /** Set once `snapshot` was full and a change was not recorded. */
  overflow: boolean;
}
interface ConnState { conn: XsConnection; readonly watches: Watch[]; readonly txs: Map<number, Tx>; nextTx: number }
interface Dom {
  readonly domid: number;
  /** Generation when the store learnt of the domain: permissions naming it on older nodes are stale. */
  readonly generation: number;
  introduced: boolean;
  nodes: number;
  watches: number;
  transactions: number;
  outstanding: number;
  target: number | undefined;
  features: number;
  readonly quota: XsQuotas;
}
/** Who runs an operation, and in which transaction. */
interface Ctx extends Asker { readonly c: ConnState | null; tx: Tx | null; readonly owner?: number }
interface Reply { payload: Uint8Array; after?: () => void }
interface Op { fn: (ctx: Ctx, p: Uint8Array) => Reply; priv?: boolean; notid?: boolean }

function isPriv(conn: XsConnection): boolean {
  return conn.privileged || conn.domid === 0;
}
function owner(n: { perms: readonly Perm[] }): number {
  return n.perms[0].id;
}
function withOwner(perms: readonly Perm[], id: number): Perm[] {
  return [{ id, perms: perms[0].perms }, ...perms.slice(1)];
}
/** C's calc_node_acc_size(): node header, permissions, data and the nul-separated children. */
function nodeSize(n: Draft): number {
  let children = 0;
  for (const c of n.children) children += c.length + 1;
  return 16 + 8 * n.perms.length + n.data.length + children;
}
function childBytes(n: Node): Uint8Array {
  return strings(...n.children);
}
function notFound(e: unknown): boolean {
  return e instanceof XsError && e.code === E.NOENT;
}

/**
 * The xenstore database and protocol engine. It owns the tree, the per-connection watches and
 * transactions and the per-domain accounting; callers own the connections and their queues.
 */
export class XenStore {
  private readonly nodes = new Map<string, Node>();
  private readonly doms = new Map<number, Dom>();
  private readonly conns = new Map<number, ConnState>();
  /** The open transactions (their snapshots are kept up to date by every change to the store). */
  private readonly open = new Set<Tx>();
  private readonly globalQuota: XsQuotas;
  private readonly traceOn = new Set(["obj", "io"]);
  private readonly ops: Map<number, Op>;
  private gen = 0;

  /** Creates C xenstored's initial tree ("/", "/tool", "/tool/xenstored" and the @introduceDomain/@releaseDomain nodes, all "n0"). */
  constructor(private readonly hooks: XsHooks = {}, quotas: Partial<XsQuotas> = {}) {
    this.globalQuota = { ...DEFAULT_QUOTAS, ...quotas };
    this.ops = this.wireOps();
    this.dom(0);
    const n0: Perm[] = [{ id: 0, perms: PERM.NONE }];
    const initial: Array<[string, string[]]> = [["/", ["tool"]], ["/tool", ["xenstored"]], ["/tool/xenstored", []], ["@releaseDomain", []], ["@introduceDomain", []]];
    for (const [path, children] of initial) this.globalSet(path, { perms: n0, data: EMPTY, children, gen: ++this.gen });
  }

  // ---- transport side ------------------------------------------------------------------------

  /** Registers a client (by `conn.id`; connecting again replaces the object that receives messages). */
  connect(conn: XsConnection): void {
    const st = this.conns.get(conn.id);
    if (st) st.conn = conn;
    else this.conns.set(conn.id, { conn, watches: [], txs: new Map(), nextTx: 0 });
    this.dom(conn.domid);
  }

  /** Forgets a client: its watches and open transactions go, nothing is sent. */
  disconnect(conn: XsConnection): void {
    const st = this.conns.get(conn.id);
    if (!st) return;
    this.dropConn(st);
    this.conns.delete(conn.id);
  }

  /**
   * Handles one request: sends exactly one reply to `conn` (same reqId and txId; the request's type
   * or XS_ERROR with an xsd_errors name) and XS_WATCH_EVENT messages to the watchers of whatever
   * changed. An unknown `conn` is connected first.
   */
  request(conn: XsConnection, msg: XsMessage): void {
    if (!this.conns.has(conn.id)) this.connect(conn);
    const st = this.conns.get(conn.id)!;
    const reqId = msg.reqId >>> 0, txId = msg.txId >>> 0;
    const send = (type: number, payload: Uint8Array) => {
      const d = this.doms.get(conn.domid);
      if (d) d.outstanding++;
      conn.send({ type, reqId, txId, payload });
    };
    let reply: Reply;
    try {
      const payload = msg.payload instanceof Uint8Array ? msg.payload : EMPTY;
      if (payload.length > PAYLOAD_MAX) fail(E.TOOBIG, "request payload");
      const op = Number.isInteger(msg.type) ? this.ops.get(msg.type) : undefined;
      if (!op) fail(E.NOSYS, `message type ${msg.type}`);
      const priv = isPriv(conn);
      if (op.priv && !priv) fail(E.ACCES);
      let tx: Tx | null = null;
      if (!op.notid && txId !== 0) tx = st.txs.get(txId) ?? fail(E.NOENT, `transaction ${txId}`);
      const ctx: Ctx = { domid: conn.domid, priv, target: this.doms.get(conn.domid)?.target, c: st, tx };
      reply = op.fn(ctx, payload);
      if (reply.payload.length > PAYLOAD_MAX) fail(E.TOOBIG, "reply payload");
    } catch (e) {
      if (!(e instanceof XsError)) this.hooks.log?.(`xenstore: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      send(XS.ERROR, strings(e instanceof XsError ? e.code : E.IO));
      return;
    }
    send(msg.type, reply.payload);
    reply.after?.();
  }

  /** Whether the transport may take another request from `conn` (false once an unprivileged domain has `outstanding` undelivered replies). */
  mayRead(conn: XsConnection): boolean {
    const d = this.doms.get(conn.domid);
    return isPriv(conn) || !d || !d.quota.outstanding || d.outstanding < d.quota.outstanding;
  }

  /** Tells the store that one reply to `conn` has been written out (pairs with `mayRead()`). */
  replyDelivered(conn: XsConnection): void {
    const d = this.doms.get(conn.domid);
    if (d && d.outstanding > 0) d.outstanding--;
  }

  /** The server_features the transport should advertise in `domid`'s ring page (SET_FEATURE may narrow them before INTRODUCE). */
  features(domid: number): number {
    return this.doms.get(domid)?.features ?? SUPPORTED_FEATURES;
  }

  // ---- toolstack side (dom0 semantics, watches fire as for a request) ------------------------

  /** Returns the value at `path` (UTF-8 decoded), or undefined if there is no such node. */
  read(path: string): string | undefined {
    const ctx = this.apiCtx();
    try {
      return utf8d.decode(this.getNode(ctx, this.canon(ctx, path, false), PERM.READ).data);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Writes `value` at `path`, creating missing parents as dom0 would (they inherit their parent's
   * permissions); with `owner`, the node itself then belongs to that domain, its other entries kept.
   */
  write(path: string, value: string | Uint8Array, owner?: number): void {
    const data = typeof value === "string" ? utf8.encode(value) : value.slice();
    if (data.length > PAYLOAD_MAX) fail(E.TOOBIG, "value longer than XENSTORE_PAYLOAD_MAX");
    if (owner !== undefined) {
      if (!Number.isInteger(owner) || owner < 0 || owner > 0xffffffff) fail(E.INVAL, `owner ${owner}`);
      if (this.permRefs([{ id: owner, perms: PERM.NONE }])[0].perms & PERM.IGNORE) fail(E.NOENT, `no domain ${owner}`);
    }
    const ctx = this.apiCtx(owner);
    this.writeNode(ctx, this.canon(ctx, path, false), data);
  }

  /** Creates `path` and missing parents with empty values; an existing node is left alone. */
  mkdir(path: string): void {
    const ctx = this.apiCtx();
    this.makeDir(ctx, this.canon(ctx, path, false));
  }

  /** Removes `path` and everything below it (fine if absent, as long as its parent exists). */
  rm(path: string): void {
    const ctx = this.apiCtx();
    this.remove(ctx, this.canon(ctx, path, false));
  }

  /** Replaces the permissions of `path` (or of @introduceDomain/@releaseDomain): entry 0 is owner and default, as "n0"; strings like "r1" are accepted too. */
  setPerms(path: string, perms: ReadonlyArray<XsPerm | string>): void {
    const parsed = perms.map(fromXsPerm);
    if (parsed.length === 0 || parsed.some((p) => p === null)) fail(E.INVAL, "permissions");
    this.setPermsOn(this.apiCtx(), path, parsed as Perm[]);
  }

  /** Returns the permissions of `path`, or undefined if there is no such node. */
  getPerms(path: string): XsPerm[] | undefined {
    const ctx = this.apiCtx();
    try {
      return this.getNode(ctx, this.canon(ctx, path, true), PERM.READ).perms.map(toXsPerm);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /** Returns the names of the children of `path` in creation order, or undefined if there is no such node. */
  directory(path: string): string[] | undefined {
    const ctx = this.apiCtx();
    try {
      return [...this.getNode(ctx, this.canon(ctx, path, false), PERM.READ).children];
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Marks `domid` introduced and fires @introduceDomain (not for dom0, as C); introducing it again
   * resets its connections' watches and transactions, as a repeated INTRODUCE. No hook is called:
   * the caller attaches the ring itself.
   */
  introduceDomain(domid: number): void {
    this.introduce(this.apiDomid(domid));
  }

  /**
   * Forgets domain `domid`: its connections with their watches and transactions, its accounting
   * and quotas, its SET_TARGET links; its nodes pass to dom0; fires @releaseDomain and calls the
   * release hook if it was introduced.
   */
  releaseDomain(domid: number): void {
    if (this.apiDomid(domid) === 0) fail(E.INVAL, "dom0 cannot be released");
    this.destroyDomain(domid);
  }

  /** Whether `domid` has been introduced and not released. */
  isIntroduced(domid: number): boolean {
    return this.doms.get(domid)?.introduced ?? false;
  }

  /** What `domid` currently uses, or undefined if the store does not know the domain. */
  usage(domid: number): XsUsage | undefined {
    const d = this.doms.get(domid);
    if (!d) return undefined;
    let snapshotNodes = 0;
    for (const c of this.conns.values()) if (c.conn.domid === domid) for (const tx of c.txs.values()) snapshotNodes += tx.snapshot.size;
    return { nodes: d.nodes, watches: d.watches, transactions: d.transactions, outstanding: d.outstanding, snapshotNodes };
  }

  /** The quotas of `domid` (its own copy, taken from the global ones when the store learnt of it), or the global ones. */
  quotas(domid?: number): XsQuotas {
    return { ...(domid === undefined ? this.globalQuota : (this.doms.get(domid)?.quota ?? this.globalQuota)) };
  }

  /** Checks the tree (every node reachable from its parent, every child present) and recounts node ownership, repairing the counts; returns what was wrong. */
  check(): string[] {
    const problems: string[] = [];
    const counts = new Map<number, number>();
    for (const [path, n] of this.nodes) {
      counts.set(owner(n), (counts.get(owner(n)) ?? 0) + 1);
      for (const leaf of n.children) if (!this.nodes.has(childPath(path, leaf))) problems.push(`${path} lists missing child ${leaf}`);
      if (path === "/" || path[0] === "@") continue;
      const parent = this.nodes.get(parentOf(path));
      if (!parent || !parent.children.includes(baseName(path))) problems.push(`${path} is not listed by its parent`);
    }
    for (const d of this.doms.values()) {
      const want = counts.get(d.domid) ?? 0;
      if (d.nodes !== want) problems.push(`domain ${d.domid} accounted ${d.nodes} nodes, owns ${want}`);
      d.nodes = want;
    }
    for (const id of counts.keys()) if (!this.doms.has(id)) problems.push(`nodes owned by unknown domain ${id}`);
    return problems;
  }

  // ---- the tree --------------------------------------------------------------------------------

  private apiCtx(owner?: number): Ctx {
    return { domid: 0, priv: true, target: undefined, c: null, tx: null, owner };
  }

  private apiDomid(domid: number): number {
    if (!Number.isInteger(domid) || domid < 0 || domid > 65535) fail(E.INVAL, `domid ${domid}`);
    return domid;
  }

  private dom(domid: number): Dom {
    let d = this.doms.get(domid);
    if (!d) {
      d = {
        domid, generation: this.gen, introduced: false, nodes: 0, watches: 0, transactions: 0, outstanding: 0,
        target: undefined, features: SUPPORTED_FEATURES, quota: { ...this.globalQuota },
      };
      this.doms.set(domid, d);
    }
    return d;
  }

  private domainExists(domid: number): boolean {
    return this.hooks.domainExists ? this.hooks.domainExists(domid) : domid < DOMID_FIRST_RESERVED;
  }

  /** C's find_or_alloc_existing_domain(): the domain's record, made if the domain exists. */
  private existingDom(domid: number): Dom | undefined {
    return this.doms.get(domid) ?? (this.domainExists(domid) ? this.dom(domid) : undefined);
  }

  private quotaOf(ctx: Ctx): XsQuotas {
    return this.dom(ctx.domid).quota;
  }

  /** Marks permission entries of domains that are gone, or newer than the node, as ignored (C's domain_adjust_node_perms()). */
  private live(n: Node): Node {
    let perms: Perm[] | null = null;
    for (let i = 1; i < n.perms.length; i++) {
      const p = n.perms[i];
      if (p.perms & PERM.IGNORE) continue;
      const d = this.doms.get(p.id);
      if (d && d.generation <= n.gen) continue;
      perms ??= n.perms.slice();
      perms[i] = { id: p.id, perms: p.perms | PERM.IGNORE };
    }
    return perms ? { ...n, perms } : n;
  }

  /** The node at `path` as `ctx` sees it (its transaction's view when in one), or null. */
  private view(ctx: Ctx, path: string): Node | null {
    const n = ctx.tx ? this.entry(ctx, path).node : (this.nodes.get(path) ?? null);
    return n && this.live(n);
  }

  /**
   * The node at `path` as `tx` saw the store at its start: its snapshot's version if the node
   * changed since, else the store's. A transaction whose snapshot overflowed cannot tell for a
   * node it did not record, so it is marked to fail (EAGAIN at commit) when the node changed.
   */
  private snapshot(path: string, tx: Tx): Node | null {
    const kept = tx.snapshot.get(path);
    if (kept !== undefined) { tx.snapshot.delete(path); return kept; }
    const cur = this.nodes.get(path) ?? null;
    if (tx.overflow && (!cur || cur.gen > tx.start)) tx.conflict = true;
    return cur;
  }

  /** The transaction's record of `path`, made on first access from the snapshot (C's access_node()). */
  private entry(ctx: Ctx, path: string): Entry {
    const tx = ctx.tx!;
    let e = tx.accessed.get(path);
    if (e) return e;
    const q = this.quotaOf(ctx).transactionNodes;
    if (!ctx.priv && q && tx.accessed.size + 1 > q) {
      tx.fail = true;
      fail(E.NOSPC, "transaction-nodes quota");
    }
    const snap = this.snapshot(path, tx);
    e = { node: snap, base: snap ? snap.gen : NO_GEN, modified: false, fire: false, exact: false, perms: snap && this.live(snap).perms };
    tx.accessed.set(path, e);
    return e;
  }

  /** Stores `draft` at `path` with a new generation, in the transaction or the store. */
  private put(ctx: Ctx, path: string, draft: Draft): Node {
    const node: Node = { perms: draft.perms, data: draft.data, children: draft.children, gen: ++this.gen };
    if (ctx.tx) {
      const e = this.entry(ctx, path);
      this.txCount(ctx.tx, e.node, node);
      e.node = node;
      e.modified = true;
    } else this.globalSet(path, node);
    return node;
  }

  /** Deletes the node at `path` (the deletion gets a generation too, as in C). */
  private del(ctx: Ctx, path: string): void {
    const gen = ++this.gen;
    if (ctx.tx) {
      const e = this.entry(ctx, path);
      this.txCount(ctx.tx, e.node, null);
      e.node = null;
      e.modified = true;
    } else this.globalSet(path, null);
  }

  /** Changes the store itself: accounting by owner, and the old version kept in each open transaction's snapshot. */
  private globalSet(path: string, node: Node | null): void {
    const old = this.nodes.get(path) ?? null;
    for (const tx of this.open) {
      if (tx.snapshot.has(path) || tx.accessed.has(path)) continue;
      if (tx.snapshot.size < TX_SNAPSHOT_MAX) tx.snapshot.set(path, old);
      else tx.overflow = true;
    }
    if (old) this.dom(owner(old)).nodes--;
    if (node) {
      this.nodes.set(path, node);
      this.dom(owner(node)).nodes++;
    } else this.nodes.delete(path);
  }

  private txCount(tx: Tx, old: Node | null, node: Node | null): void {
    if (old && node && owner(old) === owner(node)) return;
    if (old) tx.nodeDelta.set(owner(old), (tx.nodeDelta.get(owner(old)) ?? 0) - 1);
    if (node) tx.nodeDelta.set(owner(node), (tx.nodeDelta.get(owner(node)) ?? 0) + 1);
  }

  /** Makes a client's path absolute and checks it (C's canonicalize()); EINVAL when it is not a valid path. */
  private canon(ctx: Ctx, raw: string | null, allowSpecial: boolean): string {
    if (raw === null) fail(E.INVAL, "missing or malformed path argument");
    if (!validChars(raw)) fail(E.INVAL, "invalid character in path");
    if (raw[0] === "@" && !allowSpecial) fail(E.INVAL, "special path not allowed here");
    const name = raw[0] !== "/" && raw[0] !== "@" ? `${domainPath(ctx.domid)}/${raw}` : raw;
    const shape = shapeError(name);
    if (shape) fail(E.INVAL, shape);
    const max = this.quotaOf(ctx).pathMax;
    if (!ctx.priv && max && name.length - localOffset(name) > max) fail(E.INVAL, "path-max quota");
    return name;
  }

  /**
   * The node at `name` if `ctx` has all of `perm` on it; otherwise ENOENT or EACCES, with ENOENT
   * turned into EACCES when the nearest existing ancestor does not grant `perm` either, so a client
   * learns nothing about places it may not look (C's get_node() and errno_from_parents()).
   */
  private getNode(ctx: Ctx, name: string, perm: number): Node {
    const node = this.view(ctx, name);
    let code: string;
    if (!node) code = E.NOENT;
    else if ((permFor(ctx, node.perms) & perm) !== perm) code = E.ACCES;
    else return node;
    fail(this.askParents(ctx, name) & perm ? code : E.ACCES, name);
  }

  private askParents(ctx: Ctx, name: string): number {
    do {
      name = parentOf(name);
      const n = this.view(ctx, name);
      if (n) return permFor(ctx, n.perms);
    } while (name !== "/");
    return PERM.NONE;
  }

  private checkSize(ctx: Ctx, n: Draft): void {
    const max = this.quotaOf(ctx).nodeSize;
    if (!ctx.priv && max && nodeSize(n) > max) fail(E.NOSPC, "node-size quota");
  }

  /** Nodes `ctx`'s domain owns, counting its transaction's creations and deletions. */
  private nodeCount(ctx: Ctx): number {
    return (this.doms.get(ctx.domid)?.nodes ?? 0) + (ctx.tx?.nodeDelta.get(ctx.domid) ?? 0);
  }

  /**
   * Creates `name` and its missing parents (C's construct_node() and create_node()): each new node
   * copies its parent's permissions, with the creator as owner when unprivileged; all quota checks
   * pass before anything is stored. Returns the new node and its parent.
   */
  private create(ctx: Ctx, name: string, data: Uint8Array): { node: Node; parent: Node } {
    const names = [name];
    let topName = parentOf(name);
    let top: Node | null;
    for (;;) {
      top = this.view(ctx, topName);
      if (top) break;
      if (topName === "/") fail(E.IO, "no root node");
      names.push(topName);
      topName = parentOf(topName);
    }
    const parentOwner = ctx.priv ? undefined : ctx.domid;
    const existing: Draft = { perms: top.perms, data: top.data, children: [...top.children, baseName(names[names.length - 1])] };
    const made: Array<{ path: string; draft: Draft }> = [];
    let perms = top.perms;
    for (let i = names.length - 1; i >= 0; i--) {
      const newOwner = i === 0 && ctx.owner !== undefined ? ctx.owner : parentOwner;
      perms = newOwner === undefined ? perms.slice() : withOwner(perms, newOwner);
      made.push({ path: names[i], draft: { perms, data: i === 0 ? data : EMPTY, children: i === 0 ? [] : [baseName(names[i - 1])] } });
    }
    if (ctx.tx) ctx.tx.nodeCreated = true; // set before the checks, as C's create_node()
    const max = this.quotaOf(ctx).nodes;
    let count = this.nodeCount(ctx);
    for (let i = made.length - 1; i >= 0; i--) {
      if (!ctx.priv && max && count >= max) fail(E.NOSPC, "nodes quota");
      this.checkSize(ctx, made[i].draft);
      count++;
    }
    this.checkSize(ctx, existing);
    const stored: Node[] = [];
    for (let i = made.length - 1; i >= 0; i--) stored[i] = this.put(ctx, made[i].path, made[i].draft);
    const topNode = this.put(ctx, topName, existing);
    return { node: stored[made.length - 1], parent: made.length > 1 ? stored[made.length - 2] : topNode };
  }

  private writeNode(ctx: Ctx, name: string, data: Uint8Array): void {
    let node: Node | null = null;
    try {
      node = this.getNode(ctx, name, PERM.WRITE);
    } catch (e) {
      if (!notFound(e)) throw e;
    }
    if (!node) {
      const made = this.create(ctx, name, data);
      this.fire(ctx, name, made.node, made.parent, false, null);
      return;
    }
    const rehome = ctx.owner !== undefined && ctx.owner !== owner(node);
    const draft: Draft = { perms: rehome ? withOwner(node.perms, ctx.owner!) : node.perms, data, children: node.children };
    this.checkSize(ctx, draft);
    const stored = this.put(ctx, name, draft);
    this.fire(ctx, name, stored, undefined, false, rehome ? node.perms : null);
  }

  private makeDir(ctx: Ctx, name: string): void {
    try {
      this.getNode(ctx, name, PERM.WRITE);
      return;
    } catch (e) {
      if (!notFound(e)) throw e;
    }
    const made = this.create(ctx, name, EMPTY);
    this.fire(ctx, name, made.node, made.parent, false, null);
  }

  /** RM: needs write access to the node only; children go whatever their permissions (as C). */
  private remove(ctx: Ctx, name: string): void {
    let node: Node;
    try {
      node = this.getNode(ctx, name, PERM.WRITE);
    } catch (e) {
      if (!notFound(e)) throw e;
      if (this.view(ctx, parentOf(name))) return;
      fail(E.NOENT, name);
    }
    if (name === "/") fail(E.INVAL, "cannot remove /");
    const parentName = parentOf(name);
    const parent = this.view(ctx, parentName) ?? fail(E.INVAL, "parent vanished");
    // Children first, as C's walk deletes them on the way back up.
    const order: Array<{ path: string; node: Node; parent: Node }> = [];
    const walk = (path: string, n: Node, par: Node) => {
      for (const leaf of n.children) {
        const cp = childPath(path, leaf);
        const cn = this.view(ctx, cp);
        if (cn) walk(cp, cn, n);
      }
      order.push({ path, node: n, parent: par });
    };
    walk(name, node, parent);
    for (const d of order) {
      this.del(ctx, d.path);
      // The removed root fires for its watchers and those above; a removed child only for a watch on exactly its path.
      this.fire(ctx, d.path, d.node, d.parent, d.path !== name, null);
    }
    const leaf = baseName(name);
    const i = parent.children.indexOf(leaf);
    this.put(ctx, parentName, { perms: parent.perms, data: parent.data, children: parent.children.filter((_, j) => j !== i) });
  }

  /** Gives entries for unknown domains a record if the domain exists, else marks them ignored (C's domain_alloc_permrefs()). */
  private permRefs(perms: readonly Perm[]): Perm[] {
    return perms.map((p) => (this.existingDom(p.id) ? p : { id: p.id, perms: p.perms | PERM.IGNORE }));
  }

  private setPermsOn(ctx: Ctx, rawPath: string, perms: readonly Perm[]): void {
    const resolved = this.permRefs(perms);
    if (resolved[0].perms & PERM.IGNORE) fail(E.NOENT, `owner domain ${resolved[0].id} does not exist`);
    const name = this.canon(ctx, rawPath, true);
    const node = this.getNode(ctx, name, PERM.WRITE | PERM.OWNER);
    if (!ctx.priv && resolved[0].id !== owner(node)) fail(E.PERM, "only a privileged client changes the owner");
    const draft: Draft = { perms: resolved, data: node.data, children: node.children };
    this.checkSize(ctx, draft);
    const stored = this.put(ctx, name, draft);
    this.fire(ctx, name, stored, undefined, false, node.perms);
  }

  // ---- watches -------------------------------------------------------------------------------

  /**
   * A change at `path`: queued in the transaction, or sent now to every watch of a client that may
   * read the node (or its old permissions, or its parent) whose path is `path` (exact) or above it.
   */
  private fire(ctx: Ctx, path: string, node: Node | null, parent: Node | undefined, exact: boolean, oldPerms: readonly Perm[] | null): void {
    if (ctx.tx) {
      const e = ctx.tx.accessed.get(path);
      if (!e) {
        ctx.tx.fail = true;
        return;
      }
      if (!e.fire) {
        e.fire = true;
        e.exact = exact;
      } else if (!exact) e.exact = false;
      return;
    }
    this.deliver(path, node, parent, exact, oldPerms);
  }

  private deliver(path: string, node: Node | null, parent: Node | undefined, exact: boolean, oldPerms: readonly Perm[] | null): void {
    for (const c of [...this.conns.values()]) {
      if (c.watches.length === 0 || !this.watchPermitted(c, path, node, parent, oldPerms)) continue;
      for (const w of [...c.watches]) {
        if (exact ? w.path === path : isChild(path, w.path)) this.event(c, path.slice(w.prefix), w.token);
      }
    }
  }

  /** C's watch_permitted(): the old permissions, the node or its parent must let the watcher read. */
  private watchPermitted(c: ConnState, path: string, node: Node | null, parent: Node | undefined, oldPerms: readonly Perm[] | null): boolean {
    const who = this.asker(c);
    if (oldPerms && permFor(who, oldPerms) & PERM.READ) return true;
    const n = node ? this.live(node) : this.globalLive(path);
    if (!n) return false;
    if (permFor(who, n.perms) & PERM.READ) return true;
    const p = parent ? this.live(parent) : this.globalLive(parentOf(path));
    return p !== null && (permFor(who, p.perms) & PERM.READ) !== 0;
  }

  private globalLive(path: string): Node | null {
    const n = this.nodes.get(path);
    return n ? this.live(n) : null;
  }

  private asker(c: ConnState): Asker {
    return { domid: c.conn.domid, priv: isPriv(c.conn), target: this.doms.get(c.conn.domid)?.target };
  }

  private event(c: ConnState, path: string, token: string): void {
    const payload = strings(path, token);
    if (payload.length > PAYLOAD_MAX) return; // C drops over-long events silently
    c.conn.send({ type: XS.WATCH_EVENT, reqId: 0, txId: 0, payload });
  }

  private fireSpecial(name: string): void {
    const n = this.nodes.get(name);
    if (n) this.deliver(name, n, undefined, true, null);
  }

  // ---- connections, transactions and domains --------------------------------------------------

  private dropConn(c: ConnState): void {
    const d = this.doms.get(c.conn.domid);
    if (d) d.watches -= c.watches.length;
    c.watches.length = 0;
    for (const tx of [...c.txs.values()]) this.dropTx(c, tx);
  }

  private dropTx(c: ConnState, tx: Tx): void {
    if (!c.txs.delete(tx.id)) return;
    const d = this.doms.get(c.conn.domid);
    if (d) d.transactions--;
    this.open.delete(tx);
  }

  /** Commits `tx` for `ctx` (C's do_transaction_end("T") and finalize_transaction()). */
  private commit(ctx: Ctx, tx: Tx): void {
    if (tx.fail) fail(E.NOMEM, "transaction failed earlier");
    if (tx.nodeCreated && !ctx.priv) {
      for (const [domid, delta] of tx.nodeDelta) {
        const d = this.doms.get(domid);
        if (domid !== 0 && d && d.quota.nodes && d.nodes + delta >= d.quota.nodes) fail(E.NOSPC, "nodes quota at commit");
      }
    }
    if (tx.conflict) fail(E.AGAIN);
    if (ctx.c && this.hooks.commitFault?.(ctx.c.conn.domid)) fail(E.AGAIN, "injected fault");
    for (const [path, e] of tx.accessed) {
      const cur = this.nodes.get(path);
      if ((cur ? cur.gen : NO_GEN) !== e.base) fail(E.AGAIN, path);
    }
    for (const [path, e] of tx.accessed) {
      if (!e.modified) continue;
      if (e.node) {
        this.globalSet(path, { ...e.node, gen: ++this.gen });
      } else if (this.nodes.has(path)) {
        ++this.gen;
        this.globalSet(path, null);
      }
      if (e.fire) this.deliver(path, null, undefined, e.exact, e.perms);
    }
  }

  private introduce(domid: number): void {
    const d = this.dom(domid);
    if (!d.introduced) {
      d.introduced = true;
      if (domid !== 0) this.fireSpecial("@introduceDomain");
    } else if (domid !== 0) {
      // Re-introduction (resume) resets the domain's connection, as C's domain_conn_reset().
      for (const c of this.conns.values()) if (c.conn.domid === domid) this.dropConn(c);
    }
  }

  private destroyDomain(domid: number): void {
    const d = this.doms.get(domid);
    const introduced = d?.introduced ?? false;
    for (const c of [...this.conns.values()]) {
      if (c.conn.domid !== domid) continue;
      this.dropConn(c);
      this.conns.delete(c.conn.id);
    }
    if (introduced) this.hooks.release?.(domid);
    for (const [path, n] of [...this.nodes]) {
      if (owner(n) !== domid) continue;
      const gen = ++this.gen;
      this.globalSet(path, { ...n, perms: withOwner(n.perms, 0), gen });
    }
    for (const c of this.conns.values()) {
      for (const tx of c.txs.values()) {
        for (const e of tx.accessed.values()) if (e.node && owner(e.node) === domid) tx.conflict = true;
      }
    }
    this.doms.delete(domid);
    for (const o of this.doms.values()) if (o.target === domid) o.target = undefined;
    if (introduced) this.fireSpecial("@releaseDomain");
  }

  // ---- the wire operations ---------------------------------------------------------------------

  private wireOps(): Map<number, Op> {
    const ok = (): Reply => ({ payload: OK });
    const ops: Array<[number, Op]> = [
      [XS.CONTROL, { fn: (ctx, p) => this.control(p), priv: true }],
      [XS.DIRECTORY, { fn: (ctx, p) => ({ payload: childBytes(this.getNode(ctx, this.canon(ctx, onearg(p), false), PERM.READ)) }) }],
      [XS.READ, { fn: (ctx, p) => ({ payload: this.getNode(ctx, this.canon(ctx, onearg(p), false), PERM.READ).data }) }],
      [XS.GET_PERMS, { fn: (ctx, p) => ({ payload: strings(...this.getNode(ctx, this.canon(ctx, onearg(p), true), PERM.READ).perms.map(formatPerm)) }) }],
      [XS.WATCH, { fn: (ctx, p) => this.watch(ctx, p), notid: true }],
      [XS.UNWATCH, { fn: (ctx, p) => this.unwatch(ctx, p), notid: true }],
      [XS.TRANSACTION_START, { fn: (ctx) => this.txStart(ctx) }],
      [XS.TRANSACTION_END, { fn: (ctx, p) => this.txEnd(ctx, p) }],
      [XS.INTRODUCE, { fn: (ctx, p) => this.doIntroduce(p), priv: true }],
      [XS.RELEASE, { fn: (ctx, p) => { this.destroyDomain(this.introducedArg(p)); return ok(); }, priv: true }],
      [XS.GET_DOMAIN_PATH, { fn: (ctx, p) => ({ payload: strings(domainPath(this.domidArg(onearg(p)))) }) }],
      [XS.WRITE, { fn: (ctx, p) => {
        const z = p.indexOf(0);
        if (z < 0) fail(E.INVAL, "no path");
        this.writeNode(ctx, this.canon(ctx, bin(p, 0, z), false), p.slice(z + 1));
        return ok();
      } }],
      [XS.MKDIR, { fn: (ctx, p) => { this.makeDir(ctx, this.canon(ctx, onearg(p), false)); return ok(); } }],
      [XS.RM, { fn: (ctx, p) => { this.remove(ctx, this.canon(ctx, onearg(p), false)); return ok(); } }],
      [XS.SET_PERMS, { fn: (ctx, p) => this.doSetPerms(ctx, p) }],
      [XS.IS_DOMAIN_INTRODUCED, { fn: (ctx, p) => {
        const domid = this.domidArg(onearg(p));
        return { payload: strings(domid === DOMID_SELF || this.isIntroduced(domid) ? "T" : "F") };
      }, priv: true }],
      [XS.RESUME, { fn: (ctx, p) => { this.introducedArg(p); return ok(); }, priv: true }],
      [XS.SET_TARGET, { fn: (ctx, p) => this.setTarget(p), priv: true }],
      [XS.RESET_WATCHES, { fn: (ctx) => { if (ctx.c) this.dropConn(ctx.c); ctx.tx = null; return ok(); } }],
      [XS.DIRECTORY_PART, { fn: (ctx, p) => this.directoryPart(ctx, p) }],
      [XS.GET_FEATURE, { fn: (ctx, p) => this.getFeature(ctx, p) }],
      [XS.SET_FEATURE, { fn: (ctx, p) => this.setFeature(p), priv: true }],
      [XS.GET_QUOTA, { fn: (ctx, p) => this.getQuota(p), priv: true }],
      [XS.SET_QUOTA, { fn: (ctx, p) => this.setQuota(p), priv: true }],
    ];
    return new Map(ops);
  }

  private domidArg(s: string | null): number {
    if (s === null) fail(E.INVAL, "missing domid");
    return parseDomid(s) ?? fail(E.INVAL, `bad domid ${JSON.stringify(s)}`);
  }

  /** C's onearg_domain(): a domid other than dom0's, of an introduced domain. */
  private introducedArg(p: Uint8Array): number {
    const domid = this.domidArg(onearg(p));
    if (domid === 0) fail(E.INVAL, "dom0");
    if (!this.isIntroduced(domid)) fail(E.NOENT, `domain ${domid} not introduced`);
    return domid;
  }

  private doSetPerms(ctx: Ctx, p: Uint8Array): Reply {
    const n = countNuls(p);
    if (n < 2) fail(E.INVAL, "need a path and at least one permission");
    const max = this.quotaOf(ctx).nodePermissions;
    if (!ctx.priv && max && n - 1 > max) fail(E.NOSPC, "node-permissions quota");
    const v = getStrings(p);
    const perms = v.slice(1).map((s) => parsePerm(s) ?? fail(E.INVAL, `bad permission ${JSON.stringify(s)}`));
    this.setPermsOn(ctx, v[0], perms);
    return { payload: OK };
  }

  private watch(ctx: Ctx, p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length !== 2) fail(E.INVAL, "WATCH takes a path and a token");
    const c = ctx.c!;
    const relative = v[0][0] !== "/" && v[0][0] !== "@";
    const path = this.canon(ctx, v[0], true);
    if (c.watches.some((w) => w.path === path && w.token === v[1])) fail(E.EXIST);
    const d = this.dom(ctx.domid);
    if (!ctx.priv && d.quota.watches && d.watches > d.quota.watches) fail(E.TOOBIG, "watches quota");
    const w: Watch = { path, token: v[1], prefix: relative ? domainPath(ctx.domid).length + 1 : 0 };
    c.watches.push(w);
    d.watches++;
    // Fires once straight away, after the reply (C: "simplifies clients and restart").
    return { payload: OK, after: () => this.event(c, path.slice(w.prefix), w.token) };
  }

  private unwatch(ctx: Ctx, p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length !== 2) fail(E.INVAL, "UNWATCH takes a path and a token");
    const c = ctx.c!;
    const path = this.canon(ctx, v[0], true);
    const i = c.watches.findIndex((w) => w.path === path && w.token === v[1]);
    if (i < 0) fail(E.NOENT);
    c.watches.splice(i, 1);
    this.dom(ctx.domid).watches--;
    return { payload: OK };
  }

  private txStart(ctx: Ctx): Reply {
    if (ctx.tx) fail(E.BUSY, "nested transaction");
    const c = ctx.c!;
    const d = this.dom(ctx.domid);
    if (!ctx.priv && d.quota.transactions && d.transactions > d.quota.transactions) fail(E.NOSPC, "transactions quota");
    let id: number;
    do {
      id = c.nextTx;
      c.nextTx = (c.nextTx + 1) >>> 0;
    } while (id === 0 || c.txs.has(id));
    const start = ++this.gen;
    const tx: Tx = { id, start, accessed: new Map(), fail: false, conflict: false, nodeCreated: false, nodeDelta: new Map(), snapshot: new Map(), overflow: false };
    c.txs.set(id, tx);
    d.transactions++;
    this.open.add(tx);
    return { payload: strings(String(id)) };
  }

  private txEnd(ctx: Ctx, p: Uint8Array): Reply {
    const arg = onearg(p);
    if (arg !== "T" && arg !== "F") fail(E.INVAL, "TRANSACTION_END takes T or F");
    const tx = ctx.tx ?? fail(E.NOENT, "not in a transaction");
    this.dropTx(ctx.c!, tx);
    ctx.tx = null;
    if (arg === "T") this.commit(ctx, tx);
    return { payload: OK };
  }

  private doIntroduce(p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length < 3) fail(E.INVAL, "INTRODUCE takes domid, mfn and port");
    const domid = this.domidArg(v[0]);
    const port = cAtoi(v[2]) >>> 0;
    if (port === 0) fail(E.INVAL, "port 0");
    if (!this.domainExists(domid)) fail(E.INVAL, `no domain ${domid}`);
    const mfn = BigInt.asUintN(64, cStrtol(v[1], false).value);
    if (this.hooks.introduce && !this.hooks.introduce(domid, mfn, port)) fail(E.INVAL, "transport refused");
    this.introduce(domid);
    return { payload: OK };
  }

  private setTarget(p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length < 2) fail(E.INVAL, "SET_TARGET takes two domids");
    const domid = this.domidArg(v[0]);
    const target = this.domidArg(v[1]);
    if (!this.isIntroduced(domid) || !this.isIntroduced(target)) fail(E.NOENT, "domain not introduced");
    this.dom(domid).target = target;
    return { payload: OK };
  }

  /** DIRECTORY_PART: the generation, then children bytes from `offset`, a final empty string once the list is complete (as C's send_directory_part()). */
  private directoryPart(ctx: Ctx, p: Uint8Array): Reply {
    if (countNuls(p) !== 2) fail(E.INVAL, "DIRECTORY_PART takes a path and an offset");
    const v = getStrings(p);
    const node = this.getNode(ctx, this.canon(ctx, v[0], false), PERM.READ);
    const off = cAtoi(v[1]) >>> 0;
    const gen = bytes(`${node.gen}\0`);
    const children = childBytes(node);
    if (off >= children.length) return { payload: bytes(`${node.gen}\0\0`) };
    const maxlen = PAYLOAD_MAX - gen.length - 1;
    let len = 0;
    for (;;) {
      let end = off + len;
      while (end < children.length && children[end] !== 0) end++;
      const clen = end - (off + len);
      if (len + clen >= maxlen) break;
      len += clen + 1;
      if (off + len >= children.length) break;
    }
    const complete = off + len >= children.length;
    const out = new Uint8Array(gen.length + len + (complete ? 1 : 0));
    out.set(gen);
    out.set(children.subarray(off, off + len), gen.length);
    return { payload: out };
  }

  private getFeature(ctx: Ctx, p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length === 0) return { payload: strings(String(this.features(ctx.domid))) };
    if (!ctx.priv) fail(E.ACCES, "GET_FEATURE of another domain");
    if (v.length > 1) fail(E.INVAL);
    const d = this.existingDom(this.domidArg(v[0])) ?? fail(E.NOENT, "no such domain");
    return { payload: strings(String(d.features)) };
  }

  private setFeature(p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length !== 2) fail(E.INVAL, "SET_FEATURE takes a domid and a value");
    const domid = this.domidArg(v[0]);
    const features = cAtoi(v[1]) >>> 0;
    const d = this.existingDom(domid) ?? fail(E.NOENT, "no such domain");
    if (d.introduced) fail(E.BUSY, "domain already introduced");
    if (features & ~SUPPORTED_FEATURES) fail(E.INVAL, "unsupported feature");
    d.features = features;
    return { payload: OK };
  }

  private quotaKey(name: string): keyof XsQuotas {
    return QUOTA_NAMES.find(([n]) => n === name)?.[1] ?? fail(E.INVAL, `unknown quota ${JSON.stringify(name)}`);
  }

  private getQuota(p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length > 2) fail(E.INVAL);
    if (v.length === 0) return { payload: strings(QUOTA_NAMES.map(([n]) => n).join(" ")) };
    let q = this.globalQuota;
    if (v.length === 2) q = (this.existingDom(this.domidArg(v[0])) ?? fail(E.NOENT, "no such domain")).quota;
    return { payload: strings(String(q[this.quotaKey(v[v.length - 1])])) };
  }

  private setQuota(p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length < 2 || v.length > 3) fail(E.INVAL);
    let q = this.globalQuota;
    if (v.length === 3) q = (this.existingDom(this.domidArg(v[0])) ?? fail(E.NOENT, "no such domain")).quota;
    const key = this.quotaKey(v[v.length - 2]);
    const raw = v[v.length - 1];
    if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff) fail(E.INVAL, `bad quota value ${JSON.stringify(raw)}`);
    q[key] = Number(raw);
    return { payload: OK };
  }

  /** CONTROL: the commands of C's control.c that make sense without files or live update. */
  private control(p: Uint8Array): Reply {
    const v = getStrings(p);
    if (v.length === 0) fail(E.INVAL, "no command");
    const [cmd, ...args] = v;
    const text = (s: string): Reply => ({ payload: strings(s) });
    switch (cmd) {
      case "check":
        if (args.length) fail(E.INVAL);
        for (const problem of this.check()) this.hooks.log?.(`check_store: ${problem}`);
        return { payload: OK };
      case "log":
        if (args.length === 0) return text("Log switch settings:\n" + TRACE_SWITCHES.map((s) => `${s.padEnd(8)}: ${this.traceOn.has(s) ? "on" : "off"}\n`).join(""));
        if (args.length !== 1) fail(E.INVAL);
        if (args[0] !== "on" && args[0] !== "off") {
          const sw = args[0].slice(1);
          if ((args[0][0] !== "+" && args[0][0] !== "-") || !TRACE_SWITCHES.includes(sw)) fail(E.INVAL, "unknown log switch");
          if (args[0][0] === "+") this.traceOn.add(sw);
          else this.traceOn.delete(sw);
        }
        return { payload: OK };
      case "print":
        if (args.length !== 1) fail(E.INVAL);
        this.hooks.log?.(`control: ${args[0]}`);
        return { payload: OK };
      case "quota": {
        if (args.length === 0) {
          return text("Quota settings:\n" + QUOTA_NAMES.map(([n, key, descr]) => `${n.padEnd(17)}: ${String(this.globalQuota[key]).padStart(8)} ${descr}\n`).join(""));
        }
        if (args[0] === "set") {
          if (args.length !== 3) fail(E.INVAL);
          const val = cAtoi(args[2]);
          if (val < 1) fail(E.INVAL);
          this.globalQuota[this.quotaKey(args[1])] = val;
          return { payload: OK };
        }
        if (args.length !== 1) fail(E.INVAL);
        const domid = cAtoi(args[0]) >>> 0;
        const d = this.doms.get(domid) ?? fail(E.NOENT, "no such domain");
        const used: Partial<Record<keyof XsQuotas, number>> = { nodes: d.nodes, watches: d.watches, transactions: d.transactions, outstanding: d.outstanding };
        return text(`Domain ${domid}:\n` + QUOTA_NAMES.filter(([, key]) => key in used)
          .map(([n, key]) => `${n.padEnd(17)}: ${String(used[key]).padStart(8)} (quota ${String(d.quota[key]).padStart(8)})\n`).join(""));
      }
      case "help":
        if (args.length) fail(E.INVAL);
        return text([["check", ""], ["log", "[on|off|+<switch>|-<switch>]"], ["print", "<string>"], ["quota", "[set <name> <val>|<domid>]"], ["help", ""]]
          .map(([c, pars]) => `${c.padEnd(15)} ${pars}\n`).join(""));
      default:
        fail(E.INVAL, `unknown control command ${JSON.stringify(cmd)}`);
    }
  }
}
