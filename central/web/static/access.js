// The subject-access marking page: scrub the clip, click on the requester (the hub picks the
// person box under the point), start the export and follow its progress.
"use strict";
(function () {
  const root = document.getElementById("access-mark");
  if (!root) return;
  const event = root.dataset.event;
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const scrub = document.getElementById("scrub"), out = document.getElementById("scrub-frame");
  const img = document.getElementById("frame"), picked = document.getElementById("picked");
  const status = document.getElementById("pick-status");
  const form = document.getElementById("access-export");
  let timer = null, box = null;

  function show(k) {
    out.textContent = k;
    clearTimeout(timer);
    timer = setTimeout(() => { img.src = `/privacy/access/${event}/frame.jpg?frame=${k}`; }, 150);
  }
  scrub.addEventListener("input", () => show(scrub.value));

  function draw(b) {
    picked.style.left = `${b[0] * 100}%`; picked.style.top = `${b[1] * 100}%`;
    picked.style.width = `${b[2] * 100}%`; picked.style.height = `${b[3] * 100}%`;
    picked.hidden = false;
  }
  img.addEventListener("click", async (e) => {
    const r = img.getBoundingClientRect();
    const x = (e.clientX - r.left) / r.width, y = (e.clientY - r.top) / r.height;
    const frame = Number(scrub.value);
    status.textContent = t("Looking for the person under the click…");
    const resp = await fetch(`/api/v1/privacy/access/${event}/pick`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ frame, x, y }) });
    const body = await resp.json();
    if (!resp.ok) {
      box = null; picked.hidden = true;
      status.textContent = body.message || t("No person at this point.");
      status.className = "error";
      return;
    }
    box = body.box;
    form.elements.frame.value = frame; form.elements.box.value = box.join(",");
    draw(box);
    status.className = "ok";
    status.textContent = t("Requester marked on frame %(n)s.").replace("%(n)s", frame);
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!box) { status.textContent = t("Click on the requester in the image first."); status.className = "error"; return; }
    const bar = document.getElementById("export-bar"), text = document.getElementById("export-text");
    document.getElementById("export-progress").hidden = false;
    document.getElementById("export-start").disabled = true;
    const resp = await fetch(`/api/v1/privacy/access/${event}/jobs`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ frame: Number(form.elements.frame.value), box, reason: form.elements.reason.value,
                             estimate_s: Number(root.dataset.estimate) }) });
    let job = await resp.json();
    if (!resp.ok) { text.textContent = job.message || resp.statusText; document.getElementById("export-start").disabled = false; return; }
    while (job.state === "queued" || job.state === "running") {
      bar.value = job.fraction;
      text.textContent = `${Math.round(job.fraction * 100)} % — ` +
        t("about %(s)s s left").replace("%(s)s", Math.round(job.remaining_s ?? 0));
      await new Promise((ok) => setTimeout(ok, 400));
      job = await (await fetch(job.progress || `/api/v1/privacy/access/jobs/${job.id}`)).json();
    }
    if (job.state === "done") {
      bar.value = 1;
      text.textContent = t("Done in %(s)s s.").replace("%(s)s", job.elapsed_s);
      const link = document.getElementById("access-download");
      link.href = job.download;
      document.getElementById("export-done").hidden = false;
    } else {
      text.textContent = job.error || t("The export failed.");
      document.getElementById("export-start").disabled = false;
    }
  });
})();
