// A forensic search's page: reloads until complete; previews on demand; clip requests.
"use strict";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
if (document.getElementById("progress").dataset.complete !== "yes") setTimeout(() => location.reload(), 1000);
for (const b of document.querySelectorAll("button.show")) b.addEventListener("click", () => {
  const img = b.nextElementSibling; img.src = b.dataset.src; img.classList.remove("hidden"); b.remove(); });
for (const b of document.querySelectorAll("button.clip")) b.addEventListener("click", async () => {
  const r = await fetch(b.dataset.url, { method: "POST", headers: { "X-CSRF-Token": csrf } });
  const j = await r.json(); const out = b.nextElementSibling;
  if (!r.ok) { out.textContent = j.message; return; }
  out.replaceChildren(...j.clips.map(c => { const a = document.createElement("a"); a.href = c.url; a.textContent = t("event clip"); return a; }));
});
