/* sentineld dashboard: plain JavaScript, no build step. Everything shown comes from the JSON
 * API and the server-sent event stream (/api/events); text from mentions is only ever put into
 * the page with textContent, never as HTML. */
"use strict";

const SUBJECT_COLOURS = ["#4ea1ff", "#ff8a3d", "#b48cff", "#3ecf8e", "#f5c242", "#ff6fb1", "#5fd4e6", "#c0ca33"];
const UNMATCHED = "unmatched";
const SEVERITY_COLOURS = { critical: "#ff4d5e", high: "#ff8a3d", medium: "#f5c242", low: "#6cb6ff", info: "#8b9aab" };

const state = {
  cells: new Map(),        // "start|subject|channel" -> [start, subject, channel, n, sentSum, scored, negative]
  bucket: 60,
  window: 6 * 3600,
  latest: 0,
  openAlerts: new Map(),   // id -> alert
  markers: new Map(),      // id -> alert (recent, open or resolved) for the chart marks
  cases: [],
  charts: { volume: null, sentiment: null, key: "" },
  redrawPending: false,
  events: null,
};

// --------------------------------------------------------------------------- small helpers

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  if (response.status === 401) {
    showSignIn();
    throw new Error("signed out");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  return { status: response.status, ok: response.ok, body };
}

function formatNumber(value) {
  return Number(value || 0).toLocaleString();
}

function formatAgo(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function formatClock(seconds) {
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}

function formatEvidence(value) {
  if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(4)));
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function toSeconds(iso) { return iso ? Date.parse(iso) / 1000 : null; }

function colourFor(name, index) {
  if (name === UNMATCHED) return "#6b7785";
  return SUBJECT_COLOURS[index % SUBJECT_COLOURS.length];
}

// --------------------------------------------------------------------------- sign-in

function showSignIn() {
  $("signin").hidden = false;
  $("dashboard").hidden = true;
  $("signout").hidden = true;
  if (state.events) { state.events.close(); state.events = null; }
  setConnection(false, "signed out");
  $("token").focus();
}

async function signIn(token) {
  const response = await fetch("/api/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (!response.ok) {
    $("signin-error").textContent = response.status === 403 ? "That token is not right." : `Sign-in failed (${response.status}).`;
    $("signin-error").hidden = false;
    return false;
  }
  $("signin").hidden = true;
  $("signin-error").hidden = true;
  start();
  return true;
}

async function signOut() {
  await fetch("/api/session", { method: "DELETE", credentials: "same-origin" });
  showSignIn();
}

// --------------------------------------------------------------------------- status bar

function setConnection(live, text) {
  const pill = $("conn");
  pill.textContent = text;
  pill.className = "pill " + (live ? "pill-live" : "pill-off");
}

function renderStatus(status) {
  if (!status) return;
  $("stat-rate").textContent = (status.rate || 0).toFixed(1);
  $("stat-stored").textContent = formatNumber(status.stored);
  $("stat-open").textContent = formatNumber(status.alerts_open);
  const box = $("sources");
  box.replaceChildren();
  for (const source of status.sources || []) {
    const label = el("span", { class: "source", title: source.error ? `${source.state}: ${source.error}` : source.state },
      el("span", { class: `dot ${source.state}` }), `${source.id}`);
    box.append(label);
  }
  if (status.state && status.state !== "running") setConnection(true, status.state);
}

// --------------------------------------------------------------------------- charts

function cellKey(row) { return `${row[0]}|${row[1]}|${row[2]}`; }

function mergeCells(rows) {
  for (const row of rows) state.cells.set(cellKey(row), row);
  for (const row of rows) state.latest = Math.max(state.latest, row[0]);
  const horizon = state.latest - state.window;
  for (const [key, row] of state.cells) if (row[0] < horizon) state.cells.delete(key);
  refreshFilters();
  scheduleRedraw();
}

function refreshFilters() {
  const subjects = new Set(), channels = new Set();
  for (const row of state.cells.values()) { subjects.add(row[1]); channels.add(row[2]); }
  fillSelect($("filter-subject"), [...subjects].sort(subjectOrder), "all subjects");
  fillSelect($("filter-channel"), [...channels].sort(), "all channels");
}

function subjectOrder(a, b) {
  const rank = (s) => (s === "brand" ? 0 : s === UNMATCHED ? 2 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}

function fillSelect(select, values, allLabel) {
  const current = select.value;
  const have = [...select.options].map((o) => o.value).slice(1);
  if (have.length === values.length && have.every((v, i) => v === values[i])) return;
  select.replaceChildren(el("option", { value: "" }, allLabel), ...values.map((v) => el("option", { value: v }, v)));
  select.value = values.includes(current) ? current : "";
}

function scheduleRedraw() {
  if (state.redrawPending) return;
  state.redrawPending = true;
  requestAnimationFrame(() => { state.redrawPending = false; drawCharts(); });
}

/** Columns for uPlot: x (bucket starts) and one volume and one sentiment series per line. */
function chartData() {
  const subject = $("filter-subject").value, channel = $("filter-channel").value;
  const splitBy = subject ? 2 : 1;   // a chosen subject is split by channel, else by subject
  const lines = new Map();           // line name -> Map(start -> [n, sentSum, scored])
  let first = Infinity, last = -Infinity;
  for (const row of state.cells.values()) {
    if (subject && row[1] !== subject) continue;
    if (channel && row[2] !== channel) continue;
    const name = row[splitBy];
    if (!lines.has(name)) lines.set(name, new Map());
    const points = lines.get(name);
    const point = points.get(row[0]) || [0, 0, 0];
    point[0] += row[3]; point[1] += row[4]; point[2] += row[5];
    points.set(row[0], point);
    first = Math.min(first, row[0]); last = Math.max(last, row[0]);
  }
  const names = [...lines.keys()].sort(splitBy === 1 ? subjectOrder : undefined);
  const xs = [];
  if (names.length) {
    first = Math.max(first, last - state.window);
    for (let t = first; t <= last; t += state.bucket) xs.push(t);
  }
  const volume = [xs], sentiment = [xs];
  for (const name of names) {
    const points = lines.get(name);
    volume.push(xs.map((t) => (points.get(t) || [0])[0]));
    sentiment.push(xs.map((t) => {
      const p = points.get(t);
      return p && p[2] ? p[1] / p[2] : null;
    }));
  }
  return { names, volume, sentiment, splitBy };
}

function markerPlugin() {
  return {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        const subject = $("filter-subject").value, channel = $("filter-channel").value;
        const [xmin, xmax] = [u.scales.x.min, u.scales.x.max];
        const top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
        ctx.save();
        for (const alert of state.markers.values()) {
          if (subject && alert.subject !== subject) continue;
          if (channel && alert.channel !== "*" && alert.channel !== channel) continue;
          const t = toSeconds(alert.opened_at);
          if (t === null || t < xmin || t > xmax) continue;
          const x = Math.round(u.valToPos(t, "x", true));
          const colour = SEVERITY_COLOURS[alert.severity] || SEVERITY_COLOURS.info;
          ctx.strokeStyle = colour;
          ctx.globalAlpha = alert.resolved_at ? 0.45 : 0.9;
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = colour;
          const s = 6 * devicePixelRatio;
          ctx.beginPath(); ctx.moveTo(x - s, top); ctx.lineTo(x + s, top); ctx.lineTo(x, top + s * 1.4); ctx.closePath(); ctx.fill();
        }
        ctx.restore();
      }],
    },
  };
}

function axisStyle() {
  return { stroke: "#8b9aab", grid: { stroke: "#223040", width: 1 }, ticks: { stroke: "#223040", width: 1 } };
}

function makeChart(target, names, data, sentiment) {
  const series = [{}];
  names.forEach((name, i) => series.push({
    label: name,
    stroke: colourFor(name, i),
    width: 2,
    fill: sentiment ? undefined : colourFor(name, i) + "22",
    spanGaps: sentiment,
    points: { show: false },
  }));
  const opts = {
    width: Math.max(300, target.clientWidth),
    height: sentiment ? 170 : 220,
    // The last bucket is still filling: show its whole width, so a mark inside it is drawn.
    scales: { x: { time: true, range: (u, min, max) => [min, max + state.bucket] }, y: sentiment ? { range: [-1, 1] } : { range: (u, min, max) => [0, Math.max(4, max * 1.1)] } },
    axes: [axisStyle(), Object.assign(axisStyle(), { size: 46 })],
    series,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    plugins: [markerPlugin()],
  };
  target.replaceChildren();
  return new uPlot(opts, data, target);
}

function drawCharts() {
  const { names, volume, sentiment, splitBy } = chartData();
  const empty = names.length === 0;
  $("chart-empty").hidden = !empty;
  $("bucket-label").textContent = state.bucket === 60 ? "minute" : `${state.bucket}s`;
  const key = `${splitBy}|${names.join(",")}`;
  if (!state.charts.volume || state.charts.key !== key) {
    if (state.charts.volume) { state.charts.volume.destroy(); state.charts.sentiment.destroy(); }
    state.charts.volume = makeChart($("volume-chart"), names, volume, false);
    state.charts.sentiment = makeChart($("sentiment-chart"), names, sentiment, true);
    state.charts.key = key;
  } else {
    state.charts.volume.setData(volume);
    state.charts.sentiment.setData(sentiment);
  }
  $("volume-chart").dataset.points = String(volume[0].length);
  $("volume-chart").dataset.series = String(names.length);
  $("volume-chart").dataset.total = String(volume.slice(1).reduce((a, s) => a + s.reduce((b, v) => b + v, 0), 0));
  $("volume-chart").dataset.markers = String(countVisibleMarkers(volume[0]));
}

function countVisibleMarkers(xs) {
  if (!xs.length) return 0;
  let n = 0;
  for (const alert of state.markers.values()) {
    const t = toSeconds(alert.opened_at);
    if (t !== null && t >= xs[0] && t <= xs[xs.length - 1] + state.bucket) n++;
  }
  return n;
}

function resizeCharts() {
  for (const [name, id] of [["volume", "volume-chart"], ["sentiment", "sentiment-chart"]]) {
    const chart = state.charts[name];
    if (chart) chart.setSize({ width: Math.max(300, $(id).clientWidth), height: chart.height });
  }
}

// --------------------------------------------------------------------------- alerts

function renderAlerts() {
  const list = $("alerts");
  const alerts = [...state.openAlerts.values()].sort((a, b) => (b.opened_at > a.opened_at ? 1 : -1));
  const existing = new Map([...list.children].map((li) => [li.dataset.id, li]));
  list.replaceChildren(...alerts.map((alert) => existing.get(alert.id) || alertItem(alert)));
  for (const alert of alerts) refreshAlertItem(list.querySelector(`li[data-id="${CSS.escape(alert.id)}"]`), alert);
  $("alerts-count").textContent = String(alerts.length);
  $("alerts-empty").hidden = alerts.length > 0;
}

function alertItem(alert) {
  const details = el("details", {}, el("summary", {}, "evidence and mentions"));
  details.addEventListener("toggle", () => { if (details.open) loadAlertDetails(alert.id, details); });
  return el("li", { class: `alert sev-${alert.severity}`, dataset: { id: alert.id } },
    el("div", { class: "alert-head" },
      el("span", { class: "sev" }, alert.severity),
      el("span", { class: "alert-kind" }, alert.kind.replaceAll("_", " ")),
      el("span", { class: "alert-where" }, `${alert.subject} · ${alert.channel === "*" ? "all channels" : alert.channel}`),
      el("span", { class: "alert-time", title: alert.opened_at }, "")),
    el("div", { class: "alert-summary" }, alert.summary),
    details);
}

function refreshAlertItem(li, alert) {
  if (!li) return;
  li.className = `alert sev-${alert.severity}` + (li.classList.contains("fresh") ? " fresh" : "");
  li.querySelector(".sev").textContent = alert.severity;
  li.querySelector(".alert-summary").textContent = alert.summary;
  const opened = toSeconds(alert.opened_at);
  const time = li.querySelector(".alert-time");
  time.textContent = `${new Date(opened * 1000).toLocaleTimeString()} · ${formatAgo(Date.now() / 1000 - opened)}`;
}

async function loadAlertDetails(id, details) {
  if (details.dataset.loaded) return;
  const { ok, body } = await api(`/api/alerts/${encodeURIComponent(id)}`);
  if (!ok || !body) return;
  details.dataset.loaded = "1";
  const evidence = el("dl", { class: "evidence" });
  for (const [key, value] of Object.entries(body.evidence || {})) {
    evidence.append(el("dt", {}, key.replaceAll("_", " ")), el("dd", {}, formatEvidence(value)));
  }
  const mentions = el("ul", { class: "evidence-mentions" });
  for (const m of (body.mention_details || []).slice(0, 8)) {
    const who = m.author ? (m.author.handle || m.author.name || m.author.id) : m.source;
    const extra = m.extra || {};
    const text = extra.deleted_at ? "(deleted by its author)" : m.text + (extra.edited_at ? " (edited)" : "");
    const item = el("li", {}, el("span", { class: "who" }, `${who} · ${m.source}`), text);
    mentions.append(item);
  }
  const status = [];
  const ack = body.acknowledged;
  if (ack) {
    status.push(el("p", { class: "alert-ack" },
      `Acknowledged by ${ack.by} at ${new Date(ack.at).toLocaleString()}` + (ack.note ? `: ${ack.note}` : "")));
  }
  if (body.muted) status.push(el("p", { class: "alert-muted" }, `Not notified now: ${body.muted}`));
  details.append(...status, evidence, mentions);
}

function applyAlertEvent(message) {
  const alert = message.alert;
  state.markers.set(alert.id, alert);
  if (message.event === "resolved" || alert.resolved_at) {
    state.openAlerts.delete(alert.id);
  } else {
    const isNew = !state.openAlerts.has(alert.id);
    state.openAlerts.set(alert.id, alert);
    renderAlerts();
    if (isNew) {
      const li = $("alerts").querySelector(`li[data-id="${CSS.escape(alert.id)}"]`);
      if (li) { li.classList.add("fresh"); setTimeout(() => li.classList.remove("fresh"), 3000); }
    }
  }
  renderAlerts();
  scheduleRedraw();
}

// --------------------------------------------------------------------------- cases


function renderCases(message) {
  const table = $("cases"), empty = $("cases-empty"), body = table.querySelector("tbody");
  if (message) {
    table.hidden = true;
    empty.hidden = false;
    empty.textContent = message;
    $("cases-count").textContent = "";
    return;
  }
  const rows = state.cases.map((c) => el("tr", { class: `case sev-${c.severity}`, dataset: { id: c.id } },
    el("td", { title: `case ${c.id}: ${c.title}` },
      el("span", { class: "case-title" }, el("span", { class: "sev" }, c.severity), " ", c.title || c.id),
      el("span", { class: "meta" }, [c.customer_name || c.customer, (c.channels || []).join(", "),
        c.waiting ? `${c.waiting} waiting` : ""].filter(Boolean).join(" · "))),
    el("td", {}, c.state || "–"),
    el("td", {}, el("span", { class: "sla", dataset: { due: toSeconds(c.sla_due_at) ?? "", answered: c.first_response_at || "" } }, ""))));
  body.replaceChildren(...rows);
  table.hidden = rows.length === 0;
  empty.hidden = rows.length > 0;
  empty.textContent = "No open cases.";
  $("cases-count").textContent = `${rows.length}${state.casesMore ? "+" : ""}`;
  tickTimers();
}

/** SLA timers count down every second, on the page, without asking the server. */
function tickTimers() {
  const now = Date.now() / 1000;
  for (const span of document.querySelectorAll(".sla")) {
    const due = Number(span.dataset.due);
    if (span.dataset.answered) { span.textContent = "answered"; span.className = "sla done"; continue; }
    if (!span.dataset.due || Number.isNaN(due)) { span.textContent = "no SLA"; span.className = "sla done"; continue; }
    const left = due - now;
    span.textContent = left >= 0 ? `${formatClock(left)} left` : `overdue ${formatClock(left)}`;
    span.className = "sla " + (left < 0 ? "breached" : left < 600 ? "soon" : "ok");
  }
  for (const li of $("alerts").children) {
    const alert = state.openAlerts.get(li.dataset.id);
    if (alert) refreshAlertItem(li, alert);
  }
}

// --------------------------------------------------------------------------- influencers

function renderPeople(listId, emptyId, items, scoreKey, message) {
  const list = $(listId), empty = $(emptyId);
  if (message) { list.replaceChildren(); empty.hidden = false; empty.textContent = message; return; }
  const top = Math.max(...items.map((p) => Number(p[scoreKey] ?? 0)), 1e-9);
  list.replaceChildren(...items.map((p) => {
    const score = Number(p[scoreKey] ?? 0);
    const name = p.handle || p.name || p.author;
    return el("li", {},
      el("span", {}, name),
      el("span", { class: "meta" }, `${score.toFixed(2)} · ${formatNumber(p.mentions)} mentions` + (p.followers !== undefined && p.followers !== null ? ` · ${formatNumber(p.followers)} followers` : "") + ` · ${p.source}`),
      el("span", { class: "bar", style: null, dataset: { w: String(score / top) } }));
  }));
  for (const bar of list.querySelectorAll(".bar")) bar.style.width = `${Math.round(Number(bar.dataset.w) * 100)}%`;
  empty.hidden = items.length > 0;
  empty.textContent = "Nobody yet.";
}

// --------------------------------------------------------------------------- loading

async function loadSeries() {
  const { ok, body } = await api("/api/series");
  if (!ok) return;
  state.bucket = body.bucket; state.window = body.window;
  state.cells = new Map();
  state.latest = body.latest || 0;
  mergeCells(body.rows);
}

async function loadAlerts() {
  const [open, recent] = await Promise.all([api("/api/alerts?state=open&limit=200"), api("/api/alerts?limit=200")]);
  if (open.ok) state.openAlerts = new Map(open.body.items.map((a) => [a.id, a]));
  if (recent.ok) state.markers = new Map(recent.body.items.map((a) => [a.id, a]));
  renderAlerts();
  scheduleRedraw();
}

async function loadCases() {
  const { ok, status, body } = await api("/api/cases?limit=50&state=open");
  if (!ok) {
    renderCases(`Cases could not be loaded (${status}).`);
    return;
  }
  state.cases = body.items;
  state.casesMore = Boolean(body.next);
  renderCases(null);
}

async function loadPeople() {
  const [connectors, mavens] = await Promise.all([
    api("/api/influencers?kind=connector&limit=8"), api("/api/influencers?kind=maven&limit=8"),
  ]);
  const failed = (r) => `The influencer registry could not be read (${r.status}).`;
  renderPeople("connectors", "connectors-empty", connectors.ok ? connectors.body.items : [], "connector", connectors.ok ? null : failed(connectors));
  renderPeople("mavens", "mavens-empty", mavens.ok ? mavens.body.items : [], "maven", mavens.ok ? null : failed(mavens));
}

async function loadAll() {
  const status = await api("/api/status");
  if (!status.ok) return;
  renderStatus(status.body);
  await Promise.all([loadSeries(), loadAlerts(), loadCases(), loadPeople()]);
}

function connectEvents() {
  if (state.events) state.events.close();
  const events = new EventSource("/api/events");
  state.events = events;
  events.addEventListener("open", () => setConnection(true, "live"));
  events.addEventListener("error", () => setConnection(false, "reconnecting…"));
  events.addEventListener("hello", () => { setConnection(true, "live"); loadAll().catch(() => {}); });
  events.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  events.addEventListener("series", (e) => { const d = JSON.parse(e.data); mergeCells(d.rows); });
  events.addEventListener("alert", (e) => applyAlertEvent(JSON.parse(e.data)));
  events.addEventListener("reload", () => loadAll().catch(() => {}));
}

let slowTimer = null;

function start() {
  $("dashboard").hidden = false;
  $("signout").hidden = false;
  connectEvents();
  if (!slowTimer) {
    setInterval(tickTimers, 1000);
    // Cases, the influencer ranking and the evidence of open alerts (updated at checkpoints,
    // without an event of their own) are polled.
    slowTimer = setInterval(() => { loadAlerts().catch(() => {}); loadCases().catch(() => {}); loadPeople().catch(() => {}); }, 15000);
  }
}

async function boot() {
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
  $("signout").addEventListener("click", signOut);
  $("filter-subject").addEventListener("change", scheduleRedraw);
  $("filter-channel").addEventListener("change", scheduleRedraw);
  new ResizeObserver(() => resizeCharts()).observe($("dashboard"));
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    const token = fragment.get("token");
    history.replaceState(null, "", location.pathname + location.search);
    if (await signIn(token)) return;
  }
  const probe = await fetch("/api/status", { credentials: "same-origin" });
  if (probe.status === 401) { showSignIn(); return; }
  start();
}

boot();
