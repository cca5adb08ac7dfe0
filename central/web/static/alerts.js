// The live alert queue: groups of repeats in triage order (from /api/v1/alerts/queue), kept
// up to date by server-sent events (/api/v1/alerts/stream) or, when the hub has no stream to
// spare, by polling every second; every open alert is reachable (show more). Each severity has
// its own synthesized sound (WebAudio, no file); an operator mutes one alert or a group.
"use strict";
// The texts shown inside composed strings (a plain t("…") each, for the catalogue).
const T = {
  newCritical: t("NEW CRITICAL ALERT"),
  alerts: t("Alerts"),
  failed: t("Failed:"),
  by: t("by"),
  muted: t("muted"),
  and: t("and"),
  moreInGroup: t("more in this group"),
  resolve: t("Resolve"),
  supervisor: t("Supervisor:"),
  escalated: t("critical alert(s) nobody has acknowledged in time"),
  open: t("open"),
  showMore: t("Show more"),
  rowsHidden: t("rows not shown"),
  new: t("new"),
  rows: t("rows"),
  updated: t("updated"),
  unreachable: t("hub unreachable:"),
};
const PAGE = 200;         // groups shown at first, and added by each "show more"
const API_MAX = 1000;     // the API's largest page
const REPEAT_MS = 15000;  // an untaken critical alert sounds again this often (until muted)
const POLL_MS = 1000;     // the fallback's rhythm
const SAFETY_MS = 15000;  // a refresh this often even when the stream says nothing
const queueCsrf = document.querySelector('meta[name="csrf-token"]').content;
const statusEl = document.getElementById("status");
const liveEl = document.getElementById("live");
const tbody = document.querySelector("#alerts tbody");
const cue = document.getElementById("cue");
const escalatedEl = document.getElementById("escalated");
const more = document.getElementById("more");
const openTotalEl = document.getElementById("open-total");
const filters = new URLSearchParams([...new URLSearchParams(location.search)]
  .filter(([k, v]) => ["severity", "type", "camera", "status"].includes(k) && v));
const seen = new Set(), escalationPlayed = new Set(), expanded = new Set();
let first = true, selected = null, groups = [], wantGroups = PAGE, resolving = null;
window.vigieCue = { sounds: 0, flashes: 0, played: [] };
window.vigieLive = { mode: "starting", refreshes: 0 };

// -- sounds: one pattern per priority, and a more insistent one for an escalation ----------
const SOUNDS = {
  critical: { wave: "square", gain: 0.25, notes: [[0, 1046, .12], [.15, 784, .12], [.3, 1046, .12], [.45, 784, .12], [.6, 1046, .12], [.75, 784, .12]] },
  warning: { wave: "triangle", gain: 0.25, notes: [[0, 660, .25], [.4, 660, .25]] },
  info: { wave: "sine", gain: 0.15, notes: [[0, 523, .35]] },
  escalation: { wave: "sawtooth", gain: 0.3, notes: [[0, 880, .1], [.12, 1175, .1], [.24, 1568, .1], [.5, 880, .1], [.62, 1175, .1], [.74, 1568, .1], [1.0, 1760, .4]] },
};
let audioCtx = null;
function play(pattern, id) {
  const sound = SOUNDS[pattern] || SOUNDS.info;
  window.vigieCue.played.push({ pattern, id });
  document.body.dataset.sound = pattern;
  try {
    audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
    for (const [at, freq, len] of sound.notes) {
      const o = audioCtx.createOscillator(), gn = audioCtx.createGain();
      o.type = sound.wave; o.frequency.value = freq; gn.gain.value = sound.gain;
      o.connect(gn); gn.connect(audioCtx.destination);
      o.start(audioCtx.currentTime + at); o.stop(audioCtx.currentTime + at + len);
    }
    window.vigieCue.sounds++;
  } catch (e) { console.warn("no sound:", e); }
}
const RANK = { critical: 0, warning: 1, info: 2 };
function allAlerts() { return groups.flatMap(g => g.alerts); }
function sounding(a) { return a.status === "new" && !a.muted_at; }
function where(a) { return `${label("event_type", a.type)} — ${a.site}/${a.camera}${a.zone ? " (" + a.zone + ")" : ""}`; }
function alarm(a) {
  cue.textContent = `${T.newCritical} : ${where(a)}`;
  cue.classList.add("on"); window.vigieCue.flashes++;
  document.title = `(!) Vigie — ${T.alerts}`;
}
function dismiss() { cue.classList.remove("on"); document.title = `Vigie — ${T.alerts}`; }
cue.addEventListener("click", dismiss);
function sound() {
  const alerts = allAlerts();
  const fresh = alerts.filter(a => !seen.has(a.id) && sounding(a));
  if (!first && fresh.length) {
    const top = fresh.sort((x, y) => RANK[x.severity] - RANK[y.severity])[0];
    play(top.severity in SOUNDS ? top.severity : "info", top.id);
    if (top.severity === "critical") alarm(top);
  }
  const escalated = alerts.filter(a => a.escalated_at && sounding(a) && !escalationPlayed.has(a.id));
  if (escalated.length) play("escalation", escalated[0].id);
  for (const a of alerts) { seen.add(a.id); if (a.escalated_at) escalationPlayed.add(a.id); }
  first = false;
}
setInterval(() => {
  const loud = allAlerts().filter(a => sounding(a) && a.severity === "critical");
  if (loud.length) play(loud.some(a => a.escalated_at) ? "escalation" : "critical", loud[0].id);
}, REPEAT_MS);

// -- actions ---------------------------------------------------------------------------------
async function post(path, data) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": queueCsrf }, body: JSON.stringify(data) });
  if (r.status === 401) { location.href = "/login?next=/"; return; }
  if (!r.ok) throw new Error((await r.json()).message || r.statusText);
  return r.json();
}
const ACTION_DONE = { ack: t("Acknowledged"), resolve: t("Resolved"), mute: t("Muted"), unmute: t("Sound back on") };
async function act(g, action, extra) {
  try {
    const r = await post("/api/v1/alerts/bulk", { action, ids: g.ids, ...extra });
    statusEl.textContent = `${ACTION_DONE[action]} (${r.done.length})`;
    resolving = null; refresh();
  } catch (e) { statusEl.textContent = `${T.failed} ${e.message}`; }
}

// -- rendering -------------------------------------------------------------------------------
function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
function button(text, cls, onclick) { const b = document.createElement("button"); b.type = "button"; b.textContent = text; b.className = cls; b.addEventListener("click", onclick); return b; }
function thumb(alerts) {
  const td = document.createElement("td");
  const a = alerts.find(x => x.still && x.still.url);
  if (a) { const img = document.createElement("img"); img.className = "thumb"; img.src = a.still.url; img.alt = t("Still at the event's start"); img.loading = "lazy"; td.append(img); }
  else td.textContent = "—";
  return td;
}
function statusText(a) {
  let s = label("status", a.status);
  if (a.status === "resolved" && a.outcome) s += ` (${label("outcome", a.outcome)})`;
  else if (a.status === "acknowledged" && a.acked_by) s += ` ${T.by} ${a.acked_by}`;
  return s;
}
function statusCell(g, a) {
  const td = cell(statusText(a));
  if (g.escalated || a.escalated_at) { const f = document.createElement("span"); f.className = "flag escalated-flag"; f.textContent = t("Escalated"); td.append(" ", f); }
  if (g.muted) { const m = document.createElement("span"); m.className = "muted"; m.textContent = ` · ${T.muted}`; td.append(m); }
  return td;
}
function groupRow(g) {
  const a = g.alerts[0];
  const tr = document.createElement("tr");
  tr.className = `row-${g.severity} ${g.status}` + (g.escalated ? " escalated" : "") + (g.id === selected ? " sel" : "");
  tr.dataset.id = g.id; tr.dataset.count = g.count; tr.dataset.sound = g.severity;
  const link = document.createElement("a"); link.href = `/alerts/${g.id}`; link.textContent = age(g.first_started_at);
  const t0 = document.createElement("td"); t0.append(link); t0.title = when(g.first_started_at);
  const type = cell(label("event_type", g.type));
  if (g.count > 1) type.append(" ", button(`×${g.count}`, "count expand", () => { expanded.has(g.id) ? expanded.delete(g.id) : expanded.add(g.id); render(); }));
  const sev = document.createElement("td"); const b = document.createElement("span"); b.className = `badge sev-${g.severity}`; b.textContent = label("severity", g.severity); sev.append(b);
  tr.append(t0, thumb(g.alerts), cell(`${g.site}/${g.camera}`), cell(g.zone || "—"), type, sev,
    cell([...new Set(g.alerts.flatMap(x => (x.objects || []).map(o => label("object_class", o.label))))].join(", ") || "—", "opt"),
    statusCell(g, a), cell(a.assigned_to || "—", "opt"));
  const td = document.createElement("td"); td.className = "actions";
  if (g.status === "new") td.append(button(g.count > 1 ? t("Acknowledge all") : t("Acknowledge"), "ack", () => act(g, "ack", { comment: "" })));
  if (g.status !== "resolved") td.append(" ", button(g.count > 1 ? t("Resolve all…") : t("Resolve…"), "resolve", () => { resolving = resolving === g.id ? null : g.id; render(); }));
  if (g.status === "new") td.append(" ", button(g.muted ? t("Sound on") : t("Mute"), "mute", () => act(g, g.muted ? "unmute" : "mute")));
  tr.append(td);
  tr.addEventListener("click", (ev) => { if (!["BUTTON", "A", "SELECT", "INPUT"].includes(ev.target.tagName)) { selected = g.id; render(); } });
  return tr;
}
function memberRows(g) {
  const rows = g.alerts.map(a => {
    const tr = document.createElement("tr"); tr.className = "member"; tr.dataset.member = a.id;
    const link = document.createElement("a"); link.href = `/alerts/${a.id}`; link.textContent = age(a.started_at);
    const t0 = document.createElement("td"); t0.append(link); t0.title = when(a.started_at);
    tr.append(t0, thumb([a]), cell(when(a.started_at)), cell(a.zone || "—"), cell(""), cell(""),
      cell([...new Set((a.objects || []).map(o => label("object_class", o.label)))].join(", ") || "—", "opt"), statusCell({}, a), cell(a.assigned_to || "—", "opt"), cell(""));
    return tr;
  });
  if (g.count > g.alerts.length) { const tr = document.createElement("tr"); tr.className = "member"; const td = cell(`… ${T.and} ${g.count - g.alerts.length} ${T.moreInGroup}`); td.colSpan = 10; tr.append(td); rows.push(tr); }
  return rows;
}
function resolveRow(g) {
  const tr = document.createElement("tr"); tr.className = "member resolve-row";
  const td = document.createElement("td"); td.colSpan = 10;
  const sel = document.createElement("select"); sel.name = "outcome";
  sel.append(new Option(t("— choose the outcome —"), ""), ...["true_alert", "false_alarm", "test", "duplicate"].map(o => new Option(label("outcome", o), o)));
  const comment = document.createElement("input"); comment.name = "comment"; comment.size = 50; comment.placeholder = t("What was seen and done");
  td.append(sel, " ", comment, " ", button(g.count > 1 ? `${T.resolve} (${g.count})` : t("Resolve"), "do-resolve", () => act(g, "resolve", { outcome: sel.value, comment: comment.value })));
  tr.append(td);
  return tr;
}
function render() {
  if (!groups.some(g => g.id === selected)) selected = (groups.find(g => g.status === "new") || groups[0] || {}).id || null;
  const rows = [];
  for (const g of groups) {
    rows.push(groupRow(g));
    if (resolving === g.id) rows.push(resolveRow(g));
    if (expanded.has(g.id)) rows.push(...memberRows(g));
  }
  tbody.replaceChildren(...rows);
}
function showEscalated(n) {
  escalatedEl.classList.toggle("on", n > 0);
  const who = escalatedEl.dataset.role === "supervisor" ? `${T.supervisor} ` : "";
  escalatedEl.textContent = n > 0 ? `${who}${n} ${T.escalated}` : "";
}

// -- loading ---------------------------------------------------------------------------------
async function listing(want) {
  const got = [];
  let page = null;
  for (let offset = 0; offset < want;) {
    const n = Math.min(API_MAX, want - offset);
    const q = new URLSearchParams(filters); q.set("limit", n); q.set("offset", offset);
    const r = await fetch(`/api/v1/alerts/queue?${q}`);
    if (r.status === 401) { location.href = "/login?next=/"; throw new Error("logged out"); }
    if (!r.ok) throw new Error(r.statusText);
    page = await r.json(); got.push(...page.groups);
    if (page.groups.length < n) break;
    offset += n;
  }
  return { ...page, groups: got };
}
async function load() {
  try {
    const q = await listing(wantGroups);
    groups = q.groups;
    sound(); render(); showEscalated(q.escalated);
    const open = q.counts.new + q.counts.acknowledged;
    openTotalEl.textContent = `${open} ${T.open}`;
    const hidden = q.total_groups - groups.length;
    more.hidden = hidden <= 0;
    more.textContent = `${T.showMore} (${hidden} ${T.rowsHidden})`;
    statusEl.textContent = `${q.counts.new} ${T.new} · ${groups.length} / ${q.total_groups} ${T.rows} · ${T.updated} ${when(new Date().toISOString()).split(" ").pop()}`;
    window.vigieLive.refreshes++;
  } catch (e) { statusEl.textContent = `${T.unreachable} ${e.message}`; }
}
const refresh = oneAtATime(load);  // a slow answer delays the next, never stacks
let pollTimer = null;
function poll() { window.vigieLive.mode = "poll"; liveEl.textContent = t("updated every second"); clearTimeout(pollTimer); pollTimer = setTimeout(async () => { await refresh(); if (window.vigieLive.mode === "poll") poll(); }, POLL_MS); }
function live() {
  if (!window.EventSource) { poll(); return; }
  const source = new EventSource("/api/v1/alerts/stream");
  source.addEventListener("change", () => refresh());
  source.addEventListener("open", () => { window.vigieLive.mode = "stream"; liveEl.textContent = t("live"); clearTimeout(pollTimer); });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return;  // a stream that ended: the browser reconnects
    poll(); setTimeout(live, 30000);                       // refused (busy hub): poll, try again later
  });
}
setInterval(refresh, SAFETY_MS);
setInterval(render, 10000);  // ages move on
more.addEventListener("click", () => { wantGroups += PAGE; refresh(); });
document.addEventListener("keydown", (ev) => {
  if (ev.target.matches("input, textarea, select")) return;
  const ids = groups.map(g => g.id);
  const i = ids.indexOf(selected);
  const g = groups[i];
  if (ev.key === "j" && i < ids.length - 1) { selected = ids[i + 1]; render(); }
  else if (ev.key === "k" && i > 0) { selected = ids[i - 1]; render(); }
  else if (ev.key === "a" && g && g.status === "new") act(g, "ack", { comment: "" });
  else if (ev.key === "m" && g && g.status === "new") act(g, g.muted ? "unmute" : "mute");
  else if (ev.key === "Enter" && g) location.href = `/alerts/${g.id}`;
  else if (ev.key === "Escape") dismiss();
});
refresh().then(live);
