// Behaviour any page may ask for with data attributes (no inline script: the CSP forbids it).
//   <select data-autosubmit>: submits its form when changed.
//   <body data-reload-after="ms">: reloads the page after that long.
// And the page's language: t("English text") is its translation, label(kind, value) the name
// of a coded value, when(iso) a time in the site's time zone, age(iso) how long ago.
"use strict";
const I18N = JSON.parse(document.getElementById("vigie-i18n")?.textContent || "{}");
function t(message) { return (I18N.messages || {})[message] || message; }
function label(kind, value) { return ((I18N.labels || {})[kind] || {})[value] || value; }
function when(value) {
  const d = new Date(value);
  if (isNaN(d)) return "—";
  return d.toLocaleString(I18N.lang === "en" ? "en-GB" : "fr-FR", { timeZone: I18N.timezone || "Europe/Paris" });
}
function age(value, now = Date.now()) {
  const s = Math.max(0, (now - new Date(value).getTime()) / 1000);
  if (!isFinite(s)) return "—";
  const rtf = new Intl.RelativeTimeFormat(I18N.lang || "fr", { numeric: "auto" });
  if (s < 60) return rtf.format(-Math.round(s), "second");
  if (s < 3600) return rtf.format(-Math.round(s / 60), "minute");
  if (s < 86400) return rtf.format(-Math.round(s / 3600), "hour");
  return rtf.format(-Math.round(s / 86400), "day");
}
// One run of an async task at a time: a call while it runs asks for one more run after it.
function oneAtATime(task) {
  let busy = false, again = false;
  return async function run() {
    if (busy) { again = true; return; }
    busy = true;
    try { do { again = false; await task(); } while (again); }
    finally { busy = false; }
  };
}
for (const el of document.querySelectorAll("[data-autosubmit]")) el.addEventListener("change", () => el.form.submit());
const reloadAfter = Number(document.body.dataset.reloadAfter || 0);
if (reloadAfter > 0) setTimeout(() => location.reload(), reloadAfter);
