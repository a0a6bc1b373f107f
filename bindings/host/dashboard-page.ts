// The dashboard's page (served by host/dashboard.ts, described in docs/dashboard.md): one HTML
// document with its style and script inline, no framework and nothing fetched from elsewhere, so
// it works without network access. The script follows GET /events (one JSON snapshot per
// server-sent event) and posts xenstore writes to POST /xenstore. Everything a guest controls
// (console text, xenstore values, names) reaches the page as textContent, never as HTML.
//
// The script is plain ES2017 in a template string: no backquotes in it, and no `${` except for
// the constants it shares with the server.

/** The inFlight values a ring's sparkline shows (the snapshots the server keeps per ring). */
export const RING_HISTORY = 60;
/** The console lines a pane keeps per domain (and the server keeps for a page that connects). */
export const CONSOLE_LINES_PER_DOMAIN = 200;

/** The page's stylesheet (its SHA-256 is in the Content-Security-Policy). */
export const PAGE_STYLE = `
:root { color-scheme: light; --fg: #1d2330; --dim: #667085; --line: #e3e6ec; --bg: #f6f7f9; --card: #fff; --ok: #16794c; --bad: #b42318; --warn: #9a6700; --accent: #2f5bd3; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 14px; padding: 10px 18px; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 17px; font-weight: 600; }
header .dim { color: #aab2c0; }
.status { padding: 1px 9px; border-radius: 10px; font-weight: 600; background: #59606e; }
.status.running { background: var(--ok); }
.status.ended { background: #3b4252; }
.status.lost { background: var(--warn); }
main { padding: 12px 18px 24px; display: grid; gap: 14px; grid-template-columns: minmax(0, 1fr); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
h2 { margin: 0 0 8px; font-size: 14px; }
h2 small, .note { color: var(--dim); font-weight: normal; font-size: 12px; }
.note { margin: -4px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { font-weight: 600; color: var(--dim); font-size: 12px; }
th.l, td.name, td.ring, td.kind, td.abi, td.reason { text-align: left; }
td { font-variant-numeric: tabular-nums; }
td.state { text-align: left; font-weight: 600; }
td.state.running { color: var(--ok); }
td.state.shutdown { color: var(--dim); }
td.state.building { color: var(--warn); }
td.reason.crash { color: var(--bad); font-weight: 600; }
td.spark { padding: 0 8px; }
svg.spark { display: block; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark line { stroke: var(--line); }
button { font: inherit; padding: 1px 8px; border: 1px solid #c4c9d4; border-radius: 4px; background: #fff; cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { cursor: default; color: var(--dim); }
#consoles { display: grid; gap: 10px; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); }
.pane h3 { margin: 0 0 3px; font-size: 12px; }
.console { height: 190px; overflow: auto; margin: 0; padding: 6px 8px; background: #11151c; color: #d7dce4; border-radius: 4px; font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; }
.console div { white-space: pre-wrap; word-break: break-all; }
.xs { display: grid; gap: 8px; }
form { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
input { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; padding: 3px 6px; border: 1px solid #c4c9d4; border-radius: 4px; }
input[name=path] { width: 360px; }
input[name=value] { width: 200px; }
#xs-result.ok { color: var(--ok); }
#xs-result.err { color: var(--bad); }
#xenstore { max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 4px; padding: 4px 0; font: 12px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; }
.xs-node { cursor: pointer; white-space: nowrap; padding-right: 8px; }
.xs-node:hover { background: #eef2fb; }
.xs-key { color: var(--fg); }
.xs-value { color: var(--accent); margin-left: 8px; white-space: pre; }
.xs-value:empty { margin: 0; }
.xs-value:not(:empty)::before { content: "= "; color: var(--dim); }
.empty { color: var(--dim); text-align: left; }
`;

/** The page's script: follows the snapshot stream and renders it (its SHA-256 is in the Content-Security-Policy). */
export const PAGE_SCRIPT = `
"use strict";
var RING_HISTORY = ${RING_HISTORY}, CONSOLE_LINES = ${CONSOLE_LINES_PER_DOMAIN};
var SVGNS = "http://www.w3.org/2000/svg";
var byId = function (id) { return document.getElementById(id); };
var statusEl = byId("status");
var ended = false;
var ringRows = new Map();

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
function num(n) { return n.toLocaleString("en-US"); }
function rate(r) { return r >= 100 ? num(Math.round(r)) : r >= 10 ? r.toFixed(1) : r.toFixed(2); }
function mem(b) { return b ? num(Math.round(b / 1048576)) + " MiB" : "host"; }
function cpu(us, pct) { return (us / 1e6).toFixed(2) + " s \\u00b7 " + Math.round(pct) + "%"; }
function td(tr, cls) { var c = document.createElement("td"); c.className = cls; tr.appendChild(c); return c; }
/** Puts row tr at position i of body (rows follow the snapshot's order). */
function place(body, tr, i) { if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null); }
/** A table's columns are [class, text of a row (or null: a cell filled otherwise)]; adds one cell per column to tr. */
function addCells(tr, columns) { columns.forEach(function (c) { td(tr, c[0]); }); }
/** Sets the text of each of tr's cells that has a text function, from row (and ctx). */
function fillCells(tr, columns, row, ctx) { columns.forEach(function (c) { if (c[1]) setText(tr.querySelector("." + c[0]), c[1](row, ctx)); }); }

function setStatus(s) {
  var text = s.status;
  if (s.status === "ended") text = s.end && s.end.exitCode !== null ? "run ended (exit " + s.end.exitCode + ")" : "run ended (" + ((s.end && s.end.error) || "failed") + ")";
  setText(statusEl, text);
  statusEl.className = "status " + s.status;
}

function shutdownReason(d) { return d.state === "shutdown" ? d.reason : ""; }
var DOMAIN_COLUMNS = [
  ["domid", function (d) { return String(d.domid); }],
  ["name", function (d) { return d.name; }],
  ["state", function (d) { return d.state; }],
  ["mem", function (d) { return mem(d.memBytes); }],
  ["cpu", function (d) { return cpu(d.cpuUs, d.cpuPercent); }],
  ["hypercalls", function (d) { return num(d.hypercalls); }],
  ["hypercalls-rate", function (d) { return rate(d.hypercallsPerSec); }],
  ["events", function (d) { return num(d.events); }],
  ["events-rate", function (d) { return rate(d.eventsPerSec); }],
  ["grant-maps", function (d) { return num(d.grantMaps); }],
  ["grant-ops", function (d) { return num(d.grantOps); }],
  ["violations", function (d) { return num(d.violations); }],
  ["abi", function (d) { return d.evtchnAbi + ", v" + d.gnttabVersion; }],
  ["reason", shutdownReason],
  ["actions", null],
];
function renderDomains(domains) {
  var body = byId("domains").tBodies[0];
  var empty = body.querySelector(".empty-row");
  if (empty && domains.length) empty.remove();
  domains.forEach(function (d, i) {
    var tr = body.querySelector('tr[data-domid="' + d.domid + '"]');
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.domid = String(d.domid);
      addCells(tr, DOMAIN_COLUMNS);
      if (d.domid !== 0) {
        var b = document.createElement("button");
        b.type = "button"; b.className = "shutdown"; b.textContent = "shutdown";
        b.title = "writes /local/domain/" + d.domid + "/control/shutdown = poweroff";
        b.addEventListener("click", function () { writeKey("/local/domain/" + d.domid + "/control/shutdown", "poweroff"); });
        tr.querySelector(".actions").appendChild(b);
      }
    }
    place(body, tr, i);
    fillCells(tr, DOMAIN_COLUMNS, d);
    tr.querySelector(".state").className = "state " + d.state;
    tr.querySelector(".reason").className = "reason " + shutdownReason(d);
    var button = tr.querySelector("button.shutdown");
    if (button) button.disabled = ended || d.state !== "running";
  });
}

function sparkline(svg, values) {
  var w = 120, h = 22, max = Math.max.apply(null, [1].concat(values)), step = w / (RING_HISTORY - 1);
  var points = values.map(function (v, i) {
    return (w - (values.length - 1 - i) * step).toFixed(1) + "," + (h - 1 - (v / max) * (h - 3)).toFixed(1);
  });
  svg.querySelector("polyline").setAttribute("points", points.join(" "));
  svg.querySelector("title").textContent = "in flight over the last " + values.length + " snapshots: now " + values[values.length - 1] + ", max " + Math.max.apply(null, values);
}

var RING_COLUMNS = [
  ["domid", function (r) { return String(r.domid); }],
  ["ring", function (r) { return r.name; }],
  ["kind", function (r) { return r.kind; }],
  ["size", function (r) { return num(r.size); }],
  ["req-prod", function (r) { return String(r.reqProd); }],
  ["rsp-prod", function (r) { return String(r.rspProd); }],
  ["req-event", function (r) { return String(r.reqEvent); }],
  ["rsp-event", function (r) { return String(r.rspEvent); }],
  ["in-flight", function (r) { return String(r.inFlight); }],
  ["req-rate", function (r) { return rate(r.reqPerSec); }],
  ["rsp-rate", function (r) { return rate(r.rspPerSec); }],
  // ctx: the frontend domains' events per second, by domid.
  ["notify-rate", function (r, notify) { return notify.has(r.domid) ? rate(notify.get(r.domid)) : ""; }],
  ["spark", null],
];
function renderRings(rings, domains, running) {
  var body = byId("rings").tBodies[0];
  var notify = new Map(domains.map(function (d) { return [d.domid, d.eventsPerSec]; }));
  var seen = new Set();
  var empty = body.querySelector(".empty-row");
  if (empty && rings.length) empty.remove();
  rings.forEach(function (r, i) {
    var key = r.domid + " " + r.name;
    seen.add(key);
    var tr = ringRows.get(key);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.ring = key;
      addCells(tr, RING_COLUMNS);
      var svg = document.createElementNS(SVGNS, "svg");
      svg.setAttribute("class", "spark"); svg.setAttribute("width", "120"); svg.setAttribute("height", "22"); svg.setAttribute("viewBox", "0 0 120 22");
      var base = document.createElementNS(SVGNS, "line");
      base.setAttribute("x1", "0"); base.setAttribute("x2", "120"); base.setAttribute("y1", "21"); base.setAttribute("y2", "21");
      svg.appendChild(document.createElementNS(SVGNS, "title"));
      svg.appendChild(base);
      svg.appendChild(document.createElementNS(SVGNS, "polyline"));
      tr.querySelector(".spark").appendChild(svg);
      ringRows.set(key, tr);
    }
    place(body, tr, i);
    fillCells(tr, RING_COLUMNS, r, notify);
    sparkline(tr.querySelector("svg"), r.history);
  });
  // A ring gone from a running system (its device closed) goes from the table; the last ones stay when the run ends.
  if (running) ringRows.forEach(function (tr, key) { if (!seen.has(key)) { tr.remove(); ringRows.delete(key); } });
}

function pane(line) {
  var id = "console-" + (line.domid === null ? "other" : line.domid);
  var box = byId(id);
  if (box) return box;
  var wrap = document.createElement("div");
  wrap.className = "pane";
  wrap.dataset.order = String(line.domid === null ? 1e9 : line.domid);
  var h = document.createElement("h3");
  h.textContent = line.domid === null ? "other output" : line.domain + " (domain " + line.domid + ")";
  box = document.createElement("div");
  box.className = "console"; box.id = id;
  wrap.append(h, box);
  var list = byId("consoles");
  var after = Array.prototype.find.call(list.children, function (p) { return Number(p.dataset.order) > Number(wrap.dataset.order); });
  list.insertBefore(wrap, after || null);
  return box;
}

function addLines(lines) {
  var byPane = new Map();
  lines.forEach(function (l) {
    var box = pane(l);
    if (!byPane.has(box)) byPane.set(box, []);
    byPane.get(box).push(l.text);
  });
  byPane.forEach(function (texts, box) {
    var atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    texts.forEach(function (t) { var d = document.createElement("div"); d.textContent = t; box.appendChild(d); });
    while (box.childElementCount > CONSOLE_LINES) box.firstElementChild.remove();
    if (atEnd) box.scrollTop = box.scrollHeight;
  });
}

function renderTree(tree) {
  var box = byId("xenstore");
  var top = box.scrollTop;
  var frag = document.createDocumentFragment();
  tree.nodes.forEach(function (n) {
    var path = n[0], depth = path === "/" ? 0 : path.split("/").length - 1;
    var div = document.createElement("div");
    div.className = "xs-node";
    div.dataset.path = path;
    div.style.paddingLeft = (8 + depth * 14) + "px";
    var k = document.createElement("span");
    k.className = "xs-key";
    k.textContent = path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1);
    var v = document.createElement("span");
    v.className = "xs-value";
    v.textContent = n[1];
    div.append(k, v);
    frag.appendChild(div);
  });
  if (tree.truncated) {
    var more = document.createElement("div");
    more.className = "empty";
    more.textContent = "\\u2026 the first " + tree.nodes.length + " nodes only";
    frag.appendChild(more);
  }
  box.replaceChildren(frag);
  filterTree();
  box.scrollTop = top;
  setText(byId("xs-count"), tree.nodes.length + (tree.truncated ? "+" : "") + " nodes");
}

/** Shows the nodes whose path contains the filter's text, with their ancestors. */
function filterTree() {
  var f = byId("xs-filter").value;
  var nodes = byId("xenstore").querySelectorAll(".xs-node");
  var shown = new Set();
  nodes.forEach(function (n) {
    var path = n.dataset.path;
    if (f !== "" && path.indexOf(f) < 0) return;
    shown.add(path);
    for (var i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) shown.add(path.slice(0, i));
    shown.add("/");
  });
  nodes.forEach(function (n) { n.hidden = !shown.has(n.dataset.path); });
}

function writeKey(path, value) {
  var out = byId("xs-result");
  out.className = "";
  out.textContent = "writing " + path + "\\u2026";
  fetch("/xenstore", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ path: path, value: value }) })
    .then(function (r) {
      if (r.status === 204) { out.className = "ok"; out.textContent = "wrote " + path + " = " + value; return; }
      return r.json().then(function (j) { out.className = "err"; out.textContent = r.status + ": " + j.error; });
    })
    .catch(function (e) { out.className = "err"; out.textContent = "not written: " + e.message; });
}

var form = byId("xs-write");
form.addEventListener("submit", function (e) {
  e.preventDefault();
  writeKey(form.elements.namedItem("path").value, form.elements.namedItem("value").value);
});
byId("xs-filter").addEventListener("input", filterTree);
byId("xenstore").addEventListener("click", function (e) {
  var node = e.target.closest(".xs-node");
  if (!node) return;
  form.elements.namedItem("path").value = node.dataset.path;
  form.elements.namedItem("value").value = node.querySelector(".xs-value").textContent;
});

function apply(s) {
  setStatus(s);
  if (s.status === "ended") ended = true;
  renderDomains(s.domains);
  renderRings(s.rings, s.domains, s.status === "running");
  addLines(s.console);
  if (s.xenstore) renderTree(s.xenstore);
  setText(byId("updated"), "updated " + new Date(s.time).toLocaleTimeString());
  if (ended) {
    events.close();
    form.querySelector("button").disabled = true;
    document.querySelectorAll("button.shutdown").forEach(function (b) { b.disabled = true; });
    // The next run on this port (xenwasm demo --dashboard) is shown when it comes.
    setTimeout(connect, 2000);
  }
}

var run = null, events = null;
function connect() {
  events = new EventSource("/events");
  events.onmessage = function (m) {
    var s = JSON.parse(m.data);
    // Another run on the same port: start afresh with its page.
    if (run !== null && s.run !== run) { events.close(); location.reload(); return; }
    run = s.run;
    if (ended) { events.close(); setTimeout(connect, 2000); return; }
    apply(s);
  };
  events.onerror = function () {
    if (ended) { events.close(); setTimeout(connect, 2000); return; }
    setText(statusEl, "disconnected: retrying");
    statusEl.className = "status lost";
  };
}
connect();
`;

/** The page GET / serves: the dashboard, whole. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xenwasm dashboard</title>
<link rel="icon" href="data:,">
<style>${PAGE_STYLE}</style>
</head>
<body>
<header><h1>xenwasm</h1><span id="status" class="status starting">starting</span><span id="updated" class="dim"></span></header>
<main>
<section>
<h2>Domains</h2>
<table id="domains">
<thead><tr><th>id</th><th class="l">name</th><th class="l">state</th><th>memory</th><th title="time the vCPU spent in the guest, and its share of the last interval">cpu</th><th>hypercalls</th><th>/s</th><th>events</th><th>/s</th><th title="grant mappings the domain holds now">grant maps</th><th>grant ops</th><th title="grant accesses the hypervisor refused">refused</th><th class="l">ABI</th><th class="l">reason</th><th></th></tr></thead>
<tbody><tr class="empty-row"><td class="empty" colspan="15">no domain yet</td></tr></tbody>
</table>
</section>
<section>
<h2>Rings</h2>
<p class="note">Producer and event indices as the shared page holds them; req/s and rsp/s are the producer indices' advance per second; notify/s is the frontend domain's event-channel events per second (there is no per-ring notification counter). Console and xenstore rings count bytes.</p>
<table id="rings">
<thead><tr><th>dom</th><th class="l">ring</th><th class="l">kind</th><th>size</th><th>req_prod</th><th>rsp_prod</th><th>req_event</th><th>rsp_event</th><th>in flight</th><th>req/s</th><th>rsp/s</th><th>notify/s</th><th class="l">in flight, last ${RING_HISTORY}</th></tr></thead>
<tbody><tr class="empty-row"><td class="empty" colspan="13">no ring yet</td></tr></tbody>
</table>
</section>
<section>
<h2>Consoles <small>(the last ${CONSOLE_LINES_PER_DOMAIN} lines of each domain)</small></h2>
<div id="consoles"></div>
</section>
<section class="xs">
<h2>Xenstore <small id="xs-count"></small></h2>
<form id="xs-write" autocomplete="off">
<input name="path" placeholder="/local/domain/1/control/shutdown" required spellcheck="false">
<input name="value" placeholder="poweroff" spellcheck="false">
<button type="submit">write</button>
<span id="xs-result"></span>
</form>
<input id="xs-filter" type="search" placeholder="filter paths" spellcheck="false">
<div id="xenstore"></div>
</section>
</main>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
