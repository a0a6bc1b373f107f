// The live dashboard of `xenwasm run --dashboard[=PORT]` (docs/dashboard.md): an HTTP server on
// 127.0.0.1 that serves one self-contained page (dashboard-page.ts), streams a snapshot of the
// running system to it every SNAPSHOT_INTERVAL_MS by server-sent events, and takes xenstore
// writes from it. It only reads what XenSystem offers (domains(), rings(), console, xenstore);
// the one thing it changes is a xenstore key a user writes.
//
// Distrust: the server answers only requests whose Host header names it (127.0.0.1:PORT or
// localhost:PORT), so a hostile web page cannot reach it by DNS rebinding; a write must come as
// `application/json` and, when the browser says where it comes from, from this origin, so
// another site cannot post a form to it. What guests print and store is shown by the page as
// text, never parsed as HTML.
//
// Ownership: a Dashboard owns its server, its snapshot timer, its xenstore watch and the open
// event streams until close(); the XenSystem stays the caller's (close() does not stop it).
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CONSOLE_LINES_PER_DOMAIN, DASHBOARD_PAGE, PAGE_SCRIPT, PAGE_STYLE, RING_HISTORY } from "./dashboard-page.js";
import { childPath } from "../xenstore/path.js";
import type { RingSample } from "../toolstack/rings.js";
import type { DomainStatus, HostXenstore, XenSystem } from "./system.js";

/** How often the page gets a snapshot, in ms. */
export const SNAPSHOT_INTERVAL_MS = 500;
/** The most xenstore nodes a snapshot carries (a walk from "/" in depth-first order, cut there). */
export const MAX_XENSTORE_NODES = 5000;
// The console lines kept per domain (for a page that connects, and the most one snapshot sends
// per domain) and the inFlight values kept per ring are the page's: the two sides agree.
export { CONSOLE_LINES_PER_DOMAIN, RING_HISTORY };
/** The longest xenstore value a snapshot carries whole (longer ones are cut and end with "…"). */
export const MAX_XENSTORE_VALUE = 512;

/** The largest body POST /xenstore accepts (a xenstore value is at most 4096 bytes). */
const MAX_BODY = 16 * 1024;
/** A stream whose client stopped reading is dropped once this much is queued for it. */
const MAX_QUEUED = 8 << 20;

/** A domain in a snapshot: XenSystem.domains()'s row, with rates over the last interval. */
export interface DashboardDomain extends DomainStatus {
  /** Event-channel events delivered to it per second (the notifications its rings got, among others). */
  eventsPerSec: number;
  hypercallsPerSec: number;
  /** Its vCPU's share of the interval spent in the guest, in percent. */
  cpuPercent: number;
}

/** A ring in a snapshot: XenSystem.rings()'s sample, its index rates and its recent inFlight values. */
export interface DashboardRing extends RingSample {
  /** reqProd and rspProd advances per second over the last interval. */
  reqPerSec: number;
  rspPerSec: number;
  /** inFlight at each of the last RING_HISTORY snapshots, oldest first. */
  history: number[];
}

/** A console line in a snapshot: the domain's id (null for a line of no known domain), name and text. */
export interface DashboardLine { domid: number | null; domain: string; text: string }

/** What one server-sent event of GET /events carries (docs/dashboard.md lists the fields). */
export interface DashboardSnapshot {
  status: "starting" | "running" | "ended";
  /** This dashboard's id: a page that sees another one (the next run of `xenwasm demo` on the same port) starts afresh. */
  run: string;
  /** When it was taken, in ms since the epoch. */
  time: number;
  domains: DashboardDomain[];
  rings: DashboardRing[];
  /** Lines printed since the previous snapshot (a stream's first snapshot: the last lines of each domain). */
  console: DashboardLine[];
  /** The tree as [path, value] pairs, present when it changed since the previous snapshot (and in a stream's first). */
  xenstore?: { nodes: Array<[string, string]>; truncated: boolean };
  /** Once the run has ended: its exit status (null when it failed: `error`) and how each domain ended. */
  end?: { exitCode: number | null; error?: string; domains: Array<{ domid: number; name: string; reason: string }> };
}

/** The nodes of `xs` from "/" down, depth first in creation order, at most `limit` of them. */
function walkXenstore(xs: HostXenstore, limit: number): { nodes: Array<[string, string]>; truncated: boolean } {
  const nodes: Array<[string, string]> = [];
  const todo = ["/"];
  while (todo.length) {
    const path = todo.pop()!;
    const value = xs.read(path);
    if (value === undefined) continue;
    if (nodes.length === limit) return { nodes, truncated: true };
    nodes.push([path, value.length > MAX_XENSTORE_VALUE ? `${value.slice(0, MAX_XENSTORE_VALUE)}…` : value]);
    const kids = xs.directory(path) ?? [];
    for (let i = kids.length - 1; i >= 0; i--) todo.push(childPath(path, kids[i]));
  }
  return { nodes, truncated: false };
}

/** The CSP source of an inline script or style: its SHA-256. */
function cspHash(text: string): string {
  return `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
}

/** The page may run its own inline script and style, talk to this server, and nothing else (no frames, no outside resources). */
const CSP = `default-src 'none'; script-src ${cspHash(PAGE_SCRIPT)}; style-src ${cspHash(PAGE_STYLE)}; connect-src 'self'; img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'`;

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** A dashboard server on 127.0.0.1 showing one running XenSystem. */
export class Dashboard {
  /** Where the page is: http://127.0.0.1:PORT/. */
  readonly url: string;
  /** This dashboard's id in every snapshot. */
  private readonly id = randomBytes(6).toString("hex");
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  private readonly streams = new Set<ServerResponse>();
  private system: XenSystem | undefined;
  private status: DashboardSnapshot["status"] = "starting";
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  /** The last snapshot sent (without its console lines and tree), for a page that connects. */
  private last: DashboardSnapshot | undefined;
  private end: DashboardSnapshot["end"];
  // Rates: the counters at the previous snapshot, and when it was taken (performance.now()).
  private prevAt = 0;
  private readonly prevDomains = new Map<number, DomainStatus>();
  private readonly prevRings = new Map<string, DashboardRing>();
  // Console: the last line taken from system.console and where it was, to take only new ones.
  private consoleSeen = 0;
  private consoleTail: object | undefined;
  private readonly recent = new Map<string, DashboardLine[]>();
  // Xenstore: set by the watch on "/", cleared when the tree is walked again.
  private xsChanged = true;
  private tree: DashboardSnapshot["xenstore"];

  private constructor(private readonly server: Server, /** The port it listens on (127.0.0.1). */ readonly port: number) {
    this.url = `http://127.0.0.1:${port}/`;
    this.hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    this.origins = new Set([...this.hosts].map((h) => `http://${h}`));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); rejects with the listen error (EADDRINUSE, ...). */
  static async listen(port: number): Promise<Dashboard> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => { server.off("error", reject); resolve(); });
    });
    return new Dashboard(server, (server.address() as AddressInfo).port);
  }

  /** Shows `system` (before its ready() the page says it is starting). */
  attach(system: XenSystem): void {
    if (this.system) throw new Error("the dashboard already shows a system");
    this.system = system;
    system.ready().then(() => {
      if (this.closing || this.end) return;
      this.unwatch = system.xenstore.watch("/", () => { this.xsChanged = true; });
      this.status = "running";
      this.prevAt = performance.now();
      this.safeTick();
      this.timer = setInterval(() => this.safeTick(), SNAPSHOT_INTERVAL_MS);
    }, () => {});
    // Registered before the CLI awaits `done`: the last snapshot is on its way before close().
    system.done.then(
      (r) => this.finish({ exitCode: r.exitCode, domains: [...(r.backend ? [r.backend] : []), ...r.domains].map(({ domid, name, reason }) => ({ domid, name, reason })) }),
      (e: unknown) => this.finish({ exitCode: null, error: e instanceof Error ? e.message : String(e), domains: [] }),
    );
  }

  /** Stops serving: ends the live streams and closes the server. */
  async close(): Promise<void> {
    this.closing ??= (async () => {
      this.stop();
      for (const s of this.streams) s.end();
      this.streams.clear();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      // A browser may hold a connection open between requests; give it a moment, then cut it.
      const cut = setTimeout(() => this.server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(cut);
    })();
    return this.closing;
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** The run ended: one last snapshot with how, then nothing more changes. */
  private finish(end: NonNullable<DashboardSnapshot["end"]>): void {
    if (this.closing) return;
    if (this.status === "running") this.safeTick();
    this.stop();
    this.status = "ended";
    this.end = end;
    const domains = (this.last?.domains ?? []).map((d) => ({ ...d, reason: end.domains.find((x) => x.domid === d.domid)?.reason ?? d.reason }));
    this.last = { status: "ended", run: this.id, time: Date.now(), domains, rings: this.last?.rings ?? [], console: [], end };
    this.broadcast(this.last);
    for (const s of this.streams) s.end();
    this.streams.clear();
  }

  /** A tick from the timer: a snapshot that cannot be taken is skipped, never an exception that ends the run. */
  private safeTick(): void {
    try { this.tick(); } catch { /* the next one may succeed; its rates then span both intervals */ }
  }

  /** Takes a snapshot and sends it to every stream. */
  private tick(): void {
    const system = this.system!;
    const now = performance.now();
    const secs = Math.max((now - this.prevAt) / 1000, 1e-3);
    const rate = (cur: number, prev: number | undefined) => (prev === undefined ? 0 : ((cur - prev) >>> 0) / secs);
    const domains: DashboardDomain[] = system.domains().map((d) => {
      const row = { ...d, hypercalls: d.hypercalls >>> 0, events: d.events >>> 0, grantOps: d.grantOps >>> 0 };
      const p = this.prevDomains.get(d.domid);
      return {
        ...row, eventsPerSec: rate(row.events, p?.events), hypercallsPerSec: rate(row.hypercalls, p?.hypercalls),
        cpuPercent: p ? Math.min(100, Math.max(0, (row.cpuUs - p.cpuUs) / (secs * 1e4))) : 0,
      };
    });
    const rings: DashboardRing[] = system.rings().map((r) => {
      const p = this.prevRings.get(`${r.domid} ${r.name}`);
      return { ...r, reqPerSec: rate(r.reqProd, p?.reqProd), rspPerSec: rate(r.rspProd, p?.rspProd), history: [...(p?.history ?? []), r.inFlight].slice(-RING_HISTORY) };
    });
    // Both read: these are the counters the next rates start from.
    this.prevAt = now;
    for (const d of domains) this.prevDomains.set(d.domid, d);
    this.prevRings.clear();
    for (const r of rings) this.prevRings.set(`${r.domid} ${r.name}`, r);
    const ids = new Map(domains.map((d) => [d.name, d.domid]));
    const lines = this.newConsoleLines(ids);
    const snapshot: DashboardSnapshot = { status: this.status, run: this.id, time: Date.now(), domains, rings, console: lines };
    // The tree is walked again, and sent, only when the watch on "/" fired since the last time.
    if (this.xsChanged) {
      this.xsChanged = false;
      this.tree = walkXenstore(system.xenstore, MAX_XENSTORE_NODES);
      snapshot.xenstore = this.tree;
    }
    this.broadcast(snapshot);
    this.last = { ...snapshot, console: [], xenstore: undefined };
  }

  /**
   * The lines added to system.console since the last call (at most CONSOLE_LINES_PER_DOMAIN per
   * domain), also kept in `recent`. The system drops old lines from the front of its array now
   * and then, so the last line taken is found again by identity, not by index.
   */
  private newConsoleLines(ids: Map<string, number>): DashboardLine[] {
    const lines = this.system!.console;
    let from = this.consoleSeen;
    if (from > lines.length || (from > 0 && lines[from - 1] !== this.consoleTail)) {
      let i = Math.min(from, lines.length) - 1;
      while (i >= 0 && lines[i] !== this.consoleTail) i--;
      from = i + 1;
    }
    this.consoleSeen = lines.length;
    this.consoleTail = lines[lines.length - 1];
    const fresh = new Map<string, DashboardLine[]>();
    for (let i = from; i < lines.length; i++) {
      const l = lines[i];
      let list = fresh.get(l.domain);
      if (!list) fresh.set(l.domain, (list = []));
      list.push({ domid: ids.get(l.domain) ?? null, domain: l.domain, text: l.text });
      if (list.length > 2 * CONSOLE_LINES_PER_DOMAIN) list.splice(0, list.length - CONSOLE_LINES_PER_DOMAIN);
    }
    const out: DashboardLine[] = [];
    for (const [domain, list] of fresh) {
      const kept = list.slice(-CONSOLE_LINES_PER_DOMAIN);
      out.push(...kept);
      this.recent.set(domain, [...(this.recent.get(domain) ?? []), ...kept].slice(-CONSOLE_LINES_PER_DOMAIN));
    }
    return out;
  }

  private broadcast(s: DashboardSnapshot): void {
    const data = `data: ${JSON.stringify(s)}\n\n`;
    for (const res of this.streams) {
      if (res.writableLength > MAX_QUEUED) { res.destroy(); this.streams.delete(res); continue; }
      res.write(data);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      if (!this.hosts.has(req.headers.host ?? "")) throw new HttpError(403, "this server answers to 127.0.0.1 and localhost only");
      if (this.closing) res.setHeader("Connection", "close");
      const path = (req.url ?? "/").split("?")[0];
      const method = req.method ?? "GET";
      if (path === "/" && method === "GET") return this.page(res);
      if (path === "/events" && method === "GET") return this.events(req, res);
      if (path === "/xenstore" && method === "POST") return this.write(req, res);
      if (path === "/" || path === "/events" || path === "/xenstore") throw new HttpError(405, `${method} is not allowed on ${path}`);
      throw new HttpError(404, `no ${path} here`);
    } catch (e) {
      this.fail(res, e);
    }
  }

  private fail(res: ServerResponse, e: unknown): void {
    const status = e instanceof HttpError ? e.status : 500;
    if (res.headersSent) { res.destroy(); return; }
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
  }

  private page(res: ServerResponse): void {
    res.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Content-Security-Policy": CSP,
      "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    });
    res.end(DASHBOARD_PAGE);
  }

  /** GET /events: the current snapshot with each domain's last lines and the whole tree, then one per interval. */
  private events(req: IncomingMessage, res: ServerResponse): void {
    if (this.closing) throw new HttpError(503, "the dashboard is closing");
    // Connection: close, so that ending the stream also ends the connection (close() leaves nothing open).
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", Connection: "close", "X-Content-Type-Options": "nosniff" });
    res.write("retry: 1000\n\n");
    const first: DashboardSnapshot = this.last
      ? { ...this.last, console: [...this.recent.values()].flat(), xenstore: this.tree }
      : { status: this.status, run: this.id, time: Date.now(), domains: [], rings: [], console: [] };
    res.write(`data: ${JSON.stringify(first)}\n\n`);
    if (this.status === "ended") { res.end(); return; }
    this.streams.add(res);
    req.on("close", () => this.streams.delete(res));
  }

  /** POST /xenstore {path, value}: writes the key as dom0's toolstack would; 204, or an error status with {error}. */
  private write(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.origins.has(origin)) throw new HttpError(403, `writes come from this page only, not from ${origin}`);
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") throw new HttpError(415, "the body must be application/json: {\"path\": \"/...\", \"value\": \"...\"}");
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (b: Buffer) => {
      size += b.length;
      if (size <= MAX_BODY) chunks.push(b);
    });
    req.on("end", () => {
      try {
        if (size > MAX_BODY) throw new HttpError(413, `the body is longer than ${MAX_BODY} bytes`);
        let body: unknown;
        try { body = JSON.parse(Buffer.concat(chunks).toString("utf8")); } catch { throw new HttpError(400, "the body is not JSON"); }
        const { path, value } = (body ?? {}) as { path?: unknown; value?: unknown };
        if (typeof body !== "object" || Array.isArray(body) || typeof path !== "string" || typeof value !== "string") {
          throw new HttpError(400, "the body must be {\"path\": \"/...\", \"value\": \"...\"} with two strings");
        }
        if (!path.startsWith("/")) throw new HttpError(400, `the path must be absolute (start with /), not '${path}'`);
        if (this.status === "ended") throw new HttpError(409, "the run has ended");
        if (this.status !== "running" || !this.system) throw new HttpError(409, "the system is not running yet");
        try { this.system.xenstore.write(path, value); } catch (e) { throw new HttpError(400, `cannot write ${path}: ${(e as Error).message}`); }
        res.writeHead(204, { "Cache-Control": "no-store" });
        res.end();
      } catch (e) {
        this.fail(res, e);
      }
    });
  }
}
