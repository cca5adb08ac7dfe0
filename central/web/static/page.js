// Behaviour any page may ask for with data attributes (no inline script: the CSP forbids it).
//   <select data-autosubmit>: submits its form when changed.
//   <body data-reload-after="ms">: reloads the page after that long.
"use strict";
for (const el of document.querySelectorAll("[data-autosubmit]")) el.addEventListener("change", () => el.form.submit());
const reloadAfter = Number(document.body.dataset.reloadAfter || 0);
if (reloadAfter > 0) setTimeout(() => location.reload(), reloadAfter);
