// One alert's page: the acknowledge, resolve and assign forms post JSON; clip fallback text.
"use strict";
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
const v = document.getElementById("clip");
v.addEventListener("error", () => { document.getElementById("clip-state").textContent = "No clip available for this alert (yet)."; });
