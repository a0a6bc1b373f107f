// The live dashboard (`xenwasm run --dashboard`, docs/dashboard.md) as a user meets it: a real
// `xenwasm run` in a child process, its page in Debian's Chromium driven headless by
// playwright-core (two netping guests pinging each other through dom0's switch, and idle), and
// the HTTP endpoint's refusals from plain Node. Under CI a missing Chromium fails the test.
// XENWASM_SCREENSHOT=1 also writes docs/dashboard.png.
import { spawn } from "node:child_process";
import { request, type IncomingHttpHeaders } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Dashboard, MAX_XENSTORE_NODES, type DashboardSnapshot } from "../../bindings/host/dashboard.js";
import type { ConsoleLine, DomainStatus, SystemResult, XenSystem } from "../../bindings/host/system.js";
import type { RingSample } from "../../bindings/toolstack/rings.js";
import { ROOT } from "../helpers/env.js";
import { SKIP_BROWSER, launchChromium } from "../helpers/browser.js";
import { startXenwasm, until, type XenwasmProcess } from "../helpers/run.js";

const NETPING = join(ROOT, "build/examples/netping.wasm");
const IDLE = join(ROOT, "build/examples/idle.wasm");

let running: XenwasmProcess | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  if (running && running.child.exitCode === null && running.child.signalCode === null) running.child.kill("SIGKILL");
  running = undefined;
});

/** The last `n` characters of the run's output, for failure messages. */
const tail = (p: XenwasmProcess, n = 3000) => () => p.out().slice(-n);

/** Starts `xenwasm run --dashboard ...args` and returns it with the dashboard's URL (from its stderr). */
async function startDashboard(args: string[]): Promise<{ p: XenwasmProcess; url: string; port: number }> {
  const p = (running = startXenwasm(["run", "--dashboard", ...args]));
  const url = await until("the dashboard's URL", () => /xenwasm: dashboard: (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(p.out())?.[1], 30_000, tail(p));
  return { p, url, port: Number(new URL(url).port) };
}

/** Polls the async `fn` every 100 ms until it returns something other than undefined; fails naming `what` after `ms`. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000, context?: () => string): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) expect.fail(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}${context ? `\n${context()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The text of the first element matching `selector` on `page`, or undefined when there is none. */
async function text(page: Page, selector: string): Promise<string | undefined> {
  const el = await page.$(selector);
  return el ? ((await el.textContent()) ?? "") : undefined;
}

/** One HTTP request to the dashboard on 127.0.0.1:`port` with the given Host header (default the right one). */
function http(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The first snapshot GET /events sends (the stream is then dropped). */
function firstSnapshot(port: number): Promise<{ status: string; domains: Array<{ domid: number; name: string; state: string }> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/events", headers: { host: `localhost:${port}` } }, (res) => {
      if (!/^text\/event-stream/.test(res.headers["content-type"] ?? "")) reject(new Error(`GET /events: ${res.statusCode} ${res.headers["content-type"]}`));
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        data += c;
        const m = /^data: (.*)\n\n/m.exec(data);
        if (m) { req.destroy(); resolve(JSON.parse(m[1])); }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** POSTs `body` as JSON to /xenstore (as the page does). */
const post = (port: number, body: string, headers: Record<string, string> = {}) => http(port, "POST", "/xenstore", { "content-type": "application/json", ...headers }, body);

describe("the dashboard in Chromium", () => {
  it.skipIf(SKIP_BROWSER)("shows domains, moving rings, consoles and xenstore, and writes control/shutdown", async () => {
    browser = await launchChromium();
    // Two netpings that keep pinging (a request every 20 ms, up to 100000) and idle, which waits for control/shutdown.
    const { p, url } = await startDashboard([
      "--runner", "threads", "--vif", "on",
      "--cmdline", "ip=10.0.0.1 peer=10.0.0.2 n=100000 interval=20", NETPING,
      "--cmdline", "ip=10.0.0.2 peer=10.0.0.1 n=100000 interval=20", NETPING,
      "--vif", "none", IDLE,
    ]);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url);
    const ctx = () => `page errors: ${errors.join("; ")}\n${tail(p)()}`;

    await eventually("the status 'running'", async () => ((await text(page, "#status")) === "running" ? true : undefined), 30_000, ctx);
    // Every domain appears, running: dom0 (the backend), both netpings, idle.
    const names = ["dom0", "netping.1", "netping.2", "idle"];
    for (const [domid, name] of names.entries()) {
      await eventually(`domain ${domid} (${name}) running`, async () => {
        const row = `#domains tr[data-domid="${domid}"]`;
        return (await text(page, `${row} td.name`)) === name && (await text(page, `${row} td.state`)) === "running" ? true : undefined;
      }, 30_000, ctx);
    }
    for (const cls of ["mem", "cpu", "hypercalls", "events", "events-rate", "grant-maps"]) {
      expect(await text(page, `#domains tr[data-domid="1"] td.${cls}`), cls).toMatch(/\d/);
    }

    // A vif ring of netping.1 moves: some req-prod cell grows between two moments.
    const vifProds = () => page.$$eval('#rings tr[data-ring^="1 vif/0"]', (rows) =>
      Object.fromEntries(rows.map((r) => [(r as HTMLElement).dataset.ring!, Number(r.querySelector(".req-prod")!.textContent)])));
    const before = await eventually("netping.1's vif rings", async () => {
      const v = await vifProds();
      return Object.keys(v).length >= 2 ? v : undefined;
    }, 30_000, ctx);
    const moved = await eventually("a vif ring's req-prod to increase", async () => {
      const now = await vifProds();
      return Object.keys(now).find((k) => now[k] > before[k]);
    }, 15_000, ctx);
    expect(moved).toMatch(/^1 vif\/0( queue-\d+)? (tx|rx)$/);
    const row = `#rings tr[data-ring="${moved}"]`;
    for (const cls of ["rsp-prod", "req-event", "rsp-event", "in-flight", "req-rate"]) expect(await text(page, `${row} td.${cls}`), cls).toMatch(/^[\d.,]+$/);
    expect(await page.$eval(`${row} svg polyline`, (e) => e.getAttribute("points"))).toMatch(/\d,\d/);

    // The consoles: each netping prints its replies.
    await eventually("netping.1's ping lines", async () => ((await text(page, "#console-1"))?.includes("bytes from 10.0.0.2: icmp_seq=") ? true : undefined), 15_000, ctx);
    await eventually("netping.2's ping lines", async () => ((await text(page, "#console-2"))?.includes("bytes from 10.0.0.1: icmp_seq=") ? true : undefined), 15_000, ctx);
    expect(await page.$$eval("#console-1 > div", (d) => d.length)).toBeLessThanOrEqual(200);

    // The xenstore tree, with netping.1's vif Connected (XenbusStateConnected = 4).
    await eventually("/local/domain/1/device/vif/0/state = 4 in the tree", async () =>
      ((await text(page, '#xenstore [data-path="/local/domain/1/device/vif/0/state"] .xs-value')) === "4" ? true : undefined), 15_000, ctx);

    if (process.env.XENWASM_SCREENSHOT === "1") {
      await page.fill("#xs-filter", "/local/domain/1");
      await page.waitForTimeout(4000); // a few more snapshots: rates and sparklines filled in
      await page.screenshot({ path: join(ROOT, "docs/dashboard.png"), fullPage: true });
      await page.fill("#xs-filter", "");
    }

    // A write through the page's form powers idle off.
    await page.fill('#xs-write input[name="path"]', "/local/domain/3/control/shutdown");
    await page.fill('#xs-write input[name="value"]', "poweroff");
    await page.click('#xs-write button[type="submit"]');
    await eventually("the form's write to be acknowledged", async () => ((await text(page, "#xs-result"))?.startsWith("wrote ") ? true : undefined), 10_000, ctx);
    await eventually("idle shut down", async () => ((await text(page, '#domains tr[data-domid="3"] td.state')) === "shutdown" ? true : undefined), 20_000, ctx);
    // The state is read from shared memory, the console line comes by message from idle's thread: maybe a snapshot later.
    await eventually("idle's console to say it powers off", async () => ((await text(page, "#console-3"))?.includes("idle: control/shutdown says poweroff; powering off") ? true : undefined), 5_000, ctx);
    expect(await text(page, '#domains tr[data-domid="3"] td.reason')).toBe("poweroff");

    // The rows' shutdown buttons power the netpings off; the run ends, the CLI exits, the page says so.
    await page.click('#domains tr[data-domid="1"] button.shutdown');
    await page.click('#domains tr[data-domid="2"] button.shutdown');
    const code = await Promise.race([p.exit, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000))]);
    expect(code, tail(p)()).toBe(0);
    await eventually("the status 'run ended (exit 0)'", async () => ((await text(page, "#status")) === "run ended (exit 0)" ? true : undefined), 5_000, ctx);
    for (const domid of [1, 2, 3]) expect(await text(page, `#domains tr[data-domid="${domid}"] td.reason`)).toBe("poweroff");

    // Everything the page loaded came from the dashboard itself, and its script ran without an error.
    expect(requests.filter((r) => !r.startsWith(url))).toEqual([]);
    expect(errors).toEqual([]);
  }, 180_000);
});

describe("the dashboard's HTTP endpoint", () => {
  it("refuses foreign hosts and origins and malformed writes, and takes a good one", async () => {
    const { p, port } = await startDashboard(["--runner", "threads", IDLE]);
    // DNS rebinding: a name that resolves to 127.0.0.1 still arrives with its own Host.
    for (const host of [`evil.example:${port}`, "127.0.0.1", `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]) {
      const r = await http(port, "GET", "/", { host });
      expect(r.status, host).toBe(403);
      expect(JSON.parse(r.body).error).toMatch(/127\.0\.0\.1 and localhost only/);
      expect((await http(port, "POST", "/xenstore", { host, "content-type": "application/json" }, '{"path":"/x","value":"1"}')).status).toBe(403);
    }
    const page = await http(port, "GET", "/", { host: `localhost:${port}` });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'/);
    expect(page.body).toMatch(/id="domains"[\s\S]*id="rings"[\s\S]*id="xs-write"[\s\S]*id="xenstore"/);
    expect((await http(port, "GET", "/nothing")).status).toBe(404);
    expect((await http(port, "DELETE", "/xenstore")).status).toBe(405);

    await eventually("the first snapshot to say running", async () => {
      const s = await firstSnapshot(port);
      return s.status === "running" && s.domains.some((d) => d.name === "idle" && d.state === "running") ? true : undefined;
    }, 30_000, tail(p));

    // Malformed bodies: 400 with a one-line JSON {error}.
    for (const body of ['{"path":', "[]", "null", '{"path":"/local/domain/1/x"}', '{"path":1,"value":"1"}', '{"path":"local/domain/1/control/shutdown","value":"poweroff"}', '{"path":"/local//domain","value":"1"}']) {
      const r = await post(port, body);
      expect(r.status, body).toBe(400);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.body.trimEnd().split("\n"), body).toHaveLength(1);
      expect(typeof JSON.parse(r.body).error).toBe("string");
    }
    expect(JSON.parse((await post(port, '{"path":"relative","value":"1"}')).body).error).toMatch(/must be absolute/);
    // Another site's form or script: no JSON type, or a foreign Origin.
    expect((await http(port, "POST", "/xenstore", { "content-type": "text/plain" }, '{"path":"/x","value":"1"}')).status).toBe(415);
    expect((await post(port, '{"path":"/x","value":"1"}', { origin: "http://evil.example" })).status).toBe(403);
    expect((await post(port, "x".repeat(20_000))).status).toBe(413);

    // A good write: idle powers off and the CLI exits.
    const ok = await post(port, '{"path":"/local/domain/1/control/shutdown","value":"poweroff"}', { origin: `http://127.0.0.1:${port}` });
    expect(ok.status).toBe(204);
    expect(await p.exit, tail(p)()).toBe(0);
    expect(p.out()).toContain("idle: control/shutdown says poweroff; powering off");
    // Closed with the run: nothing listens any more.
    await expect(http(port, "GET", "/")).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);

  it("gives one line and exit status 2 for --dashboard=PORT on a port in use", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [join(ROOT, "bin/xenwasm.js"), "run", `--dashboard=${port}`, IDLE], { cwd: ROOT });
      let out = "", err = "";
      child.stdout.on("data", (b) => (out += b));
      child.stderr.on("data", (b) => (err += b));
      const code = await new Promise<number | null>((r) => child.on("exit", r));
      expect(code, err).toBe(2);
      expect(out).toBe("");
      expect(err).toBe(`xenwasm: run: --dashboard: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

/** Follows GET /events of the dashboard on `port`: every snapshot so far, and whether the server ended the stream. */
function follow(port: number): { snapshots: DashboardSnapshot[]; ended: () => boolean; stop: () => void } {
  const snapshots: DashboardSnapshot[] = [];
  let ended = false, buf = "";
  const req = request({ host: "127.0.0.1", port, path: "/events", headers: { host: `127.0.0.1:${port}` } }, (res) => {
    res.setEncoding("utf8");
    res.on("data", (c: string) => {
      buf += c;
      for (let i; (i = buf.indexOf("\n\n")) >= 0; buf = buf.slice(i + 2)) {
        const m = /^data: (.*)$/m.exec(buf.slice(0, i));
        if (m) snapshots.push(JSON.parse(m[1]));
      }
    });
    res.on("end", () => (ended = true));
  });
  req.on("error", () => (ended = true));
  req.end();
  return { snapshots, ended: () => ended, stop: () => req.destroy() };
}

/**
 * A stand-in for XenSystem with what the dashboard reads: counters that grow at each call, a
 * console array the test fills (and trims from the front, as XenSystem does), a small xenstore
 * with watches, and ready/done promises the test settles.
 */
function fakeSystem() {
  let calls = 0;
  let start!: () => void, finish!: (r: SystemResult) => void;
  const ready = new Promise<void>((r) => (start = r));
  const done = new Promise<SystemResult>((r) => (finish = r));
  const nodes = new Map<string, string>([["/", ""]]);
  const children = new Map<string, string[]>([["/", []]]);
  const parent = (p: string) => (p.lastIndexOf("/") > 0 ? p.slice(0, p.lastIndexOf("/")) : "/");
  /** Sets `p` (and missing parents, empty). */
  const set = (p: string, v: string) => {
    if (!nodes.has(p)) {
      set(parent(p), nodes.get(parent(p)) ?? "");
      children.get(parent(p))!.push(p.slice(p.lastIndexOf("/") + 1));
      children.set(p, []);
    }
    nodes.set(p, v);
  };
  set("/local/domain/1/name", "guest");
  const watches: Array<[string, (p: string) => void]> = [];
  const xenstore = {
    read: (p: string) => nodes.get(p),
    directory: (p: string) => children.get(p),
    write: (p: string, v: string) => {
      if (p.includes("//")) throw new Error("EINVAL: double slash");
      set(p, v);
      for (const [w, fn] of watches) if (p.startsWith(w)) fn(p);
    },
    watch: (p: string, fn: (p: string) => void) => { watches.push([p, fn]); fn(p); return () => void watches.splice(watches.findIndex((w) => w[1] === fn), 1); },
  };
  const lines: ConsoleLine[] = [];
  const row = (domid: number, name: string, n: number): DomainStatus => ({
    domid, name, reason: "running", violations: 0, hypercalls: 10 * n, events: 5 * n, grantOps: 0, copyBytes: 0, faults: 0,
    evtchnAbi: "fifo", gnttabVersion: 1, state: "running", memBytes: 32 << 20, cpuUs: 1000 * n, grantMaps: n,
  });
  const ring = (n: number): RingSample => ({ domid: 1, name: "vif/0 tx", kind: "netif-tx", size: 256, reqProd: 4 * n, rspProd: 4 * n - 2, reqEvent: 4 * n + 1, rspEvent: 4 * n - 1, inFlight: 2 });
  const system = {
    ready: () => ready, done,
    domains: () => (calls++, [row(0, "dom0", calls), row(1, "guest", calls)]),
    rings: () => [ring(calls)],
    get console() { return lines; },
    get xenstore() { return xenstore; },
  } as unknown as XenSystem;
  return { system, start, finish, lines, nodes, set };
}

describe("the dashboard module", () => {
  it("says starting, then streams snapshots with rates, new console lines and the tree when it changed, then the end", async () => {
    const fake = fakeSystem();
    const dash = await Dashboard.listen(0);
    try {
      expect(dash.url).toBe(`http://127.0.0.1:${dash.port}/`);
      dash.attach(fake.system);
      const early = follow(dash.port);
      await until("the first snapshot", () => early.snapshots[0]);
      expect(early.snapshots[0]).toMatchObject({ status: "starting", domains: [], rings: [], console: [] });
      const tooEarly = await post(dash.port, '{"path":"/local/domain/1/x","value":"1"}');
      expect([tooEarly.status, JSON.parse(tooEarly.body).error]).toEqual([409, "the system is not running yet"]);

      fake.lines.push(...Array.from({ length: 300 }, (_, i) => ({ domain: "guest", text: `old ${i}` })));
      fake.start();
      await until("three running snapshots", () => (early.snapshots.filter((s) => s.status === "running").length >= 3 ? true : undefined), 5_000);
      const [first, second] = early.snapshots.filter((s) => s.status === "running");
      // Rates from the deltas between snapshots (the counters grow by one step per snapshot).
      expect(first.domains.map((d) => d.name)).toEqual(["dom0", "guest"]);
      expect(second.domains[1].eventsPerSec).toBeGreaterThan(0);
      expect(second.domains[1].hypercallsPerSec).toBeCloseTo(2 * second.domains[1].eventsPerSec, 5);
      expect(second.rings[0]).toMatchObject({ domid: 1, name: "vif/0 tx", inFlight: 2, history: [2, 2] });
      expect(second.rings[0].reqPerSec).toBeGreaterThan(0);
      // The backlog: the last 200 lines of each domain, once; then nothing new.
      expect(first.console.map((l) => l.text)).toEqual(Array.from({ length: 200 }, (_, i) => `old ${i + 100}`));
      expect(first.console[0]).toEqual({ domid: 1, domain: "guest", text: "old 100" });
      expect(second.console).toEqual([]);
      // The tree: in the first running snapshot, then only once the watch fired.
      expect(first.xenstore).toEqual({ truncated: false, nodes: [["/", ""], ["/local", ""], ["/local/domain", ""], ["/local/domain/1", ""], ["/local/domain/1/name", "guest"]] });
      expect(second.xenstore).toBeUndefined();

      // XenSystem drops old lines from the front of its array: only the new ones are sent.
      const seen = early.snapshots.length;
      fake.lines.splice(0, 290);
      fake.lines.push({ domain: "guest", text: "new 1" }, { domain: "", text: "harness" });
      const withLines = await until("the new console lines", () => early.snapshots.slice(seen).find((s) => s.console.length), 5_000);
      expect(withLines.console).toEqual([{ domid: 1, domain: "guest", text: "new 1" }, { domid: null, domain: "", text: "harness" }]);

      // A write through the endpoint reaches the store and the tree comes again.
      const ok = await post(dash.port, '{"path":"/local/domain/1/control/shutdown","value":"poweroff"}');
      expect(ok.status).toBe(204);
      expect(fake.nodes.get("/local/domain/1/control/shutdown")).toBe("poweroff");
      const bad = await post(dash.port, '{"path":"/local//x","value":"1"}');
      expect([bad.status, JSON.parse(bad.body).error]).toEqual([400, "cannot write /local//x: EINVAL: double slash"]);
      const tree = await until("the tree with the write", () => early.snapshots.slice(seen).find((s) => s.xenstore)?.xenstore, 5_000);
      expect(tree.nodes).toContainEqual(["/local/domain/1/control/shutdown", "poweroff"]);

      // A page that connects now gets the backlog and the tree at once.
      const late = follow(dash.port);
      const joined = await until("a late stream's first snapshot", () => late.snapshots[0]);
      expect(joined.status).toBe("running");
      expect(joined.console.map((l) => l.text).slice(-3)).toEqual(["old 299", "new 1", "harness"]);
      expect(joined.xenstore?.nodes).toContainEqual(["/local/domain/1/control/shutdown", "poweroff"]);

      // The end: one last snapshot with how each domain ended, the streams end, writes are refused.
      fake.finish({ exitCode: 3, domains: [{ ...fake.system.domains()[1], reason: "reboot" }], trace: [], console: [] });
      const last = await until("the end", () => early.snapshots.find((s) => s.status === "ended"), 5_000);
      expect(last.end).toEqual({ exitCode: 3, domains: [{ domid: 1, name: "guest", reason: "reboot" }] });
      expect(last.domains.find((d) => d.domid === 1)?.reason).toBe("reboot");
      await until("the streams to end", () => (early.ended() && late.ended() ? true : undefined), 2_000);
      const after = await post(dash.port, '{"path":"/local/domain/1/x","value":"1"}');
      expect([after.status, JSON.parse(after.body).error]).toEqual([409, "the run has ended"]);
      const ended = follow(dash.port);
      await until("a stream opened after the end to get the end and finish", () => (ended.ended() ? true : undefined), 5_000);
      expect(ended.snapshots.map((s) => s.status)).toEqual(["ended"]);
    } finally {
      await dash.close();
    }
  });

  it("caps the tree at MAX_XENSTORE_NODES", async () => {
    const fake = fakeSystem();
    for (let i = 0; i < MAX_XENSTORE_NODES; i++) fake.set(`/local/domain/1/n${i}`, "x".repeat(i === 0 ? 600 : 1));
    const dash = await Dashboard.listen(0);
    try {
      dash.attach(fake.system);
      fake.start();
      const s = follow(dash.port);
      const tree = await until("the tree", () => s.snapshots.find((x) => x.xenstore)?.xenstore, 5_000);
      expect(tree.truncated).toBe(true);
      expect(tree.nodes).toHaveLength(MAX_XENSTORE_NODES);
      expect(tree.nodes.find(([p]) => p === "/local/domain/1/n0")?.[1]).toBe(`${"x".repeat(512)}…`);
      s.stop();
    } finally {
      await dash.close();
    }
  });

  it("close() ends open streams and the server while the run goes on", async () => {
    const fake = fakeSystem();
    const dash = await Dashboard.listen(0);
    dash.attach(fake.system);
    fake.start();
    const s = follow(dash.port);
    await until("a running snapshot", () => s.snapshots.find((x) => x.status === "running"), 5_000);
    expect((await http(dash.port, "GET", "/")).status).toBe(200); // a keep-alive connection left idle
    const t0 = Date.now();
    await dash.close();
    expect(Date.now() - t0).toBeLessThan(900);
    await until("the stream to end", () => (s.ended() ? true : undefined), 2_000);
    await expect(http(dash.port, "GET", "/")).rejects.toThrow(/ECONNREFUSED/);
    await dash.close(); // twice is fine
  });
});
