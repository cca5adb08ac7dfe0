// The plan page: every camera placed on the site plan with its state and open alerts, polled
// every 5 s; the camera of ?alert= (or ?camera=) highlighted and scrolled to the centre;
// supervisors place a camera by choosing it and clicking on the plan.
"use strict";
const POLL_MS = 5000;
const planCsrf = document.querySelector('meta[name="csrf-token"]').content;
const planData = document.getElementById("plan-data").dataset;
const focusKey = planData.focus || "";
const mayEdit = planData.mayEdit === "yes";
const box = document.getElementById("plan-box");
const marks = document.getElementById("marks");
const statusOut = document.getElementById("place-status");
let placing = false, centred = false;

function mark(c) {
  const el = document.createElement("div");
  el.className = `mark ${c.state}` + (c.key === focusKey ? " focus" : "");
  el.dataset.camera = c.key;
  el.style.left = `${100 * c.x}%`;
  el.style.top = `${100 * c.y}%`;
  el.title = `${c.key} · ${label("camera_state", c.state)}`;
  const dot = document.createElement("span"); dot.className = "dot"; el.append(dot);
  const name = document.createElement("span"); name.className = "name"; name.textContent = c.label || c.key;
  el.append(name);
  if (c.open.count) {
    const b = document.createElement("a");
    b.className = `badge sev-${c.open.severity}`; b.textContent = String(c.open.count);
    b.href = c.open.newest ? `/alerts/${c.open.newest}` : "/";
    b.title = t("Open alerts") + " : " + c.open.count + " (" + label("severity", c.open.severity) + ")";
    el.append(b);
  }
  return el;
}

function updateRow(c) {
  const row = document.querySelector(`#plan-cameras tr[data-camera="${CSS.escape(c.key)}"]`);
  if (!row) return;
  const st = row.querySelector(".state");
  st.textContent = label("camera_state", c.state); st.className = `state st-${c.state}`;
  row.querySelector(".label").textContent = c.label || "—";
  row.querySelector(".placed").textContent = c.x === null ? t("no") : t("yes");
  const open = row.querySelector(".open");
  if (c.open.count) {
    const b = document.createElement("span"); b.className = `badge sev-${c.open.severity}`;
    b.textContent = String(c.open.count); open.replaceChildren(b);
  } else open.textContent = "0";
}

async function refresh() {
  try {
    const r = await fetch("/api/v1/plan", { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const data = await r.json();
    if (marks) marks.replaceChildren(...data.cameras.filter(c => c.x !== null).map(mark));
    data.cameras.forEach(updateRow);
    const done = document.getElementById("refreshed");
    if (done) done.textContent = t("Refreshed") + " " + when(new Date().toISOString());
    document.body.dataset.planRefreshed = String(Date.now());
    if (!centred && focusKey) {
      const target = document.querySelector(`.mark[data-camera="${CSS.escape(focusKey)}"]`)
        || document.querySelector(`#plan-cameras tr[data-camera="${CSS.escape(focusKey)}"]`);
      if (target) target.scrollIntoView({ block: "center", inline: "center" });
      centred = true;
    }
  } catch (e) { console.warn("plan refresh failed:", e); }
}

async function place(body) {
  const key = document.getElementById("place-camera").value;
  const [site, camera] = key.split("/");
  const r = await fetch(`/api/v1/cameras/${encodeURIComponent(site)}/${encodeURIComponent(camera)}/plan`, {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": planCsrf },
    body: JSON.stringify(body) });
  const j = await r.json();
  statusOut.textContent = r.ok ? t("Saved.") : j.message;
  await refresh();
}

if (mayEdit && box) {
  const pick = document.getElementById("place-camera");
  const labelIn = document.getElementById("place-label");
  const syncLabel = () => { labelIn.value = pick.selectedOptions[0]?.dataset.label || ""; };
  pick.addEventListener("change", syncLabel); syncLabel();
  document.getElementById("place-start").addEventListener("click", () => {
    placing = true; box.classList.add("placing");
    statusOut.textContent = t("Click on the plan where the camera is.");
  });
  document.getElementById("place-remove").addEventListener("click", () => place({ x: null, y: null }));
  document.getElementById("plan-image").addEventListener("click", ev => {
    if (!placing) return;
    const rect = ev.currentTarget.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width));
    const y = Math.min(1, Math.max(0, (ev.clientY - rect.top) / rect.height));
    placing = false; box.classList.remove("placing");
    pick.selectedOptions[0].dataset.label = labelIn.value;
    place({ x, y, label: labelIn.value || null });
  });
}
refresh();
setInterval(refresh, POLL_MS);
