// The live alert queue: polls the API every second; every open alert is reachable (load more).
"use strict";
const PAGE = 200;       // open alerts shown at first, and added by each "show more"
const API_MAX = 1000;   // the API's largest page
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const statusEl = document.getElementById("status");
const body = document.querySelector("#alerts tbody");
const cue = document.getElementById("cue");
const more = document.getElementById("more");
const openTotalEl = document.getElementById("open-total");
const seen = new Set();
let first = true, selected = null, alerts = [], wantOpen = PAGE;
window.vigieCue = { sounds: 0, flashes: 0 };

function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
}
function beep() {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    for (const [t, f] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const o = ctx.createOscillator(), gn = ctx.createGain();
      o.frequency.value = f; gn.gain.value = 0.2; o.connect(gn); gn.connect(ctx.destination);
      o.start(ctx.currentTime + t); o.stop(ctx.currentTime + t + 0.2);
    }
    window.vigieCue.sounds++;
  } catch (e) { console.warn("no sound:", e); }
}
function alarm(a) {
  cue.textContent = `NEW CRITICAL ALERT: ${a.type} at ${a.site}/${a.camera}${a.zone ? " (" + a.zone + ")" : ""}`;
  cue.classList.add("on"); window.vigieCue.flashes++;
  document.title = "(!) Vigie — alerts"; beep();
}
function dismiss() { cue.classList.remove("on"); document.title = "Vigie — alerts"; }
cue.addEventListener("click", dismiss);

async function post(path, data) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(data) });
  if (r.status === 401) { location.href = "/login?next=/"; return; }
  if (!r.ok) throw new Error((await r.json()).message || r.statusText);
  return r.json();
}
async function ack(id) {
  try { await post(`/api/v1/alerts/${id}/ack`, { comment: "" }); statusEl.textContent = "acknowledged"; refresh(); }
  catch (e) { statusEl.textContent = "acknowledge failed: " + e.message; }
}
function row(a) {
  const tr = document.createElement("tr");
  tr.className = `row-${a.severity} ${a.status}` + (a.id === selected ? " sel" : "");
  tr.dataset.id = a.id;
  const link = document.createElement("a"); link.href = `/alerts/${a.id}`; link.textContent = age(a.started_at);
  const t0 = document.createElement("td"); t0.append(link); t0.title = a.started_at;
  const sev = document.createElement("td"); const b = document.createElement("span"); b.className = `badge sev-${a.severity}`; b.textContent = a.severity; sev.append(b);
  tr.append(t0, cell(`${a.site}/${a.camera}`), cell(a.zone || "—"), cell(a.type), sev,
    cell((a.objects || []).map(o => o.label).join(", ") || "—"),
    cell(a.state === "end" ? "ended" : "ongoing", "muted"),
    cell(a.status + (a.status === "resolved" && a.outcome ? ` (${a.outcome})` : a.acked_by ? ` by ${a.acked_by}` : "")),
    cell(a.assigned_to || "—"));
  const td = document.createElement("td");
  if (a.status === "new") { const btn = document.createElement("button"); btn.textContent = "Acknowledge"; btn.className = "ack"; btn.addEventListener("click", () => ack(a.id)); td.append(btn); }
  else if (a.status === "acknowledged") { const l = document.createElement("a"); l.href = `/alerts/${a.id}`; l.textContent = "Resolve…"; td.append(l); }
  tr.append(td);
  tr.addEventListener("click", (ev) => { if (ev.target.tagName !== "BUTTON" && ev.target.tagName !== "A") { selected = a.id; render(); } });
  return tr;
}
function render() {
  const openOnly = document.getElementById("open-only").checked;
  const rank = { new: 0, acknowledged: 1, resolved: 2 };
  const shown = alerts.filter(a => !openOnly || a.status !== "resolved")
    .sort((x, y) => (rank[x.status] - rank[y.status]) || (y.started_at > x.started_at ? 1 : y.started_at < x.started_at ? -1 : 0));
  if (!shown.some(a => a.id === selected)) selected = (shown.find(a => a.status === "new") || shown[0] || {}).id || null;
  body.replaceChildren(...shown.map(row));
}
// Up to `want` alerts of one listing, in pages the API accepts; and the listing's total.
async function listing(query, want) {
  const got = [];
  let total = 0;
  for (let offset = 0; offset < want;) {
    const n = Math.min(API_MAX, want - offset);
    const r = await fetch(`/api/v1/alerts?${query}&limit=${n}&offset=${offset}`);
    if (r.status === 401) { location.href = "/login?next=/"; throw new Error("logged out"); }
    if (!r.ok) throw new Error(r.statusText);
    const page = await r.json();
    total = page.total; got.push(...page.alerts);
    if (page.alerts.length < n) break;
    offset += n;
  }
  return { alerts: got, total };
}
async function load() {
  try {
    const open = await listing("status=open&sort=queue", wantOpen);
    const fresh = await listing("status=new", 1);
    const resolved = document.getElementById("open-only").checked ? { alerts: [] } : await listing("status=resolved", 100);
    alerts = [...open.alerts, ...resolved.alerts];
    for (const a of alerts) {
      if (!seen.has(a.id) && !first && a.severity === "critical" && a.status === "new") alarm(a);
      seen.add(a.id);
    }
    first = false;
    render();
    openTotalEl.textContent = `${open.total} open`;
    const hidden = open.total - open.alerts.length;
    more.hidden = hidden <= 0;
    more.textContent = `Show ${Math.min(PAGE, hidden)} more (${hidden} open not shown)`;
    statusEl.textContent = `${fresh.total} new · showing ${open.alerts.length} of ${open.total} open · updated ${new Date().toLocaleTimeString()}`;
  } catch (e) { statusEl.textContent = "hub unreachable: " + e.message; }
}
// One refresh at a time: a slow answer (a long queue, a loaded hub) delays the next poll
// instead of stacking requests.
let busy = false, again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try { do { again = false; await load(); } while (again); }
  finally { busy = false; }
}
async function poll() { await refresh(); setTimeout(poll, 1000); }
more.addEventListener("click", () => { wantOpen += PAGE; refresh(); });
document.getElementById("open-only").addEventListener("change", refresh);
document.addEventListener("keydown", (ev) => {
  if (ev.target.matches("input, textarea, select")) return;
  const rows = [...body.querySelectorAll("tr")].map(tr => tr.dataset.id);
  const i = rows.indexOf(selected);
  if (ev.key === "j" && i < rows.length - 1) { selected = rows[i + 1]; render(); }
  else if (ev.key === "k" && i > 0) { selected = rows[i - 1]; render(); }
  else if (ev.key === "a" && selected) { const a = alerts.find(x => x.id === selected); if (a && a.status === "new") ack(a.id); }
  else if (ev.key === "Enter" && selected) { location.href = `/alerts/${selected}`; }
  else if (ev.key === "Escape") { dismiss(); }
});
poll();
