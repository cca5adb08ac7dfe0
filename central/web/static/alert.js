// One alert's page: the acknowledge, mute, resolve and assign forms post JSON; the page keeps
// itself up to date (status, clip state, still, history) through server-sent events, or by
// polling when the hub has no stream to spare. The player appears once the clip is uploaded.
"use strict";
// The texts shown inside composed strings (a plain t("…") each, for the catalogue).
const T = {
  clip: t("Clip:"),
  viewAudited: t("Viewing it is recorded in the audit log."),
  taken: t("Taken"),
  noReason: t("no reason given"),
};
const alertId = document.getElementById("alert").dataset.id;
for (const form of document.querySelectorAll("form[data-action]")) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const r = await fetch(form.dataset.action, { method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf_token }, body: JSON.stringify(data) });
    if (r.ok) { location.reload(); return; }
    const err = document.getElementById("form-error");
    err.textContent = (await r.json()).message || r.statusText; err.hidden = false;
  });
}
const video = document.getElementById("clip");
const clipState = document.getElementById("clip-state");
video.addEventListener("error", () => { if (video.getAttribute("src")) clipState.textContent = t("No clip available for this alert (yet)."); });
window.vigieLive = { mode: "starting", refreshes: 0 };

function showClip(clip) {
  const status = (clip || {}).status || "none";
  if (clipState.dataset.status === status) return;
  clipState.dataset.status = status;
  let text = `${T.clip} ${label("clip_state", status)}`;
  if (status === "failed") text += ` — ${clip.reason || clip.refused || T.noReason}`;
  clipState.textContent = `${text}. ${T.viewAudited}`;
  if (status === "uploaded" && !video.getAttribute("src")) { video.src = video.dataset.src; video.hidden = false; }
}
function showStill(still) {
  const img = document.getElementById("still");
  if (!still || !still.url || img.getAttribute("src") === still.url) return;
  img.src = still.url; img.hidden = false;
  document.getElementById("still-state").textContent = `${T.taken} ${when(still.taken_at)}`;
}
function detail(h) {
  if (h.action === "alert.resolve" && (h.why || "").includes(": ")) {
    const [outcome, ...rest] = h.why.split(": ");
    return `${label("outcome", outcome)} : ${rest.join(": ")}`;
  }
  return h.action === "alert.escalated" ? "" : h.why;
}
function showHistory(history) {
  const tbody = document.querySelector("#history tbody");
  const rows = [tbody.rows[0]];  // "received"
  for (const h of history) {
    const tr = document.createElement("tr"); tr.dataset.action = h.action;
    for (const text of [when(h.ts * 1000), h.actor, label("alert_action", h.action), detail(h)]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}
async function load() {
  try {
    const [a, h] = await Promise.all([fetch(`/api/v1/alerts/${alertId}`), fetch(`/api/v1/alerts/${alertId}/history`)]);
    if (a.status === 401) { location.href = `/login?next=/alerts/${alertId}`; return; }
    if (!a.ok || !h.ok) return;
    const alert = await a.json();
    document.getElementById("status").textContent = label("status", alert.status);
    document.getElementById("assigned").textContent = alert.assigned_to || t("nobody");
    document.getElementById("escalated-flag").hidden = !alert.escalated_at;
    showClip(alert.clip); showStill(alert.still);
    showHistory((await h.json()).history);
    for (const el of document.querySelectorAll(".age")) el.textContent = age(el.dataset.at);
    window.vigieLive.refreshes++;
  } catch (e) { console.warn("refresh failed:", e); }
}
const refresh = oneAtATime(load);  // a slow answer delays the next, never stacks
let pollTimer = null;
function poll() { window.vigieLive.mode = "poll"; clearTimeout(pollTimer); pollTimer = setTimeout(async () => { await refresh(); if (window.vigieLive.mode === "poll") poll(); }, 2000); }
function live() {
  if (!window.EventSource) { poll(); return; }
  const source = new EventSource(`/api/v1/alerts/stream?alert=${encodeURIComponent(alertId)}`);
  source.addEventListener("change", () => refresh());
  source.addEventListener("open", () => { window.vigieLive.mode = "stream"; clearTimeout(pollTimer); });
  source.addEventListener("error", () => { if (source.readyState === EventSource.CLOSED) { poll(); setTimeout(live, 30000); } });
}
setInterval(refresh, 15000);
live();
